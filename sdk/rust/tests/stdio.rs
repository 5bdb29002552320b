//! `.serve_stdio()` answering a real MCP client: the official Python SDK's
//! stdio client launches the examples as child processes, the way MCP
//! Inspector or Claude Desktop would, and drives tools, resources and
//! prompts through them.
//!
//! The examples are built by `cargo test` before the tests run (cargo
//! builds every example of the package being tested), next to this test's
//! own binary. The Python SDK lives in the workspace's `.venv` (`.ci/run`
//! creates it).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
};

use axum::{Json, Router, extract::Query, routing::get};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

fn workspace() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).expect("sdk/rust/ sits in the workspace").to_path_buf()
}

/// `target/<profile>/examples/<name>`, built by `cargo test -p omnimcp-sdk`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).expect("tests run from target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo test -p omnimcp-sdk` (which builds the examples), not only this test target",
        path.display()
    );
    path
}

/// Runs the Python client over stdio against `command`, with `ops`, passing
/// the named environment variables; returns one result per operation.
async fn python_stdio(mode: &str, command: &Path, args: &[&str], env: &[(&str, String)], ops: Value) -> Vec<Value> {
    let root = workspace();
    let python = root.join(".venv/bin/python");
    assert!(python.exists(), "run .ci/run first: it creates .venv with the Python MCP SDK");
    let names: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
    let mut child = tokio::process::Command::new(python)
        .arg(root.join("tests/fixtures/mcp_session.py"))
        .args(["stdio", mode, "--"])
        .arg(command)
        .args(args)
        .env("OMNIMCP_PASS_ENV", names.join(","))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(ops.to_string().as_bytes()).await.unwrap();
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the Python client finished within a minute")
        .unwrap();
    assert!(out.status.success(), "python client failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("not JSON: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

#[tokio::test]
async fn notes_example_serves_tools_resources_and_prompts_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.json");
    let env = [("NOTES_FILE", file.display().to_string())];
    let ops = json!([
        {"op": "list_tools"},
        {"op": "call_tool", "name": "add_note", "arguments": {"title": "Groceries", "body": "oat milk, lemons"}},
        {"op": "call_tool", "name": "add_note", "arguments": {"title": "Trip", "body": "book the train to Lyon"}},
        {"op": "call_tool", "name": "search_notes", "arguments": {"query": "LYON train"}},
        {"op": "call_tool", "name": "add_note", "arguments": {"title": 3, "body": "x"}},
        {"op": "call_tool", "name": "add_note", "arguments": {"title": " ", "body": "x"}},
        {"op": "call_tool", "name": "no_such_tool", "arguments": {}},
        {"op": "list_resources"},
        {"op": "read_resource", "uri": "notes://index"},
        {"op": "list_prompts"},
        {"op": "get_prompt", "name": "summarize_notes", "arguments": {"topic": "milk"}},
        {"op": "get_prompt", "name": "summarize_notes", "arguments": {"topic": "volcanoes"}},
    ]);
    for mode in ["auto", "legacy"] {
        let _ = std::fs::remove_file(&file);
        let out = python_stdio(mode, &example("notes"), &["stdio"], &env, ops.clone()).await;
        let [tools, added, _, found, bad_type, blank, unknown, resources, index, prompts, prompt, no_match] =
            out.as_slice()
        else {
            panic!("{mode}: one answer per operation: {out:?}")
        };

        let names: Vec<&str> = tools.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["add_note", "search_notes"], "{mode}");
        // The schema comes from the argument struct, doc comments included.
        let schema = &tools[0]["inputSchema"];
        assert_eq!(schema["required"], json!(["title", "body"]), "{mode}: {schema}");
        assert_eq!(schema["properties"]["title"]["description"], "A short, unique title.", "{mode}");

        assert_eq!(added, &json!({"isError": false, "text": ["Saved \"Groceries\"."], "structured": null}), "{mode}");
        assert_eq!(found["isError"], false, "{mode}: {found}");
        assert_eq!(found["structured"]["count"], 1, "{mode}: every word must match: {found}");
        assert_eq!(found["structured"]["notes"][0]["title"], "Trip", "{mode}");

        // Arguments that do not fit the struct: a tool error naming the field.
        assert_eq!(bad_type["isError"], true, "{mode}: {bad_type}");
        let text = bad_type["text"][0].as_str().unwrap();
        assert!(text.starts_with("invalid arguments: title: invalid type: integer `3`"), "{mode}: {text}");
        // The handler's own error: a tool error with its message.
        assert_eq!(blank, &json!({"isError": true, "text": ["a note needs a title"], "structured": null}), "{mode}");
        // An unknown tool is a protocol error, not a result.
        assert!(unknown["error"].as_str().unwrap_or_default().contains("no tool named"), "{mode}: {unknown}");

        assert_eq!(resources, &json!([{"uri": "notes://index", "name": "Note titles", "mimeType": "text/plain"}]));
        assert_eq!(index, &json!([{"text": "Groceries\nTrip", "mimeType": "text/plain"}]), "{mode}");

        assert_eq!(
            prompts,
            &json!([{"name": "summarize_notes", "description": "Asks the model to summarise your notes",
                     "arguments": [{"name": "topic", "required": false}]}]),
            "{mode}"
        );
        assert_eq!(prompt["description"], "1 note(s)", "{mode}: {prompt}");
        assert_eq!(prompt["messages"][0]["role"], "user");
        let text = prompt["messages"][0]["text"].as_str().unwrap();
        assert!(text.contains("## Groceries\noat milk, lemons") && !text.contains("Lyon"), "{mode}: {text}");
        assert!(no_match["error"].as_str().unwrap_or_default().contains("no notes match"), "{mode}: {no_match}");

        // The data source is real: the notes are in the private file.
        let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(saved, json!({"Groceries": "oat milk, lemons", "Trip": "book the train to Lyon"}), "{mode}");
    }
}

/// A loopback stand-in for Open-Meteo's geocoding and forecast APIs that
/// records the query strings it was sent.
async fn fake_open_meteo() -> (String, Arc<Mutex<Vec<HashMap<String, String>>>>) {
    let seen: Arc<Mutex<Vec<HashMap<String, String>>>> = Arc::default();
    let (geo_seen, fc_seen) = (seen.clone(), seen.clone());
    let app = Router::new()
        .route(
            "/v1/search",
            get(move |Query(q): Query<HashMap<String, String>>| async move {
                geo_seen.lock().unwrap().push(q.clone());
                match q.get("name").map(String::as_str) {
                    Some("Paris") => Json(json!({"results": [
                        {"name": "Paris", "country": "France", "latitude": 48.85, "longitude": 2.35}]})),
                    _ => Json(json!({"generationtime_ms": 0.1})),
                }
            }),
        )
        .route(
            "/v1/forecast",
            get(move |Query(q): Query<HashMap<String, String>>| async move {
                fc_seen.lock().unwrap().push(q);
                Json(json!({
                    "current": {"temperature_2m": 18.5, "wind_speed_10m": 11.0},
                    "daily": {"time": ["2026-05-01", "2026-05-02"],
                              "temperature_2m_min": [9.0, 10.5], "temperature_2m_max": [19.0, 21.5]}
                }))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weather_example_calls_its_http_api_over_stdio() {
    let (api, seen) = fake_open_meteo().await;
    let env = [("WEATHER_GEOCODING_URL", api.clone()), ("WEATHER_FORECAST_URL", api)];
    let ops = json!([
        {"op": "call_tool", "name": "forecast", "arguments": {"city": "Paris", "days": 2}},
        {"op": "call_tool", "name": "forecast", "arguments": {"city": "Atlantis"}},
        {"op": "call_tool", "name": "forecast", "arguments": {"city": "Paris", "days": 9}},
        {"op": "call_tool", "name": "forecast", "arguments": {"days": 2}},
        {"op": "read_resource", "uri": "weather://attribution"},
    ]);
    let out = python_stdio("auto", &example("weather"), &["stdio"], &env, ops).await;

    assert_eq!(out[0]["isError"], false, "{}", out[0]);
    assert_eq!(
        out[0]["structured"],
        json!({"place": "Paris", "country": "France", "current_temperature_c": 18.5, "current_wind_kmh": 11.0,
               "days": [{"date": "2026-05-01", "min_c": 9.0, "max_c": 19.0}, {"date": "2026-05-02", "min_c": 10.5, "max_c": 21.5}]})
    );
    // The typed error's Display is what the model reads.
    assert_eq!(out[1]["text"], json!(["no place called \"Atlantis\" was found; try adding the country"]));
    assert_eq!(out[1]["isError"], true);
    assert_eq!(out[2]["text"], json!(["days must be between 1 and 7, not 9"]));
    let missing = out[3]["text"][0].as_str().unwrap_or_default();
    assert!(out[3]["isError"] == true && missing.contains("missing field `city`"), "{}", out[3]);
    assert_eq!(out[4][0]["text"], "Weather data by Open-Meteo.com (CC BY 4.0).");

    // The API was really called, with the place's coordinates; the failed
    // validations (days 9, no city) never reached it.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "Paris geocode + forecast, Atlantis geocode: {seen:?}");
    assert_eq!(seen[0]["name"], "Paris");
    assert_eq!((seen[1]["latitude"].as_str(), seen[1]["longitude"].as_str()), ("48.85", "2.35"));
    assert_eq!(seen[1]["forecast_days"], "2");
    assert_eq!(seen[2]["name"], "Atlantis");
}

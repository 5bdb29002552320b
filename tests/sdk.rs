//! The developer SDK (`omnimcp-sdk`) against the real platform: a server
//! written with the SDK is deployed over HTTP, served with `start_local`'s
//! callback server on loopback, installed, and called through `/mcp` (by
//! the official Python MCP client) and `/mcp/call`; its callback server
//! refuses wrong secrets, stale or tampered signatures, and answers bad
//! arguments and failing handlers with precise errors.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{Backend, TestServer};
use hmac::{Hmac, Mac};
use omnimcp_sdk::{NoArgs, OmniMcp, PromptMessage, PromptReply, Resource, schemars::JsonSchema};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::{io::AsyncWriteExt, net::TcpListener};

const PASSWORD: &str = "correct horse battery";
/// The callback server is on loopback over plain http.
const FLAGS: &[&str] = &["--outbound-allow-http", "--outbound-allow-loopback", "--outbound-timeout-secs", "5"];

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "omnimcp_sdk::schemars")] // this package has no direct schemars dependency
struct Forecast {
    /// The city to forecast.
    city: String,
    /// Days ahead (1-7).
    days: Option<u8>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "omnimcp_sdk::schemars")] // this package has no direct schemars dependency
struct Trip {
    /// Where to.
    city: String,
    /// How long, e.g. "a weekend" (optional).
    length: Option<String>,
}

/// A typed error, as a developer would write one: its Display is what the
/// caller reads.
#[derive(Debug, thiserror::Error)]
enum ForecastError {
    #[error("no city named {0}")]
    UnknownCity(String),
}

/// The developer's server, as the SDK's README has one write it.
fn trip_tools(api_key: &str, platform: &str) -> OmniMcp {
    OmniMcp::new(api_key)
        .platform_url(platform)
        .name("trip-tools")
        .description("Forecasts and trip plans")
        .category("data")
        .tags(["weather", "travel"])
        .tool("forecast", "Forecast for a city", |f: Forecast| async move {
            if f.city == "Atlantis" {
                return Err(ForecastError::UnknownCity(f.city));
            }
            Ok(json!({"city": f.city, "tempC": 21, "days": f.days.unwrap_or(1)}))
        })
        .tool("crash", "A handler with a bug", |_: NoArgs| async move {
            let empty: Vec<u32> = Vec::new();
            Ok::<_, String>(empty[0])
        })
        .resource(Resource::new("docs://readme", "Readme").mime_type("text/markdown"), || async {
            Ok::<_, String>("# Trip tools\nAsk for a forecast.")
        })
        .prompt("plan_trip", "Plans a trip", |t: Trip| async move {
            let length = t.length.unwrap_or_else(|| "a week".into());
            Ok::<_, String>(
                PromptReply::from(vec![PromptMessage::user(format!("Plan {length} in {}.", t.city))])
                    .description(format!("A trip to {}", t.city)),
            )
        })
}

/// A developer account with an API key.
async fn developer(s: &TestServer, email: &str) -> (String, String) {
    let token = s.register(email, PASSWORD).await;
    let (_, key) = s.create_key(&token, "sdk").await;
    (token, key)
}

/// A free loopback port's listener and its URL, for deploying before serving.
async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// The official Python MCP client in one session over `/mcp`.
async fn python_session(url: &str, key: &str, mode: &str, ops: Value) -> Vec<Value> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    assert!(python.exists(), "run .ci/run first: it creates .venv with the Python MCP SDK");
    let mut child = tokio::process::Command::new(python)
        .arg(root.join("tests/fixtures/mcp_session.py"))
        .args(["http", url, key, mode])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(ops.to_string().as_bytes()).await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "python client failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

async fn call(s: &TestServer, key: &str, server: &str, tool: &str, arguments: Value) -> (u16, Value) {
    let res = s
        .post_json("/mcp/call", json!({"serverId": server, "toolName": tool, "arguments": arguments}), Some(key))
        .await;
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn deployed_sdk_server_is_called_through_mcp_and_mcp_call() {
    let s = TestServer::start_on_with(Backend::Sqlite, FLAGS).await.unwrap();
    let (_, dev_key) = developer(&s, "dev@example.com").await;
    let sdk = trip_tools(&dev_key, &s.url);
    let (socket, callback) = listener().await;
    let deployed = sdk.deploy(&callback).await.unwrap();
    assert!(deployed.created);
    assert_eq!(deployed.slug, "trip-tools");
    let secret = deployed.webhook_secret.as_ref().expect("a first deploy issues the secret");
    assert!(secret.expose().starts_with("whsec_"));
    assert_eq!(format!("{secret:?}"), "WebhookSecret(redacted)", "never printed by accident");
    // The deploying OmniMcp already holds the secret: no configuration.
    let local = sdk.serve_listener(socket).await.unwrap();

    // The marketplace shows what the SDK derived from the types.
    let detail: Value = s.get(&format!("/api/servers/{}", deployed.server_id), None).await.json().await.unwrap();
    let forecast = detail["tools"].as_array().unwrap().iter().find(|t| t["name"] == "forecast").unwrap().clone();
    let schema = forecast.get("inputSchema").or_else(|| forecast.get("parameters")).unwrap();
    assert_eq!(schema["required"], json!(["city"]), "{detail}");
    assert_eq!(schema["properties"]["city"]["description"], "The city to forecast.");

    // Another user installs it and calls it.
    let (bob, bob_key) = developer(&s, "bob@example.com").await;
    assert_eq!(
        s.post_json("/api/installations", json!({"serverId": deployed.server_id}), Some(&bob)).await.status(),
        201
    );

    let (status, body) = call(&s, &bob_key, "trip-tools", "forecast", json!({"city": "Paris", "days": 3})).await;
    assert_eq!((status, body), (200, json!({"success": true, "result": {"city": "Paris", "tempC": 21, "days": 3}})));
    // The typed error reaches the caller as the tool's error.
    let (status, body) = call(&s, &bob_key, "trip-tools", "forecast", json!({"city": "Atlantis"})).await;
    assert_eq!((status, body), (200, json!({"success": false, "error": "no city named Atlantis"})));
    // A panicking handler is a tool error too, and the server lives on.
    let (status, body) = call(&s, &bob_key, "trip-tools", "crash", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], false);
    assert!(body["error"].as_str().unwrap().contains("failed unexpectedly"), "{body}");
    assert_eq!(call(&s, &bob_key, "trip-tools", "forecast", json!({"city": "Oslo"})).await.1["success"], true);
    // Arguments that do not match the schema the SDK published: the
    // platform refuses them before calling, naming the field.
    let (status, body) = call(&s, &bob_key, "trip-tools", "forecast", json!({"city": 3})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "arguments.city", "{body}");
    // Resources through the same pipeline.
    let res =
        s.post_json("/mcp/resource", json!({"serverId": "trip-tools", "uri": "docs://readme"}), Some(&bob_key)).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["result"]["contents"],
        json!([{"uri": "docs://readme", "mimeType": "text/markdown", "text": "# Trip tools\nAsk for a forecast."}])
    );

    // The official Python MCP client over /mcp, in both protocol eras.
    let ops = json!([
        {"op": "list_tools"},
        {"op": "call_tool", "name": "trip-tools.forecast", "arguments": {"city": "Lyon"}},
        {"op": "call_tool", "name": "trip-tools.forecast", "arguments": {"city": "Atlantis"}},
        {"op": "call_tool", "name": "trip-tools.crash", "arguments": {}},
        {"op": "list_resources"},
        {"op": "read_resource", "uri": "omnimcp://trip-tools/docs%3A%2F%2Freadme"},
    ]);
    for mode in ["auto", "legacy"] {
        let out = python_session(&s.at("/mcp"), &bob_key, mode, ops.clone()).await;
        let names: Vec<&str> = out[0].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["trip-tools.crash", "trip-tools.forecast"], "{mode}: {out:?}");
        assert_eq!(out[0][1]["inputSchema"]["properties"]["days"]["description"], "Days ahead (1-7).", "{mode}");
        assert_eq!(out[1]["isError"], false, "{mode}: {}", out[1]);
        assert_eq!(out[1]["structured"], json!({"city": "Lyon", "tempC": 21, "days": 1}), "{mode}");
        assert_eq!(out[2], json!({"isError": true, "text": ["no city named Atlantis"], "structured": null}), "{mode}");
        assert_eq!(out[3]["isError"], true, "{mode}: {}", out[3]);
        let uris: Vec<&str> = out[4].as_array().unwrap().iter().map(|r| r["uri"].as_str().unwrap()).collect();
        assert_eq!(uris, ["omnimcp://trip-tools/docs%3A%2F%2Freadme"], "{mode}");
        assert_eq!(out[5][0]["text"], "# Trip tools\nAsk for a forecast.", "{mode}: {}", out[5]);
    }

    local.shutdown().await.unwrap();
    // With the callback server gone, a call is the platform's gateway
    // error, not a tool error.
    let (status, _) = call(&s, &bob_key, "trip-tools", "forecast", json!({"city": "Paris"})).await;
    assert_eq!(status, 502);
    s.stop().await;
}

/// Prompts through the platform: the SDK serves `POST /prompts/{name}`,
/// the platform lists them as `slug.prompt` and renders them through it.
#[tokio::test]
async fn prompts_reach_mcp_clients_through_the_platform() {
    let s = TestServer::start_on_with(Backend::Sqlite, FLAGS).await.unwrap();
    let (token, key) = developer(&s, "dev@example.com").await;
    let sdk = trip_tools(&key, &s.url);
    let (socket, callback) = listener().await;
    let deployed = sdk.deploy(&callback).await.unwrap();
    let _local = sdk.serve_listener(socket).await.unwrap();
    assert_eq!(
        s.post_json("/api/installations", json!({"serverId": deployed.server_id}), Some(&token)).await.status(),
        201
    );

    let detail: Value = s.get(&format!("/api/servers/{}", deployed.server_id), None).await.json().await.unwrap();
    assert_eq!(detail["prompts"][0]["name"], "plan_trip", "{detail}");
    assert_eq!(
        detail["prompts"][0]["arguments"],
        json!([{"name": "city", "description": "Where to.", "required": true},
               {"name": "length", "description": "How long, e.g. \"a weekend\" (optional).", "required": false}])
    );

    let ops = json!([
        {"op": "list_prompts"},
        {"op": "get_prompt", "name": "trip-tools.plan_trip", "arguments": {"city": "Kyoto", "length": "a weekend"}},
    ]);
    let out = python_session(&s.at("/mcp"), &key, "auto", ops).await;
    let names: Vec<&str> = out[0].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"trip-tools.plan_trip"), "{out:?}");
    assert_eq!(out[1]["messages"], json!([{"role": "user", "text": "Plan a weekend in Kyoto."}]), "{out:?}");
    assert_eq!(out[1]["description"], "A trip to Kyoto");
    s.stop().await;
}

#[tokio::test]
async fn a_second_deploy_updates_the_tools_and_keeps_the_secret() {
    let s = TestServer::start_on_with(Backend::Sqlite, FLAGS).await.unwrap();
    let (token, key) = developer(&s, "dev@example.com").await;
    let (socket, callback) = listener().await;
    let first = OmniMcp::new(&key)
        .platform_url(&s.url)
        .name("trip-tools")
        .tool("forecast", "Forecast", |f: Forecast| async move { Ok::<_, String>(f.city) })
        .deploy(&callback)
        .await
        .unwrap();
    let secret = first.webhook_secret.expect("first deploy").expose().to_string();

    // Version 2 of the program: one more tool. It gets the stored secret the
    // way a restarted server does (here the builder; OMNIMCP_WEBHOOK_SECRET
    // in a real one).
    let v2 = trip_tools(&key, &s.url).webhook_secret(&secret);
    let second = v2.deploy(&callback).await.unwrap();
    assert_eq!((second.created, &second.server_id), (false, &first.server_id), "the same server, updated");
    assert!(second.webhook_secret.is_none(), "the secret is shown once");
    let detail: Value = s.get(&format!("/api/servers/{}", first.server_id), None).await.json().await.unwrap();
    let mut names: Vec<&str> =
        detail["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["crash", "forecast"], "{detail}");

    let local = v2.serve_listener(socket).await.unwrap();
    assert_eq!(
        s.post_json("/api/installations", json!({"serverId": first.server_id}), Some(&token)).await.status(),
        201
    );
    let (status, body) = call(&s, &key, "trip-tools", "forecast", json!({"city": "Rome"})).await;
    assert_eq!((status, &body["result"]["city"]), (200, &json!("Rome")), "{body}");

    // Rotation: the running server (started from the same OmniMcp) takes the
    // new secret at once; the old one is refused from then on.
    let rotated = v2.deploy_rotating_secret(&callback).await.unwrap();
    let new_secret = rotated.webhook_secret.expect("rotation issues a secret").expose().to_string();
    assert_ne!(new_secret, secret);
    assert_eq!(call(&s, &key, "trip-tools", "forecast", json!({"city": "Rome"})).await.0, 200);
    let old = signed(&local.url(), "/tools/forecast", &secret, now(), br#"{"arguments":{"city":"Rome"}}"#).await;
    assert_eq!(old.0, 401, "{:?}", old.1);
    s.stop().await;
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Signs as the platform documents it (written out here, independently of
/// both the platform's and the SDK's signer).
/// Only v3 (`"{ts}.{request id}.{METHOD}.{path?query}.{body}"`) is sent:
/// it is the one a receiver must check.
fn signature(secret: &str, timestamp: u64, id: &str, method: &str, path: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{id}.{method}.{path}.").as_bytes());
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("v3={hex}")
}

/// A new request id, as the platform makes one per request.
fn fresh_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// POSTs (or GETs, for an empty body) a signed request straight to a
/// callback server.
async fn signed(base: &str, path: &str, secret: &str, timestamp: u64, body: &[u8]) -> (u16, Value) {
    signed_as(base, path, secret, timestamp, &fresh_id(), body).await
}

/// As [`signed`], with this request id.
async fn signed_as(base: &str, path: &str, secret: &str, timestamp: u64, id: &str, body: &[u8]) -> (u16, Value) {
    let method = if body.is_empty() { reqwest::Method::GET } else { reqwest::Method::POST };
    let res = reqwest::Client::new()
        .request(method.clone(), format!("{base}{path}"))
        .header("x-webhook-secret", secret)
        .header("x-omnimcp-timestamp", timestamp.to_string())
        .header("x-omnimcp-request-id", id)
        .header("x-omnimcp-signature", signature(secret, timestamp, id, method.as_str(), path, body))
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_callback_server_checks_secret_signature_freshness_and_arguments() {
    const SECRET: &str = "whsec_local-test-secret";
    let local = trip_tools("", "http://unused").webhook_secret(SECRET).bind_local("127.0.0.1:0").await.unwrap();
    let url = local.url();
    let body = br#"{"arguments":{"city":"Paris"}}"#;

    // The real thing passes, once: the same request again is a replay.
    let (id, ts) = (fresh_id(), now());
    let (status, answer) = signed_as(&url, "/tools/forecast", SECRET, ts, &id, body).await;
    assert_eq!((status, answer), (200, json!({"success": true, "result": {"city": "Paris", "tempC": 21, "days": 1}})));
    let (status, answer) = signed_as(&url, "/tools/forecast", SECRET, ts, &id, body).await;
    assert_eq!(
        (status, answer),
        (401, json!({"error": "this request was already received (or too many arrived within the window)"}))
    );
    assert_eq!(signed(&url, "/health", SECRET, now(), b"").await, (200, json!({"status": "ok"})));

    // A wrong secret (correctly signed with it, too).
    let (status, answer) = signed(&url, "/tools/forecast", "whsec_guess", now(), body).await;
    assert_eq!((status, answer), (401, json!({"error": "the webhook secret does not match"})));
    // A stale signature: correct in every other way, six minutes old; and
    // one from the future beyond the window.
    let (status, answer) = signed(&url, "/tools/forecast", SECRET, now() - 360, body).await;
    assert_eq!(status, 401);
    assert!(answer["error"].as_str().unwrap().contains("(the limit is 300 s)"), "{answer}");
    assert_eq!(signed(&url, "/tools/forecast", SECRET, now() + 360, body).await.0, 401);
    // The right secret with a signature over another body or time.
    let id = fresh_id();
    let tampered = reqwest::Client::new()
        .post(format!("{url}/tools/forecast"))
        .header("x-webhook-secret", SECRET)
        .header("x-omnimcp-timestamp", now().to_string())
        .header("x-omnimcp-request-id", &id)
        .header(
            "x-omnimcp-signature",
            signature(SECRET, now(), &id, "POST", "/tools/forecast", br#"{"arguments":{"city":"Oslo"}}"#),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    assert_eq!(tampered.json::<Value>().await.unwrap(), json!({"error": "the signature does not match the request"}));
    // A request signed for one tool, replayed against another within the
    // window: the route is signed too.
    let id = fresh_id();
    let replayed = reqwest::Client::new()
        .post(format!("{url}/prompts/plan_trip"))
        .header("x-webhook-secret", SECRET)
        .header("x-omnimcp-timestamp", now().to_string())
        .header("x-omnimcp-request-id", &id)
        .header("x-omnimcp-signature", signature(SECRET, now(), &id, "POST", "/tools/forecast", body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 401);
    // No headers at all, on every route, health included.
    for (method, path) in [
        ("POST", "/tools/forecast"),
        ("GET", "/resources?uri=docs://readme"),
        ("POST", "/prompts/plan_trip"),
        ("GET", "/health"),
    ] {
        let res = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{url}{path}"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
        assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "the x-webhook-secret header is missing"}));
    }

    // Verified requests with bad content get precise answers.
    let cases: &[(&str, &[u8], u16, &str)] = &[
        (
            "/tools/forecast",
            br#"{"arguments":{"city":3}}"#,
            422,
            "invalid arguments: city: invalid type: integer `3`, expected a string",
        ),
        (
            "/tools/forecast",
            br#"{"arguments":{"city":"Paris","days":"soon"}}"#,
            422,
            "invalid arguments: days: invalid type: string \"soon\"",
        ),
        ("/tools/forecast", br#"{"arguments":{}}"#, 422, "invalid arguments: missing field `city`"),
        ("/tools/forecast", br#"{"arguments":{"city":"Atlantis"}}"#, 500, "no city named Atlantis"),
        ("/tools/forecast", b"not json", 400, "the body must be {\"arguments\": {...}}: not JSON"),
        (
            "/tools/forecast",
            br#"{"arguments":[1]}"#,
            400,
            "the body must be {\"arguments\": {...}}: \"arguments\" is not an object",
        ),
        ("/tools/weather", br#"{"arguments":{}}"#, 404, "no tool named \"weather\""),
        ("/prompts/plan_trip", br#"{"arguments":{}}"#, 422, "invalid arguments: missing field `city`"),
    ];
    for (path, body, want_status, want_error) in cases {
        let (status, answer) = signed(&url, path, SECRET, now(), body).await;
        assert_eq!(status, *want_status, "{path} {}: {answer}", String::from_utf8_lossy(body));
        assert_eq!(answer["success"], false, "{answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.starts_with(want_error), "{path}: {error:?} should start with {want_error:?}");
    }

    // Prompts and resources, verified.
    let (status, answer) =
        signed(&url, "/prompts/plan_trip", SECRET, now(), br#"{"arguments":{"city":"Kyoto"}}"#).await;
    assert_eq!(
        (status, answer),
        (
            200,
            json!({"success": true, "result": {"description": "A trip to Kyoto",
            "messages": [{"role": "user", "content": {"type": "text", "text": "Plan a week in Kyoto."}}]}})
        )
    );
    let (status, answer) = signed(&url, "/resources?uri=docs%3A%2F%2Freadme", SECRET, now(), b"").await;
    assert_eq!(status, 200);
    assert_eq!(answer["result"]["contents"][0]["text"], "# Trip tools\nAsk for a forecast.");
    let (status, answer) = signed(&url, "/resources?uri=docs%3A%2F%2Fnone", SECRET, now(), b"").await;
    assert_eq!((status, answer), (404, json!({"success": false, "error": "no resource at \"docs://none\""})));
    local.shutdown().await.unwrap();
}

#[tokio::test]
async fn serving_needs_a_secret_unless_told_otherwise() {
    // No secret configured anywhere: refused before binding.
    let sdk = trip_tools("", "http://unused");
    if std::env::var_os("OMNIMCP_WEBHOOK_SECRET").is_none() {
        let err = sdk.bind_local("127.0.0.1:0").await.unwrap_err();
        assert!(matches!(err, omnimcp_sdk::Error::MissingWebhookSecret), "{err}");
    }
    // Deploying needs a key and reports the platform's refusal precisely.
    let err = sdk.deploy("http://127.0.0.1:9").await.unwrap_err();
    assert!(matches!(err, omnimcp_sdk::Error::MissingApiKey), "{err}");

    let s = TestServer::start().await; // no loopback callbacks allowed
    let (_, key) = developer(&s, "dev@example.com").await;
    let err = trip_tools(&key, &s.url).deploy("http://127.0.0.1:9/hooks").await.unwrap_err();
    let omnimcp_sdk::Error::Platform { status, code, field, .. } = &err else { panic!("{err}") };
    assert_eq!((*status, code.as_str(), field.as_deref()), (422, "invalid_field", Some("callbackUrl")), "{err}");
    let err = trip_tools("omni_not-a-real-key", &s.url).deploy("https://example.com/hooks").await.unwrap_err();
    assert!(matches!(err, omnimcp_sdk::Error::Platform { status: 401, .. }), "{err}");
    s.stop().await;

    // Explicitly insecure: unsigned requests are served.
    let local = sdk.insecure_no_secret().bind_local("127.0.0.1:0").await.unwrap();
    let res = reqwest::Client::new()
        .post(format!("{}/tools/forecast", local.url()))
        .body(r#"{"arguments":{"city":"Paris"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["success"], true);
}

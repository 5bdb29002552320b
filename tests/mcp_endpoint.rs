//! The `/mcp` endpoint with a real MCP client nobody here wrote: the
//! official Python SDK, in its default mode (which tries `server/discover`)
//! and forced to the legacy `initialize` handshake.

mod common;

use std::{path::PathBuf, time::Duration};

use common::{TestServer, expect_error};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn python_client(url: &str, key: &str, mode: &str, tool: &str, args: Value) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    assert!(python.exists(), "run .ci/run first: it creates .venv with the Python MCP SDK");
    let out = std::process::Command::new(python)
        .arg(root.join("tests/fixtures/mcp_client.py"))
        .args([url, key, mode, tool, &args.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "python client failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn python_sdk_lists_and_calls_tools_in_both_eras() {
    let s = TestServer::start().await;
    let bob = s.register("bob@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&bob, "python").await;
    let calc = s.state.db.server_by_slug("calculator").await.unwrap().unwrap();
    assert_eq!(s.post_json("/api/installations", json!({"serverId": calc.id}), Some(&bob)).await.status(), 201);
    let url = s.at("/mcp");

    for mode in ["auto", "legacy"] {
        let url = url.clone();
        let key = key.clone();
        let out = tokio::task::spawn_blocking(move || {
            python_client(&url, &key, mode, "calculator.evaluate", json!({"expression": "(2 + 3) * 4"}))
        })
        .await
        .unwrap();
        assert_eq!(
            out["tools"],
            json!(["calculator.evaluate"]),
            "{mode}: only installed servers' tools, prefixed: {out}"
        );
        assert_eq!(out["text"], json!(["20"]), "{mode}: {out}");
        assert_eq!(out["isError"], false);
    }

    // A tool that is not installed, and a bad argument, are errors the client sees.
    let (u, k) = (url.clone(), key.clone());
    let out = tokio::task::spawn_blocking(move || {
        python_client(&u, &k, "auto", "weather.forecast", json!({"location": "Paris"}))
    })
    .await
    .unwrap();
    assert!(out["error"].as_str().unwrap_or_default().contains("unknown tool"), "{out}");
    let (u, k) = (url.clone(), key.clone());
    let out = tokio::task::spawn_blocking(move || {
        python_client(&u, &k, "legacy", "calculator.evaluate", json!({"expr": "1"}))
    })
    .await
    .unwrap();
    assert!(out["error"].as_str().unwrap_or_default().contains("arguments"), "{out}");

    // Without a key: 401 with a challenge.
    let res = s.client.post(&url).header("content-type", "application/json").body("{}").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
    s.stop().await;
}

/// `omnimcp connect`, launched by the Python SDK's stdio client the way a
/// desktop client launches it, with the key in the environment.
#[tokio::test]
async fn connect_bridges_stdio_clients_to_the_endpoint() {
    let s = TestServer::start().await;
    let bob = s.register("bob@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&bob, "desktop").await;
    let calc = s.state.db.server_by_slug("calculator").await.unwrap().unwrap();
    assert_eq!(s.post_json("/api/installations", json!({"serverId": calc.id}), Some(&bob)).await.status(), 201);
    let url = s.at("/mcp");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for mode in ["auto", "legacy"] {
        let (url, key, root) = (url.clone(), key.clone(), root.clone());
        let out = tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(root.join(".venv/bin/python"))
                .arg(root.join("tests/fixtures/stdio_client.py"))
                .args([mode, "calculator.evaluate", r#"{"expression": "0.1 + 0.2"}"#, "--"])
                .arg(env!("CARGO_BIN_EXE_omnimcp"))
                .args(["connect", "--url", &url])
                .env("OMNIMCP_API_KEY", &key)
                .env("OMNIMCP_PASS_ENV", "OMNIMCP_API_KEY")
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        })
        .await
        .unwrap();
        assert_eq!(out["tools"], json!(["calculator.evaluate"]), "{mode}: {out}");
        assert_eq!(out["text"], json!(["0.3"]), "{mode}: {out}");
    }
    s.stop().await;
}

/// Resources of installed servers appear under reversible `omnimcp://`
/// URIs and are read through the pipeline, in both eras.
#[tokio::test]
async fn resources_are_listed_and_read_through_the_endpoint() {
    let s = TestServer::start().await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python").display().to_string();
    let script = root.join("tests/fixtures/slow_server.py").display().to_string();
    let out =
        s.admin(&["add-server", "--slug", "fixture", "--name", "Fixture", "--command", &python, "--arg", &script]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bob = s.register("bob@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&bob, "python").await;
    let fixture = s.state.db.server_by_slug("fixture").await.unwrap().unwrap();
    assert_eq!(s.post_json("/api/installations", json!({"serverId": fixture.id}), Some(&bob)).await.status(), 201);
    let public = omnimcp::gateway::names::public_uri("fixture", "fixture://greeting");
    for mode in ["auto", "legacy"] {
        let (url, key, uri) = (s.at("/mcp"), key.clone(), public.clone());
        let out = tokio::task::spawn_blocking(move || {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let out = std::process::Command::new(root.join(".venv/bin/python"))
                .arg(root.join("tests/fixtures/mcp_client.py"))
                .args([&url, &key, mode, "fixture.sleep", r#"{"seconds": 0.01}"#, &uri])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        })
        .await
        .unwrap();
        assert_eq!(out["resources"], json!([public]), "{mode}: {out}");
        assert_eq!(out["contents"], json!(["hello from the fixture"]), "{mode}: {out}");
        assert_eq!(out["text"], json!(["slept 0.01"]), "{mode}: {out}");
    }
    s.stop().await;
}

/// A key scoped to some installations or tools (a "virtual server") sees
/// and calls only those, through either door.
#[tokio::test]
async fn scoped_keys_see_and_call_only_their_scope() {
    let s = TestServer::start().await;
    let bob = s.register("bob@example.com", PASSWORD).await;
    let mut inst = std::collections::HashMap::new();
    for slug in ["calculator", "weather"] {
        let id = s.state.db.server_by_slug(slug).await.unwrap().unwrap().id;
        let res: Value =
            s.post_json("/api/installations", json!({"serverId": id}), Some(&bob)).await.json().await.unwrap();
        inst.insert(slug, res["id"].as_str().unwrap().to_string());
    }
    let key_with = |scope: Value| {
        let s = &s;
        let bob = bob.clone();
        async move {
            let res = s.post_json("/api/keys", json!({"name": "scoped", "scope": scope}), Some(&bob)).await;
            assert_eq!(res.status(), 201);
            res.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_string()
        }
    };
    let calc_only = key_with(json!({"tools": ["calculator.evaluate"]})).await;
    let weather_only = key_with(json!({"installations": [inst["weather"]]})).await;
    let unscoped = s.create_key(&bob, "all").await.1;

    let list = |key: String| {
        let url = s.at("/mcp");
        tokio::task::spawn_blocking(move || {
            python_client(&url, &key, "auto", "calculator.evaluate", json!({"expression": "1+1"}))
        })
    };
    let all = list(unscoped).await.unwrap();
    assert_eq!(all["tools"], json!(["calculator.evaluate", "weather.current_weather", "weather.forecast"]));
    let calc = list(calc_only.clone()).await.unwrap();
    assert_eq!(calc["tools"], json!(["calculator.evaluate"]));
    assert_eq!(calc["text"], json!(["2"]));
    let weather = list(weather_only.clone()).await.unwrap();
    assert_eq!(weather["tools"], json!(["weather.current_weather", "weather.forecast"]));
    assert!(weather["error"].as_str().unwrap_or_default().contains("unknown tool"), "{weather}");

    // The REST door enforces the same scope, and out-of-scope looks unknown.
    let res = s
        .post_json(
            "/mcp/call",
            json!({"serverId": "calculator", "toolName": "evaluate", "arguments": {"expression": "1"}}),
            Some(&weather_only),
        )
        .await;
    expect_error(res, 404, "not_found").await;
    let res = s
        .post_json(
            "/mcp/call",
            json!({"serverId": "calculator", "toolName": "evaluate", "arguments": {"expression": "1"}}),
            Some(&calc_only),
        )
        .await;
    assert_eq!(res.status(), 200);

    // Scopes name only the owner's installations, and tools by public name.
    let eve = s.register("eve@example.com", PASSWORD).await;
    let res =
        s.post_json("/api/keys", json!({"name": "x", "scope": {"installations": [inst["weather"]]}}), Some(&eve)).await;
    assert_eq!(expect_error(res, 422, "invalid_field").await["error"]["field"], "scope.installations[0]");
    let res = s.post_json("/api/keys", json!({"name": "x", "scope": {"tools": ["evaluate"]}}), Some(&bob)).await;
    assert_eq!(expect_error(res, 422, "invalid_field").await["error"]["field"], "scope.tools[0]");
    let keys: Value = s.get("/api/keys", Some(&bob)).await.json().await.unwrap();
    assert!(keys["keys"].as_array().unwrap().iter().any(|k| k["scope"] == json!({"tools": ["calculator.evaluate"]})));
    s.stop().await;
}

/// The protocol's error paths, with raw HTTP in the legacy era.
#[tokio::test]
async fn protocol_errors_are_precise() {
    let s = TestServer::start_on_with(
        common::Backend::Sqlite,
        &["--outbound-allow-http", "--outbound-allow-loopback", "--outbound-timeout-secs", "2"],
    )
    .await
    .unwrap();
    let bob = s.register("bob@example.com", PASSWORD).await;
    let (key_id, key) = s.create_key(&bob, "raw").await;
    // A developer-hosted server whose service is down.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let deployed: Value = s
        .post_json(
            "/api/mcp/deploy",
            json!({"name": "down", "hostingType": "developer_hosted", "callbackUrl": format!("http://127.0.0.1:{dead_port}"),
                   "tools": [{"name": "ping"}]}),
            Some(&key),
        )
        .await
        .json()
        .await
        .unwrap();
    s.post_json("/api/installations", json!({"serverId": deployed["serverId"]}), Some(&bob)).await;

    let url = s.at("/mcp");
    let post = |body: String, session: Option<String>, key: String| {
        let (client, url) = (s.client.clone(), url.clone());
        async move {
            let mut req = client
                .post(&url)
                .bearer_auth(key)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(body);
            if let Some(id) = session {
                req = req.header("mcp-session-id", id).header("mcp-protocol-version", "2025-11-25");
            }
            req.send().await.unwrap()
        }
    };
    // The JSON-RPC message in an SSE or JSON answer.
    let message = |text: String| -> Value {
        let data = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter(|d| d.starts_with('{'))
            .last()
            .map(str::to_string);
        serde_json::from_str(&data.unwrap_or(text)).unwrap()
    };

    // Malformed JSON: a JSON-RPC parse error.
    let res = post("{not json".into(), None, key.clone()).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], -32700);
    // A batch: refused as what it is, in JSON-RPC.
    let res = post(json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]).to_string(), None, key.clone()).await;
    assert_eq!(res.status(), 400);
    let refusal = res.json::<Value>().await.unwrap();
    assert_eq!(refusal["error"]["code"], -32600);
    assert!(refusal["error"]["message"].as_str().unwrap().contains("batches"), "{refusal}");
    // Every transport-level refusal is a JSON-RPC error in JSON.
    let refusals = [
        (
            s.client
                .post(&url)
                .bearer_auth(&key)
                .header("content-type", "text/plain")
                .header("accept", "application/json, text/event-stream")
                .body("{}"),
            415,
        ),
        (s.client.post(&url).bearer_auth(&key).header("content-type", "application/json").body("{}"), 406),
        (s.client.get(&url).bearer_auth(&key).header("accept", "text/event-stream"), 400),
        (
            s.client
                .post(&url)
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", "no-such-session")
                .body(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string()),
            404,
        ),
    ];
    for (request, status) in refusals {
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), status);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        assert!(res.json::<Value>().await.unwrap()["error"]["message"].is_string());
    }
    // Over the message limit: the unread rest ends the connection, and the
    // answer says so.
    let res = post("x".repeat(omnimcp::mcp::MAX_BODY + 1), None, key.clone()).await;
    assert_eq!(res.status(), 413);
    assert_eq!(res.headers()["connection"], "close");

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
    let res = post(init.to_string(), None, key.clone()).await;
    let session = res.headers()["mcp-session-id"].to_str().unwrap().to_string();
    post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        Some(session.clone()),
        key.clone(),
    )
    .await;

    // An unknown method.
    let res = post(
        json!({"jsonrpc": "2.0", "id": 2, "method": "foo/bar", "params": {}}).to_string(),
        Some(session.clone()),
        key.clone(),
    )
    .await;
    assert_eq!(message(res.text().await.unwrap())["error"]["code"], -32601);

    // A call to a dead upstream: a clear JSON-RPC error, not a hang.
    let call =
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "down.ping", "arguments": {}}});
    let res = post(call.to_string(), Some(session.clone()), key.clone()).await;
    let msg = message(res.text().await.unwrap());
    assert_eq!(msg["error"]["code"], omnimcp::gateway::error::codes::UPSTREAM_FAILED, "{msg}");
    assert!(msg["error"]["message"].as_str().unwrap().contains("could not be reached"), "{msg}");

    // A revoked key is refused, even with a live session.
    s.client.delete(s.at(&format!("/api/keys/{key_id}"))).bearer_auth(&bob).send().await.unwrap();
    let res = post(call.to_string(), Some(session), key.clone()).await;
    assert_eq!(res.status(), 401);

    // DNS rebinding: a Host that is not ours is refused.
    let (_, fresh) = s.create_key(&bob, "fresh").await;
    let res = s
        .client
        .post(&url)
        .bearer_auth(fresh)
        .header("host", "evil.example")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    s.stop().await;
}

/// Installing a server while a client has a session open tells the client
/// its lists changed; the next list shows the new tools.
#[tokio::test]
async fn open_sessions_hear_about_list_changes() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let s = TestServer::start().await;
    let bob = s.register("bob@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&bob, "watcher").await;
    let calc = s.state.db.server_by_slug("calculator").await.unwrap().unwrap();
    assert_eq!(s.post_json("/api/installations", json!({"serverId": calc.id}), Some(&bob)).await.status(), 201);

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut child = tokio::process::Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/fixtures/notify_client.py"))
        .args([&s.at("/mcp"), &key])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ready"));
    let user = s.state.db.user_by_email("bob@example.com").await.unwrap().unwrap();
    assert_eq!(s.state.gateway.notifier.sessions(user.id), 1, "the session registered when it initialized");

    let weather = s.state.db.server_by_slug("weather").await.unwrap().unwrap();
    assert_eq!(s.post_json("/api/installations", json!({"serverId": weather.id}), Some(&bob)).await.status(), 201);
    let out: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(out["before"], json!(["calculator.evaluate"]));
    assert_eq!(out["after"], json!(["calculator.evaluate", "weather.current_weather", "weather.forecast"]));
    assert_eq!(
        out["seen"],
        json!(["notifications/resources/list_changed", "notifications/tools/list_changed"]),
        "{out}"
    );
    child.wait().await.unwrap();
    s.stop().await;
}

/// Beyond tools: prompts (listed with their arguments, fetched through the
/// pipeline), resource templates (listed in their public form, an
/// expansion read from the server), pages of a long tool list, and an
/// upstream's own announcement that its tools changed reaching a client of
/// either era (a session notification, or a `subscriptions/listen` event).
#[tokio::test]
async fn prompts_templates_pages_and_upstream_changes_reach_clients() {
    let s = TestServer::start().await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python").display().to_string();
    let script = root.join("tests/fixtures/catalog_server.py").display().to_string();
    let out = s.admin(&["add-server", "--slug", "cat", "--name", "Catalog", "--command", &python, "--arg", &script]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bob = s.register("bob@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&bob, "python").await;
    let cat = s.state.db.server_by_slug("cat").await.unwrap().unwrap();
    assert_eq!(s.post_json("/api/installations", json!({"serverId": cat.id}), Some(&bob)).await.status(), 201);

    for mode in ["legacy", "auto"] {
        let (url, key) = (s.at("/mcp"), key.clone());
        let out = tokio::task::spawn_blocking(move || {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let out = std::process::Command::new(root.join(".venv/bin/python"))
                .arg(root.join("tests/fixtures/catalog_client.py"))
                .args([&url, &key, mode])
                .output()
                .unwrap();
            assert!(out.status.success(), "{mode}: {}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        })
        .await
        .unwrap();
        assert_eq!(out["pages"], 2, "{mode}: more than {} tools take two pages: {out}", omnimcp::mcp::PAGE_SIZE);
        assert!(out["tools"].as_u64().unwrap() >= 121, "{mode}: {out}");
        assert_eq!(out["tools"], out["unique"], "{mode}: no tool twice across pages: {out}");
        assert_eq!(out["prompts"], json!([{"name": "cat.review", "args": [["code", true], ["focus", false]]}]));
        assert_eq!(out["prompt_text"], json!(["Review this code for bugs:\nx = 1"]), "{mode}: {out}");
        assert!(out["missing_arg"].as_str().unwrap().contains("code"), "{mode}: {out}");
        assert_eq!(out["templates"], json!([omnimcp::gateway::names::public_uri_template("cat", "notes://{note_id}")]));
        assert_eq!(out["read"], json!(["note 42"]), "{mode}: {out}");
        assert_eq!(out["read_uri"], json!([omnimcp::gateway::names::public_uri("cat", "notes://42")]), "{mode}: {out}");
        assert_eq!(out["heard"], true, "{mode}: the upstream's change reached the client: {out}");
        assert_eq!(out["extra_listed"], true, "{mode}: {out}");
    }
    // The change is Bob's process's own: the catalog (what the marketplace
    // and every other user see) is still the administrator's discovery.
    let tools = s.state.db.server_tools(cat.id).await.unwrap();
    assert!(!tools.iter().any(|t| t.name == "extra"), "the stored catalog is unchanged");
    let amy = s.register("amy@example.com", PASSWORD).await;
    assert_eq!(s.post_json("/api/installations", json!({"serverId": cat.id}), Some(&amy)).await.status(), 201);
    let (_, amy_key) = s.create_key(&amy, "amy").await;
    let listed = common::rpc::stateless(&s, &amy_key, "tools/list", json!({})).await;
    let listed = serde_json::to_string(&listed).unwrap();
    assert!(listed.contains("cat.grow") && !listed.contains("cat.extra"), "Amy does not see Bob's change: {listed}");

    // A desktop client behind `omnimcp connect` hears of changes too, in
    // either era on its side.
    for mode in ["legacy", "auto"] {
        let (url, key) = (s.at("/mcp"), key.clone());
        let out = tokio::task::spawn_blocking(move || {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let out = std::process::Command::new(root.join(".venv/bin/python"))
                .arg(root.join("tests/fixtures/stdio_client.py"))
                .args([mode, "cat.grow", "{}", "--"])
                .arg(env!("CARGO_BIN_EXE_omnimcp"))
                .args(["connect", "--url", &url])
                .env("OMNIMCP_API_KEY", &key)
                .env("OMNIMCP_PASS_ENV", "OMNIMCP_API_KEY")
                .env("WATCH_LIST_CHANGES", "1")
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        })
        .await
        .unwrap();
        assert_eq!(out["text"], json!(["grown"]), "{mode}: {out}");
        assert_eq!(out["heard"], true, "{mode}: the change reached the desktop client: {out}");
    }
    s.stop().await;
}

/// One 2025-11-25 session used by many requests at once (as an agent that
/// fans out does): all 64 calls answer, each with its own result, and none
/// waits behind the others until a timeout.
#[tokio::test]
async fn sixty_four_concurrent_calls_on_one_legacy_session_all_answer() {
    let s = TestServer::start().await;
    let token = s.register("fan-out@example.com", PASSWORD).await;
    // 64 calls at once are more than the free tier's minute allows.
    let tier = s.admin(&["set-user", "--email", "fan-out@example.com", "--tier", "enterprise"]);
    assert!(tier.status.success(), "set-user: {}", String::from_utf8_lossy(&tier.stderr));
    s.state.gateway.caches.clear();
    let (_, key) = s.create_key(&token, "fan-out").await;
    let calc = s.state.db.server_by_slug("calculator").await.unwrap().unwrap();
    assert_eq!(s.post_json("/api/installations", json!({"serverId": calc.id}), Some(&token)).await.status(), 201);
    let session = common::rpc::Session::open(&s, &key).await;

    let started = std::time::Instant::now();
    let calls = (0..64).map(|i| {
        let (session, key) = (session.clone(), key.clone());
        tokio::spawn(async move {
            let body = json!({"jsonrpc": "2.0", "id": 1000 + i, "method": "tools/call",
                "params": {"name": "calculator.evaluate", "arguments": {"expression": format!("{i} + 1")}}});
            (i, session.post(&key, body).await)
        })
    });
    let answers = tokio::time::timeout(Duration::from_secs(60), futures_util::future::join_all(calls))
        .await
        .expect("every call on the session answers within a minute");
    for answer in answers {
        let (i, (status, message)) = answer.unwrap();
        assert_eq!(status, 200, "call {i}: {message}");
        assert_eq!(message["id"], 1000 + i, "call {i}: {message}");
        assert_eq!(message["result"]["content"][0]["text"], format!("{}", i + 1), "call {i}'s own answer: {message}");
    }
    println!("64 concurrent calls on one session: {:?}", started.elapsed());
}

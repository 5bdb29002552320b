//! Every user alone on `/mcp`: a key's scope limits every MCP method, a
//! legacy session belongs to the user who opened it, and what a credential
//! or an installation opened ends with it. On SQLite and PostgreSQL, with
//! the conformance fixture (every kind of MCP item) and the Calculator as
//! platform-hosted servers.

mod common;

use common::{
    TestServer,
    rpc::{Session, stateless},
};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

/// Adds the conformance fixture (stdio) as a platform-hosted server.
fn add_fixture(s: &TestServer) {
    let fixture = common::fixture_binary().display().to_string();
    let added =
        s.admin(&["add-server", "--slug", "fixture", "--name", "Fixture", "--command", &fixture, "--arg", "--stdio"]);
    assert!(added.status.success(), "add-server: {}", String::from_utf8_lossy(&added.stderr));
}

/// Installs a server by slug; the installation id.
async fn install(s: &TestServer, token: &str, slug: &str) -> String {
    let server = s.state.db.server_by_slug(slug).await.unwrap().unwrap();
    let res = s.post_json("/api/installations", json!({"serverId": server.id}), Some(token)).await;
    assert_eq!(res.status(), 201, "install {slug}");
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

/// A key with this scope: (id, key).
async fn scoped_key(s: &TestServer, token: &str, scope: Value) -> (String, String) {
    let res = s.post_json("/api/keys", json!({"name": "scoped", "scope": scope}), Some(token)).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (body["id"].as_str().unwrap().to_string(), body["key"].as_str().unwrap().to_string())
}

fn names(list: &Value, field: &str, key: &str) -> Vec<String> {
    list[field].as_array().unwrap_or(&vec![]).iter().map(|t| t[key].as_str().unwrap().to_string()).collect()
}

const STATIC_TEXT: &str = "omnimcp://fixture/test%3A%2F%2Fstatic-text";

/// A tools-only scope reaches those tools' servers only, for every method;
/// an installations scope, those installations only.
async fn scopes_limit_every_mcp_method(s: TestServer) {
    add_fixture(&s);
    let alice = s.register("alice@example.com", PASSWORD).await;
    install(&s, &alice, "calculator").await;
    let fixture = install(&s, &alice, "fixture").await;
    let (_, tools_only) = scoped_key(&s, &alice, json!({"tools": ["calculator.evaluate"]})).await;
    let (_, fixture_only) = scoped_key(&s, &alice, json!({"installations": [fixture]})).await;

    let unknown = |v: &Value, what: &str| assert_eq!(v["code"], -32602, "{what} is out of reach: {v}");
    // The tools-only key: the Calculator's one tool, nothing of the fixture.
    let listed = stateless(&s, &tools_only, "tools/list", json!({})).await;
    assert_eq!(names(&listed, "tools", "name"), vec!["calculator.evaluate"], "{listed}");
    // Each list is this key's own: no cache may share it between callers.
    assert_eq!((&listed["cacheScope"], &listed["ttlMs"]), (&json!("private"), &json!(10_000)), "{listed}");
    for (method, field) in [
        ("resources/list", "resources"),
        ("resources/templates/list", "resourceTemplates"),
        ("prompts/list", "prompts"),
    ] {
        let listed = stateless(&s, &tools_only, method, json!({})).await;
        assert_eq!(listed[field], json!([]), "{method}: {listed}");
        assert_eq!(listed["cacheScope"], "private", "{method}: {listed}");
    }
    let call = |name: &str| json!({"name": name, "arguments": {}});
    unknown(&stateless(&s, &tools_only, "tools/call", call("fixture.test_simple_text")).await, "a fixture tool");
    unknown(&stateless(&s, &tools_only, "resources/read", json!({"uri": STATIC_TEXT})).await, "a fixture resource");
    unknown(
        &stateless(&s, &tools_only, "prompts/get", json!({"name": "fixture.test_simple_prompt"})).await,
        "a fixture prompt",
    );
    let completion = json!({"ref": {"type": "ref/prompt", "name": "fixture.test_prompt_with_arguments"},
                            "argument": {"name": "arg1", "value": "a"}});
    unknown(&stateless(&s, &tools_only, "completion/complete", completion.clone()).await, "a fixture completion");
    let ok = stateless(
        &s,
        &tools_only,
        "tools/call",
        json!({"name": "calculator.evaluate", "arguments": {"expression": "2+2"}}),
    )
    .await;
    assert_eq!(ok["content"][0]["text"], "4", "{ok}");

    // The fixture-only key: everything of the fixture, nothing else.
    let listed = stateless(&s, &fixture_only, "tools/list", json!({})).await;
    let tools = names(&listed, "tools", "name");
    assert!(!tools.is_empty() && tools.iter().all(|t| t.starts_with("fixture.")), "{listed}");
    unknown(
        &stateless(
            &s,
            &fixture_only,
            "tools/call",
            json!({"name": "calculator.evaluate", "arguments": {"expression": "1"}}),
        )
        .await,
        "the Calculator",
    );
    let read = stateless(&s, &fixture_only, "resources/read", json!({"uri": STATIC_TEXT})).await;
    assert!(read["contents"][0]["text"].is_string(), "{read}");
    let prompt = stateless(&s, &fixture_only, "prompts/get", json!({"name": "fixture.test_simple_prompt"})).await;
    assert!(prompt["messages"].is_array(), "{prompt}");
    let done = stateless(&s, &fixture_only, "completion/complete", completion).await;
    assert_eq!(done["completion"]["values"], json!(["alpha"]), "{done}");

    // Subscriptions (handshake era) follow the same reach.
    let session = Session::open(&s, &tools_only).await;
    let (_, refused) = session.request(&tools_only, "resources/subscribe", json!({"uri": STATIC_TEXT})).await;
    assert_eq!(refused["code"], -32002, "an unreachable resource is not found (2025-11-25): {refused}");
    let session = Session::open(&s, &fixture_only).await;
    let (status, accepted) = session.request(&fixture_only, "resources/subscribe", json!({"uri": STATIC_TEXT})).await;
    assert_eq!((status, accepted), (200, json!({})));
    s.stop().await;
}

/// A legacy session belongs to the user who opened it: anyone else's
/// credentials on it get what an unknown session gets.
async fn sessions_belong_to_their_user(s: TestServer) {
    let alice = s.register("alice@example.com", PASSWORD).await;
    let bob = s.register("bob@example.com", PASSWORD).await;
    let (_, alice_key) = s.create_key(&alice, "alice").await;
    let (_, bob_key) = s.create_key(&bob, "bob").await;
    install(&s, &alice, "calculator").await;
    install(&s, &bob, "calculator").await;
    let session = Session::open(&s, &alice_key).await;
    let call = json!({"name": "calculator.evaluate", "arguments": {"expression": "6*7"}});

    // What an unknown session gets, for comparison.
    let (unknown_status, _) = session.with_id("no-such-session").request(&bob_key, "tools/list", json!({})).await;
    assert_eq!(unknown_status, 404);
    // Bob on Alice's session: the same, whatever he tries.
    let (status, _) = session.request(&bob_key, "tools/call", call.clone()).await;
    assert_eq!(status, unknown_status, "another user's request on the session");
    assert_eq!(session.stream(&bob_key).await.status(), unknown_status, "another user's stream");
    let deleted =
        s.client.delete(s.at("/mcp")).bearer_auth(&bob_key).header("mcp-session-id", &session.id).send().await.unwrap();
    assert!(deleted.status().is_success() || deleted.status() == 404, "{}", deleted.status());
    // Alice's session is untouched by all of it.
    let (status, answer) = session.request(&alice_key, "tools/call", call).await;
    assert_eq!(status, 200);
    assert_eq!(answer["content"][0]["text"], "42", "{answer}");
    s.stop().await;
}

/// What a credential or an installation opened ends with it: sessions,
/// their streams, listen streams, resource subscriptions.
async fn revocation_and_uninstall_end_what_they_opened(s: TestServer) {
    add_fixture(&s);
    let alice = s.register("alice@example.com", PASSWORD).await;
    let user = s.state.db.user_by_email("alice@example.com").await.unwrap().unwrap();
    let fixture = install(&s, &alice, "fixture").await;
    let subscriptions = || async {
        let mut n = 0;
        for relay in s.state.gateway.upstreams.processes.relays().await {
            n += relay.subscriptions();
        }
        n
    };

    // A key's session, its stream and its subscription end when it is revoked.
    let (key_id, key) = s.create_key(&alice, "laptop").await;
    let session = Session::open(&s, &key).await;
    let (status, _) = session.request(&key, "resources/subscribe", json!({"uri": STATIC_TEXT})).await;
    assert_eq!(status, 200);
    assert_eq!(subscriptions().await, 1);
    let stream = session.stream(&key).await;
    assert_eq!(stream.status(), 200);
    assert_eq!(s.state.gateway.notifier.sessions(user.id), 1);
    let res = s.client.delete(s.at(&format!("/api/keys/{key_id}"))).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(subscriptions().await, 0, "the subscription ended with the key");
    assert_eq!(s.state.gateway.notifier.sessions(user.id), 0, "the session ended with the key");
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), stream.bytes()).await;
    assert!(ended.is_ok(), "the session's stream closed");

    // A listen stream of a key scoped to the installation ends when it is
    // uninstalled, and so does the installation's process with its
    // subscriptions.
    let (_, scoped) = scoped_key(&s, &alice, json!({"installations": [fixture], "unprefixed": true})).await;
    let session = Session::open(&s, &scoped).await;
    let (status, _) = session.request(&scoped, "resources/subscribe", json!({"uri": "test://static-text"})).await;
    assert_eq!(status, 200);
    let listen = listen_stream(&s, &scoped).await;
    assert_eq!(listen.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(s.state.gateway.notifier.sessions(user.id), 2, "the session and the listen stream");
    let res = s.client.delete(s.at(&format!("/api/installations/{fixture}"))).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), listen.bytes()).await;
    assert!(ended.is_ok(), "the listen stream ended with the installation");
    assert_eq!(s.state.gateway.notifier.sessions(user.id), 0);
    assert_eq!(subscriptions().await, 0);
    let fixture_server = s.state.db.server_by_slug("fixture").await.unwrap().unwrap();
    assert!(s.state.gateway.upstreams.processes.pids(fixture_server.id).await.is_empty(), "its process stopped");

    // Disabling an installation ends its subscriptions too.
    let again = install(&s, &alice, "fixture").await;
    let (_, key) = s.create_key(&alice, "desk").await;
    let session = Session::open(&s, &key).await;
    let (status, _) = session.request(&key, "resources/subscribe", json!({"uri": STATIC_TEXT})).await;
    assert_eq!(status, 200);
    assert_eq!(subscriptions().await, 1);
    let res = s
        .send_json(reqwest::Method::PATCH, &format!("/api/installations/{again}"), json!({"enabled": false}), &alice)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(subscriptions().await, 0, "the subscription ended with the installation's process");
    assert!(s.state.gateway.upstreams.processes.pids(fixture_server.id).await.is_empty());
    s.stop().await;
}

/// Opens a 2026-07-28 `subscriptions/listen` stream for list changes.
async fn listen_stream(s: &TestServer, key: &str) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "subscriptions/listen", "params": {
    "notifications": {"toolsListChanged": true},
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "omnimcp-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }}});
    s.client
        .post(s.at("/mcp"))
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "subscriptions/listen")
        .json(&body)
        .send()
        .await
        .unwrap()
}

on_both_databases!(flags: &[];
    scopes_limit_every_mcp_method,
    sessions_belong_to_their_user,
    revocation_and_uninstall_end_what_they_opened,
);

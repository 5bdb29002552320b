//! Remote MCP servers that require OAuth, against a server nobody here
//! wrote the OAuth of: `tests/fixtures/oauth_server.py`, built on the
//! official Python SDK's `mcp.server.auth` (its resource metadata,
//! authorization server metadata, dynamic registration, authorize, token
//! and revocation endpoints, and its bearer guard on `/mcp`).
//!
//! A developer deploys the server (it is recognised as wanting OAuth); a
//! user connects it through OmniMCP's connect flow (the browser's part
//! done over HTTP with the session cookie) and calls its tools through
//! `/mcp` with their own token; a second user who has not connected gets a
//! URL elicitation, connects, and is a different subject upstream; tokens
//! a 2026-07-28 client that takes URL elicitations gets the same as an
//! input-required result and retries after connecting; tokens are
//! refreshed before expiry; uninstalling revokes them at the server; a
//! token the server revoked asks to connect again; and a callback
//! replayed in another session is refused.

mod common;

use common::{Backend, TestServer, rpc};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Upstream {
    _child: tokio::process::Child,
    base: String,
}

async fn upstream() -> Upstream {
    let python = root().join(".venv/bin/python");
    assert!(python.exists(), "run .ci/run first: it creates .venv with the Python MCP SDK");
    let port = common::free_port();
    let mut command = tokio::process::Command::new(python);
    command.arg(root().join("tests/fixtures/oauth_server.py")).arg(port.to_string());
    let child = common::spawn_listening(&mut command, port).await;
    Upstream { _child: child, base: format!("http://127.0.0.1:{port}") }
}

impl Upstream {
    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/test/stats", self.base)).await.unwrap().json().await.unwrap()
    }
}

/// A platform, the upstream, and the server deployed by a developer; the
/// server's id and slug.
async fn start() -> (TestServer, Upstream, String, String) {
    let up = upstream().await;
    let s = TestServer::start_on_with(
        Backend::Sqlite,
        &["--outbound-allow-loopback", "--outbound-allow-http", "--connect-refresh-secs", "3600"],
    )
    .await
    .unwrap();
    let dev = s.register("dev@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&dev, "deploy").await;
    let deploy = json!({"name": "protected-docs", "hostingType": "remote_mcp", "url": format!("{}/mcp", up.base)});
    let res = s.post_json("/api/mcp/deploy", deploy, Some(&key)).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    let slug = body["slug"].as_str().unwrap().to_string();
    let server = s.state.db.server_by_slug(&slug).await.unwrap().unwrap();
    (s, up, server.id.to_string(), slug)
}

/// The connect flow as the signed-in browser: start, the authorization
/// server's redirect back, the callback. Where it lands.
async fn connect(s: &TestServer, session: &str, start: &str) -> String {
    let cookie = format!("omni_session={session}");
    let res = s.client.get(s.at(start)).header("cookie", &cookie).send().await.unwrap();
    let status = res.status();
    let Some(to) = res.headers().get("location").map(|l| l.to_str().unwrap().to_string()) else {
        panic!("start answered {status}: {}", res.text().await.unwrap());
    };
    let res = s.client.get(&to).send().await.unwrap();
    assert!(res.status().is_redirection(), "the authorization endpoint: {}", res.status());
    let callback = res.headers()["location"].to_str().unwrap().to_string();
    assert!(callback.starts_with(&s.at("/connect/mcp/callback")), "{callback}");
    let res = s.client.get(&callback).header("cookie", &cookie).send().await.unwrap();
    let status = res.status();
    match res.headers().get("location") {
        Some(location) => location.to_str().unwrap().to_string(),
        None => panic!("callback answered {status}: {}", res.text().await.unwrap()),
    }
}

async fn whoami(s: &TestServer, key: &str, slug: &str) -> Value {
    rpc::stateless(s, key, "tools/call", json!({"name": format!("{slug}.whoami"), "arguments": {}})).await
}

fn subject(result: &Value) -> String {
    let structured = &result["structuredContent"];
    let data = if structured.is_object() {
        structured.clone()
    } else {
        serde_json::from_str(result["content"][0]["text"].as_str().unwrap_or("{}")).unwrap_or_default()
    };
    data.get("result").cloned().unwrap_or(data)["subject"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn connect_a_remote_server_that_requires_oauth_then_call_it() {
    let (s, up, server_id, slug) = start().await;
    let server = s.state.db.server_by_slug(&slug).await.unwrap().unwrap();
    assert_eq!(server.remote_auth.as_deref(), Some("oauth"), "the deploy saw the Bearer challenge");
    let alice = s.register("alice@example.com", PASSWORD).await;
    // The marketplace offers to connect it.
    let page = s
        .client
        .get(s.at(&format!("/marketplace/{server_id}")))
        .header("cookie", format!("omni_session={alice}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("/connect/mcp/start?server={server_id}")), "a Connect button");

    let (_, alice_key) = s.create_key(&alice, "client").await;
    let landed = connect(&s, &alice, &format!("/connect/mcp/start?server={server_id}")).await;
    assert_eq!(landed, "/installed?connected=mcp");
    let stats = up.stats().await;
    assert_eq!(stats["registrations"], 1, "OmniMCP registered itself once: {stats}");
    assert_eq!(stats["resources"][0], format!("{}/mcp", up.base), "the resource indicator (RFC 8707)");

    // The first connection listed the tools the deploy could not.
    let listed = rpc::stateless(&s, &alice_key, "tools/list", json!({})).await;
    let names: Vec<&str> = listed["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(names.contains(&format!("{slug}.whoami").as_str()), "{listed}");
    let echoed = rpc::stateless(
        &s,
        &alice_key,
        "tools/call",
        json!({"name": format!("{slug}.echo"), "arguments": {"text": "hi"}}),
    )
    .await;
    assert!(echoed.to_string().contains("hi"), "{echoed}");
    let alice_subject = subject(&whoami(&s, &alice_key, &slug).await);
    assert!(alice_subject.starts_with("user-"), "{alice_subject}");
    // The token is the installation's secret: never shown.
    let list: Value = s.get("/api/installations", Some(&alice)).await.json().await.unwrap();
    assert_eq!(list["installations"][0]["connected"], true, "{list}");
    assert!(!list.to_string().contains("at-"), "no token in {list}");

    // Bob installs without connecting: his call is a URL elicitation.
    let bob = s.register("bob@example.com", PASSWORD).await;
    let (_, bob_key) = s.create_key(&bob, "client").await;
    let res = s.post_json("/api/installations", json!({"serverId": server_id}), Some(&bob)).await;
    assert_eq!(res.status(), 201);
    let inst = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let asked = whoami(&s, &bob_key, &slug).await;
    assert_eq!(asked["code"], -32042, "{asked}");
    let url = asked["data"]["elicitations"][0]["url"].as_str().unwrap().to_string();
    assert_eq!(url, s.at(&format!("/connect/mcp/start?installation={inst}")));
    // Alice cannot start a connection for Bob's installation.
    let res = s.client.get(&url).header("cookie", format!("omni_session={alice}")).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let landed = connect(&s, &bob, url.trim_start_matches(&s.url)).await;
    assert_eq!(landed, "/installed?connected=mcp");
    let bob_subject = subject(&whoami(&s, &bob_key, &slug).await);
    assert!(bob_subject.starts_with("user-") && bob_subject != alice_subject, "{bob_subject} vs {alice_subject}");
    assert_eq!(up.stats().await["registrations"], 1, "the registration is reused");

    // Carol's client speaks 2026-07-28 and takes URL elicitations: "connect
    // first" is an input-required result (the multi-round-trip form), and
    // her retry after connecting runs the call.
    let carol = s.register("carol@example.com", PASSWORD).await;
    let (_, carol_key) = s.create_key(&carol, "client").await;
    let res = s.post_json("/api/installations", json!({"serverId": server_id}), Some(&carol)).await;
    assert_eq!(res.status(), 201);
    let caps = json!({"elicitation": {"url": {}}});
    let call = json!({"name": format!("{slug}.whoami"), "arguments": {}});
    let required = rpc::stateless_as(&s, &carol_key, "tools/call", call.clone(), caps.clone()).await;
    assert_eq!(required["resultType"], "input_required", "{required}");
    let (key, request) = required["inputRequests"].as_object().unwrap().iter().next().unwrap();
    assert_eq!(request["method"], "elicitation/create");
    assert_eq!(request["params"]["mode"], "url");
    let url = request["params"]["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&s.at("/connect/mcp/start?installation=")), "{url}");
    let state = required["requestState"].clone();
    // Declined: the retry is refused, and nothing went upstream.
    let mut declined = call.clone();
    declined["inputResponses"] = json!({key.as_str(): {"action": "decline"}});
    declined["requestState"] = state.clone();
    let refused = rpc::stateless_as(&s, &carol_key, "tools/call", declined, caps.clone()).await;
    assert!(refused["message"].as_str().unwrap_or_default().contains("declined"), "{refused}");
    let landed = connect(&s, &carol, url.trim_start_matches(&s.url)).await;
    assert_eq!(landed, "/installed?connected=mcp");
    let mut retry = call.clone();
    retry["inputResponses"] = json!({key.as_str(): {"action": "accept"}});
    retry["requestState"] = state;
    let done = rpc::stateless_as(&s, &carol_key, "tools/call", retry, caps).await;
    assert!(subject(&done).starts_with("user-"), "{done}");

    // Tokens last two minutes: a refresh pass renews them (the old refresh
    // token is spent upstream, so a second use would fail).
    let before = whoami(&s, &alice_key, &slug).await;
    omnimcp::oauth::providers::refresh_due(&s.state).await.unwrap();
    assert_eq!(up.stats().await["refreshes"], 3, "every connection refreshed");
    let after = whoami(&s, &alice_key, &slug).await;
    assert_eq!(subject(&after), alice_subject, "the same user, a new token");
    assert_ne!(before.to_string(), after.to_string());

    // Carol uninstalls: her tokens are revoked at the server (RFC 7009).
    let carol_inst: Value = s.get("/api/installations", Some(&carol)).await.json().await.unwrap();
    let carol_inst = carol_inst["installations"][0]["id"].as_str().unwrap().to_string();
    let res =
        s.client.delete(s.at(&format!("/api/installations/{carol_inst}"))).bearer_auth(&carol).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let mut revoked = 0;
    for _ in 0..50 {
        revoked = up.stats().await["revocations"].as_i64().unwrap();
        if revoked >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(revoked, 2, "the refresh token and the access token");

    // The server forgets every token: the next call asks to connect again.
    reqwest::Client::new().post(format!("{}/test/revoke-all", up.base)).send().await.unwrap();
    let asked = whoami(&s, &alice_key, &slug).await;
    assert_eq!(asked["code"], -32042, "{asked}");
    // And a refresh with a forgotten refresh token ends the connection.
    omnimcp::oauth::providers::refresh_due(&s.state).await.unwrap();
    let list: Value = s.get("/api/installations", Some(&alice)).await.json().await.unwrap();
    assert_eq!(list["installations"][0]["connected"], false, "{list}");
}

/// A callback replayed in another session is refused, as is a callback
/// whose state was not sealed here.
#[tokio::test]
async fn a_remote_callback_from_another_session_is_refused() {
    let (s, _up, server_id, _slug) = start().await;
    let mallory = s.register("mallory@example.com", PASSWORD).await;
    let victim = s.register("victim@example.com", PASSWORD).await;
    let res = s
        .client
        .get(s.at(&format!("/connect/mcp/start?server={server_id}")))
        .header("cookie", format!("omni_session={mallory}"))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let Some(to) = res.headers().get("location").map(|l| l.to_str().unwrap().to_string()) else {
        panic!("start answered {status}: {}", res.text().await.unwrap());
    };
    let res = s.client.get(&to).send().await.unwrap();
    let status = res.status();
    let Some(callback) = res.headers().get("location").map(|l| l.to_str().unwrap().to_string()) else {
        panic!("authorize answered {status} to {to}: {}", res.text().await.unwrap());
    };
    let res = s.client.get(&callback).header("cookie", format!("omni_session={victim}")).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("another session"));
    let list: Value = s.get("/api/installations", Some(&victim)).await.json().await.unwrap();
    assert_eq!(list["installations"], json!([]), "nothing was installed for the victim");
    let forged = s
        .client
        .get(s.at("/connect/mcp/callback?code=x&state=forged"))
        .header("cookie", format!("omni_session={victim}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    // Signed out, the start page asks to sign in first.
    let res = s.client.get(s.at(&format!("/connect/mcp/start?server={server_id}"))).send().await.unwrap();
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/login?next="));
}

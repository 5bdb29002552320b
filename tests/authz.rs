//! The authorization matrix: every REST route and every server function,
//! called anonymously, by another user, with a scoped API key and with a
//! revoked key, each answer asserted; then the victim's account is checked
//! to be exactly as it was. On SQLite and PostgreSQL.

mod common;

use common::TestServer;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
/// Flags for a developer server on a loopback port.
const DEV: &[&str] = &["--outbound-allow-http", "--outbound-allow-loopback"];

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Anonymous,
    /// Another user, with their own unscoped key.
    Other,
    /// The victim's key scoped to one installation.
    Scoped,
    /// The victim's revoked key.
    Revoked,
}

const CALLERS: [Caller; 4] = [Caller::Anonymous, Caller::Other, Caller::Scoped, Caller::Revoked];

/// What every caller's request is checked against.
struct World {
    victim_token: String,
    victim_key_id: String,
    victim_installation: String,
    victim_server: String,
    victim_slug: String,
    eve: String,
    scoped: String,
    revoked: String,
}

impl World {
    fn bearer(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Anonymous => None,
            Caller::Other => Some(&self.eve),
            Caller::Scoped => Some(&self.scoped),
            Caller::Revoked => Some(&self.revoked),
        }
    }

    /// Replaces `{key}`, `{installation}`, `{server}`, `{slug}` in a text.
    fn fill(&self, text: &str) -> String {
        text.replace("{key}", &self.victim_key_id)
            .replace("{installation}", &self.victim_installation)
            .replace("{server}", &self.victim_server)
            .replace("{slug}", &self.victim_slug)
    }
}

async fn world(s: &TestServer) -> World {
    let victim_token = s.register("vic@example.com", PASSWORD).await;
    let (victim_key_id, victim_key) = s.create_key(&victim_token, "laptop").await;
    let eve_token = s.register("eve@example.com", PASSWORD).await;
    let (_, eve) = s.create_key(&eve_token, "eve's").await;
    // The victim's developer-hosted server (its service need not run).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let deploy = json!({"name": "victim-tools", "hostingType": "developer_hosted",
        "callbackUrl": format!("http://127.0.0.1:{port}"), "tools": [{"name": "ping"}],
        "resources": [{"uri": "docs://secret", "name": "secret"}]});
    let res = s.post_json("/api/mcp/deploy", deploy, Some(&victim_key)).await;
    assert_eq!(res.status(), 201);
    let deployed: Value = res.json().await.unwrap();
    let calculator = s.state.db.server_by_slug("calculator").await.unwrap().unwrap();
    let res = s.post_json("/api/installations", json!({"serverId": calculator.id}), Some(&victim_token)).await;
    let installation: Value = res.json().await.unwrap();
    let victim_installation = installation["id"].as_str().unwrap().to_string();
    let scope = json!({"name": "calc only", "scope": {"installations": [victim_installation]}});
    let scoped: Value = s.post_json("/api/keys", scope, Some(&victim_token)).await.json().await.unwrap();
    let (revoked_id, revoked) = s.create_key(&victim_token, "old").await;
    let res =
        s.client.delete(s.at(&format!("/api/keys/{revoked_id}"))).bearer_auth(&victim_token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    World {
        victim_token,
        victim_key_id,
        victim_installation,
        victim_server: deployed["serverId"].as_str().unwrap().to_string(),
        victim_slug: deployed["slug"].as_str().unwrap().to_string(),
        eve,
        scoped: scoped["key"].as_str().unwrap().to_string(),
        revoked,
    }
}

/// The victim's account as the victim sees it, to compare before and after.
async fn snapshot(s: &TestServer, w: &World) -> Value {
    let get =
        |path: &'static str| async move { s.get(path, Some(&w.victim_token)).await.json::<Value>().await.unwrap() };
    let server = s.state.db.server(w.victim_server.parse().unwrap()).await.unwrap().unwrap();
    json!({
        "me": get("/api/me").await,
        "keys": get("/api/keys").await,
        "installations": get("/api/installations").await,
        "secret": server.webhook_secret_enc.map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
    })
}

/// Expected statuses for (anonymous, other user, scoped key, revoked key).
type Row = (&'static str, &'static str, Option<&'static str>, [u16; 4]);

/// Every REST route. Another user reaches only their own things: the
/// victim's ids are "not found", their own lists do not hold the victim's.
const REST: &[Row] = &[
    ("GET", "/api/me", None, [401, 200, 403, 401]),
    (
        "POST",
        "/api/me/password",
        Some(r#"{"currentPassword":"correct horse battery","newPassword":"another long passphrase"}"#),
        [401, 204, 403, 401],
    ),
    ("GET", "/api/keys", None, [401, 200, 403, 401]),
    ("POST", "/api/keys", Some(r#"{"name":"more"}"#), [401, 201, 403, 401]),
    ("DELETE", "/api/keys/{key}", None, [401, 404, 403, 401]),
    (
        "POST",
        "/api/mcp/deploy",
        Some(
            r#"{"name":"victim-tools","hostingType":"developer_hosted","callbackUrl":"http://127.0.0.1:9","tools":[{"name":"ping"}]}"#,
        ),
        [401, 201, 403, 401],
    ),
    ("POST", "/api/servers/{server}/rotate-secret", None, [401, 404, 403, 401]),
    ("GET", "/api/installations", None, [401, 200, 403, 401]),
    ("GET", "/api/installations/{installation}", None, [401, 404, 403, 401]),
    ("PATCH", "/api/installations/{installation}", Some(r#"{"enabled":false}"#), [401, 404, 403, 401]),
    ("DELETE", "/api/installations/{installation}", None, [401, 404, 403, 401]),
    ("POST", "/mcp/call", Some(r#"{"serverId":"{server}","toolName":"ping","arguments":{}}"#), [401, 404, 404, 401]),
    ("POST", "/mcp/resource", Some(r#"{"serverId":"{slug}","uri":"docs://secret"}"#), [401, 404, 404, 401]),
    ("GET", "/api/servers", None, [200, 200, 200, 200]),
    ("GET", "/api/servers/{server}", None, [200, 200, 200, 200]),
    ("POST", "/api/auth/logout", None, [401, 204, 403, 401]),
];

/// Every server function, as a hydrated page calls it (form-encoded, JSON
/// answers). Reading a flash cookie needs no account.
const SERVER_FNS: &[Row] = &[
    ("current_user", "", None, [200, 200, 403, 200]),
    ("list_api_keys", "", None, [401, 200, 403, 401]),
    ("create_api_key", "name=more", None, [401, 200, 403, 401]),
    ("revoke_api_key", "id={key}", None, [401, 404, 403, 401]),
    // Another user changes their own password (the REST row changed it once).
    (
        "change_password",
        "current_password=another+long+passphrase&new_password=yet+another+passphrase",
        None,
        [401, 200, 403, 401],
    ),
    ("rotate_webhook_secret", "server_id={server}", None, [401, 404, 403, 401]),
    ("installed", "", None, [401, 200, 403, 401]),
    ("set_installation_enabled", "id={installation}&enabled=false", None, [401, 404, 403, 401]),
    ("update_installation_config", "id={installation}", None, [401, 404, 403, 401]),
    ("uninstall", "id={installation}", None, [401, 404, 403, 401]),
    ("try_tool", "tool={slug}.ping&arguments=%7B%7D", None, [401, 404, 403, 401]),
    ("dashboard", "", None, [401, 200, 403, 401]),
    ("developer", "", None, [401, 200, 403, 401]),
    ("marketplace", "", None, [200, 200, 200, 200]),
    ("server", "id={server}", None, [200, 200, 200, 200]),
    ("take_new_api_key", "", None, [200, 200, 200, 200]),
    ("take_rotated_secret", "", None, [200, 200, 200, 200]),
    ("take_try_result", "", None, [200, 200, 200, 200]),
    ("install_server", "server_id={server}", None, [401, 200, 403, 401]),
    ("logout", "", None, [200, 200, 403, 200]),
    ("connected_apps", "", None, [401, 200, 403, 401]),
    ("revoke_connected_app", "id=0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5b", None, [401, 404, 403, 401]),
    // No session: nothing to show (the page sends the visitor to log in);
    // another user's session: the sealed request is not valid.
    ("oauth_consent", "request=forged", None, [200, 400, 403, 200]),
];

async fn every_route_and_server_function(s: TestServer) {
    let w = world(&s).await;
    // The scoped key still does what it is for: calls inside its scope.
    let call = json!({"serverId": "calculator", "toolName": "evaluate", "arguments": {"expression": "6*7"}});
    let res = s.post_json("/mcp/call", call, Some(&w.scoped)).await;
    assert_eq!(res.status(), 200, "the scoped key calls inside its scope");
    let before = snapshot(&s, &w).await;

    for (method, path, body, expected) in REST {
        for (caller, want) in CALLERS.iter().zip(expected) {
            let url = s.at(&w.fill(path));
            let mut req = s.client.request(method.parse().unwrap(), url);
            if let Some(body) = body {
                req = req.header("content-type", "application/json").body(w.fill(body));
            }
            if let Some(bearer) = w.bearer(*caller) {
                req = req.bearer_auth(bearer);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            assert_eq!(status, *want, "{caller:?} {method} {path}: {text}");
            check_answer(&w, *caller, status, &text, &format!("{method} {path}"));
        }
    }
    for (name, form, _, expected) in SERVER_FNS {
        for (caller, want) in CALLERS.iter().zip(expected) {
            let mut req = s
                .client
                .post(s.at(&format!("/_fn/{name}")))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .body(w.fill(form));
            if let Some(bearer) = w.bearer(*caller) {
                req = req.bearer_auth(bearer);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            assert_eq!(status, *want, "{caller:?} server function {name}: {text}");
            check_answer(&w, *caller, status, &text, name);
        }
    }
    // Nothing of the victim's changed, and the victim still works.
    assert_eq!(snapshot(&s, &w).await, before, "the victim's account is as it was");
    let call = json!({"serverId": "calculator", "toolName": "evaluate", "arguments": {"expression": "1+1"}});
    assert_eq!(s.post_json("/mcp/call", call, Some(&w.victim_token)).await.status(), 200);
    s.stop().await;
}

/// What each refusal says, and that no answer to another user carries the
/// victim's things.
fn check_answer(w: &World, caller: Caller, status: u16, text: &str, what: &str) {
    if status == 403 && caller == Caller::Scoped {
        let body: Value = serde_json::from_str(text).unwrap_or_default();
        let message = body["error"]["message"].as_str().or(body["message"].as_str()).unwrap_or_default();
        assert!(message.contains("scoped"), "{what}: a scoped key is told why: {text}");
    }
    if status == 401 {
        let body: Value = serde_json::from_str(text).unwrap_or_default();
        let code = body["error"]["code"].as_str().or(body["code"].as_str());
        assert_eq!(code, Some("unauthorized"), "{what}: {text}");
    }
    if caller == Caller::Other
        && (200..300).contains(&status)
        && !what.contains("servers")
        && !what.contains("marketplace")
        && what != "server"
    {
        for secret in [w.victim_key_id.as_str(), w.victim_installation.as_str(), "vic@example.com"] {
            assert!(!text.contains(secret), "{what}: another user's answer shows {secret}: {text}");
        }
    }
}

on_both_databases!(flags: super::DEV; every_route_and_server_function);

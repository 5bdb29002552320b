//! "Connect with GitHub/Slack/Notion": OmniMCP as an OAuth client of the
//! providers, against loopback fakes shaped like their real OAuth
//! endpoints (GitHub's `login/oauth/authorize` and `access_token` with
//! PKCE and expiring user tokens, Slack's `oauth.v2.access` with its
//! `ok`/`error` answers, Notion's Basic-authenticated JSON token endpoint)
//! and APIs. The browser's part (following redirects with the session
//! cookie) is done over HTTP. Also: a call that needs a connection the
//! user has not made is answered with a URL elicitation (-32042) and
//! succeeds after connecting; refresh before expiry; a failed refresh asks
//! to connect again; uninstalling revokes at the provider; a callback
//! started in another session is refused.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{delete, get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{Backend, TestServer, rpc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "correct horse battery";

/// What the fakes saw.
#[derive(Default)]
struct Seen {
    /// code -> (redirect_uri, PKCE challenge)
    codes: HashMap<String, (String, Option<String>)>,
    /// Tokens each provider accepts now.
    live: Vec<String>,
    revoked: Vec<String>,
    refreshes: usize,
    /// Make the next GitHub refresh fail.
    refuse_refresh: bool,
}

type Shared = Arc<Mutex<Seen>>;

fn bearer(h: &HeaderMap) -> String {
    h.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// The providers' authorization pages, answered at once as if the user
/// had clicked "Authorize": a code back to the redirect URI with `state`.
async fn authorize(State(seen): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let known = ["gh-client", "sl-client", "no-client"];
    if !known.contains(&q.get("client_id").map(String::as_str).unwrap_or_default()) {
        return (StatusCode::NOT_FOUND, "unknown client").into_response();
    }
    let code = format!("code-{}", rand::random::<u32>());
    let redirect = q["redirect_uri"].clone();
    seen.lock().unwrap().codes.insert(code.clone(), (redirect.clone(), q.get("code_challenge").cloned()));
    Redirect::to(&format!("{redirect}?code={code}&state={}", q["state"])).into_response()
}

/// GitHub's token endpoint: form in, JSON out (with `Accept: application/json`);
/// errors are 200 with `error`.
async fn github_token(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    assert_eq!(headers["accept"], "application/json");
    let bad = |e: &str, d: &str| {
        Json(json!({"error": e, "error_description": d, "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"})).into_response()
    };
    if f.get("client_id").map(String::as_str) != Some("gh-client")
        || f.get("client_secret").map(String::as_str) != Some("gh-secret")
    {
        return bad("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.");
    }
    let mut seen = seen.lock().unwrap();
    let (access, refresh) = if f.get("grant_type").map(String::as_str) == Some("refresh_token") {
        if seen.refuse_refresh || f.get("refresh_token").map(String::as_str) != Some("ghr_first") {
            return bad("bad_refresh_token", "The refresh token passed is incorrect or expired.");
        }
        seen.refreshes += 1;
        ("ghu_refreshed", "ghr_second")
    } else {
        let Some((redirect, challenge)) = f.get("code").and_then(|c| seen.codes.remove(c)) else {
            return bad("bad_verification_code", "The code passed is incorrect or expired.");
        };
        if f.get("redirect_uri") != Some(&redirect) {
            return bad(
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            );
        }
        let verifier = f.get("code_verifier").cloned().unwrap_or_default();
        if challenge != Some(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))) {
            return bad("bad_verification_code", "The code_verifier does not match the code_challenge.");
        }
        ("ghu_first", "ghr_first")
    };
    seen.live.push(access.into());
    // A GitHub App's user token expires in 8 hours; the first one here
    // within the refresh margin, so the next refresh pass renews it.
    let expires_in = if access == "ghu_first" { 120 } else { 28800 };
    Json(json!({"access_token": access, "expires_in": expires_in, "refresh_token": refresh, "refresh_token_expires_in": 15811200,
        "token_type": "bearer", "scope": ""}))
    .into_response()
}

async fn github_revoke(State(seen): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> StatusCode {
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("gh-client:gh-secret"));
    if bearer(&headers) != basic {
        return StatusCode::UNAUTHORIZED;
    }
    seen.lock().unwrap().revoked.push(body["access_token"].as_str().unwrap_or_default().into());
    StatusCode::NO_CONTENT
}

async fn github_repos(State(seen): State<Shared>, headers: HeaderMap) -> Response {
    let token = bearer(&headers).trim_start_matches("Bearer ").to_string();
    if !seen.lock().unwrap().live.contains(&token) || seen.lock().unwrap().revoked.contains(&token) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials", "status": "401"})))
            .into_response();
    }
    Json(json!([{"full_name": format!("octo/{token}"), "stargazers_count": 7, "private": false}])).into_response()
}

/// Slack's `oauth.v2.access`: form in, `{ok: true, ...}` or `{ok: false, error}`.
async fn slack_token(State(seen): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    if f.get("client_id").map(String::as_str) != Some("sl-client")
        || f.get("client_secret").map(String::as_str) != Some("sl-secret")
    {
        return Json(json!({"ok": false, "error": "invalid_client_id"})).into_response();
    }
    let mut seen = seen.lock().unwrap();
    match f.get("code").and_then(|c| seen.codes.remove(c)) {
        Some((redirect, _)) if f.get("redirect_uri") == Some(&redirect) => {}
        _ => return Json(json!({"ok": false, "error": "invalid_code"})).into_response(),
    }
    seen.live.push("xoxb-connected".into());
    Json(json!({"ok": true, "access_token": "xoxb-connected", "token_type": "bot", "scope": "channels:read,chat:write",
        "bot_user_id": "U0KRQLJ9H", "app_id": "A0KRD7HC3", "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"},
        "enterprise": null, "authed_user": {"id": "U1234", "scope": "chat:write", "access_token": "xoxp-1234", "token_type": "user"}}))
    .into_response()
}

async fn slack_revoke(State(seen): State<Shared>, headers: HeaderMap) -> Json<Value> {
    seen.lock().unwrap().revoked.push(bearer(&headers).trim_start_matches("Bearer ").to_string());
    Json(json!({"ok": true, "revoked": true}))
}

async fn slack_channels(State(seen): State<Shared>, headers: HeaderMap) -> Json<Value> {
    if !seen.lock().unwrap().live.contains(&bearer(&headers).trim_start_matches("Bearer ").to_string()) {
        return Json(json!({"ok": false, "error": "invalid_auth"}));
    }
    Json(
        json!({"ok": true, "channels": [{"id": "C1", "name": "connected-general", "is_channel": true, "is_private": false,
        "is_archived": false, "num_members": 3, "topic": {"value": ""}}], "response_metadata": {"next_cursor": ""}}),
    )
}

/// Notion's token endpoint: HTTP Basic client credentials, a JSON body.
async fn notion_token(State(seen): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("no-client:no-secret"));
    if bearer(&headers) != basic {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "Invalid client credentials."})),
        )
            .into_response();
    }
    let mut seen = seen.lock().unwrap();
    match body["code"].as_str().and_then(|c| seen.codes.remove(c)) {
        Some((redirect, _))
            if body["redirect_uri"] == json!(redirect) && body["grant_type"] == "authorization_code" => {}
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_grant", "error_description": "Invalid code."})),
            )
                .into_response();
        }
    }
    seen.live.push("ntn_connected".into());
    Json(json!({"access_token": "ntn_connected", "token_type": "bearer", "bot_id": "b1", "workspace_name": "Acme",
        "workspace_icon": null, "workspace_id": "w1", "owner": {"type": "user", "user": {"object": "user", "id": "u1"}},
        "duplicated_template_id": null, "request_id": "r1"}))
    .into_response()
}

async fn notion_search(State(seen): State<Shared>, headers: HeaderMap) -> Response {
    if !seen.lock().unwrap().live.contains(&bearer(&headers).trim_start_matches("Bearer ").to_string()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"object": "error", "status": 401, "code": "unauthorized", "message": "API token is invalid."})),
        )
            .into_response();
    }
    Json(json!({"object": "list", "results": [], "next_cursor": null, "has_more": false})).into_response()
}

async fn start() -> (TestServer, Shared, String) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/gh/login/oauth/authorize", get(authorize))
        .route("/gh/login/oauth/access_token", post(github_token))
        .route("/gh/api/applications/gh-client/grant", delete(github_revoke))
        .route("/gh/api/user/repos", get(github_repos))
        .route("/slack/oauth/v2/authorize", get(authorize))
        .route("/slack/api/oauth.v2.access", post(slack_token))
        .route("/slack/api/auth.revoke", post(slack_revoke))
        .route("/slack/api/conversations.list", get(slack_channels))
        .route("/notion/v1/oauth/authorize", get(authorize))
        .route("/notion/v1/oauth/token", post(notion_token))
        .route("/notion/v1/search", post(notion_search))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let urls = [
        format!("github.authorize={b}/gh/login/oauth/authorize"),
        format!("github.token={b}/gh/login/oauth/access_token"),
        format!("github.revoke={b}/gh/api/applications/gh-client/grant"),
        format!("slack.authorize={b}/slack/oauth/v2/authorize"),
        format!("slack.token={b}/slack/api/oauth.v2.access"),
        format!("slack.revoke={b}/slack/api/auth.revoke"),
        format!("notion.authorize={b}/notion/v1/oauth/authorize"),
        format!("notion.token={b}/notion/v1/oauth/token"),
        format!("notion.revoke={b}/notion/v1/oauth/revoke"),
    ]
    .join(",");
    let apis = format!("github.api={b}/gh/api,slack.api={b}/slack/api,notion.api={b}/notion/v1");
    let s = TestServer::start_on_with(
        Backend::Sqlite,
        &[
            "--connect",
            "github=gh-client:gh-secret,slack=sl-client:sl-secret,notion=no-client:no-secret",
            "--connect-url",
            &urls,
            "--official-api",
            &apis,
            "--outbound-allow-loopback",
            "--outbound-allow-http",
            // The tests run refresh passes themselves (`refresh_due`).
            "--connect-refresh-secs",
            "3600",
        ],
    )
    .await
    .unwrap();
    let user = s.register("dev@example.com", PASSWORD).await;
    (s, seen, user)
}

/// Follows the connect flow as the signed-in browser: start, the
/// provider's redirect back, the callback. The final location.
async fn connect(s: &TestServer, session: &str, start: &str) -> String {
    let cookie = format!("omni_session={session}");
    let res = s.client.get(s.at(start)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 303, "start");
    let provider = res.headers()["location"].to_str().unwrap().to_string();
    let res = s.client.get(&provider).send().await.unwrap();
    assert!(res.status().is_redirection(), "the provider's authorize page");
    let callback = res.headers()["location"].to_str().unwrap().to_string();
    assert!(callback.starts_with(&s.at("/connect/")), "{callback}");
    let res = s.client.get(&callback).header("cookie", &cookie).send().await.unwrap();
    let status = res.status();
    match res.headers().get("location") {
        Some(location) => location.to_str().unwrap().to_string(),
        None => panic!("callback answered {status}: {}", res.text().await.unwrap()),
    }
}

async fn call(s: &TestServer, key: &str, tool: &str) -> Value {
    let arguments = if tool == "notion.search" { json!({"query": "plans"}) } else { json!({}) };
    rpc::stateless(s, key, "tools/call", json!({"name": tool, "arguments": arguments})).await
}

#[tokio::test]
async fn connect_github_slack_and_notion_then_call() {
    let (s, seen, user) = start().await;
    let (_, key) = s.create_key(&user, "client").await;
    for (slug, tool, expect) in [
        ("github", "github.list_repos", "octo/ghu_first"),
        ("slack", "slack.list_channels", "connected-general"),
        ("notion", "notion.search", ""),
    ] {
        let server = s.state.db.server_by_slug(slug).await.unwrap().unwrap();
        let landed = connect(&s, &user, &format!("/connect/{slug}/start?server={}", server.id)).await;
        assert_eq!(landed, format!("/installed?connected={slug}"));
        let result = call(&s, &key, tool).await;
        assert_ne!(result["isError"], true, "{slug}: {result}");
        assert!(result.to_string().contains(expect), "{slug}: {result}");
    }
    // The token is a secret of the installation, never shown.
    let list: Value = s.get("/api/installations", Some(&user)).await.json().await.unwrap();
    assert!(!list.to_string().contains("ghu_first") && list.to_string().contains("\"token\""), "{list}");

    // GitHub's token expires within the refresh margin: a refresh pass
    // renews it (Slack's and Notion's do not expire).
    omnimcp::oauth::providers::refresh_due(&s.state).await.unwrap();
    assert_eq!(seen.lock().unwrap().refreshes, 1, "refreshed before expiry");
    omnimcp::oauth::providers::refresh_due(&s.state).await.unwrap();
    assert_eq!(seen.lock().unwrap().refreshes, 1, "the new token is not due");
    let result = call(&s, &key, "github.list_repos").await;
    assert!(result.to_string().contains("octo/ghu_refreshed"), "{result}");

    // Uninstalling revokes the grant at GitHub and at Slack.
    for slug in ["github", "slack"] {
        let inst = list["installations"].as_array().unwrap().iter().find(|i| i["serverSlug"] == slug).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let res = s.client.delete(s.at(&format!("/api/installations/{inst}"))).bearer_auth(&user).send().await.unwrap();
        assert_eq!(res.status(), 204);
    }
    for _ in 0..50 {
        if seen.lock().unwrap().revoked.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let revoked = seen.lock().unwrap().revoked.clone();
    assert!(
        revoked.contains(&"ghu_refreshed".to_string()) && revoked.contains(&"xoxb-connected".to_string()),
        "{revoked:?}"
    );
}

/// Installed without a token, the first call is a URL elicitation naming
/// the connect page; after connecting there, the same call succeeds. A
/// refresh that fails removes the token, and the next call asks again.
#[tokio::test]
async fn a_missing_connection_is_a_url_elicitation() {
    let (s, seen, user) = start().await;
    let (_, key) = s.create_key(&user, "client").await;
    let github = s.state.db.server_by_slug("github").await.unwrap().unwrap();
    // With Connect configured, the token field is optional.
    let res = s.post_json("/api/installations", json!({"serverId": github.id}), Some(&user)).await;
    assert_eq!(res.status(), 201);
    let inst = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();

    let error = call(&s, &key, "github.list_repos").await;
    assert_eq!(error["code"], -32042, "{error}");
    let elicitation = &error["data"]["elicitations"][0];
    assert_eq!(elicitation["mode"], "url");
    let url = elicitation["url"].as_str().unwrap();
    assert_eq!(url, s.at(&format!("/connect/github/start?installation={inst}")));
    assert!(error["message"].as_str().unwrap().contains(url), "the message names the URL too: {error}");
    // The REST door says the same, as a 409.
    let rest = s
        .post_json("/mcp/call", json!({"serverId": "github", "toolName": "list_repos", "arguments": {}}), Some(&key))
        .await;
    assert_eq!(rest.status(), 409);

    // Another user cannot start a connection for this installation.
    let eve = s.register("eve@example.com", PASSWORD).await;
    let res = s.client.get(url).header("cookie", format!("omni_session={eve}")).send().await.unwrap();
    assert_eq!(res.status(), 400);

    let landed = connect(&s, &user, url.trim_start_matches(&s.url)).await;
    assert_eq!(landed, "/installed?connected=github");
    let result = call(&s, &key, "github.list_repos").await;
    assert!(result.to_string().contains("octo/ghu_first"), "{result}");

    // The refresh fails: the token is removed and the call asks again.
    seen.lock().unwrap().refuse_refresh = true;
    omnimcp::oauth::providers::refresh_due(&s.state).await.unwrap();
    let asked = call(&s, &key, "github.list_repos").await;
    assert_eq!(asked["code"], -32042, "{asked}");
}

/// A callback carrying a code, replayed in another session (someone
/// trying to plant their account in yours), is refused; so is a forged
/// state.
#[tokio::test]
async fn a_callback_from_another_session_is_refused() {
    let (s, _seen, user) = start().await;
    let github = s.state.db.server_by_slug("github").await.unwrap().unwrap();
    let res = s
        .client
        .get(s.at(&format!("/connect/github/start?server={}", github.id)))
        .header("cookie", format!("omni_session={user}"))
        .send()
        .await
        .unwrap();
    let provider = res.headers()["location"].to_str().unwrap().to_string();
    assert!(provider.contains("code_challenge=") && provider.contains("code_challenge_method=S256"), "{provider}");
    let callback = s.client.get(&provider).send().await.unwrap().headers()["location"].to_str().unwrap().to_string();
    let victim = s.register("victim@example.com", PASSWORD).await;
    let res = s.client.get(&callback).header("cookie", format!("omni_session={victim}")).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let list: Value = s.get("/api/installations", Some(&victim)).await.json().await.unwrap();
    assert_eq!(list["installations"], json!([]), "nothing was installed for the victim");
    let res = s
        .client
        .get(s.at("/connect/github/callback?code=x&state=forged"))
        .header("cookie", format!("omni_session={user}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Signed out, starting goes through the login page.
    let res = s.client.get(s.at(&format!("/connect/github/start?server={}", github.id))).send().await.unwrap();
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/login?next=%2Fconnect%2Fgithub%2Fstart"));
}

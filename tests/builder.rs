//! Builder servers end to end: a publisher builds tools from an HTTP API
//! shaped like Open-Meteo (the design document's weather example, served
//! on loopback), with a secret of theirs and a setting of each user's;
//! tests, publishes, and another user's client calls the tools through
//! `/mcp` in both protocol eras. The fake API records exactly what it
//! received, which is what the assertions read.

mod common;

use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, Uri},
    response::IntoResponse,
    routing::get,
};
use common::{TestServer, rpc};
use serde_json::{Value, json};

const FLAGS: &[&str] = &["--outbound-allow-http", "--outbound-allow-loopback", "--outbound-timeout-secs", "2"];
const PASSWORD: &str = "correct horse battery";
const API_KEY: &str = "om-secret-7f3a9c";

/// What the fake API received: path, raw query and the `x-api-key` header.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    query: String,
    params: Vec<(String, String)>,
    api_key: Option<String>,
}

type Log = Arc<Mutex<Vec<Received>>>;

fn record(log: &Log, uri: &Uri, headers: &HeaderMap) -> Vec<(String, String)> {
    let query = uri.query().unwrap_or("").to_string();
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    log.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        query,
        params: params.clone(),
        api_key: headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_string),
    });
    params
}

/// Open-Meteo's geocoding and forecast endpoints, in their shape, with an
/// API key required (as the commercial endpoints do).
async fn start_api() -> (String, Log) {
    let log: Log = Arc::default();
    async fn search(State(log): State<Log>, uri: Uri, headers: HeaderMap) -> impl IntoResponse {
        let params = record(&log, &uri, &headers);
        let name = params.iter().find(|(k, _)| k == "name").map(|(_, v)| v.clone()).unwrap_or_default();
        if name == "Nowhere" {
            return Json(json!({"generationtime_ms": 0.1}));
        }
        Json(json!({"results": [{"id": 3143244, "name": name, "latitude": 59.91273, "longitude": 10.74609,
            "country": "Norway", "timezone": "Europe/Oslo"}], "generationtime_ms": 0.4}))
    }
    async fn forecast(State(log): State<Log>, uri: Uri, headers: HeaderMap) -> impl IntoResponse {
        let params = record(&log, &uri, &headers);
        if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(API_KEY) {
            return (StatusCode::UNAUTHORIZED, Json(json!({"error": true, "reason": "invalid apikey"})));
        }
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let fahrenheit = get("temperature_unit").as_deref() == Some("fahrenheit");
        (
            StatusCode::OK,
            Json(json!({
                "latitude": get("latitude").and_then(|v| v.parse::<f64>().ok()),
                "longitude": get("longitude").and_then(|v| v.parse::<f64>().ok()),
                "current_units": {"temperature_2m": if fahrenheit { "°F" } else { "°C" }},
                "current": {"time": "2026-12-08T12:00", "temperature_2m": if fahrenheit { 38.1 } else { 3.4 },
                            "weather_code": 3}
            })),
        )
    }
    async fn echo(
        State(log): State<Log>,
        uri: Uri,
        headers: HeaderMap,
        Query(_q): Query<Vec<(String, String)>>,
    ) -> impl IntoResponse {
        record(&log, &uri, &headers);
        // An API that quotes the request back, key included.
        (StatusCode::BAD_REQUEST, format!("bad request for {}", uri))
    }
    let app = Router::new()
        .route("/v1/search", get(search))
        .route("/v1/forecast", get(forecast))
        .route("/v1/echo/{*rest}", get(echo))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

/// Two steps (geocode, then forecast with the first step's coordinates),
/// the publisher's key in a header, the user's unit in the query.
fn definition(api: &str) -> Value {
    json!({
        "settings": [{"name": "UNITS", "description": "celsius or fahrenheit"}],
        "secrets": ["API_KEY"],
        "tools": [{
            "name": "current_weather",
            "description": "The weather now in a city",
            "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            "annotations": {"readOnlyHint": true, "openWorldHint": true},
            "steps": [
                {"type": "http_request", "id": "geo",
                 "config": {"method": "GET", "url": format!("{api}/v1/search"), "params": {"name": "{{city}}", "count": 1}}},
                {"type": "http_request", "id": "wx",
                 "config": {"method": "GET", "url": format!("{api}/v1/forecast"),
                            "params": {"latitude": "{{steps.geo.results[0].latitude}}",
                                       "longitude": "{{steps.geo.results[0].longitude}}",
                                       "current": "temperature_2m,weather_code",
                                       "temperature_unit": "{{config.UNITS}}"},
                            "headers": {"X-Api-Key": "{{secrets.API_KEY}}"}}}
            ],
            "responseMapping": {
                "city": "{{steps.geo.results[0].name}}",
                "temperature": "{{data.current.temperature_2m}}",
                "unit": "$.current_units.temperature_2m",
                "summary": "{{steps.geo.results[0].name}}: {{data.current.temperature_2m}}{{data.current_units.temperature_2m}}"
            }
        }, {
            "name": "echo",
            "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
            "action": {"type": "http_request",
                       "config": {"url": format!("{api}/v1/echo/{{{{path}}}}?key={{{{secrets.API_KEY}}}}")}}
        }]
    })
}

async fn api(s: &TestServer, method: reqwest::Method, path: &str, body: Option<Value>, token: &str) -> (u16, Value) {
    let mut req = s.client.request(method, s.at(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

on_both_databases!(flags: super::FLAGS;
    a_builder_tool_is_built_tested_published_and_called_in_both_eras,
    hostile_definitions_are_refused_with_the_field_named,
    openapi_documents_become_tools_that_users_call);

async fn a_builder_tool_is_built_tested_published_and_called_in_both_eras(s: TestServer) {
    use reqwest::Method;
    let (api_url, log) = start_api().await;
    let alice = s.register("alice@example.com", PASSWORD).await;

    // A draft from the definition, then the publisher's secret.
    let (status, draft) = api(
        &s,
        Method::POST,
        "/api/builder/servers",
        Some(json!({"name": "open-weather", "description": "Weather by city", "category": "data",
                    "definition": definition(&api_url)})),
        &alice,
    )
    .await;
    assert_eq!(status, 201, "{draft}");
    assert_eq!(draft["state"], "draft");
    assert_eq!(draft["problems"], json!([]), "{draft}");
    assert_eq!(draft["secrets"], json!([{"name": "API_KEY", "set": false}]));
    let id = draft["id"].as_str().unwrap().to_string();
    let base = format!("/api/builder/servers/{id}");
    let (status, set) =
        api(&s, Method::PUT, &format!("{base}/secrets"), Some(json!({"secrets": {"API_KEY": API_KEY}})), &alice).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["secrets"], json!([{"name": "API_KEY", "set": true}]));
    let (_, again) = api(&s, Method::GET, &base, None, &alice).await;
    assert!(!again.to_string().contains(API_KEY), "a secret is never shown again");

    // Another user cannot see, edit, test, or publish it.
    let mallory = s.register("mallory@example.com", PASSWORD).await;
    for (method, path, body) in [
        (Method::GET, base.clone(), None),
        (Method::PUT, base.clone(), Some(json!({"description": "mine now"}))),
        (Method::PUT, format!("{base}/secrets"), Some(json!({"secrets": {"API_KEY": "x"}}))),
        (Method::POST, format!("{base}/test"), Some(json!({"tool": "current_weather", "arguments": {"city": "Oslo"}}))),
        (Method::POST, format!("{base}/publish"), Some(json!({}))),
    ] {
        let (status, body) = api(&s, method.clone(), &path, body, &mallory).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    let (_, list) = api(&s, Method::GET, "/api/builder/servers", None, &mallory).await;
    assert_eq!(list["servers"], json!([]));

    // Test: the result as a client gets it, and each request as sent with
    // the secret masked.
    let (status, tested) = api(
        &s,
        Method::POST,
        &format!("{base}/test"),
        Some(json!({"tool": "current_weather", "arguments": {"city": "Oslo"}, "config": {"UNITS": "celsius"}})),
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{tested}");
    assert_eq!(
        tested["result"]["structuredContent"],
        json!({"city": "Oslo", "temperature": 3.4, "unit": "°C", "summary": "Oslo: 3.4°C"})
    );
    let exchanges = tested["exchanges"].as_array().unwrap();
    assert_eq!(exchanges.len(), 2);
    assert_eq!(exchanges[1]["status"], 200);
    let sent_key = exchanges[1]["headers"].as_array().unwrap().iter().find(|h| h[0] == "x-api-key").unwrap();
    assert_eq!(sent_key[1], "••••••");
    assert!(!tested.to_string().contains(API_KEY), "{tested}");
    assert_eq!(log.lock().unwrap().last().unwrap().api_key.as_deref(), Some(API_KEY), "the API got the real key");

    // Publish; bob installs it with his own setting.
    let (status, published) = api(&s, Method::POST, &format!("{base}/publish"), Some(json!({})), &alice).await;
    assert_eq!(status, 200, "{published}");
    assert_eq!(published["version"], "1.0.0");
    let slug = published["slug"].as_str().unwrap().to_string();
    let bob = s.register("bob@example.com", PASSWORD).await;
    let (_, bob_key) = s.create_key(&bob, "client").await;
    let res =
        s.post_json("/api/installations", json!({"serverId": id, "config": {"UNITS": "fahrenheit"}}), Some(&bob)).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    // The tools as listed: the annotations, and an output schema from the
    // mapping.
    let listed = rpc::stateless(&s, &bob_key, "tools/list", json!({})).await;
    let tool = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == format!("{slug}.current_weather"))
        .unwrap_or_else(|| panic!("{listed}"))
        .clone();
    assert_eq!(tool["annotations"]["readOnlyHint"], true);
    assert_eq!(tool["outputSchema"]["required"], json!(["city", "summary", "temperature", "unit"]));

    // Called through /mcp, 2026-07-28 (stateless) and 2025-11-25 (session).
    log.lock().unwrap().clear();
    let name = format!("{slug}.current_weather");
    let hostile_city = "Oslo&latitude=0#x\r\nX-Evil: 1";
    let result =
        rpc::stateless(&s, &bob_key, "tools/call", json!({"name": name, "arguments": {"city": hostile_city}})).await;
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["structuredContent"]["temperature"], 38.1);
    assert_eq!(result["structuredContent"]["unit"], "°F");
    let session = rpc::Session::open(&s, &bob_key).await;
    let (status, answer) =
        session.request(&bob_key, "tools/call", json!({"name": name, "arguments": {"city": "Bergen"}})).await;
    assert_eq!(status, 200);
    assert_eq!(answer["structuredContent"]["city"], "Bergen", "{answer}");
    assert!(!answer.to_string().contains(API_KEY) && !result.to_string().contains(API_KEY));

    // Exactly what the API received: the hostile city as one query value,
    // the second step's coordinates typed from the first, bob's unit, and
    // the publisher's key only where the definition puts it.
    let received = log.lock().unwrap().clone();
    assert_eq!(received.len(), 4, "{received:?}");
    assert_eq!(received[0].path, "/v1/search");
    // (`params` are sent in name order.)
    assert_eq!(received[0].params, vec![("count".into(), "1".into()), ("name".to_string(), hostile_city.to_string())]);
    assert_eq!(received[0].api_key, None, "the key goes only where the definition puts it");
    assert_eq!(received[1].path, "/v1/forecast");
    let get = |r: &Received, k: &str| r.params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get(&received[1], "latitude").as_deref(), Some("59.91273"));
    assert_eq!(get(&received[1], "temperature_unit").as_deref(), Some("fahrenheit"));
    assert_eq!(get(&received[1], "current").as_deref(), Some("temperature_2m,weather_code"));
    assert_eq!(received[1].api_key.as_deref(), Some(API_KEY));
    assert_eq!(get(&received[2], "name").as_deref(), Some("Bergen"));

    // A path argument stays one segment, and an API that quotes the
    // request back (the key included) has the key masked in the tool error.
    let echoed = rpc::stateless(
        &s,
        &bob_key,
        "tools/call",
        json!({"name": format!("{slug}.echo"), "arguments": {"path": "../../v1/forecast?x=1"}}),
    )
    .await;
    assert_eq!(echoed["isError"], true, "{echoed}");
    let text = echoed["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("HTTP 400 Bad Request from 127.0.0.1"), "{text}");
    assert!(!text.contains(API_KEY) && text.contains("••••••"), "{text}");
    let last = log.lock().unwrap().last().unwrap().clone();
    assert_eq!(last.path, "/v1/echo/..%2F..%2Fv1%2Fforecast%3Fx%3D1");
    assert!(last.query.starts_with("key="), "{}", last.query);

    // A step that finds nothing: the mapping gives nulls, the next request
    // is refused before it is sent, naming what is missing.
    let nowhere =
        rpc::stateless(&s, &bob_key, "tools/call", json!({"name": name, "arguments": {"city": "Nowhere"}})).await;
    assert_eq!(nowhere["isError"], true, "{nowhere}");
    assert!(nowhere["content"][0]["text"].as_str().unwrap().contains("steps.geo.results[0].latitude"), "{nowhere}");

    // A new version with one more tool: bob's list has it.
    let mut v2 = definition(&api_url);
    v2["tools"].as_array_mut().unwrap().push(json!({
        "name": "raw_forecast",
        "inputSchema": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
        "action": {"type": "http_request", "config": {"url": format!("{api_url}/v1/forecast"),
            "params": {"latitude": "{{lat}}", "longitude": "{{lon}}"}, "headers": {"X-Api-Key": "{{secrets.API_KEY}}"}}}
    }));
    let (status, saved) = api(&s, Method::PUT, &base, Some(json!({"definition": v2})), &alice).await;
    assert_eq!(status, 200, "{saved}");
    let before = rpc::stateless(&s, &bob_key, "tools/list", json!({})).await;
    assert!(!before.to_string().contains("raw_forecast"), "a draft reaches nobody");
    let (status, published) = api(&s, Method::POST, &format!("{base}/publish"), Some(json!({})), &alice).await;
    assert_eq!(status, 200, "{published}");
    assert_eq!(published["version"], "1.0.1");
    let after = rpc::stateless(&s, &bob_key, "tools/list", json!({})).await;
    assert!(after.to_string().contains(&format!("{slug}.raw_forecast")), "{after}");
    // The whole response when there is no mapping; typed numbers in the query.
    let raw = rpc::stateless(
        &s,
        &bob_key,
        "tools/call",
        json!({"name": format!("{slug}.raw_forecast"), "arguments": {"lat": 1.5, "lon": -2}}),
    )
    .await;
    assert_eq!(raw["structuredContent"]["latitude"], 1.5, "{raw}");
    assert_eq!(raw["structuredContent"]["longitude"], -2.0, "{raw}");
    let (status, republish) =
        api(&s, Method::POST, &format!("{base}/publish"), Some(json!({"version": "1.0.1"})), &alice).await;
    assert_eq!((status, republish["error"]["code"].as_str()), (409, Some("version_exists")));

    // Unpublished: bob's calls stop.
    let (status, _) = api(&s, Method::POST, &format!("{base}/unpublish"), None, &alice).await;
    assert_eq!(status, 204);
    let gone = rpc::stateless(&s, &bob_key, "tools/call", json!({"name": name, "arguments": {"city": "Oslo"}})).await;
    assert!(gone.get("code").is_some() || gone["isError"] == true, "{gone}");
    let (_, listed) = api(&s, Method::GET, "/api/builder/servers", None, &alice).await;
    assert_eq!(listed["servers"][0]["state"], "unpublished");
    assert_eq!(listed["servers"][0]["installCount"], 1);
    // Only its owner deletes it; then it and bob's installation are gone.
    let (status, _) = api(&s, Method::DELETE, &base, None, &mallory).await;
    assert_eq!(status, 404);
    let (status, _) = api(&s, Method::DELETE, &base, None, &alice).await;
    assert_eq!(status, 204);
    let (status, _) = api(&s, Method::GET, &base, None, &alice).await;
    assert_eq!(status, 404);
    let installs: Value = s.get("/api/installations", Some(&bob)).await.json().await.unwrap();
    assert_eq!(installs["installations"], json!([]), "{installs}");

    // Every call was logged like any other, with its latency.
    let db_url = s.database_url.clone();
    let _dir = s.stop().await;
    let db = omnimcp::db::Db::connect(&db_url).await.unwrap();
    let bob = db.user_by_email("bob@example.com").await.unwrap().unwrap();
    let logs = db.recent_request_logs(bob.id, 100).await.unwrap();
    // The server is deleted: its calls stay logged, no longer tied to it.
    let ours: Vec<_> = logs
        .iter()
        .filter(|l| l.request_type == "tools/call")
        .filter(|l| {
            l.tool_name
                .as_deref()
                .is_some_and(|t| ["current_weather", "echo", "raw_forecast"].iter().any(|n| t.ends_with(n)))
        })
        .collect();
    assert!(ours.len() >= 5, "{logs:?}");
    assert!(ours.iter().all(|l| l.server_id.is_none()), "{ours:?}");
    assert_eq!(ours.iter().filter(|l| l.error_class.as_deref() == Some("tool_error")).count(), 2, "{ours:?}");
}

/// What a definition cannot do, through the API: move the host, read
/// undeclared secrets, put secrets in a mapping, use an address the SSRF
/// guard refuses (at publish, before anything is written).
async fn hostile_definitions_are_refused_with_the_field_named(s: TestServer) {
    use reqwest::Method;
    let alice = s.register("alice@example.com", PASSWORD).await;
    let tool =
        |url: &str| json!({"tools": [{"name": "t", "action": {"type": "http_request", "config": {"url": url}}}]});
    let (status, body) = api(
        &s,
        Method::POST,
        "/api/builder/servers",
        Some(json!({"name": "evil", "definition": {"tools": [{"name": "t", "action": {"type": "http_request", "config": {"url": "https://api.example.com/", "surprise": 1}}}]}})),
        &alice,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "definition.tools[0].action", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("surprise"), "{body}");
    let (status, draft) = api(
        &s,
        Method::POST,
        "/api/builder/servers",
        Some(json!({"name": "evil", "definition": tool("https://{{host}}/x")})),
        &alice,
    )
    .await;
    assert_eq!(status, 201, "a draft may be unfinished: {draft}");
    assert_eq!(draft["problems"][0]["field"], "tools[0].action.config.url", "{draft}");
    let id = draft["id"].as_str().unwrap();
    let (status, body) =
        api(&s, Method::POST, &format!("/api/builder/servers/{id}/publish"), Some(json!({})), &alice).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("host is fixed"), "{body}");
    // An address the SSRF guard refuses, even with loopback allowed.
    let (status, _) = api(
        &s,
        Method::PUT,
        &format!("/api/builder/servers/{id}"),
        Some(json!({"definition": tool("http://169.254.169.254/latest/meta-data/{{p}}")})),
        &alice,
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) =
        api(&s, Method::POST, &format!("/api/builder/servers/{id}/publish"), Some(json!({})), &alice).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(s.get("/api/servers?q=evil", None).await.json::<Value>().await.unwrap()["servers"], json!([]));
    // Secrets that are not declared cannot be set; names are unique per owner.
    let (status, body) = api(
        &s,
        Method::PUT,
        &format!("/api/builder/servers/{id}/secrets"),
        Some(json!({"secrets": {"OTHER": "x"}})),
        &alice,
    )
    .await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("secrets.OTHER")), "{body}");
    let (status, body) = api(
        &s,
        Method::POST,
        "/api/builder/servers",
        Some(json!({"name": "evil", "definition": tool("https://a.example/")})),
        &alice,
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("name_taken")), "{body}");
    // A deploy cannot take a builder server's hosting kind.
    let (_, key) = s.create_key(&alice, "deploy").await;
    let res = s
        .post_json(
            "/api/mcp/deploy",
            json!({"name": "x", "hostingType": "builder", "tools": [{"name": "t"}]}),
            Some(&key),
        )
        .await;
    assert_eq!(res.status(), 422);
}

/// The Petstore's endpoints the import test calls, in its shape.
async fn start_petstore() -> (String, Log) {
    let log: Log = Arc::default();
    async fn pet(
        State(log): State<Log>,
        uri: Uri,
        headers: HeaderMap,
        axum::extract::Path(id): axum::extract::Path<String>,
    ) -> impl IntoResponse {
        record(&log, &uri, &headers);
        Json(json!({"id": id.parse::<i64>().unwrap_or(0), "name": "doggie", "status": "available",
                    "category": {"id": 1, "name": "Dogs"}, "photoUrls": [], "tags": []}))
    }
    async fn by_status(State(log): State<Log>, uri: Uri, headers: HeaderMap) -> impl IntoResponse {
        let params = record(&log, &uri, &headers);
        let pets: Vec<Value> =
            params.iter().enumerate().map(|(i, (_, s))| json!({"id": i, "name": "pet", "status": s})).collect();
        Json(Value::Array(pets))
    }
    let app = Router::new()
        .route("/v2/pet/findByStatus", get(by_status))
        .route("/v2/pet/{id}", get(pet))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

/// The Petstore 3.0 description as swagger tools ship it (from the npm
/// package `@readme/oas-examples`, in YAML), and OmniMCP's own API
/// description fetched from its URL: imported, published, called.
async fn openapi_documents_become_tools_that_users_call(s: TestServer) {
    use reqwest::Method;
    let (store, log) = start_petstore().await;
    let alice = s.register("alice@example.com", PASSWORD).await;
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/node_modules/@readme/oas-examples/3.0/yaml/petstore.yaml"
    ))
    .expect("npm ci installs @readme/oas-examples");
    let (status, preview) =
        api(&s, Method::POST, "/api/builder/openapi", Some(json!({"document": yaml})), &alice).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["title"], "Swagger Petstore");
    assert_eq!(preview["operations"].as_array().unwrap().len(), 20);
    let (status, imported) = api(
        &s,
        Method::POST,
        "/api/builder/openapi/import",
        Some(json!({"document": yaml, "name": "petstore", "operations": ["getPetById", "findPetsByStatus"],
                    "baseUrl": format!("{store}/v2")})),
        &alice,
    )
    .await;
    assert_eq!(status, 201, "{imported}");
    let server = &imported["server"];
    assert_eq!(server["problems"], json!([]), "{server}");
    assert_eq!(server["definition"]["settings"][0]["name"], "API_KEY");
    let id = server["id"].as_str().unwrap().to_string();
    let (status, published) =
        api(&s, Method::POST, &format!("/api/builder/servers/{id}/publish"), Some(json!({})), &alice).await;
    assert_eq!(status, 200, "{published}");
    let slug = published["slug"].as_str().unwrap().to_string();

    let bob = s.register("bob@example.com", PASSWORD).await;
    let (_, bob_key) = s.create_key(&bob, "client").await;
    let res =
        s.post_json("/api/installations", json!({"serverId": id, "config": {"API_KEY": "bobs-key"}}), Some(&bob)).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let pet = rpc::stateless(
        &s,
        &bob_key,
        "tools/call",
        json!({"name": format!("{slug}.getPetById"), "arguments": {"petId": 42}}),
    )
    .await;
    assert_eq!(pet["structuredContent"]["name"], "doggie", "{pet}");
    assert_eq!(pet["structuredContent"]["id"], 42);
    let found = rpc::stateless(
        &s,
        &bob_key,
        "tools/call",
        json!({"name": format!("{slug}.findPetsByStatus"), "arguments": {"status": ["available", "sold"]}}),
    )
    .await;
    assert_eq!(found["isError"], false, "{found}");
    let listed: Value = serde_json::from_str(found["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let received = log.lock().unwrap().clone();
    assert_eq!(received[0].path, "/v2/pet/42");
    assert_eq!(received[1].query, "status=available&status=sold");
    for r in &received {
        assert_eq!(r.api_key, None, "the fake reads x-api-key; the Petstore's header is api_key");
    }

    // OmniMCP's own description, fetched from its URL: the marketplace
    // listing as a tool.
    let own = format!("{}/api/openapi.json", s.url);
    let (status, preview) = api(&s, Method::POST, "/api/builder/openapi", Some(json!({"url": own})), &alice).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["baseUrl"], s.url);
    let (status, imported) = api(
        &s,
        Method::POST,
        "/api/builder/openapi/import",
        Some(json!({"url": own, "name": "omnimcp-api", "operations": ["list_servers"]})),
        &alice,
    )
    .await;
    assert_eq!(status, 201, "{imported}");
    let id = imported["server"]["id"].as_str().unwrap().to_string();
    let (status, published) =
        api(&s, Method::POST, &format!("/api/builder/servers/{id}/publish"), Some(json!({})), &alice).await;
    assert_eq!(status, 200, "{published}");
    let slug = published["slug"].as_str().unwrap().to_string();
    assert_eq!(s.post_json("/api/installations", json!({"serverId": id}), Some(&bob)).await.status(), 201);
    let listing = rpc::stateless(
        &s,
        &bob_key,
        "tools/call",
        json!({"name": format!("{slug}.list_servers"), "arguments": {"q": "calculator"}}),
    )
    .await;
    assert_eq!(listing["isError"], false, "{listing}");
    assert_eq!(listing["structuredContent"]["servers"][0]["slug"], "calculator", "{listing}");

    // A document that is neither, and a URL the guard refuses.
    let (status, body) =
        api(&s, Method::POST, "/api/builder/openapi", Some(json!({"document": "swagger: '2.0'\npaths: {}"})), &alice)
            .await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("document")), "{body}");
    let (status, body) = api(
        &s,
        Method::POST,
        "/api/builder/openapi",
        Some(json!({"url": "http://169.254.169.254/latest/meta-data/"})),
        &alice,
    )
    .await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("url")), "{body}");
}

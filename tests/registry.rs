//! Deploying MCP servers and installing them, against the real server, on
//! SQLite and (when configured) PostgreSQL.

mod common;

use common::{TestServer, expect_error};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
/// Development flags: callbacks on loopback over plain http are allowed.
const DEV: &[&str] = &["--outbound-allow-http", "--outbound-allow-loopback"];

on_both_databases!(flags: super::DEV; marketplace_search_filter_sort_and_pages, deploy_update_and_rotate, rotate_secret_endpoint, bad_deploys_are_refused_and_write_nothing, installations_are_private_and_limited, configs_are_validated_and_encrypted, concurrent_deploys_all_succeed);

/// A user with an API key: (session token, key).
/// A developer on the pro plan (these tests publish more servers than
/// the free plan's three).
async fn developer(s: &TestServer, email: &str) -> (String, String) {
    let token = s.register(email, PASSWORD).await;
    let user = s.state.db.user_by_email(email).await.unwrap().unwrap();
    s.state.db.update_user(user.id, None, Some("pro")).await.unwrap();
    let (_, key) = s.create_key(&token, "deploy").await;
    (token, key)
}

fn weather(tools: Value) -> Value {
    json!({
        "name": "weather-tools",
        "description": "Forecasts",
        "hostingType": "developer_hosted",
        "callbackUrl": "http://127.0.0.1:9/callbacks/",
        "category": "data",
        "tags": ["weather"],
        "tools": tools,
    })
}

fn forecast_tool() -> Value {
    json!({"name": "forecast", "description": "Forecast for a city",
           "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}})
}

/// Deploys write in one transaction each; on SQLite, concurrent ones used
/// to fail with "database is locked" (a 500) when a transaction that had
/// read tried to write. Every one must land.
async fn concurrent_deploys_all_succeed(s: TestServer) {
    let (token, key) = developer(&s, "busy@example.com").await;
    let deploys = (0..12).map(|i| {
        let body = json!({"name": format!("busy-{i:02}"), "description": "x", "hostingType": "developer_hosted",
                          "callbackUrl": "http://127.0.0.1:9/", "tools": [forecast_tool()]});
        s.post_json("/api/mcp/deploy", body, Some(&key))
    });
    let statuses: Vec<u16> =
        futures_util::future::join_all(deploys).await.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let listed: Value = s.get("/api/servers?q=busy-&limit=50", Some(&token)).await.json().await.unwrap();
    assert_eq!(listed["servers"].as_array().unwrap().len(), 12, "{listed}");
}

async fn rotate_secret_endpoint(s: TestServer) {
    let (token, key) = developer(&s, "rot@example.com").await;
    let first: Value =
        s.post_json("/api/mcp/deploy", weather(json!([forecast_tool()])), Some(&key)).await.json().await.unwrap();
    let id = first["serverId"].as_str().unwrap().to_string();
    let old = first["webhookSecret"].as_str().unwrap().to_string();
    let path = format!("/api/servers/{id}/rotate-secret");

    // With a session (the page's way) and with an API key: a new secret each time, sealed to the row.
    let mut seen = vec![old.clone()];
    for auth in [&token, &key] {
        let res = s.post_json(&path, json!({}), Some(auth)).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        let secret = body["webhookSecret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_") && !seen.contains(&secret));
        let record = s.state.db.server(id.parse().unwrap()).await.unwrap().unwrap();
        let opened = s
            .state
            .sealer
            .open(&record.webhook_secret_enc.unwrap(), &omnimcp::crypto::aad::webhook_secret(record.id))
            .unwrap();
        assert_eq!(opened, secret.as_bytes());
        seen.push(secret);
    }

    // Someone else's server, or no server at all: 404 alike.
    let (other_token, other_key) = developer(&s, "nosy@example.com").await;
    expect_error(s.post_json(&path, json!({}), Some(&other_token)).await, 404, "not_found").await;
    expect_error(s.post_json(&path, json!({}), Some(&other_key)).await, 404, "not_found").await;
    expect_error(s.post_json("/api/servers/not-a-uuid/rotate-secret", json!({}), Some(&key)).await, 404, "not_found")
        .await;
    expect_error(s.post_json(&path, json!({}), None).await, 401, "unauthorized").await;
    let record = s.state.db.server(id.parse().unwrap()).await.unwrap().unwrap();
    let opened = s
        .state
        .sealer
        .open(&record.webhook_secret_enc.unwrap(), &omnimcp::crypto::aad::webhook_secret(record.id))
        .unwrap();
    assert_eq!(opened, seen.last().unwrap().as_bytes(), "refused rotations change nothing");
}

async fn deploy_update_and_rotate(s: TestServer) {
    let (token, key) = developer(&s, "dev@example.com").await;
    // Deploying needs an API key, not a browser session.
    expect_error(
        s.post_json("/api/mcp/deploy", weather(json!([forecast_tool()])), Some(&token)).await,
        401,
        "unauthorized",
    )
    .await;

    let res = s.post_json("/api/mcp/deploy", weather(json!([forecast_tool()])), Some(&key)).await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();
    let id = first["serverId"].as_str().unwrap().to_string();
    let secret = first["webhookSecret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() > 40);
    assert_eq!(first["slug"], "weather-tools");

    // Same owner and name: an update, tools replaced, the secret not shown again.
    let tools = json!([forecast_tool(), {"name": "alerts", "inputSchema": {"type": "object"}}]);
    let res = s.post_json("/api/mcp/deploy", weather(tools), Some(&key)).await;
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.unwrap();
    assert_eq!(second["serverId"], id.as_str());
    assert!(second.get("webhookSecret").is_none());
    let detail: Value = s.get(&format!("/api/servers/{id}"), Some(&key)).await.json().await.unwrap();
    let names: Vec<&str> = detail["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alerts", "forecast"]);
    assert_eq!(detail["tools"][1]["inputSchema"]["required"][0], "city");
    assert_eq!(detail["hostingType"], "developer_hosted");

    // Rotation issues a new secret; the stored one is sealed, never plain.
    let mut body = weather(json!([forecast_tool()]));
    body["rotateSecret"] = json!(true);
    let rotated: Value = s.post_json("/api/mcp/deploy", body, Some(&key)).await.json().await.unwrap();
    let new_secret = rotated["webhookSecret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let record = s.state.db.server(id.parse().unwrap()).await.unwrap().unwrap();
    let sealed = record.webhook_secret_enc.unwrap();
    assert!(!sealed.windows(new_secret.len()).any(|w| w == new_secret.as_bytes()));
    let opened = s.state.sealer.open(&sealed, &omnimcp::crypto::aad::webhook_secret(record.id)).unwrap();
    assert_eq!(opened, new_secret.as_bytes());
    assert_eq!(record.callback_url.as_deref(), Some("http://127.0.0.1:9/callbacks"));

    // Another developer's server of the same name gets its own slug.
    let (_, other_key) = developer(&s, "other@example.com").await;
    let other: Value = s.post_json("/api/mcp/deploy", weather(json!([])), Some(&other_key)).await.json().await.unwrap();
    assert_ne!(other["serverId"], id.as_str());
    assert!(other["slug"].as_str().unwrap().starts_with("weather-tools-"));
}

async fn bad_deploys_are_refused_and_write_nothing(s: TestServer) {
    let (_, key) = developer(&s, "dev@example.com").await;
    let cases = [
        (json!({"name": "bad name!"}), "name"),
        (json!({"name": &"x".repeat(65)}), "name"),
        (json!({"hostingType": "carrier_pigeon"}), "hostingType"),
        (json!({"callbackUrl": null}), "callbackUrl"),
        (json!({"callbackUrl": "not a url"}), "callbackUrl"),
        (json!({"callbackUrl": "http://169.254.169.254/latest"}), "callbackUrl"),
        (json!({"category": "nonsense"}), "category"),
        (json!({"tools": [{"name": "a b"}]}), "tools[0].name"),
        (json!({"tools": [forecast_tool(), forecast_tool()]}), "tools[1].name"),
        (
            json!({"tools": [{"name": "t", "inputSchema": {"type": "object", "properties": {"x": {"type": "not-a-type"}}}}]}),
            "tools[0].inputSchema",
        ),
        (json!({"tools": [{"name": "t", "inputSchema": {"type": "string"}}]}), "tools[0].inputSchema"),
        (json!({"tools": [{"name": "t", "outputSchema": {"minimum": "ten"}}]}), "tools[0].outputSchema"),
        (json!({"resources": [{"uri": "no-scheme", "name": "r"}]}), "resources[0].uri"),
        (json!({"prompts": [{"name": ""}]}), "prompts[0].name"),
    ];
    for (patch, field) in cases {
        let mut body = weather(json!([forecast_tool()]));
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = s.post_json("/api/mcp/deploy", body.clone(), Some(&key)).await;
        let err = expect_error(res, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], field, "{body}");
    }
    let meta = json!({"callbackUrl": "http://169.254.169.254/latest"});
    let mut body = weather(json!([]));
    body["callbackUrl"] = meta["callbackUrl"].clone();
    let err = expect_error(s.post_json("/api/mcp/deploy", body, Some(&key)).await, 422, "invalid_field").await;
    assert!(err["error"]["message"].as_str().unwrap().contains("cloud metadata"));

    let mut body = weather(json!([]));
    body["hostingType"] = json!("platform_hosted");
    expect_error(s.post_json("/api/mcp/deploy", body, Some(&key)).await, 403, "forbidden").await;
    expect_error(s.post_json("/api/mcp/deploy", json!({"name": "x"}), Some(&key)).await, 422, "invalid_field").await;
    // Nothing was written by any refused deploy.
    assert!(!s.state.db.slug_taken("weather-tools").await.unwrap());
    expect_error(s.get("/api/servers/0190f0f0-0000-7000-8000-000000000000", Some(&key)).await, 404, "not_found").await;
    expect_error(s.get("/api/servers/nope", Some(&key)).await, 404, "not_found").await;
}

async fn installations_are_private_and_limited(s: TestServer) {
    let (_, dev_key) = developer(&s, "dev@example.com").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let mut body = weather(json!([forecast_tool()]));
        body["name"] = json!(format!("server-{i}"));
        let res: Value = s.post_json("/api/mcp/deploy", body, Some(&dev_key)).await.json().await.unwrap();
        ids.push(res["serverId"].as_str().unwrap().to_string());
    }
    let bob = s.register("bob@example.com", PASSWORD).await;
    let eve = s.register("eve@example.com", PASSWORD).await;

    let res = s.post_json("/api/installations", json!({"serverId": ids[0]}), Some(&bob)).await;
    assert_eq!(res.status(), 201);
    let inst: Value = res.json().await.unwrap();
    let inst_id = inst["id"].as_str().unwrap().to_string();
    assert_eq!((inst["serverName"].as_str(), inst["enabled"].as_bool()), (Some("server-0"), Some(true)));
    expect_error(
        s.post_json("/api/installations", json!({"serverId": ids[0]}), Some(&bob)).await,
        409,
        "already_installed",
    )
    .await;
    expect_error(s.post_json("/api/installations", json!({"serverId": "nope"}), Some(&bob)).await, 404, "not_found")
        .await;
    let err = expect_error(
        s.post_json("/api/installations", json!({"serverId": ids[1], "config": {"a": 1}}), Some(&bob)).await,
        422,
        "invalid_field",
    )
    .await;
    assert_eq!(err["error"]["field"], "config");

    // Eve can neither see, change nor remove Bob's installation.
    let path = format!("/api/installations/{inst_id}");
    expect_error(s.get(&path, Some(&eve)).await, 404, "not_found").await;
    expect_error(s.send_json(Method::PATCH, &path, json!({"enabled": false}), &eve).await, 404, "not_found").await;
    let res = s.client.delete(s.at(&path)).bearer_auth(&eve).send().await.unwrap();
    expect_error(res, 404, "not_found").await;
    let eves: Value = s.get("/api/installations", Some(&eve)).await.json().await.unwrap();
    assert_eq!(eves["installations"].as_array().unwrap().len(), 0);

    let res = s.send_json(Method::PATCH, &path, json!({"enabled": false}), &bob).await;
    assert_eq!(res.json::<Value>().await.unwrap()["enabled"], false);
    let detail: Value = s.get(&format!("/api/servers/{}", ids[0]), Some(&bob)).await.json().await.unwrap();
    assert_eq!(detail["installCount"], 1);

    // The free tier allows five installed servers.
    for id in &ids[1..5] {
        assert_eq!(s.post_json("/api/installations", json!({"serverId": id}), Some(&bob)).await.status(), 201);
    }
    let err = expect_error(
        s.post_json("/api/installations", json!({"serverId": ids[5]}), Some(&bob)).await,
        403,
        "forbidden",
    )
    .await;
    assert!(err["error"]["message"].as_str().unwrap().contains("5 installed servers"));

    let res = s.client.delete(s.at(&path)).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(res.status(), 204);
    expect_error(s.get(&path, Some(&bob)).await, 404, "not_found").await;
    assert_eq!(s.post_json("/api/installations", json!({"serverId": ids[5]}), Some(&bob)).await.status(), 201);
}

async fn configs_are_validated_and_encrypted(s: TestServer) {
    // A server that takes credentials (as platform-hosted servers do).
    let id = uuid::Uuid::now_v7();
    s.state
        .db
        .upsert_server(&omnimcp::db::ServerDraft {
            id,
            owner_id: None,
            name: "vault".into(),
            slug: "vault".into(),
            description: "A server that takes credentials".into(),
            category: "developer-tools".into(),
            tags: vec![],
            version: "1.0.0".into(),
            hosting_type: app::domain::HostingType::PlatformHosted,
            launch_spec: Some(json!({"command": "/bin/true"})),
            config_schema: Some(json!({
                "type": "object",
                "properties": {"token": {"type": "string", "writeOnly": true, "minLength": 4}, "org": {"type": "string"}},
                "required": ["token"],
                "additionalProperties": false
            })),
            callback_url: None,
            webhook_secret_enc: None,
            remote_url: None,
            remote_headers_enc: None,
            remote_auth: None,
            builder_definition: None,
            builder_secrets_enc: None,
            call_timeout_secs: None,
            items: Default::default(),
        })
        .await
        .unwrap();
    let bob = s.register("bob@example.com", PASSWORD).await;
    let install =
        |config: Value| s.post_json("/api/installations", json!({"serverId": id, "config": config}), Some(&bob));

    let err = expect_error(install(json!({"org": "acme"})).await, 422, "invalid_field").await;
    assert_eq!(err["error"]["field"], "config.token", "a missing setting is named: {err}");
    let err = expect_error(install(json!({"token": "ghp_x1234", "org": 5})).await, 422, "invalid_field").await;
    assert_eq!(err["error"]["field"], "config.org");
    assert_eq!(err["error"]["message"], "use a string", "{err}");
    // A secret that breaks a rule is named, never quoted (a form without
    // JavaScript carries the error in its redirect URL).
    let err = expect_error(install(json!({"token": "gh!"})).await, 422, "invalid_field").await;
    assert_eq!(err["error"]["field"], "config.token");
    assert_eq!(err["error"]["message"], "use at least 4 characters", "{err}");
    let err =
        expect_error(install(json!({"token": "ghp_x1234", "tokn": "ghp_typo"})).await, 422, "invalid_field").await;
    assert!(!err.to_string().contains("ghp_"), "{err}");

    let res = install(json!({"token": "ghp_supersecret", "org": "acme"})).await;
    assert_eq!(res.status(), 201);
    let text = res.text().await.unwrap();
    assert!(!text.contains("ghp_supersecret"), "secrets are never returned: {text}");
    let view: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["config"], json!({"org": "acme"}));
    assert_eq!(view["secretsSet"], json!(["token"]));

    // At rest: sealed, not readable in the row, bound to this installation.
    let inst_id: uuid::Uuid = view["id"].as_str().unwrap().parse().unwrap();
    let user = s.state.db.user_by_email("bob@example.com").await.unwrap().unwrap();
    let row = s.state.db.installation(user.id, inst_id).await.unwrap().unwrap();
    let sealed = row.config_enc.clone().unwrap();
    assert!(!sealed.windows(15).any(|w| w == b"ghp_supersecret"));
    assert_eq!(row.key_id.as_deref(), Some(s.state.sealer.current_key_id()));
    let config = s.state.sealer.open_config(row.config_enc.as_deref(), row.id).unwrap();
    assert_eq!(config["token"], "ghp_supersecret");

    // Changing a setting keeps the saved secret.
    let path = format!("/api/installations/{inst_id}");
    let res = s.send_json(Method::PATCH, &path, json!({"config": {"org": "beta"}}), &bob).await;
    assert_eq!(res.status(), 200);
    let row = s.state.db.installation(user.id, inst_id).await.unwrap().unwrap();
    let config = s.state.sealer.open_config(row.config_enc.as_deref(), row.id).unwrap();
    assert_eq!((config["token"].as_str(), config["org"].as_str()), (Some("ghp_supersecret"), Some("beta")));
}

async fn marketplace_search_filter_sort_and_pages(s: TestServer) {
    let (_, key) = developer(&s, "dev@example.com").await;
    let mut ids = std::collections::HashMap::new();
    for (name, category, tag, desc) in [
        ("alpha-weather", "data", "weather", "Forecasts and storms"),
        ("beta-mail", "communication", "email", "Send mail"),
        ("gamma-notes", "productivity", "notes", "100% plain notes"),
        ("delta-search", "search", "web", "Search the web"),
        ("epsilon-data", "data", "csv", "Weather station CSV files"),
    ] {
        let body = json!({"name": name, "description": desc, "hostingType": "developer_hosted",
                          "callbackUrl": "http://127.0.0.1:9/", "category": category, "tags": [tag]});
        let res: Value = s.post_json("/api/mcp/deploy", body, Some(&key)).await.json().await.unwrap();
        ids.insert(name, res["serverId"].as_str().unwrap().parse::<uuid::Uuid>().unwrap());
    }
    // Popularity: epsilon 3 calls, beta 2, alpha 1 (via the request log writer's storage).
    let mut rows = Vec::new();
    for (name, n) in [("epsilon-data", 3), ("beta-mail", 2), ("alpha-weather", 1)] {
        for _ in 0..n {
            rows.push(omnimcp::db::RequestLog {
                id: uuid::Uuid::now_v7(),
                user_id: None,
                server_id: Some(ids[name]),
                tool_name: None,
                request_type: "tools/call".into(),
                status: app::domain::CallStatus::Ok,
                error_class: None,
                response_time_ms: 1,
                created_at: chrono::Utc::now(),
            });
        }
    }
    s.state.db.insert_request_logs(&rows).await.unwrap();

    let list = |query: &'static str| {
        let s = &s;
        async move {
            let res = s.get(&format!("/api/servers{query}"), None).await;
            assert_eq!(res.status(), 200, "{query}");
            let body: Value = res.json().await.unwrap();
            let names: Vec<String> =
                body["servers"].as_array().unwrap().iter().map(|v| v["slug"].as_str().unwrap().to_string()).collect();
            (names, body)
        }
    };
    // Browsing is public; the seeded official servers are listed with the rest.
    let official: Vec<&str> = omnimcp::official::catalog().iter().rev().map(|o| o.slug).collect();
    let total = 5 + official.len();
    let (all, body) = list("").await;
    assert_eq!(all.len(), total, "{all:?}");
    assert_eq!(&all[..3], ["epsilon-data", "beta-mail", "alpha-weather"], "popular first");
    assert!(body["nextCursor"].is_null());
    assert_eq!(body["servers"][0]["requestCount"], 3);
    assert_eq!(
        list("?q=WEATHER").await.0,
        ["epsilon-data", "alpha-weather", "weather"],
        "name or description, any case"
    );
    assert_eq!(list("?q=100%25").await.0, ["gamma-notes"], "% is literal");
    assert!(list("?q=%25%25%25").await.0.is_empty());
    assert_eq!(list("?category=data&sort=newest").await.0, ["epsilon-data", "alpha-weather", "weather"]);
    assert_eq!(list("?tag=email").await.0, ["beta-mail"]);
    assert_eq!(list("?tag=math").await.0, ["calculator"]);
    assert_eq!(list("?hostingType=platform_hosted").await.0, official, "seeded in catalog order, so newest last");
    assert_eq!(list("?sort=newest").await.0[0], "epsilon-data");

    // Pages of two, for both orders, cover everything exactly once.
    for sort in ["popular", "newest"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/servers?limit=2&sort={sort}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let body: Value = s.get(&path, None).await.json().await.unwrap();
            let page = body["servers"].as_array().unwrap();
            assert!(page.len() <= 2);
            seen.extend(page.iter().map(|v| v["slug"].as_str().unwrap().to_string()));
            match body["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!((seen.len(), sorted.len()), (total, total), "{sort}: {seen:?}");
    }

    for (query, field) in [
        ("?sort=best", "sort"),
        ("?limit=0", "limit"),
        ("?limit=abc", "limit"),
        ("?cursor=!!", "cursor"),
        ("?hostingType=cloud", "hostingType"),
        ("?colour=red", "colour"),
    ] {
        let err = expect_error(s.get(&format!("/api/servers{query}"), None).await, 422, "invalid_field").await;
        assert_eq!(err["error"]["field"], field, "{query}");
    }
}

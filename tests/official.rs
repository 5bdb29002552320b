//! The official Weather server against a loopback fake of Open-Meteo whose
//! answers are shaped like the real API's (success, "no results", 400 with
//! a reason, 429), run as a real child process of the platform.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{Json, Router, extract::Query, http::StatusCode, response::IntoResponse, routing::get};
use common::{Backend, TestServer};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

async fn geocoding(Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    if q.get("name").map(String::as_str) == Some("Paris") {
        Json(
            json!({"results": [{"id": 2988507, "name": "Paris", "latitude": 48.85341, "longitude": 2.3488, "elevation": 42.0,
            "feature_code": "PPLC", "country_code": "FR", "admin1_id": 3012874, "timezone": "Europe/Paris", "population": 2138551,
            "country_id": 3017382, "country": "France", "admin1": "Île-de-France"}], "generationtime_ms": 0.93}),
        )
    } else {
        // Open-Meteo leaves `results` out when nothing matches.
        Json(json!({"generationtime_ms": 0.41}))
    }
}

async fn forecast(
    Query(q): Query<HashMap<String, String>>,
    seen: Arc<Mutex<Vec<HashMap<String, String>>>>,
) -> axum::response::Response {
    seen.lock().unwrap().push(q.clone());
    let lat: f64 = q["latitude"].parse().unwrap();
    if lat == 42.0 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"error": true, "reason": "Daily API request limit exceeded. Please try again tomorrow."})),
        )
            .into_response();
    }
    if lat == 13.37 {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": true, "reason": "Cannot initialize WeatherVariable from invalid String value temperature_3m."}))).into_response();
    }
    let mut body = json!({"latitude": lat, "longitude": q["longitude"].parse::<f64>().unwrap(), "generationtime_ms": 0.05,
        "utc_offset_seconds": 3600, "timezone": "Europe/Paris", "timezone_abbreviation": "GMT+1", "elevation": 43.0});
    if q.contains_key("current") {
        body["current_units"] = json!({"time": "iso8601", "interval": "seconds", "temperature_2m": "°C", "relative_humidity_2m": "%",
            "apparent_temperature": "°C", "precipitation": "mm", "weather_code": "wmo code", "wind_speed_10m": "km/h"});
        body["current"] = json!({"time": "2026-11-24T13:45", "interval": 900, "temperature_2m": 9.4, "relative_humidity_2m": 81,
            "apparent_temperature": 6.9, "precipitation": 0.0, "weather_code": 3, "wind_speed_10m": 12.2});
    }
    if let Some(days) = q.get("forecast_days") {
        let n: usize = days.parse().unwrap();
        let dates: Vec<String> = (0..n).map(|i| format!("2026-11-{:02}", 24 + i)).collect();
        body["daily_units"] = json!({"time": "iso8601", "weather_code": "wmo code", "temperature_2m_max": "°C", "temperature_2m_min": "°C", "precipitation_sum": "mm"});
        body["daily"] = json!({"time": dates, "weather_code": vec![61; n], "temperature_2m_max": vec![11.2; n],
            "temperature_2m_min": vec![5.1; n], "precipitation_sum": vec![4.2; n]});
    }
    Json(body).into_response()
}

#[tokio::test]
async fn weather_answers_from_open_meteo_shaped_fake() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().route("/v1/search", get(geocoding)).route(
        "/v1/forecast",
        get({
            let seen = seen.clone();
            move |q| forecast(q, seen.clone())
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let geo = format!("weather.geocoding={base}/v1/search");
    let fc = format!("weather.forecast={base}/v1/forecast");
    let s = TestServer::start_on_with(Backend::Sqlite, &["--official-api", &geo, "--official-api", &fc]).await.unwrap();
    let weather = s.state.db.server_by_slug("weather").await.unwrap().expect("Weather is seeded");
    let bob = s.register("bob@example.com", PASSWORD).await;
    assert_eq!(s.post_json("/api/installations", json!({"serverId": weather.id}), Some(&bob)).await.status(), 201);
    let call = |tool: &'static str, args: Value| {
        let (s, bob) = (&s, bob.clone());
        async move {
            let res = s
                .post_json("/mcp/call", json!({"serverId": "weather", "toolName": tool, "arguments": args}), Some(&bob))
                .await;
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };

    let now = call("current_weather", json!({"location": "Paris"})).await;
    assert_eq!(now["success"], true, "{now}");
    let text = now["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("Paris, Île-de-France, France: 9.4 °C"), "{text}");
    assert!(text.contains("overcast"), "WMO code 3 is described: {text}");
    assert_eq!(now["result"]["structuredContent"]["current"]["relative_humidity_2m"], 81);
    let asked = seen.lock().unwrap()[0].clone();
    assert_eq!((asked["latitude"].as_str(), asked["timezone"].as_str()), ("48.85341", "auto"));
    assert!(asked["current"].contains("temperature_2m"));

    let week = call("forecast", json!({"latitude": 48.85, "longitude": 2.35, "days": 3})).await;
    assert_eq!(week["success"], true, "{week}");
    assert_eq!(week["result"]["structuredContent"]["days"].as_array().unwrap().len(), 3);
    assert_eq!(week["result"]["structuredContent"]["days"][0]["conditions"], "rain");

    // Errors come back as the tool's errors, with the API's reason.
    for (args, expect) in [
        (json!({"location": "Atlantis"}), "no place called \"Atlantis\""),
        (json!({"latitude": 13.37, "longitude": 1.0}), "refused the request: Cannot initialize"),
        (json!({"latitude": 42.0, "longitude": 1.0}), "rate limiting"),
        (json!({"latitude": 100.0, "longitude": 1.0}), "latitude must be -90 to 90"),
        (json!({}), "give a location"),
    ] {
        let res = call("current_weather", args.clone()).await;
        assert_eq!(res["success"], false, "{args}");
        assert!(res["error"]["content"][0]["text"].as_str().unwrap().contains(expect), "{args}: {res}");
    }
    let res = call("forecast", json!({"location": "Paris", "days": 30})).await;
    assert!(res["error"]["content"][0]["text"].as_str().unwrap().contains("between 1 and 16"));
    s.stop().await;
}

// ---- GitHub, Slack and Notion fakes, shaped like the real APIs ---------------

fn bearer(headers: &axum::http::HeaderMap) -> String {
    headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

fn gh_repo(full: &str) -> Value {
    let (owner, name) = full.split_once('/').unwrap();
    json!({"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": name, "full_name": full, "private": false,
        "owner": {"login": owner, "id": 1, "type": "User"}, "html_url": format!("https://github.com/{full}"),
        "description": "This your first repo!", "fork": false, "language": "Rust", "forks_count": 9, "stargazers_count": 80,
        "watchers_count": 80, "open_issues_count": 1, "default_branch": "main", "updated_at": "2026-11-20T10:00:00Z"})
}

fn gh_issue(number: u64, title: &str) -> Value {
    json!({"id": 1, "number": number, "title": title, "state": "open", "html_url": format!("https://github.com/octo/hello/issues/{number}"),
        "user": {"login": "octocat", "id": 1}, "labels": [{"id": 208045946, "name": "bug", "color": "f29513"}], "comments": 0,
        "created_at": "2026-11-20T10:00:00Z", "body": "I'm having a problem with this."})
}

fn github_fake() -> Router {
    use axum::{extract::Path, http::HeaderMap, routing::post};
    let unauthorized = || {
        (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}))).into_response()
    };
    let authed = |h: &HeaderMap| {
        bearer(h) == "Bearer ghp_valid"
            && h.get("accept").is_some_and(|v| v == "application/vnd.github+json")
            && h.get("x-github-api-version").is_some_and(|v| v == "2022-11-28")
    };
    Router::new()
        .route("/users/{user}/repos", get(move |h: HeaderMap, Path(user): Path<String>| async move {
            if !authed(&h) { return unauthorized(); }
            Json(json!([gh_repo(&format!("{user}/hello")), gh_repo(&format!("{user}/world"))])).into_response()
        }))
        .route("/repos/{owner}/{repo}", get(move |h: HeaderMap, Path((owner, repo)): Path<(String, String)>| async move {
            if !authed(&h) { return unauthorized(); }
            if repo == "missing" {
                return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository", "status": "404"}))).into_response();
            }
            Json(gh_repo(&format!("{owner}/{repo}"))).into_response()
        }))
        .route("/repos/{owner}/{repo}/issues", get(move |h: HeaderMap| async move {
            if !authed(&h) { return unauthorized(); }
            Json(json!([gh_issue(1347, "Found a bug")])).into_response()
        }).post(move |h: HeaderMap, Json(body): Json<Value>| async move {
            if !authed(&h) { return unauthorized(); }
            (StatusCode::CREATED, Json(gh_issue(1348, body["title"].as_str().unwrap()))).into_response()
        }))
        .route("/repos/{owner}/{repo}/issues/{n}", get(move |h: HeaderMap, Path((_, _, n)): Path<(String, String, u64)>| async move {
            if !authed(&h) { return unauthorized(); }
            Json(gh_issue(n, "Found a bug")).into_response()
        }))
        .route("/search/repositories", get(move |h: HeaderMap, Query(q): Query<HashMap<String, String>>| async move {
            if !authed(&h) { return unauthorized(); }
            if q["q"] == "ratelimited" {
                let mut res = (StatusCode::FORBIDDEN, Json(json!({"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}))).into_response();
                res.headers_mut().insert("x-ratelimit-remaining", "0".parse().unwrap());
                res.headers_mut().insert("x-ratelimit-reset", "1795600000".parse().unwrap());
                return res;
            }
            Json(json!({"total_count": 1, "incomplete_results": false, "items": [gh_repo("rust-lang/rust")]})).into_response()
        }))
        .route("/unused", post(|| async { StatusCode::NOT_FOUND }))
}

fn slack_fake() -> Router {
    use axum::{http::HeaderMap, routing::post};
    let denied = || Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    Router::new()
        .route("/conversations.list", get(move |h: HeaderMap| async move {
            if bearer(&h) != "Bearer xoxb-valid" { return denied(); }
            Json(json!({"ok": true, "channels": [{"id": "C024BE91L", "name": "general", "is_channel": true, "is_private": false,
                "is_archived": false, "num_members": 4, "topic": {"value": "Company-wide announcements", "creator": "", "last_set": 0}}],
                "response_metadata": {"next_cursor": ""}})).into_response()
        }))
        .route("/chat.postMessage", post(move |h: HeaderMap, Json(body): Json<Value>| async move {
            if bearer(&h) != "Bearer xoxb-valid" { return denied(); }
            if body["channel"] == "C_MISSING" { return Json(json!({"ok": false, "error": "channel_not_found"})).into_response(); }
            Json(json!({"ok": true, "channel": body["channel"], "ts": "1503435956.000247",
                "message": {"text": body["text"], "username": "omnimcp", "type": "message", "ts": "1503435956.000247"}})).into_response()
        }))
        .route("/conversations.history", get(move |h: HeaderMap, Query(q): Query<HashMap<String, String>>| async move {
            if bearer(&h) != "Bearer xoxb-valid" { return denied(); }
            if q["channel"] == "C_BUSY" {
                let mut res = (StatusCode::TOO_MANY_REQUESTS, "").into_response();
                res.headers_mut().insert("retry-after", "30".parse().unwrap());
                return res;
            }
            Json(json!({"ok": true, "messages": [{"type": "message", "user": "U012AB3CDE", "text": "Deploy went fine", "ts": "1512085950.000216"}],
                "has_more": false, "pin_count": 0})).into_response()
        }))
}

fn notion_page(title: &str) -> Value {
    json!({"object": "page", "id": "59833787-2cf9-4fdf-8782-e53db20768a5", "created_time": "2026-11-20T10:00:00.000Z",
        "last_edited_time": "2026-11-21T10:00:00.000Z", "archived": false, "parent": {"type": "workspace", "workspace": true},
        "url": "https://www.notion.so/Roadmap-598337872cf94fdf8782e53db20768a5",
        "properties": {"title": {"id": "title", "type": "title", "title": [{"type": "text", "text": {"content": title, "link": null}, "plain_text": title}]}}})
}

fn notion_fake() -> Router {
    use axum::{extract::Path, http::HeaderMap, routing::post};
    let denied = || {
        (StatusCode::UNAUTHORIZED, Json(json!({"object": "error", "status": 401, "code": "unauthorized", "message": "API token is invalid.", "request_id": "c2bd0e70"}))).into_response()
    };
    let ok = |h: &HeaderMap| {
        bearer(h) == "Bearer secret_valid" && h.get("notion-version").is_some_and(|v| v == "2022-06-28")
    };
    Router::new()
        .route("/search", post(move |h: HeaderMap, Json(body): Json<Value>| async move {
            if !ok(&h) { return denied(); }
            let title = body["query"].as_str().unwrap_or_default().to_string();
            Json(json!({"object": "list", "results": [notion_page(&title)], "next_cursor": null, "has_more": false, "type": "page_or_database", "page_or_database": {}})).into_response()
        }))
        .route("/pages/{id}", get(move |h: HeaderMap, Path(id): Path<String>| async move {
            if !ok(&h) { return denied(); }
            if id == "missing" {
                return (StatusCode::NOT_FOUND, Json(json!({"object": "error", "status": 404, "code": "object_not_found",
                    "message": "Could not find page with ID: missing. Make sure the relevant pages and databases are shared with your integration."}))).into_response();
            }
            Json(notion_page("Roadmap")).into_response()
        }))
        .route("/pages", post(move |h: HeaderMap, Json(body): Json<Value>| async move {
            if !ok(&h) { return denied(); }
            let title = body["properties"]["title"]["title"][0]["text"]["content"].as_str().unwrap_or_default().to_string();
            Json(notion_page(&title)).into_response()
        }))
}

#[tokio::test]
async fn github_slack_and_notion_with_each_users_token() {
    let app = Router::new().nest("/gh", github_fake()).nest("/slack", slack_fake()).nest("/notion", notion_fake());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let flags =
        [format!("github.api={base}/gh"), format!("slack.api={base}/slack"), format!("notion.api={base}/notion")];
    let s = TestServer::start_on_with(
        Backend::Sqlite,
        &["--official-api", &flags[0], "--official-api", &flags[1], "--official-api", &flags[2]],
    )
    .await
    .unwrap();
    let bob = s.register("bob@example.com", PASSWORD).await;
    let eve = s.register("eve@example.com", PASSWORD).await;
    for (slug, good) in [("github", "ghp_valid"), ("slack", "xoxb-valid"), ("notion", "secret_valid")] {
        let id = s.state.db.server_by_slug(slug).await.unwrap().unwrap().id;
        // The token is required by the server's config schema.
        assert_eq!(s.post_json("/api/installations", json!({"serverId": id}), Some(&bob)).await.status(), 422);
        assert_eq!(
            s.post_json("/api/installations", json!({"serverId": id, "config": {"token": good}}), Some(&bob))
                .await
                .status(),
            201
        );
        assert_eq!(
            s.post_json("/api/installations", json!({"serverId": id, "config": {"token": "wrong"}}), Some(&eve))
                .await
                .status(),
            201
        );
    }
    let call = |token: String, server: &'static str, tool: &'static str, args: Value| {
        let s = &s;
        async move {
            let res = s
                .post_json("/mcp/call", json!({"serverId": server, "toolName": tool, "arguments": args}), Some(&token))
                .await;
            assert_eq!(res.status(), 200, "{server}/{tool}");
            res.json::<Value>().await.unwrap()
        }
    };
    let ok = |v: &Value| {
        assert_eq!(v["success"], true, "{v}");
        v["result"]["structuredContent"].clone()
    };
    let err_text = |v: &Value| {
        assert_eq!(v["success"], false, "{v}");
        v["error"]["content"][0]["text"].as_str().unwrap().to_string()
    };

    // GitHub: every tool, then its errors.
    let repos = ok(&call(bob.clone(), "github", "list_repos", json!({"user": "octo"})).await);
    assert_eq!(repos["repositories"][1]["fullName"], "octo/world");
    assert_eq!(
        ok(&call(bob.clone(), "github", "get_repo", json!({"owner": "octo", "repo": "hello"})).await)["stars"],
        80
    );
    assert_eq!(
        ok(&call(bob.clone(), "github", "list_issues", json!({"owner": "octo", "repo": "hello"})).await)["issues"][0]["labels"]
            [0],
        "bug"
    );
    assert_eq!(
        ok(&call(bob.clone(), "github", "get_issue", json!({"owner": "octo", "repo": "hello", "number": 7})).await)["number"],
        7
    );
    assert_eq!(
        ok(&call(
            bob.clone(),
            "github",
            "create_issue",
            json!({"owner": "octo", "repo": "hello", "title": "From MCP"})
        )
        .await)["title"],
        "From MCP"
    );
    assert_eq!(
        ok(&call(bob.clone(), "github", "search_repositories", json!({"query": "language:rust"})).await)["totalCount"],
        1
    );
    assert!(
        err_text(&call(bob.clone(), "github", "get_repo", json!({"owner": "octo", "repo": "missing"})).await)
            .contains("not found")
    );
    assert!(
        err_text(&call(bob.clone(), "github", "search_repositories", json!({"query": "ratelimited"})).await)
            .contains("rate limit")
    );
    assert!(
        err_text(&call(eve.clone(), "github", "list_repos", json!({"user": "octo"})).await)
            .contains("refused the token")
    );

    // Slack.
    assert_eq!(ok(&call(bob.clone(), "slack", "list_channels", json!({})).await)["channels"][0]["name"], "general");
    assert_eq!(
        ok(&call(bob.clone(), "slack", "post_message", json!({"channel": "C024BE91L", "text": "hi"})).await)["ts"],
        "1503435956.000247"
    );
    assert_eq!(
        ok(&call(bob.clone(), "slack", "get_channel_history", json!({"channel": "C024BE91L"})).await)["messages"][0]["text"],
        "Deploy went fine"
    );
    assert!(
        err_text(&call(bob.clone(), "slack", "post_message", json!({"channel": "C_MISSING", "text": "hi"})).await)
            .contains("no such channel")
    );
    assert!(
        err_text(&call(bob.clone(), "slack", "get_channel_history", json!({"channel": "C_BUSY"})).await)
            .contains("retry in 30 seconds")
    );
    assert!(err_text(&call(eve.clone(), "slack", "list_channels", json!({})).await).contains("invalid_auth"));

    // Notion.
    assert_eq!(
        ok(&call(bob.clone(), "notion", "search", json!({"query": "Roadmap"})).await)["results"][0]["title"],
        "Roadmap"
    );
    assert_eq!(ok(&call(bob.clone(), "notion", "get_page", json!({"page_id": "59833787"})).await)["title"], "Roadmap");
    assert_eq!(
        ok(&call(
            bob.clone(),
            "notion",
            "create_page",
            json!({"parent_page_id": "p1", "title": "Minutes", "content": "Notes"})
        )
        .await)["title"],
        "Minutes"
    );
    assert!(
        err_text(&call(bob.clone(), "notion", "get_page", json!({"page_id": "missing"})).await).contains("not found")
    );
    assert!(
        err_text(&call(eve.clone(), "notion", "search", json!({"query": "x"})).await).contains("API token is invalid")
    );
    s.stop().await;
}

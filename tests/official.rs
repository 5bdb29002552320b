//! The official Weather server against a loopback fake of Open-Meteo whose
//! answers are shaped like the real API's (success, "no results", 400 with
//! a reason, 429), run as a real child process of the platform.

mod common;

use std::{collections::HashMap, sync::{Arc, Mutex}};

use axum::{Json, Router, extract::Query, http::StatusCode, response::IntoResponse, routing::get};
use common::{Backend, TestServer};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

async fn geocoding(Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    if q.get("name").map(String::as_str) == Some("Paris") {
        Json(json!({"results": [{"id": 2988507, "name": "Paris", "latitude": 48.85341, "longitude": 2.3488, "elevation": 42.0,
            "feature_code": "PPLC", "country_code": "FR", "admin1_id": 3012874, "timezone": "Europe/Paris", "population": 2138551,
            "country_id": 3017382, "country": "France", "admin1": "Île-de-France"}], "generationtime_ms": 0.93}))
    } else {
        // Open-Meteo leaves `results` out when nothing matches.
        Json(json!({"generationtime_ms": 0.41}))
    }
}

async fn forecast(Query(q): Query<HashMap<String, String>>, seen: Arc<Mutex<Vec<HashMap<String, String>>>>) -> axum::response::Response {
    seen.lock().unwrap().push(q.clone());
    let lat: f64 = q["latitude"].parse().unwrap();
    if lat == 42.0 {
        return (StatusCode::TOO_MANY_REQUESTS, Json(json!({"error": true, "reason": "Daily API request limit exceeded. Please try again tomorrow."}))).into_response();
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
    let app = Router::new()
        .route("/v1/search", get(geocoding))
        .route("/v1/forecast", get({
            let seen = seen.clone();
            move |q| forecast(q, seen.clone())
        }));
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
            let res = s.post_json("/mcp/call", json!({"serverId": "weather", "toolName": tool, "arguments": args}), Some(&bob)).await;
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

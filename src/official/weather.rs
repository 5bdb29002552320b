//! Weather: current conditions and a daily forecast from Open-Meteo (no
//! key needed), by place name (through Open-Meteo's geocoding API) or by
//! coordinates. Both API base URLs are configurable (`--api
//! geocoding=URL`, `--api forecast=URL`), which is how tests point it at a
//! loopback fake shaped like the real API.

use std::time::Duration;

use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{Implementation, ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
};
use serde::Deserialize;

use super::{ToolResult, tool_error};
use serde_json::{Value, json};

pub const GEOCODING_URL: &str = "https://geocoding-api.open-meteo.com/v1/search";
pub const FORECAST_URL: &str = "https://api.open-meteo.com/v1/forecast";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Place {
    /// A place name, e.g. "Paris" or "Springfield, Illinois". Give this or
    /// both coordinates.
    pub location: Option<String>,
    /// Latitude in degrees (-90 to 90).
    pub latitude: Option<f64>,
    /// Longitude in degrees (-180 to 180).
    pub longitude: Option<f64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ForecastArgs {
    #[serde(flatten)]
    pub place: Place,
    /// Number of days, 1 to 16 (default 7).
    pub days: Option<u8>,
}

#[derive(Clone)]
pub struct Weather {
    geocoding_url: String,
    forecast_url: String,
    http: reqwest::Client,
    tool_router: ToolRouter<Self>,
}

/// A resolved place.
struct Resolved {
    name: String,
    latitude: f64,
    longitude: f64,
}

#[tool_router]
impl Weather {
    pub fn new(geocoding_url: Option<String>, forecast_url: Option<String>) -> Self {
        Self {
            geocoding_url: geocoding_url.unwrap_or_else(|| GEOCODING_URL.into()),
            forecast_url: forecast_url.unwrap_or_else(|| FORECAST_URL.into()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .user_agent(concat!("OmniMCP-Weather/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("HTTP client"),
            tool_router: Self::tool_router(),
        }
    }

    pub fn tool_definitions() -> Vec<(String, String, Value)> {
        super::definitions(Self::tool_router())
    }

    #[tool(
        description = "Current weather (temperature, feels-like, humidity, precipitation, wind, conditions) for a place name or coordinates."
    )]
    async fn current_weather(&self, Parameters(place): Parameters<Place>) -> ToolResult {
        let place = match self.resolve(&place).await {
            Ok(p) => p,
            Err(e) => return tool_error(e),
        };
        let query = [
            ("latitude", place.latitude.to_string()),
            ("longitude", place.longitude.to_string()),
            (
                "current",
                "temperature_2m,relative_humidity_2m,apparent_temperature,precipitation,weather_code,wind_speed_10m"
                    .into(),
            ),
            ("timezone", "auto".into()),
        ];
        let body = match self.get(&self.forecast_url, &query).await {
            Ok(b) => b,
            Err(e) => return tool_error(e),
        };
        let c = &body["current"];
        let u = &body["current_units"];
        let summary = format!(
            "{}: {} {}, feels like {} {}, {}, humidity {}{}, wind {} {}, precipitation {} {} (at {} local time)",
            place.name,
            c["temperature_2m"],
            u["temperature_2m"].as_str().unwrap_or("°C"),
            c["apparent_temperature"],
            u["apparent_temperature"].as_str().unwrap_or("°C"),
            describe(c["weather_code"].as_i64()),
            c["relative_humidity_2m"],
            u["relative_humidity_2m"].as_str().unwrap_or("%"),
            c["wind_speed_10m"],
            u["wind_speed_10m"].as_str().unwrap_or("km/h"),
            c["precipitation"],
            u["precipitation"].as_str().unwrap_or("mm"),
            c["time"].as_str().unwrap_or("?"),
        );
        let structured = json!({
            "place": place.name, "latitude": place.latitude, "longitude": place.longitude,
            "timezone": body["timezone"], "current": c, "units": u,
            "conditions": describe(c["weather_code"].as_i64()),
        });
        Ok(super::with_structured(summary, structured))
    }

    #[tool(
        description = "Daily forecast (conditions, high and low temperature, precipitation) for 1 to 16 days, for a place name or coordinates."
    )]
    async fn forecast(&self, Parameters(args): Parameters<ForecastArgs>) -> ToolResult {
        let days = args.days.unwrap_or(7);
        if !(1..=16).contains(&days) {
            return tool_error("days must be between 1 and 16");
        }
        let place = match self.resolve(&args.place).await {
            Ok(p) => p,
            Err(e) => return tool_error(e),
        };
        let query = [
            ("latitude", place.latitude.to_string()),
            ("longitude", place.longitude.to_string()),
            ("daily", "weather_code,temperature_2m_max,temperature_2m_min,precipitation_sum".into()),
            ("forecast_days", days.to_string()),
            ("timezone", "auto".into()),
        ];
        let body = match self.get(&self.forecast_url, &query).await {
            Ok(b) => b,
            Err(e) => return tool_error(e),
        };
        let d = &body["daily"];
        let dates = d["time"].as_array().cloned().unwrap_or_default();
        let mut lines = vec![format!("{}: {}-day forecast", place.name, dates.len())];
        let mut rows = Vec::new();
        for (i, date) in dates.iter().enumerate() {
            let row = json!({
                "date": date, "conditions": describe(d["weather_code"][i].as_i64()),
                "maxC": d["temperature_2m_max"][i], "minC": d["temperature_2m_min"][i],
                "precipitationMm": d["precipitation_sum"][i],
            });
            lines.push(format!(
                "{}: {}, {} to {} °C, {} mm",
                date.as_str().unwrap_or("?"),
                row["conditions"].as_str().unwrap_or("?"),
                row["minC"],
                row["maxC"],
                row["precipitationMm"]
            ));
            rows.push(row);
        }
        let structured =
            json!({ "place": place.name, "latitude": place.latitude, "longitude": place.longitude, "days": rows });
        Ok(super::with_structured(lines.join("\n"), structured))
    }
}

impl Weather {
    async fn resolve(&self, place: &Place) -> Result<Resolved, String> {
        match (&place.location, place.latitude, place.longitude) {
            (_, Some(lat), Some(lon)) => {
                if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                    return Err("latitude must be -90 to 90 and longitude -180 to 180".into());
                }
                Ok(Resolved { name: format!("{lat:.4}, {lon:.4}"), latitude: lat, longitude: lon })
            }
            (Some(name), _, _) if !name.trim().is_empty() => {
                let body = self
                    .get(
                        &self.geocoding_url,
                        &[
                            ("name", name.trim().to_string()),
                            ("count", "1".into()),
                            ("language", "en".into()),
                            ("format", "json".into()),
                        ],
                    )
                    .await?;
                // Open-Meteo omits `results` when nothing matches.
                let hit = body["results"].get(0).ok_or_else(|| format!("no place called {name:?} was found"))?;
                let label = [hit["name"].as_str(), hit["admin1"].as_str(), hit["country"].as_str()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                Ok(Resolved {
                    name: label,
                    latitude: hit["latitude"].as_f64().ok_or("the geocoding answer had no latitude")?,
                    longitude: hit["longitude"].as_f64().ok_or("the geocoding answer had no longitude")?,
                })
            }
            _ => Err("give a location, or both latitude and longitude".into()),
        }
    }

    /// GET with Open-Meteo's error shape (`{"error": true, "reason": ...}`)
    /// turned into a message.
    async fn get(&self, url: &str, query: &[(&str, String)]) -> Result<Value, String> {
        let response = self.http.get(url).query(query).send().await.map_err(|e| {
            if e.is_timeout() {
                "the weather service did not answer in time".to_string()
            } else {
                "the weather service could not be reached".to_string()
            }
        })?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|_| format!("the weather service sent an unreadable answer (HTTP {status})"))?;
        if status.as_u16() == 429 {
            return Err("the weather service is rate limiting requests; try again in a minute".into());
        }
        if !status.is_success() || body["error"] == json!(true) {
            let reason = body["reason"].as_str().unwrap_or("unknown error");
            return Err(format!("the weather service refused the request: {reason}"));
        }
        Ok(body)
    }
}

/// WMO weather interpretation codes, as Open-Meteo documents them.
fn describe(code: Option<i64>) -> &'static str {
    match code {
        Some(0) => "clear sky",
        Some(1) => "mainly clear",
        Some(2) => "partly cloudy",
        Some(3) => "overcast",
        Some(45 | 48) => "fog",
        Some(51 | 53 | 55) => "drizzle",
        Some(56 | 57) => "freezing drizzle",
        Some(61 | 63 | 65) => "rain",
        Some(66 | 67) => "freezing rain",
        Some(71 | 73 | 75) => "snow",
        Some(77) => "snow grains",
        Some(80..=82) => "rain showers",
        Some(85 | 86) => "snow showers",
        Some(95) => "thunderstorm",
        Some(96 | 99) => "thunderstorm with hail",
        _ => "unknown conditions",
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Weather {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("omnimcp-weather", env!("CARGO_PKG_VERSION")))
            .with_instructions("Weather from Open-Meteo. Give a place name or coordinates.")
    }
}

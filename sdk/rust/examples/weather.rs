//! A tool that calls an HTTP API: current weather and a daily forecast for
//! a place name, from Open-Meteo (free, no key). Shows typed arguments with
//! described fields, a typed error that becomes a tool error, and a shared
//! HTTP client.
//!
//! ```sh
//! cargo run -p omnimcp-sdk --example weather -- stdio                  # any MCP client
//! OMNIMCP_API_KEY=omni_... cargo run -p omnimcp-sdk --example weather -- deploy http://127.0.0.1:8081
//! OMNIMCP_WEBHOOK_SECRET=whsec_... cargo run -p omnimcp-sdk --example weather -- serve 127.0.0.1:8081
//! ```
//!
//! `WEATHER_GEOCODING_URL` and `WEATHER_FORECAST_URL` point it at another
//! Open-Meteo-shaped service (the tests use a fake on loopback).

use omnimcp_sdk::{NoArgs, OmniMcp, Resource, schemars::JsonSchema};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize, JsonSchema)]
struct ForecastArgs {
    /// A place name, e.g. "Paris" or "Springfield, Illinois".
    city: String,
    /// How many days of forecast, 1 to 7 (default 3).
    days: Option<u8>,
}

/// What the model gets back: small, named, in metric units.
#[derive(Serialize)]
struct Forecast {
    place: String,
    country: String,
    current_temperature_c: f64,
    current_wind_kmh: f64,
    days: Vec<Day>,
}

#[derive(Serialize)]
struct Day {
    date: String,
    min_c: f64,
    max_c: f64,
}

/// Everything that can go wrong, worded for the model reading it.
#[derive(Debug, thiserror::Error)]
enum WeatherError {
    #[error("days must be between 1 and 7, not {0}")]
    BadDays(u8),
    #[error("no place called {0:?} was found; try adding the country")]
    UnknownPlace(String),
    #[error("the weather service failed: {0}")]
    Service(#[from] reqwest::Error),
    #[error("the weather service answered something unexpected (missing {0})")]
    Unexpected(&'static str),
}

/// The Open-Meteo client: two base URLs and one connection pool.
#[derive(Clone)]
struct OpenMeteo {
    http: reqwest::Client,
    geocoding: String,
    forecast: String,
}

impl OpenMeteo {
    fn from_env() -> Self {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_string());
        OpenMeteo {
            http: reqwest::Client::new(),
            geocoding: var("WEATHER_GEOCODING_URL", "https://geocoding-api.open-meteo.com"),
            forecast: var("WEATHER_FORECAST_URL", "https://api.open-meteo.com"),
        }
    }

    async fn get(&self, base: &str, path: &str, query: &[(&str, String)]) -> Result<Value, WeatherError> {
        let url = Url::parse_with_params(&format!("{}{path}", base.trim_end_matches('/')), query)
            .map_err(|_| WeatherError::Unexpected("a valid service URL"))?;
        Ok(self.http.get(url).send().await?.error_for_status()?.json().await?)
    }

    async fn forecast(&self, args: ForecastArgs) -> Result<Forecast, WeatherError> {
        let days = args.days.unwrap_or(3);
        if !(1..=7).contains(&days) {
            return Err(WeatherError::BadDays(days));
        }
        let places =
            self.get(&self.geocoding, "/v1/search", &[("name", args.city.clone()), ("count", "1".into())]).await?;
        let place = places["results"].get(0).ok_or_else(|| WeatherError::UnknownPlace(args.city.clone()))?;
        let number = |v: &Value, what: &'static str| v.as_f64().ok_or(WeatherError::Unexpected(what));
        let (lat, lon) = (number(&place["latitude"], "latitude")?, number(&place["longitude"], "longitude")?);

        let weather = self
            .get(
                &self.forecast,
                "/v1/forecast",
                &[
                    ("latitude", lat.to_string()),
                    ("longitude", lon.to_string()),
                    ("current", "temperature_2m,wind_speed_10m".into()),
                    ("daily", "temperature_2m_min,temperature_2m_max".into()),
                    ("forecast_days", days.to_string()),
                ],
            )
            .await?;
        let daily = &weather["daily"];
        let dates = daily["time"].as_array().ok_or(WeatherError::Unexpected("daily.time"))?;
        let days = dates
            .iter()
            .enumerate()
            .map(|(i, date)| {
                Ok(Day {
                    date: date.as_str().unwrap_or_default().to_string(),
                    min_c: number(&daily["temperature_2m_min"][i], "daily.temperature_2m_min")?,
                    max_c: number(&daily["temperature_2m_max"][i], "daily.temperature_2m_max")?,
                })
            })
            .collect::<Result<_, WeatherError>>()?;
        Ok(Forecast {
            place: place["name"].as_str().unwrap_or(&args.city).to_string(),
            country: place["country"].as_str().unwrap_or_default().to_string(),
            current_temperature_c: number(&weather["current"]["temperature_2m"], "current.temperature_2m")?,
            current_wind_kmh: number(&weather["current"]["wind_speed_10m"], "current.wind_speed_10m")?,
            days,
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), omnimcp_sdk::Error> {
    // Logs go to stderr: in `stdio` mode stdout carries the protocol.
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let api = OpenMeteo::from_env();

    OmniMcp::from_env()
        .name("weather-example")
        .description("Current weather and daily forecasts by place name (Open-Meteo).")
        .category("data")
        .tags(["weather", "example"])
        .tool("forecast", "Current weather and a daily min/max forecast for a place", move |args: ForecastArgs| {
            // The handler is called once per request: clone what it needs.
            let api = api.clone();
            async move { api.forecast(args).await }
        })
        .tool("units", "The units every forecast uses", |_: NoArgs| async {
            Ok::<_, std::convert::Infallible>(serde_json::json!({"temperature": "°C", "wind": "km/h"}))
        })
        .resource(
            Resource::new("weather://attribution", "Attribution").description("Where the data comes from"),
            || async { Ok::<_, std::convert::Infallible>("Weather data by Open-Meteo.com (CC BY 4.0).") },
        )
        .run()
        .await
}

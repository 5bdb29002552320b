//! The HTTP client the official API servers share: a base URL, a bearer
//! token from the environment the platform set (the installation's config),
//! JSON in and out, and a time limit. Each server reads its API's error
//! shape itself.

use std::time::Duration;

use reqwest::{Method, header::HeaderMap};
use serde_json::Value;

#[derive(Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
    extra: HeaderMap,
}

/// An answer: status, headers, and the body as JSON (`Null` when empty or
/// not JSON).
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl ApiClient {
    /// `token_var` names the environment variable holding the token.
    pub fn new(base: String, token_var: &str, extra: HeaderMap) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("OmniMCP/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client");
        let token = std::env::var(token_var).ok().filter(|t| !t.is_empty());
        Self { base: base.trim_end_matches('/').to_string(), http, token, extra }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let mut req =
            self.http.request(method, format!("{}{path}", self.base)).headers(self.extra.clone()).query(query);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.map_err(|e| {
            if e.is_timeout() {
                "the service did not answer in time".to_string()
            } else {
                "the service could not be reached".to_string()
            }
        })?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.map_err(|_| "the service's answer was cut off".to_string())?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, headers, body })
    }
}

/// Percent-encodes one path segment (owner, repo and ids come from users).
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

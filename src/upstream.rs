//! Upstreams: where a tool call finally goes. One enum, one code path per
//! kind of MCP server.
//!
//! - [`Upstream::Callback`]: a developer-hosted server, reached with the
//!   seed's callback protocol (`POST {callbackUrl}/tools/{name}` with
//!   `{"arguments": ...}`, answers `{"success": true, "result": ...}` or
//!   `{"success": false, "error": ...}`) through the SSRF-guarded client.
//!   Every request carries `X-Webhook-Secret` (as the seed says) and a
//!   timestamp and HMAC-SHA256 signature over `"{timestamp}.{body}"`, so a
//!   receiver can verify the body and reject replays.
//! - [`Upstream::Remote`]: a remote MCP server over Streamable HTTP, in
//!   either protocol era (see [`crate::remote`]).
//! - [`Upstream::Process`]: a platform-hosted server, a child process
//!   speaking MCP over stdio, run by the [`crate::supervisor`].

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use reqwest::{
    Method,
    header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue},
};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{outbound::OutboundError, secrets::Secret, state::AppState, supervisor::LaunchSpec};

pub const SECRET_HEADER: &str = "x-webhook-secret";
pub const TIMESTAMP_HEADER: &str = "x-omnimcp-timestamp";
pub const SIGNATURE_HEADER: &str = "x-omnimcp-signature";

/// The result of a tool call that reached the upstream.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutcome {
    Ok(Value),
    /// The tool ran and reported an error (not a transport failure).
    ToolError(Value),
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the server did not answer in time")]
    Timeout,
    #[error("the server could not be reached: {0}")]
    Unavailable(String),
    #[error("the server sent an invalid response: {0}")]
    BadResponse(String),
}

impl UpstreamError {
    /// A short class for the request log.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Timeout => "upstream_timeout",
            Self::Unavailable(_) => "upstream_unavailable",
            Self::BadResponse(_) => "upstream_bad_response",
        }
    }
}

pub enum Upstream {
    Callback {
        base_url: String,
        secret: Secret,
    },
    /// A remote MCP server over Streamable HTTP.
    Remote {
        server_id: uuid::Uuid,
        url: String,
    },
    /// A platform-hosted server: a child process per (server, config).
    Process {
        server_id: uuid::Uuid,
        spec: LaunchSpec,
        config: serde_json::Map<String, Value>,
    },
}

impl Upstream {
    /// Reads a resource. Answers use the same [`ToolOutcome`]: the result,
    /// or the server's own error.
    pub async fn read_resource(&self, state: &AppState, uri: &str) -> Result<ToolOutcome, UpstreamError> {
        match self {
            Upstream::Callback { base_url, secret } => {
                let mut url = reqwest::Url::parse(&format!("{base_url}/resources"))
                    .map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
                url.query_pairs_mut().append_pair("uri", uri);
                let response = signed_request(state, secret, Method::GET, url.as_str(), None).await?;
                parse_callback_answer(response.status.as_u16(), &response.body)
            }
            Upstream::Remote { server_id, url } => {
                state.remote.read_resource(&state.outbound, *server_id, url, uri).await
            }
            Upstream::Process { server_id, spec, config } => {
                state.supervisor.read_resource(*server_id, spec, config, uri).await
            }
        }
    }
}

/// `v1=` + hex HMAC-SHA256 of `"{timestamp}.{body}"` under the secret.
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("v1={hex}")
}

impl Upstream {
    pub async fn call_tool(
        &self,
        state: &AppState,
        tool: &str,
        arguments: Value,
    ) -> Result<ToolOutcome, UpstreamError> {
        match self {
            Upstream::Callback { base_url, secret } => {
                let body = serde_json::to_vec(&json!({ "arguments": arguments })).expect("JSON serializes");
                // Tool names are `[A-Za-z0-9_-]`, safe in a path segment.
                let url = format!("{base_url}/tools/{tool}");
                let response = signed_request(state, secret, Method::POST, &url, Some(body)).await?;
                parse_callback_answer(response.status.as_u16(), &response.body)
            }
            Upstream::Remote { server_id, url } => {
                state.remote.call_tool(&state.outbound, *server_id, url, tool, arguments).await
            }
            Upstream::Process { server_id, spec, config } => {
                state.supervisor.call_tool(*server_id, spec, config, tool, arguments).await
            }
        }
    }
}

/// A callback request carrying the webhook secret, timestamp and signature.
pub async fn signed_request(
    state: &AppState,
    secret: &Secret,
    method: Method,
    url: &str,
    body: Option<Vec<u8>>,
) -> Result<crate::outbound::OutboundResponse, UpstreamError> {
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut headers = HeaderMap::new();
    let header =
        |v: &str| HeaderValue::from_str(v).map_err(|_| UpstreamError::Unavailable("invalid header value".into()));
    headers.insert(HeaderName::from_static(SECRET_HEADER), header(secret.expose())?);
    headers.insert(HeaderName::from_static(TIMESTAMP_HEADER), header(&timestamp.to_string())?);
    headers.insert(
        HeaderName::from_static(SIGNATURE_HEADER),
        header(&sign(secret.expose(), timestamp, body.as_deref().unwrap_or_default()))?,
    );
    if body.is_some() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    state.outbound.send(method, url, headers, body).await.map_err(|e| match e {
        OutboundError::Timeout(_) => UpstreamError::Timeout,
        OutboundError::TooLarge { limit } => UpstreamError::BadResponse(format!("larger than {limit} bytes")),
        other => UpstreamError::Unavailable(other.to_string()),
    })
}

/// Reads `{"success": bool, "result" | "error": ...}`.
fn parse_callback_answer(status: u16, body: &[u8]) -> Result<ToolOutcome, UpstreamError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| UpstreamError::BadResponse(format!("HTTP {status} with a body that is not JSON")))?;
    match value.get("success").and_then(Value::as_bool) {
        Some(true) => Ok(ToolOutcome::Ok(value.get("result").cloned().unwrap_or(Value::Null))),
        Some(false) => {
            Ok(ToolOutcome::ToolError(value.get("error").cloned().unwrap_or_else(|| json!("the tool failed"))))
        }
        None => Err(UpstreamError::BadResponse(format!("HTTP {status} without a boolean \"success\""))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_over_timestamp_and_body() {
        // Known answer from Python's hmac module: HMAC-SHA256("key", "1.{}").
        let sig = sign("key", 1, b"{}");
        assert_eq!(sig, "v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
        assert_ne!(sign("key", 2, b"{}"), sig);
        assert_ne!(sign("other", 1, b"{}"), sig);
    }

    #[test]
    fn callback_answers() {
        assert_eq!(
            parse_callback_answer(200, br#"{"success":true,"result":[1]}"#).unwrap(),
            ToolOutcome::Ok(json!([1]))
        );
        assert_eq!(
            parse_callback_answer(500, br#"{"success":false,"error":"boom"}"#).unwrap(),
            ToolOutcome::ToolError(json!("boom"))
        );
        assert!(parse_callback_answer(200, b"<html>").is_err());
        assert!(parse_callback_answer(200, br#"{"ok":true}"#).is_err());
    }
}

//! Developer-hosted servers: the seed's callback protocol over HTTP.
//!
//! `POST {url}/tools/{name}` and `POST {url}/prompts/{name}` with
//! `{"arguments": ...}`, `GET {url}/resources?uri=...`, `GET {url}/health`.
//! The answer is `{"success": true, "result": ...}` or `{"success": false,
//! "error": ...}`. Every request goes through the SSRF guard, never follows
//! a redirect (the secret must not travel to another host), and carries
//! `X-Webhook-Secret` (as the seed says), a timestamp, and
//! a request id unique to the request (`X-OmniMCP-Request-Id`, 32 random
//! hex digits), and `X-OmniMCP-Signature: v1=<hex>,v2=<hex>,v3=<hex>`:
//! HMAC-SHA256 under the secret of `"{timestamp}.{body}"` (v1, kept for
//! receivers built before v2), of `"{timestamp}.{METHOD}.{path and
//! query}.{body}"` (v2) and of `"{timestamp}.{request id}.{METHOD}.{path and
//! query}.{body}"` (v3). v2 lets a receiver verify what was asked of which
//! route; v3 also lets it refuse a replay inside the timestamp window (it
//! remembers the ids it has seen), which v2 cannot tell from two identical
//! calls made in the same second.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use reqwest::{
    Method,
    header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue},
};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{CallbackAnswer, Operation, Outcome, UpstreamError};
use crate::{
    outbound::{Outbound, OutboundError, OutboundResponse},
    secrets::Secret,
};

pub const SECRET_HEADER: &str = "x-webhook-secret";
pub const TIMESTAMP_HEADER: &str = "x-omnimcp-timestamp";
pub const SIGNATURE_HEADER: &str = "x-omnimcp-signature";
pub const REQUEST_ID_HEADER: &str = "x-omnimcp-request-id";

/// Hex HMAC-SHA256 under the secret of the parts joined by `.`.
fn mac(secret: &str, parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            mac.update(b".");
        }
        mac.update(part);
    }
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of `X-OmniMCP-Signature` for a request: `v1=` over the
/// timestamp and body, `v2=` over the timestamp, method, path (with its
/// query) and body, `v3=` over the timestamp, request id, method, path and
/// body.
pub fn sign(secret: &str, timestamp: u64, request_id: &str, method: &str, path_and_query: &str, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let (method, path) = (method.as_bytes(), path_and_query.as_bytes());
    let v1 = mac(secret, &[ts.as_bytes(), body]);
    let v2 = mac(secret, &[ts.as_bytes(), method, path, body]);
    let v3 = mac(secret, &[ts.as_bytes(), request_id.as_bytes(), method, path, body]);
    format!("v1={v1},v2={v2},v3={v3}")
}

/// Runs one operation as a callback.
pub async fn execute(
    outbound: &Outbound,
    base_url: &str,
    secret: &Secret,
    op: Operation,
) -> Result<Outcome, UpstreamError> {
    let (method, url, body) = match op {
        // Tool and prompt names are `[A-Za-z0-9_-]`, safe in a path segment.
        Operation::CallTool { tool, arguments } => {
            (Method::POST, format!("{base_url}/tools/{tool}"), Some(json!({ "arguments": arguments })))
        }
        Operation::GetPrompt { name, arguments } => {
            (Method::POST, format!("{base_url}/prompts/{name}"), Some(json!({ "arguments": arguments })))
        }
        Operation::ReadResource { uri } => {
            let mut url = reqwest::Url::parse(&format!("{base_url}/resources"))
                .map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
            url.query_pairs_mut().append_pair("uri", &uri);
            (Method::GET, url.to_string(), None)
        }
        // The callback protocol has no completions, skills, subscriptions
        // or tasks.
        other => return super::beyond_the_basics(&other).expect("the other operations"),
    };
    let body = body.map(|b| serde_json::to_vec(&b).expect("JSON serializes"));
    let response = signed_request(outbound, secret, method, &url, body).await?;
    parse_answer(response.status.as_u16(), &response.body)
}

/// A callback request carrying the webhook secret, timestamp and signature.
pub async fn signed_request(
    outbound: &Outbound,
    secret: &Secret,
    method: Method,
    url: &str,
    body: Option<Vec<u8>>,
) -> Result<OutboundResponse, UpstreamError> {
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let parsed =
        reqwest::Url::parse(url).map_err(|_| UpstreamError::Unavailable("the callback URL is not valid".into()))?;
    let path_and_query = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let mut headers = HeaderMap::new();
    let header =
        |v: &str| HeaderValue::from_str(v).map_err(|_| UpstreamError::Unavailable("invalid header value".into()));
    headers.insert(HeaderName::from_static(SECRET_HEADER), header(secret.expose())?);
    headers.insert(HeaderName::from_static(TIMESTAMP_HEADER), header(&timestamp.to_string())?);
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), header(&request_id)?);
    headers.insert(
        HeaderName::from_static(SIGNATURE_HEADER),
        header(&sign(
            secret.expose(),
            timestamp,
            &request_id,
            method.as_str(),
            &path_and_query,
            body.as_deref().unwrap_or_default(),
        ))?,
    );
    if body.is_some() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    outbound.send_without_redirects(method, url, headers, body).await.map_err(|e| match e {
        OutboundError::Timeout(_) => UpstreamError::Timeout,
        OutboundError::TooLarge { limit } => UpstreamError::BadResponse(format!("larger than {limit} bytes")),
        other => UpstreamError::Unavailable(other.to_string()),
    })
}

/// Whether the developer's service answers `GET {url}/health` with a 2xx.
pub async fn healthy(outbound: &Outbound, base_url: &str, secret: &Secret) -> bool {
    signed_request(outbound, secret, Method::GET, &format!("{base_url}/health"), None)
        .await
        .is_ok_and(|r| r.status.is_success())
}

/// Reads `{"success": bool, "result" | "error": ...}`. A failure is the
/// tool's own, whatever the shape of `error`: it never becomes a protocol
/// error of ours.
fn parse_answer(status: u16, body: &[u8]) -> Result<Outcome, UpstreamError> {
    if (300..400).contains(&status) {
        return Err(UpstreamError::BadResponse(format!(
            "HTTP {status}: callbacks never follow redirects (the secret goes only to the registered URL)"
        )));
    }
    parse_callback(status, body).map(Outcome::Callback)
}

fn parse_callback(status: u16, body: &[u8]) -> Result<CallbackAnswer, UpstreamError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| UpstreamError::BadResponse(format!("HTTP {status} with a body that is not JSON")))?;
    match value.get("success").and_then(Value::as_bool) {
        Some(true) => Ok(CallbackAnswer::Result(value.get("result").cloned().unwrap_or(Value::Null))),
        Some(false) => {
            Ok(CallbackAnswer::Error(value.get("error").cloned().unwrap_or_else(|| json!("the tool failed"))))
        }
        None => Err(UpstreamError::BadResponse(format!("HTTP {status} without a boolean \"success\""))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_timestamp_request_id_method_path_and_body() {
        // Known answers from Python's hmac module: HMAC-SHA256("key", "1.{}"),
        // HMAC-SHA256("key", "1.POST./tools/t.{}") and
        // HMAC-SHA256("key", "1.0123456789abcdef0123456789abcdef.POST./tools/t.{}").
        let id = "0123456789abcdef0123456789abcdef";
        let sig = sign("key", 1, id, "POST", "/tools/t", b"{}");
        assert_eq!(
            sig,
            "v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224,\
             v2=e0aac4628fcce824870dfdbf88fd0632e91c82cfd0c002e96252b8e8eaa7fab8,\
             v3=5aa2aa4861b38d7bdf3f0bdc20347e2f94d6443bb959bbfee16dcc970294f8e2"
        );
        let v3 = |s: &str| s.split_once(",v3=").unwrap().1.to_string();
        assert_ne!(v3(&sign("key", 1, "f", "POST", "/tools/t", b"{}")), v3(&sig), "the request id is covered");
        assert_ne!(v3(&sign("key", 1, id, "POST", "/tools/u", b"{}")), v3(&sig), "the path is covered");
        assert_ne!(v3(&sign("key", 1, id, "GET", "/tools/t", b"{}")), v3(&sig), "the method is covered");
        assert_ne!(v3(&sign("key", 2, id, "POST", "/tools/t", b"{}")), v3(&sig));
        assert_ne!(v3(&sign("other", 1, id, "POST", "/tools/t", b"{}")), v3(&sig));
    }

    #[test]
    fn answers_are_results_or_the_tools_own_errors() {
        assert_eq!(
            parse_callback(200, br#"{"success":true,"result":[1]}"#).unwrap(),
            CallbackAnswer::Result(json!([1]))
        );
        assert_eq!(
            parse_callback(500, br#"{"success":false,"error":"boom"}"#).unwrap(),
            CallbackAnswer::Error(json!("boom"))
        );
        // An error shaped like a JSON-RPC error is still the tool's error.
        let rpc_like = br#"{"success":false,"error":{"code":-32601,"message":"nope"}}"#;
        assert_eq!(
            parse_callback(200, rpc_like).unwrap(),
            CallbackAnswer::Error(json!({"code": -32601, "message": "nope"}))
        );
        assert!(parse_callback(200, b"<html>").is_err());
        assert!(parse_callback(200, br#"{"ok":true}"#).is_err());
    }
}

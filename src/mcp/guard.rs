//! The middleware in front of `/mcp`: DNS-rebinding checks, credentials,
//! and legacy session ownership, before rmcp sees the request; and rmcp's
//! plain-text refusals of a body turned into JSON-RPC errors after.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::MAX_BODY;
use crate::{auth, error::ApiError, serve::BodyRefusal, state::AppState};

const SESSION_HEADER: &str = "mcp-session-id";

/// A JSON-RPC error response outside any request (parse errors, limits).
fn jsonrpc_error(status: StatusCode, code: i32, message: String) -> Response {
    (status, axum::Json(json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}})))
        .into_response()
}

/// The answer to a message over [`MAX_BODY`]. The rest of the body is not
/// read, so the connection cannot carry another request: it says so.
fn too_large() -> Response {
    let mut response =
        jsonrpc_error(StatusCode::PAYLOAD_TOO_LARGE, -32600, format!("the message is larger than {MAX_BODY} bytes"));
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A JSON-RPC batch (a body that is an array): MCP has had none since
/// 2025-06-18, and 2026-07-28 has none either; an earlier client learns
/// why its batch was refused instead of reading a parse error.
fn is_batch(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

/// The guard (see the module docs). The principal travels to the handler
/// in the request's extensions.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // DNS rebinding is refused before anything else, credentials or not.
    let bound = state.leptos.site_addr;
    if let Some(refusal) =
        rebinding_refusal(request.headers(), &state.config.allowed_hosts(bound), &state.config.allowed_origins(bound))
    {
        return jsonrpc_error(StatusCode::FORBIDDEN, -32600, refusal);
    }
    let credential_sent = request.headers().contains_key(header::AUTHORIZATION);
    let principal = match auth::authenticate_mcp(&state, request.headers()).await {
        Ok(Some(principal)) => principal,
        Ok(None) => {
            let why = "sign in with OAuth (this server's metadata is in WWW-Authenticate), \
                       or send an API key as `Authorization: Bearer omni_...`";
            return unauthorized(&state, ApiError::Unauthorized(why.into()), false);
        }
        Err(e @ ApiError::Unauthorized(_)) => return unauthorized(&state, e, credential_sent),
        Err(e) => return e.into_response(),
    };
    let user = principal.user.id;
    let (mut parts, body) = request.into_parts();
    // A legacy session belongs to the user who opened it: anyone else's
    // request on it is answered as for a session that does not exist
    // (rmcp's own answer, for an id it does not know).
    let session = parts.headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(id) = &session {
        if state.mcp.owner(id).is_some_and(|owner| owner != user) {
            tracing::info!(user_id = %user, "a request on another user's MCP session; answered as unknown");
            parts.headers.insert(SESSION_HEADER, HeaderValue::from_static("not-a-session-of-yours"));
        }
    }
    let json_body = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    parts.extensions.insert(principal.clone());
    // The body is read only now, for an authenticated caller, within the
    // body timeout and the message limit.
    let timeout = std::time::Duration::from_secs(state.config.body_timeout_secs.max(1));
    let request = match crate::serve::read_body(Request::from_parts(parts, body), MAX_BODY, timeout).await {
        Ok(request) => request,
        Err(BodyRefusal::TooLarge { .. }) => return too_large(),
        Err(BodyRefusal::TimedOut(t)) => {
            let message = format!("the message did not arrive within {} s", t.as_secs());
            return jsonrpc_error(StatusCode::REQUEST_TIMEOUT, -32600, message);
        }
        Err(BodyRefusal::Unreadable) => {
            return jsonrpc_error(StatusCode::BAD_REQUEST, -32600, "the message could not be read".into());
        }
    };
    // The body is in memory now: taking it out and back copies nothing.
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY).await.unwrap_or_default();
    if is_batch(&body) {
        let why = "JSON-RPC batches are not part of MCP since protocol 2025-06-18: send one message per request";
        return jsonrpc_error(StatusCode::BAD_REQUEST, -32600, why.into());
    }
    // A token granted `mcp:read` only may not call tools: 403 with the
    // scope to ask for (step-up authorization).
    if !principal.may_call_tools && calls_tool(&body) {
        return crate::oauth::insufficient_scope(&state, crate::oauth::SCOPE_MCP);
    }
    let request = Request::from_parts(parts, axum::body::Body::from(body));
    let deleting = request.method() == http::Method::DELETE;
    let mut response = next.run(request).await;
    // A session ended: nothing to say (the official SDKs expect 200 or 204).
    if deleting && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
        // Its resource subscriptions end with it.
        if let Some(id) = &session {
            let client = crate::upstream::ClientKey::Session(id.clone());
            state.gateway.upstreams.end_client_subscriptions(user, &client).await;
        }
    }
    if session.is_none()
        && let Some(opened) = response.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok())
        && let Err(why) = state.mcp.opened(opened.to_string(), &principal).await
    {
        tracing::info!(user_id = %user, "refused a new MCP session over the cap");
        return jsonrpc_error(StatusCode::TOO_MANY_REQUESTS, crate::gateway::error::codes::RATE_LIMITED, why);
    }
    rpc_refusal(response, json_body).await
}

/// A 401 that tells an OAuth client where to sign in (RFC 9728 §5.1).
fn unauthorized(state: &AppState, error: ApiError, credential_sent: bool) -> Response {
    let mut response = error.into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, crate::oauth::challenge(state, credential_sent));
    response
}

/// Whether a message is a `tools/call` request (read only for callers
/// whose token may not call tools).
fn calls_tool(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Method<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<Method>(body).is_ok_and(|m| m.method.as_deref() == Some("tools/call"))
}

/// rmcp refuses a body it cannot read with a plain-text status; a JSON-RPC
/// client deserves a JSON-RPC error: -32700 for a body that is not a
/// JSON-RPC message, -32600 for one over the size limit.
async fn rpc_refusal(response: Response, json_body: bool) -> Response {
    match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE if json_body => {
            let text = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
            let why = String::from_utf8_lossy(&text);
            let why = why.strip_prefix("fail to deserialize request body ").unwrap_or(&why).trim();
            jsonrpc_error(StatusCode::BAD_REQUEST, -32700, format!("parse error: {why}"))
        }
        // Any other refusal rmcp answers in plain text (an unsupported
        // `MCP-Protocol-Version`, a missing `Accept`, ...): the same
        // status, with its reason as a JSON-RPC error.
        status if status.is_client_error() && !is_json_or_stream(&response) => {
            let text = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
            let why = String::from_utf8_lossy(&text);
            let reason = status.canonical_reason().unwrap_or_default();
            let why = why.strip_prefix(reason).map(|w| w.trim_start_matches(':')).unwrap_or(&why).trim();
            let why = if why.is_empty() { reason } else { why };
            jsonrpc_error(status, -32600, why.to_string())
        }
        _ => response,
    }
}

fn is_json_or_stream(response: &Response) -> bool {
    response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t.starts_with("application/json") || t.starts_with("text/event-stream")
    })
}

/// Why a request's `Host` or `Origin` is refused (DNS rebinding), if it is.
/// Hosts are compared without their port; an allowed origin ending in `:*`
/// allows any port.
pub fn rebinding_refusal(headers: &http::HeaderMap, hosts: &[String], origins: &[String]) -> Option<String> {
    if let Some(host) = headers.get(header::HOST) {
        let host = host.to_str().unwrap_or_default().to_ascii_lowercase();
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().map(|h| format!("[{h}]")).unwrap_or_default(),
            None => host.split(':').next().unwrap_or_default().to_string(),
        };
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(&name)) {
            return Some(format!("the Host header {host:?} is not allowed (see --allowed-host)"));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default().to_ascii_lowercase();
        let allowed = origins.iter().any(|o| match o.strip_suffix(":*") {
            Some(base) => {
                origin == base.to_ascii_lowercase()
                    || origin
                        .strip_prefix(&format!("{}:", base.to_ascii_lowercase()))
                        .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
            }
            None => origin == o.trim_end_matches('/').to_ascii_lowercase(),
        });
        if !allowed {
            return Some(format!("the Origin {origin:?} is not allowed (see --allowed-origin)"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(status: StatusCode, text: &'static str) -> Response {
        (status, axum::body::Body::from(text)).into_response()
    }

    #[test]
    fn rebinding_checks_host_and_origin_before_anything_else() {
        let hosts = vec!["localhost".to_string(), "127.0.0.1".to_string(), "[::1]".to_string()];
        let origins = vec!["http://localhost:*".to_string(), "https://omni.example".to_string()];
        let check = |host: Option<&str>, origin: Option<&str>| {
            let mut h = http::HeaderMap::new();
            if let Some(v) = host {
                h.insert(http::header::HOST, v.parse().unwrap());
            }
            if let Some(v) = origin {
                h.insert(http::header::ORIGIN, v.parse().unwrap());
            }
            rebinding_refusal(&h, &hosts, &origins).is_none()
        };
        assert!(check(Some("127.0.0.1:3000"), None));
        assert!(check(Some("[::1]:3000"), Some("http://localhost:5173")));
        assert!(check(Some("localhost"), Some("https://omni.example")));
        assert!(!check(Some("evil.example.com"), None));
        assert!(!check(Some("localhost.evil.example"), None));
        assert!(!check(Some("127.0.0.1:3000"), Some("http://evil.example.com")));
        assert!(!check(Some("127.0.0.1"), Some("http://localhost:80evil")));
        assert!(!check(Some("127.0.0.1"), Some("https://omni.example.evil")));
    }

    #[tokio::test]
    async fn rmcps_plain_refusals_become_jsonrpc_errors() {
        let body = |r: Response| async move {
            let bytes = axum::body::to_bytes(r.into_body(), 4096).await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        };
        let bad = plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "fail to deserialize request body expected value");
        let r = rpc_refusal(bad, true).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body(r).await["error"]["code"], -32700);
        // A body that was not sent as JSON keeps rmcp's 415.
        let r = rpc_refusal(plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type"), false).await;
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let r = rpc_refusal(plain(StatusCode::PAYLOAD_TOO_LARGE, "too large"), true).await;
        assert_eq!(r.headers()[header::CONNECTION], "close", "the unread rest of the body ends the connection");
        assert_eq!(body(r).await["error"]["code"], -32600);
        assert!(is_batch(b" \n[{\"jsonrpc\":\"2.0\"}]") && !is_batch(b"{\"a\":[1]}") && !is_batch(b""));
    }
}

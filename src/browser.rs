//! What a browser may do with us, and what we tell it.
//!
//! - [`refuse_cross_site`]: a state-changing request (anything but `GET`,
//!   `HEAD`, `OPTIONS`) that carries no `Authorization` header, so is
//!   authenticated by the ambient session cookie or is a login or
//!   registration, is refused with 403 when the browser says it comes from
//!   another site: an `Origin` that is neither ours nor configured, or
//!   `Sec-Fetch-Site: cross-site | same-site`. SameSite=Lax alone leaves
//!   login forms, same-site subdomains and old browsers open. Requests
//!   without either header (curl, SDKs) carry no ambient credentials to
//!   abuse and pass; `/mcp` has its own origin check (and takes bearer
//!   credentials only).
//! - [`headers`]: `nosniff`, `DENY` framing, a strict referrer policy, HSTS
//!   over https, and a Content-Security-Policy on every response: pages get
//!   one whose scripts need the per-response nonce leptos puts on its
//!   hydration and streaming scripts ([`page_csp`]), everything else
//!   `default-src 'none'`. Over https, any `Set-Cookie` without `Secure`
//!   gets it, whichever code set the cookie.

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::state::AppState;

/// The policy for a rendered page. Scripts: our own files and the inline
/// ones carrying this response's nonce; `'wasm-unsafe-eval'` lets the
/// hydration bundle compile (and nothing else eval). Styles: our
/// stylesheet only. No plugins, no framing, forms post only to us. Under
/// `cargo leptos watch`, the reload script's websocket port too.
pub fn page_csp(nonce: &str, reload_port: Option<u32>) -> String {
    let reload = reload_port.map(|p| format!(" ws://*:{p} wss://*:{p}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'{reload}; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy for everything that is not a page (JSON, files).
const RESOURCE_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Two years, the HSTS preload list's minimum.
const HSTS: &str = "max-age=63072000";

/// Middleware: security headers on every response; `Secure` on every
/// cookie over https.
pub async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut default = |name: header::HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    default(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    default(header::X_FRAME_OPTIONS, "DENY");
    default(header::REFERRER_POLICY, "strict-origin-when-cross-origin");
    default(header::CONTENT_SECURITY_POLICY, RESOURCE_CSP);
    if state.secure_cookies {
        default(header::STRICT_TRANSPORT_SECURITY, HSTS);
        secure_every_cookie(headers);
    }
    response
}

fn secure_every_cookie(headers: &mut HeaderMap) {
    let cookies: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).iter().cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        let has_secure =
            cookie.to_str().is_ok_and(|c| c.split(';').skip(1).any(|a| a.trim().eq_ignore_ascii_case("secure")));
        let value = if has_secure {
            cookie
        } else {
            let mut bytes = cookie.as_bytes().to_vec();
            bytes.extend_from_slice(b"; Secure");
            HeaderValue::from_bytes(&bytes).unwrap_or(cookie)
        };
        headers.append(header::SET_COOKIE, value);
    }
}

/// Middleware: refuses cross-site state-changing requests that would ride
/// on the browser's cookie (see the module documentation).
pub async fn refuse_cross_site(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_forged(&state, request.method(), request.uri().path(), request.headers()) {
        tracing::warn!(
            path = %request.uri().path(),
            origin = ?request.headers().get(header::ORIGIN),
            "refused a cross-site request"
        );
        let body = json!({"error": {
            "code": "cross_site_request",
            "message": "cross-site requests are refused: this action must come from OmniMCP's own pages, \
                        or carry an `Authorization` header",
        }});
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    next.run(request).await
}

fn is_forged(state: &AppState, method: &Method, path: &str, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || path == "/mcp"
        // OAuth endpoints for clients: no cookie is read there.
        || matches!(path, "/oauth/token" | "/oauth/register" | "/oauth/revoke")
        || headers.contains_key(header::AUTHORIZATION)
    {
        return false;
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let configured = origin.is_some_and(|o| origin_configured(state, o));
    if let Some(origin) = origin
        && !configured
        && !same_origin_as_host(origin, host)
    {
        return true;
    }
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    matches!(fetch_site, Some("cross-site" | "same-site")) && !configured
}

/// The public URL's origin, or one configured with `--allowed-origin`
/// (`scheme://host:*` matching any port).
fn origin_configured(state: &AppState, origin: &str) -> bool {
    let public = public_origin(&state.public_url);
    origin.eq_ignore_ascii_case(public)
        || state.config.allowed_origins.iter().any(|allowed| match allowed.strip_suffix(":*") {
            Some(prefix) => origin
                .get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
                .then(|| &origin[prefix.len()..])
                .is_some_and(|rest| rest.is_empty() || rest.strip_prefix(':').is_some_and(is_port)),
            None => origin.eq_ignore_ascii_case(allowed.trim_end_matches('/')),
        })
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `scheme://authority` of a URL.
fn public_origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

/// The `Origin`'s host and port are the `Host` the browser sent the
/// request to: the page is ours (whatever the scheme a proxy ended).
fn same_origin_as_host(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    match origin.split_once("://") {
        Some((scheme, authority)) if scheme == "http" || scheme == "https" => authority.eq_ignore_ascii_case(host),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_only_their_own_host() {
        assert!(same_origin_as_host("http://127.0.0.1:3000", Some("127.0.0.1:3000")));
        assert!(same_origin_as_host("https://OmniMCP.example", Some("omnimcp.example")));
        assert!(!same_origin_as_host("http://127.0.0.1:3001", Some("127.0.0.1:3000")));
        assert!(!same_origin_as_host("https://evil.example", Some("omnimcp.example")));
        assert!(!same_origin_as_host("https://omnimcp.example.evil.example", Some("omnimcp.example")));
        assert!(!same_origin_as_host("null", Some("omnimcp.example")));
        assert!(!same_origin_as_host("http://omnimcp.example", None));
        assert_eq!(public_origin("https://omnimcp.example/base"), "https://omnimcp.example");
        assert_eq!(public_origin("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
    }

    #[test]
    fn cookies_over_https_all_become_secure() {
        let mut headers = HeaderMap::new();
        headers.append(header::SET_COOKIE, HeaderValue::from_static("a=1; Path=/; HttpOnly"));
        headers.append(header::SET_COOKIE, HeaderValue::from_static("b=2; Path=/; Secure"));
        headers.append(header::SET_COOKIE, HeaderValue::from_static("secure=3; Path=/"));
        secure_every_cookie(&mut headers);
        let cookies: Vec<&str> = headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(cookies, ["a=1; Path=/; HttpOnly; Secure", "b=2; Path=/; Secure", "secure=3; Path=/; Secure"]);
    }
}

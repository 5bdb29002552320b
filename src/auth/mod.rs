//! Authentication: who is calling.
//!
//! A request is authenticated by, in order: an `Authorization: Bearer`
//! credential (an `omni_` API key or a session JWT), or the session cookie
//! the browser holds (`omni_session`; `__Host-omni_session` over https, a
//! name browsers only accept with `Secure`, `Path=/` and no `Domain`, so
//! neither plain http nor a sibling subdomain can plant or shadow it). [`Principal`] is the axum extractor every
//! protected handler takes; [`renew_session`] is the middleware that keeps a
//! browser session alive while it is used.

pub mod api_key;
pub mod password;
pub mod throttle;
pub mod token;

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, header, request::Parts},
    middleware::Next,
    response::Response,
};
use chrono::Utc;

use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
};

/// Name of the browser's session cookie over plain http (development).
pub const SESSION_COOKIE: &str = "omni_session";
/// Name of the browser's session cookie over https.
pub const SECURE_SESSION_COOKIE: &str = "__Host-omni_session";

/// The session cookie's name for a public URL's scheme.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_SESSION_COOKIE } else { SESSION_COOKIE }
}

pub use crate::identity::{AuthMethod, Principal};

/// The refusal a scoped API key gets outside MCP calls: management routes
/// and the pages' server functions need a session or an unscoped key.
pub fn require_unscoped(principal: &Principal) -> ApiResult<()> {
    if matches!(principal.method, AuthMethod::OAuth { .. }) {
        return Err(ApiError::Forbidden("an OAuth access token can only make MCP calls".into()));
    }
    if principal.is_scoped() {
        return Err(ApiError::Forbidden(
            "this API key is scoped to some installations or tools, so it can only make MCP calls; \
             sign in, or use an unscoped key, to manage your account, keys, installations and servers"
                .into(),
        ));
    }
    Ok(())
}

/// A caller allowed to manage the account: authenticated, and not a scoped
/// API key (403 otherwise). Management routes take this instead of
/// [`Principal`].
pub struct Manager(pub Principal);

impl FromRequestParts<AppState> for Manager {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        require_unscoped(&principal)?;
        Ok(Manager(principal))
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let principal = authenticate(state, &parts.headers).await?.ok_or_else(|| {
            ApiError::Unauthorized(
                "authentication required: log in, or send an API key as `Authorization: Bearer omni_...`".into(),
            )
        })?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

/// The caller, if the request carries credentials. Credentials that are
/// present but wrong (revoked key, expired or forged token) are an error,
/// not an anonymous request. OAuth access tokens are refused here: their
/// audience is `/mcp` alone ([`authenticate_mcp`]).
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<Principal>> {
    authenticate_at(state, headers, false).await
}

/// As [`authenticate`], for `/mcp`: OAuth access tokens are accepted too.
pub async fn authenticate_mcp(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<Principal>> {
    authenticate_at(state, headers, true).await
}

async fn authenticate_at(state: &AppState, headers: &HeaderMap, oauth: bool) -> ApiResult<Option<Principal>> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let credential = bearer(value).ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <API key or session token>`".into())
        })?;
        return if api_key::is_api_key(credential) {
            by_api_key(state, credential).await.map(Some)
        } else if credential.starts_with(crate::oauth::ACCESS_PREFIX) {
            if !oauth {
                return Err(ApiError::Unauthorized(
                    "an OAuth access token is accepted only by /mcp; use an API key or sign in".into(),
                ));
            }
            crate::oauth::authenticate_access(state, credential).await.map(Some)
        } else {
            by_session_token(state, credential).await.map(Some)
        };
    }
    match session_cookie(headers, session_cookie_name(state.secure_cookies)) {
        Some(token) => by_session_token(state, token).await.map(Some),
        None => Ok(None),
    }
}

fn bearer(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let (scheme, credential) = text.split_once(' ')?;
    let credential = credential.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credential.is_empty()).then_some(credential)
}

/// The value of the session cookie named `name`, if any.
pub fn session_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

async fn by_api_key(state: &AppState, key: &str) -> ApiResult<Principal> {
    let hash = api_key::hash(key);
    // Only keys that matched in the database are cached; a revoked key is
    // removed from the cache by `accounts::revoke_key`.
    let found = match state.gateway.caches.api_keys.get(&hash) {
        Some(hit) => hit,
        None => match state.db.api_key_by_hash(&hash).await? {
            Some((key, stored, user)) if api_key::hashes_match(&stored, &hash) => {
                let found = std::sync::Arc::new((key, user));
                state.gateway.caches.api_keys.put(hash, found.clone());
                found
            }
            _ => return Err(ApiError::Unauthorized("the API key is not valid or has been revoked".into())),
        },
    };
    let (key, user) = found.as_ref();
    Ok(Principal {
        user: user.clone(),
        method: AuthMethod::ApiKey { key_id: key.id },
        scope: key.scope.as_ref().map(|s| s.0.clone()),
        may_call_tools: true,
    })
}

async fn by_session_token(state: &AppState, token: &str) -> ApiResult<Principal> {
    let claims = state.tokens.verify(token).map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    match state.db.session_user(claims.sid).await? {
        Some(user) if user.id == claims.sub => Ok(Principal {
            user,
            method: AuthMethod::Session { session_id: claims.sid },
            scope: None,
            may_call_tools: true,
        }),
        _ => Err(ApiError::Unauthorized("the session has ended; log in again".into())),
    }
}

/// `Set-Cookie` value carrying a session token. HttpOnly (no script can read
/// it), SameSite=Lax (not sent on cross-site POSTs), Secure when the public
/// URL is https.
pub fn session_set_cookie(state: &AppState, token: &str) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        session_cookie_name(state.secure_cookies),
        state.tokens.ttl.num_seconds()
    )
}

/// `Set-Cookie` value that deletes the session cookie.
pub fn session_clear_cookie(state: &AppState) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}", session_cookie_name(state.secure_cookies))
}

/// Middleware: a browser session whose token is past half its life gets a
/// fresh token (and the session a new expiry) on its next request, so an
/// active user stays signed in and an idle one is signed out after the TTL.
/// Bearer clients are not renewed: they log in again or use an API key.
pub async fn renew_session(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let renewal = match (
        request.headers().get(header::AUTHORIZATION),
        session_cookie(request.headers(), session_cookie_name(state.secure_cookies)),
    ) {
        (None, Some(token)) => {
            state.tokens.verify(token).ok().filter(|claims| state.tokens.due_for_renewal(claims, Utc::now()))
        }
        _ => None,
    };
    let mut response = next.run(request).await;
    let Some(claims) = renewal else { return response };
    // A handler that already set the cookie (login, logout) wins.
    let sets_cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(session_cookie_name(state.secure_cookies).as_bytes()));
    if sets_cookie {
        return response;
    }
    let now = Utc::now();
    let (token, expires) = state.tokens.issue(claims.sub, claims.sid, now);
    match state.db.extend_session(claims.sid, expires).await {
        Ok(true) => {
            if let Ok(value) = HeaderValue::from_str(&session_set_cookie(&state, &token)) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not renew a session"),
    }
    response
}

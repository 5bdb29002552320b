//! OmniMCP as an OAuth 2.1 authorization server and resource server for
//! `/mcp`, as the MCP authorization specification (2025-11-25 and
//! 2026-07-28) asks: the LLM clients people use (claude.ai, ChatGPT, Claude
//! Desktop, VS Code, Cursor, the official SDKs) add OmniMCP by URL and sign
//! in; they cannot paste an API key.
//!
//! - Discovery: Protected Resource Metadata (RFC 9728) at
//!   `/.well-known/oauth-protected-resource[/mcp]`, Authorization Server
//!   Metadata (RFC 8414) at `/.well-known/oauth-authorization-server` and
//!   `/.well-known/openid-configuration`. A 401 from `/mcp` names the
//!   resource metadata in `WWW-Authenticate` ([`challenge`]).
//! - Clients ([`clients`]): Client ID Metadata Documents (an https URL as
//!   the client id, fetched through the SSRF guard and cached), Dynamic
//!   Client Registration (RFC 7591), and clients an administrator
//!   registers (`omnimcp admin oauth-client`).
//! - The grant ([`flow`]): authorization code with PKCE (S256 only), the
//!   signed-in user's consent on `/oauth/consent` (a page that works
//!   without JavaScript), refresh tokens rotated on every use with reuse
//!   detection (a replayed refresh token or code revokes the whole grant),
//!   revocation (RFC 7009), resource indicators (RFC 8707: tokens serve
//!   `/mcp` and nothing else), and the `iss` response parameter (RFC 9207).
//!
//! A grant is the user's consent to one client: its OAuth scopes and its
//! reach, which has the shape of an API key's scope (all installed servers,
//! or chosen installations and tools). Tokens are opaque random strings,
//! stored as SHA-256 hashes; an access token is accepted only by `/mcp`
//! ([`crate::auth::authenticate_mcp`]), never by the REST API or the pages.

pub mod clients;
pub mod flow;
pub mod providers;
pub mod remote;
pub mod upstream;

use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use serde_json::json;

use crate::{
    auth::api_key,
    error::{ApiError, ApiResult},
    identity::{AuthMethod, Principal},
    state::AppState,
};

/// The scope that lets a client use `/mcp` fully.
pub const SCOPE_MCP: &str = "mcp";
/// The scope that lets a client list and read, but not call tools.
pub const SCOPE_READ: &str = "mcp:read";
/// Every scope this server knows.
pub const SCOPES: [&str; 2] = [SCOPE_MCP, SCOPE_READ];

/// Prefixes of the opaque credentials: an access token, a refresh token,
/// an authorization code.
pub const ACCESS_PREFIX: &str = "omat_";
pub const REFRESH_PREFIX: &str = "omrt_";
pub const CODE_PREFIX: &str = "omac_";

/// The issuer: the public URL itself (no path), so the metadata lives at
/// the root well-known paths every client probes first.
pub fn issuer(state: &AppState) -> &str {
    &state.public_url
}

/// The one resource tokens are issued for: `/mcp`.
pub fn resource(state: &AppState) -> String {
    format!("{}/mcp", state.public_url)
}

/// The URL of `/mcp`'s Protected Resource Metadata.
pub fn resource_metadata_url(state: &AppState) -> String {
    format!("{}/.well-known/oauth-protected-resource/mcp", state.public_url)
}

/// A new opaque credential: the prefix and 256 random bits.
pub fn new_secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored of a credential: its SHA-256.
pub fn hash(secret: &str) -> [u8; 32] {
    api_key::hash(secret)
}

/// Routes: discovery, registration, authorization, token and revocation.
/// The consent page itself is a page of the app (`/oauth/consent`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/oauth-protected-resource", get(protected_resource))
        .route("/.well-known/oauth-protected-resource/mcp", get(protected_resource))
        .route("/.well-known/oauth-authorization-server", get(authorization_server))
        .route("/.well-known/oauth-authorization-server/mcp", get(authorization_server))
        .route("/.well-known/openid-configuration", get(authorization_server))
        .route("/.well-known/openid-configuration/mcp", get(authorization_server))
        .route("/oauth/register", post(clients::register).options(preflight))
        .route("/oauth/authorize", get(flow::authorize))
        .route("/oauth/consent", post(flow::consent))
        .route("/oauth/token", post(flow::token).options(preflight))
        .route("/oauth/revoke", post(flow::revoke).options(preflight))
        .route("/oauth/client-metadata.json", get(remote::client_metadata))
        .route("/connect/{provider}/start", get(providers::start))
        .route("/connect/{provider}/callback", get(providers::callback))
}

/// Browser-based MCP clients (the Inspector, web apps) read the metadata
/// and call the token, registration and revocation endpoints from their
/// own origin. None of them uses a cookie, so any origin may.
pub async fn cors(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let open =
        path.starts_with("/.well-known/") || matches!(path, "/oauth/register" | "/oauth/token" | "/oauth/revoke");
    let mut response = next.run(request).await;
    if open {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, mcp-protocol-version"),
        );
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    }
    response
}

async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// RFC 9728 metadata of `/mcp`.
async fn protected_resource(State(state): State<AppState>) -> Response {
    let body = json!({
        "resource": resource(&state),
        "authorization_servers": [issuer(&state)],
        "scopes_supported": SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": "OmniMCP",
        "resource_documentation": format!("{}/api-reference", state.public_url),
    });
    metadata(body)
}

/// RFC 8414 metadata (also served where OpenID Connect clients look).
async fn authorization_server(State(state): State<AppState>) -> Response {
    let base = &state.public_url;
    let body = json!({
        "issuer": issuer(&state),
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "registration_endpoint": format!("{base}/oauth/register"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{base}/api-reference"),
    });
    metadata(body)
}

fn metadata(body: serde_json::Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// The `WWW-Authenticate` challenge of a 401 from `/mcp` (RFC 9728 §5.1,
/// RFC 6750 §3): where the resource metadata is, the scope to ask for,
/// and `invalid_token` when a credential was sent and refused.
pub fn challenge(state: &AppState, credential_sent: bool) -> HeaderValue {
    let error = if credential_sent { r#", error="invalid_token""# } else { "" };
    let value = format!(r#"Bearer resource_metadata="{}", scope="{SCOPE_MCP}"{error}"#, resource_metadata_url(state));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// The 403 for a token without the scope an operation needs (step-up:
/// the client may ask the user for more).
pub fn insufficient_scope(state: &AppState, needed: &str) -> Response {
    let value = format!(
        r#"Bearer error="insufficient_scope", scope="{needed}", resource_metadata="{}", error_description="this operation needs the `{needed}` scope""#,
        resource_metadata_url(state)
    );
    let body = json!({"jsonrpc": "2.0", "id": null, "error": {
        "code": -32600,
        "message": format!("this application was allowed to list and read only; calling tools needs the `{needed}` scope: authorize it again"),
    }});
    let mut response = (StatusCode::FORBIDDEN, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The caller behind an OAuth access token presented to `/mcp`.
pub async fn authenticate_access(state: &AppState, token: &str) -> ApiResult<Principal> {
    let refused = |why: &str| ApiError::Unauthorized(why.to_string());
    let Some(access) = state.db.oauth_access(&hash(token)).await? else {
        return Err(refused("the access token is not valid or its grant was revoked; sign in again"));
    };
    if access.expires_at <= Utc::now() {
        return Err(refused("the access token has expired; use the refresh token for a new one"));
    }
    if access.grant.resource != resource(state) {
        return Err(refused("the access token was issued for another resource"));
    }
    let scopes: Vec<&str> = access.grant.scopes.split(' ').collect();
    Ok(Principal {
        may_call_tools: scopes.contains(&SCOPE_MCP),
        method: AuthMethod::OAuth { grant_id: access.grant.id },
        scope: access.grant.reach.map(|r| r.0),
        user: access.user,
    })
}

/// Sets `Cache-Control: no-store` (token responses must not be cached).
pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// An OAuth error response (RFC 6749 §5.2): `{error, error_description}`.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = if error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
        Self { status, error, description: description.into() }
    }
}

impl OAuthError {
    /// A failure of ours (logged where it happened).
    pub fn server() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "the authorization server could not complete the request".into(),
        }
    }
}

impl From<crate::db::DbError> for OAuthError {
    fn from(e: crate::db::DbError) -> Self {
        tracing::error!(error = %e, "storage error in the OAuth server");
        Self::server()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(json!({"error": self.error, "error_description": self.description}))).into_response();
        no_store(response.headers_mut());
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        }
        response
    }
}

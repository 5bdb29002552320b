//! The REST JSON API under `/api`.
//!
//! Management routes (the account, keys, installations, deploy, secret
//! rotation) take a [`Manager`]: a scoped API key gets a 403 there, since it
//! may only make MCP calls inside its scope. The marketplace is public.
//!
//! Bodies are read through [`ApiJson`], which turns every way a body can be
//! wrong into a precise error: 413 over the size limit, 415 without a JSON
//! content type, 400 for malformed JSON, 422 naming the field that is
//! missing or of the wrong type. Unknown routes get a JSON 404.

use std::net::SocketAddr;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{ConnectInfo, FromRequest, Path, Request, State, rejection::BytesRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::json;

use crate::{
    accounts::{self, SignedIn},
    auth::{Manager, session_clear_cookie, session_set_cookie},
    error::{ApiError, ApiResult},
    installations::{self, InstallationUpdate, NewInstallation},
    servers::{self, DeployRequest},
    state::AppState,
};
use app::domain::ServerStatus;

/// Largest request body `/api` accepts.
pub const BODY_LIMIT: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
        .route("/me/password", post(change_password))
        .route("/keys", get(list_keys).post(create_key))
        .route("/keys/{id}", delete(revoke_key))
        .route("/mcp/deploy", post(deploy))
        .route("/servers", get(list_servers))
        .route("/servers/{id}", get(server_detail))
        .route("/servers/{id}/rotate-secret", post(rotate_secret))
        .route("/installations", get(list_installations).post(install))
        .route("/installations/{id}", get(get_installation).patch(update_installation).delete(uninstall))
        .fallback(|| async { ApiError::NotFound("no such API endpoint".into()) })
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
}

/// A JSON body with precise errors (see the module docs).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.to_ascii_lowercase().ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit: BODY_LIMIT }
            } else {
                ApiError::Malformed(format!("could not read the request body: {e}"))
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses in two steps so syntax errors (400) and shape errors (422, with
/// the field's path) are told apart.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::Malformed(format!("the body is not valid JSON: {e}")))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names a missing field only in its message: "missing field `x`".
        let field = match inner.split('`').nth(1) {
            Some(name) if inner.starts_with("missing field") => {
                if path == "." {
                    name.to_string()
                } else {
                    format!("{path}.{name}")
                }
            }
            _ if path == "." => "body".to_string(),
            _ => path,
        };
        ApiError::InvalidField { field, message: inner }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    /// Optional reach: `{"installations": [...], "tools": ["slug.tool"]}`.
    scope: Option<crate::db::KeyScope>,
}

/// Response to register and login: the user, the token for `Authorization:
/// Bearer`, its expiry, and the browser's session cookie.
async fn signed_in(state: &AppState, status: StatusCode, signed: SignedIn) -> ApiResult<Response> {
    let user = accounts::profile(state, &signed.user).await?;
    let body = json!({
        "user": user,
        "token": signed.token,
        "expiresAt": signed.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    let mut response = (status, Json(body)).into_response();
    let cookie = HeaderValue::from_str(&session_set_cookie(state, &signed.token)).map_err(anyhow::Error::from)?;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

async fn register(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<Response> {
    let signed = accounts::register(&state, &body.email, &body.password, Some(client.ip())).await?;
    signed_in(&state, StatusCode::CREATED, signed).await
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<Response> {
    let signed = accounts::login(&state, &body.email, &body.password, Some(client.ip())).await?;
    signed_in(&state, StatusCode::OK, signed).await
}

async fn logout(State(state): State<AppState>, Manager(principal): Manager) -> ApiResult<Response> {
    accounts::logout(&state, &principal).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cookie = HeaderValue::from_str(&session_clear_cookie(&state)).map_err(anyhow::Error::from)?;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

async fn me(State(state): State<AppState>, Manager(principal): Manager) -> ApiResult<impl IntoResponse> {
    Ok(Json(accounts::profile(&state, &principal.user).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
    /// Also revoke every API key (the pages' checkbox is on by default;
    /// here it must be asked for).
    #[serde(default)]
    revoke_api_keys: bool,
}

/// `POST /api/me/password`: 204. Every session of the user ends (and every
/// API key, when asked); a browser caller gets a new session cookie so it
/// stays signed in.
async fn change_password(
    State(state): State<AppState>,
    Manager(principal): Manager,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<Response> {
    let signed = accounts::change_password(
        &state,
        &principal.user,
        &body.current_password,
        &body.new_password,
        body.revoke_api_keys,
    )
    .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if matches!(principal.method, crate::auth::AuthMethod::Session { .. }) {
        let cookie = HeaderValue::from_str(&session_set_cookie(&state, &signed.token)).map_err(anyhow::Error::from)?;
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `POST /api/servers/{id}/rotate-secret`: 200 `{webhookSecret}`, shown once.
async fn rotate_secret(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let secret = servers::rotate_webhook_secret(&state, &principal, &id).await?;
    Ok(Json(json!({ "webhookSecret": secret })))
}

async fn list_keys(State(state): State<AppState>, Manager(principal): Manager) -> ApiResult<impl IntoResponse> {
    Ok(Json(json!({ "keys": accounts::list_keys(&state, &principal.user).await? })))
}

async fn create_key(
    State(state): State<AppState>,
    Manager(principal): Manager,
    ApiJson(body): ApiJson<NewKey>,
) -> ApiResult<impl IntoResponse> {
    let created = accounts::create_key(&state, &principal.user, &body.name, body.scope).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn revoke_key(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    accounts::revoke_key(&state, &principal.user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deploy(
    State(state): State<AppState>,
    Manager(principal): Manager,
    ApiJson(body): ApiJson<DeployRequest>,
) -> ApiResult<impl IntoResponse> {
    let (created, response) = servers::deploy(&state, &principal, body).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(response)))
}

/// `GET /api/servers`: the marketplace. Query parameters: `q` (text in name
/// or description), `category`, `tag`, `hostingType`, `sort` (`popular`,
/// the default, or `newest`), `limit` (1-100, default 20) and `cursor` (the
/// `nextCursor` of the previous page). Public: browsing needs no account.
async fn list_servers(
    State(state): State<AppState>,
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> ApiResult<impl IntoResponse> {
    const KNOWN: [&str; 7] = ["q", "category", "tag", "hostingType", "sort", "limit", "cursor"];
    if let Some(unknown) = params.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::invalid(unknown, format!("unknown parameter; use {}", KNOWN.join(", "))));
    }
    let limit = match params.get("limit") {
        None => 20,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", "use a whole number from 1 to 100"))?,
    };
    let get = |k: &str| params.get(k).map(String::as_str);
    let filters = servers::MarketplaceFilters {
        q: get("q"),
        category: get("category"),
        tag: get("tag"),
        hosting_type: get("hostingType"),
        sort: get("sort"),
        cursor: get("cursor"),
    };
    let (rows, next) = servers::marketplace_page(&state, &filters, limit).await?;
    let servers: Vec<_> = rows
        .iter()
        .map(|r| {
            let s = &r.server;
            json!({
                "id": s.id, "slug": s.slug, "name": s.name, "description": s.description, "category": s.category,
                "tags": s.tags.0, "version": s.version, "hostingType": s.hosting_type, "healthStatus": s.health_status,
                "requestCount": s.request_count, "installCount": r.install_count,
            })
        })
        .collect();
    Ok(Json(json!({ "servers": servers, "nextCursor": next })))
}

/// A server's public description: tools, resources, prompts, health.
/// Disabled servers, and ids that are not ids, are "not found".
async fn server_detail(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let not_found = || ApiError::NotFound("no such server".into());
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
    let entry = state.gateway.registry.server(id).await?.ok_or_else(not_found)?;
    let s = &entry.record;
    if s.status != ServerStatus::Active {
        return Err(not_found());
    }
    let installs = state.db.installation_count(id).await?;
    Ok(Json(json!({
        "id": s.id, "slug": s.slug, "name": s.name, "description": s.description, "category": s.category,
        "tags": s.tags.0, "version": s.version, "hostingType": s.hosting_type,
        "healthStatus": s.health_status, "requestCount": s.request_count, "installCount": installs,
        "configSchema": s.config_schema.as_ref().map(|c| &c.0),
        "tools": entry.tools.iter().map(|t| json!({
            "name": t.name, "description": t.description, "inputSchema": t.parameters.0,
            "outputSchema": t.output_schema.as_ref().map(|o| &o.0),
        })).collect::<Vec<_>>(),
        "resources": entry.resources.iter().map(|r| json!({
            "uri": r.uri, "name": r.name, "description": r.description, "mimeType": r.mime_type,
        })).collect::<Vec<_>>(),
        "prompts": entry.prompts.iter().map(|p| json!({
            "name": p.name, "description": p.description, "arguments": p.arguments.0,
        })).collect::<Vec<_>>(),
    })))
}

async fn install(
    State(state): State<AppState>,
    Manager(principal): Manager,
    ApiJson(body): ApiJson<NewInstallation>,
) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(installations::install(&state, &principal.user, body).await?)))
}

async fn list_installations(
    State(state): State<AppState>,
    Manager(principal): Manager,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(json!({ "installations": installations::list(&state, &principal.user).await? })))
}

async fn get_installation(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(installations::get(&state, &principal.user, &id).await?))
}

async fn update_installation(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InstallationUpdate>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(installations::update(&state, &principal.user, &id, body).await?))
}

async fn uninstall(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    installations::uninstall(&state, &principal.user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        count: u32,
    }

    #[test]
    fn json_errors_name_the_field() {
        let field = |text: &str| match parse_json::<Body>(text.as_bytes()) {
            Err(ApiError::InvalidField { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(r#"{"email":"a"}"#), "count");
        assert_eq!(field(r#"{"email":"a","count":"x"}"#), "count");
        assert_eq!(field(r#""just a string""#), "body");
        assert!(matches!(parse_json::<Body>(b"{nope"), Err(ApiError::Malformed(_))));
    }
}

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
    extract::{ConnectInfo, FromRequest, Path, RawQuery, Request, State, rejection::BytesRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{
    accounts::{self, SignedIn},
    auth::{Manager, session_clear_cookie, session_set_cookie},
    builder,
    error::{ApiError, ApiResult, ErrorBody},
    installations::{self, InstallationUpdate, InstallationView, NewInstallation},
    openapi::{BodyRefusals, CrossSite, NotFound, SignedInOnly, Throttled},
    servers::{self, DeployRequest, DeployResponse},
    state::AppState,
};
use app::{
    domain::{HostingType, ServerStatus},
    model::{ApiKeyView, CreatedApiKey, ServerSummary, UserView},
};

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
        .route(
            "/builder/servers",
            get(list_builders)
                .post(create_builder)
                .layer(axum::extract::DefaultBodyLimit::max(builder::MAX_DEFINITION + 4096)),
        )
        .route(
            "/builder/servers/{id}",
            get(get_builder)
                .put(save_builder)
                .delete(delete_builder)
                .layer(axum::extract::DefaultBodyLimit::max(builder::MAX_DEFINITION + 4096)),
        )
        .route("/builder/servers/{id}/secrets", axum::routing::put(set_builder_secrets))
        .route("/builder/servers/{id}/test", post(test_builder))
        .route("/builder/servers/{id}/publish", post(publish_builder))
        .route("/builder/servers/{id}/unpublish", post(unpublish_builder))
        .route(
            "/builder/openapi",
            post(preview_import).layer(axum::extract::DefaultBodyLimit::max(builder::import::MAX_DOCUMENT + 4096)),
        )
        .route(
            "/builder/openapi/import",
            post(import_openapi).layer(axum::extract::DefaultBodyLimit::max(builder::import::MAX_DOCUMENT + 4096)),
        )
        .route("/openapi.json", get(crate::openapi::document))
        .fallback(|| async { ApiError::NotFound("no such API endpoint".into()) })
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
}

/// A JSON body with precise errors (see the module docs).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + utoipa::ToSchema> FromRequest<S> for ApiJson<T> {
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
        let value = json_value(&bytes)?;
        let body = from_value(&value)?;
        // serde is laxer than the document: it reads a struct from an
        // array (`"scope": [null, null]`), for one. What it accepted must
        // also be what the OpenAPI document says this body is.
        crate::openapi::conforms::<T>(&value)?;
        Ok(ApiJson(body))
    }
}

/// Parses in two steps so syntax errors (400) and shape errors (422, with
/// the field's path) are told apart.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    from_value(&json_value(bytes)?)
}

fn json_value(bytes: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::Malformed(format!("the body is not valid JSON: {e}")))
}

fn from_value<T: DeserializeOwned>(value: &Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(value).map_err(|e| shape_error(e, "body"))
}

/// A query string into `T`, every problem a 422 naming the parameter.
pub fn parse_query<T: DeserializeOwned>(query: Option<&str>) -> ApiResult<T> {
    let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|e| shape_error(e, "query"))
}

/// A 422 naming the field at fault: serde names a missing, unknown or
/// duplicate field only in its message ("missing field `x`").
fn shape_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>, whole: &str) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner().to_string();
    let named = ["missing field", "unknown field", "duplicate field"].iter().any(|p| inner.starts_with(p));
    let field = match inner.split('`').nth(1) {
        Some(name) if named => {
            // serde_path_to_error already ends the path with an unknown
            // field's name; a missing one is not in it yet.
            if path == "." || path == name {
                name.to_string()
            } else if path.ends_with(&format!(".{name}")) {
                path
            } else {
                format!("{path}.{name}")
            }
        }
        _ if path == "." => whole.to_string(),
        _ => path,
    };
    ApiError::InvalidField { field, message: inner }
}

/// An email address and a password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[schema(format = Email, example = "ada@example.com")]
    email: String,
    /// At least 10 characters.
    #[schema(format = Password, example = "correct horse battery")]
    password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for, as lists show it (1-64 characters).
    #[schema(example = "laptop")]
    name: String,
    /// What the key may reach; absent: everything the account has.
    scope: Option<crate::db::KeyScope>,
}

/// A new session: the user, the token for `Authorization: Bearer`, and when
/// it expires. The browser's session cookie is set too.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedInBody {
    user: UserView,
    /// A session token (a JWT); send it as `Authorization: Bearer <token>`.
    token: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    expires_at: String,
}

/// Response to register and login (see [`SignedInBody`]).
async fn signed_in(state: &AppState, status: StatusCode, signed: SignedIn) -> ApiResult<Response> {
    let cookie = HeaderValue::from_str(&session_set_cookie(state, &signed.token)).map_err(anyhow::Error::from)?;
    let body = SignedInBody {
        user: accounts::profile(state, &signed.user).await?,
        token: signed.token,
        expires_at: signed.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Create an account (on the free plan) and sign in.
#[utoipa::path(post, path = "/api/auth/register", tag = "account", security(()),
    request_body = Credentials,
    responses(
        (status = 201, description = "The account exists and this is its first session.", body = SignedInBody,
            headers(("set-cookie" = String, description = "The browser's session cookie"))),
        (status = 409, description = "The email address is taken (`email_taken`).", body = ErrorBody),
        BodyRefusals, CrossSite, Throttled,
    ))]
pub(crate) async fn register(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<Response> {
    let signed = accounts::register(&state, &body.email, &body.password, Some(client.ip())).await?;
    signed_in(&state, StatusCode::CREATED, signed).await
}

/// Sign in. Repeated failures for one account are answered more and more
/// slowly (up to 8 s); a correct password always gets through.
#[utoipa::path(post, path = "/api/auth/login", tag = "account", security(()),
    request_body = Credentials,
    responses(
        (status = 200, description = "A new session.", body = SignedInBody,
            headers(("set-cookie" = String, description = "The browser's session cookie"))),
        (status = 401, description = "The email address or password is incorrect.", body = ErrorBody),
        BodyRefusals, CrossSite, Throttled,
    ))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<Response> {
    let signed = accounts::login(&state, &body.email, &body.password, Some(client.ip())).await?;
    signed_in(&state, StatusCode::OK, signed).await
}

/// End the session the request was made with (an API key stays valid).
#[utoipa::path(post, path = "/api/auth/logout", tag = "account",
    responses(
        (status = 204, description = "Signed out; the session cookie is cleared.",
            headers(("set-cookie" = String, description = "Clears the session cookie"))),
        SignedInOnly,
    ))]
pub(crate) async fn logout(State(state): State<AppState>, Manager(principal): Manager) -> ApiResult<Response> {
    accounts::logout(&state, &principal).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cookie = HeaderValue::from_str(&session_clear_cookie(&state)).map_err(anyhow::Error::from)?;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The signed-in user and their plan's limits.
#[utoipa::path(get, path = "/api/me", tag = "account",
    responses((status = 200, description = "The user.", body = UserView), SignedInOnly))]
pub(crate) async fn me(State(state): State<AppState>, Manager(principal): Manager) -> ApiResult<Json<UserView>> {
    Ok(Json(accounts::profile(&state, &principal.user).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(format = Password)]
    current_password: String,
    /// At least 10 characters.
    #[schema(format = Password)]
    new_password: String,
    /// Also revoke every API key (the pages' checkbox is on by default;
    /// here it must be asked for).
    #[serde(default)]
    revoke_api_keys: bool,
}

/// Change the password. Every session of the user ends (and every API key,
/// when asked); a browser caller gets a new session cookie so it stays
/// signed in.
#[utoipa::path(post, path = "/api/me/password", tag = "account",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed."),
        BodyRefusals, SignedInOnly, Throttled,
    ))]
pub(crate) async fn change_password(
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

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSecret {
    /// `whsec_...`: shown this once; the previous secret stops working.
    webhook_secret: String,
}

/// Issue a new webhook secret for one of your developer-hosted servers.
#[utoipa::path(post, path = "/api/servers/{id}/rotate-secret", tag = "publishing",
    params(("id" = String, Path, description = "The server's id")),
    responses(
        (status = 200, description = "The new secret.", body = WebhookSecret),
        SignedInOnly, NotFound,
    ))]
pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookSecret>> {
    let webhook_secret = servers::rotate_webhook_secret(&state, &principal, &id).await?;
    Ok(Json(WebhookSecret { webhook_secret }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyList {
    keys: Vec<ApiKeyView>,
}

/// Your API keys (never the keys themselves).
#[utoipa::path(get, path = "/api/keys", tag = "keys",
    responses((status = 200, description = "Every live key.", body = KeyList), SignedInOnly))]
pub(crate) async fn list_keys(State(state): State<AppState>, Manager(principal): Manager) -> ApiResult<Json<KeyList>> {
    Ok(Json(KeyList { keys: accounts::list_keys(&state, &principal.user).await? }))
}

/// Create an API key, optionally scoped to some installations or tools.
#[utoipa::path(post, path = "/api/keys", tag = "keys",
    request_body = NewKey,
    responses(
        (status = 201, description = "The key: its full text is shown this once.", body = CreatedApiKey),
        (status = 409, description = "The account has as many keys as it may (`limit_reached`).", body = ErrorBody),
        BodyRefusals, SignedInOnly,
    ))]
pub(crate) async fn create_key(
    State(state): State<AppState>,
    Manager(principal): Manager,
    ApiJson(body): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let created = accounts::create_key(&state, &principal.user, &body.name, body.scope).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revoke an API key: it stops working at once.
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked."), SignedInOnly, NotFound))]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    accounts::revoke_key(&state, &principal.user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publish a server, or update one you published under the same name.
/// Needs an API key and a plan that may publish.
#[utoipa::path(post, path = "/api/mcp/deploy", tag = "publishing",
    request_body = DeployRequest,
    responses(
        (status = 201, description = "Published.", body = DeployResponse),
        (status = 200, description = "Updated.", body = DeployResponse),
        (status = 409, description = "A limit of the plan, or a name held by another server.", body = ErrorBody),
        BodyRefusals, SignedInOnly, Throttled,
    ))]
pub(crate) async fn deploy(
    State(state): State<AppState>,
    Manager(principal): Manager,
    ApiJson(body): ApiJson<DeployRequest>,
) -> ApiResult<(StatusCode, Json<DeployResponse>)> {
    let (created, response) = servers::deploy(&state, &principal, body).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(response)))
}

/// The marketplace's query parameters.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MarketplaceParams {
    /// Text in the name or description.
    q: Option<String>,
    category: Option<String>,
    tag: Option<String>,
    hosting_type: Option<HostingType>,
    /// `popular` (most requests first, the default) or `newest`.
    sort: Option<MarketplaceSort>,
    /// Servers per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// The marketplace's orders.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MarketplaceSort {
    Popular,
    Newest,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerPage {
    servers: Vec<ServerSummary>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// The marketplace: active servers, most used first. Public.
#[utoipa::path(get, path = "/api/servers", tag = "marketplace", security(()),
    params(MarketplaceParams),
    responses(
        (status = 200, description = "One page of servers.", body = ServerPage),
        (status = 422, description = "A parameter is unknown or out of range (`field` names it).", body = ErrorBody),
    ))]
pub(crate) async fn list_servers(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ServerPage>> {
    let params: MarketplaceParams = parse_query(query.as_deref())?;
    let limit = match params.limit {
        None => 20,
        Some(n) if (1..=100).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid("limit", "use a whole number from 1 to 100")),
    };
    let sort = params.sort.map(|s| match s {
        MarketplaceSort::Popular => "popular",
        MarketplaceSort::Newest => "newest",
    });
    let filters = servers::MarketplaceFilters {
        q: params.q.as_deref(),
        category: params.category.as_deref(),
        tag: params.tag.as_deref(),
        hosting_type: params.hosting_type.map(HostingType::as_str),
        sort,
        cursor: params.cursor.as_deref(),
    };
    let (rows, next_cursor) = servers::marketplace_page(&state, &filters, limit).await?;
    let servers = rows.iter().map(|r| servers::summary(&r.server, r.install_count)).collect();
    Ok(Json(ServerPage { servers, next_cursor }))
}

/// A server's public description.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerDescription {
    #[serde(flatten)]
    summary: ServerSummary,
    /// The JSON Schema of the settings an installation gives; `null`: none.
    #[schema(value_type = Option<Object>)]
    config_schema: Option<Value>,
    tools: Vec<ToolDescription>,
    resources: Vec<ResourceDescription>,
    prompts: Vec<PromptDescription>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolDescription {
    name: String,
    description: String,
    #[schema(value_type = Object)]
    input_schema: Value,
    #[schema(value_type = Option<Object>)]
    output_schema: Option<Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescription {
    /// The resource's URI, or an RFC 6570 template for many.
    uri: String,
    name: String,
    description: String,
    mime_type: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptDescription {
    name: String,
    description: String,
    #[schema(value_type = Vec<servers::PromptArgument>)]
    arguments: Value,
}

/// A server's public description: tools, resources, prompts, health.
/// Disabled servers, and ids that are not ids, are "not found".
#[utoipa::path(get, path = "/api/servers/{id}", tag = "marketplace", security(()),
    params(("id" = String, Path, description = "The server's id")),
    responses((status = 200, description = "The server.", body = ServerDescription), NotFound))]
pub(crate) async fn server_detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ServerDescription>> {
    let not_found = || ApiError::NotFound("no such server".into());
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
    let entry = state.gateway.registry.server(id).await?.ok_or_else(not_found)?;
    let s = &entry.record;
    if s.status != ServerStatus::Active {
        return Err(not_found());
    }
    let installs = state.db.installation_count(id).await?;
    Ok(Json(ServerDescription {
        summary: servers::summary(s, installs),
        config_schema: s.config_schema.as_ref().map(|c| c.0.clone()),
        tools: entry
            .tools
            .iter()
            .map(|t| ToolDescription {
                name: t.name.clone(),
                description: t.description.clone(),
                input_schema: t.parameters.0.clone(),
                output_schema: t.output_schema.as_ref().map(|o| o.0.clone()),
            })
            .collect(),
        resources: entry
            .resources
            .iter()
            .map(|r| ResourceDescription {
                uri: r.uri.clone(),
                name: r.name.clone(),
                description: r.description.clone(),
                mime_type: r.mime_type.clone(),
            })
            .collect(),
        prompts: entry
            .prompts
            .iter()
            .map(|p| PromptDescription {
                name: p.name.clone(),
                description: p.description.clone(),
                arguments: p.arguments.0.clone(),
            })
            .collect(),
    }))
}

/// Install a server for yourself, with its settings.
#[utoipa::path(post, path = "/api/installations", tag = "installations",
    request_body = NewInstallation,
    responses(
        (status = 201, description = "Installed.", body = InstallationView),
        (status = 409, description = "Already installed, or the plan's installation limit (`limit_reached`).",
            body = ErrorBody),
        BodyRefusals, SignedInOnly, NotFound,
    ))]
pub(crate) async fn install(
    State(state): State<AppState>,
    Manager(principal): Manager,
    ApiJson(body): ApiJson<NewInstallation>,
) -> ApiResult<(StatusCode, Json<InstallationView>)> {
    Ok((StatusCode::CREATED, Json(installations::install(&state, &principal.user, body).await?)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InstallationList {
    installations: Vec<InstallationView>,
}

/// Your installations.
#[utoipa::path(get, path = "/api/installations", tag = "installations",
    responses((status = 200, description = "Every installation.", body = InstallationList), SignedInOnly))]
pub(crate) async fn list_installations(
    State(state): State<AppState>,
    Manager(principal): Manager,
) -> ApiResult<Json<InstallationList>> {
    Ok(Json(InstallationList { installations: installations::list(&state, &principal.user).await? }))
}

/// One of your installations.
#[utoipa::path(get, path = "/api/installations/{id}", tag = "installations",
    params(("id" = String, Path, description = "The installation's id")),
    responses((status = 200, description = "The installation.", body = InstallationView), SignedInOnly, NotFound))]
pub(crate) async fn get_installation(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
) -> ApiResult<Json<InstallationView>> {
    Ok(Json(installations::get(&state, &principal.user, &id).await?))
}

/// Change an installation's settings, or turn it off and on. A secret
/// setting left out keeps its saved value.
#[utoipa::path(patch, path = "/api/installations/{id}", tag = "installations",
    params(("id" = String, Path, description = "The installation's id")),
    request_body = InstallationUpdate,
    responses(
        (status = 200, description = "The installation as saved.", body = InstallationView),
        BodyRefusals, SignedInOnly, NotFound,
    ))]
pub(crate) async fn update_installation(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InstallationUpdate>,
) -> ApiResult<Json<InstallationView>> {
    Ok(Json(installations::update(&state, &principal.user, &id, body).await?))
}

/// Uninstall: its settings and secrets are deleted.
#[utoipa::path(delete, path = "/api/installations/{id}", tag = "installations",
    params(("id" = String, Path, description = "The installation's id")),
    responses((status = 204, description = "Uninstalled."), SignedInOnly, NotFound))]
pub(crate) async fn uninstall(
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct BuilderList {
    servers: Vec<builder::BuilderView>,
}

/// Your builder servers: drafts, published and unpublished.
#[utoipa::path(get, path = "/api/builder/servers", tag = "builder",
    responses((status = 200, description = "Yours, by name.", body = BuilderList), SignedInOnly))]
pub(crate) async fn list_builders(
    State(state): State<AppState>,
    Manager(principal): Manager,
) -> ApiResult<Json<BuilderList>> {
    Ok(Json(BuilderList { servers: builder::list(&state, &principal).await? }))
}

/// Create a builder server (a draft): a name, and optionally a definition
/// (the design document's JSON is accepted as it is) to import.
#[utoipa::path(post, path = "/api/builder/servers", tag = "builder",
    request_body = builder::DraftInput,
    responses(
        (status = 201, description = "The draft.", body = builder::BuilderView),
        (status = 409, description = "You have a server of that name (`name_taken`).", body = ErrorBody),
        BodyRefusals, SignedInOnly,
    ))]
pub(crate) async fn create_builder(
    State(state): State<AppState>,
    Manager(principal): Manager,
    ApiJson(body): ApiJson<builder::DraftInput>,
) -> ApiResult<(StatusCode, Json<builder::BuilderView>)> {
    Ok((StatusCode::CREATED, Json(builder::create(&state, &principal, body).await?)))
}

/// One of your builder servers, with its draft definition (export it from
/// here), versions, secrets (names only) and what stops it from
/// publishing.
#[utoipa::path(get, path = "/api/builder/servers/{id}", tag = "builder",
    params(("id" = String, Path, description = "The builder server's id")),
    responses((status = 200, description = "The server.", body = builder::BuilderView), SignedInOnly, NotFound))]
pub(crate) async fn get_builder(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
) -> ApiResult<Json<builder::BuilderView>> {
    Ok(Json(builder::get(&state, &principal, &id).await?))
}

/// Save the draft (fields absent stay as they are). Installed users see
/// nothing of it until it is published.
#[utoipa::path(put, path = "/api/builder/servers/{id}", tag = "builder",
    params(("id" = String, Path, description = "The builder server's id")),
    request_body = builder::DraftInput,
    responses(
        (status = 200, description = "The saved draft.", body = builder::BuilderView),
        (status = 409, description = "You have a server of that name (`name_taken`).", body = ErrorBody),
        BodyRefusals, SignedInOnly, NotFound,
    ))]
pub(crate) async fn save_builder(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<builder::DraftInput>,
) -> ApiResult<Json<builder::BuilderView>> {
    Ok(Json(builder::save(&state, &principal, &id, body).await?))
}

/// Delete a builder server for good: its draft, versions and, once
/// published, the server and everyone's installations of it.
#[utoipa::path(delete, path = "/api/builder/servers/{id}", tag = "builder",
    params(("id" = String, Path, description = "The builder server's id")),
    responses((status = 204, description = "Deleted."), SignedInOnly, NotFound))]
pub(crate) async fn delete_builder(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    builder::delete(&state, &principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The publisher's secrets, by name.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretsInput {
    /// Name -> value (set) or `null` (removed). Names must be declared in
    /// the definition's `secrets`. Values are sealed and never shown again.
    secrets: std::collections::BTreeMap<String, Option<String>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SecretsSet {
    secrets: Vec<builder::SecretView>,
}

/// Set or remove the publisher's secrets (`{{secrets.NAME}}`); they take
/// effect for the next call, published or tested.
#[utoipa::path(put, path = "/api/builder/servers/{id}/secrets", tag = "builder",
    params(("id" = String, Path, description = "The builder server's id")),
    request_body = SecretsInput,
    responses(
        (status = 200, description = "Which secrets have a value.", body = SecretsSet),
        BodyRefusals, SignedInOnly, NotFound,
    ))]
pub(crate) async fn set_builder_secrets(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SecretsInput>,
) -> ApiResult<Json<SecretsSet>> {
    let values = body.secrets.into_iter().map(|(k, v)| (k, v.map(Value::String).unwrap_or(Value::Null))).collect();
    Ok(Json(SecretsSet { secrets: builder::set_secrets(&state, &principal, &id, values).await? }))
}

/// Run one of the draft's tools with sample arguments and settings: the
/// result as a client would get it, and each request as sent (secrets
/// masked) with its status, timing and response. Counts as a call.
#[utoipa::path(post, path = "/api/builder/servers/{id}/test", tag = "builder",
    params(("id" = String, Path, description = "The builder server's id")),
    request_body = builder::TestInput,
    responses(
        (status = 200, description = "How the run went (a failed request is a tool error in `result`).",
            body = builder::TestOutput),
        BodyRefusals, SignedInOnly, NotFound, Throttled,
    ))]
pub(crate) async fn test_builder(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<builder::TestInput>,
) -> ApiResult<Json<builder::TestOutput>> {
    Ok(Json(builder::test(&state, &principal, &id, body).await?))
}

/// Publish the draft as a new version: listed in the marketplace, and the
/// clients of users who installed it are told their tools changed.
#[utoipa::path(post, path = "/api/builder/servers/{id}/publish", tag = "builder",
    params(("id" = String, Path, description = "The builder server's id")),
    request_body = builder::PublishInput,
    responses(
        (status = 200, description = "Published.", body = builder::Published),
        (status = 409, description = "The version was published before (`version_exists`), or the name is \
            another server's (`name_taken`).", body = ErrorBody),
        BodyRefusals, SignedInOnly, NotFound, Throttled,
    ))]
pub(crate) async fn publish_builder(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<builder::PublishInput>,
) -> ApiResult<Json<builder::Published>> {
    Ok(Json(builder::publish(&state, &principal, &id, body).await?))
}

/// Take the server off the marketplace; installed users' calls stop until
/// it is published again.
#[utoipa::path(post, path = "/api/builder/servers/{id}/unpublish", tag = "builder",
    params(("id" = String, Path, description = "The builder server's id")),
    responses(
        (status = 204, description = "Unpublished."),
        (status = 409, description = "It is not published (`not_published`).", body = ErrorBody),
        SignedInOnly, NotFound,
    ))]
pub(crate) async fn unpublish_builder(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    builder::unpublish(&state, &principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an OpenAPI 3.0 or 3.1 document (JSON or YAML, pasted or fetched
/// from a URL through the SSRF guard; at most 2 MiB) offers: its
/// operations, to choose which become tools.
#[utoipa::path(post, path = "/api/builder/openapi", tag = "builder",
    request_body = builder::ImportSource,
    responses(
        (status = 200, description = "The document's operations.", body = builder::import::Preview),
        BodyRefusals, SignedInOnly, Throttled,
    ))]
pub(crate) async fn preview_import(
    State(state): State<AppState>,
    Manager(principal): Manager,
    ApiJson(body): ApiJson<builder::ImportSource>,
) -> ApiResult<Json<builder::import::Preview>> {
    Ok(Json(builder::preview_import(&state, &principal, body).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    server: builder::BuilderView,
    /// What the document had that could not be carried over.
    import_notes: Vec<String>,
}

/// Create a builder server (a draft) from an OpenAPI document's chosen
/// operations: one tool each.
#[utoipa::path(post, path = "/api/builder/openapi/import", tag = "builder",
    request_body = builder::ImportInput,
    responses(
        (status = 201, description = "The draft.", body = Imported),
        (status = 409, description = "You have a server of that name (`name_taken`).", body = ErrorBody),
        BodyRefusals, SignedInOnly, Throttled,
    ))]
pub(crate) async fn import_openapi(
    State(state): State<AppState>,
    Manager(principal): Manager,
    ApiJson(body): ApiJson<builder::ImportInput>,
) -> ApiResult<(StatusCode, Json<Imported>)> {
    let (server, import_notes) = builder::import(&state, &principal, body).await?;
    Ok((StatusCode::CREATED, Json(Imported { server, import_notes })))
}

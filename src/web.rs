//! The pages' side of the server: [`WebBackend`] implements the `app`
//! crate's [`Backend`] trait on top of `accounts`, `installations`,
//! `servers`, the gateway and the storage functions, so every server
//! function runs the same code as the matching REST endpoint. Like the
//! management routes, every one that acts for a user refuses a scoped API
//! key (403): such a key may only make MCP calls.

use std::{collections::HashMap, net::SocketAddr};

use app::{
    backend::{Backend, SignedIn},
    model::{
        ApiKeyView, ConnectedAppView, ConsentInstallation, ConsentView, CreatedApiKey, DashboardView, DayUsage,
        DeployedServer, DeveloperView, FormError, InstallationView, InstalledOverview, InstalledServer,
        MarketplacePage, MarketplaceQuery, PromptView, RecentRequest, ResourceView, RotatedSecret, ServerDetail,
        ServerHealth, ServerUsage, ToolView, TryOutcome, TryResult, UserView,
    },
};
use axum::extract::ConnectInfo;
use http::request::Parts;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    accounts,
    auth::{self, Principal, session_clear_cookie, session_set_cookie},
    error::ApiError,
    gateway::{GatewayError, ServerRef},
    installations::{self, InstallationUpdate, NewInstallation},
    servers,
    state::AppState,
};
use app::domain::{HealthStatus, ServerStatus};

/// Servers on one marketplace page (three rows of three on a wide screen).
const MARKETPLACE_PAGE: i64 = 12;

pub struct WebBackend(pub AppState);

fn db_error(e: crate::db::DbError) -> FormError {
    form_error(e.into())
}

/// Maps the API error to what a form shows. Internal errors are logged here
/// and reach the page only as a generic message.
fn form_error(err: ApiError) -> FormError {
    if let ApiError::Internal(e) = &err {
        tracing::error!(error = format!("{e:#}"), "internal error in a server function");
    }
    FormError {
        code: err.code().to_string(),
        message: sentence(&err.public_message()),
        field: err.field().map(str::to_string),
        status: Some(err.status().as_u16()),
    }
}

/// API messages are lower-case fragments ("use at least 10 characters");
/// next to a form field they read better as sentences.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// When a refused call may be retried, for people: the time of day within
/// a day ("14:03:12 UTC"), the date beyond ("1 Dec").
fn retry_at(now: chrono::DateTime<chrono::Utc>, after_secs: u64) -> String {
    let at = now + chrono::Duration::seconds(after_secs.min(400 * 86_400) as i64);
    if after_secs < 86_400 { at.format("%H:%M:%S UTC").to_string() } else { at.format("%-d %b").to_string() }
}

/// Turns a form's text values into the JSON the server's config schema
/// describes: numbers and booleans parsed, empty inputs left out (so a
/// required one is reported missing, and a blank secret keeps its saved
/// value on an update), unchecked checkboxes `false`. Values that do not
/// parse stay text, and the schema check names the field.
fn config_from_form(schema: Option<&Value>, form: HashMap<String, String>) -> Option<Value> {
    let props = schema.and_then(|s| s.get("properties")).and_then(Value::as_object);
    let kind = |name: &str| {
        props.and_then(|p| p.get(name)).and_then(|p| p.get("type")).and_then(|t| match t {
            Value::String(t) => Some(t.as_str()),
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
            _ => None,
        })
    };
    let mut config = Map::new();
    for (name, text) in form {
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let value = match kind(&name) {
            Some("integer") => text.parse::<i64>().map(Value::from).ok(),
            Some("number") => text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number),
            Some("boolean") => Some(Value::Bool(matches!(text, "on" | "true"))),
            Some("object" | "array") => serde_json::from_str(text).ok(),
            _ => None,
        };
        config.insert(name, value.unwrap_or_else(|| Value::String(text.to_string())));
    }
    for (name, p) in props.into_iter().flatten() {
        if p.get("type").and_then(Value::as_str) == Some("boolean") && !config.contains_key(name) {
            config.insert(name.clone(), Value::Bool(false));
        }
    }
    match (schema, config.is_empty()) {
        (None, true) => None,
        _ => Some(Value::Object(config)),
    }
}

/// What a grant reaches, in words.
fn reach_summary(reach: Option<&crate::db::KeyScope>) -> String {
    let Some(reach) = reach else { return "All installed servers".into() };
    let servers = reach.installations.as_ref().map_or(0, Vec::len);
    let mut text = format!("{} chosen server{}", servers, if servers == 1 { "" } else { "s" });
    if let Some(tools) = &reach.tools {
        text.push_str(&format!(", {} tool{}", tools.len(), if tools.len() == 1 { "" } else { "s" }));
    }
    text
}

/// The API's view as the page's model: the same JSON, so the two cannot drift.
fn installation_model(view: installations::InstallationView) -> Result<InstallationView, FormError> {
    serde_json::to_value(view).and_then(serde_json::from_value).map_err(|e| form_error(anyhow::Error::from(e).into()))
}

impl WebBackend {
    /// The signed-in user, who may act on their account (not a scoped key).
    async fn principal(&self, req: &Parts) -> Result<Principal, FormError> {
        match auth::authenticate(&self.0, &req.headers).await {
            Ok(Some(p)) => {
                auth::require_unscoped(&p).map_err(form_error)?;
                Ok(p)
            }
            Ok(None) => Err(FormError::new("unauthorized", "Your session has ended. Log in again.").with_status(401)),
            Err(e) => Err(form_error(e)),
        }
    }

    async fn signed_in(&self, signed: accounts::SignedIn) -> Result<SignedIn, FormError> {
        let user = accounts::profile(&self.0, &signed.user).await.map_err(form_error)?;
        Ok(SignedIn { user, set_cookie: session_set_cookie(&self.0, &signed.token) })
    }
}

#[async_trait::async_trait]
impl Backend for WebBackend {
    async fn register(&self, req: &Parts, email: String, password: String) -> Result<SignedIn, FormError> {
        let client = req.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let signed = accounts::register(&self.0, &email, &password, client).await.map_err(form_error)?;
        self.signed_in(signed).await
    }

    async fn login(&self, req: &Parts, email: String, password: String) -> Result<SignedIn, FormError> {
        let client = req.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let signed = accounts::login(&self.0, &email, &password, client).await.map_err(form_error)?;
        self.signed_in(signed).await
    }

    async fn logout(&self, req: &Parts) -> Result<String, FormError> {
        // Logging out with an already-dead session still clears the cookie.
        if let Ok(Some(principal)) = auth::authenticate(&self.0, &req.headers).await {
            auth::require_unscoped(&principal).map_err(form_error)?;
            accounts::logout(&self.0, &principal).await.map_err(form_error)?;
        }
        Ok(session_clear_cookie(&self.0))
    }

    async fn current_user(&self, req: &Parts) -> Result<Option<UserView>, FormError> {
        match auth::authenticate(&self.0, &req.headers).await {
            Ok(Some(p)) => {
                auth::require_unscoped(&p).map_err(form_error)?;
                accounts::profile(&self.0, &p.user).await.map(Some).map_err(form_error)
            }
            // An expired or ended session is simply "not signed in" to a page.
            Ok(None) | Err(ApiError::Unauthorized(_)) => Ok(None),
            Err(e) => Err(form_error(e)),
        }
    }

    async fn list_api_keys(&self, req: &Parts) -> Result<Vec<ApiKeyView>, FormError> {
        let p = self.principal(req).await?;
        accounts::list_keys(&self.0, &p.user).await.map_err(form_error)
    }

    async fn change_password(
        &self,
        req: &Parts,
        current: String,
        new: String,
        revoke_keys: bool,
    ) -> Result<SignedIn, FormError> {
        let p = self.principal(req).await?;
        let signed =
            accounts::change_password(&self.0, &p.user, &current, &new, revoke_keys).await.map_err(form_error)?;
        self.signed_in(signed).await
    }

    async fn rotate_webhook_secret(&self, req: &Parts, server_id: String) -> Result<RotatedSecret, FormError> {
        let p = self.principal(req).await?;
        let webhook_secret = servers::rotate_webhook_secret(&self.0, &p, &server_id).await.map_err(form_error)?;
        Ok(RotatedSecret { server_id, webhook_secret })
    }

    async fn create_api_key(&self, req: &Parts, name: String) -> Result<CreatedApiKey, FormError> {
        let p = self.principal(req).await?;
        accounts::create_key(&self.0, &p.user, &name, None).await.map_err(form_error)
    }

    async fn revoke_api_key(&self, req: &Parts, id: String) -> Result<(), FormError> {
        let p = self.principal(req).await?;
        accounts::revoke_key(&self.0, &p.user, &id).await.map_err(form_error)
    }

    async fn marketplace(&self, _req: &Parts, query: MarketplaceQuery) -> Result<MarketplacePage, FormError> {
        let filters = servers::MarketplaceFilters {
            q: query.q.as_deref(),
            category: query.category.as_deref(),
            tag: None,
            hosting_type: query.hosting_type.as_deref(),
            sort: query.sort.as_deref(),
            cursor: query.cursor.as_deref(),
        };
        let (rows, next_cursor) =
            servers::marketplace_page(&self.0, &filters, MARKETPLACE_PAGE).await.map_err(form_error)?;
        let categories = self.0.db.server_categories().await.map_err(|e| form_error(e.into()))?;
        Ok(MarketplacePage {
            servers: rows.iter().map(|r| servers::summary(&r.server, r.install_count)).collect(),
            next_cursor,
            categories,
        })
    }

    async fn server_detail(&self, req: &Parts, id: String) -> Result<ServerDetail, FormError> {
        let not_found = || form_error(ApiError::NotFound("no such server".into()));
        let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
        let entry = self.0.gateway.registry.server(id).await.map_err(db_error)?.ok_or_else(not_found)?;
        let s = &entry.record;
        if s.status != ServerStatus::Active {
            return Err(not_found());
        }
        let installs = self.0.db.installation_count(id).await.map_err(|e| form_error(e.into()))?;
        let installation_id = match auth::authenticate(&self.0, &req.headers).await {
            Ok(Some(p)) => self
                .0
                .db
                .installation_for_server(p.user.id, id)
                .await
                .map_err(|e| form_error(e.into()))?
                .map(|i| i.id.to_string()),
            _ => None,
        };
        Ok(ServerDetail {
            summary: servers::summary(s, installs),
            config_schema: s.config_schema.as_ref().map(|c| c.0.clone()),
            tools: entry
                .tools
                .iter()
                .map(|t| ToolView {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    input_schema: t.parameters.0.clone(),
                })
                .collect(),
            resources: entry
                .resources
                .iter()
                .map(|r| ResourceView {
                    uri: r.uri.clone(),
                    name: r.name.clone(),
                    description: r.description.clone(),
                    mime_type: r.mime_type.clone(),
                })
                .collect(),
            prompts: entry
                .prompts
                .iter()
                .map(|p| PromptView {
                    name: p.name.clone(),
                    description: p.description.clone(),
                    arguments: p.arguments.0.clone(),
                })
                .collect(),
            connect: match self.0.providers.get(&s.slug) {
                Some(p) => Some(app::model::ConnectOffer {
                    provider: p.name.to_string(),
                    url: crate::oauth::providers::start_url(p.slug, s.id),
                    connected: false,
                }),
                None if s.remote_auth.as_deref() == Some("oauth") => Some(app::model::ConnectOffer {
                    provider: s.name.clone(),
                    url: crate::oauth::remote::start_url(s.id),
                    connected: false,
                }),
                None => None,
            },
            installation_id,
        })
    }

    async fn install_server(
        &self,
        req: &Parts,
        server_id: String,
        config: HashMap<String, String>,
    ) -> Result<InstallationView, FormError> {
        let p = self.principal(req).await?;
        // The schema says how to read the form's text values; an unknown id
        // is left to `install`, which reports it.
        let server = match Uuid::parse_str(&server_id) {
            Ok(id) => self.0.gateway.registry.server(id).await.map_err(db_error)?,
            Err(_) => None,
        };
        let schema = server.as_ref().and_then(|s| s.record.config_schema.as_ref()).map(|s| &s.0);
        let config = config_from_form(schema, config);
        let view = installations::install(&self.0, &p.user, NewInstallation { server_id, config })
            .await
            .map_err(form_error)?;
        installation_model(view)
    }

    async fn installed(&self, req: &Parts) -> Result<InstalledOverview, FormError> {
        let p = self.principal(req).await?;
        let list = installations::list(&self.0, &p.user).await.map_err(form_error)?;
        let since = chrono::Utc::now() - chrono::Duration::days(30);
        let usage = self.0.db.usage_by_server(p.user.id, since).await.map_err(|e| form_error(e.into()))?;
        let mut servers = Vec::with_capacity(list.len());
        for view in list {
            let entry = self.0.gateway.registry.server(view.server_id).await.map_err(db_error)?;
            let (calls_30d, errors_30d) =
                usage.iter().find(|u| u.0 == view.server_id).map(|u| (u.1, u.2)).unwrap_or_default();
            let connect = entry.as_ref().and_then(|e| match self.0.providers.get(&e.record.slug) {
                Some(p) => Some(app::model::ConnectOffer {
                    provider: p.name.to_string(),
                    url: format!("/connect/{}/start?installation={}", p.slug, view.id),
                    connected: view.secrets_set.iter().any(|f| f == "token"),
                }),
                None if e.record.remote_auth.as_deref() == Some("oauth") => Some(app::model::ConnectOffer {
                    provider: e.record.name.clone(),
                    url: format!("/connect/{}/start?installation={}", crate::oauth::remote::PROVIDER, view.id),
                    connected: view.connected,
                }),
                None => None,
            });
            servers.push(InstalledServer {
                connect,
                health_status: entry.as_ref().map(|e| e.record.health_status).unwrap_or(HealthStatus::Unknown),
                config_schema: entry.as_ref().and_then(|e| e.record.config_schema.as_ref()).map(|c| c.0.clone()),
                tools: entry.as_ref().map(|e| e.tools.iter().map(|t| t.name.clone()).collect()).unwrap_or_default(),
                installation: installation_model(view)?,
                calls_30d,
                errors_30d,
            });
        }
        Ok(InstalledOverview { servers, endpoint_url: format!("{}/mcp", self.0.public_url) })
    }

    async fn update_installation(
        &self,
        req: &Parts,
        id: String,
        config: Option<HashMap<String, String>>,
        enabled: Option<bool>,
    ) -> Result<InstallationView, FormError> {
        let p = self.principal(req).await?;
        let config = match config {
            None => None,
            Some(form) => {
                let current = installations::get(&self.0, &p.user, &id).await.map_err(form_error)?;
                let entry = self.0.gateway.registry.server(current.server_id).await.map_err(db_error)?;
                let schema = entry.as_ref().and_then(|e| e.record.config_schema.as_ref()).map(|s| &s.0);
                // An empty form for a server without a schema changes nothing.
                config_from_form(schema, form).or(Some(Value::Object(Map::new())))
            }
        };
        let view = installations::update(&self.0, &p.user, &id, InstallationUpdate { config, enabled })
            .await
            .map_err(form_error)?;
        installation_model(view)
    }

    async fn uninstall(&self, req: &Parts, id: String) -> Result<(), FormError> {
        let p = self.principal(req).await?;
        installations::uninstall(&self.0, &p.user, &id).await.map_err(form_error)
    }

    async fn oauth_consent(&self, req: &Parts, request: String) -> Result<Option<ConsentView>, FormError> {
        let principal = match auth::authenticate(&self.0, &req.headers).await {
            Ok(Some(p)) => {
                auth::require_unscoped(&p).map_err(form_error)?;
                p
            }
            Ok(None) | Err(ApiError::Unauthorized(_)) => return Ok(None),
            Err(e) => return Err(form_error(e)),
        };
        let data = crate::oauth::flow::consent_view(&self.0, &principal, &request)
            .await
            .map_err(|why| FormError::new("invalid_request", why).with_status(400))?;
        let mut installations = Vec::new();
        for inst in self.0.db.list_installations(principal.user.id).await.map_err(db_error)? {
            let Some(entry) = self.0.gateway.registry.server(inst.server_id).await.map_err(db_error)? else { continue };
            let slug = &entry.record.slug;
            installations.push(ConsentInstallation {
                id: inst.id.to_string(),
                name: entry.record.name.clone(),
                tools: entry.tools.iter().map(|t| crate::gateway::names::public_name(slug, &t.name)).collect(),
            });
        }
        let redirect_host = url::Url::parse(&data.request.redirect_uri)
            .ok()
            .map(|u| match u.host_str() {
                Some(host) => u.port().map_or_else(|| host.to_string(), |p| format!("{host}:{p}")),
                None => format!("{}:", u.scheme()),
            })
            .unwrap_or_default();
        Ok(Some(ConsentView {
            request,
            consent_token: data.consent_token,
            client_name: data.client.name.clone(),
            client_id: data.client.client_id.clone(),
            identified_by: crate::oauth::flow::identified_by(&data.client),
            client_uri: data.client.client_uri.clone(),
            logo_uri: data.request.logo_uri.clone(),
            redirect_host,
            user_email: principal.user.email.clone(),
            read_only_requested: !data.request.scopes.iter().any(|s| s == crate::oauth::SCOPE_MCP),
            installations,
        }))
    }

    async fn connected_apps(&self, req: &Parts) -> Result<Vec<ConnectedAppView>, FormError> {
        let p = self.principal(req).await?;
        let apps = self.0.db.connected_apps(p.user.id).await.map_err(db_error)?;
        let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(apps
            .into_iter()
            .map(|a| {
                let client = crate::db::oauth::OAuthClient {
                    client_id: a.grant.client_id.clone(),
                    kind: a.client_kind.clone(),
                    name: a.client_name.clone(),
                    logo_uri: None,
                    client_uri: a.client_uri.clone(),
                    redirect_uris: sqlx::types::Json(Vec::new()),
                    secret_hash: None,
                    created_at: a.grant.created_at,
                    fetched_at: None,
                };
                ConnectedAppView {
                    id: a.grant.id.to_string(),
                    client_name: a.client_name,
                    identified_by: crate::oauth::flow::identified_by(&client),
                    scopes: a.grant.scopes.clone(),
                    reach: reach_summary(a.grant.reach.as_ref().map(|r| &r.0)),
                    created_at: time(a.grant.created_at),
                    last_used_at: a.grant.last_used_at.map(time),
                }
            })
            .collect())
    }

    async fn revoke_connected_app(&self, req: &Parts, id: String) -> Result<(), FormError> {
        let p = self.principal(req).await?;
        let not_found = || form_error(ApiError::NotFound("no such connected application".into()));
        let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
        match accounts::end_grant(&self.0, id, Some(p.user.id)).await.map_err(form_error)? {
            true => Ok(()),
            false => Err(not_found()),
        }
    }

    async fn builder_list(&self, req: &Parts) -> Result<Vec<app::model::BuilderSummary>, FormError> {
        let p = self.principal(req).await?;
        let views = crate::builder::list(&self.0, &p).await.map_err(form_error)?;
        Ok(views.iter().map(builder_summary).collect())
    }

    async fn builder_detail(&self, req: &Parts, id: String) -> Result<app::model::BuilderDetail, FormError> {
        let p = self.principal(req).await?;
        let view = crate::builder::get(&self.0, &p, &id).await.map_err(form_error)?;
        Ok(builder_detail(&view))
    }

    async fn builder_create(&self, req: &Parts, name: String, definition: Option<String>) -> Result<String, FormError> {
        let p = self.principal(req).await?;
        let definition = parse_definition(definition.as_deref().filter(|d| !d.trim().is_empty()))?;
        let input = crate::builder::DraftInput { name: Some(name), definition, ..Default::default() };
        Ok(crate::builder::create(&self.0, &p, input).await.map_err(form_error)?.id.to_string())
    }

    async fn builder_save(
        &self,
        req: &Parts,
        id: String,
        definition: String,
    ) -> Result<Vec<(String, String)>, FormError> {
        let p = self.principal(req).await?;
        let input =
            crate::builder::DraftInput { definition: parse_definition(Some(&definition))?, ..Default::default() };
        let view = crate::builder::save(&self.0, &p, &id, input).await.map_err(form_error)?;
        Ok(view.problems.into_iter().map(|p| (p.field, p.message)).collect())
    }

    async fn builder_secret(&self, req: &Parts, id: String, name: String, value: String) -> Result<(), FormError> {
        let p = self.principal(req).await?;
        let value = if value.is_empty() { Value::Null } else { Value::String(value) };
        let values = Map::from_iter([(name, value)]);
        crate::builder::set_secrets(&self.0, &p, &id, values).await.map_err(form_error).map(|_| ())
    }

    async fn builder_test(
        &self,
        req: &Parts,
        id: String,
        tool: String,
        arguments: String,
        config: String,
    ) -> Result<app::model::BuilderTestView, FormError> {
        let p = self.principal(req).await?;
        let object = |text: &str, field: &str| -> Result<Map<String, Value>, FormError> {
            if text.trim().is_empty() {
                return Ok(Map::new());
            }
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(FormError::new("invalid_field", "Use a JSON object, such as {\"city\": \"Oslo\"}.")
                    .with_field(field)),
            }
        };
        let input = crate::builder::TestInput {
            tool: tool.clone(),
            arguments: object(&arguments, "arguments")?,
            config: object(&config, "config")?,
        };
        let out = crate::builder::test(&self.0, &p, &id, input).await.map_err(form_error)?;
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
        Ok(app::model::BuilderTestView {
            tool,
            is_error: out.result.get("isError").and_then(Value::as_bool) == Some(true),
            result: pretty(&out.result),
            exchanges: out
                .exchanges
                .iter()
                .map(|e| app::model::ExchangeView {
                    step: e.step.clone(),
                    method: e.method.clone(),
                    url: e.url.clone(),
                    status: e.status,
                    elapsed_ms: e.elapsed_ms,
                    response: e.response.as_ref().map(pretty).unwrap_or_default(),
                })
                .collect(),
            elapsed_ms: out.elapsed_ms,
        })
    }

    async fn builder_publish(&self, req: &Parts, id: String, version: Option<String>) -> Result<String, FormError> {
        let p = self.principal(req).await?;
        let version = version.filter(|v| !v.trim().is_empty());
        let input = crate::builder::PublishInput { version };
        Ok(crate::builder::publish(&self.0, &p, &id, input).await.map_err(form_error)?.version)
    }

    async fn builder_unpublish(&self, req: &Parts, id: String) -> Result<(), FormError> {
        let p = self.principal(req).await?;
        crate::builder::unpublish(&self.0, &p, &id).await.map_err(form_error)
    }

    async fn builder_delete(&self, req: &Parts, id: String) -> Result<(), FormError> {
        let p = self.principal(req).await?;
        crate::builder::delete(&self.0, &p, &id).await.map_err(form_error)
    }

    async fn builder_import_preview(
        &self,
        req: &Parts,
        document: Option<String>,
        url: Option<String>,
    ) -> Result<app::model::ImportPreviewView, FormError> {
        let p = self.principal(req).await?;
        let (document, url) = import_source(document, url);
        let source = crate::builder::ImportSource { document, url };
        let preview = crate::builder::preview_import(&self.0, &p, source).await.map_err(form_error)?;
        Ok(app::model::ImportPreviewView {
            title: preview.title,
            base_url: preview.base_url,
            operations: preview.operations.into_iter().map(|o| (o.name, o.method, o.path, o.summary)).collect(),
            problems: preview.problems,
        })
    }

    async fn builder_import(
        &self,
        req: &Parts,
        document: Option<String>,
        url: Option<String>,
        name: String,
        operations: Vec<String>,
        base_url: Option<String>,
    ) -> Result<String, FormError> {
        let p = self.principal(req).await?;
        let (document, url) = import_source(document, url);
        let input = crate::builder::ImportInput {
            document,
            url,
            name,
            description: None,
            category: None,
            operations,
            base_url: base_url.filter(|b| !b.trim().is_empty()),
            credentials: Default::default(),
        };
        let (view, _) = crate::builder::import(&self.0, &p, input).await.map_err(form_error)?;
        Ok(view.id.to_string())
    }

    async fn try_tool(
        &self,
        req: &Parts,
        server: String,
        tool: String,
        arguments: String,
    ) -> Result<TryResult, FormError> {
        let p = self.principal(req).await?;
        let arguments_text = arguments.clone();
        let arguments: Value = match arguments.trim() {
            "" => Value::Object(Map::new()),
            text => serde_json::from_str(text)
                .map_err(|e| form_error(ApiError::invalid("arguments", format!("not valid JSON: {e}"))))?,
        };
        let Value::Object(arguments) = arguments else {
            return Err(form_error(ApiError::invalid("arguments", "the arguments must be a JSON object")));
        };
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
        // What the pipeline refused or the server failed is the call's
        // outcome, shown as such; anything else is the form's mistake.
        let called = crate::mcp::rest::call_tool(&self.0, p, &ServerRef::parse(&server), &tool, arguments).await;
        let outcome = match called.and_then(|(outcome, _rate)| crate::mcp::rest::shown(outcome)) {
            Ok((true, v)) => TryOutcome::Success { output: pretty(&v) },
            Ok((false, v)) => TryOutcome::ToolError { output: pretty(&v) },
            Err(e @ (GatewayError::RateLimited { .. } | GatewayError::QuotaExceeded { .. })) => {
                let retry_after_secs = e.retry_after().unwrap_or(60);
                TryOutcome::Limited {
                    message: sentence(&e.to_string()),
                    retry_after_secs,
                    retry_at: retry_at(chrono::Utc::now(), retry_after_secs),
                }
            }
            Err(e @ (GatewayError::Upstream(_) | GatewayError::Misconfigured(_))) => TryOutcome::Unavailable {
                timed_out: matches!(e, GatewayError::Upstream(crate::upstream::UpstreamError::Timeout)),
                message: sentence(&e.to_string()),
            },
            Err(e) => return Err(form_error(e.into())),
        };
        Ok(TryResult { tool: format!("{server}.{tool}"), arguments: arguments_text, outcome })
    }

    async fn api_reference(&self) -> Result<app::model::ApiReference, FormError> {
        Ok(crate::openapi::reference())
    }

    async fn dashboard(&self, req: &Parts) -> Result<DashboardView, FormError> {
        use chrono::{Duration, Utc};
        let p = self.principal(req).await?;
        let db = &self.0.db;
        let internal = |e: crate::db::DbError| form_error(e.into());
        let now = Utc::now();
        let today = now.date_naive();
        let today_start = today.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        let since = today_start - Duration::days(29);
        let tier = db.tier(&p.user.subscription_tier).await.map_err(internal)?;

        let by_day = db.daily_usage(p.user.id, since).await.map_err(internal)?;
        let daily: Vec<DayUsage> = (0..30)
            .map(|i| {
                let date = (today - Duration::days(29 - i)).format("%Y-%m-%d").to_string();
                let (calls, errors) = by_day.iter().find(|d| d.0 == date).map(|d| (d.1, d.2)).unwrap_or_default();
                DayUsage { date, calls, errors }
            })
            .collect();
        let calls_30d: i64 = daily.iter().map(|d| d.calls).sum();
        let errors_30d: i64 = daily.iter().map(|d| d.errors).sum();
        // Nearest-rank percentiles over the same 30 days.
        let percentile = |q: f64| ((calls_30d as f64 * q).ceil() as i64 - 1).max(0);
        let (p50_ms, p95_ms) = if calls_30d == 0 {
            (None, None)
        } else {
            (
                db.response_time_at(p.user.id, since, percentile(0.50)).await.map_err(internal)?,
                db.response_time_at(p.user.id, since, percentile(0.95)).await.map_err(internal)?,
            )
        };

        let mut servers = Vec::new();
        for view in installations::list(&self.0, &p.user).await.map_err(form_error)? {
            let health = self.0.gateway.registry.server(view.server_id).await.map_err(db_error)?;
            servers.push(ServerHealth {
                server_id: view.server_id.to_string(),
                name: view.server_name.clone(),
                slug: view.server_slug.clone(),
                health_status: health.map(|e| e.record.health_status).unwrap_or(HealthStatus::Unknown),
                enabled: view.enabled,
            });
        }
        // Names of every server in the usage and the recent calls (one
        // registry read each; servers called but since uninstalled included).
        let usage = db.usage_by_server(p.user.id, since).await.map_err(internal)?;
        let logs = db.recent_request_logs(p.user.id, 10).await.map_err(internal)?;
        let mut names: HashMap<Uuid, (String, String)> = HashMap::new();
        for id in usage.iter().map(|u| u.0).chain(logs.iter().filter_map(|l| l.server_id)) {
            if !names.contains_key(&id) {
                let found = self.0.gateway.registry.server(id).await.map_err(db_error)?;
                let name = found.map(|e| (e.record.name.clone(), e.record.slug.clone())).unwrap_or_default();
                names.insert(id, name);
            }
        }
        let mut per_server: Vec<ServerUsage> = usage
            .into_iter()
            .map(|(id, calls, errors)| {
                let (name, slug) = names.get(&id).cloned().unwrap_or_default();
                ServerUsage { name, slug, calls, errors }
            })
            .collect();
        per_server.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));
        let recent = logs
            .into_iter()
            .map(|log| RecentRequest {
                at: log.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                server: log.server_id.and_then(|id| names.get(&id)).map(|n| n.1.clone()).unwrap_or_default(),
                tool: log.tool_name,
                request_type: log.request_type,
                status: log.status,
                error_class: log.error_class,
                response_time_ms: log.response_time_ms,
            })
            .collect();
        Ok(DashboardView {
            calls_today: daily.last().map(|d| d.calls).unwrap_or_default(),
            calls_this_month: db
                .count_requests_since(p.user.id, crate::db::month_start(now))
                .await
                .map_err(internal)?,
            monthly_quota: tier.map(|t| t.requests_per_month).unwrap_or_default(),
            calls_30d,
            errors_30d,
            p50_ms,
            p95_ms,
            daily,
            per_server,
            recent,
            servers,
        })
    }

    async fn developer(&self, req: &Parts) -> Result<DeveloperView, FormError> {
        let p = self.principal(req).await?;
        let db = &self.0.db;
        let internal = |e: crate::db::DbError| form_error(e.into());
        let since = chrono::Utc::now() - chrono::Duration::days(30);
        let tier = db.tier(&p.user.subscription_tier).await.map_err(internal)?;
        let mut servers = Vec::new();
        for s in db.servers_of_owner(p.user.id).await.map_err(internal)? {
            let installs = db.installation_count(s.id).await.map_err(internal)?;
            let (calls_30d, errors_30d) = db.server_usage_since(s.id, since).await.map_err(internal)?;
            let tools = db.server_tools(s.id).await.map_err(internal)?.into_iter().map(|t| t.name).collect();
            let recent = db
                .recent_server_calls(s.id, 5)
                .await
                .map_err(internal)?
                .into_iter()
                .map(|call| RecentRequest {
                    at: call.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    server: s.slug.clone(),
                    tool: call.tool_name,
                    request_type: call.request_type,
                    status: call.status,
                    error_class: call.error_class,
                    response_time_ms: call.response_time_ms,
                })
                .collect();
            servers.push(DeployedServer {
                summary: servers::summary(&s, installs),
                endpoint: s.callback_url.clone().or_else(|| s.remote_url.clone()),
                last_health_check_at: s
                    .last_health_check_at
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                tools,
                calls_30d,
                errors_30d,
                recent,
            });
        }
        Ok(DeveloperView {
            servers,
            can_publish: tier.is_some_and(|t| t.can_publish),
            deploy_url: format!("{}/api/mcp/deploy", self.0.public_url),
        })
    }
}

/// A definition typed into a form: JSON, or a form error on its field.
fn parse_definition(text: Option<&str>) -> Result<Option<Value>, FormError> {
    text.map(|t| {
        serde_json::from_str::<Value>(t).map_err(|e| {
            FormError::new("invalid_field", format!("The definition is not valid JSON: {e}.")).with_field("definition")
        })
    })
    .transpose()
}

/// A form's document and URL fields: blank ones are absent.
fn import_source(document: Option<String>, url: Option<String>) -> (Option<String>, Option<String>) {
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    (given(document), given(url))
}

fn builder_summary(v: &crate::builder::BuilderView) -> app::model::BuilderSummary {
    app::model::BuilderSummary {
        id: v.id.to_string(),
        name: v.name.clone(),
        description: v.description.clone(),
        state: v.state.to_string(),
        published_version: v.published_version.clone(),
        tools: v.definition.tools.iter().map(|t| t.name.clone()).collect(),
        install_count: v.install_count,
        request_count: v.request_count,
        updated_at: v.updated_at.to_rfc3339(),
        problems: v.problems.iter().map(|p| (p.field.clone(), p.message.clone())).collect(),
    }
}

fn builder_detail(v: &crate::builder::BuilderView) -> app::model::BuilderDetail {
    use crate::builder::definition::Step;
    use app::model::{FlowNode, FlowView};
    let node = |kind: &str, label: String, detail: String| FlowNode { kind: kind.into(), label, detail };
    let flows = v
        .definition
        .tools
        .iter()
        .map(|t| {
            let schema = crate::builder::definition::input_schema(t);
            let args: Vec<String> = schema
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            let sample: Map<String, Value> = args.iter().map(|a| (a.clone(), Value::String(String::new()))).collect();
            let mut nodes = vec![node(
                "start",
                "Start".into(),
                if args.is_empty() { "no arguments".into() } else { args.join(", ") },
            )];
            for (i, step) in t.all_steps().enumerate() {
                nodes.push(match step {
                    Step::HttpRequest { id, config } => node(
                        "http_request",
                        format!("HTTP request · {}", id.clone().unwrap_or_else(|| format!("step{}", i + 1))),
                        format!("{} {}", config.method.to_ascii_uppercase(), config.url),
                    ),
                    Step::Transform { id, mapping } => node(
                        "transform",
                        format!("Transform · {}", id.clone().unwrap_or_else(|| format!("step{}", i + 1))),
                        mapping
                            .as_object()
                            .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
                            .unwrap_or_default(),
                    ),
                });
            }
            let returns = match t.response_mapping.as_ref().and_then(Value::as_object) {
                Some(m) => m.keys().cloned().collect::<Vec<_>>().join(", "),
                None => "the whole response".into(),
            };
            nodes.push(node("return", "Return".into(), returns));
            FlowView {
                tool: t.name.clone(),
                description: t.description.clone(),
                nodes,
                sample_arguments: serde_json::to_string_pretty(&sample).unwrap_or_default(),
            }
        })
        .collect();
    app::model::BuilderDetail {
        summary: builder_summary(v),
        definition: serde_json::to_string_pretty(&v.definition).unwrap_or_default(),
        flows,
        secrets: v.secrets.iter().map(|s| (s.name.clone(), s.set)).collect(),
        settings: v.definition.settings.iter().map(|s| s.name.clone()).collect(),
        versions: v.versions.iter().map(|x| (x.version.clone(), x.published_at.to_rfc3339())).collect(),
        server_url: (v.state != "draft").then(|| format!("/marketplace/{}", v.id)),
    }
}

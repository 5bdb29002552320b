//! Installations: a user's copy of an MCP server, with their own
//! configuration (credentials) encrypted at rest.
//!
//! The config is validated against the server's config JSON Schema, sealed
//! with the master key (bound to the installation's id), and never returned
//! in full again: fields the schema marks secret (`writeOnly`, or
//! `format: password`) come back only as "set".

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    crypto::aad,
    db::{DbError, InstallationRecord, ServerRecord},
    error::{ApiError, ApiResult},
    gateway::registry::compile_schema,
    state::AppState,
};
use app::domain::ServerStatus;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewInstallation {
    pub server_id: String,
    /// Settings as the server's `configSchema` describes them.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstallationUpdate {
    /// The settings, whole; a secret left out keeps its saved value.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    pub enabled: Option<bool>,
}

/// An installation as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstallationView {
    pub id: Uuid,
    pub server_id: Uuid,
    pub server_name: String,
    pub server_slug: String,
    pub enabled: bool,
    /// Non-secret settings as saved.
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// Secret fields that have a value (their values are never returned).
    pub secrets_set: Vec<String>,
    /// Whether the installation holds an OAuth access token for its remote
    /// server (connected with `GET /connect/mcp/start?installation=ID`).
    pub connected: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// Largest config accepted, serialized.
const MAX_CONFIG_BYTES: usize = 16 * 1024;

fn not_found() -> ApiError {
    ApiError::NotFound("no such installation".into())
}

/// Names of the schema's secret properties.
fn secret_fields(schema: Option<&Value>) -> Vec<String> {
    let Some(props) = schema.and_then(|s| s.get("properties")).and_then(Value::as_object) else { return vec![] };
    props
        .iter()
        .filter(|(_, p)| {
            p.get("writeOnly").and_then(Value::as_bool) == Some(true)
                || p.get("format").and_then(Value::as_str) == Some("password")
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// What is wrong with a setting, without its value (jsonschema's own
/// messages quote the value: `"ghp_..." is shorter than 40 characters`).
fn describe_violation(kind: &jsonschema::error::ValidationErrorKind) -> String {
    use jsonschema::error::{TypeKind, ValidationErrorKind as K};
    match kind {
        K::Type { kind: TypeKind::Single(t) } => format!("use a {t}"),
        K::Type { kind: TypeKind::Multiple(ts) } => {
            format!("use one of these types: {}", ts.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", "))
        }
        K::MinLength { limit } => format!("use at least {limit} characters"),
        K::MaxLength { limit } => format!("use at most {limit} characters"),
        K::Pattern { pattern } => format!("use the expected form (the pattern {pattern})"),
        K::Format { format } => format!("use a valid {format}"),
        K::Enum { options } => format!("use one of: {options}"),
        K::Constant { expected_value } => format!("use {expected_value}"),
        K::Minimum { limit } => format!("use at least {limit}"),
        K::Maximum { limit } => format!("use at most {limit}"),
        K::ExclusiveMinimum { limit } => format!("use more than {limit}"),
        K::ExclusiveMaximum { limit } => format!("use less than {limit}"),
        K::AdditionalProperties { unexpected } => format!("unknown settings: {}", unexpected.join(", ")),
        K::Required { property } => format!("the setting {property} is required"),
        K::MinItems { limit } => format!("use at least {limit} items"),
        K::MaxItems { limit } => format!("use at most {limit} items"),
        _ => "this value does not fit the server's configuration schema".into(),
    }
}

/// Checks a config against the server's schema and returns it serialized.
fn validate_config(server: &ServerRecord, config: Option<Value>) -> ApiResult<Option<Vec<u8>>> {
    let schema = server.config_schema.as_ref().map(|s| &s.0);
    let config = match (schema, config) {
        (None, None) => return Ok(None),
        (None, Some(Value::Object(m))) if m.is_empty() => return Ok(None),
        (None, Some(_)) => return Err(ApiError::invalid("config", "this server takes no configuration")),
        (Some(_), None) => Value::Object(Map::new()),
        (Some(_), Some(c)) => c,
    };
    if !config.is_object() {
        return Err(ApiError::invalid("config", "the configuration must be a JSON object"));
    }
    let validator =
        compile_schema(schema.expect("schema present")).map_err(|e| anyhow::anyhow!("stored config schema: {e}"))?;
    if let Some(err) = validator.iter_errors(&config).next() {
        let path = err.instance_path().to_string();
        let mut field =
            if path.is_empty() { "config".to_string() } else { format!("config{}", path.replace('/', ".")) };
        // Never the value itself: it may be a secret, and a form without
        // JavaScript carries the error in its redirect URL.
        let mut message = describe_violation(err.kind());
        // A missing required setting is named as the setting itself, so a
        // form can show the error next to its input.
        if let jsonschema::error::ValidationErrorKind::Required { property } = err.kind() {
            if let Some(name) = property.as_str() {
                field = format!("{field}.{name}");
                message = "enter a value: this setting is required".into();
            }
        }
        return Err(ApiError::InvalidField { field, message });
    }
    let bytes = serde_json::to_vec(&config).map_err(anyhow::Error::from)?;
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(ApiError::invalid("config", format!("the configuration is larger than {MAX_CONFIG_BYTES} bytes")));
    }
    Ok(Some(bytes))
}

/// The decrypted config of an installation.
fn open_config(state: &AppState, inst: &InstallationRecord) -> ApiResult<Map<String, Value>> {
    Ok(state
        .sealer
        .open_config(inst.config_enc.as_deref(), inst.id)
        .map_err(|e| anyhow::anyhow!("installation {}: {e}", inst.id))?)
}

fn view(state: &AppState, inst: &InstallationRecord, server: &ServerRecord) -> ApiResult<InstallationView> {
    let mut config = open_config(state, inst)?;
    let secrets = secret_fields(server.config_schema.as_ref().map(|s| &s.0));
    let secrets_set = secrets.iter().filter(|k| config.remove(k.as_str()).is_some()).cloned().collect();
    Ok(InstallationView {
        id: inst.id,
        server_id: server.id,
        server_name: server.name.clone(),
        server_slug: server.slug.clone(),
        enabled: inst.enabled,
        config,
        secrets_set,
        connected: inst.access_token_enc.is_some(),
        created_at: inst.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

async fn server_for(state: &AppState, id: Uuid) -> ApiResult<ServerRecord> {
    Ok(state
        .gateway
        .registry
        .server(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such server".into()))?
        .record
        .clone())
}

pub async fn install(state: &AppState, user: &crate::db::User, req: NewInstallation) -> ApiResult<InstallationView> {
    let server_id = Uuid::parse_str(&req.server_id).map_err(|_| ApiError::NotFound("no such server".into()))?;
    let server = server_for(state, server_id).await?;
    if server.status != ServerStatus::Active {
        return Err(ApiError::NotFound("no such server".into()));
    }
    let config = validate_config(&server, req.config)?;
    let tier = state.db.tier(&user.subscription_tier).await?.ok_or_else(|| anyhow::anyhow!("unknown tier"))?;
    // The id is chosen first so the sealed config is bound to it.
    let id = Uuid::now_v7();
    let sealed = config.map(|c| state.sealer.seal(&c, &aad::installation_config(id)));
    let created = state
        .db
        .create_installation(
            id,
            user.id,
            server.id,
            sealed.as_deref(),
            Some(state.sealer.current_key_id()),
            tier.max_installations,
        )
        .await;
    let inst = match created {
        Ok(Some(inst)) => inst,
        Ok(None) => {
            return Err(ApiError::Forbidden(format!(
                "the {} plan allows {} installed servers; uninstall one first",
                tier.name, tier.max_installations
            )));
        }
        Err(DbError::Conflict) => {
            return Err(ApiError::Conflict {
                code: "already_installed",
                message: "this server is already installed".into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(user_id = %user.id, server_id = %server.id, installation_id = %inst.id, "server installed");
    state.gateway.caches.installations.remove(&user.id);
    state.gateway.notifier.lists_changed([user.id]);
    view(state, &inst, &server)
}

pub async fn list(state: &AppState, user: &crate::db::User) -> ApiResult<Vec<InstallationView>> {
    let mut out = Vec::new();
    for inst in state.db.list_installations(user.id).await? {
        let server = server_for(state, inst.server_id).await?;
        out.push(view(state, &inst, &server)?);
    }
    Ok(out)
}

pub async fn get(state: &AppState, user: &crate::db::User, id: &str) -> ApiResult<InstallationView> {
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    let inst = state.db.installation(user.id, id).await?.ok_or_else(not_found)?;
    let server = server_for(state, inst.server_id).await?;
    view(state, &inst, &server)
}

pub async fn update(
    state: &AppState,
    user: &crate::db::User,
    id: &str,
    req: InstallationUpdate,
) -> ApiResult<InstallationView> {
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    let inst = state.db.installation(user.id, id).await?.ok_or_else(not_found)?;
    let server = server_for(state, inst.server_id).await?;
    let sealed = match req.config {
        Some(config) => {
            // Secret fields left out keep their saved values, so a form that
            // never shows secrets can still change the other settings.
            let mut merged = match config {
                Value::Object(m) => m,
                _ => return Err(ApiError::invalid("config", "the configuration must be a JSON object")),
            };
            let saved = open_config(state, &inst)?;
            for field in secret_fields(server.config_schema.as_ref().map(|s| &s.0)) {
                if !merged.contains_key(&field) {
                    if let Some(v) = saved.get(&field) {
                        merged.insert(field, v.clone());
                    }
                }
            }
            validate_config(&server, Some(Value::Object(merged)))?
                .map(|c| state.sealer.seal(&c, &aad::installation_config(inst.id)))
        }
        None => None,
    };
    let config = sealed.as_deref().map(|s| (s, state.sealer.current_key_id()));
    let inst = state.db.update_installation(user.id, id, config, req.enabled).await?.ok_or_else(not_found)?;
    let gateway = &state.gateway;
    gateway.caches.installations.remove(&user.id);
    // A new configuration needs new processes and sessions; a disabled
    // installation keeps none, nor its subscriptions, nor the streams of
    // keys scoped to it.
    if config.is_some() || req.enabled == Some(false) {
        gateway.upstreams.close_installation(id).await;
    }
    if req.enabled == Some(false) {
        gateway.notifier.end_scoped_to(user.id, id);
    }
    if req.enabled.is_some() {
        gateway.notifier.lists_changed([user.id]);
    }
    view(state, &inst, &server)
}

pub async fn uninstall(state: &AppState, user: &crate::db::User, id: &str) -> ApiResult<()> {
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    // A connected account is revoked at its provider once the installation
    // is gone (read first: the row goes with it).
    let connection = match state.db.connection_provider(id).await? {
        Some(provider) => {
            let inst = state.db.installation(user.id, id).await?;
            let remote = match &inst {
                Some(i) if provider == crate::oauth::remote::PROVIDER => {
                    crate::oauth::remote::revocation(state, i).await
                }
                _ => None,
            };
            let token = inst
                .and_then(|i| open_config(state, &i).ok())
                .and_then(|c| c.get("token").and_then(Value::as_str).map(str::to_string));
            Some((provider, token, remote))
        }
        None => None,
    };
    if state.db.delete_installation(user.id, id).await? {
        if let Some((provider, token, remote)) = connection {
            let state = state.clone();
            tokio::spawn(async move {
                match remote {
                    Some(remote) => remote.run(&state).await,
                    None => crate::oauth::providers::revoke_at_provider(&state, id, &provider, token).await,
                }
            });
        }
        let gateway = &state.gateway;
        gateway.caches.installations.remove(&user.id);
        gateway.upstreams.close_installation(id).await;
        gateway.notifier.end_scoped_to(user.id, id);
        gateway.notifier.lists_changed([user.id]);
        Ok(())
    } else {
        Err(not_found())
    }
}

//! Deploying a server: a developer's request validated completely before
//! anything is written (names, URLs through the SSRF guard, JSON Schemas
//! within the limits of `compile_schema`, counts of items), then the server
//! and its tools, resources and prompts written in one transaction; and
//! rotating a developer server's webhook secret.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use super::{MAX_PROMPTS, MAX_RESOURCES, MAX_TEMPLATES, MAX_TOOLS, PromptArgument, items_from_catalog, valid_name};
use crate::{
    auth::{AuthMethod, Principal},
    crypto::aad,
    db::{Db, DbError, PromptRecord, ResourceRecord, ServerDraft, ServerItems, ToolRecord},
    error::{ApiError, ApiResult},
    gateway::registry::compile_schema,
    state::AppState,
};
use app::domain::HostingType;

/// A deploy request, as the seed's SDK sends it (camelCase).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeployRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[schema(value_type = HostingType)]
    pub hosting_type: String,
    /// Developer-hosted: where calls are sent (https).
    pub callback_url: Option<String>,
    /// Remote MCP: the server's Streamable HTTP endpoint (https).
    pub url: Option<String>,
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    #[serde(default)]
    pub resources: Vec<ResourceSpec>,
    #[serde(default)]
    pub prompts: Vec<PromptSpec>,
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub version: Option<String>,
    /// Issue a new webhook secret (the old one stops working).
    #[serde(default)]
    pub rotate_secret: bool,
    /// Remote MCP: seconds a call may go without the server's answer or a
    /// progress notification (each one restarts the wait), 1 to 86400;
    /// the platform's default (`--mcp-call-timeout-secs`) when absent. The
    /// platform's maximum (`--mcp-call-max-secs`) bounds every call.
    #[schema(minimum = 1, maximum = 86400)]
    pub call_timeout_secs: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Also accepted as `parameters` (the seed's column name).
    #[serde(alias = "parameters")]
    #[schema(value_type = Option<Object>)]
    pub input_schema: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub output_schema: Option<Value>,
    /// Hints for clients (MCP's tool annotations), listed with the tool.
    pub annotations: Option<ToolAnnotationsSpec>,
}

/// MCP's tool annotations: hints a client may show or act on (asking
/// before a destructive call), never a guarantee.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolAnnotationsSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceSpec {
    /// One resource's URI, or
    pub uri: Option<String>,
    /// an RFC 6570 template (`notes://{id}`) for many.
    pub uri_template: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub mime_type: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromptSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub arguments: Vec<PromptArgument>,
}

/// What a deploy answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeployResponse {
    pub server_id: Uuid,
    pub slug: String,
    pub created: bool,
    /// Present on first deploy and on rotation only: shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

pub const CATEGORIES: [&str; 9] =
    ["productivity", "developer-tools", "data", "communication", "search", "finance", "ai", "utilities", "other"];

fn invalid(field: String, message: impl Into<String>) -> ApiError {
    ApiError::InvalidField { field, message: message.into() }
}

/// The webhook secret format: `whsec_` + 32 random bytes, base64url.
fn new_webhook_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("whsec_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Issues a new webhook secret for one of the caller's developer-hosted
/// servers, sealed exactly as `deploy` seals it; the old one stops working.
/// Someone else's server answers as if it did not exist.
pub async fn rotate_webhook_secret(state: &AppState, principal: &Principal, server_id: &str) -> ApiResult<String> {
    let not_found = || ApiError::NotFound("no such server".into());
    let id = Uuid::parse_str(server_id).map_err(|_| not_found())?;
    let server = state.db.server(id).await?.ok_or_else(not_found)?;
    if server.owner_id != Some(principal.user.id) {
        return Err(not_found());
    }
    if server.hosting_type != HostingType::DeveloperHosted {
        return Err(ApiError::Conflict {
            code: "not_developer_hosted",
            message: "only developer-hosted servers have a webhook secret".into(),
        });
    }
    let secret = new_webhook_secret();
    let sealed = state.sealer.seal(secret.as_bytes(), &aad::webhook_secret(id));
    if !state.db.set_webhook_secret(id, &sealed).await? {
        return Err(not_found());
    }
    state.gateway.registry.invalidate(id);
    tracing::info!(server_id = %id, user_id = %principal.user.id, "webhook secret rotated");
    Ok(secret)
}

/// Validates everything, then creates or updates the caller's server.
pub async fn deploy(state: &AppState, principal: &Principal, req: DeployRequest) -> ApiResult<(bool, DeployResponse)> {
    if !matches!(principal.method, AuthMethod::ApiKey { .. }) {
        return Err(ApiError::Unauthorized("deploying needs an API key (`Authorization: Bearer omni_...`)".into()));
    }
    // Before any work (discovery reaches out to the server).
    let tier = may_publish(state, principal).await?;

    if !valid_name(&req.name) {
        return Err(invalid("name".into(), "use 1-64 characters: letters, digits, '_' and '-'"));
    }
    if req.description.chars().count() > 2000 {
        return Err(invalid("description".into(), "use at most 2000 characters"));
    }
    let category = req.category.clone().unwrap_or_else(|| "other".into());
    if !CATEGORIES.contains(&category.as_str()) {
        return Err(invalid("category".into(), format!("use one of: {}", CATEGORIES.join(", "))));
    }
    if req.tags.len() > 10 || req.tags.iter().any(|t| !valid_name(t) || t.len() > 32) {
        return Err(invalid("tags".into(), "use at most 10 tags of 1-32 characters: letters, digits, '_' and '-'"));
    }
    let version = req.version.clone().unwrap_or_else(|| "0.1.0".into());
    if version.is_empty() || version.len() > 32 || version.chars().any(char::is_whitespace) {
        return Err(invalid("version".into(), "use a version such as 1.2.0"));
    }
    let hosting_type: HostingType =
        req.hosting_type.parse().map_err(|_| invalid("hostingType".into(), "use developer_hosted or remote_mcp"))?;
    match (req.call_timeout_secs, hosting_type) {
        (None, _) => {}
        (Some(_), HostingType::DeveloperHosted) => {
            return Err(invalid(
                "callTimeoutSecs".into(),
                "applies to remote MCP servers; a developer callback has the platform's outbound timeout",
            ));
        }
        // The REST API's body check refuses these first; other doors
        // (the pages) arrive here.
        (Some(secs), _) if !(1..=86_400).contains(&secs) => {
            return Err(invalid("callTimeoutSecs".into(), "use 1 to 86400 seconds"));
        }
        (Some(_), _) => {}
    }
    let outbound = &state.gateway.upstreams.outbound;
    let (callback_url, remote_url) = match hosting_type {
        HostingType::DeveloperHosted => {
            let url = req
                .callback_url
                .as_deref()
                .ok_or_else(|| invalid("callbackUrl".into(), "a developer-hosted server needs a callbackUrl"))?;
            let checked = outbound.validate_url(url).await.map_err(|e| invalid("callbackUrl".into(), e.to_string()))?;
            (Some(checked.as_str().trim_end_matches('/').to_string()), None)
        }
        HostingType::RemoteMcp => {
            let url = req
                .url
                .as_deref()
                .ok_or_else(|| invalid("url".into(), "a remote MCP server needs its Streamable HTTP url"))?;
            let checked = outbound.validate_url(url).await.map_err(|e| invalid("url".into(), e.to_string()))?;
            (None, Some(checked.to_string()))
        }
        HostingType::Builder => {
            return Err(invalid(
                "hostingType".into(),
                "builder servers are made in the builder (/builder, or /api/builder/servers)",
            ));
        }
        HostingType::PlatformHosted => {
            return Err(ApiError::Forbidden(
                "platform-hosted servers run on our machines: only administrators create them, with `omnimcp admin`"
                    .into(),
            ));
        }
    };

    if req.tools.len() > MAX_TOOLS {
        return Err(invalid("tools".into(), format!("at most {MAX_TOOLS} tools")));
    }
    let mut tools = Vec::with_capacity(req.tools.len());
    let mut seen = std::collections::HashSet::new();
    for (i, t) in req.tools.iter().enumerate() {
        let field = |f: &str| format!("tools[{i}].{f}");
        if !valid_name(&t.name) {
            return Err(invalid(field("name"), "use 1-64 characters: letters, digits, '_' and '-'"));
        }
        if !seen.insert(t.name.as_str()) {
            return Err(invalid(field("name"), format!("the tool name {} appears twice", t.name)));
        }
        let schema = t.input_schema.clone().unwrap_or_else(|| json!({"type": "object"}));
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(invalid(
                field("inputSchema"),
                "an input schema must be a JSON Schema with \"type\": \"object\"",
            ));
        }
        compile_schema(&schema).map_err(|e| invalid(field("inputSchema"), format!("not a valid JSON Schema: {e}")))?;
        if let Some(out) = &t.output_schema {
            compile_schema(out).map_err(|e| invalid(field("outputSchema"), format!("not a valid JSON Schema: {e}")))?;
        }
        if t.annotations.as_ref().and_then(|a| a.title.as_ref()).is_some_and(|title| title.chars().count() > 200) {
            return Err(invalid(field("annotations.title"), "a title has at most 200 characters"));
        }
        tools.push(ToolRecord {
            name: t.name.clone(),
            description: t.description.clone(),
            parameters: Json(schema),
            output_schema: t.output_schema.clone().map(Json),
            details: t.annotations.as_ref().map(|a| Json(json!({ "annotations": a }))),
        });
    }
    // A remote server that is deployed without tools has them (and its
    // resources and prompts) discovered: the server itself is the
    // authority on what it offers.
    //
    // A server that answers an unauthenticated request with a Bearer
    // challenge wants each user's own OAuth token: it is recorded as such,
    // and what it offers is listed when its first user connects
    // (`oauth::remote`), unless the developer declared its tools.
    let mut discovered = ServerItems::default();
    let mut remote_auth = None;
    if let (HostingType::RemoteMcp, Some(url)) = (hosting_type, remote_url.as_deref()) {
        // A server that cannot be reached now is deployed with the tools
        // its developer declared (and refused without them, below).
        let challenge = crate::oauth::upstream::probe(outbound, url).await.unwrap_or(None);
        if challenge.is_some() {
            remote_auth = Some("oauth".to_string());
        } else if tools.is_empty() {
            let catalog = crate::upstream::remote::RemoteClients::discover(outbound, url, None)
                .await
                .map_err(|e| invalid("url".into(), format!("could not list the server's tools: {e}")))?;
            discovered = items_from_catalog(&catalog);
            tools = std::mem::take(&mut discovered.tools);
        }
    }
    if req.resources.len() > MAX_RESOURCES {
        return Err(invalid("resources".into(), format!("at most {MAX_RESOURCES} resources")));
    }
    if req.resources.iter().filter(|r| r.uri_template.is_some()).count() > MAX_TEMPLATES {
        return Err(invalid("resources".into(), format!("at most {MAX_TEMPLATES} resource templates")));
    }
    if req.prompts.len() > MAX_PROMPTS {
        return Err(invalid("prompts".into(), format!("at most {MAX_PROMPTS} prompts")));
    }
    let mut resources = Vec::new();
    for (i, r) in req.resources.iter().enumerate() {
        let (uri, template) = match (&r.uri, &r.uri_template) {
            (Some(uri), None) => (uri, false),
            (None, Some(t)) => (t, true),
            _ => return Err(invalid(format!("resources[{i}]"), "give either uri or uriTemplate")),
        };
        let field = if template { "uriTemplate" } else { "uri" };
        if uri.is_empty() || uri.len() > 2048 || !uri.contains(':') {
            return Err(invalid(format!("resources[{i}].{field}"), "use an absolute URI such as docs://readme"));
        }
        if template && !crate::uri_template::is_valid(uri) {
            return Err(invalid(
                format!("resources[{i}].uriTemplate"),
                format!(
                    "use an RFC 6570 template such as notes://{{id}}, of at most {} bytes and {} expressions",
                    crate::uri_template::MAX_TEMPLATE,
                    crate::uri_template::MAX_EXPRESSIONS
                ),
            ));
        }
        if r.name.is_empty() || r.name.len() > 128 {
            return Err(invalid(format!("resources[{i}].name"), "use 1-128 characters"));
        }
        resources.push(ResourceRecord {
            uri: uri.clone(),
            name: r.name.clone(),
            description: r.description.clone(),
            mime_type: r.mime_type.clone(),
            template,
            details: None,
        });
    }
    if resources.is_empty() {
        resources = std::mem::take(&mut discovered.resources);
    }
    let mut prompts = Vec::new();
    for (i, p) in req.prompts.iter().enumerate() {
        if !valid_name(&p.name) {
            return Err(invalid(format!("prompts[{i}].name"), "use 1-64 characters: letters, digits, '_' and '-'"));
        }
        prompts.push(PromptRecord {
            name: p.name.clone(),
            description: p.description.clone(),
            arguments: Json(serde_json::to_value(&p.arguments).map_err(anyhow::Error::from)?),
            details: None,
        });
    }
    if prompts.is_empty() {
        prompts = discovered.prompts;
    }

    let existing = state.db.server_by_owner_and_name(principal.user.id, &req.name).await?;
    if existing.as_ref().is_some_and(|s| s.hosting_type == HostingType::Builder) {
        return Err(ApiError::Conflict {
            code: "name_taken",
            message: format!("{} is a builder server: change it in the builder (/builder)", req.name),
        });
    }
    let id = existing.as_ref().map(|s| s.id).unwrap_or_else(Uuid::now_v7);
    let slug = match &existing {
        Some(s) => s.slug.clone(),
        None => free_slug(&state.db, &req.name).await?,
    };
    let needs_secret = hosting_type == HostingType::DeveloperHosted
        && (existing.as_ref().is_none_or(|s| s.webhook_secret_enc.is_none()) || req.rotate_secret);
    let secret = needs_secret.then(new_webhook_secret);
    let draft = ServerDraft {
        id,
        owner_id: Some(principal.user.id),
        name: req.name.clone(),
        slug: slug.clone(),
        description: req.description,
        category,
        tags: req.tags,
        version,
        hosting_type,
        launch_spec: None,
        config_schema: None,
        callback_url,
        webhook_secret_enc: secret.as_ref().map(|s| state.sealer.seal(s.as_bytes(), &aad::webhook_secret(id))),
        remote_url,
        remote_headers_enc: None,
        remote_auth,
        builder_definition: None,
        builder_secrets_enc: None,
        call_timeout_secs: req.call_timeout_secs,
        items: ServerItems { tools, resources, prompts, skills: Vec::new() },
    };
    let upserted = write(state, &draft, &tier).await?;
    tracing::info!(server_id = %upserted.id, slug = %slug, created = upserted.created, rotated = secret.is_some(), "server deployed");
    Ok((
        upserted.created,
        DeployResponse { server_id: upserted.id, slug, created: upserted.created, webhook_secret: secret },
    ))
}

/// The caller's plan, if it may publish, taking one from the caller's
/// [`DEPLOYS_PER_HOUR`](crate::gateway::limits::DEPLOYS_PER_HOUR) (deploys
/// and builder publishes alike: each one lists a server anew).
pub async fn may_publish(state: &AppState, principal: &Principal) -> ApiResult<crate::db::Tier> {
    let tier = state
        .db
        .tier(&principal.user.subscription_tier)
        .await?
        .ok_or_else(|| anyhow::anyhow!("unknown tier {}", principal.user.subscription_tier))?;
    if !tier.can_publish {
        return Err(ApiError::Forbidden(format!("the {} plan cannot publish MCP servers", tier.name)));
    }
    if let Err(wait) = state.gateway.limiter.check_deploy(principal.user.id) {
        return Err(ApiError::TooManyRequests {
            message: format!(
                "at most {} deploys an hour (builder publishes included); try again in {wait} seconds",
                crate::gateway::limits::DEPLOYS_PER_HOUR
            ),
            retry_after_secs: wait,
        });
    }
    Ok(tier)
}

/// Writes a validated server within the plan's limit, then makes every
/// instance of it current: the registry reloads it, connections made for
/// its previous version close, and the clients of its users hear that
/// their lists changed.
pub async fn write(state: &AppState, draft: &ServerDraft, tier: &crate::db::Tier) -> ApiResult<crate::db::Upserted> {
    let upserted = match state.db.upsert_server_within(draft, Some(tier.max_servers)).await {
        Ok(u) => u,
        Err(DbError::LimitReached) => {
            return Err(ApiError::Forbidden(format!(
                "the {} plan publishes at most {} servers; delete one or redeploy an existing one",
                tier.name, tier.max_servers
            )));
        }
        Err(DbError::Conflict) => {
            return Err(ApiError::Conflict {
                code: "deploy_conflict",
                message: "another deploy of this server is in progress; retry".into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    state.gateway.registry.invalidate(upserted.id);
    state.gateway.upstreams.forget_server(upserted.id).await;
    if !upserted.created {
        state.gateway.notifier.lists_changed(state.db.installation_users(upserted.id).await?);
    }
    Ok(upserted)
}

/// A slug from the name, lower-cased, with a short suffix if taken or
/// reserved (the official servers' slugs, present and planned, and the
/// platform's own words: a developer's "calculator" becomes
/// "calculator-3fa2c1").
pub async fn free_slug(db: &Db, name: &str) -> ApiResult<String> {
    let base = name.to_ascii_lowercase().replace('_', "-");
    if !crate::official::is_reserved(&base) && !db.slug_taken(&base).await? {
        return Ok(base);
    }
    for _ in 0..8 {
        let mut b = [0u8; 3];
        rand::rngs::OsRng.fill_bytes(&mut b);
        let candidate = format!("{}-{:02x}{:02x}{:02x}", &base[..base.len().min(57)], b[0], b[1], b[2]);
        if !db.slug_taken(&candidate).await? {
            return Ok(candidate);
        }
    }
    Err(anyhow::anyhow!("no free slug for {name}").into())
}

//! The visual builder: HTTP APIs turned into MCP tools without code.
//!
//! A builder server is data: a [`Definition`] of tools, each a few steps
//! (HTTP requests and transforms) and a Return mapping, with the settings
//! each installing user gives and the names of the publisher's secrets.
//! The platform runs it itself ([`crate::upstream::builder`]): no child
//! process, no callback.
//!
//! - [`definition`]: the saved JSON (the design document's form accepted as
//!   it is) and the checks that make it safe to run;
//! - [`template`]: `{{...}}` references and how each value is encoded for
//!   where it lands;
//! - [`mapping`]: JSONPath and `{{data.x}}` response mappings, and the
//!   output schema they imply;
//! - [`run`]: one call, through the SSRF guard;
//! - [`import`]: an OpenAPI document's operations as tools;
//! - this file: drafts, secrets, tests and publishing, as the REST API and
//!   the `/builder` page use them.
//!
//! Publishing writes a `builder` server through the same
//! [`crate::db::Db::upsert_server_within`] as a deploy, so the registry,
//! limits, installations, logs and list-change notifications treat it like
//! any other server. The draft stays editable; installed users see a new
//! version only when it is published.

pub mod definition;
pub mod import;
pub mod mapping;
pub mod run;
pub mod template;

use std::collections::HashMap;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

pub use definition::{Compiled, Definition, Invalid};

use crate::{
    auth::Principal,
    crypto::{Sealer, aad},
    db::{BuilderListed, BuilderRecord, DbError, ServerDraft, ServerItems},
    error::{ApiError, ApiResult},
    state::AppState,
};
use app::domain::HostingType;

/// Most builder servers (drafts included) one user may have.
pub const MAX_DRAFTS: usize = 50;
/// Largest definition (JSON bytes): room for an OpenAPI import of many
/// operations.
pub const MAX_DEFINITION: usize = 256 * 1024;
/// Longest secret value accepted.
const MAX_SECRET: usize = 4096;

/// Opens a builder server's secrets (an empty map when none are set).
pub fn open_secrets(sealer: &Sealer, server: Uuid, sealed: Option<&[u8]>) -> anyhow::Result<HashMap<String, String>> {
    let Some(sealed) = sealed else { return Ok(HashMap::new()) };
    let bytes = sealer.open(sealed, &aad::builder_secrets(server))?;
    Ok(serde_json::from_slice(&bytes)?)
}

fn seal_secrets(sealer: &Sealer, server: Uuid, secrets: &HashMap<String, String>) -> Vec<u8> {
    sealer.seal(&serde_json::to_vec(secrets).expect("JSON serializes"), &aad::builder_secrets(server))
}

/// A builder server as its publisher sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuilderView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub definition: Definition,
    /// `draft`, `published` or `unpublished`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_version: Option<String>,
    pub versions: Vec<VersionView>,
    /// The declared secrets and whether each has a value (never the value).
    pub secrets: Vec<SecretView>,
    pub install_count: i64,
    pub request_count: i64,
    /// What stops the draft from being tested or published, if anything.
    pub problems: Vec<Problem>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: chrono::DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionView {
    pub version: String,
    #[schema(value_type = String, format = DateTime)]
    pub published_at: chrono::DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretView {
    pub name: String,
    pub set: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// What creating or saving a draft takes. Every field is optional when
/// saving (what is absent stays as it is).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DraftInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    /// The definition (the design document's JSON, or the extended form).
    #[schema(value_type = Option<Object>)]
    pub definition: Option<Value>,
}

/// A test run of a draft's tool.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestInput {
    pub tool: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub arguments: Map<String, Value>,
    /// Sample values of the settings, as an installing user would give them.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestOutput {
    /// The tool result exactly as an MCP client would get it.
    #[schema(value_type = Object)]
    pub result: Value,
    /// Each request as sent (secrets masked) and what came back.
    pub exchanges: Vec<run::Exchange>,
    pub elapsed_ms: u64,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishInput {
    /// The new version; the last one's patch number plus one when absent.
    pub version: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub server_id: Uuid,
    pub slug: String,
    pub version: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
    ApiError::InvalidField { field: field.into(), message: message.into() }
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such builder server".into())
}

fn parse_id(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| not_found())
}

fn view(state: &AppState, listed: BuilderListed, versions: Vec<(String, chrono::DateTime<Utc>)>) -> BuilderView {
    let r = listed.record;
    // Saved drafts always parse (`save` checks); an unreadable one shows
    // empty rather than failing the page.
    let definition = Definition::from_json(&r.definition.0).unwrap_or_default();
    let problems = match definition.compile() {
        Ok(_) => Vec::new(),
        Err(Invalid { field, message }) => vec![Problem { field, message }],
    };
    let set = open_secrets(&state.sealer, r.id, r.secrets_enc.as_deref()).unwrap_or_default();
    let secrets =
        definition.secrets.iter().map(|name| SecretView { name: name.clone(), set: set.contains_key(name) }).collect();
    let state_word = match listed.published_status.as_deref() {
        None => "draft",
        Some("active") => "published",
        Some(_) => "unpublished",
    };
    BuilderView {
        id: r.id,
        name: r.name,
        description: r.description,
        category: r.category,
        tags: r.tags.0,
        definition,
        state: state_word,
        published_version: listed.published_version,
        versions: versions.into_iter().map(|(version, published_at)| VersionView { version, published_at }).collect(),
        secrets,
        install_count: listed.install_count,
        request_count: listed.request_count,
        problems,
        updated_at: r.updated_at,
    }
}

/// The caller's builder servers.
pub async fn list(state: &AppState, principal: &Principal) -> ApiResult<Vec<BuilderView>> {
    let rows = state.db.builders(principal.user.id).await?;
    Ok(rows.into_iter().map(|r| view(state, r, Vec::new())).collect())
}

/// One of the caller's builder servers (anyone else's is a 404).
pub async fn get(state: &AppState, principal: &Principal, id: &str) -> ApiResult<BuilderView> {
    let id = parse_id(id)?;
    let listed = state.db.builder(principal.user.id, id).await?.ok_or_else(not_found)?;
    let versions = state.db.builder_versions(id).await?;
    Ok(view(state, listed, versions))
}

/// Checks the descriptive fields shared with deploys.
fn check_fields(r: &BuilderRecord) -> ApiResult<()> {
    if !crate::servers::valid_name(&r.name) {
        return Err(invalid("name", "use 1-64 characters: letters, digits, '_' and '-'"));
    }
    if r.description.chars().count() > 2000 {
        return Err(invalid("description", "use at most 2000 characters"));
    }
    if !crate::servers::CATEGORIES.contains(&r.category.as_str()) {
        return Err(invalid("category", format!("use one of: {}", crate::servers::CATEGORIES.join(", "))));
    }
    if r.tags.0.len() > 10 || r.tags.0.iter().any(|t| !crate::servers::valid_name(t) || t.len() > 32) {
        return Err(invalid("tags", "use at most 10 tags of 1-32 characters: letters, digits, '_' and '-'"));
    }
    if serde_json::to_vec(&r.definition.0).map(|v| v.len()).unwrap_or(usize::MAX) > MAX_DEFINITION {
        return Err(invalid("definition", format!("a definition has at most {} KiB", MAX_DEFINITION / 1024)));
    }
    Ok(())
}

/// Applies a draft input to a record: the definition must parse (it may
/// still have problems a test or publish refuses, which the view lists).
fn apply(r: &mut BuilderRecord, input: DraftInput) -> ApiResult<()> {
    if let Some(name) = input.name {
        r.name = name;
    }
    if let Some(d) = input.description {
        r.description = d;
    }
    if let Some(c) = input.category {
        r.category = c;
    }
    if let Some(t) = input.tags {
        r.tags = Json(t);
    }
    if let Some(def) = input.definition {
        let parsed = Definition::from_json(&def).map_err(|e| invalid(e.field, e.message))?;
        r.definition = Json(serde_json::to_value(parsed).map_err(anyhow::Error::from)?);
    }
    check_fields(r)
}

/// Creates a draft.
pub async fn create(state: &AppState, principal: &Principal, input: DraftInput) -> ApiResult<BuilderView> {
    let owner = principal.user.id;
    if input.name.is_none() {
        return Err(invalid("name", "a builder server needs a name"));
    }
    if state.db.builders(owner).await?.len() >= MAX_DRAFTS {
        return Err(ApiError::Forbidden(format!("at most {MAX_DRAFTS} builder servers; delete one first")));
    }
    let now = Utc::now();
    let mut record = BuilderRecord {
        id: Uuid::now_v7(),
        owner_id: owner,
        name: String::new(),
        description: String::new(),
        category: "other".into(),
        tags: Json(Vec::new()),
        definition: Json(serde_json::json!({"tools": []})),
        secrets_enc: None,
        created_at: now,
        updated_at: now,
    };
    apply(&mut record, input)?;
    // One name per owner across every kind of server: publishing writes
    // the server under this name.
    if state.db.server_by_owner_and_name(owner, &record.name).await?.is_some() {
        return Err(name_taken(&record.name));
    }
    match state.db.create_builder(&record).await {
        Ok(()) => {}
        Err(DbError::Conflict) => return Err(name_taken(&record.name)),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(builder_id = %record.id, user_id = %owner, "builder server created");
    get(state, principal, &record.id.to_string()).await
}

fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict { code: "name_taken", message: format!("you already have a server named {name}") }
}

/// Saves a draft (the published version is untouched until publish).
pub async fn save(state: &AppState, principal: &Principal, id: &str, input: DraftInput) -> ApiResult<BuilderView> {
    let id = parse_id(id)?;
    let listed = state.db.builder(principal.user.id, id).await?.ok_or_else(not_found)?;
    let mut record = listed.record.clone();
    let renamed = input.name.as_ref().is_some_and(|n| *n != record.name);
    apply(&mut record, input)?;
    if renamed {
        if listed.published_version.is_some() {
            return Err(invalid("name", "a published server keeps its name (its users' tools are named after it)"));
        }
        if state.db.server_by_owner_and_name(principal.user.id, &record.name).await?.is_some() {
            return Err(name_taken(&record.name));
        }
    }
    match state.db.update_builder(&record).await {
        Ok(true) => {}
        Ok(false) => return Err(not_found()),
        Err(DbError::Conflict) => return Err(name_taken(&record.name)),
        Err(e) => return Err(e.into()),
    }
    get(state, principal, &id.to_string()).await
}

/// Sets (a string) or removes (`null`) the publisher's secrets by name;
/// only declared names are accepted. Values are sealed and never shown.
pub async fn set_secrets(
    state: &AppState,
    principal: &Principal,
    id: &str,
    values: Map<String, Value>,
) -> ApiResult<Vec<SecretView>> {
    let id = parse_id(id)?;
    let listed = state.db.builder(principal.user.id, id).await?.ok_or_else(not_found)?;
    let definition = Definition::from_json(&listed.record.definition.0).unwrap_or_default();
    let mut secrets = open_secrets(&state.sealer, id, listed.record.secrets_enc.as_deref())
        .map_err(|_| anyhow::anyhow!("the builder server's secrets do not open"))?;
    for (name, value) in values {
        if !definition.secrets.contains(&name) {
            return Err(invalid(
                format!("secrets.{name}"),
                "declare the secret in the definition's secrets first (then save the draft)",
            ));
        }
        match value {
            Value::Null => {
                secrets.remove(&name);
            }
            Value::String(v) if !v.is_empty() && v.len() <= MAX_SECRET => {
                secrets.insert(name, v);
            }
            _ => return Err(invalid(format!("secrets.{name}"), format!("use text of 1-{MAX_SECRET} bytes, or null"))),
        }
    }
    // Secrets no longer declared are dropped.
    secrets.retain(|name, _| definition.secrets.contains(name));
    let sealed = seal_secrets(&state.sealer, id, &secrets);
    if !state.db.set_builder_secrets(principal.user.id, id, &sealed).await? {
        return Err(not_found());
    }
    state.gateway.registry.invalidate(id);
    tracing::info!(builder_id = %id, "builder secrets set");
    Ok(definition
        .secrets
        .iter()
        .map(|name| SecretView { name: name.clone(), set: secrets.contains_key(name) })
        .collect())
}

/// Runs one of the draft's tools with sample arguments and settings, as a
/// call would (it counts as a call against the caller's limits).
pub async fn test(state: &AppState, principal: &Principal, id: &str, input: TestInput) -> ApiResult<TestOutput> {
    let id = parse_id(id)?;
    let listed = state.db.builder(principal.user.id, id).await?.ok_or_else(not_found)?;
    let definition = Definition::from_json(&listed.record.definition.0).map_err(|e| invalid(e.field, e.message))?;
    let compiled = definition.compile().map_err(|e| invalid(format!("definition.{}", e.field), e.message))?;
    let tool = compiled.tools.get(&input.tool).ok_or_else(|| invalid("tool", "no tool of that name in the draft"))?;
    // The arguments a call would be refused for are refused here too.
    let def = definition.tools.iter().find(|t| t.name == input.tool).expect("compiled from these tools");
    let validator = crate::gateway::registry::compile_schema(&definition::input_schema(def))
        .map_err(|e| invalid("definition", format!("the input schema does not compile: {e}")))?;
    let arguments = Value::Object(input.arguments.clone());
    if let Some((field, message)) = crate::gateway::registry::first_violation(&validator, &arguments, "arguments") {
        return Err(invalid(field, message));
    }
    let tier = state
        .db
        .tier(&principal.user.subscription_tier)
        .await?
        .ok_or_else(|| anyhow::anyhow!("unknown tier {}", principal.user.subscription_tier))?;
    match state.gateway.limiter.check(&state.db, principal.user.id, &tier).await? {
        crate::gateway::limits::Decision::Allowed { .. } => {}
        crate::gateway::limits::Decision::RateLimited { retry_after_secs, limit } => {
            return Err(ApiError::TooManyRequests {
                message: format!("at most {limit} calls a minute; try again in {retry_after_secs} seconds"),
                retry_after_secs,
            });
        }
        crate::gateway::limits::Decision::QuotaExceeded { retry_after_secs, limit } => {
            return Err(ApiError::TooManyRequests {
                message: format!("the monthly quota of {limit} calls is used up"),
                retry_after_secs,
            });
        }
    }
    let secrets = open_secrets(&state.sealer, id, listed.record.secrets_enc.as_deref())
        .map_err(|_| anyhow::anyhow!("the builder server's secrets do not open"))?;
    let inputs = run::Inputs {
        args: &input.arguments,
        config: &input.config,
        secrets: &secrets,
        secret_settings: &compiled.secret_settings,
    };
    let started = std::time::Instant::now();
    let done = run::run(&state.gateway.upstreams.outbound, tool, &inputs).await;
    Ok(TestOutput {
        result: serde_json::to_value(&done.result).map_err(anyhow::Error::from)?,
        exchanges: done.exchanges,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// The version after `last`: its last number plus one.
fn next_version(last: Option<&str>) -> String {
    let Some(last) = last else { return "1.0.0".into() };
    let mut parts: Vec<String> = last.split('.').map(str::to_string).collect();
    match parts.last_mut().and_then(|p| p.parse::<u64>().ok().map(|n| (p, n))) {
        Some((p, n)) => *p = (n + 1).to_string(),
        None => parts.push("1".into()),
    }
    parts.join(".")
}

/// Publishes the draft as a new version: the server is created or updated
/// like a deploy, installed users' clients are told their lists changed.
pub async fn publish(state: &AppState, principal: &Principal, id: &str, input: PublishInput) -> ApiResult<Published> {
    let id = parse_id(id)?;
    let owner = principal.user.id;
    let listed = state.db.builder(owner, id).await?.ok_or_else(not_found)?;
    let tier = crate::servers::may_publish(state, principal).await?;
    let record = listed.record;
    let definition = Definition::from_json(&record.definition.0).map_err(|e| invalid(e.field, e.message))?;
    let compiled = definition.compile().map_err(|e| invalid(format!("definition.{}", e.field), e.message))?;
    let tools = definition.tool_records().map_err(|e| invalid(format!("definition.{}", e.field), e.message))?;
    // Every host the tools reach must pass the SSRF guard now, not only at
    // call time: a publisher learns at once that a URL cannot work.
    let outbound = &state.gateway.upstreams.outbound;
    for (name, tool) in &compiled.tools {
        for step in &tool.steps {
            if let definition::CompiledStep::Http(http) = step {
                outbound
                    .validate_url(http.origin.as_str())
                    .await
                    .map_err(|e| invalid(format!("definition.tools.{name}"), e.to_string()))?;
            }
        }
    }
    let version = match input.version {
        Some(v) => v,
        None => next_version(listed.published_version.as_deref()),
    };
    if version.is_empty() || version.len() > 32 || version.chars().any(char::is_whitespace) {
        return Err(invalid("version", "use a version such as 1.2.0"));
    }
    if state.db.builder_version_exists(id, &version).await? {
        return Err(ApiError::Conflict {
            code: "version_exists",
            message: format!("version {version} was published before; choose a new one"),
        });
    }
    // A server of this name that is not this builder server (a deploy made
    // since) keeps its name.
    if let Some(existing) = state.db.server_by_owner_and_name(owner, &record.name).await?
        && existing.id != id
    {
        return Err(name_taken(&record.name));
    }
    let slug = match state.db.server(id).await? {
        Some(s) => s.slug,
        None => crate::servers::free_slug(&state.db, &record.name).await?,
    };
    let definition_json = serde_json::to_value(&definition).map_err(anyhow::Error::from)?;
    let draft = ServerDraft {
        id,
        owner_id: Some(owner),
        name: record.name.clone(),
        slug: slug.clone(),
        description: record.description.clone(),
        category: record.category.clone(),
        tags: record.tags.0.clone(),
        version: version.clone(),
        hosting_type: HostingType::Builder,
        launch_spec: None,
        config_schema: definition.config_schema(),
        callback_url: None,
        webhook_secret_enc: None,
        remote_url: None,
        remote_headers_enc: None,
        remote_auth: None,
        call_timeout_secs: None,
        builder_definition: Some(definition_json.clone()),
        builder_secrets_enc: record.secrets_enc.clone(),
        items: ServerItems { tools, ..Default::default() },
    };
    let upserted = crate::servers::write(state, &draft, &tier).await?;
    // Listed again if it was unpublished.
    state.db.record_builder_version(id, &version, &definition_json).await?;
    state.gateway.registry.invalidate(upserted.id);
    tracing::info!(server_id = %id, %slug, %version, "builder server published");
    Ok(Published { server_id: id, slug, version })
}

/// Takes the server off the marketplace; installed users' calls stop until
/// it is published again.
pub async fn unpublish(state: &AppState, principal: &Principal, id: &str) -> ApiResult<()> {
    let id = parse_id(id)?;
    if !state.db.unpublish_builder(principal.user.id, id).await? {
        return Err(ApiError::Conflict {
            code: "not_published",
            message: "this builder server is not published".into(),
        });
    }
    state.gateway.registry.invalidate(id);
    state.gateway.notifier.lists_changed(state.db.installation_users(id).await?);
    tracing::info!(server_id = %id, "builder server unpublished");
    Ok(())
}

/// Where an OpenAPI document comes from: pasted (or uploaded) text, or a
/// URL fetched through the SSRF guard.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportSource {
    /// The document, JSON or YAML.
    pub document: Option<String>,
    /// Where to fetch it.
    pub url: Option<String>,
}

/// A new draft from an OpenAPI document's chosen operations.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportInput {
    pub document: Option<String>,
    pub url: Option<String>,
    /// The new builder server's name.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    /// The operations to make tools of (their names in the preview).
    pub operations: Vec<String>,
    /// The API's base URL, when the document's is missing or not the one
    /// to call.
    pub base_url: Option<String>,
    /// Who holds the API's credentials: each user (default) or you.
    #[serde(default)]
    pub credentials: import::CredentialOwner,
}

/// Reads a document from pasted text or a URL.
async fn load(
    state: &AppState,
    principal: &Principal,
    document: Option<String>,
    url: Option<String>,
) -> ApiResult<import::Document> {
    let (text, source) = match (document, url) {
        (Some(text), None) => (text, None),
        (None, Some(url)) => {
            let tier = state
                .db
                .tier(&principal.user.subscription_tier)
                .await?
                .ok_or_else(|| anyhow::anyhow!("unknown tier {}", principal.user.subscription_tier))?;
            if let Err(wait) = state.gateway.limiter.check_control(principal.user.id, &tier) {
                return Err(ApiError::TooManyRequests {
                    message: format!("too many requests; try again in {wait} seconds"),
                    retry_after_secs: wait,
                });
            }
            let outbound = &state.gateway.upstreams.outbound;
            let checked = outbound.validate_url(&url).await.map_err(|e| invalid("url", e.to_string()))?;
            let answer = outbound
                .send(reqwest::Method::GET, checked.as_str(), Default::default(), None)
                .await
                .map_err(|e| invalid("url", format!("could not fetch the document: {e}")))?;
            if !answer.status.is_success() {
                return Err(invalid("url", format!("fetching the document answered HTTP {}", answer.status)));
            }
            let text = String::from_utf8(answer.body).map_err(|_| invalid("url", "the document is not text"))?;
            (text, Some(checked))
        }
        _ => return Err(invalid("document", "give either the document or its url")),
    };
    let root = import::parse_text(&text).map_err(|e| invalid("document", e))?;
    import::Document::read(root, source.as_ref()).map_err(|e| invalid("document", e))
}

/// What an OpenAPI document offers: its operations to choose from.
pub async fn preview_import(
    state: &AppState,
    principal: &Principal,
    source: ImportSource,
) -> ApiResult<import::Preview> {
    Ok(load(state, principal, source.document, source.url).await?.preview())
}

/// Creates a draft from an OpenAPI document's chosen operations, with
/// notes on what could not be carried over.
pub async fn import(
    state: &AppState,
    principal: &Principal,
    input: ImportInput,
) -> ApiResult<(BuilderView, Vec<String>)> {
    let doc = load(state, principal, input.document, input.url).await?;
    let (definition, notes) = doc
        .convert(&input.operations, input.base_url.as_deref(), input.credentials)
        .map_err(|(field, message)| invalid(field, message))?;
    let draft = DraftInput {
        name: Some(input.name),
        description: input.description.or_else(|| Some(doc.preview().title)),
        category: input.category,
        tags: None,
        definition: Some(serde_json::to_value(definition).map_err(anyhow::Error::from)?),
    };
    Ok((create(state, principal, draft).await?, notes))
}

/// Deletes a builder server for good: its draft, its versions and, once
/// published, the server and everyone's installations of it (their
/// clients are told their lists changed).
pub async fn delete(state: &AppState, principal: &Principal, id: &str) -> ApiResult<()> {
    let id = parse_id(id)?;
    let users = state.db.installation_users(id).await?;
    if !state.db.delete_builder(principal.user.id, id).await? {
        return Err(not_found());
    }
    state.gateway.registry.invalidate(id);
    for user in &users {
        state.gateway.caches.installations.remove(user);
    }
    state.gateway.notifier.lists_changed(users);
    tracing::info!(server_id = %id, "builder server deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_count_up() {
        assert_eq!(super::next_version(None), "1.0.0");
        assert_eq!(super::next_version(Some("1.0.9")), "1.0.10");
        assert_eq!(super::next_version(Some("2")), "3");
        assert_eq!(super::next_version(Some("1.0.0-beta")), "1.0.0-beta.1");
    }
}

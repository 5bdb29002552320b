//! Servers as developers and administrators manage them: [`deploy`], secret
//! rotation, the marketplace's listing, and re-listing a server that says
//! its lists changed ([`refresh_on_change`]). The call path reads servers
//! through the gateway's registry ([`crate::gateway::registry`]), which
//! every change here invalidates.
//!
//! [`deploy`] validates a deploy request completely before anything is
//! written (names, URLs through the SSRF guard, JSON Schemas that must
//! compile), then writes the server and its tools, resources and prompts in
//! one transaction.

mod deploy;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

pub use deploy::{
    CATEGORIES, DeployRequest, DeployResponse, PromptSpec, ResourceSpec, ToolAnnotationsSpec, ToolSpec, deploy,
    free_slug, may_publish, rotate_webhook_secret, write,
};

use crate::{
    db::{PromptRecord, ResourceRecord, ServerItems, SkillRecord, ToolRecord},
    error::{ApiError, ApiResult},
    gateway::registry::compile_schema,
    state::AppState,
    upstream::{ChangeQueue, ListChange, peer::Catalog},
};
use app::domain::HostingType;
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

/// Most tools one server may have.
pub const MAX_TOOLS: usize = 256;
/// Most resources (templates included) one server may have.
pub const MAX_RESOURCES: usize = 256;
/// Most resource templates one server may have: each read of a server's
/// resource may be matched against all of them.
pub const MAX_TEMPLATES: usize = 32;
/// Most prompts one server may have.
pub const MAX_PROMPTS: usize = 256;
/// Most skills one server may have.
pub const MAX_SKILLS: usize = 256;
/// Most bytes of one skill's entry (its frontmatter and file list; the
/// specification allows 512 files a skill).
const MAX_SKILL_ENTRY: usize = 128 * 1024;

/// `1-64` characters of `[A-Za-z0-9_-]`: server, tool and prompt names.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[derive(Debug, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromptArgument {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required: bool,
}

/// The marketplace's filters as both front doors receive them (the REST
/// API's query string, the marketplace page's URL): checked here, once.
#[derive(Debug, Default, Clone, Copy)]
pub struct MarketplaceFilters<'a> {
    pub q: Option<&'a str>,
    pub category: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub hosting_type: Option<&'a str>,
    /// `popular` (the default) or `newest`.
    pub sort: Option<&'a str>,
    /// The previous page's `nextCursor`.
    pub cursor: Option<&'a str>,
}

/// A server as the marketplace (page and `GET /api/servers`) lists it.
pub fn summary(s: &crate::db::ServerRecord, install_count: i64) -> app::model::ServerSummary {
    app::model::ServerSummary {
        id: s.id.to_string(),
        slug: s.slug.clone(),
        name: s.name.clone(),
        description: s.description.clone(),
        category: s.category.clone(),
        tags: s.tags.0.clone(),
        version: s.version.clone(),
        hosting_type: s.hosting_type,
        health_status: s.health_status,
        request_count: s.request_count,
        install_count,
    }
}

/// One page of the marketplace (at most `limit` servers) and the cursor of
/// the next page, if there is one. Cursors are keyset positions (request
/// count, id), so pages stay consistent while servers come and go.
pub async fn marketplace_page(
    state: &AppState,
    f: &MarketplaceFilters<'_>,
    limit: i64,
) -> ApiResult<(Vec<crate::db::ListedServer>, Option<String>)> {
    use crate::db::{ServerQuery, ServerSort};
    let text = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let sort = match text(f.sort).as_deref() {
        None | Some("popular") => ServerSort::Popular,
        Some("newest") => ServerSort::Newest,
        Some(_) => return Err(ApiError::invalid("sort", "use popular or newest")),
    };
    let hosting_type = match text(f.hosting_type) {
        None => None,
        Some(h) => Some(
            h.parse::<HostingType>()
                .map_err(|_| ApiError::invalid("hostingType", "use platform_hosted, developer_hosted or remote_mcp"))?,
        ),
    };
    let after = match text(f.cursor) {
        None => None,
        Some(c) => {
            let bad =
                || ApiError::invalid("cursor", "this cursor (page link) is out of date; start from the first page");
            let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?).map_err(|_| bad())?;
            let (count, id) = raw.split_once(':').ok_or_else(bad)?;
            Some((count.parse::<i64>().map_err(|_| bad())?, Uuid::parse_str(id).map_err(|_| bad())?))
        }
    };
    let query = ServerQuery {
        text: text(f.q),
        category: text(f.category),
        tag: text(f.tag),
        hosting_type,
        sort,
        after,
        limit: limit + 1,
    };
    let mut rows = state.db.list_servers(&query).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| URL_SAFE_NO_PAD.encode(format!("{}:{}", r.server.request_count, r.server.id)))
    } else {
        None
    };
    Ok((rows, next))
}

/// Most bytes of what a server declared about one item beyond the
/// registry's columns: more is dropped (and the item listed without it).
const MAX_DETAILS: usize = 16 * 1024;

/// What a server declared about an item beyond the fields the registry
/// keeps in columns (`stored`): title, annotations, icons, `_meta` (MCP
/// Apps' `ui` resource among it), a tool's `execution` (task support),
/// size... kept as sent, within [`MAX_DETAILS`].
fn details_of(item: &impl serde::Serialize, stored: &[&str]) -> Option<Json<Value>> {
    let Ok(Value::Object(mut fields)) = serde_json::to_value(item) else { return None };
    fields.retain(|k, _| !stored.contains(&k.as_str()));
    let details = Value::Object(fields);
    let size = serde_json::to_vec(&details).map_or(usize::MAX, |b| b.len());
    match size {
        2 => None,
        n if n > MAX_DETAILS => {
            tracing::warn!(bytes = n, "an item's declared details are too large; listed without them");
            None
        }
        _ => Some(Json(details)),
    }
}

/// The registry's records of what an MCP server lists. Tools whose name or
/// input schema this platform cannot serve are left out with a warning
/// (the rest of the server still works).
pub fn items_from_catalog(catalog: &Catalog) -> ServerItems {
    let mut tools = Vec::new();
    for t in catalog.tools.iter().take(MAX_TOOLS) {
        let schema = Value::Object(t.input_schema.as_ref().clone());
        if !valid_name(&t.name) || compile_schema(&schema).is_err() {
            tracing::warn!(tool = %t.name, "skipping a tool whose name or schema this platform cannot serve");
            continue;
        }
        tools.push(ToolRecord {
            name: t.name.to_string(),
            description: t.description.as_deref().unwrap_or_default().to_string(),
            parameters: Json(schema),
            output_schema: t.output_schema.as_ref().map(|o| Json(Value::Object(o.as_ref().clone()))),
            details: details_of(t, &["name", "description", "inputSchema", "outputSchema"]),
        });
    }
    let resources = catalog.resources.iter().filter(|r| r.uri.len() <= 2048).map(|r| ResourceRecord {
        uri: r.uri.clone(),
        name: r.name.clone(),
        description: r.description.clone().unwrap_or_default(),
        mime_type: r.mime_type.clone(),
        template: false,
        details: details_of(r, &["uri", "name", "description", "mimeType"]),
    });
    let templates =
        catalog.templates.iter().filter(|t| crate::uri_template::is_valid(&t.uri_template)).take(MAX_TEMPLATES).map(
            |t| ResourceRecord {
                uri: t.uri_template.clone(),
                name: t.name.clone(),
                description: t.description.clone().unwrap_or_default(),
                mime_type: t.mime_type.clone(),
                template: true,
                details: details_of(t, &["uriTemplate", "name", "description", "mimeType"]),
            },
        );
    let prompts = catalog
        .prompts
        .iter()
        .filter(|p| valid_name(&p.name))
        .take(MAX_PROMPTS)
        .map(|p| {
            let arguments: Vec<PromptArgument> = p
                .arguments
                .iter()
                .flatten()
                .map(|a| PromptArgument {
                    name: a.name.clone(),
                    description: a.description.clone().unwrap_or_default(),
                    required: a.required.unwrap_or(false),
                })
                .collect();
            PromptRecord {
                name: p.name.clone(),
                description: p.description.clone().unwrap_or_default(),
                arguments: Json(serde_json::to_value(arguments).unwrap_or_else(|_| json!([]))),
                details: details_of(p, &["name", "description", "arguments"]),
            }
        })
        .collect();
    // What a server lists past the caps is left out (and said in the log).
    let resources: Vec<ResourceRecord> = templates.chain(resources).take(MAX_RESOURCES).collect();
    if catalog.tools.len() > MAX_TOOLS || catalog.resources.len() + catalog.templates.len() > MAX_RESOURCES {
        tracing::warn!(
            tools = catalog.tools.len(),
            resources = catalog.resources.len(),
            "a server lists more than is kept"
        );
    }
    ServerItems { tools, resources, prompts, skills: skills_from_catalog(catalog) }
}

/// The skills a server lists that this platform can serve: entries that
/// keep the specification's rules (checked by rmcp), under the `skill://`
/// scheme (the gateway names them by path, see `gateway::names`), within
/// [`MAX_SKILL_ENTRY`]. Others are left out with a warning.
fn skills_from_catalog(catalog: &Catalog) -> Vec<SkillRecord> {
    let mut skills: Vec<SkillRecord> = Vec::new();
    for skill in catalog.skills.iter() {
        let entry = serde_json::to_value(skill).unwrap_or_default();
        let size = serde_json::to_vec(&entry).map_or(usize::MAX, |b| b.len());
        if let Err(why) = skill.validate() {
            tracing::warn!(skill = %skill.uri, %why, "skipping a skill that breaks the specification's rules");
        } else if !skill.uri.starts_with("skill://") || size > MAX_SKILL_ENTRY {
            tracing::warn!(skill = %skill.uri, bytes = size, "skipping a skill outside skill:// or too large");
        } else if skills.iter().all(|k| k.uri != skill.uri) {
            skills.push(SkillRecord { uri: skill.uri.clone(), entry: Json(entry) });
        }
    }
    if skills.len() > MAX_SKILLS {
        tracing::warn!(skills = skills.len(), "a server lists more skills than are kept");
        skills.truncate(MAX_SKILLS);
    }
    skills
}

/// Re-lists the servers that said their lists changed (a handshake-era
/// `notifications/*/list_changed`, or one on a `subscriptions/listen`
/// stream) and tells the users who see the change. Bursts are coalesced: a
/// connection that announces ten changes at once is re-listed once.
///
/// Who sees a change depends on whose connection announced it:
/// - a remote server is one service for everyone: its new lists are stored,
///   and every user who installed it hears of them;
/// - an installation's own process keeps its new lists as that
///   installation's view (other users keep the administrator's catalog);
///   when the process is gone the view goes too;
/// - a shared process is stateless by declaration: its announcements are
///   ignored.
pub fn refresh_on_change(state: AppState, changes: ChangeQueue) {
    tokio::spawn(async move {
        // Re-listings run side by side, a few at a time, each within a time
        // limit: a stalled server delays nobody else's. A change announced
        // again while its re-listing runs is queued for one more after it.
        let running: Arc<Mutex<Running>> = Arc::default();
        let slots = Arc::new(tokio::sync::Semaphore::new(REFRESHES_AT_ONCE));
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            for change in changes.take().await {
                {
                    let mut running = running.lock().expect("refresh lock");
                    if running.now.contains(&change) {
                        if !running.again.contains(&change) {
                            running.again.push(change);
                        }
                        continue;
                    }
                    running.now.push(change);
                }
                let (state, running, slots, changes) = (state.clone(), running.clone(), slots.clone(), changes.clone());
                tokio::spawn(async move {
                    let _slot = slots.acquire().await;
                    match tokio::time::timeout(REFRESH_LIMIT, refresh(&state, change)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            tracing::warn!(server_id = %change.server, error = %e, "could not re-list a server after it announced a change")
                        }
                        Err(_) => {
                            tracing::warn!(server_id = %change.server, "re-listing a server took too long; given up")
                        }
                    }
                    let mut running = running.lock().expect("refresh lock");
                    running.now.retain(|c| *c != change);
                    if let Some(i) = running.again.iter().position(|c| *c == change) {
                        running.again.swap_remove(i);
                        changes.push(change);
                    }
                });
            }
        }
    });
}

/// Re-listings running, and those announced again meanwhile.
#[derive(Default)]
struct Running {
    now: Vec<ListChange>,
    again: Vec<ListChange>,
}

/// Re-listings at once.
const REFRESHES_AT_ONCE: usize = 8;
/// Longest one re-listing may take.
const REFRESH_LIMIT: Duration = Duration::from_secs(30);

async fn refresh(state: &AppState, change: ListChange) -> anyhow::Result<()> {
    let Some(installation) = change.installation else {
        tracing::debug!(server_id = %change.server, "a shared process announced a list change; its catalog is the administrator's");
        return Ok(());
    };
    let gateway = &state.gateway;
    let Some(entry) = gateway.registry.server(change.server).await? else { return Ok(()) };
    if entry.record.hosting_type == HostingType::PlatformHosted {
        if change.stopped && !gateway.registry.has_view(installation) {
            return Ok(());
        }
        let user = state.db.installation_user(installation).await?;
        match gateway.upstreams.processes.catalog_of(change.server, installation).await {
            Some(catalog) => {
                gateway.registry.set_view(change.server, installation, items_from_catalog(&catalog?)).await?;
            }
            None if gateway.registry.clear_view(installation) => {}
            None => return Ok(()),
        }
        gateway.notifier.lists_changed(user);
        tracing::info!(server_id = %change.server, %installation, "an installation's own process changed its lists");
        return Ok(());
    }
    if change.stopped {
        return Ok(());
    }
    let Some(catalog) = gateway.upstreams.remote.catalog_of(change.server, installation).await else { return Ok(()) };
    let items = items_from_catalog(&catalog?);
    state.db.replace_items(change.server, &items).await?;
    gateway.registry.invalidate(change.server);
    gateway.notifier.lists_changed(state.db.installation_users(change.server).await?);
    tracing::info!(server_id = %change.server, tools = items.tools.len(), "re-listed a server after it announced a change");
    Ok(())
}

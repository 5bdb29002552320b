//! The lists `/mcp` answers with (tools, resources, resource templates,
//! prompts, skills): built from what the caller can reach, in the caller's names,
//! sorted, and paged.
//!
//! Pages hold [`PAGE_SIZE`] items; the cursor is the (encoded) key of the
//! last item of the previous page, so pages stay consistent while items
//! come and go between requests: nothing is skipped or repeated that did
//! not change.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rmcp::{
    ErrorData,
    model::{
        ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListSkillsResult, ListToolsResult,
        PaginatedRequestParams, Prompt, PromptArgument, Resource, ResourceTemplate, Skill, SkillResources, Tool,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{
    db::SkillRecord,
    gateway::{Reach, names::Naming},
};

/// How many items one page of a list holds.
pub const PAGE_SIZE: usize = 100;

/// How long a client may reuse a list (2026-07-28 `ttlMs`): short, since
/// an install elsewhere (the dashboard, another client) changes it, and a
/// client without a listen stream learns of that only by asking again.
pub const LIST_TTL_MS: u64 = 10_000;

/// Marks a list as cacheable by its client only: every list is the
/// caller's own (its installations, its key's scope), never to be shared
/// by a cache between users (`cacheScope: private`).
macro_rules! private {
    ($result:expr, $next:expr) => {{
        let mut result = $result;
        result.next_cursor = $next;
        result.ttl_ms = Some(LIST_TTL_MS);
        result.cache_scope = Some(rmcp::model::CacheScope::Private);
        Ok(result)
    }};
}

/// An item as listed, with what its server declared besides (title,
/// annotations, icons, `_meta`...; see `servers::details_of`); the
/// listing's own fields win. An MCP Apps resource the item's `_meta.ui`
/// points to (`ui://...`) is named as the caller reads it through the
/// gateway (`public_uri`).
fn with_details<T: Serialize + DeserializeOwned>(
    item: T,
    details: Option<&sqlx::types::Json<Value>>,
    public_uri: impl Fn(&str) -> String,
) -> T {
    let Some(Value::Object(details)) = details.map(|d| &d.0) else { return item };
    let Ok(Value::Object(mut fields)) = serde_json::to_value(&item) else { return item };
    for (key, value) in details {
        fields.entry(key.clone()).or_insert_with(|| value.clone());
    }
    if let Some(Value::Object(meta)) = fields.get_mut("_meta") {
        let rewrite = |v: &mut Value| {
            if let Some(uri) = v.as_str().filter(|u| u.starts_with("ui://")) {
                *v = Value::String(public_uri(uri));
            }
        };
        if let Some(Value::Object(ui)) = meta.get_mut("ui") {
            ui.get_mut("resourceUri").map(rewrite);
        }
        meta.get_mut("ui/resourceUri").map(rewrite);
    }
    serde_json::from_value(Value::Object(fields)).unwrap_or(item)
}

/// One page of a sorted list.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> &str,
    request: Option<PaginatedRequestParams>,
) -> Result<(Vec<T>, Option<String>), ErrorData> {
    let after = match request.and_then(|r| r.cursor) {
        None => None,
        Some(cursor) => Some(
            URL_SAFE_NO_PAD
                .decode(&cursor)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ErrorData::invalid_params(format!("invalid cursor: {cursor}"), None))?,
        ),
    };
    let mut rest: Vec<T> = match &after {
        Some(after) => items.into_iter().filter(|i| key(i) > after.as_str()).collect(),
        None => items,
    };
    if rest.len() <= PAGE_SIZE {
        return Ok((rest, None));
    }
    rest.truncate(PAGE_SIZE);
    let next = rest.last().map(|last| URL_SAFE_NO_PAD.encode(key(last)));
    Ok((rest, next))
}

pub fn tools(reach: &Reach, request: Option<PaginatedRequestParams>) -> Result<ListToolsResult, ErrorData> {
    let mut tools = Vec::new();
    for target in reach.enabled() {
        let entry = &target.entry;
        for t in entry.tools.iter().filter(|t| reach.may_call(entry, &t.name)) {
            let schema: Map<String, Value> = t.parameters.0.as_object().cloned().unwrap_or_default();
            let mut tool = Tool::new(reach.naming.name(entry.slug(), &t.name), t.description.clone(), Arc::new(schema));
            if let Some(out) = t.output_schema.as_ref().and_then(|o| o.0.as_object()) {
                tool.output_schema = Some(Arc::new(out.clone()));
            }
            tools.push(with_details(tool, t.details.as_ref(), |uri| reach.naming.uri(entry.slug(), uri)));
        }
    }
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    let (tools, next) = page(tools, |t: &Tool| t.name.as_ref(), request)?;
    private!(ListToolsResult::with_all_items(tools), next)
}

pub fn resources(reach: &Reach, request: Option<PaginatedRequestParams>) -> Result<ListResourcesResult, ErrorData> {
    let mut resources = Vec::new();
    for target in reach.enabled() {
        let slug = target.entry.slug();
        for r in target.entry.resources.iter().filter(|r| !r.template) {
            // A skill's SKILL.md is named as its skill (SEP-2640), which its
            // URI already tells apart from other servers' skills.
            let name = match r.uri.starts_with("skill://") {
                true => r.name.clone(),
                false => reach.naming.resource_name(slug, &r.name),
            };
            let mut resource = Resource::new(reach.naming.uri(slug, &r.uri), name);
            if !r.description.is_empty() {
                resource = resource.with_description(r.description.clone());
            }
            resource.mime_type = r.mime_type.clone();
            resources.push(with_details(resource, r.details.as_ref(), |uri| reach.naming.uri(slug, uri)));
        }
    }
    resources.sort_by(|a, b| a.uri.cmp(&b.uri));
    let (resources, next) = page(resources, |r: &Resource| r.uri.as_str(), request)?;
    private!(ListResourcesResult::with_all_items(resources), next)
}

pub fn templates(
    reach: &Reach,
    request: Option<PaginatedRequestParams>,
) -> Result<ListResourceTemplatesResult, ErrorData> {
    let mut templates = Vec::new();
    for target in reach.enabled() {
        let slug = target.entry.slug();
        for r in target.entry.resources.iter().filter(|r| r.template) {
            let mut template =
                ResourceTemplate::new(reach.naming.template(slug, &r.uri), reach.naming.resource_name(slug, &r.name));
            if !r.description.is_empty() {
                template = template.with_description(r.description.clone());
            }
            template.mime_type = r.mime_type.clone();
            templates.push(with_details(template, r.details.as_ref(), |uri| reach.naming.uri(slug, uri)));
        }
    }
    templates.sort_by(|a, b| a.uri_template.cmp(&b.uri_template));
    let (templates, next) = page(templates, |t: &ResourceTemplate| t.uri_template.as_str(), request)?;
    private!(ListResourceTemplatesResult::with_all_items(templates), next)
}

pub fn prompts(reach: &Reach, request: Option<PaginatedRequestParams>) -> Result<ListPromptsResult, ErrorData> {
    let mut prompts = Vec::new();
    for target in reach.enabled() {
        for p in &target.entry.prompts {
            let arguments: Vec<PromptArgument> = p
                .arguments
                .0
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| {
                    let mut arg = PromptArgument::new(a.get("name")?.as_str()?);
                    arg.description =
                        a.get("description").and_then(Value::as_str).filter(|d| !d.is_empty()).map(Into::into);
                    arg.required = a.get("required").and_then(Value::as_bool);
                    Some(arg)
                })
                .collect();
            let description = (!p.description.is_empty()).then(|| p.description.clone());
            let slug = target.entry.slug();
            let prompt = Prompt::new(reach.naming.name(slug, &p.name), description, Some(arguments));
            prompts.push(with_details(prompt, p.details.as_ref(), |uri| reach.naming.uri(slug, uri)));
        }
    }
    prompts.sort_by(|a, b| a.name.cmp(&b.name));
    let (prompts, next) = page(prompts, |p: &Prompt| p.name.as_str(), request)?;
    private!(ListPromptsResult::with_all_items(prompts), next)
}

/// A skill's entry as the caller names it: its URI and its files' URIs
/// renamed, the frontmatter, digests and sizes as the server listed them.
pub fn skill_entry(naming: Naming, slug: &str, record: &SkillRecord) -> Option<Skill> {
    let mut skill: Skill = serde_json::from_value(record.entry.0.clone()).ok()?;
    skill.uri = naming.uri(slug, &skill.uri);
    if let SkillResources::Files(files) = &mut skill.resources {
        for file in files {
            file.uri = naming.uri(slug, &file.uri);
        }
    }
    Some(skill)
}

/// `skills/list` (SEP-2640): every skill of the servers the caller
/// reaches, by URI; an entry is never split across pages.
pub fn skills(reach: &Reach, request: Option<PaginatedRequestParams>) -> Result<ListSkillsResult, ErrorData> {
    let mut skills: Vec<Skill> = reach
        .enabled()
        .flat_map(|t| t.entry.skills.iter().filter_map(|k| skill_entry(reach.naming, t.entry.slug(), k)))
        .collect();
    skills.sort_by(|a, b| a.uri.cmp(&b.uri));
    let (skills, next) = page(skills, |k: &Skill| k.uri.as_str(), request)?;
    private!(ListSkillsResult::with_all_items(skills), next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_details_are_listed_and_app_resources_renamed() {
        let details = sqlx::types::Json(serde_json::json!({
            "title": "Weather",
            "name": "not-this",
            "annotations": {"readOnlyHint": true},
            "_meta": {"ui": {"resourceUri": "ui://weather/app.html"}, "ui/resourceUri": "ui://weather/app.html"},
        }));
        let tool = Tool::new("w.forecast", "Forecast", Arc::new(Map::new()));
        let listed = with_details(tool, Some(&details), |uri| format!("omnimcp://w/{uri}"));
        let listed = serde_json::to_value(listed).unwrap();
        assert_eq!(listed["name"], "w.forecast", "the listing's own name wins");
        assert_eq!(listed["title"], "Weather");
        assert_eq!(listed["annotations"]["readOnlyHint"], true);
        assert_eq!(listed["_meta"]["ui"]["resourceUri"], "omnimcp://w/ui://weather/app.html");
        assert_eq!(listed["_meta"]["ui/resourceUri"], "omnimcp://w/ui://weather/app.html");
    }

    #[test]
    fn pages_follow_the_cursor() {
        let items: Vec<String> = (0..250).map(|i| format!("t{i:03}")).collect();
        let (first, cursor) = page(items.clone(), |s| s.as_str(), None).unwrap();
        assert_eq!(first.len(), PAGE_SIZE);
        let request = |c: Option<String>| Some(PaginatedRequestParams::default().with_cursor(c));
        let (second, cursor) = page(items.clone(), |s| s.as_str(), request(cursor)).unwrap();
        assert_eq!(second[0], "t100");
        let (third, cursor) = page(items.clone(), |s| s.as_str(), request(cursor)).unwrap();
        assert_eq!((third.len(), third.last().unwrap().as_str(), cursor), (50, "t249", None));
        assert!(page(items, |s| s.as_str(), request(Some("%%%".into()))).is_err());
    }
}

//! The lists `/mcp` answers with (tools, resources, resource templates,
//! prompts): built from what the caller can reach, in the caller's names,
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
        ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
        Prompt, PromptArgument, Resource, ResourceTemplate, Tool,
    },
};
use serde_json::{Map, Value};

use crate::gateway::Reach;

/// How many items one page of a list holds.
pub const PAGE_SIZE: usize = 100;

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
            tools.push(tool);
        }
    }
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    let (tools, next) = page(tools, |t: &Tool| t.name.as_ref(), request)?;
    let mut result = ListToolsResult::with_all_items(tools);
    result.next_cursor = next;
    Ok(result)
}

pub fn resources(reach: &Reach, request: Option<PaginatedRequestParams>) -> Result<ListResourcesResult, ErrorData> {
    let mut resources = Vec::new();
    for target in reach.enabled() {
        let slug = target.entry.slug();
        for r in target.entry.resources.iter().filter(|r| !r.template) {
            let mut resource = Resource::new(reach.naming.uri(slug, &r.uri), reach.naming.resource_name(slug, &r.name));
            if !r.description.is_empty() {
                resource = resource.with_description(r.description.clone());
            }
            resource.mime_type = r.mime_type.clone();
            resources.push(resource);
        }
    }
    resources.sort_by(|a, b| a.uri.cmp(&b.uri));
    let (resources, next) = page(resources, |r: &Resource| r.uri.as_str(), request)?;
    let mut result = ListResourcesResult::with_all_items(resources);
    result.next_cursor = next;
    Ok(result)
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
            templates.push(template);
        }
    }
    templates.sort_by(|a, b| a.uri_template.cmp(&b.uri_template));
    let (templates, next) = page(templates, |t: &ResourceTemplate| t.uri_template.as_str(), request)?;
    let mut result = ListResourceTemplatesResult::with_all_items(templates);
    result.next_cursor = next;
    Ok(result)
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
            prompts.push(Prompt::new(reach.naming.name(target.entry.slug(), &p.name), description, Some(arguments)));
        }
    }
    prompts.sort_by(|a, b| a.name.cmp(&b.name));
    let (prompts, next) = page(prompts, |p: &Prompt| p.name.as_str(), request)?;
    let mut result = ListPromptsResult::with_all_items(prompts);
    result.next_cursor = next;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

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

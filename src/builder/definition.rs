//! A builder server's definition: its tools as data, as saved by the flow
//! editor, the REST API or an OpenAPI import, and the checks that make it
//! safe to run ([`Definition::compile`]).
//!
//! The design document's JSON is accepted as it is: a tool's `action` is
//! one `http_request` step with `config: {method, url, params, headers}`,
//! and `responseMapping` its Return. `steps` generalises it: HTTP requests
//! and transforms in order, each with an `id` later steps may read
//! (`{{steps.ID.x}}`), the last HTTP response being `{{data}}`.

use std::collections::{HashMap, HashSet};

use reqwest::{Method, Url, header::HeaderName};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{
    mapping::Mapping,
    template::{Root, Template, json_templates},
};
use crate::{db::ToolRecord, gateway::registry::compile_schema, servers::ToolAnnotationsSpec};

/// Most steps one tool may run.
pub const MAX_STEPS: usize = 8;
/// Most settings and secrets a definition may declare (each).
pub const MAX_DECLARED: usize = 32;

/// A definition as saved (and exported, and imported).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Definition {
    /// Settings each installing user gives (`{{config.NAME}}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<Setting>,
    /// Names of the publisher's secrets (`{{secrets.NAME}}`); their values
    /// are set apart, sealed, and never shown again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    pub tools: Vec<ToolDef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Setting {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Write-only: an API key of the user's own, never shown back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The arguments' JSON Schema; derived from the templates when absent
    /// (every argument they name, as a required string).
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "parameters")]
    #[schema(value_type = Option<Object>)]
    pub input_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolAnnotationsSpec>,
    /// The design document's single step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Step>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// Output name -> where its value comes from (see `mapping`); absent:
    /// the whole last response is the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub response_mapping: Option<Value>,
    /// The result's JSON Schema; derived from the mapping when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub output_schema: Option<Value>,
}

impl ToolDef {
    /// The steps in order, `action` being the only one when given.
    pub fn all_steps(&self) -> impl Iterator<Item = &Step> {
        self.action.iter().chain(self.steps.iter())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    HttpRequest {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        config: HttpConfig,
    },
    /// A mapping over what came before, kept as `{{steps.ID}}`.
    Transform {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[schema(value_type = Object)]
        mapping: Value,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "get")]
    pub method: String,
    /// Scheme, host and port are fixed here; templates may fill the path
    /// and the query only.
    pub url: String,
    /// Query parameters (values may be templates).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub headers: Map<String, Value>,
    /// A JSON body template (typed: `"{{n}}"` puts the number itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
    /// `json` (the default) or `form` (`application/x-www-form-urlencoded`
    /// from a flat object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_type: Option<String>,
}

fn get() -> String {
    "GET".into()
}

/// Headers a definition may not set: the HTTP client owns them.
const FORBIDDEN_HEADERS: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
];

/// A definition checked and parsed once, ready to run any number of calls.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub tools: HashMap<String, CompiledTool>,
    /// Names of settings whose values are secret (masked in test output).
    pub secret_settings: HashSet<String>,
}

#[derive(Debug, Clone)]
pub struct CompiledTool {
    pub steps: Vec<CompiledStep>,
    pub mapping: Option<Mapping>,
}

#[derive(Debug, Clone)]
pub enum CompiledStep {
    Http(Box<HttpStep>),
    Transform { id: String, mapping: Mapping },
}

#[derive(Debug, Clone)]
pub struct HttpStep {
    pub id: String,
    pub method: Method,
    /// `scheme://host:port`, fixed by the definition.
    pub origin: Url,
    /// The path's segments after the first `/`.
    pub path: Vec<Template>,
    pub query: Vec<(String, Template)>,
    pub headers: Vec<(HeaderName, Template)>,
    pub body: Option<Value>,
    pub form: bool,
}

/// Why a definition is refused: the field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

fn invalid<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid { field: field.into(), message: message.into() })
}

fn word(name: &str) -> bool {
    crate::servers::valid_name(name)
}

/// Splits a URL template into its fixed origin, path segment templates and
/// query templates. Nothing may be templated before the path.
fn parse_url(url: &str, at: &str) -> Result<(Url, Vec<Template>, Vec<(String, Template)>), Invalid> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return invalid(at, "use an absolute URL such as https://api.example.com/v1/items");
    };
    if !matches!(scheme, "https" | "http") {
        return invalid(at, "use an http or https URL");
    }
    if url.contains('#') {
        return invalid(at, "a URL here has no #fragment");
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains("{{") || authority.contains('}') || authority.contains('@') {
        return invalid(
            at,
            "the host is fixed by the definition: templates may fill the path and the query, never the scheme, host or port (and no user:password@)",
        );
    }
    let origin = Url::parse(&format!("{scheme}://{authority}/"))
        .map_err(|e| Invalid { field: at.into(), message: format!("not a valid URL: {e}") })?;
    if origin.host_str().is_none_or(str::is_empty) {
        return invalid(at, "the URL needs a host");
    }
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let template = |t: &str| Template::parse(t).map_err(|e| Invalid { field: at.into(), message: e });
    let mut segments = Vec::new();
    for seg in path.split('/').skip(1) {
        let t = template(seg)?;
        if t.is_literal() && (seg == "." || seg == "..") {
            return invalid(at, "a URL path here has no . or .. segments");
        }
        segments.push(t);
    }
    let mut pairs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name.contains("{{") {
            return invalid(at, "query parameter names are fixed; templates fill values only");
        }
        let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy().into_owned();
        let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy().into_owned();
        pairs.push((name, template(&value)?));
    }
    Ok((origin, segments, pairs))
}

/// A value of `params` or `headers`: text (a template), or a number or
/// boolean taken as its text.
fn text_template(value: &Value, at: &str) -> Result<Template, Invalid> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => value.to_string(),
        _ => return invalid(at, "use text (a template such as {{city}}), a number or a boolean"),
    };
    Template::parse(&text).map_err(|e| Invalid { field: at.into(), message: e })
}

impl Definition {
    /// Parses a definition from JSON; an error names the field at fault.
    pub fn from_json(value: &Value) -> Result<Self, Invalid> {
        serde_path_to_error::deserialize(value).map_err(|e| Invalid {
            field: match e.path().to_string() {
                p if p == "." => "definition".into(),
                p => format!("definition.{p}"),
            },
            message: e.inner().to_string(),
        })
    }

    /// Checks everything a call relies on and parses the templates once.
    pub fn compile(&self) -> Result<Compiled, Invalid> {
        if self.tools.is_empty() {
            return invalid("tools", "a builder server needs at least one tool");
        }
        if self.tools.len() > crate::servers::MAX_TOOLS {
            return invalid("tools", format!("at most {} tools", crate::servers::MAX_TOOLS));
        }
        if self.settings.len() > MAX_DECLARED || self.secrets.len() > MAX_DECLARED {
            return invalid("settings", format!("at most {MAX_DECLARED} settings and {MAX_DECLARED} secrets"));
        }
        let mut settings = HashSet::new();
        for (i, s) in self.settings.iter().enumerate() {
            if !word(&s.name) || !settings.insert(s.name.as_str()) {
                return invalid(format!("settings[{i}].name"), "use a unique name of letters, digits, '_' and '-'");
            }
        }
        let mut secrets = HashSet::new();
        for (i, s) in self.secrets.iter().enumerate() {
            if !word(s) || !secrets.insert(s.as_str()) {
                return invalid(format!("secrets[{i}]"), "use a unique name of letters, digits, '_' and '-'");
            }
        }
        let mut tools = HashMap::new();
        for (i, tool) in self.tools.iter().enumerate() {
            let at = format!("tools[{i}]");
            if !word(&tool.name) {
                return invalid(format!("{at}.name"), "use 1-64 characters: letters, digits, '_' and '-'");
            }
            if tools.contains_key(&tool.name) {
                return invalid(format!("{at}.name"), format!("the tool name {} appears twice", tool.name));
            }
            let compiled = compile_tool(tool, &at, &settings, &secrets)?;
            tools.insert(tool.name.clone(), compiled);
        }
        let secret_settings = self.settings.iter().filter(|s| s.secret).map(|s| s.name.clone()).collect();
        Ok(Compiled { tools, secret_settings })
    }

    /// The tools as the registry lists them (the input schema given or
    /// derived, the output schema given or derived from the mapping).
    pub fn tool_records(&self) -> Result<Vec<ToolRecord>, Invalid> {
        self.compile()?;
        self.tools
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let at = format!("tools[{i}]");
                let input = input_schema(t);
                let output = match (&t.output_schema, &t.response_mapping) {
                    (Some(s), _) => Some(s.clone()),
                    (None, Some(m)) => Some(
                        Mapping::parse(m, &format!("{at}.responseMapping"))
                            .map_err(|(field, message)| Invalid { field, message })?
                            .schema(),
                    ),
                    (None, None) => None,
                };
                Ok(ToolRecord {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    parameters: sqlx::types::Json(input),
                    output_schema: output.map(sqlx::types::Json),
                    details: t.annotations.as_ref().map(|a| sqlx::types::Json(json!({ "annotations": a }))),
                })
            })
            .collect()
    }

    /// The JSON Schema of an installation's configuration: one string per
    /// setting, the secret ones write-only (never shown back).
    pub fn config_schema(&self) -> Option<Value> {
        if self.settings.is_empty() {
            return None;
        }
        let properties: Map<String, Value> = self
            .settings
            .iter()
            .map(|s| {
                let mut p = json!({"type": "string", "title": s.name});
                if !s.description.is_empty() {
                    p["description"] = json!(s.description);
                }
                if s.secret {
                    p["writeOnly"] = json!(true);
                }
                (s.name.clone(), p)
            })
            .collect();
        let required: Vec<&str> = self.settings.iter().filter(|s| s.required).map(|s| s.name.as_str()).collect();
        Some(json!({"type": "object", "properties": properties, "required": required}))
    }
}

/// Every argument a tool's templates name, in order of first use.
fn referenced_arguments(tool: &ToolDef) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |t: &Template| {
        for r in t.references() {
            if let Root::Arg(n) = &r.root
                && !names.contains(n)
            {
                names.push(n.clone());
            }
        }
    };
    for step in tool.all_steps() {
        if let Step::HttpRequest { config, .. } = step {
            if let Ok((_, path, query)) = parse_url(&config.url, "") {
                path.iter().for_each(&mut add);
                query.iter().for_each(|(_, t)| add(t));
            }
            for v in config.params.values().chain(config.headers.values()) {
                if let Ok(t) = text_template(v, "") {
                    add(&t);
                }
            }
            if let Some(body) = &config.body {
                json_templates(body).unwrap_or_default().iter().for_each(&mut add);
            }
        }
    }
    names
}

/// The tool's input schema, given or derived.
pub fn input_schema(tool: &ToolDef) -> Value {
    if let Some(schema) = &tool.input_schema {
        return schema.clone();
    }
    let names = referenced_arguments(tool);
    let properties: Map<String, Value> = names.iter().map(|n| (n.clone(), json!({"type": "string"}))).collect();
    json!({"type": "object", "properties": properties, "required": names})
}

fn compile_tool(
    tool: &ToolDef,
    at: &str,
    settings: &HashSet<&str>,
    secrets: &HashSet<&str>,
) -> Result<CompiledTool, Invalid> {
    let schema = input_schema(tool);
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return invalid(format!("{at}.inputSchema"), "an input schema must be a JSON Schema with \"type\": \"object\"");
    }
    compile_schema(&schema).map_err(|e| Invalid {
        field: format!("{at}.inputSchema"),
        message: format!("not a valid JSON Schema: {e}"),
    })?;
    if let Some(out) = &tool.output_schema {
        compile_schema(out).map_err(|e| Invalid {
            field: format!("{at}.outputSchema"),
            message: format!("not a valid JSON Schema: {e}"),
        })?;
    }
    let declared: HashSet<&str> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let (steps_at, steps): (String, Vec<&Step>) = match (&tool.action, tool.steps.is_empty()) {
        (Some(action), true) => (format!("{at}.action"), vec![action]),
        (None, false) => (format!("{at}.steps"), tool.steps.iter().collect()),
        (Some(_), false) => return invalid(at, "give either action (one step) or steps, not both"),
        (None, true) => return invalid(at, "a tool needs an action or steps"),
    };
    if steps.len() > MAX_STEPS {
        return invalid(steps_at, format!("at most {MAX_STEPS} steps"));
    }
    let mut seen_ids: Vec<String> = Vec::new();
    let mut had_http = false;
    let mut compiled = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let here = if tool.action.is_some() { steps_at.clone() } else { format!("{steps_at}[{i}]") };
        let (id, given) = match step {
            Step::HttpRequest { id, .. } | Step::Transform { id, .. } => (id.clone(), id.is_some()),
        };
        let id = id.unwrap_or_else(|| format!("step{}", i + 1));
        if given && !word(&id) {
            return invalid(format!("{here}.id"), "use letters, digits, '_' and '-'");
        }
        if seen_ids.contains(&id) {
            return invalid(format!("{here}.id"), format!("the step id {id} appears twice"));
        }
        // What a template in this step may name.
        let check = |t: &Template, field: &str| -> Result<(), Invalid> {
            for r in t.references() {
                let problem = match &r.root {
                    Root::Arg(n) if !declared.contains(n.as_str()) => {
                        Some(format!("names the argument {n}, which the input schema does not declare"))
                    }
                    Root::Config(n) if !settings.contains(n.as_str()) => {
                        Some(format!("names the setting {n}, which the definition does not declare in settings"))
                    }
                    Root::Secret(n) if !secrets.contains(n.as_str()) => {
                        Some(format!("names the secret {n}, which the definition does not declare in secrets"))
                    }
                    Root::Data if !had_http => Some("reads {{data}} before any HTTP request".to_string()),
                    Root::Step(n) if !seen_ids.contains(n) => {
                        Some(format!("reads steps.{n}, which is not an earlier step"))
                    }
                    _ => None,
                };
                if let Some(problem) = problem {
                    return invalid(field, problem);
                }
            }
            Ok(())
        };
        match step {
            Step::HttpRequest { config, .. } => {
                let method = match config.method.to_ascii_uppercase().as_str() {
                    m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD") => {
                        Method::from_bytes(m.as_bytes()).expect("a known method")
                    }
                    _ => return invalid(format!("{here}.config.method"), "use GET, POST, PUT, PATCH, DELETE or HEAD"),
                };
                let url_at = format!("{here}.config.url");
                let (origin, path, mut query) = parse_url(&config.url, &url_at)?;
                path.iter().try_for_each(|t| check(t, &url_at))?;
                query.iter().try_for_each(|(_, t)| check(t, &url_at))?;
                for (name, value) in &config.params {
                    let field = format!("{here}.config.params.{name}");
                    if name.is_empty() || name.contains("{{") {
                        return invalid(field, "query parameter names are fixed text");
                    }
                    let t = text_template(value, &field)?;
                    check(&t, &field)?;
                    query.push((name.clone(), t));
                }
                let mut headers = Vec::new();
                for (name, value) in &config.headers {
                    let field = format!("{here}.config.headers.{name}");
                    let header = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| Invalid { field: field.clone(), message: "not a valid header name".into() })?;
                    if FORBIDDEN_HEADERS.contains(&header.as_str()) {
                        return invalid(field, "this header is set by the HTTP client, not by a definition");
                    }
                    let t = text_template(value, &field)?;
                    check(&t, &field)?;
                    headers.push((header, t));
                }
                let form = match config.body_type.as_deref() {
                    None | Some("json") => false,
                    Some("form") => true,
                    Some(_) => return invalid(format!("{here}.config.bodyType"), "use json or form"),
                };
                if let Some(body) = &config.body {
                    let field = format!("{here}.config.body");
                    if matches!(method, Method::GET | Method::HEAD) {
                        return invalid(field, "a GET or HEAD request has no body");
                    }
                    if form && !body.as_object().is_some_and(|o| o.values().all(|v| !v.is_object() && !v.is_array())) {
                        return invalid(field, "a form body is a flat object of names and values");
                    }
                    let templates = json_templates(body).map_err(|e| Invalid { field: field.clone(), message: e })?;
                    templates.iter().try_for_each(|t| check(t, &field))?;
                }
                compiled.push(CompiledStep::Http(Box::new(HttpStep {
                    id: id.clone(),
                    method,
                    origin,
                    path,
                    query,
                    headers,
                    body: config.body.clone(),
                    form,
                })));
                had_http = true;
            }
            Step::Transform { mapping, .. } => {
                let field = format!("{here}.mapping");
                let parsed = Mapping::parse(mapping, &field).map_err(|(field, message)| Invalid { field, message })?;
                let templates = json_templates(mapping).unwrap_or_default();
                templates.iter().try_for_each(|t| check(t, &field))?;
                compiled.push(CompiledStep::Transform { id: id.clone(), mapping: parsed });
            }
        }
        seen_ids.push(id);
    }
    if !had_http {
        return invalid(steps_at, "a tool needs at least one HTTP request");
    }
    let mapping = match &tool.response_mapping {
        None => None,
        Some(m) => {
            let field = format!("{at}.responseMapping");
            if !m.is_object() {
                return invalid(field, "a response mapping is an object: output name -> where its value comes from");
            }
            let parsed = Mapping::parse(m, &field).map_err(|(field, message)| Invalid { field, message })?;
            for t in json_templates(m).unwrap_or_default() {
                for r in t.references() {
                    if let Root::Step(n) = &r.root
                        && !seen_ids.contains(n)
                    {
                        return invalid(field, format!("reads steps.{n}, which is not a step of this tool"));
                    }
                    if let Root::Arg(n) = &r.root
                        && !declared.contains(n.as_str())
                    {
                        return invalid(
                            field,
                            format!("names the argument {n}, which the input schema does not declare"),
                        );
                    }
                }
            }
            Some(parsed)
        }
    };
    Ok(CompiledTool { steps: compiled, mapping })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The design document's saved JSON, exactly.
    pub fn design_document() -> Value {
        json!({
          "tools": [{
            "name": "get_weather",
            "action": {
              "type": "http_request",
              "config": {
                "method": "GET",
                "url": "https://api.weather.com/v1/current",
                "params": { "location": "{{location}}" }
              }
            },
            "responseMapping": {
              "temperature": "{{data.main.temp}}",
              "condition": "{{data.weather[0].main}}"
            }
          }]
        })
    }

    fn refused(definition: Value) -> Invalid {
        Definition::from_json(&definition).and_then(|d| d.compile().map(|_| ())).unwrap_err()
    }

    #[test]
    fn the_design_documents_json_is_accepted_as_it_is() {
        let d = Definition::from_json(&design_document()).unwrap();
        let compiled = d.compile().unwrap();
        let tool = &compiled.tools["get_weather"];
        let CompiledStep::Http(http) = &tool.steps[0] else { panic!("an HTTP step") };
        assert_eq!(http.origin.as_str(), "https://api.weather.com/");
        assert_eq!(http.query[0].0, "location");
        let records = d.tool_records().unwrap();
        assert_eq!(
            records[0].parameters.0,
            json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]})
        );
        let out = records[0].output_schema.as_ref().unwrap();
        assert_eq!(out.0["required"], json!(["condition", "temperature"]));
        // It round-trips as saved.
        assert_eq!(serde_json::to_value(&d).unwrap(), design_document());
    }

    #[test]
    fn the_host_is_fixed_by_the_definition() {
        for url in [
            "https://{{host}}/v1",
            "https://api.example.com:{{port}}/v1",
            "{{scheme}}://api.example.com/",
            "https://{{sub}}.example.com/",
            "https://user:{{pw}}@api.example.com/",
            "ftp://example.com/x",
            "https://api.example.com/a#{{frag}}",
            "api.example.com/v1",
            "https://api.example.com/a/../admin",
        ] {
            let mut d = design_document();
            d["tools"][0]["action"]["config"]["url"] = json!(url);
            let err = refused(d);
            assert_eq!(err.field, "tools[0].action.config.url", "{url}: {err:?}");
        }
    }

    #[test]
    fn references_must_be_declared() {
        let mut d = design_document();
        d["tools"][0]["action"]["config"]["headers"] = json!({"X-Key": "{{secrets.KEY}}"});
        let err = refused(d.clone());
        assert!(err.message.contains("secret KEY"), "{err:?}");
        d["secrets"] = json!(["KEY"]);
        Definition::from_json(&d).unwrap().compile().unwrap();

        d["tools"][0]["action"]["config"]["params"]["units"] = json!("{{config.UNITS}}");
        assert!(refused(d.clone()).message.contains("setting UNITS"));
        d["settings"] = json!([{"name": "UNITS"}]);
        Definition::from_json(&d).unwrap().compile().unwrap();

        d["tools"][0]["inputSchema"] = json!({"type": "object", "properties": {"city": {"type": "string"}}});
        let err = refused(d.clone());
        assert!(err.message.contains("argument location"), "{err:?}");

        let mut d = design_document();
        d["tools"][0]["responseMapping"]["key"] = json!("{{secrets.KEY}}");
        assert_eq!(refused(d).field, "tools[0].responseMapping.key");
        let mut d = design_document();
        d["tools"][0]["action"]["config"]["headers"] = json!({"Host": "evil.example"});
        assert_eq!(refused(d).field, "tools[0].action.config.headers.Host");
        let mut d = design_document();
        d["tools"][0]["action"]["config"]["body"] = json!({"a": 1});
        assert!(refused(d).message.contains("no body"));
        let mut d = design_document();
        d["tools"][0]["action"]["config"]["surprise"] = json!(1);
        let err = refused(d);
        // Inside a tagged step serde names the step, and the message the field.
        assert_eq!(err.field, "definition.tools[0].action");
        assert!(err.message.contains("surprise"), "{err:?}");
    }

    #[test]
    fn steps_read_only_earlier_steps() {
        let d = json!({"tools": [{
            "name": "t",
            "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}},
            "steps": [
                {"type": "http_request", "id": "geo", "config": {"url": "https://geo.example/search?name={{q}}"}},
                {"type": "transform", "id": "place", "mapping": {"lat": "{{steps.geo.results[0].latitude}}"}},
                {"type": "http_request", "id": "wx", "config": {"url": "https://wx.example/f", "params": {"lat": "{{steps.place.lat}}"}}}
            ],
            "responseMapping": {"temp": "$.current.temperature", "lat": "{{steps.place.lat}}"}
        }]});
        let compiled = Definition::from_json(&d).unwrap().compile().unwrap();
        assert_eq!(compiled.tools["t"].steps.len(), 3);
        let mut bad = d.clone();
        bad["tools"][0]["steps"][1]["mapping"]["lat"] = json!("{{steps.wx.lat}}");
        assert!(refused(bad).message.contains("steps.wx"));
        let mut only_transform = d.clone();
        only_transform["tools"][0]["steps"] = json!([{"type": "transform", "mapping": {"a": 1}}]);
        assert!(refused(only_transform).message.contains("HTTP request"));
    }

    #[test]
    fn settings_become_a_config_schema_with_write_only_secrets() {
        let d = Definition {
            settings: vec![
                Setting {
                    name: "UNITS".into(),
                    description: "metric or imperial".into(),
                    secret: false,
                    required: false,
                },
                Setting { name: "TOKEN".into(), description: String::new(), secret: true, required: true },
            ],
            ..Default::default()
        };
        let schema = d.config_schema().unwrap();
        assert_eq!(schema["properties"]["TOKEN"]["writeOnly"], json!(true));
        assert!(schema["properties"]["UNITS"].get("writeOnly").is_none());
        assert_eq!(schema["required"], json!(["TOKEN"]));
    }
}

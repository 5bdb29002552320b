//! OpenAPI import: an OpenAPI 3.0 or 3.1 document (JSON or YAML) becomes
//! one builder tool per chosen operation.
//!
//! - parameters in the path, query and headers, and a JSON request body
//!   (one `body` argument, typed by its schema), become the input schema,
//!   each filled by a template where it belongs;
//! - the first server URL (its variables at their defaults; relative to
//!   the document's own URL when it was fetched) is the fixed base;
//! - API-key and bearer security schemes become settings each installing
//!   user gives (write-only), or the publisher's secrets;
//! - methods give the annotations (GET reads, DELETE destroys...).
//!
//! Local `$ref`s are followed with a depth and size budget: a recursive
//! or exploding schema ends in `{}` (anything) rather than in a hang.
//! What cannot be carried over (cookies, OAuth flows, form or file bodies)
//! is skipped and said in `problems`.

use std::collections::{BTreeMap, HashSet};

use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::definition::{Definition, HttpConfig, Setting, Step, ToolDef};
use crate::servers::ToolAnnotationsSpec;

/// Largest document accepted (bytes).
pub const MAX_DOCUMENT: usize = 2 * 1024 * 1024;
/// How deep `$ref`s are followed inside one schema.
const MAX_REF_DEPTH: usize = 6;
/// Most JSON nodes one operation's schemas may expand to.
const MAX_NODES: usize = 20_000;
const METHODS: [&str; 6] = ["get", "post", "put", "patch", "delete", "head"];

/// Who holds the API's credentials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CredentialOwner {
    /// Each installing user gives their own (a write-only setting).
    #[default]
    User,
    /// The publisher's own, sealed (`{{secrets.NAME}}`).
    Publisher,
}

/// One operation, as offered for choosing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationView {
    /// The tool it becomes (from `operationId`, else method and path).
    pub name: String,
    pub method: String,
    pub path: String,
    pub summary: String,
}

/// What a document offers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub title: String,
    pub version: String,
    /// The base every tool's URL starts with, if the document gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub operations: Vec<OperationView>,
    /// What could not be carried over, per operation or for the document.
    pub problems: Vec<String>,
}

/// A document parsed and checked, ready to preview or convert.
pub struct Document {
    root: Value,
    base_url: Option<String>,
    ops: Vec<Op>,
}

struct Op {
    view: OperationView,
    item: Value,
    path_item: Value,
}

/// Parses JSON or YAML text into a JSON value.
pub fn parse_text(text: &str) -> Result<Value, String> {
    if text.len() > MAX_DOCUMENT {
        return Err(format!("a document has at most {} MiB", MAX_DOCUMENT / (1024 * 1024)));
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).map_err(|e| format!("not valid JSON: {e}"));
    }
    serde_yaml_ng::from_str::<Value>(text).map_err(|e| format!("neither JSON nor valid YAML: {e}"))
}

/// `[A-Za-z0-9_-]`, at most 64 characters, never empty.
fn sanitize(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    out = out.trim_matches('_').to_string();
    if out.is_empty() {
        out = "x".into();
    }
    out.chars().take(64).collect()
}

/// A name not yet in `taken` (suffixed `_2`, `_3`... when it is).
fn unique(base: String, taken: &mut HashSet<String>) -> String {
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        let suffix = format!("_{n}");
        name = format!("{}{suffix}", &base[..base.len().min(64 - suffix.len())]);
        n += 1;
    }
    taken.insert(name.clone());
    name
}

/// Follows local `$ref`s (`#/components/...`) within budgets.
struct Resolver<'a> {
    root: &'a Value,
    nodes: usize,
}

impl Resolver<'_> {
    fn pointer(&self, reference: &str) -> Option<&Value> {
        let pointer = reference.strip_prefix('#')?;
        let decoded = percent_encoding::percent_decode_str(pointer).decode_utf8().ok()?;
        self.root.pointer(&decoded)
    }

    fn resolve(&mut self, value: &Value, depth: usize) -> Value {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return json!({});
        }
        match value {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    if depth >= MAX_REF_DEPTH {
                        return json!({"description": "(a recursive or deeply nested structure)"});
                    }
                    return match self.pointer(reference) {
                        Some(target) => {
                            let target = target.clone();
                            self.resolve(&target, depth + 1)
                        }
                        None => json!({}),
                    };
                }
                let mut out = Map::new();
                for (k, v) in map {
                    // Documentation-only keywords JSON Schema does not know.
                    if matches!(k.as_str(), "xml" | "example" | "externalDocs" | "discriminator") {
                        continue;
                    }
                    out.insert(k.clone(), self.resolve(v, depth));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.resolve(v, depth)).collect()),
            other => other.clone(),
        }
    }
}

/// The first server's URL, variables at their defaults, made absolute
/// against where the document came from.
fn base_url(root: &Value, source: Option<&Url>) -> Option<String> {
    let server = root.get("servers").and_then(Value::as_array).and_then(|s| s.first());
    let mut url = server.and_then(|s| s.get("url")).and_then(Value::as_str).unwrap_or("/").to_string();
    if let Some(vars) = server.and_then(|s| s.get("variables")).and_then(Value::as_object) {
        for (name, var) in vars {
            if let Some(default) = var.get("default").and_then(Value::as_str) {
                url = url.replace(&format!("{{{name}}}"), default);
            }
        }
    }
    let absolute = match Url::parse(&url) {
        Ok(u) => u,
        Err(_) => source?.join(&url).ok()?,
    };
    matches!(absolute.scheme(), "http" | "https").then(|| absolute.as_str().trim_end_matches('/').to_string())
}

impl Document {
    /// Reads a document (`source`: where it was fetched from, if it was).
    pub fn read(root: Value, source: Option<&Url>) -> Result<Self, String> {
        let version = root.get("openapi").and_then(Value::as_str).unwrap_or("");
        if !version.starts_with("3.") {
            return Err(if root.get("swagger").is_some() {
                "this is a Swagger 2.0 document: convert it to OpenAPI 3 first (swagger2openapi, or the Swagger editor)"
                    .into()
            } else {
                "not an OpenAPI 3.0 or 3.1 document (no \"openapi\": \"3.x\" field)".into()
            });
        }
        let paths = root.get("paths").and_then(Value::as_object).ok_or("the document has no paths")?;
        let mut ops = Vec::new();
        let mut taken = HashSet::new();
        for (path, path_item) in paths {
            for method in METHODS {
                let Some(item) = path_item.get(method) else { continue };
                let base = match item.get("operationId").and_then(Value::as_str) {
                    Some(id) => sanitize(id),
                    None => sanitize(&format!("{method}_{}", path.replace(['{', '}'], ""))),
                };
                let summary = item
                    .get("summary")
                    .or_else(|| item.get("description"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect();
                ops.push(Op {
                    view: OperationView {
                        name: unique(base, &mut taken),
                        method: method.to_ascii_uppercase(),
                        path: path.clone(),
                        summary,
                    },
                    item: item.clone(),
                    path_item: path_item.clone(),
                });
            }
        }
        let base_url = base_url(&root, source);
        Ok(Self { root, base_url, ops })
    }

    pub fn preview(&self) -> Preview {
        let info = self.root.get("info");
        let text = |k: &str| info.and_then(|i| i.get(k)).and_then(Value::as_str).unwrap_or("").to_string();
        let mut problems = Vec::new();
        if self.base_url.is_none() {
            problems.push("the document gives no absolute server URL: give the base URL to import from".into());
        }
        Preview {
            title: text("title"),
            version: text("version"),
            base_url: self.base_url.clone(),
            operations: self.ops.iter().map(|o| o.view.clone()).collect(),
            problems,
        }
    }

    /// The chosen operations as a definition, and what was left out.
    pub fn convert(
        &self,
        chosen: &[String],
        base_override: Option<&str>,
        credentials: CredentialOwner,
    ) -> Result<(Definition, Vec<String>), (String, String)> {
        let base = base_override
            .map(|b| b.trim_end_matches('/').to_string())
            .or_else(|| self.base_url.clone())
            .ok_or_else(|| ("baseUrl".to_string(), "the document gives no server URL: give baseUrl".to_string()))?;
        if chosen.is_empty() {
            return Err(("operations".into(), "choose at least one operation".into()));
        }
        let mut problems = Vec::new();
        let mut definition = Definition::default();
        let mut declared: BTreeMap<String, bool> = BTreeMap::new();
        for name in chosen {
            let op = self
                .ops
                .iter()
                .find(|o| &o.view.name == name)
                .ok_or_else(|| ("operations".to_string(), format!("the document has no operation {name}")))?;
            let tool = self.tool(op, &base, credentials, &mut declared, &mut problems);
            definition.tools.push(tool);
        }
        for (name, _) in declared {
            match credentials {
                CredentialOwner::User => definition.settings.push(Setting {
                    description: format!("Your credential for {name}"),
                    name,
                    secret: true,
                    required: true,
                }),
                CredentialOwner::Publisher => definition.secrets.push(name),
            }
        }
        Ok((definition, problems))
    }

    fn tool(
        &self,
        op: &Op,
        base: &str,
        credentials: CredentialOwner,
        declared: &mut BTreeMap<String, bool>,
        problems: &mut Vec<String>,
    ) -> ToolDef {
        let mut resolver = Resolver { root: &self.root, nodes: 0 };
        let name = &op.view.name;
        let mut properties = Map::new();
        let mut required = Vec::new();
        let mut taken: HashSet<String> = HashSet::new();
        let mut path = op.view.path.clone();
        let mut params = Map::new();
        let mut headers = Map::new();
        // Path-level parameters, then the operation's (which override).
        let mut parameters: Vec<Value> = Vec::new();
        for source in [&op.path_item, &op.item] {
            for p in source.get("parameters").and_then(Value::as_array).into_iter().flatten() {
                let p = resolver.resolve(p, 0);
                let key = (p.get("name").cloned(), p.get("in").cloned());
                parameters.retain(|q| (q.get("name").cloned(), q.get("in").cloned()) != key);
                parameters.push(p);
            }
        }
        for p in parameters {
            let (Some(pname), Some(location)) =
                (p.get("name").and_then(Value::as_str), p.get("in").and_then(Value::as_str))
            else {
                continue;
            };
            let arg = unique(sanitize(pname), &mut taken);
            let reference = if super::template::RESERVED.contains(&arg.as_str()) {
                format!("{{{{args.{arg}}}}}")
            } else {
                format!("{{{{{arg}}}}}")
            };
            match location {
                "path" => path = path.replace(&format!("{{{pname}}}"), &reference),
                "query" => {
                    params.insert(pname.to_string(), json!(reference));
                }
                "header" => {
                    headers.insert(pname.to_string(), json!(reference));
                }
                _ => {
                    problems.push(format!("{name}: the {location} parameter {pname} is left out"));
                    continue;
                }
            }
            let mut schema = p.get("schema").cloned().unwrap_or_else(|| json!({"type": "string"}));
            if let (Some(d), Some(obj)) = (p.get("description"), schema.as_object_mut()) {
                obj.entry("description").or_insert(d.clone());
            }
            if location == "path" || p.get("required").and_then(Value::as_bool) == Some(true) {
                required.push(json!(arg));
            }
            properties.insert(arg, schema);
        }
        let mut body = None;
        if let Some(request) = op.item.get("requestBody").map(|b| resolver.resolve(b, 0)) {
            let content = request.get("content").and_then(Value::as_object);
            match content.and_then(|c| c.iter().find(|(mime, _)| mime.contains("json"))) {
                Some((_, media)) => {
                    let arg = unique("body".into(), &mut taken);
                    properties.insert(arg.clone(), media.get("schema").cloned().unwrap_or_else(|| json!({})));
                    if request.get("required").and_then(Value::as_bool) == Some(true) {
                        required.push(json!(arg));
                    }
                    body = Some(json!(format!("{{{{{arg}}}}}")));
                }
                None => problems.push(format!("{name}: only JSON request bodies are carried over")),
            }
        }
        // The first security requirement this can carry; none when the
        // operation is public (`security: []`).
        let requirements = op.item.get("security").or_else(|| self.root.get("security"));
        let schemes = self.root.pointer("/components/securitySchemes");
        let mut secured = false;
        for requirement in requirements.and_then(Value::as_array).into_iter().flatten() {
            let Some(requirement) = requirement.as_object() else { continue };
            if requirement.is_empty() {
                secured = true; // explicitly anonymous
                break;
            }
            let mut placed = Vec::new();
            for scheme_name in requirement.keys() {
                let scheme = schemes.and_then(|s| s.get(scheme_name)).map(|s| resolver.resolve(s, 0));
                let setting = sanitize(&scheme_name.to_ascii_uppercase());
                let value = match credentials {
                    CredentialOwner::User => format!("{{{{config.{setting}}}}}"),
                    CredentialOwner::Publisher => format!("{{{{secrets.{setting}}}}}"),
                };
                let kind = scheme.as_ref().and_then(|s| s.get("type")).and_then(Value::as_str).unwrap_or("");
                let scheme_of = scheme.as_ref().and_then(|s| s.get("scheme")).and_then(Value::as_str);
                let location = scheme.as_ref().and_then(|s| s.get("in")).and_then(Value::as_str);
                let key = scheme.as_ref().and_then(|s| s.get("name")).and_then(Value::as_str).unwrap_or("");
                match (kind, location, scheme_of) {
                    ("apiKey", Some("header"), _) if !key.is_empty() => {
                        placed.push((true, key.to_string(), value, setting))
                    }
                    ("apiKey", Some("query"), _) if !key.is_empty() => {
                        placed.push((false, key.to_string(), value, setting))
                    }
                    ("http", _, Some(s)) if s.eq_ignore_ascii_case("bearer") => {
                        placed.push((true, "Authorization".into(), format!("Bearer {value}"), setting))
                    }
                    _ => {
                        placed.clear();
                        break;
                    }
                }
            }
            if placed.is_empty() {
                continue;
            }
            for (header, key, value, setting) in placed {
                if header {
                    headers.insert(key, json!(value));
                } else {
                    params.insert(key, json!(value));
                }
                declared.insert(setting, true);
            }
            secured = true;
            break;
        }
        if !secured && requirements.and_then(Value::as_array).is_some_and(|r| !r.is_empty()) {
            problems.push(format!(
                "{name}: its security schemes (OAuth 2.0, cookies, HTTP basic) are not carried over; calls go without credentials"
            ));
        }
        let method = op.view.method.clone();
        let annotations = ToolAnnotationsSpec {
            title: None,
            read_only_hint: Some(matches!(method.as_str(), "GET" | "HEAD")),
            destructive_hint: Some(method == "DELETE"),
            idempotent_hint: Some(matches!(method.as_str(), "GET" | "HEAD" | "PUT" | "DELETE")),
            open_world_hint: Some(true),
        };
        let description = [op.item.get("summary"), op.item.get("description")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n\n")
            .chars()
            .take(2000)
            .collect();
        ToolDef {
            name: name.clone(),
            description,
            input_schema: Some(json!({"type": "object", "properties": properties, "required": required})),
            annotations: Some(annotations),
            action: Some(Step::HttpRequest {
                id: None,
                config: HttpConfig { method, url: format!("{base}{path}"), params, headers, body, body_type: None },
            }),
            steps: Vec::new(),
            response_mapping: None,
            output_schema: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn petstore() -> Document {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/node_modules/@readme/oas-examples/3.0/yaml/petstore.yaml"
        ))
        .expect("npm ci installs @readme/oas-examples");
        Document::read(parse_text(&text).unwrap(), None).unwrap()
    }

    #[test]
    fn the_petstore_becomes_tools() {
        let doc = petstore();
        let preview = doc.preview();
        assert_eq!(preview.title, "Swagger Petstore");
        assert_eq!(preview.base_url.as_deref(), Some("http://petstore.swagger.io/v2"));
        assert_eq!(preview.operations.len(), 20);
        let (def, problems) = doc
            .convert(&["getPetById".into(), "findPetsByStatus".into(), "addPet".into()], None, CredentialOwner::User)
            .unwrap();
        def.compile().expect("an imported definition compiles");
        let get = &def.tools[0];
        let Some(Step::HttpRequest { config, .. }) = &get.action else { panic!() };
        assert_eq!(config.url, "http://petstore.swagger.io/v2/pet/{{petId}}");
        assert_eq!(config.headers["api_key"], "{{config.API_KEY}}");
        assert_eq!(get.input_schema.as_ref().unwrap()["required"], json!(["petId"]));
        assert_eq!(get.annotations.as_ref().unwrap().read_only_hint, Some(true));
        let find = &def.tools[1];
        let Some(Step::HttpRequest { config, .. }) = &find.action else { panic!() };
        assert_eq!(config.params["status"], "{{status}}");
        assert_eq!(find.input_schema.as_ref().unwrap()["properties"]["status"]["type"], "array");
        // addPet: the body is one typed argument, its schema with the $refs
        // followed; its OAuth security is not carried over, and says so.
        let add = &def.tools[2];
        let schema = &add.input_schema.as_ref().unwrap()["properties"]["body"];
        assert_eq!(schema["properties"]["category"]["properties"]["name"]["type"], "string");
        assert!(problems.iter().any(|p| p.starts_with("addPet") && p.contains("OAuth")), "{problems:?}");
        assert_eq!(def.settings.len(), 1);
        assert!(def.settings[0].secret);
        let (def, _) =
            doc.convert(&["getPetById".into()], Some("http://127.0.0.1:9/v2/"), CredentialOwner::Publisher).unwrap();
        assert_eq!(def.secrets, vec!["API_KEY".to_string()]);
        let Some(Step::HttpRequest { config, .. }) = &def.tools[0].action else { panic!() };
        assert_eq!(config.url, "http://127.0.0.1:9/v2/pet/{{petId}}");
    }

    #[test]
    fn circular_and_hostile_documents_end() {
        for file in ["circular.json", "schema-circular.json", "circular-request-bodies.json", "parameters-extreme.json"]
        {
            let text = std::fs::read_to_string(format!(
                "{}/node_modules/@readme/oas-examples/3.0/json/{file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            let doc = Document::read(parse_text(&text).unwrap(), None).unwrap();
            let names: Vec<String> = doc.preview().operations.into_iter().map(|o| o.name).collect();
            let (def, _) = doc.convert(&names, Some("https://api.example.com"), CredentialOwner::User).unwrap();
            def.compile().unwrap_or_else(|e| panic!("{file}: {e:?}"));
        }
        // References that point at each other forever.
        let looping = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "servers": [{"url": "https://api.example.com"}],
            "paths": {"/a": {"post": {"operationId": "a", "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}},
            "components": {"schemas": {"A": {"$ref": "#/components/schemas/B"}, "B": {"type": "object", "properties": {"a": {"$ref": "#/components/schemas/A"}, "b": {"$ref": "#/components/schemas/A"}}}}}});
        let doc = Document::read(looping, None).unwrap();
        doc.convert(&["a".into()], None, CredentialOwner::User).unwrap().0.compile().unwrap();
        assert!(Document::read(json!({"swagger": "2.0"}), None).err().unwrap().contains("Swagger 2.0"));
        assert!(parse_text(&"a: [".repeat(10)).is_err());
        let relative =
            json!({"openapi": "3.0.0", "info": {}, "paths": {"/x": {"get": {}}}, "servers": [{"url": "/api"}]});
        let source = Url::parse("http://127.0.0.1:8080/api/openapi.json").unwrap();
        assert_eq!(
            Document::read(relative, Some(&source)).unwrap().preview().base_url.as_deref(),
            Some("http://127.0.0.1:8080/api")
        );
    }
}

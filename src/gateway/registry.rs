//! The registry the call path reads: each server as the router needs it
//! ([`ServerEntry`]: its row, its typed [`Hosting`], its items, compiled
//! input schemas), cached in front of the database. Every change to a
//! server goes through [`Registry::invalidate`].
//!
//! A platform-hosted server's catalog is the one the administrator's
//! discovery run stored. When an installation's own process announces that
//! its lists changed, what it lists now is kept as that installation's view
//! ([`Registry::set_view`]) until the process stops: other users never see
//! it.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use serde_json::Value;
use uuid::Uuid;

use crate::{
    db::{Db, DbResult, PromptRecord, ResourceRecord, ServerItems, ServerRecord, SkillRecord, ToolRecord},
    upstream::Hosting,
};

/// Largest JSON Schema, serialized.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;
/// Deepest nesting of a JSON Schema.
pub const MAX_SCHEMA_DEPTH: usize = 32;
/// Most `$ref`s in one JSON Schema.
pub const MAX_SCHEMA_REFS: usize = 64;
/// Most schema nodes once every (non-recursive) `$ref` is followed: what a
/// validation of one value may have to walk. Chains of references under
/// `allOf`/`anyOf` multiply; this caps the product.
pub const MAX_SCHEMA_EXPANDED: usize = 20_000;

/// Compiles a JSON Schema that anyone may have written (a developer's
/// deploy, a remote server's tool list, an installation's config schema):
/// within the limits above, local references only (nothing is ever
/// fetched), and `pattern`s compiled by the linear-time `regex` engine, so
/// no schema makes a validation backtrack or run long.
pub fn compile_schema(schema: &Value) -> Result<jsonschema::Validator, String> {
    check_schema(schema)?;
    let patterns = jsonschema::PatternOptions::regex().size_limit(1 << 20).dfa_size_limit(1 << 20);
    jsonschema::options().with_pattern_options(patterns).build(schema).map_err(|e| e.to_string())
}

/// The first way `value` breaks the schema: the field (`root.a.b`, from
/// the instance path) and what is wrong; `None` when it conforms.
pub fn first_violation(validator: &jsonschema::Validator, value: &Value, root: &str) -> Option<(String, String)> {
    let err = validator.iter_errors(value).next()?;
    let path = err.instance_path().to_string();
    Some((format!("{root}{}", path.replace('/', ".")), err.to_string()))
}

/// Whether a schema keeps the limits (see [`compile_schema`]).
fn check_schema(schema: &Value) -> Result<(), String> {
    let size = serde_json::to_vec(schema).map(|b| b.len()).unwrap_or(usize::MAX);
    if size > MAX_SCHEMA_BYTES {
        return Err(format!("the schema is larger than {MAX_SCHEMA_BYTES} bytes"));
    }
    if count_refs(schema) > MAX_SCHEMA_REFS {
        return Err(format!("the schema has more than {MAX_SCHEMA_REFS} references"));
    }
    let mut walk = Walk { root: schema, nodes: 0, following: Vec::new() };
    walk.node(schema, 0)
}

fn count_refs(value: &Value) -> usize {
    match value {
        Value::Object(map) => usize::from(map.contains_key("$ref")) + map.values().map(count_refs).sum::<usize>(),
        Value::Array(items) => items.iter().map(count_refs).sum(),
        _ => 0,
    }
}

/// A walk of a schema that follows local references, counting.
struct Walk<'a> {
    root: &'a Value,
    nodes: usize,
    /// The references being followed (a reference to one of these is
    /// recursive: counted, not followed again).
    following: Vec<&'a str>,
}

impl<'a> Walk<'a> {
    fn node(&mut self, value: &'a Value, depth: usize) -> Result<(), String> {
        self.nodes += 1;
        if self.nodes > MAX_SCHEMA_EXPANDED {
            return Err(format!(
                "the schema expands past {MAX_SCHEMA_EXPANDED} nodes once its references are followed"
            ));
        }
        if depth > MAX_SCHEMA_DEPTH {
            return Err(format!("the schema nests deeper than {MAX_SCHEMA_DEPTH} levels"));
        }
        match value {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    self.reference(reference, depth)?;
                }
                for (key, child) in map {
                    // Values of these keywords are data, not schemas.
                    if !matches!(key.as_str(), "const" | "enum" | "default" | "examples" | "$ref") {
                        self.node(child, depth + 1)?;
                    }
                }
                Ok(())
            }
            Value::Array(items) => items.iter().try_for_each(|item| self.node(item, depth + 1)),
            _ => Ok(()),
        }
    }

    fn reference(&mut self, reference: &'a str, depth: usize) -> Result<(), String> {
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(format!("the reference {reference:?} is not local: only `#...` references are allowed"));
        };
        if self.following.contains(&reference) || !(pointer.is_empty() || pointer.starts_with('/')) {
            return Ok(());
        }
        let Some(target) = self.root.pointer(pointer) else { return Ok(()) };
        self.following.push(reference);
        let walked = self.node(target, depth + 1);
        self.following.pop();
        walked
    }
}

/// A server as the router needs it.
pub struct ServerEntry {
    pub record: ServerRecord,
    /// How calls reach it; `Err` names what its row lacks (calls are then
    /// refused, the rest of the platform is not affected).
    pub hosting: Result<Hosting, String>,
    pub tools: Vec<ToolRecord>,
    pub resources: Vec<ResourceRecord>,
    pub prompts: Vec<PromptRecord>,
    /// Its skills (SEP-2640), sorted by URI.
    pub skills: Vec<SkillRecord>,
    /// Each tool's compiled input schema, or why it does not compile.
    validators: HashMap<String, Result<Arc<jsonschema::Validator>, String>>,
}

impl ServerEntry {
    /// An entry from a row and its items, schemas compiled.
    pub fn new(record: ServerRecord, items: ServerItems) -> Self {
        let validators =
            items.tools.iter().map(|t| (t.name.clone(), compile_schema(&t.parameters.0).map(Arc::new))).collect();
        let hosting = Hosting::of(&record);
        Self {
            record,
            hosting,
            tools: items.tools,
            resources: items.resources,
            prompts: items.prompts,
            skills: items.skills,
            validators,
        }
    }

    pub fn id(&self) -> Uuid {
        self.record.id
    }

    pub fn slug(&self) -> &str {
        &self.record.slug
    }

    pub fn tool(&self, name: &str) -> Option<&ToolRecord> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Whether a read of `uri` belongs to this server: one of its resources,
    /// an expansion of one of its templates, or a file of one of its skills.
    pub fn has_resource(&self, uri: &str) -> bool {
        self.resources.iter().any(|r| if r.template { crate::uri_template::matches(&r.uri, uri) } else { r.uri == uri })
            || self.in_skill(uri)
    }

    /// The skill whose `SKILL.md` is at `uri`.
    pub fn skill(&self, uri: &str) -> Option<&SkillRecord> {
        self.skills.iter().find(|k| k.uri == uri)
    }

    /// Whether `uri` is one of this server's skill directories or lies
    /// inside one (the server itself says what is there). A path that
    /// climbs out with `..` is not inside.
    pub fn in_skill(&self, uri: &str) -> bool {
        if uri.split(['/', '?', '#']).any(|segment| segment == ".." || segment == ".") {
            return false;
        }
        self.skills.iter().filter_map(|k| k.uri.strip_suffix("SKILL.md")).any(|root| {
            uri.strip_prefix(root).is_some_and(|rest| !rest.is_empty()) || root.strip_suffix('/') == Some(uri)
        })
    }

    pub fn prompt(&self, name: &str) -> Option<&PromptRecord> {
        self.prompts.iter().find(|p| p.name == name)
    }

    /// A tool's compiled input schema; `Err` says why the stored schema
    /// does not compile. `None`: no such tool.
    pub fn validator(&self, tool: &str) -> Option<Result<&jsonschema::Validator, &str>> {
        self.validators.get(tool).map(|v| v.as_ref().map(|v| v.as_ref()).map_err(String::as_str))
    }
}

/// The cache in front of the database. In memory per process; a later
/// issue shares invalidations between instances behind this same type.
pub struct Registry {
    db: Db,
    servers: RwLock<HashMap<Uuid, Arc<ServerEntry>>>,
    /// Installation id -> what that installation's own process lists now.
    views: RwLock<HashMap<Uuid, Arc<ServerEntry>>>,
}

impl Registry {
    pub fn new(db: Db) -> Self {
        Self { db, servers: Default::default(), views: Default::default() }
    }

    /// The server, from the cache or loaded (with its items) on a miss.
    pub async fn server(&self, id: Uuid) -> DbResult<Option<Arc<ServerEntry>>> {
        if let Some(hit) = self.servers.read().expect("registry lock").get(&id) {
            return Ok(Some(hit.clone()));
        }
        let Some(record) = self.db.server(id).await? else { return Ok(None) };
        let items = ServerItems {
            tools: self.db.server_tools(id).await?,
            resources: self.db.server_resources(id).await?,
            prompts: self.db.server_prompts(id).await?,
            skills: self.db.server_skills(id).await?,
        };
        let entry = Arc::new(ServerEntry::new(record, items));
        self.servers.write().expect("registry lock").insert(id, entry.clone());
        Ok(Some(entry))
    }

    /// The server as one installation sees it: its own view when its
    /// process announced one, else the server's catalog.
    pub async fn server_for(&self, id: Uuid, installation: Uuid) -> DbResult<Option<Arc<ServerEntry>>> {
        if let Some(view) = self.views.read().expect("registry lock").get(&installation) {
            if view.id() == id {
                return Ok(Some(view.clone()));
            }
        }
        self.server(id).await
    }

    /// Forgets a server; the next read loads it again.
    pub fn invalidate(&self, id: Uuid) {
        self.servers.write().expect("registry lock").remove(&id);
    }

    /// Keeps what an installation's own process lists now, for that
    /// installation only.
    pub async fn set_view(&self, server: Uuid, installation: Uuid, items: ServerItems) -> DbResult<bool> {
        let Some(base) = self.server(server).await? else { return Ok(false) };
        let view = Arc::new(ServerEntry::new(base.record.clone(), items));
        self.views.write().expect("registry lock").insert(installation, view);
        Ok(true)
    }

    /// Whether an installation has a view of its own.
    pub fn has_view(&self, installation: Uuid) -> bool {
        self.views.read().expect("registry lock").contains_key(&installation)
    }

    /// Drops an installation's own view (its process stopped); true when
    /// there was one.
    pub fn clear_view(&self, installation: Uuid) -> bool {
        self.views.write().expect("registry lock").remove(&installation).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ordinary_schemas_compile() {
        let schema = json!({"type": "object", "properties": {"city": {"type": "string", "pattern": "^[A-Z][a-z]+$"},
            "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}}}, "$defs": {"tag": {"type": "string"}}});
        let v = compile_schema(&schema).unwrap();
        assert!(v.is_valid(&json!({"city": "Paris", "tags": ["a"]})));
        assert!(!v.is_valid(&json!({"city": "paris"})));
        // A recursive schema (a tree) is fine: its reference is followed once.
        let tree = json!({"$defs": {"node": {"type": "object", "properties": {"children": {"type": "array",
            "items": {"$ref": "#/$defs/node"}}}}}, "$ref": "#/$defs/node"});
        assert!(compile_schema(&tree).is_ok());
    }

    #[test]
    fn hostile_schemas_are_refused() {
        // A chain of references, each used eight times under allOf: 8^6
        // nodes from 49 references.
        let mut defs = serde_json::Map::new();
        defs.insert("d0".into(), json!({"type": "string"}));
        for i in 1..=6 {
            let prev = json!({"$ref": format!("#/$defs/d{}", i - 1)});
            defs.insert(format!("d{i}"), json!({"allOf": vec![prev; 8]}));
        }
        let chain = json!({"type": "object", "$defs": defs, "properties": {"x": {"$ref": "#/$defs/d6"}}});
        assert!(compile_schema(&chain).unwrap_err().contains("expands past"));
        let mut deep = json!({"type": "string"});
        for _ in 0..40 {
            deep = json!({"anyOf": [deep]});
        }
        assert!(compile_schema(&deep).unwrap_err().contains("deeper"));
        let remote = json!({"$ref": "https://example.com/schema.json"});
        assert!(compile_schema(&remote).unwrap_err().contains("not local"));
        // A pattern that backtracks catastrophically elsewhere is linear here.
        let evil = compile_schema(&json!({"type": "string", "pattern": "^(a+)+$"})).unwrap();
        let input = json!(format!("{}!", "a".repeat(100_000)));
        assert!(!evil.is_valid(&input));
        // Lookarounds and backreferences (backtracking features) do not compile.
        assert!(compile_schema(&json!({"type": "string", "pattern": "(a)\\1"})).is_err());
    }
}

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
    db::{Db, DbResult, PromptRecord, ResourceRecord, ServerItems, ServerRecord, ToolRecord},
    upstream::Hosting,
};

/// Compiles a JSON Schema (no remote references are ever fetched).
pub fn compile_schema(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(schema).map_err(|e| e.to_string())
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
    /// Each tool's compiled input schema, or why it does not compile.
    validators: HashMap<String, Result<Arc<jsonschema::Validator>, String>>,
}

impl ServerEntry {
    /// An entry from a row and its items, schemas compiled.
    pub fn new(record: ServerRecord, items: ServerItems) -> Self {
        let validators = items
            .tools
            .iter()
            .map(|t| (t.name.clone(), compile_schema(&t.parameters.0).map(Arc::new)))
            .collect();
        let hosting = Hosting::of(&record);
        Self { record, hosting, tools: items.tools, resources: items.resources, prompts: items.prompts, validators }
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
    /// or an expansion of one of its templates.
    pub fn has_resource(&self, uri: &str) -> bool {
        self.resources.iter().any(|r| if r.template { crate::uri_template::matches(&r.uri, uri) } else { r.uri == uri })
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

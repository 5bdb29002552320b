//! One resolver for every front door: from what a caller names (a public
//! tool or prompt name, a public resource URI, or the REST door's server
//! and tool) to the installation it reaches and the server's own name, with
//! the caller's key scope applied. A name is resolved once, here; the
//! pipeline then runs the [`Target`] it gets.
//!
//! **Scopes.** A key scoped to installations reaches only those. A key
//! scoped to tools (by public name) calls only those tools, and reaches
//! the resources, prompts, completions and subscriptions of those tools'
//! servers only. What is out of reach is "unknown", exactly like what does
//! not exist.

use std::sync::Arc;

use rmcp::model::Reference;
use uuid::Uuid;

use super::{
    GatewayError,
    names::{Naming, parse_public_uri, public_name},
    registry::ServerEntry,
};
use crate::{
    db::InstallationRecord,
    identity::Principal,
    upstream::{Operation, TaskOp},
};

/// One of the caller's installations and its server, as the caller sees it.
#[derive(Clone)]
pub struct Target {
    pub entry: Arc<ServerEntry>,
    pub installation: Arc<InstallationRecord>,
}

/// How the REST door names a server: its id or its slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerRef {
    Id(Uuid),
    Slug(String),
}

impl ServerRef {
    pub fn parse(text: &str) -> Self {
        match Uuid::parse_str(text) {
            Ok(id) => ServerRef::Id(id),
            Err(_) => ServerRef::Slug(text.to_string()),
        }
    }

    fn names(&self, entry: &ServerEntry) -> bool {
        match self {
            ServerRef::Id(id) => entry.id() == *id,
            ServerRef::Slug(slug) => entry.slug() == slug,
        }
    }
}

/// What one caller can reach: the servers of their installations inside
/// their key's scope (enabled and active ones only, unless asked for all),
/// and how they name things.
pub struct Reach {
    pub naming: Naming,
    pub targets: Vec<Target>,
    /// A tools scope: the public names the key may call.
    tools: Option<Vec<String>>,
}

impl Reach {
    /// The reach of `principal` over these installations and servers.
    pub(super) fn new(principal: &Principal, targets: Vec<Target>) -> Self {
        let scope = principal.scope.as_ref();
        let targets: Vec<Target> = targets
            .into_iter()
            .filter(|t| scope.and_then(|s| s.installations.as_ref()).is_none_or(|ids| ids.contains(&t.installation.id)))
            .collect();
        let tools = scope.and_then(|s| s.tools.clone());
        let bare = scope.is_some_and(|s| s.unprefixed) && targets.len() <= 1;
        let mut reach = Self { naming: if bare { Naming::Bare } else { Naming::Prefixed }, targets, tools };
        // A tools scope reaches only its tools' servers.
        let in_scope: Vec<bool> = reach.targets.iter().map(|t| reach.server_in_scope(&t.entry)).collect();
        let mut keep = in_scope.into_iter();
        reach.targets.retain(|_| keep.next().unwrap_or(false));
        reach
    }

    /// Whether the key may call this tool of this server.
    pub fn may_call(&self, entry: &ServerEntry, tool: &str) -> bool {
        self.tools.as_ref().is_none_or(|names| names.iter().any(|n| *n == public_name(entry.slug(), tool)))
    }

    fn server_in_scope(&self, entry: &ServerEntry) -> bool {
        self.tools.is_none() || entry.tools.iter().any(|t| self.may_call(entry, &t.name))
    }

    /// The enabled targets (what `/mcp` lists and calls).
    pub fn enabled(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(|t| t.installation.enabled)
    }

    /// `tools/call` of a public tool name.
    pub fn call_tool(
        &self,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(Target, Operation), GatewayError> {
        for target in self.enabled() {
            let slug = target.entry.slug();
            if let Some(t) = target.entry.tools.iter().find(|t| self.naming.name(slug, &t.name) == name) {
                if !self.may_call(&target.entry, &t.name) {
                    break;
                }
                let arguments = serde_json::Value::Object(arguments);
                return Ok((target.clone(), Operation::CallTool { tool: t.name.clone(), arguments }));
            }
        }
        Err(GatewayError::UnknownTool(name.to_string()))
    }

    /// The REST door's `{serverId, toolName}`.
    pub fn call_server_tool(
        &self,
        server: &ServerRef,
        tool: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(Target, Operation), GatewayError> {
        let target = self.server(server)?;
        if target.entry.tool(tool).is_none() || !self.may_call(&target.entry, tool) {
            return Err(GatewayError::UnknownTool(tool.to_string()));
        }
        Ok((
            target.clone(),
            Operation::CallTool { tool: tool.to_string(), arguments: serde_json::Value::Object(arguments) },
        ))
    }

    /// The REST door's `{serverId, uri}`: the server's own URI.
    pub fn read_server_resource(&self, server: &ServerRef, uri: &str) -> Result<(Target, Operation), GatewayError> {
        let target = self.server(server)?;
        if !target.entry.has_resource(uri) {
            return Err(GatewayError::UnknownResource(uri.to_string()));
        }
        Ok((target.clone(), Operation::ReadResource { uri: uri.to_string() }))
    }

    /// A server of the caller's by id or slug, enabled or not (the
    /// pipeline refuses a disabled one, and logs the refusal).
    fn server(&self, server: &ServerRef) -> Result<&Target, GatewayError> {
        self.targets.iter().find(|t| server.names(&t.entry)).ok_or(GatewayError::UnknownServer)
    }

    /// `prompts/get` of a public prompt name.
    pub fn get_prompt(
        &self,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(Target, Operation), GatewayError> {
        for target in self.enabled() {
            let slug = target.entry.slug();
            if let Some(p) = target.entry.prompts.iter().find(|p| self.naming.name(slug, &p.name) == name) {
                return Ok((target.clone(), Operation::GetPrompt { name: p.name.clone(), arguments }));
            }
        }
        Err(GatewayError::UnknownPrompt(name.to_string()))
    }

    /// The installation and server URI a public resource URI names; an
    /// unknown one is `None`.
    pub fn resource(&self, public: &str) -> Option<(&Target, String)> {
        let (target, uri) = self.uri_target(public)?;
        target.entry.has_resource(&uri).then_some((target, uri))
    }

    /// The enabled installation a public URI names, and the URI in its
    /// server's own words (whether the server has it is the caller's check).
    fn uri_target(&self, public: &str) -> Option<(&Target, String)> {
        match self.naming {
            Naming::Prefixed => {
                let (slug, uri) = parse_public_uri(public)?;
                Some((self.enabled().find(|t| t.entry.slug() == slug)?, uri))
            }
            Naming::Bare => Some((self.enabled().next()?, public.to_string())),
        }
    }

    /// The installation and server URI a public skill URI names, if it is
    /// one of the caller's skills, or (`directory`) one of their skills'
    /// directories or inside one.
    fn skill_target(&self, public: &str, directory: bool) -> Option<(&Target, String)> {
        let (target, uri) = self.uri_target(public)?;
        let known = if directory { target.entry.in_skill(&uri) } else { target.entry.skill(&uri).is_some() };
        known.then_some((target, uri))
    }

    /// `skills/get`: the skill's server, and its entry as the server
    /// listed it (answered from the catalog, like the lists).
    pub fn skill(&self, public: &str) -> Result<(&Target, &crate::db::SkillRecord), GatewayError> {
        let (target, uri) =
            self.skill_target(public, false).ok_or_else(|| GatewayError::UnknownSkill(public.into()))?;
        let record = target.entry.skill(&uri).ok_or_else(|| GatewayError::UnknownSkill(public.into()))?;
        Ok((target, record))
    }

    /// `resources/directory/read` of a public URI inside a skill.
    pub fn read_directory(&self, public: &str, cursor: Option<String>) -> Result<(Target, Operation), GatewayError> {
        let (target, uri) =
            self.skill_target(public, true).ok_or_else(|| GatewayError::NotADirectory(public.into()))?;
        Ok((target.clone(), Operation::ReadDirectory { uri, cursor }))
    }

    /// `resources/read` of a public URI.
    pub fn read_resource(&self, public: &str) -> Result<(Target, Operation), GatewayError> {
        let (target, uri) = self.resource(public).ok_or_else(|| GatewayError::UnknownResource(public.to_string()))?;
        Ok((target.clone(), Operation::ReadResource { uri }))
    }

    /// A task by the id the gateway gave it, opened (`opened`: the
    /// installation whose call created it and the server's own id, see
    /// `Upstreams::task_id`): the caller's installation. Anything else,
    /// another user's installation among it, is an unknown task.
    pub fn task(
        &self,
        public_id: &str,
        opened: Option<(Uuid, String)>,
        op: impl FnOnce(String) -> TaskOp,
    ) -> Result<(Target, Operation), GatewayError> {
        let unknown = || GatewayError::UnknownTask(public_id.to_string());
        let (installation, task) = opened.ok_or_else(unknown)?;
        let target = self.enabled().find(|t| t.installation.id == installation).ok_or_else(unknown)?;
        Ok((target.clone(), Operation::Task(op(task))))
    }

    /// `resources/subscribe` or `resources/unsubscribe` of a public URI.
    pub fn subscription(&self, public: &str, subscribe: bool) -> Result<(Target, Operation), GatewayError> {
        let (target, uri) = self.resource(public).ok_or_else(|| GatewayError::UnknownResource(public.to_string()))?;
        let op = if subscribe {
            Operation::Subscribe { uri, public_uri: public.to_string() }
        } else {
            Operation::Unsubscribe { uri }
        };
        Ok((target.clone(), op))
    }

    /// `completion/complete`: the reference, rewritten in the server's
    /// own names.
    pub fn complete(
        &self,
        mut params: rmcp::model::CompleteRequestParams,
    ) -> Result<(Target, Operation), GatewayError> {
        let target = match &mut params.r#ref {
            Reference::Prompt(p) => {
                let (target, name) = self
                    .enabled()
                    .find_map(|t| {
                        let found =
                            t.entry.prompts.iter().find(|q| self.naming.name(t.entry.slug(), &q.name) == p.name)?;
                        Some((t, found.name.clone()))
                    })
                    .ok_or(GatewayError::UnknownReference)?;
                p.name = name;
                target
            }
            Reference::Resource(r) => {
                let (target, uri) = self.uri_target(&r.uri).ok_or(GatewayError::UnknownReference)?;
                r.uri = uri;
                target
            }
            #[allow(unreachable_patterns)]
            _ => return Err(GatewayError::UnknownReference),
        };
        Ok((target.clone(), Operation::Complete { params }))
    }
}

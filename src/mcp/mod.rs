//! The MCP front door: the endpoint `/mcp` LLM clients connect to (rmcp's
//! Streamable HTTP server, both protocol eras), and the REST door to the
//! same pipeline ([`rest`]: `POST /mcp/call`, `POST /mcp/resource`).
//!
//! A request to `/mcp` meets, in order:
//!
//! 1. [`guard::guard`], axum middleware: `Host`/`Origin` checks against DNS
//!    rebinding, then the credentials ([`crate::auth`]), then the legacy
//!    session's owner; the [`Principal`](crate::identity::Principal) rides
//!    in the request's extensions. It never reads the body: rmcp parses it,
//!    once, and the guard turns rmcp's plain-text refusals (too large, not
//!    JSON-RPC) into JSON-RPC errors.
//! 2. rmcp's `StreamableHttpService`, which parses the JSON-RPC message and
//!    calls [`handler::McpHandler`] for its method.
//! 3. The handler builds the call's [`CallContext`](crate::upstream::CallContext)
//!    from rmcp's request context, asks the gateway what the caller can
//!    reach and what the name means ([`crate::gateway::resolve`]), runs it
//!    ([`crate::gateway::Gateway::execute`]), and turns the outcome into the
//!    method's result ([`results`]) or the error into its JSON-RPC form.
//!
//! Lists ([`listing`]) come from the registry, never from an upstream
//! round trip, so a slow or broken server never breaks a list.

pub mod guard;
pub mod handler;
pub mod listing;
pub mod rest;
pub mod results;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use uuid::Uuid;

use crate::gateway::Gateway;

pub use listing::PAGE_SIZE;

/// Largest JSON-RPC message accepted.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// The `/mcp` door's own state: rmcp's legacy sessions and who owns each.
pub struct McpDoor {
    manager: Arc<LocalSessionManager>,
    /// `Mcp-Session-Id` -> the user who opened the session.
    owners: Arc<Mutex<HashMap<String, Uuid>>>,
}

impl Default for McpDoor {
    fn default() -> Self {
        let door = Self { manager: Arc::default(), owners: Arc::default() };
        // Forget owners of sessions rmcp has closed (expired, deleted).
        let (manager, owners) = (Arc::downgrade(&door.manager), Arc::downgrade(&door.owners));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                let (Some(manager), Some(owners)) = (manager.upgrade(), owners.upgrade()) else { break };
                let live: Vec<String> = manager.sessions.read().await.keys().map(|id| id.to_string()).collect();
                owners.lock().expect("owners lock").retain(|id, _| live.contains(id));
            }
        });
        door
    }
}

impl McpDoor {
    /// The rmcp service mounted at `/mcp`.
    pub fn service(
        &self,
        gateway: Arc<Gateway>,
        allowed_hosts: Vec<String>,
        allowed_origins: Vec<String>,
    ) -> StreamableHttpService<handler::McpHandler, LocalSessionManager> {
        // Session-less (2026-07-28) answers that are one message go back as
        // plain JSON rather than a one-event SSE stream: fewer writes per
        // call. rmcp falls back to SSE whenever a handler sends anything
        // before its result, so no notification is lost.
        let mut config = StreamableHttpServerConfig::default()
            .with_allowed_origins(allowed_origins)
            .enforce_origin_validation()
            .with_json_response(true);
        config.allowed_hosts = allowed_hosts;
        config.max_request_body_bytes = MAX_BODY;
        let handler = handler::McpHandler::new(gateway, self.manager.clone());
        StreamableHttpService::new(move || Ok(handler.clone()), self.manager.clone(), config)
    }

    /// Who opened a legacy session, if it is known.
    fn owner(&self, session: &str) -> Option<Uuid> {
        self.owners.lock().expect("owners lock").get(session).copied()
    }

    /// Records who opened a legacy session (from the `initialize` answer).
    fn opened(&self, session: String, user: Uuid) {
        self.owners.lock().expect("owners lock").insert(session, user);
    }
}

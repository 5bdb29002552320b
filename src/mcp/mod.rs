//! The MCP front door: the endpoint `/mcp` LLM clients connect to (rmcp's
//! Streamable HTTP server, both protocol eras), and the REST door to the
//! same pipeline ([`rest`]: `POST /mcp/call`, `POST /mcp/resource`).
//!
//! A request to `/mcp` meets, in order:
//!
//! 1. [`guard::guard`], axum middleware: `Host`/`Origin` checks against DNS
//!    rebinding, then the credentials ([`crate::auth`]), then the legacy
//!    session's owner; the [`Principal`](crate::identity::Principal) rides
//!    in the request's extensions. Only then is the body read, within the
//!    body timeout and [`MAX_BODY`] (rmcp parses it, once); rmcp's
//!    plain-text refusals (too large, not JSON-RPC) become JSON-RPC errors,
//!    and a new session past the [`SessionCaps`] is closed at once (429).
//! 2. rmcp's `StreamableHttpService`, which parses the JSON-RPC message and
//!    calls [`handler::McpHandler`] for its method.
//! 3. The handler builds the call's [`CallContext`](crate::upstream::CallContext)
//!    from rmcp's request context, asks the gateway what the caller can
//!    reach and what the name means ([`crate::gateway::resolve`]), runs it
//!    ([`crate::gateway::Gateway::execute`]), and turns the outcome into the
//!    method's result ([`results`]) or the error into its JSON-RPC form.
//!
//! Lists ([`listing`]) come from the registry, never from an upstream
//! round trip, so a slow or broken server never breaks a list. Opening a
//! session, listing, and naming something that resolves to nothing are
//! metered by the gateway's control budget
//! ([`crate::gateway::Gateway::admit_control`]).

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
    SessionManager, StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use uuid::Uuid;

use crate::{
    gateway::Gateway,
    identity::{AuthMethod, Principal},
};

pub use listing::PAGE_SIZE;

/// Largest JSON-RPC message accepted.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

pub use crate::gateway::notify::SessionCaps;

/// Who opened a legacy session.
#[derive(Debug, Clone, Copy)]
struct Owner {
    user: Uuid,
    method: AuthMethod,
}

/// The `/mcp` door's own state: rmcp's legacy sessions and who owns each.
pub struct McpDoor {
    manager: Arc<LocalSessionManager>,
    /// `Mcp-Session-Id` -> who opened the session.
    owners: Arc<Mutex<HashMap<String, Owner>>>,
    pub caps: SessionCaps,
}

impl McpDoor {
    pub fn new(caps: SessionCaps) -> Self {
        let door = Self { manager: Arc::default(), owners: Arc::default(), caps };
        // Forget owners of sessions rmcp has closed (expired, deleted).
        let (manager, owners) = (Arc::downgrade(&door.manager), Arc::downgrade(&door.owners));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                let (Some(manager), Some(owners)) = (manager.upgrade(), owners.upgrade()) else { break };
                let live: std::collections::HashSet<String> =
                    manager.sessions.read().await.keys().map(|id| id.to_string()).collect();
                owners.lock().expect("owners lock").retain(|id, _| live.contains(id));
            }
        });
        door
    }

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
        let handler = handler::McpHandler::new(gateway, self.manager.clone(), self.caps);
        StreamableHttpService::new(move || Ok(handler.clone()), self.manager.clone(), config)
    }

    /// Who opened a legacy session, if it is known.
    fn owner(&self, session: &str) -> Option<Uuid> {
        self.owners.lock().expect("owners lock").get(session).map(|o| o.user)
    }

    /// Records who opened a legacy session (from the `initialize` answer);
    /// past the caps the new session is closed at once and the reason
    /// returned.
    async fn opened(&self, session: String, principal: &Principal) -> Result<(), String> {
        let live: std::collections::HashSet<String> =
            self.manager.sessions.read().await.keys().map(|id| id.to_string()).collect();
        let refusal = {
            let mut owners = self.owners.lock().expect("owners lock");
            owners.retain(|id, _| live.contains(id));
            let user = principal.user.id;
            let of_user = owners.values().filter(|o| o.user == user).count();
            let of_credential = owners.values().filter(|o| o.user == user && o.method == principal.method).count();
            if of_user >= self.caps.per_user {
                Some(format!("too many open MCP sessions for this account (the limit is {})", self.caps.per_user))
            } else if of_credential >= self.caps.per_credential {
                Some(format!(
                    "too many open MCP sessions for this credential (the limit is {})",
                    self.caps.per_credential
                ))
            } else {
                owners.insert(session.clone(), Owner { user, method: principal.method });
                None
            }
        };
        match refusal {
            None => Ok(()),
            Some(why) => {
                let _ = self.manager.close_session(&Arc::<str>::from(session.as_str())).await;
                Err(format!("{why}; close one (DELETE /mcp with its Mcp-Session-Id) or let it expire"))
            }
        }
    }
}

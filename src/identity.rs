//! Who is calling, as every layer sees it: [`Principal`], the user and the
//! credential they proved it with. Plain data: [`crate::auth`] builds it
//! from a request; the gateway reads the scope; the relay keys what an
//! upstream says by the user and the credential.

use uuid::Uuid;

use crate::db::{KeyScope, User};

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A session token (cookie or bearer); the id of its session row.
    Session { session_id: Uuid },
    /// An API key; its id.
    ApiKey { key_id: Uuid },
    /// An OAuth access token ([`crate::oauth`]); the id of the grant (the
    /// user's consent to one client) it was issued under.
    OAuth { grant_id: Uuid },
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub method: AuthMethod,
    /// A scoped API key's or OAuth grant's reach; `None` for sessions,
    /// unscoped keys and grants that reach everything installed.
    pub scope: Option<KeyScope>,
    /// False for an OAuth token granted only `mcp:read`: it may list and
    /// read, not call tools.
    pub may_call_tools: bool,
}

impl Principal {
    /// A scoped key may make MCP calls inside its scope and nothing else;
    /// so may an OAuth token, whatever its reach.
    pub fn is_scoped(&self) -> bool {
        self.scope.is_some() || matches!(self.method, AuthMethod::OAuth { .. })
    }

    /// The API key's id, when the caller used one.
    pub fn key_id(&self) -> Option<Uuid> {
        match self.method {
            AuthMethod::ApiKey { key_id } => Some(key_id),
            AuthMethod::Session { .. } | AuthMethod::OAuth { .. } => None,
        }
    }
}

//! The call context: everything about one call that its journey needs,
//! built by the front door that received it and passed down, by argument,
//! through the gateway to the upstream and its relay. Nothing about a call
//! travels any other way (no task-locals, no globals).

use std::time::Instant;

use rmcp::{
    Peer, RoleServer,
    model::{InputResponses, ProgressToken, RequestId, RequestMetaObject},
};
use tokio_util::sync::CancellationToken;

use crate::identity::Principal;

/// The protocol era a client speaks. The gateway speaks the same era to
/// the upstream on that client's behalf, so what each era does differently
/// (server-to-client requests, or input-required results) passes through
/// unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    /// 2025-11-25 and earlier: the `initialize` handshake, sessions, and
    /// server-to-client requests (sampling, elicitation, roots).
    Handshake,
    /// 2026-07-28: `server/discover`, no sessions, and input-required
    /// results instead of server-to-client requests.
    Stateless,
}

impl Era {
    /// The era of a client that announced this protocol version (none: the
    /// handshake era, whose clients send it only in `initialize`).
    pub fn of(version: Option<&rmcp::model::ProtocolVersion>) -> Self {
        match version {
            Some(v) if *v >= rmcp::model::ProtocolVersion::V_2026_07_28 => Era::Stateless,
            _ => Era::Handshake,
        }
    }
}

/// The MCP client a call came from, when it came over `/mcp`: what an
/// upstream says during the call (progress, log messages, requests) is
/// relayed to it, on the stream of its own request.
#[derive(Clone)]
pub struct ClientLink {
    pub peer: Peer<RoleServer>,
    /// The client's request: relayed requests ride its response stream.
    pub request_id: RequestId,
    /// The client's legacy session (`Mcp-Session-Id`), if it has one.
    pub session: Option<String>,
}

/// A retried 2026-07-28 request's answers to an input-required result and
/// the server's opaque state, passed back to the server unchanged.
#[derive(Clone, Debug, Default)]
pub struct RoundTrip {
    pub input_responses: Option<InputResponses>,
    pub request_state: Option<String>,
}

/// One call, from the door to the upstream.
#[derive(Clone)]
pub struct CallContext {
    /// Who is calling: the user and the credential (with a key's scope).
    pub principal: Principal,
    /// The era the upstream is spoken to in for this call.
    pub era: Era,
    /// The MCP client to relay to; `None` for the REST door, the pages'
    /// "try it" and the platform's own calls, which cannot take part in a
    /// conversation (what the server says to them is dropped, and its
    /// requests are refused).
    pub client: Option<ClientLink>,
    /// The client's progress token, when it asked for progress. Never sent
    /// upstream: each upstream request carries a token of our own.
    pub progress_token: Option<ProgressToken>,
    /// Cancelled when the client cancels (or goes away).
    pub cancel: CancellationToken,
    /// Multi-round-trip state of a retried request (2026-07-28).
    pub round_trip: RoundTrip,
    /// What a 2026-07-28 client declared in its request's `_meta`
    /// (capabilities, log level): forwarded, so the server sees the client
    /// as it is, not the gateway.
    pub client_meta: Option<RequestMetaObject>,
    /// The latest the caller waits; the upstream's own time limit applies
    /// too, whichever comes first.
    pub deadline: Option<Instant>,
}

impl CallContext {
    /// A call without an MCP client: the REST door, "try it", and the
    /// platform's own calls. They speak the 2026-07-28 era: the era has no
    /// server-to-client requests, which such a caller could not answer, and
    /// an input-required result comes back as what it is.
    pub fn detached(principal: Principal) -> Self {
        Self {
            principal,
            era: Era::Stateless,
            client: None,
            progress_token: None,
            cancel: CancellationToken::new(),
            round_trip: RoundTrip::default(),
            client_meta: None,
            deadline: None,
        }
    }

    /// The user the call is for.
    pub fn user(&self) -> uuid::Uuid {
        self.principal.user.id
    }
}

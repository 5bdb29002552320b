//! Remote MCP servers over Streamable HTTP, through rmcp's client.
//!
//! Every installation gets sessions of its own (one per protocol era, as
//! processes do): what the server keeps per session, and what it says on
//! it, belongs to one user. The client speaks whichever era the server
//! supports: a 2026-07-28 connection probes with `server/discover` and falls
//! back to the `initialize` handshake (rmcp's `ClientLifecycleMode::Auto`);
//! a handshake-era one does the reverse. Its HTTP client is the
//! SSRF-guarded one from [`crate::outbound`], so the guard's resolver,
//! redirect checks and timeouts apply. A failed session is dropped and the
//! next call reconnects.

use std::{collections::HashMap, sync::Arc};

use rmcp::{
    ClientServiceExt,
    model::ProtocolVersion,
    service::ClientLifecycleMode,
    transport::{StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig},
};
use uuid::Uuid;

use super::{
    CallContext, CallLimits, ChangeQueue, Era, ListChange, Operation, Outcome, UpstreamError,
    peer::{Catalog, ClientSide, Connection, PeerFailure, auth_failure, listen_for_changes, run_on_peer},
    relay::Relay,
};
use crate::{outbound::Outbound, secrets::Secret};

/// A kept session's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    server: Uuid,
    installation: Uuid,
    era: Era,
}

pub struct RemoteClients {
    sessions: tokio::sync::Mutex<HashMap<Key, Arc<Connection>>>,
    connecting: std::sync::Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    changes: Option<ChangeQueue>,
}

impl RemoteClients {
    /// Where remote servers' own list changes are reported.
    pub fn new(changes: Option<ChangeQueue>) -> Self {
        Self { sessions: Default::default(), connecting: Default::default(), changes }
    }

    /// Connects to a remote server (without keeping the session) and lists
    /// everything it offers: for deploy-time discovery.
    pub async fn discover(outbound: &Outbound, url: &str, bearer: Option<&Secret>) -> Result<Catalog, UpstreamError> {
        let side = ClientSide::new(ListChange { server: Uuid::nil(), installation: None, stopped: false }, None);
        let connection = connect(outbound, url, bearer, side).await?;
        let catalog = Catalog::list(&connection).await;
        let _ = connection.cancel().await;
        catalog
    }

    /// Runs one operation for an installation, over its session (opened
    /// with `bearer` as its `Authorization` when there is none).
    #[allow(clippy::too_many_arguments)]
    pub async fn execute(
        &self,
        outbound: &Outbound,
        server: Uuid,
        installation: Uuid,
        url: &str,
        bearer: Option<&Secret>,
        op: Operation,
        ctx: &CallContext,
        limits: CallLimits,
    ) -> Result<Outcome, UpstreamError> {
        let key = Key { server, installation, era: ctx.era };
        let connection = self.session(outbound, key, url, bearer).await?;
        match run_on_peer(&connection, installation, op, ctx, limits).await {
            Ok(outcome) => Ok(outcome),
            Err(PeerFailure::Failed(e)) => Err(e),
            Err(PeerFailure::Broken(e)) => {
                self.sessions.lock().await.remove(&key);
                if let Some(header) = auth_failure(&e) {
                    // The token was revoked or expired mid-session.
                    return Err(UpstreamError::AuthRequired(header));
                }
                tracing::warn!(server_id = %server, error = %without_queries(&e.to_string()), "a remote server's session broke");
                Err(UpstreamError::Unavailable(
                    "the remote server's connection failed; the next call reconnects".into(),
                ))
            }
        }
    }

    /// Opens (or reuses) an installation's session of this era without
    /// running an operation.
    pub async fn connect(
        &self,
        outbound: &Outbound,
        server: Uuid,
        installation: Uuid,
        url: &str,
        bearer: Option<&Secret>,
        era: Era,
    ) -> Result<(), UpstreamError> {
        self.session(outbound, Key { server, installation, era }, url, bearer).await.map(|_| ())
    }

    /// Lists what a server offers over one of its installation's sessions
    /// (after it said its lists changed there); `None` when there is none.
    pub async fn catalog_of(&self, server: Uuid, installation: Uuid) -> Option<Result<Catalog, UpstreamError>> {
        let connection = {
            let sessions = self.sessions.lock().await;
            sessions
                .iter()
                .find(|(k, c)| k.server == server && k.installation == installation && !c.is_closed())
                .map(|(_, c)| c.clone())?
        };
        Some(Catalog::list(&connection).await)
    }

    /// The relays of every session (to end subscriptions).
    pub async fn relays(&self) -> Vec<Arc<Relay>> {
        self.sessions.lock().await.values().map(|c| c.service().relay().clone()).collect()
    }

    async fn session(
        &self,
        outbound: &Outbound,
        key: Key,
        url: &str,
        bearer: Option<&Secret>,
    ) -> Result<Arc<Connection>, UpstreamError> {
        if let Some(c) = self.sessions.lock().await.get(&key).filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        // One handshake per session at a time, without holding the table:
        // a slow server never delays calls to the others.
        let gate = self.connecting.lock().expect("connecting lock").entry(key).or_default().clone();
        let _connecting = gate.lock().await;
        if let Some(c) = self.sessions.lock().await.get(&key).filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let origin = ListChange { server: key.server, installation: Some(key.installation), stopped: false };
        let side = ClientSide::new(origin, self.changes.clone());
        let connection = match key.era {
            Era::Stateless => connect(outbound, url, bearer, side).await?,
            Era::Handshake => {
                // A server that no longer speaks the handshake era is still
                // reached, in the era it speaks.
                outbound.validate_url(url).await.map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
                match handshake(outbound, url, bearer, ClientLifecycleMode::Initialize, side.clone()).await {
                    Ok(connection) => connection,
                    Err(e @ UpstreamError::AuthRequired(_)) => return Err(e),
                    Err(_) => connect(outbound, url, bearer, side).await?,
                }
            }
        };
        listen_for_changes(&connection);
        let connection = Arc::new(connection);
        self.sessions.lock().await.insert(key, connection.clone());
        Ok(connection)
    }

    /// Ends an installation's sessions (uninstalled, disabled, reconfigured).
    pub async fn close_installation(&self, installation: Uuid) {
        self.sessions.lock().await.retain(|k, _| k.installation != installation);
    }

    /// Forgets a server's sessions (after a redeploy changed its URL).
    pub async fn forget_server(&self, server: Uuid) {
        self.sessions.lock().await.retain(|k, _| k.server != server);
    }
}

/// A text with the query string of every URL in it cut off: error texts of
/// HTTP clients name the URL, and a remote server's URL may carry a token.
pub fn without_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, url) = rest.split_at(at);
        out.push_str(before);
        let end = url.find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>')).unwrap_or(url.len());
        let (url, after) = url.split_at(end);
        out.push_str(url.split(['?', '#']).next().unwrap_or_default());
        rest = after;
    }
    out.push_str(rest);
    out
}

async fn connect(
    outbound: &Outbound,
    url: &str,
    bearer: Option<&Secret>,
    side: ClientSide,
) -> Result<Connection, UpstreamError> {
    // Scheme, credentials and literal addresses are checked here; names are
    // checked by the guarded resolver when the client connects.
    outbound.validate_url(url).await.map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
    let auto = ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    };
    match handshake(outbound, url, bearer, auto, side.clone()).await {
        Ok(connection) => Ok(connection),
        // A server may answer `server/discover` yet offer only older
        // versions; rmcp's probe then gives up instead of falling back, so
        // the handshake gets its own try.
        Err(first @ UpstreamError::Unavailable(_)) => {
            match handshake(outbound, url, bearer, ClientLifecycleMode::Initialize, side).await {
                Ok(connection) => Ok(connection),
                Err(_) => Err(first),
            }
        }
        Err(e) => Err(e),
    }
}

async fn handshake(
    outbound: &Outbound,
    url: &str,
    bearer: Option<&Secret>,
    lifecycle: ClientLifecycleMode,
    side: ClientSide,
) -> Result<Connection, UpstreamError> {
    // What the server sends is bounded like any outbound response: each
    // JSON answer and each SSE event.
    let limit = outbound.policy().max_response_bytes;
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_string())
        .max_json_response_size(limit)
        .max_sse_event_size(limit);
    if let Some(token) = bearer {
        config = config.auth_header(token.expose());
    }
    let transport = StreamableHttpClientTransport::with_client(outbound.stream_client(), config);
    let transport = side.sequenced(transport);
    let handshake = side.serve_with_lifecycle(transport, lifecycle);
    match tokio::time::timeout(outbound.policy().timeout + std::time::Duration::from_secs(10), handshake).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => {
            if let Some(header) = auth_failure(&e) {
                return Err(UpstreamError::AuthRequired(header));
            }
            tracing::info!(error = %without_queries(&e.to_string()), "an MCP handshake with a remote server failed");
            Err(UpstreamError::Unavailable("the remote server did not complete the MCP handshake".into()))
        }
        Err(_) => Err(UpstreamError::Timeout),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn queries_are_cut_from_error_texts() {
        let text = "error sending request for url (https://mcp.example.com/mcp?token=s3cret&x=1): timed out";
        assert_eq!(
            super::without_queries(text),
            "error sending request for url (https://mcp.example.com/mcp): timed out"
        );
        assert_eq!(super::without_queries("no url here"), "no url here");
        assert_eq!(super::without_queries("a http://h/p#frag b"), "a http://h/p b");
    }
}

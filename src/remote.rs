//! Remote MCP servers over Streamable HTTP, through rmcp's client.
//!
//! The client speaks whichever protocol era the server supports: it probes
//! with the 2026-07-28 `server/discover` and falls back to the 2025-11-25
//! `initialize` handshake (rmcp's `ClientLifecycleMode::Auto`). Its HTTP
//! client is the SSRF-guarded one from [`crate::outbound`], so the guard's
//! resolver, redirect checks and timeouts apply here too. One connection
//! per server is kept and reused; a failed one is dropped and the next call
//! reconnects.

use std::{collections::HashMap, sync::Arc};

use rmcp::{
    ClientServiceExt, RoleClient,
    model::ProtocolVersion,
    service::{ClientLifecycleMode, RunningService},
    transport::{StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig},
};
use uuid::Uuid;

use crate::{
    outbound::Outbound,
    upstream::{
        Catalog, ChangeReporter, ChangeSender, Operation, PeerFailure, ToolOutcome, UpstreamError, listen_for_changes,
        run_on_peer,
    },
};

type Client = RunningService<RoleClient, ChangeReporter>;

/// A kept connection's identity: the server, and whether it is spoken to
/// in the 2026-07-28 era (preferred) or the legacy one: each client era
/// gets its own, as child processes do (see [`crate::supervisor`]).
type Key = (Uuid, bool);

pub struct RemoteClients {
    clients: tokio::sync::Mutex<HashMap<Key, Arc<Client>>>,
    connecting: std::sync::Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    changes: Option<ChangeSender>,
}

impl RemoteClients {
    /// Where remote servers' own list changes are reported.
    pub fn new(changes: Option<ChangeSender>) -> Self {
        Self { clients: Default::default(), connecting: Default::default(), changes }
    }

    /// Connects to a remote server (without caching) and lists everything
    /// it offers: for deploy-time discovery.
    pub async fn discover(outbound: &Outbound, url: &str) -> Result<Catalog, UpstreamError> {
        let client = connect(outbound, url, ChangeReporter::new(Uuid::nil(), None)).await?;
        let catalog = Catalog::list(client.peer()).await;
        let _ = client.cancel().await;
        catalog
    }

    /// Runs one operation on the server, over its kept connection.
    pub async fn execute(
        &self,
        outbound: &Outbound,
        server_id: Uuid,
        url: &str,
        op: Operation,
    ) -> Result<ToolOutcome, UpstreamError> {
        // A legacy-era MCP client gets a legacy connection; 2026-era clients
        // and the REST front door get the newest era the server speaks.
        let key = (server_id, crate::relay::current_caller().is_none_or(|c| c.modern));
        let client = self.client(outbound, key, url).await?;
        match run_on_peer(&client, op, outbound.policy().timeout).await {
            Ok(outcome) => Ok(outcome),
            Err(PeerFailure::Timeout) => Err(UpstreamError::Timeout),
            Err(PeerFailure::Broken(e)) => {
                self.clients.lock().await.remove(&key);
                Err(UpstreamError::Unavailable(format!("the remote server failed: {e}")))
            }
        }
    }

    /// Opens (or reuses) the kept connection a caller of the current era
    /// would use, without running an operation.
    pub async fn connect(&self, outbound: &Outbound, server_id: Uuid, url: &str) -> Result<(), UpstreamError> {
        let key = (server_id, crate::relay::current_caller().is_none_or(|c| c.modern));
        self.client(outbound, key, url).await.map(|_| ())
    }

    /// Lists everything a server offers over its kept connection (after it
    /// said its lists changed); `None` when there is no connection.
    pub async fn catalog(&self, server_id: Uuid) -> Option<Result<Catalog, UpstreamError>> {
        let client = {
            let clients = self.clients.lock().await;
            [true, false].iter().find_map(|m| clients.get(&(server_id, *m)).filter(|c| !c.is_closed()).cloned())?
        };
        Some(Catalog::list(client.peer()).await)
    }

    async fn client(&self, outbound: &Outbound, key: Key, url: &str) -> Result<Arc<Client>, UpstreamError> {
        if let Some(c) = self.clients.lock().await.get(&key).filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        // One handshake per server at a time, without holding the table:
        // a slow server never delays calls to the others.
        let gate = self.connecting.lock().expect("connecting lock").entry(key).or_default().clone();
        let _connecting = gate.lock().await;
        if let Some(c) = self.clients.lock().await.get(&key).filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let (server_id, modern) = key;
        let reporter = ChangeReporter::new(server_id, self.changes.clone());
        let client = if modern {
            connect(outbound, url, reporter).await?
        } else {
            // A server that no longer speaks the handshake era is still
            // reached, in the era it speaks.
            outbound.validate_url(url).await.map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
            match handshake(outbound, url, ClientLifecycleMode::Initialize, reporter.clone()).await {
                Ok(client) => client,
                Err(_) => connect(outbound, url, reporter).await?,
            }
        };
        listen_for_changes(&client, server_id, self.changes.clone());
        let client = Arc::new(client);
        self.clients.lock().await.insert(key, client.clone());
        Ok(client)
    }

    /// Forgets a server's connection (after a redeploy changes its URL).
    pub async fn forget(&self, server_id: Uuid) {
        let mut clients = self.clients.lock().await;
        clients.remove(&(server_id, true));
        clients.remove(&(server_id, false));
    }
}

async fn connect(outbound: &Outbound, url: &str, reporter: ChangeReporter) -> Result<Client, UpstreamError> {
    // Scheme, credentials and literal addresses are checked here; names are
    // checked by the guarded resolver when the client connects.
    outbound.validate_url(url).await.map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
    let auto = ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    };
    match handshake(outbound, url, auto, reporter.clone()).await {
        Ok(client) => Ok(client),
        // A server may answer `server/discover` yet offer only older
        // versions; rmcp's probe then gives up instead of falling back, so
        // the legacy handshake gets its own try.
        Err(first @ UpstreamError::Unavailable(_)) => {
            match handshake(outbound, url, ClientLifecycleMode::Initialize, reporter).await {
                Ok(client) => Ok(client),
                Err(_) => Err(first),
            }
        }
        Err(e) => Err(e),
    }
}

async fn handshake(
    outbound: &Outbound,
    url: &str,
    lifecycle: ClientLifecycleMode,
    reporter: ChangeReporter,
) -> Result<Client, UpstreamError> {
    let transport = StreamableHttpClientTransport::with_client(
        outbound.http_client(),
        StreamableHttpClientTransportConfig::with_uri(url.to_string()),
    );
    let transport = reporter.sequenced(transport);
    let handshake = reporter.serve_with_lifecycle(transport, lifecycle);
    match tokio::time::timeout(outbound.policy().timeout + std::time::Duration::from_secs(10), handshake).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(UpstreamError::Unavailable(format!("the MCP handshake failed: {e}"))),
        Err(_) => Err(UpstreamError::Timeout),
    }
}

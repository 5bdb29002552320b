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
    model::{CallToolRequestParams, ClientConfig, ProtocolVersion, Resource, Tool},
    service::{ClientLifecycleMode, RunningService},
    transport::{StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig},
};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    outbound::Outbound,
    upstream::{ToolOutcome, UpstreamError},
};

type Client = RunningService<RoleClient, ClientConfig>;

#[derive(Default)]
pub struct RemoteClients {
    clients: tokio::sync::Mutex<HashMap<Uuid, Arc<Client>>>,
    connecting: std::sync::Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

impl RemoteClients {
    /// Connects to a remote server (without caching) and lists its tools
    /// and resources: for deploy-time discovery.
    pub async fn discover(outbound: &Outbound, url: &str) -> Result<(Vec<Tool>, Vec<Resource>), UpstreamError> {
        let client = connect(outbound, url).await?;
        let tools = client.peer().list_all_tools().await.map_err(|e| UpstreamError::BadResponse(e.to_string()));
        let resources = client.peer().list_all_resources().await.unwrap_or_default();
        let _ = client.cancel().await;
        Ok((tools?, resources))
    }

    pub async fn call_tool(
        &self,
        outbound: &Outbound,
        server_id: Uuid,
        url: &str,
        tool: &str,
        arguments: Value,
    ) -> Result<ToolOutcome, UpstreamError> {
        let client = self.client(outbound, server_id, url).await?;
        let args = match arguments {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let call = client.peer().call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args));
        match tokio::time::timeout(outbound.policy().timeout, call).await {
            Ok(Ok(result)) => Ok(crate::supervisor::outcome(result)),
            Ok(Err(e)) => {
                self.clients.lock().await.remove(&server_id);
                Err(UpstreamError::Unavailable(format!("the remote server failed: {e}")))
            }
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    pub async fn read_resource(
        &self,
        outbound: &Outbound,
        server_id: Uuid,
        url: &str,
        uri: &str,
    ) -> Result<ToolOutcome, UpstreamError> {
        let client = self.client(outbound, server_id, url).await?;
        let read = client.peer().read_resource(rmcp::model::ReadResourceRequestParams::new(uri.to_string()));
        match tokio::time::timeout(outbound.policy().timeout, read).await {
            Ok(Ok(result)) => Ok(ToolOutcome::Ok(serde_json::to_value(&result).unwrap_or(Value::Null))),
            Ok(Err(rmcp::ServiceError::McpError(e))) => {
                Ok(ToolOutcome::ToolError(serde_json::to_value(&e).unwrap_or(Value::Null)))
            }
            Ok(Err(e)) => {
                self.clients.lock().await.remove(&server_id);
                Err(UpstreamError::Unavailable(format!("the remote server failed: {e}")))
            }
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    async fn client(&self, outbound: &Outbound, server_id: Uuid, url: &str) -> Result<Arc<Client>, UpstreamError> {
        if let Some(c) = self.clients.lock().await.get(&server_id).filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        // One handshake per server at a time, without holding the table:
        // a slow server never delays calls to the others.
        let gate = self.connecting.lock().expect("connecting lock").entry(server_id).or_default().clone();
        let _connecting = gate.lock().await;
        if let Some(c) = self.clients.lock().await.get(&server_id).filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let client = Arc::new(connect(outbound, url).await?);
        self.clients.lock().await.insert(server_id, client.clone());
        Ok(client)
    }

    /// Forgets a server's connection (after a redeploy changes its URL).
    pub async fn forget(&self, server_id: Uuid) {
        self.clients.lock().await.remove(&server_id);
    }
}

async fn connect(outbound: &Outbound, url: &str) -> Result<Client, UpstreamError> {
    // Scheme, credentials and literal addresses are checked here; names are
    // checked by the guarded resolver when the client connects.
    outbound.validate_url(url).await.map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
    let auto = ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    };
    match handshake(outbound, url, auto).await {
        Ok(client) => Ok(client),
        // A server may answer `server/discover` yet offer only older
        // versions; rmcp's probe then gives up instead of falling back, so
        // the legacy handshake gets its own try.
        Err(first @ UpstreamError::Unavailable(_)) => {
            match handshake(outbound, url, ClientLifecycleMode::Initialize).await {
                Ok(client) => Ok(client),
                Err(_) => Err(first),
            }
        }
        Err(e) => Err(e),
    }
}

async fn handshake(outbound: &Outbound, url: &str, lifecycle: ClientLifecycleMode) -> Result<Client, UpstreamError> {
    let transport = StreamableHttpClientTransport::with_client(
        outbound.http_client(),
        StreamableHttpClientTransportConfig::with_uri(url.to_string()),
    );
    let handshake = ClientConfig::default().serve_with_lifecycle(transport, lifecycle);
    match tokio::time::timeout(outbound.policy().timeout + std::time::Duration::from_secs(10), handshake).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(UpstreamError::Unavailable(format!("the MCP handshake failed: {e}"))),
        Err(_) => Err(UpstreamError::Timeout),
    }
}

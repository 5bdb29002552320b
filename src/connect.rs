//! `omnimcp connect --url URL --api-key KEY`: a stdio MCP server that
//! forwards to a platform's `/mcp`, for desktop clients that can only
//! launch programs (Claude Desktop, Cursor, ...). It speaks whichever era
//! the platform does (discover first, `initialize` as the fallback) and
//! passes lists (tools, resources, templates, prompts, skills), calls, reads and
//! their errors through unchanged, and the platform's list-changed
//! notifications on to the desktop client (in either era on each side).

use std::sync::Arc;

use rmcp::{
    ClientHandler, ClientServiceExt, ErrorData, RoleClient, RoleServer, ServerHandler, ServiceError, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, ErrorCode, GetPromptRequestParams,
        GetPromptResponse, Implementation, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
        ListToolsResult, PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
        ServerCapabilities, ServerConfig, SubscriptionFilter,
    },
    service::{ClientLifecycleMode, NotificationContext, RequestContext, RunningService, SubscriptionContext},
    transport::{StreamableHttpClientTransport, stdio, streamable_http_client::StreamableHttpClientTransportConfig},
};

use crate::gateway::notify::{announce, list_changes};

type Upstream = RunningService<RoleClient, Forwarder>;

/// The desktop client's sessions and listen streams (one process serves one
/// client): told when the platform says the lists changed.
#[derive(Default)]
struct Listeners {
    sessions: std::sync::Mutex<Vec<rmcp::Peer<RoleServer>>>,
    streams: std::sync::Mutex<Vec<(u64, rmcp::service::SubscriptionSink)>>,
    next: std::sync::atomic::AtomicU64,
}

impl Listeners {
    fn changed(&self) {
        let mut sessions = self.sessions.lock().expect("listeners lock");
        sessions.retain(|p| !p.is_transport_closed());
        let streams = self.streams.lock().expect("listeners lock").iter().map(|(_, s)| s.clone()).collect();
        announce(sessions.clone(), streams);
    }
}

#[derive(Clone)]
struct Bridge {
    upstream: Arc<Upstream>,
    listeners: Arc<Listeners>,
}

/// Our client side toward the platform: its list changes (a session
/// notification in the 2025-11-25 era, an event on a `subscriptions/listen`
/// stream in 2026-07-28) are passed on to the desktop client, on its
/// session or its own listen stream.
#[derive(Clone)]
struct Forwarder {
    listeners: Arc<Listeners>,
}

impl ClientHandler for Forwarder {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("omnimcp-connect", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.listeners.changed();
    }

    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.listeners.changed();
    }

    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.listeners.changed();
    }
}

/// On a 2026-07-28 connection the platform sends list changes only on a
/// listen stream: keep one open and pass on what it says.
fn forward_listen_stream(upstream: &Upstream, listeners: Arc<Listeners>) {
    let peer = upstream.peer().clone();
    if peer.peer_info().is_none_or(|info| info.protocol_version < ProtocolVersion::V_2026_07_28) {
        return;
    }
    tokio::spawn(async move {
        let Ok(mut subscription) = peer.listen(list_changes()).await else { return };
        while let Ok(Some(_)) = subscription.next().await {
            listeners.changed();
        }
    });
}

fn passthrough(e: ServiceError) -> ErrorData {
    match e {
        ServiceError::McpError(e) => e,
        other => ErrorData::new(
            ErrorCode::INTERNAL_ERROR,
            format!("the OmniMCP platform could not be reached: {other}"),
            None,
        ),
    }
}

impl ServerHandler for Bridge {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_resources()
                .enable_resources_list_changed()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_skills_with_directory_read()
                .build(),
        )
        .with_server_info(Implementation::new("omnimcp-connect", env!("CARGO_PKG_VERSION")))
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.listeners.sessions.lock().expect("listeners lock").push(context.peer.clone());
    }

    fn accepted_subscription_filter(&self, _requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        Some(list_changes())
    }

    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), ErrorData> {
        let id = self.listeners.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.listeners.streams.lock().expect("listeners lock").push((id, subscription.sink().clone()));
        subscription.cancelled().await;
        self.listeners.streams.lock().expect("listeners lock").retain(|(i, _)| *i != id);
        Ok(())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.upstream.peer().list_tools(request).await.map_err(passthrough)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.upstream.peer().call_tool(request).await.map(CallToolResponse::Complete).map_err(passthrough)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.upstream.peer().list_resources(request).await.map_err(passthrough)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.upstream.peer().list_resource_templates(request).await.map_err(passthrough)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.upstream.peer().read_resource(request).await.map(ReadResourceResponse::Complete).map_err(passthrough)
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        self.upstream.peer().list_prompts(request).await.map_err(passthrough)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        self.upstream.peer().get_prompt_once(request).await.map_err(passthrough)
    }

    async fn list_skills(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListSkillsResult, ErrorData> {
        self.upstream.peer().list_skills(request).await.map_err(passthrough)
    }

    async fn get_skill(
        &self,
        request: rmcp::model::GetSkillRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetSkillResult, ErrorData> {
        self.upstream.peer().get_skill(request).await.map_err(passthrough)
    }

    async fn read_resource_directory(
        &self,
        request: rmcp::model::ReadResourceDirectoryRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceDirectoryResult, ErrorData> {
        self.upstream.peer().read_resource_directory(request).await.map_err(passthrough)
    }
}

async fn open(
    url: &str,
    api_key: &str,
    lifecycle: ClientLifecycleMode,
    listeners: &Arc<Listeners>,
) -> anyhow::Result<Upstream> {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string()).auth_header(api_key.to_string());
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    let forwarder = Forwarder { listeners: listeners.clone() };
    Ok(forwarder.serve_with_lifecycle(transport, lifecycle).await?)
}

pub async fn run(url: &str, api_key: &str) -> anyhow::Result<()> {
    let auto = ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    };
    let listeners = Arc::new(Listeners::default());
    let upstream = match open(url, api_key, auto, &listeners).await {
        Ok(u) => u,
        Err(first) => open(url, api_key, ClientLifecycleMode::Initialize, &listeners)
            .await
            .map_err(|_| first.context(format!("could not connect to {url}")))?,
    };
    tracing::info!(url, "connected; serving MCP on stdio");
    forward_listen_stream(&upstream, listeners.clone());
    let bridge = Bridge { upstream: Arc::new(upstream), listeners };
    bridge.serve(stdio()).await?.waiting().await?;
    Ok(())
}

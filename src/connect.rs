//! `omnimcp connect --url URL --api-key KEY`: a stdio MCP server that
//! forwards to a platform's `/mcp`, for desktop clients that can only
//! launch programs (Claude Desktop, Cursor, ...). It speaks whichever era
//! the platform does (discover first, `initialize` as the fallback) and
//! passes lists (tools, resources, templates, prompts), calls, reads and
//! their errors through unchanged.

use std::sync::Arc;

use rmcp::{
    ClientServiceExt, ErrorData, RoleClient, RoleServer, ServerHandler, ServiceError, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResponse, ClientConfig, ErrorCode, GetPromptRequestParams, GetPromptResponse,
        Implementation, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
        PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
        ServerConfig,
    },
    service::{ClientLifecycleMode, RequestContext, RunningService},
    transport::{StreamableHttpClientTransport, stdio, streamable_http_client::StreamableHttpClientTransportConfig},
};

type Upstream = RunningService<RoleClient, ClientConfig>;

#[derive(Clone)]
struct Bridge {
    upstream: Arc<Upstream>,
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
        ServerConfig::new(ServerCapabilities::builder().enable_prompts().enable_resources().enable_tools().build())
            .with_server_info(Implementation::new("omnimcp-connect", env!("CARGO_PKG_VERSION")))
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
}

async fn open(url: &str, api_key: &str, lifecycle: ClientLifecycleMode) -> anyhow::Result<Upstream> {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string()).auth_header(api_key.to_string());
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    Ok(ClientConfig::default().serve_with_lifecycle(transport, lifecycle).await?)
}

pub async fn run(url: &str, api_key: &str) -> anyhow::Result<()> {
    let auto = ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    };
    let upstream = match open(url, api_key, auto).await {
        Ok(u) => u,
        Err(first) => open(url, api_key, ClientLifecycleMode::Initialize)
            .await
            .map_err(|_| first.context(format!("could not connect to {url}")))?,
    };
    tracing::info!(url, "connected; serving MCP on stdio");
    let bridge = Bridge { upstream: Arc::new(upstream) };
    bridge.serve(stdio()).await?.waiting().await?;
    Ok(())
}

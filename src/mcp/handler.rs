//! [`McpHandler`]: rmcp's server handler for `/mcp`, one method per MCP
//! request. Each builds the call's context from rmcp's request context,
//! resolves what the caller named through the gateway, runs it, and shapes
//! the answer ([`super::results`]) or the error (`GatewayError::to_rpc`).

// Sampling, roots, logging and resources/subscribe are deprecated by
// SEP-2577 (2026-07-28) but are how clients of the 2025-11-25 era work:
// the gateway carries them for those clients.
#![allow(deprecated)]

use std::sync::Arc;

use super::SessionCaps;
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, ErrorCode,
        GetPromptRequestParams, GetPromptResponse, Implementation, InitializeRequestParams, InitializeResult,
        InputRequest, InputRequiredResult, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
        ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
        ServerConfig, SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
    },
    service::{NotificationContext, RequestContext, SubscriptionContext},
    transport::streamable_http_server::{SessionManager, session::local::LocalSessionManager},
};

use super::{listing, results};
use crate::{
    gateway::{Gateway, GatewayError, Reach},
    identity::Principal,
    upstream::{CallContext, ClientLink, Era, RoundTrip, UpstreamError},
};

/// Most resources one `subscriptions/listen` stream may subscribe to.
pub const MAX_LISTENED_RESOURCES: usize = 64;

#[derive(Clone)]
pub struct McpHandler {
    gateway: Arc<Gateway>,
    /// rmcp's legacy sessions, to close one whose credential ended.
    sessions: Arc<LocalSessionManager>,
    /// Caps on open `subscriptions/listen` streams.
    caps: SessionCaps,
}

/// A call's outcome, or its error for the client. "Connect first" is, for
/// a 2026-07-28 client that takes URL elicitations, an input-required
/// result (the multi-round-trip form): the client shows the URL, and its
/// retry (with [`CONNECT_STATE`]) runs the call again. Other clients get
/// the -32042 error, whose message names the URL too.
fn answer(
    ctx: &CallContext,
    outcome: Result<crate::upstream::Outcome, GatewayError>,
) -> Result<crate::upstream::Outcome, ErrorData> {
    let takes_url = |ctx: &CallContext| {
        let caps = ctx.client_meta.as_ref().and_then(|m| m.client_capabilities());
        caps.and_then(|c| c.elicitation).is_some_and(|e| e.url.is_some())
    };
    match outcome {
        Err(GatewayError::Upstream(UpstreamError::ConnectionRequired { provider, url }))
            if ctx.era == Era::Stateless && takes_url(ctx) =>
        {
            let request = serde_json::json!({
                "method": "elicitation/create",
                "params": {
                    "mode": "url",
                    "url": url,
                    "elicitationId": uuid::Uuid::new_v4().to_string(),
                    "message": format!("Connect your {provider} account to OmniMCP to use this server."),
                }
            });
            let request: InputRequest = serde_json::from_value(request)
                .map_err(|e| ErrorData::new(ErrorCode::INTERNAL_ERROR, format!("an input request: {e}"), None))?;
            let requests = [(CONNECT_INPUT.to_string(), request)].into_iter().collect();
            let required = InputRequiredResult::new(Some(requests), Some(CONNECT_STATE.to_string()));
            Ok(crate::upstream::Outcome::Mcp(rmcp::model::ServerResult::InputRequiredResult(required)))
        }
        Err(e) => Err(e.to_rpc(ctx.era)),
        Ok(outcome) => Ok(outcome),
    }
}

/// The caller of an MCP request, put there by the guard.
fn principal(parts: Option<&http::request::Parts>) -> Result<Principal, ErrorData> {
    parts
        .and_then(|parts| parts.extensions.get::<Principal>())
        .cloned()
        .ok_or_else(|| ErrorData::new(ErrorCode::INTERNAL_ERROR, "request is not authenticated", None))
}

/// The `requestState` of the gateway's own "connect first" input request
/// (2026-07-28): a retry carrying it is the gateway's round trip, which the
/// server never saw.
const CONNECT_STATE: &str = "omnimcp-connect";
/// The key of that input request among `inputRequests`.
const CONNECT_INPUT: &str = "connect";

/// The call context of an MCP request.
fn call_context(context: &RequestContext<RoleServer>, mut round_trip: RoundTrip) -> Result<CallContext, ErrorData> {
    if round_trip.request_state.as_deref() == Some(CONNECT_STATE) {
        let action =
            round_trip.input_responses.as_ref().and_then(|r| r.get(CONNECT_INPUT)).map(|v| v["action"].clone());
        if action.as_ref().and_then(|a| a.as_str()).is_some_and(|a| a != "accept") {
            return Err(ErrorData::new(
                ErrorCode::INVALID_REQUEST,
                "the connection this server needs was declined: connect it from Installed, then try again",
                None,
            ));
        }
        // Accepted: the user went to connect; the call is tried afresh.
        round_trip = RoundTrip::default();
    }
    let parts = context.extensions.get::<http::request::Parts>();
    let principal = principal(parts)?;
    let era = Era::of(context.meta.protocol_version().as_ref());
    let client_meta = (era == Era::Stateless).then(|| {
        let mut forwarded = rmcp::model::RequestMetaObject::default();
        if let Some(caps) = context.meta.client_capabilities() {
            forwarded.set_client_capabilities(caps);
        }
        if let Some(level) = context.meta.log_level() {
            forwarded.set_log_level(level);
        }
        forwarded
    });
    let session = parts.and_then(|p| p.headers.get("mcp-session-id")).and_then(|v| v.to_str().ok()).map(str::to_string);
    Ok(CallContext {
        principal,
        era,
        client: Some(ClientLink::new(context.peer.clone(), context.id.clone(), session)),
        progress_token: context.meta.get_progress_token(),
        cancel: context.ct.clone(),
        round_trip,
        client_meta,
        deadline: None,
    })
}

impl McpHandler {
    pub fn new(gateway: Arc<Gateway>, sessions: Arc<LocalSessionManager>, caps: SessionCaps) -> Self {
        Self { gateway, sessions, caps }
    }

    async fn reach(&self, principal: &Principal, era: Era) -> Result<Reach, ErrorData> {
        self.gateway.reach(principal).await.map_err(|e| e.to_rpc(era))
    }

    /// What the caller of a list request can reach; the list is taken from
    /// the caller's control budget.
    async fn reach_of(&self, context: &RequestContext<RoleServer>) -> Result<Reach, ErrorData> {
        let principal = principal(context.extensions.get())?;
        let era = Era::of(context.meta.protocol_version().as_ref());
        self.gateway.admit_control(&principal.user).await.map_err(|e| e.to_rpc(era))?;
        self.reach(&principal, era).await
    }

    /// Resolves with `resolve`, then runs the target through the pipeline.
    async fn run(
        &self,
        ctx: &CallContext,
        resolve: impl FnOnce(&Reach) -> Result<(crate::gateway::Target, crate::upstream::Operation), GatewayError>,
    ) -> Result<crate::upstream::Outcome, ErrorData> {
        self.run_at(ctx, resolve).await.map(|(_installation, outcome)| outcome)
    }

    /// As [`Self::run`], with the installation the call reached.
    async fn run_at(
        &self,
        ctx: &CallContext,
        resolve: impl FnOnce(&Reach) -> Result<(crate::gateway::Target, crate::upstream::Operation), GatewayError>,
    ) -> Result<(uuid::Uuid, crate::upstream::Outcome), ErrorData> {
        let (target, op) = self.gateway.resolve(&ctx.principal, resolve).await.map_err(|e| e.to_rpc(ctx.era))?;
        let outcome = answer(ctx, self.gateway.execute(ctx, &target, op).await.map(|(outcome, _rate)| outcome))?;
        Ok((target.installation.id, outcome))
    }

    /// As [`Self::run`], for an operation on a URI: with the URI in the
    /// server's words, which the answer names and the caller's replaces.
    async fn run_on_uri(
        &self,
        ctx: &CallContext,
        resolve: impl FnOnce(&Reach) -> Result<(crate::gateway::Target, crate::upstream::Operation), GatewayError>,
    ) -> Result<(String, crate::upstream::Outcome), ErrorData> {
        let (target, op) = self.gateway.resolve(&ctx.principal, resolve).await.map_err(|e| e.to_rpc(ctx.era))?;
        let server_uri = op.uri().unwrap_or_default().to_string();
        let outcome = answer(ctx, self.gateway.execute(ctx, &target, op).await.map(|(outcome, _rate)| outcome))?;
        Ok((server_uri, outcome))
    }

    /// `tasks/get`, `tasks/update`, `tasks/cancel` (SEP-2663): routed to
    /// the installation whose server made the task, if it is the caller's.
    async fn task(
        &self,
        public_id: &str,
        op: impl FnOnce(String) -> crate::upstream::TaskOp,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ServerResult, ErrorData> {
        let ctx = call_context(&context, RoundTrip::default())?;
        let opened = self.gateway.upstreams.open_task_id(public_id);
        match self.run(&ctx, |reach| reach.task(public_id, opened, op)).await? {
            crate::upstream::Outcome::Mcp(result) => Ok(result),
            crate::upstream::Outcome::Callback(_) => Err(GatewayError::UnknownTask(public_id.into()).to_rpc(ctx.era)),
        }
    }

    /// `resources/subscribe` and `resources/unsubscribe` (handshake era):
    /// the upstream is asked once per resource; its updates reach every
    /// subscribed client under the URI that client used.
    async fn subscription(
        &self,
        public: String,
        subscribe: bool,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let ctx = call_context(&context, RoundTrip::default())?;
        self.run(&ctx, |reach| reach.subscription(&public, subscribe)).await.map(|_| ())
    }
}

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_logging()
                .enable_completions()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_resources()
                .enable_resources_list_changed()
                .enable_resources_subscribe()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_tasks()
                .enable_skills_with_directory_read()
                .build(),
        )
        .with_server_info(Implementation::new("omnimcp", env!("CARGO_PKG_VERSION")))
        .with_instructions("Every tool of every MCP server you installed on OmniMCP, named `server.tool`.")
    }

    /// A new session: taken from the caller's control budget (the number
    /// of open sessions is capped by the guard).
    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        let principal = principal(context.extensions.get())?;
        self.gateway.admit_control(&principal.user).await.map_err(|e| e.to_rpc(Era::Handshake))?;
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let parts = context.extensions.get::<http::request::Parts>();
        let Ok(principal) = principal(parts) else { return };
        let session = parts.and_then(|p| p.headers.get("mcp-session-id")).and_then(|v| v.to_str().ok());
        // A repeated `notifications/initialized` changes nothing.
        let Some(end) = self.gateway.notifier.register(&principal, context.peer.clone(), session) else { return };
        // When the credential ends, so does the session (and its stream).
        if let Some(id) = session {
            let (sessions, id) = (self.sessions.clone(), std::sync::Arc::<str>::from(id));
            tokio::spawn(async move {
                end.cancelled().await;
                let _ = sessions.close_session(&id).await;
            });
        }
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        listing::tools(&self.reach_of(&context).await?, request)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        listing::resources(&self.reach_of(&context).await?, request)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        listing::templates(&self.reach_of(&context).await?, request)
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        listing::prompts(&self.reach_of(&context).await?, request)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let round_trip = RoundTrip { input_responses: request.input_responses, request_state: request.request_state };
        let ctx = call_context(&context, round_trip)?;
        let arguments = request.arguments.unwrap_or_default();
        let (installation, outcome) = self.run_at(&ctx, |reach| reach.call_tool(&request.name, arguments)).await?;
        let mut response = results::call_tool(outcome, ctx.era)?;
        // A task is known to the client by the installation that made it
        // and the server's id, sealed (see `Upstreams::task_id`).
        if let CallToolResponse::Task(created) = &mut response {
            created.task.task_id = self.gateway.upstreams.task_id(installation, &created.task.task_id);
        }
        Ok(response)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let round_trip = RoundTrip { input_responses: request.input_responses, request_state: request.request_state };
        let ctx = call_context(&context, round_trip)?;
        let (server_uri, outcome) = self.run_on_uri(&ctx, |reach| reach.read_resource(&request.uri)).await?;
        results::read_resource(outcome, &server_uri, &request.uri, ctx.era)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let round_trip = RoundTrip { input_responses: request.input_responses, request_state: request.request_state };
        let ctx = call_context(&context, round_trip)?;
        let arguments = request.arguments.unwrap_or_default();
        let outcome = self.run(&ctx, |reach| reach.get_prompt(&request.name, arguments)).await?;
        results::get_prompt(outcome, ctx.era)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let ctx = call_context(&context, RoundTrip::default())?;
        let outcome = self.run(&ctx, |reach| reach.complete(request)).await?;
        results::complete(outcome, ctx.era)
    }

    /// A legacy session's level: log messages its servers send outside
    /// calls reach it at or above that level. It is not forwarded upstream:
    /// an upstream connection serves an installation, not one session.
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let parts = context.extensions.get::<http::request::Parts>();
        let principal = principal(parts)?;
        if let Some(session) = parts.and_then(|p| p.headers.get("mcp-session-id")).and_then(|v| v.to_str().ok()) {
            self.gateway.notifier.set_level(principal.user.id, session, request.level);
        }
        Ok(())
    }

    /// `skills/list` (SEP-2640), from the catalog like the other lists.
    async fn list_skills(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListSkillsResult, ErrorData> {
        listing::skills(&self.reach_of(&context).await?, request)
    }

    /// `skills/get` (SEP-2640): one entry of the caller's `skills/list`;
    /// anything else is -32602, whoever else may serve it.
    async fn get_skill(
        &self,
        request: rmcp::model::GetSkillRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetSkillResult, ErrorData> {
        let era = Era::of(context.meta.protocol_version().as_ref());
        let reach = self.reach_of(&context).await?;
        let (target, record) = reach.skill(&request.uri).map_err(|e| e.to_rpc(era))?;
        let skill = listing::skill_entry(reach.naming, target.entry.slug(), record)
            .ok_or_else(|| GatewayError::UnknownSkill(request.uri.clone()).to_rpc(era))?;
        Ok(rmcp::model::GetSkillResult::new(skill)
            .with_ttl_ms(listing::LIST_TTL_MS)
            .with_cache_scope(rmcp::model::CacheScope::Private))
    }

    /// `resources/directory/read` (SEP-2640): a skill directory's
    /// children, from the server (through the pipeline, like a read).
    async fn read_resource_directory(
        &self,
        request: rmcp::model::ReadResourceDirectoryRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceDirectoryResult, ErrorData> {
        let ctx = call_context(&context, RoundTrip::default())?;
        let resolve = |reach: &Reach| reach.read_directory(&request.uri, request.cursor);
        let (server_uri, outcome) = self.run_on_uri(&ctx, resolve).await?;
        results::read_directory(outcome, &server_uri, &request.uri, ctx.era)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscription(request.uri, true, context).await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscription(request.uri, false, context).await
    }

    /// Every list change, and the resources asked for (at most
    /// [`MAX_LISTENED_RESOURCES`]). Which of those the caller can reach is
    /// known only in [`Self::listen`]: one it cannot is acknowledged all
    /// the same and never updated, so the acknowledgment tells nobody
    /// whether another user's resource exists.
    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, ErrorData> {
        let public = request.task_id;
        let op = |task_id| crate::upstream::TaskOp::Get { task_id };
        match self.task(&public, op, context).await? {
            rmcp::model::ServerResult::GetTaskResult(mut result) => {
                result.task.task.task_id = public;
                Ok(result)
            }
            _ => Err(ErrorData::internal_error("the server answered tasks/get with something else", None)),
        }
    }

    async fn update_task(
        &self,
        request: rmcp::model::UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let responses = request.input_responses;
        let op = |task_id| crate::upstream::TaskOp::Update { task_id, input_responses: responses };
        self.task(&request.task_id, op, context).await.map(|_| ())
    }

    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let op = |task_id| crate::upstream::TaskOp::Cancel { task_id };
        self.task(&request.task_id, op, context).await.map(|_| ())
    }

    fn accepted_subscription_filter(&self, requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        let mut accepted = crate::gateway::notify::list_changes();
        accepted.resource_subscriptions = requested
            .resource_subscriptions
            .as_ref()
            .map(|uris| uris.iter().take(MAX_LISTENED_RESOURCES).cloned().collect());
        Some(accepted)
    }

    /// A `subscriptions/listen` stream: open until the client ends it or
    /// its credential ends. Its resource subscriptions are made upstream
    /// as a legacy session's are, and undone when it ends.
    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), ErrorData> {
        let request = subscription.request_context();
        let principal = principal(request.extensions.get())?;
        let notifier = &self.gateway.notifier;
        let (id, end) = notifier
            .listen(&principal, subscription.sink().clone(), self.caps)
            .map_err(|why| ErrorData::new(ErrorCode(crate::gateway::error::codes::RATE_LIMITED), why, None))?;
        let link = ClientLink::listening(request.peer.clone(), request.id.clone(), id, subscription.sink().clone());
        let mut ctx = CallContext::detached(principal.clone());
        ctx.client = Some(link);
        let uris = subscription.accepted().resource_subscriptions.clone().unwrap_or_default();
        let mut subscribed = Vec::new();
        for uri in uris {
            match self.run(&ctx, |reach| reach.subscription(&uri, true)).await {
                Ok(_) => subscribed.push(uri),
                Err(e) => tracing::debug!(error = %e.message, "a listen stream's resource subscription was not made"),
            }
        }
        // rmcp acknowledges the stream before this method runs, so the
        // client may act (change a resource) before the subscriptions
        // above are in place upstream. One update per resource, now that
        // they are, says "read it again": nothing changed in that window
        // goes unannounced.
        if let Some(link) = &ctx.client {
            for uri in &subscribed {
                let update = rmcp::model::ResourceUpdatedNotificationParam::new(uri.clone());
                link.outbox.push(crate::upstream::Relayed::ResourceUpdated(update));
            }
        }
        tokio::select! {
            () = subscription.cancelled() => {}
            () = end.cancelled() => {}
        }
        notifier.stop_listening(principal.user.id, id);
        // Unsubscribing tells a handshake-era upstream; ending them all
        // afterwards makes sure none outlives the stream.
        for uri in subscribed {
            let _ = self.run(&ctx, |reach| reach.subscription(&uri, false)).await;
        }
        let client = crate::upstream::ClientKey::Listen(id);
        self.gateway.upstreams.end_client_subscriptions(principal.user.id, &client).await;
        Ok(())
    }
}

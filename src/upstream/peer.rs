//! Our client side of an MCP connection to an upstream (a child process or
//! a remote server): [`ClientSide`] answers the server as `omnimcp`, hands
//! what the server says to the connection's [`Relay`], and reports the
//! server's own list changes; [`run_on_peer`] is the one place where an
//! [`Operation`] becomes an MCP request, for both kinds.

// Sampling, roots, logging and resources/subscribe are deprecated by
// SEP-2577 (2026-07-28) but are how clients of the 2025-11-25 era work:
// the gateway carries them for those clients.
#![allow(deprecated)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::{
    ClientHandler, ErrorData, Peer, RoleClient,
    model::{
        CallToolRequest, CallToolRequestParams, ClientCapabilities, ClientConfig, ClientRequest, CompleteRequest,
        CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult, GetPromptRequest,
        GetPromptRequestParams, Implementation, ListRootsResult, LoggingMessageNotificationParam,
        ProgressNotificationParam, ReadResourceRequest, ReadResourceRequestParams, RequestMetaObject,
        ResourceUpdatedNotificationParam, ServerResult, SubscribeRequest, SubscribeRequestParams, SubscriptionFilter,
        UnsubscribeRequest, UnsubscribeRequestParams,
    },
    service::{InboundStreamOrigin, NotificationContext, PeerRequestOptions, RequestContext, RunningService},
};

use tokio_util::sync::CancellationToken;

use super::{
    CallContext, CallLimits, ChangeQueue, ClientLink, Era, ListChange, Operation, Outcome, RoundTrip, TaskOp,
    UpstreamError,
    relay::{Caller, Relay, Sequenced, Subscriber},
};

/// A connection to an upstream MCP server.
pub type Connection = RunningService<RoleClient, ClientSide>;

/// Our side of one connection.
#[derive(Clone)]
pub struct ClientSide {
    /// Which server (and installation) the connection belongs to, for its
    /// list-change reports.
    origin: ListChange,
    changes: Option<ChangeQueue>,
    relay: Arc<Relay>,
}

impl ClientSide {
    /// The client side of a connection for `origin`: an installation's own
    /// (`origin.installation` set) or a shared one.
    pub fn new(origin: ListChange, changes: Option<ChangeQueue>) -> Self {
        Self { origin, changes, relay: Arc::new(Relay::new(origin.installation.is_some())) }
    }

    /// This connection's relay.
    pub fn relay(&self) -> &Arc<Relay> {
        &self.relay
    }

    /// The transport to the server, wrapped so that the relay sees its
    /// notifications in order (see [`Sequenced`]).
    pub fn sequenced<T>(&self, transport: T) -> Sequenced<T> {
        Sequenced::new(transport, self.relay.clone())
    }

    fn report(&self) {
        if let Some(queue) = &self.changes {
            queue.push(self.origin);
        }
    }
}

impl ClientHandler for ClientSide {
    fn get_info(&self) -> ClientConfig {
        // What the gateway can relay to its clients: whether a given client
        // supports it is that client's answer to the relayed request.
        // Both modes of elicitation: a server that asks for a URL visit
        // (server-everything's `trigger-url-elicitation`) offers that tool
        // only to clients that declare it.
        let mut capabilities =
            ClientCapabilities::builder().enable_roots().enable_sampling().enable_elicitation().build();
        capabilities.elicitation =
            Some(rmcp::model::ElicitationCapability::new().with_form(Default::default()).with_url(Default::default()));
        // `initialize` belongs to the handshake era: it offers that era's
        // newest revision. 2026-07-28 is negotiated by `server/discover`.
        ClientConfig::new(capabilities, Implementation::new("omnimcp", env!("CARGO_PKG_VERSION")))
            .with_protocol_version(rmcp::model::ProtocolVersion::V_2025_11_25)
    }

    async fn on_progress(&self, params: ProgressNotificationParam, _: NotificationContext<RoleClient>) {
        self.relay.progress(params).await;
    }

    async fn on_logging_message(&self, params: LoggingMessageNotificationParam, _: NotificationContext<RoleClient>) {
        // Said outside any call, on an installation's own connection: for
        // that installation's owner.
        let unclaimed = self.relay.log(params).await;
        if let (Some(log), Some(installation), Some(queue)) = (unclaimed, self.origin.installation, &self.changes) {
            queue.say(super::Said { installation, log });
        }
    }

    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParam, _: NotificationContext<RoleClient>) {
        self.relay.resource_updated(params).await;
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        self.relay.sampling(params, context.extensions.get::<InboundStreamOrigin>()).await
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.relay.elicitation(params, context.extensions.get::<InboundStreamOrigin>()).await
    }

    async fn list_roots(&self, context: RequestContext<RoleClient>) -> Result<ListRootsResult, ErrorData> {
        self.relay.roots(context.extensions.get::<InboundStreamOrigin>()).await
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.report();
    }

    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.report();
    }

    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.report();
    }
}

/// On a 2026-07-28 connection list changes arrive only on a
/// `subscriptions/listen` stream: open one (when the server declares list
/// changes) and report what it says. Handshake-era servers send them
/// unasked, to [`ClientSide`].
pub fn listen_for_changes(connection: &Connection) {
    let side = connection.service().clone();
    let Some(changes) = side.changes.clone() else { return };
    let peer = connection.peer().clone();
    let Some(info) = peer.peer_info() else { return };
    if info.protocol_version < rmcp::model::ProtocolVersion::V_2026_07_28 {
        return;
    }
    let caps = &info.capabilities;
    let mut filter = SubscriptionFilter::new();
    filter.tools_list_changed = caps.tools.as_ref().and_then(|t| t.list_changed).filter(|c| *c);
    filter.resources_list_changed = caps.resources.as_ref().and_then(|r| r.list_changed).filter(|c| *c);
    filter.prompts_list_changed = caps.prompts.as_ref().and_then(|p| p.list_changed).filter(|c| *c);
    if filter == SubscriptionFilter::new() {
        return;
    }
    tokio::spawn(async move {
        let Ok(mut subscription) = peer.listen(filter).await else { return };
        while let Ok(Some(_notification)) = subscription.next().await {
            changes.push(side.origin);
        }
    });
}

/// Whether a connection speaks the 2026-07-28 era.
pub(super) fn modern(connection: &Connection) -> bool {
    connection
        .peer()
        .peer_info()
        .is_some_and(|info| info.protocol_version >= rmcp::model::ProtocolVersion::V_2026_07_28)
}

/// Everything an MCP server offers, as listed when it is registered (and
/// again when it says its lists changed).
#[derive(Debug, Default)]
pub struct Catalog {
    pub tools: Vec<rmcp::model::Tool>,
    pub resources: Vec<rmcp::model::Resource>,
    pub templates: Vec<rmcp::model::ResourceTemplate>,
    pub prompts: Vec<rmcp::model::Prompt>,
    /// The skills it serves (SEP-2640), when it declares the extension.
    pub skills: Vec<rmcp::model::Skill>,
}

/// Most pages of one list read from a server.
const MAX_PAGES: usize = 16;
/// Most items of one list read from a server (the registry keeps fewer).
const MAX_LISTED: usize = 1024;
/// Longest a whole catalog listing may take.
const LISTING_LIMIT: Duration = Duration::from_secs(30);

/// Reads one paged list, within [`MAX_PAGES`] and [`MAX_LISTED`].
macro_rules! bounded_list {
    ($peer:expr, $method:ident, $field:ident) => {
        async {
            let mut items = Vec::new();
            let mut cursor = None;
            for _ in 0..MAX_PAGES {
                let request =
                    cursor.take().map(|c| rmcp::model::PaginatedRequestParams::default().with_cursor(Some(c)));
                let page = $peer.$method(request).await?;
                items.extend(page.$field);
                match page.next_cursor {
                    Some(next) if items.len() < MAX_LISTED => cursor = Some(next),
                    _ => break,
                }
            }
            items.truncate(MAX_LISTED);
            Ok::<_, rmcp::ServiceError>(items)
        }
        .await
    };
}

impl Catalog {
    /// Lists a connected server's items, as the platform's own request
    /// (nothing the server says meanwhile reaches any caller), within
    /// bounds: at most [`MAX_PAGES`] pages and [`MAX_LISTED`] items a list,
    /// [`LISTING_LIMIT`] in all. Tools are required; the other lists are
    /// asked for only when the server declares them, and a failure there
    /// leaves that list empty rather than refusing the server.
    pub async fn list(connection: &Connection) -> Result<Self, UpstreamError> {
        let _own = connection.service().relay().begin_own();
        let peer = connection.peer();
        let caps = peer.peer_info().map(|info| info.capabilities.clone()).unwrap_or_default();
        let listing = async {
            let tools = bounded_list!(peer, list_tools, tools).map_err(|e| match auth_failure(&e) {
                Some(header) => UpstreamError::AuthRequired(header),
                None => UpstreamError::BadResponse(e.to_string()),
            })?;
            let (mut resources, mut templates, mut prompts, mut skills) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            if caps.resources.is_some() {
                resources = bounded_list!(peer, list_resources, resources).unwrap_or_default();
                templates = bounded_list!(peer, list_resource_templates, resource_templates).unwrap_or_default();
            }
            if caps.prompts.is_some() {
                prompts = bounded_list!(peer, list_prompts, prompts).unwrap_or_default();
            }
            if caps.supports_skills() {
                skills = bounded_list!(peer, list_skills, skills).unwrap_or_default();
            }
            Ok(Self { tools, resources, templates, prompts, skills })
        };
        tokio::time::timeout(LISTING_LIMIT, listing).await.map_err(|_| UpstreamError::Timeout)?
    }
}

/// The `WWW-Authenticate` of a 401 or 403 anywhere in an error's chain
/// (rmcp's transport reports them as typed errors).
pub fn auth_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    use rmcp::transport::streamable_http_client::{AuthRequiredError, InsufficientScopeError};
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(a) = e.downcast_ref::<AuthRequiredError>() {
            return Some(a.www_authenticate_header.clone());
        }
        if let Some(a) = e.downcast_ref::<InsufficientScopeError>() {
            return Some(a.www_authenticate_header.clone());
        }
        current = e.source();
    }
    None
}

/// Whether a connected server answers `tools/list` within `limit` (a health
/// check, as the platform's own request).
pub async fn answers(connection: &Connection, limit: Duration) -> bool {
    let _own = connection.service().relay().begin_own();
    matches!(tokio::time::timeout(limit, connection.peer().list_tools(None)).await, Ok(Ok(_)))
}

/// Why an operation on a connected MCP server got no answer.
pub enum PeerFailure {
    /// No answer, but the connection can still be trusted.
    Failed(UpstreamError),
    /// The connection or the process failed: not to be trusted again.
    Broken(rmcp::ServiceError),
}

/// Runs one operation on a connected MCP server: the one place where our
/// operations become MCP requests, for child processes and remote servers
/// alike, for one installation. While it runs, the connection's relay knows
/// the call, so what the server says about it reaches the caller; a caller
/// that cancels its request cancels the upstream one.
///
/// Where the caller and the server speak different eras, the call is
/// bridged: a 2026-07-28 server's input-required results become requests
/// on a handshake-era client's session (here), and a handshake-era
/// server's requests become a 2026-07-28 client's input-required results
/// ([`super::bridge`]).
pub async fn run_on_peer(
    connection: &Arc<Connection>,
    installation: uuid::Uuid,
    op: Operation,
    ctx: &CallContext,
    limits: CallLimits,
) -> Result<Outcome, PeerFailure> {
    let relay = connection.service().relay();
    // Subscriptions are counted here: the upstream is asked once per URI,
    // and told when the last subscriber leaves.
    match &op {
        Operation::Subscribe { uri, public_uri } => {
            let Some(link) = ctx.client.clone() else {
                return Err(PeerFailure::Failed(UpstreamError::NeedsClient(
                    "subscribing needs an MCP session to send the updates to".into(),
                )));
            };
            let subscriber = Subscriber {
                user: ctx.user(),
                method: ctx.principal.method,
                installation,
                link,
                public_uri: public_uri.clone(),
            };
            if !relay.subscribe(uri, subscriber) {
                return Ok(Outcome::Mcp(ServerResult::empty(())));
            }
        }
        Operation::Unsubscribe { uri } => {
            let client = ctx.client.as_ref().and_then(ClientLink::key);
            if !relay.unsubscribe(uri, ctx.user(), client.as_ref()) || modern(connection) {
                // A 2026-07-28 server's stream ended with the last subscriber.
                return Ok(Outcome::Mcp(ServerResult::empty(())));
            }
        }
        _ => {}
    }
    // A 2026-07-28 server has no `resources/subscribe`: its updates come on
    // a listen stream for the resource, kept while anyone is subscribed.
    if let Operation::Subscribe { uri, .. } = &op
        && modern(connection)
    {
        let mut filter = SubscriptionFilter::new();
        filter.resource_subscriptions = Some(vec![uri.clone()]);
        let listening = tokio::time::timeout(limits.idle, connection.peer().listen(filter)).await;
        return match listening {
            Ok(Ok(subscription)) => {
                relay.keep_upstream_listen(uri, subscription);
                Ok(Outcome::Mcp(ServerResult::empty(())))
            }
            Ok(Err(e)) => {
                relay.unsubscribe(uri, ctx.user(), ctx.client.as_ref().and_then(ClientLink::key).as_ref());
                Err(PeerFailure::Failed(match e {
                    rmcp::ServiceError::McpError(e) => UpstreamError::Rpc(e),
                    e => UpstreamError::Unavailable(format!("the server did not open a listen stream: {e}")),
                }))
            }
            Err(_) => {
                relay.unsubscribe(uri, ctx.user(), ctx.client.as_ref().and_then(ClientLink::key).as_ref());
                Err(PeerFailure::Failed(UpstreamError::Timeout))
            }
        };
    }
    let deadline = Instant::now() + limits.max;
    let limits = limits.until(ctx.deadline.map_or(deadline, |d| d.min(deadline)));
    if super::bridge::applies(ctx, connection, &op) {
        return super::bridge::run(connection, op, ctx, limits).await;
    }
    let mut round_trip = ctx.round_trip.clone();
    for _ in 0..rmcp::model::DEFAULT_MRTR_MAX_ROUNDS {
        let request = request_of(op.clone(), &round_trip);
        let caller = Caller::of(ctx);
        let result =
            one_request(connection, request, ctx.client_meta.clone(), caller, &ctx.cancel, limits.until(deadline))
                .await?;
        match (result, &ctx.client) {
            // A handshake-era client answers over its session, and the
            // server gets the answers as a retry.
            (ServerResult::InputRequiredResult(required), Some(link)) if ctx.era == Era::Handshake => {
                round_trip = super::bridge::answer_in_session(link, required)
                    .await
                    .map_err(|e| PeerFailure::Failed(UpstreamError::Rpc(e)))?;
            }
            (result, _) => return Ok(Outcome::Mcp(result)),
        }
    }
    Err(PeerFailure::Failed(UpstreamError::BadResponse(format!(
        "the server asked for input more than {} times in one request",
        rmcp::model::DEFAULT_MRTR_MAX_ROUNDS
    ))))
}

/// Sends one request to the server and waits for its answer, within
/// `limits`: `idle` without the answer or progress about it, `max` in all.
/// When the caller cancels or the time runs out, the server is told
/// (`notifications/cancelled`).
pub(super) async fn one_request(
    connection: &Connection,
    request: ClientRequest,
    meta: Option<RequestMetaObject>,
    caller: Caller,
    cancel: &CancellationToken,
    limits: CallLimits,
) -> Result<ServerResult, PeerFailure> {
    let relay = connection.service().relay();
    // A 2026-07-28 client's own capabilities and log level, not ours.
    let mut options = PeerRequestOptions::no_options();
    options.meta = meta;
    let peer: &Peer<RoleClient> = connection.peer();
    // Registered before anything the server says about it is looked up.
    let registering = relay.registering().await;
    let handle = peer.send_cancellable_request(request, options).await.map_err(PeerFailure::Broken)?;
    let in_flight = relay.begin(caller.clone(), handle.id.clone(), handle.progress_token.clone());
    drop(registering);
    let (request_id, upstream) = (handle.id.clone(), handle.peer.clone());
    let started = Instant::now();
    let (hard, mut idle) = (started + limits.max, started + limits.idle);
    let response = handle.await_response();
    tokio::pin!(response);
    let answer = loop {
        tokio::select! {
            answer = &mut response => break Ok(answer),
            // Progress is the server saying it is still at it.
            () = in_flight.activity().notified() => idle = Instant::now() + limits.idle,
            () = tokio::time::sleep_until(idle.min(hard).into()) => break Err(UpstreamError::Timeout),
            () = cancel.cancelled() => break Err(UpstreamError::Cancelled),
        }
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(why) => {
            // The client gave up, or we did: so does the server (best effort).
            let reason = match why {
                UpstreamError::Cancelled => "the client cancelled the request",
                _ => "the request took longer than the gateway allows",
            };
            let cancelled = rmcp::model::CancelledNotificationParam::new(Some(request_id), Some(reason.into()));
            let _ = upstream.notify_cancelled(cancelled).await;
            return Err(PeerFailure::Failed(why));
        }
    };
    // What the server said before its answer reaches the caller first:
    // every notification received is queued to its client, and this
    // caller's own are handed to its stream (a caller that does not read
    // waits for itself only).
    relay.drained(Duration::from_secs(2)).await;
    if let Some(link) = caller.recipient().link {
        link.outbox.flushed(Duration::from_secs(2)).await;
    }
    match answer {
        Ok(result) => Ok(result),
        Err(rmcp::ServiceError::McpError(e)) => Err(PeerFailure::Failed(UpstreamError::Rpc(e))),
        Err(e) => Err(PeerFailure::Broken(e)),
    }
}

/// The MCP request for an operation; a retried request carries the
/// client's answers and the server's state.
pub(super) fn request_of(op: Operation, round_trip: &RoundTrip) -> ClientRequest {
    let round_trip = round_trip.clone();
    match op {
        Operation::CallTool { tool, arguments } => {
            let arguments = match arguments {
                serde_json::Value::Object(map) => map,
                _ => serde_json::Map::new(),
            };
            let mut params = CallToolRequestParams::new(tool).with_arguments(arguments);
            params.input_responses = round_trip.input_responses;
            params.request_state = round_trip.request_state;
            ClientRequest::CallToolRequest(CallToolRequest::new(params))
        }
        Operation::ReadResource { uri } => {
            let mut params = ReadResourceRequestParams::new(uri);
            params.input_responses = round_trip.input_responses;
            params.request_state = round_trip.request_state;
            ClientRequest::ReadResourceRequest(ReadResourceRequest::new(params))
        }
        Operation::GetPrompt { name, arguments } => {
            let mut params = GetPromptRequestParams::new(name);
            params.arguments = Some(arguments);
            params.input_responses = round_trip.input_responses;
            params.request_state = round_trip.request_state;
            ClientRequest::GetPromptRequest(GetPromptRequest::new(params))
        }
        Operation::Complete { params } => ClientRequest::CompleteRequest(CompleteRequest::new(params)),
        Operation::Subscribe { uri, .. } => {
            ClientRequest::SubscribeRequest(SubscribeRequest::new(SubscribeRequestParams::new(uri)))
        }
        Operation::Unsubscribe { uri } => {
            ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(UnsubscribeRequestParams::new(uri)))
        }
        Operation::Task(TaskOp::Get { task_id }) => {
            ClientRequest::GetTaskRequest(rmcp::model::GetTaskRequest::new(rmcp::model::GetTaskParams::new(task_id)))
        }
        Operation::Task(TaskOp::Update { task_id, input_responses }) => {
            let params = rmcp::model::UpdateTaskParams::new(task_id, input_responses);
            ClientRequest::UpdateTaskRequest(rmcp::model::UpdateTaskRequest::new(params))
        }
        Operation::Task(TaskOp::Cancel { task_id }) => ClientRequest::CancelTaskRequest(
            rmcp::model::CancelTaskRequest::new(rmcp::model::CancelTaskParams::new(task_id)),
        ),
        Operation::ReadDirectory { uri, cursor } => {
            let mut params = rmcp::model::ReadResourceDirectoryRequestParams::new(uri);
            params.cursor = cursor;
            ClientRequest::ReadResourceDirectoryRequest(rmcp::model::ReadResourceDirectoryRequest::new(params))
        }
    }
}

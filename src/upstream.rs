//! Upstreams: where a tool call finally goes. One enum, one code path per
//! kind of MCP server.
//!
//! - [`Upstream::Callback`]: a developer-hosted server, reached with the
//!   seed's callback protocol (`POST {callbackUrl}/tools/{name}` with
//!   `{"arguments": ...}`, answers `{"success": true, "result": ...}` or
//!   `{"success": false, "error": ...}`) through the SSRF-guarded client.
//!   Every request carries `X-Webhook-Secret` (as the seed says) and a
//!   timestamp and HMAC-SHA256 signature over `"{timestamp}.{body}"`, so a
//!   receiver can verify the body and reject replays.
//! - [`Upstream::Remote`]: a remote MCP server over Streamable HTTP, in
//!   either protocol era (see [`crate::remote`]).
//! - [`Upstream::Process`]: a platform-hosted server, a child process
//!   speaking MCP over stdio, run by the [`crate::supervisor`].

// Sampling, roots, logging and resources/subscribe are deprecated by
// SEP-2577 (2026-07-28) but are how clients of the 2025-11-25 era work:
// the gateway carries them for those clients.
#![allow(deprecated)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use reqwest::{
    Method,
    header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue},
};
use rmcp::{
    ClientHandler, ErrorData, Peer, RoleClient,
    model::{
        CallToolRequest, CallToolRequestParams, ClientCapabilities, ClientConfig, ClientRequest, CompleteRequest,
        CompleteRequestParams, CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
        GetPromptRequest, GetPromptRequestParams, Implementation, ListRootsResult, LoggingMessageNotificationParam,
        ProgressNotificationParam, ReadResourceRequest, ReadResourceRequestParams, ResourceUpdatedNotificationParam,
        ServerResult, SubscribeRequest, SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequest,
        UnsubscribeRequestParams,
    },
    service::{InboundStreamOrigin, NotificationContext, PeerRequestOptions, RequestContext, RunningService},
};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::{
    outbound::OutboundError,
    relay::{Relay, current_caller},
    secrets::Secret,
    state::AppState,
    supervisor::LaunchSpec,
};

pub const SECRET_HEADER: &str = "x-webhook-secret";
pub const TIMESTAMP_HEADER: &str = "x-omnimcp-timestamp";
pub const SIGNATURE_HEADER: &str = "x-omnimcp-signature";

/// What a caller asks of a server.
#[derive(Debug, Clone)]
pub enum Operation {
    CallTool {
        tool: String,
        arguments: Value,
    },
    ReadResource {
        uri: String,
    },
    GetPrompt {
        name: String,
        arguments: Map<String, Value>,
    },
    /// `completion/complete`, the reference already in the server's names.
    Complete {
        params: CompleteRequestParams,
    },
    /// `resources/subscribe` / `resources/unsubscribe` (legacy era).
    Subscribe {
        uri: String,
    },
    Unsubscribe {
        uri: String,
    },
}

impl Operation {
    /// The MCP method, as the request log names it.
    pub fn request_type(&self) -> &'static str {
        match self {
            Operation::CallTool { .. } => "tools/call",
            Operation::ReadResource { .. } => "resources/read",
            Operation::GetPrompt { .. } => "prompts/get",
            Operation::Complete { .. } => "completion/complete",
            Operation::Subscribe { .. } => "resources/subscribe",
            Operation::Unsubscribe { .. } => "resources/unsubscribe",
        }
    }
}

/// Everything an MCP server offers, as listed when it is registered (and
/// again when it says its lists changed).
#[derive(Debug, Default)]
pub struct Catalog {
    pub tools: Vec<rmcp::model::Tool>,
    pub resources: Vec<rmcp::model::Resource>,
    pub templates: Vec<rmcp::model::ResourceTemplate>,
    pub prompts: Vec<rmcp::model::Prompt>,
}

impl Catalog {
    /// Lists a connected server's items. Tools are required; the other
    /// lists are asked for only when the server declares them, and a
    /// failure there leaves that list empty rather than refusing the server.
    pub async fn list(peer: &Peer<RoleClient>) -> Result<Self, UpstreamError> {
        let caps = peer.peer_info().map(|info| info.capabilities.clone()).unwrap_or_default();
        let tools = peer.list_all_tools().await.map_err(|e| UpstreamError::BadResponse(e.to_string()))?;
        let (mut resources, mut templates, mut prompts) = (Vec::new(), Vec::new(), Vec::new());
        if caps.resources.is_some() {
            resources = peer.list_all_resources().await.unwrap_or_default();
            templates = peer.list_all_resource_templates().await.unwrap_or_default();
        }
        if caps.prompts.is_some() {
            prompts = peer.list_all_prompts().await.unwrap_or_default();
        }
        Ok(Self { tools, resources, templates, prompts })
    }
}

/// The result of a tool call that reached the upstream.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutcome {
    Ok(Value),
    /// The tool ran and reported an error (not a transport failure).
    ToolError(Value),
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the server did not answer in time")]
    Timeout,
    #[error("the server could not be reached: {0}")]
    Unavailable(String),
    #[error("the server sent an invalid response: {0}")]
    BadResponse(String),
}

impl UpstreamError {
    /// A short class for the request log.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Timeout => "upstream_timeout",
            Self::Unavailable(_) => "upstream_unavailable",
            Self::BadResponse(_) => "upstream_bad_response",
        }
    }
}

pub enum Upstream {
    Callback {
        base_url: String,
        secret: Secret,
    },
    /// A remote MCP server over Streamable HTTP.
    Remote {
        server_id: uuid::Uuid,
        url: String,
    },
    /// A platform-hosted server: a child process per (server, config).
    Process {
        server_id: uuid::Uuid,
        spec: LaunchSpec,
        config: serde_json::Map<String, Value>,
    },
}

/// Where an upstream's own list changes are reported: the server's id.
pub type ChangeSender = tokio::sync::mpsc::UnboundedSender<uuid::Uuid>;

/// Our client side toward an upstream MCP server (a child process or a
/// remote server). It answers the handshake as `omnimcp`, reports the
/// server's own `notifications/*/list_changed` (legacy era) so that the
/// registry re-lists it and users' clients hear of it, and relays what the
/// server says to a caller during a call (see [`crate::relay`]).
#[derive(Clone)]
pub struct ChangeReporter {
    server_id: uuid::Uuid,
    changes: Option<ChangeSender>,
    relay: std::sync::Arc<Relay>,
}

impl ChangeReporter {
    pub fn new(server_id: uuid::Uuid, changes: Option<ChangeSender>) -> Self {
        Self { server_id, changes, relay: Default::default() }
    }

    /// This connection's relay.
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// The transport to the server, wrapped so that the relay sees its
    /// notifications in order (see [`crate::relay::Sequenced`]).
    pub fn sequenced<T>(&self, transport: T) -> crate::relay::Sequenced<T> {
        crate::relay::Sequenced::new(transport, self.relay.clone())
    }

    fn report(&self) {
        if let Some(tx) = &self.changes {
            let _ = tx.send(self.server_id);
        }
    }
}

impl ClientHandler for ChangeReporter {
    fn get_info(&self) -> ClientConfig {
        // What the gateway can relay to its clients: whether a given client
        // supports it is that client's answer to the relayed request.
        #[allow(deprecated)]
        let capabilities = ClientCapabilities::builder().enable_roots().enable_sampling().enable_elicitation().build();
        // `initialize` belongs to the handshake era: it offers that era's
        // newest revision. 2026-07-28 is negotiated by `server/discover`.
        ClientConfig::new(capabilities, Implementation::new("omnimcp", env!("CARGO_PKG_VERSION")))
            .with_protocol_version(rmcp::model::ProtocolVersion::V_2025_11_25)
    }

    async fn on_progress(&self, params: ProgressNotificationParam, _: NotificationContext<RoleClient>) {
        self.relay.progress(params).await;
    }

    async fn on_logging_message(&self, params: LoggingMessageNotificationParam, _: NotificationContext<RoleClient>) {
        self.relay.log(params).await;
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
/// changes) and report what it says. Legacy-era servers send them unasked,
/// to [`ChangeReporter`].
pub fn listen_for_changes(
    client: &rmcp::service::RunningService<RoleClient, ChangeReporter>,
    server_id: uuid::Uuid,
    changes: Option<ChangeSender>,
) {
    let Some(changes) = changes else { return };
    let peer = client.peer().clone();
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
            if changes.send(server_id).is_err() {
                break;
            }
        }
    });
}

/// `v1=` + hex HMAC-SHA256 of `"{timestamp}.{body}"` under the secret.
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("v1={hex}")
}

impl Upstream {
    /// Runs one operation on the upstream. The server's own errors (a tool
    /// error, an MCP error answer) are [`ToolOutcome::ToolError`]; only a
    /// failure to get an answer at all is an [`UpstreamError`].
    pub async fn execute(&self, state: &AppState, op: Operation) -> Result<ToolOutcome, UpstreamError> {
        match self {
            Upstream::Callback { base_url, secret } => {
                let (method, url, body) = match op {
                    Operation::CallTool { tool, arguments } => {
                        // Tool names are `[A-Za-z0-9_-]`, safe in a path segment.
                        (Method::POST, format!("{base_url}/tools/{tool}"), Some(json!({ "arguments": arguments })))
                    }
                    Operation::GetPrompt { name, arguments } => {
                        (Method::POST, format!("{base_url}/prompts/{name}"), Some(json!({ "arguments": arguments })))
                    }
                    Operation::ReadResource { uri } => {
                        let mut url = reqwest::Url::parse(&format!("{base_url}/resources"))
                            .map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
                        url.query_pairs_mut().append_pair("uri", &uri);
                        (Method::GET, url.to_string(), None)
                    }
                    // The callback protocol has no completions and no
                    // subscriptions: no suggestions, and a clear refusal.
                    Operation::Complete { .. } => {
                        return Ok(ToolOutcome::Ok(json!({ "completion": { "values": [] } })));
                    }
                    Operation::Subscribe { .. } | Operation::Unsubscribe { .. } => {
                        return Ok(ToolOutcome::ToolError(json!({
                            "code": -32601,
                            "message": "this server does not support resource subscriptions",
                        })));
                    }
                };
                let body = body.map(|b| serde_json::to_vec(&b).expect("JSON serializes"));
                let response = signed_request(state, secret, method, &url, body).await?;
                parse_callback_answer(response.status.as_u16(), &response.body)
            }
            Upstream::Remote { server_id, url } => state.remote.execute(&state.outbound, *server_id, url, op).await,
            Upstream::Process { server_id, spec, config } => {
                state.supervisor.execute(*server_id, spec, config, op).await
            }
        }
    }
}

fn json_of<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Why an operation on a connected MCP server got no answer.
pub enum PeerFailure {
    Timeout,
    /// The connection or the process failed: not to be trusted again.
    Broken(rmcp::ServiceError),
}

/// Runs one operation on a connected MCP server (a child process or a
/// remote server): the one place where our operations become MCP requests.
/// While it runs, the connection's relay knows the call: what the server
/// says about it reaches the caller (see [`crate::relay`]), and a caller
/// that cancels its request cancels the upstream one.
pub async fn run_on_peer(
    client: &RunningService<RoleClient, ChangeReporter>,
    op: Operation,
    limit: Duration,
) -> Result<ToolOutcome, PeerFailure> {
    let relay = client.service().relay();
    let caller = current_caller();
    if let Some(caller) = &caller {
        match &op {
            Operation::Subscribe { uri } if !relay.subscribe(uri, caller.clone()) => {
                return Ok(ToolOutcome::Ok(json!({})));
            }
            Operation::Unsubscribe { uri } if !relay.unsubscribe(uri, caller) => {
                return Ok(ToolOutcome::Ok(json!({})));
            }
            _ => {}
        }
    }
    // A retried request carries the client's answers and the server's state.
    let (input_responses, request_state) =
        caller.as_ref().map(|c| (c.input_responses.clone(), c.request_state.clone())).unwrap_or_default();
    let request = match op {
        Operation::CallTool { tool, arguments } => {
            let args = match arguments {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            let mut params = CallToolRequestParams::new(tool).with_arguments(args);
            params.input_responses = input_responses;
            params.request_state = request_state;
            ClientRequest::CallToolRequest(CallToolRequest::new(params))
        }
        Operation::ReadResource { uri } => {
            let mut params = ReadResourceRequestParams::new(uri);
            params.input_responses = input_responses;
            params.request_state = request_state;
            ClientRequest::ReadResourceRequest(ReadResourceRequest::new(params))
        }
        Operation::GetPrompt { name, arguments } => {
            let mut params = GetPromptRequestParams::new(name);
            params.arguments = Some(arguments);
            params.input_responses = input_responses;
            params.request_state = request_state;
            ClientRequest::GetPromptRequest(GetPromptRequest::new(params))
        }
        Operation::Complete { params } => ClientRequest::CompleteRequest(CompleteRequest::new(params)),
        Operation::Subscribe { uri } => {
            ClientRequest::SubscribeRequest(SubscribeRequest::new(SubscribeRequestParams::new(uri)))
        }
        Operation::Unsubscribe { uri } => {
            ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(UnsubscribeRequestParams::new(uri)))
        }
    };
    // A 2026-07-28 client's own capabilities and log level, not ours.
    let mut options = PeerRequestOptions::no_options();
    options.meta = caller.as_ref().and_then(|c| c.meta.clone());
    let peer: &Peer<RoleClient> = client.peer();
    // Registered before anything the server says about it is looked up.
    let registering = relay.registering().await;
    let handle = match peer.send_cancellable_request(request, options).await {
        Ok(handle) => handle,
        Err(e) => return Err(PeerFailure::Broken(e)),
    };
    let _in_flight = caller.as_ref().map(|c| relay.begin(c.clone(), handle.id.clone(), handle.progress_token.clone()));
    drop(registering);
    let cancelled = caller.as_ref().map(|c| c.cancel.clone()).unwrap_or_default();
    let (request_id, upstream) = (handle.id.clone(), handle.peer.clone());
    let answer = tokio::select! {
        answer = tokio::time::timeout(limit, handle.await_response()) => answer,
        () = cancelled.cancelled() => {
            // The client gave up: so does the server (best effort).
            let reason = Some("the client cancelled the request".to_string());
            let _ = upstream.notify_cancelled(rmcp::model::CancelledNotificationParam::new(Some(request_id), reason)).await;
            return Ok(ToolOutcome::ToolError(json!({ "code": -32800, "message": "request cancelled" })));
        }
    };
    // What the server said before its answer reaches the caller first.
    if caller.is_some() {
        relay.drained(Duration::from_secs(2)).await;
    }
    match answer {
        Ok(Ok(result)) => Ok(outcome_of(result)),
        Ok(Err(rmcp::ServiceError::McpError(e))) => Ok(ToolOutcome::ToolError(json_of(&e))),
        Ok(Err(e)) => Err(PeerFailure::Broken(e)),
        Err(_) => Err(PeerFailure::Timeout),
    }
}

/// A server's answer as an outcome: a tool result flagged `isError` is a
/// tool error; anything else is relayed as it is.
fn outcome_of(result: ServerResult) -> ToolOutcome {
    match result {
        ServerResult::CallToolResult(r) if r.is_error == Some(true) => ToolOutcome::ToolError(json_of(&r)),
        other => ToolOutcome::Ok(json_of(&other)),
    }
}

/// A callback request carrying the webhook secret, timestamp and signature.
pub async fn signed_request(
    state: &AppState,
    secret: &Secret,
    method: Method,
    url: &str,
    body: Option<Vec<u8>>,
) -> Result<crate::outbound::OutboundResponse, UpstreamError> {
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut headers = HeaderMap::new();
    let header =
        |v: &str| HeaderValue::from_str(v).map_err(|_| UpstreamError::Unavailable("invalid header value".into()));
    headers.insert(HeaderName::from_static(SECRET_HEADER), header(secret.expose())?);
    headers.insert(HeaderName::from_static(TIMESTAMP_HEADER), header(&timestamp.to_string())?);
    headers.insert(
        HeaderName::from_static(SIGNATURE_HEADER),
        header(&sign(secret.expose(), timestamp, body.as_deref().unwrap_or_default()))?,
    );
    if body.is_some() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    state.outbound.send(method, url, headers, body).await.map_err(|e| match e {
        OutboundError::Timeout(_) => UpstreamError::Timeout,
        OutboundError::TooLarge { limit } => UpstreamError::BadResponse(format!("larger than {limit} bytes")),
        other => UpstreamError::Unavailable(other.to_string()),
    })
}

/// Reads `{"success": bool, "result" | "error": ...}`.
fn parse_callback_answer(status: u16, body: &[u8]) -> Result<ToolOutcome, UpstreamError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| UpstreamError::BadResponse(format!("HTTP {status} with a body that is not JSON")))?;
    match value.get("success").and_then(Value::as_bool) {
        Some(true) => Ok(ToolOutcome::Ok(value.get("result").cloned().unwrap_or(Value::Null))),
        Some(false) => {
            Ok(ToolOutcome::ToolError(value.get("error").cloned().unwrap_or_else(|| json!("the tool failed"))))
        }
        None => Err(UpstreamError::BadResponse(format!("HTTP {status} without a boolean \"success\""))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_over_timestamp_and_body() {
        // Known answer from Python's hmac module: HMAC-SHA256("key", "1.{}").
        let sig = sign("key", 1, b"{}");
        assert_eq!(sig, "v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
        assert_ne!(sign("key", 2, b"{}"), sig);
        assert_ne!(sign("other", 1, b"{}"), sig);
    }

    #[test]
    fn callback_answers() {
        assert_eq!(
            parse_callback_answer(200, br#"{"success":true,"result":[1]}"#).unwrap(),
            ToolOutcome::Ok(json!([1]))
        );
        assert_eq!(
            parse_callback_answer(500, br#"{"success":false,"error":"boom"}"#).unwrap(),
            ToolOutcome::ToolError(json!("boom"))
        );
        assert!(parse_callback_answer(200, b"<html>").is_err());
        assert!(parse_callback_answer(200, br#"{"ok":true}"#).is_err());
    }
}

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

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use reqwest::{
    Method,
    header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue},
};
use rmcp::{
    ClientHandler, Peer, RoleClient,
    model::{
        CallToolRequestParams, ClientCapabilities, ClientConfig, GetPromptRequestParams, GetPromptResponse,
        Implementation, ReadResourceRequestParams, SubscriptionFilter,
    },
    service::NotificationContext,
};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::{outbound::OutboundError, secrets::Secret, state::AppState, supervisor::LaunchSpec};

pub const SECRET_HEADER: &str = "x-webhook-secret";
pub const TIMESTAMP_HEADER: &str = "x-omnimcp-timestamp";
pub const SIGNATURE_HEADER: &str = "x-omnimcp-signature";

/// What a caller asks of a server.
#[derive(Debug, Clone)]
pub enum Operation {
    CallTool { tool: String, arguments: Value },
    ReadResource { uri: String },
    GetPrompt { name: String, arguments: Map<String, Value> },
}

impl Operation {
    /// The MCP method, as the request log names it.
    pub fn request_type(&self) -> &'static str {
        match self {
            Operation::CallTool { .. } => "tools/call",
            Operation::ReadResource { .. } => "resources/read",
            Operation::GetPrompt { .. } => "prompts/get",
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
/// remote server). It answers the handshake as `omnimcp` and reports the
/// server's own `notifications/*/list_changed` (legacy era) so that the
/// registry re-lists it and users' clients hear of it.
#[derive(Clone)]
pub struct ChangeReporter {
    server_id: uuid::Uuid,
    changes: Option<ChangeSender>,
}

impl ChangeReporter {
    pub fn new(server_id: uuid::Uuid, changes: Option<ChangeSender>) -> Self {
        Self { server_id, changes }
    }

    fn report(&self) {
        if let Some(tx) = &self.changes {
            let _ = tx.send(self.server_id);
        }
    }
}

impl ClientHandler for ChangeReporter {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("omnimcp", env!("CARGO_PKG_VERSION")))
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
pub async fn run_on_peer(peer: &Peer<RoleClient>, op: Operation, limit: Duration) -> Result<ToolOutcome, PeerFailure> {
    let answer = async {
        match op {
            Operation::CallTool { tool, arguments } => {
                let args = match arguments {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                peer.call_tool(CallToolRequestParams::new(tool).with_arguments(args)).await.map(|r| {
                    let is_error = r.is_error == Some(true);
                    let value = json_of(&r);
                    if is_error { ToolOutcome::ToolError(value) } else { ToolOutcome::Ok(value) }
                })
            }
            Operation::ReadResource { uri } => {
                peer.read_resource(ReadResourceRequestParams::new(uri)).await.map(|r| ToolOutcome::Ok(json_of(&r)))
            }
            Operation::GetPrompt { name, arguments } => {
                let mut params = GetPromptRequestParams::new(name);
                params.arguments = Some(arguments);
                match peer.get_prompt_once(params).await {
                    Ok(GetPromptResponse::Complete(r)) => Ok(ToolOutcome::Ok(json_of(&r))),
                    Ok(_) => Err(rmcp::ServiceError::UnexpectedResponse),
                    Err(e) => Err(e),
                }
            }
        }
    };
    match tokio::time::timeout(limit, answer).await {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(rmcp::ServiceError::McpError(e))) => Ok(ToolOutcome::ToolError(json_of(&e))),
        Ok(Err(e)) => Err(PeerFailure::Broken(e)),
        Err(_) => Err(PeerFailure::Timeout),
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

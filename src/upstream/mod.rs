//! Upstreams: where a call finally goes, one file per hosting kind.
//!
//! - [`callback`]: a developer-hosted server, reached with signed HTTP
//!   callbacks through the SSRF guard;
//! - [`process`]: a platform-hosted server, a child process speaking MCP
//!   over stdio, run by the supervisor inside the [`sandbox`];
//! - [`remote`]: a remote MCP server over Streamable HTTP;
//! - [`builder`]: a builder server, tools defined as data and run here
//!   (HTTP requests through the SSRF guard, see `crate::builder`).
//!
//! The last two speak MCP through rmcp's client: [`peer`] is our client
//! side of such a connection (the one place an [`Operation`] becomes an MCP
//! request), and [`relay`] carries what the server says during a call back
//! to the right caller. [`context`] is the call context every call carries
//! down from its front door.
//!
//! [`Upstreams::execute`] is the single entry: one `match` on [`Hosting`].
//! This layer knows nothing of users' limits, names or scopes (the gateway
//! above decided those): it runs an operation for an installation and says
//! how it went. Nothing here imports from the gateway or the front doors.

pub mod bridge;
pub mod builder;
pub mod callback;
pub mod context;
pub mod peer;
pub mod process;
pub mod relay;
pub mod remote;
pub mod sandbox;
pub mod stderr;

use std::{collections::HashMap, sync::Arc};

use rmcp::{
    ErrorData,
    model::{CompleteRequestParams, ServerResult},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use context::{CallContext, CallLimits, ClientKey, ClientLink, Era, Relayed, RoundTrip};

use crate::{
    crypto::{Sealer, aad},
    db::{InstallationRecord, ServerRecord},
    outbound::Outbound,
};
use app::domain::HostingType;

/// How to start a platform-hosted server (`mcp_servers.launch_spec`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LaunchSpec {
    /// The program; `@self` means this `omnimcp` binary.
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variable name -> installation config field.
    #[serde(default)]
    pub env_from_config: HashMap<String, String>,
    /// Declared by an administrator: the server keeps no state between
    /// calls and may serve several users from one process (installations
    /// with equal configs then share it). Otherwise every installation gets
    /// a process, a home and a working directory of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shareable: bool,
    /// The OAuth provider whose connection supplies the config fields in
    /// `env_from_config` (an official server whose provider the operator
    /// configured: `github`, `slack`, `notion`). An installation without
    /// them is not started: the caller is told where to connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<String>,
}

/// What each hosting kind needs to reach a server, parsed once when the
/// registry loads the server's row. Secrets stay sealed until a call opens
/// them.
#[derive(Debug, Clone)]
pub enum Hosting {
    Callback {
        /// The developer's base URL (checked by the SSRF guard at deploy,
        /// and again by the guarded resolver on every request).
        url: String,
        /// The webhook secret, sealed to the server's row.
        sealed_secret: Vec<u8>,
    },
    Process(LaunchSpec),
    Remote {
        url: String,
        /// Static headers for the server, sealed (not used yet: none can be
        /// deployed, and no caller's credential is ever forwarded).
        sealed_headers: Option<Vec<u8>>,
        /// Each user signs in to the server with OAuth: calls carry the
        /// installation's own access token (`oauth::remote`).
        oauth: bool,
    },
    Builder {
        /// The published definition, checked and parsed once.
        tools: Arc<crate::builder::Compiled>,
        /// The publisher's secrets, sealed to the server.
        sealed_secrets: Option<Vec<u8>>,
    },
}

impl Hosting {
    /// The kind with what it needs, from a server's row; an error names
    /// what the row lacks.
    pub fn of(record: &ServerRecord) -> Result<Self, String> {
        let missing = |what: &str| format!("server {} ({}) has no {what}", record.id, record.hosting_type);
        Ok(match record.hosting_type {
            HostingType::DeveloperHosted => Hosting::Callback {
                url: record.callback_url.clone().ok_or_else(|| missing("callback URL"))?,
                sealed_secret: record.webhook_secret_enc.clone().ok_or_else(|| missing("webhook secret"))?,
            },
            HostingType::PlatformHosted => {
                let spec = record.launch_spec.as_ref().ok_or_else(|| missing("launch spec"))?;
                Hosting::Process(
                    serde_json::from_value(spec.0.clone()).map_err(|e| format!("{}: launch spec: {e}", record.id))?,
                )
            }
            HostingType::RemoteMcp => Hosting::Remote {
                url: record.remote_url.clone().ok_or_else(|| missing("URL"))?,
                sealed_headers: record.remote_headers_enc.clone(),
                oauth: record.remote_auth.as_deref() == Some("oauth"),
            },
            HostingType::Builder => {
                let definition = record.builder_definition.as_ref().ok_or_else(|| missing("definition"))?;
                let compiled = crate::builder::Definition::from_json(&definition.0)
                    .and_then(|d| d.compile())
                    .map_err(|e| format!("{}: definition: {}: {}", record.id, e.field, e.message))?;
                Hosting::Builder { tools: Arc::new(compiled), sealed_secrets: record.builder_secrets_enc.clone() }
            }
        })
    }
}

/// What a caller asks of a server, in the server's own names.
#[derive(Debug, Clone)]
pub enum Operation {
    /// `arguments` is a JSON object (the doors make sure of it).
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
    /// `resources/subscribe` / `resources/unsubscribe` (handshake era).
    /// `public_uri` is the URI the client used, which updates are sent under.
    Subscribe {
        uri: String,
        public_uri: String,
    },
    Unsubscribe {
        uri: String,
    },
    /// `resources/directory/read` (SEP-2640): the children of a directory
    /// of one of the server's skills, a page at a time (the server's own
    /// cursor).
    ReadDirectory {
        uri: String,
        cursor: Option<String>,
    },
    /// A Tasks extension (SEP-2663) request about one of the server's own
    /// tasks, by the server's task id.
    Task(TaskOp),
}

/// What a client asks of a task.
#[derive(Debug, Clone)]
pub enum TaskOp {
    Get { task_id: String },
    Update { task_id: String, input_responses: rmcp::model::InputResponses },
    Cancel { task_id: String },
}

impl Operation {
    /// The MCP method, as the request log names it.
    pub fn method(&self) -> &'static str {
        match self {
            Operation::CallTool { .. } => "tools/call",
            Operation::ReadResource { .. } => "resources/read",
            Operation::GetPrompt { .. } => "prompts/get",
            Operation::Complete { .. } => "completion/complete",
            Operation::Subscribe { .. } => "resources/subscribe",
            Operation::Unsubscribe { .. } => "resources/unsubscribe",
            Operation::Task(TaskOp::Get { .. }) => "tasks/get",
            Operation::Task(TaskOp::Update { .. }) => "tasks/update",
            Operation::Task(TaskOp::Cancel { .. }) => "tasks/cancel",
            Operation::ReadDirectory { .. } => "resources/directory/read",
        }
    }

    /// The URI, in the server's words, of an operation on one.
    pub fn uri(&self) -> Option<&str> {
        match self {
            Operation::ReadResource { uri }
            | Operation::ReadDirectory { uri, .. }
            | Operation::Subscribe { uri, .. }
            | Operation::Unsubscribe { uri } => Some(uri),
            _ => None,
        }
    }

    /// The tool's or prompt's name, as the request log records it.
    pub fn item_name(&self) -> Option<&str> {
        match self {
            Operation::CallTool { tool, .. } => Some(tool),
            Operation::GetPrompt { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// The answer of a server that has only tools, resources and prompts (a
/// callback or a builder server) to what it cannot have: no suggestions
/// for a completion, and clear refusals for directories, subscriptions and
/// tasks. `None` for the operations it may serve.
pub(crate) fn beyond_the_basics(op: &Operation) -> Option<Result<Outcome, UpstreamError>> {
    use rmcp::model::{CompleteResult, CompletionInfo, ErrorCode};
    Some(match op {
        Operation::Complete { .. } => {
            Ok(Outcome::Mcp(ServerResult::CompleteResult(CompleteResult::new(CompletionInfo::default()))))
        }
        Operation::ReadDirectory { uri, .. } => {
            Err(UpstreamError::Rpc(ErrorData::invalid_params(format!("not a directory: {uri}"), None)))
        }
        Operation::Subscribe { .. } | Operation::Unsubscribe { .. } => Err(UpstreamError::Rpc(ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            "this server does not support resource subscriptions",
            None,
        ))),
        // Such a server never creates a task, so none can be named.
        Operation::Task(_) => Err(UpstreamError::Rpc(ErrorData::invalid_params("unknown task", None))),
        Operation::CallTool { .. } | Operation::ReadResource { .. } | Operation::GetPrompt { .. } => return None,
    })
}

/// How an operation that reached the server went, in the server's words.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// An MCP server's answer as rmcp parsed it: a tool result (`isError`
    /// included), resource contents, a prompt, a completion, an empty
    /// result, or (2026-07-28) an input-required result. Relayed as typed,
    /// never re-parsed.
    Mcp(ServerResult),
    /// A developer callback's answer.
    Callback(CallbackAnswer),
}

/// `{"success": true, "result": ...}` or `{"success": false, "error": ...}`.
#[derive(Debug, Clone, PartialEq)]
pub enum CallbackAnswer {
    Result(Value),
    /// The tool's own failure, whatever the shape of its `error`.
    Error(Value),
}

impl Outcome {
    /// Whether the tool ran and reported a failure (the request log's
    /// `tool_error`).
    pub fn is_tool_error(&self) -> bool {
        match self {
            Outcome::Mcp(ServerResult::CallToolResult(r)) => r.is_error == Some(true),
            Outcome::Mcp(_) => false,
            Outcome::Callback(answer) => matches!(answer, CallbackAnswer::Error(_)),
        }
    }
}

/// Why an operation got no answer from the server (or a refusal).
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the server did not answer in time")]
    Timeout,
    #[error("the server could not be reached: {0}")]
    Unavailable(String),
    #[error("the server sent an invalid response: {0}")]
    BadResponse(String),
    /// The server answered with a JSON-RPC error: relayed as it is.
    #[error("the server answered with an error: {}", .0.message)]
    Rpc(ErrorData),
    /// The caller cancelled; the server was told.
    #[error("the request was cancelled")]
    Cancelled,
    /// The server asked something of a caller that cannot answer it (a
    /// caller without an MCP client), or of nobody in particular.
    #[error("{0}")]
    NeedsClient(String),
    /// The server's process broke a sandbox limit and was stopped.
    #[error("{0}")]
    LimitExceeded(String),
    /// The installation's credentials come from an OAuth connection the
    /// user has not made (or whose refresh failed): `url` is where to make
    /// it.
    #[error("connect your {provider} account to use this server: open {url}, then try again")]
    ConnectionRequired { provider: String, url: String },
    /// The server refused the request's credentials (401, or 403 with
    /// `insufficient_scope`): its `WWW-Authenticate` header.
    #[error("the server asks for authorization")]
    AuthRequired(String),
}

impl UpstreamError {
    /// A short class for the request log.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Timeout => "upstream_timeout",
            Self::Unavailable(_) => "upstream_unavailable",
            Self::BadResponse(_) => "upstream_bad_response",
            Self::Rpc(_) => "upstream_error",
            Self::Cancelled => "cancelled",
            Self::NeedsClient(_) => "needs_client",
            Self::LimitExceeded(_) => "upstream_limit_exceeded",
            Self::ConnectionRequired { .. } => "connection_required",
            Self::AuthRequired(_) => "upstream_auth_required",
        }
    }
}

/// A server's own announcement that its lists changed, and which
/// connection said it: the installation's own (a process or a remote
/// session of one installation) or a shared process's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListChange {
    pub server: Uuid,
    /// The installation whose connection announced it; `None` for a shared
    /// process (stateless by declaration: its announcements are ignored).
    pub installation: Option<Uuid>,
    /// Not an announcement: the installation's own process stopped, so
    /// what it listed is gone with it.
    pub stopped: bool,
}

/// A log message an installation's own upstream connection sent outside
/// any call: for the installation's owner.
#[derive(Debug, Clone)]
#[allow(deprecated)] // logging is deprecated by SEP-2577; 2025-11-25 clients use it
pub struct Said {
    pub installation: Uuid,
    pub log: rmcp::model::LoggingMessageNotificationParam,
}

/// Most messages said outside calls waiting for delivery; past it they
/// are dropped (a server that talks faster than the platform delivers).
const MAX_SAID: usize = 1024;

/// Servers' own list changes waiting to be handled. A set, not a channel: a
/// change announced ten times is handled once, and the queue never holds
/// more than one entry per connection, however fast a server announces.
/// Beside them, what servers said outside calls ([`Said`]), bounded.
#[derive(Clone, Default)]
pub struct ChangeQueue {
    inner: Arc<(std::sync::Mutex<Vec<ListChange>>, tokio::sync::Notify)>,
    said: Arc<(std::sync::Mutex<std::collections::VecDeque<Said>>, tokio::sync::Notify)>,
}

impl ChangeQueue {
    /// Reports a change (a repeat of one already waiting is merged).
    pub fn push(&self, change: ListChange) {
        let mut waiting = self.inner.0.lock().expect("change queue lock");
        if !waiting.contains(&change) {
            waiting.push(change);
        }
        drop(waiting);
        self.inner.1.notify_one();
    }

    /// Queues a message said outside calls (dropped when the queue is full).
    pub fn say(&self, said: Said) {
        let mut waiting = self.said.0.lock().expect("said queue lock");
        if waiting.len() >= MAX_SAID {
            tracing::debug!("too many upstream messages waiting for delivery; dropped one");
            return;
        }
        waiting.push_back(said);
        drop(waiting);
        self.said.1.notify_one();
    }

    /// Waits for messages said outside calls, then takes every one waiting.
    pub async fn heard(&self) -> Vec<Said> {
        loop {
            let notified = self.said.1.notified();
            let taken: Vec<Said> = self.said.0.lock().expect("said queue lock").drain(..).collect();
            if !taken.is_empty() {
                return taken;
            }
            notified.await;
        }
    }

    /// Waits for changes, then takes every one waiting.
    pub async fn take(&self) -> Vec<ListChange> {
        loop {
            let notified = self.inner.1.notified();
            let taken = std::mem::take(&mut *self.inner.0.lock().expect("change queue lock"));
            if !taken.is_empty() {
                return taken;
            }
            notified.await;
        }
    }
}

/// Every upstream connection, and what they need: the SSRF-guarded HTTP
/// client, the sealer for secrets, the process supervisor, the remote
/// sessions.
pub struct Upstreams {
    pub outbound: Outbound,
    sealer: Arc<Sealer>,
    pub processes: Arc<process::Supervisor>,
    pub remote: remote::RemoteClients,
    /// How long calls to MCP servers may take, unless a server sets its
    /// own idle limit (never past `max`).
    calls: CallLimits,
    /// The platform's public URL: where a user is sent to connect an
    /// account ([`UpstreamError::ConnectionRequired`]).
    public_url: String,
}

impl Upstreams {
    pub fn new(
        outbound: Outbound,
        sealer: Arc<Sealer>,
        processes: Arc<process::Supervisor>,
        remote: remote::RemoteClients,
        calls: CallLimits,
        public_url: String,
    ) -> Self {
        Self { outbound, sealer, processes, remote, calls, public_url }
    }

    /// A server's call limits: its own idle limit, if it set one.
    fn limits_of(&self, server_timeout_secs: Option<i64>) -> CallLimits {
        match server_timeout_secs.and_then(|s| u64::try_from(s).ok()).filter(|s| *s > 0) {
            Some(secs) => CallLimits { idle: std::time::Duration::from_secs(secs).min(self.calls.max), ..self.calls },
            None => self.calls,
        }
    }

    /// Runs one operation on a server for one of its installations. The
    /// server's own answers, errors included, are its words; only a failure
    /// to get an answer is an [`UpstreamError`] of the gateway's.
    pub async fn execute(
        &self,
        server: &ServerRecord,
        hosting: &Hosting,
        installation: &InstallationRecord,
        op: Operation,
        ctx: &CallContext,
    ) -> Result<Outcome, UpstreamError> {
        let (server_id, limits) = (server.id, self.limits_of(server.call_timeout_secs));
        match hosting {
            Hosting::Callback { url, sealed_secret } => {
                let secret = self.open_webhook_secret(server_id, sealed_secret)?;
                callback::execute(&self.outbound, url, &secret, op).await
            }
            Hosting::Process(spec) => {
                if let Some(provider) = &spec.connect {
                    let config = self.open_config(installation)?;
                    let connected = spec
                        .env_from_config
                        .values()
                        .all(|field| config.get(field).is_some_and(|v| !v.is_null() && v.as_str() != Some("")));
                    if !connected {
                        let url =
                            format!("{}/connect/{provider}/start?installation={}", self.public_url, installation.id);
                        return Err(UpstreamError::ConnectionRequired { provider: provider.clone(), url });
                    }
                }
                let config = || self.open_config(installation);
                self.processes.execute(server_id, installation.id, spec, config, op, ctx, limits).await
            }
            Hosting::Builder { tools, sealed_secrets } => {
                let secrets = crate::builder::open_secrets(&self.sealer, server_id, sealed_secrets.as_deref())
                    .map_err(|_| {
                        tracing::error!(%server_id, "a builder server's secrets do not open");
                        UpstreamError::Unavailable(
                            "the server's secrets cannot be read; its publisher must set them again".into(),
                        )
                    })?;
                let config = self.open_config(installation)?;
                builder::execute(&self.outbound, tools, &secrets, &config, op, limits).await
            }
            Hosting::Remote { url, oauth: false, .. } => {
                self.remote.execute(&self.outbound, server_id, installation.id, url, None, op, ctx, limits).await
            }
            Hosting::Remote { url, oauth: true, .. } => {
                let connect = |scope: Option<String>| {
                    let mut url = format!("{}/connect/mcp/start?installation={}", self.public_url, installation.id);
                    if let Some(scope) = scope {
                        url.push_str("&scope=");
                        url.extend(url::form_urlencoded::byte_serialize(scope.as_bytes()));
                    }
                    UpstreamError::ConnectionRequired { provider: server.name.clone(), url }
                };
                let token = self.access_token(installation).ok_or_else(|| connect(None))?;
                let answer =
                    self.remote.execute(&self.outbound, server_id, installation.id, url, Some(&token), op, ctx, limits);
                match answer.await {
                    // Expired or revoked: the user signs in again. Too
                    // narrow (403 `insufficient_scope`): again, asking for
                    // the scope the server named as well (step-up).
                    Err(UpstreamError::AuthRequired(header)) => {
                        let challenge = crate::oauth::upstream::parse_challenge(&header).unwrap_or_default();
                        let step_up = challenge.error.as_deref() == Some("insufficient_scope");
                        Err(connect(challenge.scope.filter(|_| step_up)))
                    }
                    other => other,
                }
            }
        }
    }

    /// The id a client knows a server's task by: the installation whose
    /// call created it, and the server's own id sealed to that installation.
    /// Only ids the gateway gave out open (a server's own ids may be
    /// guessable, and its tasks shared between sessions): a caller can
    /// name no task but the ones its own calls created.
    pub fn task_id(&self, installation: Uuid, server_task_id: &str) -> String {
        use base64::Engine;
        let sealed = self.sealer.seal(server_task_id.as_bytes(), &aad::task_id(installation));
        format!("{installation}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The installation and the server's id of a task id from
    /// [`Upstreams::task_id`]; `None` for anything else.
    pub fn open_task_id(&self, public: &str) -> Option<(Uuid, String)> {
        use base64::Engine;
        let (installation, sealed) = public.split_once('.')?;
        let installation = Uuid::parse_str(installation).ok()?;
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let id = self.sealer.open(&sealed, &aad::task_id(installation)).ok()?;
        Some((installation, String::from_utf8(id).ok()?))
    }

    /// A developer server's webhook secret, opened for one request.
    pub fn open_webhook_secret(&self, server_id: Uuid, sealed: &[u8]) -> Result<crate::secrets::Secret, UpstreamError> {
        let bytes = self.sealer.open(sealed, &aad::webhook_secret(server_id)).map_err(|e| {
            tracing::error!(%server_id, error = %e, "a webhook secret does not open");
            UpstreamError::Unavailable(
                "the server's webhook secret cannot be read; its developer must rotate it".into(),
            )
        })?;
        String::from_utf8(bytes)
            .map(crate::secrets::Secret::new)
            .map_err(|_| UpstreamError::Unavailable("the server's webhook secret is not text".into()))
    }

    /// The access token of an installation's OAuth connection to a remote
    /// server, opened for one call; `None` when it has none (or it does
    /// not open, which asks the user to connect again).
    pub fn access_token(&self, installation: &InstallationRecord) -> Option<crate::secrets::Secret> {
        let sealed = installation.access_token_enc.as_deref()?;
        let bytes = self.sealer.open(sealed, &aad::connection_access(installation.id)).ok()?;
        String::from_utf8(bytes).ok().map(crate::secrets::Secret::new)
    }

    /// An installation's configuration, opened for one call (a platform-
    /// hosted server's child gets it through its environment).
    fn open_config(&self, installation: &InstallationRecord) -> Result<Map<String, Value>, UpstreamError> {
        self.sealer.open_config(installation.config_enc.as_deref(), installation.id).map_err(|e| {
            tracing::error!(installation_id = %installation.id, error = %e, "an installation's config does not open");
            UpstreamError::Unavailable("your configuration of this server cannot be read; save it again".into())
        })
    }

    /// Ends everything an installation holds open: its processes (a shared
    /// process stays, without the installation's subscriptions) and its
    /// remote sessions, with their resource subscriptions. For uninstall,
    /// disable and a changed configuration.
    pub async fn close_installation(&self, installation: Uuid) {
        self.processes.close_installation(installation).await;
        self.remote.close_installation(installation).await;
    }

    /// Ends the resource subscriptions made with a credential (a revoked
    /// API key, an ended login session).
    pub async fn end_subscriptions_of(&self, method: crate::identity::AuthMethod) {
        for relay in self.processes.relays().await.into_iter().chain(self.remote.relays().await) {
            relay.end_subscriptions(|s| s.method == method);
        }
    }

    /// Ends the resource subscriptions of a client connection that ended
    /// (a deleted legacy session, a closed listen stream), whatever became
    /// of its polite unsubscribing (which the rate limit may refuse).
    pub async fn end_client_subscriptions(&self, user: Uuid, client: &ClientKey) {
        for relay in self.processes.relays().await.into_iter().chain(self.remote.relays().await) {
            relay.end_subscriptions(|s| s.user == user && s.link.key().as_ref() == Some(client));
        }
    }

    /// Forgets a server's connections (after a redeploy changed it).
    pub async fn forget_server(&self, server_id: Uuid) {
        self.remote.forget_server(server_id).await;
    }
}

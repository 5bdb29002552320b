//! The MCP endpoint `/mcp`: what an LLM client sees. One Streamable HTTP
//! endpoint (rmcp's server, both protocol eras) per platform; each request
//! is authenticated here and served for its own user.
//!
//! Tools are aggregated from the user's enabled installations under the
//! name `{slug}.{tool}`: `.` never occurs in a slug or a tool name, so the
//! split is unambiguous, and both halves are within MCP's tool-name rules.
//! A name that would pass 64 characters is cut and given a short hash of
//! the full name, so it stays unique and stable. The lists come from the
//! registry (no upstream round trip), so a slow or broken upstream never
//! breaks a list. Calls go through the same pipeline as `POST /mcp/call`
//! ([`gateway::call_tool`](crate::gateway::call_tool)).

// Sampling, roots, logging and resources/subscribe are deprecated by
// SEP-2577 (2026-07-28) but are how clients of the 2025-11-25 era work:
// the gateway carries them for those clients.
#![allow(deprecated)]

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult, ContentBlock,
        ErrorCode, GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams, Prompt,
        PromptArgument, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
        Reference, Resource, ResourceContents, ResourceTemplate, ResultType, ServerCapabilities, ServerConfig,
        SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, Tool, UnsubscribeRequestParams,
    },
    service::{NotificationContext, RequestContext, SubscriptionContext},
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::{
    auth::{self, Principal},
    error::ApiError,
    relay::{Caller, with_caller},
    state::AppState,
    upstream::{Operation, ToolOutcome},
};

/// Separates a server's slug from its tool's name.
pub const SEPARATOR: char = '.';
/// MCP's limit on tool names.
const MAX_NAME: usize = 64;

/// The rmcp service mounted at `/mcp`.
pub fn service(state: AppState) -> StreamableHttpService<GatewayHandler, LocalSessionManager> {
    let bound = state.leptos.site_addr;
    // Session-less (2026-07-28) answers that are one message go back as
    // plain JSON rather than a one-event SSE stream: fewer writes per call
    // (the benchmark's profile put hyper's per-event writes first). rmcp
    // falls back to SSE whenever a handler sends anything before its result,
    // so no notification is lost.
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_origins(state.config.allowed_origins(bound))
        .enforce_origin_validation()
        .with_json_response(true);
    config.allowed_hosts = state.config.allowed_hosts(bound);
    let handler = GatewayHandler { state };
    StreamableHttpService::new(move || Ok(handler.clone()), Arc::new(LocalSessionManager::default()), config)
}

/// Largest JSON-RPC message accepted.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// A JSON-RPC error response outside any request (parse errors, limits).
fn jsonrpc_error(status: http::StatusCode, code: i32, message: String) -> Response {
    (status, axum::Json(json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}})))
        .into_response()
}

/// Middleware in front of `/mcp`: the caller must present an API key or a
/// session token, and a POST body must be JSON within the size limit (a
/// JSON-RPC parse error otherwise, not a transport's plain-text complaint).
/// The principal travels to the handler in the request's extensions.
pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // DNS rebinding is refused before anything else, credentials or not.
    let bound = state.leptos.site_addr;
    if let Some(refusal) =
        rebinding_refusal(request.headers(), &state.config.allowed_hosts(bound), &state.config.allowed_origins(bound))
    {
        return jsonrpc_error(http::StatusCode::FORBIDDEN, -32600, refusal);
    }
    match auth::authenticate(&state, request.headers()).await {
        Ok(Some(principal)) => {
            let (mut parts, body) = request.into_parts();
            parts.extensions.insert(principal);
            if parts.method != http::Method::POST {
                return next.run(Request::from_parts(parts, body)).await;
            }
            let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
                Ok(b) => b,
                Err(_) => {
                    return jsonrpc_error(
                        http::StatusCode::PAYLOAD_TOO_LARGE,
                        -32600,
                        format!("the message is larger than {MAX_BODY} bytes"),
                    );
                }
            };
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                return jsonrpc_error(http::StatusCode::BAD_REQUEST, -32700, format!("parse error: {e}"));
            }
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
        }
        Ok(None) => {
            ApiError::Unauthorized("send an API key as `Authorization: Bearer omni_...`".into()).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Why a request's `Host` or `Origin` is refused (DNS rebinding), if it is.
/// Hosts are compared without their port; an allowed origin ending in `:*`
/// allows any port.
fn rebinding_refusal(headers: &http::HeaderMap, hosts: &[String], origins: &[String]) -> Option<String> {
    if let Some(host) = headers.get(http::header::HOST) {
        let host = host.to_str().unwrap_or_default().to_ascii_lowercase();
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().map(|h| format!("[{h}]")).unwrap_or_default(),
            None => host.split(':').next().unwrap_or_default().to_string(),
        };
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(&name)) {
            return Some(format!("the Host header {host:?} is not allowed (see --allowed-host)"));
        }
    }
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default().to_ascii_lowercase();
        let allowed = origins.iter().any(|o| match o.strip_suffix(":*") {
            Some(base) => {
                origin == base.to_ascii_lowercase()
                    || origin
                        .strip_prefix(&format!("{}:", base.to_ascii_lowercase()))
                        .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
            }
            None => origin == o.trim_end_matches('/').to_ascii_lowercase(),
        });
        if !allowed {
            return Some(format!("the Origin {origin:?} is not allowed (see --allowed-origin)"));
        }
    }
    None
}

#[derive(Clone)]
pub struct GatewayHandler {
    state: AppState,
}

/// The public name of a server's tool.
pub fn public_name(slug: &str, tool: &str) -> String {
    let full = format!("{slug}{SEPARATOR}{tool}");
    if full.len() <= MAX_NAME {
        return full;
    }
    let hash: String = Sha256::digest(full.as_bytes())[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hash}", &full[..MAX_NAME - 9])
}

/// Bytes kept as they are in the encoded part of a public URI; the rest
/// (including `/`, `:`, `?`, `&`, `%` and braces) is percent-encoded.
const URI_KEEP: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, URI_KEEP).to_string()
}

/// A resource's public URI: `omnimcp://{slug}/{original URI, percent-encoded}`.
/// Reversible, and a valid URI whatever the original looks like.
pub fn public_uri(slug: &str, uri: &str) -> String {
    format!("omnimcp://{slug}/{}", encode(uri))
}

/// A resource template's public form: the literal text encoded as in
/// [`public_uri`], the `{expressions}` left for the client to expand. The
/// expansion then decodes (in [`parse_public_uri`]) to the URI the server's
/// own template would have produced; values the client percent-encodes
/// arrive decoded once, which is what the server would have seen had the
/// client expanded its template directly and the server decoded it.
pub fn public_uri_template(slug: &str, template: &str) -> String {
    let mut out = format!("omnimcp://{slug}/");
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push_str(&encode(&rest[..open]));
        out.push_str(&rest[open..open + close + 1]);
        rest = &rest[open + close + 1..];
    }
    out.push_str(&encode(rest));
    out
}

/// `(slug, original URI)` from a public URI.
pub fn parse_public_uri(public: &str) -> Option<(String, String)> {
    let rest = public.strip_prefix("omnimcp://")?;
    let (slug, encoded) = rest.split_once('/')?;
    let uri = percent_encoding::percent_decode_str(encoded).decode_utf8().ok()?.into_owned();
    Some((slug.to_string(), uri))
}

/// How many items one page of a list holds.
pub const PAGE_SIZE: usize = 100;

/// One page of a sorted list. The cursor is the (encoded) key of the last
/// item of the previous page, so pages stay consistent when items come and
/// go between requests: nothing is skipped or repeated that did not change.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> &str,
    request: Option<PaginatedRequestParams>,
) -> Result<(Vec<T>, Option<String>), ErrorData> {
    let after = match request.and_then(|r| r.cursor) {
        None => None,
        Some(cursor) => Some(
            URL_SAFE_NO_PAD
                .decode(&cursor)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ErrorData::invalid_params(format!("invalid cursor: {cursor}"), None))?,
        ),
    };
    let mut rest: Vec<T> = match &after {
        Some(after) => items.into_iter().filter(|i| key(i) > after.as_str()).collect(),
        None => items,
    };
    if rest.len() <= PAGE_SIZE {
        return Ok((rest, None));
    }
    rest.truncate(PAGE_SIZE);
    let next = rest.last().map(|last| URL_SAFE_NO_PAD.encode(key(last)));
    Ok((rest, next))
}

fn principal(context: &RequestContext<RoleServer>) -> Result<Principal, ErrorData> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>())
        .cloned()
        .ok_or_else(|| ErrorData::new(ErrorCode::INTERNAL_ERROR, "request is not authenticated", None))
}

/// The caller of an MCP request, for the relay (see [`crate::relay`]).
fn caller(principal: &Principal, context: &RequestContext<RoleServer>) -> Caller {
    let session = context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.headers.get("mcp-session-id"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let modern = context.meta.protocol_version().is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
    let meta = modern.then(|| {
        let mut forwarded = rmcp::model::RequestMetaObject::default();
        if let Some(caps) = context.meta.client_capabilities() {
            forwarded.set_client_capabilities(caps);
        }
        if let Some(level) = context.meta.log_level() {
            forwarded.set_log_level(level);
        }
        forwarded
    });
    Caller {
        user: principal.user.id,
        peer: context.peer.clone(),
        request_id: context.id.clone(),
        session,
        cancel: context.ct.clone(),
        progress_token: context.meta.get_progress_token(),
        modern,
        meta,
        input_responses: None,
        request_state: None,
        public_uri: None,
    }
}

/// How a caller sees names: `slug.name` and `omnimcp://slug/...` URIs
/// (the default), or, for an API key scoped to one installation with
/// `"unprefixed": true`, the server's own names and URIs unchanged.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Naming {
    Prefixed,
    Bare,
}

impl Naming {
    fn of(principal: &Principal, servers: &[Arc<crate::registry::ServerEntry>]) -> Self {
        let bare = principal.scope.as_ref().is_some_and(|s| s.unprefixed);
        if bare && servers.len() <= 1 { Naming::Bare } else { Naming::Prefixed }
    }

    /// A tool's or a prompt's name.
    fn name(self, slug: &str, name: &str) -> String {
        match self {
            Naming::Prefixed => public_name(slug, name),
            Naming::Bare => name.to_string(),
        }
    }

    /// A resource's display name.
    fn resource_name(self, slug: &str, name: &str) -> String {
        match self {
            Naming::Prefixed => format!("{slug}{SEPARATOR}{name}"),
            Naming::Bare => name.to_string(),
        }
    }

    fn uri(self, slug: &str, uri: &str) -> String {
        match self {
            Naming::Prefixed => public_uri(slug, uri),
            Naming::Bare => uri.to_string(),
        }
    }

    fn template(self, slug: &str, template: &str) -> String {
        match self {
            Naming::Prefixed => public_uri_template(slug, template),
            Naming::Bare => template.to_string(),
        }
    }

    /// `(slug, the server's URI)` from the URI the client sent.
    fn parse_uri(self, servers: &[Arc<crate::registry::ServerEntry>], uri: &str) -> Option<(String, String)> {
        match self {
            Naming::Prefixed => parse_public_uri(uri),
            Naming::Bare => servers.first().map(|s| (s.record.slug.clone(), uri.to_string())),
        }
    }
}

impl GatewayHandler {
    /// The servers of the user's enabled installations.
    async fn servers(&self, principal: &Principal) -> Result<Vec<Arc<crate::registry::ServerEntry>>, ErrorData> {
        let internal = |e: ApiError| {
            tracing::error!(error = %e, "could not list a user's servers");
            ErrorData::new(ErrorCode::INTERNAL_ERROR, "could not list servers", None)
        };
        let installations = crate::installations::of_user(&self.state, principal.user.id).await.map_err(internal)?;
        let mut out = Vec::new();
        for inst in installations.iter().filter(|i| i.enabled && principal.may_use_installation(i.id)) {
            if let Some(entry) = self.state.registry.server(inst.server_id).await.map_err(internal)? {
                if entry.record.status == "active" {
                    out.push(entry);
                }
            }
        }
        Ok(out)
    }

    /// `resources/subscribe` and `resources/unsubscribe` (legacy era): the
    /// upstream is asked once per resource; its updates reach every
    /// subscribed client under the URI that client used.
    async fn subscription(
        &self,
        public: String,
        subscribe: bool,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let principal = principal(&context)?;
        let message = format!("unknown resource: {public}");
        let not_found = || ErrorData::resource_not_found(message.clone(), None);
        let servers = self.servers(&principal).await?;
        let (slug, uri) = Naming::of(&principal, &servers).parse_uri(&servers, &public).ok_or_else(not_found)?;
        let mut caller = caller(&principal, &context);
        caller.public_uri = Some(public);
        let op = if subscribe { Operation::Subscribe { uri } } else { Operation::Unsubscribe { uri } };
        match with_caller(caller, crate::gateway::execute(&self.state, &principal, &slug, op)).await {
            Ok((ToolOutcome::Ok(_), _)) => Ok(()),
            Ok((ToolOutcome::ToolError(e), _)) => Err(upstream_error(&e)),
            Err(ApiError::NotFound(_)) => Err(not_found()),
            Err(e) => Err(to_error(e)),
        }
    }

    /// The user's tools across enabled installations, in a stable order.
    async fn tools(&self, principal: &Principal) -> Result<Vec<Tool>, ErrorData> {
        let mut out = Vec::new();
        let servers = self.servers(principal).await?;
        let naming = Naming::of(principal, &servers);
        for entry in servers {
            for t in &entry.tools {
                if !principal.may_use_tool(&public_name(&entry.record.slug, &t.name)) {
                    continue;
                }
                let schema: Map<String, Value> = t.parameters.0.as_object().cloned().unwrap_or_default();
                let name = naming.name(&entry.record.slug, &t.name);
                let mut definition = Tool::new(name, t.description.clone(), Arc::new(schema));
                if let Some(out_schema) = t.output_schema.as_ref().and_then(|o| o.0.as_object()) {
                    definition.output_schema = Some(Arc::new(out_schema.clone()));
                }
                out.push(definition);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

/// An answer from the pipeline as an MCP tool result: MCP upstreams'
/// results pass through as they are; callback results become text (and
/// structured content when they are objects).
fn to_result(outcome: ToolOutcome) -> CallToolResult {
    let (value, is_error) = match outcome {
        ToolOutcome::Ok(v) => (v, false),
        ToolOutcome::ToolError(v) => (v, true),
    };
    if value.get("content").is_some_and(Value::is_array) {
        if let Ok(mut result) = serde_json::from_value::<CallToolResult>(value.clone()) {
            // Upstreams of the handshake era send no `resultType`; 2026-07-28
            // clients require it.
            result.result_type = Some(ResultType::COMPLETE);
            return result;
        }
    }
    let text = match &value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut result = if is_error {
        CallToolResult::error(vec![ContentBlock::text(text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(text)])
    };
    if value.is_object() && !is_error {
        result.structured_content = Some(value);
    }
    result
}

/// Whether an upstream's answer is a 2026-07-28 input-required result (the
/// server needs the client's input, then the same request again).
fn input_required(v: &Value) -> bool {
    v.get("resultType").and_then(Value::as_str) == Some("input_required")
}

/// An input-required result, relayed unchanged: its requests are the
/// client's to answer, its state is the server's own.
fn parse_input_required(v: Value) -> Result<rmcp::model::InputRequiredResult, ErrorData> {
    serde_json::from_value(v).map_err(|e| {
        ErrorData::new(
            ErrorCode(-32002),
            format!("the server answered with an invalid input-required result: {e}"),
            None,
        )
    })
}

/// Whether a server's error is a JSON-RPC error object (a code in the range
/// JSON-RPC reserves, and a message) rather than a tool's own error value.
fn jsonrpc_error_object(v: &Value) -> bool {
    let code = v.get("code").and_then(Value::as_i64);
    code.is_some_and(|c| (-32768..=-32000).contains(&c)) && v.get("message").is_some_and(Value::is_string)
}

/// An upstream server's own error answer, relayed: an MCP error keeps its
/// code, message and data; anything else becomes a server error (-32002)
/// with a readable message.
fn upstream_error(v: &Value) -> ErrorData {
    if let Ok(e) = serde_json::from_value::<ErrorData>(v.clone()) {
        return e;
    }
    ErrorData::new(ErrorCode(-32002), format!("the server could not do it: {}", error_text(v)), None)
}

/// A readable message from an upstream's error value.
fn error_text(v: &Value) -> String {
    v.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Pipeline errors as JSON-RPC errors. Limits say when to retry.
fn to_error(e: ApiError) -> ErrorData {
    match e {
        ApiError::TooManyRequests { message, retry_after_secs } => {
            ErrorData::new(ErrorCode(-32029), message, Some(json!({ "retryAfterSeconds": retry_after_secs })))
        }
        ApiError::InvalidField { field, message } => {
            ErrorData::invalid_params(format!("{field}: {message}"), Some(json!({ "field": field })))
        }
        ApiError::NotFound(message) => ErrorData::invalid_params(message, None),
        ApiError::Forbidden(message) => ErrorData::new(ErrorCode(-32003), message, None),
        ApiError::BadGateway(message) | ApiError::GatewayTimeout(message) => {
            ErrorData::new(ErrorCode(-32002), format!("upstream server error: {message}"), None)
        }
        other => {
            if let ApiError::Internal(err) = &other {
                tracing::error!(error = format!("{err:#}"), "internal error in an MCP request");
            }
            ErrorData::new(ErrorCode::INTERNAL_ERROR, other.public_message(), None)
        }
    }
}

impl ServerHandler for GatewayHandler {
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
                .build(),
        )
        .with_server_info(Implementation::new("omnimcp", env!("CARGO_PKG_VERSION")))
        .with_instructions("Every tool of every MCP server you installed on OmniMCP, named `server.tool`.")
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let principal = principal(&context)?;
        let tools = self.tools(&principal).await?;
        let (tools, next) = page(tools, |t: &Tool| t.name.as_ref(), request)?;
        let mut result = ListToolsResult::with_all_items(tools);
        result.next_cursor = next;
        Ok(result)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let principal = context.extensions.get::<http::request::Parts>().and_then(|p| p.extensions.get::<Principal>());
        if let Some(principal) = principal {
            self.state.notifier.register(principal.user.id, context.peer.clone());
        }
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let principal = principal(&context)?;
        let mut resources = Vec::new();
        let servers = self.servers(&principal).await?;
        let naming = Naming::of(&principal, &servers);
        for entry in servers {
            for r in entry.resources.iter().filter(|r| !r.template) {
                let slug = &entry.record.slug;
                let mut resource = Resource::new(naming.uri(slug, &r.uri), naming.resource_name(slug, &r.name));
                if !r.description.is_empty() {
                    resource = resource.with_description(r.description.clone());
                }
                resource.mime_type = r.mime_type.clone();
                resources.push(resource);
            }
        }
        resources.sort_by(|a, b| a.uri.cmp(&b.uri));
        let (resources, next) = page(resources, |r: &Resource| r.uri.as_str(), request)?;
        let mut result = ListResourcesResult::with_all_items(resources);
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let principal = principal(&context)?;
        let mut templates = Vec::new();
        let servers = self.servers(&principal).await?;
        let naming = Naming::of(&principal, &servers);
        for entry in servers {
            for r in entry.resources.iter().filter(|r| r.template) {
                let slug = &entry.record.slug;
                let mut template =
                    ResourceTemplate::new(naming.template(slug, &r.uri), naming.resource_name(slug, &r.name));
                if !r.description.is_empty() {
                    template = template.with_description(r.description.clone());
                }
                template.mime_type = r.mime_type.clone();
                templates.push(template);
            }
        }
        templates.sort_by(|a, b| a.uri_template.cmp(&b.uri_template));
        let (templates, next) = page(templates, |t: &ResourceTemplate| t.uri_template.as_str(), request)?;
        let mut result = ListResourceTemplatesResult::with_all_items(templates);
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let principal = principal(&context)?;
        let mut prompts = Vec::new();
        let servers = self.servers(&principal).await?;
        let naming = Naming::of(&principal, &servers);
        for entry in servers {
            for p in &entry.prompts {
                if !principal.may_use_tool(&public_name(&entry.record.slug, &p.name)) {
                    continue;
                }
                let public = naming.name(&entry.record.slug, &p.name);
                let arguments: Vec<PromptArgument> = p
                    .arguments
                    .0
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| {
                        let mut arg = PromptArgument::new(a.get("name")?.as_str()?);
                        arg.description =
                            a.get("description").and_then(Value::as_str).filter(|d| !d.is_empty()).map(Into::into);
                        arg.required = a.get("required").and_then(Value::as_bool);
                        Some(arg)
                    })
                    .collect();
                let description = (!p.description.is_empty()).then(|| p.description.clone());
                prompts.push(Prompt::new(public, description, Some(arguments)));
            }
        }
        prompts.sort_by(|a, b| a.name.cmp(&b.name));
        let (prompts, next) = page(prompts, |p: &Prompt| p.name.as_str(), request)?;
        let mut result = ListPromptsResult::with_all_items(prompts);
        result.next_cursor = next;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let principal = principal(&context)?;
        let unknown = || ErrorData::invalid_params(format!("unknown prompt: {}", request.name), None);
        let mut target = None;
        let servers = self.servers(&principal).await?;
        let naming = Naming::of(&principal, &servers);
        for entry in &servers {
            let slug = &entry.record.slug;
            if let Some(p) = entry.prompts.iter().find(|p| naming.name(slug, &p.name) == request.name) {
                target = Some((entry.record.id, p.name.clone(), public_name(slug, &p.name)));
                break;
            }
        }
        let (server_id, name, _) =
            target.filter(|(_, _, public)| principal.may_use_tool(public)).ok_or_else(unknown)?;
        let arguments = request.arguments.clone().unwrap_or_default();
        let server = server_id.to_string();
        let mut caller = caller(&principal, &context);
        caller.input_responses = request.input_responses.clone();
        caller.request_state = request.request_state.clone();
        let run = crate::gateway::get_prompt(&self.state, &principal, &server, &name, arguments);
        let outcome = match with_caller(caller, run).await {
            Ok((outcome, _)) => outcome,
            Err(ApiError::NotFound(_)) => return Err(unknown()),
            Err(e) => return Err(to_error(e)),
        };
        match outcome {
            ToolOutcome::Ok(value) if input_required(&value) => {
                Ok(GetPromptResponse::InputRequired(parse_input_required(value)?))
            }
            ToolOutcome::Ok(value) => {
                let mut result: GetPromptResult = serde_json::from_value(value).map_err(|e| {
                    ErrorData::new(ErrorCode(-32002), format!("the server answered with an invalid prompt: {e}"), None)
                })?;
                result.result_type = Some(ResultType::COMPLETE);
                Ok(GetPromptResponse::Complete(result))
            }
            ToolOutcome::ToolError(e) => Err(upstream_error(&e)),
        }
    }

    async fn complete(
        &self,
        mut request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let principal = principal(&context)?;
        let servers = self.servers(&principal).await?;
        let naming = Naming::of(&principal, &servers);
        let unknown =
            || ErrorData::invalid_params("the reference names no prompt or resource template you installed", None);
        // The reference, in the server's own names.
        let server_id = match &mut request.r#ref {
            Reference::Prompt(p) => {
                let (id, name) = servers
                    .iter()
                    .find_map(|e| {
                        let found = e.prompts.iter().find(|q| naming.name(&e.record.slug, &q.name) == p.name)?;
                        Some((e.record.id, found.name.clone()))
                    })
                    .ok_or_else(unknown)?;
                p.name = name;
                id
            }
            Reference::Resource(r) => {
                let (slug, uri) = naming.parse_uri(&servers, &r.uri).ok_or_else(unknown)?;
                let entry = servers.iter().find(|e| e.record.slug == slug).ok_or_else(unknown)?;
                r.uri = uri;
                entry.record.id
            }
            _ => return Err(unknown()),
        };
        let op = Operation::Complete { params: request };
        let server = server_id.to_string();
        let run = crate::gateway::execute(&self.state, &principal, &server, op);
        match with_caller(caller(&principal, &context), run).await {
            Ok((ToolOutcome::Ok(v), _)) => {
                let mut result: CompleteResult = serde_json::from_value(v).map_err(|e| {
                    ErrorData::new(
                        ErrorCode(-32002),
                        format!("the server answered with an invalid completion: {e}"),
                        None,
                    )
                })?;
                result.result_type = Some(ResultType::COMPLETE);
                Ok(result)
            }
            Ok((ToolOutcome::ToolError(e), _)) => Err(upstream_error(&e)),
            Err(ApiError::NotFound(_)) => Err(unknown()),
            Err(e) => Err(to_error(e)),
        }
    }

    /// Accepted, so that clients that set a level work. Upstream log
    /// messages are relayed as the upstream sends them: an upstream is
    /// shared, so one client's level is not forwarded to it.
    async fn set_level(&self, _: SetLevelRequestParams, _: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        Ok(())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscription(request.uri, true, context).await
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscription(request.uri, false, context).await
    }

    fn accepted_subscription_filter(&self, _requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        Some(crate::notify::list_changes())
    }

    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), ErrorData> {
        let principal = principal(subscription.request_context())?;
        let id = self.state.notifier.listen(principal.user.id, subscription.sink().clone());
        subscription.cancelled().await;
        self.state.notifier.stop_listening(principal.user.id, id);
        Ok(())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let principal = principal(&context)?;
        // SEP-2164: 2026-07-28 says -32602, earlier revisions -32002; both
        // name the URI.
        let modern = context.meta.protocol_version().is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let not_found = || {
            let (message, data) = (format!("unknown resource: {}", request.uri), Some(json!({ "uri": request.uri })));
            if modern { ErrorData::invalid_params(message, data) } else { ErrorData::resource_not_found(message, data) }
        };
        let servers = self.servers(&principal).await?;
        let (slug, uri) = Naming::of(&principal, &servers).parse_uri(&servers, &request.uri).ok_or_else(not_found)?;
        let mut caller = caller(&principal, &context);
        caller.input_responses = request.input_responses.clone();
        caller.request_state = request.request_state.clone();
        let run = crate::gateway::read_resource(&self.state, &principal, &slug, &uri);
        let outcome = match with_caller(caller, run).await {
            Ok((outcome, _)) => outcome,
            Err(ApiError::NotFound(_)) => return Err(not_found()),
            Err(e) => return Err(to_error(e)),
        };
        let value = match outcome {
            ToolOutcome::Ok(v) if input_required(&v) => {
                return Ok(ReadResourceResponse::InputRequired(parse_input_required(v)?));
            }
            ToolOutcome::Ok(v) => v,
            ToolOutcome::ToolError(e) => return Err(upstream_error(&e)),
        };
        // MCP upstreams answer `{contents: [...]}`; a callback may answer
        // anything, which becomes one text content.
        let mut result = serde_json::from_value::<ReadResourceResult>(value.clone()).unwrap_or_else(|_| {
            let text = match &value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            ReadResourceResult::new(vec![ResourceContents::text(text, uri.clone())])
        });
        for content in &mut result.contents {
            match content {
                ResourceContents::TextResourceContents { uri: u, .. }
                | ResourceContents::BlobResourceContents { uri: u, .. } => {
                    if *u == uri {
                        *u = request.uri.clone();
                    }
                }
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        result.result_type = Some(ResultType::COMPLETE);
        Ok(ReadResourceResponse::Complete(result))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let principal = principal(&context)?;
        // Resolve the one name asked for, without building every tool's
        // definition (`entries` clones each input schema).
        let mut target = None;
        let servers = self.servers(&principal).await?;
        let naming = Naming::of(&principal, &servers);
        for server in &servers {
            let slug = &server.record.slug;
            if let Some(t) = server.tools.iter().find(|t| naming.name(slug, &t.name) == request.name) {
                target = Some((server.record.id, t.name.clone(), public_name(slug, &t.name)));
                break;
            }
        }
        let Some((server_id, tool, _)) = target.filter(|(_, _, public)| principal.may_use_tool(public)) else {
            return Err(ErrorData::invalid_params(format!("unknown tool: {}", request.name), None));
        };
        let mut caller = caller(&principal, &context);
        caller.input_responses = request.input_responses.clone();
        caller.request_state = request.request_state.clone();
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let server = server_id.to_string();
        let run = crate::gateway::call_tool(&self.state, &principal, &server, &tool, arguments);
        match with_caller(caller, run).await {
            Ok((ToolOutcome::Ok(v), _)) if input_required(&v) => {
                Ok(CallToolResponse::InputRequired(parse_input_required(v)?))
            }
            // The server answered the call with a JSON-RPC error: so do we.
            Ok((ToolOutcome::ToolError(v), _)) if jsonrpc_error_object(&v) => Err(upstream_error(&v)),
            Ok((outcome, _rate)) => Ok(CallToolResponse::Complete(to_result(outcome))),
            Err(e) => Err(to_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebinding_checks_host_and_origin_before_anything_else() {
        let hosts = vec!["localhost".to_string(), "127.0.0.1".to_string(), "[::1]".to_string()];
        let origins = vec!["http://localhost:*".to_string(), "https://omni.example".to_string()];
        let check = |host: Option<&str>, origin: Option<&str>| {
            let mut h = http::HeaderMap::new();
            if let Some(v) = host {
                h.insert(http::header::HOST, v.parse().unwrap());
            }
            if let Some(v) = origin {
                h.insert(http::header::ORIGIN, v.parse().unwrap());
            }
            rebinding_refusal(&h, &hosts, &origins).is_none()
        };
        assert!(check(Some("127.0.0.1:3000"), None));
        assert!(check(Some("[::1]:3000"), Some("http://localhost:5173")));
        assert!(check(Some("localhost"), Some("https://omni.example")));
        assert!(!check(Some("evil.example.com"), None));
        assert!(!check(Some("localhost.evil.example"), None));
        assert!(!check(Some("127.0.0.1:3000"), Some("http://evil.example.com")));
        assert!(!check(Some("127.0.0.1"), Some("http://localhost:80evil")));
        assert!(!check(Some("127.0.0.1"), Some("https://omni.example.evil")));
    }

    #[test]
    fn names_are_prefixed_short_and_stable() {
        assert_eq!(public_name("github", "list_repos"), "github.list_repos");
        let long = public_name(&"s".repeat(40), &"t".repeat(40));
        assert_eq!(long.len(), 64);
        assert_eq!(long, public_name(&"s".repeat(40), &"t".repeat(40)));
        assert_ne!(long, public_name(&"s".repeat(40), &format!("{}u", "t".repeat(39))));
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)));
    }

    #[test]
    fn template_expansions_decode_to_the_servers_uri() {
        let public = public_uri_template("fx", "test://template/{id}/data");
        assert_eq!(public, "omnimcp://fx/test%3A%2F%2Ftemplate%2F{id}%2Fdata");
        let expanded = public.replace("{id}", "42");
        assert_eq!(parse_public_uri(&expanded), Some(("fx".into(), "test://template/42/data".into())));
        let query = public_uri_template("fx", "api://search{?q,limit}").replace("{?q,limit}", "?q=a%20b&limit=2");
        assert_eq!(parse_public_uri(&query), Some(("fx".into(), "api://search?q=a b&limit=2".into())));
    }

    #[test]
    fn pages_follow_the_cursor() {
        let items: Vec<String> = (0..250).map(|i| format!("t{i:03}")).collect();
        let (first, cursor) = page(items.clone(), |s| s.as_str(), None).unwrap();
        assert_eq!(first.len(), PAGE_SIZE);
        let request = |c: Option<String>| Some(PaginatedRequestParams::default().with_cursor(c));
        let (second, cursor) = page(items.clone(), |s| s.as_str(), request(cursor)).unwrap();
        assert_eq!(second[0], "t100");
        let (third, cursor) = page(items.clone(), |s| s.as_str(), request(cursor)).unwrap();
        assert_eq!((third.len(), third.last().unwrap().as_str(), cursor), (50, "t249", None));
        assert!(page(items, |s| s.as_str(), request(Some("%%%".into()))).is_err());
    }

    #[test]
    fn resource_uris_round_trip() {
        for uri in ["docs://readme", "file:///tmp/a b+c.txt", "test://template/{id}/data?x=1&y=%2F"] {
            let public = public_uri("my-server", uri);
            assert!(public.starts_with("omnimcp://my-server/"));
            assert_eq!(parse_public_uri(&public), Some(("my-server".to_string(), uri.to_string())));
        }
        assert_eq!(parse_public_uri("docs://readme"), None);
    }
}

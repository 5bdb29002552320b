//! The MCP server the official conformance suite (npm
//! `@modelcontextprotocol/conformance`) is run against: every tool, resource,
//! resource template, prompt, completion, logging, subscription, multi
//! round-trip (MRTR, SEP-2322) and task (SEP-2663) behaviour that the
//! suite's server scenarios ask for, in both protocol eras (2025-11-25 sessions, 2026-07-28
//! stateless requests), built on rmcp the way OmniMCP's own servers are.
//!
//! Why: the suite is the outside judge of our MCP. Run directly
//! (`tests/conformance.rs`) it shows that rmcp plus this fixture pass; the
//! same fixture installed in the gateway as a platform-hosted upstream shows
//! what the gateway keeps or loses on the way through.
//!
//! ```text
//! conformance_fixture --http 127.0.0.1:0   # Streamable HTTP at /mcp; prints
//!                                          # `listening on http://127.0.0.1:PORT/mcp`
//! conformance_fixture --http 127.0.0.1:0 --modern-only
//!                                          # the same, refusing `initialize`
//! conformance_fixture --stdio              # the same server over stdin/stdout
//! ```
//!
//! Over HTTP only loopback `Host` and `Origin` values are accepted (DNS
//! rebinding protection). The names and texts follow the suite's scenario
//! descriptions; the reference is the suite's TypeScript "everything server".
#![allow(deprecated)] // sampling, roots and logging are deprecated by SEP-2577 but still tested

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rmcp::{
    ErrorData, RoleServer, ServerHandler, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ClientResult, CompleteRequestParams, CompleteResult,
        CustomRequest, GetPromptRequestParams, GetPromptResponse, InitializeRequestParams, InitializeResult,
        InputRequiredResult, InputResponses, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
        ListToolsResult, LoggingLevel, LoggingMessageNotificationParam, PaginatedRequestParams,
        ProgressNotificationParam, ReadResourceRequestParams, ReadResourceResponse, ServerConfig, ServerRequest,
        SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, Tool, UnsubscribeRequestParams,
    },
    service::{RequestContext, SubscriptionContext, SubscriptionSink},
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::Sha256;

/// A 1×1 red PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A minimal WAV file.
const WAV: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";
const LOGGER: &str = "conformance-fixture";

/// State shared by every session and every stateless request of one process.
struct Shared {
    /// Legacy `resources/subscribe` URIs.
    subscribed: Mutex<HashSet<String>>,
    /// Open `subscriptions/listen` streams (2026-07-28).
    listeners: Mutex<Vec<SubscriptionSink>>,
    /// Signs MRTR `requestState`, so a tampered state is refused.
    state_key: [u8; 32],
    /// Refuse `initialize`: a server of the 2026-07-28 era only (how the
    /// gateway's era bridging is tested).
    modern_only: bool,
    /// Tasks (SEP-2663) by id.
    tasks: Mutex<std::collections::HashMap<String, FixtureTask>>,
}

/// One task: its state, and the work that settles it.
struct FixtureTask {
    task: rmcp::model::Task,
    payload: rmcp::model::TaskPayload,
    work: Option<tokio::task::AbortHandle>,
    /// The result text once every input request is answered.
    done: Option<String>,
}

#[derive(Clone)]
struct Fixture {
    shared: Arc<Shared>,
}

fn parse<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("fixture data does not fit rmcp's types: {e}"))
}

/// A result of the given type, marked `resultType: "complete"` (2026-07-28
/// requires it; rmcp strips it again for legacy peers).
fn complete<T: DeserializeOwned>(mut value: Value) -> T {
    value["resultType"] = json!("complete");
    parse(value)
}

fn text(s: impl Into<String>) -> Value {
    json!({"type": "text", "text": s.into()})
}

fn tool_result(content: Vec<Value>) -> CallToolResponse {
    CallToolResponse::Complete(complete(json!({"content": content})))
}

fn no_args() -> Value {
    json!({"type": "object", "properties": {}})
}

/// Every tool: (name, description, input schema).
fn tools() -> Vec<(&'static str, &'static str, Value)> {
    let string_arg = |name: &str, description: &str| json!({"type": "object", "properties": {name: {"type": "string", "description": description}}, "required": [name]});
    vec![
        ("test_simple_text", "Returns simple text content", no_args()),
        ("test_image_content", "Returns image content", no_args()),
        ("test_audio_content", "Returns audio content", no_args()),
        ("test_embedded_resource", "Returns an embedded resource", no_args()),
        ("test_multiple_content_types", "Returns text, image and resource content", no_args()),
        ("test_tool_with_logging", "Sends log messages while it runs", no_args()),
        ("test_tool_with_progress", "Reports progress while it runs", no_args()),
        ("test_error_handling", "Always fails with isError", no_args()),
        ("test_reconnection", "Answers after a short pause (SSE polling, SEP-1699)", no_args()),
        ("test_sampling", "Asks the client's LLM (sampling/createMessage)", string_arg("prompt", "The prompt to send")),
        ("test_elicitation", "Asks the user (elicitation/create)", string_arg("message", "The message to show")),
        ("test_elicitation_sep1034_defaults", "Elicitation with default values (SEP-1034)", no_args()),
        ("test_elicitation_sep1330_enums", "Elicitation with every enum form (SEP-1330)", no_args()),
        ("json_schema_2020_12_tool", "Input schema using JSON Schema 2020-12 (SEP-1613)", json_schema_2020_12()),
        ("test_missing_capability", "Needs the client's sampling capability", no_args()),
        ("test_input_required_result_elicitation", "MRTR: asks for a name", no_args()),
        ("test_input_required_result_sampling", "MRTR: asks for a sampling result", no_args()),
        ("test_input_required_result_list_roots", "MRTR: asks for the client's roots", no_args()),
        ("test_input_required_result_request_state", "MRTR: round-trips requestState", no_args()),
        ("test_input_required_result_multiple_inputs", "MRTR: asks for three inputs at once", no_args()),
        ("test_input_required_result_multi_round", "MRTR: two rounds of input", no_args()),
        ("test_input_required_result_tampered_state", "MRTR: refuses a tampered requestState", no_args()),
        ("test_input_required_result_capabilities", "MRTR: asks only for what the client supports", no_args()),
        ("test_streaming_elicitation", "Streams progress before its result", no_args()),
        ("test_logging_tool", "Logs only when the request sets a log level", no_args()),
        ("test_trigger_tool_change", "Announces a tool list change to listeners", no_args()),
        ("test_trigger_prompt_change", "Announces a prompt list change to listeners", no_args()),
        ("test_trigger_resource_update", "Announces that every resource changed, to listeners", no_args()),
        ("greet", "Greets by name (never a task)", string_arg("name", "Who to greet")),
        (
            "slow_compute",
            "Works `seconds` seconds, as a task for clients with the tasks extension",
            json!({"type": "object", "properties": {"seconds": {"type": "number"}, "label": {"type": "string"}}}),
        ),
        ("failing_job", "A task whose tool reports an error (tasks only)", no_args()),
        ("confirm_delete", "A task that asks for a confirmation first", string_arg("filename", "The file")),
        ("multi_input", "A task that asks two things at once", no_args()),
        ("test_tool_with_task", "Asks a name (MRTR), then greets in a task", no_args()),
        ("protocol_error_job", "A task that fails with a protocol error", no_args()),
        (
            "test_slow_progress",
            "Reports progress `steps` times over `seconds` seconds, then answers",
            json!({"type": "object", "properties": {"seconds": {"type": "number"}, "steps": {"type": "integer"}}}),
        ),
        ("test_app_tool", "Shows its result in an MCP App (its `_meta.ui` names the app's resource)", no_args()),
        (
            "test_custom_header",
            "Echoes a parameter that HTTP clients also send as the header Mcp-Param-Region (SEP-2243)",
            json!({"type": "object",
                   "properties": {"region": {"type": "string", "description": "A region name", "x-mcp-header": "Region"}},
                   "required": ["region"]}),
        ),
    ]
}

/// The MCP App (SEP-1865) `test_app_tool` is shown in.
const APP_URI: &str = "ui://fixture/app.html";

fn tool_list() -> Vec<Value> {
    tools()
        .into_iter()
        .map(|(name, description, schema)| {
            let mut tool = json!({"name": name, "description": description, "inputSchema": schema});
            if matches!(name, "slow_compute" | "protocol_error_job") {
                tool["execution"] = json!({"taskSupport": "optional"});
            }
            if matches!(name, "failing_job" | "confirm_delete" | "multi_input" | "test_tool_with_task") {
                tool["execution"] = json!({"taskSupport": "required"});
            }
            if name == "test_app_tool" {
                tool["title"] = json!("App Tool");
                tool["annotations"] = json!({"readOnlyHint": true});
                tool["_meta"] = json!({"ui": {"resourceUri": APP_URI}});
            }
            tool
        })
        .collect()
}

fn json_schema_2020_12() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
            }
        },
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contactMethod": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"}
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": false
    })
}

fn resources() -> Value {
    json!([
        {"uri": "test://static-text", "name": "static-text", "title": "Static Text Resource",
         "description": "A static text resource", "mimeType": "text/plain"},
        {"uri": "test://static-binary", "name": "static-binary", "title": "Static Binary Resource",
         "description": "A static binary resource (PNG)", "mimeType": "image/png"},
        {"uri": "test://watched-resource", "name": "watched-resource", "title": "Watched Resource",
         "description": "A resource clients may subscribe to", "mimeType": "text/plain"},
        {"uri": APP_URI, "name": "app", "title": "Fixture App", "description": "An MCP App's HTML",
         "mimeType": "text/html;profile=mcp-app", "_meta": {"ui": {"prefersBorder": true}}},
        {"uri": "skill://acme/code-review/SKILL.md", "name": "code-review",
         "description": "Reviews a change for correctness, tests and style.", "mimeType": "text/markdown"},
        {"uri": "skill://greeting/SKILL.md", "name": "greeting",
         "description": "Greets the user by name.", "mimeType": "text/markdown"}
    ])
}

/// The skills (SEP-2640) the fixture serves: `(file URI, contents)`. Two
/// skills, one with a file in a subdirectory, so `skills/list`,
/// `skills/get`, reads and `resources/directory/read` all have something
/// to show.
const SKILL_FILES: &[(&str, &str)] = &[
    (
        "skill://acme/code-review/SKILL.md",
        "---\nname: code-review\ndescription: Reviews a change for correctness, tests and style.\nlicense: MIT\n---\n\n# Code review\n\nRead references/checklist.md, then review the diff against it.\n",
    ),
    (
        "skill://acme/code-review/references/checklist.md",
        "# Checklist\n\n- Tests that can fail\n- No secrets in logs\n",
    ),
    ("skill://greeting/SKILL.md", "---\nname: greeting\ndescription: Greets the user by name.\n---\n\nSay hello.\n"),
];

/// Each skill: its SKILL.md URI, frontmatter (as in the file), and files.
fn skills() -> Vec<rmcp::model::Skill> {
    use rmcp::model::{Skill, SkillFrontmatter, SkillResource, SkillResources};
    let skill = |uri: &str, name: &str, description: &str, extra: Option<(&str, &str)>| {
        let root = uri.strip_suffix("SKILL.md").unwrap();
        let files = SKILL_FILES
            .iter()
            .filter(|(file, _)| file.starts_with(root))
            .map(|(file, text)| SkillResource::from_bytes(*file, text.as_bytes()))
            .collect();
        let mut frontmatter = SkillFrontmatter::new(name, description);
        if let Some((key, value)) = extra {
            frontmatter = frontmatter.with_field(key, value);
        }
        Skill::new(uri, frontmatter, SkillResources::Files(files))
    };
    vec![
        skill(
            "skill://acme/code-review/SKILL.md",
            "code-review",
            "Reviews a change for correctness, tests and style.",
            Some(("license", "MIT")),
        ),
        skill("skill://greeting/SKILL.md", "greeting", "Greets the user by name.", None),
    ]
}

/// A skill directory's direct children, or `None` for anything else.
fn skill_directory(uri: &str) -> Option<Value> {
    let prefix = format!("{uri}/");
    let mut children: Vec<Value> = Vec::new();
    for (file, _) in SKILL_FILES.iter().filter(|(file, _)| file.starts_with(&prefix)) {
        let rest = &file[prefix.len()..];
        let child = match rest.split_once('/') {
            None => json!({"uri": file, "name": rest, "mimeType": "text/markdown"}),
            Some((dir, _)) => json!({"uri": format!("{prefix}{dir}"), "name": dir, "mimeType": "inode/directory"}),
        };
        if !children.contains(&child) {
            children.push(child);
        }
    }
    (!children.is_empty()).then(|| json!(children))
}

fn prompts() -> Value {
    json!([
        {"name": "test_simple_prompt", "title": "Simple Test Prompt", "description": "A prompt without arguments"},
        {"name": "test_prompt_with_arguments", "title": "Prompt With Arguments", "description": "A prompt with two arguments",
         "arguments": [
            {"name": "arg1", "description": "First test argument", "required": true},
            {"name": "arg2", "description": "Second test argument", "required": true}
         ]},
        {"name": "test_prompt_with_embedded_resource", "title": "Prompt With Embedded Resource",
         "description": "A prompt that embeds a resource",
         "arguments": [{"name": "resourceUri", "description": "URI of the resource to embed", "required": true}]},
        {"name": "test_prompt_with_image", "title": "Prompt With Image", "description": "A prompt with image content"},
        {"name": "test_input_required_result_prompt", "description": "MRTR: a prompt that asks for context first"}
    ])
}

/// An `elicitation/create` input request asking for one field.
fn elicit(message: &str, field: &str, kind: &str) -> Value {
    json!({"method": "elicitation/create", "params": {
        "mode": "form",
        "message": message,
        "requestedSchema": {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
    }})
}

fn sample(prompt: &str, max_tokens: u32) -> Value {
    json!({"method": "sampling/createMessage", "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
        "maxTokens": max_tokens
    }})
}

fn list_roots() -> Value {
    json!({"method": "roots/list", "params": {}})
}

fn input_required(requests: Value, state: Option<String>) -> InputRequiredResult {
    let mut result = json!({"resultType": "input_required", "inputRequests": requests});
    if let Some(state) = state {
        result["requestState"] = json!(state);
    }
    parse(result)
}

/// The accepted elicitation's `content[field]` when it is a string.
fn elicited(responses: Option<&InputResponses>, key: &str, field: &str) -> Option<String> {
    let response = responses?.get(key)?;
    if response.get("action")?.as_str()? != "accept" {
        return None;
    }
    response.get("content")?.get(field)?.as_str().map(str::to_string)
}

fn answered(responses: Option<&InputResponses>, key: &str) -> bool {
    responses.and_then(|r| r.get(key)).is_some_and(Value::is_object)
}

impl Fixture {
    fn new() -> Self {
        Self::with_eras(false)
    }

    fn with_eras(modern_only: bool) -> Self {
        let state_key: [u8; 32] = rand::random();
        let shared = Shared {
            subscribed: Mutex::default(),
            listeners: Mutex::default(),
            state_key,
            modern_only,
            tasks: Mutex::default(),
        };
        Fixture { shared: Arc::new(shared) }
    }

    /// `base64url(payload).base64url(HMAC-SHA256(payload))`.
    fn seal(&self, payload: Value) -> String {
        let payload = serde_json::to_vec(&payload).expect("JSON");
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.shared.state_key).expect("any key length");
        mac.update(&payload);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// The payload of a state this process sealed; an error for anything else.
    fn open(&self, state: Option<&str>) -> Result<Option<Value>, ErrorData> {
        let Some(state) = state else { return Ok(None) };
        let refuse = || ErrorData::invalid_params("requestState failed its integrity check", None);
        let (payload, tag) = state.split_once('.').ok_or_else(refuse)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| refuse())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| refuse())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.shared.state_key).expect("any key length");
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| refuse())?;
        serde_json::from_slice(&payload).map(Some).map_err(|_| refuse())
    }

    fn nonce() -> String {
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>())
    }

    /// A server-to-client request on a legacy session, as raw JSON both ways
    /// (rmcp's typed elicitation schema would drop fields the suite checks).
    async fn ask(&self, ctx: &RequestContext<RoleServer>, method: &str, params: Value) -> Result<Value, String> {
        let request = ServerRequest::CustomRequest(CustomRequest::new(method, Some(params)));
        match ctx.peer.send_request(request).await {
            Ok(ClientResult::CustomResult(r)) => Ok(r.0),
            Ok(other) => serde_json::to_value(other).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn log(&self, ctx: &RequestContext<RoleServer>, level: LoggingLevel, data: &str) {
        let mut param: LoggingMessageNotificationParam =
            parse(json!({"level": "info", "logger": LOGGER, "data": data}));
        param.level = level;
        let _ = ctx.peer.notify_logging_message(param).await;
    }

    async fn elicitation_tool(&self, ctx: &RequestContext<RoleServer>, params: Value) -> CallToolResponse {
        let text = match self.ask(ctx, "elicitation/create", params).await {
            Ok(r) => format!("User response: action={}, content={}", r["action"].as_str().unwrap_or(""), r["content"]),
            Err(e) => format!("Elicitation not supported or error: {e}"),
        };
        tool_result(vec![json!({"type": "text", "text": text})])
    }

    /// Starts a task that `work` settles.
    fn start_task(
        &self,
        work: impl Future<Output = Result<serde_json::Map<String, Value>, serde_json::Map<String, Value>>> + Send + 'static,
    ) -> rmcp::model::CreateTaskResult {
        use rmcp::model::{Task, TaskPayload, TaskStatus};
        let id = format!("task-{:032x}", rand::random::<u128>());
        let now = chrono::Utc::now().to_rfc3339();
        let task = Task::new(id.clone(), TaskStatus::Working, now.clone(), now)
            .with_ttl_ms(600_000)
            .with_poll_interval_ms(200);
        let shared = self.shared.clone();
        let settle = tokio::spawn(async move {
            let payload = match work.await {
                Ok(result) => TaskPayload::Completed { result },
                Err(error) => TaskPayload::Failed { error },
            };
            if let Some(t) = shared.tasks.lock().unwrap().get_mut(&id) {
                t.payload = payload;
                t.task.status = t.payload.status();
                t.task.last_updated_at = chrono::Utc::now().to_rfc3339();
            }
        });
        let entry = FixtureTask {
            task: task.clone(),
            payload: TaskPayload::Working,
            work: Some(settle.abort_handle()),
            done: None,
        };
        self.shared.tasks.lock().unwrap().insert(task.task_id.clone(), entry);
        rmcp::model::CreateTaskResult::new(task)
    }

    /// Starts a task that waits for the answers to `asks` (tasks/update),
    /// then completes with `done`.
    fn start_asking(&self, asks: Value, done: String) -> rmcp::model::CreateTaskResult {
        let created = self.start_task(std::future::pending());
        let mut tasks = self.shared.tasks.lock().unwrap();
        if let Some(t) = tasks.get_mut(&created.task.task_id) {
            t.payload = rmcp::model::TaskPayload::InputRequired { input_requests: parse(asks) };
            t.task.status = rmcp::model::TaskStatus::InputRequired;
            t.done = Some(done);
        }
        created
    }

    fn unknown_task(id: &str) -> ErrorData {
        ErrorData::invalid_params(format!("unknown task: {id}"), None)
    }

    async fn notify_listeners(&self, tools: bool) {
        let sinks = self.shared.listeners.lock().unwrap().clone();
        for sink in sinks {
            let _ = if tools { sink.notify_tool_list_changed().await } else { sink.notify_prompt_list_changed().await };
        }
    }

    async fn call(
        &self,
        p: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(p.arguments.clone().unwrap_or_default());
        let responses = p.input_responses.as_ref();
        Ok(match p.name.as_ref() {
            "test_simple_text" => tool_result(vec![text("This is a simple text response for testing.")]),
            "test_image_content" => tool_result(vec![json!({"type": "image", "data": PNG, "mimeType": "image/png"})]),
            "test_audio_content" => tool_result(vec![json!({"type": "audio", "data": WAV, "mimeType": "audio/wav"})]),
            "test_embedded_resource" => tool_result(vec![json!({"type": "resource", "resource": {
                "uri": "test://embedded-resource", "mimeType": "text/plain",
                "text": "This is an embedded resource content."}})]),
            "test_multiple_content_types" => tool_result(vec![
                text("Multiple content types test:"),
                json!({"type": "image", "data": PNG, "mimeType": "image/png"}),
                json!({"type": "resource", "resource": {"uri": "test://mixed-content-resource",
                    "mimeType": "application/json", "text": json!({"test": "data", "value": 123}).to_string()}}),
            ]),
            "test_tool_with_logging" => {
                for (i, message) in ["Tool execution started", "Tool processing data", "Tool execution completed"]
                    .into_iter()
                    .enumerate()
                {
                    if i > 0 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    self.log(&ctx, LoggingLevel::Info, message).await;
                }
                tool_result(vec![text("Tool with logging executed successfully")])
            }
            "test_tool_with_progress" => {
                let token = ctx.meta.get_progress_token();
                for step in [0u32, 50, 100] {
                    if step > 0 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    if let Some(token) = &token {
                        let param: ProgressNotificationParam = parse(json!({
                            "progressToken": token, "progress": step, "total": 100,
                            "message": format!("Completed step {step} of 100")
                        }));
                        let _ = ctx.peer.notify_progress(param).await;
                    }
                }
                let token = token.map(|t| serde_json::to_value(t).unwrap_or_default()).unwrap_or(json!(0));
                tool_result(vec![text(match token {
                    Value::String(s) => s,
                    other => other.to_string(),
                })])
            }
            "test_error_handling" => CallToolResponse::Complete(CallToolResult::error(vec![parse(text(
                "This tool intentionally returns an error for testing",
            ))])),
            "test_reconnection" => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                tool_result(vec![text("Reconnection test completed successfully.")])
            }
            "test_sampling" => {
                let prompt = args["prompt"].as_str().unwrap_or("Hello").to_string();
                let answer = self
                    .ask(&ctx, "sampling/createMessage", sample(&prompt, 100)["params"].clone())
                    .await
                    .map(|r| r["content"]["text"].as_str().unwrap_or("No response").to_string());
                tool_result(vec![text(match answer {
                    Ok(t) => format!("LLM response: {t}"),
                    Err(e) => format!("Sampling not supported or error: {e}"),
                })])
            }
            "test_elicitation" => {
                let message = args["message"].as_str().unwrap_or("Please respond").to_string();
                self.elicitation_tool(
                    &ctx,
                    json!({"mode": "form", "message": message, "requestedSchema": {
                    "type": "object",
                    "properties": {"response": {"type": "string", "description": "User's response"}},
                    "required": ["response"]}}),
                )
                .await
            }
            "test_elicitation_sep1034_defaults" => {
                self.elicitation_tool(
                    &ctx,
                    json!({"mode": "form",
                    "message": "Please review and update the form fields with defaults",
                    "requestedSchema": {"type": "object", "properties": {
                        "name": {"type": "string", "description": "User name", "default": "John Doe"},
                        "age": {"type": "integer", "description": "User age", "default": 30},
                        "score": {"type": "number", "description": "User score", "default": 95.5},
                        "status": {"type": "string", "description": "User status",
                                   "enum": ["active", "inactive", "pending"], "default": "active"},
                        "verified": {"type": "boolean", "description": "Verification status", "default": true}
                    }, "required": []}}),
                )
                .await
            }
            "test_elicitation_sep1330_enums" => {
                let titled = |word: &str| {
                    json!([{"const": "value1", "title": format!("First {word}")},
                           {"const": "value2", "title": format!("Second {word}")},
                           {"const": "value3", "title": format!("Third {word}")}])
                };
                self.elicitation_tool(
                    &ctx,
                    json!({"mode": "form",
                    "message": "Please select options from the enum fields",
                    "requestedSchema": {"type": "object", "properties": {
                        "untitledSingle": {"type": "string", "description": "Select one option",
                                           "enum": ["option1", "option2", "option3"]},
                        "titledSingle": {"type": "string", "description": "Select one option with titles",
                                         "oneOf": titled("Option")},
                        "legacyEnum": {"type": "string", "description": "Select one option (legacy)",
                                       "enum": ["opt1", "opt2", "opt3"],
                                       "enumNames": ["Option One", "Option Two", "Option Three"]},
                        "untitledMulti": {"type": "array", "description": "Select multiple options",
                                          "minItems": 1, "maxItems": 3,
                                          "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                        "titledMulti": {"type": "array", "description": "Select multiple options with titles",
                                        "minItems": 1, "maxItems": 3, "items": {"anyOf": titled("Choice")}}
                    }, "required": []}}),
                )
                .await
            }
            "json_schema_2020_12_tool" => {
                tool_result(vec![text(format!("JSON Schema 2020-12 tool called with: {args}"))])
            }
            "test_missing_capability" => {
                if ctx.client_capabilities().and_then(|c| c.sampling).is_none() {
                    return Err(ErrorData::missing_required_client_capability(parse(json!({"sampling": {}}))));
                }
                tool_result(vec![text("Success")])
            }
            "test_input_required_result_elicitation" => match elicited(responses, "user_name", "name") {
                Some(name) => tool_result(vec![text(format!("Hello, {name}!"))]),
                None => CallToolResponse::InputRequired(input_required(
                    json!({"user_name": elicit("What is your name?", "name", "string")}),
                    None,
                )),
            },
            "test_input_required_result_sampling" => {
                match responses.and_then(|r| r.get("capital_question")).filter(|v| v.is_object()) {
                    Some(r) => tool_result(vec![text(format!(
                        "Sampling result: {}",
                        r["content"]["text"].as_str().unwrap_or("no response")
                    ))]),
                    None => CallToolResponse::InputRequired(input_required(
                        json!({"capital_question": sample("What is the capital of France?", 100)}),
                        None,
                    )),
                }
            }
            "test_input_required_result_list_roots" => {
                match responses.and_then(|r| r.get("client_roots")).and_then(|r| r["roots"].as_array()) {
                    Some(roots) => {
                        let uris: Vec<&str> = roots.iter().filter_map(|r| r["uri"].as_str()).collect();
                        tool_result(vec![text(format!("Roots: {}", uris.join(", ")))])
                    }
                    None => {
                        CallToolResponse::InputRequired(input_required(json!({"client_roots": list_roots()}), None))
                    }
                }
            }
            "test_input_required_result_request_state" => {
                let state = self.open(p.request_state.as_deref())?;
                let valid = state.as_ref().is_some_and(|s| s["kind"] == "request-state");
                if valid && answered(responses, "confirm") {
                    tool_result(vec![text("state-ok: requestState round-tripped and verified")])
                } else {
                    CallToolResponse::InputRequired(input_required(
                        json!({"confirm": elicit("Please confirm", "ok", "boolean")}),
                        Some(self.seal(json!({"kind": "request-state", "nonce": Self::nonce()}))),
                    ))
                }
            }
            "test_input_required_result_multiple_inputs" => {
                let state = self.open(p.request_state.as_deref())?;
                let keys = ["user_name", "greeting", "client_roots"];
                if state.is_some_and(|s| s["kind"] == "multiple") && keys.iter().all(|k| answered(responses, k)) {
                    let name = elicited(responses, "user_name", "name").unwrap_or_else(|| "friend".into());
                    tool_result(vec![text(format!("All inputs received for {name}"))])
                } else {
                    CallToolResponse::InputRequired(input_required(
                        json!({
                            "user_name": elicit("What is your name?", "name", "string"),
                            "greeting": sample("Generate a greeting", 50),
                            "client_roots": list_roots()
                        }),
                        Some(self.seal(json!({"kind": "multiple", "nonce": Self::nonce()}))),
                    ))
                }
            }
            "test_input_required_result_multi_round" => {
                let state = self.open(p.request_state.as_deref())?.unwrap_or_default();
                let step2 = || json!({"step2": elicit("Step 2: What is your favorite color?", "color", "string")});
                match (state["round"].as_u64(), state["name"].as_str()) {
                    (Some(1), _) if answered(responses, "step1") => {
                        let name = elicited(responses, "step1", "name").unwrap_or_else(|| "friend".into());
                        CallToolResponse::InputRequired(input_required(
                            step2(),
                            Some(self.seal(json!({"round": 2, "name": name, "nonce": Self::nonce()}))),
                        ))
                    }
                    (Some(2), Some(name)) if answered(responses, "step2") => {
                        let color = elicited(responses, "step2", "color").unwrap_or_else(|| "unknown".into());
                        tool_result(vec![text(format!("Multi-round complete for {name} who likes {color}"))])
                    }
                    (Some(2), Some(name)) => CallToolResponse::InputRequired(input_required(
                        step2(),
                        Some(self.seal(json!({"round": 2, "name": name, "nonce": Self::nonce()}))),
                    )),
                    _ => CallToolResponse::InputRequired(input_required(
                        json!({"step1": elicit("Step 1: What is your name?", "name", "string")}),
                        Some(self.seal(json!({"round": 1, "nonce": Self::nonce()}))),
                    )),
                }
            }
            "test_input_required_result_tampered_state" => {
                let state = self.open(p.request_state.as_deref())?;
                if state.is_some_and(|s| s["kind"] == "tamper-test") && answered(responses, "confirm") {
                    tool_result(vec![text("integrity-ok: state verified")])
                } else {
                    CallToolResponse::InputRequired(input_required(
                        json!({"confirm": elicit("Please confirm", "ok", "boolean")}),
                        Some(self.seal(json!({"kind": "tamper-test", "nonce": Self::nonce()}))),
                    ))
                }
            }
            "test_input_required_result_capabilities" => {
                let caps = ctx.client_capabilities().unwrap_or_default();
                let mut requests = serde_json::Map::new();
                if caps.elicitation.is_some() {
                    requests.insert("elicit_input".into(), elicit("Elicitation input", "value", "string"));
                }
                if caps.sampling.is_some() {
                    requests.insert("sample_input".into(), sample("Sample request", 50));
                }
                let received: Vec<&String> = responses.map(|r| r.keys().collect()).unwrap_or_default();
                if !received.is_empty() {
                    let names: Vec<&str> = received.iter().map(|s| s.as_str()).collect();
                    tool_result(vec![text(format!("capabilities-ok: received {}", names.join(",")))])
                } else if requests.is_empty() {
                    tool_result(vec![text("No supported capabilities declared")])
                } else {
                    CallToolResponse::InputRequired(input_required(
                        Value::Object(requests),
                        Some(self.seal(json!({"kind": "capabilities", "nonce": Self::nonce()}))),
                    ))
                }
            }
            "test_streaming_elicitation" => {
                if let Some(token) = ctx.meta.get_progress_token() {
                    let param: ProgressNotificationParam =
                        parse(json!({"progressToken": token, "progress": 50, "total": 100}));
                    let _ = ctx.peer.notify_progress(param).await;
                }
                tool_result(vec![text("Streaming complete")])
            }
            "test_logging_tool" => {
                // 2026-07-28: no log without `_meta.io.modelcontextprotocol/logLevel`.
                if ctx.meta.log_level().is_some() {
                    self.log(&ctx, LoggingLevel::Info, "Diagnostic trace logging activated").await;
                }
                tool_result(vec![text("Logging evaluated")])
            }
            "test_trigger_tool_change" => {
                self.notify_listeners(true).await;
                tool_result(vec![text("Mutation triggered")])
            }
            "test_trigger_prompt_change" => {
                self.notify_listeners(false).await;
                tool_result(vec![text("Mutation triggered")])
            }
            "test_app_tool" => tool_result(vec![text("Shown in the app")]),
            "greet" => tool_result(vec![text(format!("Hello, {}!", args["name"].as_str().unwrap_or("World")))]),
            "slow_compute"
            | "failing_job"
            | "protocol_error_job"
            | "confirm_delete"
            | "multi_input"
            | "test_tool_with_task" => {
                let tasks = ctx.client_capabilities().is_some_and(|c| c.supports_tasks());
                let required = matches!(p.name.as_ref(), "failing_job" | "confirm_delete" | "multi_input");
                if required && !tasks {
                    return Err(ErrorData::missing_required_client_capability(
                        rmcp::model::ClientCapabilities::builder().enable_tasks().build(),
                    ));
                }
                let seconds = match p.name.as_ref() {
                    "slow_compute" => args["seconds"].as_f64().unwrap_or(1.0).clamp(0.0, 600.0),
                    _ => 1.0,
                };
                match p.name.as_ref() {
                    "confirm_delete" => {
                        let file = args["filename"].as_str().unwrap_or("the file").to_string();
                        let asks = json!({"confirm": elicit(&format!("Delete {file}?"), "confirm", "boolean")});
                        return Ok(CallToolResponse::Task(self.start_asking(asks, format!("Deleted {file}"))));
                    }
                    "multi_input" => {
                        let asks = json!({"first": elicit("Your name?", "name", "string"),
                                          "second": elicit("Confirm?", "confirm", "boolean")});
                        return Ok(CallToolResponse::Task(self.start_asking(asks, "Both answered".into())));
                    }
                    "test_tool_with_task" => {
                        let Some(name) = elicited(responses, "user_name", "name") else {
                            let asks = json!({"user_name": elicit("What is your name?", "name", "string")});
                            return Ok(CallToolResponse::InputRequired(input_required(asks, None)));
                        };
                        let greeting = format!("Hello, {name}!");
                        let work = async move {
                            let content = json!({"content": [text(greeting)], "isError": false});
                            Ok(content.as_object().cloned().unwrap_or_default())
                        };
                        return Ok(CallToolResponse::Task(self.start_task(work)));
                    }
                    _ => {}
                }
                let work = task_work(p.name.to_string(), seconds);
                if tasks {
                    return Ok(CallToolResponse::Task(self.start_task(work)));
                }
                match work.await {
                    Ok(result) => CallToolResponse::Complete(complete(Value::Object(result))),
                    Err(error) => return Err(parse(Value::Object(error))),
                }
            }
            "test_slow_progress" => {
                let seconds = args["seconds"].as_f64().unwrap_or(1.0).clamp(0.0, 600.0);
                let steps = args["steps"].as_u64().unwrap_or(1).clamp(1, 1000);
                let token = ctx.meta.get_progress_token();
                for step in 1..=steps {
                    tokio::time::sleep(Duration::from_secs_f64(seconds / steps as f64)).await;
                    if let Some(token) = &token {
                        let param: ProgressNotificationParam =
                            parse(json!({"progressToken": token, "progress": step, "total": steps}));
                        let _ = ctx.peer.notify_progress(param).await;
                    }
                }
                tool_result(vec![text(format!("Done after {seconds} seconds"))])
            }
            "test_trigger_resource_update" => {
                // Each listen stream's sink keeps only the URIs it accepted.
                let sinks = self.shared.listeners.lock().unwrap().clone();
                for resource in resources().as_array().into_iter().flatten() {
                    let uri = resource["uri"].as_str().unwrap_or_default().to_string();
                    for sink in &sinks {
                        let params = rmcp::model::ResourceUpdatedNotificationParam::new(uri.clone());
                        let update = rmcp::model::ResourceUpdatedNotification::new(params);
                        let _ = sink.send(rmcp::model::ServerNotification::ResourceUpdatedNotification(update)).await;
                    }
                }
                tool_result(vec![text("Resources updated")])
            }
            "test_custom_header" => {
                tool_result(vec![text(format!("Region: {}", args["region"].as_str().unwrap_or("")))])
            }
            other => return Err(ErrorData::invalid_params(format!("unknown tool: {other}"), None)),
        })
    }
}

impl ServerHandler for Fixture {
    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        if self.shared.modern_only {
            return Err(ErrorData::invalid_request("this server speaks protocol 2026-07-28 only", None));
        }
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    fn get_info(&self) -> ServerConfig {
        parse(json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {
                "tools": {"listChanged": true},
                "resources": {"subscribe": true, "listChanged": true},
                "prompts": {"listChanged": true},
                "logging": {},
                "completions": {},
                "extensions": {
                    "io.modelcontextprotocol/tasks": {},
                    "io.modelcontextprotocol/skills": {"directoryRead": true}
                }
            },
            "serverInfo": {"name": "omnimcp-conformance-fixture", "version": env!("CARGO_PKG_VERSION")},
            "instructions": "The OmniMCP conformance fixture: every behaviour the MCP conformance suite tests."
        }))
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(complete(json!({"tools": tool_list()})))
    }

    /// Lets rmcp's HTTP transport check `Mcp-Param-*` headers against the body.
    fn get_tool(&self, name: &str) -> Option<Tool> {
        tool_list().into_iter().find(|t| t["name"] == name).map(parse)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.call(request, context).await
    }

    async fn list_resources(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(complete(json!({"resources": resources()})))
    }

    async fn list_resource_templates(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(complete(json!({"resourceTemplates": [{
            "uriTemplate": "test://template/{id}/data", "name": "template", "title": "Resource Template",
            "description": "A resource template with parameter substitution", "mimeType": "application/json"
        }]})))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri.as_str();
        let content = match uri {
            "test://static-text" => {
                json!({"uri": uri, "mimeType": "text/plain", "text": "This is the content of the static text resource."})
            }
            "test://static-binary" => json!({"uri": uri, "mimeType": "image/png", "blob": PNG}),
            "test://watched-resource" => {
                json!({"uri": uri, "mimeType": "text/plain", "text": "Watched resource content"})
            }
            APP_URI => {
                json!({"uri": uri, "mimeType": "text/html;profile=mcp-app", "text": "<!doctype html><p>app</p>"})
            }
            _ if SKILL_FILES.iter().any(|(file, _)| *file == uri) => {
                let text = SKILL_FILES.iter().find(|(file, _)| *file == uri).map(|(_, text)| *text);
                json!({"uri": uri, "mimeType": "text/markdown", "text": text})
            }
            _ => match uri.strip_prefix("test://template/").and_then(|rest| rest.strip_suffix("/data")) {
                Some(id) if !id.is_empty() && !id.contains('/') => json!({
                    "uri": uri, "mimeType": "application/json",
                    "text": json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")}).to_string()
                }),
                _ => {
                    return Err(ErrorData::resource_not_found(
                        format!("Resource not found: {uri}"),
                        Some(json!({"uri": uri})),
                    ));
                }
            },
        };
        Ok(ReadResourceResponse::Complete(complete(json!({"contents": [content]}))))
    }

    async fn list_skills(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListSkillsResult, ErrorData> {
        let mut result = rmcp::model::ListSkillsResult::with_all_items(skills());
        result.ttl_ms = Some(60_000);
        result.cache_scope = Some(rmcp::model::CacheScope::Public);
        Ok(result)
    }

    async fn get_skill(
        &self,
        request: rmcp::model::GetSkillRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetSkillResult, ErrorData> {
        let skill = skills().into_iter().find(|k| k.uri == request.uri).ok_or_else(|| {
            ErrorData::invalid_params(format!("no skill at {}", request.uri), Some(json!({"uri": request.uri})))
        })?;
        Ok(rmcp::model::GetSkillResult::new(skill)
            .with_ttl_ms(60_000)
            .with_cache_scope(rmcp::model::CacheScope::Public))
    }

    async fn read_resource_directory(
        &self,
        request: rmcp::model::ReadResourceDirectoryRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceDirectoryResult, ErrorData> {
        let children = skill_directory(&request.uri)
            .ok_or_else(|| ErrorData::invalid_params(format!("not a directory: {}", request.uri), None))?;
        Ok(complete(json!({"resources": children})))
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.shared.subscribed.lock().unwrap().insert(request.uri.clone());
        self.log(&context, LoggingLevel::Info, &format!("Subscribed to resource: {}", request.uri)).await;
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.shared.subscribed.lock().unwrap().remove(&request.uri);
        self.log(&context, LoggingLevel::Info, &format!("Unsubscribed from resource: {}", request.uri)).await;
        Ok(())
    }

    async fn list_prompts(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(complete(json!({"prompts": prompts()})))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let args = request.arguments.clone().unwrap_or_default();
        let arg = |name: &str| args.get(name).and_then(Value::as_str).unwrap_or("").to_string();
        let user = |content: Value| json!({"role": "user", "content": content});
        let messages = match request.name.as_str() {
            "test_simple_prompt" => vec![user(text("This is a simple prompt for testing."))],
            "test_prompt_with_arguments" => {
                vec![user(text(format!("Prompt with arguments: arg1='{}', arg2='{}'", arg("arg1"), arg("arg2"))))]
            }
            "test_prompt_with_embedded_resource" => vec![
                user(json!({"type": "resource", "resource": {
                    "uri": arg("resourceUri"), "mimeType": "text/plain",
                    "text": "Embedded resource content for testing."}})),
                user(text("Please process the embedded resource above.")),
            ],
            "test_prompt_with_image" => vec![
                user(json!({"type": "image", "data": PNG, "mimeType": "image/png"})),
                user(text("Please analyze the image above.")),
            ],
            "test_input_required_result_prompt" => {
                match elicited(request.input_responses.as_ref(), "user_context", "context") {
                    Some(context) => vec![user(text(format!("Prompt with context: {context}")))],
                    None => {
                        return Ok(GetPromptResponse::InputRequired(input_required(
                            json!({"user_context": elicit("What context should the prompt use?", "context", "string")}),
                            None,
                        )));
                    }
                }
            }
            other => return Err(ErrorData::invalid_params(format!("unknown prompt: {other}"), None)),
        };
        Ok(GetPromptResponse::Complete(complete(json!({"messages": messages}))))
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        // Values starting with what has been typed, for the arguments we know.
        let typed = request.argument.value.clone();
        let candidates: &[&str] = match request.argument.name.as_str() {
            "arg1" | "arg2" => &["alpha", "beta", "gamma"],
            "id" => &["1", "2", "42"],
            _ => &[],
        };
        let values: Vec<&str> = candidates.iter().copied().filter(|v| v.starts_with(&typed)).collect();
        Ok(complete(json!({"completion": {"values": values, "total": values.len(), "hasMore": false}})))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let level = serde_json::to_value(request.level).unwrap_or_default();
        self.log(&context, LoggingLevel::Info, &format!("Log level set to: {}", level.as_str().unwrap_or("?"))).await;
        Ok(())
    }

    fn accepted_subscription_filter(&self, requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        Some(requested.clone())
    }

    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        _: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, ErrorData> {
        let tasks = self.shared.tasks.lock().unwrap();
        let t = tasks.get(&request.task_id).ok_or_else(|| Self::unknown_task(&request.task_id))?;
        let detailed = rmcp::model::DetailedTask::new(t.task.clone(), t.payload.clone());
        Ok(rmcp::model::GetTaskResult::new(detailed))
    }

    async fn update_task(
        &self,
        request: rmcp::model::UpdateTaskParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        use rmcp::model::{TaskPayload, TaskStatus};
        let mut tasks = self.shared.tasks.lock().unwrap();
        let t = tasks.get_mut(&request.task_id).ok_or_else(|| Self::unknown_task(&request.task_id))?;
        if let TaskPayload::InputRequired { input_requests } = &mut t.payload {
            input_requests.retain(|key, _| !request.input_responses.contains_key(key));
            if input_requests.is_empty() {
                let done = t.done.take().unwrap_or_default();
                let result = json!({"content": [text(done)], "isError": false});
                t.payload = TaskPayload::Completed { result: result.as_object().cloned().unwrap_or_default() };
                t.task.status = TaskStatus::Completed;
            }
            t.task.last_updated_at = chrono::Utc::now().to_rfc3339();
        }
        Ok(())
    }

    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let mut tasks = self.shared.tasks.lock().unwrap();
        let t = tasks.get_mut(&request.task_id).ok_or_else(|| Self::unknown_task(&request.task_id))?;
        if !t.task.status.is_terminal() {
            if let Some(work) = t.work.take() {
                work.abort();
            }
            t.payload = rmcp::model::TaskPayload::Cancelled;
            t.task.status = rmcp::model::TaskStatus::Cancelled;
            t.task.last_updated_at = chrono::Utc::now().to_rfc3339();
        }
        Ok(())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let sink = context.sink().clone();
        self.shared.listeners.lock().unwrap().push(sink.clone());
        context.cancelled().await;
        self.shared.listeners.lock().unwrap().retain(|s| s.id() != sink.id());
        Ok(())
    }
}

/// Loopback only, whatever the port: the suite's DNS-rebinding scenario
/// sends a foreign `Host` and `Origin` and expects a 4xx.
fn http_config() -> StreamableHttpServerConfig {
    let origins = ["http", "https"]
        .into_iter()
        .flat_map(|scheme| ["localhost", "127.0.0.1", "[::1]"].map(move |host| format!("{scheme}://{host}:*")));
    StreamableHttpServerConfig::default()
        .with_allowed_hosts(["localhost", "127.0.0.1", "::1", "[::1]"])
        .with_allowed_origins(origins)
        .enforce_origin_validation()
}

/// What a task-supporting tool does: its `CallToolResult`, or the JSON-RPC
/// error of a protocol-level failure.
async fn task_work(
    name: String,
    seconds: f64,
) -> Result<serde_json::Map<String, Value>, serde_json::Map<String, Value>> {
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let object = |v: Value| v.as_object().cloned().unwrap_or_default();
    match name.as_str() {
        "failing_job" => Ok(object(json!({"content": [text("The job failed")], "isError": true}))),
        "protocol_error_job" => Err(object(json!({"code": -32603, "message": "the job crashed"}))),
        _ => Ok(object(json!({"content": [text(format!("Computed after {seconds} seconds"))], "isError": false}))),
    }
}

async fn serve_http(addr: &str, modern_only: bool) -> anyhow::Result<()> {
    let fixture = Fixture::with_eras(modern_only);
    let service: StreamableHttpService<Fixture, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(fixture.clone()),
        Arc::new(LocalSessionManager::default()),
        http_config(),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    println!("listening on http://{bound}/mcp");
    use std::io::Write;
    std::io::stdout().flush()?;
    let router = axum::Router::new().nest_service("/mcp", service);
    axum::serve(listener, router).await?;
    Ok(())
}

async fn serve_stdio() -> anyhow::Result<()> {
    let running = Fixture::new().serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["--http", addr] => serve_http(addr, false).await,
        ["--http", addr, "--modern-only"] => serve_http(addr, true).await,
        ["--stdio"] => serve_stdio().await,
        _ => {
            eprintln!("usage: conformance_fixture --http 127.0.0.1:0 [--modern-only] | --stdio");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_fits_rmcp_types() {
        let f = Fixture::new();
        let _ = f.get_info();
        let _: ListToolsResult = parse(json!({"tools": tool_list()}));
        assert!(f.get_tool("test_custom_header").is_some());
        let _: ListPromptsResult = parse(json!({"prompts": prompts()}));
        let _: ListResourcesResult = parse(json!({"resources": resources()}));
        let sealed = f.seal(json!({"kind": "x"}));
        assert_eq!(f.open(Some(&sealed)).unwrap(), Some(json!({"kind": "x"})));
        assert!(f.open(Some(&format!("{sealed}x"))).is_err());
        let _ = input_required(json!({"a": elicit("m", "f", "string"), "b": sample("p", 1), "c": list_roots()}), None);
    }
}

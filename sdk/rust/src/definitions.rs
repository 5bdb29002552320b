//! What a server offers (tools, resources, prompts) and how one call runs:
//! typed handlers erased behind one signature, so the callback server and
//! the stdio server share every step from raw JSON arguments to an answer.
//!
//! A call goes: JSON arguments → serde into the handler's argument type
//! (a mismatch is [`CallError::InvalidArguments`], naming the field) → the
//! handler, on its own task so a panic is an answer rather than a dropped
//! connection → its `Ok` serialized to JSON, its `Err` shown with `Display`
//! as [`CallError::Failed`].

use std::{borrow::Cow, fmt::Display, future::Future, pin::Pin, sync::Arc};

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Handler<In, Out> = Arc<dyn Fn(In) -> BoxFuture<Result<Out, CallError>> + Send + Sync>;

/// Why a call produced no result. Every variant reaches the caller as the
/// tool's (or resource's, or prompt's) own error, never as a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallError {
    /// No tool, resource or prompt of that name.
    Unknown(String),
    /// The arguments do not fit the handler's argument type.
    InvalidArguments(String),
    /// The handler returned an error (its `Display` text).
    Failed(String),
    /// The handler panicked; details stay in this process's log.
    Panicked,
}

impl CallError {
    /// What the caller is told.
    pub(crate) fn message(&self) -> String {
        match self {
            CallError::Unknown(what) => what.clone(),
            CallError::InvalidArguments(detail) => format!("invalid arguments: {detail}"),
            CallError::Failed(message) => message.clone(),
            CallError::Panicked => "the handler failed unexpectedly (see the server's log)".into(),
        }
    }
}

/// One argument of a prompt, derived from a field of its argument type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PromptArgumentSpec {
    pub name: String,
    pub description: String,
    pub required: bool,
}

#[derive(Clone)]
pub(crate) struct ToolDef {
    pub name: String,
    pub description: String,
    pub input_schema: Arc<JsonObject>,
    pub handler: Handler<Value, Value>,
}

#[derive(Clone)]
pub(crate) struct ResourceDef {
    pub meta: Resource,
    pub handler: Handler<(), String>,
}

#[derive(Clone)]
pub(crate) struct PromptDef {
    pub name: String,
    pub description: String,
    pub arguments: Vec<PromptArgumentSpec>,
    pub handler: Handler<Value, PromptReply>,
}

/// Everything a server offers, in registration order. Cloning is cheap:
/// handlers and schemas are shared.
#[derive(Clone, Default)]
pub(crate) struct Definitions {
    pub tools: Vec<ToolDef>,
    pub resources: Vec<ResourceDef>,
    pub prompts: Vec<PromptDef>,
}

/// A resource's description: its URI and name, and optionally what it is
/// and its MIME type (`text/plain` unless set). Pass it to
/// [`crate::OmniMcp::resource`] with the function that reads it.
///
/// ```
/// use omnimcp_sdk::Resource;
/// let readme = Resource::new("docs://readme", "Readme")
///     .description("How to use these tools")
///     .mime_type("text/markdown");
/// assert_eq!(readme.uri(), "docs://readme");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    uri: String,
    name: String,
    description: String,
    mime_type: Option<String>,
}

impl Resource {
    /// A resource at `uri` (an absolute URI such as `notes://index`) with a
    /// short human-readable `name`.
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Resource { uri: uri.into(), name: name.into(), description: String::new(), mime_type: None }
    }

    /// What the resource contains, for the model and the marketplace.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// The MIME type of its text (default `text/plain`).
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// The resource's URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The resource's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn description_text(&self) -> &str {
        &self.description
    }

    pub(crate) fn mime(&self) -> &str {
        self.mime_type.as_deref().unwrap_or("text/plain")
    }

    pub(crate) fn declared_mime(&self) -> Option<&str> {
        self.mime_type.as_deref()
    }
}

/// Who speaks a prompt message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The user: what the model is asked.
    User,
    /// The assistant: an answer the conversation starts with.
    Assistant,
}

/// One text message of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptMessage {
    /// Who speaks it.
    pub role: Role,
    /// What is said.
    pub text: String,
}

impl PromptMessage {
    /// A message from the user.
    pub fn user(text: impl Into<String>) -> Self {
        PromptMessage { role: Role::User, text: text.into() }
    }

    /// A message from the assistant.
    pub fn assistant(text: impl Into<String>) -> Self {
        PromptMessage { role: Role::Assistant, text: text.into() }
    }
}

/// What a prompt handler returns: messages and, optionally, a description
/// of this particular rendering. Most handlers return a `String` (one user
/// message) or a `Vec<PromptMessage>` and let `Into` build this.
///
/// ```
/// use omnimcp_sdk::{PromptMessage, PromptReply};
/// let reply = PromptReply::from(vec![PromptMessage::user("Summarise my notes"), PromptMessage::assistant("Which ones?")])
///     .description("A two-turn opener");
/// assert_eq!(reply.messages().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PromptReply {
    description: Option<String>,
    messages: Vec<PromptMessage>,
}

impl PromptReply {
    /// Sets the description shown with this rendering of the prompt.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The messages, in order.
    pub fn messages(&self) -> &[PromptMessage] {
        &self.messages
    }

    /// The callback protocol's and MCP's shape:
    /// `{"description"?, "messages": [{"role", "content": {"type": "text", "text"}}]}`.
    pub(crate) fn to_json(&self) -> Value {
        let messages: Vec<Value> = self
            .messages
            .iter()
            .map(|m| serde_json::json!({"role": m.role, "content": {"type": "text", "text": m.text}}))
            .collect();
        let mut out = serde_json::json!({ "messages": messages });
        if let Some(d) = &self.description {
            out["description"] = Value::String(d.clone());
        }
        out
    }

    pub(crate) fn description_text(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

impl From<String> for PromptReply {
    fn from(text: String) -> Self {
        PromptReply { description: None, messages: vec![PromptMessage::user(text)] }
    }
}

impl From<&str> for PromptReply {
    fn from(text: &str) -> Self {
        PromptReply::from(text.to_string())
    }
}

impl From<PromptMessage> for PromptReply {
    fn from(message: PromptMessage) -> Self {
        PromptReply { description: None, messages: vec![message] }
    }
}

impl From<Vec<PromptMessage>> for PromptReply {
    fn from(messages: Vec<PromptMessage>) -> Self {
        PromptReply { description: None, messages }
    }
}

/// A tool, resource or prompt that takes no arguments: use it as the
/// handler's argument type (`|_: NoArgs| async { ... }`). Its schema is an
/// empty object; any arguments sent are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, JsonSchema)]
pub struct NoArgs {}

/// `1-64` characters of `[A-Za-z0-9_-]`, the platform's rule for server,
/// tool and prompt names (they appear in URLs and as `server.tool`).
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The input schema of an argument type, exactly as rmcp's own `#[tool]`
/// macro derives it. Panics (at registration, like an invalid axum route)
/// when the type is not a JSON object, which MCP requires of arguments.
pub(crate) fn input_schema<A: JsonSchema + 'static>(what: &str) -> Arc<JsonObject> {
    rmcp::handler::server::common::schema_for_input::<A>().unwrap_or_else(|e| {
        panic!("the arguments of {what} must be a struct (a JSON object), but {}: {e}", std::any::type_name::<A>())
    })
}

/// Deserializes arguments, naming the offending field on failure. An absent
/// or `null` arguments value counts as `{}`, so tools with only optional
/// fields can be called bare.
fn parse_arguments<A: DeserializeOwned>(arguments: Value) -> Result<A, CallError> {
    let arguments = if arguments.is_null() { Value::Object(Map::new()) } else { arguments };
    serde_path_to_error::deserialize(arguments).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        CallError::InvalidArguments(if path == "." { inner.to_string() } else { format!("{path}: {inner}") })
    })
}

/// Runs a handler's future on its own task: a panic inside becomes
/// [`CallError::Panicked`] instead of tearing down the connection (or, on
/// stdio, the whole server).
async fn isolate<T: Send + 'static>(
    what: String,
    future: impl Future<Output = Result<T, CallError>> + Send + 'static,
) -> Result<T, CallError> {
    match tokio::spawn(future).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => {
            tracing::error!(handler = %what, "handler panicked");
            Err(CallError::Panicked)
        }
        Err(_) => Err(CallError::Failed("the handler was cancelled".into())),
    }
}

impl Definitions {
    pub(crate) fn add_tool<A, T, E, F, Fut>(&mut self, name: &str, description: &str, handler: F)
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        T: Serialize + 'static,
        E: Display + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        assert!(valid_name(name), "tool name {name:?}: use 1-64 characters: letters, digits, '_' and '-'");
        assert!(self.tools.iter().all(|t| t.name != name), "the tool name {name:?} is registered twice");
        let input_schema = input_schema::<A>(&format!("tool {name:?}"));
        let handler = Arc::new(handler);
        let erased: Handler<Value, Value> = Arc::new(move |arguments: Value| {
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let args: A = parse_arguments(arguments)?;
                let future = handler(args);
                // The user's future runs to completion, then its output is
                // converted here (so T and E need not be Send).
                match future.await {
                    Ok(value) => serde_json::to_value(value)
                        .map_err(|e| CallError::Failed(format!("the result could not be serialized: {e}"))),
                    Err(e) => Err(CallError::Failed(e.to_string())),
                }
            })
        });
        self.tools.push(ToolDef {
            name: name.to_string(),
            description: description.to_string(),
            input_schema,
            handler: erased,
        });
    }

    pub(crate) fn add_resource<S, E, F, Fut>(&mut self, resource: Resource, handler: F)
    where
        S: Into<String> + 'static,
        E: Display + 'static,
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, E>> + Send + 'static,
    {
        let uri = resource.uri();
        assert!(
            !uri.is_empty() && uri.len() <= 2048 && uri.contains(':'),
            "resource URI {uri:?}: use an absolute URI such as docs://readme"
        );
        assert!((1..=128).contains(&resource.name().len()), "resource {uri:?}: use a name of 1-128 characters");
        assert!(self.resources.iter().all(|r| r.meta.uri() != uri), "the resource {uri:?} is registered twice");
        let handler = Arc::new(handler);
        let erased: Handler<(), String> = Arc::new(move |()| {
            let handler = Arc::clone(&handler);
            Box::pin(async move { handler().await.map(Into::into).map_err(|e| CallError::Failed(e.to_string())) })
        });
        self.resources.push(ResourceDef { meta: resource, handler: erased });
    }

    pub(crate) fn add_prompt<A, R, E, F, Fut>(&mut self, name: &str, description: &str, handler: F)
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        R: Into<PromptReply> + 'static,
        E: Display + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
    {
        assert!(valid_name(name), "prompt name {name:?}: use 1-64 characters: letters, digits, '_' and '-'");
        assert!(self.prompts.iter().all(|p| p.name != name), "the prompt name {name:?} is registered twice");
        let arguments = prompt_arguments(&input_schema::<A>(&format!("prompt {name:?}")));
        let handler = Arc::new(handler);
        let erased: Handler<Value, PromptReply> = Arc::new(move |arguments: Value| {
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let args: A = parse_arguments(arguments)?;
                handler(args).await.map(Into::into).map_err(|e| CallError::Failed(e.to_string()))
            })
        });
        self.prompts.push(PromptDef {
            name: name.to_string(),
            description: description.to_string(),
            arguments,
            handler: erased,
        });
    }

    /// Calls a tool with raw JSON arguments.
    pub(crate) async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, CallError> {
        let tool = self
            .tools
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| CallError::Unknown(format!("no tool named {name:?}")))?;
        isolate(format!("tool {name}"), (tool.handler)(arguments)).await
    }

    /// Reads a resource: its description and its text.
    pub(crate) async fn read_resource(&self, uri: &str) -> Result<(&Resource, String), CallError> {
        let resource = self
            .resources
            .iter()
            .find(|r| r.meta.uri() == uri)
            .ok_or_else(|| CallError::Unknown(format!("no resource at {uri:?}")))?;
        let text = isolate(format!("resource {uri}"), (resource.handler)(())).await?;
        Ok((&resource.meta, text))
    }

    /// Renders a prompt. MCP sends prompt arguments as strings; the
    /// argument type decides what they must be.
    pub(crate) async fn get_prompt(&self, name: &str, arguments: Value) -> Result<PromptReply, CallError> {
        let prompt = self
            .prompts
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| CallError::Unknown(format!("no prompt named {name:?}")))?;
        isolate(format!("prompt {name}"), (prompt.handler)(arguments)).await
    }

    /// The resource's JSON for a read: MCP's `ReadResourceResult`.
    pub(crate) fn resource_contents(resource: &Resource, text: String) -> Value {
        serde_json::json!({"contents": [{"uri": resource.uri(), "mimeType": resource.mime(), "text": text}]})
    }

    /// The deploy request's `tools`, `resources` and `prompts`.
    pub(crate) fn manifest(&self) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
        let tools = self
            .tools
            .iter()
            .map(|t| serde_json::json!({"name": t.name, "description": t.description, "inputSchema": *t.input_schema}))
            .collect();
        let resources = self
            .resources
            .iter()
            .map(|r| {
                let mut v = serde_json::json!({"uri": r.meta.uri(), "name": r.meta.name(), "description": r.meta.description_text()});
                if let Some(mime) = r.meta.declared_mime() {
                    v["mimeType"] = Value::String(mime.to_string());
                }
                v
            })
            .collect();
        let prompts = self
            .prompts
            .iter()
            .map(|p| serde_json::json!({"name": p.name, "description": p.description, "arguments": p.arguments}))
            .collect();
        (tools, resources, prompts)
    }
}

/// A prompt's arguments from its argument type's schema: one per property,
/// described by the field's doc comment, required when the schema says so.
fn prompt_arguments(schema: &JsonObject) -> Vec<PromptArgumentSpec> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return Vec::new() };
    properties
        .iter()
        .map(|(name, property)| PromptArgumentSpec {
            name: name.clone(),
            description: property.get("description").and_then(Value::as_str).unwrap_or_default().to_string(),
            required: required.contains(&name.as_str()),
        })
        .collect()
}

/// How a tool's JSON result reads as MCP content, the same rule the platform
/// applies to callback answers: an object with a `content` array already is
/// a `CallToolResult`; a string is its text; anything else is its JSON text,
/// and an object is also the structured content.
pub(crate) fn to_call_tool_result(value: Value) -> rmcp::model::CallToolResult {
    use rmcp::model::{CallToolResult, ContentBlock};
    if value.get("content").is_some_and(Value::is_array)
        && let Ok(result) = serde_json::from_value::<CallToolResult>(value.clone())
    {
        return result;
    }
    let text: Cow<'_, str> = match &value {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    };
    let mut result = CallToolResult::success(vec![ContentBlock::text(text.into_owned())]);
    if value.is_object() {
        result.structured_content = Some(value);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, JsonSchema)]
    struct Forecast {
        /// The city to forecast.
        city: String,
        /// How many days (1-7).
        days: Option<u8>,
    }

    fn defs() -> Definitions {
        let mut d = Definitions::default();
        d.add_tool("forecast", "Forecast", |a: Forecast| async move {
            if a.city == "Atlantis" {
                return Err(format!("no city named {}", a.city));
            }
            Ok(json!({"city": a.city, "days": a.days.unwrap_or(1)}))
        });
        d.add_tool("boom", "Panics", |_: NoArgs| async move {
            if true {
                panic!("a bug");
            }
            Ok::<_, String>(())
        });
        d.add_prompt("brief", "Brief", |a: Forecast| async move { Ok::<_, String>(format!("Brief me on {}", a.city)) });
        d
    }

    #[tokio::test]
    async fn typed_arguments_results_and_errors() {
        let d = defs();
        assert_eq!(d.call_tool("forecast", json!({"city": "Oslo"})).await, Ok(json!({"city": "Oslo", "days": 1})));
        assert_eq!(
            d.call_tool("forecast", json!({"city": "Atlantis"})).await,
            Err(CallError::Failed("no city named Atlantis".into()))
        );
        let Err(CallError::InvalidArguments(detail)) =
            d.call_tool("forecast", json!({"city": "Oslo", "days": "many"})).await
        else {
            panic!("expected invalid arguments")
        };
        assert!(detail.starts_with("days: invalid type: string \"many\""), "{detail}");
        let Err(CallError::InvalidArguments(detail)) = d.call_tool("forecast", json!({})).await else { panic!() };
        assert!(detail.contains("missing field `city`"), "{detail}");
        assert_eq!(d.call_tool("nope", json!({})).await, Err(CallError::Unknown("no tool named \"nope\"".into())));
    }

    #[tokio::test]
    async fn a_panicking_handler_is_an_error_not_a_crash() {
        assert_eq!(defs().call_tool("boom", Value::Null).await, Err(CallError::Panicked));
    }

    #[test]
    fn schemas_and_prompt_arguments_come_from_the_type() {
        let d = defs();
        let schema = &d.tools[0].input_schema;
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], json!(["city"]));
        assert_eq!(schema["properties"]["city"]["description"], "The city to forecast.");
        assert_eq!(
            d.prompts[0].arguments,
            vec![
                PromptArgumentSpec { name: "city".into(), description: "The city to forecast.".into(), required: true },
                PromptArgumentSpec { name: "days".into(), description: "How many days (1-7).".into(), required: false },
            ]
        );
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn duplicate_tool_names_are_refused() {
        let mut d = defs();
        d.add_tool("forecast", "again", |_: NoArgs| async { Ok::<_, String>(1) });
    }

    #[test]
    #[should_panic(expected = "use 1-64 characters")]
    fn tool_names_follow_the_platform_rule() {
        Definitions::default().add_tool("has space", "", |_: NoArgs| async { Ok::<_, String>(1) });
    }

    #[test]
    #[should_panic(expected = "must be a struct")]
    fn arguments_must_be_an_object() {
        Definitions::default().add_tool("n", "", |n: u32| async move { Ok::<_, String>(n) });
    }

    #[test]
    fn results_become_mcp_content_like_the_platform_does() {
        let text = to_call_tool_result(json!("plain"));
        assert_eq!(serde_json::to_value(&text.content).unwrap(), json!([{"type": "text", "text": "plain"}]));
        assert!(text.structured_content.is_none());
        let object = to_call_tool_result(json!({"tempC": 21}));
        assert_eq!(object.structured_content, Some(json!({"tempC": 21})));
        let passthrough =
            to_call_tool_result(json!({"content": [{"type": "text", "text": "as is"}], "isError": false}));
        assert_eq!(serde_json::to_value(&passthrough.content).unwrap(), json!([{"type": "text", "text": "as is"}]));
    }
}

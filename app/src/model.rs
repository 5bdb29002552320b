//! Data shapes shared by the server, the REST API and the browser: what a
//! page receives from a server function is exactly what `/api` returns.

use serde::{Deserialize, Serialize};

pub use crate::domain::{CallStatus, HealthStatus, HostingType, ServerStatus};

/// A subscription tier and its limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TierView {
    pub id: String,
    pub name: String,
    pub requests_per_minute: i64,
    pub requests_per_month: i64,
    pub max_installations: i64,
    pub can_publish: bool,
    /// Servers a user may publish.
    pub max_servers: i64,
}

/// The signed-in user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub email: String,
    /// `user` or `admin`.
    pub role: String,
    pub tier: TierView,
    /// RFC 3339.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub created_at: String,
}

/// An API key as lists show it: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The key's first characters, e.g. `omni_AbC1234`.
    pub prefix: String,
    /// RFC 3339.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub created_at: String,
    /// RFC 3339; `None` until first used.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub last_used_at: Option<String>,
    /// What the key may reach (`{installations?, tools?}`); `None`: everything.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub scope: Option<serde_json::Value>,
}

/// A webhook secret just rotated from /developer: shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotatedSecret {
    pub server_id: String,
    pub webhook_secret: String,
}

/// A newly created key: the only time its full text is ever shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub meta: ApiKeyView,
    /// The full key (`omni_...`).
    pub key: String,
}

/// The error a server function returns to a page: the same code, message
/// and field as the REST API's error body, so forms can show it next to
/// the field it names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormError {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    /// The HTTP status the server function answers with (the REST API's
    /// for the same error); `None`: 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl FormError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), field: None, status: None }
    }

    /// The same error, answered with this HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The same error, about this form field (a 422).
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.into());
        self.status.get_or_insert(422);
        self
    }

    /// The message if this error is about `field`.
    pub fn for_field(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FormError {}

impl leptos::server_fn::error::FromServerFnError for FormError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Request(_) | E::Response(_) => {
                Self::new("network", "Could not reach the server. Check your connection and try again.")
            }
            E::Args(msg) | E::MissingArg(msg) => Self::new("malformed_request", msg).with_status(400),
            other => Self::new("internal_error", other.to_string()),
        }
    }
}

/// A server as the marketplace lists it (the same fields as `GET /api/servers`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServerSummary {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub version: String,
    pub hosting_type: HostingType,
    pub health_status: HealthStatus,
    pub request_count: i64,
    pub install_count: i64,
}

/// What the marketplace page asks for; every field is optional, as in the
/// page's URL (`/marketplace?q=&category=&hostingType=&sort=&cursor=`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarketplaceQuery {
    pub q: Option<String>,
    pub category: Option<String>,
    pub hosting_type: Option<String>,
    /// `popular` (the default) or `newest`.
    pub sort: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of the marketplace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarketplacePage {
    pub servers: Vec<ServerSummary>,
    pub next_cursor: Option<String>,
    /// Every category of an active server, for the filter.
    pub categories: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolView {
    pub name: String,
    pub description: String,
    pub input_schema: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceView {
    pub uri: String,
    pub name: String,
    pub description: String,
    pub mime_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptView {
    pub name: String,
    pub description: String,
    /// `[{name, description?, required?}]`.
    pub arguments: serde_json::Value,
}

/// A server's page: what it offers, how to configure it, and whether the
/// signed-in user has installed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerDetail {
    #[serde(flatten)]
    pub summary: ServerSummary,
    /// The JSON Schema an installation's config must match; `None`: no config.
    pub config_schema: Option<serde_json::Value>,
    pub tools: Vec<ToolView>,
    pub resources: Vec<ResourceView>,
    pub prompts: Vec<PromptView>,
    /// The caller's installation of this server, if any.
    pub installation_id: Option<String>,
    /// "Connect with GitHub/Slack/Notion", where the operator configured it,
    /// or with the server itself, for a remote server that requires OAuth.
    #[serde(default)]
    pub connect: Option<ConnectOffer>,
}

/// A link that connects an account by OAuth instead of pasting a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectOffer {
    /// The provider's name (`GitHub`).
    pub provider: String,
    /// Where the browser goes (`/connect/github/start?...`).
    pub url: String,
    /// The installation already holds a token.
    pub connected: bool,
}

/// An installation as `GET /api/installations` shows it: secrets only by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallationView {
    pub id: String,
    pub server_id: String,
    pub server_name: String,
    pub server_slug: String,
    pub enabled: bool,
    /// Non-secret settings as saved.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Secret fields that have a value (their values are never returned).
    pub secrets_set: Vec<String>,
    /// An OAuth connection to the (remote) server holds a token.
    #[serde(default)]
    pub connected: bool,
    pub created_at: String,
}

/// An installed server with what the `/installed` page shows beside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstalledServer {
    pub installation: InstallationView,
    pub health_status: HealthStatus,
    pub config_schema: Option<serde_json::Value>,
    /// Tool names, without the slug.
    pub tools: Vec<String>,
    /// The user's calls to this server in the last 30 days, and how many failed.
    pub calls_30d: i64,
    pub errors_30d: i64,
    /// Connect (or reconnect) the account its token comes from.
    #[serde(default)]
    pub connect: Option<ConnectOffer>,
}

/// The `/installed` page: the user's servers and their MCP endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstalledOverview {
    pub servers: Vec<InstalledServer>,
    /// `{public URL}/mcp`.
    pub endpoint_url: String,
}

/// One call from the "try it" panel: what was called, and what happened.
/// The tool and arguments come back so that a plain form post (no
/// JavaScript) can show the form as it was sent, next to the outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TryResult {
    /// `slug.name`, as MCP clients see it.
    pub tool: String,
    /// The arguments' JSON text, as typed.
    pub arguments: String,
    pub outcome: TryOutcome,
}

/// What the pipeline made of a "try it" call. Input mistakes (unknown tool,
/// invalid JSON, arguments that fail the schema) are form errors instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum TryOutcome {
    /// The tool's result, pretty-printed JSON.
    Success { output: String },
    /// The tool ran and reported an error (pretty-printed JSON).
    ToolError { output: String },
    /// Refused before reaching the server: the per-minute rate limit or the
    /// monthly quota (the pipeline's 429). The call did not count.
    Limited {
        message: String,
        retry_after_secs: u64,
        /// When to retry, for people: "14:03 UTC", or "1 Dec" when far off.
        retry_at: String,
    },
    /// The server failed: unreachable, a broken answer (502) or no answer
    /// in time (504). The call is in the request log as an error.
    Unavailable { message: String, timed_out: bool },
}

/// One UTC day of the user's calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DayUsage {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub calls: i64,
    pub errors: i64,
}

/// The user's calls to one server over the last 30 days.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerUsage {
    pub name: String,
    pub slug: String,
    pub calls: i64,
    pub errors: i64,
}

/// One row of the request log, as the user sees it (never arguments).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentRequest {
    /// RFC 3339.
    pub at: String,
    /// The server's slug; empty when the server is gone.
    pub server: String,
    pub tool: Option<String>,
    /// `tool`, `resource`, `prompt`...
    pub request_type: String,
    pub status: CallStatus,
    pub error_class: Option<String>,
    pub response_time_ms: i64,
}

/// An installed server's health, for the dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerHealth {
    pub server_id: String,
    pub name: String,
    pub slug: String,
    pub health_status: HealthStatus,
    pub enabled: bool,
}

/// Everything `/dashboard` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardView {
    pub calls_today: i64,
    pub calls_this_month: i64,
    pub monthly_quota: i64,
    pub calls_30d: i64,
    pub errors_30d: i64,
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    /// The last 30 UTC days, oldest first, today last.
    pub daily: Vec<DayUsage>,
    /// Most used first.
    pub per_server: Vec<ServerUsage>,
    /// Newest first.
    pub recent: Vec<RecentRequest>,
    pub servers: Vec<ServerHealth>,
}

/// A server the signed-in developer published, with its traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployedServer {
    pub summary: ServerSummary,
    /// Where calls go: the callback URL or the remote server's URL.
    pub endpoint: Option<String>,
    /// RFC 3339; `None` until checked.
    pub last_health_check_at: Option<String>,
    pub tools: Vec<String>,
    /// Calls from every user in the last 30 days, and how many failed.
    pub calls_30d: i64,
    pub errors_30d: i64,
    /// Newest first; `server` is the slug, users are never named.
    pub recent: Vec<RecentRequest>,
}

/// The `/developer` page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeveloperView {
    pub servers: Vec<DeployedServer>,
    /// Whether the user's plan may publish.
    pub can_publish: bool,
    /// `{public URL}/api/mcp/deploy`.
    pub deploy_url: String,
}

/// One field of a config form, read from a JSON Schema property.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaField {
    pub name: String,
    pub label: String,
    pub description: String,
    /// `string`, `integer`, `number`, `boolean`, `object`, `array`.
    pub kind: String,
    pub required: bool,
    /// Write-only (`writeOnly: true` or `format: password`): a masked input
    /// whose value is never shown again.
    pub secret: bool,
    /// Allowed values, when the schema lists them.
    pub choices: Vec<String>,
    pub default: Option<serde_json::Value>,
}

/// The fields of an object schema's properties, in the schema's order
/// (serde_json keeps insertion order only with `preserve_order`, so
/// required fields come first, then the rest by name).
pub fn schema_fields(schema: &serde_json::Value) -> Vec<SchemaField> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let Some(props) = schema.get("properties").and_then(|p| p.as_object()) else { return vec![] };
    let mut fields: Vec<SchemaField> = props
        .iter()
        .map(|(name, p)| {
            let kind = match p.get("type") {
                Some(serde_json::Value::String(t)) => t.clone(),
                // ["string", "null"] and the like: the first non-null type.
                Some(serde_json::Value::Array(ts)) => {
                    ts.iter().filter_map(|t| t.as_str()).find(|t| *t != "null").unwrap_or("string").to_string()
                }
                _ => "string".to_string(),
            };
            SchemaField {
                name: name.clone(),
                label: p.get("title").and_then(|t| t.as_str()).map(str::to_string).unwrap_or_else(|| humanize(name)),
                description: p.get("description").and_then(|d| d.as_str()).unwrap_or_default().to_string(),
                kind,
                required: required.contains(&name.as_str()),
                secret: p.get("writeOnly").and_then(|w| w.as_bool()) == Some(true)
                    || p.get("format").and_then(|f| f.as_str()) == Some("password"),
                choices: p
                    .get("enum")
                    .and_then(|e| e.as_array())
                    .map(|e| {
                        e.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect()
                    })
                    .unwrap_or_default(),
                default: p.get("default").cloned(),
            }
        })
        .collect();
    fields.sort_by_key(|f| !f.required);
    fields
}

/// `api_base_url` -> "Api base url".
fn humanize(name: &str) -> String {
    let spaced = name.replace(['_', '-'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_fields_read_types_secrets_and_required() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "region": {"type": "string", "enum": ["eu", "us"]},
                "token": {"type": "string", "title": "Token", "writeOnly": true},
                "max_items": {"type": ["integer", "null"], "default": 10},
            },
            "required": ["token"],
        });
        let fields = schema_fields(&schema);
        assert_eq!(fields[0].name, "token");
        assert!(fields[0].required && fields[0].secret);
        let max = fields.iter().find(|f| f.name == "max_items").unwrap();
        assert_eq!((max.kind.as_str(), max.label.as_str()), ("integer", "Max items"));
        let region = fields.iter().find(|f| f.name == "region").unwrap();
        assert_eq!(region.choices, vec!["eu", "us"]);
        assert!(schema_fields(&serde_json::json!({"type": "object"})).is_empty());
    }
}

/// The REST API's reference, digested from its OpenAPI document for the
/// `/api-reference` page (the document itself is `/api/openapi.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiReference {
    pub description: String,
    pub groups: Vec<ApiGroup>,
    /// The request and response shapes operations name.
    pub shapes: Vec<ApiShape>,
}

/// The operations under one tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiGroup {
    pub tag: String,
    pub description: String,
    pub operations: Vec<ApiOperation>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiOperation {
    /// `GET`, `POST`...
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    /// Needs no credential.
    pub public: bool,
    pub parameters: Vec<ApiField>,
    /// The request body's shape, if it takes one.
    pub body: Option<String>,
    pub responses: Vec<ApiResponse>,
}

/// A parameter or a property: its name, its type as people read it
/// (`string`, `array of ServerSummary`, `one of popular, newest`...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiField {
    pub name: String,
    pub kind: String,
    pub required: bool,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiResponse {
    pub status: String,
    pub description: String,
    /// The body's shape, if it has one.
    pub body: Option<String>,
}

/// A named object shape and its properties.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiShape {
    pub name: String,
    pub description: String,
    pub fields: Vec<ApiField>,
}

/// What the OAuth consent page shows (`/oauth/consent`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentView {
    /// The sealed authorization request, sent back with the form.
    pub request: String,
    /// Binds the form to the signed-in session.
    pub consent_token: String,
    pub client_name: String,
    pub client_id: String,
    /// How the application was identified, in words.
    pub identified_by: String,
    /// The application's home page, when it gave one.
    pub client_uri: Option<String>,
    /// The application's logo (https), when it gave one.
    #[serde(default)]
    pub logo_uri: Option<String>,
    /// Where the user is sent back (host, or scheme for native apps).
    pub redirect_host: String,
    pub user_email: String,
    /// The application asked only to list and read (`mcp:read`).
    pub read_only_requested: bool,
    pub installations: Vec<ConsentInstallation>,
}

/// One of the user's installations, with its tools' public names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentInstallation {
    pub id: String,
    pub name: String,
    pub tools: Vec<String>,
}

/// An application the user authorized (Settings, "Connected applications").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedAppView {
    /// The grant's id.
    pub id: String,
    pub client_name: String,
    pub identified_by: String,
    /// OAuth scopes, space-separated.
    pub scopes: String,
    /// What it reaches, in words.
    pub reach: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; `None` until first used.
    pub last_used_at: Option<String>,
}

/// A builder server in the `/builder` list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuilderSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    /// `draft`, `published` or `unpublished`.
    pub state: String,
    pub published_version: Option<String>,
    pub tools: Vec<String>,
    pub install_count: i64,
    pub request_count: i64,
    /// RFC 3339.
    pub updated_at: String,
    /// What stops it from being tested or published: (field, message).
    pub problems: Vec<(String, String)>,
}

/// One node of a tool's flow, as the editor draws it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowNode {
    /// `start`, `http_request`, `transform` or `return`.
    pub kind: String,
    pub label: String,
    /// What the node says in detail (arguments, URL, mapped names).
    pub detail: String,
}

/// One tool's flow: Start → steps → Return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowView {
    pub tool: String,
    pub description: String,
    pub nodes: Vec<FlowNode>,
    /// A sample of the arguments (JSON), for the test form.
    pub sample_arguments: String,
}

/// A builder server in its editor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuilderDetail {
    pub summary: BuilderSummary,
    /// The draft definition, pretty-printed JSON (also the export).
    pub definition: String,
    pub flows: Vec<FlowView>,
    /// Declared secrets and whether each has a value.
    pub secrets: Vec<(String, bool)>,
    /// Declared settings (their names), for the test form.
    pub settings: Vec<String>,
    /// Published versions, newest first: (version, RFC 3339).
    pub versions: Vec<(String, String)>,
    /// The marketplace page, once published.
    pub server_url: Option<String>,
}

/// One request a test sent, and its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeView {
    pub step: String,
    pub method: String,
    /// Secrets masked.
    pub url: String,
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    /// The response, pretty-printed.
    pub response: String,
}

/// A test run of a builder tool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuilderTestView {
    pub tool: String,
    pub is_error: bool,
    /// The tool result as a client gets it, pretty-printed.
    pub result: String,
    pub exchanges: Vec<ExchangeView>,
    pub elapsed_ms: u64,
}

/// An OpenAPI document's operations, to choose from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportPreviewView {
    pub title: String,
    pub base_url: Option<String>,
    /// (tool name, method, path, summary).
    pub operations: Vec<(String, String, String, String)>,
    pub problems: Vec<String>,
}

//! Official MCP servers, built into the `omnimcp` binary and run by the
//! platform as child processes (`omnimcp official <name>`, MCP over stdio).
//! Each is seeded into the registry as a platform-hosted server on start.

pub mod calculator;
pub mod expr;
pub mod github;
mod http;
pub mod notion;
pub mod slack;
pub mod weather;

use std::collections::HashMap;

use rmcp::{
    ServiceExt,
    handler::server::router::tool::ToolRouter,
    model::{CallToolResult, ContentBlock},
    transport::stdio,
};
use serde_json::{Value, json};

/// Slugs no developer's server gets: the official servers', those planned
/// (from the MCP project's reference servers the seed names), and the
/// platform's own words. An official server added in a later release
/// starts under its slug instead of colliding with a developer's.
pub const RESERVED_SLUGS: &[&str] = &[
    // Official now.
    "calculator",
    "weather",
    "github",
    "slack",
    "notion",
    // Planned, and the MCP project's reference servers.
    "filesystem",
    "fetch",
    "git",
    "gitlab",
    "memory",
    "time",
    "postgres",
    "sqlite",
    "brave-search",
    "google-drive",
    "google-maps",
    "puppeteer",
    "everything",
    "sequential-thinking",
    "sentry",
    "redis",
    "linear",
    "jira",
    "confluence",
    "stripe",
    "email",
    "calendar",
    // The platform's own.
    "omnimcp",
    "official",
    "admin",
    "api",
    "mcp",
    "platform",
    "system",
    "builder",
    "marketplace",
    "support",
];

/// Whether a slug is kept for official servers and the platform.
pub fn is_reserved(slug: &str) -> bool {
    RESERVED_SLUGS.contains(&slug)
}

/// An official server as the registry records it.
pub struct OfficialServer {
    pub slug: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub category: &'static str,
    pub tags: &'static [&'static str],
    /// JSON Schema of the installation config (credentials), if any.
    pub config_schema: Option<Value>,
    /// Environment variables the child gets, from config fields.
    pub env_from_config: &'static [(&'static str, &'static str)],
    /// Stateless, with nothing of a user's in it: installations share one
    /// process (see `LaunchSpec::shareable`).
    pub shareable: bool,
    /// The tools, as `(name, description, input schema)`.
    pub tools: Vec<(String, String, Value)>,
}

/// `(name, description, input schema)` of every tool of a router.
pub fn definitions<S: Send + Sync + 'static>(router: ToolRouter<S>) -> Vec<(String, String, Value)> {
    router
        .list_all()
        .into_iter()
        .map(|t| {
            (
                t.name.to_string(),
                t.description.map(|d| d.to_string()).unwrap_or_default(),
                Value::Object(t.input_schema.as_ref().clone()),
            )
        })
        .collect()
}

/// What every official tool returns.
pub type ToolResult = Result<CallToolResult, rmcp::ErrorData>;

/// The tool's own error (the model sees it; the call itself succeeded).
pub fn tool_error(message: impl Into<String>) -> ToolResult {
    Ok(CallToolResult::error(vec![ContentBlock::text(message.into())]))
}

/// A successful result with both a text summary and structured content.
pub fn with_structured(text: String, value: Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(value);
    result
}

/// Every official server.
pub fn catalog() -> Vec<OfficialServer> {
    vec![
        OfficialServer {
            slug: "calculator",
            name: "Calculator",
            description: "Exact decimal arithmetic: + - * / % ^, parentheses, sqrt, abs, round, min, max, ln, exp, pi and e. Never evaluates code.",
            category: "utilities",
            tags: &["math", "official"],
            config_schema: None,
            env_from_config: &[],
            shareable: true,
            tools: calculator::Calculator::tool_definitions(),
        },
        OfficialServer {
            slug: "weather",
            name: "Weather",
            description: "Current conditions and daily forecasts for any place, by name or coordinates, from Open-Meteo.",
            category: "data",
            tags: &["weather", "official"],
            config_schema: None,
            env_from_config: &[],
            shareable: true,
            tools: weather::Weather::tool_definitions(),
        },
        OfficialServer {
            slug: "github",
            name: "GitHub",
            description: "Your repositories and issues: list, read, search, and open issues, with your own token.",
            category: "developer-tools",
            tags: &["git", "issues", "official"],
            config_schema: Some(token_schema("A GitHub personal access token (fine-grained or classic)")),
            env_from_config: &[("GITHUB_TOKEN", "token")],
            shareable: false,
            tools: github::GitHub::tool_definitions(),
        },
        OfficialServer {
            slug: "slack",
            name: "Slack",
            description: "List channels, read their history and post messages, with your workspace's bot token.",
            category: "communication",
            tags: &["chat", "official"],
            config_schema: Some(token_schema("A Slack bot token (xoxb-...)")),
            env_from_config: &[("SLACK_BOT_TOKEN", "token")],
            shareable: false,
            tools: slack::Slack::tool_definitions(),
        },
        OfficialServer {
            slug: "notion",
            name: "Notion",
            description: "Search, read and create pages shared with your Notion integration.",
            category: "productivity",
            tags: &["notes", "docs", "official"],
            config_schema: Some(token_schema("A Notion internal integration secret")),
            env_from_config: &[("NOTION_TOKEN", "token")],
            shareable: false,
            tools: notion::Notion::tool_definitions(),
        },
    ]
}

/// The config schema of servers that need one token.
fn token_schema(description: &str) -> Value {
    json!({
        "type": "object",
        "properties": {"token": {"type": "string", "title": "Token", "description": description, "writeOnly": true, "minLength": 1}},
        "required": ["token"],
        "additionalProperties": false
    })
}

/// The launch spec of an official server: this very binary, resolved when
/// the process starts (so it survives the binary moving). `api_urls` are
/// the platform's `--official-api SLUG.KEY=URL` overrides.
/// With `connect`, the token comes from an OAuth connection
/// ([`crate::oauth::providers`]) instead of the user's typing.
pub fn launch_spec(server: &OfficialServer, api_urls: &[String], connect: bool) -> Value {
    let env: serde_json::Map<String, Value> =
        server.env_from_config.iter().map(|(var, field)| (var.to_string(), json!(field))).collect();
    let mut args = vec!["official".to_string(), server.slug.to_string()];
    let prefix = format!("{}.", server.slug);
    for entry in api_urls {
        if let Some(rest) = entry.strip_prefix(&prefix) {
            args.push("--api".into());
            args.push(rest.to_string());
        }
    }
    let mut spec = json!({ "command": "@self", "args": args, "envFromConfig": env, "shareable": server.shareable });
    if connect {
        spec["connect"] = json!(server.slug);
    }
    spec
}

/// A server's config schema as installs see it: where the token comes from
/// a connection, typing one is optional (an installation without one is
/// asked to connect on its first call).
pub fn schema_for(mut schema: Value, connect: bool) -> Value {
    if connect && let Some(object) = schema.as_object_mut() {
        object.remove("required");
    }
    schema
}

/// Runs an official server over stdio until the client goes away. `apis`
/// are `KEY=URL` overrides of its API base URLs.
pub async fn run(name: &str, apis: &[String]) -> anyhow::Result<()> {
    let mut urls = HashMap::new();
    for entry in apis {
        let (key, url) = entry.split_once('=').ok_or_else(|| anyhow::anyhow!("--api takes KEY=URL, got {entry:?}"))?;
        urls.insert(key.to_string(), url.to_string());
    }
    match name {
        "calculator" => calculator::Calculator::new().serve(stdio()).await?.waiting().await?,
        "weather" => {
            weather::Weather::new(urls.remove("geocoding"), urls.remove("forecast"))
                .serve(stdio())
                .await?
                .waiting()
                .await?
        }
        "github" => github::GitHub::new(urls.remove("api")).serve(stdio()).await?.waiting().await?,
        "slack" => slack::Slack::new(urls.remove("api")).serve(stdio()).await?.waiting().await?,
        "notion" => notion::Notion::new(urls.remove("api")).serve(stdio()).await?.waiting().await?,
        other => {
            anyhow::bail!("no official server named {other:?} (known: calculator, weather, github, slack, notion)")
        }
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_official_slug_is_reserved() {
        for server in catalog() {
            assert!(is_reserved(server.slug), "{} is not reserved", server.slug);
        }
        assert!(!is_reserved("calculator-3fa2c1"));
    }
}

//! Official MCP servers, built into the `omnimcp` binary and run by the
//! platform as child processes (`omnimcp official <name>`, MCP over stdio).
//! Each is seeded into the registry as a platform-hosted server on start.

pub mod calculator;
pub mod expr;

use rmcp::{ServiceExt, transport::stdio};
use serde_json::{Value, json};

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
    /// The tools, as `(name, description, input schema)`.
    pub tools: Vec<(String, String, Value)>,
}

/// Every official server.
pub fn catalog() -> Vec<OfficialServer> {
    vec![OfficialServer {
        slug: "calculator",
        name: "Calculator",
        description: "Exact decimal arithmetic: + - * / % ^, parentheses, sqrt, abs, round, min, max, ln, exp, pi and e. Never evaluates code.",
        category: "utilities",
        tags: &["math", "official"],
        config_schema: None,
        env_from_config: &[],
        tools: calculator::Calculator::tool_definitions(),
    }]
}

/// The launch spec of an official server: this very binary, resolved when
/// the process starts (so it survives the binary moving).
pub fn launch_spec(server: &OfficialServer) -> Value {
    let env: serde_json::Map<String, Value> =
        server.env_from_config.iter().map(|(var, field)| (var.to_string(), json!(field))).collect();
    json!({ "command": "@self", "args": ["official", server.slug], "envFromConfig": env })
}

/// Runs an official server over stdio until the client goes away.
pub async fn run(name: &str) -> anyhow::Result<()> {
    match name {
        "calculator" => {
            let service = calculator::Calculator::new().serve(stdio()).await?;
            service.waiting().await?;
        }
        other => anyhow::bail!("no official server named {other:?} (known: calculator)"),
    }
    Ok(())
}

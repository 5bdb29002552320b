//! The Calculator: one tool, `evaluate`, over the expression language in
//! [`super::expr`].

use rmcp::{
    ErrorData as McpError, ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
};
use serde::Deserialize;
use serde_json::Value;

use super::expr;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EvaluateArgs {
    /// The expression, e.g. `(2 + 3) * sqrt(16) / 4` or `round(pi, 4)`.
    pub expression: String,
}

#[derive(Clone)]
pub struct Calculator {
    tool_router: ToolRouter<Self>,
}

impl Default for Calculator {
    fn default() -> Self {
        Self::new()
    }
}

#[tool_router]
impl Calculator {
    pub fn new() -> Self {
        Self { tool_router: Self::tool_router() }
    }

    /// `(name, description, input schema)` of every tool, for the registry.
    pub fn tool_definitions() -> Vec<(String, String, Value)> {
        super::definitions(Self::tool_router())
    }

    #[tool(
        description = "Evaluate an arithmetic expression exactly (decimal, not floating point). Supports + - * / % ^, parentheses, unary minus, sqrt, abs, round(x[, digits]), floor, ceil, min, max, ln, log10, exp, and the constants pi and e."
    )]
    async fn evaluate(&self, Parameters(args): Parameters<EvaluateArgs>) -> Result<CallToolResult, McpError> {
        Ok(match expr::evaluate(&args.expression) {
            Ok(value) => CallToolResult::success(vec![ContentBlock::text(value.to_string())]),
            Err(e) => CallToolResult::error(vec![ContentBlock::text(format!("cannot evaluate: {e}"))]),
        })
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Calculator {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("omnimcp-calculator", env!("CARGO_PKG_VERSION")))
            .with_instructions("Use `evaluate` for any arithmetic; results are exact decimals.")
    }
}

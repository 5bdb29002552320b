//! Builder servers: tools defined as data, run in this process (no child
//! process, no callback). The definition was checked and parsed when the
//! registry loaded the server ([`super::Hosting::Builder`]); a call runs
//! its steps through the SSRF guard (`crate::builder::run`).

use std::collections::HashMap;

use rmcp::{ErrorData, model::ServerResult};
use serde_json::{Map, Value};

use super::{CallLimits, Operation, Outcome, UpstreamError};
use crate::{
    builder::{Compiled, run},
    outbound::Outbound,
};

/// Runs one operation on a builder server for one installation.
pub async fn execute(
    outbound: &Outbound,
    compiled: &Compiled,
    secrets: &HashMap<String, String>,
    config: &Map<String, Value>,
    op: Operation,
    limits: CallLimits,
) -> Result<Outcome, UpstreamError> {
    let (tool, arguments) = match op {
        Operation::CallTool { tool, arguments } => (tool, arguments),
        // A builder server has tools only.
        Operation::ReadResource { uri } => {
            return Err(UpstreamError::Rpc(ErrorData::resource_not_found(format!("no such resource: {uri}"), None)));
        }
        Operation::GetPrompt { name, .. } => {
            return Err(UpstreamError::Rpc(ErrorData::invalid_params(format!("no such prompt: {name}"), None)));
        }
        other => return super::beyond_the_basics(&other).expect("the other operations"),
    };
    let Some(compiled_tool) = compiled.tools.get(&tool) else {
        return Err(UpstreamError::Rpc(ErrorData::invalid_params(format!("no such tool: {tool}"), None)));
    };
    let empty = Map::new();
    let inputs = run::Inputs {
        args: arguments.as_object().unwrap_or(&empty),
        config,
        secrets,
        secret_settings: &compiled.secret_settings,
    };
    match tokio::time::timeout(limits.max, run::run(outbound, compiled_tool, &inputs)).await {
        Ok(done) => Ok(Outcome::Mcp(ServerResult::CallToolResult(done.result))),
        Err(_) => Err(UpstreamError::Timeout),
    }
}

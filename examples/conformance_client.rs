//! OmniMCP's remote-MCP upstream client, as a program the official MCP
//! conformance suite can drive in its *client* mode (`conformance client
//! --command "conformance_client" --scenario NAME`).
//!
//! The gateway reaches a remote MCP server through
//! [`omnimcp::upstream::remote`] (rmcp's Streamable HTTP client behind our
//! SSRF-guarded HTTP client, the 2026-07-28 era preferred with a fallback
//! to `initialize`) and runs every operation through
//! [`omnimcp::upstream::peer::run_on_peer`]. This program does
//! exactly that against the suite's scenario server, so the suite judges the
//! code the gateway runs, not a stand-in:
//!
//! - every scenario: connect and list what the server offers;
//! - `tools_call`: call `add_numbers` with `{a: 5, b: 3}`;
//! - `sse-retry`: call `test_reconnection`, whose answer arrives after the
//!   server closes the stream (the client must resume it);
//! - `http-invalid-tool-headers`: call `valid_tool`, listed beside tools
//!   whose header declarations are malformed (those must be left out, the
//!   valid one kept).
//!
//! Usage: `conformance_client URL` with the scenario in
//! `MCP_CONFORMANCE_SCENARIO` (the suite sets both). Loopback and plain HTTP
//! are allowed here because the suite's servers are on `localhost`; the
//! platform refuses both unless configured. The suite's servers listen on
//! every interface, so tests run it inside `unshare -n`.

use std::{process::ExitCode, time::Duration};

use omnimcp::{
    db::User,
    identity::{AuthMethod, Principal},
    outbound::{Outbound, OutboundPolicy},
    upstream::{CallContext, Operation, Outcome, remote::RemoteClients},
};
use rmcp::model::ServerResult;
use serde_json::json;
use uuid::Uuid;

/// A scenario's calls are short, but may report progress.
const LIMITS: omnimcp::upstream::CallLimits =
    omnimcp::upstream::CallLimits { idle: Duration::from_secs(60), max: Duration::from_secs(300) };

#[tokio::main]
async fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: conformance_client URL (scenario in MCP_CONFORMANCE_SCENARIO)");
        return ExitCode::from(2);
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let outbound = Outbound::new(OutboundPolicy {
        allow_http: true,
        allow_loopback: true,
        timeout: Duration::from_secs(30),
        ..OutboundPolicy::default()
    });
    let remote = RemoteClients::new(None);
    // The call's context, as the REST door would build it for a user.
    let user = User {
        id: Uuid::nil(),
        email: "conformance@example.invalid".into(),
        role: "user".into(),
        subscription_tier: "free".into(),
        created_at: chrono::Utc::now(),
    };
    let ctx = CallContext::detached(Principal {
        user,
        method: AuthMethod::ApiKey { key_id: Uuid::nil() },
        scope: None,
        may_call_tools: true,
    });
    let call = match scenario.as_str() {
        "tools_call" => Some(("add_numbers", json!({ "a": 5, "b": 3 }))),
        "sse-retry" => Some(("test_reconnection", json!({}))),
        "http-invalid-tool-headers" => Some(("valid_tool", json!({}))),
        _ => None,
    };
    // Listing first, over a connection of its own, as the registry does
    // when a remote server is deployed.
    match RemoteClients::discover(&outbound, &url).await {
        Ok(catalog) => {
            eprintln!("{} tools: {:?}", catalog.tools.len(), catalog.tools.iter().map(|t| &t.name).collect::<Vec<_>>())
        }
        Err(e) => {
            eprintln!("discovery failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Some((tool, arguments)) = call {
        if scenario == "sse-retry" {
            // The scenario takes the first GET after the call's stream closes
            // for the client's reconnection. rmcp opens its standalone GET
            // stream on its own task right after the handshake; when that
            // GET lands after the call, the scenario mistakes it for an early
            // reconnection without Last-Event-ID. Connect first, let the
            // standalone stream open, then call.
            if let Err(e) = remote.connect(&outbound, Uuid::nil(), Uuid::nil(), &url, ctx.era).await {
                eprintln!("connecting failed: {e}");
                return ExitCode::FAILURE;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let op = Operation::CallTool { tool: tool.to_string(), arguments };
        match remote.execute(&outbound, Uuid::nil(), Uuid::nil(), &url, op, &ctx, LIMITS).await {
            Ok(outcome) if outcome.is_tool_error() => {
                eprintln!("{tool} failed: {outcome:?}");
                return ExitCode::FAILURE;
            }
            Ok(Outcome::Mcp(ServerResult::CallToolResult(result))) => eprintln!("{tool}: {:?}", result.content),
            Ok(other) => {
                eprintln!("{tool}: not a tool result: {other:?}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("{tool}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

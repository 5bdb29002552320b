//! The REST door to the call pipeline, the seed's `POST /mcp/call
//! {serverId, toolName, arguments}` and `POST /mcp/resource {serverId,
//! uri}`: the same resolver and pipeline as `/mcp`, for callers that are
//! not MCP clients.
//!
//! **Era.** A REST caller cannot take part in an MCP conversation, so its
//! calls speak the 2026-07-28 era upstream ([`CallContext::detached`]): that
//! era has no server-to-client requests, and what a server says during the
//! call is dropped. A server that needs the client's input (an
//! input-required result) gets a 409 saying the call needs an MCP client.
//!
//! Answers are `{"success": true, "result": ...}`, or `{"success": false,
//! "error": ...}` when the tool itself failed, with `X-RateLimit-*`
//! headers; the gateway's refusals use the API's error shape and statuses.

use axum::{
    Json,
    extract::State,
    http::HeaderValue,
    response::{IntoResponse, Response},
};
use rmcp::model::ServerResult;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{
    api::ApiJson,
    auth::Principal,
    error::ApiResult,
    gateway::{GatewayError, RateInfo, ServerRef},
    state::AppState,
    upstream::{CallContext, CallbackAnswer, Outcome, UpstreamError},
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallBody {
    server_id: String,
    tool_name: String,
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceBody {
    server_id: String,
    uri: String,
}

/// `POST /mcp/call`.
pub async fn call(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CallBody>,
) -> ApiResult<Response> {
    let arguments = match body.arguments {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(GatewayError::InvalidArguments {
                field: "arguments".into(),
                message: "the arguments must be a JSON object".into(),
            }
            .into());
        }
    };
    let (outcome, rate) =
        call_tool(&state, principal, &ServerRef::parse(&body.server_id), &body.tool_name, arguments).await?;
    Ok(answer(outcome, rate)?)
}

/// One tool call as the REST door makes it (the pages' "try it" too).
pub async fn call_tool(
    state: &AppState,
    principal: Principal,
    server: &ServerRef,
    tool: &str,
    arguments: Map<String, Value>,
) -> Result<(Outcome, RateInfo), GatewayError> {
    let (target, op) =
        state.gateway.resolve(&principal, |reach| reach.call_server_tool(server, tool, arguments)).await?;
    state.gateway.execute(&CallContext::detached(principal), &target, op).await
}

/// `POST /mcp/resource`: the server's own URI.
pub async fn resource(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ResourceBody>,
) -> ApiResult<Response> {
    let server = ServerRef::parse(&body.server_id);
    let (target, op) =
        state.gateway.resolve(&principal, |reach| reach.read_server_resource(&server, &body.uri)).await?;
    let (outcome, rate) = state.gateway.execute(&CallContext::detached(principal), &target, op).await?;
    Ok(answer(outcome, rate)?)
}

/// What the REST door shows of an outcome: `(success, result or error)`.
pub fn shown(outcome: Outcome) -> Result<(bool, Value), GatewayError> {
    let json = |v: &ServerResult| serde_json::to_value(v).unwrap_or(Value::Null);
    Ok(match outcome {
        Outcome::Callback(CallbackAnswer::Result(v)) => (true, v),
        Outcome::Callback(CallbackAnswer::Error(v)) => (false, v),
        Outcome::Mcp(ServerResult::InputRequiredResult(_)) => {
            return Err(GatewayError::Upstream(UpstreamError::NeedsClient(
                "the server needs input from the client (elicitation or sampling) to go on, which the REST API \
                 cannot give: make this call from an MCP client"
                    .into(),
            )));
        }
        Outcome::Mcp(result @ ServerResult::CallToolResult(_)) => {
            let failed = matches!(&result, ServerResult::CallToolResult(r) if r.is_error == Some(true));
            (!failed, json(&result))
        }
        Outcome::Mcp(result) => (true, json(&result)),
    })
}

/// `{"success": ...}` with the `X-RateLimit-*` headers.
fn answer(outcome: Outcome, rate: RateInfo) -> Result<Response, GatewayError> {
    let (success, value) = shown(outcome)?;
    let body =
        if success { json!({ "success": true, "result": value }) } else { json!({ "success": false, "error": value }) };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(rate.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(rate.remaining.max(0)));
    headers.insert("x-ratelimit-reset", HeaderValue::from(rate.reset_secs));
    Ok(response)
}

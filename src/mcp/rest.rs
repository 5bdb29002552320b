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
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    api::ApiJson,
    auth::Principal,
    error::{ApiResult, ErrorBody},
    gateway::{GatewayError, RateInfo, ServerRef},
    openapi::{BodyRefusals, NotFound, SignedInOnly, Throttled, UpstreamFailures},
    state::AppState,
    upstream::{CallContext, CallbackAnswer, Outcome, UpstreamError},
};

/// One tool call.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallBody {
    /// The installed server's id or slug.
    server_id: String,
    /// The tool's own name (without the `slug.` prefix).
    tool_name: String,
    /// The tool's arguments (an object), checked against its input schema.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    arguments: Option<Value>,
}

/// One resource read.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceBody {
    /// The installed server's id or slug.
    server_id: String,
    /// The server's own URI for the resource.
    uri: String,
}

/// What the REST door answers when the gateway let the call through.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CallAnswer {
    /// `false` when the tool itself reported a failure.
    success: bool,
    /// The MCP result (`CallToolResult`, `ReadResourceResult`) or the
    /// developer's callback answer, when `success`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    result: Option<Value>,
    /// The tool's own error result, when not `success`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    error: Option<Value>,
}

/// Call a tool of an installed server (outside MCP).
#[utoipa::path(post, path = "/mcp/call", tag = "calls",
    request_body = CallBody,
    responses(
        (status = 200, description = "The call reached the server; `success` says how it went.", body = CallAnswer,
            headers(
                ("x-ratelimit-limit" = i64, description = "Calls allowed per minute on the plan"),
                ("x-ratelimit-remaining" = i64, description = "Calls left this minute"),
                ("x-ratelimit-reset" = i64, description = "Seconds until the minute's window resets"),
            )),
        (status = 409, description = "The server needs an MCP client to go on (`needs_mcp_client`).", body = ErrorBody),
        BodyRefusals, SignedInOnly, NotFound, Throttled, UpstreamFailures,
    ))]
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

/// Read a resource of an installed server (outside MCP).
#[utoipa::path(post, path = "/mcp/resource", tag = "calls",
    request_body = ResourceBody,
    responses(
        (status = 200, description = "The resource.", body = CallAnswer, headers(
                ("x-ratelimit-limit" = i64, description = "Calls allowed per minute on the plan"),
                ("x-ratelimit-remaining" = i64, description = "Calls left this minute"),
                ("x-ratelimit-reset" = i64, description = "Seconds until the minute's window resets"),
            )),
        (status = 409, description = "The server needs an MCP client to go on (`needs_mcp_client`).", body = ErrorBody),
        BodyRefusals, SignedInOnly, NotFound, Throttled, UpstreamFailures,
    ))]
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
    let body = if success {
        CallAnswer { success, result: Some(value), error: None }
    } else {
        CallAnswer { success, result: None, error: Some(value) }
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(rate.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(rate.remaining.max(0)));
    headers.insert("x-ratelimit-reset", HeaderValue::from(rate.reset_secs));
    Ok(response)
}

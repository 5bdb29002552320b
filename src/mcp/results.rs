//! A server's answer as the MCP result of the method that asked: MCP
//! upstreams' results pass through as rmcp parsed them (every 2026-era
//! result is marked complete, which handshake-era servers do not send);
//! a developer callback's answer becomes the result it stands for.

use rmcp::{
    ErrorData,
    model::{
        CallToolResponse, CallToolResult, CompleteResult, ContentBlock, GetPromptResponse, GetPromptResult,
        ListResourcesResult, ReadResourceResponse, ReadResourceResult, ResourceContents, ResultType, ServerResult,
    },
};
use serde_json::Value;

use crate::{
    gateway::GatewayError,
    upstream::{CallbackAnswer, Era, Outcome, UpstreamError},
};

/// The server answered with something that is not a result of this method.
fn wrong_shape(method: &str, era: Era) -> ErrorData {
    let why = format!("the server answered {method} with something else");
    GatewayError::Upstream(UpstreamError::BadResponse(why)).to_rpc(era)
}

/// A callback's failure on a method without a tool result's `isError`.
fn refused(method: &str, error: &Value, era: Era) -> ErrorData {
    let why = format!("the server could not answer {method}: {}", text(error));
    GatewayError::Upstream(UpstreamError::Unavailable(why)).to_rpc(era)
}

/// A JSON value as text: strings as they are, anything else as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn call_tool(outcome: Outcome, era: Era) -> Result<CallToolResponse, ErrorData> {
    match outcome {
        Outcome::Mcp(ServerResult::CallToolResult(mut result)) => {
            result.result_type = Some(ResultType::COMPLETE);
            Ok(CallToolResponse::Complete(result))
        }
        Outcome::Mcp(ServerResult::InputRequiredResult(required)) => Ok(CallToolResponse::InputRequired(required)),
        // The caller's handler gives the task the id the client knows it by.
        Outcome::Mcp(ServerResult::CreateTaskResult(task)) => Ok(CallToolResponse::Task(task)),
        Outcome::Mcp(_) => Err(wrong_shape("tools/call", era)),
        // A callback's result becomes text, and structured content when
        // it is an object; its error is the tool's error, as text.
        Outcome::Callback(CallbackAnswer::Result(value)) => {
            let mut result = CallToolResult::success(vec![ContentBlock::text(text(&value))]);
            if value.is_object() {
                result.structured_content = Some(value);
            }
            Ok(CallToolResponse::Complete(result))
        }
        Outcome::Callback(CallbackAnswer::Error(error)) => {
            Ok(CallToolResponse::Complete(CallToolResult::error(vec![ContentBlock::text(text(&error))])))
        }
    }
}

/// A read's contents, under the URI the client asked for where the server
/// answered with its own.
pub fn read_resource(
    outcome: Outcome,
    server_uri: &str,
    public_uri: &str,
    era: Era,
) -> Result<ReadResourceResponse, ErrorData> {
    let mut result = match outcome {
        Outcome::Mcp(ServerResult::ReadResourceResult(result)) => result,
        Outcome::Mcp(ServerResult::InputRequiredResult(required)) => {
            return Ok(ReadResourceResponse::InputRequired(required));
        }
        Outcome::Mcp(_) => return Err(wrong_shape("resources/read", era)),
        // A callback may answer MCP contents, or anything, which becomes
        // one text content.
        Outcome::Callback(CallbackAnswer::Result(value)) => serde_json::from_value::<ReadResourceResult>(value.clone())
            .unwrap_or_else(|_| ReadResourceResult::new(vec![ResourceContents::text(text(&value), server_uri)])),
        Outcome::Callback(CallbackAnswer::Error(error)) => return Err(refused("resources/read", &error, era)),
    };
    for content in &mut result.contents {
        match content {
            ResourceContents::TextResourceContents { uri, .. } | ResourceContents::BlobResourceContents { uri, .. } => {
                if uri == server_uri {
                    *uri = public_uri.to_string();
                }
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
    result.result_type = Some(ResultType::COMPLETE);
    Ok(ReadResourceResponse::Complete(result))
}

/// `resources/directory/read`: the children, renamed from under the
/// server's directory (`server_uri`) to under the one the caller named.
/// A child the server lists outside the directory is left out.
pub fn read_directory(
    outcome: Outcome,
    server_uri: &str,
    public_uri: &str,
    era: Era,
) -> Result<ListResourcesResult, ErrorData> {
    let mut result = match outcome {
        Outcome::Mcp(ServerResult::ListResourcesResult(result)) => result,
        _ => return Err(wrong_shape("resources/directory/read", era)),
    };
    result.resources.retain_mut(|child| match child.uri.strip_prefix(server_uri) {
        Some(rest) if rest.starts_with('/') => {
            child.uri = format!("{public_uri}{rest}");
            true
        }
        _ => false,
    });
    Ok(result)
}

pub fn get_prompt(outcome: Outcome, era: Era) -> Result<GetPromptResponse, ErrorData> {
    let mut result = match outcome {
        Outcome::Mcp(ServerResult::GetPromptResult(result)) => result,
        Outcome::Mcp(ServerResult::InputRequiredResult(required)) => {
            return Ok(GetPromptResponse::InputRequired(required));
        }
        Outcome::Mcp(_) => return Err(wrong_shape("prompts/get", era)),
        // A callback answers `{"messages": [...]}`, as MCP's prompts/get.
        Outcome::Callback(CallbackAnswer::Result(value)) => {
            serde_json::from_value::<GetPromptResult>(value).map_err(|_| wrong_shape("prompts/get", era))?
        }
        Outcome::Callback(CallbackAnswer::Error(error)) => return Err(refused("prompts/get", &error, era)),
    };
    result.result_type = Some(ResultType::COMPLETE);
    Ok(GetPromptResponse::Complete(result))
}

pub fn complete(outcome: Outcome, era: Era) -> Result<CompleteResult, ErrorData> {
    match outcome {
        Outcome::Mcp(ServerResult::CompleteResult(mut result)) => {
            result.result_type = Some(ResultType::COMPLETE);
            Ok(result)
        }
        _ => Err(wrong_shape("completion/complete", era)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn callback_answers_become_tool_results() {
        let ok = call_tool(Outcome::Callback(CallbackAnswer::Result(json!({"t": 1}))), Era::Handshake).unwrap();
        let CallToolResponse::Complete(ok) = ok else { panic!("complete") };
        assert_eq!(ok.structured_content, Some(json!({"t": 1})));
        assert_ne!(ok.is_error, Some(true));
        // An error shaped like JSON-RPC's is still the tool's error.
        let rpc_like = json!({"code": -32601, "message": "nope"});
        let err = call_tool(Outcome::Callback(CallbackAnswer::Error(rpc_like)), Era::Handshake).unwrap();
        let CallToolResponse::Complete(err) = err else { panic!("complete") };
        assert_eq!(err.is_error, Some(true));
    }

    #[test]
    fn reads_answer_under_the_clients_uri() {
        let contents = json!({"contents": [{"uri": "notes://1", "text": "hi"}]});
        let outcome = Outcome::Callback(CallbackAnswer::Result(contents));
        let ReadResourceResponse::Complete(read) =
            read_resource(outcome, "notes://1", "omnimcp://n/notes%3A%2F%2F1", Era::Stateless).unwrap()
        else {
            panic!("complete")
        };
        let ResourceContents::TextResourceContents { uri, .. } = &read.contents[0] else { panic!("text") };
        assert_eq!(uri, "omnimcp://n/notes%3A%2F%2F1");
    }
}

//! The gateway's errors and their one mapping to each wire: JSON-RPC for
//! `/mcp` ([`GatewayError::to_rpc`]) and HTTP for the REST door and the
//! pages (`From<GatewayError> for ApiError`, in [`crate::error`]).
//!
//! An upstream's own JSON-RPC error travels typed
//! ([`UpstreamError::Rpc`]) and goes back to an MCP client unchanged. The
//! gateway's own failures each have a code of their own ([`codes`]): the
//! ones the MCP specification defines where it defines one (-32602 for an
//! unknown tool, prompt or, in 2026-07-28, resource; -32002 for an unknown
//! resource before), and otherwise codes outside the range JSON-RPC
//! reserves (-32768 to -32000): the 2026-07-28 specification forbids
//! emitting undefined codes in -32020..-32099, calls -32000..-32019 legacy,
//! and asks for new codes outside the reserved range.

use rmcp::{ErrorData, model::ErrorCode};
use serde_json::json;

use crate::upstream::{Era, UpstreamError};

/// The JSON-RPC error codes `/mcp` answers with.
pub mod codes {
    /// JSON-RPC's "invalid params": unknown tool or prompt, arguments that
    /// fail the schema, an unknown resource in 2026-07-28 (SEP-2164).
    pub const INVALID_PARAMS: i32 = -32602;
    /// MCP's "resource not found" before 2026-07-28.
    pub const RESOURCE_NOT_FOUND: i32 = -32002;
    /// The server could not be reached, failed, broke a limit of its
    /// sandbox, or answered something that is not MCP.
    pub const UPSTREAM_FAILED: i32 = -31001;
    /// The server did not answer in time.
    pub const UPSTREAM_TIMEOUT: i32 = -31002;
    /// The caller's rate limit or monthly quota is used up;
    /// `data.retryAfterSeconds` says when to retry.
    pub const RATE_LIMITED: i32 = -31003;
    /// The server cannot be called as it is registered (a tool schema that
    /// does not compile, a row without what its kind needs).
    pub const SERVER_MISCONFIGURED: i32 = -31004;
    /// The installation is disabled.
    pub const DISABLED: i32 = -31005;
    /// The request was cancelled by the client (the specification defines
    /// no code; the client has stopped listening anyway).
    pub const CANCELLED: i32 = -31006;
    /// MCP's "URL elicitation required" (2025-11-25): the call needs the
    /// user to do something at a URL first (here: connect an account);
    /// `data.elicitations` carries it.
    pub const URL_ELICITATION_REQUIRED: i32 = -32042;
}

/// Why the gateway did not (or could not) get the server's answer.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No tool of that name among the caller's (or outside their scope).
    #[error("unknown tool: {0}")]
    UnknownTool(String),
    #[error("unknown prompt: {0}")]
    UnknownPrompt(String),
    /// A task id that names no task of the caller's installations.
    #[error("unknown task: {0}")]
    UnknownTask(String),
    #[error("unknown resource: {0}")]
    UnknownResource(String),
    /// `skills/get` of a URI that is no skill the caller can reach.
    #[error("no skill at {0} among your installations")]
    UnknownSkill(String),
    /// `resources/directory/read` of a URI that is no skill directory the
    /// caller can reach.
    #[error("not a directory of a skill you installed: {0}")]
    NotADirectory(String),
    /// A completion reference that names nothing the caller can reach.
    #[error("the reference names no prompt or resource template you installed")]
    UnknownReference,
    /// A server the caller has not installed (it looks exactly like one
    /// that does not exist), or outside their key's scope.
    #[error("no such server among your installations")]
    UnknownServer,
    #[error("this server is disabled in your installations; enable it to call its tools")]
    Disabled,
    /// The arguments do not match the tool's input schema (or a prompt's
    /// required arguments).
    #[error("{field}: {message}")]
    InvalidArguments { field: String, message: String },
    /// The server's registration cannot be used (see
    /// [`codes::SERVER_MISCONFIGURED`]).
    #[error("{0}")]
    Misconfigured(String),
    #[error("rate limit of {limit} request{} a minute reached; retry in {retry_after_secs} s", if *limit == 1 { "" } else { "s" })]
    RateLimited { limit: i64, retry_after_secs: u64 },
    #[error("monthly quota of {limit} requests used up; it renews at the start of next month")]
    QuotaExceeded { limit: i64, retry_after_secs: u64 },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Anything else: logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::db::DbError> for GatewayError {
    fn from(e: crate::db::DbError) -> Self {
        Self::Internal(e.into())
    }
}

impl GatewayError {
    /// A short class for the request log.
    pub fn class(&self) -> &'static str {
        match self {
            Self::UnknownTool(_)
            | Self::UnknownPrompt(_)
            | Self::UnknownTask(_)
            | Self::UnknownResource(_)
            | Self::UnknownSkill(_)
            | Self::NotADirectory(_)
            | Self::UnknownReference
            | Self::UnknownServer => "not_found",
            Self::Disabled => "disabled",
            Self::InvalidArguments { .. } => "invalid_field",
            Self::Misconfigured(_) => "server_misconfigured",
            Self::RateLimited { .. } | Self::QuotaExceeded { .. } => "rate_limited",
            Self::Upstream(e) => e.class(),
            Self::Internal(_) => "internal_error",
        }
    }

    /// Seconds until a refused call may be retried (limits only).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs, .. } | Self::QuotaExceeded { retry_after_secs, .. } => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }

    /// The JSON-RPC error for a client of `era`: the only place a gateway
    /// failure becomes one.
    pub fn to_rpc(&self, era: Era) -> ErrorData {
        let error =
            |code: i32, data: Option<serde_json::Value>| ErrorData::new(ErrorCode(code), self.to_string(), data);
        match self {
            Self::UnknownTool(_)
            | Self::UnknownPrompt(_)
            | Self::UnknownTask(_)
            | Self::UnknownReference
            | Self::UnknownServer => error(codes::INVALID_PARAMS, None),
            // SEP-2640 says -32602 in every revision.
            Self::UnknownSkill(uri) | Self::NotADirectory(uri) => {
                error(codes::INVALID_PARAMS, Some(json!({ "uri": uri })))
            }
            // SEP-2164: 2026-07-28 says -32602, earlier revisions -32002;
            // both name the URI.
            Self::UnknownResource(uri) => match era {
                Era::Stateless => error(codes::INVALID_PARAMS, Some(json!({ "uri": uri }))),
                Era::Handshake => error(codes::RESOURCE_NOT_FOUND, Some(json!({ "uri": uri }))),
            },
            Self::InvalidArguments { field, .. } => error(codes::INVALID_PARAMS, Some(json!({ "field": field }))),
            Self::Disabled => error(codes::DISABLED, None),
            Self::Misconfigured(_) => error(codes::SERVER_MISCONFIGURED, None),
            Self::RateLimited { retry_after_secs, .. } | Self::QuotaExceeded { retry_after_secs, .. } => {
                error(codes::RATE_LIMITED, Some(json!({ "retryAfterSeconds": retry_after_secs })))
            }
            Self::Upstream(UpstreamError::Rpc(e)) => e.clone(),
            Self::Upstream(UpstreamError::Timeout) => error(codes::UPSTREAM_TIMEOUT, None),
            Self::Upstream(UpstreamError::Cancelled) => error(codes::CANCELLED, None),
            Self::Upstream(UpstreamError::NeedsClient(_)) => error(ErrorCode::INVALID_REQUEST.0, None),
            // A client that supports URL elicitation shows the URL and
            // retries when the user is done; any other shows the message,
            // which names the URL too.
            Self::Upstream(UpstreamError::ConnectionRequired { provider, url }) => error(
                codes::URL_ELICITATION_REQUIRED,
                Some(json!({"elicitations": [{
                    "mode": "url",
                    "elicitationId": uuid::Uuid::new_v4().to_string(),
                    "url": url,
                    "message": format!("Connect your {provider} account to OmniMCP to use this server."),
                }]})),
            ),
            Self::Upstream(
                UpstreamError::Unavailable(_)
                | UpstreamError::BadResponse(_)
                | UpstreamError::LimitExceeded(_)
                | UpstreamError::AuthRequired(_),
            ) => error(codes::UPSTREAM_FAILED, None),
            Self::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error in an MCP request");
                ErrorData::new(
                    ErrorCode::INTERNAL_ERROR,
                    "internal error; the request id identifies it in the server's logs",
                    None,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_own_code() {
        let code = |e: GatewayError| e.to_rpc(Era::Handshake).code.0;
        let distinct = [
            code(GatewayError::UnknownResource("x://y".into())),
            code(GatewayError::RateLimited { limit: 1, retry_after_secs: 3 }),
            code(GatewayError::Upstream(UpstreamError::Unavailable("down".into()))),
            code(GatewayError::Upstream(UpstreamError::Timeout)),
            code(GatewayError::Misconfigured("bad schema".into())),
            code(GatewayError::Disabled),
            code(GatewayError::UnknownTool("t".into())),
        ];
        let mut unique = distinct.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), distinct.len(), "{distinct:?}");
        // The era decides the resource-not-found code (SEP-2164).
        let missing = GatewayError::UnknownResource("x://y".into());
        assert_eq!(missing.to_rpc(Era::Stateless).code.0, codes::INVALID_PARAMS);
        assert_eq!(missing.to_rpc(Era::Stateless).data, Some(json!({"uri": "x://y"})));
        // An upstream's own error goes back as it came.
        let theirs = ErrorData::new(ErrorCode(-32021), "needs sampling", Some(json!({"requiredCapabilities": {}})));
        assert_eq!(GatewayError::Upstream(UpstreamError::Rpc(theirs.clone())).to_rpc(Era::Stateless), theirs);
        assert_eq!(
            GatewayError::RateLimited { limit: 60, retry_after_secs: 2 }.to_rpc(Era::Stateless).data,
            Some(json!({"retryAfterSeconds": 2}))
        );
    }
}

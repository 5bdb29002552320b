//! The REST API's error type and its one mapping to HTTP.
//!
//! [`ApiError`] is the error of the HTTP boundary (the REST API, the REST
//! door to the pipeline, the pages' server functions). The gateway's own
//! errors become one here, in `From<GatewayError>`: the only place a
//! gateway failure gets an HTTP status.
//!
//! Every `/api` failure is rendered as
//! `{"error": {"code": "...", "message": "...", "field": "..."}}` with a
//! precise status. Internal errors are logged with the request id and shown
//! to the client only as a bland message plus that id.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{db::DbError, gateway::GatewayError, upstream::UpstreamError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not valid JSON (or not JSON at all).
    #[error("{0}")]
    Malformed(String),
    /// The request needs a content type we accept.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A field is missing, has the wrong type, or fails validation.
    #[error("{message}")]
    InvalidField { field: String, message: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A unique value already exists (e.g. the email address).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// Throttled; the client may retry after this many seconds.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    /// The client did not send its request in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// The upstream MCP server failed or answered nonsense.
    #[error("{0}")]
    BadGateway(String),
    /// The upstream MCP server did not answer in time.
    #[error("{0}")]
    GatewayTimeout(String),
    /// Anything else: logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidField { field: field.to_string(), message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_request",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::InvalidField { .. } => "invalid_field",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict { code, .. } => code,
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::RequestTimeout(_) => "request_timeout",
            Self::BadGateway(_) => "upstream_error",
            Self::GatewayTimeout(_) => "upstream_timeout",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error; the request id identifies it in the server's logs".into(),
            other => other.to_string(),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        Self::Internal(err.into())
    }
}

impl From<GatewayError> for ApiError {
    fn from(err: GatewayError) -> Self {
        let message = err.to_string();
        match err {
            GatewayError::UnknownTool(_)
            | GatewayError::UnknownPrompt(_)
            | GatewayError::UnknownTask(_)
            | GatewayError::UnknownResource(_)
            | GatewayError::UnknownSkill(_)
            | GatewayError::NotADirectory(_)
            | GatewayError::UnknownReference
            | GatewayError::UnknownServer => Self::NotFound(message),
            GatewayError::Disabled => Self::Forbidden(message),
            GatewayError::InvalidArguments { field, message } => Self::InvalidField { field, message },
            GatewayError::RateLimited { retry_after_secs, .. }
            | GatewayError::QuotaExceeded { retry_after_secs, .. } => {
                Self::TooManyRequests { message, retry_after_secs }
            }
            GatewayError::Upstream(UpstreamError::Timeout) => Self::GatewayTimeout(message),
            GatewayError::Upstream(UpstreamError::NeedsClient(why)) => {
                Self::Conflict { code: "needs_mcp_client", message: why }
            }
            GatewayError::Upstream(UpstreamError::ConnectionRequired { .. }) => {
                Self::Conflict { code: "connection_required", message }
            }
            GatewayError::Misconfigured(_) | GatewayError::Upstream(_) => Self::BadGateway(message),
            GatewayError::Internal(e) => Self::Internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(err) = &self {
            // The span of the request carries its id (see http.rs).
            tracing::error!(error = format!("{err:#}"), "internal error");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.public_message(),
                field: self.field().map(str::to_string),
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        match &self {
            Self::TooManyRequests { retry_after_secs, .. } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::Unauthorized(_) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"omnimcp\""));
            }
            _ => {}
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Every `/api` failure's body (and the REST door's refusals).
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable: `invalid_field`, `not_found`,
    /// `rate_limited`, `email_taken`...
    pub code: String,
    /// For people; never holds a secret value.
    pub message: String,
    /// The request field at fault (`email`, `tools[0].inputSchema`...), for
    /// `invalid_field` and some conflicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

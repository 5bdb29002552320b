//! The SDK's one error type: everything that can go wrong outside a handler
//! (configuration, reaching the platform, serving). Errors inside handlers
//! are not errors of the SDK: they are answered to the caller as tool errors.

/// What went wrong deploying or serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Deploying needs an API key (`omni_...`).
    #[error("no API key: pass one to OmniMcp::new, or set OMNIMCP_API_KEY")]
    MissingApiKey,
    /// Deploying needs the server's name.
    #[error("the server has no name: set one with OmniMcp::name before deploying")]
    MissingName,
    /// The server's name breaks the platform's rule.
    #[error("the server name {0:?} is invalid: use 1-64 characters: letters, digits, '_' and '-'")]
    InvalidName(String),
    /// A local callback server was asked to start without a webhook secret.
    #[error(
        "no webhook secret: deploy first (OmniMcp::deploy), pass it to OmniMcp::webhook_secret, or set \
         OMNIMCP_WEBHOOK_SECRET; for local experiments only, OmniMcp::insecure_no_secret"
    )]
    MissingWebhookSecret,
    /// A URL (the platform's, or a callback URL) does not parse.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The platform answered with an error.
    #[error("the platform refused ({status}{}): {message}", field.as_ref().map(|f| format!(", field {f}")).unwrap_or_default())]
    Platform {
        /// The HTTP status.
        status: u16,
        /// The platform's error code (`invalid_field`, `unauthorized`, ...).
        code: String,
        /// The platform's explanation.
        message: String,
        /// The request field at fault, when the platform names one.
        field: Option<String>,
    },
    /// The platform could not be reached, or answered something unreadable.
    #[error("could not reach the platform: {0}")]
    Http(#[from] reqwest::Error),
    /// Binding or serving a socket failed.
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
    /// [`crate::OmniMcp::run`] was given a command line it does not know.
    #[error("{0}")]
    Usage(String),
    /// The MCP session over stdio failed.
    #[error("the MCP session failed: {0}")]
    Mcp(String),
}

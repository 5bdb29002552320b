//! Data shapes shared by the server, the REST API and the browser: what a
//! page receives from a server function is exactly what `/api` returns.

use serde::{Deserialize, Serialize};

/// A subscription tier and its limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierView {
    pub id: String,
    pub name: String,
    pub requests_per_minute: i64,
    pub requests_per_month: i64,
    pub max_installations: i64,
    pub can_publish: bool,
}

/// The signed-in user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub email: String,
    /// `user` or `admin`.
    pub role: String,
    pub tier: TierView,
    /// RFC 3339.
    pub created_at: String,
}

/// An API key as lists show it: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The key's first characters, e.g. `omni_AbC1234`.
    pub prefix: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; `None` until first used.
    pub last_used_at: Option<String>,
    /// What the key may reach (`{installations?, tools?}`); `None`: everything.
    #[serde(default)]
    pub scope: Option<serde_json::Value>,
}

/// A newly created key: the only time its full text is ever shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub meta: ApiKeyView,
    /// The full key (`omni_...`).
    pub key: String,
}

/// The error a server function returns to a page: the same code, message
/// and field as the REST API's error body, so forms can show it next to
/// the field it names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormError {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

impl FormError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), field: None }
    }

    /// The message if this error is about `field`.
    pub fn for_field(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FormError {}

impl leptos::server_fn::error::FromServerFnError for FormError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Request(_) | E::Response(_) => {
                Self::new("network", "Could not reach the server. Check your connection and try again.")
            }
            E::Args(msg) | E::MissingArg(msg) => Self::new("malformed_request", msg),
            other => Self::new("internal_error", other.to_string()),
        }
    }
}

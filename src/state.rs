//! [`AppState`]: everything a request handler needs, built once at start-up
//! and passed (never global). Cheap to clone: one `Arc` inside.

use std::{ops::Deref, sync::Arc};

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::{
    auth::{throttle::LoginThrottle, token::TokenSigner},
    config::Config,
    crypto::Sealer,
    db::Db,
    gateway::Gateway,
    mcp::McpDoor,
    secrets::Keys,
};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub db: Db,
    /// The platform's keys (JWT signing, master key for data at rest).
    pub keys: Keys,
    pub tokens: TokenSigner,
    /// Encrypts credentials and webhook secrets at rest.
    pub sealer: Arc<Sealer>,
    /// The call path: registry, caches, limits, request log,
    /// notifications, upstreams.
    pub gateway: Arc<Gateway>,
    /// The `/mcp` door's sessions.
    pub mcp: McpDoor,
    pub login_throttle: LoginThrottle,
    /// Registrations per client address (see `--registrations-per-hour`).
    pub registration_throttle: LoginThrottle,
    /// OAuth client registrations per client address.
    pub oauth_registrations: LoginThrottle,
    /// The providers users can connect accounts of (GitHub, Slack, Notion).
    pub providers: crate::oauth::providers::Providers,
    /// Base URL users reach us at, without a trailing slash.
    pub public_url: String,
    /// Session cookies get `Secure` when the public URL is https.
    pub secure_cookies: bool,
    /// Leptos rendering options (site root, bundle name).
    pub leptos: LeptosOptions,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

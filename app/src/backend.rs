//! The seam between pages and the server (compiled with `ssr` only).
//!
//! Server functions live in this crate, but accounts, storage and auth live
//! in the `omnimcp` server crate, which depends on this one. The server
//! implements [`Backend`] and provides it as context; server functions call
//! it with the request's parts. The REST API and the pages therefore share
//! one implementation of every operation.

use std::{collections::HashMap, sync::Arc};

use http::request::Parts;

use crate::model::{
    ApiKeyView, ApiReference, BuilderDetail, BuilderSummary, BuilderTestView, ConnectedAppView, ConsentView,
    CreatedApiKey, DashboardView, DeveloperView, FormError, ImportPreviewView, InstallationView, InstalledOverview,
    MarketplacePage, MarketplaceQuery, RotatedSecret, ServerDetail, TryResult, UserView,
};

/// A signed-in result: the user and the `Set-Cookie` value for the session.
pub struct SignedIn {
    pub user: UserView,
    pub set_cookie: String,
}

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn register(&self, req: &Parts, email: String, password: String) -> Result<SignedIn, FormError>;
    async fn login(&self, req: &Parts, email: String, password: String) -> Result<SignedIn, FormError>;
    /// Ends the request's session; returns the `Set-Cookie` that clears it.
    async fn logout(&self, req: &Parts) -> Result<String, FormError>;
    /// The signed-in user, or `None` for an anonymous request.
    async fn current_user(&self, req: &Parts) -> Result<Option<UserView>, FormError>;
    /// Changes the password (`POST /api/me/password`); every session ends
    /// (and every API key, with `revoke_keys`) and the caller gets a new
    /// session (its `Set-Cookie` in the result).
    async fn change_password(
        &self,
        req: &Parts,
        current: String,
        new: String,
        revoke_keys: bool,
    ) -> Result<SignedIn, FormError>;
    /// Issues a new webhook secret for one of the caller's developer-hosted
    /// servers (`POST /api/servers/{id}/rotate-secret`).
    async fn rotate_webhook_secret(&self, req: &Parts, server_id: String) -> Result<RotatedSecret, FormError>;
    async fn list_api_keys(&self, req: &Parts) -> Result<Vec<ApiKeyView>, FormError>;
    async fn create_api_key(&self, req: &Parts, name: String) -> Result<CreatedApiKey, FormError>;
    async fn revoke_api_key(&self, req: &Parts, id: String) -> Result<(), FormError>;
    /// One page of the marketplace (`GET /api/servers`).
    async fn marketplace(&self, req: &Parts, query: MarketplaceQuery) -> Result<MarketplacePage, FormError>;
    /// A server's page (`GET /api/servers/{id}`) and the caller's installation of it.
    async fn server_detail(&self, req: &Parts, id: String) -> Result<ServerDetail, FormError>;
    /// Installs a server (`POST /api/installations`) with a config form's
    /// text values, read as the server's config schema describes.
    async fn install_server(
        &self,
        req: &Parts,
        server_id: String,
        config: HashMap<String, String>,
    ) -> Result<InstallationView, FormError>;
    /// The user's installations with health and usage, and their endpoint URL.
    async fn installed(&self, req: &Parts) -> Result<InstalledOverview, FormError>;
    /// `PATCH /api/installations/{id}` with a config form's text values
    /// (blank secrets keep their saved values) and/or `enabled`.
    async fn update_installation(
        &self,
        req: &Parts,
        id: String,
        config: Option<HashMap<String, String>>,
        enabled: Option<bool>,
    ) -> Result<InstallationView, FormError>;
    async fn uninstall(&self, req: &Parts, id: String) -> Result<(), FormError>;
    /// The user's usage analytics and the health of their servers.
    /// The REST API's reference (public).
    async fn api_reference(&self) -> Result<ApiReference, FormError>;

    async fn dashboard(&self, req: &Parts) -> Result<DashboardView, FormError>;
    /// The servers the user published, with health and traffic.
    async fn developer(&self, req: &Parts) -> Result<DeveloperView, FormError>;
    /// One tool call through the gateway's pipeline (limits, logging), as
    /// `POST /mcp/call` makes it. A refusal by the limits and a failed
    /// server are outcomes ([`crate::model::TryOutcome`]); other errors are
    /// the form's.
    /// The consent page for a sealed OAuth authorization request; `None`
    /// when nobody is signed in.
    async fn oauth_consent(&self, req: &Parts, request: String) -> Result<Option<ConsentView>, FormError>;
    /// The applications the user authorized with OAuth.
    async fn connected_apps(&self, req: &Parts) -> Result<Vec<ConnectedAppView>, FormError>;
    /// Revokes one: its tokens stop working at once.
    async fn revoke_connected_app(&self, req: &Parts, id: String) -> Result<(), FormError>;
    /// The caller's builder servers (`GET /api/builder/servers`).
    async fn builder_list(&self, req: &Parts) -> Result<Vec<BuilderSummary>, FormError>;
    async fn builder_detail(&self, req: &Parts, id: String) -> Result<BuilderDetail, FormError>;
    /// Creates a draft (`POST /api/builder/servers`); its id.
    async fn builder_create(&self, req: &Parts, name: String, definition: Option<String>) -> Result<String, FormError>;
    /// Saves the draft's definition (JSON text); what still stops it from
    /// being tested or published: (field, message).
    async fn builder_save(
        &self,
        req: &Parts,
        id: String,
        definition: String,
    ) -> Result<Vec<(String, String)>, FormError>;
    /// Sets (or, empty, removes) one of the publisher's secrets.
    async fn builder_secret(&self, req: &Parts, id: String, name: String, value: String) -> Result<(), FormError>;
    /// Runs a draft's tool with sample arguments and settings (JSON text).
    async fn builder_test(
        &self,
        req: &Parts,
        id: String,
        tool: String,
        arguments: String,
        config: String,
    ) -> Result<BuilderTestView, FormError>;
    /// Publishes the draft; the version published.
    async fn builder_publish(&self, req: &Parts, id: String, version: Option<String>) -> Result<String, FormError>;
    async fn builder_unpublish(&self, req: &Parts, id: String) -> Result<(), FormError>;
    /// Deletes it for good (`DELETE /api/builder/servers/{id}`).
    async fn builder_delete(&self, req: &Parts, id: String) -> Result<(), FormError>;
    /// An OpenAPI document's operations (pasted text or a URL).
    async fn builder_import_preview(
        &self,
        req: &Parts,
        document: Option<String>,
        url: Option<String>,
    ) -> Result<ImportPreviewView, FormError>;
    /// A draft from chosen operations; its id.
    async fn builder_import(
        &self,
        req: &Parts,
        document: Option<String>,
        url: Option<String>,
        name: String,
        operations: Vec<String>,
        base_url: Option<String>,
    ) -> Result<String, FormError>;
    async fn try_tool(
        &self,
        req: &Parts,
        server: String,
        tool: String,
        arguments: String,
    ) -> Result<TryResult, FormError>;
}

/// How the server provides the backend to pages and server functions.
pub type SharedBackend = Arc<dyn Backend>;

//! The pages' side of the server: [`WebBackend`] implements the `app`
//! crate's [`Backend`] trait on top of `accounts`, so every server function
//! runs the same code as the matching REST endpoint.

use std::net::SocketAddr;

use app::{
    backend::{Backend, SignedIn},
    model::{ApiKeyView, CreatedApiKey, FormError, UserView},
};
use axum::extract::ConnectInfo;
use http::request::Parts;

use crate::{
    accounts,
    auth::{self, Principal, session_clear_cookie, session_set_cookie},
    error::ApiError,
    state::AppState,
};

pub struct WebBackend(pub AppState);

/// Maps the API error to what a form shows. Internal errors are logged here
/// and reach the page only as a generic message.
fn form_error(err: ApiError) -> FormError {
    if let ApiError::Internal(e) = &err {
        tracing::error!(error = format!("{e:#}"), "internal error in a server function");
    }
    FormError {
        code: err.code().to_string(),
        message: sentence(&err.public_message()),
        field: err.field().map(str::to_string),
    }
}

/// API messages are lower-case fragments ("use at least 10 characters");
/// next to a form field they read better as sentences.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

impl WebBackend {
    async fn principal(&self, req: &Parts) -> Result<Principal, FormError> {
        match auth::authenticate(&self.0, &req.headers).await {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(FormError::new("unauthorized", "Your session has ended. Log in again.")),
            Err(e) => Err(form_error(e)),
        }
    }

    async fn signed_in(&self, signed: accounts::SignedIn) -> Result<SignedIn, FormError> {
        let user = accounts::profile(&self.0, &signed.user).await.map_err(form_error)?;
        Ok(SignedIn { user, set_cookie: session_set_cookie(&self.0, &signed.token) })
    }
}

#[async_trait::async_trait]
impl Backend for WebBackend {
    async fn register(&self, _req: &Parts, email: String, password: String) -> Result<SignedIn, FormError> {
        let signed = accounts::register(&self.0, &email, &password).await.map_err(form_error)?;
        self.signed_in(signed).await
    }

    async fn login(&self, req: &Parts, email: String, password: String) -> Result<SignedIn, FormError> {
        let client = req.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let signed = accounts::login(&self.0, &email, &password, client).await.map_err(form_error)?;
        self.signed_in(signed).await
    }

    async fn logout(&self, req: &Parts) -> Result<String, FormError> {
        // Logging out with an already-dead session still clears the cookie.
        if let Ok(Some(principal)) = auth::authenticate(&self.0, &req.headers).await {
            accounts::logout(&self.0, &principal).await.map_err(form_error)?;
        }
        Ok(session_clear_cookie(&self.0))
    }

    async fn current_user(&self, req: &Parts) -> Result<Option<UserView>, FormError> {
        match auth::authenticate(&self.0, &req.headers).await {
            Ok(Some(p)) => accounts::profile(&self.0, &p.user).await.map(Some).map_err(form_error),
            // An expired or ended session is simply "not signed in" to a page.
            Ok(None) | Err(ApiError::Unauthorized(_)) => Ok(None),
            Err(e) => Err(form_error(e)),
        }
    }

    async fn list_api_keys(&self, req: &Parts) -> Result<Vec<ApiKeyView>, FormError> {
        let p = self.principal(req).await?;
        accounts::list_keys(&self.0, &p.user).await.map_err(form_error)
    }

    async fn create_api_key(&self, req: &Parts, name: String) -> Result<CreatedApiKey, FormError> {
        let p = self.principal(req).await?;
        accounts::create_key(&self.0, &p.user, &name, None).await.map_err(form_error)
    }

    async fn revoke_api_key(&self, req: &Parts, id: String) -> Result<(), FormError> {
        let p = self.principal(req).await?;
        accounts::revoke_key(&self.0, &p.user, &id).await.map_err(form_error)
    }
}

//! OmniMCP as an OAuth client of GitHub, Slack and Notion ("Connect"):
//! the official servers for those services need the user's token; instead
//! of creating and pasting one, the user clicks "Connect with GitHub".
//!
//! An operator turns a provider on with `--connect github=CLIENT_ID:SECRET`
//! (the OAuth app's credentials; `OMNIMCP_CONNECT` in the environment keeps
//! them out of `ps`). Without it the button is absent and the token field
//! works as before. With it, the official server's launch spec names the
//! provider ([`crate::upstream::LaunchSpec::connect`]) and its token field
//! becomes optional: an installation without a token is not started, and a
//! call to it comes back as "connect first, at this URL" (a URL elicitation,
//! `-32042`), which is how a connection is made just in time.
//!
//! The flow: `GET /connect/{provider}/start?server=ID` (or
//! `?installation=ID`) from a signed-in browser seals the user, their
//! session, the target and a PKCE verifier into `state` (ten minutes) and
//! sends the browser to the provider; `GET /connect/{provider}/callback`
//! checks `state` against the session that started (so a callback URL
//! carrying someone else's code cannot plant their account in yours),
//! exchanges the code with the app's secret, and saves the access token as
//! the installation's `token` (sealed like every credential; the
//! installation is created if needed). A refresh token, when the provider
//! issues one, is sealed in `installation_connections` and used by
//! [`spawn_refresher`] before the access token expires; a refresh that
//! fails removes the token, so the next call asks to connect again.
//! Uninstalling revokes the grant at the provider where it has an endpoint
//! for that (GitHub, Slack, Notion).

use std::{collections::HashMap, time::Duration};

use axum::{
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, header},
    response::{IntoResponse, Redirect, Response},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::flow::Form;
use crate::{auth, identity::AuthMethod, secrets::Secret, state::AppState};

const SEAL_STATE: &str = "connect-state";
const STATE_TTL_SECS: i64 = 600;
/// A token expiring within this is refreshed.
const REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// How each provider speaks OAuth (they differ in small ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// Form post, `Accept: application/json`; errors as 200 with `error`.
    GitHub,
    /// Form post; `{ok: false, error}` on failure.
    Slack,
    /// JSON post with HTTP Basic client credentials.
    Notion,
}

/// One provider an operator configured.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Equals the official server's slug.
    pub slug: &'static str,
    pub name: &'static str,
    style: Style,
    authorize_url: String,
    token_url: String,
    revoke_url: Option<String>,
    scope: &'static str,
    client_id: String,
    client_secret: Secret,
}

/// The providers an operator configured, by slug.
#[derive(Debug, Clone, Default)]
pub struct Providers(HashMap<&'static str, Provider>);

impl Providers {
    /// From `--connect PROVIDER=CLIENT_ID:SECRET` entries and
    /// `--connect-url PROVIDER.KEY=URL` overrides (`authorize`, `token`,
    /// `revoke`: for tests, GitHub Enterprise, or a proxy).
    pub fn from_config(entries: &[String], urls: &[String]) -> anyhow::Result<Self> {
        let mut providers = HashMap::new();
        for entry in entries.iter().filter(|e| !e.trim().is_empty()) {
            let (slug, credentials) = entry
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--connect takes PROVIDER=CLIENT_ID:CLIENT_SECRET"))?;
            let (client_id, secret) = credentials
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("--connect {slug}= needs CLIENT_ID:CLIENT_SECRET"))?;
            let (slug, name, style, authorize, token, revoke, scope) = match slug.trim() {
                "github" => (
                    "github",
                    "GitHub",
                    Style::GitHub,
                    "https://github.com/login/oauth/authorize",
                    "https://github.com/login/oauth/access_token",
                    Some(format!("https://api.github.com/applications/{client_id}/grant")),
                    "repo",
                ),
                "slack" => (
                    "slack",
                    "Slack",
                    Style::Slack,
                    "https://slack.com/oauth/v2/authorize",
                    "https://slack.com/api/oauth.v2.access",
                    Some("https://slack.com/api/auth.revoke".to_string()),
                    "channels:read,channels:history,chat:write",
                ),
                "notion" => (
                    "notion",
                    "Notion",
                    Style::Notion,
                    "https://api.notion.com/v1/oauth/authorize",
                    "https://api.notion.com/v1/oauth/token",
                    Some("https://api.notion.com/v1/oauth/revoke".to_string()),
                    "",
                ),
                other => anyhow::bail!("--connect: no provider {other:?} (github, slack, notion)"),
            };
            let url_for = |key: &str, default: String| {
                let prefix = format!("{slug}.{key}=");
                urls.iter().find_map(|u| u.strip_prefix(&prefix).map(str::to_string)).unwrap_or(default)
            };
            providers.insert(
                slug,
                Provider {
                    slug,
                    name,
                    style,
                    authorize_url: url_for("authorize", authorize.into()),
                    token_url: url_for("token", token.into()),
                    revoke_url: revoke.map(|r| url_for("revoke", r)),
                    scope,
                    client_id: client_id.trim().to_string(),
                    client_secret: Secret::new(secret.trim().to_string()),
                },
            );
        }
        Ok(Self(providers))
    }

    pub fn get(&self, slug: &str) -> Option<&Provider> {
        self.0.get(slug)
    }

    pub fn slugs(&self) -> Vec<&'static str> {
        self.0.keys().copied().collect()
    }
}

/// Where a signed-in user starts connecting `provider` for a server.
pub fn start_url(provider: &str, server_id: Uuid) -> String {
    format!("/connect/{provider}/start?server={server_id}")
}

/// What `state` carries through the provider.
#[derive(Serialize, Deserialize)]
struct ConnectState {
    user: Uuid,
    session: Uuid,
    provider: String,
    server: Uuid,
    installation: Option<Uuid>,
    verifier: String,
    expires: i64,
}

/// `GET /connect/{provider}/start`.
pub async fn start(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    if provider == super::remote::PROVIDER {
        return super::remote::start(state, headers, query).await;
    }
    let Some(provider) = state.providers.get(&provider).cloned() else {
        return page_error("This platform has no connection to that service configured.");
    };
    let principal = match auth::authenticate(&state, &headers).await {
        Ok(Some(p)) if !p.is_scoped() => p,
        _ => {
            let next: String =
                url::form_urlencoded::byte_serialize(format!("/connect/{}/start?{query}", provider.slug).as_bytes())
                    .collect();
            return Redirect::to(&format!("/login?next={next}")).into_response();
        }
    };
    let AuthMethod::Session { session_id } = principal.method else {
        return page_error("Sign in with your password to connect an account.");
    };
    let form = Form::parse(query.as_bytes());
    let server = match state.db.server_by_slug(provider.slug).await {
        Ok(Some(server)) => server.id,
        _ => return page_error("That server is not available."),
    };
    let installation = match form.get("installation").map(Uuid::parse_str) {
        None => None,
        Some(Ok(id)) => match state.db.installation(principal.user.id, id).await {
            Ok(Some(inst)) if inst.server_id == server => Some(id),
            _ => return page_error("No such installation among yours."),
        },
        Some(Err(_)) => return page_error("No such installation among yours."),
    };
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let sealed = ConnectState {
        user: principal.user.id,
        session: session_id,
        provider: provider.slug.to_string(),
        server,
        installation,
        verifier: verifier.clone(),
        expires: Utc::now().timestamp() + STATE_TTL_SECS,
    };
    let json = serde_json::to_vec(&sealed).expect("a connect state serializes");
    let state_param = URL_SAFE_NO_PAD.encode(state.sealer.seal(&json, SEAL_STATE));
    let mut url = match url::Url::parse(&provider.authorize_url) {
        Ok(url) => url,
        Err(_) => return page_error("The provider's authorization URL is misconfigured."),
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &provider.client_id);
        q.append_pair("redirect_uri", &callback_url(&state, provider.slug));
        q.append_pair("state", &state_param);
        q.append_pair("response_type", "code");
        if !provider.scope.is_empty() {
            q.append_pair("scope", provider.scope);
        }
        match provider.style {
            Style::Notion => {
                q.append_pair("owner", "user");
            }
            Style::GitHub => {
                q.append_pair("code_challenge", &URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())));
                q.append_pair("code_challenge_method", "S256");
            }
            Style::Slack => {}
        }
    }
    tracing::info!(user_id = %principal.user.id, provider = provider.slug, "connecting an account");
    Redirect::to(url.as_str()).into_response()
}

fn callback_url(state: &AppState, provider: &str) -> String {
    format!("{}/connect/{provider}/callback", state.public_url)
}

fn page_error(message: &str) -> Response {
    super::flow::error_page_titled(axum::http::StatusCode::BAD_REQUEST, "The account could not be connected", message)
}

/// `GET /connect/{provider}/callback`.
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if provider == super::remote::PROVIDER {
        return super::remote::callback(state, headers, query.unwrap_or_default()).await;
    }
    let Some(provider) = state.providers.get(&provider).cloned() else {
        return page_error("This platform has no connection to that service configured.");
    };
    let form = Form::parse(query.unwrap_or_default().as_bytes());
    let opened = form
        .get("state")
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .and_then(|b| state.sealer.open(&b, SEAL_STATE).ok())
        .and_then(|json| serde_json::from_slice::<ConnectState>(&json).ok())
        .filter(|s| s.expires > Utc::now().timestamp() && s.provider == provider.slug);
    let Some(connect) = opened else {
        return page_error("This connection attempt has expired or is not valid. Start again.");
    };
    let principal = match auth::authenticate(&state, &headers).await {
        Ok(Some(p)) => p,
        _ => return page_error("Sign in again, then connect the account again."),
    };
    if principal.user.id != connect.user || principal.method != (AuthMethod::Session { session_id: connect.session }) {
        tracing::warn!(user_id = %principal.user.id, "a connect callback started by another session was refused");
        return page_error("This connection was started in another session. Start again here.");
    }
    if let Some(error) = form.get("error") {
        return page_error(&format!("{} said: {error}.", provider.name));
    }
    let Some(code) = form.get("code") else {
        return page_error("The provider sent no authorization code.");
    };
    let tokens = match exchange(&state, &provider, Grant::Code { code, verifier: &connect.verifier }).await {
        Ok(tokens) => tokens,
        Err(why) => {
            tracing::warn!(provider = provider.slug, error = %why, "a connection's code exchange failed");
            return page_error(&format!("{} refused the connection: {why}", provider.name));
        }
    };
    match save_connection(&state, &principal.user, connect.server, connect.installation, provider.slug, &tokens).await {
        Ok(_) => Redirect::to(&format!("/installed?connected={}", provider.slug)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a connection could not be saved");
            page_error(&format!("The connection could not be saved: {}", e.public_message()))
        }
    }
}

enum Grant<'a> {
    Code { code: &'a str, verifier: &'a str },
    Refresh(&'a str),
}

/// What a provider's token endpoint gave.
#[derive(Debug)]
pub struct Tokens {
    access: String,
    refresh: Option<String>,
    expires_in: Option<i64>,
}

/// One request to the provider's token endpoint, in its style.
async fn exchange(state: &AppState, provider: &Provider, grant: Grant<'_>) -> Result<Tokens, String> {
    let redirect = callback_url(state, provider.slug);
    let mut pairs: Vec<(&str, &str)> = match &grant {
        Grant::Code { code, .. } => {
            vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", &redirect)]
        }
        Grant::Refresh(token) => vec![("grant_type", "refresh_token"), ("refresh_token", token)],
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let body = match provider.style {
        Style::GitHub | Style::Slack => {
            pairs.push(("client_id", &provider.client_id));
            pairs.push(("client_secret", provider.client_secret.expose()));
            if let (Style::GitHub, Grant::Code { verifier, .. }) = (provider.style, &grant) {
                pairs.push(("code_verifier", verifier));
            }
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
        }
        Style::Notion => {
            let basic = STANDARD.encode(format!("{}:{}", provider.client_id, provider.client_secret.expose()));
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Basic {basic}")).map_err(|e| e.to_string())?,
            );
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            let body: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            serde_json::to_vec(&body).map_err(|e| e.to_string())?
        }
    };
    let outbound = &state.gateway.upstreams.outbound;
    let response = outbound
        .send_without_redirects(Method::POST, &provider.token_url, headers, Some(body))
        .await
        .map_err(|e| format!("its token endpoint could not be reached ({e})"))?;
    let answer: Value = serde_json::from_slice(&response.body)
        .map_err(|_| format!("its token endpoint answered HTTP {} without JSON", response.status.as_u16()))?;
    let failed = match provider.style {
        Style::Slack => answer["ok"] != json!(true),
        _ => !response.status.is_success() || answer.get("error").is_some(),
    };
    if failed {
        let error = answer["error"].as_str().unwrap_or("unknown error");
        let description = answer["error_description"].as_str().map(|d| format!(" ({d})")).unwrap_or_default();
        return Err(format!("{error}{description}"));
    }
    let access = answer["access_token"].as_str().filter(|t| !t.is_empty()).ok_or("no access token in the answer")?;
    Ok(Tokens {
        access: access.to_string(),
        refresh: answer["refresh_token"].as_str().map(str::to_string),
        expires_in: answer["expires_in"].as_i64(),
    })
}

/// Saves a connection's tokens: the access token as the installation's
/// `token` (installing the server if the user has not), the refresh token
/// sealed beside it.
async fn save_connection(
    state: &AppState,
    user: &crate::db::User,
    server: Uuid,
    installation: Option<Uuid>,
    provider: &str,
    tokens: &Tokens,
) -> crate::error::ApiResult<Uuid> {
    let existing = match installation {
        Some(id) => Some(id),
        None => state.db.list_installations(user.id).await?.into_iter().find(|i| i.server_id == server).map(|i| i.id),
    };
    let id = match existing {
        Some(id) => {
            set_token(state, user.id, id, Some(&tokens.access)).await?;
            id
        }
        None => {
            let new = crate::installations::NewInstallation {
                server_id: server.to_string(),
                config: Some(json!({"token": tokens.access})),
            };
            crate::installations::install(state, user, new).await?.id
        }
    };
    let refresh = tokens.refresh.as_deref().map(|r| state.sealer.seal(r.as_bytes(), &refresh_aad(id)));
    let expires_at = tokens.expires_in.map(|s| Utc::now() + chrono::Duration::seconds(s));
    state.db.save_connection(id, provider, refresh.as_deref(), state.sealer.current_key_id(), expires_at, None).await?;
    tracing::info!(user_id = %user.id, installation_id = %id, provider, "account connected");
    Ok(id)
}

fn refresh_aad(installation: Uuid) -> String {
    format!("connect-refresh:{installation}")
}

/// Sets (or, with `None`, removes) an installation's `token`, and restarts
/// what runs with the old one.
async fn set_token(state: &AppState, user: Uuid, id: Uuid, token: Option<&str>) -> crate::error::ApiResult<()> {
    let inst = state
        .db
        .installation(user, id)
        .await?
        .ok_or_else(|| crate::error::ApiError::NotFound("no such installation".into()))?;
    let aad = crate::crypto::aad::installation_config(id);
    let mut config = state.sealer.open_config(inst.config_enc.as_deref(), id).map_err(|e| anyhow::anyhow!("{e}"))?;
    match token {
        Some(t) => config.insert("token".into(), json!(t)),
        None => config.remove("token"),
    };
    let sealed = state.sealer.seal(&serde_json::to_vec(&config).map_err(anyhow::Error::from)?, &aad);
    state.db.update_installation(user, id, Some((&sealed, state.sealer.current_key_id())), None).await?;
    state.gateway.caches.installations.remove(&user);
    state.gateway.upstreams.close_installation(id).await;
    Ok(())
}

/// Dynamically registered clients nobody authorized are forgotten this
/// long after they registered.
const UNUSED_CLIENT_TTL: chrono::Duration = chrono::Duration::days(30);

/// Refreshes connections before they expire, every `every`; on the same
/// beat, forgets registered clients nobody ever authorized.
pub fn spawn_refresher(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = refresh_due(&state).await {
                tracing::warn!(error = %e, "refreshing connections failed");
            }
            match state.db.forget_unused_clients(Utc::now() - UNUSED_CLIENT_TTL).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(forgotten = n, "forgot registered OAuth clients nobody authorized"),
                Err(e) => tracing::warn!(error = %e, "forgetting unused OAuth clients failed"),
            }
        }
    })
}

/// One refresh pass: every connection whose access token expires within
/// the margin is refreshed (or, failing that, disconnected).
pub async fn refresh_due(state: &AppState) -> anyhow::Result<()> {
    for due in state.db.connections_due(Utc::now() + REFRESH_MARGIN).await? {
        if due.provider == super::remote::PROVIDER {
            if let Err(e) = super::remote::refresh(state, &due).await {
                tracing::warn!(installation_id = %due.installation_id, error = %e, "refreshing a remote connection failed");
            }
            continue;
        }
        let Some(provider) = state.providers.get(&due.provider) else { continue };
        let refresh = state
            .sealer
            .open(&due.refresh_enc, &refresh_aad(due.installation_id))
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let outcome = match &refresh {
            Some(token) => exchange(state, provider, Grant::Refresh(token)).await,
            None => Err("the refresh token does not open".into()),
        };
        match outcome {
            Ok(tokens) => {
                set_token(state, due.user_id, due.installation_id, Some(&tokens.access)).await?;
                // A provider that does not rotate refresh tokens keeps the old one.
                let refresh = tokens
                    .refresh
                    .or(refresh)
                    .map(|r| state.sealer.seal(r.as_bytes(), &refresh_aad(due.installation_id)));
                let expires_at = tokens.expires_in.map(|s| Utc::now() + chrono::Duration::seconds(s));
                let key = state.sealer.current_key_id();
                state
                    .db
                    .save_connection(due.installation_id, &due.provider, refresh.as_deref(), key, expires_at, None)
                    .await?;
                tracing::info!(installation_id = %due.installation_id, provider = due.provider, "connection refreshed");
            }
            Err(why) => {
                // The user must connect again; the next call says where.
                tracing::warn!(installation_id = %due.installation_id, provider = due.provider, error = %why, "a connection's refresh failed; its token is removed");
                set_token(state, due.user_id, due.installation_id, None).await?;
                state
                    .db
                    .save_connection(
                        due.installation_id,
                        &due.provider,
                        None,
                        state.sealer.current_key_id(),
                        None,
                        None,
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

/// Revokes an installation's connection at its provider (on uninstall),
/// where the provider has an endpoint for it. Best effort: the
/// installation is gone either way.
pub async fn revoke_at_provider(state: &AppState, installation: Uuid, provider: &str, access_token: Option<String>) {
    let (Some(provider), Some(token)) = (state.providers.get(provider), access_token) else { return };
    let Some(url) = &provider.revoke_url else { return };
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let basic = STANDARD.encode(format!("{}:{}", provider.client_id, provider.client_secret.expose()));
    let (method, body) = match provider.style {
        Style::GitHub => {
            if let Ok(v) = HeaderValue::from_str(&format!("Basic {basic}")) {
                headers.insert(header::AUTHORIZATION, v);
            }
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            (Method::DELETE, json!({"access_token": token}).to_string().into_bytes())
        }
        Style::Slack => {
            if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
                headers.insert(header::AUTHORIZATION, v);
            }
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
            (Method::POST, Vec::new())
        }
        Style::Notion => {
            if let Ok(v) = HeaderValue::from_str(&format!("Basic {basic}")) {
                headers.insert(header::AUTHORIZATION, v);
            }
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            (Method::POST, json!({"token": token}).to_string().into_bytes())
        }
    };
    match state.gateway.upstreams.outbound.send_without_redirects(method, url, headers, Some(body)).await {
        Ok(r) => {
            tracing::info!(%installation, provider = provider.slug, status = r.status.as_u16(), "connection revoked at the provider")
        }
        Err(e) => {
            tracing::warn!(%installation, provider = provider.slug, error = %e, "could not revoke a connection at the provider")
        }
    }
}

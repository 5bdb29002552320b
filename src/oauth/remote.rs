//! "Connect" for remote MCP servers that require OAuth: each user signs in
//! to the server's own authorization server, and their installation keeps
//! the token.
//!
//! A remote server is marked `remote_auth = 'oauth'` at deploy when it
//! answers an unauthenticated request with a Bearer challenge. A call to it
//! from an installation without a token (or whose token the server
//! refuses) comes back as "connect first" at
//! `GET /connect/mcp/start?installation=ID` (a URL elicitation, as for
//! GitHub; with `&scope=...` when the server refused a call for want of
//! scope, so the new grant covers it). That page, for the signed-in user:
//!
//! 1. runs discovery ([`super::upstream`]) against the server, through the
//!    SSRF guard;
//! 2. picks who OmniMCP is to that authorization server: our Client ID
//!    Metadata Document (`/oauth/client-metadata.json`, served here) when
//!    the server supports them and this platform is on https, else the
//!    registration OmniMCP made with it before (one per issuer, its secret
//!    sealed), else a new Dynamic Client Registration;
//! 3. seals the user, their session, the target, the PKCE verifier and what
//!    discovery found into `state` (ten minutes) and sends the browser to
//!    the authorization endpoint.
//!
//! `GET /connect/mcp/callback` checks `state` against the session that
//! started, the `iss` parameter (RFC 9207), exchanges the code (with the
//! `resource` indicator), and seals the access token into the installation
//! (`user_mcp_installations.access_token_enc`) and the refresh token into
//! `installation_connections`, with the issuer, token endpoint, scope and
//! resource that refresh it. The installation's sessions are closed so the
//! next call opens one with the new token. A server deployed without a tool
//! list is listed over the new session.

use axum::{
    Json,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::{
    flow::Form,
    upstream::{self, AuthMethod, ClientCredentials, ClientProfile, Discovered, Grant, TokenError},
};
use crate::{
    auth,
    crypto::aad,
    db::{ServerRecord, oauth::UpstreamClient, oauth::UpstreamGrant},
    identity::AuthMethod as SignIn,
    secrets::Secret,
    state::AppState,
};
use app::domain::HostingType;

const SEAL_STATE: &str = "connect-mcp-state";
const STATE_TTL_SECS: i64 = 600;
/// The provider name connections to remote MCP servers are recorded under.
pub const PROVIDER: &str = "mcp";

/// Where the authorization server sends the browser back.
pub fn callback_url(state: &AppState) -> String {
    format!("{}/connect/{PROVIDER}/callback", state.public_url)
}

/// The URL of OmniMCP's Client ID Metadata Document: its client id at
/// authorization servers that accept such documents.
pub fn metadata_url(state: &AppState) -> String {
    format!("{}/oauth/client-metadata.json", state.public_url)
}

/// Where a signed-in user starts connecting a remote server.
pub fn start_url(server_id: Uuid) -> String {
    format!("/connect/{PROVIDER}/start?server={server_id}")
}

/// `GET /oauth/client-metadata.json`: who OmniMCP is, as a client of
/// remote MCP servers' authorization servers.
pub async fn client_metadata(State(state): State<AppState>) -> Response {
    Json(json!({
        "client_id": metadata_url(&state),
        "client_name": "OmniMCP",
        "client_uri": state.public_url,
        "redirect_uris": [callback_url(&state)],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }))
    .into_response()
}

/// What `state` carries through the authorization server.
#[derive(Serialize, Deserialize)]
struct ConnectState {
    user: Uuid,
    session: Uuid,
    server: Uuid,
    installation: Option<Uuid>,
    verifier: String,
    client_id: String,
    discovered: Discovered,
    expires: i64,
}

fn page_error(message: &str) -> Response {
    super::flow::error_page_titled(axum::http::StatusCode::BAD_REQUEST, "The server could not be connected", message)
}

/// `GET /connect/mcp/start?server=ID` or `?installation=ID`.
pub async fn start(state: AppState, headers: HeaderMap, query: String) -> Response {
    let principal = match auth::authenticate(&state, &headers).await {
        Ok(Some(p)) if !p.is_scoped() => p,
        _ => {
            let next: String =
                url::form_urlencoded::byte_serialize(format!("/connect/{PROVIDER}/start?{query}").as_bytes()).collect();
            return Redirect::to(&format!("/login?next={next}")).into_response();
        }
    };
    let SignIn::Session { session_id } = principal.method else {
        return page_error("Sign in with your password to connect a server.");
    };
    let form = Form::parse(query.as_bytes());
    let parse = |name: &str| form.get(name).map(|v| Uuid::parse_str(v).map_err(|_| ()));
    let (server, installation) = match (parse("server"), parse("installation")) {
        (_, Some(Ok(id))) => match state.db.installation(principal.user.id, id).await {
            Ok(Some(inst)) => (inst.server_id, Some(id)),
            _ => return page_error("No such installation among yours."),
        },
        (Some(Ok(id)), None) => (id, None),
        _ => return page_error("Name the server to connect."),
    };
    let record = match remote_server(&state, server).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let url = record.remote_url.clone().unwrap_or_default();
    let outbound = &state.gateway.upstreams.outbound;
    let challenge = match upstream::probe(outbound, &url).await {
        Ok(Some(challenge)) => challenge,
        Ok(None) => return page_error("This server does not ask for sign-in: install it and use it as it is."),
        Err(why) => return page_error(&format!("The server could not be reached: {why}")),
    };
    let mut discovered = match upstream::discover(outbound, &url, &challenge).await {
        Ok(d) => d,
        Err(why) => {
            tracing::warn!(server_id = %server, error = %why, "a remote server's authorization could not be discovered");
            return page_error(&format!("The server's sign-in could not be set up: {why}"));
        }
    };
    // A step-up (the server refused a call for want of scope) names the
    // scope it wants; it is asked for beside the usual (SEP-2350). The
    // authorization server shows the user what is asked either way.
    if let Some(more) = form.get("scope").filter(|s| s.len() <= 1000) {
        discovered.scope = upstream::union_scopes(discovered.scope.as_deref(), Some(more));
    }
    let client = match client_for(&state, &discovered).await {
        Ok(c) => c,
        Err(why) => {
            tracing::warn!(server_id = %server, issuer = discovered.server.issuer, error = %why, "no client identity at a remote server's authorization server");
            return page_error(&format!("OmniMCP could not register with the server's sign-in: {why}"));
        }
    };
    let (verifier, code_challenge) = upstream::pkce();
    let sealed = ConnectState {
        user: principal.user.id,
        session: session_id,
        server,
        installation,
        verifier,
        client_id: client.client_id.clone(),
        discovered,
        expires: Utc::now().timestamp() + STATE_TTL_SECS,
    };
    let json = serde_json::to_vec(&sealed).expect("a connect state serializes");
    let state_param = URL_SAFE_NO_PAD.encode(state.sealer.seal(&json, SEAL_STATE));
    match upstream::authorization_url(
        &sealed.discovered,
        &client.client_id,
        &callback_url(&state),
        &state_param,
        &code_challenge,
    ) {
        Ok(to) => {
            tracing::info!(user_id = %principal.user.id, server_id = %server, issuer = sealed.discovered.server.issuer, "connecting a remote server");
            Redirect::to(&to).into_response()
        }
        Err(why) => page_error(&why),
    }
}

/// A remote MCP server the user may connect.
async fn remote_server(state: &AppState, id: Uuid) -> Result<ServerRecord, Response> {
    match state.db.server(id).await {
        Ok(Some(s)) if s.hosting_type == HostingType::RemoteMcp && s.remote_url.is_some() => Ok(s),
        Ok(Some(_)) => Err(page_error("That server is not a remote MCP server.")),
        _ => Err(page_error("That server is not available.")),
    }
}

/// Who OmniMCP is to a remote server's authorization server (see the
/// module docs), registering when it must.
async fn client_for(state: &AppState, discovered: &Discovered) -> Result<ClientCredentials, String> {
    let server = &discovered.server;
    if server.accepts_metadata_documents && state.public_url.starts_with("https://") {
        return Ok(ClientCredentials { client_id: metadata_url(state), secret: None, method: AuthMethod::None });
    }
    let redirect = callback_url(state);
    if let Some(known) = registered_client(state, &server.issuer).await.filter(|(_, r)| *r == redirect) {
        return Ok(known.0);
    }
    let profile = ClientProfile { name: "OmniMCP", redirect_uri: &redirect, client_uri: Some(&state.public_url) };
    let client =
        upstream::register(&state.gateway.upstreams.outbound, server, &profile, discovered.scope.as_deref()).await?;
    let row = UpstreamClient {
        issuer: server.issuer.clone(),
        client_id: client.client_id.clone(),
        secret_enc: client
            .secret
            .as_ref()
            .map(|s| state.sealer.seal(s.expose().as_bytes(), &client_aad(&server.issuer))),
        key_id: state.sealer.current_key_id().to_string(),
        auth_method: client.method.as_str().to_string(),
        redirect_uri: redirect,
    };
    state.db.save_upstream_client(&row).await.map_err(|e| format!("the registration could not be saved ({e})"))?;
    tracing::info!(issuer = server.issuer, "registered with a remote server's authorization server");
    Ok(client)
}

fn client_aad(issuer: &str) -> String {
    format!("upstream-client:{issuer}")
}

/// The registration OmniMCP made with an issuer, and its redirect URI.
async fn registered_client(state: &AppState, issuer: &str) -> Option<(ClientCredentials, String)> {
    let row = state.db.upstream_client(issuer).await.ok()??;
    let secret = match &row.secret_enc {
        Some(sealed) => {
            Some(Secret::new(String::from_utf8(state.sealer.open(sealed, &client_aad(issuer)).ok()?).ok()?))
        }
        None => None,
    };
    let method = AuthMethod::parse(&row.auth_method)?;
    Some((ClientCredentials { client_id: row.client_id, secret, method }, row.redirect_uri))
}

/// The credentials a connection was made with: the registration for the
/// issuer when its id matches, else our metadata document's URL.
async fn credentials_for(state: &AppState, issuer: &str, client_id: &str) -> Option<ClientCredentials> {
    if client_id == metadata_url(state) {
        return Some(ClientCredentials { client_id: client_id.to_string(), secret: None, method: AuthMethod::None });
    }
    registered_client(state, issuer).await.map(|(c, _)| c).filter(|c| c.client_id == client_id)
}

/// `GET /connect/mcp/callback`.
pub async fn callback(state: AppState, headers: HeaderMap, query: String) -> Response {
    let form = Form::parse(query.as_bytes());
    let opened = form
        .get("state")
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .and_then(|b| state.sealer.open(&b, SEAL_STATE).ok())
        .and_then(|json| serde_json::from_slice::<ConnectState>(&json).ok())
        .filter(|s| s.expires > Utc::now().timestamp());
    let Some(connect) = opened else {
        return page_error("This connection attempt has expired or is not valid. Start again.");
    };
    let principal = match auth::authenticate(&state, &headers).await {
        Ok(Some(p)) => p,
        _ => return page_error("Sign in again, then connect the server again."),
    };
    if principal.user.id != connect.user || principal.method != (SignIn::Session { session_id: connect.session }) {
        tracing::warn!(user_id = %principal.user.id, "a remote connect callback started by another session was refused");
        return page_error("This connection was started in another session. Start again here.");
    }
    if let Err(why) = upstream::check_issuer(&connect.discovered.server, form.get("iss")) {
        tracing::warn!(user_id = %principal.user.id, error = %why, "a remote connect callback from the wrong issuer was refused");
        return page_error(&why);
    }
    if let Some(error) = form.get("error") {
        return page_error(&format!("The server's sign-in said: {error}."));
    }
    let Some(code) = form.get("code") else {
        return page_error("The server's sign-in sent no authorization code.");
    };
    let issuer = &connect.discovered.server.issuer;
    let Some(client) = credentials_for(&state, issuer, &connect.client_id).await else {
        return page_error("OmniMCP's registration with this server changed meanwhile. Start again.");
    };
    let redirect = callback_url(&state);
    let grant = Grant::Code { code, verifier: &connect.verifier, redirect_uri: &redirect };
    let outbound = &state.gateway.upstreams.outbound;
    let resource = connect.discovered.resource.as_deref();
    let tokens =
        match upstream::exchange(outbound, &connect.discovered.server.token_endpoint, &client, grant, resource).await {
            Ok(t) => t,
            Err(why) => {
                tracing::warn!(server_id = %connect.server, error = %why, "a remote connection's code exchange failed");
                return page_error(&format!("The server's sign-in refused the connection: {why}"));
            }
        };
    let grant = UpstreamGrant {
        issuer: issuer.clone(),
        token_url: connect.discovered.server.token_endpoint.clone(),
        scope: tokens.scope.clone().or_else(|| connect.discovered.scope.clone()),
        resource: connect.discovered.resource.clone(),
    };
    let saved = save(&state, &principal.user, connect.server, connect.installation, &tokens, &grant).await;
    match saved {
        Ok(id) => {
            list_if_unlisted(&state, principal.user.id, connect.server, id).await;
            Redirect::to(&format!("/installed?connected={PROVIDER}")).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "a remote connection could not be saved");
            page_error(&format!("The connection could not be saved: {}", e.public_message()))
        }
    }
}

/// Saves a connection: the access token sealed into the installation
/// (installing the server first if needed), the refresh token and where
/// it is refreshed beside it.
async fn save(
    state: &AppState,
    user: &crate::db::User,
    server: Uuid,
    installation: Option<Uuid>,
    tokens: &upstream::Tokens,
    grant: &UpstreamGrant,
) -> crate::error::ApiResult<Uuid> {
    let existing = match installation {
        Some(id) => Some(id),
        None => state.db.list_installations(user.id).await?.into_iter().find(|i| i.server_id == server).map(|i| i.id),
    };
    let id = match existing {
        Some(id) => id,
        None => {
            let new = crate::installations::NewInstallation { server_id: server.to_string(), config: None };
            crate::installations::install(state, user, new).await?.id
        }
    };
    set_access_token(state, user.id, id, Some(tokens.access.expose())).await?;
    let refresh = tokens.refresh.as_ref().map(|r| state.sealer.seal(r.expose().as_bytes(), &refresh_aad(id)));
    let expires_at = tokens.expires_in.map(|s| Utc::now() + chrono::Duration::seconds(s));
    let key = state.sealer.current_key_id();
    state.db.save_connection(id, PROVIDER, refresh.as_deref(), key, expires_at, Some(grant)).await?;
    tracing::info!(user_id = %user.id, installation_id = %id, issuer = grant.issuer, "remote server connected");
    Ok(id)
}

fn refresh_aad(installation: Uuid) -> String {
    format!("connect-refresh:{installation}")
}

/// Sets (or removes) an installation's access token, and ends the sessions
/// that run with the old one.
async fn set_access_token(state: &AppState, user: Uuid, id: Uuid, token: Option<&str>) -> anyhow::Result<()> {
    let sealed = token.map(|t| state.sealer.seal(t.as_bytes(), &aad::connection_access(id)));
    state.db.set_access_token(id, sealed.as_deref()).await?;
    state.gateway.caches.installations.remove(&user);
    state.gateway.upstreams.close_installation(id).await;
    Ok(())
}

/// A server deployed while it asked for sign-in has no tools recorded:
/// the first connection lists them, as a deploy would have.
async fn list_if_unlisted(state: &AppState, user: Uuid, server: Uuid, installation: Uuid) {
    let Ok(Some(entry)) = state.gateway.registry.server(server).await else { return };
    if !(entry.tools.is_empty() && entry.resources.is_empty() && entry.prompts.is_empty()) {
        return;
    }
    let Ok(Some(inst)) = state.db.installation(user, installation).await else { return };
    let (Some(url), Some(token)) = (entry.record.remote_url.as_deref(), state.gateway.upstreams.access_token(&inst))
    else {
        return;
    };
    match crate::upstream::remote::RemoteClients::discover(&state.gateway.upstreams.outbound, url, Some(&token)).await {
        Ok(catalog) => {
            let items = crate::servers::items_from_catalog(&catalog);
            if let Err(e) = state.db.replace_items(server, &items).await {
                tracing::warn!(server_id = %server, error = %e, "a connected server's catalog could not be saved");
                return;
            }
            state.gateway.registry.invalidate(server);
            if let Ok(users) = state.db.installation_users(server).await {
                state.gateway.notifier.lists_changed(users);
            }
            tracing::info!(server_id = %server, tools = items.tools.len(), "listed a server over its first connection");
        }
        Err(e) => tracing::warn!(server_id = %server, error = %e, "a connected server could not be listed"),
    }
}

/// Refreshes one connection to a remote server (from the refresher):
/// `Ok` with nothing to do when it is not one.
pub async fn refresh(state: &AppState, due: &crate::db::oauth::DueConnection) -> anyhow::Result<()> {
    let (Some(issuer), Some(token_url)) = (&due.issuer, &due.token_url) else {
        return Ok(());
    };
    let refresh = state
        .sealer
        .open(&due.refresh_enc, &refresh_aad(due.installation_id))
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let client = match registered_client(state, issuer).await {
        Some((c, _)) => Some(c),
        None => Some(ClientCredentials { client_id: metadata_url(state), secret: None, method: AuthMethod::None }),
    };
    let outcome = match (&refresh, client) {
        (Some(token), Some(client)) => {
            upstream::exchange(
                &state.gateway.upstreams.outbound,
                token_url,
                &client,
                Grant::Refresh(token),
                due.resource.as_deref(),
            )
            .await
        }
        _ => Err(TokenError::Refused("the refresh token does not open".into())),
    };
    let grant = UpstreamGrant {
        issuer: issuer.clone(),
        token_url: token_url.clone(),
        scope: due.scope.clone(),
        resource: due.resource.clone(),
    };
    let key = state.sealer.current_key_id();
    match outcome {
        Ok(tokens) => {
            set_access_token(state, due.user_id, due.installation_id, Some(tokens.access.expose())).await?;
            // A server that does not rotate refresh tokens keeps the old one.
            let refresh = tokens
                .refresh
                .map(|r| r.expose().to_string())
                .or(refresh)
                .map(|r| state.sealer.seal(r.as_bytes(), &refresh_aad(due.installation_id)));
            let expires_at = tokens.expires_in.map(|s| Utc::now() + chrono::Duration::seconds(s));
            state
                .db
                .save_connection(due.installation_id, PROVIDER, refresh.as_deref(), key, expires_at, Some(&grant))
                .await?;
            tracing::info!(installation_id = %due.installation_id, issuer, "remote connection refreshed");
        }
        Err(TokenError::Refused(why)) => {
            // The grant is over: the next call asks to connect again.
            tracing::warn!(installation_id = %due.installation_id, issuer, error = %why, "a remote connection's refresh was refused; its token is removed");
            set_access_token(state, due.user_id, due.installation_id, None).await?;
            state.db.save_connection(due.installation_id, PROVIDER, None, key, None, Some(&grant)).await?;
        }
        Err(TokenError::Failed(why)) => {
            // Unreachable for now: the next pass tries again.
            tracing::warn!(installation_id = %due.installation_id, issuer, error = %why, "a remote connection's refresh failed; trying again later");
        }
    }
    Ok(())
}

/// A connection's tokens to revoke at its authorization server once the
/// installation is gone (read before: they go with the row).
pub struct Revocation {
    installation: Uuid,
    issuer: String,
    tokens: Vec<(Secret, &'static str)>,
}

/// What revoking an installation's connection needs, if it has one.
pub async fn revocation(state: &AppState, inst: &crate::db::InstallationRecord) -> Option<Revocation> {
    let (issuer, refresh_enc) = state.db.remote_connection(inst.id).await.ok()??;
    let mut tokens = Vec::new();
    let refresh = refresh_enc.and_then(|r| state.sealer.open(&r, &refresh_aad(inst.id)).ok());
    if let Some(token) = refresh.and_then(|b| String::from_utf8(b).ok()) {
        tokens.push((Secret::new(token), "refresh_token"));
    }
    if let Some(token) = state.gateway.upstreams.access_token(inst) {
        tokens.push((token, "access_token"));
    }
    Some(Revocation { installation: inst.id, issuer, tokens })
}

impl Revocation {
    /// Revokes the tokens (RFC 7009) where the authorization server has an
    /// endpoint for it. Best effort: the installation is gone either way.
    pub async fn run(self, state: &AppState) {
        let outbound = &state.gateway.upstreams.outbound;
        let server = match upstream::authorization_server(outbound, &self.issuer).await {
            Ok(Some(server)) => server,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(installation_id = %self.installation, issuer = self.issuer, error = %e, "could not revoke a remote connection");
                return;
            }
        };
        let Some(endpoint) = &server.revocation_endpoint else { return };
        let client = match registered_client(state, &self.issuer).await {
            Some((client, _)) => client,
            None => ClientCredentials { client_id: metadata_url(state), secret: None, method: AuthMethod::None },
        };
        for (token, hint) in &self.tokens {
            match upstream::revoke(outbound, endpoint, &client, token.expose(), hint).await {
                Ok(()) => {
                    tracing::info!(installation_id = %self.installation, issuer = self.issuer, hint, "remote connection revoked")
                }
                Err(e) => {
                    tracing::warn!(installation_id = %self.installation, issuer = self.issuer, error = %e, "could not revoke a remote connection")
                }
            }
        }
    }
}

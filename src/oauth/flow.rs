//! The authorization code grant, step by step:
//!
//! 1. `GET /oauth/authorize` checks the request. Until the client and its
//!    redirect URI are known good, errors are shown to the user (a page),
//!    never sent to an unverified redirect URI; after, they go back to the
//!    client. The checked request is sealed ([`AuthRequest`], AES-GCM with
//!    the platform key, ten minutes) and the browser is sent to the consent
//!    page `/oauth/consent?request=...` (through `/login` when signed out).
//! 2. The consent page ([`consent_view`]) shows the application, how it was
//!    identified, where it will send the user back, and the user's
//!    installations and tools to choose from. Its form carries a token
//!    binding it to the signed-in session.
//! 3. `POST /oauth/consent` records the grant and a one-time code (five
//!    minutes, stored hashed) and redirects to the client with `code`,
//!    `state` and `iss`.
//! 4. `POST /oauth/token` exchanges the code (PKCE S256 verified, same
//!    client, same redirect URI, same resource) for an access token and a
//!    refresh token; a refresh token is exchanged for a new pair and is
//!    spent. A code or refresh token presented twice revokes the grant:
//!    one of the two presenters stole it.
//! 5. `POST /oauth/revoke` (RFC 7009) ends a refresh token's grant, or one
//!    access token.

use axum::{
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    ACCESS_PREFIX, CODE_PREFIX, OAuthError, REFRESH_PREFIX, SCOPE_MCP, SCOPE_READ, SCOPES, clients, hash, issuer,
    new_secret, no_store, resource,
};
use crate::{
    auth,
    db::{
        KeyScope,
        oauth::{NewAuthorization, OAuthClient, Spent},
    },
    identity::AuthMethod,
    state::AppState,
};

/// How long the user has to consent.
const REQUEST_TTL: Duration = Duration::minutes(10);
/// How long an authorization code lives.
const CODE_TTL: Duration = Duration::minutes(5);
const SEAL_REQUEST: &str = "oauth-authorization-request";
const SEAL_CONSENT: &str = "oauth-consent-form";

/// A form (`application/x-www-form-urlencoded`) or query string. OAuth
/// parameters must not repeat (RFC 6749 §3.1); [`Form::get`] of one that
/// does is an error the handlers report.
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(bytes: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// The one value of `name` (empty values count as absent).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first parameter among `names` given more than once.
    fn repeated(&self, names: &[&str]) -> Option<String> {
        names.iter().find(|n| self.all(n).count() > 1).map(|n| n.to_string())
    }
}

/// A checked authorization request, sealed into the consent page's URL.
#[derive(Debug, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    pub resource: String,
    /// The client's logo (an https URL it registered), shown on the consent
    /// page; the page's CSP allows images from its origin only.
    #[serde(default)]
    pub logo_uri: Option<String>,
    /// Unix seconds after which the request is void.
    pub expires: i64,
}

impl AuthRequest {
    fn seal(&self, state: &AppState) -> String {
        let json = serde_json::to_vec(self).expect("an authorization request serializes");
        URL_SAFE_NO_PAD.encode(state.sealer.seal(&json, SEAL_REQUEST))
    }

    fn open(state: &AppState, sealed: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let json = state.sealer.open(&bytes, SEAL_REQUEST).ok()?;
        let request: Self = serde_json::from_slice(&json).ok()?;
        (request.expires > Utc::now().timestamp()).then_some(request)
    }

    /// The client's redirect URI with the response parameters.
    fn redirect(&self, state: &AppState, params: &[(&str, &str)]) -> Response {
        let mut url = match url::Url::parse(&self.redirect_uri) {
            Ok(url) => url,
            Err(_) => return error_page(StatusCode::BAD_REQUEST, "The application's redirect address is invalid."),
        };
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in params {
                query.append_pair(k, v);
            }
            if let Some(s) = &self.state {
                query.append_pair("state", s);
            }
            query.append_pair("iss", issuer(state));
        }
        Redirect::to(url.as_str()).into_response()
    }
}

/// A small page for errors that must not go back to the client.
fn error_page(status: StatusCode, message: &str) -> Response {
    error_page_titled(status, "This application cannot be authorized", message)
}

/// An error page with a heading of its own.
pub fn error_page_titled(status: StatusCode, title: &str, message: &str) -> Response {
    let (title, message) = (html_escape(title), html_escape(message));
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · OmniMCP</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/pkg/omnimcp.css"></head>
<body class="bg-slate-50"><main class="mx-auto mt-24 max-w-md rounded-2xl bg-white p-8 shadow-sm ring-1 ring-slate-200">
<h1 class="text-lg font-semibold text-slate-900">{title}</h1>
<p class="mt-2 text-sm text-slate-600" data-testid="oauth-error">{message}</p>
<a href="/dashboard" class="mt-6 inline-block text-sm font-semibold text-indigo-600">Back to OmniMCP</a></main></body></html>"#
    );
    (status, Html(body)).into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `GET /oauth/authorize` (see the module docs).
pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    RawQuery(query): RawQuery,
) -> Response {
    let peer = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let form = Form::parse(query.unwrap_or_default().as_bytes());
    const PARAMS: [&str; 8] = [
        "client_id",
        "redirect_uri",
        "response_type",
        "state",
        "code_challenge",
        "code_challenge_method",
        "scope",
        "resource",
    ];
    if let Some(name) = form.repeated(&PARAMS) {
        return error_page(StatusCode::BAD_REQUEST, &format!("The parameter `{name}` is given more than once."));
    }
    let Some(client_id) = form.get("client_id") else {
        return error_page(StatusCode::BAD_REQUEST, "The request does not name its application (`client_id`).");
    };
    let client = match clients::find(&state, client_id, Some(peer)).await {
        Ok(client) => client,
        Err(e) => return error_page(e.status, &e.description),
    };
    let redirect_uri = match form.get("redirect_uri") {
        Some(uri) if clients::redirect_matches(&client.redirect_uris, uri) => uri.to_string(),
        Some(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "The redirect address is not one this application registered, so the request was refused.",
            );
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return error_page(StatusCode::BAD_REQUEST, "The request does not say where to return (`redirect_uri`).");
        }
    };
    // From here on, errors go back to the (verified) client.
    let mut request = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        state: form.get("state").map(str::to_string),
        code_challenge: String::new(),
        scopes: Vec::new(),
        resource: resource(&state),
        logo_uri: client.logo_uri.clone().filter(|l| l.starts_with("https://")),
        expires: (Utc::now() + REQUEST_TTL).timestamp(),
    };
    let fail = |request: &AuthRequest, error: &str, description: &str| {
        request.redirect(&state, &[("error", error), ("error_description", description)])
    };
    if form.get("response_type") != Some("code") {
        return fail(&request, "unsupported_response_type", "only the authorization code flow (`code`) is supported");
    }
    match (form.get("code_challenge"), form.get("code_challenge_method")) {
        (Some(challenge), Some("S256")) if is_s256_challenge(challenge) => {
            request.code_challenge = challenge.to_string()
        }
        (Some(_), Some("S256")) => return fail(&request, "invalid_request", "the code challenge is malformed"),
        (Some(_), _) => return fail(&request, "invalid_request", "only the S256 code challenge method is supported"),
        (None, _) => return fail(&request, "invalid_request", "PKCE is required: send code_challenge (S256)"),
    }
    if let Some(asked) = form.get("resource")
        && !same_resource(asked, &request.resource)
    {
        return fail(&request, "invalid_target", "tokens are issued only for this server's /mcp");
    }
    request.scopes = granted_scopes(form.get("scope"));
    let sealed = request.seal(&state);
    let consent = format!("/oauth/consent?request={sealed}");
    // Signed out (or a dead session): through the login page, back here.
    let signed_in = matches!(auth::authenticate(&state, &headers).await, Ok(Some(p)) if !p.is_scoped());
    if signed_in {
        Redirect::to(&consent).into_response()
    } else {
        let next: String = url::form_urlencoded::byte_serialize(consent.as_bytes()).collect();
        Redirect::to(&format!("/login?next={next}")).into_response()
    }
}

/// A PKCE S256 challenge: 43 base64url characters (a SHA-256).
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The resource named, compared as RFC 8707 says clients send it (a
/// trailing slash tolerated).
fn same_resource(asked: &str, ours: &str) -> bool {
    asked.trim_end_matches('/') == ours
}

/// The scopes a request gets: the ones this server knows among those asked
/// (unknown ones are ignored, RFC 6749 §3.3), `mcp` when none is asked.
fn granted_scopes(asked: Option<&str>) -> Vec<String> {
    let known: Vec<String> =
        asked.unwrap_or_default().split(' ').filter(|s| SCOPES.contains(s)).map(str::to_string).collect();
    let mut known = if known.is_empty() { vec![SCOPE_MCP.to_string()] } else { known };
    known.sort();
    known.dedup();
    known
}

/// How a client was identified, for the user.
pub fn identified_by(client: &OAuthClient) -> String {
    match client.kind.as_str() {
        "metadata_document" => format!("its client metadata document at {}", client.client_id),
        "preregistered" => "registered by this platform's administrator".into(),
        _ => "registered itself (dynamic client registration): its name is its own claim".into(),
    }
}

/// What the consent page shows, for the signed-in user.
pub struct ConsentData {
    pub request: AuthRequest,
    pub client: OAuthClient,
    pub consent_token: String,
}

/// Opens a sealed request for the consent page and makes the token that
/// binds the page's form to the user's session.
pub async fn consent_view(
    state: &AppState,
    principal: &crate::identity::Principal,
    sealed: &str,
) -> Result<ConsentData, String> {
    let request = AuthRequest::open(state, sealed)
        .ok_or("This authorization request has expired or is not valid. Start again from the application.")?;
    let client = clients::find(state, &request.client_id, None).await.map_err(|e| e.description)?;
    let consent_token =
        consent_token(state, principal, sealed).ok_or("Sign in with your password to authorize an application.")?;
    Ok(ConsentData { request, client, consent_token })
}

/// The form token: the session and the request, sealed together.
fn consent_token(state: &AppState, principal: &crate::identity::Principal, sealed: &str) -> Option<String> {
    let AuthMethod::Session { session_id } = principal.method else { return None };
    let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(sealed.as_bytes()));
    let json = json!({"session": session_id, "request": digest}).to_string();
    Some(URL_SAFE_NO_PAD.encode(state.sealer.seal(json.as_bytes(), SEAL_CONSENT)))
}

/// `POST /oauth/consent`: the user's decision (see the module docs).
pub async fn consent(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let form = Form::parse(&body);
    let Some(sealed) = form.get("request") else {
        return error_page(StatusCode::BAD_REQUEST, "The consent form is incomplete.");
    };
    let principal = match auth::authenticate(&state, &headers).await {
        Ok(Some(p)) if !p.is_scoped() => p,
        _ => return Redirect::to("/login").into_response(),
    };
    let Some(request) = AuthRequest::open(&state, sealed) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This authorization request has expired or is not valid. Start again from the application.",
        );
    };
    let expected = consent_token(&state, &principal, sealed);
    let given = form.get("consent_token");
    let bound = match (expected, given) {
        (Some(_), Some(given)) => same_binding(&state, given, sealed, &principal),
        _ => false,
    };
    if !bound {
        tracing::warn!(user_id = %principal.user.id, "a consent form not bound to this session was refused");
        return error_page(StatusCode::FORBIDDEN, "This consent form was not issued to your session. Start again.");
    }
    if form.get("decision") != Some("allow") {
        tracing::info!(user_id = %principal.user.id, client_id = %request.client_id, "authorization denied by the user");
        return request.redirect(&state, &[("error", "access_denied"), ("error_description", "the user said no")]);
    }
    let reach = match chosen_reach(&state, principal.user.id, &form).await {
        Ok(reach) => reach,
        Err(why) => return Redirect::to(&format!("/oauth/consent?request={sealed}&problem={why}")).into_response(),
    };
    let mut scopes = request.scopes.clone();
    if form.get("call_tools") != Some("on") {
        scopes.retain(|s| s != SCOPE_MCP);
        if !scopes.iter().any(|s| s == SCOPE_READ) {
            scopes.push(SCOPE_READ.to_string());
        }
    }
    let code = new_secret(CODE_PREFIX);
    let code_hash = hash(&code);
    let scopes = scopes.join(" ");
    let created = state
        .db
        .create_authorization(&NewAuthorization {
            user_id: principal.user.id,
            client_id: &request.client_id,
            scopes: &scopes,
            reach: reach.as_ref(),
            resource: &request.resource,
            code_hash: &code_hash,
            redirect_uri: &request.redirect_uri,
            code_challenge: &request.code_challenge,
            code_expires_at: Utc::now() + CODE_TTL,
        })
        .await;
    match created {
        Ok(grant) => {
            tracing::info!(user_id = %principal.user.id, grant_id = %grant, client_id = %request.client_id, scopes, "authorization granted");
            request.redirect(&state, &[("code", &code)])
        }
        Err(e) => {
            tracing::error!(error = %e, "could not record an authorization");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, "The authorization could not be recorded. Try again.")
        }
    }
}

/// Whether a consent token binds this session to this request.
fn same_binding(state: &AppState, given: &str, sealed: &str, principal: &crate::identity::Principal) -> bool {
    let AuthMethod::Session { session_id } = principal.method else { return false };
    let opened = URL_SAFE_NO_PAD
        .decode(given)
        .ok()
        .and_then(|bytes| state.sealer.open(&bytes, SEAL_CONSENT).ok())
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok());
    let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(sealed.as_bytes()));
    opened.is_some_and(|v| v["session"] == json!(session_id) && v["request"] == json!(digest))
}

/// The reach the user chose: everything (`reach=all`), or the checked
/// installations (`installation`) and, where some tools of a chosen
/// installation were left unchecked, the checked tools (`tool`). Only the
/// user's own installations and their tools count.
async fn chosen_reach(state: &AppState, user: Uuid, form: &Form) -> Result<Option<KeyScope>, &'static str> {
    if form.get("reach") != Some("chosen") {
        return Ok(None);
    }
    let installed = state.db.list_installations(user).await.map_err(|_| "storage")?;
    let public_name = crate::gateway::names::public_name;
    let mut installations = Vec::new();
    let mut tools = Vec::new();
    let mut narrowed = false;
    let checked_tools: Vec<&str> = form.all("tool").collect();
    for id in form.all("installation") {
        let Some(inst) = installed.iter().find(|i| i.id.to_string() == id) else { continue };
        installations.push(inst.id);
        let entry = state.gateway.registry.server(inst.server_id).await.ok().flatten();
        let names: Vec<String> =
            entry.map(|e| e.tools.iter().map(|t| public_name(&e.record.slug, &t.name)).collect()).unwrap_or_default();
        for name in &names {
            if checked_tools.contains(&name.as_str()) {
                tools.push(name.clone());
            } else {
                narrowed = true;
            }
        }
    }
    if installations.is_empty() {
        return Err("choose");
    }
    Ok(Some(KeyScope { installations: Some(installations), tools: narrowed.then_some(tools), unprefixed: false }))
}

/// `POST /oauth/token`.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    match exchange(&state, &headers, &Form::parse(&body)).await {
        Ok(body) => {
            let mut response = axum::Json(body).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn exchange(state: &AppState, headers: &HeaderMap, form: &Form) -> Result<serde_json::Value, OAuthError> {
    const PARAMS: [&str; 9] = [
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "client_id",
        "client_secret",
        "refresh_token",
        "resource",
        "scope",
    ];
    if let Some(name) = form.repeated(&PARAMS) {
        return Err(OAuthError::new("invalid_request", format!("`{name}` is given more than once")));
    }
    let grant_type = form.get("grant_type");
    if !matches!(grant_type, Some("authorization_code" | "refresh_token")) {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ));
    }
    let client = clients::authenticate(state, headers, form).await?;
    if let Some(asked) = form.get("resource")
        && !same_resource(asked, &resource(state))
    {
        return Err(OAuthError::new("invalid_target", "tokens are issued only for this server's /mcp"));
    }
    let invalid_grant = |why: &str| OAuthError::new("invalid_grant", why);
    let grant = if grant_type == Some("authorization_code") {
        let (Some(code), Some(verifier)) = (form.get("code"), form.get("code_verifier")) else {
            return Err(OAuthError::new("invalid_request", "code and code_verifier are required"));
        };
        let redeemed = match state.db.redeem_oauth_code(&hash(code)).await? {
            Spent::Fresh(redeemed) => redeemed,
            Spent::Replayed(grant) => {
                revoke_replayed(state, grant, "an authorization code").await;
                return Err(invalid_grant("the authorization code was already used; its grant is revoked"));
            }
            Spent::Unknown => return Err(invalid_grant("the authorization code is not valid")),
        };
        if redeemed.grant.client_id != client.client_id {
            return Err(invalid_grant("the authorization code was issued to another client"));
        }
        if redeemed.expires_at <= Utc::now() {
            return Err(invalid_grant("the authorization code has expired"));
        }
        if form.get("redirect_uri").is_some_and(|uri| uri != redeemed.redirect_uri) {
            return Err(invalid_grant("redirect_uri differs from the authorization request's"));
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if !(43..=128).contains(&verifier.len())
            || !crate::auth::api_key::hashes_match(computed.as_bytes(), redeemed.code_challenge.as_bytes())
        {
            return Err(invalid_grant("the code verifier does not match the code challenge"));
        }
        redeemed.grant
    } else {
        let Some(refresh) = form.get("refresh_token") else {
            return Err(OAuthError::new("invalid_request", "refresh_token is required"));
        };
        let grant = match state.db.spend_refresh_token(&hash(refresh)).await? {
            Spent::Fresh(grant) => grant,
            Spent::Replayed(grant) => {
                revoke_replayed(state, grant, "a refresh token").await;
                return Err(invalid_grant("the refresh token was already used; its grant is revoked"));
            }
            Spent::Unknown => return Err(invalid_grant("the refresh token is not valid, expired or revoked")),
        };
        if grant.client_id != client.client_id {
            return Err(invalid_grant("the refresh token was issued to another client"));
        }
        if let Some(asked) = form.get("scope") {
            let held: Vec<&str> = grant.scopes.split(' ').collect();
            if let Some(extra) = asked.split(' ').find(|s| !s.is_empty() && !held.contains(s)) {
                return Err(OAuthError::new("invalid_scope", format!("`{extra}` was not granted; authorize again")));
            }
        }
        grant
    };
    let now = Utc::now();
    let access = new_secret(ACCESS_PREFIX);
    let refresh = new_secret(REFRESH_PREFIX);
    let access_ttl = Duration::seconds(i64::from(state.config.oauth_access_token_ttl_secs.max(1)));
    let refresh_ttl = Duration::days(i64::from(state.config.oauth_refresh_token_ttl_days.max(1)));
    state
        .db
        .store_oauth_tokens(grant.id, (&hash(&access), now + access_ttl), (&hash(&refresh), now + refresh_ttl))
        .await?;
    tracing::info!(grant_id = %grant.id, client_id = %client.client_id, grant_type, "OAuth tokens issued");
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": access_ttl.num_seconds(),
        "refresh_token": refresh,
        "scope": grant.scopes,
    }))
}

/// A spent code or refresh token came back: someone holds a copy. The
/// whole grant ends (RFC 9700 §4.14.2), and what it opened.
async fn revoke_replayed(state: &AppState, grant: Uuid, what: &str) {
    tracing::warn!(grant_id = %grant, "{what} was presented twice; revoking its grant");
    if let Err(e) = crate::accounts::end_grant(state, grant, None).await {
        tracing::error!(error = %e, "could not revoke a grant after a replay");
    }
}

/// `POST /oauth/revoke` (RFC 7009): always 200 for a token this client
/// cannot name (so it learns nothing), 200 after ending one it can.
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let form = Form::parse(&body);
    let client = match clients::authenticate(&state, &headers, &form).await {
        Ok(client) => client,
        Err(e) => return e.into_response(),
    };
    let Some(token) = form.get("token") else {
        return OAuthError::new("invalid_request", "token is required").into_response();
    };
    let token_hash = hash(token);
    match state.db.oauth_token_grant(&token_hash).await {
        Ok(Some((grant, kind, owner))) if owner == client.client_id => {
            let ended = if kind == "refresh" {
                crate::accounts::end_grant(&state, grant, None).await.map(|_| ())
            } else {
                state.db.delete_oauth_token(&token_hash).await.map_err(Into::into)
            };
            if let Err(e) = ended {
                tracing::error!(error = %e, "could not revoke a token");
                return OAuthError::server().into_response();
            }
            tracing::info!(grant_id = %grant, kind, "OAuth token revoked by its client");
        }
        Ok(_) => {}
        Err(e) => return OAuthError::from(e).into_response(),
    }
    let mut response = StatusCode::OK.into_response();
    no_store(response.headers_mut());
    response
}

/// What the CSP of the consent page must allow besides our own: the
/// client's redirect target in `form-action` (browsers check a form's
/// redirects against it, and the consent form's answer is a redirect to the
/// client), and the origin of the client's logo in `img-src`.
pub fn consent_csp_sources(state: &AppState, query: &str) -> Option<(String, Option<String>)> {
    let form = Form::parse(query.as_bytes());
    let request = AuthRequest::open(state, form.get("request")?)?;
    let target = url::Url::parse(&request.redirect_uri).ok()?;
    let source = match target.scheme() {
        "http" | "https" => target.origin().ascii_serialization(),
        scheme => format!("{scheme}:"),
    };
    let logo = request
        .logo_uri
        .as_deref()
        .and_then(|l| url::Url::parse(l).ok())
        .filter(|l| l.scheme() == "https")
        .map(|l| l.origin().ascii_serialization());
    Some((source, logo))
}

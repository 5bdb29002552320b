//! Who is asking: OAuth clients, however they are identified.
//!
//! - **Client ID Metadata Documents**: a client id that is an https URL
//!   names a JSON document describing the client. It is fetched through
//!   the SSRF guard (so a client id on a private address is refused),
//!   within a size limit, validated (its `client_id` must be its own URL,
//!   public clients only), and cached for [`METADATA_TTL`].
//! - **Dynamic Client Registration** (RFC 7591, `POST /oauth/register`):
//!   deprecated by the newest MCP revision but what most clients use today.
//!   Registrations are throttled per address.
//! - **Pre-registered** clients, added by an administrator.
//!
//! Redirect URIs ([`check_redirect_uri`]) are https, http on a loopback
//! address (native apps), or a private-use scheme (`cursor://...`); they are
//! matched exactly, except that a loopback redirect may use any port
//! (RFC 8252 §7.3).

use std::net::{IpAddr, SocketAddr};

use axum::{
    Json,
    extract::{ConnectInfo, State},
    http::{Extensions, HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::types::Json as DbJson;

use super::{OAuthError, hash, new_secret, no_store};
use crate::{auth::api_key::hashes_match, db::oauth::OAuthClient, state::AppState};

/// How long a fetched metadata document is trusted before it is fetched
/// again.
pub const METADATA_TTL: Duration = Duration::hours(1);
/// Largest metadata document accepted.
const METADATA_MAX_BYTES: usize = 16 * 1024;
/// Redirect URIs one client may have.
const MAX_REDIRECT_URIS: usize = 10;
const MAX_URI_LEN: usize = 2000;
const MAX_NAME_LEN: usize = 200;
/// Prefix of a confidential client's secret.
const SECRET_PREFIX: &str = "omcs_";

/// Schemes that are never a redirect target: they run code or read local
/// data in the user's browser.
const FORBIDDEN_SCHEMES: [&str; 7] = ["javascript", "data", "file", "blob", "about", "vbscript", "filesystem"];

/// Whether `uri` may be registered as a redirect URI (see the module docs).
pub fn check_redirect_uri(uri: &str) -> Result<url::Url, String> {
    if uri.len() > MAX_URI_LEN {
        return Err(format!("a redirect URI is longer than {MAX_URI_LEN} characters"));
    }
    let parsed = url::Url::parse(uri).map_err(|e| format!("`{uri}` is not a valid URL: {e}"))?;
    if parsed.fragment().is_some() {
        return Err(format!("`{uri}` has a fragment, which redirect URIs must not have"));
    }
    let scheme = parsed.scheme();
    match scheme {
        "https" if parsed.host().is_some() => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(format!("`{uri}` uses plain http on a host that is not loopback; use https")),
        _ if FORBIDDEN_SCHEMES.contains(&scheme) || scheme.starts_with("http") || scheme.starts_with("ws") => {
            Err(format!("`{uri}` uses a scheme that cannot be a redirect target"))
        }
        // A private-use scheme of a native app (RFC 8252 §7.1).
        _ => Ok(parsed),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether a redirect URI sent in a request is one the client registered:
/// the same string, or for a loopback redirect the same but for the port.
pub fn redirect_matches(registered: &[String], requested: &str) -> bool {
    if registered.iter().any(|r| r == requested) {
        return true;
    }
    let Ok(requested) = url::Url::parse(requested) else { return false };
    if requested.scheme() != "http" || !is_loopback(&requested) {
        return false;
    }
    registered.iter().filter_map(|r| url::Url::parse(r).ok()).any(|mut r| {
        r.scheme() == "http" && is_loopback(&r) && r.host() == requested.host() && {
            let _ = r.set_port(requested.port());
            r.as_str() == requested.as_str()
        }
    })
}

/// The client a request names, resolving a metadata document URL. Only
/// the authorization request (`fetch_for`: the address asking) fetches a
/// document that is not cached or is stale, within the per-address
/// registration budget, so nobody can make this server fetch URLs in bulk;
/// the later steps of the flow use the copy it cached.
pub async fn find(state: &AppState, client_id: &str, fetch_for: Option<IpAddr>) -> Result<OAuthClient, OAuthError> {
    let cached = state.db.oauth_client(client_id).await?;
    let unknown = || OAuthError::new("invalid_client", format!("no client `{client_id}` is known"));
    if !looks_like_metadata_url(client_id) {
        return cached.ok_or_else(unknown);
    }
    let fresh = |c: &OAuthClient| c.fetched_at.is_some_and(|at| Utc::now() - at < METADATA_TTL);
    let peer = match (cached, fetch_for) {
        (Some(client), _) if fresh(&client) => return Ok(client),
        (Some(client), None) => return Ok(client),
        (None, None) => return Err(unknown()),
        (_, Some(peer)) => peer,
    };
    within_budget(state, peer, "invalid_client", "client metadata documents fetched for")?;
    state.oauth_registrations.record_address(peer);
    let client = fetch_metadata_document(state, client_id).await?;
    state.db.save_oauth_client(&client).await?;
    Ok(client)
}

/// The per-address budget that client registrations and metadata document
/// fetches share (`--oauth-registrations-per-hour`): 429 once it is spent.
fn within_budget(state: &AppState, peer: IpAddr, error: &'static str, what: &str) -> Result<(), OAuthError> {
    state.oauth_registrations.check_address(peer).map_err(|wait| OAuthError {
        status: StatusCode::TOO_MANY_REQUESTS,
        error,
        description: format!("too many {what} your address; try again in {wait} seconds"),
    })
}

fn looks_like_metadata_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// Fetches and validates a Client ID Metadata Document.
async fn fetch_metadata_document(state: &AppState, client_id: &str) -> Result<OAuthClient, OAuthError> {
    let invalid = |why: String| OAuthError::new("invalid_client", why);
    let url = url::Url::parse(client_id).map_err(|e| invalid(format!("the client id is not a valid URL: {e}")))?;
    let plain_http_allowed = state.config.outbound_allow_http;
    if url.scheme() != "https" && !(url.scheme() == "http" && plain_http_allowed) {
        return Err(invalid("a client id metadata document must be served over https".into()));
    }
    if url.path() == "/" || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "a client id metadata document URL must have a path and no fragment or credentials".into(),
        ));
    }
    if url.path().split('/').any(|s| s == "." || s == "..") {
        return Err(invalid("a client id metadata document URL must not have dot segments".into()));
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, header::HeaderValue::from_static("application/json"));
    let outbound = &state.gateway.upstreams.outbound;
    // Not followed: the document must be served at its own URL.
    let response = outbound.send_without_redirects(Method::GET, client_id, headers, None).await.map_err(|e| {
        tracing::info!(client_id, error = %e, "a client id metadata document could not be fetched");
        invalid(format!("the client id metadata document could not be fetched: {e}"))
    })?;
    if !response.status.is_success() {
        return Err(invalid(format!("the client id metadata document answered HTTP {}", response.status.as_u16())));
    }
    if response.body.len() > METADATA_MAX_BYTES {
        return Err(invalid(format!("the client id metadata document is larger than {METADATA_MAX_BYTES} bytes")));
    }
    let document: Value = serde_json::from_slice(&response.body)
        .map_err(|e| invalid(format!("the client id metadata document is not JSON: {e}")))?;
    let metadata = ClientMetadata::deserialize(&document)
        .map_err(|e| invalid(format!("the client id metadata document is not valid: {e}")))?;
    if document.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(invalid("the metadata document's `client_id` must be the URL it is served at".into()));
    }
    match metadata.token_endpoint_auth_method.as_deref() {
        None | Some("none") => {}
        Some(other) => {
            return Err(invalid(format!(
                "token_endpoint_auth_method `{other}` is not supported for metadata-document clients; use `none`"
            )));
        }
    }
    let checked = metadata.check().map_err(invalid)?;
    let now = Utc::now();
    Ok(OAuthClient {
        client_id: client_id.to_string(),
        kind: "metadata_document".into(),
        name: checked.name.unwrap_or_else(|| url.host_str().unwrap_or("application").to_string()),
        logo_uri: checked.logo_uri,
        client_uri: checked.client_uri,
        redirect_uris: DbJson(checked.redirect_uris),
        secret_hash: None,
        created_at: now,
        fetched_at: Some(now),
    })
}

/// Client metadata (RFC 7591 §2), as a registration request or a metadata
/// document carries it. Unknown members are ignored, as the RFC asks.
#[derive(Debug, Deserialize)]
pub struct ClientMetadata {
    #[serde(default)]
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
}

struct Checked {
    redirect_uris: Vec<String>,
    name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
}

impl ClientMetadata {
    fn check(self) -> Result<Checked, String> {
        if self.redirect_uris.is_empty() {
            return Err("`redirect_uris` must name at least one redirect URI".into());
        }
        if self.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(format!("at most {MAX_REDIRECT_URIS} redirect URIs are accepted"));
        }
        for uri in &self.redirect_uris {
            check_redirect_uri(uri).map_err(|why| format!("redirect_uris: {why}"))?;
        }
        for grant in self.grant_types.iter().flatten() {
            if !matches!(grant.as_str(), "authorization_code" | "refresh_token") {
                return Err(format!("grant type `{grant}` is not supported (authorization_code, refresh_token)"));
            }
        }
        for kind in self.response_types.iter().flatten() {
            if kind != "code" {
                return Err(format!("response type `{kind}` is not supported (code)"));
            }
        }
        let name = match self.client_name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) {
            Some(n) if n.chars().count() > MAX_NAME_LEN => {
                return Err(format!("`client_name` is longer than {MAX_NAME_LEN} characters"));
            }
            Some(n) if n.chars().any(char::is_control) => return Err("`client_name` has control characters".into()),
            other => other,
        };
        let web_uri = |field: &str, value: Option<String>| -> Result<Option<String>, String> {
            match value {
                None => Ok(None),
                Some(v) if v.len() <= MAX_URI_LEN && url::Url::parse(&v).is_ok_and(|u| u.scheme() == "https") => {
                    Ok(Some(v))
                }
                Some(_) => Err(format!("`{field}` must be an https URL")),
            }
        };
        Ok(Checked {
            redirect_uris: self.redirect_uris,
            name,
            client_uri: web_uri("client_uri", self.client_uri)?,
            logo_uri: web_uri("logo_uri", self.logo_uri)?,
        })
    }
}

/// `POST /oauth/register` (RFC 7591).
pub async fn register(State(state): State<AppState>, extensions: Extensions, body: axum::body::Bytes) -> Response {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    match register_client(&state, peer, &body).await {
        Ok(body) => {
            let mut response = (StatusCode::CREATED, Json(body)).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn register_client(state: &AppState, peer: IpAddr, body: &[u8]) -> Result<Value, OAuthError> {
    let invalid = |why: String| OAuthError::new("invalid_client_metadata", why);
    within_budget(state, peer, "invalid_request", "clients registered from")?;
    let metadata: ClientMetadata =
        serde_json::from_slice(body).map_err(|e| invalid(format!("the registration is not valid JSON: {e}")))?;
    let confidential = match metadata.token_endpoint_auth_method.as_deref() {
        None | Some("none") => false,
        Some("client_secret_basic" | "client_secret_post") => true,
        Some(other) => {
            return Err(invalid(format!(
                "token_endpoint_auth_method `{other}` is not supported (none, client_secret_basic, client_secret_post)"
            )));
        }
    };
    let auth_method = metadata.token_endpoint_auth_method.clone().unwrap_or_else(|| "none".into());
    let checked = metadata.check().map_err(|why| {
        if why.starts_with("redirect_uris") || why.contains("redirect URI") {
            OAuthError::new("invalid_redirect_uri", why)
        } else {
            invalid(why)
        }
    })?;
    state.oauth_registrations.record_address(peer);
    let secret = confidential.then(|| new_secret(SECRET_PREFIX));
    let now = Utc::now();
    let client = OAuthClient {
        client_id: uuid::Uuid::now_v7().simple().to_string(),
        kind: "registered".into(),
        name: checked.name.clone().unwrap_or_else(|| "Unnamed application".into()),
        logo_uri: checked.logo_uri.clone(),
        client_uri: checked.client_uri.clone(),
        redirect_uris: DbJson(checked.redirect_uris.clone()),
        secret_hash: secret.as_deref().map(|s| hash(s).to_vec()),
        created_at: now,
        fetched_at: None,
    };
    state.db.save_oauth_client(&client).await?;
    tracing::info!(client_id = %client.client_id, name = %client.name, "OAuth client registered");
    let mut body = json!({
        "client_id": client.client_id,
        "client_id_issued_at": now.timestamp(),
        "client_name": client.name,
        "redirect_uris": checked.redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": auth_method,
    });
    if let Some(secret) = secret {
        body["client_secret"] = json!(secret);
        body["client_secret_expires_at"] = json!(0);
    }
    for (field, value) in [("client_uri", checked.client_uri), ("logo_uri", checked.logo_uri)] {
        if let Some(value) = value {
            body[field] = json!(value);
        }
    }
    Ok(body)
}

/// Registers a client for an administrator; returns its secret when it is
/// confidential.
pub async fn preregister(
    state_db: &crate::db::Db,
    name: &str,
    redirect_uris: Vec<String>,
    confidential: bool,
) -> anyhow::Result<(String, Option<String>)> {
    for uri in &redirect_uris {
        check_redirect_uri(uri).map_err(anyhow::Error::msg)?;
    }
    anyhow::ensure!(!redirect_uris.is_empty(), "give at least one --redirect-uri");
    let secret = confidential.then(|| new_secret(SECRET_PREFIX));
    let client = OAuthClient {
        client_id: format!("omnimcp-{}", uuid::Uuid::now_v7().simple()),
        kind: "preregistered".into(),
        name: name.trim().to_string(),
        logo_uri: None,
        client_uri: None,
        redirect_uris: DbJson(redirect_uris),
        secret_hash: secret.as_deref().map(|s| hash(s).to_vec()),
        created_at: Utc::now(),
        fetched_at: None,
    };
    state_db.save_oauth_client(&client).await?;
    Ok((client.client_id, secret))
}

/// Client authentication at the token and revocation endpoints: a public
/// client names itself (`client_id`); a confidential one proves its secret
/// by HTTP Basic or in the form. Returns the client.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &super::flow::Form,
) -> Result<OAuthClient, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .map(|b64| {
            let decoded = STANDARD.decode(b64.trim()).ok().and_then(|b| String::from_utf8(b).ok());
            let (id, secret) = decoded
                .as_deref()
                .and_then(|d| d.split_once(':'))
                .ok_or_else(|| OAuthError::new("invalid_client", "the Basic credentials are malformed"))?;
            let decode = |s: &str| {
                percent_decode(s)
                    .ok_or_else(|| OAuthError::new("invalid_client", "the Basic credentials are malformed"))
            };
            Ok::<_, OAuthError>((decode(id)?, decode(secret)?))
        })
        .transpose()?;
    let (client_id, secret) = match (basic, form.get("client_id"), form.get("client_secret")) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::new("invalid_request", "use one client authentication method, not two"));
        }
        (Some((id, _)), Some(form_id), _) if id != form_id => {
            return Err(OAuthError::new("invalid_client", "the client ids of Basic and the form differ"));
        }
        (Some((id, secret)), _, _) => (id, Some(secret)),
        (None, Some(id), secret) => (id.to_string(), secret.map(str::to_string)),
        (None, None, _) => return Err(OAuthError::new("invalid_client", "the request does not name its client")),
    };
    let client = find(state, &client_id, None).await?;
    match (&client.secret_hash, secret) {
        (None, None) => Ok(client),
        (Some(stored), Some(secret)) if hashes_match(stored, &hash(&secret)) => Ok(client),
        (Some(_), _) => Err(OAuthError::new("invalid_client", "the client secret is missing or wrong")),
        (None, Some(_)) => Err(OAuthError::new("invalid_client", "this client is public and has no secret")),
    }
}

/// Basic credentials are form-encoded before base64 (RFC 6749 §2.3.1).
fn percent_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
}

//! OmniMCP as an OAuth client of remote MCP servers that require OAuth,
//! the way the MCP authorization specification (2025-11-25) asks an MCP
//! client to behave. This file is the protocol, with no platform state: the
//! gateway's connect flow ([`super::remote`]) and the conformance client
//! (`examples/conformance_client.rs`) both drive it.
//!
//! 1. [`probe`]: an unauthenticated request; a `401` with a `Bearer`
//!    challenge ([`Challenge`]) means the server wants a token.
//! 2. [`discover`]: the Protected Resource Metadata (RFC 9728) from the
//!    challenge's `resource_metadata`, else from the well-known paths
//!    (path-suffixed first); its `resource` must be the server's own URL.
//!    Then the first authorization server's metadata (RFC 8414 and OpenID
//!    discovery, in the specification's order), whose `issuer` must be the
//!    one named, and which must offer PKCE with S256. A server of the
//!    2025-03-26 revision (no resource metadata) is its own authorization
//!    server, with the default endpoints when it publishes no metadata.
//! 3. Who OmniMCP is to that server ([`ClientCredentials`]): a
//!    pre-registered client, else a Client ID Metadata Document (our own
//!    URL as the client id) where the server supports them, else Dynamic
//!    Client Registration ([`register`]).
//! 4. [`authorization_url`] (PKCE S256, `resource` per RFC 8707, the scope
//!    the challenge asked for, else the server's `scopes_supported`, else
//!    none), then [`exchange`] for the code at the token endpoint, with the
//!    client authentication the registration chose; [`check_issuer`]
//!    applies RFC 9207 to the redirect.
//!
//! Every request goes through the SSRF-guarded client without following
//! redirects: an upstream's metadata cannot point OmniMCP at an internal
//! address, and a client secret is only ever sent to the token endpoint it
//! was meant for.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{outbound::Outbound, secrets::Secret};

/// What a `WWW-Authenticate: Bearer ...` challenge said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    pub resource_metadata: Option<String>,
    pub scope: Option<String>,
    pub error: Option<String>,
}

/// The `Bearer` challenge among a `WWW-Authenticate` header's, if any.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let mut rest = header.trim_start();
    let mut in_bearer = false;
    let mut found = None::<Challenge>;
    while !rest.is_empty() {
        let token_end = rest.find(|c: char| c == '=' || c == ',' || c.is_whitespace()).unwrap_or(rest.len());
        let (token, after) = rest.split_at(token_end);
        let after = after.trim_start();
        if let Some(value_part) = after.strip_prefix('=') {
            // A parameter of the current scheme.
            let value_part = value_part.trim_start();
            let (value, remaining) = if let Some(quoted) = value_part.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                value.push(escaped);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                (value, &quoted[end.min(quoted.len())..])
            } else {
                let end = value_part.find(|c: char| c == ',' || c.is_whitespace()).unwrap_or(value_part.len());
                (value_part[..end].to_string(), &value_part[end..])
            };
            if in_bearer {
                let challenge = found.get_or_insert_with(Challenge::default);
                match token.to_ascii_lowercase().as_str() {
                    "resource_metadata" => challenge.resource_metadata = Some(value),
                    "scope" => challenge.scope = Some(value),
                    "error" => challenge.error = Some(value),
                    _ => {}
                }
            }
            rest = remaining.trim_start().trim_start_matches(',').trim_start();
        } else if token.is_empty() {
            rest = after.trim_start_matches(',').trim_start();
        } else {
            // A new scheme (a token not followed by `=`).
            in_bearer = token.eq_ignore_ascii_case("bearer");
            if in_bearer && found.is_none() {
                found = Some(Challenge::default());
            }
            rest = after.trim_start_matches(',').trim_start();
        }
    }
    found
}

/// Sends unauthenticated MCP requests to a server: `Some` with its
/// challenge when it answers 401 (a challenge without parameters when the
/// header is missing or names another scheme), `None` when it needs no
/// token. Some servers let `initialize` through and guard the rest, and a
/// 2026-07-28 server refuses `initialize` for what it is, so a `tools/list`
/// follows (it needs no session to be refused for want of a token).
pub async fn probe(outbound: &Outbound, server_url: &str) -> Result<Option<Challenge>, String> {
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "omnimcp", "version": env!("CARGO_PKG_VERSION")}}
    });
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
    for (body, method) in [(initialize, "initialize"), (list, "tools/list")] {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json, text/event-stream"));
        headers.insert("mcp-method", HeaderValue::from_static(method));
        let response = outbound
            .send_without_redirects(Method::POST, server_url, headers, Some(body.to_string().into_bytes()))
            .await
            .map_err(|e| format!("the server could not be reached ({e})"))?;
        if response.status == StatusCode::UNAUTHORIZED {
            return Ok(Some(challenge_of(&response.headers).unwrap_or_default()));
        }
    }
    Ok(None)
}

/// The `Bearer` challenge of a response's `WWW-Authenticate` headers.
pub fn challenge_of(headers: &HeaderMap) -> Option<Challenge> {
    headers.get_all(header::WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()).find_map(parse_challenge)
}

/// An authorization server as OmniMCP needs it (kept, sealed, in a
/// connect flow's `state`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthServer {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// `client_id_metadata_document_supported`.
    #[serde(default)]
    pub accepts_metadata_documents: bool,
    /// `authorization_response_iss_parameter_supported` (RFC 9207).
    #[serde(default)]
    pub sends_issuer: bool,
    /// `token_endpoint_auth_methods_supported` (empty: the RFC 8414
    /// default, `client_secret_basic`).
    #[serde(default)]
    pub token_auth_methods: Vec<String>,
    /// `offline_access` is among its `scopes_supported`: asking for it is
    /// how a refresh token is had (SEP-2207).
    #[serde(default)]
    pub offers_offline_access: bool,
}

/// What discovery found for one server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Discovered {
    /// The resource indicator to ask tokens for (RFC 8707); `None` for a
    /// server of the 2025-03-26 revision, which names none.
    pub resource: Option<String>,
    pub server: AuthServer,
    /// The scope to ask for (`None`: omit the parameter).
    pub scope: Option<String>,
}

/// GETs a JSON document; `Ok(None)` for an answer that is not a 200 with
/// a JSON object (the next candidate is tried).
async fn get_json(outbound: &Outbound, url: &str) -> Result<Option<Value>, String> {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let response = outbound
        .send_without_redirects(Method::GET, url, headers, None)
        .await
        .map_err(|e| format!("{} could not be fetched ({e})", crate::upstream::remote::without_queries(url)))?;
    if response.status != StatusCode::OK {
        return Ok(None);
    }
    Ok(serde_json::from_slice::<Value>(&response.body).ok().filter(Value::is_object))
}

/// `scheme://host[:port]` and the path (without a trailing `/`) of a URL.
fn split_url(url: &str) -> Result<(String, String), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("`{url}` is not an http(s) URL"));
    }
    let origin = parsed.origin().ascii_serialization();
    Ok((origin, parsed.path().trim_end_matches('/').to_string()))
}

/// Whether the resource a server's metadata names is the server itself:
/// the same origin, and the server's path equal to or under it.
fn resource_covers(resource: &str, server_url: &str) -> bool {
    match (split_url(resource), split_url(server_url)) {
        (Ok((r_origin, r_path)), Ok((s_origin, s_path))) => {
            r_origin == s_origin && (s_path == r_path || s_path.starts_with(&format!("{r_path}/")))
        }
        _ => false,
    }
}

/// Where an issuer's metadata may be, in the order the specification
/// gives (RFC 8414 first, then OpenID Connect Discovery, path-aware).
fn metadata_urls(issuer: &str) -> Result<Vec<String>, String> {
    let (origin, path) = split_url(issuer)?;
    Ok(if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    })
}

fn http_url(value: Option<&Value>, what: &str) -> Result<String, String> {
    let url = value.and_then(Value::as_str).ok_or_else(|| format!("the authorization server names no {what}"))?;
    split_url(url).map_err(|e| format!("its {what}: {e}"))?;
    Ok(url.to_string())
}

/// Finds what a server's authorization needs (see the module docs).
pub async fn discover(outbound: &Outbound, server_url: &str, challenge: &Challenge) -> Result<Discovered, String> {
    let (origin, path) = split_url(server_url)?;
    let mut candidates = Vec::new();
    if let Some(url) = &challenge.resource_metadata {
        candidates.push(url.clone());
    }
    if !path.is_empty() {
        candidates.push(format!("{origin}/.well-known/oauth-protected-resource{path}"));
    }
    candidates.push(format!("{origin}/.well-known/oauth-protected-resource"));
    let mut metadata = None;
    for url in &candidates {
        if let Some(doc) = get_json(outbound, url).await? {
            metadata = Some(doc);
            break;
        }
    }
    let (resource, issuer, scopes_supported) = match &metadata {
        Some(prm) => {
            let resource = prm["resource"].as_str().ok_or("the resource metadata names no resource")?;
            if !resource_covers(resource, server_url) {
                return Err(format!(
                    "the resource metadata is for {resource}, not for {server_url}: refusing to get a token for another resource"
                ));
            }
            let issuer = prm["authorization_servers"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .ok_or("the resource metadata names no authorization server")?;
            let scopes = prm["scopes_supported"]
                .as_array()
                .map(|s| s.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
                .filter(|s| !s.is_empty());
            (Some(resource.to_string()), issuer.to_string(), scopes)
        }
        // 2025-03-26: the server's origin is its authorization server.
        None => (None, origin.clone(), None),
    };
    let server = match authorization_server(outbound, &issuer).await? {
        Some(server) => server,
        None if metadata.is_none() => AuthServer {
            // The 2025-03-26 default endpoints.
            issuer: issuer.clone(),
            authorization_endpoint: format!("{origin}/authorize"),
            token_endpoint: format!("{origin}/token"),
            registration_endpoint: Some(format!("{origin}/register")),
            revocation_endpoint: None,
            accepts_metadata_documents: false,
            sends_issuer: false,
            token_auth_methods: Vec::new(),
            offers_offline_access: false,
        },
        None => return Err(format!("the authorization server {issuer} publishes no metadata")),
    };
    let mut scope = challenge.scope.clone().filter(|s| !s.trim().is_empty()).or(scopes_supported);
    if server.offers_offline_access && scope.is_some() {
        scope = union_scopes(scope.as_deref(), Some("offline_access"));
    }
    Ok(Discovered { resource, server, scope })
}

/// An authorization server's metadata, checked (see the module docs);
/// `None` when it publishes none at any of the specified places.
pub async fn authorization_server(outbound: &Outbound, issuer: &str) -> Result<Option<AuthServer>, String> {
    let mut found = None;
    for url in metadata_urls(issuer)? {
        if let Some(doc) = get_json(outbound, &url).await? {
            found = Some(doc);
            break;
        }
    }
    let Some(m) = found else { return Ok(None) };
    // RFC 8414 §3.3: identical, character for character.
    let named = m["issuer"].as_str().unwrap_or_default();
    if named != issuer {
        return Err(format!("the authorization server's metadata names issuer {named:?}, not {issuer:?}"));
    }
    let methods = m["code_challenge_methods_supported"].as_array();
    if !methods.is_some_and(|m| m.iter().any(|v| v == "S256")) {
        return Err("the authorization server does not offer PKCE with S256, which OAuth 2.1 requires".into());
    }
    let optional = |key: &str, what: &str| m.get(key).map(|v| http_url(Some(v), what)).transpose();
    Ok(Some(AuthServer {
        issuer: issuer.to_string(),
        authorization_endpoint: http_url(m.get("authorization_endpoint"), "authorization endpoint")?,
        token_endpoint: http_url(m.get("token_endpoint"), "token endpoint")?,
        registration_endpoint: optional("registration_endpoint", "registration endpoint")?,
        revocation_endpoint: optional("revocation_endpoint", "revocation endpoint")?,
        accepts_metadata_documents: m["client_id_metadata_document_supported"] == json!(true),
        sends_issuer: m["authorization_response_iss_parameter_supported"] == json!(true),
        token_auth_methods: m["token_endpoint_auth_methods_supported"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default(),
        offers_offline_access: m["scopes_supported"]
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s == "offline_access")),
    }))
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthMethod {
    /// A public client: `client_id` in the form, no secret.
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            _ => None,
        }
    }

    /// The method for a client with a secret, among those the server
    /// supports (RFC 8414's default, Basic, when it lists none). Where both
    /// are offered the form is preferred: the official Python SDK's
    /// authorization server accepts Basic at its token endpoint but wants
    /// the secret in the form at its revocation endpoint, and one method
    /// must serve both.
    pub fn for_secret(server: &AuthServer) -> Self {
        let supports = |m: &str| server.token_auth_methods.iter().any(|s| s == m);
        if supports("client_secret_post") {
            Self::ClientSecretPost
        } else if server.token_auth_methods.is_empty() || supports("client_secret_basic") {
            Self::ClientSecretBasic
        } else {
            Self::None
        }
    }
}

/// Who OmniMCP is to one authorization server.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<Secret>,
    pub method: AuthMethod,
}

/// What OmniMCP says about itself when it registers.
#[derive(Debug, Clone)]
pub struct ClientProfile<'a> {
    pub name: &'a str,
    pub redirect_uri: &'a str,
    pub client_uri: Option<&'a str>,
}

/// Registers OmniMCP with an authorization server (RFC 7591).
pub async fn register(
    outbound: &Outbound,
    server: &AuthServer,
    profile: &ClientProfile<'_>,
    scope: Option<&str>,
) -> Result<ClientCredentials, String> {
    let endpoint = server
        .registration_endpoint
        .as_deref()
        .ok_or("the authorization server takes no registrations and no client metadata documents")?;
    let wanted = AuthMethod::for_secret(server);
    let mut metadata = json!({
        "client_name": profile.name,
        "redirect_uris": [profile.redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": wanted.as_str(),
        // A server-side application that keeps its secret (SEP-837).
        "application_type": "web",
    });
    if let Some(scope) = scope {
        metadata["scope"] = json!(scope);
    }
    if let Some(uri) = profile.client_uri {
        metadata["client_uri"] = json!(uri);
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let response = outbound
        .send_without_redirects(Method::POST, endpoint, headers, Some(metadata.to_string().into_bytes()))
        .await
        .map_err(|e| format!("its registration endpoint could not be reached ({e})"))?;
    let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if !response.status.is_success() {
        return Err(format!("it refused the registration: {}", error_text(&answer, response.status)));
    }
    let client_id =
        answer["client_id"].as_str().filter(|s| !s.is_empty()).ok_or("the registration gave no client_id")?;
    let secret = answer["client_secret"].as_str().filter(|s| !s.is_empty()).map(|s| Secret::new(s.to_string()));
    let method = match answer["token_endpoint_auth_method"].as_str().and_then(AuthMethod::parse) {
        Some(m) => m,
        None if secret.is_some() => wanted,
        None => AuthMethod::None,
    };
    if method != AuthMethod::None && secret.is_none() {
        return Err("the registration chose a client secret but gave none".into());
    }
    Ok(ClientCredentials { client_id: client_id.to_string(), secret, method })
}

/// An OAuth error answer as text: `error (error_description)`.
fn error_text(answer: &Value, status: StatusCode) -> String {
    match answer["error"].as_str() {
        Some(error) => match answer["error_description"].as_str() {
            Some(d) => format!("{error} ({d})"),
            None => error.to_string(),
        },
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// A new PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Where the user's browser goes to authorize OmniMCP.
pub fn authorization_url(
    discovered: &Discovered,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> Result<String, String> {
    let mut url = url::Url::parse(&discovered.server.authorization_endpoint)
        .map_err(|e| format!("the authorization endpoint is not a URL: {e}"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code");
        q.append_pair("client_id", client_id);
        q.append_pair("redirect_uri", redirect_uri);
        q.append_pair("state", state);
        q.append_pair("code_challenge", challenge);
        q.append_pair("code_challenge_method", "S256");
        if let Some(resource) = &discovered.resource {
            q.append_pair("resource", resource);
        }
        if let Some(scope) = &discovered.scope {
            q.append_pair("scope", scope);
        }
    }
    Ok(url.into())
}

/// RFC 9207: the `iss` of an authorization response must be the issuer
/// the request went to (a mix-up attack otherwise), and is required when
/// the server said it sends one.
pub fn check_issuer(server: &AuthServer, iss: Option<&str>) -> Result<(), String> {
    match iss {
        // RFC 9207 §2.4: simple string comparison, no normalization.
        Some(iss) if iss != server.issuer => {
            Err(format!("the authorization response came from issuer {iss:?}, not {:?}", server.issuer))
        }
        None if server.sends_issuer => Err("the authorization response lacks the `iss` its server promised".into()),
        _ => Ok(()),
    }
}

/// What the token endpoint is asked for.
pub enum Grant<'a> {
    Code { code: &'a str, verifier: &'a str, redirect_uri: &'a str },
    Refresh(&'a str),
}

/// What the token endpoint gave.
#[derive(Debug)]
pub struct Tokens {
    pub access: Secret,
    pub refresh: Option<Secret>,
    pub expires_in: Option<i64>,
    pub scope: Option<String>,
}

/// Why the token endpoint gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The server refused (`invalid_grant` and the like): the grant is
    /// over, the user must connect again.
    #[error("the authorization server refused: {0}")]
    Refused(String),
    /// It could not be reached or answered nonsense: try again later.
    #[error("{0}")]
    Failed(String),
}

/// One request to a token endpoint.
pub async fn exchange(
    outbound: &Outbound,
    token_endpoint: &str,
    client: &ClientCredentials,
    grant: Grant<'_>,
    resource: Option<&str>,
) -> Result<Tokens, TokenError> {
    let mut pairs: Vec<(&str, &str)> = match &grant {
        Grant::Code { code, verifier, redirect_uri } => vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ],
        Grant::Refresh(token) => vec![("grant_type", "refresh_token"), ("refresh_token", token)],
    };
    if let Some(resource) = resource {
        pairs.push(("resource", resource));
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    // `client_id` goes in the form with every method: RFC 6749 allows it
    // beside Basic credentials, and some servers (the Python SDK's)
    // require it there.
    pairs.push(("client_id", &client.client_id));
    let secret = client.secret.as_ref().map(Secret::expose);
    match (client.method, secret) {
        (AuthMethod::ClientSecretBasic, Some(secret)) => {
            // RFC 6749 §2.3.1: both parts form-encoded before Base64.
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let basic = STANDARD.encode(format!("{}:{}", enc(&client.client_id), enc(secret)));
            let value = HeaderValue::from_str(&format!("Basic {basic}"))
                .map_err(|_| TokenError::Failed("the client credentials are not header-safe".into()))?;
            headers.insert(header::AUTHORIZATION, value);
        }
        (AuthMethod::ClientSecretPost, Some(secret)) => pairs.push(("client_secret", secret)),
        _ => {}
    }
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes();
    let response = outbound
        .send_without_redirects(Method::POST, token_endpoint, headers, Some(body))
        .await
        .map_err(|e| TokenError::Failed(format!("the token endpoint could not be reached ({e})")))?;
    let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if !response.status.is_success() {
        let text = error_text(&answer, response.status);
        return Err(if response.status.is_client_error() {
            TokenError::Refused(text)
        } else {
            TokenError::Failed(text)
        });
    }
    let access = answer["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Failed("the token endpoint gave no access token".into()))?;
    let token_type = answer["token_type"].as_str().unwrap_or("Bearer");
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::Failed(format!("the token endpoint gave a {token_type} token; only Bearer is used")));
    }
    Ok(Tokens {
        access: Secret::new(access.to_string()),
        refresh: answer["refresh_token"].as_str().filter(|t| !t.is_empty()).map(|t| Secret::new(t.to_string())),
        expires_in: answer["expires_in"].as_i64().filter(|s| *s > 0),
        scope: answer["scope"].as_str().map(str::to_string),
    })
}

/// Revokes a token at the authorization server (RFC 7009), best effort.
pub async fn revoke(
    outbound: &Outbound,
    endpoint: &str,
    client: &ClientCredentials,
    token: &str,
    hint: &str,
) -> Result<(), String> {
    let mut pairs = vec![("token", token), ("token_type_hint", hint), ("client_id", client.client_id.as_str())];
    if let (AuthMethod::ClientSecretPost, Some(secret)) = (client.method, &client.secret) {
        pairs.push(("client_secret", secret.expose()));
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    if let (AuthMethod::ClientSecretBasic, Some(secret)) = (client.method, &client.secret) {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = STANDARD.encode(format!("{}:{}", enc(&client.client_id), enc(secret.expose())));
        if let Ok(v) = HeaderValue::from_str(&format!("Basic {basic}")) {
            headers.insert(header::AUTHORIZATION, v);
        }
    }
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes();
    let response = outbound
        .send_without_redirects(Method::POST, endpoint, headers, Some(body))
        .await
        .map_err(|e| e.to_string())?;
    if response.status.is_success() { Ok(()) } else { Err(format!("HTTP {}", response.status.as_u16())) }
}

/// The scopes of two scope strings together (a step-up asks for what it
/// had and what the challenge names).
pub fn union_scopes(had: Option<&str>, more: Option<&str>) -> Option<String> {
    let mut all: Vec<&str> = Vec::new();
    for s in had.into_iter().chain(more).flat_map(str::split_whitespace) {
        if !all.contains(&s) {
            all.push(s);
        }
    }
    (!all.is_empty()).then(|| all.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_parsed() {
        let c = parse_challenge(
            r#"Bearer resource_metadata="https://a.example/.well-known/oauth-protected-resource/mcp", scope="files:read files:write""#,
        )
        .unwrap();
        assert_eq!(c.resource_metadata.as_deref(), Some("https://a.example/.well-known/oauth-protected-resource/mcp"));
        assert_eq!(c.scope.as_deref(), Some("files:read files:write"));
        let c = parse_challenge(r#"DPoP algs="ES256", Bearer error="insufficient_scope", scope="admin""#).unwrap();
        assert_eq!((c.error.as_deref(), c.scope.as_deref()), (Some("insufficient_scope"), Some("admin")));
        assert_eq!(parse_challenge("Bearer").unwrap(), Challenge::default());
        assert_eq!(parse_challenge(r#"Basic realm="x""#), None);
        let c = parse_challenge(r#"bearer scope="a \"b\"", realm=x"#).unwrap();
        assert_eq!(c.scope.as_deref(), Some(r#"a "b""#));
    }

    #[test]
    fn resources_must_be_the_server() {
        assert!(resource_covers("https://a.example/mcp", "https://a.example/mcp"));
        assert!(resource_covers("https://a.example", "https://a.example/mcp"));
        assert!(resource_covers("https://a.example/", "https://a.example/mcp/"));
        assert!(!resource_covers("https://a.example/mcp", "https://a.example/mcpx"));
        assert!(!resource_covers("https://b.example/mcp", "https://a.example/mcp"));
        assert!(!resource_covers("http://a.example/mcp", "https://a.example/mcp"));
    }

    #[test]
    fn metadata_is_looked_for_in_the_specified_order() {
        assert_eq!(
            metadata_urls("https://auth.example/tenant").unwrap(),
            [
                "https://auth.example/.well-known/oauth-authorization-server/tenant",
                "https://auth.example/.well-known/openid-configuration/tenant",
                "https://auth.example/tenant/.well-known/openid-configuration",
            ]
        );
        assert_eq!(metadata_urls("https://auth.example").unwrap().len(), 2);
    }

    #[test]
    fn issuers_are_checked() {
        let mut server = AuthServer {
            issuer: "https://auth.example".into(),
            authorization_endpoint: String::new(),
            token_endpoint: String::new(),
            registration_endpoint: None,
            revocation_endpoint: None,
            accepts_metadata_documents: false,
            sends_issuer: false,
            token_auth_methods: vec![],
            offers_offline_access: false,
        };
        assert!(check_issuer(&server, None).is_ok());
        assert!(check_issuer(&server, Some("https://auth.example")).is_ok());
        assert!(check_issuer(&server, Some("https://evil.example")).is_err());
        assert!(check_issuer(&server, Some("https://auth.example/")).is_err(), "no normalization");
        server.sends_issuer = true;
        assert!(check_issuer(&server, None).is_err());
        assert_eq!(union_scopes(Some("a b"), Some("b c")).as_deref(), Some("a b c"));
        assert_eq!(union_scopes(None, None), None);
    }
}

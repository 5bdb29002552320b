//! OmniMCP's remote-MCP upstream client, as a program the official MCP
//! conformance suite can drive in its *client* mode (`conformance client
//! --command "conformance_client" --scenario NAME`).
//!
//! The gateway reaches a remote MCP server through
//! [`omnimcp::upstream::remote`] (rmcp's Streamable HTTP client behind our
//! SSRF-guarded HTTP client, the 2026-07-28 era preferred with a fallback
//! to `initialize`) and runs every operation through
//! [`omnimcp::upstream::peer::run_on_peer`]. This program does
//! exactly that against the suite's scenario server, so the suite judges the
//! code the gateway runs, not a stand-in:
//!
//! - every scenario: connect and list what the server offers;
//! - `tools_call`: call `add_numbers` with `{a: 5, b: 3}`;
//! - `sse-retry`: call `test_reconnection`, whose answer arrives after the
//!   server closes the stream (the client must resume it);
//! - `http-invalid-tool-headers`: call `valid_tool`, listed beside tools
//!   whose header declarations are malformed (those must be left out, the
//!   valid one kept).
//! - `auth/*`: the server wants an OAuth token. The program does what the
//!   gateway's connect flow does ([`omnimcp::oauth::upstream`]: probe,
//!   discovery, client identity, PKCE, code exchange), with the user's
//!   browser replaced by one GET of the authorization URL (the suite's
//!   authorization server approves at once and redirects with the code),
//!   then lists and calls `test-tool` with the token. A 403
//!   `insufficient_scope` is met by authorizing again for the union of the
//!   scopes, a 401 by discovery and authorization again (with a new client
//!   identity when the authorization server changed), at most three
//!   authorizations in all. Pre-registered credentials come from
//!   `MCP_CONFORMANCE_CONTEXT`.
//!
//! Usage: `conformance_client URL` with the scenario in
//! `MCP_CONFORMANCE_SCENARIO` (the suite sets both). Loopback and plain HTTP
//! are allowed here because the suite's servers are on `localhost`; the
//! platform refuses both unless configured. The suite's servers listen on
//! every interface, so tests run it inside `unshare -n`.

use std::{process::ExitCode, time::Duration};

use omnimcp::{
    db::User,
    identity::{AuthMethod, Principal},
    oauth::upstream::{self, ClientCredentials, ClientProfile, Discovered, Grant},
    outbound::{Outbound, OutboundPolicy},
    secrets::Secret,
    upstream::{CallContext, Operation, Outcome, UpstreamError, remote::RemoteClients},
};
use rmcp::model::ServerResult;
use serde_json::json;
use uuid::Uuid;

/// A scenario's calls are short, but may report progress.
const LIMITS: omnimcp::upstream::CallLimits =
    omnimcp::upstream::CallLimits { idle: Duration::from_secs(60), max: Duration::from_secs(300) };

#[tokio::main]
async fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: conformance_client URL (scenario in MCP_CONFORMANCE_SCENARIO)");
        return ExitCode::from(2);
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let outbound = Outbound::new(OutboundPolicy {
        allow_http: true,
        allow_loopback: true,
        timeout: Duration::from_secs(30),
        ..OutboundPolicy::default()
    });
    let remote = RemoteClients::new(None);
    // The call's context, as the REST door would build it for a user.
    let user = User {
        id: Uuid::nil(),
        email: "conformance@example.invalid".into(),
        role: "user".into(),
        subscription_tier: "free".into(),
        created_at: chrono::Utc::now(),
    };
    let ctx = CallContext::detached(Principal {
        user,
        method: AuthMethod::ApiKey { key_id: Uuid::nil() },
        scope: None,
        may_call_tools: true,
    });
    if scenario.starts_with("auth/") {
        return match authorized_session(&outbound, &remote, &url, &ctx).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{scenario}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let call = match scenario.as_str() {
        "tools_call" => Some(("add_numbers", json!({ "a": 5, "b": 3 }))),
        "sse-retry" => Some(("test_reconnection", json!({}))),
        "http-invalid-tool-headers" => Some(("valid_tool", json!({}))),
        _ => None,
    };
    // Listing first, over a connection of its own, as the registry does
    // when a remote server is deployed.
    match RemoteClients::discover(&outbound, &url, None).await {
        Ok(catalog) => {
            eprintln!("{} tools: {:?}", catalog.tools.len(), catalog.tools.iter().map(|t| &t.name).collect::<Vec<_>>())
        }
        Err(e) => {
            eprintln!("discovery failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Some((tool, arguments)) = call {
        if scenario == "sse-retry" {
            // The scenario takes the first GET after the call's stream closes
            // for the client's reconnection. rmcp opens its standalone GET
            // stream on its own task right after the handshake; when that
            // GET lands after the call, the scenario mistakes it for an early
            // reconnection without Last-Event-ID. Connect first, let the
            // standalone stream open, then call.
            if let Err(e) = remote.connect(&outbound, Uuid::nil(), Uuid::nil(), &url, None, ctx.era).await {
                eprintln!("connecting failed: {e}");
                return ExitCode::FAILURE;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let op = Operation::CallTool { tool: tool.to_string(), arguments };
        match remote.execute(&outbound, Uuid::nil(), Uuid::nil(), &url, None, op, &ctx, LIMITS).await {
            Ok(outcome) if outcome.is_tool_error() => {
                eprintln!("{tool} failed: {outcome:?}");
                return ExitCode::FAILURE;
            }
            Ok(Outcome::Mcp(ServerResult::CallToolResult(result))) => eprintln!("{tool}: {:?}", result.content),
            Ok(other) => {
                eprintln!("{tool}: not a tool result: {other:?}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("{tool}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// The suite's fixed Client ID Metadata Document URL (its authorization
/// server takes it as is); the gateway uses `/oauth/client-metadata.json`
/// on its own public URL.
const METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";
/// Where the authorization server redirects; never fetched here.
const REDIRECT_URI: &str = "http://127.0.0.1:9/connect/mcp/callback";
/// Most authorizations for one scenario (a server that never stops asking
/// for more scope must not loop us).
const MAX_AUTHORIZATIONS: usize = 3;

/// An `auth/*` scenario: sign in when the server asks, list, call.
async fn authorized_session(
    outbound: &Outbound,
    remote: &RemoteClients,
    url: &str,
    ctx: &CallContext,
) -> Result<(), String> {
    let challenge = upstream::probe(outbound, url).await?.ok_or("the server did not ask for a token")?;
    let mut discovered = upstream::discover(outbound, url, &challenge).await?;
    let mut client = None;
    let mut token = sign_in(outbound, &discovered, &mut client).await?;
    let mut authorizations = 1;
    loop {
        match list_and_call(outbound, remote, url, &token, ctx).await {
            Ok(()) => return Ok(()),
            Err(UpstreamError::AuthRequired(header)) if authorizations < MAX_AUTHORIZATIONS => {
                let challenge = upstream::parse_challenge(&header).unwrap_or_default();
                if challenge.error.as_deref() == Some("insufficient_scope") {
                    // Step-up: what was granted and what the challenge names.
                    discovered.scope = upstream::union_scopes(discovered.scope.as_deref(), challenge.scope.as_deref());
                } else {
                    // The token is refused: discovery again, since the server
                    // may have moved to another authorization server, whose
                    // client identity is its own (SEP-2352).
                    let again = upstream::discover(outbound, url, &challenge).await?;
                    if again.server.issuer != discovered.server.issuer {
                        client = None;
                    }
                    discovered = again;
                }
                remote.close_installation(Uuid::nil()).await;
                token = sign_in(outbound, &discovered, &mut client).await?;
                authorizations += 1;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Lists what the server offers and calls its first tool, with the token.
async fn list_and_call(
    outbound: &Outbound,
    remote: &RemoteClients,
    url: &str,
    token: &Secret,
    ctx: &CallContext,
) -> Result<(), UpstreamError> {
    let catalog = RemoteClients::discover(outbound, url, Some(token)).await?;
    eprintln!("{} tools", catalog.tools.len());
    let Some(tool) = catalog.tools.first().map(|t| t.name.to_string()) else { return Ok(()) };
    let op = Operation::CallTool { tool, arguments: json!({}) };
    remote.execute(outbound, Uuid::nil(), Uuid::nil(), url, Some(token), op, ctx, LIMITS).await.map(|_| ())
}

/// One authorization: the client identity (kept for the next one), the
/// authorization URL followed once, the code exchanged.
async fn sign_in(
    outbound: &Outbound,
    discovered: &Discovered,
    client: &mut Option<ClientCredentials>,
) -> Result<Secret, String> {
    if client.is_none() {
        *client = Some(identify(outbound, discovered).await?);
    }
    let client = client.as_ref().expect("set above");
    let (verifier, challenge) = upstream::pkce();
    let state = Uuid::new_v4().to_string();
    let to = upstream::authorization_url(discovered, &client.client_id, REDIRECT_URI, &state, &challenge)?;
    let answer = outbound
        .send_without_redirects(reqwest::Method::GET, &to, Default::default(), None)
        .await
        .map_err(|e| format!("the authorization endpoint: {e}"))?;
    let location = answer
        .headers
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| format!("the authorization endpoint answered {} without a redirect", answer.status))?;
    let back = url::Url::parse(location).map_err(|e| format!("the redirect is not a URL: {e}"))?;
    let param = |name: &str| back.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    if param("state").as_deref() != Some(state.as_str()) {
        return Err("the redirect carried another state".into());
    }
    upstream::check_issuer(&discovered.server, param("iss").as_deref())?;
    let code = param("code").ok_or_else(|| format!("no code in the redirect ({:?})", param("error")))?;
    let grant = Grant::Code { code: &code, verifier: &verifier, redirect_uri: REDIRECT_URI };
    let tokens =
        upstream::exchange(outbound, &discovered.server.token_endpoint, client, grant, discovered.resource.as_deref())
            .await
            .map_err(|e| e.to_string())?;
    Ok(tokens.access)
}

/// Who this client is: pre-registered credentials from the suite's
/// context, else a metadata document URL where accepted, else a
/// registration.
async fn identify(outbound: &Outbound, discovered: &Discovered) -> Result<ClientCredentials, String> {
    let context: serde_json::Value =
        std::env::var("MCP_CONFORMANCE_CONTEXT").ok().and_then(|c| serde_json::from_str(&c).ok()).unwrap_or_default();
    if let Some(id) = context["client_id"].as_str() {
        let secret = context["client_secret"].as_str().map(|s| Secret::new(s.to_string()));
        let method = match &secret {
            Some(_) => upstream::AuthMethod::for_secret(&discovered.server),
            None => upstream::AuthMethod::None,
        };
        return Ok(ClientCredentials { client_id: id.to_string(), secret, method });
    }
    if discovered.server.accepts_metadata_documents {
        return Ok(ClientCredentials {
            client_id: METADATA_URL.to_string(),
            secret: None,
            method: upstream::AuthMethod::None,
        });
    }
    let profile = ClientProfile { name: "OmniMCP conformance client", redirect_uri: REDIRECT_URI, client_uri: None };
    upstream::register(outbound, &discovered.server, &profile, discovered.scope.as_deref()).await
}

//! The call pipeline: every operation on an installed server (a tool call, a
//! resource read, a prompt), whichever front door it came in by (`/mcp`,
//! `POST /mcp/call`, `POST /mcp/resource`), runs these steps in this order:
//!
//! 1. the caller is authenticated (by the front door: [`Principal`]);
//! 2. tier limits: requests per minute and the monthly quota ([`Limiter`]);
//! 3. the server is resolved (id or slug) and the caller's installation of
//!    it must exist and be enabled; a server the caller has not installed
//!    looks exactly like one that does not exist;
//! 4. the tool (or resource) must exist on that server;
//! 5. a tool's arguments must match its input schema;
//! 6. the operation is routed to its [`Upstream`];
//! 7. a request-log row is queued (never the arguments).
//!
//! [`Limiter`]: crate::limits::Limiter

use std::time::Instant;

use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    auth::Principal,
    db::RequestLog,
    error::{ApiError, ApiResult},
    limits::Decision,
    registry::{ServerEntry, webhook_aad},
    secrets::Secret,
    state::AppState,
    upstream::{ToolOutcome, Upstream, UpstreamError},
};

pub use crate::upstream::Operation;

/// The rate-limit state to report in `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct RateInfo {
    pub limit: i64,
    pub remaining: i64,
    pub reset_secs: u64,
}

/// Runs one tool call through every step.
pub async fn call_tool(
    state: &AppState,
    principal: &Principal,
    server_ref: &str,
    tool: &str,
    arguments: Value,
) -> ApiResult<(ToolOutcome, RateInfo)> {
    execute(state, principal, server_ref, Operation::CallTool { tool: tool.to_string(), arguments }).await
}

/// Gets one prompt through every step.
pub async fn get_prompt(
    state: &AppState,
    principal: &Principal,
    server_ref: &str,
    name: &str,
    arguments: serde_json::Map<String, Value>,
) -> ApiResult<(ToolOutcome, RateInfo)> {
    execute(state, principal, server_ref, Operation::GetPrompt { name: name.to_string(), arguments }).await
}

/// Reads one resource through every step.
pub async fn read_resource(
    state: &AppState,
    principal: &Principal,
    server_ref: &str,
    uri: &str,
) -> ApiResult<(ToolOutcome, RateInfo)> {
    execute(state, principal, server_ref, Operation::ReadResource { uri: uri.to_string() }).await
}

/// The pipeline itself.
pub async fn execute(
    state: &AppState,
    principal: &Principal,
    server_ref: &str,
    op: Operation,
) -> ApiResult<(ToolOutcome, RateInfo)> {
    let user = &principal.user;
    let tier = tier(state, &user.subscription_tier).await?;
    let rate = match state.limiter.check(&state.db, user.id, &tier).await? {
        Decision::Allowed { limit, remaining, reset_secs } => RateInfo { limit, remaining, reset_secs },
        Decision::RateLimited { limit, retry_after_secs } => {
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "rate limit of {limit} request{} a minute reached; retry in {retry_after_secs} s",
                    if limit == 1 { "" } else { "s" }
                ),
                retry_after_secs,
            });
        }
        Decision::QuotaExceeded { limit, retry_after_secs } => {
            return Err(ApiError::TooManyRequests {
                message: format!("monthly quota of {limit} requests used up; it renews at the start of next month"),
                retry_after_secs,
            });
        }
    };

    let started = Instant::now();
    let mut log = RequestLog {
        id: Uuid::now_v7(),
        user_id: Some(user.id),
        server_id: None,
        tool_name: match &op {
            Operation::CallTool { tool, .. } => Some(tool.chars().take(64).collect()),
            Operation::GetPrompt { name, .. } => Some(name.chars().take(64).collect()),
            Operation::ReadResource { .. }
            | Operation::Complete { .. }
            | Operation::Subscribe { .. }
            | Operation::Unsubscribe { .. } => None,
        },
        request_type: op.request_type().into(),
        status: "error".into(),
        error_class: None,
        response_time_ms: 0,
        created_at: Utc::now(),
    };
    let result = route(state, principal, server_ref, op, &mut log).await;
    log.response_time_ms = started.elapsed().as_millis() as i64;
    match &result {
        Ok(ToolOutcome::Ok(_)) => log.status = "ok".into(),
        Ok(ToolOutcome::ToolError(_)) => log.error_class = Some("tool_error".into()),
        Err(e) => {
            log.error_class.get_or_insert_with(|| e.code().to_string());
        }
    }
    state.request_log.record(log);
    result.map(|outcome| (outcome, rate))
}

/// A tier, through the cache (see [`crate::cache`]).
async fn tier(state: &AppState, id: &str) -> ApiResult<std::sync::Arc<crate::db::Tier>> {
    if let Some(hit) = state.caches.tiers.get(&id.to_string()) {
        return Ok(hit);
    }
    let tier = state.db.tier(id).await?.ok_or_else(|| anyhow::anyhow!("unknown tier {id}"))?;
    let tier = std::sync::Arc::new(tier);
    state.caches.tiers.put(id.to_string(), tier.clone());
    Ok(tier)
}

fn unknown_server() -> ApiError {
    ApiError::NotFound("no such server among your installations".into())
}

async fn resolve_server(state: &AppState, server_ref: &str) -> ApiResult<Option<std::sync::Arc<ServerEntry>>> {
    let id = match Uuid::parse_str(server_ref) {
        Ok(id) => id,
        Err(_) => match state.db.server_by_slug(server_ref).await? {
            Some(s) => s.id,
            None => return Ok(None),
        },
    };
    state.registry.server(id).await
}

async fn route(
    state: &AppState,
    principal: &Principal,
    server_ref: &str,
    op: Operation,
    log: &mut RequestLog,
) -> ApiResult<ToolOutcome> {
    let entry = resolve_server(state, server_ref).await?.ok_or_else(unknown_server)?;
    let installations = crate::installations::of_user(state, principal.user.id).await?;
    let installation =
        installations.iter().find(|i| i.server_id == entry.record.id).ok_or_else(unknown_server)?.clone();
    // A scoped key sees nothing outside its scope: not even that it exists.
    if entry.record.status != "active" || !principal.may_use_installation(installation.id) {
        return Err(unknown_server());
    }
    log.server_id = Some(entry.record.id);
    if !installation.enabled {
        return Err(ApiError::Forbidden(
            "this server is disabled in your installations; enable it to call its tools".into(),
        ));
    }
    match &op {
        Operation::CallTool { tool, arguments } => {
            if entry.tool(tool).is_none() || !principal.may_use_tool(&crate::mcp::public_name(&entry.record.slug, tool))
            {
                return Err(ApiError::NotFound(format!("the server has no tool named {tool:?}")));
            }
            if !arguments.is_object() {
                return Err(ApiError::invalid("arguments", "the arguments must be a JSON object"));
            }
            if let Some(validator) = entry.validator(tool) {
                if let Some(err) = validator.iter_errors(arguments).next() {
                    let path = err.instance_path().to_string();
                    let field = if path.is_empty() {
                        "arguments".to_string()
                    } else {
                        format!("arguments{}", path.replace('/', "."))
                    };
                    return Err(ApiError::InvalidField { field, message: err.to_string() });
                }
            }
        }
        Operation::ReadResource { uri } | Operation::Subscribe { uri } | Operation::Unsubscribe { uri } => {
            if !entry.has_resource(uri) {
                return Err(ApiError::NotFound(format!("the server has no resource {uri:?}")));
            }
        }
        Operation::Complete { params } => {
            if let rmcp::model::Reference::Prompt(p) = &params.r#ref {
                entry.prompt(&p.name).ok_or_else(|| ApiError::NotFound(format!("no prompt named {:?}", p.name)))?;
            }
        }
        Operation::GetPrompt { name, arguments } => {
            let prompt = entry.prompt(name).ok_or_else(|| ApiError::NotFound(format!("no prompt named {name:?}")))?;
            for arg in prompt.arguments.0.as_array().into_iter().flatten() {
                let required = arg.get("required").and_then(Value::as_bool) == Some(true);
                let arg_name = arg.get("name").and_then(Value::as_str).unwrap_or_default();
                if required && !arguments.contains_key(arg_name) {
                    return Err(ApiError::invalid(
                        &format!("arguments.{arg_name}"),
                        format!("the prompt needs the argument {arg_name:?}"),
                    ));
                }
            }
        }
    }
    let upstream = upstream_for(state, &entry, &installation)?;
    upstream.execute(state, op).await.map_err(|e| {
        log.error_class = Some(e.class().into());
        tracing::warn!(server_id = %entry.record.id, error = %e, "upstream call failed");
        match e {
            UpstreamError::Timeout => ApiError::GatewayTimeout("the server did not answer in time".into()),
            other => ApiError::BadGateway(other.to_string()),
        }
    })
}

/// The upstream a server's calls go to.
fn upstream_for(
    state: &AppState,
    entry: &ServerEntry,
    installation: &crate::db::InstallationRecord,
) -> ApiResult<Upstream> {
    let s = &entry.record;
    match s.hosting_type.as_str() {
        "developer_hosted" => {
            let base_url =
                s.callback_url.clone().ok_or_else(|| anyhow::anyhow!("server {} has no callback URL", s.id))?;
            let sealed = s
                .webhook_secret_enc
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("server {} has no webhook secret", s.id))?;
            let secret = state
                .sealer
                .open(sealed, &webhook_aad(s.id))
                .map_err(|e| anyhow::anyhow!("webhook secret of {}: {e}", s.id))?;
            let secret =
                String::from_utf8(secret).map_err(|_| anyhow::anyhow!("webhook secret of {} is not text", s.id))?;
            Ok(Upstream::Callback { base_url, secret: Secret::new(secret) })
        }
        "platform_hosted" => {
            let spec = s.launch_spec.as_ref().ok_or_else(|| anyhow::anyhow!("server {} has no launch spec", s.id))?;
            let spec: crate::supervisor::LaunchSpec =
                serde_json::from_value(spec.0.clone()).map_err(|e| anyhow::anyhow!("launch spec of {}: {e}", s.id))?;
            let config = crate::installations::open_config(state, installation)?;
            Ok(Upstream::Process { server_id: s.id, spec, config })
        }
        "remote_mcp" => {
            let url = s.remote_url.clone().ok_or_else(|| anyhow::anyhow!("server {} has no URL", s.id))?;
            Ok(Upstream::Remote { server_id: s.id, url })
        }
        other => Err(anyhow::anyhow!("server {} has unknown hosting type {other}", s.id).into()),
    }
}

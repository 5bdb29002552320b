//! The gateway: what happens to a call between the front door that
//! received it and the upstream that answers it. Every door (`/mcp`, the
//! REST door `POST /mcp/call` and `/mcp/resource`, the pages' "try it")
//! takes the same two steps:
//!
//! 1. [`Gateway::reach`] and the [`resolve`] methods turn what the caller
//!    named into a [`Target`] (the caller's installation of a server, with
//!    the key's scope applied) and an [`Operation`] in the server's own
//!    names. A name is resolved once.
//! 2. [`Gateway::execute`] runs the pipeline, in this order:
//!    tier limits (requests per minute, monthly quota: [`limits`]);
//!    the arguments against the tool's compiled input schema (or a prompt's
//!    required arguments); the upstream ([`crate::upstream`]), with the
//!    call's [`CallContext`]; a request-log row ([`request_log`], never the
//!    arguments).
//!
//! Errors are [`GatewayError`], mapped once to JSON-RPC and once to HTTP
//! ([`error`]). [`registry`] caches servers as the router needs them;
//! [`notify`] tells connected clients when their lists change; [`names`]
//! is how many servers' names share one endpoint.
//!
//! This layer imports only the upstream layer and the infrastructure below
//! it, never a front door.

pub mod error;
pub mod limits;
pub mod names;
pub mod notify;
pub mod registry;
pub mod request_log;
pub mod resolve;

use std::{sync::Arc, time::Instant};

use app::domain::{CallStatus, ServerStatus};
use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

pub use error::GatewayError;
pub use resolve::{Reach, ServerRef, Target};

use crate::{
    cache::Caches,
    db::{Db, DbResult, InstallationRecord, RequestLog, Tier, User},
    identity::Principal,
    upstream::{CallContext, Operation, Outcome, Upstreams},
};
use limits::{Decision, Limiter};
use notify::Notifier;
use registry::Registry;
use request_log::RequestLogWriter;

/// The rate-limit state to report in `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct RateInfo {
    pub limit: i64,
    pub remaining: i64,
    pub reset_secs: u64,
}

/// Everything the call path reads and writes.
pub struct Gateway {
    pub db: Db,
    /// Servers, cached in front of the database.
    pub registry: Registry,
    /// API keys, installations and tiers, cached for the request path.
    pub caches: Caches,
    /// Per-user rate limits and monthly quotas.
    pub limiter: Limiter,
    /// The batched writer of `request_logs`.
    pub request_log: RequestLogWriter,
    /// Open MCP sessions and listen streams to tell about list changes.
    pub notifier: Notifier,
    /// Where calls go.
    pub upstreams: Upstreams,
}

impl Gateway {
    /// What a caller can reach: their installations of active servers,
    /// within their key's scope (disabled ones included, so that the REST
    /// door can say so).
    pub async fn reach(&self, principal: &Principal) -> Result<Reach, GatewayError> {
        let installations = self.installations(principal.user.id).await?;
        let mut targets = Vec::with_capacity(installations.len());
        for installation in installations.iter() {
            let Some(entry) = self.registry.server_for(installation.server_id, installation.id).await? else {
                continue;
            };
            if entry.record.status == ServerStatus::Active {
                targets.push(Target { entry, installation: installation.clone() });
            }
        }
        Ok(Reach::new(principal, targets))
    }

    /// Runs one operation on a target through the pipeline (see the module
    /// docs). The server's own answer, a tool's error included, is the
    /// [`Outcome`]; everything else is a [`GatewayError`].
    pub async fn execute(
        &self,
        ctx: &CallContext,
        target: &Target,
        op: Operation,
    ) -> Result<(Outcome, RateInfo), GatewayError> {
        let rate = self.admit(&ctx.principal.user).await?;
        let started = Instant::now();
        let mut log = RequestLog {
            id: Uuid::now_v7(),
            user_id: Some(ctx.user()),
            server_id: Some(target.entry.id()),
            tool_name: op.item_name().map(|n| n.chars().take(64).collect()),
            request_type: op.method().into(),
            status: CallStatus::Error,
            error_class: None,
            response_time_ms: 0,
            created_at: Utc::now(),
        };
        let result = self.run(ctx, target, op).await;
        log.response_time_ms = started.elapsed().as_millis() as i64;
        match &result {
            Ok(outcome) if outcome.is_tool_error() => log.error_class = Some("tool_error".into()),
            Ok(_) => log.status = CallStatus::Ok,
            Err(e) => {
                if matches!(e, GatewayError::Upstream(_)) {
                    tracing::warn!(server_id = %target.entry.id(), error = %e, "upstream call failed");
                }
                log.error_class = Some(e.class().into());
            }
        }
        self.request_log.record(log);
        result.map(|outcome| (outcome, rate))
    }

    /// The checks that need the target, then the upstream.
    async fn run(&self, ctx: &CallContext, target: &Target, op: Operation) -> Result<Outcome, GatewayError> {
        // The REST door names disabled installations too: a refusal that
        // says why (it is the caller's own choice, not a secret).
        if !target.installation.enabled {
            return Err(GatewayError::Disabled);
        }
        let entry = &target.entry;
        check_arguments(entry, &op)?;
        let hosting = entry.hosting.as_ref().map_err(|why| {
            tracing::error!(server_id = %entry.id(), why, "a server's row cannot be used");
            GatewayError::Misconfigured("the server is registered incompletely; its owner must deploy it again".into())
        })?;
        Ok(self.upstreams.execute(&entry.record, hosting, &target.installation, op, ctx).await?)
    }

    /// Takes one request that is not a call (a session opened, a list, a
    /// name that resolved to nothing) from the user's control budget.
    pub async fn admit_control(&self, user: &User) -> Result<(), GatewayError> {
        let tier = self.tier(&user.subscription_tier).await?;
        self.limiter.check_control(user.id, &tier).map_err(|retry_after_secs| GatewayError::RateLimited {
            limit: limits::Limiter::control_limit(&tier),
            retry_after_secs,
        })
    }

    /// What the caller can reach, resolved by `resolve` to a target. A
    /// failed resolution (an unknown or unreachable name) never reaches
    /// [`Gateway::execute`], so it is charged to the control budget here:
    /// guessing names costs the guesser, not us.
    pub async fn resolve<T>(
        &self,
        principal: &Principal,
        resolve: impl FnOnce(&Reach) -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        let reach = self.reach(principal).await?;
        match resolve(&reach) {
            Ok(resolved) => Ok(resolved),
            Err(e) => {
                self.admit_control(&principal.user).await?;
                Err(e)
            }
        }
    }

    /// Takes one call from the user's tier limits, or says why not.
    async fn admit(&self, user: &User) -> Result<RateInfo, GatewayError> {
        let tier = self.tier(&user.subscription_tier).await?;
        match self.limiter.check(&self.db, user.id, &tier).await? {
            Decision::Allowed { limit, remaining, reset_secs } => Ok(RateInfo { limit, remaining, reset_secs }),
            Decision::RateLimited { limit, retry_after_secs } => {
                Err(GatewayError::RateLimited { limit, retry_after_secs })
            }
            Decision::QuotaExceeded { limit, retry_after_secs } => {
                Err(GatewayError::QuotaExceeded { limit, retry_after_secs })
            }
        }
    }

    /// A tier, through the cache (see [`crate::cache`]).
    pub async fn tier(&self, id: &str) -> Result<Arc<Tier>, GatewayError> {
        if let Some(hit) = self.caches.tiers.get(&id.to_string()) {
            return Ok(hit);
        }
        let tier = self.db.tier(id).await?.ok_or_else(|| anyhow::anyhow!("unknown tier {id}"))?;
        let tier = Arc::new(tier);
        self.caches.tiers.put(id.to_string(), tier.clone());
        Ok(tier)
    }

    /// A user's installations, through the cache (see [`crate::cache`]).
    pub async fn installations(&self, user: Uuid) -> DbResult<Arc<Vec<Arc<InstallationRecord>>>> {
        if let Some(hit) = self.caches.installations.get(&user) {
            return Ok(hit);
        }
        let list: Arc<Vec<_>> = Arc::new(self.db.list_installations(user).await?.into_iter().map(Arc::new).collect());
        self.caches.installations.put(user, list.clone());
        Ok(list)
    }
}

/// A tool's arguments must match its input schema (a schema that does not
/// compile refuses every call); a prompt needs its required arguments.
fn check_arguments(entry: &registry::ServerEntry, op: &Operation) -> Result<(), GatewayError> {
    match op {
        Operation::CallTool { tool, arguments } => match entry.validator(tool) {
            Some(Ok(validator)) => match registry::first_violation(validator, arguments, "arguments") {
                Some((field, message)) => Err(GatewayError::InvalidArguments { field, message }),
                None => Ok(()),
            },
            Some(Err(why)) => Err(GatewayError::Misconfigured(format!(
                "the tool {tool:?} cannot be called: its input schema does not compile ({why}); its developer must fix it"
            ))),
            None => Err(GatewayError::UnknownTool(tool.clone())),
        },
        Operation::GetPrompt { name, arguments } => {
            let prompt = entry.prompt(name).ok_or_else(|| GatewayError::UnknownPrompt(name.clone()))?;
            for arg in prompt.arguments.0.as_array().into_iter().flatten() {
                let required = arg.get("required").and_then(Value::as_bool) == Some(true);
                let arg_name = arg.get("name").and_then(Value::as_str).unwrap_or_default();
                if required && !arguments.contains_key(arg_name) {
                    return Err(GatewayError::InvalidArguments {
                        field: format!("arguments.{arg_name}"),
                        message: format!("the prompt needs the argument {arg_name:?}"),
                    });
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

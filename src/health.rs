//! Health checks: a scheduler checks every active server on an interval
//! (default five minutes) and stores the verdict and the time.
//!
//! - developer-hosted: `GET {callbackUrl}/health`, signed like every
//!   callback; any 2xx is healthy;
//! - platform-hosted: a running process must answer `tools/list`; with no
//!   process running there is nothing to check and the status is left as
//!   it was (processes start on demand);
//! - remote MCP: not checked yet (the remote upstream is the next step).
//!
//! Transitions are logged; a check never blocks a call.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use reqwest::Method;

use crate::{db::ServerRecord, registry::webhook_aad, secrets::Secret, state::AppState, upstream};

/// Starts the scheduler; it stops when the returned handle is aborted.
pub fn spawn(state: AppState, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = check_all(&state).await {
                tracing::warn!(error = %e, "health check round failed");
            }
        }
    })
}

/// Checks every active server once, a few at a time.
pub async fn check_all(state: &AppState) -> anyhow::Result<()> {
    // Housekeeping on the same beat: forget MCP sessions that have closed.
    state.notifier.prune();
    let servers = state.db.active_servers().await?;
    let semaphore = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::new();
    for server in servers {
        let (state, permit) = (state.clone(), semaphore.clone().acquire_owned().await?);
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            check_one(&state, &server).await
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

async fn check_one(state: &AppState, server: &ServerRecord) {
    let verdict = match server.hosting_type.as_str() {
        "developer_hosted" => Some(callback_health(state, server).await),
        "platform_hosted" => state.supervisor.ping(server.id).await.map(|ok| if ok { "healthy" } else { "unhealthy" }),
        _ => None,
    };
    let Some(status) = verdict else { return };
    if status != server.health_status {
        tracing::info!(server_id = %server.id, slug = %server.slug, from = %server.health_status, to = status, "server health changed");
    }
    if let Err(e) = state.db.set_health(server.id, status, Utc::now()).await {
        tracing::warn!(server_id = %server.id, error = %e, "could not record a health check");
        return;
    }
    state.registry.invalidate(server.id);
}

async fn callback_health(state: &AppState, server: &ServerRecord) -> &'static str {
    let (Some(base), Some(sealed)) = (&server.callback_url, &server.webhook_secret_enc) else { return "unhealthy" };
    let Ok(secret) = state.sealer.open(sealed, &webhook_aad(server.id)) else { return "unhealthy" };
    let secret = Secret::new(String::from_utf8_lossy(&secret).to_string());
    match upstream::signed_request(state, &secret, Method::GET, &format!("{base}/health"), None).await {
        Ok(r) if r.status.is_success() => "healthy",
        _ => "unhealthy",
    }
}

//! Health checks: a scheduler checks every active server on an interval
//! (default five minutes) and stores the verdict and the time.
//!
//! - developer-hosted: `GET {callbackUrl}/health`, signed like every
//!   callback; any 2xx is healthy;
//! - platform-hosted: a running process must answer `tools/list`; with no
//!   process running there is nothing to check and the status is left as
//!   it was (processes start on demand);
//! - remote MCP: not checked yet.
//!
//! Transitions are logged; a check never blocks a call.

use std::{sync::Arc, time::Duration};

use app::domain::HealthStatus;
use chrono::Utc;

use crate::{
    db::ServerRecord,
    state::AppState,
    upstream::{Hosting, callback},
};

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
    state.gateway.notifier.prune();
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
    let upstreams = &state.gateway.upstreams;
    let healthy = match Hosting::of(server) {
        Ok(Hosting::Callback { url, sealed_secret }) => {
            match upstreams.open_webhook_secret(server.id, &sealed_secret) {
                Ok(secret) => Some(callback::healthy(&upstreams.outbound, &url, &secret).await),
                Err(_) => Some(false),
            }
        }
        Ok(Hosting::Process(_)) => upstreams.processes.ping(server.id).await,
        // A remote server is checked by its sessions; a builder server has
        // nothing running between calls.
        Ok(Hosting::Remote { .. } | Hosting::Builder { .. }) => None,
        Err(_) => Some(false),
    };
    let Some(healthy) = healthy else { return };
    let status = if healthy { HealthStatus::Healthy } else { HealthStatus::Unhealthy };
    if status != server.health_status {
        tracing::info!(server_id = %server.id, slug = %server.slug, from = %server.health_status, to = %status, "server health changed");
    }
    if let Err(e) = state.db.set_health(server.id, status, Utc::now()).await {
        tracing::warn!(server_id = %server.id, error = %e, "could not record a health check");
        return;
    }
    state.gateway.registry.invalidate(server.id);
}

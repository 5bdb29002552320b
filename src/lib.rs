//! # OmniMCP server
//!
//! One MCP endpoint for every MCP server a user installs. This crate is the
//! server: axum serves the Leptos pages (rendered here, hydrated in the
//! browser from the `app` crate), the REST API, and the MCP traffic.
//!
//! A guided tour, in the order a request meets the code:
//!
//! - [`config`]: every setting as a flag and an environment variable.
//! - [`secrets`]: generated key files and the redacting [`secrets::Secret`].
//! - [`http`]: the router, middleware (request ids, tracing, security
//!   headers, session renewal), health probes and graceful shutdown.
//! - [`auth`]: who is calling: API keys, session tokens, login throttling.
//! - [`api`]: the REST JSON API and its body parsing.
//! - [`accounts`]: the account operations both the API and the pages call.
//! - [`web`]: the pages' bridge to `accounts` (the `app::backend::Backend`
//!   implementation).
//! - [`db`]: storage over SQLite or PostgreSQL, all SQL in one place.
//! - [`mcp`]: the MCP endpoint `/mcp` LLM clients connect to.
//! - [`notify`]: list-changed notifications to open MCP sessions.
//! - [`gateway`]: the one pipeline every tool call runs through.
//! - [`limits`]: per-minute rate limits and monthly quotas.
//! - [`upstream`]: where a call goes: developer callbacks, platform-hosted
//!   processes, remote MCP servers.
//! - [`remote`]: the client side of remote MCP servers (Streamable HTTP).
//! - [`supervisor`]: the child processes of platform-hosted servers.
//! - [`health`]: the health-check scheduler.
//! - [`official`]: the official MCP servers built into this binary.
//! - [`request_log`]: the batched request-log writer.
//! - [`registry`]: deploying MCP servers, and the cache the router reads.
//! - [`uri_template`]: which server a resource-template read belongs to.
//! - [`installations`]: a user's servers and their encrypted configuration.
//! - [`outbound`]: the SSRF-guarded HTTP client for user-supplied URLs.
//! - [`crypto`]: AES-256-GCM sealing of credentials at rest.
//! - [`error`]: the API error type and its single mapping to HTTP.
//! - [`state`]: [`state::AppState`], passed to every handler.
//! - [`admin`]: the `omnimcp admin` command.
//! - [`connect`]: `omnimcp connect`, the stdio bridge for desktop clients.

// Release builds type-check the whole page tree without `erase_components`
// (debug builds through cargo-leptos set it); its depth passes the default.
#![recursion_limit = "256"]

pub mod accounts;
pub mod admin;
pub mod api;
pub mod auth;
pub mod cache;
pub mod config;
pub mod connect;
pub mod crypto;
pub mod db;
pub mod error;
pub mod gateway;
pub mod health;
pub mod http;
pub mod installations;
pub mod limits;
pub mod mcp;
pub mod notify;
pub mod official;
pub mod outbound;
pub mod registry;
pub mod relay;
pub mod remote;
pub mod request_log;
pub mod secrets;
pub mod state;
pub mod supervisor;
pub mod telemetry;
pub mod upstream;
pub mod uri_template;
pub mod web;

use std::net::SocketAddr;

use leptos::config::LeptosOptions;

use crate::{
    auth::{throttle::LoginThrottle, token::TokenSigner},
    config::Config,
    db::Db,
    secrets::Keys,
    state::{AppState, Inner},
};

/// Name of the JS/WASM/CSS bundle; equals `output-name` in Cargo.toml.
pub const BUNDLE_NAME: &str = "omnimcp";

/// Prepares everything a server needs: the data directory, keys, the
/// database (migrated). `bound` is the address actually listened on.
pub async fn build_state(config: Config, bound: SocketAddr) -> anyhow::Result<AppState> {
    secrets::ensure_data_dir(&config.data_dir)?;
    let keys = Keys::load_with_retired(
        &config.data_dir,
        config.jwt_secret.as_ref(),
        config.master_key.as_ref(),
        config.retired_master_keys.as_ref(),
    )?;
    let retired: Vec<&[u8]> = keys.retired.iter().map(|k| k.expose()).collect();
    let sealer = crypto::Sealer::new(keys.master.expose(), &retired)?;
    let db = Db::connect(config.database_url().expose()).await?;
    let ttl = chrono::Duration::minutes(i64::from(config.session_ttl_minutes.max(1)));
    let public_url = config.public_url(bound);
    let leptos = LeptosOptions::builder()
        .output_name(BUNDLE_NAME)
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(bound)
        .build();
    seed_official_servers(&db, &config.official_api).await?;
    let (changes, changed) = tokio::sync::mpsc::unbounded_channel();
    let state = AppState::new(Inner {
        tokens: TokenSigner::new(keys.jwt.expose(), ttl),
        sealer,
        outbound: outbound::Outbound::new(config.outbound_policy()),
        registry: registry::Registry::new(db.clone()),
        limiter: limits::Limiter::default(),
        caches: cache::Caches::default(),
        remote: remote::RemoteClients::new(Some(changes.clone())),
        notifier: notify::Notifier::default(),
        supervisor: supervisor::Supervisor::new(
            config.data_dir.join("run"),
            match &config.official_servers_bin {
                Some(path) => path.clone(),
                None => std::env::current_exe()?,
            },
            std::time::Duration::from_secs(config.process_idle_secs.max(1)),
            config.max_processes,
            std::time::Duration::from_secs(config.outbound_timeout_secs.max(1) * 3),
            Some(changes),
        ),
        request_log: request_log::RequestLogWriter::start(db.clone()),
        keys,
        db,
        login_throttle: LoginThrottle::default(),
        registration_throttle: LoginThrottle::new(
            auth::throttle::PER_ACCOUNT,
            auth::throttle::Policy {
                max_failures: config.registrations_per_hour.max(1),
                window: std::time::Duration::from_secs(3600),
            },
        ),
        secure_cookies: public_url.starts_with("https://"),
        public_url,
        leptos,
        config,
    });
    registry::refresh_on_change(state.clone(), changed);
    Ok(state)
}

/// Records the official servers as platform-hosted servers (on every start,
/// so their tools follow the binary's version).
async fn seed_official_servers(db: &Db, api_urls: &[String]) -> anyhow::Result<()> {
    for server in official::catalog() {
        let id = match db.server_by_slug(server.slug).await? {
            Some(existing) => existing.id,
            None => uuid::Uuid::now_v7(),
        };
        let draft = db::ServerDraft {
            id,
            owner_id: None,
            name: server.name.to_string(),
            slug: server.slug.to_string(),
            description: server.description.to_string(),
            category: server.category.to_string(),
            tags: server.tags.iter().map(|t| t.to_string()).collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            hosting_type: "platform_hosted".into(),
            launch_spec: Some(official::launch_spec(&server, api_urls)),
            config_schema: server.config_schema.clone(),
            callback_url: None,
            webhook_secret_enc: None,
            remote_url: None,
            remote_headers_enc: None,
            items: db::ServerItems {
                tools: server
                    .tools
                    .iter()
                    .map(|(name, description, schema)| db::ToolRecord {
                        name: name.clone(),
                        description: description.clone(),
                        parameters: sqlx::types::Json(schema.clone()),
                        output_schema: None,
                    })
                    .collect(),
                ..Default::default()
            },
        };
        db.upsert_server(&draft).await?;
    }
    Ok(())
}

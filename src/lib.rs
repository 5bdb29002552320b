//! # OmniMCP server
//!
//! One MCP endpoint for every MCP server a user installs. This crate is the
//! server: axum serves the Leptos pages (rendered here, hydrated in the
//! browser from the `app` crate), the REST API, and the MCP traffic.
//!
//! A guided tour. The server is layered; each layer imports only from the
//! ones below it, never above:
//!
//! 1. **Front doors**, where requests arrive:
//!    - [`http`]: the router, middleware (request ids, tracing, security
//!      headers, session renewal), health probes and graceful shutdown;
//!    - [`mcp`]: the MCP endpoint `/mcp` and the REST door to the same
//!      pipeline (`/mcp/call`, `/mcp/resource`);
//!    - [`api`]: the REST JSON API under `/api`; [`web`]: the pages' server
//!      functions (the `app::backend::Backend` implementation);
//!    - [`auth`]: who is calling (API keys, session tokens, throttling);
//!    - [`accounts`], [`installations`], [`servers`]: the operations both
//!      the API and the pages call; [`health`]: the health checker;
//!      [`admin`] and [`connect`]: the `omnimcp admin` and `omnimcp
//!      connect` commands; [`state`]: [`state::AppState`], passed to every
//!      handler; [`error`]: the HTTP boundary's error.
//! 2. [`gateway`]: the call path every door shares: resolving names within
//!    a caller's reach, limits, validation, logging; the registry cache;
//!    list-change notifications.
//! 3. [`upstream`]: where a call goes (developer callbacks, sandboxed
//!    platform processes, remote MCP servers), and the relay that carries
//!    what a server says during a call back to its caller.
//! 4. Infrastructure: [`db`] (all SQL, SQLite and PostgreSQL), [`crypto`]
//!    (sealing credentials), [`outbound`] (the SSRF guard), [`cache`],
//!    [`identity`] (who a caller is, as data), [`uri_template`],
//!    [`config`], [`secrets`], [`telemetry`]; [`official`]: the MCP servers
//!    built into this binary.

// Release builds type-check the whole page tree without `erase_components`
// (debug builds through cargo-leptos set it); its depth passes the default.
#![recursion_limit = "256"]

pub mod accounts;
pub mod admin;
pub mod api;
pub mod auth;
pub mod browser;
pub mod builder;
pub mod cache;
pub mod config;
pub mod connect;
pub mod crypto;
pub mod db;
pub mod error;
pub mod gateway;
pub mod health;
pub mod http;
pub mod identity;
pub mod installations;
pub mod mcp;
pub mod oauth;
pub mod official;
pub mod openapi;
pub mod outbound;
pub mod secrets;
pub mod serve;
pub mod servers;
pub mod state;
pub mod telemetry;
pub mod upstream;
pub mod uri_template;
pub mod web;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use leptos::config::LeptosOptions;

use crate::{
    auth::{throttle::LoginThrottle, token::TokenSigner},
    config::Config,
    db::Db,
    gateway::Gateway,
    secrets::Keys,
    state::{AppState, Inner},
    upstream::{
        ChangeQueue, Upstreams,
        process::{Supervisor, SupervisorConfig},
        remote::RemoteClients,
        sandbox::{Sandbox, SandboxConfig},
    },
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
    let sealer = Arc::new(crypto::Sealer::new(keys.master.expose(), &retired)?);
    let db = Db::connect(config.database_url().expose()).await?;
    let ttl = chrono::Duration::minutes(i64::from(config.session_ttl_minutes.max(1)));
    let public_url = config.public_url(bound);
    let leptos = LeptosOptions::builder()
        .output_name(BUNDLE_NAME)
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(bound)
        .build();
    let providers = oauth::providers::Providers::from_config(&config.connect, &config.connect_urls)?;
    seed_official_servers(&db, &config.official_api, &providers.slugs()).await?;
    let changes = ChangeQueue::default();
    let outbound = outbound::Outbound::new(config.outbound_policy());
    let supervisor = supervisor(&config, Some(changes.clone()))?;
    let gateway = Arc::new(Gateway {
        db: db.clone(),
        registry: gateway::registry::Registry::new(db.clone()),
        caches: cache::Caches::default(),
        limiter: gateway::limits::Limiter::default(),
        request_log: gateway::request_log::RequestLogWriter::start(db.clone()),
        notifier: gateway::notify::Notifier::default(),
        upstreams: Upstreams::new(
            outbound,
            sealer.clone(),
            supervisor,
            RemoteClients::new(Some(changes.clone())),
            config.mcp_call_limits(),
            public_url.clone(),
        ),
    });
    let state = AppState::new(Inner {
        tokens: TokenSigner::new(keys.jwt.expose(), ttl),
        sealer,
        gateway,
        mcp: mcp::McpDoor::new(mcp::SessionCaps {
            per_user: config.max_sessions_per_user.max(1),
            per_credential: config.max_sessions_per_credential.max(1),
        }),
        keys,
        db,
        login_throttle: LoginThrottle::default(),
        registration_throttle: LoginThrottle::new(
            auth::throttle::PER_ACCOUNT,
            auth::throttle::Policy {
                max_failures: config.registrations_per_hour.max(1),
                window: Duration::from_secs(3600),
            },
        ),
        oauth_registrations: LoginThrottle::new(
            auth::throttle::PER_ACCOUNT,
            auth::throttle::Policy {
                max_failures: config.oauth_registrations_per_hour.max(1),
                window: Duration::from_secs(3600),
            },
        ),
        providers,
        secure_cookies: public_url.starts_with("https://"),
        public_url,
        leptos,
        config,
    });
    gateway::notify::deliver_said(state.gateway.clone(), changes.clone());
    servers::refresh_on_change(state.clone(), changes);
    Ok(state)
}

/// The process supervisor and its sandbox, as configured: children's
/// directories beside the data directory, which they never see, nor the
/// database's.
pub fn supervisor(config: &Config, changes: Option<ChangeQueue>) -> anyhow::Result<Arc<Supervisor>> {
    let self_exe = match &config.official_servers_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe()?,
    };
    let process_dir = config.process_dir();
    std::fs::create_dir_all(&process_dir)?;
    let absolute = |p: &std::path::Path| p.canonicalize();
    let mut hidden = vec![absolute(&config.data_dir)?];
    if let Some(file) = config.database_url().expose().strip_prefix("sqlite://") {
        let file = PathBuf::from(file.split('?').next().unwrap_or(file));
        if let Some(dir) =
            file.parent().and_then(|d| absolute(if d.as_os_str().is_empty() { ".".as_ref() } else { d }).ok())
        {
            if !hidden.contains(&dir) {
                hidden.push(dir);
            }
        }
    }
    let sandbox = Sandbox::new(SandboxConfig {
        mode: config.sandbox,
        hidden,
        process_dir: absolute(&process_dir)?,
        limits: config.process_limits(),
        self_exe: self_exe.clone(),
        cgroups: config.sandbox_cgroups == config::CgroupUse::Auto,
    });
    Ok(Supervisor::new(
        SupervisorConfig {
            self_exe,
            idle_timeout: Duration::from_secs(config.process_idle_secs.max(1)),
            max_children: config.max_processes,
            sandbox,
        },
        changes,
    ))
}

/// Records the official servers as platform-hosted servers (on every start,
/// so their tools follow the binary's version).
async fn seed_official_servers(db: &Db, api_urls: &[String], connectable: &[&str]) -> anyhow::Result<()> {
    for server in official::catalog() {
        let connect = connectable.contains(&server.slug);
        let id = match db.server_by_slug(server.slug).await? {
            // A developer's server took the slug before it was reserved (a
            // database from an older release): the platform still starts,
            // without this official server, and says how to fix it.
            Some(existing) if existing.owner_id.is_some() => {
                tracing::error!(
                    slug = server.slug,
                    server_id = %existing.id,
                    "a developer's server holds an official server's slug; the official server is not available \
                     until that server is renamed or removed"
                );
                continue;
            }
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
            hosting_type: app::domain::HostingType::PlatformHosted,
            launch_spec: Some(official::launch_spec(&server, api_urls, connect)),
            config_schema: server.config_schema.clone().map(|schema| official::schema_for(schema, connect)),
            callback_url: None,
            webhook_secret_enc: None,
            remote_url: None,
            remote_headers_enc: None,
            remote_auth: None,
            builder_definition: None,
            builder_secrets_enc: None,
            call_timeout_secs: None,
            items: db::ServerItems {
                tools: server
                    .tools
                    .iter()
                    .map(|(name, description, schema)| db::ToolRecord {
                        name: name.clone(),
                        description: description.clone(),
                        parameters: sqlx::types::Json(schema.clone()),
                        output_schema: None,
                        details: None,
                    })
                    .collect(),
                ..Default::default()
            },
        };
        db.upsert_server(&draft).await?;
    }
    Ok(())
}

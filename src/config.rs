//! Command line and configuration. Every setting is a flag and an environment
//! variable (clap's `env`); nothing is required, so `omnimcp` alone starts a
//! working platform on 127.0.0.1:3000 with a SQLite database in `./omnimcp-data`.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::secrets::Secret;

/// OmniMCP: one MCP endpoint for every MCP server a user installs.
///
/// `omnimcp` (or `omnimcp serve`) runs the platform: the web dashboard and
/// marketplace, the REST API under /api, and the MCP endpoint /mcp that LLM
/// clients connect to with an API key or by signing in with OAuth (claude.ai,
/// ChatGPT, IDEs, the official SDKs). It runs official and administrator-
/// added servers as sandboxed child processes, calls developers' servers
/// back over signed HTTP, and speaks to remote MCP servers. With no flags
/// it listens on 127.0.0.1:3000 and keeps everything in ./omnimcp-data
/// (SQLite).
#[derive(Debug, Parser)]
#[command(name = "omnimcp", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the platform: web pages, the REST API and the MCP endpoint (the default).
    Serve,
    /// Run an official MCP server over stdio (the platform starts these).
    Official {
        /// Which one: `calculator`, `weather`, `github`, `slack`, `notion`.
        name: String,
        /// Point one of its APIs elsewhere: `KEY=URL` (repeatable).
        #[arg(long = "api")]
        api: Vec<String>,
    },
    /// Serve a platform's MCP endpoint on stdio, for desktop MCP clients
    /// that launch programs (Claude Desktop, Cursor, ...).
    Connect {
        /// The platform's MCP endpoint, e.g. `https://omnimcp.example.com/mcp`.
        #[arg(long, env = "OMNIMCP_URL", default_value = "http://127.0.0.1:3000/mcp")]
        url: String,
        /// An API key (`omni_...`). Prefer the environment variable: a flag is
        /// visible to other users in the process list.
        #[arg(long, env = "OMNIMCP_API_KEY", hide_env_values = true, value_parser = Secret::parse)]
        api_key: Secret,
    },
    /// Administer users and platform-hosted servers from the command line
    /// (works while the server runs).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Inside a platform-hosted server's sandbox: set its resource limits,
    /// then become the server's program (the platform runs this itself).
    #[command(hide = true)]
    Contain {
        #[arg(long)]
        memory_bytes: u64,
        #[arg(long)]
        cpu_secs: u64,
        #[arg(long)]
        tasks: u64,
        #[arg(long)]
        open_files: u64,
        /// The program and its arguments.
        #[arg(last = true, required = true)]
        program: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Register (or update) a platform-hosted MCP server: a command the
    /// platform runs as a child process speaking MCP over stdio. Its tools
    /// are discovered by starting it once.
    AddServer(AddServerArgs),
    /// List users with their role and tier.
    Users,
    /// Register an OAuth client for OmniMCP's authorization server (for
    /// clients that neither register themselves nor publish a client
    /// metadata document); prints its client id, and its secret once.
    OauthClient {
        /// The name users see on the consent page.
        #[arg(long)]
        name: String,
        /// A redirect URI (repeat for several). Loopback http URIs match
        /// any port.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Issue a client secret (for clients that can keep one).
        #[arg(long)]
        confidential: bool,
    },
    /// Change a user's role and/or subscription tier.
    SetUser {
        /// The user's email address.
        #[arg(long)]
        email: String,
        /// New role: `user` or `admin`.
        #[arg(long)]
        role: Option<String>,
        /// New subscription tier id (`free`, `pro`, `enterprise`, ...).
        #[arg(long)]
        tier: Option<String>,
    },
}

/// What `omnimcp admin add-server` takes.
#[derive(Debug, Args)]
pub struct AddServerArgs {
    /// Unique slug, e.g. `time`.
    #[arg(long)]
    pub slug: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    #[arg(long, default_value = "")]
    pub description: String,
    #[arg(long, default_value = "other")]
    pub category: String,
    /// The program to run (an absolute path is safest).
    #[arg(long)]
    pub command: String,
    /// Arguments, repeatable: `--arg --local-timezone --arg UTC`.
    #[arg(long = "arg", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// `VAR=field`: set the child's VAR from the installation config's field.
    #[arg(long = "env-from-config")]
    pub env_from_config: Vec<String>,
    /// JSON Schema of the installation config (credentials), inline JSON.
    #[arg(long)]
    pub config_schema: Option<String>,
    /// A config to start it with for tool discovery, inline JSON.
    #[arg(long, default_value = "{}")]
    pub sample_config: String,
    /// The server keeps no state between calls and may serve several users
    /// from one process (installations with equal configs share it).
    /// Without this every installation gets its own process, home and
    /// working directory.
    #[arg(long)]
    pub shareable: bool,
    /// Seconds a call may go without the server's answer or a progress
    /// notification (default: `--mcp-call-timeout-secs` of the platform).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub call_timeout_secs: Option<u64>,
}

/// Settings shared by every command. Secrets are wrapped in [`Secret`], whose
/// `Debug` prints `[redacted]`, so logging this struct is safe.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database URL: `sqlite://path` or `postgres://user:pass@host/db`.
    /// Default: a SQLite file inside the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true, value_parser = Secret::parse)]
    pub database_url: Option<Secret>,

    /// Address the HTTP server listens on (`127.0.0.1:0` picks a free port).
    #[arg(long, env = "OMNIMCP_BIND", default_value = "127.0.0.1:3000", global = true)]
    pub bind: SocketAddr,

    /// Directory for the SQLite database and generated secrets; created
    /// (owner-only) when missing.
    #[arg(long, env = "OMNIMCP_DATA_DIR", default_value = "omnimcp-data", global = true)]
    pub data_dir: PathBuf,

    /// URL users reach the platform at (used in cookies and shown to
    /// clients). Default: `http://<bind>`. An `https://` URL makes session
    /// cookies `Secure`.
    #[arg(long, env = "OMNIMCP_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Key that signs session tokens (any string of 32+ bytes). Default: a
    /// random key generated into `<data-dir>/jwt.key` on first start.
    #[arg(long, env = "OMNIMCP_JWT_SECRET", global = true, hide_env_values = true, value_parser = Secret::parse)]
    pub jwt_secret: Option<Secret>,

    /// Master key for credentials at rest: 32 bytes, base64. Default: a
    /// random key generated into `<data-dir>/master.key` on first start.
    #[arg(long, env = "OMNIMCP_MASTER_KEY", global = true, hide_env_values = true, value_parser = Secret::parse)]
    pub master_key: Option<Secret>,

    /// Log format: `text` for people, `json` for log collectors. The level
    /// comes from `RUST_LOG` (default `info`).
    #[arg(long, env = "OMNIMCP_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// Lifetime of a login session, in minutes. Browser sessions are renewed
    /// while in use (see README, "Sessions").
    #[arg(long, env = "OMNIMCP_SESSION_TTL_MINUTES", default_value_t = 720, global = true)]
    pub session_ttl_minutes: u32,

    /// Lifetime of an OAuth access token, in seconds. Clients refresh it
    /// with their refresh token; short lives bound what a leaked one
    /// reaches.
    #[arg(long, env = "OMNIMCP_OAUTH_ACCESS_TOKEN_TTL_SECS", default_value_t = 3600, global = true)]
    pub oauth_access_token_ttl_secs: u32,

    /// Lifetime of an OAuth refresh token, in days (each use replaces it
    /// with a new one).
    #[arg(long, env = "OMNIMCP_OAUTH_REFRESH_TOKEN_TTL_DAYS", default_value_t = 30, global = true)]
    pub oauth_refresh_token_ttl_days: u32,

    /// OAuth apps for "Connect with GitHub/Slack/Notion":
    /// `PROVIDER=CLIENT_ID:CLIENT_SECRET`, comma-separated (providers:
    /// github, slack, notion). Register the app at the provider with the
    /// callback `<public URL>/connect/<provider>/callback`. Without one, the
    /// server's token field works as before.
    #[arg(long, env = "OMNIMCP_CONNECT", value_delimiter = ',', global = true, hide_env_values = true)]
    pub connect: Vec<String>,

    /// Overrides of a provider's OAuth endpoints, `PROVIDER.KEY=URL` (KEY:
    /// authorize, token, revoke): for GitHub Enterprise, a proxy, or tests.
    #[arg(long = "connect-url", env = "OMNIMCP_CONNECT_URL", value_delimiter = ',', global = true)]
    pub connect_urls: Vec<String>,

    /// How often connections are checked for tokens about to expire, in
    /// seconds (those expiring within five minutes are refreshed).
    #[arg(long, env = "OMNIMCP_CONNECT_REFRESH_SECS", default_value_t = 60, global = true)]
    pub connect_refresh_secs: u64,

    /// OAuth clients one address may register dynamically, or have their
    /// client metadata documents fetched, per hour.
    #[arg(long, env = "OMNIMCP_OAUTH_REGISTRATIONS_PER_HOUR", default_value_t = 20, global = true)]
    pub oauth_registrations_per_hour: u32,

    /// Retired master keys (comma-separated, base64) that still open values
    /// sealed before a rotation; new values use `--master-key`.
    #[arg(long, env = "OMNIMCP_RETIRED_MASTER_KEYS", global = true, hide_env_values = true, value_parser = Secret::parse)]
    pub retired_master_keys: Option<Secret>,

    /// Let outbound requests (callbacks, remote MCP servers) use plain http.
    /// For development only.
    #[arg(long, env = "OMNIMCP_OUTBOUND_ALLOW_HTTP", global = true)]
    pub outbound_allow_http: bool,

    /// Let outbound requests reach loopback addresses. For development and
    /// tests only.
    #[arg(long, env = "OMNIMCP_OUTBOUND_ALLOW_LOOPBACK", global = true)]
    pub outbound_allow_loopback: bool,

    /// Let outbound requests reach private networks (RFC 1918, IPv6 ULA).
    #[arg(long, env = "OMNIMCP_OUTBOUND_ALLOW_PRIVATE", global = true)]
    pub outbound_allow_private: bool,

    /// Ports callbacks and remote servers may use besides 80 and 443
    /// (repeatable; comma-separated in the environment).
    #[arg(long = "outbound-allow-port", env = "OMNIMCP_OUTBOUND_ALLOW_PORTS", value_delimiter = ',', global = true)]
    pub outbound_allow_ports: Vec<u16>,

    /// Time limit for one outbound request, in seconds.
    #[arg(long, env = "OMNIMCP_OUTBOUND_TIMEOUT_SECS", default_value_t = 10, global = true)]
    pub outbound_timeout_secs: u64,

    /// Seconds a call to an MCP server (platform-hosted or remote) may go
    /// without its answer or a progress notification about it: each
    /// progress notification starts the wait again. Developer callbacks
    /// have `--outbound-timeout-secs`.
    #[arg(long, env = "OMNIMCP_MCP_CALL_TIMEOUT_SECS", default_value_t = 300, global = true)]
    pub mcp_call_timeout_secs: u64,

    /// Longest a call to an MCP server may take in all, progress or not.
    #[arg(long, env = "OMNIMCP_MCP_CALL_MAX_SECS", default_value_t = 3600, global = true)]
    pub mcp_call_max_secs: u64,

    /// Largest outbound response body read, in bytes.
    #[arg(long, env = "OMNIMCP_OUTBOUND_MAX_RESPONSE_BYTES", default_value_t = 4 * 1024 * 1024, global = true)]
    pub outbound_max_response_bytes: usize,

    /// Accounts that may be registered from one client address (IPv6: one
    /// /64) per hour: every registration hashes a password with argon2, so
    /// an unthrottled form is a lever for using up the CPU, and for mass
    /// sign-ups.
    #[arg(long, env = "OMNIMCP_REGISTRATIONS_PER_HOUR", default_value_t = 20, global = true)]
    pub registrations_per_hour: u32,

    /// Most client connections open at once; further ones wait in the
    /// kernel's backlog until one closes.
    #[arg(long, env = "OMNIMCP_MAX_CONNECTIONS", default_value_t = 4096, global = true)]
    pub max_connections: usize,

    /// Seconds a client has to send a request's headers; also how long an
    /// idle keep-alive connection stays open.
    #[arg(long, env = "OMNIMCP_HEADER_TIMEOUT_SECS", default_value_t = 10, global = true)]
    pub header_timeout_secs: u64,

    /// Seconds a client has to send a request's whole body (408 past it).
    #[arg(long, env = "OMNIMCP_BODY_TIMEOUT_SECS", default_value_t = 30, global = true)]
    pub body_timeout_secs: u64,

    /// Seconds a write to a client may stay blocked (a client that stops
    /// reading) before its connection is closed.
    #[arg(long, env = "OMNIMCP_WRITE_TIMEOUT_SECS", default_value_t = 30, global = true)]
    pub write_timeout_secs: u64,

    /// Seconds in-flight requests get to finish after a shutdown signal;
    /// then their connections are cut (the request log is still flushed).
    #[arg(long, env = "OMNIMCP_SHUTDOWN_DEADLINE_SECS", default_value_t = 15, global = true)]
    pub shutdown_deadline_secs: u64,

    /// Most MCP sessions (and 2026-07-28 `subscriptions/listen` streams)
    /// one account may have open at once.
    #[arg(long, env = "OMNIMCP_MAX_SESSIONS_PER_USER", default_value_t = 256, global = true)]
    pub max_sessions_per_user: usize,

    /// Most MCP sessions (and listen streams) one credential, an API key or
    /// a login, may have open at once.
    #[arg(long, env = "OMNIMCP_MAX_SESSIONS_PER_CREDENTIAL", default_value_t = 64, global = true)]
    pub max_sessions_per_credential: usize,

    /// Seconds between health checks of every active server.
    #[arg(long, env = "OMNIMCP_HEALTH_INTERVAL_SECS", default_value_t = 300, global = true)]
    pub health_interval_secs: u64,

    /// Stop a platform-hosted server process after this many idle seconds.
    #[arg(long, env = "OMNIMCP_PROCESS_IDLE_SECS", default_value_t = 300, global = true)]
    pub process_idle_secs: u64,

    /// Most platform-hosted server processes running at once.
    #[arg(long, env = "OMNIMCP_MAX_PROCESSES", default_value_t = 64, global = true)]
    pub max_processes: usize,

    /// Where platform-hosted server processes get their home and working
    /// directories (one per installation). Default: `<data-dir>-processes`
    /// beside the data directory, never inside it.
    #[arg(long, env = "OMNIMCP_PROCESS_DIR", global = true)]
    pub process_dir: Option<PathBuf>,

    /// How platform-hosted server processes are confined: `bubblewrap`
    /// (needs the `bwrap` program) or, in development only, `off`.
    #[arg(long, env = "OMNIMCP_SANDBOX", value_enum, default_value = "bubblewrap", global = true)]
    pub sandbox: crate::upstream::sandbox::SandboxMode,

    /// Confine platform-hosted processes with cgroups (memory, tasks) where
    /// the platform may create them (`auto`), or only with rlimits and a
    /// memory watchdog (`off`).
    #[arg(long, env = "OMNIMCP_SANDBOX_CGROUPS", value_enum, default_value = "auto", global = true)]
    pub sandbox_cgroups: CgroupUse,

    /// Memory one platform-hosted server process may use, in MiB; past it
    /// the process is stopped.
    #[arg(long, env = "OMNIMCP_PROCESS_MEMORY_MB", default_value_t = 512, global = true)]
    pub process_memory_mb: u64,

    /// CPU time one platform-hosted server process may use over its life,
    /// in seconds (an idle process is stopped and restarts fresh).
    #[arg(long, env = "OMNIMCP_PROCESS_CPU_SECS", default_value_t = 3600, global = true)]
    pub process_cpu_secs: u64,

    /// Processes and threads one platform-hosted server may run.
    #[arg(long, env = "OMNIMCP_PROCESS_MAX_TASKS", default_value_t = 256, global = true)]
    pub process_max_tasks: u64,

    /// Files and sockets one platform-hosted server process may hold open.
    #[arg(long, env = "OMNIMCP_PROCESS_OPEN_FILES", default_value_t = 1024, global = true)]
    pub process_open_files: u64,

    /// Point an official server's API elsewhere: `SLUG.KEY=URL`, e.g.
    /// `weather.forecast=https://...` (repeatable; comma-separated in the
    /// environment). Defaults are the real APIs.
    #[arg(long = "official-api", env = "OMNIMCP_OFFICIAL_API", value_delimiter = ',', global = true)]
    pub official_api: Vec<String>,

    /// The `omnimcp` binary that runs the official servers. Default: this
    /// process's own executable.
    #[arg(long, env = "OMNIMCP_OFFICIAL_SERVERS_BIN", global = true)]
    pub official_servers_bin: Option<PathBuf>,

    /// Host names (or host:port) the MCP endpoint answers to, besides
    /// loopback and the public URL's host: protection against DNS
    /// rebinding. Comma-separated in the environment.
    #[arg(long = "allowed-host", env = "OMNIMCP_ALLOWED_HOSTS", value_delimiter = ',', global = true)]
    pub allowed_hosts: Vec<String>,

    /// Browser origins (`scheme://host:port`) allowed to call the MCP
    /// endpoint, besides the public URL's and loopback's. Requests without
    /// an `Origin` (non-browser clients) are not affected.
    #[arg(long = "allowed-origin", env = "OMNIMCP_ALLOWED_ORIGINS", value_delimiter = ',', global = true)]
    pub allowed_origins: Vec<String>,

    /// Directory with the built site (WASM, CSS, assets) that pages load.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site", global = true)]
    pub site_root: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CgroupUse {
    Auto,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// The database URL in effect: the configured one, or the SQLite file in
    /// the data directory.
    pub fn database_url(&self) -> Secret {
        match &self.database_url {
            Some(url) => url.clone(),
            None => Secret::new(format!("sqlite://{}", self.data_dir.join("omnimcp.db").display())),
        }
    }

    /// Hosts the MCP endpoint accepts in `Host`: loopback, the public URL's
    /// host, and any configured ones.
    pub fn allowed_hosts(&self, bound: SocketAddr) -> Vec<String> {
        let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string(), "[::1]".to_string()];
        if let Some(host) = self.public_url(bound).split("://").nth(1).and_then(|rest| rest.split(['/', ':']).next()) {
            hosts.push(host.to_string());
        }
        hosts.extend(self.allowed_hosts.iter().cloned());
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// Origins the MCP endpoint accepts from browsers: the public URL's,
    /// loopback on any port, and any configured ones.
    pub fn allowed_origins(&self, bound: SocketAddr) -> Vec<String> {
        let mut origins = vec![
            "http://localhost:*".to_string(),
            "http://127.0.0.1:*".to_string(),
            "http://[::1]:*".to_string(),
            self.public_url(bound),
        ];
        origins.extend(self.allowed_origins.iter().cloned());
        origins
    }

    /// Where platform-hosted processes live: `--process-dir`, or
    /// `<data-dir>-processes` beside the data directory.
    pub fn process_dir(&self) -> PathBuf {
        self.process_dir.clone().unwrap_or_else(|| {
            let mut name = self.data_dir.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "omnimcp".into());
            name.push("-processes");
            self.data_dir.with_file_name(name)
        })
    }

    /// The limits of one platform-hosted process.
    /// How long calls to MCP servers may take.
    pub fn mcp_call_limits(&self) -> crate::upstream::CallLimits {
        let idle = std::time::Duration::from_secs(self.mcp_call_timeout_secs.max(1));
        let max = std::time::Duration::from_secs(self.mcp_call_max_secs.max(1));
        crate::upstream::CallLimits { idle: idle.min(max), max }
    }

    pub fn process_limits(&self) -> crate::upstream::sandbox::Limits {
        crate::upstream::sandbox::Limits {
            memory_bytes: self.process_memory_mb.max(16) * 1024 * 1024,
            cpu_secs: self.process_cpu_secs.max(1),
            tasks: self.process_max_tasks.max(16),
            open_files: self.process_open_files.max(32),
        }
    }

    /// The SSRF policy for outbound requests.
    pub fn outbound_policy(&self) -> crate::outbound::OutboundPolicy {
        crate::outbound::OutboundPolicy {
            allow_http: self.outbound_allow_http,
            allow_loopback: self.outbound_allow_loopback,
            allow_private: self.outbound_allow_private,
            timeout: std::time::Duration::from_secs(self.outbound_timeout_secs.max(1)),
            max_response_bytes: self.outbound_max_response_bytes,
            allowed_ports: self.outbound_allow_ports.clone(),
        }
    }

    /// The public base URL, without a trailing slash.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{bound}"),
        }
    }
}

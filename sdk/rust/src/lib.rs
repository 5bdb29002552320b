//! # omnimcp-sdk
//!
//! Write MCP tools, resources and prompts as plain async Rust functions,
//! then run the same definitions three ways:
//!
//! - [`OmniMcp::start_local`]: a developer-hosted server speaking
//!   OmniMCP's signed callback protocol, which the platform calls on
//!   behalf of every user who installed it;
//! - [`OmniMcp::serve_stdio`]: a standard MCP server over stdio, for MCP
//!   Inspector, Claude Desktop or any MCP client, with no platform at all;
//! - [`OmniMcp::deploy`]: registers (or updates) the server on an OmniMCP
//!   platform and returns its id and webhook secret.
//!
//! A tool's input schema comes from its argument type
//! ([`schemars::JsonSchema`], doc comments included), its arguments are
//! deserialized into that type (a mismatch is answered with an error that
//! names the field), and its handler returns `Result<impl Serialize, E>`
//! where `E: Display`: an `Err` reaches the caller as a tool error the
//! model can read, never as a crash.
//!
//! ```no_run
//! use omnimcp_sdk::{OmniMcp, schemars::JsonSchema};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Greet {
//!     /// Who to greet.
//!     name: String,
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), omnimcp_sdk::Error> {
//!     let server = OmniMcp::from_env() // OMNIMCP_API_KEY, OMNIMCP_URL, OMNIMCP_WEBHOOK_SECRET
//!         .name("greeter")
//!         .description("Says hello")
//!         .tool("greet", "Greets someone by name", |args: Greet| async move {
//!             if args.name.is_empty() {
//!                 return Err("a name is needed");
//!             }
//!             Ok(format!("Hello, {}!", args.name))
//!         });
//!
//!     match std::env::args().nth(1).as_deref() {
//!         Some("stdio") => server.serve_stdio().await,
//!         Some("deploy") => {
//!             let deployed = server.deploy("https://tools.example.com/greeter").await?;
//!             println!("deployed {} ({})", deployed.slug, deployed.server_id);
//!             if let Some(secret) = &deployed.webhook_secret {
//!                 println!("OMNIMCP_WEBHOOK_SECRET={}", secret.expose());
//!             }
//!             Ok(())
//!         }
//!         _ => server.start_local("127.0.0.1:8080").await,
//!     }
//! }
//! ```
//!
//! ## Layout
//!
//! - this file: [`OmniMcp`], the builder, and deploying;
//! - `definitions.rs`: tools, resources and prompts, and how one call runs
//!   (argument parsing, error mapping, panic isolation), shared by both
//!   servers;
//! - `local.rs`: the callback server ([`LocalServer`]);
//! - `stdio.rs`: the MCP server over stdio (rmcp's `ServerHandler`);
//! - [`signature`]: signing and verifying callback requests.

#![deny(missing_docs)]

mod definitions;
mod error;
mod local;
pub mod signature;
mod stdio;

use std::{
    fmt,
    future::Future,
    sync::{Arc, RwLock},
    time::Duration,
};

pub use definitions::{NoArgs, PromptMessage, PromptReply, Resource, Role};
pub use error::Error;
pub use local::LocalServer;
/// The JSON Schema derive the SDK reads argument types with. Depend on
/// `schemars = "1"` (this same major version) to `#[derive(JsonSchema)]`.
pub use schemars;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use tokio::net::{TcpListener, ToSocketAddrs};

use definitions::Definitions;

/// The README's code compiles: its quick start is a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The platform URL used when neither [`OmniMcp::platform_url`] nor
/// `OMNIMCP_URL` says otherwise: a platform on this machine, as
/// `omnimcp serve` starts it.
pub const DEFAULT_PLATFORM_URL: &str = "http://127.0.0.1:3000";

/// A webhook secret (`whsec_...`): proof that a callback request comes from
/// the platform. Its `Debug` is redacted so it cannot reach a log by
/// accident; read it with [`WebhookSecret::expose`] to store it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret (for example one read from a secret store).
    pub fn new(secret: impl Into<String>) -> Self {
        WebhookSecret(secret.into())
    }

    /// The secret itself, for storing it where the server will read it
    /// (`OMNIMCP_WEBHOOK_SECRET`, a secret manager). Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(redacted)")
    }
}

/// Shared between an [`OmniMcp`], its clones and the servers it started, so
/// that a deploy issuing a new secret is used by them at once.
pub(crate) type SecretSlot = Arc<RwLock<Option<WebhookSecret>>>;

/// The platform's answer to a deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deployment {
    /// The server's id: install it with `POST /api/installations {"serverId": ...}`.
    pub server_id: String,
    /// Its slug: tools appear to MCP clients as `{slug}.{tool}`.
    pub slug: String,
    /// `true` on the first deploy, `false` when an existing server (same
    /// owner, same name) was updated.
    pub created: bool,
    /// The webhook secret, present only when one was issued: on the first
    /// deploy and on rotation. The platform shows it once, so store it
    /// (as `OMNIMCP_WEBHOOK_SECRET`, or in a secret manager) where the
    /// callback server will read it. The [`OmniMcp`] that deployed keeps it
    /// too, so a server started from it in this process already uses it.
    pub webhook_secret: Option<WebhookSecret>,
}

/// An MCP server under construction: its identity, its tools, resources and
/// prompts, and how to reach the platform. Build it with chained calls, then
/// serve or deploy it; it is cheap to clone.
///
/// Registration methods panic on programming errors (an invalid or
/// duplicate name, an argument type that is not a struct), like axum's
/// `Router::route` does, so they surface on the first run.
#[derive(Clone)]
pub struct OmniMcp {
    api_key: String,
    platform_url: String,
    name: Option<String>,
    description: String,
    category: Option<String>,
    tags: Vec<String>,
    version: Option<String>,
    instructions: Option<String>,
    defs: Arc<Definitions>,
    secret: SecretSlot,
    replay_window: Duration,
    insecure_no_secret: bool,
    http: reqwest::Client,
}

impl fmt::Debug for OmniMcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The API key and the webhook secret are left out on purpose.
        f.debug_struct("OmniMcp")
            .field("platform_url", &self.platform_url)
            .field("name", &self.name)
            .field("tools", &self.defs.tools.iter().map(|t| &t.name).collect::<Vec<_>>())
            .field("resources", &self.defs.resources.iter().map(|r| r.meta.uri()).collect::<Vec<_>>())
            .field("prompts", &self.defs.prompts.iter().map(|p| &p.name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl OmniMcp {
    /// A server deploying with `api_key` (an `omni_...` key created under
    /// Settings, or with `POST /api/keys`). The platform URL is
    /// `OMNIMCP_URL` if set, else [`DEFAULT_PLATFORM_URL`]; the webhook
    /// secret is `OMNIMCP_WEBHOOK_SECRET` if set. Serving locally or over
    /// stdio needs no key: pass `""`, or use [`OmniMcp::from_env`].
    pub fn new(api_key: impl Into<String>) -> Self {
        OmniMcp {
            api_key: api_key.into(),
            platform_url: env("OMNIMCP_URL").unwrap_or_else(|| DEFAULT_PLATFORM_URL.to_string()),
            name: None,
            description: String::new(),
            category: None,
            tags: Vec::new(),
            version: None,
            instructions: None,
            defs: Arc::new(Definitions::default()),
            secret: Arc::new(RwLock::new(env("OMNIMCP_WEBHOOK_SECRET").map(WebhookSecret))),
            replay_window: signature::DEFAULT_REPLAY_WINDOW,
            insecure_no_secret: false,
            http: reqwest::Client::new(),
        }
    }

    /// As [`OmniMcp::new`] with the key from `OMNIMCP_API_KEY` (empty if
    /// unset: deploying then fails with [`Error::MissingApiKey`]).
    pub fn from_env() -> Self {
        OmniMcp::new(env("OMNIMCP_API_KEY").unwrap_or_default())
    }

    /// The platform to deploy to, e.g. `https://omnimcp.example.com`
    /// (overrides `OMNIMCP_URL`).
    pub fn platform_url(mut self, url: impl Into<String>) -> Self {
        self.platform_url = url.into().trim_end_matches('/').to_string();
        self
    }

    /// The server's name: 1-64 letters, digits, `_` or `-`. Deploying
    /// again with the same name (and key owner) updates the same server;
    /// the slug MCP clients see is derived from it.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// What the server is for, shown in the marketplace (up to 2000
    /// characters).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// The marketplace category (`productivity`, `developer-tools`, `data`,
    /// `communication`, `search`, `finance`, `ai`, `utilities` or `other`,
    /// the default).
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Marketplace tags (up to 10, 1-32 letters, digits, `_` or `-`).
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// The version the marketplace shows (default `0.1.0`).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Instructions sent to stdio clients when they connect (how to use
    /// these tools together).
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// The webhook secret the callback server checks (overrides
    /// `OMNIMCP_WEBHOOK_SECRET`).
    pub fn webhook_secret(mut self, secret: impl Into<String>) -> Self {
        // A fresh slot: clones made earlier keep theirs.
        self.secret = Arc::new(RwLock::new(Some(WebhookSecret(secret.into()))));
        self
    }

    /// How far a callback's timestamp may be from this machine's clock
    /// before it is refused as a replay (default five minutes). Shorter is
    /// safer; it must still cover clock skew between the two machines.
    pub fn replay_window(mut self, window: Duration) -> Self {
        self.replay_window = window;
        self
    }

    /// Lets [`OmniMcp::start_local`] run without a webhook secret and skip
    /// every check: anyone who can reach the port can call the tools. For
    /// trying tools with `curl` on your own machine only; the server logs a
    /// warning when it starts this way.
    pub fn insecure_no_secret(mut self) -> Self {
        self.insecure_no_secret = true;
        self
    }

    fn defs_mut(&mut self) -> &mut Definitions {
        // Copy-on-write: servers already started from a clone keep what
        // they were started with.
        Arc::make_mut(&mut self.defs)
    }

    /// Adds a tool. Its input schema is `A`'s JSON Schema (field doc
    /// comments become descriptions the model reads); each call's
    /// arguments are deserialized into `A`, and arguments that do not fit
    /// are answered with an error naming the field, without calling the
    /// handler. `Ok(value)` is the result (a string is shown as text;
    /// other values as JSON, objects also as structured content; an object
    /// with a `content` array is taken as an MCP `CallToolResult`).
    /// `Err(e)` is a tool error whose message is `e.to_string()`.
    ///
    /// ```
    /// use omnimcp_sdk::{OmniMcp, schemars::JsonSchema};
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// struct Add {
    ///     /// The first number.
    ///     a: f64,
    ///     /// The second number.
    ///     b: f64,
    /// }
    ///
    /// let server = OmniMcp::new("").tool("add", "Adds two numbers", |Add { a, b }| async move {
    ///     Ok::<_, std::convert::Infallible>(a + b)
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// When `name` is not 1-64 letters, digits, `_` or `-`, is already
    /// registered, or `A` is not a struct (MCP arguments are an object).
    pub fn tool<A, T, E, F, Fut>(mut self, name: &str, description: &str, handler: F) -> Self
    where
        A: DeserializeOwned + schemars::JsonSchema + Send + 'static,
        T: Serialize + 'static,
        E: fmt::Display + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.defs_mut().add_tool(name, description, handler);
        self
    }

    /// Adds a resource: `read` returns its text each time it is read (with
    /// the MIME type the [`Resource`] declares).
    ///
    /// ```
    /// use omnimcp_sdk::{OmniMcp, Resource};
    /// let server = OmniMcp::new("").resource(
    ///     Resource::new("docs://readme", "Readme").mime_type("text/markdown"),
    ///     || async { Ok::<_, std::convert::Infallible>("# Notes\nAsk for a note by its title.") },
    /// );
    /// ```
    ///
    /// # Panics
    ///
    /// When the URI is not absolute (`scheme:...`), the name is empty or
    /// longer than 128 characters, or the URI is already registered.
    pub fn resource<S, E, F, Fut>(mut self, resource: Resource, read: F) -> Self
    where
        S: Into<String> + 'static,
        E: fmt::Display + 'static,
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, E>> + Send + 'static,
    {
        self.defs_mut().add_resource(resource, read);
        self
    }

    /// Adds a prompt: a reusable message template a client fills in. Its
    /// arguments are `A`'s fields (MCP sends them as strings, so use
    /// `String` and `Option<String>` fields; doc comments become their
    /// descriptions, `Option` makes one optional). The handler returns
    /// anything that converts into a [`PromptReply`]: a `String` (one user
    /// message), a [`PromptMessage`], or a `Vec` of them.
    ///
    /// ```
    /// use omnimcp_sdk::{OmniMcp, schemars::JsonSchema};
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// struct Review {
    ///     /// The code to review.
    ///     code: String,
    ///     /// What to focus on (optional).
    ///     focus: Option<String>,
    /// }
    ///
    /// let server = OmniMcp::new("").prompt("review", "Asks for a code review", |r: Review| async move {
    ///     let focus = r.focus.unwrap_or_else(|| "correctness".into());
    ///     Ok::<_, std::convert::Infallible>(format!("Review this code for {focus}:\n{}", r.code))
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// As [`OmniMcp::tool`].
    pub fn prompt<A, R, E, F, Fut>(mut self, name: &str, description: &str, handler: F) -> Self
    where
        A: DeserializeOwned + schemars::JsonSchema + Send + 'static,
        R: Into<PromptReply> + 'static,
        E: fmt::Display + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
    {
        self.defs_mut().add_prompt(name, description, handler);
        self
    }

    /// The callback server as an axum [`Router`](axum::Router), to mount in
    /// an existing application (e.g. `app.nest("/omnimcp", server.router()?)`
    /// and deploy `https://your.host/omnimcp` as the callback URL).
    ///
    /// Fails with [`Error::MissingWebhookSecret`] when no secret is known
    /// and [`OmniMcp::insecure_no_secret`] was not chosen: a callback server
    /// that accepts anyone's requests is never the default.
    pub fn router(&self) -> Result<axum::Router, Error> {
        let has_secret = self.secret.read().expect("secret lock").is_some();
        if !has_secret && !self.insecure_no_secret {
            return Err(Error::MissingWebhookSecret);
        }
        if self.insecure_no_secret {
            tracing::warn!(
                "serving callbacks WITHOUT checking the webhook secret: anyone who can reach it can call the tools"
            );
        }
        Ok(local::router(local::LocalState {
            defs: Arc::clone(&self.defs),
            secret: Arc::clone(&self.secret),
            replay_window: self.replay_window,
            replays: signature::ReplayGuard::default(),
            insecure: self.insecure_no_secret,
        }))
    }

    /// Starts the callback server on `addr` in the background and returns
    /// at once with a handle ([`LocalServer::local_addr`] tells the port
    /// when `addr` ends in `:0`). Tests and programs that do other work
    /// use this; [`OmniMcp::start_local`] is the blocking form.
    pub async fn bind_local(&self, addr: impl ToSocketAddrs) -> Result<LocalServer, Error> {
        let app = self.router()?;
        let listener = TcpListener::bind(addr).await?;
        LocalServer::start(listener, app).await
    }

    /// As [`OmniMcp::bind_local`], on a listener you bound yourself: bind
    /// first to learn the port (`127.0.0.1:0`), deploy that URL, then serve
    /// with the secret the deploy returned.
    ///
    /// ```no_run
    /// # async fn run(server: omnimcp_sdk::OmniMcp) -> Result<(), omnimcp_sdk::Error> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let url = format!("http://{}", listener.local_addr()?);
    /// server.deploy(&url).await?;
    /// let running = server.serve_listener(listener).await?;
    /// # Ok(()) }
    /// ```
    pub async fn serve_listener(&self, listener: TcpListener) -> Result<LocalServer, Error> {
        LocalServer::start(listener, self.router()?).await
    }

    /// Serves the callback protocol on `addr` (`POST /tools/{name}`,
    /// `GET /resources?uri=`, `POST /prompts/{name}`, `GET /health`) until
    /// Ctrl-C or SIGTERM, checking every request's webhook secret,
    /// signature and timestamp. Deploy the URL where the platform reaches
    /// this address as the callback URL.
    pub async fn start_local(&self, addr: impl ToSocketAddrs) -> Result<(), Error> {
        let server = self.bind_local(addr).await?;
        tracing::info!(url = %server.url(), tools = self.defs.tools.len(), "callback server listening");
        shutdown_signal().await;
        tracing::info!("stopping the callback server");
        server.shutdown().await
    }

    /// Serves the same tools, resources and prompts as a standard MCP
    /// server over stdin/stdout until the client disconnects. Nothing else
    /// may write to stdout meanwhile: log to stderr.
    pub async fn serve_stdio(&self) -> Result<(), Error> {
        use rmcp::ServiceExt;
        let server = stdio::StdioServer {
            defs: Arc::clone(&self.defs),
            name: self.name.clone().unwrap_or_else(|| "omnimcp-sdk".into()),
            version: self.version.clone().unwrap_or_else(|| "0.1.0".into()),
            instructions: self.instructions.clone(),
        };
        let running = server.serve(rmcp::transport::stdio()).await.map_err(|e| Error::Mcp(e.to_string()))?;
        running.waiting().await.map_err(|e| Error::Mcp(e.to_string()))?;
        Ok(())
    }

    /// A ready-made command line for a server program, from
    /// `std::env::args()`:
    ///
    /// - `serve [ADDR]`: [`OmniMcp::start_local`] on `ADDR` (default
    ///   `127.0.0.1:8080`, or `OMNIMCP_BIND`);
    /// - `stdio`: [`OmniMcp::serve_stdio`];
    /// - `deploy CALLBACK_URL [--rotate-secret]`: [`OmniMcp::deploy`],
    ///   printing the server id, the slug and (when one is issued) the
    ///   webhook secret as an `OMNIMCP_WEBHOOK_SECRET=...` line to store;
    /// - `up ADDR CALLBACK_URL`: deploy, then serve with the secret the
    ///   deploy returned (or the configured one), in one process.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), omnimcp_sdk::Error> {
    /// omnimcp_sdk::OmniMcp::from_env().name("my-tools").run().await
    /// # }
    /// ```
    pub async fn run(&self) -> Result<(), Error> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let default_bind = env("OMNIMCP_BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        match args.as_slice() {
            ["serve"] => self.start_local(default_bind.as_str()).await,
            ["serve", addr] => self.start_local(*addr).await,
            ["stdio"] => self.serve_stdio().await,
            ["deploy", url] | ["deploy", url, "--rotate-secret"] => {
                let deployment =
                    if args.len() == 3 { self.deploy_rotating_secret(url).await? } else { self.deploy(url).await? };
                println!("server id: {}", deployment.server_id);
                println!("slug:      {} (tools appear as {}.<tool>)", deployment.slug, deployment.slug);
                match &deployment.webhook_secret {
                    Some(secret) => {
                        println!("webhook secret (shown once; the callback server needs it):");
                        println!("OMNIMCP_WEBHOOK_SECRET={}", secret.expose());
                    }
                    None => println!("webhook secret: unchanged (use --rotate-secret for a new one)"),
                }
                Ok(())
            }
            ["up", addr, url] => {
                let deployment = self.deploy(url).await?;
                tracing::info!(slug = %deployment.slug, "deployed; serving");
                self.start_local(*addr).await
            }
            _ => Err(Error::Usage(
                "usage: serve [ADDR] | stdio | deploy CALLBACK_URL [--rotate-secret] | up ADDR CALLBACK_URL".into(),
            )),
        }
    }

    /// Deploys this server to the platform as a developer-hosted server
    /// whose callbacks go to `callback_url` (the public URL of
    /// [`OmniMcp::start_local`], `https` and publicly resolvable unless the
    /// platform allows otherwise). The first deploy creates the server and
    /// issues its webhook secret; a later one with the same name updates its
    /// description, tools, resources and prompts and keeps the secret (use
    /// [`OmniMcp::deploy_rotating_secret`] for a new one).
    ///
    /// A secret in the answer is also kept by this `OmniMcp` (and its
    /// clones and servers), so `deploy` then `start_local` in one process
    /// needs no configuration.
    pub async fn deploy(&self, callback_url: &str) -> Result<Deployment, Error> {
        self.deploy_request(callback_url, false).await
    }

    /// As [`OmniMcp::deploy`], and issues a new webhook secret: the old one
    /// stops working at once, so every running copy of the callback server
    /// needs the new one.
    pub async fn deploy_rotating_secret(&self, callback_url: &str) -> Result<Deployment, Error> {
        self.deploy_request(callback_url, true).await
    }

    async fn deploy_request(&self, callback_url: &str, rotate_secret: bool) -> Result<Deployment, Error> {
        if self.api_key.trim().is_empty() {
            return Err(Error::MissingApiKey);
        }
        let name = self.name.as_deref().ok_or(Error::MissingName)?;
        if !definitions::valid_name(name) {
            return Err(Error::InvalidName(name.to_string()));
        }
        reqwest::Url::parse(callback_url)
            .map_err(|e| Error::InvalidUrl { url: callback_url.to_string(), reason: e.to_string() })?;
        let endpoint = format!("{}/api/mcp/deploy", self.platform_url.trim_end_matches('/'));
        reqwest::Url::parse(&endpoint)
            .map_err(|e| Error::InvalidUrl { url: self.platform_url.clone(), reason: e.to_string() })?;

        let (tools, resources, prompts) = self.defs.manifest();
        let mut body = json!({
            "name": name,
            "description": self.description,
            "hostingType": "developer_hosted",
            "callbackUrl": callback_url,
            "tools": tools,
            "resources": resources,
            "prompts": prompts,
            "tags": self.tags,
            "rotateSecret": rotate_secret,
        });
        if let Some(category) = &self.category {
            body["category"] = json!(category);
        }
        if let Some(version) = &self.version {
            body["version"] = json!(version);
        }

        let response = self.http.post(&endpoint).bearer_auth(self.api_key.trim()).json(&body).send().await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        if !status.is_success() {
            let error = &answer["error"];
            let text = |key: &str| error[key].as_str().map(str::to_string);
            return Err(Error::Platform {
                status: status.as_u16(),
                code: text("code").unwrap_or_else(|| "unknown".into()),
                message: text("message").unwrap_or_else(|| answer.to_string()),
                field: text("field"),
            });
        }
        let text = |key: &str| answer[key].as_str().map(str::to_string);
        let deployment = Deployment {
            server_id: text("serverId").unwrap_or_default(),
            slug: text("slug").unwrap_or_default(),
            created: answer["created"].as_bool().unwrap_or(false),
            webhook_secret: text("webhookSecret").map(WebhookSecret),
        };
        if let Some(secret) = &deployment.webhook_secret {
            *self.secret.write().expect("secret lock") = Some(secret.clone());
        }
        tracing::info!(server_id = %deployment.server_id, slug = %deployment.slug, created = deployment.created, "deployed");
        Ok(deployment)
    }
}

/// Ctrl-C, or SIGTERM on Unix (what process managers and containers send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

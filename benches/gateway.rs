//! The gateway benchmark: what does OmniMCP cost on top of calling an MCP
//! server directly? Run on demand (it is not a test):
//!
//! ```text
//! cargo bench --bench gateway                 # 3 s per scenario
//! BENCH_SECS=10 BENCH_CONCURRENCY=1,8,32 cargo bench --bench gateway
//! ```
//!
//! In one run it starts the real `omnimcp` binary (release build, SQLite,
//! request logging on as in production) and two upstreams: the official
//! Calculator as a platform-hosted stdio child, and a trivial rmcp
//! Streamable HTTP server in a separate process, registered as a remote
//! MCP server. Then, for each upstream, protocol era (2025-11-25
//! `initialize`, 2026-07-28 `server/discover`) and concurrency, N rmcp
//! clients call a trivial tool in a loop, first against the upstream
//! directly and then through the gateway's `/mcp`, and it prints calls/s
//! and p50/p90/p99 latency for both, the gateway's CPU time per call
//! (`gw µs`, from /proc, user + system), the upstream's own CPU per call
//! when called directly (`up µs`: what one MCP server hop costs, for
//! comparison) and the gateway's resident memory, idle and with 1,000 open
//! legacy sessions; then one legacy session shared by N requests in flight
//! (directly and through the gateway).
//!
//! To profile the gateway the same way (perf from Debian's linux-perf):
//!
//! ```text
//! BENCH_SECS=20 cargo bench --bench gateway &   # then, once the table starts:
//! perf record -F 999 -g -p "$(pgrep -f 'omnimcp serve' | head -1)" -- sleep 15
//! perf report --no-children --sort symbol | head -60
//! ```
//!
//! The benchmark runs as the platform's own user would: it registers,
//! creates an API key, installs both servers through the REST API. Only the
//! tier's rate limit is lifted (a benchmark tier inserted into the
//! database), since the point is to measure the gateway, not the limiter's
//! refusals.

use std::{
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::{
    ClientServiceExt, RoleClient,
    model::{CallToolRequestParams, ClientConfig, ProtocolVersion},
    service::{ClientLifecycleMode, RunningService},
    transport::{
        StreamableHttpClientTransport, TokioChildProcess, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Map, Value, json};

#[path = "support/echo.rs"]
mod echo;
mod support;

type Client = RunningService<RoleClient, ClientConfig>;

// ---- the HTTP upstream (run in its own process) ------------------------

async fn run_http_upstream() {
    let app = axum::Router::new().nest_service("/mcp", echo::service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("http://{}/mcp", listener.local_addr().unwrap());
    // As the gateway does (see `http::serve`): no Nagle on streamed answers.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await.unwrap();
}

// ---- clients ------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Era {
    Legacy,
    Modern,
}

impl Era {
    fn name(self) -> &'static str {
        match self {
            Era::Legacy => "2025-11-25",
            Era::Modern => "2026-07-28",
        }
    }

    fn lifecycle(self) -> ClientLifecycleMode {
        match self {
            Era::Legacy => ClientLifecycleMode::Initialize,
            Era::Modern => ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] },
        }
    }
}

async fn http_client(url: &str, key: Option<&str>, era: Era) -> Client {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_string());
    if let Some(key) = key {
        config = config.auth_header(key.to_string());
    }
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    ClientConfig::default().serve_with_lifecycle(transport, era.lifecycle()).await.expect("MCP handshake")
}

/// A client of a Calculator child process, and the child's pid.
async fn stdio_client(omnimcp: &str, era: Era) -> (Client, u32) {
    let mut cmd = tokio::process::Command::new(omnimcp);
    cmd.args(["official", "calculator"]).stderr(Stdio::null());
    let transport = TokioChildProcess::new(cmd).expect("start the calculator");
    let pid = transport.id().expect("child pid");
    (ClientConfig::default().serve_with_lifecycle(transport, era.lifecycle()).await.expect("MCP handshake"), pid)
}

/// One call's request, by tool name.
fn request(tool: &str) -> CallToolRequestParams {
    let args: Map<String, Value> = if tool.ends_with("evaluate") {
        json!({"expression": "1 + 1"}).as_object().unwrap().clone()
    } else {
        json!({"text": "hi"}).as_object().unwrap().clone()
    };
    CallToolRequestParams::new(tool.to_string()).with_arguments(args)
}

struct Outcome {
    calls: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i]
    }
}

/// N workers, each on its own client, calling `tool` in a loop for `secs`.
async fn drive(clients: &[Arc<Client>], tool: &str, secs: Duration) -> Outcome {
    // Warm-up: connections, the gateway's caches, the child process.
    for c in clients {
        let _ = c.peer().call_tool(request(tool)).await;
    }
    let start = Instant::now();
    let deadline = start + secs;
    let workers: Vec<_> = clients
        .iter()
        .map(|c| {
            let (c, tool) = (c.clone(), tool.to_string());
            tokio::spawn(async move {
                let (mut lat, mut errors) = (Vec::new(), 0usize);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match c.peer().call_tool(request(&tool)).await {
                        Ok(r) if r.is_error != Some(true) => lat.push(t.elapsed()),
                        _ => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    latencies.sort();
    Outcome { calls: latencies.len(), errors, elapsed, latencies }
}

// ---- the gateway process --------------------------------------------------

struct Platform {
    child: tokio::process::Child,
    base: String,
    key: String,
}

async fn start_platform(omnimcp: &str, data: &std::path::Path) -> Platform {
    // The memory figure opens 1,000 legacy sessions with one key: past the
    // default per-account and per-key caps, which are not what is measured.
    let caps = ["--max-sessions-per-user", "2000", "--max-sessions-per-credential", "2000"];
    let (child, base) = support::start_omnimcp(omnimcp, data, &caps).await;
    let http = reqwest::Client::new();
    let creds = json!({"email": "bench@example.com", "password": "correct horse battery"});
    let res: Value =
        http.post(format!("{base}/api/auth/register")).json(&creds).send().await.unwrap().json().await.unwrap();
    let token = res["token"].as_str().expect("registered").to_string();
    let key: Value = http
        .post(format!("{base}/api/keys"))
        .bearer_auth(&token)
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().expect("API key").to_string();

    // Lift the rate limit: a benchmark tier, set with the admin command.
    let pool = support::unlimited_tier(data, "bench").await;
    pool.close().await;
    let out = std::process::Command::new(omnimcp)
        .args(["admin", "set-user", "--email", "bench@example.com", "--tier", "bench", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Platform { child, base, key }
}

async fn install(p: &Platform, server_id: &str) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/installations", p.base))
        .bearer_auth(&p.key)
        .json(&json!({"serverId": server_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

// ---- the run ----------------------------------------------------------------

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("upstream-http") {
        return run_http_upstream().await;
    }
    let omnimcp = env!("CARGO_BIN_EXE_omnimcp");
    let secs = Duration::from_secs(std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3));
    let concurrency: Vec<usize> = std::env::var("BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "1,16".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();

    // The HTTP upstream, in its own process.
    let mut upstream = tokio::process::Command::new(std::env::current_exe().unwrap())
        .arg("upstream-http")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let upstream_pid = upstream.id().expect("upstream pid");
    let upstream_url = {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(upstream.stdout.take().unwrap()).lines();
        lines.next_line().await.unwrap().expect("the upstream prints its URL")
    };

    let data = tempfile::tempdir().unwrap();
    let platform = start_platform(omnimcp, data.path()).await;
    let pid = platform.child.id().expect("gateway pid");
    let http = reqwest::Client::new();
    let servers: Value =
        http.get(format!("{}/api/servers?q=calculator", platform.base)).send().await.unwrap().json().await.unwrap();
    let calculator = servers["servers"][0]["id"].as_str().expect("the Calculator is listed").to_string();
    install(&platform, &calculator).await;
    let deployed: Value = http
        .post(format!("{}/api/mcp/deploy", platform.base))
        .bearer_auth(&platform.key)
        .json(&json!({"name": "echo", "hostingType": "remote_mcp", "url": upstream_url}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    install(&platform, deployed["serverId"].as_str().expect("deployed")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = support::rss_mb(pid);

    println!("OmniMCP gateway benchmark: {} s per scenario, release build, SQLite, request log on", secs.as_secs());
    println!(
        "{:<6} {:<10} {:>4}  {:>10} {:>8} {:>8} {:>8}  {:>10} {:>8} {:>8} {:>8}  {:>6} {:>8} {:>7} {:>7}",
        "up",
        "era",
        "N",
        "direct/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "gateway/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "ratio",
        "+p50 ms",
        "gw µs",
        "up µs"
    );
    let gateway_url = format!("{}/mcp", platform.base);
    for upstream_kind in ["stdio", "http"] {
        for era in [Era::Legacy, Era::Modern] {
            for &n in &concurrency {
                // Direct: the stdio server shares one connection between the
                // workers, exactly as the gateway shares its one child.
                let (direct_clients, upstream_pid): (Vec<Arc<Client>>, u32) = if upstream_kind == "stdio" {
                    let (c, pid) = stdio_client(omnimcp, era).await;
                    let c = Arc::new(c);
                    ((0..n).map(|_| c.clone()).collect(), pid)
                } else {
                    let mut v = Vec::new();
                    for _ in 0..n {
                        v.push(Arc::new(http_client(&upstream_url, None, era).await));
                    }
                    (v, upstream_pid)
                };
                let direct_tool = if upstream_kind == "stdio" { "evaluate" } else { "echo" };
                // The upstream's own CPU per call: the cost of one MCP server
                // hop, the floor under the gateway's (which is a server hop
                // plus a client hop plus the pipeline).
                let upstream_before = support::cpu_time(upstream_pid);
                let direct = drive(&direct_clients, direct_tool, secs).await;
                let upstream_cpu = support::cpu_time(upstream_pid).saturating_sub(upstream_before);
                drop(direct_clients);
                let upstream_per_call = upstream_cpu.as_secs_f64() * 1e6 / direct.calls.max(1) as f64;

                let mut clients = Vec::new();
                for _ in 0..n {
                    clients.push(Arc::new(http_client(&gateway_url, Some(&platform.key), era).await));
                }
                let tool = if upstream_kind == "stdio" { "calculator.evaluate" } else { "echo.echo" };
                // Warm up before counting CPU, so start-up costs are not billed.
                let _ = clients[0].peer().call_tool(request(tool)).await;
                let cpu_before = support::cpu_time(pid);
                let through = drive(&clients, tool, secs).await;
                let cpu = support::cpu_time(pid).saturating_sub(cpu_before);
                drop(clients);
                let cpu_per_call = cpu.as_secs_f64() * 1e6 / (through.calls + n).max(1) as f64;
                println!(
                    "{:<6} {:<10} {:>4}  {:>10.0} {:>8} {:>8} {:>8}  {:>10.0} {:>8} {:>8} {:>8}  {:>5.0}% {:>8} {:>7.0} {:>7.0}{}",
                    upstream_kind,
                    era.name(),
                    n,
                    direct.rate(),
                    ms(direct.percentile(0.5)),
                    ms(direct.percentile(0.9)),
                    ms(direct.percentile(0.99)),
                    through.rate(),
                    ms(through.percentile(0.5)),
                    ms(through.percentile(0.9)),
                    ms(through.percentile(0.99)),
                    100.0 * through.rate() / direct.rate().max(1e-9),
                    ms(through.percentile(0.5).saturating_sub(direct.percentile(0.5))),
                    cpu_per_call,
                    upstream_per_call,
                    if direct.errors + through.errors > 0 {
                        format!("  ({} direct / {} gateway errors)", direct.errors, through.errors)
                    } else {
                        String::new()
                    }
                );
            }
        }
    }

    // One legacy session used by N requests at once (an agent fanning out
    // on the one session it opened), to the remote upstream: directly, one
    // session to the upstream shared the same way.
    println!();
    println!("one 2025-11-25 session, N requests in flight on it (http upstream)");
    println!(
        "{:>4}  {:>10} {:>8} {:>8}  {:>10} {:>8} {:>8}  {:>6}",
        "N", "direct/s", "p50 ms", "p99 ms", "gateway/s", "p50 ms", "p99 ms", "ratio"
    );
    for &n in &concurrency {
        let direct = Arc::new(http_client(&upstream_url, None, Era::Legacy).await);
        let direct = drive(&vec![direct; n], "echo", secs).await;
        let shared = Arc::new(http_client(&gateway_url, Some(&platform.key), Era::Legacy).await);
        let through = drive(&vec![shared; n], "echo.echo", secs).await;
        println!(
            "{:>4}  {:>10.0} {:>8} {:>8}  {:>10.0} {:>8} {:>8}  {:>5.0}%{}",
            n,
            direct.rate(),
            ms(direct.percentile(0.5)),
            ms(direct.percentile(0.99)),
            through.rate(),
            ms(through.percentile(0.5)),
            ms(through.percentile(0.99)),
            100.0 * through.rate() / direct.rate().max(1e-9),
            if direct.errors + through.errors > 0 {
                format!("  ({} direct / {} gateway errors)", direct.errors, through.errors)
            } else {
                String::new()
            }
        );
    }

    let loaded_rss = support::rss_mb(pid);
    // Memory with 1,000 open legacy sessions.
    let sessions = std::env::var("BENCH_SESSIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000usize);
    let mut open = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        open.push(http_client(&gateway_url, Some(&platform.key), Era::Legacy).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sessions_rss = support::rss_mb(pid);
    println!(
        "gateway RSS: {idle_rss:.1} MB idle, {loaded_rss:.1} MB after the load, {sessions_rss:.1} MB with {sessions} open legacy sessions"
    );
    drop(open);
}

//! The soak: does OmniMCP stay correct and flat under hours of mixed load
//! while its upstreams misbehave? Run on demand (it is not a test):
//!
//! ```text
//! cargo bench --bench soak                        # 10 minutes
//! SOAK_SECS=1800 SOAK_REPORT_SECS=60 cargo bench --bench soak
//! ```
//!
//! It starts the real `omnimcp` binary (release build, SQLite, request log
//! on) and one upstream of each hosting kind: the official Calculator
//! (platform-hosted, a sandboxed child), a developer's callback service
//! and a remote MCP server (both in a helper process of this binary). 64
//! rmcp clients, half speaking 2025-11-25 and half 2026-07-28, call the
//! three servers' tools in turn through `/mcp` for `SOAK_SECS`.
//!
//! Every minute, faults arrive on a schedule: at 0:05 a client opens a
//! connection, pipelines thousands of requests and never reads an answer
//! (for 40 s); at 0:10 the Calculator child is killed; from 0:20 to 0:35
//! the callback service answers only after 15 s (past the 10 s outbound
//! timeout); from 0:40 to 0:50 the remote server answers garbage.
//!
//! Every `SOAK_REPORT_SECS` it prints the interval's calls, its errors by
//! server and kind, p50/p99 latency and the gateway's resident memory and
//! open file descriptors. At the end it stops the gateway (SIGTERM: the
//! request log is flushed) and counts the request log's rows against the
//! calls the clients saw answered. What to look for: errors only of the
//! kinds the faults explain (calculator errors right after 0:10,
//! `greeter` timeouts in 0:20-0:35, `echo` upstream errors in 0:40-0:50),
//! RSS flat after warm-up, rows = answered calls.

use std::{
    collections::BTreeMap,
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::Request,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use rmcp::{
    ClientServiceExt, RoleClient,
    model::{CallToolRequestParams, ClientConfig, ProtocolVersion},
    service::{ClientLifecycleMode, RunningService, ServiceError},
    transport::{StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig},
};
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;

#[path = "support/echo.rs"]
mod echo;
mod support;

type Client = RunningService<RoleClient, ClientConfig>;

const CLIENTS: usize = 64;

// ---- the helper process: a remote MCP server and a callback service -------

static GARBAGE: AtomicBool = AtomicBool::new(false);
static SLOW: AtomicBool = AtomicBool::new(false);

/// While `GARBAGE` is on, the remote server answers every request with a
/// 200 whose JSON body is not JSON-RPC.
async fn garbage(request: Request, next: Next) -> Response {
    if GARBAGE.load(Ordering::Relaxed) {
        return ([("content-type", "application/json")], "{\"surprise\": [1, 2, ").into_response();
    }
    next.run(request).await
}

/// The developer's callback: `POST /dev/tools/hello`; slow while `SLOW`.
async fn callback(Json(body): Json<Value>) -> Json<Value> {
    if SLOW.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
    let name = body["arguments"]["name"].as_str().unwrap_or("there").to_string();
    Json(json!({ "success": true, "result": { "greeting": format!("Hello, {name}!") } }))
}

async fn run_upstreams() {
    let switch = |flag: &'static AtomicBool| {
        post(move |Json(on): Json<bool>| async move {
            flag.store(on, Ordering::Relaxed);
            "ok"
        })
    };
    let app = Router::new()
        .nest_service("/mcp", echo::service())
        .layer(middleware::from_fn(garbage))
        .route("/dev/tools/hello", post(callback))
        .route("/dev/health", get(|| async { Json(json!({"success": true})) }))
        .route("/control/garbage", switch(&GARBAGE))
        .route("/control/slow", switch(&SLOW));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}

// ---- clients ----------------------------------------------------------------

#[derive(Clone, Copy)]
enum Era {
    Legacy,
    Modern,
}

impl Era {
    fn lifecycle(self) -> ClientLifecycleMode {
        match self {
            Era::Legacy => ClientLifecycleMode::Initialize,
            Era::Modern => ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] },
        }
    }
}

async fn connect(url: &str, key: &str, era: Era) -> Option<Client> {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string()).auth_header(key.to_string());
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    ClientConfig::default().serve_with_lifecycle(transport, era.lifecycle()).await.ok()
}

/// The three servers' tools, one per hosting kind.
const TOOLS: [(&str, &str); 3] =
    [("calculator", "calculator.evaluate"), ("greeter", "greeter.hello"), ("echo", "echo.echo")];

fn request(tool: &str, n: usize) -> CallToolRequestParams {
    let args = match tool {
        "calculator.evaluate" => json!({"expression": format!("{n} * 2 + 1")}),
        "greeter.hello" => json!({"name": format!("client {n}")}),
        _ => json!({"text": format!("ping {n}")}),
    };
    let args: Map<String, Value> = args.as_object().unwrap().clone();
    CallToolRequestParams::new(tool.to_string()).with_arguments(args)
}

/// What one interval saw.
#[derive(Default)]
struct Interval {
    calls: usize,
    latencies: Vec<Duration>,
    /// (server, kind of error) -> count.
    errors: BTreeMap<(String, String), usize>,
    /// Calls that got an answer (a result or a JSON-RPC error): each one
    /// the gateway logs.
    answered: usize,
}

#[derive(Default)]
struct Totals {
    calls: usize,
    answered: usize,
    reconnects: usize,
    errors: BTreeMap<(String, String), usize>,
}

/// A JSON-RPC error's kind, from its code and the start of its message.
fn kind_of(error: &ServiceError) -> (String, bool) {
    match error {
        ServiceError::McpError(e) => {
            let words: Vec<&str> = e.message.split_whitespace().take(6).collect();
            (format!("rpc {} \"{}…\"", e.code.0, words.join(" ")), true)
        }
        ServiceError::Timeout { .. } => ("client timeout".into(), false),
        other => (format!("transport: {}", other.to_string().chars().take(60).collect::<String>()), false),
    }
}

async fn worker(
    n: usize,
    url: String,
    key: String,
    stop: Instant,
    stats: Arc<Mutex<Interval>>,
    totals: Arc<Mutex<Totals>>,
) {
    let era = if n % 2 == 0 { Era::Legacy } else { Era::Modern };
    let mut client: Option<Client> = None;
    let mut i = n;
    while Instant::now() < stop {
        let Some(c) = client.as_ref() else {
            client = connect(&url, &key, era).await;
            if client.is_none() {
                totals.lock().unwrap().reconnects += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            continue;
        };
        let (server, tool) = TOOLS[i % TOOLS.len()];
        i += 1;
        let started = Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(60), c.peer().call_tool(request(tool, i))).await;
        let elapsed = started.elapsed();
        let mut s = stats.lock().unwrap();
        s.calls += 1;
        match outcome {
            Ok(Ok(r)) if r.is_error != Some(true) => {
                s.answered += 1;
                s.latencies.push(elapsed);
            }
            Ok(Ok(_)) => {
                s.answered += 1;
                *s.errors.entry((server.into(), "tool error".into())).or_default() += 1;
            }
            Ok(Err(e)) => {
                let (kind, answered) = kind_of(&e);
                s.answered += usize::from(answered);
                *s.errors.entry((server.into(), kind)).or_default() += 1;
                if !answered {
                    drop(s);
                    client = None;
                    totals.lock().unwrap().reconnects += 1;
                }
            }
            Err(_) => {
                *s.errors.entry((server.into(), "no answer in 60 s".into())).or_default() += 1;
                drop(s);
                client = None;
            }
        }
    }
}

// ---- faults -----------------------------------------------------------------

/// Kills the gateway's Calculator child (a process whose command line ends
/// with `official calculator`), as an OOM killer or a crash would.
fn kill_calculator(gateway: u32) -> bool {
    let mut killed = false;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).filter(|a| !a.is_empty()).collect();
        let is_calculator =
            args.len() >= 2 && args[args.len() - 2] == b"official" && args[args.len() - 1] == b"calculator";
        if is_calculator && descends_from(pid, gateway) {
            // The sandbox's own process matches too, and takes its child
            // with it: the second kill may find nobody.
            killed |= std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        }
    }
    killed
}

fn descends_from(mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..16 {
        if pid == ancestor {
            return true;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let Some(ppid) =
            stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)).and_then(|p| p.parse().ok())
        else {
            return false;
        };
        if ppid <= 1 {
            return false;
        }
        pid = ppid;
    }
    false
}

/// A client that pipelines `tools/list` requests (2026-07-28, stateless)
/// and never reads an answer, holding the connection for `hold`.
async fn stalled_client(base: &str, key: &str, hold: Duration) {
    let addr = base.trim_start_matches("http://").to_string();
    let Ok(mut tcp) = tokio::net::TcpStream::connect(&addr).await else { return };
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "stalled", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }}})
    .to_string();
    let one = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\n\
         accept: application/json, text/event-stream\r\nmcp-protocol-version: 2026-07-28\r\nmcp-method: tools/list\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    let until = Instant::now() + hold;
    for _ in 0..5000 {
        match tokio::time::timeout_at(until.into(), tcp.write_all(one.as_bytes())).await {
            Ok(Ok(())) => {}
            _ => break,
        }
    }
    tokio::time::sleep_until(until.into()).await;
}

async fn switch(upstreams: &str, what: &str, on: bool) {
    let _ = reqwest::Client::new().post(format!("{upstreams}/control/{what}")).json(&on).send().await;
}

// ---- the gateway process ----------------------------------------------------

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn api(http: &reqwest::Client, base: &str, path: &str, bearer: Option<&str>, body: Value) -> Value {
    let mut req = http.post(format!("{base}{path}")).json(&body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let value: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {value}");
    value
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("upstreams") {
        return run_upstreams().await;
    }
    let secs = |name: &str, default: u64| {
        Duration::from_secs(std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default))
    };
    let duration = secs("SOAK_SECS", 600);
    let report = secs("SOAK_REPORT_SECS", 30).max(Duration::from_secs(1));
    let omnimcp = env!("CARGO_BIN_EXE_omnimcp");

    let mut helper = tokio::process::Command::new(std::env::current_exe().unwrap())
        .arg("upstreams")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let upstreams = {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(helper.stdout.take().unwrap()).lines();
        lines.next_line().await.unwrap().expect("the helper prints its URL")
    };
    let port = upstreams.rsplit(':').next().unwrap().to_string();

    let data = tempfile::tempdir().unwrap();
    let (mut gateway, base) = support::start_omnimcp(omnimcp, data.path(), &["--outbound-allow-port", &port]).await;
    let pid = gateway.id().expect("gateway pid");
    let http = reqwest::Client::new();
    let signed = api(
        &http,
        &base,
        "/api/auth/register",
        None,
        json!({"email": "soak@example.com", "password": "correct horse battery"}),
    )
    .await;
    let token = signed["token"].as_str().unwrap().to_string();
    let key = api(&http, &base, "/api/keys", Some(&token), json!({"name": "soak"})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    // Lift the limits: the point is the gateway under load, not the limiter.
    let pool = support::unlimited_tier(data.path(), "soak").await;
    sqlx::query("UPDATE users SET subscription_tier = 'soak'").execute(&pool).await.unwrap();
    let servers: Value =
        http.get(format!("{base}/api/servers?q=calculator")).send().await.unwrap().json().await.unwrap();
    let calculator = servers["servers"][0]["id"].as_str().expect("the Calculator is listed").to_string();
    api(&http, &base, "/api/installations", Some(&key), json!({"serverId": calculator})).await;
    let greeter = api(&http, &base, "/api/mcp/deploy", Some(&key), json!({
        "name": "greeter", "hostingType": "developer_hosted", "callbackUrl": format!("{upstreams}/dev"),
        "tools": [{"name": "hello", "description": "Say hello", "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}}}],
    }))
    .await;
    api(&http, &base, "/api/installations", Some(&key), json!({"serverId": greeter["serverId"]})).await;
    let echo = api(
        &http,
        &base,
        "/api/mcp/deploy",
        Some(&key),
        json!({"name": "echo", "hostingType": "remote_mcp", "url": format!("{upstreams}/mcp")}),
    )
    .await;
    api(&http, &base, "/api/installations", Some(&key), json!({"serverId": echo["serverId"]})).await;
    // The tier was changed under the gateway's caches: let them expire.
    tokio::time::sleep(Duration::from_secs(2)).await;

    println!(
        "OmniMCP soak: {CLIENTS} clients (half 2025-11-25, half 2026-07-28), {} s, report every {} s, release build, SQLite",
        duration.as_secs(),
        report.as_secs()
    );
    println!(
        "faults each minute: 0:05 a client that stops reading (40 s), 0:10 Calculator killed, 0:20-0:35 callback slow, 0:40-0:50 remote garbage"
    );
    let url = format!("{base}/mcp");
    let start = Instant::now();
    let stop = start + duration;
    let stats = Arc::new(Mutex::new(Interval::default()));
    let totals = Arc::new(Mutex::new(Totals::default()));
    let workers: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(worker(n, url.clone(), key.clone(), stop, stats.clone(), totals.clone())))
        .collect();

    // The fault schedule, second by second.
    let faults = {
        let (upstreams, base, key) = (upstreams.clone(), base.clone(), key.clone());
        tokio::spawn(async move {
            let mut second = 0u64;
            loop {
                tokio::time::sleep_until((start + Duration::from_secs(second)).into()).await;
                match second % 60 {
                    5 => {
                        let (base, key) = (base.clone(), key.clone());
                        tokio::spawn(async move { stalled_client(&base, &key, Duration::from_secs(40)).await });
                    }
                    10 => {
                        if !kill_calculator(pid) {
                            eprintln!("[{second} s] no Calculator child to kill");
                        }
                    }
                    20 => switch(&upstreams, "slow", true).await,
                    35 => switch(&upstreams, "slow", false).await,
                    40 => switch(&upstreams, "garbage", true).await,
                    50 => switch(&upstreams, "garbage", false).await,
                    _ => {}
                }
                second += 1;
            }
        })
    };

    println!(
        "{:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>5}  errors (server: kind = count)",
        "t s", "calls", "calls/s", "p50 ms", "p99 ms", "RSS MB", "fds"
    );
    let mut next = start + report;
    while next <= stop + Duration::from_millis(500) {
        tokio::time::sleep_until(next.into()).await;
        let interval = std::mem::take(&mut *stats.lock().unwrap());
        let mut latencies = interval.latencies;
        latencies.sort();
        let errors: Vec<String> =
            interval.errors.iter().map(|((server, kind), n)| format!("{server}: {kind} = {n}")).collect();
        println!(
            "{:>6} {:>8} {:>8.0} {:>8.2} {:>8.2} {:>8.1} {:>5}  {}",
            start.elapsed().as_secs(),
            interval.calls,
            interval.calls as f64 / report.as_secs_f64(),
            percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
            support::rss_mb(pid),
            open_fds(pid),
            if errors.is_empty() { "-".to_string() } else { errors.join("; ") }
        );
        let mut t = totals.lock().unwrap();
        t.calls += interval.calls;
        t.answered += interval.answered;
        for (k, n) in interval.errors {
            *t.errors.entry(k).or_default() += n;
        }
        next += report;
    }
    for w in workers {
        let _ = w.await;
    }
    faults.abort();
    let rest = std::mem::take(&mut *stats.lock().unwrap());
    let mut t = std::mem::take(&mut *totals.lock().unwrap());
    t.calls += rest.calls;
    t.answered += rest.answered;
    for (k, n) in rest.errors {
        *t.errors.entry(k).or_default() += n;
    }

    // Graceful stop: the request log is flushed before the process exits.
    let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = tokio::time::timeout(Duration::from_secs(30), gateway.wait()).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM request_logs WHERE request_type = 'tools/call'")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    println!("\ntotals: {} calls, {} answered, {} reconnects", t.calls, t.answered, t.reconnects);
    for ((server, kind), n) in &t.errors {
        println!("  {server}: {kind} = {n}");
    }
    println!(
        "request log: {rows} tools/call rows for {} answered calls{}",
        t.answered,
        if rows as usize == t.answered {
            " (none lost)".to_string()
        } else {
            format!(" (DIFFERENCE {})", rows - t.answered as i64)
        }
    );
}

//! Hostile connections: what a slow, silent or greedy client costs the
//! server. Each test opens raw TCP connections to the real server and
//! checks that the limit cuts them (a missing limit fails the test at its
//! time guard, never by a measured duration).

mod common;

use std::time::Duration;

use common::{Backend, TestServer};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

const PASSWORD: &str = "correct horse battery";

/// Fails the test if `what` takes longer than `limit` (a limit not
/// enforced shows up here).
async fn within<T>(limit: u64, what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(limit), f).await.unwrap_or_else(|_| panic!("{what}: no limit cut it"))
}

async fn connect(s: &TestServer) -> TcpStream {
    TcpStream::connect(s.url.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes the connection; what it sent.
async fn read_to_close(tcp: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// A client that sends half its headers, or goes quiet after a request on
/// a keep-alive connection, is disconnected after the header timeout.
#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    let s = TestServer::start_on_with(Backend::Sqlite, &["--header-timeout-secs", "1"]).await.unwrap();
    let mut slow = connect(&s).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    within(10, "half-sent headers", read_to_close(&mut slow)).await;

    let mut idle = connect(&s).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answer = within(10, "an idle keep-alive connection", read_to_close(&mut idle)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "the request itself was answered: {answer}");
    s.stop().await;
}

/// A body that trickles in is answered 408 after the body timeout, on the
/// REST API and (once authenticated) on `/mcp` as a JSON-RPC error; an
/// unauthenticated `/mcp` request is refused before its body is read.
#[tokio::test]
async fn slow_bodies_are_answered_408() {
    let s = TestServer::start_on_with(Backend::Sqlite, &["--body-timeout-secs", "1"]).await.unwrap();
    let token = s.register("a@example.com", PASSWORD).await;
    let (_, key) = s.create_key(&token, "mcp").await;
    let host = s.url.trim_start_matches("http://").to_string();

    let send_partial = |path: &'static str, auth: Option<String>| {
        let host = host.clone();
        async move {
            let mut tcp = TcpStream::connect(&host).await.unwrap();
            let auth = auth.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
                 Accept: application/json, text/event-stream\r\n{auth}Content-Length: 1000\r\n\r\n{{\"email\":"
            );
            tcp.write_all(head.as_bytes()).await.unwrap();
            let answer = within(10, path, read_to_close(&mut tcp)).await;
            let text = String::from_utf8_lossy(&answer).to_string();
            let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
            (text, body)
        }
    };
    let (head, body) = send_partial("/api/auth/login", None).await;
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "request_timeout", "{body}");

    let (head, body) = send_partial("/mcp", Some(key)).await;
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], -32600, "{body}");

    let (head, _) = send_partial("/mcp", None).await;
    assert!(head.starts_with("HTTP/1.1 401"), "refused before the body: {head}");

    // Server functions read raw bodies: they get the API's size limit too.
    let res = s
        .client
        .post(s.at("/_fn/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={}&password=x", "a".repeat(100 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    s.stop().await;
}

/// Past `--max-connections`, a new connection waits until one closes.
#[tokio::test]
async fn connections_are_capped() {
    let s = TestServer::start_on_with(Backend::Sqlite, &["--max-connections", "2"]).await.unwrap();
    let first = connect(&s).await;
    let second = connect(&s).await;
    // Give the accept loop a moment to take both.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = reqwest::Client::new();
    let third = client.get(s.at("/healthz")).send();
    tokio::pin!(third);
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), &mut third).await.is_err(),
        "a third connection was served while two held every slot"
    );
    drop(first);
    let res = within(10, "the third connection once a slot freed", &mut third).await.unwrap();
    assert_eq!(res.status(), 200);
    drop(second);
    s.stop().await;
}

/// A client that asks for a large answer and never reads it is cut after
/// the write timeout instead of holding its connection (and the file).
#[tokio::test]
async fn a_client_that_stops_reading_is_cut() {
    let wasm = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/site/pkg/omnimcp.wasm");
    let size = std::fs::metadata(&wasm).expect("the site is built (cargo leptos build) before the tests").len();
    let s = TestServer::start_on_with(Backend::Sqlite, &["--write-timeout-secs", "1"]).await.unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(s.url.trim_start_matches("http://").parse().unwrap()).await.unwrap();
    tcp.write_all(b"GET /pkg/omnimcp.wasm HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    // Not reading while the server's writes block, well past the timeout.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let got = within(10, "reading what was sent", read_to_close(&mut tcp)).await;
    assert!((got.len() as u64) < size, "the whole {size} bytes arrived: the connection was never cut");
    s.stop().await;
}

/// On shutdown, a request stuck in flight is cut at the deadline, and calls
/// completed before it are in the request log.
#[tokio::test]
async fn shutdown_has_a_deadline_and_flushes_the_request_log() {
    let s = TestServer::start_on_with(
        Backend::Sqlite,
        &["--shutdown-deadline-secs", "1", "--body-timeout-secs", "600", "--header-timeout-secs", "600"],
    )
    .await
    .unwrap();
    let token = s.register("a@example.com", PASSWORD).await;
    let calc = s.state.db.server_by_slug("calculator").await.unwrap().unwrap();
    let res = s.post_json("/api/installations", json!({"serverId": calc.id}), Some(&token)).await;
    assert_eq!(res.status(), 201);
    let res = s
        .post_json(
            "/mcp/call",
            json!({"serverId": "calculator", "toolName": "evaluate", "arguments": {"expression": "6*7"}}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 200);
    // A request whose body never finishes: in flight until cut.
    let mut stuck = connect(&s).await;
    stuck.write_all(b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let user = s.state.db.user_by_email("a@example.com").await.unwrap().unwrap().id;
    let database_url = s.database_url.clone();
    let _dir = within(15, "shutdown with a request stuck in flight", s.stop()).await;
    // The stuck client sees its connection closed.
    within(5, "the stuck connection", read_to_close(&mut stuck)).await;
    // The completed call's row was written before the pool closed.
    let db = omnimcp::db::Db::connect(&database_url).await.unwrap();
    assert_eq!(db.recent_request_logs(user, 10).await.unwrap().len(), 1);
}

//! What the benchmarks share: the real `omnimcp` binary, started as
//! production runs it, on a free loopback port with its own data directory.

use std::{path::Path, process::Stdio, time::Duration};

/// Starts `omnimcp serve` (SQLite in `data`, loopback upstreams allowed,
/// logs at `warn`, `extra` flags after) and waits until `/readyz` answers;
/// returns the process (killed on drop) and its base URL.
pub async fn start_omnimcp(omnimcp: &str, data: &Path, extra: &[&str]) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let child = tokio::process::Command::new(omnimcp)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--outbound-allow-http", "--outbound-allow-loopback"])
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start omnimcp");
    let (http, ready) = (reqwest::Client::new(), format!("{base}/readyz"));
    for _ in 0..200 {
        if http.get(&ready).send().await.is_ok_and(|r| r.status().is_success()) {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("omnimcp did not become ready at {base}");
}

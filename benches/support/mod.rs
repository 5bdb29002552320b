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

// What a benchmark reads of a process from /proc. Not every benchmark
// reads both, hence the allowances.

/// CPU time (user + system) a process has used so far.
#[allow(dead_code)]
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name (which may hold spaces): utime and stime are
    // the 12th and 13th fields, in ticks of 1/100 s on every common
    // configuration.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after.split_whitespace().skip(11).take(2).filter_map(|t| t.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10)
}

/// A process's resident memory in MB.
#[allow(dead_code)]
pub fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Opens the platform's SQLite database in `data` and adds a tier `id`
/// without practical limits (the point of a benchmark is the gateway under
/// load, not the limiter); the caller moves its users onto it.
#[allow(dead_code)]
pub async fn unlimited_tier(data: &Path, id: &str) -> sqlx::SqlitePool {
    let db_url = format!("sqlite://{}", data.join("omnimcp.db").display());
    let pool = sqlx::SqlitePool::connect(&db_url).await.expect("open the platform's database");
    sqlx::query(
        "INSERT INTO subscription_tiers (id, name, requests_per_minute, requests_per_month, max_installations, \
         can_publish, sort_order, max_servers) VALUES (?, ?, 1000000000, 1000000000, 100, 1, 9, 10)",
    )
    .bind(id)
    .bind(id)
    .execute(&pool)
    .await
    .expect("insert an unlimited tier");
    pool
}

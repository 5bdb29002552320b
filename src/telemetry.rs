//! Structured logging with `tracing`: human-readable text or JSON lines,
//! the level from `RUST_LOG` (default `info`). Request spans carry the
//! request id (see `http.rs`); secrets never reach a log line because the
//! types that hold them redact themselves.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry.with(fmt::layer().with_target(false)).try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true).with_current_span(true).with_span_list(false))
            .try_init(),
    };
    // A second init (tests start several servers in one process) is harmless.
    let _ = result;
}

/// Logging for a child MCP server: stdout carries the protocol, so logs go
/// to stderr, which the platform forwards to its own log.
pub fn init_stderr() {
    init_stderr_with("warn");
}

/// As [`init_stderr`], with another default filter (`RUST_LOG` still wins).
pub fn init_stderr_with(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr).with_ansi(false))
        .try_init();
}

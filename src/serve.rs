//! Connections: the accept loop in front of the router, with the limits a
//! public server needs and `axum::serve` does not set (it runs hyper
//! without a timer, so without a header timeout).
//!
//! - At most `--max-connections` open at once: past it, new connections
//!   wait in the kernel's backlog instead of taking memory and tasks.
//! - `--header-timeout-secs` for a request's headers, which also bounds an
//!   idle keep-alive connection (hyper starts the timer when it waits for
//!   the next request), so a slowloris client holds a slot for seconds.
//! - `--body-timeout-secs` for a request's whole body ([`bounded_body`],
//!   408), and a size cap for bodies no route limits itself (server
//!   functions: 64 KiB).
//! - `--write-timeout-secs` for a write to a client that stopped reading
//!   ([`WriteTimeout`]): its connection is closed rather than held.
//! - On shutdown, in-flight requests get `--shutdown-deadline-secs` to
//!   finish; then the remaining connections are cut, so one stuck request
//!   cannot keep the process alive.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpListener,
    sync::Semaphore,
    task::JoinSet,
    time::Sleep,
};
use tower::Service;

use crate::{api, config::Config, error::ApiError, mcp, state::AppState};

/// The connection limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub write_timeout: Duration,
    pub shutdown_deadline: Duration,
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_connections: config.max_connections.max(1),
            header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
            write_timeout: Duration::from_secs(config.write_timeout_secs.max(1)),
            shutdown_deadline: Duration::from_secs(config.shutdown_deadline_secs),
        }
    }
}

/// Accepts connections until `shutdown` resolves, then drains them within
/// the deadline.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::pin!(shutdown);
    loop {
        // Reap finished connections so the set stays the size of the open ones.
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // No Nagle: a streamed (SSE) answer is several small writes, and
        // waiting for the peer's delayed ACK between them adds ~40 ms a call.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let service = match make_service.call(peer).await {
            Ok(service) => TowerToHyperService::new(service),
            Err(never) => match never {},
        };
        let io = TokioIo::new(WriteTimeout::new(tcp, limits.write_timeout));
        let connection = builder(&limits).serve_connection_with_upgrades(io, service).into_owned();
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    let open = graceful.count();
    tracing::info!(open, "stopped accepting connections; waiting for in-flight requests");
    if tokio::time::timeout(limits.shutdown_deadline, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            cut = connections.len(),
            deadline_secs = limits.shutdown_deadline.as_secs(),
            "shutdown deadline passed; cutting the remaining connections"
        );
    }
    connections.shutdown().await;
    Ok(())
}

fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        // A peer that stops answering pings is gone.
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// A connection whose writes may block for at most `timeout`: past it, the
/// write fails and hyper closes the connection.
pub struct WriteTimeout<T> {
    inner: T,
    timeout: Duration,
    blocked_since: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteTimeout<T> {
    pub fn new(inner: T, timeout: Duration) -> Self {
        Self { inner, timeout, blocked_since: None }
    }

    /// After a write attempt: ready clears the clock; pending starts it (or
    /// checks it), so the task is woken when the time is up.
    fn watch<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match poll {
            Poll::Ready(result) => {
                self.blocked_since = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let deadline = self.blocked_since.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading: write timed out",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteTimeout<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Middleware: reads a request's body within the body timeout (408 past
/// it) and the largest size any route takes (413), before any handler
/// runs. Routes keep their own, smaller, limits; server functions, which
/// read raw bodies, get the API's. `/mcp` is left to its guard, which
/// reads the body the same way but only once the caller is authenticated.
pub async fn bounded_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/mcp" {
        return next.run(request).await;
    }
    let limit = if request.uri().path().starts_with("/_fn/") { api::BODY_LIMIT } else { mcp::MAX_BODY };
    let timeout = Duration::from_secs(state.config.body_timeout_secs.max(1));
    match read_body(request, limit, timeout).await {
        Ok(request) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyRefusal {
    TooLarge { limit: usize },
    TimedOut(Duration),
    Unreadable,
}

impl IntoResponse for BodyRefusal {
    fn into_response(self) -> Response {
        match self {
            Self::TooLarge { limit } => ApiError::PayloadTooLarge { limit }.into_response(),
            Self::TimedOut(t) => {
                ApiError::RequestTimeout(format!("the request body did not arrive within {} s", t.as_secs()))
                    .into_response()
            }
            Self::Unreadable => ApiError::Malformed("the request body could not be read".into()).into_response(),
        }
    }
}

/// The request with its body read into memory: at most `limit` bytes,
/// all of them within `timeout`. A request without a body passes as is.
pub async fn read_body(request: Request, limit: usize, timeout: Duration) -> Result<Request, BodyRefusal> {
    let headers = request.headers();
    let declared: Option<usize> =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    if !chunked && declared.unwrap_or(0) == 0 {
        return Ok(request);
    }
    if declared.is_some_and(|len| len > limit) {
        return Err(BodyRefusal::TooLarge { limit });
    }
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Ok(Err(e)) if is_length_limit(&e) => Err(BodyRefusal::TooLarge { limit }),
        Ok(Err(_)) => Err(BodyRefusal::Unreadable),
        Err(_) => {
            tracing::info!(path = %parts.uri.path(), "request body timed out");
            Err(BodyRefusal::TimedOut(timeout))
        }
    }
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn a_write_blocked_past_the_timeout_fails() {
        // A pipe whose reader never reads: the first writes fill it.
        let (client, _never_read) = tokio::io::duplex(1024);
        let mut io = WriteTimeout::new(client, Duration::from_millis(200));
        let started = std::time::Instant::now();
        let chunk = vec![0u8; 4096];
        let err = loop {
            match io.write(&chunk).await {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn writes_that_progress_never_time_out() {
        let (client, mut reader) = tokio::io::duplex(64);
        let mut io = WriteTimeout::new(client, Duration::from_millis(100));
        let drain = tokio::spawn(async move {
            let mut sink = Vec::new();
            // Reads slowly, but reads: each wait is under the timeout.
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let mut buf = [0u8; 64];
                match tokio::io::AsyncReadExt::read(&mut reader, &mut buf).await {
                    Ok(0) | Err(_) => break sink,
                    Ok(n) => sink.extend_from_slice(&buf[..n]),
                }
            }
        });
        io.write_all(&[7u8; 1024]).await.unwrap();
        io.shutdown().await.unwrap();
        drop(io);
        assert_eq!(drain.await.unwrap().len(), 1024);
    }
}

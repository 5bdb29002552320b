//! The call context: everything about one call that its journey needs,
//! built by the front door that received it and passed down, by argument,
//! through the gateway to the upstream and its relay. Nothing about a call
//! travels any other way (no task-locals, no globals).

// Logging is deprecated by SEP-2577 (2026-07-28), but 2025-11-25 clients
// use it: log messages are relayed to them.
#![allow(deprecated)]

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rmcp::service::SubscriptionSink;
use rmcp::{
    Peer, RoleServer,
    model::{
        InputResponses, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken, RequestId,
        RequestMetaObject, ResourceUpdatedNotificationParam,
    },
};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::identity::Principal;

/// The protocol era a client speaks. The gateway speaks the same era to
/// the upstream on that client's behalf, so what each era does differently
/// (server-to-client requests, or input-required results) passes through
/// unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    /// 2025-11-25 and earlier: the `initialize` handshake, sessions, and
    /// server-to-client requests (sampling, elicitation, roots).
    Handshake,
    /// 2026-07-28: `server/discover`, no sessions, and input-required
    /// results instead of server-to-client requests.
    Stateless,
}

impl Era {
    /// The era of a client that announced this protocol version (none: the
    /// handshake era, whose clients send it only in `initialize`).
    pub fn of(version: Option<&rmcp::model::ProtocolVersion>) -> Self {
        match version {
            Some(v) if *v >= rmcp::model::ProtocolVersion::V_2026_07_28 => Era::Stateless,
            _ => Era::Handshake,
        }
    }
}

/// The MCP client a call came from, when it came over `/mcp`: what an
/// upstream says during the call (progress, log messages, requests) is
/// relayed to it, on the stream of its own request.
#[derive(Clone)]
pub struct ClientLink {
    pub peer: Peer<RoleServer>,
    /// The client's request: relayed requests ride its response stream.
    pub request_id: RequestId,
    /// The client's legacy session (`Mcp-Session-Id`), if it has one.
    pub session: Option<String>,
    /// The 2026-07-28 `subscriptions/listen` stream this link is, if it is
    /// one: resource updates go on it, marked with its subscription id.
    pub listen: Option<u64>,
    /// Notifications on their way to this client.
    pub outbox: Outbox,
}

/// Which client connection a subscription belongs to: a legacy session or
/// a listen stream (a stateless request that is neither has none, and
/// cannot subscribe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKey {
    Session(String),
    Listen(u64),
}

impl ClientLink {
    pub fn new(peer: Peer<RoleServer>, request_id: RequestId, session: Option<String>) -> Self {
        Self { outbox: Outbox::new(peer.clone(), None), peer, request_id, session, listen: None }
    }

    /// The link of an open `subscriptions/listen` stream (`id` as the
    /// notifier registered it).
    pub fn listening(peer: Peer<RoleServer>, request_id: RequestId, id: u64, sink: SubscriptionSink) -> Self {
        Self { outbox: Outbox::new(peer.clone(), Some(sink)), peer, request_id, session: None, listen: Some(id) }
    }

    /// The connection this link belongs to, if it is one that lasts.
    pub fn key(&self) -> Option<ClientKey> {
        match (&self.session, self.listen) {
            (Some(session), _) => Some(ClientKey::Session(session.clone())),
            (None, Some(id)) => Some(ClientKey::Listen(id)),
            (None, None) => None,
        }
    }
}

/// A notification relayed to a client.
#[derive(Debug)]
pub enum Relayed {
    Progress(ProgressNotificationParam),
    Log(LoggingMessageNotificationParam),
    ResourceUpdated(ResourceUpdatedNotificationParam),
}

/// What is relayed to one client, forwarded in order by a task of its own
/// (started at the first notification): the upstream connection's handler
/// only queues, so a client that does not read its stream delays itself
/// and nobody else. A full outbox (the client has not read 256
/// notifications) drops what does not fit.
#[derive(Clone)]
pub struct Outbox(Arc<OutboxInner>);

struct OutboxInner {
    peer: Peer<RoleServer>,
    /// A listen stream's sink: resource updates go there.
    sink: Option<SubscriptionSink>,
    tx: OnceLock<mpsc::Sender<Relayed>>,
    queued: AtomicU64,
    progress: Arc<Forwarded>,
}

/// How far the forwarding task got (shared with it; it does not hold the
/// sender, so it ends when the last link is dropped).
#[derive(Default)]
struct Forwarded {
    sent: AtomicU64,
    changed: Notify,
}

const OUTBOX_CAPACITY: usize = 256;

impl Outbox {
    fn new(peer: Peer<RoleServer>, sink: Option<SubscriptionSink>) -> Self {
        let inner =
            OutboxInner { peer, sink, tx: OnceLock::new(), queued: AtomicU64::new(0), progress: Arc::default() };
        Self(Arc::new(inner))
    }

    /// Queues a notification without waiting; `false` if the client's
    /// outbox is full (it is not reading) and the notification is dropped.
    pub fn push(&self, relayed: Relayed) -> bool {
        let tx = self.0.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
            tokio::spawn(forward(self.0.peer.clone(), self.0.sink.clone(), rx, self.0.progress.clone()));
            tx
        });
        match tx.try_send(relayed) {
            Ok(()) => {
                self.0.queued.fetch_add(1, Ordering::AcqRel);
                true
            }
            Err(_) => {
                tracing::debug!("a client's relay outbox is full (it is not reading); notification dropped");
                false
            }
        }
    }

    /// Waits, at most `limit`, until everything queued so far has been
    /// handed to the client's stream; `false` if the time ran out.
    pub async fn flushed(&self, limit: Duration) -> bool {
        let target = self.0.queued.load(Ordering::Acquire);
        let progress = &self.0.progress;
        let done = reached(&progress.sent, &progress.changed, target, limit).await;
        if !done {
            tracing::debug!("a client did not take its relayed notifications in time; answering anyway");
        }
        done
    }
}

/// Waits, at most `limit`, until `counter` reaches `target` (`changed` is
/// notified whenever it grows); `false` if the time ran out.
pub(crate) async fn reached(counter: &AtomicU64, changed: &Notify, target: u64, limit: Duration) -> bool {
    let wait = async {
        loop {
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if counter.load(Ordering::Acquire) >= target {
                return;
            }
            notified.await;
        }
    };
    tokio::time::timeout(limit, wait).await.is_ok()
}

async fn forward(
    peer: Peer<RoleServer>,
    sink: Option<SubscriptionSink>,
    mut rx: mpsc::Receiver<Relayed>,
    progress: Arc<Forwarded>,
) {
    while let Some(relayed) = rx.recv().await {
        // A closed client fails fast; its error has nobody to go to.
        let _ = match (relayed, &sink) {
            // A listen stream carries what it subscribed to; what a server
            // said while the gateway subscribed for it is not its to hear.
            (Relayed::Progress(_) | Relayed::Log(_), Some(_)) => Ok(()),
            (Relayed::Progress(p), _) => peer.notify_progress(p).await,
            (Relayed::Log(p), _) => peer.notify_logging_message(p).await,
            (Relayed::ResourceUpdated(p), Some(sink)) => {
                let update = rmcp::model::ResourceUpdatedNotification::new(p);
                let _ = sink.send(rmcp::model::ServerNotification::ResourceUpdatedNotification(update)).await;
                Ok(())
            }
            (Relayed::ResourceUpdated(p), None) => peer.notify_resource_updated(p).await,
        };
        progress.sent.fetch_add(1, Ordering::AcqRel);
        progress.changed.notify_waiters();
    }
}

/// How long a call to an MCP server may take: `idle` without its answer
/// or a progress notification about it (each one starts the wait again, as
/// the specification's `resetTimeoutOnProgress` describes), and `max` in
/// all, progress or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub idle: Duration,
    pub max: Duration,
}

impl CallLimits {
    /// These limits, ending at `deadline` at the latest.
    pub fn until(self, deadline: Instant) -> Self {
        let max = self.max.min(deadline.saturating_duration_since(Instant::now()));
        Self { idle: self.idle.min(max), max }
    }
}

/// A retried 2026-07-28 request's answers to an input-required result and
/// the server's opaque state, passed back to the server unchanged.
#[derive(Clone, Debug, Default)]
pub struct RoundTrip {
    pub input_responses: Option<InputResponses>,
    pub request_state: Option<String>,
}

/// One call, from the door to the upstream.
#[derive(Clone)]
pub struct CallContext {
    /// Who is calling: the user and the credential (with a key's scope).
    pub principal: Principal,
    /// The era the upstream is spoken to in for this call.
    pub era: Era,
    /// The MCP client to relay to; `None` for the REST door, the pages'
    /// "try it" and the platform's own calls, which cannot take part in a
    /// conversation (what the server says to them is dropped, and its
    /// requests are refused).
    pub client: Option<ClientLink>,
    /// The client's progress token, when it asked for progress. Never sent
    /// upstream: each upstream request carries a token of our own.
    pub progress_token: Option<ProgressToken>,
    /// Cancelled when the client cancels (or goes away).
    pub cancel: CancellationToken,
    /// Multi-round-trip state of a retried request (2026-07-28).
    pub round_trip: RoundTrip,
    /// What a 2026-07-28 client declared in its request's `_meta`
    /// (capabilities, log level): forwarded, so the server sees the client
    /// as it is, not the gateway.
    pub client_meta: Option<RequestMetaObject>,
    /// The latest the caller waits; the upstream's own time limit applies
    /// too, whichever comes first.
    pub deadline: Option<Instant>,
}

impl CallContext {
    /// A call without an MCP client: the REST door, "try it", and the
    /// platform's own calls. They speak the 2026-07-28 era: the era has no
    /// server-to-client requests, which such a caller could not answer, and
    /// an input-required result comes back as what it is.
    pub fn detached(principal: Principal) -> Self {
        Self {
            principal,
            era: Era::Stateless,
            client: None,
            progress_token: None,
            cancel: CancellationToken::new(),
            round_trip: RoundTrip::default(),
            client_meta: None,
            deadline: None,
        }
    }

    /// The user the call is for.
    pub fn user(&self) -> uuid::Uuid {
        self.principal.user.id
    }
}

#[cfg(test)]
mod tests {
    use rmcp::{ServerHandler, ServiceExt};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    use super::*;

    struct Quiet;
    impl ServerHandler for Quiet {}

    /// A server-side peer whose client completes the handshake over a small
    /// in-memory pipe and then reads only if `reads`.
    async fn client_peer(reads: bool) -> (Peer<RoleServer>, tokio::task::JoinHandle<()>) {
        let (server_end, client_end) = tokio::io::duplex(1024);
        let (server_read, server_write) = tokio::io::split(server_end);
        let serving = tokio::spawn(async move { Quiet.serve((server_read, server_write)).await.unwrap() });
        let (client_read, mut client_write) = tokio::io::split(client_end);
        let mut lines = BufReader::new(client_read).lines();
        let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
        client_write.write_all(format!("{init}\n").as_bytes()).await.unwrap();
        lines.next_line().await.unwrap().expect("the initialize answer");
        client_write.write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n").await.unwrap();
        let service = serving.await.unwrap();
        let peer = service.peer().clone();
        let reader = tokio::spawn(async move {
            let _keep = (service, client_write);
            if reads {
                while let Ok(Some(_)) = lines.next_line().await {}
            } else {
                std::future::pending::<()>().await;
            }
        });
        (peer, reader)
    }

    fn progress(i: u32) -> Relayed {
        Relayed::Progress(ProgressNotificationParam::new(
            ProgressToken(rmcp::model::NumberOrString::Number(1)),
            i as f64,
        ))
    }

    #[tokio::test]
    async fn a_client_that_does_not_read_never_blocks_the_relay() {
        let (slow, _slow_task) = client_peer(false).await;
        let (fast, _fast_task) = client_peer(true).await;
        let (slow, fast) = (Outbox::new(slow, None), Outbox::new(fast, None));
        // Thousands of notifications to a client that reads nothing: each
        // push returns at once; past the outbox's room they are dropped.
        let pushing = async {
            let mut kept = 0;
            for i in 0..5_000 {
                kept += usize::from(slow.push(progress(i)));
            }
            kept
        };
        let kept = tokio::time::timeout(Duration::from_secs(10), pushing).await.expect("a push waited on the client");
        assert!(kept < 5_000, "everything fit: the pipe was not full");
        assert!(!slow.flushed(Duration::from_millis(200)).await, "a client that reads nothing took it all?");
        // Another client, meanwhile, gets all of its own.
        for i in 0..100 {
            assert!(fast.push(progress(i)));
        }
        assert!(fast.flushed(Duration::from_secs(10)).await, "the reading client was held up");
    }
}

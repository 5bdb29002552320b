//! Relay: what an upstream MCP server says to the client *during* a call
//! (progress, log messages, sampling, elicitation and roots requests) and
//! the resource updates it sends to subscribers, carried back to the MCP
//! client that made the call.
//!
//! An upstream connection (a child process, a remote session) is shared by
//! every call routed to it, so each message must find its caller:
//!
//! - **Progress** is exact: every request we send upstream carries its own
//!   progress token (rmcp gives each one), and the relay maps it back to
//!   the client's request and the client's own token.
//! - **Requests** (sampling, elicitation, roots) that arrive on the HTTP
//!   response stream of one of our requests (Streamable HTTP upstreams
//!   mark this) go to that request's caller.
//! - **Everything else** (log messages, requests over stdio) has no
//!   association on the wire. It goes to the newest in-flight call *only
//!   when every call in flight on that connection belongs to the same
//!   user*; otherwise it is dropped (a request gets an error). One user
//!   never receives what another user's call caused.
//!
//! The caller of the current request travels in a task-local
//! ([`with_caller`]), set by the `/mcp` handler around the pipeline, so the
//! pipeline's signatures stay free of MCP session details.

// Sampling, roots, logging and resources/subscribe are deprecated by
// SEP-2577 (2026-07-28) but are how clients of the 2025-11-25 era work:
// the gateway carries them for those clients.
#![allow(deprecated)]

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use rmcp::{
    ErrorData, Peer, RoleClient, RoleServer,
    model::{
        ClientResult, CreateMessageRequest, CreateMessageRequestParams, CreateMessageResult, ElicitRequest,
        ElicitRequestParams, ElicitResult, ErrorCode, JsonRpcMessage, ListRootsRequest, ListRootsResult,
        LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken, RequestId,
        ResourceUpdatedNotificationParam, ServerNotification, ServerRequest,
    },
    service::{InboundStreamOrigin, OriginatingRequestId, RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};
use uuid::Uuid;

/// The MCP client on whose behalf the current request runs.
#[derive(Clone)]
pub struct Caller {
    pub user: Uuid,
    pub peer: Peer<RoleServer>,
    /// The client's request id: requests relayed to the client ride that
    /// request's response stream.
    pub request_id: RequestId,
    /// The client's legacy session id (`Mcp-Session-Id`), if any.
    pub session: Option<String>,
    /// Cancelled when the client cancels its request.
    pub cancel: tokio_util::sync::CancellationToken,
    /// The client's progress token, when it asked for progress.
    pub progress_token: Option<ProgressToken>,
    /// The client speaks 2026-07-28 or later: it gets input-required
    /// results rather than requests, and its upstream connection is one of
    /// that era.
    pub modern: bool,
    /// What a 2026-07-28 client declared in this request's `_meta`
    /// (capabilities, log level): forwarded, so the server sees the client
    /// as it is, not the gateway.
    pub meta: Option<rmcp::model::RequestMetaObject>,
    /// A retried request's answers to an input-required result, and the
    /// server's opaque state: passed back to the server unchanged.
    pub input_responses: Option<rmcp::model::InputResponses>,
    pub request_state: Option<String>,
    /// The URI the client itself uses for a resource it subscribes to
    /// (prefixed or not), set by the subscribe handler.
    pub public_uri: Option<String>,
}

tokio::task_local! {
    static CALLER: Caller;
}

/// Runs `f` with `caller` as the current request's caller.
pub async fn with_caller<F: Future>(caller: Caller, f: F) -> F::Output {
    CALLER.scope(caller, f).await
}

/// The current request's caller, if it came through `/mcp`.
pub fn current_caller() -> Option<Caller> {
    CALLER.try_with(Clone::clone).ok()
}

struct InFlight {
    id: u64,
    upstream_request: RequestId,
    upstream_token: ProgressToken,
    caller: Caller,
}

/// The relay state of one upstream connection.
#[derive(Default)]
pub struct Relay {
    /// Held while a request is sent and registered: a message about it
    /// (handled on another task, possibly before the sender has
    /// registered the call) waits for this before looking the call up.
    registering: tokio::sync::Mutex<()>,
    /// Relayed notifications received from the server (counted in arrival
    /// order by [`Sequenced`]) and handled (forwarded or dropped): a call's
    /// answer waits until those received before it are handled, so a
    /// client never gets a result before the last progress about it.
    received: AtomicU64,
    handled: AtomicU64,
    handled_changed: tokio::sync::Notify,
    next: AtomicU64,
    calls: Mutex<Vec<InFlight>>,
    /// Upstream resource URI -> the clients subscribed to it.
    subscribers: Mutex<HashMap<String, Vec<Caller>>>,
}

/// Removes an in-flight call from its relay when the call ends, however it ends.
pub struct InFlightGuard<'a> {
    relay: &'a Relay,
    id: u64,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.relay.calls.lock().expect("relay lock").retain(|c| c.id != self.id);
    }
}

/// Whether two callers are the same client connection: the same legacy
/// session. Session-less (2026-07-28) subscriptions live as long as their
/// `subscriptions/listen` stream and are never merged.
fn same_client(a: &Caller, b: &Caller) -> bool {
    a.user == b.user && a.session.is_some() && a.session == b.session
}

impl Relay {
    /// Hold this while sending a request and registering it with
    /// [`Relay::begin`]: what the server says about the request is looked
    /// up only after.
    pub async fn registering(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.registering.lock().await
    }

    /// Waits until every relayed notification received so far has been
    /// handled (at most `limit`: a stuck client must not hold the answer).
    pub async fn drained(&self, limit: std::time::Duration) {
        let target = self.received.load(Ordering::Acquire);
        let wait = async {
            loop {
                let changed = self.handled_changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if self.handled.load(Ordering::Acquire) >= target {
                    return;
                }
                changed.await;
            }
        };
        if tokio::time::timeout(limit, wait).await.is_err() {
            // A notification rmcp never handed to the handler (or a handler
            // that died) must not delay every later answer: catch up.
            tracing::debug!("relayed notifications not handled in time; not waiting for them");
            self.handled.fetch_max(target, Ordering::AcqRel);
        }
    }

    fn handled_one(&self) {
        self.handled.fetch_add(1, Ordering::AcqRel);
        self.handled_changed.notify_waiters();
    }

    /// Waits for a send in progress to be registered.
    async fn settled(&self) {
        drop(self.registering.lock().await);
    }

    /// Registers a call just sent upstream (its id and progress token).
    pub fn begin(
        &self,
        caller: Caller,
        upstream_request: RequestId,
        upstream_token: ProgressToken,
    ) -> InFlightGuard<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.calls.lock().expect("relay lock").push(InFlight { id, upstream_request, upstream_token, caller });
        InFlightGuard { relay: self, id }
    }

    fn by_token(&self, token: &ProgressToken) -> Option<Caller> {
        self.calls.lock().expect("relay lock").iter().find(|c| &c.upstream_token == token).map(|c| c.caller.clone())
    }

    /// The caller a message without a token is about: the request's own
    /// stream when known, else the newest call if all belong to one user.
    fn owner(&self, origin: Option<&InboundStreamOrigin>) -> Option<Caller> {
        let calls = self.calls.lock().expect("relay lock");
        if let Some(InboundStreamOrigin::OutboundRequest(id)) = origin {
            return calls.iter().find(|c| &c.upstream_request == id).map(|c| c.caller.clone());
        }
        let users: Vec<Uuid> = calls.iter().map(|c| c.caller.user).collect();
        newest_of_one_user(&users).map(|i| calls[i].caller.clone())
    }

    pub async fn progress(&self, params: ProgressNotificationParam) {
        self.settled().await;
        if let Some(caller) = self.by_token(&params.progress_token) {
            if let Some(token) = caller.progress_token.clone() {
                let mut params = params;
                params.progress_token = token;
                let _ = caller.peer.notify_progress(params).await;
            }
        }
        self.handled_one();
    }

    pub async fn log(&self, params: LoggingMessageNotificationParam) {
        self.settled().await;
        match self.owner(None) {
            Some(caller) => {
                let _ = caller.peer.notify_logging_message(params).await;
            }
            None => tracing::debug!("an upstream log message matched no single caller; dropped"),
        }
        self.handled_one();
    }

    async fn require_owner(&self, origin: Option<&InboundStreamOrigin>, what: &str) -> Result<Caller, ErrorData> {
        self.settled().await;
        self.owner(origin).ok_or_else(|| {
            ErrorData::new(
                ErrorCode::INTERNAL_ERROR,
                format!("the gateway cannot tell which client this {what} request is for"),
                None,
            )
        })
    }

    /// Sends a request to the caller's client on its request's stream.
    async fn ask(caller: &Caller, mut request: ServerRequest) -> Result<ClientResult, ErrorData> {
        use rmcp::model::GetExtensions;
        request.extensions_mut().insert(OriginatingRequestId(caller.request_id.clone()));
        caller.peer.send_request(request).await.map_err(|e| match e {
            rmcp::ServiceError::McpError(e) => e,
            other => ErrorData::new(ErrorCode::INTERNAL_ERROR, format!("the client did not answer: {other}"), None),
        })
    }

    pub async fn sampling(
        &self,
        params: CreateMessageRequestParams,
        origin: Option<&InboundStreamOrigin>,
    ) -> Result<CreateMessageResult, ErrorData> {
        let caller = self.require_owner(origin, "sampling").await?;
        let request = ServerRequest::CreateMessageRequest(CreateMessageRequest::new(params));
        match Self::ask(&caller, request).await? {
            ClientResult::CreateMessageResult(r) => Ok(*r),
            _ => Err(unexpected()),
        }
    }

    pub async fn elicitation(
        &self,
        params: ElicitRequestParams,
        origin: Option<&InboundStreamOrigin>,
    ) -> Result<ElicitResult, ErrorData> {
        let caller = self.require_owner(origin, "elicitation").await?;
        let request = ServerRequest::ElicitRequest(ElicitRequest::new(params));
        match Self::ask(&caller, request).await? {
            ClientResult::ElicitResult(r) => Ok(r),
            _ => Err(unexpected()),
        }
    }

    pub async fn roots(&self, origin: Option<&InboundStreamOrigin>) -> Result<ListRootsResult, ErrorData> {
        let caller = self.require_owner(origin, "roots").await?;
        let request = ServerRequest::ListRootsRequest(ListRootsRequest::default());
        match Self::ask(&caller, request).await? {
            ClientResult::ListRootsResult(r) => Ok(r),
            _ => Err(unexpected()),
        }
    }

    /// Records the caller's subscription to `uri`; true when it is the first
    /// (the upstream must be asked).
    pub fn subscribe(&self, uri: &str, caller: Caller) -> bool {
        let mut subs = self.subscribers.lock().expect("relay lock");
        let list = subs.entry(uri.to_string()).or_default();
        let first = list.is_empty();
        if !list.iter().any(|c| same_client(c, &caller)) {
            list.push(caller);
        }
        first
    }

    /// Removes the caller's subscription; true when none is left (the
    /// upstream can be told).
    pub fn unsubscribe(&self, uri: &str, caller: &Caller) -> bool {
        let mut subs = self.subscribers.lock().expect("relay lock");
        let Some(list) = subs.get_mut(uri) else { return false };
        list.retain(|c| !same_client(c, caller));
        let empty = list.is_empty();
        if empty {
            subs.remove(uri);
        }
        empty
    }

    /// An upstream resource changed: every subscribed client hears of it,
    /// under the URI it subscribed with. Closed clients are forgotten.
    pub async fn resource_updated(&self, params: ResourceUpdatedNotificationParam) {
        let subscribers = self.subscribers.lock().expect("relay lock").get(&params.uri).cloned().unwrap_or_default();
        for caller in subscribers {
            let uri = caller.public_uri.clone().unwrap_or_else(|| params.uri.clone());
            let mut update = params.clone();
            update.uri = uri;
            let sent = caller.peer.notify_resource_updated(update).await;
            if sent.is_err() {
                self.unsubscribe(&params.uri, &caller);
            }
        }
        self.handled_one();
    }
}

/// The index of the newest call when all calls in flight belong to one
/// user; `None` when there are none, or more than one user's.
fn newest_of_one_user(users: &[Uuid]) -> Option<usize> {
    let newest = *users.last()?;
    users.iter().all(|u| *u == newest).then(|| users.len() - 1)
}

/// A transport to an upstream that counts, in the order they arrive, the
/// notifications the relay handles (see [`Relay::drained`]). rmcp hands
/// each notification to its handler on a task of its own, so without this a
/// call's answer could overtake the last progress about it.
pub struct Sequenced<T> {
    inner: T,
    relay: Arc<Relay>,
}

impl<T> Sequenced<T> {
    pub fn new(inner: T, relay: Arc<Relay>) -> Self {
        Self { inner, relay }
    }
}

impl<T: Transport<RoleClient> + 'static> Transport<RoleClient> for Sequenced<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        async move {
            let message = self.inner.receive().await;
            // Those of a `subscriptions/listen` stream go to that stream,
            // not to the handler: not counted.
            if let Some(JsonRpcMessage::Notification(n)) = &message
                && rmcp::model::GetMeta::get_meta(&n.notification).subscription_id().is_none()
            {
                if matches!(
                    n.notification,
                    ServerNotification::ProgressNotification(_)
                        | ServerNotification::LoggingMessageNotification(_)
                        | ServerNotification::ResourceUpdatedNotification(_)
                ) {
                    self.relay.received.fetch_add(1, Ordering::AcqRel);
                }
            }
            message
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

fn unexpected() -> ErrorData {
    ErrorData::new(ErrorCode::INTERNAL_ERROR, "the client answered with an unexpected result", None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unassociated_messages_go_only_to_a_single_users_calls() {
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(newest_of_one_user(&[]), None);
        assert_eq!(newest_of_one_user(&[alice]), Some(0));
        assert_eq!(newest_of_one_user(&[alice, alice, alice]), Some(2));
        // Two users in flight on one connection: nobody gets it.
        assert_eq!(newest_of_one_user(&[alice, bob]), None);
        assert_eq!(newest_of_one_user(&[bob, alice, alice]), None);
    }
}

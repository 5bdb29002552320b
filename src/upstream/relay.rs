//! Relay: what an upstream MCP server says to a caller *during* a call
//! (progress, log messages, sampling, elicitation and roots requests), and
//! the resource updates it sends to subscribers, carried back to the MCP
//! client that made the call, and to nobody else.
//!
//! Every call that uses a connection is registered here while it runs,
//! from every front door (the REST door and "try it" too, without a client
//! to relay to) and the platform's own requests (catalog listings, health
//! checks). What the server says must then be tied to exactly one of
//! them:
//!
//! - **Progress** is exact: every request we send upstream carries a
//!   progress token of our own, mapped back to the caller's request and
//!   the caller's token (never forwarded upstream). Progress must increase,
//!   so one that does not (a resumed stream's replay, a late one) is
//!   dropped; each one restarts the call's idle limit.
//! - **Requests** (sampling, elicitation, roots) that arrive on the HTTP
//!   response stream of one of our requests (Streamable HTTP marks this)
//!   belong to that request.
//! - **Anything else** (log messages, requests over stdio) carries no
//!   association on the wire. It is relayed only on a connection that
//!   serves one installation (so one user) and only while exactly one call
//!   is in flight on it; otherwise it is dropped (logged at debug), and a
//!   request is refused. A shared process (see `LaunchSpec::shareable`)
//!   never relays such messages.
//!
//! A message tied to a call without a client (the REST door, "try it", the
//! platform's own) is dropped; a request is refused with a message saying
//! the caller cannot answer it. A request tied to a bridged call (a
//! 2026-07-28 client, see [`super::bridge`]) is handed to the call, which
//! puts it to the client as an input request.

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
    time::Duration,
};

use rmcp::{
    ErrorData, RoleClient,
    model::{
        ClientResult, CreateMessageRequest, CreateMessageRequestParams, CreateMessageResult, ElicitRequest,
        ElicitRequestParams, ElicitResult, ErrorCode, InputRequest, JsonRpcMessage, ListRootsRequest, ListRootsResult,
        LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken, RequestId,
        ResourceUpdatedNotificationParam, ServerNotification, ServerRequest,
    },
    service::{InboundStreamOrigin, OriginatingRequestId, RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};
use uuid::Uuid;

use super::{CallContext, ClientKey, ClientLink, context::Relayed};
use crate::identity::AuthMethod;

/// Where what a server says about a call goes: the client's link and its
/// progress token. A bridged call (see [`super::bridge`]) changes
/// recipient when its client comes back with the answers it asked for.
#[derive(Clone, Default)]
pub struct Recipient {
    /// `None`: the caller cannot take part (REST, "try it", the platform's
    /// own requests).
    pub link: Option<ClientLink>,
    pub progress_token: Option<ProgressToken>,
}

impl Recipient {
    pub fn of(ctx: &CallContext) -> Self {
        Self { link: ctx.client.clone(), progress_token: ctx.progress_token.clone() }
    }
}

/// A server's request to a client, to be asked of a client that speaks
/// 2026-07-28 as one of an input-required result's requests: what the
/// client answers goes back to [`Asked::answer`].
pub struct Asked {
    pub request: InputRequest,
    pub answer: tokio::sync::oneshot::Sender<Result<serde_json::Value, ErrorData>>,
}

/// Who a registered call is for.
#[derive(Clone)]
pub struct Caller {
    to: Arc<Mutex<Recipient>>,
    /// Set for a bridged call: the server's requests go here instead of
    /// to the client's session.
    bridge: Option<tokio::sync::mpsc::Sender<Asked>>,
}

impl Caller {
    pub fn of(ctx: &CallContext) -> Self {
        Self::new(Arc::new(Mutex::new(Recipient::of(ctx))), None)
    }

    pub fn new(to: Arc<Mutex<Recipient>>, bridge: Option<tokio::sync::mpsc::Sender<Asked>>) -> Self {
        Self { to, bridge }
    }

    pub fn recipient(&self) -> Recipient {
        self.to.lock().expect("recipient lock").clone()
    }
}

struct InFlight {
    id: u64,
    upstream_request: Option<RequestId>,
    upstream_token: Option<ProgressToken>,
    /// `None`: the platform's own request (a listing, a health check).
    caller: Option<Caller>,
    /// Told of each progress notification (which restarts the call's wait).
    activity: Arc<tokio::sync::Notify>,
    /// The last progress relayed: progress must increase, so a repeated or
    /// late one (a stream's replay) is dropped.
    last_progress: Option<f64>,
}

/// A client subscribed to a resource's updates (handshake era).
#[derive(Clone)]
pub struct Subscriber {
    pub user: Uuid,
    /// The credential it subscribed with: revoking it ends the subscription.
    pub method: AuthMethod,
    pub installation: Uuid,
    pub link: ClientLink,
    /// The URI the client used (prefixed or not): updates are sent under it.
    pub public_uri: String,
}

impl Subscriber {
    /// Whether two subscribers are the same client connection: the same
    /// user's same legacy session or listen stream.
    fn same_client(&self, other: &Subscriber) -> bool {
        self.user == other.user && self.link.key().is_some() && self.link.key() == other.link.key()
    }
}

/// The relay state of one upstream connection.
pub struct Relay {
    /// Every call on this connection is one installation's, so one user's.
    single_tenant: bool,
    /// Held while a request is sent and registered: a message about it
    /// (handled on another task, possibly before the sender has registered
    /// the call) waits for this before looking the call up.
    registering: tokio::sync::Mutex<()>,
    /// Relayed notifications received from the server (counted in arrival
    /// order by [`Sequenced`]) and handled (forwarded or dropped): a call's
    /// answer waits until those received before it are handled, so a client
    /// never gets a result before the last progress about it.
    received: AtomicU64,
    handled: AtomicU64,
    handled_changed: tokio::sync::Notify,
    next: AtomicU64,
    calls: Mutex<Vec<InFlight>>,
    /// Upstream resource URI -> the clients subscribed to it.
    subscribers: Mutex<HashMap<String, Vec<Subscriber>>>,
    /// Bridged calls waiting for their clients' answers.
    pub parking: super::bridge::Parking,
    /// A 2026-07-28 server's listen streams, one per subscribed URI.
    upstream_listens: Mutex<HashMap<String, AbortOnDrop>>,
}

/// A task that ends when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Removes an in-flight call from its relay when the call ends, however it ends.
pub struct InFlightGuard<'a> {
    relay: &'a Relay,
    id: u64,
    activity: Arc<tokio::sync::Notify>,
}

impl InFlightGuard<'_> {
    /// Notified at each progress notification about the call.
    pub fn activity(&self) -> &tokio::sync::Notify {
        &self.activity
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.relay.calls.lock().expect("relay lock").retain(|c| c.id != self.id);
    }
}

impl Relay {
    /// The relay of a connection that serves one installation
    /// (`single_tenant`) or several (a shared process).
    pub fn new(single_tenant: bool) -> Self {
        Self {
            single_tenant,
            registering: Default::default(),
            received: Default::default(),
            handled: Default::default(),
            handled_changed: Default::default(),
            next: Default::default(),
            calls: Default::default(),
            subscribers: Default::default(),
            parking: Default::default(),
            upstream_listens: Default::default(),
        }
    }

    /// Hold this while sending a request and registering it with
    /// [`Relay::begin`]: what the server says about the request is looked
    /// up only after.
    pub async fn registering(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.registering.lock().await
    }

    /// Registers a call just sent upstream (its id and progress token).
    pub fn begin(
        &self,
        caller: Caller,
        upstream_request: RequestId,
        upstream_token: ProgressToken,
    ) -> InFlightGuard<'_> {
        self.register(Some(caller), Some(upstream_request), Some(upstream_token))
    }

    /// Registers the platform's own use of the connection (listing a
    /// catalog, a health check) for as long as the guard lives: what the
    /// server says meanwhile is tied to no caller.
    pub fn begin_own(&self) -> InFlightGuard<'_> {
        self.register(None, None, None)
    }

    fn register(
        &self,
        caller: Option<Caller>,
        upstream_request: Option<RequestId>,
        upstream_token: Option<ProgressToken>,
    ) -> InFlightGuard<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(tokio::sync::Notify::new());
        let call =
            InFlight { id, upstream_request, upstream_token, caller, activity: activity.clone(), last_progress: None };
        self.calls.lock().expect("relay lock").push(call);
        InFlightGuard { relay: self, id, activity }
    }

    /// Calls in flight (the supervisor spares a busy process).
    pub fn in_flight(&self) -> usize {
        self.calls.lock().expect("relay lock").len()
    }

    /// Waits until every relayed notification received so far has been
    /// handled, that is queued in its client's [`super::context::Outbox`]
    /// (never sent: a client that does not read must not delay the others);
    /// at most `limit`, in case rmcp never hands one to the handler.
    pub async fn drained(&self, limit: Duration) {
        let target = self.received.load(Ordering::Acquire);
        if !super::context::reached(&self.handled, &self.handled_changed, target, limit).await {
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

    /// The caller of the call a progress notification is about, if the
    /// notification is news (its progress is past the last one relayed);
    /// either way the call hears of the activity.
    fn progressed(&self, params: &ProgressNotificationParam) -> Option<Caller> {
        let mut calls = self.calls.lock().expect("relay lock");
        let call = calls.iter_mut().find(|c| c.upstream_token.as_ref() == Some(&params.progress_token))?;
        call.activity.notify_one();
        if call.last_progress.is_some_and(|last| params.progress <= last) {
            tracing::debug!(progress = params.progress, "a repeated or late progress notification; dropped");
            return None;
        }
        call.last_progress = Some(params.progress);
        call.caller.clone()
    }

    /// The call a message without a progress token is about (see the
    /// module docs), if it can be told.
    fn owner(&self, origin: Option<&InboundStreamOrigin>) -> Option<Caller> {
        let calls = self.calls.lock().expect("relay lock");
        if let Some(InboundStreamOrigin::OutboundRequest(id)) = origin {
            return calls.iter().find(|c| c.upstream_request.as_ref() == Some(id)).and_then(|c| c.caller.clone());
        }
        sole_call(self.single_tenant, calls.len()).and_then(|i| calls[i].caller.clone())
    }

    pub async fn progress(&self, params: ProgressNotificationParam) {
        self.settled().await;
        let target = self.progressed(&params).map(|c| c.recipient());
        if let Some((link, token)) = target.and_then(|r| Some((r.link?, r.progress_token?))) {
            let mut params = params;
            params.progress_token = token;
            link.outbox.push(Relayed::Progress(params));
        }
        self.handled_one();
    }

    /// Relays a log message to the one call it belongs to; one that
    /// belongs to no call with a client is returned, for the installation's
    /// owner (on a connection of one installation: see
    /// `ClientSide::on_logging_message`), or dropped.
    pub async fn log(&self, params: LoggingMessageNotificationParam) -> Option<LoggingMessageNotificationParam> {
        self.settled().await;
        let unclaimed = match self.owner(None).and_then(|c| c.recipient().link) {
            Some(link) => {
                link.outbox.push(Relayed::Log(params));
                None
            }
            None if self.single_tenant => Some(params),
            None => {
                tracing::debug!("a shared process's log message belongs to no single call with a client; dropped");
                None
            }
        };
        self.handled_one();
        unclaimed
    }

    /// Asks the client of the call a server's request belongs to, and
    /// returns its answer: over the client's session (handshake era), or,
    /// for a bridged call, as an input request of the call's result.
    async fn ask_owner<T: serde::de::DeserializeOwned>(
        &self,
        origin: Option<&InboundStreamOrigin>,
        what: &str,
        request: InputRequest,
    ) -> Result<T, ErrorData> {
        self.settled().await;
        let refuse = |why: String| {
            tracing::debug!("{why}");
            ErrorData::new(ErrorCode::INVALID_REQUEST, why, None)
        };
        let caller = self
            .owner(origin)
            .ok_or_else(|| refuse(format!("the gateway cannot tell which call this {what} request belongs to")))?;
        let answer = match (&caller.bridge, caller.recipient().link) {
            (Some(bridge), _) => {
                let (answer, answered) = tokio::sync::oneshot::channel();
                let gone =
                    || ErrorData::new(ErrorCode::INTERNAL_ERROR, "the call ended before the client answered", None);
                bridge.send(Asked { request, answer }).await.map_err(|_| gone())?;
                answered.await.map_err(|_| gone())??
            }
            (None, Some(link)) => Self::ask(&link, server_request(request)).await?,
            (None, None) => {
                return Err(refuse(format!(
                    "the caller cannot answer a {what} request: it did not call over an MCP session (REST, or the dashboard)"
                )));
            }
        };
        serde_json::from_value(answer).map_err(|e| {
            ErrorData::new(ErrorCode::INVALID_PARAMS, format!("the client's answer to {what} is not valid: {e}"), None)
        })
    }

    /// Sends a request to a client over its session, on its request's
    /// stream; its result, as JSON.
    pub async fn ask(link: &ClientLink, mut request: ServerRequest) -> Result<serde_json::Value, ErrorData> {
        use rmcp::model::GetExtensions;
        request.extensions_mut().insert(OriginatingRequestId(link.request_id.clone()));
        let result = link.peer.send_request(request).await.map_err(|e| match e {
            rmcp::ServiceError::McpError(e) => e,
            other => ErrorData::new(ErrorCode::INTERNAL_ERROR, format!("the client did not answer: {other}"), None),
        })?;
        match result {
            ClientResult::CreateMessageResult(_) | ClientResult::ElicitResult(_) | ClientResult::ListRootsResult(_) => {
                serde_json::to_value(&result)
                    .map_err(|e| ErrorData::new(ErrorCode::INTERNAL_ERROR, format!("the client's answer: {e}"), None))
            }
            _ => Err(unexpected()),
        }
    }

    pub async fn sampling(
        &self,
        params: CreateMessageRequestParams,
        origin: Option<&InboundStreamOrigin>,
    ) -> Result<CreateMessageResult, ErrorData> {
        let request = InputRequest::CreateMessage(CreateMessageRequest::new(params));
        self.ask_owner(origin, "sampling", request).await
    }

    pub async fn elicitation(
        &self,
        params: ElicitRequestParams,
        origin: Option<&InboundStreamOrigin>,
    ) -> Result<ElicitResult, ErrorData> {
        self.ask_owner(origin, "elicitation", InputRequest::Elicitation(ElicitRequest::new(params))).await
    }

    pub async fn roots(&self, origin: Option<&InboundStreamOrigin>) -> Result<ListRootsResult, ErrorData> {
        self.ask_owner(origin, "roots", InputRequest::ListRoots(ListRootsRequest::default())).await
    }

    /// Records a subscription to `uri`; true when it is the first (the
    /// upstream must be asked).
    pub fn subscribe(&self, uri: &str, subscriber: Subscriber) -> bool {
        let mut subs = self.subscribers.lock().expect("relay lock");
        let list = subs.entry(uri.to_string()).or_default();
        let first = list.is_empty();
        if !list.iter().any(|s| s.same_client(&subscriber)) {
            list.push(subscriber);
        }
        first
    }

    /// Removes a client's subscription; true when none is left (the
    /// upstream can be told).
    pub fn unsubscribe(&self, uri: &str, user: Uuid, client: Option<&ClientKey>) -> bool {
        let mut subs = self.subscribers.lock().expect("relay lock");
        let Some(list) = subs.get_mut(uri) else { return false };
        list.retain(|s| !(s.user == user && client.is_some() && s.link.key().as_ref() == client));
        let empty = list.is_empty();
        if empty {
            subs.remove(uri);
            // A 2026-07-28 server's stream for this URI ends with it.
            self.upstream_listens.lock().expect("relay lock").remove(uri);
        }
        empty
    }

    /// Keeps a 2026-07-28 server's `subscriptions/listen` stream for one
    /// resource: its updates reach the subscribers like a legacy server's.
    /// The stream ends when the last subscriber leaves (or the relay goes).
    pub fn keep_upstream_listen(self: &Arc<Self>, uri: &str, mut subscription: rmcp::service::Subscription) {
        let relay = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            while let Ok(Some(notification)) = subscription.next().await {
                let Some(relay) = relay.upgrade() else { return };
                if let ServerNotification::ResourceUpdatedNotification(update) = notification {
                    relay.deliver_update(update.params);
                }
            }
        });
        let previous = self.upstream_listens.lock().expect("relay lock").insert(uri.to_string(), AbortOnDrop(task));
        drop(previous);
    }

    /// Ends every subscription the predicate matches (an uninstalled or
    /// disabled installation, a revoked credential).
    pub fn end_subscriptions(&self, matches: impl Fn(&Subscriber) -> bool) {
        let mut subs = self.subscribers.lock().expect("relay lock");
        for list in subs.values_mut() {
            list.retain(|s| !matches(s));
        }
        subs.retain(|_, list| !list.is_empty());
        // A 2026-07-28 server's streams for resources nobody follows now end.
        self.upstream_listens.lock().expect("relay lock").retain(|uri, _| subs.contains_key(uri));
    }

    /// How many subscriptions are live (diagnostics, tests).
    pub fn subscriptions(&self) -> usize {
        self.subscribers.lock().expect("relay lock").values().map(Vec::len).sum()
    }

    /// An upstream resource changed: every subscribed client hears of it,
    /// under the URI it subscribed with. Closed clients are forgotten.
    pub async fn resource_updated(&self, params: ResourceUpdatedNotificationParam) {
        self.deliver_update(params);
        self.handled_one();
    }

    fn deliver_update(&self, params: ResourceUpdatedNotificationParam) {
        let subscribers = self.subscribers.lock().expect("relay lock").get(&params.uri).cloned().unwrap_or_default();
        for subscriber in subscribers {
            let mut update = params.clone();
            update.uri = subscriber.public_uri.clone();
            if subscriber.link.listen.is_none() && subscriber.link.peer.is_transport_closed() {
                self.unsubscribe(&params.uri, subscriber.user, subscriber.link.key().as_ref());
            } else {
                subscriber.link.outbox.push(Relayed::ResourceUpdated(update));
            }
        }
    }
}

/// The index of the one call a message without an association is about:
/// there is exactly one call in flight, on a connection of one user.
fn sole_call(single_tenant: bool, in_flight: usize) -> Option<usize> {
    (single_tenant && in_flight == 1).then_some(0)
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
                && matches!(
                    n.notification,
                    ServerNotification::ProgressNotification(_)
                        | ServerNotification::LoggingMessageNotification(_)
                        | ServerNotification::ResourceUpdatedNotification(_)
                )
            {
                self.relay.received.fetch_add(1, Ordering::AcqRel);
            }
            message
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

/// An input request as the server-to-client request it stands for.
pub fn server_request(request: InputRequest) -> ServerRequest {
    match request {
        InputRequest::CreateMessage(r) => ServerRequest::CreateMessageRequest(r),
        InputRequest::Elicitation(r) => ServerRequest::ElicitRequest(r),
        InputRequest::ListRoots(r) => ServerRequest::ListRootsRequest(r),
        // rmcp may learn new kinds; a ping asks nothing of the client.
        _ => ServerRequest::PingRequest(Default::default()),
    }
}

fn unexpected() -> ErrorData {
    ErrorData::new(ErrorCode::INTERNAL_ERROR, "the client answered with an unexpected result", None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(token: i64, value: f64) -> ProgressNotificationParam {
        ProgressNotificationParam::new(ProgressToken(rmcp::model::NumberOrString::Number(token)), value)
    }

    #[tokio::test]
    async fn progress_is_relayed_once_and_in_order_and_restarts_the_wait() {
        let relay = Relay::new(true);
        let caller = Caller::new(Arc::new(Mutex::new(Recipient::default())), None);
        let token = ProgressToken(rmcp::model::NumberOrString::Number(7));
        let call = relay.begin(caller, RequestId::Number(1), token);
        let relayed: Vec<bool> =
            [1.0, 2.0, 1.0, 2.0, 4.0, 3.0, 5.0].iter().map(|v| relay.progressed(&progress(7, *v)).is_some()).collect();
        // A resumed stream's replay (1, 2) and a late 3 are dropped.
        assert_eq!(relayed, [true, true, false, false, true, false, true]);
        assert!(relay.progressed(&progress(8, 1.0)).is_none(), "another token belongs to no call");
        // Each one, relayed or not, told the call the server is at work.
        tokio::time::timeout(Duration::from_millis(100), call.activity().notified())
            .await
            .expect("progress restarts the call's wait");
    }

    #[test]
    fn unassociated_messages_need_one_call_of_one_installation() {
        assert_eq!(sole_call(true, 0), None, "after every call ended: dropped");
        assert_eq!(sole_call(true, 1), Some(0));
        assert_eq!(sole_call(true, 2), None, "two calls: which one cannot be told");
        assert_eq!(sole_call(false, 1), None, "a shared process never relays them");
    }
}

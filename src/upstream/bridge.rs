//! Era bridging: a call whose client and server speak different protocol
//! eras still gets every request the server makes of its client answered.
//!
//! - **A 2026-07-28 server and a handshake-era client** (2025-11-25): the
//!   server answers with an input-required result; each of its input
//!   requests is sent to the client over its session as the sampling,
//!   elicitation or roots request it stands for, and the request is retried
//!   with the client's answers and the server's `requestState`
//!   ([`answer_in_session`], driven by `peer::run_on_peer`).
//! - **A handshake-era server and a 2026-07-28 client**: the server sends
//!   its request in the middle of the call and waits for the answer, on a
//!   connection that must stay open. The call is driven by a task of its
//!   own; when the server asks, the client's request is answered with an
//!   input-required result carrying the server's requests and, as
//!   `requestState`, an unguessable handle of the waiting call (its
//!   [`Parking`] entry, bound to the user). The client's retry with that
//!   handle hands its answers to the waiting server requests and waits on
//!   for the call's end (or the server's next requests).
//!
//! The waiting call is a live request on one upstream connection in this
//! process: it cannot move to another instance, which is why the handle is
//! a reference rather than sealed state (sealing would protect nothing the
//! handle's randomness and the user check do not, and resume nothing
//! elsewhere). A call left waiting is cancelled upstream once its idle
//! limit passes without the client's answer; its handle then says so.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use rmcp::{
    ErrorData,
    model::{ErrorCode, InputRequests, InputRequiredResult, InputResponses, ServerResult},
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    CallContext, CallLimits, ClientLink, Era, Operation, Outcome, RoundTrip, UpstreamError,
    peer::{Connection, PeerFailure, one_request, request_of},
    relay::{Asked, Caller, Recipient, Relay, server_request},
};

/// How a bridged call's handle starts: a `requestState` that does not is
/// not the gateway's.
const HANDLE_PREFIX: &str = "omnimcp-bridge.";

/// Most requests a server may have waiting on one call at once.
const MAX_WAITING_ASKS: usize = 16;

/// Most calls of one upstream connection (one installation) that may wait
/// for their clients at once; past it the oldest is dropped (and cancelled
/// upstream), so clients that never come back cannot pile calls up.
const MAX_PARKED: usize = 64;

/// Whether a call is bridged from a 2026-07-28 client to a handshake-era
/// server: the client can retry (it came over `/mcp`), the server may ask it
/// things mid-call, and the method is one that may need input.
pub fn applies(ctx: &CallContext, connection: &Connection, op: &Operation) -> bool {
    let legacy_server = connection.peer().peer_info().is_some() && !super::peer::modern(connection);
    let may_ask =
        matches!(op, Operation::CallTool { .. } | Operation::ReadResource { .. } | Operation::GetPrompt { .. });
    ctx.era == Era::Stateless && ctx.client.is_some() && legacy_server && may_ask
}

/// The calls of one upstream connection that wait for their clients'
/// answers, by handle.
#[derive(Default)]
pub struct Parking {
    parked: Mutex<HashMap<String, Parked>>,
}

struct Parked {
    user: Uuid,
    /// What the call is (its method and name): a retry must be of the
    /// same request.
    what: String,
    call: Waiting,
    /// The server's requests put to the client, by input key.
    pending: Vec<(String, oneshot::Sender<Result<serde_json::Value, ErrorData>>)>,
    /// Past this the call is dropped (and cancelled upstream).
    expires: Instant,
}

impl Parking {
    fn park(&self, handle: String, parked: Parked) {
        let mut table = self.parked.lock().expect("parking lock");
        let now = Instant::now();
        table.retain(|_, p| p.expires > now);
        while table.len() >= MAX_PARKED {
            let oldest = table.iter().min_by_key(|(_, p)| p.expires).map(|(h, _)| h.clone());
            let Some(oldest) = oldest else { break };
            tracing::info!("too many bridged calls wait for their clients; the oldest is cancelled");
            table.remove(&oldest);
        }
        table.insert(handle, parked);
    }

    /// The call waiting under `handle`, if it is `user`'s retry of the same
    /// request and has not expired.
    fn take(&self, handle: &str, user: Uuid, what: &str) -> Option<Parked> {
        let mut table = self.parked.lock().expect("parking lock");
        let now = Instant::now();
        table.retain(|_, p| p.expires > now);
        match table.get(handle) {
            Some(p) if p.user == user && p.what == what => table.remove(handle),
            _ => None,
        }
    }

    /// How many calls wait for their clients (diagnostics, tests).
    pub fn len(&self) -> usize {
        self.parked.lock().expect("parking lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A bridged call in progress, held by whichever client request waits on
/// it. Dropping it (the client went away, or it expired while parked)
/// cancels the call upstream.
struct Waiting {
    handle: String,
    what: String,
    recipient: Arc<Mutex<Recipient>>,
    asks: mpsc::Receiver<Asked>,
    done: oneshot::Receiver<Result<ServerResult, PeerFailure>>,
    cancel: CancellationToken,
    idle: std::time::Duration,
    asked: u32,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Runs a bridged call (see [`applies`]): a new one, or the retry of one
/// that waits for the client's answers.
pub async fn run(
    connection: &Arc<Connection>,
    op: Operation,
    ctx: &CallContext,
    limits: CallLimits,
) -> Result<Outcome, PeerFailure> {
    let relay = connection.service().relay();
    if let Some(handle) = ctx.round_trip.request_state.as_deref().filter(|s| s.starts_with(HANDLE_PREFIX)) {
        let Some(parked) = relay.parking.take(handle, ctx.user(), &what(&op)) else {
            return Err(PeerFailure::Failed(UpstreamError::Rpc(ErrorData::new(
                ErrorCode::INVALID_PARAMS,
                "requestState names no call of this request waiting for input (it ended, it expired, or it is \
                 another request's): call again without it",
                None,
            ))));
        };
        // Progress from now on goes to this request.
        *parked.call.recipient.lock().expect("recipient lock") = Recipient::of(ctx);
        let responses = ctx.round_trip.input_responses.clone().unwrap_or_default();
        for (key, answer) in parked.pending {
            let response = responses.get(&key).cloned().ok_or_else(|| {
                ErrorData::new(
                    ErrorCode::INVALID_PARAMS,
                    format!("the client did not answer the request {key:?}"),
                    None,
                )
            });
            let _ = answer.send(response);
        }
        return wait(relay, parked.call, ctx).await;
    }
    let what = what(&op);
    let (ask, asks) = mpsc::channel(MAX_WAITING_ASKS);
    let (finish, done) = oneshot::channel();
    let recipient = Arc::new(Mutex::new(Recipient::of(ctx)));
    let caller = Caller::new(recipient.clone(), Some(ask));
    let cancel = CancellationToken::new();
    // The call outlives this client request: it is driven by a task that
    // holds the connection. A handshake-era server gets no 2026-era `_meta`.
    let request = request_of(op, &RoundTrip::default());
    let (connection, stop) = (connection.clone(), cancel.clone());
    tokio::spawn(async move {
        let _ = finish.send(one_request(&connection, request, None, caller, &stop, limits).await);
    });
    let handle = format!("{HANDLE_PREFIX}{}", Uuid::new_v4().simple());
    let call = Waiting { handle, what, recipient, asks, done, cancel, idle: limits.idle, asked: 0 };
    wait(relay, call, ctx).await
}

/// A request's method and name, which its retries repeat.
fn what(op: &Operation) -> String {
    match op {
        Operation::CallTool { tool, .. } => format!("tools/call {tool}"),
        Operation::ReadResource { uri } => format!("resources/read {uri}"),
        Operation::GetPrompt { name, .. } => format!("prompts/get {name}"),
        other => format!("{other:?}"),
    }
}

enum Event {
    Done(Result<ServerResult, PeerFailure>),
    Asked(Asked),
    Cancelled,
}

/// Waits for a bridged call's end, or for the server's next requests,
/// which are parked for the client's retry and answered as an
/// input-required result.
async fn wait(relay: &Relay, mut call: Waiting, ctx: &CallContext) -> Result<Outcome, PeerFailure> {
    let event = tokio::select! {
        done = &mut call.done => Event::Done(done.unwrap_or_else(|_| {
            Err(PeerFailure::Failed(UpstreamError::Unavailable("the call ended without an answer".into())))
        })),
        Some(asked) = call.asks.recv() => Event::Asked(asked),
        () = ctx.cancel.cancelled() => Event::Cancelled,
    };
    match event {
        Event::Done(answer) => answer.map(Outcome::Mcp),
        Event::Cancelled => Err(PeerFailure::Failed(UpstreamError::Cancelled)),
        Event::Asked(first) => {
            // Whatever else the server asked at the same moment goes in
            // the same result.
            let mut asked = vec![first];
            while let Ok(more) = call.asks.try_recv() {
                asked.push(more);
            }
            let mut requests = InputRequests::new();
            let mut pending = Vec::with_capacity(asked.len());
            for Asked { request, answer } in asked {
                call.asked += 1;
                let key = format!("request-{}", call.asked);
                requests.insert(key.clone(), request);
                pending.push((key, answer));
            }
            let handle = call.handle.clone();
            let expires = Instant::now() + call.idle;
            let what = call.what.clone();
            relay.parking.park(handle.clone(), Parked { user: ctx.user(), what, call, pending, expires });
            let required = InputRequiredResult::new(Some(requests), Some(handle));
            Ok(Outcome::Mcp(ServerResult::InputRequiredResult(required)))
        }
    }
}

/// Puts a 2026-07-28 server's input requests to a handshake-era client,
/// over its session, and returns what the retry carries: the answers, by
/// the server's keys, and the server's state.
pub async fn answer_in_session(link: &ClientLink, required: InputRequiredResult) -> Result<RoundTrip, ErrorData> {
    let mut responses = InputResponses::new();
    for (key, request) in required.input_requests.unwrap_or_default() {
        let answer = Relay::ask(link, server_request(request)).await?;
        responses.insert(key, answer);
    }
    Ok(RoundTrip { input_responses: Some(responses), request_state: required.request_state })
}

//! The developer-hosted callback server: the platform's side of a tool
//! call arrives here as signed HTTP.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /tools/{name}` | `{"arguments": {...}}` | `{"success": true, "result": <the handler's value>}` |
//! | `GET /resources?uri=URI` | none | `{"success": true, "result": {"contents": [{"uri", "mimeType", "text"}]}}` |
//! | `POST /prompts/{name}` | `{"arguments": {"k": "v"}}` | `{"success": true, "result": {"description"?, "messages": [...]}}` |
//! | `GET /health` | none | `{"status": "ok"}` |
//!
//! Every route, `/health` included, first checks the webhook secret, the
//! timestamp and the signature ([`crate::signature::verify`]); the platform
//! signs its health checks too, so a server that answers them healthy is
//! one whose secret the platform agrees with. A refused request answers
//! 401 `{"error": ...}` *without* a `success` field: the platform then
//! reports a misconfigured server (a gateway error), not a tool error the
//! model would try to fix.
//!
//! Failures of a verified call answer `{"success": false, "error":
//! "message"}` with a status saying whose fault it is: 400 a body that is
//! not `{"arguments": {...}}`, 404 an unknown name, 422 arguments that do
//! not fit the handler's type, 500 the handler's own error or panic.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Path, Query, Request, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::{
    Error, SecretSlot,
    definitions::{CallError, Definitions},
    signature::{self, SignedHeaders, SignedRequest},
};

/// What every handler needs: the definitions and how to check a request.
pub(crate) struct LocalState {
    pub defs: Arc<Definitions>,
    /// Read on every request, so a deploy in the same process that issues
    /// a new secret takes effect at once.
    pub secret: SecretSlot,
    pub replay_window: Duration,
    /// The request ids accepted within the window: each is accepted once.
    pub replays: signature::ReplayGuard,
    /// `true` only after `insecure_no_secret()`: requests are not checked.
    pub insecure: bool,
}

type Shared = Arc<LocalState>;

/// The largest request body read (the platform sends arguments, not files).
const MAX_BODY: usize = 2 * 1024 * 1024;

pub(crate) fn router(state: LocalState) -> Router {
    let state = Arc::new(state);
    Router::new()
        .route("/tools/{name}", post(call_tool))
        .route("/prompts/{name}", post(get_prompt))
        .route("/resources", get(read_resource))
        .route("/health", get(health))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticated))
        .with_state(state)
}

/// Every route: reads the body (within [`MAX_BODY`]), checks the request
/// against the signature, and only then hands it on.
async fn authenticated(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return failure(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than {MAX_BODY} bytes"));
    };
    if let Err(refused) = authenticate(&state, &parts.method, &parts.uri, &parts.headers, &body) {
        return *refused;
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// Refuses unsigned, wrongly signed or stale requests (with the 401
/// answer as the error).
fn authenticate(
    state: &LocalState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Box<Response>> {
    if state.insecure {
        return Ok(());
    }
    let secret = state.secret.read().expect("secret lock").clone();
    let Some(secret) = secret else {
        // Unreachable through the public API (serving refuses to start
        // without a secret), but never fail open.
        return Err(refuse("this server has no webhook secret configured".into()));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = SignedHeaders {
        secret: header(signature::SECRET_HEADER),
        timestamp: header(signature::TIMESTAMP_HEADER),
        request_id: header(signature::REQUEST_ID_HEADER),
        signature: header(signature::SIGNATURE_HEADER),
    };
    let path_and_query = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let request = SignedRequest { method: method.as_str(), path_and_query, body };
    let now = signature::unix_now();
    signature::verify_once(secret.expose(), signed, request, now, state.replay_window, &state.replays).map_err(
        |rejection| {
            // The rejection names what was wrong, never a secret value.
            tracing::warn!(reason = %rejection, "refused a callback request");
            refuse(rejection.to_string())
        },
    )
}

fn refuse(message: String) -> Box<Response> {
    Box::new((StatusCode::UNAUTHORIZED, Json(json!({ "error": message }))).into_response())
}

fn success(result: Value) -> Response {
    Json(json!({ "success": true, "result": result })).into_response()
}

fn failure(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "success": false, "error": message }))).into_response()
}

fn call_failure(error: CallError) -> Response {
    let status = match &error {
        CallError::Unknown(_) => StatusCode::NOT_FOUND,
        CallError::InvalidArguments(_) => StatusCode::UNPROCESSABLE_ENTITY,
        CallError::Failed(_) | CallError::Panicked => StatusCode::INTERNAL_SERVER_ERROR,
    };
    failure(status, error.message())
}

/// The `arguments` of a `{"arguments": {...}}` body; absent means `{}`.
fn arguments(body: &[u8]) -> Result<Value, Box<Response>> {
    let bad = |why: &str| {
        Box::new(failure(StatusCode::BAD_REQUEST, format!("the body must be {{\"arguments\": {{...}}}}: {why}")))
    };
    let value: Value = serde_json::from_slice(body).map_err(|e| bad(&format!("not JSON ({e})")))?;
    let Value::Object(mut object) = value else { return Err(bad("not a JSON object")) };
    match object.remove("arguments") {
        None | Some(Value::Null) => Ok(Value::Object(Default::default())),
        Some(args @ Value::Object(_)) => Ok(args),
        Some(_) => Err(bad("\"arguments\" is not an object")),
    }
}

async fn call_tool(State(state): State<Shared>, Path(name): Path<String>, body: Bytes) -> Response {
    let arguments = match arguments(&body) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    tracing::debug!(tool = %name, "tool call");
    match state.defs.call_tool(&name, arguments).await {
        Ok(result) => success(result),
        Err(e) => call_failure(e),
    }
}

async fn get_prompt(State(state): State<Shared>, Path(name): Path<String>, body: Bytes) -> Response {
    let arguments = match arguments(&body) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    match state.defs.get_prompt(&name, arguments).await {
        Ok(reply) => success(reply.to_json()),
        Err(e) => call_failure(e),
    }
}

#[derive(serde::Deserialize)]
struct ResourceQuery {
    uri: Option<String>,
}

async fn read_resource(State(state): State<Shared>, Query(query): Query<ResourceQuery>) -> Response {
    let Some(uri) = query.uri else {
        return failure(StatusCode::BAD_REQUEST, "the uri query parameter is missing".into());
    };
    match state.defs.read_resource(&uri).await {
        Ok((resource, text)) => success(Definitions::resource_contents(resource, text)),
        Err(e) => call_failure(e),
    }
}

async fn health() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// A callback server running in the background, from
/// [`crate::OmniMcp::bind_local`]. Dropping it stops the server.
#[must_use = "the server stops when this is dropped"]
pub struct LocalServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl LocalServer {
    pub(crate) async fn start(listener: TcpListener, app: Router) -> Result<Self, Error> {
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // A send or a dropped sender: either way, stop.
                    let _ = rx.await;
                })
                .await
        });
        Ok(LocalServer { addr, shutdown: Some(tx), task: Some(task) })
    }

    /// The address it listens on (with the real port when bound to `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{address}`: the callback URL to deploy when the platform
    /// runs on the same machine.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, lets calls in progress finish, and
    /// returns once the server has stopped.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => match task.await {
                Ok(result) => Ok(result?),
                Err(e) => Err(Error::Io(std::io::Error::other(e))),
            },
            None => Ok(()),
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl std::fmt::Debug for LocalServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

//! The HTTP server: one axum router for pages, `/api`, health probes and
//! static files, with request ids, tracing, the cross-site request guard
//! and security headers on every response (`browser`); and [`serve`], which runs it until a shutdown signal.

use std::{future::Future, sync::Arc, time::Duration};

use app::backend::SharedBackend;
use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware,
    response::IntoResponse,
    routing::get,
};
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{LeptosRoutes, ResponseOptions, file_and_error_handler_with_context, generate_route_list};
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};

use crate::{api, auth, browser, state::AppState, web::WebBackend};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState) -> Router {
    let backend: SharedBackend = Arc::new(WebBackend(state.clone()));
    let routes = generate_route_list(app::App);
    let leptos_options = state.leptos.clone();
    // Every rendered page: the backend for its server functions, and a
    // Content-Security-Policy naming the nonce leptos put on its scripts.
    let reload_port = std::env::var("LEPTOS_WATCH").is_ok().then_some(leptos_options.reload_port);
    let page_context = move || {
        provide_context(backend.clone());
        if let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<ResponseOptions>())
            && let Ok(csp) = HeaderValue::from_str(&browser::page_csp(&nonce, reload_port))
        {
            response.insert_header(header::CONTENT_SECURITY_POLICY, csp);
        }
    };

    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .nest("/api", api::router())
        .merge(crate::oauth::router())
        .route_service(
            "/mcp",
            tower::ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(state.clone(), crate::mcp::guard::guard))
                .service(state.mcp.service(
                    state.gateway.clone(),
                    state.config.allowed_hosts(state.leptos.site_addr),
                    state.config.allowed_origins(state.leptos.site_addr),
                )),
        )
        .route(
            "/mcp/call",
            axum::routing::post(crate::mcp::rest::call).layer(axum::extract::DefaultBodyLimit::max(api::BODY_LIMIT)),
        )
        .route(
            "/mcp/resource",
            axum::routing::post(crate::mcp::rest::resource)
                .layer(axum::extract::DefaultBodyLimit::max(api::BODY_LIMIT)),
        )
        .leptos_routes_with_context(&state, routes, page_context.clone(), move || app::shell(leptos_options.clone()))
        .fallback(file_and_error_handler_with_context::<AppState, _>(page_context, app::shell))
        .layer(middleware::from_fn(server_fn_status))
        .layer(middleware::from_fn(crate::oauth::cors))
        .layer(middleware::from_fn_with_state(state.clone(), consent_csp))
        .layer(middleware::from_fn_with_state(state.clone(), auth::renew_session))
        .layer(middleware::from_fn_with_state(state.clone(), crate::serve::bounded_body))
        .layer(middleware::from_fn_with_state(state.clone(), browser::refuse_cross_site))
        .layer(middleware::from_fn_with_state(state.clone(), browser::headers))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .extensions()
                        .get::<RequestId>()
                        .and_then(|id| id.header_value().to_str().ok())
                        .unwrap_or("-");
                    // The path only: query strings may carry tokens.
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                // One line per response (status, latency) at info level.
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// A server function's error carries the status the REST API would answer
/// with (`FormError::status`); leptos answers every error with a 500, so
/// this sets it. A browser's `fetch` reads any 4xx or 5xx as the error.
async fn server_fn_status(request: Request, next: middleware::Next) -> axum::response::Response {
    if !request.uri().path().starts_with("/_fn/") {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return axum::response::Response::from_parts(parts, axum::body::Body::empty());
    };
    let status = serde_json::from_slice::<app::model::FormError>(&bytes)
        .ok()
        .and_then(|e| e.status)
        .and_then(|s| StatusCode::from_u16(s).ok());
    if let Some(status) = status {
        parts.status = status;
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The consent page's form is answered by a redirect to the client, and
/// the page shows the client's logo: its CSP allows both (see `oauth::flow`).
async fn consent_csp(
    State(state): State<AppState>,
    request: Request,
    next: middleware::Next,
) -> axum::response::Response {
    let sources = (request.uri().path() == "/oauth/consent" && request.method() == http::Method::GET)
        .then(|| request.uri().query().and_then(|q| crate::oauth::flow::consent_csp_sources(&state, q)))
        .flatten();
    let mut response = next.run(request).await;
    if let Some((target, logo)) = sources
        && let Some(csp) = response.headers().get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok())
    {
        let mut widened = csp.replace("form-action 'self'", &format!("form-action 'self' {target}"));
        if let Some(logo) = logo {
            widened = widened.replace("img-src 'self' data:", &format!("img-src 'self' data: {logo}"));
        }
        if let Ok(widened) = HeaderValue::from_str(&widened) {
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, widened);
        }
    }
    response
}

/// Liveness: the process answers.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers within two seconds.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, Json(json!({ "status": "ready", "database": state.db.engine() }))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "database": "error" })))
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "database": "timeout" }))),
    }
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish
/// within the shutdown deadline, and flushes the request log.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = router(state.clone());
    let health = crate::health::spawn(state.clone(), Duration::from_secs(state.config.health_interval_secs.max(1)));
    let refresher = crate::oauth::providers::spawn_refresher(
        state.clone(),
        Duration::from_secs(state.config.connect_refresh_secs.max(1)),
    );
    crate::serve::run(listener, app, crate::serve::Limits::from_config(&state.config), shutdown).await?;
    health.abort();
    refresher.abort();
    // Every completed call's log row is written before the pool closes.
    state.gateway.request_log.close().await;
    state.gateway.upstreams.processes.stop_all().await;
    state.db.close().await;
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

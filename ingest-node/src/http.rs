//! The HTTP server: admin API, health, metrics, the built-in HLS edge and the web page, on one
//! listener.

mod api;
pub mod cache;
pub mod clips;
pub mod edge;
mod openapi;
pub mod origin;
pub mod server;
pub mod www;

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, patch, post};
use axum::Router;
use tokio::net::TcpListener;
use tracing::warn;

use crate::app::App;
use crate::refusals::Cause;
use crate::slots::Slots;

/// Largest request body the API reads (a publish-token request is a few hundred bytes).
pub const MAX_API_BODY: usize = 16 << 10;
/// A request body must have arrived this soon after its head.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the node's routes over HTTP (HTTP/1.1 and h2c), or HTTPS with `tls`, within `slots`,
/// until shutdown.
pub async fn serve_node_http(
    app: Arc<App>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    slots: Arc<Slots>,
) {
    let (shutdown, metrics) = (app.shutdown.subscribe(), app.metrics.clone());
    server::accept_http(listener, tls, router(app.clone()), slots, metrics, shutdown).await;
}

/// All routes.
pub fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/publish", post(api::publish))
        .route("/api/v1/streams", get(api::list_streams))
        .route("/api/v1/streams/{key}", get(api::stream_status))
        .route("/api/v1/streams/{key}/recordings", get(api::recordings))
        .route("/api/v1/streams/{key}/stop", post(api::stop_stream))
        .route("/api/v1/streams/{key}/revoke", post(api::revoke_stream))
        .route("/api/v1/streams/{key}/outputs", get(api::list_outputs).post(api::add_output))
        .route("/api/v1/streams/{key}/outputs/{id}", patch(api::patch_output).delete(api::delete_output))
        .route("/api/v1/signing-keys", get(api::list_signing_keys).post(api::add_signing_key))
        .route("/api/v1/signing-keys/{kid}", axum::routing::delete(api::delete_signing_key))
        .route("/api/v1/streams/{key}/playback", axum::routing::put(api::set_playback))
        .route("/api/v1/streams/{key}/playback-token", post(api::playback_token))
        .route("/api/v1/drain", post(api::drain).get(api::drain_status))
        .route("/api/v1/webhooks", get(api::list_webhooks).post(api::add_webhook))
        .route("/api/v1/webhooks/{id}", delete(api::delete_webhook))
        .layer(middleware::from_fn_with_state(app.clone(), api_guard));
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .merge(api)
        .route("/live/{*path}", any(edge::playback::<App>))
        .fallback(www::page)
        .with_state(app)
}

/// The API's door: the admin key is checked before any byte of the body is read, then the body
/// is read within [`MAX_API_BODY`] and [`BODY_TIMEOUT`].
async fn api_guard(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else if let Some(refused) = api::unauthorized(&app, request.headers()) {
        if let Some(count) = app.metrics.refusals.note(Cause::AdminAuth) {
            warn!(%peer, count, "admin API: missing or wrong key");
        }
        refused
    } else {
        match read_body(&app, request).await {
            Ok(request) => next.run(request).await,
            Err(refused) => refused,
        }
    };
    cors(&mut response);
    response
}

/// The request with its body read in full, or the error response: 413 over [`MAX_API_BODY`],
/// 408 after [`BODY_TIMEOUT`].
async fn read_body(app: &App, request: Request) -> Result<Request, Response> {
    let too_large =
        || api::error(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {MAX_API_BODY} bytes"));
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    if declared.and_then(|v| v.parse::<u64>().ok()).is_some_and(|n| n > MAX_API_BODY as u64) {
        return Err(too_large());
    }
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_API_BODY)).await {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Ok(Err(e)) if is_length_limit(&e) => Err(too_large()),
        Ok(Err(_)) => Err(api::error(StatusCode::BAD_REQUEST, "the request body did not arrive whole")),
        Err(_) => {
            if let Some(count) = app.metrics.refusals.note(Cause::HttpBodyTimeout) {
                warn!(count, "admin API: a request body did not arrive within {BODY_TIMEOUT:?}");
            }
            Err(api::error(
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {BODY_TIMEOUT:?}"),
            ))
        }
    }
}

/// Whether reading a body failed on [`MAX_API_BODY`] (and not on the connection).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// CORS for the API, so a copy of the web page on another origin can list streams: the key is
/// a bearer token sent by the page's script, never a cookie, so any origin may be allowed.
fn cors(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, Content-Type"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    if !app.listening.load(Relaxed) || app.shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "not listening\n").into_response();
    }
    if app.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining: no new publishes\n").into_response();
    }
    store_ready(&app.store).await
}

/// `/ready` of a node that needs its store: 200, or 503 saying in words what failed (the
/// store's own error text goes to the log, not to whoever asks).
pub async fn store_ready(store: &crate::store::Store) -> Response {
    match store.check().await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => {
            tracing::debug!("not ready: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n").into_response()
        }
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], app.metrics.render()).into_response()
}

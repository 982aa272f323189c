//! The HTTP server: admin API, health, metrics, the built-in HLS edge and the web page, on one
//! listener.

mod api;
pub mod edge;
mod openapi;
pub mod origin;
mod tls;
pub mod www;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::app::App;

/// Checks the TLS settings before the node starts: a bad certificate is an error at start.
pub fn tls_acceptor(app: &App) -> anyhow::Result<Option<tokio_rustls::TlsAcceptor>> {
    app.settings.tls.as_ref().map(|(cert, key)| tls::acceptor(cert, key)).transpose()
}

/// Serves HTTP (HTTP/1.1 and h2c), or HTTPS with `tls`, until shutdown.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    let mut shutdown = app.shutdown.subscribe();
    let router = router(app);
    if let Some(acceptor) = tls {
        tls::serve(listener, acceptor, router, shutdown).await;
        return Ok(());
    }
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
        .await
}

/// All routes.
pub fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/publish", post(api::publish))
        .route("/api/v1/streams", get(api::list_streams))
        .route("/api/v1/streams/{key}", get(api::stream_status))
        .route("/api/v1/streams/{key}/stop", post(api::stop_stream))
        .route("/api/v1/streams/{key}/revoke", post(api::revoke_stream))
        .route("/api/v1/drain", post(api::drain).get(api::drain_status))
        .layer(middleware::from_fn(api_cors));
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .merge(api)
        .route("/live/{*path}", any(edge::serve::<App>))
        .fallback(www::serve)
        .with_state(app)
}

/// CORS for the API, so a copy of the web page on another origin can list streams: the key is
/// a bearer token sent by the page's script, never a cookie, so any origin may be allowed.
async fn api_cors(request: Request, next: Next) -> Response {
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, Content-Type"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    response
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    if !app.listening.load(Relaxed) || app.shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "not listening\n").into_response();
    }
    if app.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining: no new publishes\n").into_response();
    }
    match app.store.check().await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("store unreachable: {e}\n")).into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], app.metrics.render()).into_response()
}

//! The HTTP server: admin API, health, metrics and the built-in HLS edge, on one listener.

mod api;
pub mod edge;
mod openapi;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::app::App;

/// Serves HTTP until shutdown.
pub async fn serve(app: Arc<App>, listener: TcpListener) -> std::io::Result<()> {
    let mut shutdown = app.shutdown.subscribe();
    let router = router(app);
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
        .await
}

/// All routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/publish", post(api::publish))
        .route("/api/v1/streams", get(api::list_streams))
        .route("/api/v1/streams/{key}", get(api::stream_status))
        .route("/api/v1/streams/{key}/stop", post(api::stop_stream))
        .route("/live/{*path}", any(edge::serve::<App>))
        .with_state(app)
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    if !app.listening.load(Relaxed) || app.shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "not listening\n").into_response();
    }
    match app.store.check().await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("store unreachable: {e}\n")).into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], app.metrics.render()).into_response()
}

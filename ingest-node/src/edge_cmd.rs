//! `rapidrtmp edge`: the HLS edge alone, stateless, over any store (an S3 bucket, or an ingest
//! node's data folder), for deployments behind any CDN.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use clap::Args;
use tokio::net::TcpListener;
use tracing::info;

use crate::config::StoreSetting;
use crate::http::edge::{self, EdgeHost};
use crate::http::origin::Origin;
use crate::metrics::Metrics;
use crate::store::Store;

/// Flags of `rapidrtmp edge`.
#[derive(Args, Debug, Clone)]
pub struct EdgeArgs {
    /// Object store to serve from: `s3://bucket/prefix`, or a folder (an ingest node's data dir).
    #[arg(long, env = "RAPIDRTMP_STORE")]
    pub store: String,
    /// HTTP listen address.
    #[arg(long, env = "RAPIDRTMP_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,
    /// S3 endpoint URL for non-AWS services (R2, GCS, MinIO, s3s-fs) [default: AWS].
    #[arg(long, env = "RAPIDRTMP_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region [default: AWS_REGION, else us-east-1].
    #[arg(long, env = "RAPIDRTMP_S3_REGION")]
    pub s3_region: Option<String>,
    /// Path-style S3 URLs.
    #[arg(long, env = "RAPIDRTMP_S3_PATH_STYLE", default_value_t = false)]
    pub s3_path_style: bool,
    /// Log format: `text` or `json`.
    #[arg(long, env = "RAPIDRTMP_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// The ingest node's HTTP address (`http://host:port`), the origin of the live edge: its
    /// Low-Latency playlists, blocking requests and the parts of open segments are asked of it;
    /// without it, standard HLS from the store.
    #[arg(long, env = "RAPIDRTMP_ORIGIN")]
    pub origin: Option<String>,
}

struct EdgeNode {
    store: Store,
    metrics: Metrics,
    origin: Option<Origin>,
}

impl EdgeHost for EdgeNode {
    fn store(&self) -> &Store {
        &self.store
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }
}

async fn ready(State(node): State<Arc<EdgeNode>>) -> Response {
    match node.store.check().await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("store unreachable: {e}\n")).into_response(),
    }
}

async fn metrics(State(node): State<Arc<EdgeNode>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], node.metrics.render()).into_response()
}

/// Runs the edge until SIGINT or SIGTERM.
pub async fn run(args: EdgeArgs) -> anyhow::Result<()> {
    let json = match args.log_format.as_str() {
        "text" => false,
        "json" => true,
        other => anyhow::bail!("--log-format {other}: expected text or json"),
    };
    crate::serve::init_logging(json);
    let setting = if args.store.starts_with("s3://") {
        StoreSetting::S3(args.store.clone())
    } else {
        StoreSetting::Folder(args.store.clone().into())
    };
    let origin = args.origin.as_deref().map(Origin::new).transpose()?;
    let store = crate::store::open(&setting, args.s3_endpoint, args.s3_region, args.s3_path_style).await?;
    let listener =
        TcpListener::bind(args.http_addr).await.with_context(|| format!("cannot listen on {}", args.http_addr))?;
    let live = origin.as_ref().map_or("none (standard HLS)", |o| o.describe()).to_string();
    info!(http = %listener.local_addr()?, store = %store.describe(), origin = %live, "RapidRTMP edge listening");
    let node = Arc::new(EdgeNode { store, metrics: Metrics::default(), origin });
    let router = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/live/{*path}", any(edge::serve::<EdgeNode>))
        .fallback(crate::http::www::serve)
        .with_state(node);
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(crate::serve::shutdown_signal())
        .await?;
    Ok(())
}

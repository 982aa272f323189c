//! `rapidrtmp edge`: the HLS edge alone, stateless, over any store (an S3 bucket, or an ingest
//! node's data folder), for deployments behind any CDN.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use clap::Args;
use tokio::net::TcpListener;
use tracing::info;

use crate::config::StoreSetting;
use crate::http::cache::EdgeCache;
use crate::http::clips::Clips;
use crate::http::edge::{self, EdgeHost};
use crate::http::origin::Origin;
use crate::http::server;
use crate::metrics::Metrics;
use crate::slots::Slots;
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
    /// Most simultaneous HTTP connections [default: what the open-file limit leaves, at most
    /// 4096].
    #[arg(long, env = "RAPIDRTMP_MAX_HTTP_CONNECTIONS")]
    pub max_http_connections: Option<usize>,
    /// Most simultaneous HTTP connections from one IP address (an IPv6 /64) [default: a quarter
    /// of `--max-http-connections`, at most 1024].
    #[arg(long, env = "RAPIDRTMP_MAX_HTTP_CONNECTIONS_PER_IP")]
    pub max_http_connections_per_ip: Option<usize>,
    /// Size of the cache of built answers, in MiB (segments, parts, init segments; playlists
    /// for their `max-age`); `0` keeps nothing (concurrent requests still share one build).
    #[arg(long, env = "RAPIDRTMP_CACHE_MB", default_value_t = crate::http::cache::DEFAULT_CACHE_MB)]
    pub cache_mb: u64,
    /// Memory the clips being built and sent may hold between them, in MiB (1 to 65536): their
    /// stored chunks. A clip larger than it is refused (400); one that does not fit beside the
    /// clips being sent gets a 503 with `Retry-After`.
    #[arg(long, env = "RAPIDRTMP_CLIP_MEMORY_MB", default_value_t = crate::http::clips::DEFAULT_CLIP_MEMORY_MB)]
    pub clip_memory_mb: u64,
    /// Longest clip (`/live/{stream}/clip.mp4`), in seconds (1 to 86400).
    #[arg(long, env = "RAPIDRTMP_MAX_CLIP", default_value_t = rapidrtmp_core::clip::DEFAULT_MAX_CLIP / 1000)]
    pub max_clip: u64,
}

/// How long shutdown lets open requests finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

struct EdgeNode {
    store: Store,
    metrics: Arc<Metrics>,
    origin: Option<Origin>,
    cache: EdgeCache,
    clips: Clips,
    max_clip_ms: u64,
    playback: crate::playback::PolicyCache,
}

impl EdgeHost for EdgeNode {
    fn store(&self) -> &Store {
        &self.store
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn cache(&self) -> &EdgeCache {
        &self.cache
    }

    fn clips(&self) -> &Clips {
        &self.clips
    }

    fn playback(&self) -> &crate::playback::PolicyCache {
        &self.playback
    }

    fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    fn max_clip_ms(&self) -> u64 {
        self.max_clip_ms
    }
}

async fn ready(State(node): State<Arc<EdgeNode>>) -> Response {
    crate::http::store_ready(&node.store).await
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
    let nofile = crate::serve::open_file_limit();
    let setting = if args.store.starts_with("s3://") {
        StoreSetting::S3(args.store.clone())
    } else {
        StoreSetting::Folder(args.store.clone().into())
    };
    let origin = args.origin.as_deref().map(Origin::new).transpose()?;
    let cache_bytes = crate::config::cache_bytes(args.cache_mb)?;
    let max_clip_ms = crate::config::max_clip_ms(args.max_clip)?;
    let clips = Clips::new(crate::config::clip_memory_bytes(args.clip_memory_mb)?);
    let store = crate::store::open(&setting, args.s3_endpoint, args.s3_region, args.s3_path_style).await?;
    let listener =
        TcpListener::bind(args.http_addr).await.with_context(|| format!("cannot listen on {}", args.http_addr))?;
    let live = origin.as_ref().map_or("none (standard HLS)", |o| o.describe()).to_string();
    info!(http = %listener.local_addr()?, store = %store.describe(), origin = %live, "RapidRTMP edge listening");
    let node = Arc::new(EdgeNode {
        store,
        metrics: Arc::default(),
        origin,
        cache: EdgeCache::new(cache_bytes),
        clips,
        max_clip_ms,
        playback: Default::default(),
    });
    info!(cache_mib = node.cache.capacity() >> 20, "cache of built answers");
    let router = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/live/{*path}", any(edge::playback::<EdgeNode>))
        .fallback(crate::http::www::page)
        .with_state(node.clone());
    let max = args.max_http_connections.unwrap_or_else(|| crate::fd_limit::http_connection_cap(nofile, 0)).max(1);
    let per_ip = args.max_http_connections_per_ip.unwrap_or_else(|| crate::config::http_per_ip_cap(max));
    info!(max_http_connections = max, per_ip, "HTTP connection caps");
    let slots = Slots::new(max, per_ip, node.metrics.http_connections.clone());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(server::accept_http(listener, None, router, slots, node.metrics.clone(), shutdown));
    crate::serve::shutdown_signal().await;
    stop.send_replace(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, server).await;
    Ok(())
}

//! The node's composition: each part's handles made once, and what only the HTTP side uses
//! (the admin key, recent viewers, drain and readiness flags).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::clock::now_ms;
use crate::config::Settings;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::publish::writer::{StreamWriters, WriterHandles};
use crate::restream::Restreamer;
use crate::store::Store;
use crate::streams::{LiveStream, LiveStreams};
use crate::tokens::TokenSigner;

/// Viewers counted as recent if they fetched a playlist within this time.
pub const VIEWER_WINDOW_MS: u64 = 30_000;
/// Most distinct viewers tracked per stream.
const MAX_TRACKED_VIEWERS: usize = 10_000;

/// A name for this run of the node: the host name (when it is a valid name) and 8 random hex
/// digits.
fn node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    let host = if !host.is_empty()
        && host.len() <= 64
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        host
    } else {
        "node"
    };
    let mut r = [0u8; 4];
    let _ = getrandom::fill(&mut r);
    format!("{host}-{:08x}", u32::from_be_bytes(r))
}

/// The node: the handles of its parts, and the HTTP side's own state.
pub struct App {
    /// Settings.
    pub settings: Arc<Settings>,
    /// Object store.
    pub store: Store,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Publish token signer.
    pub signer: TokenSigner,
    /// The admin API key.
    pub admin_key: String,
    /// The edge's cache of built answers, and its builds in flight.
    pub edge_cache: crate::http::cache::EdgeCache,
    /// The edge's clips being built and sent.
    pub clips: crate::http::clips::Clips,
    /// The store's playback policy, as the edge applies it.
    pub playback: crate::playback::PolicyCache,
    /// Streams being published, by key.
    pub streams: Arc<LiveStreams>,
    /// Recent playlist viewers by stream.
    viewers: Mutex<HashMap<String, HashMap<IpAddr, u64>>>,
    /// Set when shutdown begins.
    pub shutdown: watch::Sender<bool>,
    /// The writers of the streams this node owns.
    pub writers: Arc<StreamWriters>,
    /// Where stream events are emitted.
    pub lifecycle: Lifecycle,
    /// Listeners are up.
    pub listening: AtomicBool,
    /// Set by `POST /api/v1/drain` (Kubernetes' `preStop`): new publishes are refused, `/ready`
    /// fails, streams already live go on.
    pub draining: Arc<AtomicBool>,
    next_connection: AtomicU64,
}

impl App {
    /// The shared state.
    pub fn new(settings: Settings, store: Store, admin_key: String) -> Arc<Self> {
        let settings = Arc::new(settings);
        let metrics = Arc::<Metrics>::default();
        let streams = Arc::<LiveStreams>::default();
        let lifecycle = Lifecycle::new(metrics.clone());
        let shutdown = watch::channel(false).0;
        let restream = Restreamer::new(&settings.restream, store.clone(), lifecycle.clone(), metrics.clone());
        let writers = StreamWriters::new(WriterHandles {
            store: store.clone(),
            settings: settings.clone(),
            metrics: metrics.clone(),
            // Host name and a random part, new at every start.
            node_id: node_id(),
            streams: streams.clone(),
            lifecycle: lifecycle.clone(),
            shutdown: shutdown.subscribe(),
            restream,
        });
        Arc::new(Self {
            edge_cache: crate::http::cache::EdgeCache::new(settings.cache_bytes),
            clips: crate::http::clips::Clips::new(settings.clip_memory_bytes),
            playback: crate::playback::PolicyCache::default(),
            signer: TokenSigner::from_admin_key(&admin_key),
            settings,
            store,
            metrics,
            admin_key,
            streams,
            viewers: Mutex::default(),
            shutdown,
            writers,
            lifecycle,
            listening: AtomicBool::new(false),
            draining: Arc::new(AtomicBool::new(false)),
            next_connection: AtomicU64::new(1),
        })
    }

    /// A fresh connection id.
    pub fn connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Relaxed)
    }

    /// The live stream under `key`, if any.
    pub fn live(&self, key: &str) -> Option<Arc<LiveStream>> {
        self.streams.live(key)
    }

    /// Records a playlist request from `ip`.
    pub fn saw_viewer(&self, stream: &str, ip: IpAddr) {
        let now = now_ms();
        let mut all = self.viewers.lock().unwrap_or_else(|e| e.into_inner());
        let Some(v) = all.get_mut(stream) else {
            if all.len() < MAX_TRACKED_VIEWERS {
                all.insert(stream.into(), HashMap::from([(ip, now)]));
            }
            return;
        };
        if v.len() >= MAX_TRACKED_VIEWERS {
            v.retain(|_, t| now - *t < VIEWER_WINDOW_MS);
        }
        if v.len() < MAX_TRACKED_VIEWERS {
            v.insert(ip, now);
        }
    }

    /// Distinct viewers of `stream` in the last [`VIEWER_WINDOW_MS`].
    pub fn recent_viewers(&self, stream: &str) -> usize {
        let now = now_ms();
        let all = self.viewers.lock().unwrap_or_else(|e| e.into_inner());
        all.get(stream).map_or(0, |v| v.values().filter(|&&t| now - t < VIEWER_WINDOW_MS).count())
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Whether the node is draining: it takes no new publishes (the RTMP listener refuses them)
    /// and reports not ready, while the streams already live go on until they end or shutdown.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Relaxed)
    }

    /// Starts draining (there is no way back but a restart); `true` if it was not draining yet.
    pub fn start_draining(&self) -> bool {
        !self.draining.swap(true, Relaxed)
    }

    /// Streams being published now.
    pub fn live_count(&self) -> usize {
        self.streams.count()
    }
}

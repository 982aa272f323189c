//! The node's shared state: settings, store, metrics, token signer and the streams being
//! published.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rapidrtmp_core::manifest::MediaInfo;
use tokio::sync::{watch, Notify, Semaphore};

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::publish::writer::Writers;
use crate::store::Store;
use crate::tokens::TokenSigner;

/// How long a publisher may send nothing before another may take its stream over.
pub const TAKEOVER_SILENCE_MS: u64 = 5_000;
/// Viewers counted as recent if they fetched a playlist within this time.
pub const VIEWER_WINDOW_MS: u64 = 30_000;
/// Most distinct viewers tracked per stream.
const MAX_TRACKED_VIEWERS: usize = 10_000;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

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

/// What the API shows of a live stream.
#[derive(Debug, Clone, Default)]
pub struct StreamStats {
    /// Codecs, size, frame rate of the current session.
    pub media: MediaInfo,
    /// Media bytes received.
    pub bytes_in: u64,
    /// Chunks (segments) written in this publish.
    pub segments: u64,
}

/// A stream being published.
pub struct LiveStream {
    /// Stream key.
    pub key: String,
    /// When the publish started, ms since the epoch.
    pub started_at_ms: u64,
    /// Id of the connection publishing it.
    pub connection: u64,
    /// Last time media arrived, ms since the epoch.
    pub last_data_ms: AtomicU64,
    /// Tells the connection to stop publishing.
    pub stop: Notify,
    /// Set when a new publisher takes the stream over (the stream goes on, it does not end).
    pub replaced: std::sync::atomic::AtomicBool,
    /// Set to true once its publisher has handed its last chunk to the stream's writer.
    pub done: watch::Sender<bool>,
    /// Figures for the API.
    pub stats: Mutex<StreamStats>,
    /// Its live edge, with LL-HLS on.
    pub edge: Option<crate::live_edge::LiveEdge>,
}

impl LiveStream {
    /// A stream `connection` starts publishing at `now` (ms since the epoch); it has a live edge
    /// if LL-HLS is on (`part_duration`).
    pub fn new(key: String, now: u64, connection: u64, part_duration: Option<std::time::Duration>) -> Arc<Self> {
        Arc::new(Self {
            key,
            started_at_ms: now,
            connection,
            last_data_ms: now.into(),
            stop: Notify::default(),
            replaced: AtomicBool::default(),
            done: watch::channel(false).0,
            stats: Mutex::default(),
            edge: part_duration.map(|d| crate::live_edge::LiveEdge::new(d.as_millis() as u64)),
        })
    }

    /// Whether the publisher has gone silent long enough to be replaced.
    pub fn is_silent(&self, now: u64) -> bool {
        now.saturating_sub(self.last_data_ms.load(Relaxed)) >= TAKEOVER_SILENCE_MS
    }
}

/// Everything the listeners share.
pub struct App {
    /// Settings.
    pub settings: Settings,
    /// Object store.
    pub store: Store,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Publish token signer.
    pub signer: TokenSigner,
    /// The admin API key.
    pub admin_key: String,
    /// Streams being published, by key.
    pub streams: Mutex<HashMap<String, Arc<LiveStream>>>,
    /// Recent playlist viewers by stream.
    viewers: Mutex<HashMap<String, HashMap<IpAddr, u64>>>,
    /// Set when shutdown begins.
    pub shutdown: watch::Sender<bool>,
    /// Stream writers still running (shutdown waits for them to flush).
    pub writers: watch::Sender<usize>,
    /// The writers of the streams this node owns.
    pub stream_writers: Writers,
    /// Room for closed chunks waiting for the store, all streams together (bytes).
    pub backlog: Arc<Semaphore>,
    /// This node's name in the owner records of the streams it writes: host name and a random
    /// part, new at every start.
    pub node_id: String,
    /// Listeners are up.
    pub listening: AtomicBool,
    /// Set by `POST /api/v1/drain` (Kubernetes' `preStop`): new publishes are refused, `/ready`
    /// fails, streams already live go on.
    draining: AtomicBool,
    next_connection: AtomicU64,
}

impl App {
    /// The shared state.
    pub fn new(settings: Settings, store: Store, admin_key: String) -> Arc<Self> {
        Arc::new(Self {
            signer: TokenSigner::from_admin_key(&admin_key),
            backlog: Arc::new(Semaphore::new(settings.node_backlog)),
            settings,
            store,
            metrics: Arc::default(),
            admin_key,
            streams: Mutex::default(),
            viewers: Mutex::default(),
            shutdown: watch::channel(false).0,
            writers: watch::channel(0).0,
            stream_writers: Writers::default(),
            node_id: node_id(),
            listening: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            next_connection: AtomicU64::new(1),
        })
    }

    /// A fresh connection id.
    pub fn connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Relaxed)
    }

    /// The live stream under `key`, if any.
    pub fn live(&self, key: &str) -> Option<Arc<LiveStream>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    /// Registers `stream` as being published, unless its key is published by a publisher that
    /// is neither silent nor done. Returns whether it did.
    pub fn claim(&self, stream: &Arc<LiveStream>) -> bool {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let busy = streams.get(&stream.key).is_some_and(|s| !s.is_silent(now_ms()) && !*s.done.borrow());
        if !busy {
            streams.insert(stream.key.clone(), stream.clone());
        }
        !busy
    }

    /// Takes `stream` out of the registry, if it is still the one registered under its key.
    pub fn release(&self, stream: &LiveStream) {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        if streams.get(&stream.key).is_some_and(|s| s.connection == stream.connection) {
            streams.remove(&stream.key);
        }
    }

    /// Tells the publisher of connection `connection` to stop: every stream it publishes (the
    /// other tracks' streams of a multitrack publish share it) ends.
    pub fn stop_connection(&self, connection: u64) {
        let streams: Vec<Arc<LiveStream>> =
            self.streams.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        for s in streams.iter().filter(|s| s.connection == connection) {
            s.stop.notify_one();
        }
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
        self.streams.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

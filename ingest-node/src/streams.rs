//! The streams this node is publishing now, by key: each one's publisher connection, stop
//! signal, figures for the API and live edge. Admission registers a stream here, the listener
//! takes it out when its publish ends; the API, the HTTP edge and the writers look streams up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rapidrtmp_core::manifest::MediaInfo;
use tokio::sync::{watch, Notify};

use crate::clock::now_ms;
use crate::live_edge::NodeLiveEdge;

/// How long a publisher may send nothing before another may take its stream over.
pub const TAKEOVER_SILENCE_MS: u64 = 5_000;

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
    /// Who publishes it.
    pub peer: SocketAddr,
    /// The listener its publisher came in on (`rtmp`, `rtmps`).
    pub listener: &'static str,
    /// Last time media arrived, ms since the epoch.
    pub last_data_ms: AtomicU64,
    /// Tells the connection to stop publishing.
    pub stop: Notify,
    /// Set when a new publisher takes the stream over (the stream goes on, it does not end).
    pub replaced: AtomicBool,
    /// Set to true once its publisher has handed its last chunk to the stream's writer.
    pub done: watch::Sender<bool>,
    /// Figures for the API.
    pub stats: Mutex<StreamStats>,
    /// Its live edge, with LL-HLS on.
    pub edge: Option<NodeLiveEdge>,
}

impl LiveStream {
    /// A stream `connection` (from `peer`, on `listener`) starts publishing at `now` (ms since the epoch); it
    /// has a live edge if LL-HLS is on (`part_duration`).
    pub fn new(
        key: String,
        now: u64,
        (connection, peer, listener): (u64, SocketAddr, &'static str),
        part_duration: Option<Duration>,
    ) -> Arc<Self> {
        Arc::new(Self {
            key,
            started_at_ms: now,
            connection,
            peer,
            listener,
            last_data_ms: now.into(),
            stop: Notify::default(),
            replaced: AtomicBool::default(),
            done: watch::channel(false).0,
            stats: Mutex::default(),
            edge: part_duration.map(|d| NodeLiveEdge::new(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))),
        })
    }

    /// Whether the publisher has gone silent long enough to be replaced.
    pub fn is_silent(&self, now: u64) -> bool {
        now.saturating_sub(self.last_data_ms.load(Relaxed)) >= TAKEOVER_SILENCE_MS
    }
}

/// The registry of the streams being published on this node, by key.
#[derive(Default)]
pub struct LiveStreams {
    by_key: Mutex<HashMap<String, Arc<LiveStream>>>,
}

impl LiveStreams {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<LiveStream>>> {
        self.by_key.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live stream under `key`, if any.
    pub fn live(&self, key: &str) -> Option<Arc<LiveStream>> {
        self.lock().get(key).cloned()
    }

    /// Registers `stream` as being published, unless its key is published by a publisher that
    /// is neither silent nor done. Returns whether it did.
    pub fn claim(&self, stream: &Arc<LiveStream>) -> bool {
        let mut streams = self.lock();
        let busy = streams.get(&stream.key).is_some_and(|s| !s.is_silent(now_ms()) && !*s.done.borrow());
        if !busy {
            streams.insert(stream.key.clone(), stream.clone());
        }
        !busy
    }

    /// Takes `stream` out of the registry, if it is still the one registered under its key.
    pub fn release(&self, stream: &LiveStream) {
        let mut streams = self.lock();
        if streams.get(&stream.key).is_some_and(|s| s.connection == stream.connection) {
            streams.remove(&stream.key);
        }
    }

    /// Tells the publisher of connection `connection` to stop: every stream it publishes (the
    /// other tracks' streams of a multitrack publish share it) ends.
    pub fn stop_connection(&self, connection: u64) {
        let streams: Vec<Arc<LiveStream>> = self.lock().values().cloned().collect();
        for s in streams.iter().filter(|s| s.connection == connection) {
            s.stop.notify_one();
        }
    }

    /// The keys of the streams being published now.
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// How many streams are being published now.
    pub fn count(&self) -> usize {
        self.lock().len()
    }
}

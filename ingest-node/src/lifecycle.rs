//! A stream's lifecycle, told from one place: each moment (a publish starts, a session starts, a
//! chunk is stored, a publish ends, the stream ends, an output goes up or down) is emitted once, where it happens, as a
//! [`StreamEvent`]. The metrics count it as it is emitted (a few atomic additions, so a gauge
//! never misses one); everyone else listens on a broadcast channel of [`EVENT_BUFFER`] events:
//! the log ([`log_events`]) and the webhooks ([`crate::webhooks`]). A slow listener never slows the ingest: it falls
//! behind, is told how many events it missed, and says so.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tracing::{debug, info, warn};

use crate::metrics::Metrics;

/// Events a listener may fall behind by before it misses the oldest ones.
pub const EVENT_BUFFER: usize = 1024;

/// How long shutdown waits for the listeners to take the last events.
const FLUSH_WITHIN: Duration = Duration::from_secs(1);

/// How a publish ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The publisher unpublished, or the stream was stopped: the playlist ends now.
    Now,
    /// The publisher dropped off: the stream stays live for the reconnect grace, then ends unless
    /// it was published again meanwhile (OBS reconnects this way).
    AfterGrace,
    /// Another publisher took the stream over: it goes on.
    Replaced,
}

/// A moment in the life of a stream this node publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// A publisher started publishing the stream (a multitrack publish: each track's stream).
    PublishStarted {
        /// Stream key.
        stream: String,
        /// The publishing connection.
        connection: u64,
        /// Who publishes.
        peer: SocketAddr,
        /// The listener it came in on (`rtmp`, `rtmps`).
        listener: &'static str,
        /// When, ms since the Unix epoch.
        at_ms: u64,
    },
    /// A publishing session started (a publish's first media, or new codec settings): its
    /// chunks and init segments are named after it.
    SessionStarted {
        /// Stream key.
        stream: String,
        /// The session id.
        session: String,
        /// Its first chunk's sequence number.
        first_sequence: u64,
        /// When, ms since the Unix epoch.
        at_ms: u64,
    },
    /// A chunk and the manifest listing it are in the store.
    ChunkStored {
        /// Stream key.
        stream: String,
        /// The chunk's session.
        session: String,
        /// Its sequence number.
        sequence: u64,
        /// Its size in bytes.
        bytes: u64,
        /// Its media duration, ms.
        duration_ms: u64,
        /// How long writing it and its manifest took (with retries).
        write_time: Duration,
    },
    /// A publisher stopped publishing the stream.
    PublishEnded {
        /// Stream key.
        stream: String,
        /// The connection that published it.
        connection: u64,
        /// Why, and how the stream goes on.
        ending: Ending,
        /// How long the publish lasted, ms.
        lasted_ms: u64,
    },
    /// The stream ended: its playlist is complete and no node writes it.
    StreamEnded {
        /// Stream key.
        stream: String,
        /// When, ms since the Unix epoch.
        at_ms: u64,
    },
    /// A publish of the stream was refused ([`crate::admission`]).
    PublishRefused {
        /// Stream key asked for.
        stream: String,
        /// Who asked.
        peer: SocketAddr,
        /// The listener it came in on.
        listener: &'static str,
        /// The `result` it is counted under.
        result: &'static str,
        /// Why, as the encoder was told.
        reason: String,
        /// When, ms since the Unix epoch.
        at_ms: u64,
    },
    /// An output of the stream is publishing at its destination ([`crate::restream`]).
    OutputUp {
        /// Stream key.
        stream: String,
        /// The output's id.
        output: String,
        /// Host, port and app of the destination (never its stream key).
        destination: String,
    },
    /// An output that was up is not any more.
    OutputDown {
        /// Stream key.
        stream: String,
        /// The output's id.
        output: String,
        /// Host, port and app of the destination.
        destination: String,
        /// Why, when it failed (`None`: stopped, or the publish ended).
        error: Option<String>,
    },
}

/// Where the moments of every stream are emitted.
#[derive(Clone)]
pub struct Lifecycle {
    tx: broadcast::Sender<StreamEvent>,
    metrics: Arc<Metrics>,
}

impl Lifecycle {
    /// A lifecycle whose events `metrics` counts.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { tx: broadcast::channel(EVENT_BUFFER).0, metrics }
    }

    /// Tells everyone of `event`; never waits.
    pub fn emit(&self, event: StreamEvent) {
        count(&self.metrics, &event);
        // No listener yet is no error: there is nobody to tell.
        let _ = self.tx.send(event);
    }

    /// A new listener: it gets the events emitted from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<StreamEvent> {
        self.tx.subscribe()
    }

    /// Waits (at most [`FLUSH_WITHIN`]) until every listener has taken every event.
    pub async fn flush(&self) {
        let deadline = tokio::time::Instant::now() + FLUSH_WITHIN;
        while !self.tx.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The metrics of a moment.
fn count(metrics: &Metrics, event: &StreamEvent) {
    match event {
        StreamEvent::PublishStarted { .. } => {
            metrics.active_streams.fetch_add(1, Relaxed);
        }
        StreamEvent::PublishEnded { .. } => {
            metrics.active_streams.fetch_sub(1, Relaxed);
        }
        StreamEvent::ChunkStored { bytes, write_time, .. } => {
            metrics.chunks_written.fetch_add(1, Relaxed);
            metrics.chunk_bytes_written.fetch_add(*bytes, Relaxed);
            metrics.chunk_write.observe(*write_time);
        }
        StreamEvent::SessionStarted { .. }
        | StreamEvent::StreamEnded { .. }
        | StreamEvent::PublishRefused { .. }
        | StreamEvent::OutputUp { .. }
        | StreamEvent::OutputDown { .. } => {}
    }
}

/// The log line of a moment.
fn log(event: &StreamEvent) {
    match event {
        StreamEvent::PublishStarted { stream, peer, listener, .. } => info!(%peer, %stream, listener, "publishing"),
        StreamEvent::SessionStarted { stream, session, first_sequence, .. } => {
            debug!(%stream, %session, first_sequence, "session started")
        }
        StreamEvent::ChunkStored { stream, sequence, bytes, .. } => debug!(%stream, sequence, bytes, "chunk stored"),
        StreamEvent::PublishEnded { stream, ending, .. } => info!(%stream, ?ending, "publish ended"),
        StreamEvent::StreamEnded { stream, .. } => info!(%stream, "stream ended"),
        // Admission logs it, with its reason.
        StreamEvent::PublishRefused { .. } => {}
        StreamEvent::OutputUp { stream, output, destination } => info!(%stream, %output, %destination, "output up"),
        StreamEvent::OutputDown { stream, output, destination, error: None } => {
            info!(%stream, %output, %destination, "output down")
        }
        StreamEvent::OutputDown { stream, output, destination, error: Some(error) } => {
            warn!(%stream, %output, %destination, %error, "output down")
        }
    }
}

/// Logs the events of `events` until every sender is gone.
pub async fn log_events(mut events: broadcast::Receiver<StreamEvent>) {
    loop {
        match events.recv().await {
            Ok(event) => log(&event),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                warn!(missed, "the lifecycle log fell behind: {missed} stream events are not logged")
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(sequence: u64) -> StreamEvent {
        StreamEvent::ChunkStored {
            stream: "cam".into(),
            session: "1".into(),
            sequence,
            bytes: 100,
            duration_ms: 2000,
            write_time: Duration::from_millis(3),
        }
    }

    #[test]
    fn a_listener_that_falls_behind_is_told_how_many_events_it_missed() {
        let lifecycle = Lifecycle::new(Arc::default());
        let mut slow = lifecycle.subscribe();
        let extra = 5u64;
        let sent = u64::try_from(EVENT_BUFFER).expect("fits") + extra;
        for sequence in 0..sent {
            lifecycle.emit(chunk(sequence)); // never waits for the listener
        }
        assert_eq!(slow.try_recv(), Err(broadcast::error::TryRecvError::Lagged(extra)));
        assert_eq!(slow.try_recv(), Ok(chunk(extra)), "then the oldest event still held");
        // The metrics missed none.
        assert_eq!(lifecycle.metrics.chunks_written.load(Relaxed), sent);
    }
}

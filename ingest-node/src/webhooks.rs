//! Webhooks: each stream's moments told to the deployment's endpoints, signed per Standard
//! Webhooks ([`sign`]), at least once and never lost.
//!
//! - **Events** come from the lifecycle broadcast ([`crate::lifecycle`]) of the streams this
//!   node publishes: `stream.started` (a publish of a stream that was not live), `session.started`,
//!   `stream.ended`, `recording.ready` (a session is over: a new one started or the stream
//!   ended; with its VOD URL) and `publish.refused` (with the reason). Each has a unique id
//!   (`msg_…`), the stream, the node, the time and a per-stream sequence number (the event's
//!   time in microseconds, raised to stay above the stream's previous one on this node).
//! - **Durable**: for every endpoint, each event is written to the store as a pending delivery
//!   (`webhooks/pending/…`) before it is attempted; a node that crashes leaves it there for
//!   itself or any other node.
//! - **Delivered by one node** ([`deliver`]): a node claims a pending delivery with a
//!   conditional write (a lease of [`CLAIM_LEASE`]), sends it within [`REQUEST_TIMEOUT`], and
//!   deletes it once a 2xx came back, or reschedules it with exponential backoff and jitter
//!   from `--webhook-retry-min` up to [`MAX_RETRY_DELAY`](settings::MAX_RETRY_DELAY), for up to [`MAX_DELIVERY_AGE`]. A
//!   receiver answering 410 is disabled.
//! - **In order per stream**: an endpoint gets a stream's events in sequence order: a stream's
//!   next event waits while the one before it is being retried (for that endpoint only).
//! - **Never in the way**: the lifecycle never waits for this module (a listener that falls
//!   behind misses events, counted), and delivery runs on tasks of its own, at most
//!   [`MAX_IN_FLIGHT`] requests at once.

pub mod deliver;
pub mod endpoints;
pub mod settings;
pub mod sign;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rapidrtmp_core::date::iso8601;
use rapidrtmp_core::layout::{pending_webhook_key, valid_name};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{broadcast, Notify};
use tracing::warn;

use crate::clock::now_ms;
use crate::lifecycle::StreamEvent;
use crate::metrics::Metrics;
use crate::store::Store;
use endpoints::Endpoint;
use settings::WebhookSettings;

/// How long a delivery is retried before it is given up.
pub const MAX_DELIVERY_AGE: Duration = Duration::from_secs(24 * 3600);
/// Time one attempt has, connecting and reading the answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claim on a pending delivery lasts: a node that died holding one leaves it to
/// another after this.
pub const CLAIM_LEASE: Duration = Duration::from_secs(30);
/// How often the pending deliveries are listed (a new event wakes the node at once).
pub const POLL: Duration = Duration::from_secs(1);
/// Most deliveries a node attempts at once.
pub const MAX_IN_FLIGHT: usize = 16;
/// Most attempts to write a pending delivery to the store before the event is counted lost.
const WRITE_TRIES: u32 = 5;
/// Most streams whose live state and session this node remembers (a stream that ends is
/// forgotten; past this, everything is).
const MAX_TRACKED_STREAMS: usize = 100_000;

/// A pending delivery, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// The event id (`webhook-id`).
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The endpoint it goes to.
    pub endpoint: String,
    /// The body sent, as made once.
    pub body: String,
    /// When it was made, ms since the Unix epoch.
    pub created_ms: u64,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub due_ms: u64,
    /// The node holding it, while one does.
    #[serde(default)]
    pub claimed_by: String,
    /// Until when it holds it.
    #[serde(default)]
    pub claim_until_ms: u64,
}

/// The webhook side of a node.
pub struct Webhooks {
    store: Store,
    node: String,
    settings: WebhookSettings,
    metrics: Arc<Metrics>,
    /// The `--webhook-url` endpoint has answered 410 (not stored: a restart enables it again).
    flag_disabled: AtomicBool,
    /// A new pending delivery was written.
    wake: Notify,
}

impl Webhooks {
    /// Starts listening to `events` and delivering; returns at once.
    pub fn start(
        store: Store,
        node: String,
        settings: WebhookSettings,
        metrics: Arc<Metrics>,
        events: broadcast::Receiver<StreamEvent>,
    ) -> Arc<Self> {
        let hooks = Arc::new(Self {
            store,
            node,
            settings,
            metrics,
            flag_disabled: AtomicBool::new(false),
            wake: Notify::new(),
        });
        tokio::spawn(hooks.clone().record(events));
        tokio::spawn(deliver::run(hooks.clone()));
        hooks
    }

    /// The endpoints events go to now: the flag's (unless disabled) and the stored usable ones.
    async fn endpoints(&self) -> Vec<Endpoint> {
        let mut all = Vec::new();
        if let Some((url, secret)) = &self.settings.flag_endpoint {
            if !self.flag_disabled.load(Relaxed) {
                all.push(Endpoint { id: endpoints::flag_id(url), url: url.clone(), secret: secret.clone() });
            }
        }
        let mut tries = 0;
        loop {
            match endpoints::list(&self.store).await {
                Ok(stored) => break all.extend(stored.iter().filter_map(|r| r.usable())),
                Err(e) if tries + 1 < WRITE_TRIES => {
                    tries += 1;
                    warn!("cannot list the webhook endpoints (try {tries}): {e}");
                    tokio::time::sleep(Duration::from_millis(200 << tries)).await;
                }
                Err(e) => {
                    warn!("an event is lost to the stored webhook endpoints: the store cannot list them: {e}");
                    self.metrics.webhooks.lost.fetch_add(1, Relaxed);
                    break;
                }
            }
        }
        all
    }

    /// Turns lifecycle events into pending deliveries, in order, until the lifecycle closes.
    async fn record(self: Arc<Self>, mut events: broadcast::Receiver<StreamEvent>) {
        let mut streams = Streams::default();
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    warn!(missed, "webhooks fell behind the lifecycle: {missed} stream events are not delivered");
                    self.metrics.webhooks.lost.fetch_add(missed, Relaxed);
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let made = streams.events(&event);
            if made.is_empty() {
                continue;
            }
            let endpoints = self.endpoints().await;
            for (stream, kind, data) in made {
                let sequence = streams.next_sequence(&stream);
                self.write(&endpoints, &stream, sequence, kind, data).await;
            }
            self.wake.notify_one();
        }
    }

    /// Writes one event's pending delivery for every endpoint.
    async fn write(&self, endpoints: &[Endpoint], stream: &str, sequence: u64, kind: &'static str, data: Value) {
        let now = now_ms();
        let id = format!("msg_{}", random_hex(16));
        let body = json!({
            "id": id,
            "type": kind,
            "timestamp": iso8601(now),
            "stream": stream,
            "node": self.node,
            "sequence": sequence,
            "data": data,
        })
        .to_string();
        for endpoint in endpoints {
            let pending = Pending {
                id: id.clone(),
                kind: kind.into(),
                endpoint: endpoint.id.clone(),
                body: body.clone(),
                created_ms: now,
                attempts: 0,
                due_ms: now,
                claimed_by: String::new(),
                claim_until_ms: 0,
            };
            let key = pending_webhook_key(&endpoint.id, stream, sequence, &id);
            let bytes = Bytes::from(serde_json::to_vec(&pending).expect("a pending delivery serializes"));
            let mut tries = 0;
            loop {
                match self.store.put(&key, bytes.clone()).await {
                    Ok(()) => break,
                    Err(e) if tries + 1 < WRITE_TRIES => {
                        tries += 1;
                        warn!(%stream, event = kind, "cannot write a pending webhook delivery (try {tries}): {e}");
                        tokio::time::sleep(Duration::from_millis(200 << tries)).await;
                    }
                    Err(e) => {
                        warn!(%stream, event = kind, "a webhook delivery is lost: the store refused it: {e}");
                        self.metrics.webhooks.lost.fetch_add(1, Relaxed);
                        break;
                    }
                }
            }
        }
    }
}

/// What the event stream says of each stream: whether it is live, its session, its last
/// sequence number.
#[derive(Default)]
struct Streams {
    live: HashMap<String, Option<String>>,
    sequences: HashMap<String, u64>,
}

impl Streams {
    /// The webhook events a lifecycle event makes: stream, type, data.
    fn events(&mut self, event: &StreamEvent) -> Vec<(String, &'static str, Value)> {
        if self.live.len() > MAX_TRACKED_STREAMS || self.sequences.len() > MAX_TRACKED_STREAMS {
            self.live.clear();
            self.sequences.clear();
        }
        let addr = |peer: &SocketAddr| peer.to_string();
        match event {
            StreamEvent::PublishStarted { stream, peer, listener, .. } => {
                if self.live.contains_key(stream) {
                    return Vec::new(); // a reconnect within the grace: the stream goes on
                }
                self.live.insert(stream.clone(), None);
                let data = json!({ "clientAddr": addr(peer), "listener": listener });
                vec![(stream.clone(), "stream.started", data)]
            }
            StreamEvent::SessionStarted { stream, session, first_sequence, .. } => {
                let mut out = Vec::new();
                let previous = self.live.insert(stream.clone(), Some(session.clone())).flatten();
                if let Some(done) = previous.filter(|p| p != session) {
                    out.push((stream.clone(), "recording.ready", recording(stream, &done)));
                }
                let data = json!({ "session": session, "firstSequence": first_sequence });
                out.push((stream.clone(), "session.started", data));
                out
            }
            StreamEvent::StreamEnded { stream, .. } => {
                let mut out = vec![(stream.clone(), "stream.ended", json!({}))];
                if let Some(session) = self.live.remove(stream).flatten() {
                    out.push((stream.clone(), "recording.ready", recording(stream, &session)));
                }
                out
            }
            StreamEvent::PublishRefused { stream, peer, listener, result, reason, .. } if valid_name(stream) => {
                let data =
                    json!({ "clientAddr": addr(peer), "listener": listener, "result": result, "reason": reason });
                vec![(stream.clone(), "publish.refused", data)]
            }
            _ => Vec::new(),
        }
    }

    /// The stream's next sequence number: now in microseconds, above its last one.
    fn next_sequence(&mut self, stream: &str) -> u64 {
        let now_us = now_ms().saturating_mul(1000);
        let last = self.sequences.entry(stream.to_string()).or_default();
        *last = now_us.max(last.saturating_add(1));
        *last
    }
}

/// The data of a `recording.ready` event.
fn recording(stream: &str, session: &str) -> Value {
    json!({ "session": session, "vodUrl": format!("/live/{stream}/{session}/index.m3u8") })
}

/// `n` random bytes in hex.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the OS random source works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(stream: &str) -> StreamEvent {
        StreamEvent::PublishStarted {
            stream: stream.into(),
            connection: 1,
            peer: "127.0.0.1:5000".parse().unwrap(),
            listener: "rtmp",
            at_ms: 1,
        }
    }

    fn session(stream: &str, session: &str) -> StreamEvent {
        StreamEvent::SessionStarted { stream: stream.into(), session: session.into(), first_sequence: 0, at_ms: 1 }
    }

    #[test]
    fn a_stream_tells_started_sessions_recordings_and_ended_once_each() {
        let mut s = Streams::default();
        let kinds = |v: Vec<(String, &'static str, Value)>| v.into_iter().map(|(_, k, _)| k).collect::<Vec<_>>();
        assert_eq!(kinds(s.events(&started("cam"))), ["stream.started"]);
        assert_eq!(kinds(s.events(&session("cam", "a"))), ["session.started"]);
        assert!(s.events(&started("cam")).is_empty(), "a reconnect is no new stream");
        let next = s.events(&session("cam", "b"));
        assert_eq!(next[0].2["vodUrl"], "/live/cam/a/index.m3u8");
        assert_eq!(kinds(next), ["recording.ready", "session.started"]);
        let ended = s.events(&StreamEvent::StreamEnded { stream: "cam".into(), at_ms: 2 });
        assert_eq!(ended[1].2["session"], "b");
        assert_eq!(kinds(ended), ["stream.ended", "recording.ready"]);
        assert_eq!(kinds(s.events(&started("cam"))), ["stream.started"]);
        let (a, b) = (s.next_sequence("cam"), s.next_sequence("cam"));
        assert!(b > a);
    }
}

//! Prometheus metrics, kept in atomics and rendered as the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::http::cache::Lookup;
use crate::refusals::{Cause, Refusals};

/// Upper bounds (seconds) of the latency histograms' buckets.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Every `result` a publish attempt is counted under (`ingest-node/src/admission.rs`): each is
/// exported from the start, at 0, so rates and alerts work on a node that has seen none.
pub const PUBLISH_RESULTS: [&str; 12] = [
    "accepted",
    "unauthorized",
    "expired",
    "reused",
    "revoked",
    "reserved",
    "busy",
    "bad_name",
    "draining",
    "store_error",
    "hook_denied",
    "hook_unavailable",
];

/// Every `listener` a publish let in is counted under in `rapidrtmp_publishes_total`
/// (`crate::slots::Listener::label` of the RTMP and RTMPS listeners), each exported from the
/// start, at 0.
pub const PUBLISH_LISTENERS: [&str; 2] = ["rtmp", "rtmps"];

/// The `route` names of HTTP requests (`rapidrtmp_core::edge::Route::name`, and `live` for a
/// path no route matches).
pub const HTTP_ROUTES: [&str; 9] =
    ["playlist", "window", "recording", "multivariant", "init", "segment", "part", "chunk", "live"];

/// The statuses every route is exported with from the start, at 0: served and not found.
pub const HTTP_STATUSES: [u16; 2] = [200, 404];

/// A latency histogram.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (b, le) in self.buckets.iter().zip(BUCKETS) {
            if s <= le {
                b.fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, le) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {}", b.load(Relaxed));
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Every metric of the node.
#[derive(Default)]
pub struct Metrics {
    /// Streams being published now.
    pub active_streams: AtomicU64,
    /// RTMP connections open now.
    pub rtmp_connections: Arc<AtomicU64>,
    /// HTTP connections open now.
    pub http_connections: Arc<AtomicU64>,
    /// What was turned away, by cause.
    pub refusals: Refusals,
    /// Publish attempts by result.
    publish_attempts: Mutex<BTreeMap<&'static str, u64>>,
    /// Publishes let in, by listener, in the order of [`PUBLISH_LISTENERS`].
    publishes: [AtomicU64; PUBLISH_LISTENERS.len()],
    /// Video frames received.
    pub video_frames_in: AtomicU64,
    /// Audio frames received.
    pub audio_frames_in: AtomicU64,
    /// Media bytes received (tag bodies).
    pub bytes_in: AtomicU64,
    /// Chunks written to the store.
    pub chunks_written: AtomicU64,
    /// Chunk bytes written.
    pub chunk_bytes_written: AtomicU64,
    /// Time to write a chunk (with retries) and its manifest.
    pub chunk_write: Histogram,
    /// Failed store operations (each retry counts).
    pub store_errors: AtomicU64,
    /// Chunks waiting to be written.
    pub store_backlog: AtomicU64,
    /// Bytes of the chunks waiting to be written.
    pub store_backlog_bytes: AtomicU64,
    /// Chunks given up on at shutdown after the store kept failing.
    pub chunks_lost: AtomicU64,
    /// HTTP requests by route and status.
    http_requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Time to build an init or media segment.
    pub segment_build: Histogram,
    /// Parts of open chunks built by the live edge (each once, whoever asks).
    pub parts_built: AtomicU64,
    /// Blocking LL-HLS requests refused: as many as a stream lets wait were waiting.
    pub blocking_refused: AtomicU64,
    /// Playback requests by how the edge cache found their answer, in the order of
    /// [`Lookup::ALL`].
    edge_cache_requests: [AtomicU64; 3],
    /// Bytes the edge cache holds.
    pub edge_cache_bytes: AtomicU64,
    /// Store objects the edge read (found or not) to answer playback requests.
    pub edge_store_reads: AtomicU64,
    /// Restreaming (`rapidrtmp_restream_*`).
    pub restream: RestreamMetrics,
    /// Webhooks (`rapidrtmp_webhook_*`).
    pub webhooks: WebhookMetrics,
}

/// The webhook event types, as the `event` label of `rapidrtmp_webhook_deliveries_total`.
pub const WEBHOOK_EVENTS: [&str; 5] =
    ["stream.started", "stream.ended", "session.started", "recording.ready", "publish.refused"];

/// How a webhook delivery attempt ended, as the `result` label of
/// `rapidrtmp_webhook_deliveries_total`.
pub const WEBHOOK_RESULTS: [&str; 4] = ["delivered", "failed", "expired", "disabled"];

/// The webhook metrics (`rapidrtmp_webhook_*`, `crate::webhooks`).
#[derive(Default)]
pub struct WebhookMetrics {
    /// Delivery attempts by event type and result.
    deliveries: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Pending deliveries in the store, at the last listing.
    pub pending: AtomicU64,
    /// Age of the oldest of them, ms.
    pub oldest_pending_ms: AtomicU64,
    /// Events that could not be made pending (the store refused them, or the listener fell
    /// behind).
    pub lost: AtomicU64,
}

impl WebhookMetrics {
    /// Counts an attempt's result.
    pub fn delivery(&self, event: &'static str, result: &'static str) {
        *self.deliveries.lock().unwrap_or_else(|e| e.into_inner()).entry((event, result)).or_default() += 1;
    }

    /// Appends the metrics in the Prometheus text format.
    fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP rapidrtmp_webhook_deliveries_total Webhook delivery attempts by event type and result.\n\
             # TYPE rapidrtmp_webhook_deliveries_total counter"
        );
        let mut all = self.deliveries.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for event in WEBHOOK_EVENTS {
            for result in WEBHOOK_RESULTS {
                all.entry((event, result)).or_default();
            }
        }
        for ((event, result), n) in &all {
            let _ = writeln!(out, "rapidrtmp_webhook_deliveries_total{{event=\"{event}\",result=\"{result}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP rapidrtmp_webhooks_pending Pending webhook deliveries in the store (all nodes').\n\
             # TYPE rapidrtmp_webhooks_pending gauge\nrapidrtmp_webhooks_pending {}",
            self.pending.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP rapidrtmp_webhook_oldest_pending_seconds Age of the oldest pending webhook delivery.\n\
             # TYPE rapidrtmp_webhook_oldest_pending_seconds gauge\nrapidrtmp_webhook_oldest_pending_seconds {}",
            self.oldest_pending_ms.load(Relaxed) as f64 / 1000.0
        );
        let _ = writeln!(
            out,
            "# HELP rapidrtmp_webhook_events_lost_total Webhook events never made pending (store refused, listener behind).\n\
             # TYPE rapidrtmp_webhook_events_lost_total counter\nrapidrtmp_webhook_events_lost_total {}",
            self.lost.load(Relaxed)
        );
    }
}

/// The states of restream outputs, as the `state` label of `rapidrtmp_restream_outputs` and
/// the API name them (`crate::restream::State`).
pub const RESTREAM_STATES: [&str; 4] = ["connecting", "live", "retrying", "disabled"];

/// The restreaming metrics (`rapidrtmp_restream_*`).
#[derive(Default)]
pub struct RestreamMetrics {
    /// Outputs of the streams live on this node, by state, in the order of [`RESTREAM_STATES`].
    pub outputs: [AtomicU64; 4],
    /// Bytes sent to destinations.
    pub bytes_sent: AtomicU64,
    /// Tags dropped by outputs whose destination did not keep up.
    pub tags_dropped: AtomicU64,
    /// Body bytes of those tags.
    pub bytes_dropped: AtomicU64,
}

impl RestreamMetrics {
    /// Appends the metrics in the Prometheus text format.
    fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP rapidrtmp_restream_outputs Outputs of the streams published on this node, by state.\n\
             # TYPE rapidrtmp_restream_outputs gauge"
        );
        for (state, n) in RESTREAM_STATES.iter().zip(&self.outputs) {
            let _ = writeln!(out, "rapidrtmp_restream_outputs{{state=\"{state}\"}} {}", n.load(Relaxed));
        }
        for (name, help, v) in [
            ("rapidrtmp_restream_bytes_sent_total", "Bytes sent to restream destinations.", &self.bytes_sent),
            (
                "rapidrtmp_restream_dropped_tags_total",
                "Tags dropped by outputs whose destination did not keep up (to the next keyframe).",
                &self.tags_dropped,
            ),
            ("rapidrtmp_restream_dropped_bytes_total", "Body bytes of the dropped tags.", &self.bytes_dropped),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Relaxed));
        }
    }
}

impl Metrics {
    /// Counts a publish attempt.
    pub fn publish_attempt(&self, result: &'static str) {
        debug_assert!(PUBLISH_RESULTS.contains(&result), "publish result {result:?} is not in PUBLISH_RESULTS");
        *self.publish_attempts.lock().unwrap_or_else(|e| e.into_inner()).entry(result).or_default() += 1;
    }

    /// Counts a publish let in on `listener` (one of [`PUBLISH_LISTENERS`]).
    pub fn publish_started(&self, listener: &'static str) {
        debug_assert!(PUBLISH_LISTENERS.contains(&listener), "listener {listener:?} is not in PUBLISH_LISTENERS");
        if let Some(n) = PUBLISH_LISTENERS.iter().position(|l| *l == listener).and_then(|i| self.publishes.get(i)) {
            n.fetch_add(1, Relaxed);
        }
    }

    /// Counts a playback request by how the edge cache found its answer.
    pub fn edge_cache_requests(&self, lookup: Lookup) {
        if let Some(n) = Lookup::ALL.iter().position(|l| *l == lookup).and_then(|i| self.edge_cache_requests.get(i)) {
            n.fetch_add(1, Relaxed);
        }
    }

    /// Counts an HTTP request.
    pub fn http_request(&self, route: &'static str, status: u16) {
        *self.http_requests.lock().unwrap_or_else(|e| e.into_inner()).entry((route, status)).or_default() += 1;
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let mut single = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        single("rapidrtmp_active_streams", "gauge", "Streams being published.", self.active_streams.load(Relaxed));
        single("rapidrtmp_rtmp_connections", "gauge", "Open RTMP connections.", self.rtmp_connections.load(Relaxed));
        single("rapidrtmp_http_connections", "gauge", "Open HTTP connections.", self.http_connections.load(Relaxed));
        single("rapidrtmp_bytes_in_total", "counter", "Media bytes received over RTMP.", self.bytes_in.load(Relaxed));
        single(
            "rapidrtmp_chunks_written_total",
            "counter",
            "Chunks written to the store.",
            self.chunks_written.load(Relaxed),
        );
        single(
            "rapidrtmp_chunk_bytes_written_total",
            "counter",
            "Chunk bytes written to the store.",
            self.chunk_bytes_written.load(Relaxed),
        );
        single("rapidrtmp_store_errors_total", "counter", "Failed store operations.", self.store_errors.load(Relaxed));
        single("rapidrtmp_store_backlog", "gauge", "Chunks waiting to be written.", self.store_backlog.load(Relaxed));
        single(
            "rapidrtmp_store_backlog_bytes",
            "gauge",
            "Bytes of the chunks waiting to be written.",
            self.store_backlog_bytes.load(Relaxed),
        );
        single(
            "rapidrtmp_ll_parts_built_total",
            "counter",
            "Parts of open segments built by the live edge (each once, for all its viewers).",
            self.parts_built.load(Relaxed),
        );
        single(
            "rapidrtmp_ll_blocking_refused_total",
            "counter",
            "Blocking LL-HLS requests refused with a 503: the stream had as many waiting as it allows.",
            self.blocking_refused.load(Relaxed),
        );
        single(
            "rapidrtmp_edge_cache_bytes",
            "gauge",
            "Bytes of built answers the edge cache holds.",
            self.edge_cache_bytes.load(Relaxed),
        );
        single(
            "rapidrtmp_edge_store_reads_total",
            "counter",
            "Store objects the edge read to answer playback requests (found or not).",
            self.edge_store_reads.load(Relaxed),
        );
        single(
            "rapidrtmp_chunks_lost_total",
            "counter",
            "Chunks given up: the store kept failing at shutdown, or another node took the stream over.",
            self.chunks_lost.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP rapidrtmp_frames_in_total Frames received over RTMP.\n# TYPE rapidrtmp_frames_in_total counter\n\
             rapidrtmp_frames_in_total{{kind=\"video\"}} {}\nrapidrtmp_frames_in_total{{kind=\"audio\"}} {}",
            self.video_frames_in.load(Relaxed),
            self.audio_frames_in.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP rapidrtmp_publish_attempts_total RTMP publish attempts by result.\n\
             # TYPE rapidrtmp_publish_attempts_total counter"
        );
        let mut attempts = self.publish_attempts.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for result in PUBLISH_RESULTS {
            attempts.entry(result).or_default();
        }
        for (result, n) in &attempts {
            let _ = writeln!(out, "rapidrtmp_publish_attempts_total{{result=\"{result}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP rapidrtmp_publishes_total Publishes let in, by the listener they came in on (rtmp, rtmps).\n\
             # TYPE rapidrtmp_publishes_total counter"
        );
        for (listener, n) in PUBLISH_LISTENERS.iter().zip(&self.publishes) {
            let _ = writeln!(out, "rapidrtmp_publishes_total{{listener=\"{listener}\"}} {}", n.load(Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP rapidrtmp_http_requests_total HTTP requests by route and status.\n\
             # TYPE rapidrtmp_http_requests_total counter"
        );
        let mut requests = self.http_requests.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for route in HTTP_ROUTES {
            for status in HTTP_STATUSES {
                requests.entry((route, status)).or_default();
            }
        }
        for ((route, status), n) in &requests {
            let _ = writeln!(out, "rapidrtmp_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP rapidrtmp_edge_cache_requests_total Playback requests by how the edge found their answer: \
             kept (hit), built for them (miss), or built for another request they waited for (shared).\n\
             # TYPE rapidrtmp_edge_cache_requests_total counter"
        );
        for (lookup, n) in Lookup::ALL.iter().zip(&self.edge_cache_requests) {
            let _ = writeln!(
                out,
                "rapidrtmp_edge_cache_requests_total{{result=\"{}\"}} {}",
                lookup.label(),
                n.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP rapidrtmp_refused_total Connections, requests and accepts turned away, by cause.\n\
             # TYPE rapidrtmp_refused_total counter"
        );
        for cause in Cause::ALL {
            let _ =
                writeln!(out, "rapidrtmp_refused_total{{cause=\"{}\"}} {}", cause.label(), self.refusals.count(cause));
        }
        self.chunk_write.render(&mut out, "rapidrtmp_chunk_write_seconds", "Time to write a chunk and its manifest.");
        self.segment_build.render(&mut out, "rapidrtmp_segment_build_seconds", "Time to build a segment at the edge.");
        self.restream.render(&mut out);
        self.webhooks.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapidrtmp_core::edge::Route;

    #[test]
    fn every_route_name_is_exported_from_the_start() {
        let paths = [
            "index.m3u8",
            "index.m3u8?start=1",
            "1/index.m3u8",
            "master.m3u8",
            "1/init-0.mp4",
            "1/2.m4s",
            "1/2.0.m4s",
            "1/2.flv",
        ];
        for path in paths {
            let (path, query) = path.split_once('?').map_or((path, None), |(p, q)| (p, Some(q)));
            let route = Route::parse(&format!("/live/cam/{path}")).unwrap_or_else(|| panic!("{path} is a route"));
            let route = route.with_window(query, 10_000).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(HTTP_ROUTES.contains(&route.name()), "{path}: {}", route.name());
        }
        let text = Metrics::default().render();
        for route in HTTP_ROUTES {
            for status in HTTP_STATUSES {
                let line = format!("rapidrtmp_http_requests_total{{route=\"{route}\",status=\"{status}\"}} 0\n");
                assert!(text.contains(&line), "{line}");
            }
        }
        for result in PUBLISH_RESULTS {
            assert!(text.contains(&format!("rapidrtmp_publish_attempts_total{{result=\"{result}\"}} 0\n")), "{result}");
        }
        for listener in PUBLISH_LISTENERS {
            assert!(text.contains(&format!("rapidrtmp_publishes_total{{listener=\"{listener}\"}} 0\n")), "{listener}");
        }
        for result in ["hit", "miss", "shared"] {
            assert!(
                text.contains(&format!("rapidrtmp_edge_cache_requests_total{{result=\"{result}\"}} 0\n")),
                "{result}"
            );
        }
        assert!(text.contains("\nrapidrtmp_edge_cache_bytes 0\n"));
    }
}

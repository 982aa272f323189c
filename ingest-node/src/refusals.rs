//! Refusals: what the node turns away (a failed accept, a connection over a cap, a deadline
//! passed, a wrong admin key, a request the edge cannot answer for want of its store). Each cause is counted for the metrics and logged at most once per
//! [`LOG_EVERY`], with how many happened since, so a flood cannot flood the log.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The shortest time between two log lines of one cause.
pub const LOG_EVERY: Duration = Duration::from_secs(1);

/// Why something was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// The RTMP listener's `accept` failed (out of file descriptors, most often).
    RtmpAccept,
    /// `--max-connections` RTMP connections were open.
    RtmpNodeLimit,
    /// `--max-connections-per-ip` RTMP connections were open from the address.
    RtmpAddressLimit,
    /// The HTTP listener's `accept` failed.
    HttpAccept,
    /// `--max-http-connections` HTTP connections were open.
    HttpNodeLimit,
    /// `--max-http-connections-per-ip` HTTP connections were open from the address.
    HttpAddressLimit,
    /// An HTTP client sent no complete request head in time (slow headers, or nothing).
    HttpHeaderTimeout,
    /// An HTTP client took nothing of a response in time (a slow or stalled reader).
    HttpWriteTimeout,
    /// An HTTP client did not send its request body in time.
    HttpBodyTimeout,
    /// A TLS handshake did not finish in time, or failed.
    TlsHandshake,
    /// An admin API request came with a missing or wrong key.
    AdminAuth,
    /// The edge answered `503`: the store did not answer.
    EdgeStore,
    /// The edge's live origin (`rapidrtmp edge --origin`) did not answer.
    EdgeOrigin,
}

impl Cause {
    /// Every cause, in the order the metrics list them.
    pub const ALL: [Self; 13] = [
        Self::RtmpAccept,
        Self::RtmpNodeLimit,
        Self::RtmpAddressLimit,
        Self::HttpAccept,
        Self::HttpNodeLimit,
        Self::HttpAddressLimit,
        Self::HttpHeaderTimeout,
        Self::HttpWriteTimeout,
        Self::HttpBodyTimeout,
        Self::TlsHandshake,
        Self::AdminAuth,
        Self::EdgeStore,
        Self::EdgeOrigin,
    ];

    /// The cause's label value in the metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::RtmpAccept => "rtmp_accept_error",
            Self::RtmpNodeLimit => "rtmp_connection_limit",
            Self::RtmpAddressLimit => "rtmp_connection_limit_per_ip",
            Self::HttpAccept => "http_accept_error",
            Self::HttpNodeLimit => "http_connection_limit",
            Self::HttpAddressLimit => "http_connection_limit_per_ip",
            Self::HttpHeaderTimeout => "http_header_timeout",
            Self::HttpWriteTimeout => "http_write_timeout",
            Self::HttpBodyTimeout => "http_body_timeout",
            Self::TlsHandshake => "tls_handshake",
            Self::AdminAuth => "admin_auth",
            Self::EdgeStore => "edge_store_error",
            Self::EdgeOrigin => "edge_origin_error",
        }
    }

    /// Its place in [`Cause::ALL`], which lists the causes in the order they are declared
    /// (a unit test checks it).
    fn index(self) -> usize {
        self as usize
    }
}

/// The counts and the log throttle of every cause.
#[derive(Default)]
pub struct Refusals {
    counts: [AtomicU64; Cause::ALL.len()],
    /// Per cause: when it was last logged, and how many happened since.
    throttle: Mutex<[(Option<Instant>, u64); Cause::ALL.len()]>,
}

impl Refusals {
    /// Counts one refusal; `Some(n)` when it may be logged now, `n` being the refusals of this
    /// cause since the last line (this one included).
    pub fn note(&self, cause: Cause) -> Option<u64> {
        self.note_at(cause, Instant::now())
    }

    fn note_at(&self, cause: Cause, now: Instant) -> Option<u64> {
        let i = cause.index();
        self.counts[i].fetch_add(1, Relaxed);
        let mut throttle = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        let (last, pending) = &mut throttle[i];
        *pending += 1;
        if last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            return None;
        }
        *last = Some(now);
        Some(std::mem::take(pending))
    }

    /// How many refusals of `cause` there have been.
    pub fn count(&self, cause: Cause) -> u64 {
        self.counts[cause.index()].load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_is_listed_in_its_place() {
        for (i, cause) in Cause::ALL.iter().enumerate() {
            assert_eq!(cause.index(), i, "{cause:?}");
        }
        let labels: std::collections::BTreeSet<_> = Cause::ALL.iter().map(|c| c.label()).collect();
        assert_eq!(labels.len(), Cause::ALL.len(), "labels are distinct");
    }

    #[test]
    fn logs_once_a_second_with_the_count_since() {
        let r = Refusals::default();
        let t0 = Instant::now();
        assert_eq!(r.note_at(Cause::HttpAccept, t0), Some(1));
        for i in 1..100 {
            assert_eq!(r.note_at(Cause::HttpAccept, t0 + Duration::from_millis(i)), None);
        }
        // Another cause has its own throttle.
        assert_eq!(r.note_at(Cause::AdminAuth, t0), Some(1));
        assert_eq!(r.note_at(Cause::HttpAccept, t0 + LOG_EVERY), Some(100));
        assert_eq!((r.count(Cause::HttpAccept), r.count(Cause::AdminAuth), r.count(Cause::RtmpAccept)), (101, 1, 0));
    }
}

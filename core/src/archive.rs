//! The archive's index objects (docs/storage.md, "Archive"): how any edge finds the chunks of
//! any time window with a bounded number of reads, however old the stream.
//!
//! - A **bucket** ([`Bucket`], [`crate::layout::bucket_key`]) lists the chunks whose wall-clock
//!   span overlaps one [`BUCKET_MS`] slice of time. The writer rewrites the bucket it is filling
//!   after each chunk (before the manifest), and never again once it has moved on to a later
//!   bucket: a bucket is then sealed. A bucket holds at most [`MAX_BUCKET_ENTRIES`] entries; a
//!   full one is sealed and the slice goes on in its next part (at most [`MAX_BUCKET_PARTS`]).
//!   A window reads exactly the buckets it overlaps, named by their keys (no listing): a
//!   1-hour window is 6 reads, a 24-hour window 144, whatever the stream's age.
//! - A **session record** ([`SessionRecord`], [`crate::layout::session_key`]) says when a
//!   publishing session started and ended, how many bytes and chunks it has: the recordings of
//!   a stream are its session records.
//!
//! Where a chunk is in time is the wall clock the ingest node gave its start
//! ([`ChunkEntry::wall_clock_ms`], the playlists' `EXT-X-PROGRAM-DATE-TIME`) and its duration.

use alloc::{format, string::String, vec::Vec};
use core::ops::Range;

use serde::{Deserialize, Serialize};

use crate::date::{parse_time, TimeError};
use crate::manifest::{ChunkEntry, MAX_FIGURE};

/// The index objects' format version.
pub const ARCHIVE_VERSION: u32 = 1;
/// The span of time one bucket covers, milliseconds: ten minutes.
pub const BUCKET_MS: u64 = 600_000;
/// Most entries of one bucket part: at 0.1 s chunks, a ten-minute slice fills 6 parts.
pub const MAX_BUCKET_ENTRIES: usize = 1024;
/// Most parts of one bucket: the chunks of one slice beyond `MAX_BUCKET_PARTS ×
/// MAX_BUCKET_ENTRIES` (over 100 chunks a second) are not indexed.
pub const MAX_BUCKET_PARTS: u32 = 64;
/// Largest index object (bucket part or session record) accepted from the store.
pub const MAX_INDEX_LEN: usize = 1 << 20;
/// Longest window one playlist lists, milliseconds: 24 hours (144 bucket reads).
pub const MAX_WINDOW_MS: u64 = 24 * 3_600_000;

/// One part of a bucket: the chunks whose span overlaps `[start_ms, start_ms + BUCKET_MS)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    /// [`ARCHIVE_VERSION`].
    pub version: u32,
    /// Start of the slice, milliseconds since the Unix epoch (a multiple of [`BUCKET_MS`]).
    pub start_ms: u64,
    /// Its part: 0, then 1, 2 … once a part is full.
    pub part: u32,
    /// How long the stream's writer keeps chunks after they leave the live window
    /// (`--retention`), milliseconds, when it deletes them: a chunk whose end is older than
    /// that may be gone and is not listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_ms: Option<u64>,
    /// It is full ([`MAX_BUCKET_ENTRIES`]): sealed, and the slice goes on in part `part + 1`.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub full: bool,
    /// The chunks, in the order they were written. The init URI of an entry says where the
    /// codec configuration changes.
    pub chunks: Vec<ChunkEntry>,
}

/// What a stream's writer keeps of one publishing session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    /// [`ARCHIVE_VERSION`].
    pub version: u32,
    /// The session id.
    pub session: String,
    /// Wall-clock start of its first chunk, milliseconds since the Unix epoch.
    pub start_ms: u64,
    /// Wall-clock end of its last chunk written.
    pub end_ms: u64,
    /// Bytes of its chunks.
    pub bytes: u64,
    /// How many chunks it has.
    pub chunks: u64,
    /// Sequence number of its first chunk.
    pub first_sequence: u64,
    /// Sequence number of its last chunk.
    pub last_sequence: u64,
    /// The writer's retention, as in [`Bucket::retention_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_ms: Option<u64>,
}

/// Why an index object was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// Larger than [`MAX_INDEX_LEN`].
    #[error("index object is {0} bytes, more than the 1 MiB limit")]
    TooLarge(usize),
    /// Not valid JSON for this format.
    #[error("index object is not valid: {0}")]
    Invalid(String),
    /// A format version we do not know.
    #[error("index object version {0} is not supported")]
    Version(u32),
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, IndexError> {
    if bytes.len() > MAX_INDEX_LEN {
        return Err(IndexError::TooLarge(bytes.len()));
    }
    serde_json::from_slice(bytes).map_err(|e| IndexError::Invalid(format!("{e}")))
}

fn check_version(version: u32) -> Result<(), IndexError> {
    match version {
        ARCHIVE_VERSION => Ok(()),
        v => Err(IndexError::Version(v)),
    }
}

impl Bucket {
    /// A new, empty part of the bucket starting at `start_ms`.
    pub fn new(start_ms: u64, part: u32, retention_ms: Option<u64>) -> Self {
        Self { version: ARCHIVE_VERSION, start_ms, part, retention_ms, full: false, chunks: Vec::new() }
    }

    /// Parses a bucket part.
    pub fn parse(bytes: &[u8]) -> Result<Self, IndexError> {
        let b: Self = parse(bytes)?;
        check_version(b.version)?;
        if b.chunks.len() > MAX_BUCKET_ENTRIES {
            return Err(IndexError::Invalid(format!("{} entries, more than {MAX_BUCKET_ENTRIES}", b.chunks.len())));
        }
        let figures = b.chunks.iter().flat_map(|c| [c.sequence, c.bytes, c.wall_clock_ms, c.duration_ms]);
        if b.start_ms > MAX_FIGURE || figures.into_iter().any(|f| f > MAX_FIGURE) {
            return Err(IndexError::Invalid("a figure above 2^53 - 1".into()));
        }
        if !b.chunks.iter().all(|c| crate::layout::valid_name(&c.session)) {
            return Err(IndexError::Invalid("an entry's session is not a session id".into()));
        }
        Ok(b)
    }

    /// Serializes it.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Adds `entry`; the part is then full when it holds [`MAX_BUCKET_ENTRIES`].
    pub fn push(&mut self, entry: ChunkEntry) {
        self.chunks.push(entry);
        self.full = self.chunks.len() >= MAX_BUCKET_ENTRIES;
    }
}

impl SessionRecord {
    /// The record of a session whose first chunk is `first` (`bytes` long).
    pub fn new(first: &ChunkEntry, bytes: u64, retention_ms: Option<u64>) -> Self {
        Self {
            version: ARCHIVE_VERSION,
            session: first.session.clone(),
            start_ms: first.wall_clock_ms,
            end_ms: end_ms(first),
            bytes,
            chunks: 1,
            first_sequence: first.sequence,
            last_sequence: first.sequence,
            retention_ms,
        }
    }

    /// Counts chunk `entry` (`bytes` long) of the session.
    pub fn add(&mut self, entry: &ChunkEntry, bytes: u64) {
        self.end_ms = self.end_ms.max(end_ms(entry));
        self.bytes = self.bytes.saturating_add(bytes);
        self.chunks = self.chunks.saturating_add(1);
        self.last_sequence = entry.sequence;
    }

    /// Parses a session record.
    pub fn parse(bytes: &[u8]) -> Result<Self, IndexError> {
        let r: Self = parse(bytes)?;
        check_version(r.version)?;
        if !crate::layout::valid_name(&r.session) {
            return Err(IndexError::Invalid("session is not a session id".into()));
        }
        if [r.start_ms, r.end_ms, r.bytes, r.chunks, r.first_sequence, r.last_sequence].iter().any(|&f| f > MAX_FIGURE)
        {
            return Err(IndexError::Invalid("a figure above 2^53 - 1".into()));
        }
        Ok(r)
    }

    /// Serializes it.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Where what is held of it starts at `now_ms`: its start, or for a writer that deletes
    /// chunks, no earlier than `now_ms` less the retention.
    pub fn held_from_ms(&self, now_ms: u64) -> u64 {
        let oldest = self.retention_ms.map_or(0, |r| now_ms.saturating_sub(r));
        self.start_ms.max(oldest).min(self.end_ms)
    }
}

/// Wall-clock end of a chunk, milliseconds since the Unix epoch.
pub fn end_ms(c: &ChunkEntry) -> u64 {
    c.wall_clock_ms.saturating_add(c.duration_ms)
}

/// The start of the bucket holding wall-clock time `ms`.
pub fn bucket_start(ms: u64) -> u64 {
    ms - ms % BUCKET_MS
}

/// The starts of the buckets a chunk is listed in: those its span `[start, end)` overlaps (at
/// least its start's).
pub fn buckets_of(c: &ChunkEntry) -> impl Iterator<Item = u64> {
    buckets_overlapping(c.wall_clock_ms..end_ms(c).max(c.wall_clock_ms.saturating_add(1)))
}

/// The starts of the buckets that overlap the window `[from, to)`, oldest first: exactly
/// those an edge reads for it.
pub fn buckets_overlapping(window: Range<u64>) -> impl Iterator<Item = u64> {
    let first = bucket_start(window.start);
    let count = if window.end <= window.start { 0 } else { (window.end - 1 - first) / BUCKET_MS + 1 };
    (0..count).map(move |i| first + i * BUCKET_MS)
}

/// Whether `c` is still held at `now_ms` by a writer that keeps chunks `retention_ms`:
/// it is listed only while its end is younger than the retention, so nothing listed is gone.
pub fn held(c: &ChunkEntry, retention_ms: Option<u64>, now_ms: u64) -> bool {
    retention_ms.is_none_or(|r| end_ms(c).saturating_add(r) > now_ms)
}

/// The chunks of `buckets` (parts in the order read) held at `now_ms` whose span overlaps
/// `window`, each once, in sequence order.
pub fn window_entries(buckets: &[Bucket], window: Range<u64>, now_ms: u64) -> Vec<ChunkEntry> {
    let mut out: Vec<ChunkEntry> = buckets
        .iter()
        .flat_map(|b| b.chunks.iter().filter(move |c| held(c, b.retention_ms, now_ms)))
        .filter(|c| c.wall_clock_ms < window.end && end_ms(c) > window.start)
        .cloned()
        .collect();
    out.sort_by_key(|c| c.sequence);
    out.dedup_by(|a, b| a.sequence == b.sequence && a.session == b.session);
    out
}

/// A time window asked of an archive playlist (`?start=…&end=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowQuery {
    /// `start`, milliseconds since the Unix epoch.
    pub start_ms: u64,
    /// `end`, if given.
    pub end_ms: Option<u64>,
}

impl WindowQuery {
    /// The window of a media playlist's query: `None` without `start` or `end` (the live
    /// playlist); `Err` with what is wrong for a malformed or reversed window, one that starts
    /// after `now_ms`, or one longer than [`MAX_WINDOW_MS`].
    pub fn parse(query: Option<&str>, now_ms: u64) -> Result<Option<Self>, String> {
        let (start, end) = query_times(query)?;
        let start_ms = match (start, end) {
            (None, None) => return Ok(None),
            (None, Some(_)) => return Err("end without start".into()),
            (Some(s), _) => s,
        };
        if start_ms > now_ms {
            return Err(format!("start {} is in the future", crate::date::iso8601(start_ms)));
        }
        if let Some(end_ms) = end {
            if end_ms <= start_ms {
                return Err("end is not after start".into());
            }
            if end_ms - start_ms > MAX_WINDOW_MS {
                return Err(format!(
                    "the window is longer than {} hours, the most one playlist lists",
                    MAX_WINDOW_MS / 3_600_000
                ));
            }
        }
        Ok(Some(Self { start_ms, end_ms: end }))
    }
}

/// The `start` and `end` of a query (an archive window's, a clip's), as [`parse_time`] reads
/// them, each if given; `Err` with what is wrong for a malformed one or one given twice.
pub(crate) fn query_times(query: Option<&str>) -> Result<(Option<u64>, Option<u64>), String> {
    let (mut start, mut end) = (None, None);
    for pair in query.unwrap_or("").split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            "start" => &mut start,
            "end" => &mut end,
            _ => continue,
        };
        if slot.is_some() {
            return Err(format!("{key} is given twice"));
        }
        let value = percent_decoded_colons(value);
        *slot = Some(parse_time(&value).map_err(|e: TimeError| format!("{key}={value:?} {e}"))?);
    }
    Ok((start, end))
}

/// `value` with `%3A`/`%3a` (a colon, as browsers may write it in a query) and `%2B`/`%2b` (a
/// plus) decoded; any other escape is left as it is (and then refused as malformed).
pub(crate) fn percent_decoded_colons(value: &str) -> String {
    value.replace("%3A", ":").replace("%3a", ":").replace("%2B", "+").replace("%2b", "+")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sequence: u64, wall: u64, duration: u64) -> ChunkEntry {
        ChunkEntry {
            session: "s".into(),
            sequence,
            init: "s/init-0.mp4".into(),
            start_ms: 0,
            duration_ms: duration,
            bytes: 10,
            wall_clock_ms: wall,
            independent: true,
        }
    }

    #[test]
    fn a_window_reads_exactly_the_buckets_it_overlaps() {
        let hour = 3_600_000;
        let t = 1_796_570_400_000; // a multiple of ten minutes
        assert_eq!(buckets_overlapping(t..t + hour).count(), 6);
        assert_eq!(buckets_overlapping(t..t + 24 * hour).count(), 144);
        assert_eq!(buckets_overlapping(t + 1..t + hour + 1).count(), 7);
        assert_eq!(buckets_overlapping(t..t).count(), 0);
        assert_eq!(buckets_overlapping(t - 1..t + 1).collect::<Vec<_>>(), [t - BUCKET_MS, t]);
        // A year-old stream costs the same.
        assert_eq!(buckets_overlapping(1000 * hour..1001 * hour).count(), 6);
    }

    #[test]
    fn a_chunk_over_a_bucket_edge_is_in_both() {
        assert_eq!(buckets_of(&entry(0, BUCKET_MS - 500, 1000)).collect::<Vec<_>>(), [0, BUCKET_MS]);
        assert_eq!(buckets_of(&entry(0, BUCKET_MS - 500, 500)).collect::<Vec<_>>(), [0]);
        assert_eq!(buckets_of(&entry(0, 5, 0)).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn windows_list_overlapping_held_chunks_once() {
        let mut a = Bucket::new(0, 0, Some(60_000));
        let mut b = Bucket::new(BUCKET_MS, 0, Some(60_000));
        a.push(entry(1, BUCKET_MS - 2000, 2000));
        a.push(entry(2, BUCKET_MS - 500, 1000));
        b.push(entry(2, BUCKET_MS - 500, 1000));
        b.push(entry(3, BUCKET_MS + 500, 1000));
        let got = |w: Range<u64>, now| window_entries(&[a.clone(), b.clone()], w, now);
        let seqs = |v: Vec<ChunkEntry>| v.iter().map(|c| c.sequence).collect::<Vec<_>>();
        assert_eq!(seqs(got(0..2 * BUCKET_MS, BUCKET_MS)), [1, 2, 3]);
        assert_eq!(seqs(got(BUCKET_MS..BUCKET_MS + 1, BUCKET_MS)), [2]);
        // A minute after its end, a chunk kept a minute is no longer listed.
        assert_eq!(seqs(got(0..2 * BUCKET_MS, BUCKET_MS + 60_000)), [2, 3]);
    }

    #[test]
    fn full_buckets_seal() {
        let mut b = Bucket::new(0, 0, None);
        for i in 0..MAX_BUCKET_ENTRIES as u64 {
            assert!(!b.full);
            b.push(entry(i, i, 1));
        }
        assert!(b.full);
        assert_eq!(Bucket::parse(&b.to_json()), Ok(b));
        assert!(Bucket::parse(b"{").is_err());
        assert!(matches!(
            Bucket::parse(br#"{"version":2,"startMs":0,"part":0,"chunks":[]}"#),
            Err(IndexError::Version(2))
        ));
    }

    #[test]
    fn window_queries_say_what_is_wrong() {
        let now = 1_796_570_400_000;
        assert_eq!(WindowQuery::parse(None, now), Ok(None));
        assert_eq!(WindowQuery::parse(Some("_HLS_msn=3"), now), Ok(None));
        assert_eq!(
            WindowQuery::parse(Some("start=1796570300&end=2026-12-06T15%3A20%3A00Z"), now),
            Ok(Some(WindowQuery { start_ms: now - 100_000, end_ms: Some(now) }))
        );
        for (bad, says) in [
            ("start=yesterday", "start=\"yesterday\" is neither"),
            ("end=1796570300", "end without start"),
            ("start=1796570300&end=1796570200", "end is not after start"),
            ("start=1796570300&end=1796570300", "end is not after start"),
            ("start=1796570500", "in the future"),
            ("start=1&end=1796570300", "longer than 24 hours"),
            ("start=1&start=2", "given twice"),
            ("start=2026-02-30T00:00:00Z", "out of range"),
        ] {
            let e = WindowQuery::parse(Some(bad), now).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn what_is_held_of_a_session() {
        let mut r = SessionRecord::new(&entry(4, 1000, 2000), 10, Some(5000));
        r.add(&entry(5, 3000, 2000), 10);
        assert_eq!((r.start_ms, r.end_ms, r.bytes, r.chunks, r.last_sequence), (1000, 5000, 20, 2, 5));
        assert_eq!(r.held_from_ms(4000), 1000);
        assert_eq!(r.held_from_ms(8000), 3000);
        assert_eq!(SessionRecord::parse(&r.to_json()), Ok(r));
    }
}

//! The live edge (LL-HLS, RFC 8216bis §6.2.5), sans-IO: the Low-Latency playlist of a stream
//! being published, whether a blocking request can be answered yet, and which part a part URL
//! names.
//!
//! Only the ingest node publishing a stream knows its open segment, so it is the one host of
//! this module: it keeps a [`LiveChunk`] for the open chunk and the chunks closed in the last
//! target durations, and hands them over with the stored manifest. Parts of closed chunks are
//! built from the chunk file ([`super::respond`]) by any edge.

use alloc::{borrow::Cow, format, string::String, vec::Vec};

use super::response::Response;
use super::route::PLAYLIST_TYPE;
use crate::chunk::PartInfo;
use crate::hls::{self, LowLatency, MediaPlaylist};
use crate::manifest::{ChunkEntry, Manifest};
use crate::playlist::manifest_playlist;

/// Default part target duration (`--part-duration`), milliseconds.
pub const DEFAULT_PART_TARGET_MS: u64 = 333;
/// Parts are listed for the segments of the last this many target durations (§4.4.4.9 asks for
/// at least the last three).
pub const PARTS_LISTED_FOR_TARGETS: u64 = 3;
/// A blocking request not answered within this many target durations gets a 503 (§6.2.5.2).
pub const BLOCK_TIMEOUT_TARGETS: u64 = 3;
/// `Cache-Control` of a Low-Latency playlist that does not block: a cache in front asks again
/// every time (see [`LiveEdge::respond`]).
pub const CACHE_LIVE_PLAYLIST: &str = "no-cache";
/// `Cache-Control` of a 404 for a part that does not exist yet: short, so a cache in front is
/// never poisoned by a future part's 404.
pub const CACHE_FUTURE_PART: &str = "public, max-age=1";

/// A chunk of the live edge: closed (maybe not in the stored manifest yet), or the open one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveChunk {
    /// What the manifest records (or will) of it; for the open chunk, all but its duration and
    /// size.
    pub entry: ChunkEntry,
    /// Its parts so far.
    pub parts: Vec<PartInfo>,
    /// It is still being cut.
    pub open: bool,
}

/// What the ingest node knows of a stream it is publishing, beyond the stored manifest.
#[derive(Debug, Clone, Copy)]
pub struct LiveEdge<'a> {
    /// The part target duration.
    pub part_target_ms: u64,
    /// Recent chunks, oldest first; the open one, if any, last.
    pub chunks: &'a [LiveChunk],
}

/// The Low-Latency parameters of a playlist request (§6.2.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlaylistQuery {
    /// `_HLS_msn`: wait for this media sequence number.
    pub msn: Option<u64>,
    /// `_HLS_part`: wait for this part of segment `msn`.
    pub part: Option<u32>,
    /// `_HLS_skip=YES` (or `v2`): a delta update.
    pub skip: bool,
}

impl PlaylistQuery {
    /// Parses a query string (without `?`); other parameters are left alone. Each of these is
    /// a 400 (§6.2.5.2), with the error as its message: a number that is not canonical decimal
    /// (as in paths: no sign, no leading zero), `_HLS_skip` other than `YES` or `v2`, one of
    /// them given twice, `_HLS_part` without `_HLS_msn`.
    pub fn parse(query: Option<&str>) -> Result<Self, &'static str> {
        let mut q = Self::default();
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "_HLS_msn" if q.msn.is_some() => return Err("_HLS_msn is given twice"),
                "_HLS_part" if q.part.is_some() => return Err("_HLS_part is given twice"),
                "_HLS_skip" if q.skip => return Err("_HLS_skip is given twice"),
                "_HLS_msn" => {
                    let msn = crate::hls::parse_uri_number(value);
                    q.msn =
                        Some(msn.ok_or("_HLS_msn is not a media sequence number (decimal, no sign, no leading zero)")?);
                }
                "_HLS_part" => {
                    let part = crate::hls::parse_uri_number(value).and_then(|n| u32::try_from(n).ok());
                    q.part = Some(part.ok_or("_HLS_part is not a part index (decimal, no sign, no leading zero)")?);
                }
                "_HLS_skip" => match value {
                    "YES" | "v2" => q.skip = true,
                    _ => return Err("_HLS_skip is neither YES nor v2"),
                },
                _ => {}
            }
        }
        if q.part.is_some() && q.msn.is_none() {
            return Err("_HLS_part without _HLS_msn");
        }
        Ok(q)
    }

    /// Whether the request blocks until something exists.
    pub fn blocks(&self) -> bool {
        self.msn.is_some()
    }
}

/// Whether a playlist request can be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Answer now.
    Now,
    /// Wait until the live edge changes, then ask again (at most [`block_timeout_ms`]).
    Wait,
    /// Answer this (400: beyond what the server will wait for).
    Reject(Response),
}

/// How long a blocking request waits before its 503, for a playlist of `target_duration_s`.
pub fn block_timeout_ms(target_duration_s: u64) -> u64 {
    BLOCK_TIMEOUT_TARGETS * target_duration_s.max(1) * 1000
}

/// The Advance Part Limit (§6.2.5.2): three seconds' worth of parts, at most three part targets
/// of a second or more.
fn advance_part_limit(part_target_ms: u64) -> u64 {
    if part_target_ms < 1000 {
        3000 / part_target_ms.max(1)
    } else {
        3
    }
}

/// How many parts `parts` holds: a chunk has at most [`crate::chunk::MAX_PARTS`], so the count fits a part index.
fn part_count(parts: &[PartInfo]) -> u32 {
    u32::try_from(parts.len()).unwrap_or(u32::MAX)
}

impl LiveEdge<'_> {
    /// The last part listed: (segment, index).
    fn last_part(&self) -> Option<(u64, u32)> {
        let c = self.chunks.iter().rev().find(|c| !c.parts.is_empty())?;
        Some((c.entry.sequence, part_count(&c.parts) - 1))
    }

    /// The last complete segment, in the live edge or the manifest.
    fn last_complete(&self, manifest: Option<&Manifest>) -> Option<u64> {
        let live = self.chunks.iter().rev().find(|c| !c.open).map(|c| c.entry.sequence);
        let stored = manifest.and_then(|m| m.chunks.last()).map(|c| c.sequence);
        live.max(stored)
    }

    /// The open chunk.
    pub fn open(&self) -> Option<&LiveChunk> {
        self.chunks.last().filter(|c| c.open)
    }

    /// Whether a request with `query` can be answered now (§6.2.5.2): at once without `_HLS_msn`;
    /// once the playlist has segment `msn` (with `_HLS_part`: part `part` of it, or a later
    /// one); 400 for a segment more than two ahead, or a part beyond the Advance Part Limit.
    ///
    /// Between the close of one chunk and the open of the next (a new session's chunk opens at
    /// its first keyframe, a tag later), every request waits: a playlist shown then would end
    /// with a complete segment and no part nor hint of the next, which the next playlist
    /// contradicts (hls.js: `media sequence mismatch` on its next delta update).
    pub fn readiness(&self, manifest: Option<&Manifest>, query: &PlaylistQuery) -> Readiness {
        let between_chunks = !self.chunks.is_empty() && self.open().is_none();
        let Some(msn) = query.msn else {
            return if between_chunks { Readiness::Wait } else { Readiness::Now };
        };
        let last_msn = self.open().map(|c| c.entry.sequence).max(self.last_complete(manifest)).unwrap_or(0);
        let last_part = self.last_part();
        let reject = |why: String| Readiness::Reject(Response::error(400, why));
        if msn > last_msn + 2 {
            return reject(format!("_HLS_msn={msn} is more than two segments ahead of {last_msn}"));
        }
        let Some(part) = query.part else {
            return if !between_chunks && self.last_complete(manifest).is_some_and(|s| s >= msn) {
                Readiness::Now
            } else {
                Readiness::Wait
            };
        };
        let ahead = match last_part {
            Some((s, i)) if s == msn => u64::from(part).saturating_sub(u64::from(i)),
            Some((s, _)) if s > msn => 0,
            _ => u64::from(part) + 1,
        };
        if ahead > advance_part_limit(self.part_target_ms) {
            return reject(format!("_HLS_part={part} of segment {msn} is beyond the advance part limit"));
        }
        if !between_chunks && last_part.is_some_and(|last| last >= (msn, part)) {
            Readiness::Now
        } else {
            Readiness::Wait
        }
    }

    /// The Low-Latency media playlist: the stored window, the chunks closed since, the parts of
    /// the last [`PARTS_LISTED_FOR_TARGETS`] target durations, the open segment's parts and the
    /// next part's hint; with `skip`, a delta update (§6.2.5.1) leaving out the segments before
    /// `CAN-SKIP-UNTIL`.
    pub fn playlist(&self, manifest: Option<&Manifest>, skip: bool) -> MediaPlaylist {
        let stored = manifest.map_or(&[][..], |m| &m.chunks[..]);
        let after = stored.last().map(|c| c.sequence);
        let closed = self.chunks.iter().filter(|c| !c.open && after.is_none_or(|a| c.entry.sequence > a));
        let entries: Vec<&ChunkEntry> = stored.iter().chain(closed.map(|c| &c.entry)).collect();
        let open = self.open();
        let discontinuity_sequence = manifest.map_or(0, |m| m.discontinuity_sequence);
        let mut p = manifest_playlist(&entries, discontinuity_sequence, false);
        if let (true, Some(open)) = (entries.is_empty(), open) {
            p.media_sequence = open.entry.sequence; // the open segment is the first one
        }
        let target = p.target_duration();
        // Parts of the closed segments that end within the last target durations.
        let end: u64 = p.segments.iter().map(|s| s.duration_ms).sum();
        let mut elapsed = 0;
        for (segment, entry) in p.segments.iter_mut().zip(&entries) {
            elapsed += segment.duration_ms;
            if end - elapsed < PARTS_LISTED_FOR_TARGETS * target * 1000 {
                if let Some(live) = self.chunks.iter().find(|c| c.entry.sequence == entry.sequence) {
                    segment.parts = parts(&live.entry, &live.parts);
                }
            }
        }
        let mut hint = None;
        if let Some(open) = open {
            let prev = entries.last().copied();
            let new_session = prev.is_none_or(|p| p.session != open.entry.session);
            p.segments.push(hls::Segment {
                uri: hls::segment_uri(&open.entry.session, open.entry.sequence),
                duration_ms: 0,
                discontinuity: new_session && prev.is_some(),
                map: prev.is_none_or(|p| p.init != open.entry.init).then(|| open.entry.init.clone()),
                program_date_time_ms: new_session.then_some(open.entry.wall_clock_ms),
                parts: parts(&open.entry, &open.parts),
                open: true,
            });
            hint = Some(hls::part_uri(&open.entry.session, open.entry.sequence, part_count(&open.parts)));
        }
        p.independent_segments = p.independent_segments && open.is_none_or(|o| o.entry.independent);
        let skipped = if skip { skip_until(&mut p, end, target) } else { 0 };
        p.low_latency =
            Some(LowLatency { part_target_ms: self.part_target_ms, preload_hint: hint, skipped_segments: skipped });
        p
    }

    /// The response to a playlist request that [`Self::readiness`] said can be answered.
    /// Nothing to list yet (no segment, no part) is a 404, as from the store.
    pub fn respond(&self, manifest: Option<&Manifest>, query: &PlaylistQuery) -> Response {
        let playlist = self.playlist(manifest, query.skip);
        if playlist.segments.iter().all(|s| s.open && s.parts.is_empty()) {
            return Response::not_found();
        }
        // Appendix B: a blocking response's URL names what it waited for, so it never changes.
        // A live playlist changes with every part, and a player starts from the first one it
        // gets, PART-HOLD-BACK behind its last part: a cached copy (nginx says no `Age`) starts
        // a viewer as far further behind as the copy is old, and at its default playback rate
        // it never catches up.
        let cache = if query.blocks() {
            Cow::Owned(format!("public, max-age={}", 6 * playlist.target_duration()))
        } else {
            Cow::Borrowed(CACHE_LIVE_PLAYLIST)
        };
        Response {
            status: 200,
            content_type: PLAYLIST_TYPE,
            cache_control: cache,
            body: playlist.render().into_bytes(),
        }
    }
}

/// Makes `p` a delta update (§6.2.5.1): the segments that end before the skip boundary
/// (`CAN-SKIP-UNTIL` before the end, `end` ms after the first segment's start) are left out;
/// the first segment kept carries the map that holds for it. Media and discontinuity sequence
/// numbers stay those of the whole playlist, and no wall-clock time is made up for the first
/// segment kept: the player has the skipped segments' (hls.js, given one, misplaces the live
/// edge). Returns how many were left out.
fn skip_until(p: &mut MediaPlaylist, end: u64, target_s: u64) -> u64 {
    let boundary = end.saturating_sub(hls::can_skip_until_ms(target_s));
    let (mut at, mut map, mut skipped) = (0, None, 0);
    while let Some(first) = p.segments.first() {
        if first.open || at + first.duration_ms > boundary {
            break;
        }
        at += first.duration_ms;
        map = first.map.clone().or(map);
        p.segments.remove(0);
        skipped += 1;
    }
    if let Some(first) = p.segments.first_mut() {
        first.map = first.map.take().or(map);
    }
    skipped
}

fn parts(entry: &ChunkEntry, parts: &[PartInfo]) -> Vec<hls::Part> {
    parts
        .iter()
        .map(|p| hls::Part {
            uri: hls::part_uri(&entry.session, entry.sequence, p.index),
            duration_ms: p.duration_ms,
            independent: p.independent,
        })
        .collect()
}

/// What a part URL names, on the node publishing the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartState {
    /// A part of the open chunk that is finished: the host has its bytes.
    Open,
    /// The next part of the open chunk (the preload hint): hold the request until it is finished.
    Next,
    /// A part further ahead: a 404 cached at most a second ([`CACHE_FUTURE_PART`]).
    Future,
    /// A part of a closed chunk, or of a chunk this edge does not know: built from the chunk.
    Closed,
}

impl LiveEdge<'_> {
    /// What part `index` of segment `sequence` of `session` is.
    pub fn part_state(&self, session: &str, sequence: u64, index: u32) -> PartState {
        match self.open() {
            Some(open) if open.entry.session == session && open.entry.sequence == sequence => {
                match (index as usize).cmp(&open.parts.len()) {
                    core::cmp::Ordering::Less => PartState::Open,
                    core::cmp::Ordering::Equal => PartState::Next,
                    core::cmp::Ordering::Greater => PartState::Future,
                }
            }
            Some(open) if sequence > open.entry.sequence => PartState::Future,
            _ => PartState::Closed,
        }
    }
}

/// A 404 for a part that may yet exist.
pub fn future_part() -> Response {
    Response { cache_control: Cow::Borrowed(CACHE_FUTURE_PART), ..Response::not_found() }
}

/// A 503 for a blocking request that waited too long.
pub fn timed_out() -> Response {
    Response::error(503, "the live edge did not advance in time".into())
}

/// A 503 for a blocking request that finds as many requests waiting on the stream as the host
/// lets wait (the host adds when to retry).
pub fn too_many_waiters() -> Response {
    Response::error(503, "too many requests are waiting for this stream's live edge; retry shortly".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::StreamState;
    use crate::timeline::Millis;
    use alloc::{string::ToString, vec};

    fn entry(sequence: u64) -> ChunkEntry {
        ChunkEntry {
            session: "s".into(),
            sequence,
            init: "s/init-1.mp4".into(),
            start_ms: (sequence - 1) * 2000,
            duration_ms: 2000,
            bytes: 500_000,
            wall_clock_ms: 1_700_000_000_000,
            independent: true,
        }
    }

    /// `n` parts of 333 ms from `start`, the last one shorter, tiling 2 s (or `n` × 333 ms).
    fn parts_of(start: u64, n: u32, whole: bool) -> Vec<PartInfo> {
        (0..n)
            .map(|i| {
                let at = start + u64::from(i) * 333;
                let duration = if whole && i + 1 == n { start + 2000 - at } else { 333 };
                PartInfo {
                    index: i,
                    start: Millis(at),
                    duration_ms: duration,
                    independent: i == 0,
                    first_tag: i * 10,
                    tags: 10,
                }
            })
            .collect()
    }

    /// Segments 1–8 stored, 9 closed but not stored yet, 10 open with two parts.
    fn stream() -> (Manifest, Vec<LiveChunk>) {
        let mut m = Manifest::new("a", 0);
        for s in 1..=8 {
            m.push_chunk(entry(s), 10);
        }
        let closed = |s: u64| LiveChunk { entry: entry(s), parts: parts_of((s - 1) * 2000, 7, true), open: false };
        let open = LiveChunk {
            entry: ChunkEntry { duration_ms: 0, bytes: 0, ..entry(10) },
            parts: parts_of(18_000, 2, false),
            open: true,
        };
        (m, vec![closed(8), closed(9), open])
    }

    fn edge(chunks: &[LiveChunk]) -> LiveEdge<'_> {
        LiveEdge { part_target_ms: 333, chunks }
    }

    #[test]
    fn ll_playlist_lists_recent_parts_the_open_segment_and_the_next_part() {
        let (m, chunks) = stream();
        let text = edge(&chunks).playlist(Some(&m), false).render();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&"#EXT-X-VERSION:9"));
        assert!(lines.contains(&"#EXT-X-PART-INF:PART-TARGET=0.333"));
        assert!(lines.contains(
            &"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,HOLD-BACK=6.000,PART-HOLD-BACK=0.666"
        ));
        assert!(lines.contains(&"#EXT-X-MEDIA-SEQUENCE:1"), "the stored window, from 1");
        let segments: Vec<&str> =
            lines.iter().copied().filter(|l| l.ends_with(".m4s") && !l.starts_with('#')).collect();
        assert_eq!(
            segments,
            (1..=9).map(|s| alloc::format!("s/{s}.m4s")).collect::<Vec<_>>(),
            "and the one closed since"
        );
        // Parts of the segments ending in the last three target durations that the edge knows
        // (8, 9), and of the open one; none of older segments.
        let parts: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("#EXT-X-PART:")).collect();
        assert_eq!(parts.len(), 7 + 7 + 2);
        assert_eq!(parts[0], "#EXT-X-PART:DURATION=0.333,URI=\"s/8.0.m4s\",INDEPENDENT=YES");
        assert_eq!(parts[6], "#EXT-X-PART:DURATION=0.002,URI=\"s/8.6.m4s\"");
        assert_eq!(*parts.last().unwrap(), "#EXT-X-PART:DURATION=0.333,URI=\"s/10.1.m4s\"");
        assert_eq!(
            lines.iter().position(|l| *l == "s/9.m4s").unwrap() + 1,
            lines.iter().position(|l| l.contains("s/10.0.m4s")).unwrap()
        );
        // The hint names the next part, and is the last line: no ENDLIST while live.
        assert_eq!(*lines.last().unwrap(), "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s/10.2.m4s\"");
        let next = edge(&chunks).part_state("s", 10, 2);
        assert_eq!(next, PartState::Next, "the hinted part is the one a request waits for");
    }

    #[test]
    fn ll_playlist_part_durations_follow_the_rules() {
        let (m, chunks) = stream();
        let p = edge(&chunks).playlist(Some(&m), false);
        let ll = p.low_latency.as_ref().unwrap();
        assert!(ll.part_hold_back_ms() >= 2 * ll.part_target_ms, "§4.4.3.8: at least twice the part target");
        for s in &p.segments {
            for (i, part) in s.parts.iter().enumerate() {
                assert!(part.duration_ms <= ll.part_target_ms);
                // Short only where a segment or an independent part comes next.
                let next_starts_afresh = s.parts.get(i + 1).is_none_or(|next| next.independent);
                assert!(next_starts_afresh || part.duration_ms * 100 >= ll.part_target_ms * 85);
            }
            if !s.open && !s.parts.is_empty() {
                assert_eq!(s.parts.iter().map(|p| p.duration_ms).sum::<u64>(), s.duration_ms, "parts sum to {}", s.uri);
            }
        }
    }

    #[test]
    fn an_ended_stream_has_no_parts_nor_hint() {
        let (mut m, _) = stream();
        m.state = StreamState::Ended;
        let text = crate::playlist::media_playlist(&m);
        assert!(text.ends_with("#EXT-X-ENDLIST\n"));
        assert!(!text.contains("#EXT-X-PART") && !text.contains("#EXT-X-PRELOAD-HINT"));
    }

    #[test]
    fn blocking_reload_rules() {
        let (m, chunks) = stream();
        let e = edge(&chunks);
        let ready = |q: &str| e.readiness(Some(&m), &PlaylistQuery::parse(Some(q)).unwrap());
        assert_eq!(ready(""), Readiness::Now, "without _HLS_msn: at once");
        assert_eq!(ready("_HLS_msn=10&_HLS_part=1"), Readiness::Now, "the part exists");
        assert_eq!(ready("_HLS_msn=9&_HLS_part=9"), Readiness::Now, "past segment 9's parts: a later part exists");
        assert_eq!(ready("_HLS_msn=10&_HLS_part=2"), Readiness::Wait, "the next part");
        assert_eq!(ready("_HLS_msn=11&_HLS_part=0"), Readiness::Wait);
        assert_eq!(ready("_HLS_msn=9"), Readiness::Now, "segment 9 is complete");
        assert_eq!(ready("_HLS_msn=10"), Readiness::Wait, "segment 10 is still open");
        assert_eq!(ready("_HLS_msn=12&_HLS_part=0"), Readiness::Wait, "two segments ahead is allowed");
        let rejected =
            |q: &str| matches!(ready(q), Readiness::Reject(r) if r.status == 400 && r.cache_control == "no-store");
        assert!(rejected("_HLS_msn=13"), "more than two segments ahead");
        assert!(rejected("_HLS_msn=10&_HLS_part=11"), "9 parts (3 s) past the last is the limit");
        assert!(!rejected("_HLS_msn=10&_HLS_part=10"));
        assert_eq!(PlaylistQuery::parse(Some("_HLS_part=1")), Err("_HLS_part without _HLS_msn"));
        assert!(PlaylistQuery::parse(Some("_HLS_msn=x")).is_err());
        assert_eq!(
            PlaylistQuery::parse(Some("t=1&_HLS_msn=10&_HLS_part=2&_HLS_skip=YES")),
            Ok(PlaylistQuery { msn: Some(10), part: Some(2), skip: true })
        );
        assert_eq!(block_timeout_ms(2), 6000, "503 after three target durations");
    }

    #[test]
    fn blocking_responses_are_cached_longer_than_live_ones() {
        let (m, chunks) = stream();
        let e = edge(&chunks);
        let blocking = e.respond(Some(&m), &PlaylistQuery { msn: Some(10), part: Some(1), skip: false });
        assert_eq!((blocking.status, &*blocking.cache_control), (200, "public, max-age=12"));
        let live = e.respond(Some(&m), &PlaylistQuery::default());
        assert_eq!(&*live.cache_control, "no-cache", "a player starts from it: never a stale copy");
        assert_eq!(future_part().cache_control, CACHE_FUTURE_PART);
        assert_eq!((timed_out().status, &*timed_out().cache_control), (503, crate::edge::CACHE_NONE));
    }

    #[test]
    fn delta_updates_skip_what_is_older_than_can_skip_until() {
        let (m, chunks) = stream();
        let e = edge(&chunks);
        let full = e.playlist(Some(&m), false).render();
        let delta = e.playlist(Some(&m), true).render();
        // 18 s of segments; CAN-SKIP-UNTIL 12 s: segments 1–3 end before the boundary.
        assert!(delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n"), "{delta}");
        assert!(delta.contains("#EXT-X-MEDIA-SEQUENCE:1\n"), "sequence numbers are the full playlist's");
        assert!(!delta.contains("s/3.m4s") && delta.contains("s/4.m4s"));
        let after_skip = delta.split("#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n").nth(1).unwrap();
        assert!(after_skip.starts_with("#EXT-X-MAP:URI=\"s/init-1.mp4\"\n"), "the map that holds is repeated");
        assert!(after_skip.starts_with("#EXT-X-MAP:URI=\"s/init-1.mp4\"\n#EXTINF:"), "and no made-up wall-clock time");
        // Past the skipped segments, the delta update is the full playlist.
        let tail = |t: &str| t.split_once("s/4.m4s").unwrap().1.to_string();
        assert_eq!(tail(&full), tail(&delta));
    }

    #[test]
    fn a_stream_with_nothing_listed_yet_is_404_and_its_first_open_segment_names_the_sequence() {
        let nothing = edge(&[]).respond(None, &PlaylistQuery::default());
        assert_eq!(nothing.status, 404);
        let first = LiveChunk { entry: ChunkEntry { duration_ms: 0, ..entry(1) }, parts: vec![], open: true };
        let chunks = [first];
        assert_eq!(edge(&chunks).respond(None, &PlaylistQuery::default()).status, 404, "no part yet");
        let mut chunks = chunks;
        chunks[0].parts = parts_of(0, 1, false);
        let r = edge(&chunks).respond(None, &PlaylistQuery::default());
        let text = String::from_utf8(r.body).unwrap();
        assert_eq!(r.status, 200);
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:1\n") && text.contains("s/1.0.m4s"), "{text}");
    }

    #[test]
    fn at_a_segment_boundary_no_playlist_lacks_the_next_part() {
        let (m, mut chunks) = stream();
        // Segment 10 has just closed (its last part, 10.6, with it); 11 is not open yet.
        let closed = |s: u64| LiveChunk { entry: entry(s), parts: parts_of((s - 1) * 2000, 7, true), open: false };
        chunks.pop();
        chunks.push(closed(10));
        let e = edge(&chunks);
        let query = |q: &str| PlaylistQuery::parse(Some(q)).unwrap();
        for q in
            ["", "_HLS_skip=YES", "_HLS_msn=10&_HLS_part=6", "_HLS_msn=10&_HLS_part=6&_HLS_skip=YES", "_HLS_msn=10"]
        {
            assert_eq!(e.readiness(Some(&m), &query(q)), Readiness::Wait, "{q:?} between two chunks");
        }
        // 11 opens: every request is answered, with the hint of its first part.
        let before = e.playlist(Some(&m), true).render();
        chunks.push(LiveChunk {
            entry: ChunkEntry { duration_ms: 0, bytes: 0, ..entry(11) },
            parts: vec![],
            open: true,
        });
        let e = edge(&chunks);
        for q in ["", "_HLS_skip=YES", "_HLS_msn=10&_HLS_part=6", "_HLS_msn=10"] {
            assert_eq!(e.readiness(Some(&m), &query(q)), Readiness::Now, "{q:?} once the next chunk is open");
            let text = String::from_utf8(e.respond(Some(&m), &query(q)).body).unwrap();
            assert!(text.ends_with("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s/11.0.m4s\"\n"), "{q:?}:\n{text}");
        }
        // The delta update extends the one before: the same segments, then the open one.
        let after = e.playlist(Some(&m), true).render();
        let body = |t: &str| {
            t.split_once("#EXT-X-SKIP")
                .unwrap()
                .1
                .lines()
                .filter(|l| !l.starts_with("#EXT-X-PRELOAD"))
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let (b, a) = (body(&before), body(&after));
        assert_eq!(a[..b.len()], b[..], "the delta update extends the one before:\n{before}\n{after}");
    }

    #[test]
    fn part_urls_of_the_open_segment() {
        let (_, chunks) = stream();
        let e = edge(&chunks);
        assert_eq!(e.part_state("s", 10, 0), PartState::Open);
        assert_eq!(e.part_state("s", 10, 3), PartState::Future);
        assert_eq!(e.part_state("s", 11, 0), PartState::Future);
        assert_eq!(e.part_state("s", 9, 6), PartState::Closed);
        assert_eq!(e.part_state("other", 3, 0), PartState::Closed);
    }
}

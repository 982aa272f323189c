//! The archive's playlists at the edge: which index objects a time window
//! (`index.m3u8?start=…&end=…`) or a session's recording (`{session}/index.m3u8`) needs
//! ([`more_keys`]), and the playlist built from them ([`respond`]). "Now" is the adapter's
//! clock, passed in.
//!
//! Reads: a window, the manifest and each bucket it overlaps ([`crate::archive`]); a recording,
//! the session's record, the manifest and each bucket the session overlaps. A full bucket part
//! adds a read of its next part.

use alloc::{format, string::String, vec::Vec};

use super::response::Response;
use super::route::Route;
use crate::archive::{self, Bucket, SessionRecord, MAX_BUCKET_PARTS, MAX_WINDOW_MS};
use crate::date::iso8601;
use crate::hls::PlaylistType;
use crate::layout::{bucket_key, manifest_key};
use crate::manifest::{ChunkEntry, Manifest, StreamState};
use crate::playlist::{archive_playlist, CACHE_PLAYLIST};

/// The longest a cache keeps a playlist of a window that is over (VOD), seconds; with a
/// retention, a tenth of it at most (and chunks are listed only if they outlive that).
pub const MAX_VOD_CACHE_S: u64 = 3600;

/// The span of time an archive route lists and how it lists it, once its first objects are
/// known.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    /// Wall-clock window, milliseconds since the Unix epoch.
    from_ms: u64,
    to_ms: u64,
    /// Of one session only.
    session: Option<String>,
    /// What the playlist is.
    kind: PlaylistType,
}

fn manifest_of(route: &Route, bytes: Option<&[u8]>) -> Result<Option<Manifest>, Response> {
    bytes
        .map(|b| Manifest::parse(b).map_err(|e| Response::error(500, format!("manifest of {}: {e}", route.stream()))))
        .transpose()
}

fn record_of(route: &Route, bytes: &[u8]) -> Result<SessionRecord, Response> {
    SessionRecord::parse(bytes).map_err(|e| Response::error(500, format!("session record of {}: {e}", route.stream())))
}

/// Wall-clock end of the last chunk a manifest lists.
fn manifest_end(m: &Manifest) -> Option<u64> {
    m.chunks.last().map(archive::end_ms)
}

/// What `route` lists, from its object and the first of its further objects (the manifest of
/// a recording); `Ok(None)` while that is not fetched yet.
fn plan(route: &Route, object: Option<&[u8]>, more: &[Option<&[u8]>], now_ms: u64) -> Result<Option<Plan>, Response> {
    match route {
        Route::Window { stream, start_ms, end_ms } => {
            let Some(m) = manifest_of(route, object)? else {
                return Err(Response::error(404, format!("stream {stream} is not in the store")));
            };
            let live = m.state == StreamState::Live;
            // Nothing is held from before the stream's first publish, nor from before its retention.
            let oldest = m.created_at_ms.max(m.retention_ms.map_or(0, |r| now_ms.saturating_sub(r)));
            let from_ms = (*start_ms).max(oldest.min(now_ms));
            // Nothing starts after now: the buckets after it are not read.
            let to_ms = end_ms.unwrap_or(u64::MAX).min(now_ms.saturating_add(1));
            if to_ms.saturating_sub(from_ms) > MAX_WINDOW_MS {
                return Err(Response::error(
                    400,
                    format!(
                        "the window from {} to now is longer than {} hours, the most one playlist lists: give an end",
                        iso8601(from_ms),
                        MAX_WINDOW_MS / 3_600_000
                    ),
                ));
            }
            let over = end_ms.is_some_and(|e| e <= now_ms && manifest_end(&m).is_some_and(|written| written >= e));
            let kind = if !live || over { PlaylistType::Vod } else { PlaylistType::Event };
            Ok(Some(Plan { from_ms, to_ms: to_ms.max(from_ms), session: None, kind }))
        }
        Route::Clip { stream, start_ms, end_ms, .. } => {
            if manifest_of(route, object)?.is_none() {
                return Err(Response::error(404, format!("stream {stream} is not in the store")));
            }
            let from_ms = start_ms.saturating_sub(CLIP_LEAD_MS);
            Ok(Some(Plan { from_ms, to_ms: *end_ms, session: None, kind: PlaylistType::Vod }))
        }
        Route::Recording { stream, session } => {
            let Some(record) = object else {
                return Err(Response::error(404, format!("stream {stream} has no session {session} in the store")));
            };
            let record = record_of(route, record)?;
            let Some(manifest) = more.first() else { return Ok(None) };
            let live = manifest_of(route, *manifest)?
                .is_some_and(|m| m.state == StreamState::Live && m.session == record.session);
            let from_ms = record.held_from_ms(now_ms);
            let to_ms = if live { now_ms.max(record.end_ms).saturating_add(1) } else { record.end_ms };
            if to_ms.saturating_sub(from_ms) > MAX_WINDOW_MS {
                return Err(Response::error(
                    400,
                    format!(
                        "session {session} lasts longer than {} hours, the most one playlist lists: ask windows of it (index.m3u8?start=…&end=…)",
                        MAX_WINDOW_MS / 3_600_000
                    ),
                ));
            }
            let kind = if live { PlaylistType::Event } else { PlaylistType::Vod };
            Ok(Some(Plan { from_ms, to_ms, session: Some(record.session), kind }))
        }
        _ => Ok(None),
    }
}

/// The bucket keys of a plan's window.
fn bucket_keys(stream: &str, plan: &Plan) -> Vec<String> {
    archive::buckets_overlapping(plan.from_ms..plan.to_ms).map(|start| bucket_key(stream, start, 0)).collect()
}

/// Most buckets one window overlaps: a window of [`MAX_WINDOW_MS`] off the buckets' edges.
pub const MAX_WINDOW_BUCKETS: usize = 145;

/// Most store reads of one archive playlist: its object, the manifest, and every part of every
/// bucket of the longest window (a store whose parts are all full cannot make it read more).
pub const MAX_ARCHIVE_READS: usize = 2 + MAX_WINDOW_BUCKETS * MAX_BUCKET_PARTS as usize;

/// The further store objects `route` needs once `object` (its own, [`Route::object_key`]) and
/// `more` (the further ones fetched so far, in order, the last one just fetched, from
/// `last_key`) are known; or the answer, when it is known already (a 404, a refused window).
pub fn more_keys(
    route: &Route,
    object: Option<&[u8]>,
    more: &[Option<&[u8]>],
    last_key: Option<&str>,
    now_ms: u64,
) -> Result<Vec<String>, Response> {
    let stream = route.stream();
    match (route, more.len()) {
        (Route::Recording { .. }, 0) => {
            plan(route, object, more, now_ms)?;
            Ok(alloc::vec![manifest_key(stream)])
        }
        (Route::Recording { .. }, 1) | (Route::Window { .. } | Route::Clip { .. }, 0) => {
            Ok(plan(route, object, more, now_ms)?.map(|p| bucket_keys(stream, &p)).unwrap_or_default())
        }
        (Route::Window { .. } | Route::Recording { .. } | Route::Clip { .. }, _) => {
            // A full part: the slice goes on in the next one, if the part is the one asked for.
            let full = more.last().copied().flatten().and_then(|b| Bucket::parse(b).ok()).filter(|b| b.full);
            let next = full.filter(|b| {
                last_key == Some(bucket_key(stream, b.start_ms, b.part).as_str()) && b.part + 1 < MAX_BUCKET_PARTS
            });
            Ok(next.map(|b| alloc::vec![bucket_key(stream, b.start_ms, b.part + 1)]).unwrap_or_default())
        }
        _ => Ok(Vec::new()),
    }
}

/// The playlist of archive route `route` from its object and further objects ([`more_keys`],
/// in order), at `now_ms`.
pub fn respond(route: &Route, object: Option<&[u8]>, more: &[Option<&[u8]>], now_ms: u64) -> Response {
    let plan = match plan(route, object, more, now_ms) {
        Ok(Some(plan)) => plan,
        Ok(None) => return Response::not_found(),
        Err(answer) => return answer,
    };
    let skip = usize::from(matches!(route, Route::Recording { .. }));
    let mut buckets = Vec::new();
    for bytes in more.iter().skip(skip).flatten() {
        match Bucket::parse(bytes) {
            Ok(b) => buckets.push(b),
            Err(e) => return Response::error(500, format!("archive of {}: {e}", route.stream())),
        }
    }
    // Listed only if kept longer than a cache may keep the playlist.
    let shortest = buckets.iter().filter_map(|b| b.retention_ms).min();
    let cache_s = shortest.map_or(MAX_VOD_CACHE_S, |r| (r / 10_000).clamp(1, MAX_VOD_CACHE_S));
    let mut entries: Vec<ChunkEntry> =
        archive::window_entries(&buckets, plan.from_ms..plan.to_ms, now_ms.saturating_add(cache_s * 1000));
    if let Some(session) = &plan.session {
        entries.retain(|c| &c.session == session);
    }
    if entries.is_empty() {
        let what = match &plan.session {
            Some(s) => format!("session {s} of stream {}", route.stream()),
            None => format!("stream {}", route.stream()),
        };
        let body =
            format!("the store holds nothing of {what} between {} and {}", iso8601(plan.from_ms), iso8601(plan.to_ms));
        return Response::error(404, body);
    }
    let prefix = if plan.session.is_some() { "../" } else { "" };
    let body = archive_playlist(&entries, plan.kind, prefix).into_bytes();
    let cache: alloc::borrow::Cow<'static, str> = match plan.kind {
        PlaylistType::Vod => format!("public, max-age={cache_s}").into(),
        PlaylistType::Event => CACHE_PLAYLIST.into(),
    };
    Response { status: 200, content_type: route.content_type(), cache_control: cache, body }
}

/// How far before a clip's start its chunks are looked for, milliseconds: back to the
/// keyframe the clip starts from, and the audio frame before it (a stream whose keyframes are
/// further apart than this has its clips start at the first one found).
pub const CLIP_LEAD_MS: u64 = 10_000;

/// How far the wall clock may run on between two chunks of one session whose media runs on
/// without a break, milliseconds: a clip's window that ends in such a gap ends with the first
/// chunk's media (the program date times of a stream drift from its media time by a few
/// milliseconds a chunk).
pub const CLOCK_GAP_MS: u64 = 1_000;

/// Most chunks one clip reads: a day of 2-second chunks fits (`--max-clip` is a day at most);
/// a window cut into more, smaller chunks (a publisher that reconnects very often) is refused.
pub const MAX_CLIP_CHUNKS: usize = 65_536;

/// The chunks of a clip's window, found in the archive's buckets, and the window on their own
/// timeline ([`crate::clip`]'s time axis).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipChunks {
    /// The chunks whose span overlaps the window, in sequence order: fetch each
    /// ([`ClipChunks::keys`]) and give them to [`crate::clip::build_clip`] in this order.
    pub entries: Vec<ChunkEntry>,
    /// The window's start on the chunks' timeline, milliseconds.
    pub start_ms: u64,
    /// Its end on the chunks' timeline, milliseconds.
    pub end_ms: u64,
}

impl ClipChunks {
    /// The bytes of the chunks, as the archive's index gives them.
    pub fn bytes(&self) -> u64 {
        self.entries.iter().fold(0, |sum, c| sum.saturating_add(c.bytes))
    }

    /// The store keys of [`ClipChunks::entries`].
    pub fn keys(&self, stream: &str) -> Vec<String> {
        self.entries.iter().map(|c| crate::layout::chunk_key(stream, &c.session, c.sequence)).collect()
    }

    /// The wall-clock time of `timeline_ms`, a time on the chunks' timeline (for messages): as
    /// the program date time of the chunk holding it (the first chunk's for a time before it)
    /// plus the time into it.
    pub fn wall_clock_of(&self, timeline_ms: u64) -> u64 {
        let chunk = self.entries.iter().rev().find(|c| c.start_ms <= timeline_ms).or(self.entries.first());
        chunk.map_or(timeline_ms, |c| c.wall_clock_ms.saturating_add(timeline_ms.saturating_sub(c.start_ms)))
    }
}

/// The chunks of clip route `route` ([`Route::Clip`]) from its object (the manifest) and the
/// bucket parts read for it ([`more_keys`], in order), at `now_ms`: the chunks held whose span
/// overlaps the window, and the window mapped onto their timeline as their program date times
/// place them (a wall-clock time inside a chunk is its start on the timeline plus the time
/// into it). A time between two chunks (a reconnect: no media) maps to the next chunk's start
/// for `start`, to the last one's end for `end`. `Err` is the answer: a 404 when the window is
/// not wholly in the store.
pub fn clip_chunks(
    route: &Route,
    object: Option<&[u8]>,
    more: &[Option<&[u8]>],
    now_ms: u64,
) -> Result<ClipChunks, Response> {
    let Route::Clip { stream, start_ms, end_ms, .. } = route else {
        return Err(Response::error(500, "not a clip".into()));
    };
    plan(route, object, more, now_ms)?;
    let mut buckets = Vec::new();
    for bytes in more.iter().flatten() {
        match Bucket::parse(bytes) {
            Ok(b) => buckets.push(b),
            Err(e) => return Err(Response::error(500, format!("archive of {stream}: {e}"))),
        }
    }
    // Up to CLOCK_GAP_MS past the window: the chunk that continues the last one, if the window
    // ends between them on the wall clock.
    let lookup = start_ms.saturating_sub(CLIP_LEAD_MS)..end_ms.saturating_add(CLOCK_GAP_MS);
    let mut entries = archive::window_entries(&buckets, lookup, now_ms);
    // From the chunk before the last independent one that starts at or before the window (the
    // keyframe the clip starts from; the chunk before it, for the audio decoder's pre-roll).
    let key = entries.iter().rposition(|c| c.independent && c.wall_clock_ms <= *start_ms);
    let holding = entries.iter().position(|c| archive::end_ms(c) > *start_ms);
    if let Some(first) = key.or(holding).map(|k| k.saturating_sub(1)) {
        entries.drain(..first);
    }
    let window = format!("{} to {}", iso8601(*start_ms), iso8601(*end_ms));
    if entries.len() > MAX_CLIP_CHUNKS {
        return Err(Response::error(
            400,
            format!(
                "the clip from {window} holds {} chunks of stream {stream}; a clip reads at most {MAX_CLIP_CHUNKS}: ask a shorter one",
                entries.len()
            ),
        ));
    }
    // The last chunk inside the window itself (not only in the lead before it).
    let inside = |c: &&ChunkEntry| c.wall_clock_ms < *end_ms && archive::end_ms(c) > *start_ms;
    let (Some(first), Some(last)) = (entries.first(), entries.iter().rfind(inside)) else {
        return Err(Response::error(404, format!("the store holds nothing of stream {stream} from {window}")));
    };
    // The wall clock runs on a little between two chunks of one session whose media runs on
    // without a break: a window that ends in that gap ends with the first chunk's media.
    let continued = entries.iter().find(|c| c.wall_clock_ms >= *end_ms).is_some_and(|next| {
        next.session == last.session
            && next.sequence == last.sequence.saturating_add(1)
            && next.start_ms == last.start_ms.saturating_add(last.duration_ms)
            && next.wall_clock_ms <= archive::end_ms(last).saturating_add(CLOCK_GAP_MS)
    });
    if first.wall_clock_ms > *start_ms || (archive::end_ms(last) < *end_ms && !continued) {
        let first = entries.iter().find(|c| archive::end_ms(c) > *start_ms).unwrap_or(first);
        return Err(Response::error(
            404,
            format!(
                "the clip from {window} is not all in the store: it holds stream {stream} from {} to {} of it",
                iso8601(first.wall_clock_ms.max(*start_ms)),
                iso8601(archive::end_ms(last).min(*end_ms))
            ),
        ));
    }
    let last = last.sequence;
    entries.retain(|c| c.sequence <= last);
    let timeline = |wall: u64, end: bool| -> u64 {
        let at = entries.iter().rposition(|c| c.wall_clock_ms <= wall).unwrap_or(0);
        let c = &entries[at];
        let into = wall.saturating_sub(c.wall_clock_ms);
        match (into < c.duration_ms || (end && into == c.duration_ms), entries.get(at + 1)) {
            (true, _) => c.start_ms.saturating_add(into),
            (false, Some(next)) if !end => next.start_ms,
            (false, _) => c.start_ms.saturating_add(c.duration_ms),
        }
    };
    let (start, end) = (timeline(*start_ms, false), timeline(*end_ms, true));
    Ok(ClipChunks { start_ms: start, end_ms: end.max(start), entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::BUCKET_MS;
    use crate::layout::session_key;

    const T0: u64 = 1_796_570_400_000;

    fn entry(session: &str, sequence: u64, wall: u64) -> ChunkEntry {
        ChunkEntry {
            session: session.into(),
            sequence,
            init: format!("{session}/init-0.mp4"),
            start_ms: 0,
            duration_ms: 2000,
            bytes: 100,
            wall_clock_ms: wall,
            independent: true,
        }
    }

    /// A clip's window that ends where the wall clock ran on between two chunks of one session
    /// (their media runs on) ends with the first chunk, whose media it covers; one that ends
    /// after the last chunk, or in the gap before a chunk of another session, is not all in the
    /// store.
    #[test]
    fn a_clip_ending_between_two_chunks_of_one_session_ends_with_the_first() {
        let mut m = Manifest::new("cam", T0);
        m.state = StreamState::Ended;
        let mut bucket = Bucket::new(archive::bucket_start(T0), 0, None);
        // Media 0–2 s then 2–4 s, the second chunk dated 7 ms late; then another session.
        // Then the same session stalls: its next chunk is dated 2 s late.
        let chunks = [
            ChunkEntry { start_ms: 0, ..entry("s", 1, T0 + 1_000) },
            ChunkEntry { start_ms: 2_000, ..entry("s", 2, T0 + 3_007) },
            ChunkEntry { start_ms: 4_000, ..entry("t", 3, T0 + 7_000) },
            ChunkEntry { start_ms: 6_000, ..entry("t", 4, T0 + 11_000) },
        ];
        for c in &chunks {
            bucket.push(c.clone());
            m.push_chunk(c.clone(), 10);
        }
        let (manifest, bucket) = (m.to_json(), bucket.to_json());
        let clip = |start_ms, end_ms| {
            let route = Route::Clip { stream: "cam".into(), start_ms, end_ms, filename: None };
            clip_chunks(&route, Some(&manifest), &[Some(&bucket)], T0 + 60_000)
        };
        for end in [T0 + 3_000, T0 + 3_004, T0 + 3_007] {
            let c = clip(T0 + 1_500, end).unwrap_or_else(|e| panic!("{end}: {e:?}"));
            let sequences: Vec<u64> = c.entries.iter().map(|e| e.sequence).collect();
            assert_eq!((sequences, c.start_ms, c.end_ms), (alloc::vec![1], 500, 2_000), "ends at {}", end - T0);
        }
        let c = clip(T0 + 1_500, T0 + 3_500).expect("into the second chunk");
        assert_eq!((c.entries.len(), c.end_ms), (2, 2_493));
        // Before another session's chunk, or more than CLOCK_GAP_MS before a stalled one's.
        for end in [T0 + 5_500, T0 + 6_000, T0 + 6_100, T0 + 9_500, T0 + 10_500] {
            let refused = clip(T0 + 3_500, end).expect_err("past the media");
            assert_eq!(refused.status, 404, "ends at {}", end - T0);
        }
    }

    /// A stream of three sessions of 30 chunks each, 10 s apart, from T0; its manifest and buckets.
    fn archive(live: bool) -> (Manifest, Vec<(String, Vec<u8>)>) {
        let mut m = Manifest::new("cam", T0);
        let mut buckets: Vec<Bucket> = Vec::new();
        let mut records: Vec<SessionRecord> = Vec::new();
        let mut wall = T0;
        for (s, session) in ["1", "2", "3"].iter().enumerate() {
            for i in 0..30u64 {
                let e = entry(session, s as u64 * 30 + i, wall);
                for start in archive::buckets_of(&e) {
                    if buckets.last().is_none_or(|b| b.start_ms != start) {
                        buckets.push(Bucket::new(start, 0, None));
                    }
                    buckets.last_mut().unwrap().push(e.clone());
                }
                match records.last_mut().filter(|r| r.session == *session) {
                    Some(r) => r.add(&e, 100),
                    None => records.push(SessionRecord::new(&e, 100, None)),
                }
                m.session = String::from(*session);
                m.push_chunk(e, 10);
                wall += 2000;
            }
            wall += 10_000;
        }
        m.state = if live { StreamState::Live } else { StreamState::Ended };
        let mut objects = alloc::vec![(manifest_key("cam"), m.to_json())];
        objects.extend(buckets.iter().map(|b| (bucket_key("cam", b.start_ms, b.part), b.to_json())));
        objects.extend(records.iter().map(|r| (session_key("cam", &r.session), r.to_json())));
        (m, objects)
    }

    /// Drives an archive route against `objects`: the answer and the keys read.
    fn serve(route: &Route, objects: &[(String, Vec<u8>)], now: u64) -> (Response, Vec<String>) {
        let get = |k: &str| objects.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_slice());
        let mut read = alloc::vec![route.object_key()];
        let object = get(&route.object_key());
        let mut more: Vec<Option<&[u8]>> = Vec::new();
        let mut keys = match more_keys(route, object, &more, None, now) {
            Ok(k) => k,
            Err(r) => return (r, read),
        };
        let mut i = 0;
        while i < keys.len() {
            read.push(keys[i].clone());
            more.push(get(&keys[i]));
            match more_keys(route, object, &more, Some(&keys[i]), now) {
                Ok(k) => keys.extend(k),
                Err(r) => return (r, read),
            }
            i += 1;
        }
        (respond(route, object, &more, now), read)
    }

    fn text(r: &Response) -> &str {
        core::str::from_utf8(&r.body).unwrap()
    }

    #[test]
    fn a_window_across_sessions_lists_them_with_discontinuities() {
        let (_, objects) = archive(false);
        let route = Route::Window { stream: "cam".into(), start_ms: T0 + 50_000, end_ms: Some(T0 + 90_000) };
        let (r, read) = serve(&route, &objects, T0 + BUCKET_MS);
        assert_eq!(r.status, 200, "{}", text(&r));
        let p = text(&r);
        assert!(p.contains("#EXT-X-PLAYLIST-TYPE:VOD\n") && p.ends_with("#EXT-X-ENDLIST\n"), "{p}");
        assert_eq!(p.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{p}");
        assert_eq!(p.matches("#EXT-X-PROGRAM-DATE-TIME:").count(), p.matches("#EXTINF:").count());
        assert!(p.contains("\n1/25.m4s\n") && p.contains("\n2/30.m4s\n"), "{p}");
        assert_eq!(read, ["live/cam/manifest.json", "live/cam/archive/1796570400.json"]);
    }

    #[test]
    fn a_live_window_without_end_is_an_event() {
        let (_, objects) = archive(true);
        let route = Route::Window { stream: "cam".into(), start_ms: T0, end_ms: None };
        let (r, _) = serve(&route, &objects, T0 + 200_000);
        let p = text(&r);
        assert!(p.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n") && !p.contains("ENDLIST"), "{p}");
        assert_eq!(p.matches("#EXTINF:").count(), 90);
        assert_eq!(r.cache_control, CACHE_PLAYLIST);
    }

    #[test]
    fn a_recording_lists_its_session_with_uris_of_the_live_playlist() {
        let (_, objects) = archive(true);
        let ended = Route::Recording { stream: "cam".into(), session: "2".into() };
        let (r, read) = serve(&ended, &objects, T0 + 200_000);
        let p = text(&r);
        assert!(p.contains("VOD") && p.contains("ENDLIST") && !p.contains("DISCONTINUITY\n"), "{p}");
        assert!(p.contains("#EXT-X-MAP:URI=\"../2/init-0.mp4\"\n") && p.contains("\n../2/30.m4s\n"), "{p}");
        assert_eq!(p.matches("#EXTINF:").count(), 30);
        assert_eq!(read.len(), 3, "record, manifest, one bucket: {read:?}");
        let live = Route::Recording { stream: "cam".into(), session: "3".into() };
        assert!(text(&serve(&live, &objects, T0 + 200_000).0).contains("EVENT"));
        let none = Route::Recording { stream: "cam".into(), session: "9".into() };
        assert_eq!(serve(&none, &objects, T0).0.status, 404);
    }

    #[test]
    fn empty_and_overlong_windows_say_so() {
        let (_, objects) = archive(false);
        let before = Route::Window { stream: "cam".into(), start_ms: T0 - 100_000, end_ms: Some(T0 - 50_000) };
        let r = serve(&before, &objects, T0 + BUCKET_MS).0;
        assert_eq!(r.status, 404);
        assert!(text(&r).contains("holds nothing"), "{}", text(&r));
        let (r, _) =
            serve(&Route::Window { stream: "cam".into(), start_ms: 0, end_ms: None }, &objects, T0 + 30 * 3_600_000);
        assert_eq!(r.status, 400, "{}", text(&r));
        let (r, _) = serve(&Route::Window { stream: "nope".into(), start_ms: T0, end_ms: None }, &objects, T0 + 1000);
        assert_eq!(r.status, 404);
    }

    #[test]
    fn a_window_reaches_back_no_further_than_the_retention() {
        let (mut m, mut objects) = archive(true);
        m.created_at_ms = T0 - 3 * MAX_WINDOW_MS;
        m.retention_ms = Some(3_600_000);
        objects[0].1 = m.to_json();
        let route = Route::Window { stream: "cam".into(), start_ms: m.created_at_ms, end_ms: None };
        let (r, read) = serve(&route, &objects, T0 + 200_000);
        assert_eq!(r.status, 200, "{}", text(&r));
        assert_eq!(read.len(), 1 + 7, "an hour back, in seven buckets: {read:?}");
        m.retention_ms = None;
        objects[0].1 = m.to_json();
        assert_eq!(serve(&route, &objects, T0 + 200_000).0.status, 400, "three days with no end");
    }

    #[test]
    fn a_store_of_full_parts_is_read_a_bounded_number_of_times() {
        let (_, mut objects) = archive(false);
        // Every part of the first bucket says it is full.
        for part in 0..MAX_BUCKET_PARTS + 5 {
            let mut b = Bucket::new(T0, part, None);
            b.push(entry("1", 0, T0));
            b.full = true;
            objects.retain(|(k, _)| *k != bucket_key("cam", T0, part));
            objects.push((bucket_key("cam", T0, part), b.to_json()));
        }
        // And one more, stored under another part's key: it names no next part.
        let mut stray = Bucket::new(T0 + BUCKET_MS, 7, None);
        stray.full = true;
        objects.push((bucket_key("cam", T0 + BUCKET_MS, 0), stray.to_json()));
        let route = Route::Window { stream: "cam".into(), start_ms: T0, end_ms: Some(T0 + 2 * BUCKET_MS) };
        let (r, read) = serve(&route, &objects, T0 + 3 * BUCKET_MS);
        assert_eq!(r.status, 200, "{}", text(&r));
        assert_eq!(read.len(), 1 + MAX_BUCKET_PARTS as usize + 1, "{read:?}");
        assert!(read.len() <= MAX_ARCHIVE_READS);
        let longest = archive::buckets_overlapping(T0 + 1..T0 + 1 + MAX_WINDOW_MS).count();
        assert_eq!(longest, MAX_WINDOW_BUCKETS);
    }

    #[test]
    fn a_window_before_the_oldest_starts_at_the_oldest() {
        let (_, objects) = archive(false);
        let route = Route::Window { stream: "cam".into(), start_ms: 1_000, end_ms: None };
        let (r, read) = serve(&route, &objects, T0 + 2 * BUCKET_MS);
        assert_eq!(r.status, 200, "{}", text(&r));
        assert!(text(&r).contains("\n1/0.m4s\n"));
        assert_eq!(read.len(), 1 + 3, "from the stream's creation on: {read:?}");
    }
}

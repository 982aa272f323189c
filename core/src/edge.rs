//! The HTTP edge, sans-IO: which object a request needs, and the response built from it.
//!
//! Every edge (the ingest node's built-in one, `rapidrtmp edge`, the Cloudflare Worker) parses
//! the path with [`Route::parse`], fetches [`Route::object_key`] from its store, then the objects
//! [`rendition_keys`] names (a multitrack stream's multivariant playlist lists its renditions),
//! and answers with [`respond`], so a URL gives the same bytes wherever it is served.
//!
//! | URL (under `/live/{stream}/`) | object | response |
//! |---|---|---|
//! | `index.m3u8` | `live/{stream}/manifest.json` | media playlist of the live window (1 s cache; 5 min once ended) |
//! | `master.m3u8` | the manifest (or a stream group's record), and those of its renditions ([`rendition_keys`]) | multivariant playlist |
//! | `{session}/init-{seq}.mp4` | chunk `live/{stream}/{session}/{seq}.flv` | init segment |
//! | `{session}/{seq}.m4s` | the same chunk | media segment |
//! | `{session}/{seq}.{part}.m4s` | the same chunk | part `part` of the segment (LL-HLS; the ingest node serves those of the open segment, [`live`]) |
//! | `{session}/{seq}.flv` | the same chunk | the chunk itself, as stored (for inspection) |

pub mod live;
mod range;
pub mod sigv4;

pub use range::{parse_range, RangeRequest};

use alloc::{borrow::Cow, format, string::String, vec::Vec};

use crate::chunk::read_chunk;
use crate::hls::{self, parse_uri_number, AudioRendition, MediaPlaylist, Variant};
use crate::layout::{chunk_key, manifest_key, valid_name};
use crate::manifest::{ChunkEntry, Manifest, StreamState};
use crate::media::VIDEO_FOURCCS;
use crate::segment::{build_init, build_part, build_segment, Warnings};

/// `Cache-Control` of live playlists: they change with every chunk.
pub const CACHE_PLAYLIST: &str = "public, max-age=1";
/// `Cache-Control` of an ended stream's playlists: they change only if the key is published
/// again, so caches may keep them for minutes, not forever (a year-long cache would hide the
/// next publish of the key).
pub const CACHE_ENDED_PLAYLIST: &str = "public, max-age=300";
/// `Cache-Control` of init and media segments: a URL's content never changes.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of 404s: the stream may start any moment.
pub const CACHE_NOT_FOUND: &str = "public, max-age=2";
/// The body of a `503` when the store does not answer: what failed, in words (the store's own
/// error text goes to the edge's log, never to the client).
pub const STORE_UNAVAILABLE: &str = "origin store unavailable\n";
/// `Retry-After` of every `503` an edge answers, in seconds.
pub const RETRY_AFTER_S: u64 = 1;
/// `Cache-Control` of errors: never cached.
pub const CACHE_NONE: &str = "no-store";

/// A playback request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// The media playlist.
    MediaPlaylist {
        /// Stream key.
        stream: String,
    },
    /// The multivariant playlist.
    Multivariant {
        /// Stream key.
        stream: String,
    },
    /// A session's init segment, built from chunk `sequence`.
    Init {
        /// Stream key.
        stream: String,
        /// Session id.
        session: String,
        /// The chunk to build it from.
        sequence: u64,
    },
    /// A media segment.
    Segment {
        /// Stream key.
        stream: String,
        /// Session id.
        session: String,
        /// Sequence number.
        sequence: u64,
    },
    /// A part of a media segment (LL-HLS).
    Part {
        /// Stream key.
        stream: String,
        /// Session id.
        session: String,
        /// Sequence number of its segment.
        sequence: u64,
        /// Its index in the segment.
        part: u32,
    },
    /// A chunk as stored: the FLV a segment is built from.
    Chunk {
        /// Stream key.
        stream: String,
        /// Session id.
        session: String,
        /// Sequence number.
        sequence: u64,
    },
}

/// When an edge asks the live origin for a route ([`Route::live_origin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveOrigin {
    /// Always, before the store: only the origin has the live edge's playlists (parts, blocking
    /// reloads); the store's playlist is the fallback when the origin does not answer.
    First,
    /// When the store does not have the chunk: it is the open one, or one still being written.
    WhenNotStored,
    /// Never: the store has it or nobody does.
    Never,
}

impl Route {
    /// Parses a request path (`/live/...`, query string already removed). Numbers are
    /// canonical decimal (no sign, no leading zero): any other spelling is not a route, so
    /// `Route::parse(p)` is `Some(r)` only where `r.path() == p` ([`Route::path`]).
    pub fn parse(path: &str) -> Option<Self> {
        let rest = path.strip_prefix("/live/")?;
        let mut parts = rest.split('/');
        let stream = parts.next().filter(|s| valid_name(s))?.into();
        let (a, b) = (parts.next()?, parts.next());
        if parts.next().is_some() {
            return None;
        }
        match (a, b) {
            ("index.m3u8", None) => Some(Self::MediaPlaylist { stream }),
            ("master.m3u8", None) => Some(Self::Multivariant { stream }),
            (session, Some(file)) if valid_name(session) => {
                let session = session.into();
                if let Some(seq) = file.strip_prefix("init-").and_then(|f| f.strip_suffix(".mp4")) {
                    Some(Self::Init { stream, session, sequence: parse_uri_number(seq)? })
                } else if let Some(name) = file.strip_suffix(".m4s") {
                    match name.split_once('.') {
                        Some((seq, part)) => {
                            let part = u32::try_from(parse_uri_number(part)?).ok()?;
                            Some(Self::Part { stream, session, sequence: parse_uri_number(seq)?, part })
                        }
                        None => Some(Self::Segment { stream, session, sequence: parse_uri_number(name)? }),
                    }
                } else {
                    let seq = file.strip_suffix(".flv")?;
                    Some(Self::Chunk { stream, session, sequence: parse_uri_number(seq)? })
                }
            }
            _ => None,
        }
    }

    /// The one path of the route (what [`Route::parse`] accepts for it): playlists and the
    /// URIs they list, under `/live/{stream}/`.
    pub fn path(&self) -> String {
        let stream = self.stream();
        let file = match self {
            Self::MediaPlaylist { .. } => "index.m3u8".into(),
            Self::Multivariant { .. } => "master.m3u8".into(),
            Self::Init { session, sequence, .. } => hls::init_uri(session, *sequence),
            Self::Segment { session, sequence, .. } => hls::segment_uri(session, *sequence),
            Self::Part { session, sequence, part, .. } => hls::part_uri(session, *sequence, *part),
            Self::Chunk { session, sequence, .. } => format!("{session}/{sequence}.flv"),
        };
        format!("/live/{stream}/{file}")
    }

    /// The stream the request is for.
    pub fn stream(&self) -> &str {
        match self {
            Self::MediaPlaylist { stream }
            | Self::Multivariant { stream }
            | Self::Init { stream, .. }
            | Self::Segment { stream, .. }
            | Self::Part { stream, .. }
            | Self::Chunk { stream, .. } => stream,
        }
    }

    /// The session and sequence number of the chunk the response is built from, for the
    /// objects of a chunk (init, segment, part, chunk).
    pub fn chunk(&self) -> Option<(&str, u64)> {
        match self {
            Self::MediaPlaylist { .. } | Self::Multivariant { .. } => None,
            Self::Init { session, sequence, .. }
            | Self::Segment { session, sequence, .. }
            | Self::Part { session, sequence, .. }
            | Self::Chunk { session, sequence, .. } => Some((session, *sequence)),
        }
    }

    /// The one store object the response is built from.
    pub fn object_key(&self) -> String {
        match self.chunk() {
            Some((session, sequence)) => chunk_key(self.stream(), session, sequence),
            None => manifest_key(self.stream()),
        }
    }

    /// When an edge with a live origin (the ingest node publishing the stream) asks it instead
    /// of the store.
    pub fn live_origin(&self) -> LiveOrigin {
        match self {
            Self::MediaPlaylist { .. } => LiveOrigin::First,
            Self::Init { .. } | Self::Segment { .. } | Self::Part { .. } => LiveOrigin::WhenNotStored,
            Self::Multivariant { .. } | Self::Chunk { .. } => LiveOrigin::Never,
        }
    }

    /// Whether the response never changes (init, segments, chunks), so caches may keep it forever.
    pub fn is_immutable(&self) -> bool {
        matches!(self, Self::Init { .. } | Self::Segment { .. } | Self::Part { .. } | Self::Chunk { .. })
    }

    /// The `Content-Type` of a successful response.
    pub fn content_type(&self) -> &'static str {
        match self {
            Self::MediaPlaylist { .. } | Self::Multivariant { .. } => PLAYLIST_TYPE,
            Self::Init { .. } | Self::Segment { .. } | Self::Part { .. } => MP4_TYPE,
            Self::Chunk { .. } => FLV_TYPE,
        }
    }

    /// A short name of the route, for metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MediaPlaylist { .. } => "playlist",
            Self::Multivariant { .. } => "multivariant",
            Self::Init { .. } => "init",
            Self::Segment { .. } => "segment",
            Self::Part { .. } => "part",
            Self::Chunk { .. } => "chunk",
        }
    }
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Cache-Control`.
    pub cache_control: Cow<'static, str>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// A 200.
    pub fn ok(content_type: &'static str, cache_control: &'static str, body: Vec<u8>) -> Self {
        Self { status: 200, content_type, cache_control: Cow::Borrowed(cache_control), body }
    }

    /// 404 for an unknown stream or object.
    pub fn not_found() -> Self {
        Self {
            status: 404,
            content_type: "text/plain; charset=utf-8",
            cache_control: Cow::Borrowed(CACHE_NOT_FOUND),
            body: b"not found\n".to_vec(),
        }
    }

    /// An error, never cached.
    pub fn error(status: u16, message: String) -> Self {
        let mut body = message.into_bytes();
        body.push(b'\n');
        Self { status, content_type: "text/plain; charset=utf-8", cache_control: Cow::Borrowed(CACHE_NONE), body }
    }

    /// The `503` of a store that does not answer ([`STORE_UNAVAILABLE`]); every edge adds
    /// `Retry-After` ([`RETRY_AFTER_S`]) to its 503s.
    pub fn store_unavailable() -> Self {
        let body = STORE_UNAVAILABLE.as_bytes().to_vec();
        Self { status: 503, content_type: "text/plain; charset=utf-8", cache_control: Cow::Borrowed(CACHE_NONE), body }
    }
}

/// `Content-Type` of playlists (RFC 8216 §4).
pub const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
/// `Content-Type` of init and media segments.
pub const MP4_TYPE: &str = "video/mp4";
/// `Content-Type` of chunks.
pub const FLV_TYPE: &str = "video/x-flv";

/// The store keys of the other objects `route`'s response is built from, once its object is
/// fetched: for the multivariant playlist of a multitrack stream, the manifests of its
/// renditions (at most [`crate::manifest::MAX_RENDITIONS`] of each kind). Fetched in this order,
/// they go to [`respond`].
pub fn rendition_keys(route: &Route, object: Option<&[u8]>) -> Vec<String> {
    match (route, object.map(Manifest::parse)) {
        (Route::Multivariant { .. }, Some(Ok(m))) => {
            m.renditions.video.iter().chain(&m.renditions.audio).map(|s| manifest_key(s)).collect()
        }
        _ => Vec::new(),
    }
}

/// The answer to a request whose query string `route` refuses, before anything is fetched: a
/// media playlist's blocking-request parameters that [`live::PlaylistQuery::parse`] refuses
/// (400, with what was wrong), wherever the playlist would come from (a live edge, an origin,
/// the store), so every edge answers the URL alike. `None` for every other request.
pub fn refused_query(route: &Route, query: Option<&str>) -> Option<Response> {
    match route {
        Route::MediaPlaylist { .. } => {
            live::PlaylistQuery::parse(query).err().map(|why| Response::error(400, why.into()))
        }
        _ => None,
    }
}

/// Builds the response to `route` from its object (`None` if the store does not have it) and
/// the objects of its [`rendition_keys`], in that order (`None` for one the store lacks).
pub fn respond(route: &Route, object: Option<&[u8]>, renditions: &[Option<&[u8]>]) -> Response {
    let Some(object) = object else {
        return Response::not_found();
    };
    match route {
        Route::MediaPlaylist { .. } => match Manifest::parse(object) {
            Ok(m) if m.chunks.is_empty() => Response::not_found(),
            Ok(m) => Response::ok(route.content_type(), playlist_cache(&m), media_playlist(&m).into_bytes()),
            Err(e) => Response::error(500, format!("manifest of {}: {e}", route.stream())),
        },
        Route::Multivariant { .. } => match Manifest::parse(object) {
            Ok(m) => {
                // A rendition that is missing, empty or broken is left out; so are ended ones
                // while others are live (a stream group's member that left).
                let mut parsed: Vec<Option<Manifest>> = renditions
                    .iter()
                    .map(|o| o.and_then(|o| Manifest::parse(o).ok()).filter(|r| !r.chunks.is_empty()))
                    .collect();
                if parsed.iter().flatten().any(|r| r.state == StreamState::Live) {
                    parsed
                        .iter_mut()
                        .filter(|r| r.as_ref().is_some_and(|r| r.state == StreamState::Ended))
                        .for_each(|r| *r = None);
                }
                let (video, audio) = parsed.split_at(m.renditions.video.len().min(parsed.len()));
                let video: Vec<&Manifest> = video.iter().flatten().collect();
                let audio: Vec<&Manifest> = audio.iter().flatten().collect();
                if m.chunks.is_empty() && video.is_empty() {
                    return Response::not_found();
                }
                let body = multivariant_playlist(&m, &video, &audio);
                Response::ok(route.content_type(), playlist_cache(&m), body.into_bytes())
            }
            Err(e) => Response::error(500, format!("manifest of {}: {e}", route.stream())),
        },
        Route::Chunk { .. } => Response::ok(route.content_type(), CACHE_IMMUTABLE, object.to_vec()),
        Route::Init { session, sequence, .. }
        | Route::Segment { session, sequence, .. }
        | Route::Part { session, sequence, .. } => {
            let chunk = match read_chunk(object) {
                Ok(c) => c,
                Err(e) => return Response::error(500, format!("chunk {}: {e}", route.object_key())),
            };
            if &chunk.header.session != session || chunk.header.info.sequence != *sequence {
                return Response::not_found();
            }
            let result = match route {
                Route::Init { .. } => build_init(&chunk.config),
                Route::Part { part, .. } => {
                    let Some((part, tags)) = chunk.part(*part) else {
                        return Response::not_found();
                    };
                    let mut out = Vec::with_capacity(object.len() / chunk.header.parts.len().max(1) + 1024);
                    build_part(&mut out, &chunk.config, &chunk.header.info, &part, tags, &mut Warnings::default())
                        .map(|_| out)
                }
                _ => {
                    let mut out = Vec::with_capacity(object.len() + 1024);
                    build_segment(&mut out, &chunk.config, &chunk.header.info, chunk.tags, &mut Warnings::default())
                        .map(|_| out)
                }
            };
            match result {
                Ok(body) => Response::ok(route.content_type(), CACHE_IMMUTABLE, body),
                Err(e) => Response::error(500, format!("chunk {}: {e}", route.object_key())),
            }
        }
    }
}

/// The `Cache-Control` of a manifest's playlists.
fn playlist_cache(m: &Manifest) -> &'static str {
    if m.state == StreamState::Ended {
        CACHE_ENDED_PLAYLIST
    } else {
        CACHE_PLAYLIST
    }
}

/// The media playlist of a manifest's live window.
pub fn media_playlist(m: &Manifest) -> String {
    let entries: Vec<&ChunkEntry> = m.chunks.iter().collect();
    let mut p = manifest_playlist(&entries, m.discontinuity_sequence, m.state == StreamState::Ended);
    if entries.is_empty() {
        p.media_sequence = m.next_sequence;
    }
    p.render()
}

/// The media playlist of chunk entries (a manifest's window, and for the live edge the chunks
/// closed since): a discontinuity where the session changes, a map where the init segment does.
fn manifest_playlist(entries: &[&ChunkEntry], discontinuity_sequence: u64, ended: bool) -> MediaPlaylist {
    let mut p = MediaPlaylist {
        media_sequence: entries.first().map_or(0, |c| c.sequence),
        discontinuity_sequence,
        playlist_type: None,
        segments: Vec::with_capacity(entries.len() + 1),
        ended,
        independent_segments: entries.iter().all(|c| c.independent),
        low_latency: None,
    };
    let mut prev: Option<&ChunkEntry> = None;
    for &c in entries {
        let new_session = prev.is_none_or(|p| p.session != c.session);
        // RFC 8216 §4.3.2.5: a map holds until the next one, across discontinuities; repeating
        // an unchanged one makes players (ffmpeg) load the same moov again.
        let new_init = prev.is_none_or(|p| p.init != c.init);
        p.segments.push(hls::Segment {
            uri: hls::segment_uri(&c.session, c.sequence),
            duration_ms: c.duration_ms,
            discontinuity: new_session && prev.is_some(),
            map: new_init.then(|| c.init.clone()),
            program_date_time_ms: new_session.then_some(c.wall_clock_ms),
            parts: Vec::new(),
            open: false,
        });
        prev = Some(c);
    }
    p
}

/// The window's peak and average segment bit rates, bits per second.
fn bit_rates(m: &Manifest) -> (u64, u64) {
    let rate = |bytes: u64, ms: u64| bytes.saturating_mul(8000).checked_div(ms).unwrap_or(0);
    let peak = m.chunks.iter().map(|c| rate(c.bytes, c.duration_ms)).max().unwrap_or(0);
    let total = m.chunks.iter().fold(0u64, |sum, c| sum.saturating_add(c.bytes));
    (peak, rate(total, m.window_duration_ms()))
}

/// The codec strings of `codecs` (RFC 6381, comma-separated) that are not video.
fn audio_codecs(codecs: &str) -> impl Iterator<Item = &str> {
    codecs.split(',').filter(|c| !c.is_empty() && video_family(c) == usize::MAX)
}

/// The rank of a codec string's video codec family, H.264 first ([`VIDEO_FOURCCS`]);
/// `usize::MAX` if it is not video.
fn video_family(codecs: &str) -> usize {
    codecs.split(',').find_map(|c| VIDEO_FOURCCS.iter().position(|f| c.get(..4) == Some(*f))).unwrap_or(usize::MAX)
}

/// The multivariant playlist: the stream's `index.m3u8`, and for a multitrack stream its other
/// video tracks' streams as further variants and its other audio tracks' as alternative audio
/// (for a stream group, the streams that joined it, each with its own audio),
/// each variant with the peak and average bit rates of its window (RFC 8216bis §4.4.6.2).
/// Variants are listed by codec family, H.264 first (one ladder per family, so a player never
/// has to switch codecs, and the most widely decoded one is the fallback), and in a family by
/// bit rate, highest first.
pub fn multivariant_playlist(m: &Manifest, video: &[&Manifest], audio: &[&Manifest]) -> String {
    // A stream group's streams each carry their own audio: no group of alternatives.
    let multitrack = !m.renditions.is_empty() && !m.group;
    let default_audio = audio_codecs(&m.media.codecs).next().is_some();
    let group = (multitrack && (default_audio || !audio.is_empty())).then(|| String::from("audio"));
    // A variant's segments carry the default audio; one of the others may be played beside them.
    let alternative = audio.iter().map(|a| bit_rates(a));
    let alternative = alternative.fold((0, 0), |(peak, average), (p, a)| (peak.max(p), average.max(a)));
    let mut codecs_of_group: Vec<&str> = Vec::new();
    for a in audio {
        for c in audio_codecs(&a.media.codecs) {
            if !codecs_of_group.contains(&c) {
                codecs_of_group.push(c);
            }
        }
    }
    let variant = |v: &Manifest, uri: String| {
        let (peak, average) = bit_rates(v);
        let mut codecs = v.media.codecs.clone();
        for c in &codecs_of_group {
            if !codecs.split(',').any(|have| have == *c) {
                codecs.push(',');
                codecs.push_str(c);
            }
        }
        Variant {
            uri,
            bandwidth: peak.saturating_add(alternative.0),
            average_bandwidth: Some(average.saturating_add(alternative.1)),
            codecs,
            resolution: v.media.width.zip(v.media.height),
            frame_rate: v.media.frame_rate,
            audio: group.clone(),
        }
    };
    let mut variants = Vec::with_capacity(1 + video.len());
    if !m.chunks.is_empty() {
        variants.push(variant(m, "index.m3u8".into()));
    }
    for v in video {
        variants.push(variant(v, format!("../{}/index.m3u8", v.stream_key)));
    }
    // Within a family, the highest bit rate first: where players start without an estimate.
    variants.sort_by_key(|v| (video_family(&v.codecs), core::cmp::Reverse(v.bandwidth)));
    let mut renditions = Vec::with_capacity(1 + audio.len());
    if let Some(group) = &group {
        if default_audio {
            renditions.push(AudioRendition { group: group.clone(), name: "main".into(), uri: None, default: true });
        }
        for a in audio {
            renditions.push(AudioRendition {
                group: group.clone(),
                name: a.stream_key.clone(),
                uri: Some(format!("../{}/index.m3u8", a.stream_key)),
                default: !default_audio && renditions.is_empty(),
            });
        }
    }
    let all = core::iter::once(m).chain(video.iter().copied());
    hls::render_multivariant(&variants, &renditions, all.flat_map(|v| &v.chunks).all(|c| c.independent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::MAX_FIGURE;
    use alloc::vec;

    #[test]
    fn routes() {
        assert_eq!(Route::parse("/live/cam-1/index.m3u8"), Some(Route::MediaPlaylist { stream: "cam-1".into() }));
        assert_eq!(
            Route::parse("/live/cam/170/init-12.mp4"),
            Some(Route::Init { stream: "cam".into(), session: "170".into(), sequence: 12 })
        );
        assert_eq!(Route::parse("/live/cam/170/13.m4s").map(|r| r.object_key()), Some("live/cam/170/13.flv".into()));
        assert_eq!(Route::parse("/live/cam/170/13.flv").map(|r| r.object_key()), Some("live/cam/170/13.flv".into()));
        for bad in [
            "/live/../index.m3u8",
            "/live/a/b/c/d.m4s",
            "/live/a/s/x.m4s",
            "/live/a/s/-1.m4s",
            "/live/a/s/1.mp4",
            "/other",
            "/live/a",
        ] {
            assert_eq!(Route::parse(bad), None, "{bad}");
        }
    }

    /// One URL per object: every number of every route is canonical decimal, so a cache in
    /// front never keeps two copies of one segment under two spellings.
    #[test]
    fn numbers_in_paths_are_canonical_decimal() {
        for canonical in [
            "/live/cam/170/0.m4s",
            "/live/cam/170/7.m4s",
            "/live/cam/170/10.m4s",
            "/live/cam/170/7.0.m4s",
            "/live/cam/170/7.10.m4s",
            "/live/cam/170/0.0.m4s",
            "/live/cam/170/init-0.mp4",
            "/live/cam/170/init-1.mp4",
            "/live/cam/170/0.flv",
            "/live/cam/170/7.flv",
            "/live/cam/170/18446744073709551615.m4s",
            "/live/cam/170/18446744073709551615.4294967295.m4s",
            "/live/cam/007/7.m4s", // a session id is a name, not a number
            "/live/cam/index.m3u8",
            "/live/cam/master.m3u8",
        ] {
            let route = Route::parse(canonical).unwrap_or_else(|| panic!("{canonical} is a route"));
            assert_eq!(route.path(), canonical, "the path of the route is the one it was parsed from");
        }
        for (number, why) in [
            ("07", "a leading zero"),
            ("007", "leading zeros"),
            ("00", "a leading zero"),
            ("+7", "a plus sign"),
            ("-7", "a minus sign"),
            ("-0", "a minus sign"),
            (" 7", "a space"),
            ("7 ", "a space"),
            ("", "no digits"),
            ("0x7", "hexadecimal"),
            ("7e0", "an exponent"),
            ("\u{0667}", "a non-ASCII digit"),
            ("18446744073709551616", "u64 overflow"),
            ("99999999999999999999", "u64 overflow"),
            ("000000000000000000007", "over-long"),
            ("123456789012345678901", "over-long"),
        ] {
            for path in [
                format!("/live/cam/170/{number}.m4s"),
                format!("/live/cam/170/init-{number}.mp4"),
                format!("/live/cam/170/{number}.flv"),
                format!("/live/cam/170/{number}.0.m4s"),
                format!("/live/cam/170/7.{number}.m4s"),
            ] {
                assert_eq!(Route::parse(&path), None, "{path}: {why} is not a number of a route");
            }
        }
        // A part index is a u32.
        assert_eq!(Route::parse("/live/cam/170/7.4294967296.m4s"), None);
        assert_eq!(Route::parse("/live/cam/170/7.0.0.m4s"), None);
    }

    /// The blocking-request parameters follow the rule of paths: one spelling of a number, and
    /// anything else a 400 that says what was wrong.
    #[test]
    fn blocking_request_parameters_are_canonical_or_400() {
        use live::PlaylistQuery;
        let parse = |q: &str| PlaylistQuery::parse(Some(q));
        let query = |msn, part, skip| Ok(PlaylistQuery { msn, part, skip });
        assert_eq!(parse("_HLS_msn=0"), query(Some(0), None, false));
        assert_eq!(parse("_HLS_msn=7&_HLS_part=0"), query(Some(7), Some(0), false));
        assert_eq!(
            parse("_HLS_msn=18446744073709551615&_HLS_part=4294967295"),
            query(Some(u64::MAX), Some(u32::MAX), false)
        );
        assert_eq!(parse("_HLS_skip=YES"), query(None, None, true));
        assert_eq!(parse("_HLS_skip=v2&token=abc&&x"), query(None, None, true));
        for number in
            ["07", "00", "-1", "+7", "-0", "", " 7", "7e0", "0x7", "18446744073709551616", "000000000000000000007"]
        {
            let msn = parse(&format!("_HLS_msn={number}"));
            assert_eq!(
                msn,
                Err("_HLS_msn is not a media sequence number (decimal, no sign, no leading zero)"),
                "{number:?}"
            );
            let part = parse(&format!("_HLS_msn=7&_HLS_part={number}"));
            assert_eq!(part, Err("_HLS_part is not a part index (decimal, no sign, no leading zero)"), "{number:?}");
        }
        assert!(parse("_HLS_msn=7&_HLS_part=4294967296").is_err(), "a part index is a u32");
        assert!(parse("_HLS_msn").is_err(), "no value");
        for skip in ["yes", "NO", "", "v3", "YES "] {
            assert_eq!(parse(&format!("_HLS_skip={skip}")), Err("_HLS_skip is neither YES nor v2"), "{skip:?}");
        }
        assert_eq!(parse("_HLS_msn=7&_HLS_msn=7"), Err("_HLS_msn is given twice"));
        assert_eq!(parse("_HLS_msn=7&_HLS_part=1&_HLS_part=1"), Err("_HLS_part is given twice"));
        assert_eq!(parse("_HLS_skip=YES&_HLS_skip=v2"), Err("_HLS_skip is given twice"));
        // Refused before anything is fetched, for the media playlist only (where they mean
        // something).
        let playlist = Route::parse("/live/cam/index.m3u8").unwrap();
        let refused = refused_query(&playlist, Some("_HLS_msn=07")).expect("a 400");
        assert_eq!((refused.status, &*refused.cache_control), (400, CACHE_NONE));
        assert!(refused.body.starts_with(b"_HLS_msn is not a media sequence number"));
        assert_eq!(refused_query(&playlist, Some("_HLS_msn=7&token=x")), None);
        assert_eq!(refused_query(&playlist, None), None);
        let segment = Route::parse("/live/cam/170/7.m4s").unwrap();
        assert_eq!(refused_query(&segment, Some("_HLS_msn=07")), None);
    }

    #[test]
    fn missing_objects_are_404_and_garbage_is_500_not_cached() {
        let r = Route::parse("/live/a/index.m3u8").unwrap();
        assert_eq!(respond(&r, None, &[]).status, 404);
        let e = respond(&r, Some(b"{"), &[]);
        assert_eq!((e.status, &*e.cache_control), (500, CACHE_NONE));
        let s = Route::parse("/live/a/1/2.m4s").unwrap();
        assert_eq!(respond(&s, Some(b"FLV garbage"), &[]).status, 500);
    }

    /// A stream's manifest with one chunk of `bytes` per second, `chunks` of them.
    fn stream(key: &str, codecs: &str, height: u32, bytes: u64, chunks: u64) -> Manifest {
        let mut m = Manifest::new(key, 1);
        m.media = crate::manifest::MediaInfo {
            codecs: codecs.into(),
            width: Some(height * 16 / 9),
            height: Some(height),
            frame_rate: Some(30.0),
        };
        for sequence in 1..=chunks {
            let entry = ChunkEntry {
                session: "s".into(),
                sequence,
                init: "s/init-1.mp4".into(),
                start_ms: sequence * 1000,
                duration_ms: 1000,
                bytes: bytes * sequence, // the last is the peak
                wall_clock_ms: 0,
                independent: true,
            };
            m.push_chunk(entry, 10);
        }
        m
    }

    fn multivariant(main: &Manifest, others: &[&Manifest]) -> String {
        let route = Route::Multivariant { stream: main.stream_key.clone() };
        let json = main.to_json();
        let keys = rendition_keys(&route, Some(&json));
        let objects: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| others.iter().find(|o| manifest_key(&o.stream_key) == *k).map(|o| o.to_json()).unwrap_or_default())
            .collect();
        let objects: Vec<Option<&[u8]>> = objects.iter().map(|o| Some(&o[..]).filter(|o| !o.is_empty())).collect();
        let r = respond(&route, Some(&json), &objects);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        String::from_utf8(r.body).unwrap()
    }

    #[test]
    fn a_multitrack_stream_lists_its_tracks_with_an_audio_group() {
        let mut main = stream("cam", "avc1.64001F,mp4a.40.2", 720, 250_000, 2);
        main.renditions.video = vec!["cam_v1".into(), "cam_v9".into()];
        main.renditions.audio = vec!["cam_a1".into()];
        let v1 = stream("cam_v1", "avc1.64001E,mp4a.40.2", 360, 100_000, 2);
        let a1 = stream("cam_a1", "opus", 0, 10_000, 2);
        // cam_v9 is not in the store (yet): left out.
        assert_eq!(
            multivariant(&main, &[&v1, &a1]),
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"main\",DEFAULT=YES,AUTOSELECT=YES\n\
             #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"cam_a1\",DEFAULT=NO,AUTOSELECT=YES,URI=\"../cam_a1/index.m3u8\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=4160000,AVERAGE-BANDWIDTH=3120000,CODECS=\"avc1.64001F,mp4a.40.2,opus\",\
             RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO=\"audio\"\nindex.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1760000,AVERAGE-BANDWIDTH=1320000,CODECS=\"avc1.64001E,mp4a.40.2,opus\",\
             RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO=\"audio\"\n../cam_v1/index.m3u8\n"
        );
    }

    #[test]
    fn a_group_lists_its_live_streams_by_codec_family_then_bit_rate() {
        let mut group = Manifest { group: true, ..Manifest::new("show", 1) };
        group.renditions.video = ["show_av1", "show_lo", "show_hi", "show_gone"].map(String::from).to_vec();
        let av1 = stream("show_av1", "av01.0.08M.08,opus", 720, 100_000, 1);
        let lo = stream("show_lo", "avc1.42C01E,mp4a.40.2", 360, 100_000, 1);
        let hi = stream("show_hi", "avc1.64001F,mp4a.40.2", 720, 300_000, 1);
        let gone =
            Manifest { state: StreamState::Ended, ..stream("show_gone", "avc1.64001F,mp4a.40.2", 1080, 900_000, 1) };
        let text = multivariant(&group, &[&av1, &lo, &hi, &gone]);
        let uris: Vec<&str> = text.lines().filter(|l| l.starts_with("../")).collect();
        assert_eq!(uris, ["../show_hi/index.m3u8", "../show_lo/index.m3u8", "../show_av1/index.m3u8"], "{text}");
        assert!(!text.contains("EXT-X-MEDIA"), "{text}");
        // No stream of the group live: all of them, ended ones too.
        let ended = |m: &Manifest| Manifest { state: StreamState::Ended, ..m.clone() };
        let text = multivariant(&group, &[&ended(&av1), &ended(&lo), &ended(&hi), &gone]);
        assert_eq!(text.lines().filter(|l| l.starts_with("../")).count(), 4, "{text}");
        // A group none of whose streams has media: 404; so is its media playlist.
        let empty = group.to_json();
        assert_eq!(respond(&Route::parse("/live/show/master.m3u8").unwrap(), Some(&empty), &[None; 4]).status, 404);
        assert_eq!(respond(&Route::parse("/live/show/index.m3u8").unwrap(), Some(&empty), &[]).status, 404);
    }

    /// A manifest is read from the store, so its figures are a peer's: the largest it may hold
    /// give playlists, not an overflow.
    #[test]
    fn playlists_of_a_manifest_with_extreme_figures() {
        let mut m = Manifest::new("a", 1);
        for sequence in 0..2 {
            m.push_chunk(
                crate::manifest::ChunkEntry {
                    session: "s".into(),
                    sequence,
                    init: "s/init-0.mp4".into(),
                    start_ms: MAX_FIGURE,
                    duration_ms: MAX_FIGURE,
                    bytes: MAX_FIGURE,
                    wall_clock_ms: MAX_FIGURE,
                    independent: true,
                },
                5,
            );
        }
        let json = m.to_json();
        for path in ["/live/a/master.m3u8", "/live/a/index.m3u8"] {
            assert_eq!(respond(&Route::parse(path).unwrap(), Some(&json), &[]).status, 200, "{path}");
        }
        let beyond = String::from_utf8(json).unwrap().replace("9007199254740991", "9007199254740992");
        let r = respond(&Route::parse("/live/a/index.m3u8").unwrap(), Some(beyond.as_bytes()), &[]);
        assert_eq!(r.status, 500);
    }
}

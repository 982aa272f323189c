//! The URL grammar of playback: which paths are routes ([`Route::parse`]), the one path of each
//! route ([`Route::path`]), the store object it is built from ([`Route::object_key`], named by
//! [`crate::layout`]) and when a live origin is asked for it ([`LiveOrigin`]).

use alloc::{format, string::String, string::ToString};

use crate::date::iso8601;
use crate::hls::{self, parse_uri_number};
use crate::layout::{chunk_key, manifest_key, session_key, valid_name};

/// `Content-Type` of playlists (RFC 8216 §4).
pub const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
/// `Content-Type` of init and media segments.
pub const MP4_TYPE: &str = "video/mp4";
/// `Content-Type` of chunks.
pub const FLV_TYPE: &str = "video/x-flv";

/// A playback request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// The media playlist.
    MediaPlaylist {
        /// Stream key.
        stream: String,
    },
    /// The media playlist of a time window of the stream's archive (`index.m3u8?start=…&end=…`,
    /// made of a media playlist's route by [`Route::with_window`]).
    Window {
        /// Stream key.
        stream: String,
        /// `start`, milliseconds since the Unix epoch.
        start_ms: u64,
        /// `end`, if given.
        end_ms: Option<u64>,
    },
    /// The media playlist of one publishing session's recording (`{session}/index.m3u8`).
    Recording {
        /// Stream key.
        stream: String,
        /// Session id.
        session: String,
    },
    /// A clip of the stream's archive as one MP4 file (`clip.mp4?start=…&end=…[&filename=…]`,
    /// made of the path's route by [`Route::with_window`]: the path alone has no window yet).
    Clip {
        /// Stream key.
        stream: String,
        /// `start`, milliseconds since the Unix epoch.
        start_ms: u64,
        /// `end`, milliseconds since the Unix epoch.
        end_ms: u64,
        /// `filename`, percent-decoded and valid for [`crate::clip::attachment`]: the clip is a
        /// download of that name.
        filename: Option<String>,
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

/// The file name of a stream's clips: `/live/{stream}/clip.mp4?start=…&end=…`.
pub const CLIP_FILE: &str = "clip.mp4";

/// The query of a clip (`start={t}&end={t}[&filename={name}]`), judged at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipQuery {
    /// `start`, milliseconds since the Unix epoch.
    pub start_ms: u64,
    /// `end`, milliseconds since the Unix epoch.
    pub end_ms: u64,
    /// `filename`, percent-decoded, valid for [`crate::clip::attachment`].
    pub filename: Option<String>,
}

impl ClipQuery {
    /// The clip a query asks for at `now_ms`: `start` and `end` as [`crate::date::parse_time`] reads them
    /// (both needed, `end` after `start` and not after `now_ms`: a clip is of the past), and an
    /// optional `filename` (percent-encoded UTF-8, `+` a space); `Err` with what is wrong.
    /// Its length against the edge's limit is the edge driver's to judge.
    pub fn parse(query: Option<&str>, now_ms: u64) -> Result<Self, String> {
        let mut filename = None;
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if key != "filename" {
                continue;
            }
            if filename.is_some() {
                return Err("filename is given twice".into());
            }
            let name =
                percent_decoded(value).ok_or_else(|| format!("filename={value:?} is not percent-encoded UTF-8"))?;
            crate::clip::attachment(&name).map_err(|e| e.to_string())?;
            filename = Some(name);
        }
        let (start, end) = crate::archive::query_times(query)?;
        let (Some(start_ms), Some(end_ms)) = (start, end) else {
            return Err("a clip needs start and end (clip.mp4?start={t}&end={t})".into());
        };
        if end_ms <= start_ms {
            return Err(format!("end {} is not after start {}", iso8601(end_ms), iso8601(start_ms)));
        }
        if end_ms > now_ms {
            return Err(format!("end {} is in the future: a clip is of what is recorded", iso8601(end_ms)));
        }
        Ok(Self { start_ms, end_ms, filename })
    }
}

/// `value` percent-decoded (`%XX`, and `+` as a space, as forms write it), if that is UTF-8.
fn percent_decoded(value: &str) -> Option<String> {
    let mut out = alloc::vec::Vec::with_capacity(value.len());
    let mut bytes = value.bytes();
    while let Some(b) = bytes.next() {
        out.push(match b {
            b'+' => b' ',
            b'%' => {
                let hex = |c: Option<u8>| char::from(c?).to_digit(16);
                u8::try_from(hex(bytes.next())? * 16 + hex(bytes.next())?).ok()?
            }
            b => b,
        });
    }
    String::from_utf8(out).ok()
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
            (CLIP_FILE, None) => Some(Self::Clip { stream, start_ms: 0, end_ms: 0, filename: None }),
            (session, Some("index.m3u8")) if valid_name(session) => {
                Some(Self::Recording { stream, session: session.into() })
            }
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

    /// The route of a media playlist's request with `query`: a [`Route::Window`] when it asks
    /// for a time window (`start`, `end`: [`crate::archive::WindowQuery`], judged at `now_ms`),
    /// else the route itself; a [`Route::Clip`] with its window and file name ([`ClipQuery`]);
    /// `Err` with what is wrong with the window.
    pub fn with_window(self, query: Option<&str>, now_ms: u64) -> Result<Self, String> {
        match self {
            Self::MediaPlaylist { stream } => match crate::archive::WindowQuery::parse(query, now_ms)? {
                Some(w) => Ok(Self::Window { stream, start_ms: w.start_ms, end_ms: w.end_ms }),
                None => Ok(Self::MediaPlaylist { stream }),
            },
            Self::Clip { stream, .. } => {
                let q = ClipQuery::parse(query, now_ms)?;
                Ok(Self::Clip { stream, start_ms: q.start_ms, end_ms: q.end_ms, filename: q.filename })
            }
            route => Ok(route),
        }
    }

    /// The one path of the route (what [`Route::parse`] accepts for it): playlists and the
    /// URIs they list, under `/live/{stream}/`.
    pub fn path(&self) -> String {
        let stream = self.stream();
        let file = match self {
            Self::MediaPlaylist { .. } | Self::Window { .. } => "index.m3u8".into(),
            Self::Recording { session, .. } => format!("{session}/index.m3u8"),
            Self::Multivariant { .. } => "master.m3u8".into(),
            Self::Clip { .. } => CLIP_FILE.into(),
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
            | Self::Window { stream, .. }
            | Self::Recording { stream, .. }
            | Self::Multivariant { stream }
            | Self::Clip { stream, .. }
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
            Self::MediaPlaylist { .. }
            | Self::Window { .. }
            | Self::Recording { .. }
            | Self::Multivariant { .. }
            | Self::Clip { .. } => None,
            Self::Init { session, sequence, .. }
            | Self::Segment { session, sequence, .. }
            | Self::Part { session, sequence, .. }
            | Self::Chunk { session, sequence, .. } => Some((session, *sequence)),
        }
    }

    /// The one store object the response is built from (the first one, for the archive's
    /// playlists: [`super::archive::more_keys`] names the others).
    pub fn object_key(&self) -> String {
        match (self, self.chunk()) {
            (_, Some((session, sequence))) => chunk_key(self.stream(), session, sequence),
            (Self::Recording { stream, session }, None) => session_key(stream, session),
            _ => manifest_key(self.stream()),
        }
    }

    /// Whether it is built from the archive at a time the adapter passes in: its playlists and
    /// clips.
    pub fn is_archive(&self) -> bool {
        matches!(self, Self::Window { .. } | Self::Recording { .. } | Self::Clip { .. })
    }

    /// Whether the answer is a playlist (media, multivariant, the archive's).
    pub fn is_playlist(&self) -> bool {
        matches!(
            self,
            Self::MediaPlaylist { .. } | Self::Multivariant { .. } | Self::Window { .. } | Self::Recording { .. }
        )
    }

    /// Whether a viewer's playback token opens this route of a signed stream: the routes a
    /// viewer enters by, playlists and clips; the rest (segments, parts, init segments) take the
    /// child URI signature of the playlist that lists them.
    pub fn takes_token(&self) -> bool {
        self.is_playlist() || matches!(self, Self::Clip { .. })
    }

    /// The times the request watches, milliseconds since the Unix epoch, as of `now_ms`: a
    /// window's or a clip's own (a window to `now_ms` while open), everything up to now for a
    /// recording, `now_ms` for the live edge and its objects.
    pub fn times_ms(&self, now_ms: u64) -> (u64, u64) {
        match self {
            Self::Window { start_ms, end_ms, .. } => (*start_ms, end_ms.unwrap_or(now_ms)),
            Self::Clip { start_ms, end_ms, .. } => (*start_ms, *end_ms),
            Self::Recording { .. } => (0, now_ms),
            _ => (now_ms, now_ms),
        }
    }

    /// When an edge with a live origin (the ingest node publishing the stream) asks it instead
    /// of the store.
    pub fn live_origin(&self) -> LiveOrigin {
        match self {
            Self::MediaPlaylist { .. } => LiveOrigin::First,
            Self::Init { .. } | Self::Segment { .. } | Self::Part { .. } => LiveOrigin::WhenNotStored,
            Self::Multivariant { .. }
            | Self::Chunk { .. }
            | Self::Window { .. }
            | Self::Recording { .. }
            | Self::Clip { .. } => LiveOrigin::Never,
        }
    }

    /// Whether the response never changes (init, segments, chunks), so caches may keep it forever.
    pub fn is_immutable(&self) -> bool {
        matches!(self, Self::Init { .. } | Self::Segment { .. } | Self::Part { .. } | Self::Chunk { .. })
    }

    /// The `Content-Type` of a successful response.
    pub fn content_type(&self) -> &'static str {
        match self {
            Self::MediaPlaylist { .. } | Self::Multivariant { .. } | Self::Window { .. } | Self::Recording { .. } => {
                PLAYLIST_TYPE
            }
            Self::Init { .. } | Self::Segment { .. } | Self::Part { .. } | Self::Clip { .. } => MP4_TYPE,
            Self::Chunk { .. } => FLV_TYPE,
        }
    }

    /// A short name of the route, for metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MediaPlaylist { .. } => "playlist",
            Self::Window { .. } => "window",
            Self::Recording { .. } => "recording",
            Self::Multivariant { .. } => "multivariant",
            Self::Clip { .. } => "clip",
            Self::Init { .. } => "init",
            Self::Segment { .. } => "segment",
            Self::Part { .. } => "part",
            Self::Chunk { .. } => "chunk",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::parse("/live/cam-1/index.m3u8"), Some(Route::MediaPlaylist { stream: "cam-1".into() }));
        assert_eq!(
            Route::parse("/live/cam/170/init-12.mp4"),
            Some(Route::Init { stream: "cam".into(), session: "170".into(), sequence: 12 })
        );
        assert_eq!(Route::parse("/live/cam/170/13.m4s").map(|r| r.object_key()), Some("live/cam/170/13.flv".into()));
        assert_eq!(Route::parse("/live/cam/170/13.flv").map(|r| r.object_key()), Some("live/cam/170/13.flv".into()));
        assert_eq!(
            Route::parse("/live/cam/170/index.m3u8").map(|r| r.object_key()),
            Some("live/cam/sessions/170.json".into())
        );
        let window = Route::parse("/live/cam/index.m3u8").unwrap().with_window(Some("start=100&end=200.5"), 300_000);
        assert_eq!(window, Ok(Route::Window { stream: "cam".into(), start_ms: 100_000, end_ms: Some(200_500) }));
        assert_eq!(window.unwrap().object_key(), "live/cam/manifest.json");
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

    #[test]
    fn clip_queries() {
        let now = 1_796_570_500_000;
        let clip = |q: &str| Route::parse("/live/cam/clip.mp4").unwrap().with_window(Some(q), now);
        assert_eq!(
            clip("start=2026-12-06T15:20:00.5Z&end=1796570410&filename=a%20b+c"),
            Ok(Route::Clip {
                stream: "cam".into(),
                start_ms: 1_796_570_400_500,
                end_ms: 1_796_570_410_000,
                filename: Some("a b c".into())
            })
        );
        assert_eq!(Route::parse("/live/cam/clip.mp4").map(|r| r.path()), Some("/live/cam/clip.mp4".into()));
        for (query, says) in [
            ("", "needs start and end"),
            ("start=1796570400", "needs start and end"),
            ("start=1796570400&end=1796570400", "not after start"),
            ("start=1796570400&end=1796570600", "in the future"),
            ("start=x&end=1796570400", "start=\"x\""),
            ("start=1&start=2&end=3", "twice"),
            ("start=1&end=3&filename=%FF", "percent-encoded UTF-8"),
            ("start=1&end=3&filename=%4", "percent-encoded UTF-8"),
            ("start=1&end=3&filename=a%0Db", "cannot name a clip"),
            ("start=1&end=3&filename=a&filename=b", "twice"),
        ] {
            let why = clip(query).expect_err(query);
            assert!(why.contains(says), "{query}: {why}");
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
            "/live/cam/170/index.m3u8",
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
}

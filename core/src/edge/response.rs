//! The responses of playback, before HTTP: [`respond`] builds one from the objects a route
//! needs ([`Route::object_key`], [`rendition_keys`]); the constants every edge answers with
//! (`Cache-Control` values, content types, the words of a 503). The driver
//! ([`super::driver`]) turns a response into the HTTP answer (ranges, `HEAD`, headers).

use alloc::{borrow::Cow, format, string::String, vec::Vec};

use super::route::Route;
use crate::chunk::read_chunk;
use crate::layout::manifest_key;
use crate::manifest::Manifest;
use crate::playlist::{self, media_playlist, playlist_cache};
use crate::segment::{build_init, build_part, build_segment, Warnings};

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

/// `Content-Type` of error answers: words.
pub const TEXT_TYPE: &str = "text/plain; charset=utf-8";

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
            content_type: TEXT_TYPE,
            cache_control: Cow::Borrowed(CACHE_NOT_FOUND),
            body: b"not found\n".to_vec(),
        }
    }

    /// An error, never cached.
    pub fn error(status: u16, message: String) -> Self {
        let mut body = message.into_bytes();
        body.push(b'\n');
        Self { status, content_type: TEXT_TYPE, cache_control: Cow::Borrowed(CACHE_NONE), body }
    }

    /// The `503` of a store that does not answer ([`STORE_UNAVAILABLE`]); the edge driver adds
    /// `Retry-After` ([`RETRY_AFTER_S`]) to every 503.
    pub fn store_unavailable() -> Self {
        let body = STORE_UNAVAILABLE.as_bytes().to_vec();
        Self { status: 503, content_type: TEXT_TYPE, cache_control: Cow::Borrowed(CACHE_NONE), body }
    }
}

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
                // A rendition that is missing, empty or broken is left out.
                let parsed: Vec<Option<Manifest>> = renditions
                    .iter()
                    .map(|o| o.and_then(|o| Manifest::parse(o).ok()).filter(|r| !r.chunks.is_empty()))
                    .collect();
                match playlist::ladder_playlist(&m, parsed) {
                    Some(body) => Response::ok(route.content_type(), playlist_cache(&m), body.into_bytes()),
                    None => Response::not_found(),
                }
            }
            Err(e) => Response::error(500, format!("manifest of {}: {e}", route.stream())),
        },
        Route::Chunk { .. } => Response::ok(route.content_type(), CACHE_IMMUTABLE, object.to_vec()),
        // Built at a time the driver passes in: [`super::archive::respond`].
        Route::Window { .. } | Route::Recording { .. } | Route::Clip { .. } => {
            Response::error(500, "an archive playlist or clip is built by the edge driver".into())
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{ChunkEntry, StreamState, MAX_FIGURE};
    use alloc::vec;

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

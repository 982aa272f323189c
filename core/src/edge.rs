//! The HTTP edge, sans-IO: what a playback request needs, and the whole answer to it.
//!
//! Every edge (the ingest node's built-in one, `rapidrtmp edge`, the Cloudflare Worker) runs
//! one [`EdgeDriver`] per request: the driver says what to fetch next (a store object, the live
//! edge, the live origin), takes what was fetched and returns the complete HTTP answer (status,
//! headers, body, ranges, `HEAD`), so a URL gives the same bytes wherever it is served, and a
//! route is added once, here.
//!
//! | module | what it holds |
//! |---|---|
//! | [`route`] | the URL grammar: which paths are routes, the store object of each |
//! | [`response`] | the response built from the fetched objects; `Cache-Control` and content types |
//! | [`driver`] | the request flow, and the HTTP answer: ranges, `HEAD`, CORS, `Retry-After` |
//! | [`archive`] | the archive's playlists: time windows and recordings, from the index objects |
//! | [`live`] | the LL-HLS live edge (parts of the open segment, blocking playlist requests) |
//! | [`auth`] | signed playback: playback tokens (JWT, ES256/Ed25519) and child URI signatures |
//! | [`sigv4`] | AWS SigV4 signing of store reads (the Worker's S3-compatible origin) |
//!
//! | URL (under `/live/{stream}/`) | object | response |
//! |---|---|---|
//! | `index.m3u8` | `live/{stream}/manifest.json` | media playlist of the live window (1 s cache; 5 min once ended) |
//! | `index.m3u8?start={t}[&end={t}]` | the manifest, then the archive buckets the window overlaps ([`archive`]) | media playlist of the window: `EVENT` while it grows, `VOD` with `EXT-X-ENDLIST` once over |
//! | `{session}/index.m3u8` | `live/{stream}/sessions/{session}.json`, the manifest, the buckets the session overlaps | media playlist of the session's recording (`EVENT` while live, then `VOD`) |
//! | `master.m3u8` | the manifest (or a stream group's record), and those of its renditions ([`rendition_keys`]) | multivariant playlist |
//! | `{session}/init-{seq}.mp4` | chunk `live/{stream}/{session}/{seq}.flv` | init segment |
//! | `{session}/{seq}.m4s` | the same chunk | media segment |
//! | `{session}/{seq}.{part}.m4s` | the same chunk | part `part` of the segment (LL-HLS; the ingest node serves those of the open segment, [`live`]) |
//! | `{session}/{seq}.flv` | the same chunk | the chunk itself, as stored (for inspection) |

pub mod archive;
pub mod auth;
pub mod driver;
pub mod live;
mod range;
pub mod response;
pub mod route;
pub mod sigv4;

pub use driver::{
    refused_query, Answer, EdgeDriver, Fetched, Method, OriginAnswer, Outcome, PlaybackRequest, Sources, Step,
};
pub use range::{parse_range, RangeRequest};
pub use response::{
    rendition_keys, respond, Response, CACHE_IMMUTABLE, CACHE_NONE, CACHE_NOT_FOUND, RETRY_AFTER_S, STORE_UNAVAILABLE,
    TEXT_TYPE,
};
pub use route::{LiveOrigin, Route, FLV_TYPE, MP4_TYPE, PLAYLIST_TYPE};

//! The portable packaging core of RapidRTMP: FLV in, CMAF fMP4 segments and HLS playlists out.
//!
//! Sans-IO: no sockets, files, clock, threads or randomness. Callers pass bytes (and times) in
//! and get bytes out, so the same code runs in the ingest node, in a Cloudflare Worker and in the
//! browser.
//!
//! | layer | module | specifications |
//! |---|---|---|
//! | container in | [`flv`] | Adobe FLV File Format Spec v10.1 (annex E); Enhanced RTMP v2 (Veovera); AMF0 |
//! | codec configuration | [`codec`] | ISO/IEC 14496-15 §5.3.3 (avcC); ITU-T H.264 §7.3.2.1 (SPS); ISO/IEC 14496-3 §1.6.2 (AudioSpecificConfig); RFC 6381 |
//! | timing and cuts | [`timeline`], [`chunk`] | RTMP timestamps (Adobe RTMP spec §5.3.1.1); where chunks are cut and sessions begin: docs/storage.md |
//! | container out | [`cmaf`] | ISO/IEC 14496-12 (ISOBMFF); ISO/IEC 23000-19 (CMAF) |
//! | clips | [`clip`] | ISO/IEC 14496-12 §8.6 (sample tables, edit lists) |
//! | playlists | [`playlist`] (what they list), [`hls`] (how they are written) | RFC 8216 / draft-pantos-hls-rfc8216bis |
//! | the archive's index | [`archive`] | time buckets and session records (`docs/storage.md`) |
//! | storage keys | [`layout`] | the store layout (`docs/storage.md`) |
//! | HTTP edge | [`edge`] | RFC 9110 (ranges, methods); the request flow every edge runs |
//!
//! A lower layer never imports a higher one.
#![no_std]
#![deny(unsafe_code)]
// Numbers change type only through checked conversions: a value a peer sent is refused, never
// wrapped or cut.
#![deny(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod archive;
pub mod chunk;
pub mod clip;
pub mod cmaf;
pub mod codec;
pub mod date;
pub mod edge;
mod error;
pub mod flv;
pub mod hls;
#[cfg(feature = "inspect")]
pub mod inspect;
pub mod layout;
pub mod manifest;
pub mod media;
pub mod package;
pub mod playlist;
pub mod segment;
pub mod timeline;

pub use error::Error;

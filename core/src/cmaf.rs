//! CMAF fMP4 writer: init segments and media segments (and, for clips, non-fragmented movies:
//! [`write_movie`]), with one video track (H.264 `avc1`,
//! H.265 `hvc1`, AV1 `av01` or VP9 `vp09`) and/or one audio track (AAC or MP3 `mp4a`, Opus,
//! AC-3 `ac-3` or E-AC-3 `ec-3`): every codec the project packages.
//!
//! Specifications: ISO/IEC 14496-12:2022 (ISOBMFF; section numbers on each writer), ISO/IEC
//! 14496-14 §5.6 (`esds`), ISO/IEC 14496-15 §5.4.2 (`avc1`/`avcC`) and §8.4.1 (`hvc1`/`hvcC`),
//! AV1-ISOBMFF §2.2 (`av01`/`av1C`), the VP codec ISO media file format binding §2.2
//! (`vp09`/`vpcC`), Opus in ISOBMFF §4.3 (`Opus`/`dOps`), ETSI TS 102 366 Annex F
//! (`ac-3`/`dac3`, `ec-3`/`dec3`), ISO/IEC 23000-19 (CMAF).
//! Every writer is a plain function appending one box to a `Vec<u8>`; box sizes are back-patched
//! by one helper. Identical input gives byte-identical output.

mod fragment;
mod init;
mod movie;
#[cfg(test)]
mod tests;
mod write;

pub use fragment::{write_segment, Sample, TrackRun, SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_SYNC};
pub use init::{write_init, write_movie, Track, TrackKind};
pub use movie::{Edit, MovieChunk, MovieSample, MovieTrack};

/// Timescale of video tracks: 90 kHz, so RTMP milliseconds convert exactly.
pub const VIDEO_TIMESCALE: u32 = 90_000;
/// Timescale of the movie (`mvhd`), in which edit lists and track durations are given:
/// milliseconds, the unit of RTMP timestamps.
pub const MOVIE_TIMESCALE: u32 = 1000;
/// Track id of the video track.
pub const VIDEO_TRACK_ID: u32 = 1;
/// Track id of the audio track.
pub const AUDIO_TRACK_ID: u32 = 2;

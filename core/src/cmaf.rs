//! CMAF fMP4 writer: init segments and media segments, one video (H.264) and/or one audio (AAC)
//! track.
//!
//! Specifications: ISO/IEC 14496-12:2022 (ISOBMFF; section numbers on each writer), ISO/IEC
//! 14496-14 §5.6 (`esds`), ISO/IEC 14496-15 §5.4.2 (`avc1`/`avcC`), ISO/IEC 23000-19 (CMAF).
//! Every writer is a plain function appending one box to a `Vec<u8>`; box sizes are back-patched
//! by one helper. Identical input gives byte-identical output.

mod fragment;
mod init;
#[cfg(test)]
mod tests;
mod write;

pub use fragment::{write_segment, Sample, TrackRun, SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_SYNC};
pub use init::{write_init, Track, TrackKind};

/// Timescale of video tracks: 90 kHz, so RTMP milliseconds convert exactly.
pub const VIDEO_TIMESCALE: u32 = 90_000;
/// Track id of the video track.
pub const VIDEO_TRACK_ID: u32 = 1;
/// Track id of the audio track.
pub const AUDIO_TRACK_ID: u32 = 2;

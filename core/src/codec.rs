//! Codec configuration and RFC 6381 / codec-registry strings: H.264 and H.265 decoder
//! configuration records and SPS, AV1 `AV1CodecConfigurationRecord` and sequence header, VP9
//! `VPCodecConfigurationRecord` and keyframe headers, AAC `AudioSpecificConfig`, Opus `OpusHead`,
//! MP3 (MPEG audio) frame headers, AC-3 and E-AC-3 syncframes with `dac3` / `dec3`.

use alloc::vec::Vec;

mod aac;
mod ac3;
mod av1;
mod avc;
mod bits;
mod hevc;
mod mp3;
mod opus;
mod vp9;

pub use aac::{AacConfig, AudioObjectType, MAX_ASC_LEN};
pub use ac3::{Ac3Config, Ac3Kind};
pub use av1::{Av1Colour, Av1Config, MAX_AV1C_LEN, MAX_LEB128_LEN};
/// A real `avcC` (x264, High, 640×360), for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) use avc::tests::HIGH_360P;
pub use avc::{AvcConfig, Sps};
pub use hevc::{looks_like_hevc_record, HevcConfig, HevcSps, VideoSignal};
pub use mp3::{Mp3Config, MpegVersion};
pub use opus::{OpusConfig, MAX_OPUS_HEAD_LEN, MAX_OPUS_PACKET_SAMPLES, OPUS_PRE_ROLL_SAMPLES};
pub use vp9::Vp9Config;
/// Real MP3, AC-3 and E-AC-3 frames (ffmpeg 9), for tests elsewhere in the crate.
#[cfg(test)]
#[allow(unused_imports)]
pub(crate) use {ac3::tests as ac3_vectors, mp3::tests as mp3_vectors};
/// Real HEVC, AV1, VP9 and Opus records and frames (ffmpeg 9), for tests elsewhere in the crate.
#[cfg(test)]
#[allow(unused_imports)]
pub(crate) use {
    av1::tests as av1_vectors, hevc::tests as hevc_vectors, opus::tests as opus_vectors, vp9::tests as vp9_vectors,
};

/// Sample aspect ratios by `aspect_ratio_idc` 1..=16 (H.264 and H.265 Table E-1; index 0 is
/// unspecified).
pub(crate) const SAMPLE_ASPECT_RATIOS: [(u16, u16); 17] = [
    (0, 0),
    (1, 1),
    (12, 11),
    (10, 11),
    (16, 11),
    (40, 33),
    (24, 11),
    (20, 11),
    (32, 11),
    (80, 33),
    (18, 11),
    (15, 11),
    (64, 33),
    (160, 99),
    (4, 3),
    (3, 2),
    (2, 1),
];

/// Removes emulation prevention bytes (`00 00 03` → `00 00`; ITU-T H.264 §7.4.1, H.265 §7.4.2).
pub(crate) fn unescape_nal(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0u8;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros.saturating_add(1) } else { 0 };
        out.push(b);
    }
    out
}

/// Why a codec configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes end before the structure does.
    #[error("{0} is truncated")]
    Truncated(&'static str),
    /// A field holds a value the specification does not allow.
    #[error("{what}: invalid value {value}")]
    Invalid {
        /// Which field.
        what: &'static str,
        /// The value found.
        value: u32,
    },
    /// Valid, but not something we can package.
    #[error("{0}")]
    Unsupported(&'static str),
}

impl CodecError {
    /// `value` in the narrower type `T`, or [`CodecError::Invalid`] naming `what` (with the value,
    /// saturated to `u32`). For a field already checked against a smaller range it never fails;
    /// it replaces an `as` cast that would wrap silently if the check were ever loosened.
    pub(crate) fn fit<T: TryFrom<U>, U: Copy>(what: &'static str, value: U) -> Result<T, Self>
    where
        u32: TryFrom<U>,
    {
        T::try_from(value).map_err(|_| Self::Invalid { what, value: u32::try_from(value).unwrap_or(u32::MAX) })
    }
}

//! Codec configuration: H.264 `AVCDecoderConfigurationRecord` and SPS, AAC
//! `AudioSpecificConfig`, and their RFC 6381 codec strings.

mod aac;
mod avc;
mod bits;

pub use aac::{AacConfig, AudioObjectType, MAX_ASC_LEN};
/// A real `avcC` (x264, High, 640×360), for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) use avc::tests::HIGH_360P;
pub use avc::{AvcConfig, Sps};

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

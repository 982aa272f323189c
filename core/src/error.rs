//! The crate's error type.

use crate::codec::CodecError;
use crate::flv::FlvError;

/// Why the core could not produce what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The FLV input is malformed.
    #[error(transparent)]
    Flv(#[from] FlvError),
    /// A codec configuration is malformed or unsupported.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A chunk file is not one RapidRTMP wrote.
    #[error("not a RapidRTMP chunk: {0}")]
    BadChunk(&'static str),
    /// One MP4 file holds one codec configuration, and the input changes it.
    #[error(
        "the codec configuration changes at segment {segment}; one MP4 file holds one configuration \
         (package as HLS instead, which starts a new init segment there)"
    )]
    ConfigChanged {
        /// The first media segment with the new configuration.
        segment: u64,
    },
    /// There is nothing to package.
    #[error("no H.264 or AAC media found (no sequence header, or no frames after one)")]
    NoMedia,
}

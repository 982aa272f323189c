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
    /// There is nothing to package.
    #[error("no H.264 or AAC media found (no sequence header, or no frames after one)")]
    NoMedia,
}

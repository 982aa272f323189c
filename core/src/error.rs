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
    /// A tag that cannot be packaged (a codec we do not package, say).
    #[error(transparent)]
    Media(#[from] crate::media::Skip),
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
    /// A value does not fit the field that holds it (a box size, a sample duration, a sequence
    /// number): the input is too large or too long for the format.
    #[error("{field} is {value}, more than its field holds")]
    TooLarge {
        /// The field.
        field: &'static str,
        /// The value that did not fit.
        value: u64,
    },
    /// There is nothing to package.
    #[error(
        "no media found to package (no sequence header of H.264, H.265, AV1, VP9, AAC or Opus, or no frames \
         after one)"
    )]
    NoMedia,
}

impl Error {
    /// `value` as a u32, or [`Error::TooLarge`] naming `field`.
    pub(crate) fn fit_u32(field: &'static str, value: u64) -> Result<u32, Error> {
        u32::try_from(value).map_err(|_| Error::TooLarge { field, value })
    }

    /// `value` in the type `T`, or [`Error::TooLarge`] naming `field` (with the value, saturated
    /// to `u64`): a length or count narrowed to the field that holds it, checked, never cast.
    pub(crate) fn fit<T: TryFrom<U>, U: Copy>(field: &'static str, value: U) -> Result<T, Error>
    where
        u64: TryFrom<U>,
    {
        T::try_from(value).map_err(|_| Error::TooLarge { field, value: u64::try_from(value).unwrap_or(u64::MAX) })
    }
}

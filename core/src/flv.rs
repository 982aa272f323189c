//! FLV: the file header, tags, audio/video tag headers (legacy and Enhanced RTMP) and AMF0
//! script data.
//!
//! Specifications: Adobe Flash Video File Format Specification v10.1, annex E ("E.2 The FLV
//! header", "E.4 FLV tags"); Enhanced RTMP v2 (Veovera Software Organization), "ExVideoTagHeader"
//! and "ExAudioTagHeader"; Action Message Format AMF0 (Adobe, 2007).

mod amf0;
mod audio;
mod header;
mod mod_ex;
mod multitrack;
mod tag;
mod video;

pub use amf0::{parse_metadata, Amf0Value, Metadata, MAX_DEPTH as MAX_AMF0_DEPTH};
pub use audio::{AudioCodec, AudioPacket, AudioPacketType, AudioTagHeader};
pub use header::{FlvHeader, FLV_HEADER_LEN};
pub use mod_ex::MAX_MOD_EX;
pub use multitrack::{split_tracks, TrackPacket, MAX_TRACKS};
pub use tag::{write_tag_header, Tag, TagKind, TagReader, PREVIOUS_TAG_SIZE_LEN, TAG_HEADER_LEN};
pub use video::{FrameType, VideoCodec, VideoPacket, VideoPacketType, VideoTagHeader};

/// Why FLV bytes were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlvError {
    /// The file does not start with the `FLV` signature.
    #[error("byte 0: not an FLV file (starts with {:02x} {:02x} {:02x}, expected \"FLV\")", .0[0], .0[1], .0[2])]
    BadSignature([u8; 3]),
    /// The header's data offset points inside the header.
    #[error("byte 5: FLV header data offset {0} is smaller than the 9-byte header")]
    BadDataOffset(u32),
    /// The header's data offset is beyond the named limit.
    #[error("byte 5: FLV header data offset {0} exceeds the limit of {max} bytes", max = header::MAX_DATA_OFFSET)]
    DataOffsetTooLarge(u32),
    /// A tag header is malformed.
    #[error("tag at byte {offset}: {reason}")]
    BadTag {
        /// Byte offset of the tag header in the input.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// An audio or video tag body is too short for its header.
    #[error("{0} tag body is truncated")]
    ShortBody(&'static str),
    /// A tag body signals a codec or packet type this crate does not know.
    #[error("{0}")]
    Unsupported(&'static str),
    /// AMF0 objects or arrays nested deeper than [`MAX_AMF0_DEPTH`].
    #[error("AMF0 nesting is deeper than {MAX_AMF0_DEPTH} levels")]
    AmfTooDeep,
}

//! Named limits on everything a peer controls. Each is checked before anything is allocated for
//! it; a connection that breaks one gets [`crate::Error::Limit`], which names it.

/// The largest message accepted: 16 MiB, which is also what the 3-byte length field of RTMP 1.0
/// §5.3.1.2 can say (2^24 − 1), so the chunk layer's own bound on every message. Partial
/// messages are bounded together by [`MAX_PENDING_BYTES`].
pub const MAX_MESSAGE_SIZE: usize = 16 << 20;

/// Bytes that all partial messages of a connection may claim at once (the sum of their
/// announced lengths). A partial message's buffer is allocated at its announced length, so this
/// bounds the reassembly memory of a connection.
pub const MAX_PENDING_BYTES: usize = 32 << 20;

/// Chunk streams that may hold a partial message at the same time (RTMP 1.0 §5.3.1 lets a
/// sender interleave chunk streams; encoders use two or three).
pub const MAX_PARTIAL_MESSAGES: usize = 16;

/// Distinct chunk stream ids a connection may use (the spec allows 65 598; encoders use a few).
pub const MAX_CHUNK_STREAMS: usize = 64;

/// The largest command message (AMF0 or AMF3 command, types 20 and 17): a `connect` or a
/// `publish` is a few hundred bytes. This also bounds every AMF string in a command.
pub const MAX_COMMAND_SIZE: usize = 64 << 10;

/// The largest inbound chunk size a peer may set: RTMP 1.0 §5.4.1 allows 1 ..= 2^31 − 1. Any
/// size is accepted; a chunk never holds more than one message, so buffering stays bounded by
/// [`MAX_MESSAGE_SIZE`], and each chunk costs O(1) work and no allocation, so tiny chunks cost
/// one header byte per payload byte and nothing more.
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;

/// Bytes of replies the session may hold for the caller to send: a peer that keeps asking
/// (pings, commands) without reading the answers is cut off.
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// FourCCs kept from each list of a destination's `connect` answer (`fourCcList`,
/// `videoFourCcInfoMap`, `audioFourCcInfoMap`; Enhanced RTMP v2): a server names a handful, and
/// the ones past this are ignored (a codec not kept is a codec not forwarded).
pub const MAX_ANSWER_FOURCCS: usize = 32;

/// Bytes kept of the `code` and `description` of a destination's `_error` or `onStatus`
/// (cut at a character boundary), so a refusal can be logged and shown as it came.
pub const MAX_STATUS_TEXT: usize = 512;

/// Deepest AMF0 nesting accepted in commands and data messages (the core's AMF0 reader).
pub const MAX_AMF_DEPTH: usize = rapidrtmp_core::flv::MAX_AMF0_DEPTH;

/// The limits, for [`crate::Error::Limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// [`MAX_MESSAGE_SIZE`].
    MessageSize,
    /// [`MAX_PENDING_BYTES`].
    PendingBytes,
    /// [`MAX_PARTIAL_MESSAGES`].
    PartialMessages,
    /// [`MAX_CHUNK_STREAMS`].
    ChunkStreams,
    /// [`MAX_COMMAND_SIZE`].
    CommandSize,
    /// [`MAX_AMF_DEPTH`].
    AmfDepth,
    /// [`MAX_OUTPUT_BYTES`].
    OutputBytes,
}

impl Limit {
    /// The constant's name, as logged.
    pub fn name(self) -> &'static str {
        match self {
            Self::MessageSize => "MAX_MESSAGE_SIZE",
            Self::PendingBytes => "MAX_PENDING_BYTES",
            Self::PartialMessages => "MAX_PARTIAL_MESSAGES",
            Self::ChunkStreams => "MAX_CHUNK_STREAMS",
            Self::CommandSize => "MAX_COMMAND_SIZE",
            Self::AmfDepth => "MAX_AMF_DEPTH",
            Self::OutputBytes => "MAX_OUTPUT_BYTES",
        }
    }

    /// The constant's value.
    pub fn value(self) -> usize {
        match self {
            Self::MessageSize => MAX_MESSAGE_SIZE,
            Self::PendingBytes => MAX_PENDING_BYTES,
            Self::PartialMessages => MAX_PARTIAL_MESSAGES,
            Self::ChunkStreams => MAX_CHUNK_STREAMS,
            Self::CommandSize => MAX_COMMAND_SIZE,
            Self::AmfDepth => MAX_AMF_DEPTH,
            Self::OutputBytes => MAX_OUTPUT_BYTES,
        }
    }
}

impl core::fmt::Display for Limit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "limit {} = {}", self.name(), self.value())
    }
}

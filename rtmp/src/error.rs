//! The crate's one error type.

use crate::limits::Limit;

/// Why a session cannot go on. Every variant ends the connection: RTMP has no way to resync a
/// chunk stream after bad bytes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// C0 is not 3 (RTMP 1.0 §5.2.2); for example `G` from an HTTP request, or 6 (RTMPE).
    #[error("not plain RTMP: handshake version byte {0:#04x}, expected 0x03")]
    Version(u8),
    /// A peer-controlled size is over one of the [`crate::limits`].
    #[error("{limit} exceeded: {detail}")]
    Limit {
        /// Which limit.
        limit: Limit,
        /// What the peer asked for.
        detail: alloc::string::String,
    },
    /// The peer broke the chunk stream or command rules.
    #[error("protocol error: {0}")]
    Protocol(alloc::string::String),
}

impl Error {
    pub(crate) fn limit(limit: Limit, detail: impl Into<alloc::string::String>) -> Self {
        Self::Limit { limit, detail: detail.into() }
    }

    pub(crate) fn protocol(what: impl Into<alloc::string::String>) -> Self {
        Self::Protocol(what.into())
    }
}

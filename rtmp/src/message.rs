//! RTMP messages (RTMP 1.0 §6): the message types, and the protocol control (§5.4) and user
//! control (§6.2, §7.1.7) messages a server reads and writes.

use bytes::{BufMut, Bytes, BytesMut};

/// A message type id (RTMP 1.0 §5.4, §7.1), kept open: unknown values are carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageType {
    /// 1: Set Chunk Size (§5.4.1).
    SetChunkSize,
    /// 2: Abort Message (§5.4.2).
    Abort,
    /// 3: Acknowledgement (§5.4.3).
    Acknowledgement,
    /// 4: User Control Message (§6.2).
    UserControl,
    /// 5: Window Acknowledgement Size (§5.4.4).
    WindowAckSize,
    /// 6: Set Peer Bandwidth (§5.4.5).
    SetPeerBandwidth,
    /// 8: audio data (§7.1.4), an FLV audio tag body.
    Audio,
    /// 9: video data (§7.1.5), an FLV video tag body.
    Video,
    /// 15: data message in AMF3 (§7.1.2).
    DataAmf3,
    /// 16: shared object message in AMF3 (§7.1.3).
    SharedObjectAmf3,
    /// 17: command message in AMF3 (§7.1.1).
    CommandAmf3,
    /// 18: data message in AMF0 (§7.1.2), such as `@setDataFrame`.
    DataAmf0,
    /// 19: shared object message in AMF0 (§7.1.3).
    SharedObjectAmf0,
    /// 20: command message in AMF0 (§7.1.1).
    CommandAmf0,
    /// 22: aggregate message (§7.1.6): FLV-tag-framed sub-messages.
    Aggregate,
    /// Any other value.
    Other(u8),
}

impl MessageType {
    /// Maps a wire value.
    pub fn from_id(id: u8) -> Self {
        match id {
            1 => Self::SetChunkSize,
            2 => Self::Abort,
            3 => Self::Acknowledgement,
            4 => Self::UserControl,
            5 => Self::WindowAckSize,
            6 => Self::SetPeerBandwidth,
            8 => Self::Audio,
            9 => Self::Video,
            15 => Self::DataAmf3,
            16 => Self::SharedObjectAmf3,
            17 => Self::CommandAmf3,
            18 => Self::DataAmf0,
            19 => Self::SharedObjectAmf0,
            20 => Self::CommandAmf0,
            22 => Self::Aggregate,
            v => Self::Other(v),
        }
    }

    /// The wire value.
    pub fn id(self) -> u8 {
        match self {
            Self::SetChunkSize => 1,
            Self::Abort => 2,
            Self::Acknowledgement => 3,
            Self::UserControl => 4,
            Self::WindowAckSize => 5,
            Self::SetPeerBandwidth => 6,
            Self::Audio => 8,
            Self::Video => 9,
            Self::DataAmf3 => 15,
            Self::SharedObjectAmf3 => 16,
            Self::CommandAmf3 => 17,
            Self::DataAmf0 => 18,
            Self::SharedObjectAmf0 => 19,
            Self::CommandAmf0 => 20,
            Self::Aggregate => 22,
            Self::Other(v) => v,
        }
    }
}

/// A complete message, reassembled from its chunks (§5.3, §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message type.
    pub kind: MessageType,
    /// The message stream id (0 for protocol control and NetConnection commands).
    pub stream_id: u32,
    /// Timestamp in milliseconds, wrapping at 2^32 (§5.3.1.1).
    pub timestamp: u32,
    /// The chunk stream it came on.
    pub chunk_stream: u32,
    /// The payload; shares the connection's read buffer when the message came in one chunk.
    pub payload: Bytes,
}

/// User Control event types (§7.1.7).
pub mod user_control {
    /// Stream Begin: the server tells the client a stream is usable.
    pub const STREAM_BEGIN: u16 = 0;
    /// Ping Request: answered with a Ping Response carrying the same timestamp.
    pub const PING_REQUEST: u16 = 6;
    /// Ping Response.
    pub const PING_RESPONSE: u16 = 7;
}

/// Protocol control and user control message bodies a server writes.
pub(crate) fn u32_body(value: u32) -> Bytes {
    Bytes::copy_from_slice(&value.to_be_bytes())
}

/// Set Peer Bandwidth (§5.4.5): window size and limit type (2: dynamic).
pub(crate) fn peer_bandwidth_body(window: u32) -> Bytes {
    let mut b = BytesMut::with_capacity(5);
    b.put_u32(window);
    b.put_u8(2);
    b.freeze()
}

/// A User Control message body: event type and one u32 of event data (§7.1.7).
pub(crate) fn user_control_body(event: u16, data: u32) -> Bytes {
    let mut b = BytesMut::with_capacity(6);
    b.put_u16(event);
    b.put_u32(data);
    b.freeze()
}

/// Reads a big-endian u32 from the start of a body.
pub(crate) fn read_u32(body: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(body.get(..4)?.try_into().ok()?))
}

/// The acknowledgement window of the way in (§5.3.3, §5.4.3, §5.4.4): counts received bytes
/// and says when the peer is owed an Acknowledgement.
#[derive(Debug)]
pub(crate) struct AckWindow {
    received: u64,
    acknowledged: u64,
    /// The window the peer announced with Window Acknowledgement Size, if it did.
    peer: Option<u32>,
    /// The window until the peer announces one.
    default: u32,
}

impl AckWindow {
    pub(crate) fn new(default: u32) -> Self {
        Self { received: 0, acknowledged: 0, peer: None, default }
    }

    /// Applies the peer's Window Acknowledgement Size.
    pub(crate) fn set_peer_window(&mut self, window: u32) {
        self.peer = Some(window);
    }

    /// Counts `n` received bytes; returns the sequence number to acknowledge when a window of
    /// them is complete: the byte count so far, wrapping at 2^32 (its low 32 bits).
    pub(crate) fn count(&mut self, n: usize) -> Option<u32> {
        self.received += n as u64;
        let window = u64::from(self.peer.unwrap_or(self.default).max(1));
        if self.received - self.acknowledged < window {
            return None;
        }
        self.acknowledged = self.received;
        let [.., b4, b5, b6, b7] = self.received.to_be_bytes();
        Some(u32::from_be_bytes([b4, b5, b6, b7]))
    }
}

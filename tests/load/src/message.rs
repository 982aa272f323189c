//! RTMP messages: the header fields, the type ids, and the payloads of the protocol control
//! and user control messages.
//!
//! Adobe, *Real-Time Messaging Protocol (RTMP) specification*, version 1.0 (December 2012):
//! §6.1 (message format), §5.4 (protocol control messages), §6.2 and §7.1.7 (user control
//! messages), §7.1 (message types).

/// Message type ids (RTMP spec §5.4, §6.2, §7.1).
pub mod type_id {
    /// §5.4.1 Set Chunk Size.
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// §5.4.2 Abort Message.
    pub const ABORT: u8 = 2;
    /// §5.4.3 Acknowledgement.
    pub const ACKNOWLEDGEMENT: u8 = 3;
    /// §6.2 User Control Message.
    pub const USER_CONTROL: u8 = 4;
    /// §5.4.4 Window Acknowledgement Size.
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// §5.4.5 Set Peer Bandwidth.
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    /// §7.1.4 Audio Message (an FLV audio tag body).
    pub const AUDIO: u8 = 8;
    /// §7.1.5 Video Message (an FLV video tag body).
    pub const VIDEO: u8 = 9;
    /// §7.1.2 Data Message, AMF3.
    pub const DATA_AMF3: u8 = 15;
    /// §7.1.3 Shared Object Message, AMF3.
    pub const SHARED_OBJECT_AMF3: u8 = 16;
    /// §7.1.1 Command Message, AMF3.
    pub const COMMAND_AMF3: u8 = 17;
    /// §7.1.2 Data Message, AMF0.
    pub const DATA_AMF0: u8 = 18;
    /// §7.1.3 Shared Object Message, AMF0.
    pub const SHARED_OBJECT_AMF0: u8 = 19;
    /// §7.1.1 Command Message, AMF0.
    pub const COMMAND_AMF0: u8 = 20;
    /// §7.1.6 Aggregate Message.
    pub const AGGREGATE: u8 = 22;
}

/// User Control event types (RTMP spec §7.1.7).
pub mod user_control {
    /// Stream Begin: 4-byte stream id.
    pub const STREAM_BEGIN: u16 = 0;
    /// Stream EOF: 4-byte stream id.
    pub const STREAM_EOF: u16 = 1;
    /// StreamDry: 4-byte stream id.
    pub const STREAM_DRY: u16 = 2;
    /// SetBuffer Length: stream id, then buffer length in ms.
    pub const SET_BUFFER_LENGTH: u16 = 3;
    /// StreamIsRecorded: 4-byte stream id.
    pub const STREAM_IS_RECORDED: u16 = 4;
    /// PingRequest: a 4-byte timestamp, to be echoed in a PingResponse.
    pub const PING_REQUEST: u16 = 6;
    /// PingResponse: the timestamp of the PingRequest.
    pub const PING_RESPONSE: u16 = 7;
}

/// The header fields of a message (RTMP spec §6.1.1), its length aside (it is the payload's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageHeader {
    /// Message type id ([`type_id`]).
    pub type_id: u8,
    /// Message stream id: 0 for protocol control and NetConnection commands, the id that
    /// `createStream` returned for a stream's commands and media.
    pub stream_id: u32,
    /// Timestamp in milliseconds (wraps at 2^32, §6.1.1).
    pub timestamp: u32,
}

/// A message read from the peer (RTMP spec §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The chunk stream it came on (§5.3.1.1).
    pub chunk_stream_id: u32,
    /// Its header fields.
    pub header: MessageHeader,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// §5.4.1 Set Chunk Size: the first bit is 0, then 31 bits of size.
pub fn set_chunk_size(size: u32) -> [u8; 4] {
    (size & 0x7FFF_FFFF).to_be_bytes()
}

/// §5.4.2 Abort Message: the chunk stream id whose partial message is to be discarded.
pub fn abort(chunk_stream_id: u32) -> [u8; 4] {
    chunk_stream_id.to_be_bytes()
}

/// §5.4.3 Acknowledgement: the bytes received so far (wrapping).
pub fn acknowledgement(sequence_number: u32) -> [u8; 4] {
    sequence_number.to_be_bytes()
}

/// §5.4.4 Window Acknowledgement Size.
pub fn window_ack_size(size: u32) -> [u8; 4] {
    size.to_be_bytes()
}

/// §5.4.5 Set Peer Bandwidth: the window size, then the limit type (0 hard, 1 soft, 2 dynamic).
pub fn set_peer_bandwidth(size: u32, limit_type: u8) -> [u8; 5] {
    let s = size.to_be_bytes();
    [s[0], s[1], s[2], s[3], limit_type]
}

/// §6.2 User Control Message: the event type ([`user_control`]), then its data.
pub fn user_control_event(event: u16, data: &[u8]) -> Vec<u8> {
    let mut out = event.to_be_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

/// The big-endian u32 at the start of a control message payload.
pub fn read_u32(payload: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(payload.get(..4)?.try_into().ok()?))
}

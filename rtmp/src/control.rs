//! What a peer's protocol control and user control messages change, for the server and the
//! client session alike (RTMP 1.0 §5.4, §7.1.7): its chunk size and aborted chunk streams, its
//! acknowledgement window, and the Ping Requests a session answers.

use bytes::Bytes;

use crate::chunk::ChunkDecoder;
use crate::message::{self, user_control, AckWindow, Message, MessageType};
use crate::Error;

/// Applies `m` if it is Set Chunk Size, Abort, Window Acknowledgement Size or User Control:
/// `Ok(Some(body))` is the Ping Response (a User Control message) to send for a Ping Request;
/// `Ok(None)` for everything else, which it leaves alone.
pub(crate) fn apply(m: &Message, chunks: &mut ChunkDecoder, window: &mut AckWindow) -> Result<Option<Bytes>, Error> {
    match m.kind {
        MessageType::SetChunkSize => {
            let size = message::read_u32(&m.payload).ok_or_else(|| Error::protocol("a short Set Chunk Size"))?;
            chunks.set_chunk_size(size)?;
        }
        MessageType::Abort => {
            if let Some(cs) = message::read_u32(&m.payload) {
                chunks.abort(cs);
            }
        }
        MessageType::WindowAckSize => {
            if let Some(w) = message::read_u32(&m.payload) {
                window.set_peer_window(w);
            }
        }
        MessageType::UserControl => {
            let p = &m.payload[..];
            if p.len() >= 6 && u16::from_be_bytes([p[0], p[1]]) == user_control::PING_REQUEST {
                let t = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
                return Ok(Some(message::user_control_body(user_control::PING_RESPONSE, t)));
            }
        }
        _ => {}
    }
    Ok(None)
}

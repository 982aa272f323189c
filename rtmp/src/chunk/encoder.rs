//! Outbound chunks (RTMP 1.0 §5.3): each message as a type-0 chunk, then type-3 chunks for the
//! rest of its payload. A server sends little (replies, acknowledgements), so nothing is
//! compressed with type 1/2 headers.

use bytes::{BufMut, BytesMut};

use super::{DEFAULT_CHUNK_SIZE, EXTENDED};
use crate::message::MessageType;

/// Splits outbound messages into chunks (the way out; [`super::ChunkDecoder`] is the way in).
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: usize,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self { chunk_size: DEFAULT_CHUNK_SIZE as usize }
    }
}

impl ChunkEncoder {
    /// The outbound chunk size; change it only right after writing a Set Chunk Size message.
    pub fn set_chunk_size(&mut self, size: u32) {
        self.chunk_size = (size as usize).max(1);
    }

    /// Appends `payload` as one message on `chunk_stream` (2 ..= 65599).
    pub fn write(
        &self,
        out: &mut BytesMut,
        chunk_stream: u32,
        kind: MessageType,
        stream_id: u32,
        timestamp: u32,
        payload: &[u8],
    ) {
        let extended = timestamp >= EXTENDED;
        let field = if extended { EXTENDED } else { timestamp };
        let mut chunks = payload.chunks(self.chunk_size);
        let first = chunks.next().unwrap_or(&[]);
        out.reserve(payload.len() + 18 + payload.len() / self.chunk_size * 7);
        basic_header(out, 0, chunk_stream);
        out.put_uint(u64::from(field), 3);
        out.put_uint(payload.len() as u64, 3);
        out.put_u8(kind.id());
        out.put_u32_le(stream_id);
        if extended {
            out.put_u32(timestamp);
        }
        out.put_slice(first);
        for chunk in chunks {
            basic_header(out, 3, chunk_stream);
            if extended {
                out.put_u32(timestamp);
            }
            out.put_slice(chunk);
        }
    }
}

/// The basic header (§5.3.1.1) in the shortest form that holds the id. The id is ours (a
/// constant of the session), never a peer's; one out of range is clamped into 2 ..= 65599.
fn basic_header(out: &mut BytesMut, fmt: u8, id: u32) {
    // Each arm writes the low bytes of a value its range keeps within them.
    match id {
        2..=63 => {
            let [low, ..] = id.to_le_bytes();
            out.put_u8(fmt << 6 | low);
        }
        64..=319 => {
            let [low, ..] = (id - 64).to_le_bytes();
            out.put_u8(fmt << 6);
            out.put_u8(low);
        }
        _ => {
            let [low, high, ..] = (id.clamp(64, 65599) - 64).to_le_bytes();
            out.put_u8(fmt << 6 | 1);
            out.put_u8(low);
            out.put_u8(high);
        }
    }
}

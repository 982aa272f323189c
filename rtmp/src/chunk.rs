//! Chunk streams (RTMP 1.0 §5.3): inbound chunks reassembled into messages, each chunk stream
//! on its own, so a sender may interleave them (§5.3.1); see [`encoder`] for the way out.
//!
//! Only whole chunks are consumed: a call that lacks bytes leaves the input as it was, and says
//! how many bytes the next chunk needs ([`ChunkDecoder::wanted`]).

pub mod encoder;

use alloc::format;
use alloc::vec::Vec;

use bytes::{Buf, BytesMut};

use crate::limits::{
    Limit, MAX_CHUNK_SIZE, MAX_CHUNK_STREAMS, MAX_COMMAND_SIZE, MAX_MESSAGE_SIZE, MAX_PARTIAL_MESSAGES,
    MAX_PENDING_BYTES,
};
use crate::message::{Message, MessageType};
use crate::Error;

/// The chunk size both sides start with (§5.4.1).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// A timestamp field of this value means a 4-byte extended timestamp follows (§5.3.1.3).
pub(crate) const EXTENDED: u32 = 0xFF_FFFF;
/// The longest chunk header: 3-byte basic header, 11-byte type-0 message header, 4-byte
/// extended timestamp.
pub const MAX_HEADER_LEN: usize = 18;

/// What the last header on a chunk stream said (§5.3.1.2: later headers leave out what is
/// unchanged).
#[derive(Debug)]
struct ChunkStream {
    id: u32,
    /// Timestamp of the current (or last) message.
    timestamp: u32,
    /// The last timestamp field (absolute after type 0, a delta after types 1 and 2): a type-3
    /// header that starts a message adds it again.
    field: u32,
    /// Whether the last type 0–2 header had an extended timestamp: its type-3 chunks carry one.
    extended: bool,
    length: u32,
    kind: u8,
    stream_id: u32,
    /// The message being reassembled, allocated at its announced length.
    partial: Option<BytesMut>,
}

/// Reassembles messages from inbound chunks, with every size bounded by [`crate::limits`].
#[derive(Debug)]
pub struct ChunkDecoder {
    chunk_size: u32,
    streams: Vec<ChunkStream>,
    /// Index of the chunk stream of the last chunk (most chunks follow one of the same stream).
    last: usize,
    partials: usize,
    /// The announced lengths of all partial messages.
    pending: usize,
    wanted: usize,
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        Self { chunk_size: DEFAULT_CHUNK_SIZE, streams: Vec::new(), last: 0, partials: 0, pending: 0, wanted: 1 }
    }
}

/// A parsed chunk header, before anything is changed.
struct Header {
    len: usize,
    index: Option<usize>,
    id: u32,
    fmt: u8,
    field: u32,
    extended: bool,
    length: u32,
    kind: u8,
    stream_id: u32,
}

impl ChunkDecoder {
    /// A decoder at the default chunk size.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a peer's Set Chunk Size (§5.4.1): 1 ..= 2^31 − 1.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), Error> {
        if size == 0 || size > MAX_CHUNK_SIZE {
            return Err(Error::protocol(format!("Set Chunk Size {size}: valid sizes are 1 to 2147483647")));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// The inbound chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Applies an Abort Message (§5.4.2): drops the partial message of that chunk stream, if any.
    pub fn abort(&mut self, chunk_stream: u32) {
        if let Some(cs) = self.streams.iter_mut().find(|s| s.id == chunk_stream) {
            if cs.partial.take().is_some() {
                self.partials -= 1;
                self.pending -= cs.length as usize;
            }
        }
    }

    /// Bytes the input must hold for the next chunk to be read, after [`Self::next_message`]
    /// returned `Ok(None)`: more than it holds, and at most a header and one chunk's payload
    /// (a hint for the read buffer).
    pub fn wanted(&self) -> usize {
        self.wanted
    }

    /// Bytes all partial messages claim (their announced lengths).
    pub fn pending_bytes(&self) -> usize {
        self.pending
    }

    /// Reads chunks from `input` until one completes a message; `Ok(None)` when the input ends
    /// before that (every whole chunk read so far is kept).
    pub fn next_message(&mut self, input: &mut BytesMut) -> Result<Option<Message>, Error> {
        loop {
            let Some(h) = self.header(input)? else {
                self.wanted = input.len() + 1;
                return Ok(None);
            };
            let received = h.index.and_then(|i| self.streams[i].partial.as_ref()).map_or(0, BytesMut::len);
            let length = h.length as usize;
            let payload = (length - received).min(self.chunk_size as usize);
            if input.len() < h.len + payload {
                self.wanted = h.len + payload;
                return Ok(None);
            }
            self.wanted = 1;
            input.advance(h.len);
            let i = self.commit(&h);
            let cs = &mut self.streams[i];
            let body = match cs.partial.as_mut() {
                None if payload == length => input.split_to(payload).freeze(),
                None => {
                    let mut p = BytesMut::with_capacity(length);
                    p.extend_from_slice(&input[..payload]);
                    input.advance(payload);
                    cs.partial = Some(p);
                    self.partials += 1;
                    self.pending += length;
                    continue;
                }
                Some(p) => {
                    p.extend_from_slice(&input[..payload]);
                    input.advance(payload);
                    if p.len() < length {
                        continue;
                    }
                    self.partials -= 1;
                    self.pending -= length;
                    cs.partial.take().unwrap_or_default().freeze()
                }
            };
            return Ok(Some(Message {
                kind: MessageType::from_id(cs.kind),
                stream_id: cs.stream_id,
                timestamp: cs.timestamp,
                chunk_stream: cs.id,
                payload: body,
            }));
        }
    }

    /// Parses the header at the start of `input` without changing any state; checks the limits
    /// a new message's announced length must meet.
    fn header(&self, input: &[u8]) -> Result<Option<Header>, Error> {
        let Some(&b0) = input.first() else { return Ok(None) };
        let fmt = b0 >> 6;
        // Basic header (§5.3.1.1): ids 2–63 in one byte, 64–319 in two, 64–65599 in three.
        let (id, at) = match b0 & 0x3F {
            0 => match input.get(1) {
                Some(&b) => (64 + u32::from(b), 2),
                None => return Ok(None),
            },
            1 => match input.get(1..3) {
                Some(b) => (64 + u32::from(b[0]) + 256 * u32::from(b[1]), 3),
                None => return Ok(None),
            },
            n => (u32::from(n), 1),
        };
        let index = match self.streams.get(self.last) {
            Some(s) if s.id == id => Some(self.last),
            _ => self.streams.iter().position(|s| s.id == id),
        };
        let Some(prev) = index.map(|i| &self.streams[i]) else {
            if fmt != 0 {
                return Err(Error::protocol(format!("chunk stream {id} starts with a type-{fmt} header, not type 0")));
            }
            if self.streams.len() >= MAX_CHUNK_STREAMS {
                return Err(Error::limit(Limit::ChunkStreams, format!("chunk stream {id} would be one too many")));
            }
            return self.message_header(input, fmt, id, at, None);
        };
        let in_message = prev.partial.is_some();
        if fmt != 3 {
            if in_message {
                return Err(Error::protocol(format!(
                    "a type-{fmt} header on chunk stream {id} before its {}-byte message was complete",
                    prev.length
                )));
            }
            return self.message_header(input, fmt, id, at, index);
        }
        // Type 3 (§5.3.1.2.4): everything as before, and the extended timestamp again if the
        // last header had one (§5.3.1.3). Some senders leave it out of a message's continuation
        // chunks, whose payload then starts right after the basic header.
        let mut len = at;
        if prev.extended {
            let Some(b) = input.get(at..at + 4) else { return Ok(None) };
            if !in_message || u32::from_be_bytes([b[0], b[1], b[2], b[3]]) == prev.field {
                len += 4;
            }
        }
        let h = Header {
            len,
            index,
            id,
            fmt,
            field: prev.field,
            extended: prev.extended,
            length: prev.length,
            kind: prev.kind,
            stream_id: prev.stream_id,
        };
        if in_message {
            return Ok(Some(h));
        }
        self.check_new(h)
    }

    /// Parses a type 0, 1 or 2 message header (§5.3.1.2.1–3) and its extended timestamp.
    fn message_header(
        &self,
        input: &[u8],
        fmt: u8,
        id: u32,
        at: usize,
        index: Option<usize>,
    ) -> Result<Option<Header>, Error> {
        let len = match fmt {
            0 => 11,
            1 => 7,
            _ => 3,
        };
        let Some(m) = input.get(at..at + len) else { return Ok(None) };
        let mut field = u32::from_be_bytes([0, m[0], m[1], m[2]]);
        let prev = index.map(|i| &self.streams[i]);
        let (length, kind) = match (fmt, prev) {
            (0 | 1, _) => (u32::from_be_bytes([0, m[3], m[4], m[5]]), m[6]),
            (_, Some(p)) => (p.length, p.kind),
            (_, None) => (0, 0),
        };
        let stream_id = match (fmt, prev) {
            (0, _) => u32::from_le_bytes([m[7], m[8], m[9], m[10]]),
            (_, Some(p)) => p.stream_id,
            (_, None) => 0,
        };
        let mut header_len = at + len;
        let extended = field == EXTENDED;
        if extended {
            let Some(e) = input.get(header_len..header_len + 4) else { return Ok(None) };
            field = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            header_len += 4;
        }
        self.check_new(Header { len: header_len, index, id, fmt, field, extended, length, kind, stream_id })
    }

    /// The limits on a message about to start.
    fn check_new(&self, h: Header) -> Result<Option<Header>, Error> {
        let length = h.length as usize;
        if length > MAX_MESSAGE_SIZE {
            return Err(Error::limit(Limit::MessageSize, format!("a {length}-byte message on chunk stream {}", h.id)));
        }
        if matches!(MessageType::from_id(h.kind), MessageType::CommandAmf0 | MessageType::CommandAmf3)
            && length > MAX_COMMAND_SIZE
        {
            return Err(Error::limit(Limit::CommandSize, format!("a {length}-byte command on chunk stream {}", h.id)));
        }
        if length > self.chunk_size as usize {
            if self.partials >= MAX_PARTIAL_MESSAGES {
                return Err(Error::limit(
                    Limit::PartialMessages,
                    format!("a partial message on chunk stream {} while {} others are open", h.id, self.partials),
                ));
            }
            if self.pending + length > MAX_PENDING_BYTES {
                return Err(Error::limit(
                    Limit::PendingBytes,
                    format!("{length} more bytes with {} already pending", self.pending),
                ));
            }
        }
        Ok(Some(h))
    }

    /// Records a header whose chunk is complete in the input; returns its chunk stream's index.
    fn commit(&mut self, h: &Header) -> usize {
        let i = match h.index {
            Some(i) => i,
            None => {
                self.streams.push(ChunkStream {
                    id: h.id,
                    timestamp: 0,
                    field: 0,
                    extended: false,
                    length: 0,
                    kind: 0,
                    stream_id: 0,
                    partial: None,
                });
                self.streams.len() - 1
            }
        };
        self.last = i;
        let cs = &mut self.streams[i];
        if cs.partial.is_some() {
            return i; // a continuation: the message's header stands
        }
        cs.timestamp = match h.fmt {
            0 => h.field,
            _ => cs.timestamp.wrapping_add(h.field),
        };
        cs.field = h.field;
        cs.extended = h.extended;
        cs.length = h.length;
        cs.kind = h.kind;
        cs.stream_id = h.stream_id;
        i
    }
}

#[cfg(test)]
mod tests;

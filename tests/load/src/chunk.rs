//! The RTMP chunk stream: a writer that cuts messages into chunks, and a reader that puts the
//! peer's chunks back together, one message per chunk stream at a time.
//!
//! Adobe, *RTMP specification* 1.0, §5.3: chunk format (§5.3.1), basic header (§5.3.1.1),
//! message header types 0–3 (§5.3.1.2.1–§5.3.1.2.4), extended timestamp (§5.3.1.3); the chunk
//! size is set with Set Chunk Size (§5.4.1), a partial message dropped with Abort (§5.4.2).
//!
//! Sans-IO: bytes in, messages out; messages in, bytes out.

use std::collections::HashMap;

use thiserror::Error;

use crate::message::{Message, MessageHeader};

/// The chunk size both ends start with (§5.4.1).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// The largest chunk size Set Chunk Size may announce (§5.4.1: 31 bits).
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;
/// The largest message length the 3-byte length field holds (§5.3.1.2.1).
pub const MAX_MESSAGE_LENGTH: u32 = 0xFF_FFFF;
/// A timestamp field of this value means an Extended Timestamp follows (§5.3.1.3).
pub const EXTENDED_TIMESTAMP: u32 = 0xFF_FFFF;
/// The smallest chunk stream id (0 and 1 select the longer basic headers; §5.3.1.1).
pub const MIN_CHUNK_STREAM_ID: u32 = 2;
/// The largest chunk stream id (the 3-byte basic header: 65535 + 64; §5.3.1.1).
pub const MAX_CHUNK_STREAM_ID: u32 = 65_599;
/// The chunk stream of protocol control messages (§5.4: "chunk stream ID 2").
pub const CONTROL_CHUNK_STREAM: u32 = 2;
/// Reader limit: chunk streams the peer may open on one connection.
pub const MAX_CHUNK_STREAMS: usize = 64;
/// Reader limit: payload bytes held across all partial messages.
pub const MAX_PENDING_BYTES: usize = 32 << 20;

/// What went wrong in the chunk layer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A chunk stream id outside 2..=65599 (§5.3.1.1).
    #[error("chunk stream id {0} is outside 2..=65599")]
    ChunkStreamId(u32),
    /// A chunk size outside 1..=2^31-1 (§5.4.1).
    #[error("chunk size {0} is outside 1..=2147483647")]
    ChunkSize(u32),
    /// A message longer than the length field holds (§5.3.1.2.1).
    #[error("a message of {0} bytes is longer than 16777215")]
    MessageTooLong(usize),
    /// A chunk of type 1, 2 or 3 on a chunk stream that has had no type-0 chunk (§5.3.1.2).
    #[error("chunk stream {0} starts with a type-{1} chunk (it needs a type-0 chunk first)")]
    NoPreviousHeader(u32, u8),
    /// The peer uses more chunk streams than [`MAX_CHUNK_STREAMS`].
    #[error("more than {MAX_CHUNK_STREAMS} chunk streams")]
    TooManyChunkStreams,
    /// The peer's partial messages hold more than [`MAX_PENDING_BYTES`].
    #[error("partial messages hold more than {MAX_PENDING_BYTES} bytes")]
    PendingBytes,
}

/// Which message header types the writer uses (§5.3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HeaderCompression {
    /// The smallest header the spec allows: type 0 first on a chunk stream (and when the message
    /// stream changes or time goes back), type 1 when the length or type changes, type 2 when
    /// only the timestamp delta changes, type 3 when nothing does. Continuation chunks are type 3.
    #[default]
    Smallest,
    /// A type-0 header (absolute timestamp) on every message; continuation chunks are type 3.
    Type0Only,
}

/// Any chunk header, written as given: the writer's headers and the raw ones of hostile tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    /// Format, 0–3: which message header follows (§5.3.1.2).
    pub fmt: u8,
    /// Chunk stream id; 0 and 1 are written literally (§5.3.1.1).
    pub chunk_stream_id: u32,
    /// The timestamp (type 0) or timestamp delta (types 1 and 2); from 0xFFFFFF on, the field
    /// reads 0xFFFFFF and the value follows as an Extended Timestamp (§5.3.1.3).
    pub timestamp: u32,
    /// Message length (types 0 and 1; low 24 bits written).
    pub length: u32,
    /// Message type id (types 0 and 1).
    pub type_id: u8,
    /// Message stream id (type 0; little-endian on the wire, §5.3.1.2.1).
    pub stream_id: u32,
    /// Type 3 only: write an Extended Timestamp of `timestamp` (when the last type 0/1/2 header
    /// of the chunk stream had one, §5.3.1.3).
    pub extended_on_type3: bool,
}

/// Appends a basic header (§5.3.1.1): one byte for ids 2..=63 (and 0, 1 literally), two for
/// 64..=319, three for 320..=65599. Larger ids are cut to 16 bits, as the field is.
pub fn write_basic_header(fmt: u8, chunk_stream_id: u32, out: &mut Vec<u8>) {
    let fmt = (fmt & 3) << 6;
    match chunk_stream_id {
        0..=63 => out.push(fmt | chunk_stream_id as u8),
        64..=319 => out.extend_from_slice(&[fmt, (chunk_stream_id - 64) as u8]),
        _ => {
            let v = chunk_stream_id.wrapping_sub(64);
            out.extend_from_slice(&[fmt | 1, v as u8, (v >> 8) as u8]);
        }
    }
}

/// Appends a chunk header: basic header, message header of type `fmt`, extended timestamp.
pub fn write_chunk_header(h: &ChunkHeader, out: &mut Vec<u8>) {
    write_basic_header(h.fmt, h.chunk_stream_id, out);
    let extended = h.timestamp >= EXTENDED_TIMESTAMP;
    let field = h.timestamp.min(EXTENDED_TIMESTAMP).to_be_bytes();
    match h.fmt & 3 {
        0 | 1 => {
            out.extend_from_slice(&field[1..]);
            out.extend_from_slice(&h.length.to_be_bytes()[1..]);
            out.push(h.type_id);
            if h.fmt & 3 == 0 {
                out.extend_from_slice(&h.stream_id.to_le_bytes());
            }
        }
        2 => out.extend_from_slice(&field[1..]),
        _ => {}
    }
    let ext = if h.fmt & 3 == 3 { h.extended_on_type3 } else { extended };
    if ext {
        out.extend_from_slice(&h.timestamp.to_be_bytes());
    }
}

/// What the writer last sent on a chunk stream.
#[derive(Debug, Clone, Copy)]
struct Sent {
    header: MessageHeader,
    length: u32,
    /// The delta of the last type 1 or 2 header (`None` after a type 0): what a type-3 header
    /// that starts a message repeats.
    delta: Option<u32>,
    /// Whether the last type 0/1/2 header had an Extended Timestamp (§5.3.1.3).
    extended: bool,
}

/// Cuts messages into chunks (§5.3.1).
#[derive(Debug, Clone)]
pub struct ChunkWriter {
    chunk_size: u32,
    compression: HeaderCompression,
    sent: HashMap<u32, Sent>,
}

impl Default for ChunkWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkWriter {
    /// A writer with the default chunk size (128) and the smallest headers.
    pub fn new() -> Self {
        Self { chunk_size: DEFAULT_CHUNK_SIZE, compression: HeaderCompression::Smallest, sent: HashMap::new() }
    }

    /// The outbound chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Changes the outbound chunk size; the caller announces it first with Set Chunk Size (§5.4.1).
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), Error> {
        if !(1..=MAX_CHUNK_SIZE).contains(&size) {
            return Err(Error::ChunkSize(size));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Which header types are used from now on.
    pub fn set_compression(&mut self, compression: HeaderCompression) {
        self.compression = compression;
    }

    /// Starts a message on `chunk_stream_id`: picks its first chunk's header (and remembers it
    /// for the next message there). Write the chunks with [`Chunks::write_next`], or all at
    /// once with [`ChunkWriter::write`]; other chunk streams may be written between them, the
    /// same chunk stream may not.
    pub fn begin<'a>(
        &mut self,
        chunk_stream_id: u32,
        header: MessageHeader,
        payload: &'a [u8],
    ) -> Result<Chunks<'a>, Error> {
        if !(MIN_CHUNK_STREAM_ID..=MAX_CHUNK_STREAM_ID).contains(&chunk_stream_id) {
            return Err(Error::ChunkStreamId(chunk_stream_id));
        }
        let length = u32::try_from(payload.len())
            .ok()
            .filter(|&l| l <= MAX_MESSAGE_LENGTH)
            .ok_or(Error::MessageTooLong(payload.len()))?;
        let prev = self.sent.get(&chunk_stream_id).copied();
        let delta = prev.map(|p| header.timestamp.wrapping_sub(p.header.timestamp));
        // A "negative" delta (time going back on this chunk stream) needs an absolute timestamp.
        let fmt = match (self.compression, prev, delta) {
            (HeaderCompression::Smallest, Some(p), Some(d))
                if p.header.stream_id == header.stream_id && d < 1 << 31 =>
            {
                if p.length != length || p.header.type_id != header.type_id {
                    1
                } else if p.delta == Some(d) {
                    3
                } else {
                    2
                }
            }
            _ => 0,
        };
        let delta = delta.unwrap_or(0);
        let (field, sent) = match fmt {
            0 => (
                header.timestamp,
                Sent { header, length, delta: None, extended: header.timestamp >= EXTENDED_TIMESTAMP },
            ),
            1 | 2 => (delta, Sent { header, length, delta: Some(delta), extended: delta >= EXTENDED_TIMESTAMP }),
            // Type 3: everything as before, the Extended Timestamp too.
            _ => (delta, Sent { header, ..prev.unwrap_or(Sent { header, length, delta: None, extended: false }) }),
        };
        self.sent.insert(chunk_stream_id, sent);
        let mut first = Vec::with_capacity(18);
        write_chunk_header(
            &ChunkHeader {
                fmt,
                chunk_stream_id,
                timestamp: field,
                length,
                type_id: header.type_id,
                stream_id: header.stream_id,
                extended_on_type3: sent.extended,
            },
            &mut first,
        );
        // Continuation chunks: type 3, with the Extended Timestamp again if the header had one.
        let mut continuation = Vec::with_capacity(7);
        write_chunk_header(
            &ChunkHeader {
                fmt: 3,
                chunk_stream_id,
                timestamp: field,
                length: 0,
                type_id: 0,
                stream_id: 0,
                extended_on_type3: sent.extended,
            },
            &mut continuation,
        );
        Ok(Chunks { first, continuation, payload, at: 0, started: false, chunk_size: self.chunk_size as usize })
    }

    /// Appends all the chunks of a message, back to back.
    pub fn write(
        &mut self,
        chunk_stream_id: u32,
        header: MessageHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let mut chunks = self.begin(chunk_stream_id, header, payload)?;
        while chunks.write_next(out) {}
        Ok(())
    }
}

/// The chunks of one message, written one at a time (see [`ChunkWriter::begin`]).
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    first: Vec<u8>,
    continuation: Vec<u8>,
    payload: &'a [u8],
    at: usize,
    started: bool,
    chunk_size: usize,
}

impl Chunks<'_> {
    /// Appends the next chunk; `false` when every chunk has been written.
    pub fn write_next(&mut self, out: &mut Vec<u8>) -> bool {
        if self.is_done() {
            return false;
        }
        let header = if self.started { &self.continuation } else { &self.first };
        out.extend_from_slice(header);
        let end = self.payload.len().min(self.at + self.chunk_size);
        out.extend_from_slice(&self.payload[self.at..end]);
        self.at = end;
        self.started = true;
        true
    }

    /// Whether every chunk has been written (an empty message is one chunk).
    pub fn is_done(&self) -> bool {
        self.started && self.at == self.payload.len()
    }
}

/// What the reader knows of a chunk stream.
#[derive(Debug, Clone, Default)]
struct Received {
    header: MessageHeader,
    length: u32,
    delta: u32,
    /// Whether the last type 0/1/2 header had an Extended Timestamp (§5.3.1.3).
    extended: bool,
    /// The payload received so far of the message in progress.
    partial: Option<Vec<u8>>,
}

/// Puts the peer's chunks back together, each chunk stream on its own (§5.3.1).
#[derive(Debug, Default)]
pub struct ChunkReader {
    chunk_size: u32,
    streams: HashMap<u32, Received>,
    buffer: Vec<u8>,
    /// Bytes of `buffer` already parsed.
    at: usize,
    /// Payload bytes held in partial messages.
    pending: usize,
}

impl ChunkReader {
    /// A reader with the default chunk size.
    pub fn new() -> Self {
        Self { chunk_size: DEFAULT_CHUNK_SIZE, ..Default::default() }
    }

    /// Applies the peer's Set Chunk Size (§5.4.1).
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), Error> {
        if !(1..=MAX_CHUNK_SIZE).contains(&size) {
            return Err(Error::ChunkSize(size));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Applies the peer's Abort (§5.4.2): drops the partial message of the chunk stream.
    pub fn abort(&mut self, chunk_stream_id: u32) {
        if let Some(s) = self.streams.get_mut(&chunk_stream_id) {
            if let Some(p) = s.partial.take() {
                self.pending -= p.len();
            }
        }
    }

    /// Adds bytes from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.at > 0 && self.at == self.buffer.len() {
            self.buffer.clear();
            self.at = 0;
        } else if self.at > 64 << 10 {
            self.buffer.drain(..self.at);
            self.at = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete message, `None` until more bytes arrive. A chunk is only consumed
    /// once it is whole.
    pub fn next_message(&mut self) -> Result<Option<Message>, Error> {
        loop {
            match self.next_chunk()? {
                None => return Ok(None),
                Some(Some(m)) => return Ok(Some(m)),
                Some(None) => {}
            }
        }
    }

    /// Reads one chunk: `None` if it is not whole yet, `Some(message)` if it ends one.
    fn next_chunk(&mut self) -> Result<Option<Option<Message>>, Error> {
        let input = &self.buffer[self.at..];
        let Some(&b0) = input.first() else { return Ok(None) };
        let fmt = b0 >> 6;
        let (csid, mut pos) = match b0 & 0x3F {
            0 => match input.get(1) {
                Some(&b) => (u32::from(b) + 64, 2),
                None => return Ok(None),
            },
            1 => match input.get(1..3) {
                Some(b) => (u32::from(b[1]) * 256 + u32::from(b[0]) + 64, 3),
                None => return Ok(None),
            },
            id => (u32::from(id), 1),
        };
        let header_len = [11, 7, 3, 0][usize::from(fmt)];
        let Some(h) = input.get(pos..pos + header_len) else { return Ok(None) };
        pos += header_len;
        let known = self.streams.get(&csid);
        if known.is_none() {
            if fmt != 0 {
                return Err(Error::NoPreviousHeader(csid, fmt));
            }
            if self.streams.len() >= MAX_CHUNK_STREAMS {
                return Err(Error::TooManyChunkStreams);
            }
        }
        let u24 = |b: &[u8]| u32::from_be_bytes([0, b[0], b[1], b[2]]);
        let field = if fmt < 3 { u24(h) } else { 0 };
        let extended = if fmt < 3 { field == EXTENDED_TIMESTAMP } else { known.is_some_and(|s| s.extended) };
        let value = if extended {
            let Some(b) = input.get(pos..pos + 4) else { return Ok(None) };
            pos += 4;
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        } else {
            field
        };
        // A type-3 chunk continues the message in progress, if there is one.
        let have = match known.and_then(|s| s.partial.as_ref()) {
            Some(p) if fmt == 3 => Some(p.len()),
            _ => None,
        };
        let length = match fmt {
            0 | 1 => u24(&h[3..6]),
            _ => known.map_or(0, |s| s.length),
        } as usize;
        let want = length.saturating_sub(have.unwrap_or(0)).min(self.chunk_size as usize);
        let Some(piece) = input.get(pos..pos + want) else { return Ok(None) };

        // The chunk is whole: apply its header and consume it.
        let s = self.streams.entry(csid).or_default();
        if have.is_none() {
            // A new header while a message is in progress drops the partial message.
            if let Some(p) = s.partial.take() {
                self.pending -= p.len();
            }
            match fmt {
                0 => {
                    s.header = MessageHeader {
                        type_id: h[6],
                        stream_id: u32::from_le_bytes([h[7], h[8], h[9], h[10]]),
                        timestamp: value,
                    };
                    s.delta = 0;
                }
                1 | 2 => {
                    if fmt == 1 {
                        s.header.type_id = h[6];
                    }
                    s.delta = value;
                    s.header.timestamp = s.header.timestamp.wrapping_add(value);
                }
                // Type 3 starting a message: the previous delta again (§5.3.1.2.4).
                _ => s.header.timestamp = s.header.timestamp.wrapping_add(s.delta),
            }
            s.length = length as u32;
            if fmt < 3 {
                s.extended = extended;
            }
        }
        let mut partial = s.partial.take().unwrap_or_else(|| Vec::with_capacity(length.min(64 << 10)));
        self.pending -= partial.len();
        partial.extend_from_slice(piece);
        self.at += pos + want;
        if partial.len() >= length {
            return Ok(Some(Some(Message { chunk_stream_id: csid, header: s.header, payload: partial })));
        }
        self.pending += partial.len();
        s.partial = Some(partial);
        if self.pending > MAX_PENDING_BYTES {
            return Err(Error::PendingBytes);
        }
        Ok(Some(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(type_id: u8, timestamp: u32) -> MessageHeader {
        MessageHeader { type_id, stream_id: 1, timestamp }
    }

    fn read_all(bytes: &[u8], chunk_size: u32) -> Vec<Message> {
        let mut r = ChunkReader::new();
        r.set_chunk_size(chunk_size).unwrap();
        r.push(bytes);
        let mut out = Vec::new();
        while let Some(m) = r.next_message().unwrap() {
            out.push(m);
        }
        assert_eq!(r.at, r.buffer.len(), "bytes left over");
        out
    }

    #[test]
    fn basic_headers_of_each_size() {
        for (csid, bytes) in [
            (2, vec![0x02]),
            (63, vec![0x3F]),
            (64, vec![0x00, 0x00]),
            (319, vec![0x00, 0xFF]),
            (320, vec![0x01, 0x00, 0x01]),
            (65_599, vec![0x01, 0xFF, 0xFF]),
        ] {
            let mut out = Vec::new();
            write_basic_header(3, csid, &mut out);
            let mut want = bytes.clone();
            want[0] |= 0xC0;
            assert_eq!(out, want, "csid {csid}");
        }
    }

    #[test]
    fn the_spec_example_of_section_5_3_2_1() {
        // Audio messages 32 bytes long, 20 ms apart: type 0, type 2, then type 3.
        let mut w = ChunkWriter::new();
        let mut out = Vec::new();
        let payload = [7u8; 32];
        for i in 0..4 {
            let at = out.len();
            w.write(3, MessageHeader { type_id: 8, stream_id: 12345, timestamp: 1000 + 20 * i }, &payload, &mut out)
                .unwrap();
            let header_len = out.len() - at - 32;
            assert_eq!(header_len, [12, 4, 1, 1][i as usize], "message {i}");
        }
        let back = read_all(&out, 128);
        let times: Vec<u32> = back.iter().map(|m| m.header.timestamp).collect();
        assert_eq!(times, [1000, 1020, 1040, 1060]);
        assert!(back.iter().all(|m| m.header.stream_id == 12345 && m.payload == payload));
    }

    #[test]
    fn extended_timestamps_repeat_on_type3_chunks() {
        let mut w = ChunkWriter::new();
        w.set_compression(HeaderCompression::Type0Only);
        let mut out = Vec::new();
        w.write(6, header(9, 0x0100_0000), &[1u8; 300], &mut out).unwrap();
        // 12 + 4 bytes, 128 payload, then two type-3 chunks of 1 + 4 bytes.
        assert_eq!(out.len(), 16 + 300 + 2 * 5);
        assert_eq!(&out[1..4], &[0xFF, 0xFF, 0xFF]);
        assert_eq!(&out[12..16], &0x0100_0000u32.to_be_bytes());
        assert_eq!(&out[144..149], &[0xC6, 0x01, 0x00, 0x00, 0x00]);
        let back = read_all(&out, 128);
        assert_eq!(back[0].header.timestamp, 0x0100_0000);
        assert_eq!(back[0].payload, vec![1u8; 300]);
    }

    #[test]
    fn interleaved_chunk_streams_and_wrapping_timestamps_read_back() {
        let mut w = ChunkWriter::new();
        w.set_chunk_size(1).unwrap();
        let mut out = Vec::new();
        let video: Vec<u8> = (0..=255).collect();
        let start = u32::MAX - 40;
        for i in 0..4u32 {
            let ts = start.wrapping_add(33 * i);
            let mut chunks = w.begin(400, header(9, ts), &video).unwrap();
            let mut n = 0;
            while chunks.write_next(&mut out) {
                n += 1;
                if n % 100 == 0 {
                    w.write(70, header(8, ts), &[i as u8; 3], &mut out).unwrap();
                }
            }
        }
        let back = read_all(&out, 1);
        let video_times: Vec<u32> = back.iter().filter(|m| m.header.type_id == 9).map(|m| m.header.timestamp).collect();
        assert_eq!(video_times, (0..4).map(|i| start.wrapping_add(33 * i)).collect::<Vec<_>>());
        assert_eq!(back.iter().filter(|m| m.header.type_id == 8).count(), 8);
        assert!(back.iter().filter(|m| m.header.type_id == 9).all(|m| m.payload == video));
    }

    #[test]
    fn reader_waits_for_whole_chunks_and_bounds_the_peer() {
        let mut w = ChunkWriter::new();
        let mut out = Vec::new();
        w.write(3, header(20, 5), &[9u8; 200], &mut out).unwrap();
        let mut r = ChunkReader::new();
        for b in &out[..out.len() - 1] {
            r.push(std::slice::from_ref(b));
            assert_eq!(r.next_message().unwrap(), None);
        }
        r.push(&out[out.len() - 1..]);
        assert_eq!(r.next_message().unwrap().unwrap().payload, vec![9u8; 200]);

        let mut r = ChunkReader::new();
        r.push(&[0x43, 0, 0, 0, 0, 0, 5, 8]);
        assert_eq!(r.next_message(), Err(Error::NoPreviousHeader(3, 1)));
        assert_eq!(ChunkWriter::new().begin(1, header(8, 0), &[]).err(), Some(Error::ChunkStreamId(1)));
        assert_eq!(ChunkWriter::new().set_chunk_size(0), Err(Error::ChunkSize(0)));
    }
}

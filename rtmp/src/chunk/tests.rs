use alloc::vec;
use alloc::vec::Vec;

use super::encoder::ChunkEncoder;
use super::*;

/// Hand-made chunks, to write what the writer never does.
struct Chunks(Vec<u8>);

impl Chunks {
    fn new() -> Self {
        Self(Vec::new())
    }

    fn basic(&mut self, fmt: u8, id: u32) -> &mut Self {
        // The low bytes of a value each arm's range keeps within them.
        match id {
            2..=63 => self.0.push(fmt << 6 | id.to_le_bytes()[0]),
            64..=319 => self.0.extend_from_slice(&[fmt << 6, (id - 64).to_le_bytes()[0]]),
            _ => {
                let [low, high, ..] = (id - 64).to_le_bytes();
                self.0.extend_from_slice(&[fmt << 6 | 1, low, high]);
            }
        }
        self
    }

    fn u24(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes()[1..]);
        self
    }

    /// A type-0 header: timestamp, length, type, stream id.
    fn type0(&mut self, id: u32, ts: u32, len: u32, kind: u8, stream: u32) -> &mut Self {
        self.basic(0, id).u24(ts.min(EXTENDED)).u24(len);
        self.0.push(kind);
        self.0.extend_from_slice(&stream.to_le_bytes());
        if ts >= EXTENDED {
            self.0.extend_from_slice(&ts.to_be_bytes());
        }
        self
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }

    fn input(&self) -> BytesMut {
        BytesMut::from(&self.0[..])
    }
}

fn all(decoder: &mut ChunkDecoder, input: &mut BytesMut) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(m) = decoder.next_message(input).unwrap() {
        out.push(m);
    }
    out
}

#[test]
fn interleaved_chunk_streams_are_reassembled_each_on_its_own() {
    // A 300-byte video message in 128-byte chunks, with whole audio messages between them.
    let video: Vec<u8> = (0..300u32).map(|i| i.to_le_bytes()[0]).collect(); // 0, 1, … 255, 0, 1, …
    let mut c = Chunks::new();
    c.type0(6, 1000, 300, 9, 1).bytes(&video[..128]);
    c.type0(4, 1000, 3, 8, 1).bytes(b"aa1");
    c.basic(3, 6).bytes(&video[128..256]);
    c.basic(2, 4).u24(23).bytes(b"aa2");
    c.basic(3, 6).bytes(&video[256..]);
    let mut d = ChunkDecoder::new();
    let mut input = c.input();
    let got = all(&mut d, &mut input);
    assert!(input.is_empty());
    assert_eq!(got.len(), 3);
    assert_eq!((got[0].kind, got[0].timestamp, &got[0].payload[..]), (MessageType::Audio, 1000, &b"aa1"[..]));
    assert_eq!((got[1].kind, got[1].timestamp, &got[1].payload[..]), (MessageType::Audio, 1023, &b"aa2"[..]));
    assert_eq!((got[2].kind, got[2].timestamp, got[2].stream_id), (MessageType::Video, 1000, 1));
    assert_eq!(&got[2].payload[..], &video[..]);
    assert_eq!(d.pending_bytes(), 0);
}

#[test]
fn a_chunk_size_of_one_delivers_every_byte() {
    let mut d = ChunkDecoder::new();
    d.set_chunk_size(1).unwrap();
    let mut c = Chunks::new();
    c.type0(5, 7, 5, 9, 1).bytes(b"h");
    for b in b"ello" {
        c.basic(3, 5).bytes(&[*b]);
    }
    let mut input = c.input();
    let got = all(&mut d, &mut input);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"hello");
}

#[test]
fn extended_timestamps_are_read_on_type_3_chunks_too() {
    let ts = 0x0123_4567;
    let mut c = Chunks::new();
    c.type0(4, ts, 200, 9, 1).bytes(&[1; 128]);
    c.basic(3, 4).bytes(&ts.to_be_bytes()).bytes(&[2; 72]);
    // A type-3 header starting the next message: it adds the last timestamp field again.
    c.basic(3, 4).bytes(&ts.to_be_bytes()).bytes(&[3; 128]);
    c.basic(3, 4).bytes(&ts.to_be_bytes()).bytes(&[4; 72]);
    let mut d = ChunkDecoder::new();
    let mut input = c.input();
    let got = all(&mut d, &mut input);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].timestamp, ts);
    assert_eq!(&got[0].payload[128..], &[2; 72]);
    assert_eq!(got[1].timestamp, ts.wrapping_add(ts));
    assert_eq!(&got[1].payload[..128], &[3; 128]);
}

#[test]
fn continuation_chunks_without_the_extended_timestamp_are_tolerated() {
    let ts = 0x0100_0000;
    let mut c = Chunks::new();
    c.type0(4, ts, 200, 9, 1).bytes(&[1; 128]);
    c.basic(3, 4).bytes(&[9; 72]);
    let mut d = ChunkDecoder::new();
    let got = all(&mut d, &mut c.input());
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[128..], &[9; 72]);
}

#[test]
fn timestamps_wrap_past_two_to_the_32() {
    let mut c = Chunks::new();
    c.type0(4, 0xFFFF_FF00, 1, 8, 1).bytes(b"a");
    c.basic(2, 4).u24(0x200).bytes(b"b");
    let got = all(&mut ChunkDecoder::new(), &mut c.input());
    assert_eq!(got[1].timestamp, 0x100);
}

#[test]
fn two_and_three_byte_chunk_stream_ids() {
    let mut c = Chunks::new();
    c.type0(64, 1, 1, 8, 1).bytes(b"a");
    c.type0(319, 2, 1, 8, 1).bytes(b"b");
    c.type0(320, 3, 1, 8, 1).bytes(b"c");
    c.type0(65599, 4, 1, 8, 1).bytes(b"d");
    let got = all(&mut ChunkDecoder::new(), &mut c.input());
    let ids: Vec<u32> = got.iter().map(|m| m.chunk_stream).collect();
    assert_eq!(ids, vec![64, 319, 320, 65599]);
}

#[test]
fn type_1_and_2_headers_keep_what_they_leave_out() {
    let mut c = Chunks::new();
    c.type0(4, 100, 2, 8, 7).bytes(b"ab");
    c.basic(1, 4).u24(10).u24(3).bytes(&[9]).bytes(b"cde");
    c.basic(2, 4).u24(5).bytes(b"fgh");
    let got = all(&mut ChunkDecoder::new(), &mut c.input());
    let seen: Vec<(MessageType, u32, u32, usize)> =
        got.iter().map(|m| (m.kind, m.timestamp, m.stream_id, m.payload.len())).collect();
    assert_eq!(
        seen,
        vec![(MessageType::Audio, 100, 7, 2), (MessageType::Video, 110, 7, 3), (MessageType::Video, 115, 7, 3)]
    );
}

#[test]
fn a_short_input_is_not_consumed_and_says_what_it_wants() {
    let mut c = Chunks::new();
    c.type0(4, 1, 100, 9, 1).bytes(&[0; 100]);
    let full = c.input();
    let mut d = ChunkDecoder::new();
    for cut in 0..full.len() {
        let mut part = BytesMut::from(&full[..cut]);
        assert_eq!(d.next_message(&mut part).unwrap(), None, "cut at {cut}");
        assert_eq!(part.len(), cut);
    }
    assert_eq!(d.wanted(), full.len());
    assert!(d.next_message(&mut full.clone()).unwrap().is_some());
}

#[test]
fn a_partial_message_then_a_message_on_another_stream() {
    // What panicked rml_rtmp: half a message on one chunk stream, a whole one on another.
    let mut c = Chunks::new();
    c.type0(3, 0, 1000, 20, 0).bytes(&[0; 128]);
    c.type0(4, 0, 4, 8, 1).bytes(b"abcd");
    let mut d = ChunkDecoder::new();
    let got = all(&mut d, &mut c.input());
    assert_eq!(got.len(), 1);
    assert_eq!(d.pending_bytes(), 1000);
    d.abort(3);
    assert_eq!(d.pending_bytes(), 0);
    d.abort(99); // unknown: nothing to do
}

#[test]
fn limits_are_checked_before_allocating() {
    let err = |c: &Chunks| {
        let mut d = ChunkDecoder::new();
        let mut input = c.input();
        loop {
            match d.next_message(&mut input) {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("no error"),
                Err(e) => return e,
            }
        }
    };
    // The wire's largest length (2^24 - 1) is within MAX_MESSAGE_SIZE: one such message is fine.
    let mut c = Chunks::new();
    c.type0(4, 0, 0xFF_FFFF, 9, 1).bytes(&[0; 128]);
    assert_eq!(ChunkDecoder::new().next_message(&mut c.input()).unwrap(), None);

    let mut c = Chunks::new();
    for id in 2..70 {
        c.type0(id, 0, 1 << 20, 9, 1).bytes(&[0; 128]);
    }
    assert!(matches!(err(&c), Error::Limit { limit: Limit::PartialMessages, .. }));

    let mut c = Chunks::new();
    for id in 2..4 {
        c.type0(id, 0, 0xFF_FFFF, 9, 1).bytes(&[0; 128]);
    }
    c.type0(5, 0, 1 << 20, 9, 1).bytes(&[0; 128]);
    assert!(matches!(err(&c), Error::Limit { limit: Limit::PendingBytes, .. }));

    let mut c = Chunks::new();
    for id in 2..100 {
        c.type0(id, 0, 1, 8, 1).bytes(b"x");
    }
    assert!(matches!(err(&c), Error::Limit { limit: Limit::ChunkStreams, .. }));

    let mut c = Chunks::new();
    c.type0(3, 0, 100_000, 20, 0);
    assert!(matches!(err(&c), Error::Limit { limit: Limit::CommandSize, .. }));
}

#[test]
fn protocol_errors() {
    let mut d = ChunkDecoder::new();
    assert!(d.set_chunk_size(0).is_err());
    assert!(d.set_chunk_size(0x8000_0000).is_err());
    assert!(d.set_chunk_size(0x7FFF_FFFF).is_ok());
    let mut c = Chunks::new();
    c.basic(1, 4).u24(1).u24(1).bytes(&[8, 0]);
    assert!(matches!(ChunkDecoder::new().next_message(&mut c.input()), Err(Error::Protocol(_))));
    let mut c = Chunks::new();
    c.type0(4, 0, 200, 9, 1).bytes(&[0; 128]).type0(4, 0, 1, 9, 1).bytes(b"x");
    assert!(matches!(ChunkDecoder::new().next_message(&mut c.input()), Err(Error::Protocol(_))));
}

#[test]
fn what_the_writer_writes_reads_back() {
    let payload: Vec<u8> = (0..10_000u32).map(|i| u8::try_from(i % 251).unwrap()).collect();
    for (chunk_size, ts, id) in [(128, 5, 3), (1, 0x0100_0000, 64), (4096, 0xFFFF_FFFF, 400)] {
        let mut w = ChunkEncoder::default();
        w.set_chunk_size(chunk_size);
        let mut out = BytesMut::new();
        w.write(&mut out, id, MessageType::Video, 1, ts, &payload);
        let mut d = ChunkDecoder::new();
        d.set_chunk_size(chunk_size).unwrap();
        let m = d.next_message(&mut out).unwrap().unwrap();
        assert!(out.is_empty());
        assert_eq!((m.timestamp, m.chunk_stream, &m.payload[..]), (ts, id, &payload[..]));
    }
}

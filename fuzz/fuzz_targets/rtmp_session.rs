//! The RTMP server session on an arbitrary client byte stream, fed in pieces as a socket would
//! deliver it, with every decision accepted (connect, publish) so the input reaches media.
//!
//! Input: byte 0 picks the spread of piece sizes (`1 << (b % 16)` bytes; 15 means the whole
//! stream at once), byte 1 seeds them; the rest is what the client sends. Pieces are at least
//! 1/2048 of the stream, so a long stream costs at most a few thousand polls.
//!
//! Seeds (`fuzz/seeds/rtmp_session/`, each with a 2-byte prefix): `ffmpeg-publish-64k.bin` and
//! `ffmpeg-publish-full.bin` are an ffmpeg 5.1 publish of a 2 s clip (H.264 + AAC, `-c copy`),
//! client→server bytes recorded with `fuzz/capture-rtmp.py` between ffmpeg and `rapidrtmp serve`
//! (the first truncated to 64 KiB); `handshake.bin`, `handshake-chunk-size-1.bin` and
//! `chunk-size-1-publish.bin` are hand-made (a simple handshake; then Set Chunk Size 1; then a
//! whole Enhanced RTMP connect, publish, media, unpublish and play in 1-byte chunks), written by
//! `fuzz/capture-rtmp.py hand-made`.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rapidrtmp_rtmp::chunk::MAX_HEADER_LEN;
use rapidrtmp_rtmp::handshake::HANDSHAKE_LEN;
use rapidrtmp_rtmp::limits::{MAX_COMMAND_SIZE, MAX_MESSAGE_SIZE, MAX_OUTPUT_BYTES};
use rapidrtmp_rtmp::{Config, Event, ServerSession};

fuzz_target!(|data: &[u8]| {
    let [shape, seed, stream @ ..] = data else { return };
    let whole = shape % 16 == 15;
    let spread = 1usize << (shape % 16);
    let floor = stream.len() / 2048;
    let mut rng = u32::from(*seed).wrapping_mul(0x9E37_79B9) | 1;

    let mut session = ServerSession::new(Config::default(), [7; 32]);
    // Room for the whole stream up front: no piece makes the buffer move what it holds.
    let mut input = BytesMut::with_capacity(stream.len());
    let mut rest = stream;
    while !rest.is_empty() {
        let n = if whole {
            rest.len()
        } else {
            // xorshift32: piece sizes from `floor + 1` to `floor + spread`.
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            floor + 1 + rng as usize % spread
        };
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        input.extend_from_slice(piece);
        loop {
            match session.poll(&mut input) {
                Ok(Some(Event::Connect(c))) => session.accept_connect(&c),
                Ok(Some(Event::Publish(r))) => session.accept_publish(&r),
                Ok(Some(Event::Play(r))) => session.reject_stream(&r, "NetStream.Play.Failed", "no"),
                Ok(Some(Event::Media { payload, .. })) => assert!(payload.len() <= MAX_MESSAGE_SIZE),
                Ok(Some(_)) => {}
                Ok(None) => break,
                // Every error ends the connection.
                Err(_) => return,
            }
        }
        // Nothing whole is left unread, and `wanted()` says more than is there: at most the next
        // handshake packet, or a chunk header and one chunk's payload.
        let wanted = session.wanted();
        assert!(input.len() < wanted, "{} bytes left unread after Ok(None), wanted {wanted}", input.len());
        assert!(wanted <= (1 + HANDSHAKE_LEN).max(MAX_HEADER_LEN + MAX_MESSAGE_SIZE), "wanted {wanted}");
        // Replies are bounded: the session refuses to queue past MAX_OUTPUT_BYTES, plus the
        // answers to one decision (which quote the stream name, itself bounded by a command).
        if let Some(out) = session.take_output() {
            assert!(out.len() <= MAX_OUTPUT_BYTES + 2 * HANDSHAKE_LEN + 4 * MAX_COMMAND_SIZE, "{} bytes", out.len());
        }
    }
});

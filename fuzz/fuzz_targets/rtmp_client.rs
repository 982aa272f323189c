//! The RTMP client session (restreaming) on an arbitrary server byte stream, fed in pieces as a
//! socket would deliver it; once the server accepts the publish, each piece is followed by a
//! few tags sent, so media and replies interleave.
//!
//! Input: byte 0 picks the spread of piece sizes (`1 << (b % 16)` bytes; 15 means the whole
//! stream at once), byte 1 seeds them; the rest is what the server sends. Pieces are at least
//! 1/2048 of the stream, so a long stream costs at most a few thousand polls.
//!
//! Seeds (`fuzz/seeds/rtmp_client/`, each with a 2-byte prefix) are hand-made server answers
//! (a simple handshake, window, bandwidth, chunk size 60, an Enhanced RTMP `connect` answer,
//! `createStream`'s answer, a ping, `NetStream.Publish.Start`; and one that ends in
//! `NetStream.Publish.BadName`), written by `fuzz/capture-rtmp.py client-hand-made`.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rapidrtmp_core::flv::TagKind;
use rapidrtmp_rtmp::chunk::MAX_HEADER_LEN;
use rapidrtmp_rtmp::handshake::HANDSHAKE_LEN;
use rapidrtmp_rtmp::limits::{MAX_COMMAND_SIZE, MAX_MESSAGE_SIZE, MAX_OUTPUT_BYTES, MAX_STATUS_TEXT};
use rapidrtmp_rtmp::{ClientConfig, ClientEvent, ClientSession};

fuzz_target!(|data: &[u8]| {
    let [shape, seed, stream @ ..] = data else { return };
    let whole = shape % 16 == 15;
    let spread = 1usize << (shape % 16);
    let floor = stream.len() / 2048;
    let mut rng = u32::from(*seed).wrapping_mul(0x9E37_79B9) | 1;

    let config = ClientConfig {
        app: "live".into(),
        tc_url: "rtmp://127.0.0.1/live".into(),
        stream_name: "key".into(),
        flash_ver: "FMLE/3.0 (compatible; RapidRTMP)".into(),
        fourccs: vec!["avc1".into(), "hvc1".into(), "mp4a".into()],
        chunk_size: 4096,
        window_ack_size: 2_500_000,
    };
    let mut session = ClientSession::new(config, [7; 32]);
    let mut input = BytesMut::with_capacity(stream.len());
    let mut rest = stream;
    let mut timestamp = 0u32;
    while !rest.is_empty() {
        let n = if whole {
            rest.len()
        } else {
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
                Ok(Some(ClientEvent::Refused { code, description })) => {
                    assert!(code.len() <= MAX_STATUS_TEXT && description.len() <= MAX_STATUS_TEXT);
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                // Every error ends the connection.
                Err(_) => return,
            }
        }
        let wanted = session.wanted();
        assert!(input.len() < wanted, "{} bytes left unread after Ok(None), wanted {wanted}", input.len());
        assert!(wanted <= (1 + 2 * HANDSHAKE_LEN).max(MAX_HEADER_LEN + MAX_MESSAGE_SIZE), "wanted {wanted}");
        let mut media = 0;
        if session.is_live() {
            timestamp = timestamp.wrapping_add(33);
            for (kind, body) in [(TagKind::Video, &piece[..piece.len().min(64)]), (TagKind::Audio, &[0xAF, 1][..])] {
                session.send(kind, timestamp, body).expect("a live session sends");
                media += body.len() + 2 * MAX_HEADER_LEN;
            }
        }
        // Replies are bounded: the session refuses to queue past MAX_OUTPUT_BYTES, plus the
        // handshake, the commands of one answer and the media just sent.
        if let Some(out) = session.take_output() {
            let bound = MAX_OUTPUT_BYTES + 2 * HANDSHAKE_LEN + 4 * MAX_COMMAND_SIZE + media;
            assert!(out.len() <= bound, "{} bytes", out.len());
        }
    }
});

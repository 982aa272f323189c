//! The RTMP handshake (RTMP 1.0 §5.2). The server side: C0+C1 in, S0+S1+S2 out, C2 in. The
//! client side ([`ClientHandshake`]): C0+C1 out, S0+S1+S2 in, C2 out.
//!
//! Two forms are answered. The simple one of the spec: S1 is random, S2 echoes C1. The digest
//! form that Flash Player 9+ and most encoders use (not in the published spec; the scheme that
//! nginx-rtmp, SRS and FFmpeg implement): C1 carries an HMAC-SHA256 digest at a position derived
//! from its own bytes, and the server answers with a digest of its own in S1 and a digest of C1's
//! digest in S2. A C1 without a valid digest gets the simple form. C2 is read and not checked:
//! clients fill it in either form, and nothing depends on it.

use bytes::{Buf, BufMut, BytesMut};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::Error;

/// C0/S0: the RTMP version, 3 (§5.2.2).
pub const RTMP_VERSION: u8 = 3;
/// Length of C1, S1, C2 and S2 (§5.2.3).
pub const HANDSHAKE_LEN: usize = 1536;

/// The 32 bytes that follow both keys' readable parts.
const KEY_TAIL: [u8; 32] = [
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D,
    0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
];
const PLAYER_NAME: &[u8; 30] = b"Genuine Adobe Flash Player 001";
const SERVER_NAME: &[u8; 36] = b"Genuine Adobe Flash Media Server 001";
/// The version S1 announces in digest form (as Flash Media Server does).
const SERVER_VERSION: [u8; 4] = [0x0D, 0x0E, 0x0A, 0x0D];
const DIGEST_LEN: usize = 32;

/// Where the handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for C0 and C1.
    C0C1,
    /// S0+S1+S2 sent; waiting for C2.
    C2,
    /// Done: what follows is chunk streams.
    Done,
}

/// The server handshake state machine.
#[derive(Debug)]
pub(crate) struct Handshake {
    stage: Stage,
}

impl Handshake {
    pub(crate) fn new() -> Self {
        Self { stage: Stage::C0C1 }
    }

    pub(crate) fn done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Bytes the next step needs in the input.
    pub(crate) fn wanted(&self) -> usize {
        match self.stage {
            Stage::C0C1 => 1 + HANDSHAKE_LEN,
            Stage::C2 => HANDSHAKE_LEN,
            Stage::Done => 0,
        }
    }

    /// Consumes what it can of `input`, writing the replies to `out`. The version byte is
    /// checked as soon as it arrives, so a peer that is not RTMP is refused at once.
    pub(crate) fn advance(
        &mut self,
        input: &mut BytesMut,
        out: &mut BytesMut,
        random: &mut Random,
    ) -> Result<(), Error> {
        if self.stage == Stage::C0C1 {
            match input.first() {
                None => return Ok(()),
                Some(&RTMP_VERSION) => {}
                Some(&v) => return Err(Error::Version(v)),
            }
            if input.len() < 1 + HANDSHAKE_LEN {
                return Ok(());
            }
            input.advance(1);
            let c1 = input.split_to(HANDSHAKE_LEN);
            out.reserve(1 + 2 * HANDSHAKE_LEN);
            out.put_u8(RTMP_VERSION);
            respond(&c1, out, random);
            self.stage = Stage::C2;
        }
        if self.stage == Stage::C2 && input.len() >= HANDSHAKE_LEN {
            input.advance(HANDSHAKE_LEN);
            self.stage = Stage::Done;
        }
        Ok(())
    }
}

/// The client handshake state machine: C0+C1 are written at once, in digest form (as FFmpeg
/// and Flash Player write them: servers that check the digest take them, the others echo).
#[derive(Debug)]
pub(crate) struct ClientHandshake {
    done: bool,
}

/// The Flash Player version C1 announces in digest form (as FFmpeg does).
const CLIENT_VERSION: [u8; 4] = [9, 0, 124, 2];

impl ClientHandshake {
    /// Writes C0 and C1 to `out`.
    pub(crate) fn start(out: &mut BytesMut, random: &mut Random) -> Self {
        let start = out.len();
        out.resize(start + 1 + HANDSHAKE_LEN, 0);
        out[start] = RTMP_VERSION;
        let c1 = &mut out[start + 1..];
        random.fill(&mut c1[8..]);
        c1[4..8].copy_from_slice(&CLIENT_VERSION);
        let at = digest_offset(c1, Scheme::First);
        let own = hmac(&player_key()[..PLAYER_NAME.len()], &[&c1[..at], &c1[at + DIGEST_LEN..]]);
        c1[at..at + DIGEST_LEN].copy_from_slice(&own);
        Self { done: false }
    }

    pub(crate) fn done(&self) -> bool {
        self.done
    }

    /// Bytes the next step needs in the input.
    pub(crate) fn wanted(&self) -> usize {
        if self.done {
            0
        } else {
            1 + 2 * HANDSHAKE_LEN
        }
    }

    /// Reads S0+S1+S2 once they are all in `input` and writes C2: S1 signed back when it
    /// carries a server digest, S1 echoed otherwise. S2 is read and not checked, as servers
    /// fill it in either form. A wrong version byte is refused as soon as it arrives.
    pub(crate) fn advance(
        &mut self,
        input: &mut BytesMut,
        out: &mut BytesMut,
        random: &mut Random,
    ) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        match input.first() {
            None => return Ok(()),
            Some(&RTMP_VERSION) => {}
            Some(&v) => return Err(Error::Version(v)),
        }
        if input.len() < 1 + 2 * HANDSHAKE_LEN {
            return Ok(());
        }
        input.advance(1);
        let s1 = input.split_to(HANDSHAKE_LEN);
        input.advance(HANDSHAKE_LEN);
        let start = out.len();
        out.resize(start + HANDSHAKE_LEN, 0);
        let c2 = &mut out[start..];
        match server_digest(&s1) {
            Some(digest) => {
                random.fill(&mut c2[..HANDSHAKE_LEN - DIGEST_LEN]);
                let key = hmac(&player_key(), &[&digest]);
                let sig = hmac(&key, &[&c2[..HANDSHAKE_LEN - DIGEST_LEN]]);
                c2[HANDSHAKE_LEN - DIGEST_LEN..].copy_from_slice(&sig);
            }
            None => c2.copy_from_slice(&s1),
        }
        self.done = true;
        Ok(())
    }
}

/// S1's digest, when S1 carries a valid one (either scheme).
fn server_digest(s1: &[u8]) -> Option<[u8; DIGEST_LEN]> {
    let key = server_key();
    [Scheme::First, Scheme::Second].into_iter().find_map(|scheme| {
        let at = digest_offset(s1, scheme);
        let expected = hmac(&key[..SERVER_NAME.len()], &[&s1[..at], &s1[at + DIGEST_LEN..]]);
        let mut digest = [0; DIGEST_LEN];
        digest.copy_from_slice(&s1[at..at + DIGEST_LEN]);
        (digest == expected).then_some(digest)
    })
}

/// Writes S1 and S2 for `c1`.
fn respond(c1: &[u8], out: &mut BytesMut, random: &mut Random) {
    let start = out.len();
    out.resize(start + 2 * HANDSHAKE_LEN, 0);
    let (s1, s2) = out[start..].split_at_mut(HANDSHAKE_LEN);
    random.fill(&mut s1[8..]);
    match client_digest(c1) {
        Some((scheme, digest)) => {
            s1[4..8].copy_from_slice(&SERVER_VERSION);
            let at = digest_offset(s1, scheme);
            let own = hmac(&server_key()[..SERVER_NAME.len()], &[&s1[..at], &s1[at + DIGEST_LEN..]]);
            s1[at..at + DIGEST_LEN].copy_from_slice(&own);
            random.fill(&mut s2[..HANDSHAKE_LEN - DIGEST_LEN]);
            let key = hmac(&server_key(), &[&digest]);
            let sig = hmac(&key, &[&s2[..HANDSHAKE_LEN - DIGEST_LEN]]);
            s2[HANDSHAKE_LEN - DIGEST_LEN..].copy_from_slice(&sig);
        }
        None => s2.copy_from_slice(c1),
    }
}

/// The two places a digest may sit: in the first or the second half of C1.
#[derive(Debug, Clone, Copy)]
enum Scheme {
    First,
    Second,
}

/// The digest's offset: the sum of the 4 bytes opening its half picks a place in that half.
fn digest_offset(packet: &[u8], scheme: Scheme) -> usize {
    let base = match scheme {
        Scheme::First => 8,
        Scheme::Second => 772,
    };
    let sum: usize = packet[base..base + 4].iter().map(|&b| usize::from(b)).sum();
    base + 4 + sum % 728
}

/// C1's digest, when C1 carries a valid one (either scheme).
fn client_digest(c1: &[u8]) -> Option<(Scheme, [u8; DIGEST_LEN])> {
    let key = player_key();
    [Scheme::Second, Scheme::First].into_iter().find_map(|scheme| {
        let at = digest_offset(c1, scheme);
        let expected = hmac(&key[..PLAYER_NAME.len()], &[&c1[..at], &c1[at + DIGEST_LEN..]]);
        let mut digest = [0; DIGEST_LEN];
        digest.copy_from_slice(&c1[at..at + DIGEST_LEN]);
        (digest == expected).then_some((scheme, digest))
    })
}

fn player_key() -> [u8; 62] {
    let mut k = [0; 62];
    k[..30].copy_from_slice(PLAYER_NAME);
    k[30..].copy_from_slice(&KEY_TAIL);
    k
}

fn server_key() -> [u8; 68] {
    let mut k = [0; 68];
    k[..36].copy_from_slice(SERVER_NAME);
    k[36..].copy_from_slice(&KEY_TAIL);
    k
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; DIGEST_LEN] {
    // HMAC accepts keys of any length: new_from_slice cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return [0; DIGEST_LEN] };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Random-looking bytes for S1 and S2 from a caller's seed (the core takes no randomness of its
/// own): SHA-256 of the seed and a counter.
#[derive(Debug)]
pub(crate) struct Random {
    seed: [u8; 32],
    counter: u64,
}

impl Random {
    pub(crate) fn new(seed: [u8; 32]) -> Self {
        Self { seed, counter: 0 }
    }

    fn fill(&mut self, out: &mut [u8]) {
        for block in out.chunks_mut(DIGEST_LEN) {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(self.counter.to_be_bytes());
            self.counter += 1;
            let bytes: [u8; DIGEST_LEN] = h.finalize().into();
            block.copy_from_slice(&bytes[..block.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A C1 in digest form, as a Flash Player or FFmpeg writes it.
    fn digest_c1(scheme: Scheme) -> vec::Vec<u8> {
        let mut c1 = vec![0u8; HANDSHAKE_LEN];
        for (i, b) in c1.iter_mut().enumerate() {
            *b = (i * 7 + 3).to_le_bytes()[0];
        }
        c1[4..8].copy_from_slice(&[9, 0, 124, 2]);
        let at = digest_offset(&c1, scheme);
        let d = hmac(&player_key()[..30], &[&c1[..at], &c1[at + 32..]]);
        c1[at..at + 32].copy_from_slice(&d);
        c1
    }

    fn run(c1: &[u8]) -> BytesMut {
        let mut hs = Handshake::new();
        let mut input = BytesMut::new();
        input.put_u8(3);
        input.extend_from_slice(c1);
        let mut out = BytesMut::new();
        hs.advance(&mut input, &mut out, &mut Random::new([1; 32])).unwrap();
        assert!(!hs.done());
        input.extend_from_slice(&[0; HANDSHAKE_LEN]);
        input.extend_from_slice(b"next");
        hs.advance(&mut input, &mut out, &mut Random::new([1; 32])).unwrap();
        assert!(hs.done());
        assert_eq!(&input[..], b"next", "bytes after C2 are left for the chunk layer");
        assert_eq!(out.len(), 1 + 2 * HANDSHAKE_LEN);
        assert_eq!(out[0], 3);
        out
    }

    #[test]
    fn simple_handshake_echoes_c1_in_s2() {
        let c1 = [5u8; HANDSHAKE_LEN];
        let out = run(&c1);
        assert_eq!(&out[1 + HANDSHAKE_LEN..], &c1[..]);
    }

    #[test]
    fn digest_handshake_signs_s1_and_s2_as_a_client_checks_them() {
        for scheme in [Scheme::First, Scheme::Second] {
            let c1 = digest_c1(scheme);
            let (_, client) = client_digest(&c1).unwrap();
            let out = run(&c1);
            let (s1, s2) = out[1..].split_at(HANDSHAKE_LEN);
            // The client's checks: S1's digest with the server key's readable part ...
            let at = digest_offset(s1, scheme);
            let d = hmac(&server_key()[..36], &[&s1[..at], &s1[at + 32..]]);
            assert_eq!(&s1[at..at + 32], &d);
            // ... and S2's signature over the client's own digest.
            let key = hmac(&server_key(), &[&client]);
            assert_eq!(&s2[HANDSHAKE_LEN - 32..], &hmac(&key, &[&s2[..HANDSHAKE_LEN - 32]]));
        }
    }

    #[test]
    fn the_client_handshake_passes_the_servers_digest_checks_both_ways() {
        let mut random = Random::new([4; 32]);
        let mut c0c1 = BytesMut::new();
        let mut client = ClientHandshake::start(&mut c0c1, &mut random);
        assert_eq!(c0c1.len(), 1 + HANDSHAKE_LEN);
        assert!(client_digest(&c0c1[1..]).is_some(), "C1 is in digest form");
        let mut s = run(&c0c1[1..]);
        let mut c2 = BytesMut::new();
        client.advance(&mut BytesMut::from(&s[..100]), &mut c2, &mut random).unwrap();
        assert!(!client.done() && c2.is_empty(), "a short S0+S1+S2 waits");
        s.extend_from_slice(b"next");
        client.advance(&mut s, &mut c2, &mut random).unwrap();
        assert!(client.done());
        assert_eq!(&s[..], b"next", "bytes after S2 are left for the chunk layer");
        // The server's check of a digest C2 (as FFmpeg's server side does it).
        let s1 = &run(&c0c1[1..])[1..1 + HANDSHAKE_LEN];
        let digest = server_digest(s1).unwrap();
        let key = hmac(&player_key(), &[&digest]);
        assert_eq!(&c2[HANDSHAKE_LEN - 32..], &hmac(&key, &[&c2[..HANDSHAKE_LEN - 32]]));
    }

    #[test]
    fn the_client_echoes_a_simple_s1_and_refuses_a_wrong_version() {
        let mut random = Random::new([4; 32]);
        let mut client = ClientHandshake::start(&mut BytesMut::new(), &mut random);
        let mut s = BytesMut::new();
        s.put_u8(3);
        s.extend_from_slice(&[9; HANDSHAKE_LEN]);
        s.extend_from_slice(&[0; HANDSHAKE_LEN]);
        let mut c2 = BytesMut::new();
        client.advance(&mut s, &mut c2, &mut random).unwrap();
        assert_eq!(&c2[..], &[9; HANDSHAKE_LEN][..]);
        let mut client = ClientHandshake::start(&mut BytesMut::new(), &mut random);
        let err = client.advance(&mut BytesMut::from(&b"HTTP/1.1 400"[..]), &mut c2, &mut random).unwrap_err();
        assert_eq!(err, Error::Version(b'H'));
    }

    #[test]
    fn a_wrong_version_byte_is_refused_at_once() {
        let mut hs = Handshake::new();
        let mut input = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
        let err = hs.advance(&mut input, &mut BytesMut::new(), &mut Random::new([0; 32])).unwrap_err();
        assert_eq!(err, Error::Version(b'G'));
    }

    #[test]
    fn a_short_c1_waits() {
        let mut hs = Handshake::new();
        let mut input = BytesMut::from(&[3u8; 100][..]);
        let mut out = BytesMut::new();
        hs.advance(&mut input, &mut out, &mut Random::new([0; 32])).unwrap();
        assert_eq!(input.len(), 100);
        assert!(out.is_empty());
    }
}

//! The client side of the simple RTMP handshake.
//!
//! Adobe, *RTMP specification* 1.0, §5.2: the client sends C0 (the version, 3; §5.2.2) and C1
//! (time, four zero bytes, 1528 random bytes; §5.2.3), reads S0, S1 and S2, and answers S1
//! with C2, its echo (§5.2.4). S2 is read but not checked: servers that speak the digest
//! handshake do not echo C1 byte for byte.

use thiserror::Error;

/// The RTMP version of C0 and S0 (§5.2.2).
pub const RTMP_VERSION: u8 = 3;
/// The size of C1, S1, C2 and S2 (§5.2.3).
pub const PACKET_SIZE: usize = 1536;
/// What the server sends: S0, S1 and S2.
pub const SERVER_REPLY_SIZE: usize = 1 + 2 * PACKET_SIZE;

/// A handshake the server broke.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// S0 is not version 3.
    #[error("the server's S0 asks for RTMP version {0}, not 3")]
    Version(u8),
}

/// C0 and C1 (§5.2.2, §5.2.3): version 3, then `time`, `version` (the "zero" field, which
/// digest-handshake peers read as a version: 0 asks for the simple handshake), and 1528
/// pseudo-random bytes made from `seed`.
pub fn c0_c1(time: u32, version: u32, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + PACKET_SIZE);
    out.push(RTMP_VERSION);
    out.extend_from_slice(&time.to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    // xorshift64* seeded by splitmix64: not for secrets, only so that C1 differs between
    // connections.
    let mut x = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x = (x ^ (x >> 31)) | 1;
    while out.len() < 1 + PACKET_SIZE {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_be_bytes();
        let n = v.len().min(1 + PACKET_SIZE - out.len());
        out.extend_from_slice(&v[..n]);
    }
    out
}

/// Reads S0 S1 S2 from the start of `input` once all 3073 bytes are there: `None` until then,
/// else C2 (the echo of S1, §5.2.4).
pub fn c2(input: &[u8]) -> Option<Result<Vec<u8>, Error>> {
    let reply = input.get(..SERVER_REPLY_SIZE)?;
    if reply[0] != RTMP_VERSION {
        return Some(Err(Error::Version(reply[0])));
    }
    Some(Ok(reply[1..1 + PACKET_SIZE].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c0_c1_layout_and_c2_echo() {
        let c = c0_c1(7, 0, 42);
        assert_eq!(c.len(), 1537);
        assert_eq!(&c[..9], &[3, 0, 0, 0, 7, 0, 0, 0, 0]);
        assert_ne!(c[9..], c0_c1(7, 0, 43)[9..]);
        let mut s = vec![3u8];
        s.extend((0..1536).map(|i| i as u8));
        s.extend([0u8; 1536]);
        assert_eq!(c2(&s[..3072]), None);
        assert_eq!(c2(&s).unwrap().unwrap(), s[1..1537]);
        s[0] = 6;
        assert_eq!(c2(&s), Some(Err(Error::Version(6))));
    }
}

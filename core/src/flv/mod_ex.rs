//! Enhanced RTMP v2 "ModEx" packets: modifiers (such as a nanosecond timestamp offset) in front
//! of a video or audio packet's real packet type, in `ExVideoTagHeader` and `ExAudioTagHeader`.
//! They are read past: the one modifier defined, `TimestampOffsetNano`, is finer than the
//! millisecond timeline of FLV and of the chunks.

use super::FlvError;

/// The packet type that says a modifier comes first.
pub(super) const MOD_EX: u8 = 7;
/// Most modifiers one packet may carry (the specification sets no bound; real ones carry one).
pub const MAX_MOD_EX: usize = 8;

/// The packet behind the modifiers.
struct ModEx<'a> {
    /// The real packet type.
    pub packet_type: u8,
    /// The bytes after the modifiers.
    pub rest: &'a [u8],
}

/// Reads the modifiers at the start of `body` (after the byte whose packet type said ModEx):
/// each is a size (UI8 + 1; 256 means UI16 + 1 follows), its data, then a byte of modifier type
/// (high nibble) and the next packet type (low nibble), until that is not ModEx again.
fn read<'a>(mut body: &'a [u8], what: &'static str) -> Result<ModEx<'a>, FlvError> {
    let short = FlvError::ShortBody(what);
    for _ in 0..MAX_MOD_EX {
        let (&size, rest) = body.split_first().ok_or(short.clone())?;
        let (size, rest) = match usize::from(size) + 1 {
            256 => {
                let wide = rest.get(..2).ok_or(short.clone())?;
                (usize::from(u16::from_be_bytes([wide[0], wide[1]])) + 1, &rest[2..])
            }
            n => (n, rest),
        };
        let &types = rest.get(size).ok_or(short.clone())?;
        body = &rest[size + 1..];
        if types & 0x0F != MOD_EX {
            return Ok(ModEx { packet_type: types & 0x0F, rest: body });
        }
    }
    Err(FlvError::Unsupported("enhanced RTMP: more ModEx modifiers than one packet may carry"))
}

/// The real packet type of an Enhanced RTMP packet whose first byte is `b0`, and the bytes after
/// it (`rest`: the packet after that byte), past any modifiers: the one modifier defined,
/// `TimestampOffsetNano`, is below the millisecond timeline's precision.
pub(super) fn packet_type<'a>(b0: u8, rest: &'a [u8], what: &'static str) -> Result<(u8, &'a [u8]), FlvError> {
    match b0 & 0x0F {
        MOD_EX => read(rest, what).map(|m| (m.packet_type, m.rest)),
        code => Ok((code, rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn a_nanosecond_offset_then_the_real_packet_type() {
        // Size 3 (UI8 2), 500 000 ns, type 0 (TimestampOffsetNano) with packet type 1.
        let m = read(&[2, 0x07, 0xA1, 0x20, 0x01, b'h', b'v', b'c', b'1'], "video").unwrap();
        assert_eq!((m.packet_type, m.rest), (1, &b"hvc1"[..]));
    }

    #[test]
    fn chained_modifiers_wide_sizes_and_bounds() {
        let mut body = vec![0, 0, 0x07, 0, 0, 0x03]; // a 1-byte modifier, then one more, then type 3
        assert_eq!(read(&body, "video").unwrap().packet_type, 3);
        // A 256-byte modifier (UI8 255, then UI16 255).
        body = [&[255u8, 0, 255][..], &[0; 256], &[0x01]].concat();
        assert_eq!(read(&body, "video").unwrap().packet_type, 1);
        // Modifiers without end, truncations: errors, not panics.
        assert!(read(&[0, 0, 0x07].repeat(MAX_MOD_EX + 1), "video").is_err());
        for n in 0..body.len() {
            assert!(read(&body[..n], "video").is_err());
        }
    }
}

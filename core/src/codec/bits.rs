//! A big-endian bit reader with Exp-Golomb codes (ITU-T H.264 §7.2, §9.1).

use super::CodecError;

/// Reads bits MSB first; every read past the end is a [`CodecError::Truncated`].
pub(crate) struct BitReader<'a> {
    buf: &'a [u8],
    bit: usize,
    what: &'static str,
}

impl<'a> BitReader<'a> {
    /// `what` names the structure in truncation errors.
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, bit: 0, what }
    }

    pub(crate) fn bits_left(&self) -> usize {
        self.buf.len() * 8 - self.bit
    }

    pub(crate) fn bit(&mut self) -> Result<bool, CodecError> {
        let byte = *self.buf.get(self.bit / 8).ok_or(CodecError::Truncated(self.what))?;
        let v = (byte >> (7 - self.bit % 8)) & 1;
        self.bit += 1;
        Ok(v == 1)
    }

    /// Reads `n` ≤ 32 bits.
    pub(crate) fn bits(&mut self, n: u32) -> Result<u32, CodecError> {
        debug_assert!(n <= 32);
        if self.bits_left() < n as usize {
            return Err(CodecError::Truncated(self.what));
        }
        let mut v = 0u32;
        for _ in 0..n {
            v = (v << 1) | u32::from(self.bit()?);
        }
        Ok(v)
    }

    /// Reads a field of `n` ≤ 8 bits (a 3-bit `acmod`, an 8-bit `profile_idc`) as a `u8`.
    pub(crate) fn u8(&mut self, n: u32) -> Result<u8, CodecError> {
        debug_assert!(n <= 8);
        if self.bits_left() < n as usize {
            return Err(CodecError::Truncated(self.what));
        }
        let mut v = 0u8;
        for _ in 0..n.min(8) {
            v = (v << 1) | u8::from(self.bit()?);
        }
        Ok(v)
    }

    /// Reads a field of `n` ≤ 16 bits as a `u16`.
    pub(crate) fn u16(&mut self, n: u32) -> Result<u16, CodecError> {
        debug_assert!(n <= 16);
        if self.bits_left() < n as usize {
            return Err(CodecError::Truncated(self.what));
        }
        let mut v = 0u16;
        for _ in 0..n.min(16) {
            v = (v << 1) | u16::from(self.bit()?);
        }
        Ok(v)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), CodecError> {
        if self.bits_left() < n {
            return Err(CodecError::Truncated(self.what));
        }
        self.bit += n;
        Ok(())
    }

    /// `ue(v)`: unsigned Exp-Golomb, up to 32 leading zeros.
    pub(crate) fn ue(&mut self) -> Result<u32, CodecError> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err(CodecError::Invalid { what: "Exp-Golomb code", value: zeros });
            }
        }
        let rest = self.bits(zeros)?;
        // zeros ≤ 31, rest < 2^zeros: at most 2^32 - 2, within a u32.
        Ok((1u32 << zeros) - 1 + rest)
    }

    /// `se(v)`: signed Exp-Golomb.
    pub(crate) fn se(&mut self) -> Result<i32, CodecError> {
        let k = self.ue()?;
        // k ≤ 2^32 - 2 (see `ue`), so the magnitude is at most 2^31 - 1.
        let magnitude =
            i32::try_from(k.div_ceil(2)).map_err(|_| CodecError::Invalid { what: "Exp-Golomb code", value: k })?;
        Ok(if k % 2 == 1 { magnitude } else { -magnitude })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb() {
        // 1 | 010 | 011 | 00100 | 00101 → ue 0,1,2,3,4
        let mut r = BitReader::new(&[0b1010_0110, 0b0100_0010, 0b1000_0000], "t");
        assert_eq!([r.ue(), r.ue(), r.ue(), r.ue(), r.ue()].map(Result::unwrap), [0, 1, 2, 3, 4]);
        let mut r = BitReader::new(&[0b0100_1100, 0b1000_0000], "t");
        assert_eq!([r.se(), r.se(), r.se()].map(Result::unwrap), [1, -1, 2]);
    }

    #[test]
    fn reading_past_the_end_is_an_error() {
        let mut r = BitReader::new(&[0], "t");
        assert!(r.ue().is_err());
        let mut r = BitReader::new(&[0xFF], "t");
        assert!(r.bits(9).is_err());
        let mut r = BitReader::new(&[0xFF], "t");
        assert!(r.u16(9).is_err());
    }

    #[test]
    fn fields_read_as_u8_and_u16_hold_what_bits_reads() {
        let bytes = [0b1011_0011, 0b1100_0101, 0b0110_1001, 0xFF, 0xFF, 0xFF, 0xFF];
        let mut a = BitReader::new(&bytes, "t");
        let mut b = BitReader::new(&bytes, "t");
        for n in [3, 5, 8, 1, 7] {
            assert_eq!(u32::from(a.u8(n).unwrap()), b.bits(n).unwrap(), "{n} bits");
        }
        assert_eq!(u32::from(a.u16(16).unwrap()), b.bits(16).unwrap());
        assert_eq!(a.bits(8).unwrap(), 0xFF);
        // The longest Exp-Golomb codes: 31 leading zeros give 2^32 - 2 at most, ±(2^31 - 1).
        let mut r = BitReader::new(&[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE], "t");
        assert_eq!(r.ue().unwrap(), u32::MAX - 1);
        let mut r = BitReader::new(&[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE], "t");
        assert_eq!(r.se().unwrap(), -(i32::MAX));
        let mut r = BitReader::new(&[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFC], "t");
        assert_eq!(r.se().unwrap(), i32::MAX);
    }
}

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
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Ok(v as u32)
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
        Ok(((1u64 << zeros) - 1 + u64::from(rest)) as u32)
    }

    /// `se(v)`: signed Exp-Golomb.
    pub(crate) fn se(&mut self) -> Result<i32, CodecError> {
        let k = self.ue()?;
        let magnitude = k.div_ceil(2) as i32;
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
    }
}

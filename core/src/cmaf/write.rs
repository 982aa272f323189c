//! Box headers with back-patched sizes (ISO/IEC 14496-12 §4.2).

use alloc::vec::Vec;

use crate::Error;

/// Where a box started; [`BoxStart::end`] writes its size once its content is in.
#[must_use = "a box must be ended to get its size"]
pub(crate) struct BoxStart(usize);

impl BoxStart {
    /// Starts a plain box.
    pub(crate) fn new(out: &mut Vec<u8>, fourcc: &[u8; 4]) -> Self {
        let at = out.len();
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(fourcc);
        Self(at)
    }

    /// Starts a `FullBox` with its version and 24-bit flags.
    pub(crate) fn full(out: &mut Vec<u8>, fourcc: &[u8; 4], version: u8, flags: u32) -> Self {
        let b = Self::new(out, fourcc);
        out.extend_from_slice(&((u32::from(version) << 24) | (flags & 0xFF_FFFF)).to_be_bytes());
        b
    }

    /// Back-patches the 32-bit size; a box of 4 GiB or more is an error (`mdat` has its own
    /// header writer, with a 64-bit size).
    pub(crate) fn end(self, out: &mut [u8]) -> Result<(), Error> {
        let size = Error::fit_u32("box size", (out.len() - self.0) as u64)?;
        out[self.0..self.0 + 4].copy_from_slice(&size.to_be_bytes());
        Ok(())
    }
}

pub(crate) fn u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn zeros(out: &mut Vec<u8>, n: usize) {
    out.resize(out.len() + n, 0);
}

/// The unity transformation matrix of `mvhd` and `tkhd` (§8.2.2.3).
pub(crate) fn unity_matrix(out: &mut Vec<u8>) {
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        u32(out, v);
    }
}

/// `ftyp` or `styp` (§4.3, §8.16.2).
pub(crate) fn file_type(
    out: &mut Vec<u8>,
    fourcc: &[u8; 4],
    major: &[u8; 4],
    compatible: &[&[u8; 4]],
) -> Result<(), Error> {
    let b = BoxStart::new(out, fourcc);
    out.extend_from_slice(major);
    u32(out, 0);
    for c in compatible {
        out.extend_from_slice(*c);
    }
    b.end(out)
}

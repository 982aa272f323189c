//! The FLV file header (FLV spec v10.1, annex E.2).

use super::FlvError;

/// Length of the FLV file header in bytes (E.2), not counting `PreviousTagSize0`.
pub const FLV_HEADER_LEN: usize = 9;

/// Largest `DataOffset` accepted: the spec fixes it at 9 for version 1; a little slack for
/// writers that pad, but never a peer-chosen skip of gigabytes.
pub const MAX_DATA_OFFSET: u32 = 1024;

/// The FLV file header (E.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlvHeader {
    /// `Version` (1 for every known file).
    pub version: u8,
    /// `TypeFlagsAudio`: audio tags are present.
    pub has_audio: bool,
    /// `TypeFlagsVideo`: video tags are present.
    pub has_video: bool,
    /// `DataOffset`: the length of this header; the body (starting with `PreviousTagSize0`)
    /// follows at this offset.
    pub data_offset: u32,
}

impl FlvHeader {
    /// Parses the header at the start of `buf`. `Ok(None)` means more bytes are needed.
    pub fn parse(buf: &[u8]) -> Result<Option<Self>, FlvError> {
        if buf.len() < 3 {
            return Ok(None);
        }
        if &buf[..3] != b"FLV" {
            return Err(FlvError::BadSignature([buf[0], buf[1], buf[2]]));
        }
        if buf.len() < FLV_HEADER_LEN {
            return Ok(None);
        }
        let data_offset = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]);
        if usize::try_from(data_offset).is_ok_and(|offset| offset < FLV_HEADER_LEN) {
            return Err(FlvError::BadDataOffset(data_offset));
        }
        if data_offset > MAX_DATA_OFFSET {
            return Err(FlvError::DataOffsetTooLarge(data_offset));
        }
        Ok(Some(Self { version: buf[3], has_audio: buf[4] & 0x04 != 0, has_video: buf[4] & 0x01 != 0, data_offset }))
    }

    /// Appends this header (with a 9-byte data offset) and `PreviousTagSize0` to `out`.
    pub fn write(&self, out: &mut alloc::vec::Vec<u8>) {
        let flags = (u8::from(self.has_audio) << 2) | u8::from(self.has_video);
        out.extend_from_slice(&[b'F', b'L', b'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_audio_video_header() {
        let h = FlvHeader::parse(b"FLV\x01\x05\x00\x00\x00\x09").unwrap().unwrap();
        assert!(h.has_audio && h.has_video);
        assert_eq!(h.data_offset, 9);
    }

    #[test]
    fn short_input_needs_more() {
        assert_eq!(FlvHeader::parse(b"FL"), Ok(None));
        assert_eq!(FlvHeader::parse(b"FLV\x01"), Ok(None));
    }

    #[test]
    fn rejects_other_files_and_huge_offsets() {
        assert!(matches!(FlvHeader::parse(b"RIFF...."), Err(FlvError::BadSignature(_))));
        assert_eq!(FlvHeader::parse(b"FLV\x01\x05\xff\xff\xff\xff"), Err(FlvError::DataOffsetTooLarge(u32::MAX)));
    }

    #[test]
    fn write_round_trips() {
        let h = FlvHeader { version: 1, has_audio: true, has_video: false, data_offset: 9 };
        let mut out = alloc::vec::Vec::new();
        h.write(&mut out);
        assert_eq!(out.len(), 13);
        assert_eq!(FlvHeader::parse(&out), Ok(Some(h)));
    }
}

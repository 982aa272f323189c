//! VP9: `VPCodecConfigurationRecord` and the codecs parameter string (VP Codec ISO Media File
//! Format Binding v1.0, "VP Codec Configuration Box", "Codecs Parameter String"), and keyframe
//! uncompressed headers (VP9 Bitstream Specification v0.6 §6.2) inside superframes (annex B).

use alloc::{string::String, vec::Vec};

use super::{bits::BitReader, CodecError};

/// Bytes of `VPCodecConfigurationRecord` before `codecInitializationData`.
const RECORD_LEN: usize = 8;

/// `frame_sync_code` (VP9 §6.2.1).
const SYNC_CODE: u32 = 0x49_83_42;

/// `color_space` `CS_RGB` (VP9 §7.2.2).
const CS_RGB: u32 = 7;

/// A VP9 decoder configuration, as carried in the Enhanced RTMP `vp09` SequenceStart.
///
/// ffmpeg's FLV muxer writes the whole `vpcC` box body there, FullBox version (1) and flags (0)
/// first; the binding's record alone (no version and flags) is accepted too. The two cannot be
/// confused: in the bare record, byte 2 holds the bit depth and is never zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vp9Config {
    /// The SequenceStart payload, byte for byte as received (with or without version and flags).
    pub record: Vec<u8>,
    /// `profile` (0–3).
    pub profile: u8,
    /// `level` (10 for level 1, 11 for 1.1, … 62 for 6.2).
    pub level: u8,
    /// `bitDepth` (8, 10 or 12).
    pub bit_depth: u8,
    /// `chromaSubsampling`: 0 4:2:0 vertical, 1 4:2:0 colocated with luma (0,0), 2 4:2:2, 3 4:4:4.
    pub chroma_subsampling: u8,
    /// `videoFullRangeFlag`.
    pub full_range: bool,
    /// `colourPrimaries` (ISO/IEC 23001-8).
    pub colour_primaries: u8,
    /// `transferCharacteristics` (ISO/IEC 23001-8).
    pub transfer_characteristics: u8,
    /// `matrixCoefficients` (ISO/IEC 23001-8).
    pub matrix_coefficients: u8,
}

impl Vp9Config {
    /// Parses a `VPCodecConfigurationRecord`, with or without the `vpcC` FullBox version and
    /// flags before it. `codecInitializationData` must fit in the record; it is ignored (it
    /// must be empty for VP9).
    pub fn parse(record: &[u8]) -> Result<Self, CodecError> {
        const WHAT: &str = "VPCodecConfigurationRecord";
        let body = match record {
            [1, 0, 0, 0, body @ ..] => body,
            [0, 0, 0, 0, ..] => return Err(CodecError::Unsupported("vpcC version 0 is deprecated and not supported")),
            &[version, 0, 0, 0, ..] => return Err(CodecError::Invalid { what: "vpcC version", value: version.into() }),
            _ => record,
        };
        let fields: [u8; RECORD_LEN] =
            body.get(..RECORD_LEN).and_then(|b| b.try_into().ok()).ok_or(CodecError::Truncated(WHAT))?;
        let [profile, level, depth_chroma_range, colour_primaries, transfer_characteristics, matrix_coefficients, s0, s1] =
            fields;
        let init_len = usize::from(u16::from_be_bytes([s0, s1]));
        if body.len() - RECORD_LEN < init_len {
            return Err(CodecError::Truncated(WHAT));
        }
        if profile > 3 {
            return Err(CodecError::Invalid { what: "vpcC profile", value: profile.into() });
        }
        if !matches!(level, 10 | 11 | 20 | 21 | 30 | 31 | 40 | 41 | 50 | 51 | 52 | 60 | 61 | 62) {
            return Err(CodecError::Invalid { what: "vpcC level", value: level.into() });
        }
        let bit_depth = depth_chroma_range >> 4;
        let depth_ok = if profile < 2 { bit_depth == 8 } else { matches!(bit_depth, 10 | 12) };
        if !depth_ok {
            return Err(CodecError::Invalid { what: "vpcC bitDepth", value: bit_depth.into() });
        }
        let chroma_subsampling = (depth_chroma_range >> 1) & 0x07;
        if chroma_subsampling > 3 {
            return Err(CodecError::Invalid { what: "vpcC chromaSubsampling", value: chroma_subsampling.into() });
        }
        Ok(Self {
            record: record.to_vec(),
            profile,
            level,
            bit_depth,
            chroma_subsampling,
            full_range: depth_chroma_range & 1 == 1,
            colour_primaries,
            transfer_characteristics,
            matrix_coefficients,
        })
    }

    /// The `vpcC` box body: FullBox version 1 and flags 0, then the record with an empty
    /// `codecInitializationData` (the binding's "VP Codec Configuration Box").
    pub fn write_vpcc(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[1, 0, 0, 0, self.profile, self.level]);
        out.push((self.bit_depth << 4) | ((self.chroma_subsampling & 0x07) << 1) | u8::from(self.full_range));
        out.extend_from_slice(&[self.colour_primaries, self.transfer_characteristics, self.matrix_coefficients, 0, 0]);
    }

    /// The codecs parameter string, `vp09.PP.LL.DD`, followed by `.CC.cp.tc.mc.FF` unless those
    /// are all the defaults (01 4:2:0 colocated, 01, 01, 01 BT.709, 00 legal range): the binding
    /// makes them optional and all-or-none.
    pub fn codec_string(&self) -> String {
        let mut s = alloc::format!("vp09.{:02}.{:02}.{:02}", self.profile, self.level, self.bit_depth);
        let optional = (
            self.chroma_subsampling,
            self.colour_primaries,
            self.transfer_characteristics,
            self.matrix_coefficients,
            self.full_range,
        );
        if optional != (1, 1, 1, 1, false) {
            s.push_str(&alloc::format!(
                ".{:02}.{:02}.{:02}.{:02}.{:02}",
                self.chroma_subsampling,
                self.colour_primaries,
                self.transfer_characteristics,
                self.matrix_coefficients,
                u8::from(self.full_range)
            ));
        }
        s
    }

    /// Width and height of a keyframe, from its uncompressed header (VP9 §6.2: `frame_size()`
    /// after `frame_sync_code` and `color_config()`); `None` for any other frame or bytes that do
    /// not parse. In a superframe (annex B) the first frame decides.
    pub fn frame_size(frame: &[u8]) -> Option<(u32, u32)> {
        keyframe_size(first_frame(frame)?).ok().flatten()
    }

    /// Whether a frame (or the first frame of a superframe) is a keyframe, `frame_type` 0 with
    /// a valid uncompressed header up to its size (VP9 §6.2).
    pub fn is_keyframe(frame: &[u8]) -> bool {
        Self::frame_size(frame).is_some()
    }
}

/// The first frame of a superframe (VP9 annex B), or `data` itself when it has no superframe
/// index; `None` when the index is inconsistent.
fn first_frame(data: &[u8]) -> Option<&[u8]> {
    let &marker = data.last()?;
    if marker & 0xE0 != 0xC0 {
        return Some(data);
    }
    let frames = usize::from(marker & 0x07) + 1;
    let size_len = usize::from((marker >> 3) & 0x03) + 1;
    let index_len = 2 + size_len * frames;
    let Some(index_start) = data.len().checked_sub(index_len) else { return Some(data) };
    if data.get(index_start) != Some(&marker) {
        return Some(data);
    }
    let sizes = data.get(index_start + 1..data.len() - 1)?;
    // Little-endian `frame_sizes` of `size_len` bytes each: at most 8 × (2³² − 1) in all.
    let size = |b: &[u8]| b.iter().rev().fold(0u64, |n, &byte| (n << 8) | u64::from(byte));
    let mut total = 0u64;
    for frame_size in sizes.chunks_exact(size_len).map(size) {
        if frame_size == 0 {
            return None;
        }
        total += frame_size;
    }
    if total > index_start as u64 {
        return None;
    }
    let first = usize::try_from(size(sizes.get(..size_len)?)).ok()?;
    data.get(..first)
}

/// `uncompressed_header()` (VP9 §6.2) as far as `frame_size()`: `Some` size for a keyframe.
fn keyframe_size(frame: &[u8]) -> Result<Option<(u32, u32)>, CodecError> {
    let mut r = BitReader::new(frame, "VP9 uncompressed header");
    if r.bits(2)? != 2 {
        return Ok(None); // frame_marker
    }
    let profile_low = r.bits(1)?;
    let profile = (r.bits(1)? << 1) | profile_low;
    if profile == 3 && r.bit()? {
        return Ok(None); // reserved_zero
    }
    if r.bit()? {
        return Ok(None); // show_existing_frame
    }
    if r.bit()? {
        return Ok(None); // frame_type: non-key
    }
    r.skip(2)?; // show_frame, error_resilient_mode
    if r.bits(24)? != SYNC_CODE {
        return Ok(None);
    }
    // color_config() (§6.2.2)
    if profile >= 2 {
        r.skip(1)?; // ten_or_twelve_bit
    }
    let color_space = r.bits(3)?;
    if color_space != CS_RGB {
        r.skip(1)?; // color_range
        if profile == 1 || profile == 3 {
            r.skip(2)?; // subsampling_x, subsampling_y
            if r.bit()? {
                return Ok(None); // reserved_zero
            }
        }
    } else if (profile == 1 || profile == 3) && r.bit()? {
        return Ok(None); // reserved_zero
    }
    // frame_size() (§6.2.3)
    let width = r.bits(16)? + 1;
    let height = r.bits(16)? + 1;
    Ok(Some((width, height)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // Made with ffmpeg 9.0.2 (`-f lavfi -i testsrc2=size=640x360:rate=30 -c:v libvpx-vp9 -f flv`):
    // `*_VPCC` are the SequenceStart tag bodies after `vp09`, frames are coded-frames tag bodies
    // after `vp09`.
    /// SequenceStart body after the FourCC: libvpx-vp9 profile 0, 640×360.
    pub(crate) const VP9_P0_VPCC: &[u8] = &[0x01, 0x00, 0x00, 0x00, 0x00, 0x15, 0x82, 0x02, 0x02, 0x02, 0x00, 0x00];
    /// SequenceStart body after the FourCC: libvpx-vp9 profile 2, 640×360 yuv420p10le.
    pub(crate) const VP9_P2_VPCC: &[u8] = &[0x01, 0x00, 0x00, 0x00, 0x02, 0x15, 0xA2, 0x02, 0x02, 0x02, 0x00, 0x00];
    /// SequenceStart body after the FourCC: libvpx-vp9 profile 0 tagged BT.709.
    pub(crate) const VP9_BT709_VPCC: &[u8] = &[0x01, 0x00, 0x00, 0x00, 0x00, 0x15, 0x82, 0x01, 0x01, 0x01, 0x00, 0x00];
    /// SequenceStart body after the FourCC: libvpx-vp9 profile 2 tagged BT.2020 / PQ / BT.2020 NCL, full range.
    pub(crate) const VP9_HDR_VPCC: &[u8] = &[0x01, 0x00, 0x00, 0x00, 0x02, 0x15, 0xA3, 0x09, 0x10, 0x09, 0x00, 0x00];
    /// SequenceStart body after the FourCC: libvpx-vp9 `-crf 63`, 64×64 flat gray.
    pub(crate) const VP9_TINY_VPCC: &[u8] = &[0x01, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x82, 0x02, 0x02, 0x02, 0x00, 0x00];
    /// The first 24 bytes of VP9_P0's keyframe (13910 bytes).
    pub(crate) const VP9_P0_KEY_HEAD: &[u8] = &[
        0x82, 0x49, 0x83, 0x42, 0x00, 0x27, 0xF0, 0x16, 0x76, 0x06, 0x38, 0x24, 0x1C, 0x18, 0x4A, 0x10, 0x08, 0x90,
        0x5F, 0xC9, 0xF9, 0xBF, 0xFD, 0x1F,
    ];
    /// The first 24 bytes of VP9_P2's keyframe (13701 bytes).
    pub(crate) const VP9_P2_KEY_HEAD: &[u8] = &[
        0x92, 0x49, 0x83, 0x42, 0x00, 0x13, 0xF8, 0x0B, 0x3B, 0x03, 0x1C, 0x12, 0x0E, 0x0C, 0x2C, 0x08, 0x03, 0xF0,
        0x5F, 0xC9, 0xF9, 0x7F, 0xFB, 0xFF,
    ];
    /// The first 24 bytes of VP9_HDR's keyframe (13722 bytes).
    pub(crate) const VP9_HDR_KEY_HEAD: &[u8] = &[
        0x92, 0x49, 0x83, 0x42, 0x58, 0x13, 0xF8, 0x0B, 0x3B, 0x03, 0x1C, 0x12, 0x0E, 0x0C, 0x2C, 0x08, 0x03, 0xBC,
        0x5F, 0xC9, 0xF9, 0x3F, 0xFA, 0x3F,
    ];
    /// VP9_TINY's keyframe.
    pub(crate) const VP9_TINY_KEY: &[u8] = &[
        0x82, 0x49, 0x83, 0x42, 0x00, 0x03, 0xF0, 0x03, 0xF6, 0x4A, 0x38, 0x24, 0x1C, 0x19, 0x70, 0x00, 0x00, 0x20,
        0x40, 0x00, 0x72, 0x8E, 0xD1, 0x40,
    ];
    /// VP9_TINY's second frame (inter).
    pub(crate) const VP9_TINY_INTER: &[u8] =
        &[0x86, 0x00, 0x40, 0x92, 0x1C, 0xFC, 0x5F, 0xE0, 0x00, 0x03, 0x70, 0x00, 0x00, 0x54, 0x70];

    use crate::codec::av1::tests::prefixes_and_mutations;

    /// Every real record, with its codecs string written by hand from the binding's rules.
    const RECORDS: [(&[u8], &str); 5] = [
        (VP9_P0_VPCC, "vp09.00.21.08.01.02.02.02.00"),
        (VP9_P2_VPCC, "vp09.02.21.10.01.02.02.02.00"),
        (VP9_BT709_VPCC, "vp09.00.21.08"),
        (VP9_HDR_VPCC, "vp09.02.21.10.01.09.16.09.01"),
        (VP9_TINY_VPCC, "vp09.00.10.08.01.02.02.02.00"),
    ];

    /// `frames` packed into a superframe with one-byte sizes (VP9 annex B).
    fn superframe(frames: &[&[u8]]) -> Vec<u8> {
        let marker = 0xC0 | (u8::try_from(frames.len()).unwrap() - 1);
        let mut out = frames.concat();
        out.push(marker);
        out.extend(frames.iter().map(|f| u8::try_from(f.len()).unwrap()));
        out.push(marker);
        out
    }

    #[test]
    fn codec_strings_of_real_records() {
        for (record, expected) in RECORDS {
            let c = Vp9Config::parse(record).unwrap();
            assert_eq!(c.codec_string(), expected, "{record:02X?}");
            assert_eq!(c.record, record);
            let mut vpcc = Vec::new();
            c.write_vpcc(&mut vpcc);
            assert_eq!(vpcc, record, "ffmpeg's FLV muxer writes the FullBox version and flags");
        }
    }

    #[test]
    fn sequence_start_through_the_flv_layer() {
        use crate::flv::{VideoCodec, VideoPacket};
        let body = [&b"\x90vp09"[..], VP9_P0_VPCC].concat();
        let p = VideoPacket::parse(&body).unwrap();
        assert_eq!(p.header.codec, VideoCodec::Vp9);
        assert_eq!(Vp9Config::parse(p.payload).unwrap().profile, 0);
        assert!(Vp9Config::parse(VideoPacket::parse(b"\x90vp09").unwrap().payload).is_err());
    }

    #[test]
    fn profile_2_hdr_fields() {
        let c = Vp9Config::parse(VP9_HDR_VPCC).unwrap();
        assert_eq!((c.profile, c.level, c.bit_depth, c.chroma_subsampling, c.full_range), (2, 21, 10, 1, true));
        assert_eq!((c.colour_primaries, c.transfer_characteristics, c.matrix_coefficients), (9, 16, 9));
    }

    #[test]
    fn a_record_without_version_and_flags_is_the_same() {
        let bare = Vp9Config::parse(&VP9_P2_VPCC[4..]).unwrap();
        let full = Vp9Config::parse(VP9_P2_VPCC).unwrap();
        assert_eq!(bare.record, VP9_P2_VPCC[4..]);
        assert_eq!(Vp9Config { record: full.record.clone(), ..bare }, full);
    }

    #[test]
    fn invalid_records_are_errors() {
        assert!(Vp9Config::parse(&[]).is_err());
        assert!(Vp9Config::parse(&VP9_P0_VPCC[..11]).is_err());
        let with = |i: usize, v: u8| {
            let mut r = VP9_P0_VPCC.to_vec();
            r[i] = v;
            Vp9Config::parse(&r)
        };
        assert!(matches!(with(0, 0), Err(CodecError::Unsupported(_))), "vpcC version 0");
        assert_eq!(with(5, 0), Err(CodecError::Invalid { what: "vpcC level", value: 0 }));
        assert_eq!(with(6, 0xA2), Err(CodecError::Invalid { what: "vpcC bitDepth", value: 10 }), "profile 0, 10-bit");
        assert_eq!(with(11, 1), Err(CodecError::Truncated("VPCodecConfigurationRecord")), "missing init data");
        assert!(Vp9Config::parse(&[VP9_P0_VPCC, &[0xAA]].concat()).is_ok(), "trailing bytes are ignored");
    }

    #[test]
    fn keyframe_sizes() {
        for key in [VP9_P0_KEY_HEAD, VP9_P2_KEY_HEAD, VP9_HDR_KEY_HEAD] {
            assert_eq!(Vp9Config::frame_size(key), Some((640, 360)), "{key:02X?}");
            assert!(Vp9Config::is_keyframe(key));
        }
        assert_eq!(Vp9Config::frame_size(VP9_TINY_KEY), Some((64, 64)));
        assert_eq!(Vp9Config::frame_size(VP9_TINY_INTER), None);
        assert!(!Vp9Config::is_keyframe(VP9_TINY_INTER));
        assert!(!Vp9Config::is_keyframe(&[0x88]), "show_existing_frame");
        assert!(!Vp9Config::is_keyframe(&VP9_TINY_KEY[..8]), "truncated");
        assert!(!Vp9Config::is_keyframe(&[]));
    }

    #[test]
    fn the_first_frame_of_a_superframe_decides() {
        let key_first = superframe(&[VP9_TINY_KEY, VP9_TINY_INTER]);
        assert_eq!(Vp9Config::frame_size(&key_first), Some((64, 64)));
        let inter_first = superframe(&[VP9_TINY_INTER, VP9_TINY_KEY]);
        assert!(!Vp9Config::is_keyframe(&inter_first));
        // Sizes beyond the data make the index invalid.
        let mut bad = key_first.clone();
        let n = bad.len();
        bad[n - 2] = 0xFF;
        assert!(!Vp9Config::is_keyframe(&bad));
        // A lone keyframe whose last byte only looks like a marker is still a frame.
        let lone = [VP9_TINY_KEY, &[0xC1]].concat();
        assert!(Vp9Config::is_keyframe(&lone));
    }

    #[test]
    fn no_input_panics() {
        for (record, _) in RECORDS {
            prefixes_and_mutations(record, |b| {
                let _ = Vp9Config::parse(b).map(|c| c.codec_string());
            });
        }
        let sf = superframe(&[VP9_TINY_KEY, VP9_TINY_INTER]);
        for frame in [VP9_P0_KEY_HEAD, VP9_P2_KEY_HEAD, VP9_TINY_KEY, VP9_TINY_INTER, &sf] {
            prefixes_and_mutations(frame, |b| {
                let _ = Vp9Config::frame_size(b);
            });
        }
    }
}

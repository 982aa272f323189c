//! H.264: `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §5.3.3.1) and the sequence parameter
//! set (ITU-T H.264 §7.3.2.1.1, VUI in annex E.1.1).

use alloc::{string::String, vec::Vec};

use super::{bits::BitReader, unescape_nal, CodecError, SAMPLE_ASPECT_RATIOS};

/// Largest decoded SPS accepted; real ones are tens of bytes.
const MAX_SPS_LEN: usize = 4096;

/// An H.264 decoder configuration, as carried in the FLV sequence header and written verbatim
/// into `avcC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    /// The whole record, byte for byte.
    pub record: Vec<u8>,
    /// `AVCProfileIndication`.
    pub profile: u8,
    /// `profile_compatibility` (the constraint flags).
    pub compatibility: u8,
    /// `AVCLevelIndication`.
    pub level: u8,
    /// `lengthSizeMinusOne + 1`: bytes of the NAL unit length prefix in every frame (1, 2 or 4).
    pub nal_length_size: u8,
    /// What the first SPS says.
    pub sps: Sps,
}

/// The fields of a sequence parameter set that packaging needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sps {
    /// `profile_idc`.
    pub profile_idc: u8,
    /// `level_idc`.
    pub level_idc: u8,
    /// `chroma_format_idc` (0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4).
    pub chroma_format_idc: u8,
    /// `bit_depth_luma_minus8 + 8`.
    pub bit_depth: u8,
    /// Displayed width in pixels, after cropping.
    pub width: u32,
    /// Displayed height in pixels, after cropping.
    pub height: u32,
    /// Sample aspect ratio (`sar_width`, `sar_height`) from the VUI, when signalled.
    pub sample_aspect_ratio: Option<(u16, u16)>,
    /// Frame rate from the VUI timing info as (`time_scale`, 2 × `num_units_in_tick`).
    pub frame_rate: Option<(u32, u32)>,
}

impl Sps {
    /// Frames per second, when the VUI says.
    pub fn fps(&self) -> Option<f64> {
        self.frame_rate.map(|(n, d)| f64::from(n) / f64::from(d))
    }
}

impl AvcConfig {
    /// Whether an access unit (length-prefixed NAL units, ISO/IEC 14496-15 §5.3.2) holds an IDR
    /// picture (`nal_unit_type` 5, ITU-T H.264 §7.4.1.2.3): where decoding can start. FLV's
    /// keyframe flag is not enough: encoders with intra refresh (x264 `intra-refresh=1`) flag
    /// their recovery points as keyframes, and a decoder starting there shows garbage.
    pub fn is_idr(&self, access_unit: &[u8]) -> bool {
        let len_size = usize::from(self.nal_length_size.clamp(1, 4));
        let mut rest = access_unit;
        while rest.len() > len_size {
            let len = rest[..len_size].iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
            rest = &rest[len_size..];
            let Some(nal) = rest.get(..len) else { return false };
            if nal.first().is_some_and(|h| h & 0x1F == 5) {
                return true;
            }
            rest = &rest[len..];
        }
        false
    }

    /// Parses an `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §5.3.3.1.2).
    pub fn parse(record: &[u8]) -> Result<Self, CodecError> {
        const WHAT: &str = "AVCDecoderConfigurationRecord";
        let head = record.get(..6).ok_or(CodecError::Truncated(WHAT))?;
        if head[0] != 1 {
            return Err(CodecError::Invalid { what: "avcC configurationVersion", value: head[0].into() });
        }
        let nal_length_size = (head[4] & 0x03) + 1;
        if nal_length_size == 3 {
            return Err(CodecError::Invalid { what: "avcC lengthSizeMinusOne", value: 2 });
        }
        let num_sps = head[5] & 0x1F;
        let mut pos = 6;
        let mut first_sps = None;
        let take = |pos: &mut usize| -> Result<&[u8], CodecError> {
            let len = record.get(*pos..*pos + 2).ok_or(CodecError::Truncated(WHAT))?;
            let len = u16::from_be_bytes([len[0], len[1]]) as usize;
            let nal = record.get(*pos + 2..*pos + 2 + len).ok_or(CodecError::Truncated(WHAT))?;
            *pos += 2 + len;
            Ok(nal)
        };
        for _ in 0..num_sps {
            let nal = take(&mut pos)?;
            first_sps.get_or_insert(nal);
        }
        let num_pps = *record.get(pos).ok_or(CodecError::Truncated(WHAT))?;
        pos += 1;
        for _ in 0..num_pps {
            take(&mut pos)?;
        }
        let sps_nal = first_sps.ok_or(CodecError::Unsupported("avcC holds no SPS"))?;
        Ok(Self {
            record: record.to_vec(),
            profile: head[1],
            compatibility: head[2],
            level: head[3],
            nal_length_size,
            sps: Sps::parse(sps_nal)?,
        })
    }

    /// The RFC 6381 codec string, `avc1.PPCCLL`.
    pub fn codec_string(&self) -> String {
        alloc::format!("avc1.{:02X}{:02X}{:02X}", self.profile, self.compatibility, self.level)
    }
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: u32) -> Result<(), CodecError> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            // delta_scale is -128..=127 (H.264 §7.4.2.1.1.1).
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(CodecError::Invalid { what: "SPS delta_scale", value: delta.cast_unsigned() });
            }
            next = (last + delta + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

impl Sps {
    /// Parses a sequence parameter set NAL unit (with its one-byte NAL header).
    pub fn parse(nal: &[u8]) -> Result<Self, CodecError> {
        if nal.len() > MAX_SPS_LEN {
            return Err(CodecError::Unsupported("SPS is larger than 4096 bytes"));
        }
        let &header = nal.first().ok_or(CodecError::Truncated("SPS"))?;
        if header & 0x1F != 7 {
            return Err(CodecError::Invalid { what: "SPS nal_unit_type", value: (header & 0x1F).into() });
        }
        let rbsp = unescape_nal(&nal[1..]);
        let mut r = BitReader::new(&rbsp, "SPS");
        let profile_idc = r.u8(8)?;
        r.skip(8)?; // constraint flags + reserved
        let level_idc = r.u8(8)?;
        r.ue()?; // seq_parameter_set_id
        let mut chroma_format_idc = 1;
        let mut separate_colour_plane = false;
        let mut bit_depth = 8;
        if matches!(profile_idc, 100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135) {
            chroma_format_idc = r.ue()?;
            if chroma_format_idc > 3 {
                return Err(CodecError::Invalid { what: "SPS chroma_format_idc", value: chroma_format_idc });
            }
            if chroma_format_idc == 3 {
                separate_colour_plane = r.bit()?;
            }
            bit_depth = r.ue()?.saturating_add(8);
            if bit_depth > 14 {
                return Err(CodecError::Invalid { what: "SPS bit_depth_luma", value: bit_depth });
            }
            r.ue()?; // bit_depth_chroma_minus8
            r.skip(1)?; // qpprime_y_zero_transform_bypass_flag
            if r.bit()? {
                let lists = if chroma_format_idc == 3 { 12 } else { 8 };
                for i in 0..lists {
                    if r.bit()? {
                        skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                    }
                }
            }
        }
        r.ue()?; // log2_max_frame_num_minus4
        match r.ue()? {
            0 => {
                r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
            }
            1 => {
                r.skip(1)?;
                r.se()?;
                r.se()?;
                let cycle = r.ue()?;
                if cycle > 255 {
                    return Err(CodecError::Invalid {
                        what: "SPS num_ref_frames_in_pic_order_cnt_cycle",
                        value: cycle,
                    });
                }
                for _ in 0..cycle {
                    r.se()?;
                }
            }
            2 => {}
            other => return Err(CodecError::Invalid { what: "SPS pic_order_cnt_type", value: other }),
        }
        r.ue()?; // max_num_ref_frames
        r.skip(1)?; // gaps_in_frame_num_value_allowed_flag
        let width_mbs = r.ue()? + 1;
        let height_map_units = r.ue()? + 1;
        let frame_mbs_only = r.bit()?;
        if !frame_mbs_only {
            r.skip(1)?; // mb_adaptive_frame_field_flag
        }
        r.skip(1)?; // direct_8x8_inference_flag
        let (mut crop_l, mut crop_r, mut crop_t, mut crop_b) = (0, 0, 0, 0);
        if r.bit()? {
            (crop_l, crop_r, crop_t, crop_b) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
        }
        // Table 6-1 and equations 7-19/7-20.
        let field_factor = 2 - u32::from(frame_mbs_only);
        let (crop_x, crop_y): (u32, u32) = if chroma_format_idc == 0 || separate_colour_plane {
            (1, field_factor)
        } else {
            let sub_w = if chroma_format_idc == 3 { 1 } else { 2 };
            let sub_h = if chroma_format_idc == 1 { 2 } else { 1 };
            (sub_w, sub_h * field_factor)
        };
        let full_w = u64::from(width_mbs) * 16;
        let full_h = u64::from(field_factor) * u64::from(height_map_units) * 16;
        let cut_w = u64::from(crop_x) * (u64::from(crop_l) + u64::from(crop_r));
        let cut_h = u64::from(crop_y) * (u64::from(crop_t) + u64::from(crop_b));
        if cut_w >= full_w || cut_h >= full_h || full_w > 65535 || full_h > 65535 {
            return Err(CodecError::Invalid { what: "SPS picture size", value: width_mbs });
        }
        let mut sps = Sps {
            profile_idc,
            level_idc,
            // All four were checked above: chroma_format_idc ≤ 3, bit_depth ≤ 14, sides ≤ 65535.
            chroma_format_idc: CodecError::fit("SPS chroma_format_idc", chroma_format_idc)?,
            bit_depth: CodecError::fit("SPS bit_depth_luma", bit_depth)?,
            width: CodecError::fit("SPS picture size", full_w - cut_w)?,
            height: CodecError::fit("SPS picture size", full_h - cut_h)?,
            sample_aspect_ratio: None,
            frame_rate: None,
        };
        // VUI is optional detail: a truncated VUI leaves what it would have said unknown.
        if r.bit().unwrap_or(false) {
            let _ = parse_vui(&mut r, &mut sps);
        }
        Ok(sps)
    }
}

/// VUI parameters (H.264 annex E.1.1), as far as timing info.
fn parse_vui(r: &mut BitReader<'_>, sps: &mut Sps) -> Result<(), CodecError> {
    if r.bit()? {
        let idc = r.bits(8)?;
        sps.sample_aspect_ratio = match idc {
            1..=16 => SAMPLE_ASPECT_RATIOS.get(idc as usize).copied(),
            255 => Some((r.u16(16)?, r.u16(16)?)),
            _ => None,
        };
    }
    if r.bit()? {
        r.skip(1)?; // overscan_appropriate_flag
    }
    if r.bit()? {
        r.skip(4)?; // video_format, video_full_range_flag
        if r.bit()? {
            r.skip(24)?; // colour_primaries, transfer_characteristics, matrix_coefficients
        }
    }
    if r.bit()? {
        r.ue()?;
        r.ue()?;
    }
    if r.bit()? {
        let units = r.bits(32)?;
        let scale = r.bits(32)?;
        if units > 0 && scale > 0 {
            sps.frame_rate = Some((scale, units.saturating_mul(2)));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// avcC from `ffmpeg -f lavfi -i testsrc2=size=640x360:rate=30 -c:v libx264 -profile:v high`.
    pub(crate) const HIGH_360P: &[u8] = &[
        0x01, 0x64, 0x00, 0x1E, 0xFF, 0xE1, 0x00, 0x1A, 0x67, 0x64, 0x00, 0x1E, 0xAC, 0xD9, 0x40, 0xA0, 0x2F, 0xF9,
        0x70, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3C, 0x0F, 0x16, 0x2D, 0x96, 0x01, 0x00,
        0x06, 0x68, 0xEB, 0xE3, 0xCB, 0x22, 0xC0, 0xFD, 0xF8, 0xF8, 0x00,
    ];

    #[test]
    fn high_profile_640x360_at_30fps() {
        let c = AvcConfig::parse(HIGH_360P).unwrap();
        assert_eq!(c.codec_string(), "avc1.64001E");
        assert_eq!(c.nal_length_size, 4);
        assert_eq!((c.sps.width, c.sps.height), (640, 360));
        assert_eq!(c.sps.chroma_format_idc, 1);
        assert_eq!(c.sps.fps(), Some(30.0));
        assert_eq!(c.sps.sample_aspect_ratio, Some((1, 1)));
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        for n in 0..HIGH_360P.len() - 1 {
            let _ = AvcConfig::parse(&HIGH_360P[..n]);
        }
        assert!(AvcConfig::parse(&HIGH_360P[..20]).is_err());
        assert!(AvcConfig::parse(&[]).is_err());
    }

    #[test]
    fn out_of_range_scaling_deltas_are_errors() {
        // Found by the codec fuzz target: a delta_scale near 2^31 overflowed.
        let nal =
            [0x07, 0x7a, 0x00, 0x07, 0x00, 0xff, 0xff, 0xff, 0x0b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7a, 0x00, 0x9a];
        assert!(Sps::parse(&nal).is_err());
    }

    #[test]
    fn emulation_prevention_is_removed() {
        assert_eq!(unescape_nal(&[0, 0, 3, 1, 0, 0, 3]), [0, 0, 1, 0, 0]);
    }
}

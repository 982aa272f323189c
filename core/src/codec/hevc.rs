//! H.265/HEVC: `HEVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §8.3.3.1) and the sequence
//! parameter set (ITU-T H.265 §7.3.2.2, VUI in annex E.2.1).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use super::{bits::BitReader, unescape_nal, CodecError, SAMPLE_ASPECT_RATIOS};

/// Largest record accepted; real ones are 100 to 3000 bytes (x265's version SEI is the bulk).
const MAX_RECORD_LEN: usize = 65_536;
/// Most NAL units accepted in a record's arrays; real ones hold 3 to 5, H.265 allows 16 VPS, 16 SPS
/// and 64 PPS (§7.4.3).
const MAX_NAL_UNITS: usize = 256;
/// Largest SPS NAL unit accepted; real ones are under 300 bytes.
const MAX_SPS_LEN: usize = 8192;
/// Largest picture side accepted, as for H.264: `tkhd` holds it as 16.16 fixed point.
const MAX_PICTURE_SIDE: u64 = 65_535;

/// NAL unit types (H.265 Table 7-1).
const VPS: u8 = 32;
const SPS: u8 = 33;
const PPS: u8 = 34;
const PREFIX_SEI: u8 = 39;
const SUFFIX_SEI: u8 = 40;

/// An H.265 decoder configuration, as carried in the FLV sequence header and written verbatim
/// into `hvcC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcConfig {
    /// The whole record, byte for byte.
    pub record: Vec<u8>,
    /// `general_profile_space` (0; 1 to 3 are reserved).
    pub general_profile_space: u8,
    /// `general_tier_flag`: false for the Main tier, true for High.
    pub general_tier_flag: bool,
    /// `general_profile_idc` (1 Main, 2 Main 10, 3 Main Still Picture, 4 range extensions, …).
    pub general_profile_idc: u8,
    /// `general_profile_compatibility_flag[0..32]`, flag 0 in the most significant bit.
    pub general_profile_compatibility_flags: u32,
    /// The 48 bits from `general_progressive_source_flag` to `general_inbld_flag`.
    pub general_constraint_indicator_flags: [u8; 6],
    /// `general_level_idc`: 30 × the level (93 is level 3.1).
    pub general_level_idc: u8,
    /// `lengthSizeMinusOne + 1`: bytes of the NAL unit length prefix in every frame (1, 2 or 4).
    pub nal_length_size: u8,
    /// What the first SPS of the base layer says.
    pub sps: HevcSps,
}

/// The fields of a sequence parameter set that packaging needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HevcSps {
    /// `chroma_format_idc` (0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4).
    pub chroma_format_idc: u8,
    /// `bit_depth_luma_minus8 + 8`.
    pub bit_depth_luma: u8,
    /// `bit_depth_chroma_minus8 + 8`.
    pub bit_depth_chroma: u8,
    /// Displayed width in pixels: the conformance window's (the VUI's default display window, a
    /// display hint, is not applied).
    pub width: u32,
    /// Displayed height in pixels: the conformance window's.
    pub height: u32,
    /// Sample aspect ratio (`sar_width`, `sar_height`) from the VUI, when signalled.
    pub sample_aspect_ratio: Option<(u16, u16)>,
    /// Picture rate from the VUI timing info as (`vui_time_scale`, `vui_num_units_in_tick`).
    pub frame_rate: Option<(u32, u32)>,
    /// The VUI's video signal type, when signalled.
    pub video_signal: Option<VideoSignal>,
}

/// The VUI's video signal type (H.265 §E.2.1, semantics §E.3.1): what a `colr` `nclx` box says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSignal {
    /// `colour_primaries` (ITU-T H.273; 2, unspecified, when there is no colour description).
    pub colour_primaries: u8,
    /// `transfer_characteristics` (ITU-T H.273; 2 when there is no colour description).
    pub transfer_characteristics: u8,
    /// `matrix_coeffs` (ITU-T H.273; 2 when there is no colour description).
    pub matrix_coeffs: u8,
    /// `video_full_range_flag`.
    pub video_full_range_flag: bool,
}

impl HevcSps {
    /// Pictures per second, when the VUI says (fields per second when the stream codes fields).
    pub fn fps(&self) -> Option<f64> {
        self.frame_rate.map(|(n, d)| f64::from(n) / f64::from(d))
    }
}

/// Whether `record` is an `HEVCDecoderConfigurationRecord` whose arrays hold a VPS, an SPS and a
/// PPS, and nothing but parameter sets and SEI (ISO/IEC 14496-15 §8.3.3.1.2), each NAL unit of
/// its array's type.
///
/// Some encoders (OBS Studio before 29.1) send HEVC under FLV's H.264 codec id 7: when a record
/// under that id is no `avcC` holding H.264 parameter sets, this tells whether it is an `hvcC`.
pub fn looks_like_hevc_record(record: &[u8]) -> bool {
    const REQUIRED: u64 = 1 << VPS | 1 << SPS | 1 << PPS;
    const ALLOWED: u64 = REQUIRED | 1 << PREFIX_SEI | 1 << SUFFIX_SEI;
    parse_record(record).is_ok_and(|(_, a)| a.consistent && a.types & REQUIRED == REQUIRED && a.types & !ALLOWED == 0)
}

impl HevcConfig {
    /// Whether an access unit (NAL units, each after its `nal_length_size`-byte length) holds an
    /// IRAP picture of the base layer (`nal_unit_type` 16 to 23: BLA, IDR, CRA; H.265 §7.4.2.2):
    /// where decoding can start.
    pub fn is_irap(&self, access_unit: &[u8]) -> bool {
        let len_size = usize::from(self.nal_length_size.clamp(1, 4));
        let mut rest = access_unit;
        while let Some((len, tail)) = rest.split_at_checked(len_size) {
            let len = len.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
            let Some((nal, tail)) = tail.split_at_checked(len) else { return false };
            if let Some(&[h0, h1]) = nal.first_chunk::<2>() {
                let layer_id = ((h0 & 1) << 5) | (h1 >> 3);
                if (16..=23).contains(&((h0 >> 1) & 0x3F)) && layer_id == 0 {
                    return true;
                }
            }
            rest = tail;
        }
        false
    }

    /// Parses an `HEVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §8.3.3.1.2) and its first SPS
    /// of the base layer.
    pub fn parse(record: &[u8]) -> Result<Self, CodecError> {
        parse_record(record).map(|(config, _)| config)
    }

    /// The RFC 6381 codec string for an `hvc1` sample entry (ISO/IEC 14496-15 §E.3), e.g.
    /// `hvc1.1.6.L93.B0`: profile space and profile, the compatibility flags bit-reversed in hex,
    /// tier and level, and the constraint bytes in hex up to the last non-zero one.
    pub fn codec_string(&self) -> String {
        let space = match self.general_profile_space {
            1 => "A",
            2 => "B",
            3 => "C",
            _ => "",
        };
        let mut s = alloc::format!(
            "hvc1.{space}{}.{:X}.{}{}",
            self.general_profile_idc,
            self.general_profile_compatibility_flags.reverse_bits(),
            if self.general_tier_flag { 'H' } else { 'L' },
            self.general_level_idc
        );
        let flags = &self.general_constraint_indicator_flags;
        let used = flags.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        for b in flags.iter().take(used) {
            let _ = write!(s, ".{b:X}");
        }
        s
    }
}

/// What a record's arrays hold.
struct Arrays {
    /// Bit `t` is set when there is an array of `NAL_unit_type` `t`.
    types: u64,
    /// Every NAL unit has a valid header naming its array's type.
    consistent: bool,
}

/// The fields of a two-byte NAL unit header (H.265 §7.3.1.2): (`nal_unit_type`, `nuh_layer_id`),
/// or `None` when it is short or invalid.
fn nal_header(nal: &[u8]) -> Option<(u8, u8)> {
    let &[h0, h1] = nal.first_chunk::<2>()?;
    // forbidden_zero_bit is 0; nuh_temporal_id_plus1 is not.
    (h0 & 0x80 == 0 && h1 & 0x07 != 0).then_some(((h0 >> 1) & 0x3F, ((h0 & 1) << 5) | (h1 >> 3)))
}

fn parse_record(record: &[u8]) -> Result<(HevcConfig, Arrays), CodecError> {
    const WHAT: &str = "HEVCDecoderConfigurationRecord";
    if record.len() > MAX_RECORD_LEN {
        return Err(CodecError::Unsupported("hvcC is larger than 65536 bytes"));
    }
    let (head, mut rest) = record.split_first_chunk::<23>().ok_or(CodecError::Truncated(WHAT))?;
    if head[0] != 1 {
        return Err(CodecError::Invalid { what: "hvcC configurationVersion", value: head[0].into() });
    }
    // head[13..21]: min_spatial_segmentation_idc, parallelismType, chromaFormat, the bit depths,
    // avgFrameRate, constantFrameRate, numTemporalLayers and temporalIdNested: summaries of the
    // parameter sets, taken from the SPS where needed.
    let nal_length_size = (head[21] & 0x03) + 1;
    if nal_length_size == 3 {
        return Err(CodecError::Invalid { what: "hvcC lengthSizeMinusOne", value: 2 });
    }
    let mut arrays = Arrays { types: 0, consistent: true };
    let mut units = 0usize;
    let mut first_sps = None;
    for _ in 0..head[22] {
        let Some((&[kind, n_hi, n_lo], tail)) = rest.split_first_chunk::<3>() else {
            return Err(CodecError::Truncated(WHAT));
        };
        rest = tail;
        // array_completeness and a reserved bit, then NAL_unit_type.
        let nal_type = kind & 0x3F;
        arrays.types |= 1 << nal_type;
        let count = u16::from_be_bytes([n_hi, n_lo]);
        units = units.saturating_add(count.into());
        if units > MAX_NAL_UNITS {
            return Err(CodecError::Unsupported("hvcC holds more than 256 NAL units"));
        }
        for _ in 0..count {
            let (len, tail) = rest.split_first_chunk::<2>().ok_or(CodecError::Truncated(WHAT))?;
            let (nal, tail) =
                tail.split_at_checked(u16::from_be_bytes(*len).into()).ok_or(CodecError::Truncated(WHAT))?;
            rest = tail;
            let header = nal_header(nal);
            arrays.consistent &= header.is_some_and(|(t, _)| t == nal_type);
            if nal_type == SPS && header.is_some_and(|(_, layer)| layer == 0) {
                first_sps.get_or_insert(nal);
            }
        }
    }
    let sps_nal = first_sps.ok_or(CodecError::Unsupported("hvcC holds no SPS"))?;
    let config = HevcConfig {
        record: record.to_vec(),
        general_profile_space: head[1] >> 6,
        general_tier_flag: head[1] & 0x20 != 0,
        general_profile_idc: head[1] & 0x1F,
        general_profile_compatibility_flags: u32::from_be_bytes([head[2], head[3], head[4], head[5]]),
        general_constraint_indicator_flags: [head[6], head[7], head[8], head[9], head[10], head[11]],
        general_level_idc: head[12],
        nal_length_size,
        sps: HevcSps::parse(sps_nal)?,
    };
    Ok((config, arrays))
}

/// Reads a `ue(v)` that may not exceed `max`.
fn ue_max(r: &mut BitReader<'_>, what: &'static str, max: u32) -> Result<u32, CodecError> {
    let v = r.ue()?;
    if v > max {
        return Err(CodecError::Invalid { what, value: v });
    }
    Ok(v)
}

/// Reads an `se(v)` in `range`.
fn se_in(r: &mut BitReader<'_>, what: &'static str, range: core::ops::RangeInclusive<i32>) -> Result<i32, CodecError> {
    let v = r.se()?;
    if !range.contains(&v) {
        return Err(CodecError::Invalid { what, value: v.cast_unsigned() });
    }
    Ok(v)
}

impl HevcSps {
    /// Parses a sequence parameter set NAL unit of the base layer (with its two-byte NAL header;
    /// H.265 §7.3.2.2.1), up to the VUI timing info.
    pub fn parse(nal: &[u8]) -> Result<Self, CodecError> {
        if nal.len() > MAX_SPS_LEN {
            return Err(CodecError::Unsupported("SPS is larger than 8192 bytes"));
        }
        let (&[h0, h1], payload) = nal.split_first_chunk::<2>().ok_or(CodecError::Truncated("SPS"))?;
        let nal_type = (h0 >> 1) & 0x3F;
        if nal_type != SPS {
            return Err(CodecError::Invalid { what: "SPS nal_unit_type", value: nal_type.into() });
        }
        if ((h0 & 1) << 5) | (h1 >> 3) != 0 {
            // The syntax differs above the base layer (§F.7.3.2.2.1).
            return Err(CodecError::Unsupported("SPS of a layer above the base layer"));
        }
        let rbsp = unescape_nal(payload);
        let mut r = BitReader::new(&rbsp, "SPS");
        r.skip(4)?; // sps_video_parameter_set_id
        let max_sub_layers_minus1 = r.bits(3)?;
        if max_sub_layers_minus1 > 6 {
            return Err(CodecError::Invalid { what: "SPS sps_max_sub_layers_minus1", value: max_sub_layers_minus1 });
        }
        r.skip(1)?; // sps_temporal_id_nesting_flag
        profile_tier_level(&mut r, max_sub_layers_minus1)?;
        ue_max(&mut r, "SPS sps_seq_parameter_set_id", 15)?;
        let chroma_format_idc = ue_max(&mut r, "SPS chroma_format_idc", 3)?;
        if chroma_format_idc == 3 {
            r.skip(1)?; // separate_colour_plane_flag: SubWidthC and SubHeightC stay 1 either way
        }
        let pic_width = u64::from(r.ue()?);
        let pic_height = u64::from(r.ue()?);
        let mut window = [0u64; 4]; // left, right, top, bottom
        if r.bit()? {
            for offset in &mut window {
                *offset = r.ue()?.into();
            }
        }
        let bit_depth_luma = ue_max(&mut r, "SPS bit_depth_luma_minus8", 8)? + 8;
        let bit_depth_chroma = ue_max(&mut r, "SPS bit_depth_chroma_minus8", 8)? + 8;
        let poc_lsb_bits = ue_max(&mut r, "SPS log2_max_pic_order_cnt_lsb_minus4", 12)? + 4;
        let first = if r.bit()? { 0 } else { max_sub_layers_minus1 };
        let mut max_dec_pic_buffering_minus1 = 0;
        for _ in first..=max_sub_layers_minus1 {
            // MaxDpbSize is at most 16 (§A.4.2); the last value read is the highest sub-layer's.
            max_dec_pic_buffering_minus1 = ue_max(&mut r, "SPS sps_max_dec_pic_buffering_minus1", 15)?;
            r.ue()?; // sps_max_num_reorder_pics
            r.ue()?; // sps_max_latency_increase_plus1
        }
        // log2_min_luma_coding_block_size_minus3 … max_transform_hierarchy_depth_intra
        for _ in 0..6 {
            r.ue()?;
        }
        // scaling_list_enabled_flag, sps_scaling_list_data_present_flag
        if r.bit()? && r.bit()? {
            scaling_list_data(&mut r)?;
        }
        r.skip(2)?; // amp_enabled_flag, sample_adaptive_offset_enabled_flag
        if r.bit()? {
            r.skip(8)?; // pcm_sample_bit_depth_luma_minus1, pcm_sample_bit_depth_chroma_minus1
            r.ue()?; // log2_min_pcm_luma_coding_block_size_minus3
            r.ue()?; // log2_diff_max_min_pcm_luma_coding_block_size
            r.skip(1)?; // pcm_loop_filter_disabled_flag
        }
        short_term_ref_pic_sets(&mut r, max_dec_pic_buffering_minus1)?;
        if r.bit()? {
            let n = ue_max(&mut r, "SPS num_long_term_ref_pics_sps", 32)?;
            for _ in 0..n {
                // lt_ref_pic_poc_lsb_sps, used_by_curr_pic_lt_sps_flag
                r.skip(poc_lsb_bits as usize + 1)?;
            }
        }
        r.skip(2)?; // sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag

        // Table 6-1 and the conformance window semantics (§7.4.3.2.1).
        let (sub_width, sub_height) = match chroma_format_idc {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        let [left, right, top, bottom] = window;
        let cut_w = sub_width * (left + right);
        let cut_h = sub_height * (top + bottom);
        for side in [pic_width, pic_height] {
            if side == 0 || side > MAX_PICTURE_SIDE {
                return Err(CodecError::Invalid {
                    what: "SPS picture size",
                    value: u32::try_from(side).unwrap_or(u32::MAX),
                });
            }
        }
        if cut_w >= pic_width || cut_h >= pic_height {
            return Err(CodecError::Invalid {
                what: "SPS conformance window",
                value: u32::try_from(cut_w.max(cut_h)).unwrap_or(u32::MAX),
            });
        }
        let mut sps = HevcSps {
            // All five were checked above (the sides against MAX_PICTURE_SIDE).
            chroma_format_idc: CodecError::fit("SPS chroma_format_idc", chroma_format_idc)?,
            bit_depth_luma: CodecError::fit("SPS bit_depth_luma", bit_depth_luma)?,
            bit_depth_chroma: CodecError::fit("SPS bit_depth_chroma", bit_depth_chroma)?,
            width: CodecError::fit("SPS picture size", pic_width - cut_w)?,
            height: CodecError::fit("SPS picture size", pic_height - cut_h)?,
            sample_aspect_ratio: None,
            frame_rate: None,
            video_signal: None,
        };
        // VUI is optional detail: a truncated VUI leaves what it would have said unknown.
        if r.bit().unwrap_or(false) {
            let _ = parse_vui(&mut r, &mut sps);
        }
        Ok(sps)
    }
}

/// `profile_tier_level(1, sps_max_sub_layers_minus1)` (§7.3.3), skipped.
fn profile_tier_level(r: &mut BitReader<'_>, max_sub_layers_minus1: u32) -> Result<(), CodecError> {
    // general_profile_space … general_inbld_flag (88 bits), general_level_idc.
    r.skip(96)?;
    let mut sub_layers = 0;
    for _ in 0..max_sub_layers_minus1 {
        // sub_layer_profile_present_flag: sub_layer_profile_space … sub_layer_inbld_flag follow;
        // sub_layer_level_present_flag: sub_layer_level_idc follows.
        if r.bit()? {
            sub_layers += 88;
        }
        if r.bit()? {
            sub_layers += 8;
        }
    }
    if max_sub_layers_minus1 > 0 {
        // reserved_zero_2bits for the sub-layers up to 8.
        r.skip(2 * (8 - max_sub_layers_minus1 as usize))?;
    }
    r.skip(sub_layers)
}

/// `scaling_list_data()` (§7.3.4), checked against the ranges of §7.4.5.
fn scaling_list_data(r: &mut BitReader<'_>) -> Result<(), CodecError> {
    for size_id in 0..4u32 {
        // Only matrices 0 and 3 of the 32×32 size are coded.
        let step = if size_id == 3 { 3 } else { 1 };
        for matrix_id in (0..6).step_by(step as usize) {
            if !r.bit()? {
                // scaling_list_pred_mode_flag 0: a copy of an earlier matrix, or the default.
                ue_max(r, "SPS scaling_list_pred_matrix_id_delta", matrix_id / step)?;
                continue;
            }
            if size_id > 1 {
                se_in(r, "SPS scaling_list_dc_coef_minus8", -7..=247)?;
            }
            for _ in 0..(1u32 << (4 + 2 * size_id)).min(64) {
                se_in(r, "SPS scaling_list_delta_coef", -128..=127)?;
            }
        }
    }
    Ok(())
}

/// `num_short_term_ref_pic_sets` and each `st_ref_pic_set(stRpsIdx)` (§7.3.7, §7.4.8).
fn short_term_ref_pic_sets(r: &mut BitReader<'_>, max_dec_pic_buffering_minus1: u32) -> Result<(), CodecError> {
    let num_sets = ue_max(r, "SPS num_short_term_ref_pic_sets", 64)?;
    // NumDeltaPocs of the set before: in an SPS, delta_idx_minus1 is absent (it is coded only for
    // the set of a slice header), so a predicted set's RefRpsIdx is always stRpsIdx - 1. A set has
    // at most one entry more than the one it is predicted from, so this stays below 80.
    let mut ref_delta_pocs = 0u32;
    for idx in 0..num_sets {
        // inter_ref_pic_set_prediction_flag
        ref_delta_pocs = if idx != 0 && r.bit()? {
            r.skip(1)?; // delta_rps_sign
            ue_max(r, "SPS abs_delta_rps_minus1", 0x7FFF)?;
            // One used_by_curr_pic_flag for each picture of the reference set and for that set's
            // own picture; use_delta_flag, when absent, is 1. An entry is kept when either is 1,
            // as HM and ffmpeg count it (equations 7-61 and 7-62 also drop an entry whose dPoc
            // is 0, the current picture itself, which a conforming stream never keeps).
            let mut kept = 0;
            for _ in 0..=ref_delta_pocs {
                if r.bit()? || r.bit()? {
                    kept += 1;
                }
            }
            kept
        } else {
            let negative = ue_max(r, "SPS num_negative_pics", max_dec_pic_buffering_minus1)?;
            let positive = ue_max(r, "SPS num_positive_pics", max_dec_pic_buffering_minus1 - negative)?;
            for _ in 0..negative + positive {
                // delta_poc_s0_minus1 / delta_poc_s1_minus1, used_by_curr_pic_s0_flag / _s1_flag
                ue_max(r, "SPS delta_poc_minus1", 0x7FFF)?;
                r.skip(1)?;
            }
            negative + positive
        };
    }
    Ok(())
}

/// VUI parameters (H.265 §E.2.1), as far as the timing info.
fn parse_vui(r: &mut BitReader<'_>, sps: &mut HevcSps) -> Result<(), CodecError> {
    if r.bit()? {
        let idc = r.bits(8)?;
        sps.sample_aspect_ratio = match idc {
            1..=16 => SAMPLE_ASPECT_RATIOS.get(idc as usize).copied(),
            255 => {
                // Extended_SAR; a zero side means unspecified (§E.3.1).
                let (w, h) = (r.u16(16)?, r.u16(16)?);
                (w != 0 && h != 0).then_some((w, h))
            }
            _ => None,
        };
    }
    if r.bit()? {
        r.skip(1)?; // overscan_appropriate_flag
    }
    if r.bit()? {
        r.skip(3)?; // video_format
        let video_full_range_flag = r.bit()?;
        let (p, t, m) = if r.bit()? { (r.u8(8)?, r.u8(8)?, r.u8(8)?) } else { (2, 2, 2) };
        sps.video_signal = Some(VideoSignal {
            colour_primaries: p,
            transfer_characteristics: t,
            matrix_coeffs: m,
            video_full_range_flag,
        });
    }
    if r.bit()? {
        r.ue()?; // chroma_sample_loc_type_top_field
        r.ue()?; // chroma_sample_loc_type_bottom_field
    }
    r.skip(3)?; // neutral_chroma_indication_flag, field_seq_flag, frame_field_info_present_flag
    if r.bit()? {
        // default_display_window_flag: a display hint, not a crop.
        for _ in 0..4 {
            r.ue()?;
        }
    }
    if r.bit()? {
        let units = r.bits(32)?;
        let scale = r.bits(32)?;
        if units > 0 && scale > 0 {
            sps.frame_rate = Some((scale, units));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// x265 Main, 640×360, 30 fps: `-f lavfi -i testsrc2=size=640x360:rate=30 -c:v libx265
    /// -x265-params info=0` (every vector but Kvazaar's: x265 with `info=0`, no version SEI).
    pub(crate) const MAIN_360P: &[u8] = &[
        0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3F, 0xF0, 0x00, 0xFC, 0xFD, 0xF8,
        0xF8, 0x00, 0x00, 0x0F, 0x03, 0xA0, 0x00, 0x01, 0x00, 0x18, 0x40, 0x01, 0x0C, 0x01, 0xFF, 0xFF, 0x01, 0x60,
        0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3F, 0x95, 0x98, 0x09, 0xA1, 0x00,
        0x01, 0x00, 0x2A, 0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x03, 0x00, 0x3F, 0xA0, 0x05, 0x02, 0x01, 0x69, 0x65, 0x95, 0x9A, 0x49, 0x32, 0xBC, 0x05, 0xA0, 0x20, 0x00,
        0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x03, 0x03, 0xC1, 0xA2, 0x00, 0x01, 0x00, 0x07, 0x44, 0x01, 0xC1, 0x72,
        0xB4, 0x62, 0x40,
    ];

    /// x265 Main 10, 1920×1080 (coded 1088), 25 fps, BT.2020 PQ, with an SEI array of mastering
    /// display and light level: `-pix_fmt yuv420p10le`, `colorprim=bt2020:transfer=smpte2084`
    /// `:colormatrix=bt2020nc:hdr10=1:max-cll=1000,400:master-display=…`.
    pub(crate) const MAIN10_1080P_PQ: &[u8] = &[
        0x01, 0x02, 0x20, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x78, 0xF0, 0x00, 0xFC, 0xFD, 0xFA,
        0xFA, 0x00, 0x00, 0x0F, 0x04, 0xA0, 0x00, 0x01, 0x00, 0x18, 0x40, 0x01, 0x0C, 0x01, 0xFF, 0xFF, 0x02, 0x20,
        0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x78, 0x95, 0x94, 0x09, 0xA1, 0x00,
        0x01, 0x00, 0x30, 0x42, 0x01, 0x01, 0x02, 0x20, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x03, 0x00, 0x78, 0xA0, 0x03, 0xC0, 0x80, 0x11, 0x07, 0xCA, 0xD9, 0x65, 0x65, 0x4A, 0x4C, 0x2F, 0x01, 0x6A,
        0x12, 0x20, 0x12, 0x08, 0x00, 0x00, 0x03, 0x00, 0x08, 0x00, 0x00, 0x03, 0x00, 0xC8, 0x40, 0xA2, 0x00, 0x01,
        0x00, 0x06, 0x44, 0x01, 0xC0, 0x73, 0xC1, 0x89, 0x27, 0x00, 0x02, 0x00, 0x09, 0x4E, 0x01, 0x90, 0x04, 0x03,
        0xE8, 0x01, 0x90, 0x80, 0x00, 0x1E, 0x4E, 0x01, 0x89, 0x18, 0x33, 0xC2, 0x86, 0xC4, 0x1D, 0x4C, 0x0B, 0xB8,
        0x84, 0xD0, 0x3E, 0x80, 0x3D, 0x13, 0x40, 0x42, 0x00, 0x98, 0x96, 0x80, 0x00, 0x00, 0x03, 0x00, 0x01, 0x80,
    ];

    /// x265 Main, 640×360, 25 fps, SAR 5:4 (`Extended_SAR`), BT.709 full range: `-vf setsar=5/4`
    /// `-x265-params colorprim=bt709:transfer=bt709:colormatrix=bt709:range=full`.
    pub(crate) const BT709_FULL_RANGE: &[u8] = &[
        0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3F, 0xF0, 0x00, 0xFC, 0xFD, 0xF8,
        0xF8, 0x00, 0x00, 0x0F, 0x03, 0xA0, 0x00, 0x01, 0x00, 0x18, 0x40, 0x01, 0x0C, 0x01, 0xFF, 0xFF, 0x01, 0x60,
        0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3F, 0x95, 0x98, 0x09, 0xA1, 0x00,
        0x01, 0x00, 0x31, 0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x03, 0x00, 0x3F, 0xA0, 0x05, 0x02, 0x01, 0x69, 0x65, 0x95, 0x9A, 0x49, 0x32, 0xBF, 0xFC, 0x00, 0x14, 0x00,
        0x11, 0xB8, 0x08, 0x08, 0x08, 0x20, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x03, 0x03, 0x21, 0xA2, 0x00,
        0x01, 0x00, 0x07, 0x44, 0x01, 0xC1, 0x72, 0xB4, 0x62, 0x40,
    ];

    /// x265 Main 4:2:2 10, 1920×1080 (coded 1088), 50 fps, 3 temporal sub-layers:
    /// `-pix_fmt yuv422p10le -x265-params temporal-layers=3`.
    pub(crate) const MAIN422_10_TEMPORAL: &[u8] = &[
        0x01, 0x04, 0x08, 0x00, 0x00, 0x00, 0x9D, 0x08, 0x00, 0x00, 0x00, 0x00, 0x7B, 0xF0, 0x00, 0xFC, 0xFE, 0xFA,
        0xFA, 0x00, 0x00, 0x1B, 0x03, 0xA0, 0x00, 0x01, 0x00, 0x1D, 0x40, 0x01, 0x0C, 0x04, 0xFF, 0xFF, 0x04, 0x08,
        0x00, 0x00, 0x03, 0x00, 0x9D, 0x08, 0x00, 0x00, 0x03, 0x00, 0x00, 0x7B, 0x00, 0x00, 0x95, 0x94, 0xAC, 0xA5,
        0x65, 0x02, 0x40, 0xA1, 0x00, 0x01, 0x00, 0x30, 0x42, 0x01, 0x04, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9D,
        0x08, 0x00, 0x00, 0x03, 0x00, 0x00, 0x7B, 0x00, 0x00, 0xB0, 0x03, 0xC0, 0x80, 0x11, 0x07, 0xC4, 0xB6, 0x59,
        0x59, 0x4A, 0xCA, 0x56, 0x54, 0xA4, 0xC2, 0xF0, 0x16, 0x80, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00,
        0x19, 0x04, 0xA2, 0x00, 0x01, 0x00, 0x06, 0x44, 0x01, 0xC0, 0x73, 0xC1, 0x89,
    ];

    /// x265 monochrome 4:0:0, 1918×1078 (coded 1920×1088), 24000/1001 fps: `-pix_fmt gray`.
    pub(crate) const GRAY_1918X1078: &[u8] = &[
        0x01, 0x04, 0x08, 0x00, 0x00, 0x00, 0x9F, 0xC8, 0x00, 0x00, 0x00, 0x00, 0x78, 0xF0, 0x00, 0xFC, 0xFC, 0xF8,
        0xF8, 0x00, 0x00, 0x0F, 0x03, 0xA0, 0x00, 0x01, 0x00, 0x17, 0x40, 0x01, 0x0C, 0x01, 0xFF, 0xFF, 0x04, 0x08,
        0x00, 0x00, 0x03, 0x00, 0x9F, 0xC8, 0x00, 0x00, 0x03, 0x00, 0x00, 0x78, 0x95, 0x94, 0x09, 0xA1, 0x00, 0x01,
        0x00, 0x29, 0x42, 0x01, 0x01, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9F, 0xC8, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x78, 0xC0, 0x0F, 0x02, 0x00, 0x44, 0x1D, 0xC5, 0xE5, 0x95, 0x95, 0x29, 0x30, 0xBC, 0x05, 0xB0, 0x20, 0x00,
        0x00, 0x7D, 0x20, 0x00, 0x0B, 0xB8, 0x01, 0xA2, 0x00, 0x01, 0x00, 0x06, 0x44, 0x01, 0xC0, 0x73, 0xC1, 0x89,
    ];

    /// Kvazaar Main, 640×360, 30 fps, 2 sub-layers without sub-layer ordering info:
    /// `-c:v libkvazaar`.
    pub(crate) const KVAZAAR_360P: &[u8] = &[
        0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xBA, 0xF0, 0x00, 0xFC, 0xFD, 0xF8,
        0xF8, 0x00, 0x00, 0x13, 0x03, 0xA0, 0x00, 0x01, 0x00, 0x1B, 0x40, 0x01, 0x0C, 0x02, 0xFF, 0xFF, 0x01, 0x60,
        0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0xBA, 0x00, 0x00, 0x04, 0x02, 0x10,
        0x24, 0xA1, 0x00, 0x01, 0x00, 0x2B, 0x42, 0x01, 0x02, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00,
        0x03, 0x00, 0x00, 0x03, 0x00, 0xBA, 0x00, 0x00, 0xA0, 0x05, 0x02, 0x01, 0x69, 0x6C, 0x10, 0x08, 0x64, 0x93,
        0x2A, 0xC0, 0x40, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x07, 0x82, 0xA2, 0x00, 0x01, 0x00, 0x08,
        0x44, 0x01, 0xC0, 0x62, 0x46, 0x0A, 0x64, 0x80,
    ];

    /// An `hvcC` that ffmpeg's mp4 muxer wrote around a hand-made SPS (with the VPS and PPS of
    /// [`MAIN422_10_TEMPORAL`]) that takes every SPS branch: 3 sub-layers with sub-layer profile
    /// and level, 4:4:4 with separate colour planes, scaling lists of every prediction mode, PCM,
    /// 4 short-term RPS of which 3 are predicted (loops of 4, 4 and 5 flags), long-term pictures,
    /// and a VUI with every field up to the timing info. ffmpeg's `trace_headers` read each field
    /// back as written; ffprobe shows 1920×1080, SAR 64:45, 60000/1001 fps, BT.2020 HLG.
    pub(crate) const KITCHEN_SINK: &[u8] = &[
        0x01, 0x24, 0x08, 0x00, 0x00, 0x00, 0x9C, 0x08, 0x00, 0x00, 0x00, 0x00, 0x99, 0xF0, 0x00, 0xFC, 0xFF, 0xFC,
        0xFC, 0x00, 0x00, 0x1B, 0x03, 0xA0, 0x00, 0x01, 0x00, 0x1D, 0x40, 0x01, 0x0C, 0x04, 0xFF, 0xFF, 0x04, 0x08,
        0x00, 0x00, 0x03, 0x00, 0x9D, 0x08, 0x00, 0x00, 0x03, 0x00, 0x00, 0x7B, 0x00, 0x00, 0x95, 0x94, 0xAC, 0xA5,
        0x65, 0x02, 0x40, 0xA1, 0x00, 0x01, 0x01, 0x05, 0x42, 0x01, 0x04, 0x24, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9C,
        0x08, 0x00, 0x00, 0x03, 0x00, 0x00, 0x99, 0xD0, 0x00, 0x24, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9C, 0x08, 0x00,
        0x00, 0x03, 0x00, 0x00, 0x96, 0x96, 0x92, 0x00, 0x78, 0x90, 0x02, 0x20, 0xD9, 0xE2, 0x4A, 0x52, 0xDE, 0x45,
        0x2B, 0x34, 0x92, 0x25, 0xE9, 0x90, 0x07, 0xF0, 0x04, 0x04, 0x56, 0x99, 0x00, 0x7F, 0x00, 0x40, 0x45, 0x49,
        0x57, 0x4C, 0x80, 0x3F, 0x80, 0x20, 0x22, 0xB4, 0xC8, 0x03, 0xF8, 0x02, 0x02, 0x2B, 0x4C, 0x80, 0x3F, 0x80,
        0x20, 0x22, 0xB4, 0xC8, 0x03, 0xF8, 0x02, 0x02, 0x2B, 0x4C, 0x80, 0x3F, 0x80, 0x20, 0x22, 0xB4, 0xC8, 0x03,
        0xF8, 0x02, 0x02, 0x2B, 0x4C, 0x80, 0x3F, 0x80, 0x20, 0x22, 0xB4, 0xC8, 0x03, 0xF8, 0x02, 0x02, 0x2A, 0x4A,
        0xB1, 0xF4, 0xC8, 0x03, 0xF8, 0x02, 0x02, 0x2B, 0x4C, 0x80, 0x3F, 0x80, 0x20, 0x22, 0xB4, 0xC8, 0x03, 0xF8,
        0x02, 0x02, 0x2B, 0x4C, 0x80, 0x3F, 0x80, 0x20, 0x22, 0xB4, 0xC8, 0x03, 0xF8, 0x02, 0x02, 0x2B, 0x4C, 0x80,
        0x3F, 0x80, 0x20, 0x22, 0xB4, 0xC8, 0x03, 0xF8, 0x02, 0x02, 0x2B, 0x4C, 0x80, 0x3F, 0x80, 0x20, 0x22, 0xA4,
        0xAB, 0x00, 0xF7, 0x53, 0x20, 0x0F, 0xE0, 0x08, 0x08, 0xAD, 0x32, 0x00, 0xFE, 0x00, 0x80, 0x8A, 0xD3, 0x20,
        0x0F, 0xE0, 0x08, 0x08, 0xAD, 0x32, 0x00, 0xFE, 0x00, 0x80, 0x8A, 0xD3, 0x20, 0x0F, 0xE0, 0x08, 0x08, 0xAD,
        0x32, 0x00, 0xFE, 0x00, 0x80, 0x8A, 0xD3, 0x20, 0x0F, 0xE0, 0x08, 0x08, 0xAD, 0x32, 0x00, 0xFE, 0x00, 0x80,
        0x8A, 0x97, 0x77, 0xB9, 0x5A, 0xD7, 0xF4, 0xCF, 0xF2, 0xCB, 0xB0, 0x5E, 0x42, 0xFF, 0xC0, 0x10, 0x00, 0x0B,
        0x6D, 0x42, 0x44, 0x82, 0x6D, 0x98, 0x91, 0x3C, 0x00, 0x00, 0x0F, 0xA4, 0x00, 0x03, 0xA9, 0x83, 0x10, 0xA2,
        0x00, 0x01, 0x00, 0x06, 0x44, 0x01, 0xC0, 0x73, 0xC1, 0x89,
    ];

    /// Sample 1 of an x265 64×64 stream (`aud=1:keyint=4:open-gop=1:bframes=0`): IDR_N_LP alone.
    pub(crate) const IDR_SAMPLE: &[u8] =
        &[0x00, 0x00, 0x00, 0x0A, 0x28, 0x01, 0xAC, 0x21, 0x80, 0x06, 0xFC, 0x83, 0x9E, 0xD6];

    /// Sample 2 of the same stream: access unit delimiter, TRAIL_R.
    pub(crate) const TRAIL_SAMPLE: &[u8] = &[
        0x00, 0x00, 0x00, 0x03, 0x46, 0x01, 0x30, 0x00, 0x00, 0x00, 0x09, 0x02, 0x01, 0xD0, 0x09, 0x78, 0x81, 0x0C,
        0xA0, 0xE8,
    ];

    /// Sample 5 of the same stream: access unit delimiter, CRA.
    pub(crate) const CRA_SAMPLE: &[u8] = &[
        0x00, 0x00, 0x00, 0x03, 0x46, 0x01, 0x10, 0x00, 0x00, 0x00, 0x0D, 0x2A, 0x01, 0xAC, 0x10, 0xF5, 0x19, 0x80,
        0x05, 0x3F, 0x50, 0x72, 0xF6, 0xE0,
    ];

    /// Hand-made SPS bits: `u(n)`, `ue(v)`, and the NAL unit with its stop bit and emulation
    /// prevention.
    #[derive(Default)]
    struct Bits(Vec<bool>);

    impl Bits {
        fn u(&mut self, n: u32, v: u32) -> &mut Self {
            self.0.extend((0..n).rev().map(|i| (v >> i) & 1 == 1));
            self
        }

        fn ue(&mut self, v: u32) -> &mut Self {
            let v = u64::from(v) + 1;
            let n = 64 - v.leading_zeros();
            self.0.extend(core::iter::repeat_n(false, n as usize - 1));
            self.0.extend((0..n).rev().map(|i| (v >> i) & 1 == 1));
            self
        }

        fn sps_nal(&self) -> Vec<u8> {
            let mut bits = self.0.clone();
            bits.push(true);
            bits.resize(bits.len().div_ceil(8) * 8, false);
            let mut nal = alloc::vec![0x42, 0x01];
            let mut zeros = 0;
            for byte in bits.chunks(8).map(|c| c.iter().fold(0u8, |b, &bit| (b << 1) | u8::from(bit))) {
                if zeros >= 2 && byte <= 3 {
                    nal.push(3);
                    zeros = 0;
                }
                zeros = if byte == 0 { zeros + 1 } else { 0 };
                nal.push(byte);
            }
            nal
        }
    }

    /// A small SPS: 4:2:0, the given size and conformance window, `num_sets` explicit empty
    /// short-term RPS, no VUI.
    fn small_sps(max_sub_layers_minus1: u32, size: (u32, u32), window: [u32; 4], num_sets: u32) -> Vec<u8> {
        let mut b = Bits::default();
        b.u(4, 0).u(3, max_sub_layers_minus1).u(1, 1);
        b.u(8, 1).u(32, 0x6000_0000).u(32, 0x9000_0000).u(16, 0).u(8, 93);
        for _ in 0..max_sub_layers_minus1.min(7) {
            b.u(2, 0);
        }
        if max_sub_layers_minus1 > 0 {
            b.u(2 * (8 - max_sub_layers_minus1), 0);
        }
        b.ue(0).ue(1).ue(size.0).ue(size.1);
        b.u(1, 1);
        for w in window {
            b.ue(w);
        }
        b.ue(0).ue(0).ue(4).u(1, 0).ue(4).ue(2).ue(5);
        b.ue(0).ue(3).ue(0).ue(3).ue(0).ue(0);
        b.u(1, 0).u(1, 0).u(1, 1).u(1, 0);
        b.ue(num_sets);
        for idx in 0..num_sets {
            if idx > 0 {
                b.u(1, 0);
            }
            b.ue(0).ue(0);
        }
        b.u(1, 0).u(1, 1).u(1, 1).u(1, 0).u(1, 0);
        b.sps_nal()
    }

    fn config(record: &[u8]) -> HevcConfig {
        HevcConfig::parse(record).unwrap()
    }

    #[test]
    fn main_640x360_at_30fps() {
        let c = config(MAIN_360P);
        assert_eq!(c.codec_string(), "hvc1.1.6.L63.90");
        assert_eq!(c.nal_length_size, 4);
        assert_eq!((c.general_profile_idc, c.general_level_idc, c.general_tier_flag), (1, 63, false));
        assert_eq!(c.general_profile_compatibility_flags, 0x6000_0000);
        assert_eq!(c.general_constraint_indicator_flags, [0x90, 0, 0, 0, 0, 0]);
        assert_eq!(c.record, MAIN_360P);
        let s = c.sps;
        assert_eq!((s.width, s.height), (640, 360));
        assert_eq!((s.chroma_format_idc, s.bit_depth_luma, s.bit_depth_chroma), (1, 8, 8));
        assert_eq!(s.frame_rate, Some((30, 1)));
        assert_eq!(s.fps(), Some(30.0));
        assert_eq!(s.sample_aspect_ratio, Some((1, 1)));
        // video_signal_type_present_flag without a colour description.
        let unspecified = VideoSignal {
            colour_primaries: 2,
            transfer_characteristics: 2,
            matrix_coeffs: 2,
            video_full_range_flag: false,
        };
        assert_eq!(s.video_signal, Some(unspecified));
    }

    #[test]
    fn main10_1080p_crops_the_coded_1088_lines() {
        let c = config(MAIN10_1080P_PQ);
        assert_eq!(c.codec_string(), "hvc1.2.4.L120.90");
        let s = c.sps;
        assert_eq!((s.width, s.height), (1920, 1080));
        assert_eq!((s.bit_depth_luma, s.bit_depth_chroma), (10, 10));
        assert_eq!(s.fps(), Some(25.0));
        let pq = VideoSignal {
            colour_primaries: 9,
            transfer_characteristics: 16,
            matrix_coeffs: 9,
            video_full_range_flag: false,
        };
        assert_eq!(s.video_signal, Some(pq));
    }

    #[test]
    fn extended_sar_and_full_range_bt709() {
        let c = config(BT709_FULL_RANGE);
        assert_eq!(c.codec_string(), "hvc1.1.6.L63.90");
        assert_eq!(c.sps.sample_aspect_ratio, Some((5, 4)));
        assert_eq!(c.sps.frame_rate, Some((25, 1)));
        let bt709 = VideoSignal {
            colour_primaries: 1,
            transfer_characteristics: 1,
            matrix_coeffs: 1,
            video_full_range_flag: true,
        };
        assert_eq!(c.sps.video_signal, Some(bt709));
    }

    #[test]
    fn crop_units_follow_the_chroma_format() {
        // 4:2:2: SubHeightC is 1, so 8 rows are cut from 1088.
        let c = config(MAIN422_10_TEMPORAL);
        assert_eq!(c.codec_string(), "hvc1.4.10.L123.9D.8");
        assert_eq!((c.sps.chroma_format_idc, c.sps.width, c.sps.height), (2, 1920, 1080));
        assert_eq!(c.sps.fps(), Some(50.0));
        // 4:0:0: SubWidthC and SubHeightC are 1: 2 columns and 10 rows cut from 1920×1088.
        let c = config(GRAY_1918X1078);
        assert_eq!(c.codec_string(), "hvc1.4.10.L120.9F.C8");
        assert_eq!((c.sps.chroma_format_idc, c.sps.width, c.sps.height), (0, 1918, 1078));
        assert_eq!(c.sps.frame_rate, Some((24000, 1001)));
    }

    #[test]
    fn kvazaar_sub_layers_without_ordering_info() {
        let c = config(KVAZAAR_360P);
        assert_eq!(c.codec_string(), "hvc1.1.6.L186.80");
        assert_eq!((c.sps.width, c.sps.height), (640, 360));
        assert_eq!(c.sps.fps(), Some(30.0));
        assert_eq!(c.sps.video_signal, None);
    }

    #[test]
    fn every_sps_branch_up_to_the_timing_info() {
        // A wrong NumDeltaPocs, scaling list or sub-layer count would misplace the VUI read here.
        let c = config(KITCHEN_SINK);
        assert_eq!(c.codec_string(), "hvc1.4.10.H153.9C.8");
        let s = c.sps;
        assert_eq!((s.chroma_format_idc, s.bit_depth_luma, s.bit_depth_chroma), (3, 12, 12));
        assert_eq!((s.width, s.height), (1920, 1080));
        assert_eq!(s.sample_aspect_ratio, Some((64, 45)));
        assert_eq!(s.frame_rate, Some((60000, 1001)));
        let hlg = VideoSignal {
            colour_primaries: 9,
            transfer_characteristics: 18,
            matrix_coeffs: 9,
            video_full_range_flag: false,
        };
        assert_eq!(s.video_signal, Some(hlg));
    }

    #[test]
    fn codec_string_rules() {
        let mut c = config(MAIN_360P);
        c.general_constraint_indicator_flags = [0; 6];
        assert_eq!(c.codec_string(), "hvc1.1.6.L63");
        // Profile space 1, compatibility flags 0 and 6 (reversed: 0x41), High tier, 2 constraint
        // bytes.
        c.general_profile_space = 1;
        c.general_profile_idc = 4;
        c.general_profile_compatibility_flags = 0x8200_0000;
        c.general_tier_flag = true;
        c.general_level_idc = 120;
        c.general_constraint_indicator_flags = [0xB0, 0x23, 0, 0, 0, 0];
        assert_eq!(c.codec_string(), "hvc1.A4.41.H120.B0.23");
        c.general_profile_space = 3;
        c.general_constraint_indicator_flags = [0, 0, 0, 0, 0, 1];
        assert_eq!(c.codec_string(), "hvc1.C4.41.H120.0.0.0.0.0.1");
        c.general_profile_compatibility_flags = 0;
        assert_eq!(c.codec_string(), "hvc1.C4.0.H120.0.0.0.0.0.1");
    }

    #[test]
    fn irap_pictures_of_the_base_layer() {
        let c = config(MAIN_360P);
        assert!(c.is_irap(IDR_SAMPLE));
        assert!(!c.is_irap(TRAIL_SAMPLE));
        assert!(c.is_irap(CRA_SAMPLE), "after an access unit delimiter");
        let au = |header: [u8; 2]| [0, 0, 0, 3, header[0], header[1], 0xAF];
        for nal_type in 0..64u8 {
            assert_eq!(c.is_irap(&au([nal_type << 1, 0x01])), (16..=23).contains(&nal_type), "type {nal_type}");
        }
        assert!(!c.is_irap(&au([21 << 1, 0x09])), "CRA of layer 1");
        assert!(!c.is_irap(&CRA_SAMPLE[..CRA_SAMPLE.len() - 1]), "truncated");
        assert!(!c.is_irap(&[]));
        assert!(!c.is_irap(&[0, 0, 0, 1, 0x2A]), "one header byte");
        let mut c2 = c.clone();
        c2.nal_length_size = 2;
        assert!(c2.is_irap(&[0, 2, 0x46, 0x01, 0, 3, 0x2A, 0x01, 0xAC]));
        c2.nal_length_size = 1;
        assert!(c2.is_irap(&[2, 0x46, 0x01, 3, 0x2A, 0x01, 0xAC]));
    }

    #[test]
    fn hevc_records_are_told_from_others() {
        for record in [
            MAIN_360P,
            MAIN10_1080P_PQ,
            BT709_FULL_RANGE,
            MAIN422_10_TEMPORAL,
            GRAY_1918X1078,
            KVAZAAR_360P,
            KITCHEN_SINK,
        ] {
            assert!(looks_like_hevc_record(record));
        }
        assert!(!looks_like_hevc_record(crate::codec::HIGH_360P));
        assert!(!looks_like_hevc_record(&[]));
        // MAIN_360P's arrays: VPS at 22, SPS at 52, PPS at 99.
        let mut no_vps = MAIN_360P[..22].to_vec();
        no_vps.push(2);
        no_vps.extend_from_slice(&MAIN_360P[52..]);
        assert!(HevcConfig::parse(&no_vps).is_ok());
        assert!(!looks_like_hevc_record(&no_vps));
        let mut other_type = MAIN_360P.to_vec();
        other_type[99] = 0x80 | 35; // the PPS array claims to hold access unit delimiters
        assert!(HevcConfig::parse(&other_type).is_ok());
        assert!(!looks_like_hevc_record(&other_type));
        let mut wrong_header = MAIN_360P.to_vec();
        wrong_header[104] = 0x46; // the PPS's own header says AUD
        assert!(!looks_like_hevc_record(&wrong_header));
    }

    #[test]
    fn malformed_records_are_errors() {
        let mut r = MAIN_360P.to_vec();
        r[0] = 0;
        assert_eq!(HevcConfig::parse(&r), Err(CodecError::Invalid { what: "hvcC configurationVersion", value: 0 }));
        let mut r = MAIN_360P.to_vec();
        r[21] = (r[21] & !3) | 2;
        assert_eq!(HevcConfig::parse(&r), Err(CodecError::Invalid { what: "hvcC lengthSizeMinusOne", value: 2 }));
        let mut r = MAIN_360P[..22].to_vec();
        r.push(0);
        assert_eq!(HevcConfig::parse(&r), Err(CodecError::Unsupported("hvcC holds no SPS")));
        for n in 0..MAIN_360P.len() {
            assert!(HevcConfig::parse(&MAIN_360P[..n]).is_err(), "prefix of {n} bytes");
        }
    }

    #[test]
    fn sps_limits() {
        assert_eq!(HevcSps::parse(&small_sps(0, (64, 64), [0; 4], 0)).map(|s| (s.width, s.height)), Ok((64, 64)));
        assert_eq!(
            HevcSps::parse(&small_sps(2, (64, 48), [1, 2, 3, 4], 64)).map(|s| (s.width, s.height)),
            Ok((58, 34))
        );
        let err = |what, value| Err(CodecError::Invalid { what, value });
        assert_eq!(HevcSps::parse(&small_sps(7, (64, 64), [0; 4], 0)), err("SPS sps_max_sub_layers_minus1", 7));
        assert_eq!(HevcSps::parse(&small_sps(0, (64, 64), [0; 4], 65)), err("SPS num_short_term_ref_pic_sets", 65));
        assert_eq!(HevcSps::parse(&small_sps(0, (64, 64), [16, 16, 0, 0], 0)), err("SPS conformance window", 64));
        assert_eq!(HevcSps::parse(&small_sps(0, (0, 64), [0; 4], 0)), err("SPS picture size", 0));
        assert_eq!(HevcSps::parse(&small_sps(0, (65536, 64), [0; 4], 0)), err("SPS picture size", 65536));
        assert_eq!(
            HevcSps::parse(&[0x40, 0x01, 0x0C]),
            Err(CodecError::Invalid { what: "SPS nal_unit_type", value: 32 })
        );
    }

    #[test]
    fn any_input_returns() {
        let all = [
            MAIN_360P,
            MAIN10_1080P_PQ,
            BT709_FULL_RANGE,
            MAIN422_10_TEMPORAL,
            GRAY_1918X1078,
            KVAZAAR_360P,
            KITCHEN_SINK,
        ];
        for record in all {
            for n in 0..=record.len() {
                let _ = looks_like_hevc_record(&record[..n]);
                let _ = HevcSps::parse(&record[n..]);
            }
            let mut bytes = record.to_vec();
            for i in 0..bytes.len() {
                let original = bytes[i];
                for value in [original ^ 0x01, original ^ 0x80, original ^ 0xFF, 0, 0xFF] {
                    bytes[i] = value;
                    if let Ok(c) = HevcConfig::parse(&bytes) {
                        let _ = (c.codec_string(), c.is_irap(&bytes), c.sps.fps());
                    }
                }
                bytes[i] = original;
            }
        }
        let c = config(MAIN_360P);
        for n in 0..=CRA_SAMPLE.len() {
            let _ = c.is_irap(&CRA_SAMPLE[..n]);
            let _ = c.is_irap(&[0xFF; 8][..n.min(8)]);
        }
    }

    #[test]
    fn emulation_prevention_is_removed() {
        assert_eq!(unescape_nal(&[0, 0, 3, 1, 0, 0, 3]), [0, 0, 1, 0, 0]);
    }
}

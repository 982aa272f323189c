//! AV1: `AV1CodecConfigurationRecord` (AV1-ISOBMFF v1.2.0 §2.3), the sequence header OBU (AV1
//! §5.5), the codecs parameter string (AV1-ISOBMFF §5) and samples made from low-overhead temporal
//! units (AV1-ISOBMFF §2.4, AV1 §5.3).

use alloc::{string::String, vec::Vec};

use super::{bits::BitReader, CodecError};

/// Longest `av1C` accepted; real ones are a sequence header OBU of 10 to 30 bytes, perhaps with
/// metadata OBUs.
pub const MAX_AV1C_LEN: usize = 4096;

/// Most bytes in a `leb128()` value (AV1 §4.10.5).
pub const MAX_LEB128_LEN: usize = 8;

/// `obu_type` values (AV1 §6.2.2, Table 6-1).
const OBU_SEQUENCE_HEADER: u8 = 1;
const OBU_TEMPORAL_DELIMITER: u8 = 2;
const OBU_FRAME_HEADER: u8 = 3;
const OBU_FRAME: u8 = 6;
const OBU_REDUNDANT_FRAME_HEADER: u8 = 7;
const OBU_TILE_LIST: u8 = 8;
const OBU_PADDING: u8 = 15;

/// The codecs string's optional part when every field holds its default (AV1-ISOBMFF §5).
const DEFAULT_CODEC_TAIL: &str = ".0.110.01.01.01.0";

/// Colour description from the sequence header's `color_config` (AV1 §5.5.2), ITU-T H.273 codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Av1Colour {
    /// `color_primaries`.
    pub primaries: u8,
    /// `transfer_characteristics`.
    pub transfer: u8,
    /// `matrix_coefficients`.
    pub matrix: u8,
}

/// An AV1 decoder configuration, as carried in the Enhanced RTMP `av01` SequenceStart (the `av1C`
/// payload).
///
/// Every field but `record` comes from the sequence header OBU in `configOBUs`. AV1-ISOBMFF §2.3.4
/// requires the record's copies of them to be equal; where an encoder got them wrong, the
/// sequence header wins, since the codecs string must describe the bitstream, and
/// [`Av1Config::write_av1c`] writes a record that agrees with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Av1Config {
    /// The whole `AV1CodecConfigurationRecord`, byte for byte as received.
    pub record: Vec<u8>,
    /// `seq_profile` (0 Main, 1 High, 2 Professional).
    pub seq_profile: u8,
    /// `seq_level_idx[0]` (level 2.0 is 0, 2.1 is 1, …; 31 is no level).
    pub seq_level_idx_0: u8,
    /// `seq_tier[0]`: the High tier.
    pub seq_tier_0: bool,
    /// `high_bitdepth`.
    pub high_bitdepth: bool,
    /// `twelve_bit` (false where the sequence header has none).
    pub twelve_bit: bool,
    /// `mono_chrome`.
    pub monochrome: bool,
    /// `subsampling_x`.
    pub chroma_subsampling_x: bool,
    /// `subsampling_y`.
    pub chroma_subsampling_y: bool,
    /// `chroma_sample_position` (0 unknown, 1 vertical, 2 colocated); 0 unless 4:2:0.
    pub chroma_sample_position: u8,
    /// `BitDepth` (8, 10 or 12).
    pub bit_depth: u8,
    /// The colour description, when `color_description_present_flag` is set.
    pub colour: Option<Av1Colour>,
    /// `color_range`: full range.
    pub full_range: bool,
    /// `reduced_still_picture_header`: frame headers start without `show_existing_frame`.
    pub reduced_still_picture_header: bool,
    /// `max_frame_width_minus_1 + 1`.
    pub width: u32,
    /// `max_frame_height_minus_1 + 1`.
    pub height: u32,
    /// Frame rate from `timing_info` with `equal_picture_interval`, as (`time_scale`,
    /// `num_units_in_display_tick` × (`num_ticks_per_picture_minus_1` + 1)). Informative only:
    /// AV1-ISOBMFF §2.3.4 has ISOBMFF timing override it.
    pub frame_rate: Option<(u32, u32)>,
    /// The sequence header OBU as found in `configOBUs`: header, size field and payload.
    pub sequence_header: Vec<u8>,
}

/// One OBU of a low-overhead bitstream (AV1 §5.3).
struct Obu<'a> {
    obu_type: u8,
    /// `obu_header()`: one byte, two with `obu_extension_flag`.
    header: &'a [u8],
    has_size_field: bool,
    payload: &'a [u8],
    /// Header, size field and payload, as they were.
    bytes: &'a [u8],
}

/// `leb128()` (AV1 §4.10.5), at most [`MAX_LEB128_LEN`] bytes: the value and its length.
fn leb128(buf: &[u8]) -> Result<(u64, usize), CodecError> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().take(MAX_LEB128_LEN).enumerate() {
        value |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if buf.len() >= MAX_LEB128_LEN {
        Err(CodecError::Invalid { what: "leb128 length", value: u32::try_from(MAX_LEB128_LEN + 1).unwrap_or(u32::MAX) })
    } else {
        Err(CodecError::Truncated("leb128"))
    }
}

/// Writes `value` as the shortest `leb128()`.
fn write_leb128(mut value: usize, out: &mut Vec<u8>) {
    loop {
        let byte = value.to_le_bytes()[0] & 0x7F;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Splits the first OBU off `buf` (AV1 §5.3.1); one without a size field runs to the end.
fn next_obu(buf: &[u8]) -> Result<(Obu<'_>, &[u8]), CodecError> {
    const WHAT: &str = "OBU";
    let &first = buf.first().ok_or(CodecError::Truncated(WHAT))?;
    if first & 0x80 != 0 {
        return Err(CodecError::Invalid { what: "obu_forbidden_bit", value: 1 });
    }
    let header_len = if first & 0x04 != 0 { 2 } else { 1 };
    let (header, rest) = buf.split_at_checked(header_len).ok_or(CodecError::Truncated(WHAT))?;
    let has_size_field = first & 0x02 != 0;
    let (payload, tail) = if has_size_field {
        let (size, size_len) = leb128(rest)?;
        let after = rest.get(size_len..).ok_or(CodecError::Truncated(WHAT))?;
        let size = usize::try_from(size).map_err(|_| CodecError::Truncated(WHAT))?;
        after.split_at_checked(size).ok_or(CodecError::Truncated(WHAT))?
    } else {
        (rest, &[][..])
    };
    let bytes = buf.get(..buf.len() - tail.len()).ok_or(CodecError::Truncated(WHAT))?;
    Ok((Obu { obu_type: (first >> 3) & 0x0F, header, has_size_field, payload, bytes }, tail))
}

/// The OBUs of a buffer in order; the first error ends it.
struct Obus<'a>(&'a [u8]);

impl<'a> Iterator for Obus<'a> {
    type Item = Result<Obu<'a>, CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        match next_obu(self.0) {
            Ok((obu, rest)) => {
                self.0 = rest;
                Some(Ok(obu))
            }
            Err(e) => {
                self.0 = &[];
                Some(Err(e))
            }
        }
    }
}

/// `uvlc()` (AV1 §4.10.3): 32 or more leading zeros mean 2³² − 1.
fn uvlc(r: &mut BitReader<'_>) -> Result<u32, CodecError> {
    let mut zeros = 0u32;
    while !r.bit()? {
        zeros = zeros.saturating_add(1);
    }
    if zeros >= 32 {
        return Ok(u32::MAX);
    }
    let value = r.bits(zeros)?;
    // zeros < 32, value < 2^zeros: at most 2^32 - 2.
    Ok((1u32 << zeros) - 1 + value)
}

/// What a sequence header OBU says (AV1 §5.5), in [`Av1Config`]'s terms.
struct SequenceHeader {
    profile: u8,
    reduced_still_picture_header: bool,
    level_idx_0: u8,
    tier_0: bool,
    frame_rate: Option<(u32, u32)>,
    width: u32,
    height: u32,
    high_bitdepth: bool,
    twelve_bit: bool,
    bit_depth: u8,
    monochrome: bool,
    subsampling_x: bool,
    subsampling_y: bool,
    chroma_sample_position: u8,
    colour: Option<Av1Colour>,
    full_range: bool,
}

/// Parses a sequence header OBU's payload (`sequence_header_obu()`, AV1 §5.5.1).
fn parse_sequence_header(payload: &[u8]) -> Result<SequenceHeader, CodecError> {
    let mut r = BitReader::new(payload, "AV1 sequence header");
    let profile = r.u8(3)?;
    if profile > 2 {
        return Err(CodecError::Invalid { what: "AV1 seq_profile", value: profile.into() });
    }
    r.skip(1)?; // still_picture
    let reduced = r.bit()?;
    let mut frame_rate = None;
    let (level_idx_0, tier_0) = if reduced {
        (r.u8(5)?, false)
    } else {
        // `buffer_delay_length_minus_1 + 1` when decoder_model_info is present.
        let mut buffer_delay_len = None;
        if r.bit()? {
            // timing_info() (§5.5.3)
            let units = r.bits(32)?;
            let scale = r.bits(32)?;
            if r.bit()? {
                let ticks = u64::from(uvlc(&mut r)?) + 1;
                if units > 0 && scale > 0 {
                    frame_rate = u32::try_from(u64::from(units) * ticks).ok().map(|d| (scale, d));
                }
            }
            if r.bit()? {
                // decoder_model_info() (§5.5.4)
                buffer_delay_len = Some(r.bits(5)? as usize + 1);
                r.skip(32 + 5 + 5)?;
            }
        }
        let initial_display_delay_present = r.bit()?;
        let operating_points = r.bits(5)? + 1;
        let mut first = (0, false);
        for i in 0..operating_points {
            r.skip(12)?; // operating_point_idc
            let level = r.u8(5)?;
            let tier = level > 7 && r.bit()?;
            if i == 0 {
                first = (level, tier);
            }
            if let Some(n) = buffer_delay_len {
                if r.bit()? {
                    // operating_parameters_info() (§5.5.5)
                    r.skip(2 * n + 1)?;
                }
            }
            if initial_display_delay_present && r.bit()? {
                r.skip(4)?; // initial_display_delay_minus_1
            }
        }
        first
    };
    let width_bits = r.bits(4)? + 1;
    let height_bits = r.bits(4)? + 1;
    let width = r.bits(width_bits)? + 1;
    let height = r.bits(height_bits)? + 1;
    if !reduced && r.bit()? {
        r.skip(4 + 3)?; // delta_frame_id_length_minus_2, additional_frame_id_length_minus_1
    }
    r.skip(3)?; // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if !reduced {
        r.skip(4)?; // interintra, masked compound, warped motion, dual filter
        let order_hint = r.bit()?;
        if order_hint {
            r.skip(2)?; // enable_jnt_comp, enable_ref_frame_mvs
        }
        // seq_choose_screen_content_tools, else seq_force_screen_content_tools
        let screen_content_tools = r.bit()? || r.bit()?;
        if screen_content_tools && !r.bit()? {
            r.skip(1)?; // seq_force_integer_mv
        }
        if order_hint {
            r.skip(3)?; // order_hint_bits_minus_1
        }
    }
    r.skip(3)?; // enable_superres, enable_cdef, enable_restoration

    // color_config() (§5.5.2)
    let high_bitdepth = r.bit()?;
    let twelve_bit = profile == 2 && high_bitdepth && r.bit()?;
    let bit_depth = match (high_bitdepth, twelve_bit) {
        (_, true) => 12,
        (true, false) => 10,
        (false, false) => 8,
    };
    let monochrome = profile != 1 && r.bit()?;
    let colour =
        if r.bit()? { Some(Av1Colour { primaries: r.u8(8)?, transfer: r.u8(8)?, matrix: r.u8(8)? }) } else { None };
    let (full_range, subsampling_x, subsampling_y, chroma_sample_position);
    if monochrome {
        (full_range, subsampling_x, subsampling_y, chroma_sample_position) = (r.bit()?, true, true, 0);
    } else if colour == Some(Av1Colour { primaries: 1, transfer: 13, matrix: 0 }) {
        // BT.709 primaries, sRGB transfer, identity matrix: 4:4:4 RGB.
        (full_range, subsampling_x, subsampling_y, chroma_sample_position) = (true, false, false, 0);
        r.skip(1)?; // separate_uv_delta_q
    } else {
        full_range = r.bit()?;
        (subsampling_x, subsampling_y) = match profile {
            0 => (true, true),
            1 => (false, false),
            _ if bit_depth == 12 => {
                let x = r.bit()?;
                (x, x && r.bit()?)
            }
            _ => (true, false),
        };
        chroma_sample_position = if subsampling_x && subsampling_y { r.u8(2)? } else { 0 };
        r.skip(1)?; // separate_uv_delta_q
    }
    r.skip(1)?; // film_grain_params_present
    Ok(SequenceHeader {
        profile,
        reduced_still_picture_header: reduced,
        level_idx_0,
        tier_0,
        frame_rate,
        width,
        height,
        high_bitdepth,
        twelve_bit,
        bit_depth,
        monochrome,
        subsampling_x,
        subsampling_y,
        chroma_sample_position,
        colour,
        full_range,
    })
}

impl Av1Config {
    /// Parses an `AV1CodecConfigurationRecord` (AV1-ISOBMFF §2.3.3) and the sequence header OBU
    /// in its `configOBUs`.
    ///
    /// `configOBUs` may be empty by the specification, but then only the samples describe the
    /// stream and an init segment could not: a record without a sequence header OBU is
    /// [`CodecError::Unsupported`]. The empty one ffmpeg 8 and later send first is
    /// [`CodecError::Truncated`].
    pub fn parse(record: &[u8]) -> Result<Self, CodecError> {
        const WHAT: &str = "AV1CodecConfigurationRecord";
        if record.len() > MAX_AV1C_LEN {
            return Err(CodecError::Unsupported("AV1CodecConfigurationRecord is larger than 4096 bytes"));
        }
        let (head, config_obus) = record.split_at_checked(4).ok_or(CodecError::Truncated(WHAT))?;
        let &[marker_version, ..] = head else { return Err(CodecError::Truncated(WHAT)) };
        if marker_version & 0x80 == 0 {
            return Err(CodecError::Invalid { what: "av1C marker", value: 0 });
        }
        if marker_version & 0x7F != 1 {
            return Err(CodecError::Invalid { what: "av1C version", value: (marker_version & 0x7F).into() });
        }
        let mut sequence_header = None;
        for obu in Obus(config_obus) {
            let obu = obu?;
            if !obu.has_size_field {
                return Err(CodecError::Invalid { what: "av1C configOBUs obu_has_size_field", value: 0 });
            }
            if obu.obu_type == OBU_SEQUENCE_HEADER && sequence_header.is_none() {
                sequence_header = Some(obu);
            }
        }
        let obu = sequence_header.ok_or(CodecError::Unsupported(
            "av1C holds no sequence header OBU (one is required to describe the stream)",
        ))?;
        let seq = parse_sequence_header(obu.payload)?;
        Ok(Self {
            record: record.to_vec(),
            seq_profile: seq.profile,
            seq_level_idx_0: seq.level_idx_0,
            seq_tier_0: seq.tier_0,
            high_bitdepth: seq.high_bitdepth,
            twelve_bit: seq.twelve_bit,
            monochrome: seq.monochrome,
            chroma_subsampling_x: seq.subsampling_x,
            chroma_subsampling_y: seq.subsampling_y,
            chroma_sample_position: seq.chroma_sample_position,
            bit_depth: seq.bit_depth,
            colour: seq.colour,
            full_range: seq.full_range,
            reduced_still_picture_header: seq.reduced_still_picture_header,
            width: seq.width,
            height: seq.height,
            frame_rate: seq.frame_rate,
            sequence_header: obu.bytes.to_vec(),
        })
    }

    /// The `av1C` payload to write: `record` with its second and third bytes (profile, level,
    /// tier, bit depth, chroma) set from the sequence header (AV1-ISOBMFF §2.3.3); identical to
    /// `record` when the encoder filled them in right.
    pub fn write_av1c(&self, out: &mut Vec<u8>) {
        let flag = |b: bool, shift: u8| u8::from(b) << shift;
        out.push(0x81);
        out.push((self.seq_profile << 5) | (self.seq_level_idx_0 & 0x1F));
        out.push(
            flag(self.seq_tier_0, 7)
                | flag(self.high_bitdepth, 6)
                | flag(self.twelve_bit, 5)
                | flag(self.monochrome, 4)
                | flag(self.chroma_subsampling_x, 3)
                | flag(self.chroma_subsampling_y, 2)
                | (self.chroma_sample_position & 0x03),
        );
        out.push(self.record.get(3).map_or(0, |b| b & 0x1F));
        out.extend_from_slice(self.record.get(4..).unwrap_or_default());
    }

    /// The codecs parameter string (AV1-ISOBMFF §5), `av01.P.LLT.DD`, followed by
    /// `.M.CCC.cp.tc.mc.F` unless those are all the defaults (`.0.110.01.01.01.0`), as that
    /// part is all or none. Without a colour description cp, tc and mc are the defaults (01,
    /// BT.709) and F is still `color_range` (the v1.3.0 wording); a `colr` box, if the caller
    /// writes one, must say the same.
    pub fn codec_string(&self) -> String {
        let tier = if self.seq_tier_0 { 'H' } else { 'M' };
        let mut s = alloc::format!("av01.{}.{:02}{tier}.{:02}", self.seq_profile, self.seq_level_idx_0, self.bit_depth);
        let c = self.colour.unwrap_or(Av1Colour { primaries: 1, transfer: 1, matrix: 1 });
        let (x, y) = (self.chroma_subsampling_x, self.chroma_subsampling_y);
        let position = if x && y { self.chroma_sample_position } else { 0 };
        let tail = alloc::format!(
            ".{}.{}{}{}.{:02}.{:02}.{:02}.{}",
            u8::from(self.monochrome),
            u8::from(x),
            u8::from(y),
            position,
            c.primaries,
            c.transfer,
            c.matrix,
            u8::from(self.full_range)
        );
        if tail != DEFAULT_CODEC_TAIL {
            s.push_str(&tail);
        }
        s
    }

    /// Appends the ISOBMFF sample for a temporal unit (low-overhead OBUs, as Enhanced RTMP
    /// carries it) to `out` and returns its length (AV1-ISOBMFF §2.4): temporal delimiter,
    /// redundant frame header and padding OBUs (which SHOULD NOT be there) and tile list OBUs
    /// (which SHALL NOT) are dropped, and an OBU without a size field, which runs to the end and
    /// so is the last, gets one. On error `out` is left as it was.
    pub fn write_sample(temporal_unit: &[u8], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        let start = out.len();
        out.reserve(temporal_unit.len().saturating_add(MAX_LEB128_LEN));
        for obu in Obus(temporal_unit) {
            let obu = match obu {
                Ok(obu) => obu,
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            };
            match obu.obu_type {
                OBU_TEMPORAL_DELIMITER | OBU_REDUNDANT_FRAME_HEADER | OBU_TILE_LIST | OBU_PADDING => {}
                _ if obu.has_size_field => out.extend_from_slice(obu.bytes),
                _ => {
                    let (&first, extension) = obu.header.split_first().unwrap_or((&0, &[]));
                    out.push(first | 0x02);
                    out.extend_from_slice(extension);
                    write_leb128(obu.payload.len(), out);
                    out.extend_from_slice(obu.payload);
                }
            }
        }
        Ok(out.len() - start)
    }

    /// Whether a temporal unit is a sync sample (AV1-ISOBMFF §2.4): a sequence header OBU comes
    /// before the first frame header, and that frame is a key frame with `show_frame` set
    /// (`uncompressed_header()`, AV1 §5.9.2). A `show_existing_frame` header is not one.
    pub fn is_sync(&self, temporal_unit: &[u8]) -> bool {
        let mut sequence_header = false;
        for obu in Obus(temporal_unit) {
            let Ok(obu) = obu else { return false };
            match obu.obu_type {
                OBU_SEQUENCE_HEADER => sequence_header = true,
                OBU_FRAME_HEADER | OBU_FRAME => {
                    return sequence_header && self.shows_key_frame(obu.payload).unwrap_or(false);
                }
                _ => {}
            }
        }
        false
    }

    /// Whether a frame header starts a shown key frame.
    fn shows_key_frame(&self, frame_header: &[u8]) -> Result<bool, CodecError> {
        if self.reduced_still_picture_header {
            // A reduced still picture header implies a shown key frame.
            return Ok(!frame_header.is_empty());
        }
        let mut r = BitReader::new(frame_header, "AV1 frame header");
        if r.bit()? {
            return Ok(false); // show_existing_frame
        }
        let frame_type = r.bits(2)?;
        Ok(frame_type == 0 && r.bit()?)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use alloc::vec;

    use super::*;

    // Made with ffmpeg 9.0.2 (`-f lavfi -i testsrc2=size=640x360:rate=30 ... -f flv`): the
    // SequenceStart tag body after `av01`. `*_TU*` are coded-frames tag bodies after `av01`;
    // `*_SAMPLE*` are the same frames in an MP4 ffmpeg muxed from that FLV with `-c copy`.
    /// av1C: libsvtav1, 640×360 yuv420p.
    pub(crate) const SVT_8BIT: &[u8] =
        &[0x81, 0x01, 0x0C, 0x00, 0x0A, 0x0C, 0x02, 0x00, 0x00, 0x0D, 0x66, 0x27, 0xFB, 0x38, 0x05, 0xF0, 0x00, 0x80];
    /// av1C: libsvtav1, 640×360 yuv420p10le.
    pub(crate) const SVT_10BIT: &[u8] =
        &[0x81, 0x01, 0x4C, 0x00, 0x0A, 0x0C, 0x02, 0x00, 0x00, 0x0D, 0x66, 0x27, 0xFB, 0x38, 0x05, 0xF0, 0x80, 0x80];
    /// av1C: libsvtav1, 640×360 yuv420p10le tagged BT.2020 / PQ / BT.2020 NCL.
    pub(crate) const SVT_10BIT_PQ: &[u8] = &[
        0x81, 0x01, 0x4C, 0x00, 0x0A, 0x0F, 0x02, 0x00, 0x00, 0x0D, 0x66, 0x27, 0xFB, 0x38, 0x05, 0xF0, 0xA1, 0x22,
        0x01, 0x20, 0x80,
    ];
    /// av1C: libaom-av1, 640×360 yuv420p.
    pub(crate) const AOM_8BIT: &[u8] =
        &[0x81, 0x01, 0x0C, 0x00, 0x0A, 0x0B, 0x00, 0x00, 0x00, 0x0C, 0xC4, 0xFF, 0x67, 0x36, 0xBE, 0x40, 0x10];
    /// av1C: libaom-av1, 640×360 yuv420p10le.
    pub(crate) const AOM_10BIT: &[u8] =
        &[0x81, 0x01, 0x4C, 0x00, 0x0A, 0x0B, 0x00, 0x00, 0x00, 0x0C, 0xC4, 0xFF, 0x67, 0x36, 0xBE, 0x50, 0x10];
    /// av1C: libaom-av1, 640×360 yuv420p tagged BT.709, full range.
    pub(crate) const AOM_BT709_FULL: &[u8] = &[
        0x81, 0x01, 0x0C, 0x00, 0x0A, 0x0E, 0x00, 0x00, 0x00, 0x0C, 0xC4, 0xFF, 0x67, 0x36, 0xBE, 0x44, 0x04, 0x04,
        0x06, 0x10,
    ];
    /// av1C: libaom-av1 `-aom-params timing-info=constant`, 640×360 at 30 fps.
    pub(crate) const AOM_TIMING: &[u8] = &[
        0x81, 0x01, 0x0C, 0x00, 0x0A, 0x14, 0x04, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x7B, 0x40, 0x00, 0x01,
        0xBC, 0xC4, 0xFF, 0x67, 0x36, 0xBE, 0x40, 0x10,
    ];
    /// av1C: libaom-av1, 320×240 gray (monochrome, full range).
    pub(crate) const AOM_MONO: &[u8] =
        &[0x81, 0x00, 0x1C, 0x00, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x04, 0x3C, 0xFF, 0xBC, 0xDA, 0xF9, 0x2A];
    /// av1C: libaom-av1, 320×240 yuv444p (High profile).
    pub(crate) const AOM_444: &[u8] =
        &[0x81, 0x20, 0x00, 0x00, 0x0A, 0x0A, 0x20, 0x00, 0x00, 0x04, 0x3C, 0xFF, 0xBC, 0xDA, 0xF9, 0x02];
    /// av1C: libaom-av1 `-crf 63`, 64×64 flat gray.
    pub(crate) const AOM_TINY: &[u8] =
        &[0x81, 0x00, 0x0C, 0x00, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x02, 0xAF, 0xFF, 0x9B, 0x5F, 0x20, 0x08];
    /// av1C: libsvtav1 `-crf 63`, 64×64 flat gray.
    pub(crate) const SVT_TINY: &[u8] =
        &[0x81, 0x00, 0x0C, 0x00, 0x0A, 0x0B, 0x02, 0x00, 0x00, 0x05, 0x55, 0x7F, 0xFC, 0x02, 0xF8, 0x00, 0x40];
    /// Temporal unit 0 of AOM_TINY as the FLV carries it.
    pub(crate) const AOM_TINY_TU0: &[u8] = &[
        0x12, 0x00, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x02, 0xAF, 0xFF, 0x9B, 0x5F, 0x20, 0x08, 0x32, 0x0B, 0x10, 0x00,
        0xEF, 0x00, 0x00, 0x02, 0xC0, 0x00, 0x00, 0x06, 0x80,
    ];
    /// Sample 0 of the MP4 ffmpeg muxed from it.
    pub(crate) const AOM_TINY_SAMPLE0: &[u8] = &[
        0x0A, 0x0A, 0x00, 0x00, 0x00, 0x02, 0xAF, 0xFF, 0x9B, 0x5F, 0x20, 0x08, 0x32, 0x0B, 0x10, 0x00, 0xEF, 0x00,
        0x00, 0x02, 0xC0, 0x00, 0x00, 0x06, 0x80,
    ];
    /// Temporal unit 1 of AOM_TINY as the FLV carries it.
    pub(crate) const AOM_TINY_TU1: &[u8] = &[
        0x12, 0x00, 0x32, 0x11, 0x20, 0x04, 0xE0, 0x40, 0x00, 0x00, 0x03, 0x7F, 0xC0, 0x00, 0x01, 0x60, 0x00, 0x10,
        0x00, 0x99, 0x10, 0x32, 0x11, 0x28, 0x02, 0xE0, 0x80, 0x00, 0x20, 0x03, 0x7B, 0x80, 0x00, 0x01, 0x60, 0x00,
        0x38, 0x00, 0x9C, 0xC0, 0x32, 0x11, 0x30, 0x03, 0xC2, 0x00, 0x00, 0x81, 0x06, 0xFF, 0x80, 0x00, 0x02, 0xC0,
        0x00, 0x70, 0x00, 0x9C, 0xC0,
    ];
    /// Sample 1 of the MP4 ffmpeg muxed from it.
    pub(crate) const AOM_TINY_SAMPLE1: &[u8] = &[
        0x32, 0x11, 0x20, 0x04, 0xE0, 0x40, 0x00, 0x00, 0x03, 0x7F, 0xC0, 0x00, 0x01, 0x60, 0x00, 0x10, 0x00, 0x99,
        0x10, 0x32, 0x11, 0x28, 0x02, 0xE0, 0x80, 0x00, 0x20, 0x03, 0x7B, 0x80, 0x00, 0x01, 0x60, 0x00, 0x38, 0x00,
        0x9C, 0xC0, 0x32, 0x11, 0x30, 0x03, 0xC2, 0x00, 0x00, 0x81, 0x06, 0xFF, 0x80, 0x00, 0x02, 0xC0, 0x00, 0x70,
        0x00, 0x9C, 0xC0,
    ];
    /// Temporal unit 2 of AOM_TINY as the FLV carries it.
    pub(crate) const AOM_TINY_TU2: &[u8] = &[0x12, 0x00, 0x1A, 0x01, 0xA8];
    /// Temporal unit 0 of SVT_TINY as the FLV carries it.
    pub(crate) const SVT_TINY_TU0: &[u8] = &[
        0x12, 0x00, 0x0A, 0x0B, 0x02, 0x00, 0x00, 0x05, 0x55, 0x7F, 0xFC, 0x6A, 0xF9, 0x80, 0x40, 0x32, 0x0D, 0x10,
        0x00, 0xEA, 0x82, 0x35, 0xD5, 0xA6, 0x83, 0x00, 0x00, 0x08, 0x01, 0x10,
    ];
    /// Sample 0 of the MP4 ffmpeg muxed from it.
    pub(crate) const SVT_TINY_SAMPLE0: &[u8] = &[
        0x0A, 0x0B, 0x02, 0x00, 0x00, 0x05, 0x55, 0x7F, 0xFC, 0x6A, 0xF9, 0x80, 0x40, 0x32, 0x0D, 0x10, 0x00, 0xEA,
        0x82, 0x35, 0xD5, 0xA6, 0x83, 0x00, 0x00, 0x08, 0x01, 0x10,
    ];
    /// Temporal unit 1 of SVT_TINY as the FLV carries it.
    pub(crate) const SVT_TINY_TU1: &[u8] = &[
        0x12, 0x00, 0x32, 0x11, 0x28, 0x04, 0x00, 0x40, 0x00, 0x00, 0x1D, 0xFF, 0x00, 0x00, 0x03, 0x00, 0x00, 0x0C,
        0x00, 0x9C, 0x10, 0x32, 0x11, 0x28, 0x02, 0x02, 0x00, 0x00, 0x24, 0x9D, 0xFF, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x06, 0x00, 0x9B, 0x70, 0x32, 0x11, 0x30, 0x03, 0x00, 0x00, 0x01, 0x0C, 0x3B, 0xFE, 0x00, 0x00, 0x06, 0x00,
        0x88, 0x0C, 0x00, 0x96, 0x40,
    ];
    /// Sample 1 of the MP4 ffmpeg muxed from it.
    pub(crate) const SVT_TINY_SAMPLE1: &[u8] = &[
        0x32, 0x11, 0x28, 0x04, 0x00, 0x40, 0x00, 0x00, 0x1D, 0xFF, 0x00, 0x00, 0x03, 0x00, 0x00, 0x0C, 0x00, 0x9C,
        0x10, 0x32, 0x11, 0x28, 0x02, 0x02, 0x00, 0x00, 0x24, 0x9D, 0xFF, 0x00, 0x00, 0x01, 0x00, 0x00, 0x06, 0x00,
        0x9B, 0x70, 0x32, 0x11, 0x30, 0x03, 0x00, 0x00, 0x01, 0x0C, 0x3B, 0xFE, 0x00, 0x00, 0x06, 0x00, 0x88, 0x0C,
        0x00, 0x96, 0x40,
    ];
    /// Temporal unit 2 of SVT_TINY as the FLV carries it.
    pub(crate) const SVT_TINY_TU2: &[u8] = &[0x12, 0x00, 0x1A, 0x01, 0xC8];

    /// Every real record, with its codecs string written by hand from AV1-ISOBMFF §5.
    const RECORDS: [(&[u8], &str); 11] = [
        (SVT_8BIT, "av01.0.01M.08"),
        (SVT_10BIT, "av01.0.01M.10"),
        (SVT_10BIT_PQ, "av01.0.01M.10.0.110.09.16.09.0"),
        (AOM_8BIT, "av01.0.01M.08"),
        (AOM_10BIT, "av01.0.01M.10"),
        (AOM_BT709_FULL, "av01.0.01M.08.0.110.01.01.01.1"),
        (AOM_TIMING, "av01.0.01M.08"),
        (AOM_MONO, "av01.0.00M.08.1.110.01.01.01.1"),
        (AOM_444, "av01.1.00M.08.0.000.01.01.01.0"),
        (AOM_TINY, "av01.0.00M.08"),
        (SVT_TINY, "av01.0.00M.08"),
    ];

    /// Calls `f` on every prefix of `bytes` and on `bytes` with each byte flipped in a few ways.
    pub(crate) fn prefixes_and_mutations(bytes: &[u8], mut f: impl FnMut(&[u8])) {
        for n in 0..bytes.len() {
            f(&bytes[..n]);
        }
        let mut m = bytes.to_vec();
        for i in 0..m.len() {
            for flip in [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF] {
                m[i] ^= flip;
                f(&m);
                m[i] ^= flip;
            }
        }
    }

    #[test]
    fn codec_strings_of_real_records() {
        for (record, expected) in RECORDS {
            let c = Av1Config::parse(record).unwrap();
            assert_eq!(c.codec_string(), expected, "{record:02X?}");
            let mut av1c = Vec::new();
            c.write_av1c(&mut av1c);
            assert_eq!(av1c, record, "the encoders' records agree with their sequence headers");
            assert_eq!(c.record, record);
        }
    }

    #[test]
    fn svt_8bit_640x360() {
        let c = Av1Config::parse(SVT_8BIT).unwrap();
        assert_eq!((c.seq_profile, c.seq_level_idx_0, c.seq_tier_0, c.bit_depth), (0, 1, false, 8));
        assert_eq!((c.width, c.height), (640, 360));
        assert_eq!((c.chroma_subsampling_x, c.chroma_subsampling_y, c.chroma_sample_position), (true, true, 0));
        assert_eq!((c.monochrome, c.colour, c.full_range, c.frame_rate), (false, None, false, None));
        assert!(!c.reduced_still_picture_header);
        assert_eq!(c.sequence_header, SVT_8BIT[4..]);
    }

    #[test]
    fn ten_bit_pq_and_full_range_colour() {
        let c = Av1Config::parse(SVT_10BIT_PQ).unwrap();
        assert_eq!((c.high_bitdepth, c.twelve_bit, c.bit_depth), (true, false, 10));
        assert_eq!(c.colour, Some(Av1Colour { primaries: 9, transfer: 16, matrix: 9 }));
        assert!(!c.full_range);
        let c = Av1Config::parse(AOM_BT709_FULL).unwrap();
        assert_eq!(c.colour, Some(Av1Colour { primaries: 1, transfer: 1, matrix: 1 }));
        assert!(c.full_range);
    }

    #[test]
    fn monochrome_444_and_timing_info() {
        let c = Av1Config::parse(AOM_MONO).unwrap();
        assert!(c.monochrome && c.full_range);
        assert_eq!((c.width, c.height), (320, 240));
        let c = Av1Config::parse(AOM_444).unwrap();
        assert_eq!((c.seq_profile, c.chroma_subsampling_x, c.chroma_subsampling_y), (1, false, false));
        let c = Av1Config::parse(AOM_TIMING).unwrap();
        let (n, d) = c.frame_rate.unwrap();
        assert_eq!(f64::from(n) / f64::from(d), 30.0);
    }

    #[test]
    fn codec_string_omits_only_an_all_default_tail() {
        let mut c = Av1Config::parse(AOM_8BIT).unwrap();
        c.colour = Some(Av1Colour { primaries: 1, transfer: 1, matrix: 1 });
        assert_eq!(c.codec_string(), "av01.0.01M.08", "BT.709 said out loud is still the default");
        c.chroma_sample_position = 2;
        assert_eq!(c.codec_string(), "av01.0.01M.08.0.112.01.01.01.0");
        c.seq_level_idx_0 = 12;
        c.seq_tier_0 = true;
        c.chroma_sample_position = 0;
        assert_eq!(c.codec_string(), "av01.0.12H.08");
    }

    #[test]
    fn svt_in_band_sequence_header_differs_from_its_record_but_describes_the_same_stream() {
        let in_band = &SVT_TINY_TU0[2..15];
        assert_ne!(in_band, &SVT_TINY[4..]);
        let record = [&SVT_TINY[..4], in_band].concat();
        let (a, b) = (Av1Config::parse(SVT_TINY).unwrap(), Av1Config::parse(&record).unwrap());
        assert_eq!((a.codec_string(), a.width, a.height), (b.codec_string(), b.width, b.height));
    }

    #[test]
    fn libaom_sequence_starts_through_the_flv_layer() {
        use crate::flv::{VideoCodec, VideoPacket, VideoPacketType};
        // ffmpeg 8 and later send an empty SequenceStart before the real one.
        let empty = VideoPacket::parse(b"\x90av01").unwrap();
        assert_eq!(
            (empty.header.codec, empty.header.packet_type),
            (VideoCodec::Av1, Some(VideoPacketType::SequenceStart))
        );
        assert!(Av1Config::parse(empty.payload).is_err());
        let body = [&b"\x90av01"[..], AOM_8BIT].concat();
        let real = VideoPacket::parse(&body).unwrap();
        assert_eq!(Av1Config::parse(real.payload).unwrap().codec_string(), "av01.0.01M.08");
        let frame = [&b"\x91av01"[..], AOM_TINY_TU0].concat();
        assert_eq!(VideoPacket::parse(&frame).unwrap().payload, AOM_TINY_TU0, "no composition time for av01");
    }

    #[test]
    fn records_without_a_sequence_header_are_errors() {
        assert_eq!(Av1Config::parse(&[]), Err(CodecError::Truncated("AV1CodecConfigurationRecord")));
        assert!(matches!(Av1Config::parse(&AOM_8BIT[..4]), Err(CodecError::Unsupported(_))));
        // A metadata OBU only.
        assert!(matches!(Av1Config::parse(&[0x81, 0, 0x0C, 0, 0x2A, 0x01, 0x01]), Err(CodecError::Unsupported(_))));
        let mut bad = AOM_8BIT.to_vec();
        bad[0] = 0x01;
        assert_eq!(Av1Config::parse(&bad), Err(CodecError::Invalid { what: "av1C marker", value: 0 }));
        bad[0] = 0x82;
        assert_eq!(Av1Config::parse(&bad), Err(CodecError::Invalid { what: "av1C version", value: 2 }));
    }

    #[test]
    fn a_mismatched_record_is_repaired_from_the_sequence_header() {
        let mut wrong = SVT_10BIT.to_vec();
        wrong[1] = 0x05; // level 5 (3.1)
        wrong[2] = 0x0C; // 8-bit
        let c = Av1Config::parse(&wrong).unwrap();
        assert_eq!(c.codec_string(), "av01.0.01M.10");
        let mut av1c = Vec::new();
        c.write_av1c(&mut av1c);
        assert_eq!(av1c, SVT_10BIT);
    }

    #[test]
    fn samples_match_what_ffmpeg_muxed() {
        for (tu, sample) in
            [(AOM_TINY_TU0, AOM_TINY_SAMPLE0), (AOM_TINY_TU1, AOM_TINY_SAMPLE1), (SVT_TINY_TU0, SVT_TINY_SAMPLE0)]
                .into_iter()
                .chain([(SVT_TINY_TU1, SVT_TINY_SAMPLE1)])
        {
            let mut out = vec![0xEE];
            assert_eq!(Av1Config::write_sample(tu, &mut out), Ok(sample.len()));
            assert_eq!(out[1..], *sample);
        }
        let mut out = Vec::new();
        assert_eq!(Av1Config::write_sample(AOM_TINY_TU2, &mut out), Ok(3));
        assert_eq!(out, [0x1A, 0x01, 0xA8]);
    }

    #[test]
    fn samples_drop_padding_and_gain_size_fields() {
        // TU0 with a padding OBU (type 15, 2 bytes) before the frame, and the frame OBU's size field
        // removed (the last OBU may lack one).
        let (head, frame) = AOM_TINY_TU0.split_at(14);
        assert_eq!(frame[..2], [0x32, 0x0B]);
        let tu = [head, &[0x7A, 0x02, 0xAA, 0xBB], &[0x30], &frame[2..]].concat();
        let mut out = Vec::new();
        assert_eq!(Av1Config::write_sample(&tu, &mut out), Ok(AOM_TINY_SAMPLE0.len()));
        assert_eq!(out, AOM_TINY_SAMPLE0);
        // An extension header is kept.
        out.clear();
        assert_eq!(Av1Config::write_sample(&[0x34, 0x28, 0xAB, 0xCD], &mut out), Ok(5));
        assert_eq!(out, [0x36, 0x28, 0x02, 0xAB, 0xCD]);
        // A 200-byte payload needs a two-byte size.
        out.clear();
        let big = [&[0x30][..], &[0u8; 200]].concat();
        assert_eq!(Av1Config::write_sample(&big, &mut out), Ok(203));
        assert_eq!(out[..3], [0x32, 0xC8, 0x01]);
    }

    #[test]
    fn bad_sizes_are_errors_and_leave_out_alone() {
        let mut out = vec![1, 2, 3];
        // Size beyond the end.
        assert!(Av1Config::write_sample(&[0x12, 0x00, 0x32, 0x05, 0x00], &mut out).is_err());
        // Nine leb128 bytes.
        assert_eq!(
            Av1Config::write_sample(&[0x32, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], &mut out),
            Err(CodecError::Invalid { what: "leb128 length", value: 9 })
        );
        // Forbidden bit.
        assert!(Av1Config::write_sample(&[0xB2, 0x00], &mut out).is_err());
        assert_eq!(out, [1, 2, 3]);
        assert_eq!(leb128(&[0xE5, 0x8E, 0x26]), Ok((624485, 3)));
        let mut v = Vec::new();
        write_leb128(624485, &mut v);
        assert_eq!(v, [0xE5, 0x8E, 0x26]);
    }

    #[test]
    fn sync_samples_have_a_sequence_header_and_a_shown_key_frame() {
        let c = Av1Config::parse(AOM_TINY).unwrap();
        assert!(c.is_sync(AOM_TINY_TU0));
        assert!(c.is_sync(AOM_TINY_SAMPLE0));
        assert!(!c.is_sync(AOM_TINY_TU1), "inter frames");
        assert!(!c.is_sync(AOM_TINY_TU2), "show_existing_frame");
        assert!(!c.is_sync(&AOM_TINY_TU0[14..]), "a key frame without a sequence header");
        let s = Av1Config::parse(SVT_TINY).unwrap();
        assert!(s.is_sync(SVT_TINY_TU0));
        assert!(!s.is_sync(SVT_TINY_TU1) && !s.is_sync(SVT_TINY_TU2));
        assert!(!c.is_sync(&[]));
    }

    #[test]
    fn no_input_panics() {
        let c = Av1Config::parse(AOM_TINY).unwrap();
        let mut out = Vec::new();
        for (record, _) in RECORDS {
            prefixes_and_mutations(record, |b| {
                let _ = Av1Config::parse(b).map(|c| c.codec_string());
            });
        }
        for tu in [AOM_TINY_TU0, AOM_TINY_TU1, AOM_TINY_TU2, SVT_TINY_TU0, SVT_TINY_TU1] {
            prefixes_and_mutations(tu, |b| {
                out.clear();
                let _ = Av1Config::write_sample(b, &mut out);
                let _ = c.is_sync(b);
            });
        }
        // Cut inside an OBU a temporal unit is an error; cut between OBUs (after 0, 2 or 14 bytes) it is not.
        for n in 0..AOM_TINY_TU0.len() - 1 {
            out.clear();
            assert!(Av1Config::write_sample(&AOM_TINY_TU0[..n], &mut out).is_err() || [0, 2, 14].contains(&n), "{n}");
        }
    }
}

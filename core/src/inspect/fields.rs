//! The fields of single boxes, decoded by mp4-atom and flattened into [`Fields`].

use alloc::{format, string::String, string::ToString, vec::Vec};

use mp4_atom::{Any, Audio, Av1c, Avcc, Decode, Dops, Esds, Hvcc, Sbgp, Visual, VpcC};

use super::{FieldValue, Fields, MAX_ESDS_BYTES};

/// Full boxes (ISO/IEC 14496-12 §4.2.2) among the leaf boxes: their `version` and `flags` are
/// listed first.
const FULL_BOXES: &[&[u8; 4]] = &[
    b"mvhd", b"tkhd", b"mdhd", b"hdlr", b"vmhd", b"smhd", b"nmhd", b"sthd", b"hmhd", b"dref", b"stts", b"ctts",
    b"stsc", b"stsz", b"stz2", b"stco", b"co64", b"stss", b"cslg", b"elst", b"mehd", b"trex", b"mfhd", b"tfhd",
    b"tfdt", b"trun", b"sidx", b"prft", b"emsg", b"esds", b"sgpd", b"sbgp", b"saiz", b"saio", b"subs", b"senc",
    b"tfra", b"mfro", b"url ", b"urn ", b"elng", b"pdin", b"sdtp", b"leva", b"ssix", b"pssh", b"tenc", b"schm",
    b"iloc", b"iinf", b"pitm", b"iref", b"vpcC",
];

/// Leaf boxes handed to mp4-atom. Only types whose mp4-atom decoder neither recurses into
/// arbitrary child boxes (a stack risk on crafted input) nor loops on an untrusted count
/// without consuming bytes. `sgpd` is read by hand ([`sgpd_fields`]): mp4-atom's decoder
/// loops over its entry count on zero-length entries without consuming a byte.
const DECODED: &[&[u8; 4]] = &[
    b"ftyp", b"styp", b"mvhd", b"tkhd", b"mdhd", b"hdlr", b"vmhd", b"smhd", b"nmhd", b"sthd", b"hmhd", b"dref",
    b"stts", b"ctts", b"stsc", b"stsz", b"stco", b"co64", b"stss", b"cslg", b"elst", b"mehd", b"trex", b"mfhd",
    b"tfhd", b"tfdt", b"trun", b"sidx", b"prft", b"emsg", b"avcC", b"hvcC", b"av1C", b"vpcC", b"dOps", b"btrt",
    b"pasp", b"colr", b"esds", b"tfra", b"mfro", b"sbgp",
];

/// Edit list entries listed in the `elst` fields at most.
const MAX_LISTED_EDITS: usize = 16;

/// Sample group entries listed in the `sbgp` and `sgpd` fields at most.
const MAX_LISTED_GROUP_ENTRIES: usize = 16;

/// `group_description_index` values above this name a group description of the fragment's own
/// `sgpd` (ISO/IEC 14496-12 §8.9.4), counted from 1 above it.
const FRAGMENT_LOCAL_GROUPS: u32 = 0x1_0000;

/// Appends `version` and `flags` of a full box whose body starts at `body`.
pub(super) fn full_box_header(body: &[u8], out: &mut Fields) {
    if body.len() >= 4 {
        out.push("version", FieldValue::UInt(body[0].into()));
        out.push("flags", FieldValue::Hex(full_box_flags(body)));
    }
}

fn full_box_flags(body: &[u8]) -> u32 {
    u32::from_be_bytes([0, body[1], body[2], body[3]])
}

/// Decodes the leaf box `bytes` (header included) of type `kind` and appends its fields.
/// Unknown types get no fields and no error.
pub(super) fn leaf(kind: &[u8; 4], bytes: &[u8], header_size: usize, out: &mut Fields) -> Result<(), String> {
    let body = &bytes[header_size..];
    if FULL_BOXES.contains(&kind) {
        full_box_header(body, out);
    }
    if kind == b"sgpd" {
        return sgpd_fields(body, out);
    }
    if !DECODED.contains(&kind) {
        return Ok(());
    }
    if kind == b"esds" && bytes.len() > MAX_ESDS_BYTES {
        return Err(format!("esds of {} bytes not decoded (limit {MAX_ESDS_BYTES})", bytes.len()));
    }
    let any = Any::decode(&mut &bytes[..]).map_err(|e| format!("cannot decode: {e}"))?;
    let raw_flags = if body.len() >= 4 { full_box_flags(body) } else { 0 };
    any_fields(&any, raw_flags, out);
    Ok(())
}

fn uint(v: impl Into<u64>) -> FieldValue {
    FieldValue::UInt(v.into())
}

fn text(v: impl ToString) -> FieldValue {
    FieldValue::Text(v.to_string())
}

fn brands(major: &mp4_atom::FourCC, minor: u32, compatible: &[mp4_atom::FourCC], out: &mut Fields) {
    out.push("majorBrand", text(major));
    out.push("minorVersion", uint(minor));
    let list = compatible.iter().map(text).collect();
    out.push("compatibleBrands", FieldValue::List(list));
}

/// 16.16 (or 8.8) fixed point as a float.
fn fixed16(v: &mp4_atom::FixedPoint<u16>) -> FieldValue {
    FieldValue::Float(f64::from(v.integer()) + f64::from(v.decimal()) / 65536.0)
}

fn any_fields(any: &Any, raw_flags: u32, out: &mut Fields) {
    match any {
        Any::Ftyp(b) => brands(&b.major_brand, b.minor_version, &b.compatible_brands, out),
        Any::Styp(b) => brands(&b.major_brand, b.minor_version, &b.compatible_brands, out),
        Any::Mvhd(b) => {
            out.push("timescale", uint(b.timescale));
            out.push("duration", uint(b.duration));
            out.push("nextTrackId", uint(b.next_track_id));
        }
        Any::Tkhd(b) => {
            out.push("trackId", uint(b.track_id));
            out.push("duration", uint(b.duration));
            out.push("enabled", FieldValue::Bool(b.enabled));
            out.push("width", fixed16(&b.width));
            out.push("height", fixed16(&b.height));
        }
        Any::Mdhd(b) => {
            out.push("timescale", uint(b.timescale));
            out.push("duration", uint(b.duration));
            out.push("language", text(&b.language));
        }
        Any::Hdlr(b) => {
            out.push("handlerType", text(b.handler));
            out.push("name", text(&b.name));
        }
        Any::Dref(b) => out.push("entryCount", uint(b.entries.len() as u64)),
        Any::Stts(b) => {
            out.push("entryCount", uint(b.entries.len() as u64));
            let samples: u64 = b.entries.iter().map(|e| u64::from(e.sample_count)).sum();
            out.push("sampleCount", uint(samples));
        }
        Any::Ctts(b) => out.push("entryCount", uint(b.entries.len() as u64)),
        Any::Stsc(b) => out.push("entryCount", uint(b.entries.len() as u64)),
        Any::Stsz(b) => match &b.samples {
            mp4_atom::StszSamples::Identical { count, size } => {
                out.push("sampleSize", uint(*size));
                out.push("sampleCount", uint(*count));
            }
            mp4_atom::StszSamples::Different { sizes } => {
                out.push("sampleSize", uint(0u32));
                out.push("sampleCount", uint(sizes.len() as u64));
            }
        },
        Any::Stco(b) => out.push("entryCount", uint(b.entries.len() as u64)),
        Any::Co64(b) => out.push("entryCount", uint(b.entries.len() as u64)),
        Any::Stss(b) => out.push("entryCount", uint(b.entries.len() as u64)),
        Any::Elst(b) => {
            out.push("entryCount", uint(b.entries.len() as u64));
            let entries = b
                .entries
                .iter()
                .take(MAX_LISTED_EDITS)
                .map(|e| {
                    let media_time = match e.media_time {
                        Some(t) => format!("{t}"),
                        None => String::from("empty"),
                    };
                    FieldValue::Text(format!(
                        "duration {} mediaTime {media_time} rate {:?}",
                        e.segment_duration, e.media_rate
                    ))
                })
                .collect();
            out.push("entries", FieldValue::List(entries));
        }
        Any::Mehd(b) => out.push("fragmentDuration", uint(b.fragment_duration)),
        Any::Trex(b) => {
            out.push("trackId", uint(b.track_id));
            out.push("defaultSampleDescriptionIndex", uint(b.default_sample_description_index));
            out.push("defaultSampleDuration", uint(b.default_sample_duration));
            out.push("defaultSampleSize", uint(b.default_sample_size));
            out.push("defaultSampleFlags", FieldValue::Hex(b.default_sample_flags));
        }
        Any::Mfhd(b) => out.push("sequenceNumber", uint(b.sequence_number)),
        Any::Tfhd(b) => {
            out.push("trackId", uint(b.track_id));
            if let Some(v) = b.base_data_offset {
                out.push("baseDataOffset", uint(v));
            }
            if let Some(v) = b.sample_description_index {
                out.push("sampleDescriptionIndex", uint(v));
            }
            if let Some(v) = b.default_sample_duration {
                out.push("defaultSampleDuration", uint(v));
            }
            if let Some(v) = b.default_sample_size {
                out.push("defaultSampleSize", uint(v));
            }
            if let Some(v) = b.default_sample_flags {
                out.push("defaultSampleFlags", FieldValue::Hex(v));
            }
            out.push("durationIsEmpty", FieldValue::Bool(b.duration_is_empty));
            out.push("defaultBaseIsMoof", FieldValue::Bool(b.default_base_is_moof));
        }
        Any::Tfdt(b) => out.push("baseMediaDecodeTime", uint(b.base_media_decode_time)),
        Any::Trun(b) => {
            out.push("sampleCount", uint(b.samples.len() as u64));
            if let Some(v) = b.data_offset {
                out.push("dataOffset", FieldValue::Int(v.into()));
            }
            // first_sample_flags_present (0x000004): mp4-atom folds the value into the
            // first entry.
            if raw_flags & 0x4 != 0 {
                if let Some(v) = b.samples.get(0).and_then(|e| e.flags) {
                    out.push("firstSampleFlags", FieldValue::Hex(v));
                }
            }
        }
        Any::Sidx(b) => {
            out.push("referenceId", uint(b.reference_id));
            out.push("timescale", uint(b.timescale));
            out.push("earliestPresentationTime", uint(b.earliest_presentation_time));
            out.push("firstOffset", uint(b.first_offset));
            out.push("referenceCount", uint(b.references.len() as u64));
        }
        Any::Prft(b) => {
            out.push("referenceTrackId", uint(b.reference_track_id));
            out.push("ntpTimestamp", uint(b.ntp_timestamp));
            out.push("mediaTime", uint(b.media_time));
        }
        Any::Emsg(b) => {
            out.push("schemeIdUri", text(&b.scheme_id_uri));
            out.push("value", text(&b.value));
            out.push("timescale", uint(b.timescale));
            match b.presentation_time {
                mp4_atom::EmsgTimestamp::Relative(t) => out.push("presentationTimeDelta", uint(t)),
                mp4_atom::EmsgTimestamp::Absolute(t) => out.push("presentationTime", uint(t)),
            }
            out.push("eventDuration", uint(b.event_duration));
            out.push("id", uint(b.id));
            out.push("messageSize", uint(b.message_data.len() as u64));
        }
        Any::Avcc(b) => avcc_fields(b, out),
        Any::Hvcc(b) => hvcc_fields(b, out),
        Any::Av1c(b) => av1c_fields(b, out),
        Any::VpcC(b) => vpcc_fields(b, out),
        Any::Dops(b) => dops_fields(b, out),
        Any::Sbgp(b) => sbgp_fields(b, out),
        Any::Btrt(b) => {
            out.push("bufferSizeDb", uint(b.buffer_size_db));
            out.push("maxBitrate", uint(b.max_bitrate));
            out.push("avgBitrate", uint(b.avg_bitrate));
        }
        Any::Pasp(b) => {
            out.push("hSpacing", uint(b.h_spacing));
            out.push("vSpacing", uint(b.v_spacing));
        }
        Any::Colr(mp4_atom::Colr::Nclx {
            colour_primaries,
            transfer_characteristics,
            matrix_coefficients,
            full_range_flag,
        }) => {
            out.push("colourType", text("nclx"));
            out.push("colourPrimaries", uint(*colour_primaries));
            out.push("transferCharacteristics", uint(*transfer_characteristics));
            out.push("matrixCoefficients", uint(*matrix_coefficients));
            out.push("fullRange", FieldValue::Bool(*full_range_flag));
        }
        Any::Esds(b) => esds_fields(b, out),
        _ => {}
    }
}

fn avcc_fields(b: &Avcc, out: &mut Fields) {
    out.push("configurationVersion", uint(b.configuration_version));
    out.push("profile", uint(b.avc_profile_indication));
    out.push("profileCompatibility", uint(b.profile_compatibility));
    out.push("level", uint(b.avc_level_indication));
    out.push("lengthSize", uint(b.length_size));
    out.push("spsCount", uint(b.sequence_parameter_sets.len() as u64));
    out.push("ppsCount", uint(b.picture_parameter_sets.len() as u64));
    let nals = |sets: &[Vec<u8>]| sets.iter().map(|s| FieldValue::Bytes(s.clone())).collect();
    out.push("sps", FieldValue::List(nals(&b.sequence_parameter_sets)));
    out.push("pps", FieldValue::List(nals(&b.picture_parameter_sets)));
    if let Some(ext) = &b.ext {
        out.push("chromaFormat", uint(ext.chroma_format));
        out.push("bitDepthLuma", uint(ext.bit_depth_luma));
        out.push("bitDepthChroma", uint(ext.bit_depth_chroma));
    }
}

fn esds_fields(b: &Esds, out: &mut Fields) {
    let es = &b.es_desc;
    let dc = &es.dec_config;
    out.push("esId", uint(es.es_id));
    out.push("objectTypeIndication", uint(dc.object_type_indication));
    out.push("streamType", uint(dc.stream_type));
    out.push("bufferSizeDb", uint(u32::from(dc.buffer_size_db)));
    out.push("maxBitrate", uint(dc.max_bitrate));
    out.push("avgBitrate", uint(dc.avg_bitrate));
    if let Some(ds) = &dc.dec_specific {
        if dc.object_type_indication == 0x40 {
            out.push("audioObjectType", uint(ds.profile));
            out.push("samplingFrequencyIndex", uint(ds.freq_index));
            out.push("channelConfiguration", uint(ds.chan_conf));
        }
        out.push("decoderSpecificInfo", FieldValue::Bytes(ds.raw.clone()));
    }
}

/// The name of an HEVC NAL unit type found in `hvcC` arrays (ITU-T H.265 Table 7-1).
fn hevc_nal_name(nal_unit_type: u8) -> &'static str {
    match nal_unit_type {
        32 => "VPS",
        33 => "SPS",
        34 => "PPS",
        39 => "prefix SEI",
        40 => "suffix SEI",
        _ => "NAL",
    }
}

/// `HEVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §8.3.3.1).
fn hvcc_fields(b: &Hvcc, out: &mut Fields) {
    out.push("configurationVersion", uint(b.configuration_version));
    out.push("generalProfileSpace", uint(b.general_profile_space));
    out.push("generalTierFlag", FieldValue::Bool(b.general_tier_flag));
    out.push("generalProfileIdc", uint(b.general_profile_idc));
    let compatibility = u32::from_be_bytes(b.general_profile_compatibility_flags);
    out.push("generalProfileCompatibilityFlags", FieldValue::Hex(compatibility));
    out.push("generalConstraintIndicatorFlags", FieldValue::Bytes(b.general_constraint_indicator_flags.to_vec()));
    out.push("generalLevelIdc", uint(b.general_level_idc));
    out.push("minSpatialSegmentationIdc", uint(b.min_spatial_segmentation_idc));
    out.push("parallelismType", uint(b.parallelism_type));
    out.push("chromaFormatIdc", uint(b.chroma_format_idc));
    out.push("bitDepthLuma", uint(u64::from(b.bit_depth_luma_minus8) + 8));
    out.push("bitDepthChroma", uint(u64::from(b.bit_depth_chroma_minus8) + 8));
    out.push("avgFrameRate", uint(b.avg_frame_rate));
    out.push("constantFrameRate", uint(b.constant_frame_rate));
    out.push("numTemporalLayers", uint(b.num_temporal_layers));
    out.push("temporalIdNested", FieldValue::Bool(b.temporal_id_nested));
    out.push("lengthSize", uint(u64::from(b.length_size_minus_one) + 1));
    let arrays = b
        .arrays
        .iter()
        .map(|a| {
            let complete = if a.completeness { " complete" } else { "" };
            FieldValue::Text(format!(
                "{} ({}) x{}{complete}",
                hevc_nal_name(a.nal_unit_type),
                a.nal_unit_type,
                a.nalus.len()
            ))
        })
        .collect();
    out.push("arrays", FieldValue::List(arrays));
    // The parameter sets themselves, as `avcC` lists its SPS and PPS.
    for (name, nal_unit_type) in [("vps", 32), ("sps", 33), ("pps", 34)] {
        let nals: Vec<FieldValue> = b
            .arrays
            .iter()
            .filter(|a| a.nal_unit_type == nal_unit_type)
            .flat_map(|a| a.nalus.iter().map(|n| FieldValue::Bytes(n.clone())))
            .collect();
        if !nals.is_empty() {
            out.push(name, FieldValue::List(nals));
        }
    }
}

/// `AV1CodecConfigurationRecord` (AV1-ISOBMFF §2.3.3).
fn av1c_fields(b: &Av1c, out: &mut Fields) {
    out.push("seqProfile", uint(b.seq_profile));
    out.push("seqLevelIdx0", uint(b.seq_level_idx_0));
    out.push("seqTier0", FieldValue::Bool(b.seq_tier_0));
    out.push("highBitdepth", FieldValue::Bool(b.high_bitdepth));
    out.push("twelveBit", FieldValue::Bool(b.twelve_bit));
    // AV1 §6.4.2 (color_config): BitDepth from high_bitdepth and twelve_bit.
    let bit_depth: u8 = match (b.high_bitdepth, b.twelve_bit) {
        (true, true) => 12,
        (true, false) => 10,
        (false, _) => 8,
    };
    out.push("bitDepth", uint(bit_depth));
    out.push("monochrome", FieldValue::Bool(b.monochrome));
    out.push("chromaSubsamplingX", FieldValue::Bool(b.chroma_subsampling_x));
    out.push("chromaSubsamplingY", FieldValue::Bool(b.chroma_subsampling_y));
    out.push("chromaSamplePosition", uint(b.chroma_sample_position));
    if let Some(delay) = b.initial_presentation_delay {
        out.push("initialPresentationDelay", uint(delay));
    }
    out.push("configObusLength", uint(b.config_obus.len() as u64));
    out.push("configObus", FieldValue::Bytes(b.config_obus.clone()));
}

/// `VPCodecConfigurationRecord` (VP Codec ISO Media File Format Binding §2.2).
fn vpcc_fields(b: &VpcC, out: &mut Fields) {
    out.push("profile", uint(b.profile));
    out.push("level", uint(b.level));
    out.push("bitDepth", uint(b.bit_depth));
    out.push("chromaSubsampling", uint(b.chroma_subsampling));
    out.push("fullRange", FieldValue::Bool(b.video_full_range_flag));
    out.push("colourPrimaries", uint(b.color_primaries));
    out.push("transferCharacteristics", uint(b.transfer_characteristics));
    out.push("matrixCoefficients", uint(b.matrix_coefficients));
    out.push("codecInitializationDataSize", uint(b.codec_initialization_data.len() as u64));
}

/// `OpusSpecificBox` (Encapsulation of Opus in ISOBMFF §4.3.2).
fn dops_fields(b: &Dops, out: &mut Fields) {
    out.push("outputChannelCount", uint(b.output_channel_count));
    out.push("preSkip", uint(b.pre_skip));
    out.push("inputSampleRate", uint(b.input_sample_rate));
    out.push("outputGain", FieldValue::Int(b.output_gain.into()));
    match &b.channel_mapping {
        None => out.push("channelMappingFamily", uint(0u8)),
        Some(m) => {
            out.push("channelMappingFamily", uint(m.family));
            out.push("streamCount", uint(m.stream_count));
            out.push("coupledCount", uint(m.coupled_count));
            out.push("channelMapping", FieldValue::List(m.channel_mapping.iter().map(|&c| uint(c)).collect()));
        }
    }
}

/// A `group_description_index` (ISO/IEC 14496-12 §8.9.2.3): 0 for no group, above 0x10000 a
/// group of the fragment's own `sgpd` (§8.9.4).
fn group_index(index: u32) -> String {
    match index {
        0 => String::from("none"),
        i if i > FRAGMENT_LOCAL_GROUPS => format!("{i} (fragment-local {})", i - FRAGMENT_LOCAL_GROUPS),
        i => format!("{i}"),
    }
}

/// `SampleToGroupBox` (ISO/IEC 14496-12 §8.9.2).
fn sbgp_fields(b: &Sbgp, out: &mut Fields) {
    out.push("groupingType", text(b.grouping_type));
    if let Some(parameter) = b.grouping_type_parameter {
        out.push("groupingTypeParameter", uint(parameter));
    }
    out.push("entryCount", uint(b.entries.len() as u64));
    let samples: u64 = b.entries.iter().map(|e| u64::from(e.sample_count)).sum();
    out.push("sampleCount", uint(samples));
    let entries = b
        .entries
        .iter()
        .take(MAX_LISTED_GROUP_ENTRIES)
        .map(|e| {
            FieldValue::Text(format!(
                "sampleCount {} groupDescriptionIndex {}",
                e.sample_count,
                group_index(e.group_description_index)
            ))
        })
        .collect();
    out.push("entries", FieldValue::List(entries));
}

/// `SampleGroupDescriptionBox` (ISO/IEC 14496-12 §8.9.3), read by hand from its `body`
/// (version and flags included). Entries of the `roll` and `prol` groups
/// (`AudioRollRecoveryEntry`, `AudioPreRollEntry`, §10.1.1.2) show their `roll_distance`;
/// others their bytes. Version 0 gives no entry length: entries of other grouping types are
/// then not split.
fn sgpd_fields(body: &[u8], out: &mut Fields) -> Result<(), String> {
    let truncated = |what: &str| format!("cannot decode: sgpd ends inside its {what}");
    let mut rest = body.get(4..).ok_or_else(|| truncated("header"))?;
    let u32_field = |rest: &mut &[u8], what: &str| -> Result<u32, String> {
        let (v, tail) = rest.split_first_chunk::<4>().ok_or_else(|| truncated(what))?;
        *rest = tail;
        Ok(u32::from_be_bytes(*v))
    };
    let version = body[0];
    if version > 3 {
        return Err(format!("cannot decode: sgpd version {version} is unknown"));
    }
    let grouping_type = u32_field(&mut rest, "grouping_type")?.to_be_bytes();
    out.push("groupingType", FieldValue::Text(super::fourcc(&grouping_type)));
    let default_length = if version >= 1 { Some(u32_field(&mut rest, "default_length")?) } else { None };
    if let Some(length) = default_length {
        out.push("defaultLength", uint(length));
    }
    if version >= 2 {
        let index = u32_field(&mut rest, "default_group_description_index")?;
        out.push("defaultGroupDescriptionIndex", uint(index));
    }
    let count = u32_field(&mut rest, "entry_count")?;
    out.push("entryCount", uint(count));
    let roll = matches!(&grouping_type, b"roll" | b"prol");
    let mut entries = Vec::new();
    let mut result = Ok(());
    for i in (0..count).take(MAX_LISTED_GROUP_ENTRIES) {
        let length = match default_length {
            Some(0) => match u32_field(&mut rest, "description_length") {
                Ok(length) => Some(length),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            },
            Some(length) => Some(length),
            None if roll => Some(2),
            None => None,
        };
        let Some(length) = length else {
            // Version 0 of an unknown grouping type: the entries cannot be told apart.
            entries.push(FieldValue::Bytes(rest.to_vec()));
            break;
        };
        let Some((entry, tail)) = usize::try_from(length).ok().and_then(|n| rest.split_at_checked(n)) else {
            result = Err(format!("cannot decode: sgpd entry {i} of {length} bytes is truncated"));
            break;
        };
        rest = tail;
        entries.push(match (roll, entry) {
            (true, &[a, b]) => FieldValue::Text(format!("rollDistance {}", i16::from_be_bytes([a, b]))),
            _ => FieldValue::Bytes(entry.to_vec()),
        });
    }
    out.push("entries", FieldValue::List(entries));
    result
}

/// Fields of a `VisualSampleEntry` body (ISO/IEC 14496-12 §12.1.3).
pub(super) fn visual_entry(body: &[u8], out: &mut Fields) -> Result<(), String> {
    let v = Visual::decode(&mut &body[..]).map_err(|e| format!("cannot decode: {e}"))?;
    out.push("dataReferenceIndex", uint(v.data_reference_index));
    out.push("width", uint(v.width));
    out.push("height", uint(v.height));
    let compressor: &str = v.compressor.as_ref();
    if !compressor.is_empty() {
        out.push("compressorName", text(compressor));
    }
    out.push("depth", uint(v.depth));
    Ok(())
}

/// Fields of an `AudioSampleEntry` body (ISO/IEC 14496-12 §12.2.3, with QuickTime sound
/// description versions 1 and 2), and the size of that fixed part.
pub(super) fn audio_entry(body: &[u8], out: &mut Fields) -> Result<usize, String> {
    let a = Audio::decode(&mut &body[..]).map_err(|e| format!("cannot decode: {e}"))?;
    out.push("dataReferenceIndex", uint(a.data_reference_index));
    out.push("channelCount", uint(a.channel_count));
    out.push("sampleSize", uint(a.sample_size));
    out.push("sampleRate", uint(a.sample_rate.integer()));
    // Audio::decode accepted the version, so the body holds at least that many bytes.
    Ok(match u16::from_be_bytes([body[8], body[9]]) {
        1 => 44,
        2 => 64,
        _ => 28,
    })
}

/// RFC 6381 §3.3 codec string of an AVC sample entry: `avc1.PPCCLL`.
pub(super) fn avc_codec(entry: &str, avcc: &Avcc) -> String {
    format!(
        "{entry}.{:02x}{:02x}{:02x}",
        avcc.avc_profile_indication, avcc.profile_compatibility, avcc.avc_level_indication
    )
}

/// RFC 6381 §3.3 codec string of an `mp4a` sample entry: `mp4a.40.N` for MPEG-4 audio
/// (object type indication 0x40, N the AudioSpecificConfig object type), `mp4a.OO` otherwise.
pub(super) fn mp4a_codec(esds: &Esds) -> String {
    let dc = &esds.es_desc.dec_config;
    match (dc.object_type_indication, &dc.dec_specific) {
        (0x40, Some(ds)) => format!("mp4a.40.{}", ds.profile),
        (oti, _) => format!("mp4a.{oti:02x}"),
    }
}

//! MP4 / fragmented MP4 inspection: the box tree with the fields that matter, the tracks, and
//! every sample with its timing, size, flags and place in the file.
//!
//! | what | specification |
//! |---|---|
//! | box header (`size`, `largesize`, size 0, `uuid`), full box version and flags | ISO/IEC 14496-12 §4.2 |
//! | `ftyp`/`styp`, `moov` … `stbl`, sample tables (`stts` `ctts` `stsc` `stsz` `stco` `co64` `stss`) | ISO/IEC 14496-12 §4.3, §8.2–§8.7 |
//! | sample entries (`VisualSampleEntry`, `AudioSampleEntry`) | ISO/IEC 14496-12 §8.5.2, §12.1.3, §12.2.3 |
//! | movie fragments `mvex`/`trex`, `moof`/`mfhd`/`traf`/`tfhd`/`tfdt`/`trun`, sample flags | ISO/IEC 14496-12 §8.8 |
//! | `avcC` | ISO/IEC 14496-15 §5.3.3 |
//! | `hvcC` (HEVCDecoderConfigurationRecord) | ISO/IEC 14496-15 §8.3.3.1 |
//! | `av1C` (AV1CodecConfigurationRecord) | AV1 Codec ISO Media File Format Binding §2.3 |
//! | `vpcC` (VPCodecConfigurationRecord) | VP Codec ISO Media File Format Binding §2.2 |
//! | `dOps` (OpusSpecificBox) | Encapsulation of Opus in ISO Base Media File Format §4.3.2 |
//! | `esds` (ES_Descriptor), AudioSpecificConfig | ISO/IEC 14496-1 §7.2.6; ISO/IEC 14496-3 §1.6.2.1 |
//! | `edts`/`elst` | ISO/IEC 14496-12 §8.6.5–§8.6.6 |
//! | `sbgp`/`sgpd` sample groups, `roll`/`prol` entries | ISO/IEC 14496-12 §8.9.2–§8.9.4, §10.1 |
//! | codec strings | RFC 6381 §3.3; ISO/IEC 14496-15 §E.3 (`hvc1`); AV1-ISOBMFF §5; VP binding "Codecs Parameter String" |
//!
//! The walker here frames the boxes itself (so every box shows up, known or not, with its
//! offset, size and header size) and hands each leaf box to [`mp4_atom`] to decode its fields
//! (`stsd` and `sgpd`, whose mp4-atom decoders are unsafe on crafted input, are read by hand).
//! A box that mp4-atom cannot decode keeps its place in the tree with an `error`; a box that
//! claims more bytes than its parent holds ends that level with an error entry. Nothing a file
//! contains can make [`inspect_mp4`] panic, and everything it allocates in proportion to the
//! input is capped by a named limit ([`MAX_DEPTH`], [`MAX_BOXES`], [`MAX_SAMPLES`]).
//!
//! FLV files get a tag list instead ([`inspect_flv`]); [`inspect`] picks by the file's first bytes.
//!
//! This module needs `std` (mp4-atom does) and lives behind the `inspect` feature.

mod fields;
mod flv;
mod samples;
mod text;
mod tree;

#[cfg(test)]
mod tests;

use alloc::{string::String, vec::Vec};
use core::fmt;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// How deep boxes may nest (the top level is depth 0). The children of a container at this
/// depth are not listed; the container gets an `error` saying so.
pub const MAX_DEPTH: usize = 16;

/// How many boxes the tree lists at most; the walk stops (with a report warning) after that.
pub const MAX_BOXES: usize = 1_000_000;

/// How many samples the report lists at most, over all tracks. Further samples are still
/// counted in [`TrackInfo::sample_count`]; [`Mp4Report::samples_truncated`] says so.
pub const MAX_SAMPLES: usize = 1_000_000;

/// The largest `esds` box decoded for fields. mp4-atom's descriptor decoder recurses once per
/// nested descriptor, so a crafted multi-megabyte `esds` could exhaust the stack; real ones
/// are well under 100 bytes.
pub const MAX_ESDS_BYTES: usize = 1024;

/// Why [`inspect_mp4`] refused its input. Anything past the first box header is reported
/// inside the [`Mp4Report`] instead (per-box `error`s and [`Mp4Report::warnings`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// The input is shorter than one box header.
    #[error("not an MP4 file: {len} bytes is shorter than a box header (8 bytes)")]
    TooShort {
        /// Length of the input in bytes.
        len: usize,
    },
    /// The first eight bytes are not a plausible box header.
    #[error("not an MP4 file: {reason}")]
    NotMp4 {
        /// What was wrong with the first box header.
        reason: String,
    },
}

/// Inspects a whole MP4, fragmented MP4, CMAF init segment or media segment held in memory.
///
/// Returns the box tree (every box with its offset, size, header size, decoded fields and
/// children), the tracks, and the samples: for each `moof`/`traf`/`trun` (fragmented), then
/// from the `stbl` sample tables of each track (progressive). A lone media segment (`styp` +
/// `moof` + `mdat`, no `moov`) works too; its tracks then lack timescale and codec.
///
/// # Errors
///
/// Only when the input does not start with a plausible box header ([`InspectError`]); damage
/// further on is reported inside the returned [`Mp4Report`].
pub fn inspect_mp4(bytes: &[u8]) -> Result<Mp4Report, InspectError> {
    tree::check_first_box(bytes)?;
    let walked = tree::walk(bytes);
    let mut report = Mp4Report {
        file_size: bytes.len() as u64,
        fragmented: walked.boxes.iter().any(|b| b.kind == "moof"),
        boxes: walked.boxes,
        tracks: Vec::new(),
        samples: Vec::new(),
        samples_truncated: false,
        warnings: walked.warnings,
    };
    samples::derive(bytes, &mut report);
    Ok(report)
}

/// The result of [`inspect_mp4`]. Serializes (serde) with camelCase field names; see
/// [`Mp4Report::to_json`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mp4Report {
    /// Length of the input in bytes.
    pub file_size: u64,
    /// `true` when the file has at least one top-level movie fragment (`moof`).
    pub fragmented: bool,
    /// The top-level boxes in file order, each with its children.
    pub boxes: Vec<BoxNode>,
    /// One entry per track, ordered by track id: each `trak` of the `moov`, plus any track id
    /// seen only in a `tfhd`.
    pub tracks: Vec<TrackInfo>,
    /// The samples: first those described by `stbl` sample tables (per track, in decode order),
    /// then those of the movie fragments (per `moof`, `traf`, `trun`, in file order).
    pub samples: Vec<SampleInfo>,
    /// `true` when more than [`MAX_SAMPLES`] samples exist and only the first were listed.
    pub samples_truncated: bool,
    /// Problems found outside single boxes: trailing bytes, limits reached, inconsistent sample
    /// tables, samples pointing outside the file, boxes needed for samples that did not decode.
    pub warnings: Vec<String>,
}

impl Mp4Report {
    /// The report as pretty-printed JSON (the same data as the [`Serialize`] impl).
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: all map keys are strings and there is no
        // custom error path.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The report as readable text: the indented box tree, the tracks, the sample table and
    /// the warnings.
    pub fn to_text(&self) -> String {
        text::render(self)
    }
}

/// One box of the tree (ISO/IEC 14496-12 §4.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoxNode {
    /// The box type (four-character code). Printable ASCII as is, `0xA9` as `©`, any other
    /// byte as `\xNN`. Serialized as `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Offset of the box's first header byte in the input.
    pub offset: u64,
    /// Size of the whole box (header included) in bytes. For a box whose header claims more
    /// than is left, the claimed size.
    pub size: u64,
    /// Size of the header: 8, 16 with a 64-bit `largesize`, plus 16 for a `uuid` box's
    /// extended type.
    pub header_size: u8,
    /// The fields decoded from the box, in a stable order; empty for boxes without fields of
    /// interest and for unknown boxes.
    pub fields: Fields,
    /// Why the box (or its children) could not be decoded; `None` when all went well.
    pub error: Option<String>,
    /// The boxes inside this one (containers, sample entries, `stsd`, `dref`, `meta`).
    pub children: Vec<BoxNode>,
}

impl BoxNode {
    /// The first direct child of type `kind`.
    pub fn child(&self, kind: &str) -> Option<&BoxNode> {
        self.children.iter().find(|c| c.kind == kind)
    }

    /// The direct children of type `kind`, in order.
    pub fn children_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a BoxNode> + 'a {
        self.children.iter().filter(move |c| c.kind == kind)
    }

    /// Follows a path of box types from this box, e.g. `["mdia", "minf", "stbl"]`.
    pub fn find(&self, path: &[&str]) -> Option<&BoxNode> {
        let mut node = self;
        for kind in path {
            node = node.child(kind)?;
        }
        Some(node)
    }
}

/// The decoded fields of a box: `(name, value)` pairs in a stable order, names in camelCase.
/// Serializes as a JSON object in that order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub Vec<(String, FieldValue)>);

impl Fields {
    /// The value of field `name`, if present.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// `true` when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends a field.
    pub fn push(&mut self, name: &str, value: FieldValue) {
        self.0.push((String::from(name), value));
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldValue)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// One field value of a box.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FieldValue {
    /// An unsigned integer (JSON number).
    UInt(u64),
    /// A signed integer (JSON number).
    Int(i64),
    /// A fixed-point value such as `tkhd` width (JSON number).
    Float(f64),
    /// A flag (JSON boolean).
    Bool(bool),
    /// Text: brands, handler types, names (JSON string).
    Text(String),
    /// Bit flags: full-box flags, sample flags. A JSON number; text shows `0x` and 8 hex digits.
    Hex(u32),
    /// Raw bytes such as an SPS or an AudioSpecificConfig: a lowercase hex JSON string.
    Bytes(Vec<u8>),
    /// A list of values (JSON array).
    List(Vec<FieldValue>),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UInt(v) => write!(f, "{v}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::Float(v) => write!(f, "{v}"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::Text(v) => write!(f, "{v}"),
            Self::Hex(v) => write!(f, "{v:#010x}"),
            Self::Bytes(v) => {
                for b in v {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
            Self::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::UInt(v) => serializer.serialize_u64(*v),
            Self::Int(v) => serializer.serialize_i64(*v),
            Self::Float(v) => serializer.serialize_f64(*v),
            Self::Bool(v) => serializer.serialize_bool(*v),
            Self::Text(v) => serializer.serialize_str(v),
            Self::Hex(v) => serializer.serialize_u32(*v),
            Self::Bytes(_) => serializer.collect_str(self),
            Self::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

/// What the report knows about one track.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackInfo {
    /// `tkhd` / `tfhd` track id.
    pub track_id: u32,
    /// `hdlr` handler type (`vide`, `soun`, …).
    pub handler: Option<String>,
    /// `mdhd` timescale: units per second of every time of this track's samples.
    pub timescale: Option<u32>,
    /// `mdhd` duration, in `timescale` units.
    pub duration: Option<u64>,
    /// Type of the first sample entry in `stsd` (`avc1`, `mp4a`, …).
    pub sample_entry: Option<String>,
    /// RFC 6381 codec string when derivable: `avc1.PPCCLL` from `avcC`, `mp4a.40.N` from the
    /// `esds` AudioSpecificConfig, and from the packager's own parsers `hvc1.…`/`hev1.…` from
    /// `hvcC`, `av01.…` from `av1C`, `vp09.…` from `vpcC`, `opus` from `dOps`; otherwise the
    /// sample entry type.
    pub codec: Option<String>,
    /// Visual sample entry width in pixels.
    pub width: Option<u16>,
    /// Visual sample entry height in pixels.
    pub height: Option<u16>,
    /// Audio sample entry channel count.
    pub channels: Option<u16>,
    /// Audio sample entry sample rate in Hz (integer part).
    pub sample_rate: Option<u32>,
    /// Samples of this track found in the file, including any beyond [`MAX_SAMPLES`].
    pub sample_count: u64,
}

/// One sample (access unit). Times are in the track's `mdhd` timescale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleInfo {
    /// Track id.
    pub track_id: u32,
    /// Index of the sample within its track, from 0 (fragments continue the count).
    pub index: u64,
    /// `mfhd` sequence number of the fragment; `None` for `stbl` samples (and when the
    /// fragment's `mfhd` did not decode).
    pub fragment: Option<u32>,
    /// Decode time: `tfdt` (or the end of the track's previous fragment) plus the durations of
    /// the samples before it; for `stbl` samples the sum of `stts` deltas before it.
    pub decode_time: u64,
    /// Presentation time: decode time plus composition offset (edit lists not applied).
    pub presentation_time: i64,
    /// Composition offset (`trun` / `ctts`), 0 when absent.
    pub composition_offset: i64,
    /// Duration (`trun`, else `tfhd`, else `trex` default; `stts` for `stbl` samples).
    pub duration: u32,
    /// Size in bytes (`trun`, else `tfhd`, else `trex` default; `stsz` for `stbl` samples).
    pub size: u32,
    /// Sample flags (ISO/IEC 14496-12 §8.8.3.1): `trun` (first-sample flags for the first
    /// sample), else `tfhd`, else `trex` default. `None` for `stbl` samples, which have none.
    pub flags: Option<u32>,
    /// Sync sample: for fragments, `sample_is_non_sync_sample` (flags bit 16) clear; for
    /// `stbl` samples, listed in `stss` (or no `stss`, meaning every sample is sync).
    pub keyframe: bool,
    /// Offset of the sample's first byte in the input.
    pub offset: u64,
}

pub use flv::{inspect_flv, FlvHeaderInfo, FlvReport, TagInfo, MAX_TAGS};

/// What [`inspect`] found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Report {
    /// An FLV file.
    Flv(FlvReport),
    /// An MP4 / fMP4 file or segment.
    Mp4(Mp4Report),
}

impl Report {
    /// A readable dump.
    pub fn to_text(&self) -> String {
        match self {
            Self::Flv(r) => r.to_text(),
            Self::Mp4(r) => r.to_text(),
        }
    }

    /// Pretty JSON, with `"format": "flv"` or `"mp4"` added at the top level.
    pub fn to_json(&self) -> String {
        let (format, value) = match self {
            Self::Flv(r) => ("flv", serde_json::to_value(r)),
            Self::Mp4(r) => ("mp4", serde_json::to_value(r)),
        };
        let mut map = serde_json::Map::new();
        map.insert("format".into(), format.into());
        if let Ok(serde_json::Value::Object(fields)) = value {
            map.extend(fields);
        }
        serde_json::to_string_pretty(&serde_json::Value::Object(map)).unwrap_or_default()
    }
}

/// Inspects an FLV (starts with `FLV`) or MP4 file.
pub fn inspect(bytes: &[u8]) -> Result<Report, String> {
    if bytes.starts_with(b"FLV") {
        inspect_flv(bytes).map(Report::Flv).map_err(|e| alloc::format!("{e}"))
    } else {
        inspect_mp4(bytes).map(Report::Mp4).map_err(|e| alloc::format!("{e}"))
    }
}

/// A four-character code for display: printable ASCII as is, `0xA9` as `©`, else `\xNN`.
fn fourcc(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            0x20..=0x7e => s.push(char::from(b)),
            0xa9 => s.push('©'),
            _ => s.push_str(&alloc::format!("\\x{b:02x}")),
        }
    }
    s
}

//! Tracks and samples, derived from the box tree: `stbl` sample tables (ISO/IEC 14496-12
//! §8.6–§8.7) and movie fragments (§8.8).

use alloc::{collections::BTreeMap, format, string::String, string::ToString, vec::Vec};

use mp4_atom::{
    Avcc, Co64, Ctts, Decode, Esds, Hdlr, Mdhd, Mfhd, Stco, Stsc, Stss, Stsz, StszSamples, Stts, Tfdt, Tfhd, Tkhd,
    Trex, Trun,
};

use super::fields::{avc_codec, mp4a_codec};
use super::{BoxNode, FieldValue, Mp4Report, SampleInfo, TrackInfo, MAX_SAMPLES};
use crate::codec::{Av1Config, HevcConfig, OpusConfig, Vp9Config};

/// `sample_is_non_sync_sample` in the sample flags (ISO/IEC 14496-12 §8.8.3.1).
const NON_SYNC: u32 = 0x0001_0000;

/// Fills `report.tracks`, `report.samples` and `report.samples_truncated` from `report.boxes`.
pub(super) fn derive(bytes: &[u8], report: &mut Mp4Report) {
    let mut d = Derive { bytes, tracks: BTreeMap::new(), samples: Vec::new(), truncated: false, warnings: Vec::new() };
    let moov = report.boxes.iter().find(|b| b.kind == "moov");
    if let Some(moov) = moov {
        for trak in moov.children_of("trak") {
            d.trak(trak);
        }
        for trex in moov.child("mvex").iter().flat_map(|m| m.children_of("trex")) {
            if let Some(trex) = decode::<Trex>(bytes, trex) {
                let id = trex.track_id;
                d.track(id).trex = Some(trex);
            }
        }
    }
    for moof in report.boxes.iter().filter(|b| b.kind == "moof") {
        d.moof(moof, moov.is_some());
    }
    if d.truncated {
        d.warnings
            .push(format!("only the first {MAX_SAMPLES} samples are listed; track sample counts include the rest"));
    }
    report.tracks = d.tracks.into_values().map(|t| t.info).collect();
    report.samples = d.samples;
    report.samples_truncated = d.truncated;
    report.warnings.append(&mut d.warnings);
}

/// Decodes `node` (whose offset and size the walker checked) with mp4-atom; `None` when the
/// walker already found it broken or the decode fails.
fn decode<T: Decode>(bytes: &[u8], node: &BoxNode) -> Option<T> {
    if node.error.is_some() {
        return None;
    }
    let start = usize::try_from(node.offset).ok()?;
    let end = start.checked_add(usize::try_from(node.size).ok()?)?;
    let mut slice = bytes.get(start..end)?;
    T::decode(&mut slice).ok()
}

struct TrackState {
    info: TrackInfo,
    trex: Option<Trex>,
    /// Decode time where the next fragment starts when it has no `tfdt`.
    next_decode_time: u64,
    /// Index of the track's next sample.
    next_index: u64,
}

struct Derive<'a> {
    bytes: &'a [u8],
    tracks: BTreeMap<u32, TrackState>,
    samples: Vec<SampleInfo>,
    truncated: bool,
    warnings: Vec<String>,
}

impl Derive<'_> {
    fn track(&mut self, id: u32) -> &mut TrackState {
        self.tracks.entry(id).or_insert_with(|| TrackState {
            info: TrackInfo {
                track_id: id,
                handler: None,
                timescale: None,
                duration: None,
                sample_entry: None,
                codec: None,
                width: None,
                height: None,
                channels: None,
                sample_rate: None,
                sample_count: 0,
            },
            trex: None,
            next_decode_time: 0,
            next_index: 0,
        })
    }

    /// Track information and `stbl` samples of one `trak`.
    fn trak(&mut self, trak: &BoxNode) {
        let bytes = self.bytes;
        let Some(tkhd) = trak.child("tkhd").and_then(|n| decode::<Tkhd>(bytes, n)) else {
            self.warnings.push(format!(
                "trak at offset {} has no decodable tkhd; it is left out of tracks and samples",
                trak.offset
            ));
            return;
        };
        let id = tkhd.track_id;
        if self.tracks.contains_key(&id) {
            self.warnings.push(format!("track id {id} is used by more than one trak"));
        }
        let mdhd = trak.find(&["mdia", "mdhd"]).and_then(|n| decode::<Mdhd>(bytes, n));
        let hdlr = trak.find(&["mdia", "hdlr"]).and_then(|n| decode::<Hdlr>(bytes, n));
        let stbl = trak.find(&["mdia", "minf", "stbl"]);
        let entry = stbl.and_then(|s| s.child("stsd")).and_then(|s| s.children.first());

        let info = &mut self.track(id).info;
        info.timescale = mdhd.as_ref().map(|m| m.timescale);
        info.duration = mdhd.as_ref().map(|m| m.duration);
        info.handler = hdlr.map(|h| h.handler.to_string());
        if let Some(entry) = entry {
            info.sample_entry = Some(entry.kind.clone());
            info.codec = Some(codec(bytes, entry));
            let field = |name| match entry.fields.get(name) {
                Some(FieldValue::UInt(v)) => Some(*v),
                _ => None,
            };
            let narrow = |v: Option<u64>| v.and_then(|v| u16::try_from(v).ok());
            info.width = narrow(field("width"));
            info.height = narrow(field("height"));
            info.channels = narrow(field("channelCount"));
            info.sample_rate = field("sampleRate").and_then(|v| u32::try_from(v).ok());
        }
        if let Some(stbl) = stbl {
            self.stbl_samples(id, stbl);
        }
    }

    /// The samples described by a progressive `stbl`.
    fn stbl_samples(&mut self, id: u32, stbl: &BoxNode) {
        let bytes = self.bytes;
        let get = |kind| stbl.child(kind);
        let Some(stsz) = get("stsz").and_then(|n| decode::<Stsz>(bytes, n)) else {
            if get("stz2").is_some() {
                self.warnings
                    .push(format!("track {id}: compact sample sizes (stz2) are not supported; samples not listed"));
            }
            return;
        };
        let count = match &stsz.samples {
            StszSamples::Identical { count, .. } => u64::from(*count),
            StszSamples::Different { sizes } => sizes.len() as u64,
        };
        if count == 0 {
            return;
        }
        self.track(id).info.sample_count += count;
        let size_of = |i: u64| match &stsz.samples {
            StszSamples::Identical { size, .. } => *size,
            // Only asked for samples below `count`, which is `sizes.len()` here.
            StszSamples::Different { sizes } => {
                usize::try_from(i).ok().and_then(|i| sizes.get(i)).copied().unwrap_or(0)
            }
        };

        let stts = get("stts").and_then(|n| decode::<Stts>(bytes, n));
        let stsc = get("stsc").and_then(|n| decode::<Stsc>(bytes, n));
        let chunks: Option<Vec<u64>> = match (get("stco"), get("co64")) {
            (Some(n), _) => decode::<Stco>(bytes, n).map(|s| s.entries.into_iter().map(u64::from).collect()),
            (None, Some(n)) => decode::<Co64>(bytes, n).map(|c| c.entries),
            (None, None) => None,
        };
        let (Some(stts), Some(stsc), Some(chunks)) = (stts, stsc, chunks) else {
            self.warnings.push(format!(
                "track {id}: stts, stsc or stco/co64 missing or undecodable; {count} samples not listed"
            ));
            return;
        };
        let ctts = get("ctts").and_then(|n| decode::<Ctts>(bytes, n));
        let mut stss = get("stss").and_then(|n| decode::<Stss>(bytes, n)).map(|s| s.entries);
        if let Some(stss) = &mut stss {
            stss.sort_unstable();
        }

        let mut durations = Runs::new(stts.entries.iter().map(|e| (e.sample_count, e.sample_delta)));
        let mut offsets =
            Runs::new(ctts.iter().flat_map(|c| c.entries.iter()).map(|e| (e.sample_count, e.sample_offset)));
        let mut stsc_at = 0;
        let mut sample = 0u64;
        let mut decode_time = 0u64;
        let mut short_stts = false;
        'chunks: for (chunk, &chunk_offset) in chunks.iter().enumerate() {
            let chunk_number = chunk as u64 + 1;
            while stsc.entries.get(stsc_at + 1).is_some_and(|e| u64::from(e.first_chunk) <= chunk_number) {
                stsc_at += 1;
            }
            let per_chunk = match stsc.entries.get(stsc_at) {
                Some(e) if u64::from(e.first_chunk) <= chunk_number => e.samples_per_chunk,
                _ => 0,
            };
            let mut offset = chunk_offset;
            for _ in 0..per_chunk {
                if sample >= count {
                    break 'chunks;
                }
                if self.samples.len() >= MAX_SAMPLES {
                    self.truncated = true;
                    break 'chunks;
                }
                let size = size_of(sample);
                let duration = durations.next().unwrap_or_else(|| {
                    short_stts = true;
                    0
                });
                let composition_offset = offsets.next().unwrap_or(0);
                // `stss` numbers samples from 1 in a u32: a sample past that is in no list.
                let number = u32::try_from(sample + 1);
                let keyframe = stss.as_ref().is_none_or(|s| number.is_ok_and(|n| s.binary_search(&n).is_ok()));
                self.samples.push(SampleInfo {
                    track_id: id,
                    index: sample,
                    fragment: None,
                    decode_time,
                    presentation_time: presentation(decode_time, composition_offset),
                    composition_offset,
                    duration,
                    size,
                    flags: None,
                    keyframe,
                    offset,
                });
                offset = offset.saturating_add(size.into());
                decode_time = decode_time.saturating_add(duration.into());
                sample += 1;
            }
        }
        self.track(id).next_index = count;
        if short_stts {
            self.warnings
                .push(format!("track {id}: stts covers fewer samples than stsz; missing durations shown as 0"));
        }
        if sample < count && !self.truncated {
            self.warnings.push(format!("track {id}: stsc/stco place only {sample} of the {count} samples in stsz"));
        }
        self.check_in_file(id, stbl.offset, "stbl");
    }

    /// The samples of one movie fragment.
    fn moof(&mut self, moof: &BoxNode, have_moov: bool) {
        let bytes = self.bytes;
        let fragment = moof.child("mfhd").and_then(|n| decode::<Mfhd>(bytes, n)).map(|m| m.sequence_number);
        // Where the data of the previous traf ended: the implicit base of the next one.
        let mut previous_end = moof.offset;
        for (i, traf) in moof.children_of("traf").enumerate() {
            let Some(tfhd) = traf.child("tfhd").and_then(|n| decode::<Tfhd>(bytes, n)) else {
                self.warnings
                    .push(format!("traf at offset {} has no decodable tfhd; its samples are not listed", traf.offset));
                continue;
            };
            let id = tfhd.track_id;
            if have_moov && !self.tracks.contains_key(&id) {
                self.warnings
                    .push(format!("tfhd at offset {} names track {id}, which the moov does not have", traf.offset));
            }
            // ISO/IEC 14496-12 §8.8.7.1: explicit base, else the moof for the first traf (or
            // with default-base-is-moof), else where the previous traf's data ended.
            let base = match tfhd.base_data_offset {
                Some(base) => base,
                None if tfhd.default_base_is_moof || i == 0 => moof.offset,
                None => previous_end,
            };
            let tfdt = traf.child("tfdt").and_then(|n| decode::<Tfdt>(bytes, n));
            let first_sample = self.samples.len();

            let track = self.tracks.get(&id);
            let trex = track.and_then(|t| t.trex.clone());
            let mut decode_time = match (&tfdt, track) {
                (Some(tfdt), _) => tfdt.base_media_decode_time,
                (None, Some(track)) => track.next_decode_time,
                (None, None) => 0,
            };
            let mut index = track.map_or(0, |t| t.next_index);
            let mut found = 0u64;
            let mut position = i128::from(base);
            let mut before_file = false;
            for node in traf.children_of("trun") {
                let Some(trun) = decode::<Trun>(bytes, node) else {
                    self.warnings.push(format!(
                        "trun at offset {} did not decode; the rest of its traf is not listed",
                        node.offset
                    ));
                    break;
                };
                if let Some(data_offset) = trun.data_offset {
                    position = i128::from(base) + i128::from(data_offset);
                }
                found += trun.samples.len() as u64;
                for entry in trun.samples.iter() {
                    if self.samples.len() >= MAX_SAMPLES {
                        self.truncated = true;
                        break;
                    }
                    let duration = entry
                        .duration
                        .or(tfhd.default_sample_duration)
                        .or(trex.as_ref().map(|t| t.default_sample_duration))
                        .unwrap_or(0);
                    let size = entry
                        .size
                        .or(tfhd.default_sample_size)
                        .or(trex.as_ref().map(|t| t.default_sample_size))
                        .unwrap_or(0);
                    let flags = entry
                        .flags
                        .or(tfhd.default_sample_flags)
                        .or(trex.as_ref().map(|t| t.default_sample_flags))
                        .unwrap_or(0);
                    let composition_offset = entry.cts.unwrap_or(0);
                    before_file |= position < 0;
                    self.samples.push(SampleInfo {
                        track_id: id,
                        index,
                        fragment,
                        decode_time,
                        presentation_time: presentation(decode_time, composition_offset),
                        composition_offset,
                        duration,
                        size,
                        flags: Some(flags),
                        keyframe: flags & NON_SYNC == 0,
                        offset: u64::try_from(position).unwrap_or(0),
                    });
                    position += i128::from(size);
                    decode_time = decode_time.saturating_add(duration.into());
                    index += 1;
                }
            }
            previous_end = u64::try_from(position).unwrap_or(0);
            let track = self.track(id);
            track.info.sample_count += found;
            track.next_index = track.next_index.saturating_add(found);
            track.next_decode_time = decode_time;
            if before_file {
                self.warnings.push(format!(
                    "track {id}: samples of the traf at offset {} start before the file; offsets shown as 0",
                    traf.offset
                ));
            }
            self.check_range(id, first_sample, traf.offset, "traf");
        }
    }

    /// Warns when a sample of track `id` listed from index `from` on reaches past the input.
    fn check_range(&mut self, id: u32, from: usize, at: u64, what: &str) {
        let len = self.bytes.len() as u64;
        let outside = self.samples[from..]
            .iter()
            .filter(|s| s.track_id == id)
            .find(|s| s.offset.saturating_add(s.size.into()) > len);
        if let Some(s) = outside {
            self.warnings.push(format!(
                "track {id}: sample {} of the {what} at offset {at} lies at {}+{}, past the end of the file ({len} bytes)",
                s.index, s.offset, s.size
            ));
        }
    }

    fn check_in_file(&mut self, id: u32, at: u64, what: &str) {
        let from =
            self.samples.iter().position(|s| s.track_id == id && s.fragment.is_none()).unwrap_or(self.samples.len());
        self.check_range(id, from, at, what);
    }
}

/// Decode time plus composition offset, clamped to `i64`.
fn presentation(decode_time: u64, composition_offset: i64) -> i64 {
    i64::try_from(decode_time).unwrap_or(i64::MAX).saturating_add(composition_offset)
}

/// The body (after the header) of the box `node`, which the walker checked lies in `bytes`;
/// `None` when the walker found it broken.
fn body<'a>(bytes: &'a [u8], node: &BoxNode) -> Option<&'a [u8]> {
    if node.error.is_some() {
        return None;
    }
    let start = usize::try_from(node.offset).ok()?;
    let end = start.checked_add(usize::try_from(node.size).ok()?)?;
    bytes.get(start.checked_add(usize::from(node.header_size))?..end)
}

/// The codec string of a sample entry, derived from its configuration box when that parses:
/// `avcC` and `esds` read by mp4-atom; `hvcC`, `av1C`, `vpcC` and `dOps` by the packager's own
/// parsers ([`HevcConfig`], [`Av1Config`], [`Vp9Config`], [`OpusConfig`]). Otherwise the entry
/// type.
fn codec(bytes: &[u8], entry: &BoxNode) -> String {
    let record = |kind: &str| entry.child(kind).and_then(|n| body(bytes, n));
    let derived = match entry.kind.as_str() {
        kind @ ("avc1" | "avc3") => {
            entry.child("avcC").and_then(|n| decode::<Avcc>(bytes, n)).map(|avcc| avc_codec(kind, &avcc))
        }
        "mp4a" => entry
            .child("esds")
            .or_else(|| entry.find(&["wave", "esds"]))
            .and_then(|n| decode::<Esds>(bytes, n))
            .map(|esds| mp4a_codec(&esds)),
        // ISO/IEC 14496-15 §E.3: the same string, under the entry's own type.
        kind @ ("hvc1" | "hev1") => record("hvcC").and_then(|r| HevcConfig::parse(r).ok()).map(|c| {
            let s = c.codec_string();
            match s.strip_prefix("hvc1") {
                Some(rest) => format!("{kind}{rest}"),
                None => s,
            }
        }),
        "av01" => record("av1C").and_then(|r| Av1Config::parse(r).ok()).map(|c| c.codec_string()),
        // The `vpcC` body holds its FullBox version and flags, which Vp9Config reads too.
        "vp09" => record("vpcC").and_then(|r| Vp9Config::parse(r).ok()).map(|c| c.codec_string()),
        "Opus" => record("dOps").and_then(opus_head).and_then(|h| OpusConfig::parse(&h).ok()).map(|c| c.codec_string()),
        "fLaC" => Some(String::from("flac")),
        _ => None,
    };
    derived.unwrap_or_else(|| entry.kind.clone())
}

/// The `OpusHead` (RFC 7845 §5.1, little-endian) that a `dOps` body (Opus in ISOBMFF §4.3.2,
/// big-endian) stands for: the packager's own parser reads that. `None` for a `dOps` version
/// other than 0 or one shorter than its fixed fields.
fn opus_head(dops: &[u8]) -> Option<Vec<u8>> {
    let (&[version, channels, s0, s1, r0, r1, r2, r3, g0, g1, family], mapping) = dops.split_first_chunk::<11>()?;
    if version != 0 {
        return None;
    }
    let mut head = Vec::with_capacity(19 + mapping.len());
    head.extend_from_slice(b"OpusHead");
    // OpusHead version 1 is what dOps version 0 carries (§4.3.2).
    head.extend_from_slice(&[1, channels, s1, s0, r3, r2, r1, r0, g1, g0, family]);
    head.extend_from_slice(mapping);
    Some(head)
}

/// Expands run-length table entries `(count, value)` (`stts`, `ctts`) one sample at a time.
struct Runs<I, T> {
    entries: I,
    current: Option<(u32, T)>,
}

impl<I: Iterator<Item = (u32, T)>, T: Copy> Runs<I, T> {
    fn new(entries: I) -> Self {
        Self { entries, current: None }
    }

    fn next(&mut self) -> Option<T> {
        loop {
            match &mut self.current {
                Some((left, value)) if *left > 0 => {
                    *left -= 1;
                    return Some(*value);
                }
                _ => self.current = Some(self.entries.next()?),
            }
        }
    }
}

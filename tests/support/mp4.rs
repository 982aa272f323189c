//! Independent decoding of what the packager writes: every top-level box through mp4-atom with
//! its `strict` feature (unknown or surplus children and leftover bytes are errors), then the
//! sample table of every track fragment, resolved against tfhd/trex defaults and checked to tile
//! the following mdat exactly.

use mp4_atom::{Any, Codec, Decode, Moof, Trex};

/// Sample flag `sample_is_non_sync_sample` (ISO/IEC 14496-12 §8.8.3.1).
pub const NON_SYNC: u32 = 0x0001_0000;

pub struct TopBox {
    pub offset: usize,
    pub size: usize,
    pub atom: Any,
}

impl TopBox {
    pub fn kind(&self) -> String {
        self.atom.kind().to_string()
    }
}

/// Decodes `bytes` as a sequence of top-level boxes, all of it.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<TopBox>, String> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let atom = Any::decode(&mut rest).map_err(|e| {
            let kind =
                bytes.get(offset + 4..offset + 8).map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default();
            format!("box {kind:?} at byte {offset}: {e}")
        })?;
        if let Any::Unknown(kind, _) = &atom {
            return Err(format!("unknown top-level box {kind} at byte {offset}"));
        }
        let size = bytes.len() - rest.len() - offset;
        out.push(TopBox { offset, size, atom });
    }
    Ok(out)
}

#[derive(Clone, Debug)]
pub struct Track {
    pub id: u32,
    /// Handler type: "vide", "soun", …
    pub handler: String,
    pub timescale: u32,
    pub codec: Codec,
    pub trex: Trex,
}

impl Track {
    pub fn is_video(&self) -> bool {
        self.handler == "vide"
    }

    pub fn is_audio(&self) -> bool {
        self.handler == "soun"
    }

    /// NAL unit length size from the avcC (avc1/avc3).
    pub fn nal_length_size(&self) -> Option<usize> {
        match &self.codec {
            Codec::Avc1(c) => Some(usize::from(c.avcc.length_size)),
            Codec::Avc3(c) => Some(usize::from(c.avcc.length_size)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Init {
    pub tracks: Vec<Track>,
}

impl Init {
    pub fn track(&self, id: u32) -> Option<&Track> {
        self.tracks.iter().find(|t| t.id == id)
    }

    pub fn video(&self) -> Option<&Track> {
        self.tracks.iter().find(|t| t.is_video())
    }

    pub fn audio(&self) -> Option<&Track> {
        self.tracks.iter().find(|t| t.is_audio())
    }
}

/// An init segment: exactly `ftyp` then `moov` (with `mvex`, a `trex` per track, one sample
/// entry per track).
pub fn parse_init(bytes: &[u8]) -> Result<Init, String> {
    let boxes = decode_all(bytes)?;
    let kinds: Vec<String> = boxes.iter().map(TopBox::kind).collect();
    if kinds != ["ftyp", "moov"] {
        return Err(format!("init segment boxes are {kinds:?}, expected [ftyp, moov]"));
    }
    let moov = match &boxes[1].atom {
        Any::Moov(moov) => moov,
        _ => unreachable!(),
    };
    let mvex = moov.mvex.as_ref().ok_or("moov without mvex (not fragmented)")?;
    if moov.trak.is_empty() {
        return Err("moov without tracks".into());
    }
    let mut tracks = Vec::new();
    for trak in &moov.trak {
        let id = trak.tkhd.track_id;
        let codecs = &trak.mdia.minf.stbl.stsd.codecs;
        if codecs.len() != 1 {
            return Err(format!("track {id}: {} sample entries, expected 1", codecs.len()));
        }
        let trex = mvex.trex.iter().find(|t| t.track_id == id).ok_or(format!("track {id}: no trex"))?.clone();
        let timescale = trak.mdia.mdhd.timescale;
        if timescale == 0 {
            return Err(format!("track {id}: timescale 0"));
        }
        tracks.push(Track {
            id,
            handler: trak.mdia.hdlr.handler.to_string(),
            timescale,
            codec: codecs[0].clone(),
            trex,
        });
    }
    Ok(Init { tracks })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Byte offset of the sample's data in the segment file.
    pub offset: usize,
    pub size: usize,
    pub duration: u32,
    pub flags: u32,
    /// Composition offset.
    pub cts: i64,
}

impl Sample {
    pub fn is_sync(&self) -> bool {
        self.flags & NON_SYNC == 0
    }
}

#[derive(Clone, Debug)]
pub struct TrackFragment {
    pub track_id: u32,
    pub decode_time: Option<u64>,
    pub samples: Vec<Sample>,
}

impl TrackFragment {
    pub fn duration(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.duration)).sum()
    }
}

#[derive(Clone, Debug)]
pub struct Fragment {
    pub sequence: u32,
    pub trafs: Vec<TrackFragment>,
}

#[derive(Clone, Debug)]
pub struct MediaSegment {
    pub fragments: Vec<Fragment>,
}

impl MediaSegment {
    /// Every track fragment of `track_id`, in order.
    pub fn trafs(&self, track_id: u32) -> impl Iterator<Item = &TrackFragment> {
        self.fragments.iter().flat_map(|f| f.trafs.iter()).filter(move |t| t.track_id == track_id)
    }

    pub fn samples(&self, track_id: u32) -> Vec<Sample> {
        self.trafs(track_id).flat_map(|t| t.samples.iter().copied()).collect()
    }
}

/// A media segment: `styp`, then (optionally `sidx`/`prft`/`emsg` boxes and) one or more
/// `moof` + `mdat` pairs; the samples of each moof must tile its mdat's payload exactly.
pub fn parse_segment(bytes: &[u8], init: &Init) -> Result<MediaSegment, String> {
    let boxes = decode_all(bytes)?;
    let kinds: Vec<String> = boxes.iter().map(TopBox::kind).collect();
    if kinds.first().map(String::as_str) != Some("styp") {
        return Err(format!("media segment boxes are {kinds:?}, expected styp first"));
    }
    let mut fragments = Vec::new();
    let mut i = 1;
    while i < boxes.len() {
        match &boxes[i].atom {
            Any::Sidx(_) | Any::Prft(_) | Any::Emsg(_) => i += 1,
            Any::Moof(moof) => {
                let mdat = boxes.get(i + 1).ok_or(format!("moof at byte {} without mdat", boxes[i].offset))?;
                let payload_len = match &mdat.atom {
                    Any::Mdat(m) => m.data.len(),
                    _ => return Err(format!("moof at byte {} followed by {}, not mdat", boxes[i].offset, mdat.kind())),
                };
                let payload = (mdat.offset + mdat.size - payload_len)..(mdat.offset + mdat.size);
                fragments.push(fragment(moof, boxes[i].offset, payload, init)?);
                i += 2;
            }
            _ => return Err(format!("media segment boxes are {kinds:?}, expected styp + (moof + mdat)+")),
        }
    }
    if fragments.is_empty() {
        return Err("media segment without moof".into());
    }
    Ok(MediaSegment { fragments })
}

fn fragment(moof: &Moof, moof_offset: usize, payload: std::ops::Range<usize>, init: &Init) -> Result<Fragment, String> {
    let mut trafs = Vec::new();
    let mut previous_traf_end: Option<usize> = None;
    for (n, traf) in moof.traf.iter().enumerate() {
        let tfhd = &traf.tfhd;
        let track = init
            .track(tfhd.track_id)
            .ok_or(format!("traf for track {} which the init segment does not have", tfhd.track_id))?;
        let base = match (tfhd.base_data_offset, tfhd.default_base_is_moof, previous_traf_end) {
            (Some(b), _, _) => usize::try_from(b).map_err(|_| "huge base_data_offset")?,
            (None, true, _) | (None, false, None) => moof_offset,
            (None, false, Some(end)) => end,
        };
        let mut next = base;
        let mut samples = Vec::new();
        for trun in &traf.trun {
            let mut pos = match trun.data_offset {
                Some(off) => usize::try_from(base as i64 + i64::from(off))
                    .map_err(|_| format!("traf {n}: data offset {off} points before the file"))?,
                None => next,
            };
            for e in trun.samples.iter() {
                let size = e.size.or(tfhd.default_sample_size).unwrap_or(track.trex.default_sample_size);
                let duration =
                    e.duration.or(tfhd.default_sample_duration).unwrap_or(track.trex.default_sample_duration);
                let flags = e.flags.or(tfhd.default_sample_flags).unwrap_or(track.trex.default_sample_flags);
                samples.push(Sample { offset: pos, size: size as usize, duration, flags, cts: e.cts.unwrap_or(0) });
                pos += size as usize;
            }
            next = pos;
        }
        previous_traf_end = Some(next);
        trafs.push(TrackFragment {
            track_id: tfhd.track_id,
            decode_time: traf.tfdt.as_ref().map(|t| t.base_media_decode_time),
            samples,
        });
    }
    // The samples must tile the mdat payload exactly: no sample outside it, no overlap, no gap.
    let mut ranges: Vec<(usize, usize, u32)> =
        trafs.iter().flat_map(|t| t.samples.iter().map(move |s| (s.offset, s.size, t.track_id))).collect();
    ranges.sort();
    let mut at = payload.start;
    for (offset, size, track) in ranges {
        if size == 0 {
            return Err(format!("zero-size sample of track {track} at byte {offset}"));
        }
        if offset != at {
            return Err(format!(
                "sample of track {track} at byte {offset}, expected byte {at} (mdat payload {payload:?})"
            ));
        }
        at += size;
    }
    if at != payload.end {
        return Err(format!("samples end at byte {at}, mdat payload ends at {}", payload.end));
    }
    Ok(Fragment { sequence: moof.mfhd.sequence_number, trafs })
}

/// The NAL unit types in an AVC sample (length-prefixed NAL units that must cover it exactly).
pub fn nal_types(sample: &[u8], length_size: usize) -> Result<Vec<u8>, String> {
    if !(1..=4).contains(&length_size) {
        return Err(format!("NAL length size {length_size}"));
    }
    let mut types = Vec::new();
    let mut rest = sample;
    while !rest.is_empty() {
        if rest.len() < length_size {
            return Err(format!("{} stray bytes after the last NAL unit", rest.len()));
        }
        let len = rest[..length_size].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        rest = &rest[length_size..];
        if len == 0 || len > rest.len() {
            return Err(format!("NAL unit length {len} with {} bytes left", rest.len()));
        }
        types.push(rest[0] & 0x1f);
        rest = &rest[len..];
    }
    if types.is_empty() {
        return Err("sample without NAL units".into());
    }
    Ok(types)
}

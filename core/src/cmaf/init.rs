//! The init segment: `ftyp` + `moov` with empty sample tables and `mvex` (CMAF §7.3.1).

use alloc::vec::Vec;

use super::movie::{write_edit, write_sample_tables, MovieTrack};
use super::write::{file_type, u16, u32, unity_matrix, zeros, BoxStart};
use super::{MOVIE_TIMESCALE, VIDEO_TIMESCALE};
use crate::codec::{Ac3Config, Ac3Kind, OpusConfig};
use crate::media::{AudioConfig, VideoConfig};
use crate::Error;

/// One track of a CMAF presentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// `track_ID`, unique and non-zero.
    pub id: u32,
    /// The codec configuration.
    pub kind: TrackKind,
}

/// What a track carries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrackKind {
    /// Video, 90 kHz timescale.
    Video(VideoConfig),
    /// Audio; timescale: AAC's core sampling rate, 48 kHz for Opus.
    Audio(AudioConfig),
}

impl Track {
    /// The media timescale (ticks per second).
    pub fn timescale(&self) -> u32 {
        match &self.kind {
            TrackKind::Video(_) => VIDEO_TIMESCALE,
            TrackKind::Audio(a) => a.timescale(),
        }
    }
}

/// Appends the init segment for `tracks` to `out`.
///
/// # Errors
///
/// [`Error::TooLarge`] when a size does not fit its field.
pub fn write_init(out: &mut Vec<u8>, tracks: &[Track]) -> Result<(), Error> {
    file_type(out, b"ftyp", b"iso6", &[b"iso6", b"cmfc", b"mp41"])?;
    let moov = BoxStart::new(out, b"moov");
    write_mvhd(out, tracks.iter().map(|t| t.id).max().unwrap_or(0).saturating_add(1), 0)?;
    for t in tracks {
        write_trak(out, t, None)?;
    }
    let mvex = BoxStart::new(out, b"mvex");
    for t in tracks {
        // trex (§8.8.3): defaults unused, every trun says everything.
        let trex = BoxStart::full(out, b"trex", 0, 0);
        u32(out, t.id);
        u32(out, 1); // default_sample_description_index
        zeros(out, 12); // default duration, size, flags
        trex.end(out)?;
    }
    mvex.end(out)?;
    moov.end(out)
}

/// Appends `ftyp` and `moov` of a non-fragmented movie of `tracks` to `out`, with the sample
/// entries of [`write_init`]; the caller appends the `mdat` that the tracks' chunk offsets
/// ([`super::MovieChunk`]) point into.
///
/// # Errors
///
/// [`Error::TooLarge`] when a count, size or duration does not fit its field.
pub fn write_movie(out: &mut Vec<u8>, tracks: &[MovieTrack<'_>]) -> Result<(), Error> {
    file_type(out, b"ftyp", b"isom", &[b"isom", b"iso2", b"mp41"])?;
    let moov = BoxStart::new(out, b"moov");
    let next_id = tracks.iter().map(|t| t.track.id).max().unwrap_or(0).saturating_add(1);
    write_mvhd(out, next_id, tracks.iter().map(|t| t.edit.total()).max().unwrap_or(0))?;
    for t in tracks {
        write_trak(out, &t.track, Some(t))?;
    }
    moov.end(out)
}

/// `mvhd` (§8.2.2), version 0, timescale [`MOVIE_TIMESCALE`]; `duration` 0 is unknown
/// (fragmented).
fn write_mvhd(out: &mut Vec<u8>, next_track_id: u32, duration: u32) -> Result<(), Error> {
    let b = BoxStart::full(out, b"mvhd", 0, 0);
    zeros(out, 8); // creation_time, modification_time
    u32(out, MOVIE_TIMESCALE);
    u32(out, duration);
    u32(out, 0x0001_0000); // rate 1.0
    u16(out, 0x0100); // volume 1.0
    zeros(out, 10);
    unity_matrix(out);
    zeros(out, 24); // pre_defined
    u32(out, next_track_id);
    b.end(out)
}

/// A `trak`: of an init segment (empty sample tables) when `movie` is `None`, else of a
/// non-fragmented movie, with `movie`'s edit and sample tables.
fn write_trak(out: &mut Vec<u8>, t: &Track, movie: Option<&MovieTrack<'_>>) -> Result<(), Error> {
    let trak = BoxStart::new(out, b"trak");
    // tkhd (§8.3.2): enabled | in movie | in preview.
    let tkhd = BoxStart::full(out, b"tkhd", 0, 0x7);
    zeros(out, 8);
    u32(out, t.id);
    zeros(out, 4); // reserved
    u32(out, movie.map_or(0, |m| m.edit.total())); // duration, in the movie timescale
    zeros(out, 8); // reserved
    u16(out, 0); // layer
    u16(out, 0); // alternate_group
    u16(out, if matches!(t.kind, TrackKind::Audio(_)) { 0x0100 } else { 0 });
    u16(out, 0);
    unity_matrix(out);
    let (w, h) = match &t.kind {
        TrackKind::Video(v) => display_size(v)?,
        TrackKind::Audio(_) => (0, 0),
    };
    u32(out, w << 16);
    u32(out, h << 16);
    tkhd.end(out)?;
    match (movie, &t.kind) {
        (Some(m), _) => write_edit(out, &m.edit)?,
        (None, TrackKind::Audio(AudioConfig::Opus(opus))) => write_pre_skip_edit(out, opus)?,
        (None, _) => {}
    }

    let mdia = BoxStart::new(out, b"mdia");
    let mdhd = BoxStart::full(out, b"mdhd", 0, 0); // §8.4.2
    zeros(out, 8);
    u32(out, t.timescale());
    u32(out, movie.map_or(Ok(0), MovieTrack::media_duration)?);
    u16(out, 0x55C4); // ISO-639-2/T "und"
    u16(out, 0);
    mdhd.end(out)?;
    let (handler, name): (&[u8; 4], &[u8]) = match t.kind {
        TrackKind::Video(_) => (b"vide", b"RapidRTMP video\0"),
        TrackKind::Audio(_) => (b"soun", b"RapidRTMP audio\0"),
    };
    let hdlr = BoxStart::full(out, b"hdlr", 0, 0); // §8.4.3
    u32(out, 0);
    out.extend_from_slice(handler);
    zeros(out, 12);
    out.extend_from_slice(name);
    hdlr.end(out)?;

    let minf = BoxStart::new(out, b"minf");
    match t.kind {
        TrackKind::Video(_) => {
            let vmhd = BoxStart::full(out, b"vmhd", 0, 1); // §12.1.2
            zeros(out, 8);
            vmhd.end(out)?;
        }
        TrackKind::Audio(_) => {
            let smhd = BoxStart::full(out, b"smhd", 0, 0); // §12.2.2
            zeros(out, 4);
            smhd.end(out)?;
        }
    }
    let dinf = BoxStart::new(out, b"dinf"); // §8.7.1
    let dref = BoxStart::full(out, b"dref", 0, 0);
    u32(out, 1);
    BoxStart::full(out, b"url ", 0, 1).end(out)?; // media in the same file
    dref.end(out)?;
    dinf.end(out)?;
    let stbl = BoxStart::new(out, b"stbl");
    let stsd = BoxStart::full(out, b"stsd", 0, 0); // §8.5.2
    u32(out, 1);
    match &t.kind {
        TrackKind::Video(v) => write_visual_entry(out, v)?,
        TrackKind::Audio(AudioConfig::Aac(a)) => write_mp4a(out, a.channels(), a.sample_rate, 0x40, &a.record)?,
        TrackKind::Audio(AudioConfig::Mp3(m)) => {
            write_mp4a(out, m.channels, m.sample_rate, m.object_type_indication(), &[])?
        }
        TrackKind::Audio(AudioConfig::Opus(o)) => write_opus(out, o)?,
        TrackKind::Audio(AudioConfig::Ac3(a)) => write_ac3(out, a)?,
    }
    stsd.end(out)?;
    match movie {
        Some(m) => write_sample_tables(out, m)?,
        None => {
            for empty in [b"stts", b"stsc", b"stco"] {
                let b = BoxStart::full(out, empty, 0, 0);
                u32(out, 0);
                b.end(out)?;
            }
            let stsz = BoxStart::full(out, b"stsz", 0, 0);
            zeros(out, 8); // sample_size, sample_count
            stsz.end(out)?;
        }
    }
    stbl.end(out)?;
    minf.end(out)?;
    mdia.end(out)?;
    trak.end(out)
}

/// Width and height for `tkhd`: the coded size stretched by the sample aspect ratio.
/// Both are 16.16 fixed point in `tkhd`, so each must be below 65536.
fn display_size(v: &VideoConfig) -> Result<(u32, u32), Error> {
    let (w, h) = v.size().unwrap_or((0, 0));
    let w = match v.sample_aspect_ratio() {
        Some((sw, sh)) if sw > 0 && sh > 0 && sw != sh => u64::from(w) * u64::from(sw) / u64::from(sh),
        _ => u64::from(w),
    };
    let fixed = |field, v: u64| match u32::try_from(v) {
        Ok(fits) if fits < 0x1_0000 => Ok(fits),
        _ => Err(Error::TooLarge { field, value: v }),
    };
    Ok((fixed("tkhd width", w)?, fixed("tkhd height", u64::from(h))?))
}

/// The visual sample entry (§12.1.3) of `v`: `avc1` + `avcC` (ISO/IEC 14496-15 §5.4.2.1),
/// `hvc1` + `hvcC` (§8.4.1; parameter sets in the sample entry, repeats in-band left in the
/// samples), `av01` + `av1C` (AV1-ISOBMFF §2.2), `vp09` + `vpcC` (VP codec binding §2.2), then
/// `pasp` when the bitstream gives a sample aspect ratio.
fn write_visual_entry(out: &mut Vec<u8>, v: &VideoConfig) -> Result<(), Error> {
    let fourcc = match v {
        VideoConfig::Avc(_) => b"avc1",
        VideoConfig::Hevc(_) => b"hvc1",
        VideoConfig::Av1(_) => b"av01",
        VideoConfig::Vp9(..) => b"vp09",
    };
    let (w, h) = v.size().unwrap_or((0, 0));
    let entry = BoxStart::new(out, fourcc);
    zeros(out, 6);
    u16(out, 1); // data_reference_index
    zeros(out, 16); // pre_defined, reserved
                    // A visual sample entry's width and height are 16-bit: larger sides are written as 65535.
    u16(out, u16::try_from(w).unwrap_or(u16::MAX));
    u16(out, u16::try_from(h).unwrap_or(u16::MAX));
    u32(out, 0x0048_0000); // 72 dpi
    u32(out, 0x0048_0000);
    u32(out, 0);
    u16(out, 1); // frame_count
    zeros(out, 32); // compressorname
    u16(out, 0x0018); // depth
    u16(out, 0xFFFF); // pre_defined = -1
    match v {
        VideoConfig::Avc(c) => {
            let b = BoxStart::new(out, b"avcC");
            out.extend_from_slice(&c.record);
            b.end(out)?;
        }
        VideoConfig::Hevc(c) => {
            let b = BoxStart::new(out, b"hvcC");
            out.extend_from_slice(&c.record);
            b.end(out)?;
        }
        VideoConfig::Av1(c) => {
            let b = BoxStart::new(out, b"av1C");
            c.write_av1c(out);
            b.end(out)?;
        }
        VideoConfig::Vp9(c, _) => {
            // vpcC is a FullBox (version 1): write_vpcc writes its version and flags too.
            let b = BoxStart::new(out, b"vpcC");
            c.write_vpcc(out);
            b.end(out)?;
        }
    }
    if let Some((h, s)) = v.sample_aspect_ratio().filter(|&(h, s)| h > 0 && s > 0) {
        let pasp = BoxStart::new(out, b"pasp");
        u32(out, h.into());
        u32(out, s.into());
        pasp.end(out)?;
    }
    entry.end(out)
}

/// The audio sample entry fields (§12.2.3) up to its codec box.
fn audio_entry_head(out: &mut Vec<u8>, channels: u16, sample_rate: u32) {
    zeros(out, 6);
    u16(out, 1);
    zeros(out, 8);
    u16(out, channels);
    u16(out, 16); // samplesize
    zeros(out, 4);
    // 16.16 fixed point; rates of 64 kHz and above do not fit and are left to the codec box.
    u32(out, if sample_rate < 0x1_0000 { sample_rate << 16 } else { 0 });
}

/// `ac-3` + `dac3` or `ec-3` + `dec3` audio sample entry (ETSI TS 102 366 Annex F).
fn write_ac3(out: &mut Vec<u8>, a: &Ac3Config) -> Result<(), Error> {
    let (entry, config) = match a.kind {
        Ac3Kind::Ac3 => (b"ac-3", b"dac3"),
        Ac3Kind::Eac3 => (b"ec-3", b"dec3"),
    };
    let entry = BoxStart::new(out, entry);
    audio_entry_head(out, a.channels, a.sample_rate);
    let b = BoxStart::new(out, config);
    match a.kind {
        Ac3Kind::Ac3 => a.write_dac3(out),
        Ac3Kind::Eac3 => a.write_dec3(out),
    }
    b.end(out)?;
    entry.end(out)
}

/// `Opus` audio sample entry with `dOps` (Opus in ISOBMFF §4.3).
fn write_opus(out: &mut Vec<u8>, o: &OpusConfig) -> Result<(), Error> {
    let entry = BoxStart::new(out, b"Opus");
    audio_entry_head(out, o.channels.into(), 48_000);
    let dops = BoxStart::new(out, b"dOps");
    o.write_dops(out);
    dops.end(out)?;
    entry.end(out)
}

/// `edts` + `elst` (§8.6.6) starting the presentation after Opus's pre-skip (Opus in ISOBMFF
/// §4.4): one edit of unknown duration (fragmented) from media time `pre_skip`.
fn write_pre_skip_edit(out: &mut Vec<u8>, o: &OpusConfig) -> Result<(), Error> {
    let edts = BoxStart::new(out, b"edts");
    let elst = BoxStart::full(out, b"elst", 0, 0);
    u32(out, 1); // entry_count
    u32(out, 0); // segment_duration: the whole (fragmented) track
    u32(out, o.pre_skip.into()); // media_time
    u16(out, 1); // media_rate_integer
    u16(out, 0);
    elst.end(out)?;
    edts.end(out)
}

/// `mp4a` audio sample entry (§12.2.3, ISO/IEC 14496-14 §5.6) with `esds`: its decoder is
/// `object_type` (0x40 MPEG-4 audio, with `specific_info` its AudioSpecificConfig; 0x6B MPEG-1
/// and 0x69 MPEG-2 audio, MP3, with none).
fn write_mp4a(
    out: &mut Vec<u8>,
    channels: u16,
    sample_rate: u32,
    object_type: u8,
    specific_info: &[u8],
) -> Result<(), Error> {
    let entry = BoxStart::new(out, b"mp4a");
    audio_entry_head(out, channels, sample_rate);
    let esds = BoxStart::full(out, b"esds", 0, 0);
    // ES_Descriptor (ISO/IEC 14496-1 §7.2.6.5) ⊃ DecoderConfigDescriptor ⊃ DecoderSpecificInfo,
    // then SLConfigDescriptor.
    let dsi_len = if specific_info.is_empty() { 0 } else { 2 + specific_info.len() };
    let dcd_len = 2 + 13 + dsi_len;
    let es_len = 2 + 3 + dcd_len + 3;
    descriptor(out, 0x03, es_len - 2)?;
    u16(out, 0); // ES_ID: 0 in files (ISO/IEC 14496-14 §3.1.2)
    out.push(0); // flags
    descriptor(out, 0x04, dcd_len - 2)?;
    out.push(object_type);
    out.push(0x15); // streamType audio (5) << 2 | reserved 1
    zeros(out, 3); // bufferSizeDB
    u32(out, 0); // maxBitrate
    u32(out, 0); // avgBitrate
    if !specific_info.is_empty() {
        descriptor(out, 0x05, specific_info.len())?;
        out.extend_from_slice(specific_info);
    }
    descriptor(out, 0x06, 1)?;
    out.push(0x02); // predefined: MP4
    esds.end(out)?;
    entry.end(out)
}

/// A descriptor tag and a one-byte size: every descriptor we write is < 128 bytes, since
/// [`AacConfig::parse`] bounds the AudioSpecificConfig at [`crate::codec::MAX_ASC_LEN`].
fn descriptor(out: &mut Vec<u8>, tag: u8, len: usize) -> Result<(), Error> {
    let size = u8::try_from(len)
        .ok()
        .filter(|&n| n < 0x80)
        .ok_or(Error::TooLarge { field: "esds descriptor size", value: len as u64 })?;
    out.push(tag);
    out.push(size);
    Ok(())
}

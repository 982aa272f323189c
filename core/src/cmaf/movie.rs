//! Non-fragmented movies: `ftyp` + `moov` with complete sample tables (ISO/IEC 14496-12 §8.6,
//! §8.7), written before an `mdat` whose layout the caller decides and describes in
//! [`MovieChunk`]s: the tables and edit lists here; `moov` and the tracks' sample entries are
//! the init segment's writers ([`super::write_movie`]).

use alloc::vec::Vec;

use super::write::{u16, u32, u64, BoxStart};
use super::Track;
use crate::Error;

/// One sample of a movie track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MovieSample {
    /// Duration in the track's timescale (`stts`).
    pub duration: u32,
    /// Presentation time minus decode time, in the track's timescale (`ctts`).
    pub composition_offset: i32,
    /// Size in bytes (`stsz`).
    pub size: u32,
    /// Decoding can start here (`stss`).
    pub sync: bool,
}

/// A run of a track's consecutive samples stored one after another in the file (a "chunk" of
/// §8.7.4, not a chunk of the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MovieChunk {
    /// Offset of its first byte from the start of the file (`stco`, or `co64` beyond 4 GiB).
    pub offset: u64,
    /// How many samples it holds.
    pub samples: u32,
}

/// The edit list of a track (`elst`, §8.6.6): after `delay` (an empty edit, when not 0), one
/// part of the media is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    /// Nothing of the track is presented for this long from the movie's start, in the movie
    /// timescale: its media begins later than the movie.
    pub delay: u32,
    /// Where presentation starts, in the track's timescale (on its composition timeline: the
    /// first sample decodes at 0).
    pub media_time: u64,
    /// How long it lasts, in the movie timescale ([`super::MOVIE_TIMESCALE`]).
    pub duration: u32,
}

/// A track of a non-fragmented movie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovieTrack<'a> {
    /// Its id and codec configuration.
    pub track: Track,
    /// What of it is presented.
    pub edit: Edit,
    /// Its samples in decode order.
    pub samples: &'a [MovieSample],
    /// Where they are: the chunks in file order, whose sample counts add up to `samples.len()`.
    pub chunks: &'a [MovieChunk],
}

impl Edit {
    /// How long the track is presented, delay included (`tkhd` duration), in the movie timescale.
    pub fn total(&self) -> u32 {
        self.delay.saturating_add(self.duration)
    }
}

impl MovieTrack<'_> {
    /// The sum of its sample durations (`mdhd` duration), in the track's timescale.
    pub(super) fn media_duration(&self) -> Result<u32, Error> {
        Error::fit_u32("mdhd duration", self.samples.iter().map(|s| u64::from(s.duration)).sum())
    }
}

/// `edts` + `elst` (§8.6.5, §8.6.6) of `edit`: an empty edit (media time −1) for its delay,
/// then its media; version 1 when its media time needs 64 bits.
pub(super) fn write_edit(out: &mut Vec<u8>, edit: &Edit) -> Result<(), Error> {
    let edts = BoxStart::new(out, b"edts");
    let narrow = i32::try_from(edit.media_time).ok();
    let elst = BoxStart::full(out, b"elst", u8::from(narrow.is_none()), 0);
    u32(out, if edit.delay > 0 { 2 } else { 1 }); // entry_count
    if edit.delay > 0 {
        match narrow {
            Some(_) => {
                u32(out, edit.delay);
                u32(out, u32::MAX); // media_time −1: empty
            }
            None => {
                u64(out, edit.delay.into());
                u64(out, u64::MAX);
            }
        }
        u16(out, 1);
        u16(out, 0);
    }
    match narrow {
        Some(media_time) => {
            u32(out, edit.duration);
            out.extend_from_slice(&media_time.to_be_bytes());
        }
        None => {
            u64(out, edit.duration.into());
            let media_time = i64::try_from(edit.media_time)
                .map_err(|_| Error::TooLarge { field: "elst media_time", value: edit.media_time })?;
            out.extend_from_slice(&media_time.to_be_bytes());
        }
    }
    u16(out, 1); // media_rate_integer
    u16(out, 0); // media_rate_fraction
    elst.end(out)?;
    edts.end(out)
}

/// Runs of equal values: `(count, value)`.
fn runs<T: PartialEq + Copy>(values: impl Iterator<Item = T>) -> Vec<(u32, T)> {
    let mut out: Vec<(u32, T)> = Vec::new();
    for v in values {
        match out.last_mut() {
            Some((n, last)) if *last == v && *n < u32::MAX => *n += 1,
            _ => out.push((1, v)),
        }
    }
    out
}

/// The sample tables of `stbl` after `stsd`: `stts`, `ctts` (when a composition offset is not
/// 0; version 1 when one is negative), `stss` (when a sample is not sync), `stsc`, `stsz`, and
/// `stco` or `co64` (§8.6.1.2, §8.6.1.3, §8.6.2, §8.7.4, §8.7.3.2, §8.7.5).
pub(super) fn write_sample_tables(out: &mut Vec<u8>, t: &MovieTrack<'_>) -> Result<(), Error> {
    let count = |field, n: usize| Error::fit_u32(field, n as u64);
    let stts = runs(t.samples.iter().map(|s| s.duration));
    let b = BoxStart::full(out, b"stts", 0, 0);
    u32(out, count("stts entry_count", stts.len())?);
    for (n, delta) in stts {
        u32(out, n);
        u32(out, delta);
    }
    b.end(out)?;

    if t.samples.iter().any(|s| s.composition_offset != 0) {
        let version = u8::from(t.samples.iter().any(|s| s.composition_offset < 0));
        let ctts = runs(t.samples.iter().map(|s| s.composition_offset));
        let b = BoxStart::full(out, b"ctts", version, 0);
        u32(out, count("ctts entry_count", ctts.len())?);
        for (n, offset) in ctts {
            u32(out, n);
            // Two's complement: read as signed in version 1 (§8.6.1.3.3).
            u32(out, offset.cast_unsigned());
        }
        b.end(out)?;
    }

    if t.samples.iter().any(|s| !s.sync) {
        let b = BoxStart::full(out, b"stss", 0, 0);
        let at = out.len();
        u32(out, 0);
        let mut n = 0u32;
        for (i, _) in t.samples.iter().enumerate().filter(|(_, s)| s.sync) {
            u32(out, count("stss sample_number", i + 1)?);
            n += 1;
        }
        out[at..at + 4].copy_from_slice(&n.to_be_bytes());
        b.end(out)?;
    }

    let stsc = runs(t.chunks.iter().map(|c| c.samples));
    let b = BoxStart::full(out, b"stsc", 0, 0);
    u32(out, count("stsc entry_count", stsc.len())?);
    let mut first_chunk = 1u32;
    for (n, samples) in stsc {
        u32(out, first_chunk);
        u32(out, samples);
        u32(out, 1); // sample_description_index
        first_chunk = first_chunk.saturating_add(n);
    }
    b.end(out)?;

    let b = BoxStart::full(out, b"stsz", 0, 0);
    let first = t.samples.first().map_or(0, |s| s.size);
    let same = first > 0 && t.samples.iter().all(|s| s.size == first);
    u32(out, if same { first } else { 0 });
    u32(out, count("stsz sample_count", t.samples.len())?);
    if !same {
        for s in t.samples {
            u32(out, s.size);
        }
    }
    b.end(out)?;

    let wide = t.chunks.iter().any(|c| c.offset > u64::from(u32::MAX));
    let b = BoxStart::full(out, if wide { b"co64" } else { b"stco" }, 0, 0);
    u32(out, count("chunk offset entry_count", t.chunks.len())?);
    for c in t.chunks {
        match wide {
            true => u64(out, c.offset),
            false => u32(out, Error::fit_u32("stco chunk_offset", c.offset)?),
        }
    }
    b.end(out)
}

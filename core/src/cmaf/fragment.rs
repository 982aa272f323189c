//! Media segments: `styp`, then one `moof` (`mfhd`, a `traf` per track) and one `mdat`
//! (ISO/IEC 14496-12 §8.8; CMAF §7.3.2).

use alloc::vec::Vec;

use super::write::{file_type, u32, u64, BoxStart};
use crate::Error;

/// `sample_flags` of a sync sample: `sample_depends_on` = 2 (depends on no other sample).
pub const SAMPLE_FLAGS_SYNC: u32 = 0x0200_0000;
/// `sample_flags` of a non-sync sample: `sample_depends_on` = 1, `sample_is_non_sync_sample`.
pub const SAMPLE_FLAGS_NON_SYNC: u32 = 0x0101_0000;

/// One sample of a track fragment, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample<'a> {
    /// Duration in the track's timescale.
    pub duration: u32,
    /// Presentation time minus decode time, in the track's timescale.
    pub composition_offset: i32,
    /// `sample_flags` ([`SAMPLE_FLAGS_SYNC`] or [`SAMPLE_FLAGS_NON_SYNC`]).
    pub flags: u32,
    /// The sample's bytes (for H.264: length-prefixed NAL units).
    pub data: &'a [u8],
}

/// The samples of one track in one fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRun<'a> {
    /// `track_ID`.
    pub track_id: u32,
    /// Decode time of the first sample, in the track's timescale (`tfdt`).
    pub base_decode_time: u64,
    /// The samples in decode order.
    pub samples: Vec<Sample<'a>>,
    /// For audio that decodes right only after a pre-roll (Opus): how many samples before a
    /// sample must be decoded first (negative), told as a `roll` sample group in the fragment.
    pub roll_distance: Option<i16>,
}

impl TrackRun<'_> {
    fn data_len(&self) -> u64 {
        self.samples.iter().map(|s| s.data.len() as u64).sum()
    }
}

/// trun flags (§8.8.8.1): data-offset, duration, size, flags present.
const TRUN_FLAGS: u32 = 0x000001 | 0x000100 | 0x000200 | 0x000400;
/// trun flag: sample-composition-time-offsets-present.
const TRUN_CTO: u32 = 0x000800;
/// tfhd flag (§8.8.7.1): default-base-is-moof.
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x020000;

/// The `roll` sample group of a track fragment (§10.1): `sbgp` puts all `samples` in the
/// fragment's own group description (index 0x10001, §8.9.4), `sgpd` says its roll distance.
fn write_roll_group(out: &mut Vec<u8>, distance: i16, samples: usize) -> Result<(), Error> {
    let sbgp = BoxStart::full(out, b"sbgp", 0, 0);
    out.extend_from_slice(b"roll");
    u32(out, 1); // entry_count
    u32(out, Error::fit_u32("sbgp sample_count", samples as u64)?);
    u32(out, 0x1_0001); // group_description_index: the first of this fragment's
    sbgp.end(out)?;
    let sgpd = BoxStart::full(out, b"sgpd", 1, 0);
    out.extend_from_slice(b"roll");
    u32(out, 2); // default_length
    u32(out, 1); // entry_count
    out.extend_from_slice(&distance.to_be_bytes());
    sgpd.end(out)
}

/// Appends a media segment holding `runs` (empty runs are left out) to `out`. Sample data is
/// laid out in `mdat` in the order of `runs`.
///
/// # Errors
///
/// [`Error::TooLarge`] when a count, size or offset does not fit its 32-bit field.
pub fn write_segment(out: &mut Vec<u8>, sequence_number: u32, runs: &[TrackRun<'_>]) -> Result<(), Error> {
    file_type(out, b"styp", b"msdh", &[b"msdh", b"msix", b"cmfs"])?;
    let moof_start = out.len();
    let moof = BoxStart::new(out, b"moof");
    let mfhd = BoxStart::full(out, b"mfhd", 0, 0);
    u32(out, sequence_number);
    mfhd.end(out)?;
    // Each trun's data_offset is patched once the moof size is known.
    let mut offset_fields = Vec::with_capacity(runs.len());
    for run in runs.iter().filter(|r| !r.samples.is_empty()) {
        let traf = BoxStart::new(out, b"traf");
        let tfhd = BoxStart::full(out, b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF);
        u32(out, run.track_id);
        tfhd.end(out)?;
        let tfdt = BoxStart::full(out, b"tfdt", 1, 0);
        u64(out, run.base_decode_time);
        tfdt.end(out)?;
        let with_cto = run.samples.iter().any(|s| s.composition_offset != 0);
        let version = u8::from(run.samples.iter().any(|s| s.composition_offset < 0));
        let flags = TRUN_FLAGS | if with_cto { TRUN_CTO } else { 0 };
        let trun = BoxStart::full(out, b"trun", version, flags);
        u32(out, Error::fit_u32("trun sample_count", run.samples.len() as u64)?);
        offset_fields.push((out.len(), run.data_len()));
        u32(out, 0);
        out.reserve(run.samples.len() * 16);
        for s in &run.samples {
            u32(out, s.duration);
            u32(out, Error::fit_u32("trun sample_size", s.data.len() as u64)?);
            u32(out, s.flags);
            if with_cto {
                // Two's complement: read as signed in version 1 (negative offsets), §8.8.8.2.
                u32(out, s.composition_offset.cast_unsigned());
            }
        }
        trun.end(out)?;
        if let Some(distance) = run.roll_distance {
            write_roll_group(out, distance, run.samples.len())?;
        }
        traf.end(out)?;
    }
    moof.end(out)?;
    let data_len: u64 = runs.iter().map(TrackRun::data_len).sum();
    let mdat_header = if data_len + 8 > u64::from(u32::MAX) { 16 } else { 8 };
    let mut offset = (out.len() - moof_start) as u64 + mdat_header;
    for (at, len) in offset_fields {
        out[at..at + 4].copy_from_slice(&Error::fit_u32("trun data_offset", offset)?.to_be_bytes());
        offset += len;
    }
    if mdat_header == 16 {
        u32(out, 1);
        out.extend_from_slice(b"mdat");
        u64(out, data_len + 16);
    } else {
        u32(out, Error::fit_u32("mdat size", data_len + 8)?);
        out.extend_from_slice(b"mdat");
    }
    out.reserve(Error::fit("mdat size", data_len)?);
    for run in runs {
        for s in &run.samples {
            out.extend_from_slice(s.data);
        }
    }
    Ok(())
}

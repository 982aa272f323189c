//! Segments: the tags of one chunk → one CMAF media segment; a session's configuration → its
//! init segment. Every edge (the ingest node's, the Worker, `rapidrtmp package`) runs this.

use alloc::vec::Vec;
use core::fmt;

use crate::chunk::{ChunkInfo, PartInfo};
use crate::cmaf::{self, Sample, Track, TrackKind, TrackRun, AUDIO_TRACK_ID, VIDEO_TIMESCALE, VIDEO_TRACK_ID};
use crate::codec::{Av1Config, OPUS_PRE_ROLL_SAMPLES};
use crate::flv::{FlvError, Tag};
use crate::media::{AudioConfig, Media, Skip, StreamConfig, VideoConfig};
use crate::timeline::Millis;
use crate::Error;

/// At most this many warnings are kept per segment; the rest are counted.
pub const MAX_WARNINGS: usize = 64;

/// A tag that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Byte offset of the tag in its input.
    pub offset: u64,
    /// Why.
    pub reason: Skip,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tag at byte {}: skipped: {}", self.offset, self.reason)
    }
}

/// Warnings, bounded by [`MAX_WARNINGS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warnings {
    /// The first warnings.
    pub list: Vec<Warning>,
    /// How many more were not kept.
    pub dropped: u64,
}

impl Warnings {
    /// Records a warning.
    pub fn push(&mut self, w: Warning) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(w);
        } else {
            self.dropped += 1;
        }
    }
}

/// What a built segment holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentSummary {
    /// Video samples written.
    pub video_samples: u32,
    /// Audio samples written.
    pub audio_samples: u32,
    /// Media bytes (sum of sample sizes).
    pub media_bytes: u64,
}

/// Builds the init segment of a session.
pub fn build_init(config: &StreamConfig) -> Result<Vec<u8>, Error> {
    if config.is_empty() {
        return Err(Error::NoMedia);
    }
    let mut out = Vec::with_capacity(1024);
    cmaf::write_init(&mut out, &tracks(config))?;
    Ok(out)
}

/// The CMAF tracks of a session's configuration: video (id 1) first, then audio (id 2).
fn tracks(config: &StreamConfig) -> Vec<Track> {
    let mut t = Vec::with_capacity(2);
    if let Some(v) = &config.video {
        t.push(Track { id: VIDEO_TRACK_ID, kind: TrackKind::Video(v.clone()) });
    }
    if let Some(a) = &config.audio {
        t.push(Track { id: AUDIO_TRACK_ID, kind: TrackKind::Audio(a.clone()) });
    }
    t
}

/// Builds the media segment of the chunk `info` from its tags and appends it to `out`.
///
/// Tag timestamps are read against `info.start` (so chunks across a 2^32 ms wrap are right) and
/// shifted by `info.offset_ms` onto the session timeline;
/// the last video frame lasts until `info.end()`. Tags that cannot be packaged are skipped and
/// reported in `warnings`; a tag reader error ends the segment where it happened.
pub fn build_segment<'a>(
    out: &mut Vec<u8>,
    config: &StreamConfig,
    info: &ChunkInfo,
    tags: impl IntoIterator<Item = Result<Tag<'a>, FlvError>>,
    warnings: &mut Warnings,
) -> Result<SegmentSummary, Error> {
    let mut scratch = Vec::new();
    let (runs, summary) = chunk_runs(config, info, tags, warnings, &mut scratch)?;
    if runs.is_empty() {
        return Err(Error::NoMedia);
    }
    // mfhd counts from 1 (ISO/IEC 14496-12 §8.8.5.3).
    let sequence = Error::fit_u32("mfhd sequence_number", info.sequence.saturating_add(1))?;
    cmaf::write_segment(out, sequence, &runs)?;
    Ok(summary)
}

/// The samples of the chunk `info`, timed as its media segment has them (video, then audio; a
/// track without frames is left out): the one place where the timing rules of
/// [`build_segment`] are applied, for segments and clips ([`crate::clip`]) alike. Samples borrow
/// the tags' bytes, or `scratch` where a codec's samples are rewritten (AV1).
pub(crate) fn chunk_runs<'t: 's, 's>(
    config: &StreamConfig,
    info: &ChunkInfo,
    tags: impl IntoIterator<Item = Result<Tag<'t>, FlvError>>,
    warnings: &mut Warnings,
    scratch: &'s mut Vec<u8>,
) -> Result<(Vec<TrackRun<'s>>, SegmentSummary), Error> {
    let mut video: Vec<(u64, i32, bool, &'t [u8])> = Vec::new();
    let mut audio: Vec<(u64, &'t [u8])> = Vec::new();
    for tag in tags {
        let tag = tag?;
        let media = match Media::from_tag(&tag) {
            Ok(m) => m,
            Err(reason) => {
                warnings.push(Warning { offset: tag.offset, reason });
                continue;
            }
        };
        let at = info.time_of(tag.timestamp);
        match media {
            // A chunk cut between keyframes (rare keyframes) starts with a non-sync sample:
            // players decode across the cut from the segment before.
            Media::Video { keyframe, composition_time, data } if config.video.is_some() => {
                let sync = keyframe && config.video.as_ref().is_some_and(|v| v.is_sync(data));
                video.push((at.0, composition_time, sync, data))
            }
            Media::Audio(data) if config.audio.is_some() => audio.push((at.0, data)),
            Media::Video { .. } => warnings.push(Warning { offset: tag.offset, reason: Skip::NoConfig("video") }),
            Media::Audio(_) => warnings.push(Warning { offset: tag.offset, reason: Skip::NoConfig("audio") }),
            _ => {}
        }
    }
    // AV1 samples are temporal units without temporal delimiters, each OBU with its size
    // (AV1-ISOBMFF §2.4): rewritten into one buffer that the samples then borrow.
    let mut ends = Vec::new();
    if let Some(VideoConfig::Av1(_)) = &config.video {
        ends.reserve(video.len());
        for &(_, _, _, data) in &video {
            if Av1Config::write_sample(data, scratch).is_err() {
                scratch.extend_from_slice(data); // kept as sent: a decoder will say what is wrong
            }
            ends.push(scratch.len());
        }
    }
    let rewritten: &'s [u8] = scratch;
    let mut runs = Vec::with_capacity(2);
    let mut summary = SegmentSummary::default();
    if let (false, Some(_)) = (video.is_empty(), &config.video) {
        let ticks_per_ms = u64::from(VIDEO_TIMESCALE / 1000);
        // Decode times never step back: a frame stamped at or before the one before it (jitter)
        // is moved just past it, and its composition offset shrinks by as much, so it is shown
        // when it was meant to be and presentation order holds.
        let mut decode = Vec::with_capacity(video.len());
        let mut floor = info.start.0;
        for &(dts, _, _, _) in &video {
            let t = dts.max(floor);
            decode.push(t);
            floor = t + 1;
        }
        let mut samples = Vec::with_capacity(video.len());
        let mut last_step = 0;
        for (i, &(dts, cts, key, data)) in video.iter().enumerate() {
            let data = match ends.get(i) {
                Some(&end) => rewritten.get(if i == 0 { 0 } else { ends[i - 1] }..end).unwrap_or_default(),
                None => data,
            };
            let at = decode[i];
            let next = decode.get(i + 1).copied().unwrap_or(info.end().0);
            let step = if next > at { next - at } else { last_step };
            last_step = step;
            let shown = i64::from(cts).saturating_sub(i64::try_from(at - dts).unwrap_or(i64::MAX));
            let composition = i64::try_from(ticks_per_ms)
                .ok()
                .and_then(|t| shown.checked_mul(t))
                .and_then(|c| i32::try_from(c).ok())
                .ok_or(Error::TooLarge { field: "composition offset", value: shown.unsigned_abs() })?;
            samples.push(Sample {
                duration: Error::fit_u32("video sample duration", step * ticks_per_ms)?,
                composition_offset: composition,
                flags: if key { cmaf::SAMPLE_FLAGS_SYNC } else { cmaf::SAMPLE_FLAGS_NON_SYNC },
                data,
            });
            summary.media_bytes += data.len() as u64;
        }
        summary.video_samples = Error::fit_u32("video samples", samples.len() as u64)?;
        runs.push(TrackRun {
            track_id: VIDEO_TRACK_ID,
            base_decode_time: decode[0] * ticks_per_ms,
            samples,
            roll_distance: None,
        });
    }
    if let (Some(&(_, first)), Some(config)) = (audio.first(), &config.audio) {
        let mut clock = crate::timeline::AudioClock::new(config.timescale(), info.audio_anchor);
        // Sample times counted from the first frame's timestamp; a real gap lengthens the
        // sample before it, since a trun can only say durations.
        let mut times = Vec::with_capacity(audio.len());
        let mut floor = 0;
        for &(at, data) in &audio {
            let frame = config.frame_samples(data);
            let t = clock.frame_time(Millis(at), frame).max(floor);
            floor = t + u64::from(frame);
            times.push(t);
        }
        let mut samples = Vec::with_capacity(audio.len());
        for (i, &(_, data)) in audio.iter().enumerate() {
            summary.media_bytes += data.len() as u64;
            let duration = times.get(i + 1).map_or(u64::from(config.frame_samples(data)), |n| n - times[i]);
            samples.push(Sample {
                duration: Error::fit_u32("audio sample duration", duration)?,
                composition_offset: 0,
                flags: cmaf::SAMPLE_FLAGS_SYNC,
                data,
            });
        }
        summary.audio_samples = Error::fit_u32("audio samples", samples.len() as u64)?;
        // Opus decodes right 80 ms after a random access (Opus in ISOBMFF §4.5): the `roll`
        // group says how many packets before.
        let roll_distance = match config {
            AudioConfig::Opus(_) => {
                let frame = config.frame_samples(first).max(1);
                Some(-i16::try_from(OPUS_PRE_ROLL_SAMPLES.div_ceil(frame)).unwrap_or(i16::MAX))
            }
            AudioConfig::Aac(_) | AudioConfig::Mp3(_) | AudioConfig::Ac3(_) => None,
        };
        runs.push(TrackRun { track_id: AUDIO_TRACK_ID, base_decode_time: times[0], samples, roll_distance });
    }
    Ok((runs, summary))
}

/// Builds part `part` of the chunk `chunk` from the part's tags and appends it to `out`: a media
/// segment of its own (a CMAF chunk), whose samples have the timing they have in the chunk's
/// segment. Any edge builds it the same way, from the open chunk or from the chunk file.
pub fn build_part<'a>(
    out: &mut Vec<u8>,
    config: &StreamConfig,
    chunk: &ChunkInfo,
    part: &PartInfo,
    tags: impl IntoIterator<Item = Result<Tag<'a>, FlvError>>,
    warnings: &mut Warnings,
) -> Result<SegmentSummary, Error> {
    let info = ChunkInfo { start: part.start, duration_ms: part.duration_ms, independent: part.independent, ..*chunk };
    build_segment(out, config, &info, tags, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::tests::{avc_header, frame, video};
    use crate::chunk::{ChunkEvent, ChunkWriter, Chunker};

    #[test]
    fn jitter_rule_video_decode_times_step_forward_and_presentation_times_hold() {
        let mut w = ChunkWriter::new(Chunker::new(2000));
        let mut events = Vec::new();
        let header = avc_header();
        w.push(&video(0, &header), &mut events);
        // The third frame is stamped 20 ms before the second; it is shown at 13 + 66 = 79.
        for (dts, key) in [(0, true), (33, false), (13, false), (100, false)] {
            w.push(&video(dts, &frame(key, 66)), &mut events);
        }
        w.finish(&mut events);
        let Some(ChunkEvent::Closed(chunk)) = events.into_iter().find(|e| matches!(e, ChunkEvent::Closed(_))) else {
            panic!("one chunk")
        };
        assert_eq!(chunk.info.session, 0, "jitter is not a new session");
        let mut out = Vec::new();
        build_segment(&mut out, &chunk.config, &chunk.info, chunk.tags(), &mut Warnings::default()).expect("segment");
        // Decode times 0, 33, 34, 100; presentation times 66, 99, 79, 166.
        let trun = out.windows(4).position(|w| w == b"trun").expect("trun") + 4;
        let field = |i: usize| u32::from_be_bytes(out[trun + i * 4..trun + i * 4 + 4].try_into().unwrap());
        assert_eq!(field(1), 4, "sample count");
        let samples: Vec<(u32, i32)> = (0..4).map(|k| (field(3 + k * 4), field(3 + k * 4 + 3).cast_signed())).collect();
        assert_eq!(samples[..3], [(33 * 90, 66 * 90), (90, 66 * 90), (66 * 90, 45 * 90)]);
    }
}

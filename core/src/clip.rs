//! Clips: a time window of a stream's stored chunks as one ordinary MP4 file (not fragmented:
//! `ftyp`, `moov` with complete sample tables, then `mdat`), frame-accurate without re-encoding.
//!
//! The samples are the segments' ([`crate::segment`] times them, once, for both); the sample
//! entries are the init segment's. Each track starts at a sample decoding can start from (video:
//! the keyframe at or before the window's start; audio: the frame holding it, after the frames
//! its decoder must run first: [`pre_roll_frames`]), and its edit list (ISO/IEC 14496-12
//! §8.6.6) presents exactly the window: from its start, for its length, in every track alike.
//! `docs/clips.md` tells the whole story.
//!
//! **Time axis.** Window times are milliseconds on the stream timeline of the chunk files: the
//! axis of a chunk's `rapidrtmpStart` ([`crate::chunk::ChunkInfo::start`]), which the
//! manifest's `start_ms` of each chunk also records, and on which every tag's time is its
//! unwrapped timestamp plus the chunk's offset ([`crate::chunk::ChunkInfo::time_of`]).
//!
//! **Memory.** [`build_clip`] reads the chunks and returns the file as a head (`ftyp`, `moov`
//! and the `mdat` header) plus a list of byte ranges of the input ([`Piece`]): the size is known
//! before a byte of `mdat` is written, an adapter streams the body straight from the chunks, and
//! a `Range` request is a slice of it ([`Clip::write_range`]).

use alloc::{string::String, vec::Vec};
use core::ops::Range;

use crate::chunk::{read_chunk, ChunkFile, MAX_GAP_MS};
use crate::cmaf::{
    write_movie, Edit, MovieChunk, MovieSample, MovieTrack, Track, TrackKind, AUDIO_TRACK_ID, MOVIE_TIMESCALE,
    VIDEO_TIMESCALE, VIDEO_TRACK_ID,
};
use crate::codec::OPUS_PRE_ROLL_SAMPLES;
use crate::media::AudioConfig;
use crate::segment::{chunk_runs, Warnings};
use crate::timeline::Millis;
use crate::Error;

// Edit lists and track durations are the window's milliseconds as they are.
const _: () = assert!(MOVIE_TIMESCALE == 1000);

/// The longest clip when the caller sets no other limit: 10 minutes, in milliseconds.
pub const DEFAULT_MAX_CLIP: u64 = 10 * 60 * 1000;
/// The most bytes of stored chunks a clip may hold in memory when the caller sets no other
/// limit: 256 MiB, a 10-minute clip of a 3.4 Mbit/s stream.
pub const DEFAULT_MAX_CLIP_BYTES: u64 = 256 << 20;

/// Why a clip cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClipError {
    /// The window ends at or before its start.
    #[error("the clip window is empty: it ends at {end_ms} ms, not after its start at {start_ms} ms")]
    EmptyWindow {
        /// The window's start.
        start_ms: u64,
        /// The window's end.
        end_ms: u64,
    },
    /// The window is longer than the caller's limit.
    #[error("the clip would last {duration_ms} ms; clips are limited to {max_ms} ms")]
    TooLong {
        /// The window's length.
        duration_ms: u64,
        /// The limit.
        max_ms: u64,
    },
    /// The chunks given do not hold the whole window.
    #[error("the clip window {start_ms}..{end_ms} ms is not in the stored media, which holds {from_ms}..{to_ms} ms")]
    NotCovered {
        /// The window's start.
        start_ms: u64,
        /// The window's end.
        end_ms: u64,
        /// Where the chunks given start (0 with no chunks).
        from_ms: u64,
        /// Where they end.
        to_ms: u64,
    },
    /// Media is missing for longer than [`MAX_GAP_MS`] inside the window.
    #[error("the stored media has a gap from {from_ms} ms to {to_ms} ms inside the clip window")]
    Gap {
        /// Where the media before the gap ends.
        from_ms: u64,
        /// Where the media after it starts.
        to_ms: u64,
    },
    /// The codec configuration changes inside the window: one MP4 file holds one.
    #[error(
        "the codec configuration changes at {at_ms} ms, inside the clip window; one MP4 file holds one \
         configuration: end the clip before it or start it after"
    )]
    ConfigChanged {
        /// The start of the first chunk with the new configuration.
        at_ms: u64,
    },
    /// The chunks are not given in time order, or their samples step back in time.
    #[error("chunk {index} starts at {start_ms} ms, before the chunk before it ends ({previous_end_ms} ms)")]
    OutOfOrder {
        /// Its position in the input.
        index: usize,
        /// Its start.
        start_ms: u64,
        /// Where the chunk before it ends.
        previous_end_ms: u64,
    },
    /// A chunk cannot be read.
    #[error("chunk {index}: {source}")]
    Chunk {
        /// Its position in the input.
        index: usize,
        /// What is wrong with it.
        source: Error,
    },
    /// The window holds no frame of any track.
    #[error("the clip window holds no frames")]
    NoFrames,
    /// The clip cannot be written (a count or size does not fit its field).
    #[error(transparent)]
    Write(#[from] Error),
    /// The `filename` asked for cannot name a download.
    #[error(
        "the file name {0:?} cannot name a clip: it needs 1 to {MAX_FILENAME_LEN} characters and no control characters"
    )]
    BadFilename(String),
    /// [`Clip::write_range`] was given other chunks than the clip was built from.
    #[error("the chunks given do not match the clip: piece {piece} is not in them")]
    InputChanged {
        /// The piece that is not.
        piece: usize,
    },
}

impl ClipError {
    /// The HTTP status that answers it: 400 for a window that cannot be a clip, 404 for media
    /// not (or no longer) stored, 422 for a configuration change, 500 for a chunk that cannot
    /// be read or a clip that cannot be written.
    pub fn status(&self) -> u16 {
        match self {
            Self::EmptyWindow { .. } | Self::TooLong { .. } | Self::BadFilename(_) => 400,
            Self::NotCovered { .. } | Self::Gap { .. } | Self::NoFrames => 404,
            Self::ConfigChanged { .. } => 422,
            Self::OutOfOrder { .. } | Self::Chunk { .. } | Self::Write(_) | Self::InputChanged { .. } => 500,
        }
    }
}

/// Longest `filename` a clip download may be given, in characters.
pub const MAX_FILENAME_LEN: usize = 128;

/// The `Content-Disposition` value (RFC 6266 §4) that makes a clip a download named `name` (the
/// `filename` of the clip URL, percent-decoded): `.mp4` is added unless it ends so; a folder
/// part (up to the last `/` or `\`) is dropped; `filename` carries an ASCII form (other
/// characters, `"` and `\` as `_`), `filename*` the name itself in UTF-8 (RFC 8187).
///
/// # Errors
///
/// [`ClipError::BadFilename`] for a name that is empty (after its folder part), longer than
/// [`MAX_FILENAME_LEN`] or holds a control character.
pub fn attachment(name: &str) -> Result<String, ClipError> {
    use core::fmt::Write;
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let chars = base.chars().count();
    if chars == 0 || chars > MAX_FILENAME_LEN || base.chars().any(char::is_control) {
        return Err(ClipError::BadFilename(name.into()));
    }
    let ext = if base.to_ascii_lowercase().ends_with(".mp4") { "" } else { ".mp4" };
    let mut out = String::from("attachment; filename=\"");
    for c in base.chars() {
        out.push(if c.is_ascii() && c != '"' && c != '\\' { c } else { '_' });
    }
    out.push_str(ext);
    out.push_str("\"; filename*=UTF-8''");
    for b in base.bytes().chain(ext.bytes()) {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Ok(out)
}

/// Where bytes of a clip's `mdat` come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Bytes of input chunk `chunk`.
    Input {
        /// Its position in the input.
        chunk: usize,
        /// The bytes.
        range: Range<usize>,
    },
    /// Bytes of [`Clip::extra`]: samples rewritten for MP4 (AV1's temporal units).
    Extra(Range<usize>),
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Self::Input { range, .. } | Self::Extra(range) => range.len(),
        }
    }
}

/// A run of a clip's bytes, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Its offset in the file.
    pub at: u64,
    /// Where its bytes are.
    pub source: Source,
}

/// A clip: the head of the file, and where every byte after it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    /// `ftyp`, `moov` and the header of `mdat`: the file's first bytes.
    pub head: Vec<u8>,
    /// The rest of the file (the samples in `mdat`), in order.
    pub body: Vec<Piece>,
    /// Sample bytes that are not in the input as they are.
    pub extra: Vec<u8>,
    /// The whole file's size.
    pub len: u64,
    /// How long it plays, in milliseconds: the window's length.
    pub duration_ms: u64,
}

impl Clip {
    /// Appends the bytes `range` of the file (clamped to its size) to `out`, from the chunks
    /// it was built from.
    ///
    /// # Errors
    ///
    /// [`ClipError::InputChanged`] when `chunks` do not hold the clip's pieces.
    pub fn write_range<C: AsRef<[u8]>>(
        &self,
        chunks: &[C],
        range: Range<u64>,
        out: &mut Vec<u8>,
    ) -> Result<(), ClipError> {
        let end = range.end.min(self.len);
        let mut at = range.start.min(end);
        let head_len = self.head.len() as u64;
        if at < head_len {
            let to = end.min(head_len);
            out.extend_from_slice(&self.head[offset(at)..offset(to)]);
            at = to;
        }
        let first = self.body.partition_point(|p| p.at + p.source.len() as u64 <= at);
        for (index, piece) in self.body.iter().enumerate().skip(first) {
            if at >= end {
                break;
            }
            let bytes = match &piece.source {
                Source::Input { chunk, range } => chunks.get(*chunk).and_then(|c| c.as_ref().get(range.clone())),
                Source::Extra(range) => self.extra.get(range.clone()),
            }
            .ok_or(ClipError::InputChanged { piece: index })?;
            let from = offset(at - piece.at);
            let to = offset(end.min(piece.at + bytes.len() as u64) - piece.at);
            out.extend_from_slice(&bytes[from..to]);
            at = piece.at + to as u64;
        }
        Ok(())
    }

    /// The whole file, in one buffer of its size.
    ///
    /// # Errors
    ///
    /// As [`Clip::write_range`].
    pub fn to_vec<C: AsRef<[u8]>>(&self, chunks: &[C]) -> Result<Vec<u8>, ClipError> {
        let mut out = Vec::with_capacity(offset(self.len));
        self.write_range(chunks, 0..self.len, &mut out)?;
        Ok(out)
    }
}

/// The bytes of a clip to send (a range of it, or all), written a block at a time from the
/// chunks it holds: the file is never in memory whole beside its chunks.
#[derive(Debug)]
pub struct ClipBody {
    clip: Clip,
    chunks: Vec<Vec<u8>>,
    /// The next byte to write.
    at: u64,
    /// The end of the bytes to send.
    end: u64,
}

impl ClipBody {
    /// The bytes `range` (within the file) of `clip`, built from `chunks`.
    pub fn new(clip: Clip, chunks: Vec<Vec<u8>>, range: Range<u64>) -> Self {
        let end = range.end.min(clip.len);
        Self { at: range.start.min(end), end, clip, chunks }
    }

    /// The bytes left to write.
    pub fn remaining(&self) -> u64 {
        self.end - self.at
    }

    /// The next bytes to send, at most `max`; `None` once all are written.
    ///
    /// # Errors
    ///
    /// As [`Clip::write_range`].
    pub fn next_block(&mut self, max: usize) -> Option<Result<Vec<u8>, ClipError>> {
        if self.at >= self.end {
            return None;
        }
        let to = self.end.min(self.at.saturating_add(max.max(1) as u64));
        let mut block = Vec::with_capacity(offset(to - self.at));
        let written = self.clip.write_range(&self.chunks, self.at..to, &mut block);
        // After an error, nothing more: the bytes sent so far are all there is.
        self.at = if written.is_ok() { to } else { self.end };
        Some(written.map(|()| block))
    }

    /// Appends everything left to `out` (which the caller sizes: [`ClipBody::remaining`]).
    ///
    /// # Errors
    ///
    /// As [`Clip::write_range`].
    pub fn write_all(self, out: &mut Vec<u8>) -> Result<(), ClipError> {
        self.clip.write_range(&self.chunks, self.at..self.end, out)
    }
}

/// A file offset within a buffer in memory, where it always fits (a buffer's length is a usize).
fn offset(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Audio frames decoded before the first one presented, so that it decodes right: AAC and MP3
/// need the frame before (overlapped transform; MP3's bit reservoir), Opus 80 ms (Opus in
/// ISOBMFF §4.5), AC-3 none (its frames stand alone).
pub fn pre_roll_frames(config: &AudioConfig, frame_samples: u32) -> usize {
    match config {
        AudioConfig::Aac(_) | AudioConfig::Mp3(_) => 1,
        AudioConfig::Opus(_) => usize::try_from(OPUS_PRE_ROLL_SAMPLES.div_ceil(frame_samples.max(1))).unwrap_or(1),
        AudioConfig::Ac3(_) => 0,
    }
}

/// One sample on its track's timeline, and where its bytes are.
#[derive(Debug, Clone)]
struct Timed {
    /// Its input chunk.
    chunk: usize,
    /// Decode time, in the track's timescale.
    decode: u64,
    /// Its duration as its segment has it (used for the track's last sample).
    duration: u64,
    composition_offset: i32,
    sync: bool,
    source: Source,
}

impl Timed {
    /// Presentation time, in the track's timescale.
    fn shown(&self) -> i128 {
        i128::from(self.decode) + i128::from(self.composition_offset)
    }
}

/// The samples of one track across the chunks.
struct TrackSamples {
    timescale: u32,
    samples: Vec<Timed>,
}

/// What one track of the clip presents.
struct Chosen {
    /// The samples written: `samples[range]`.
    range: Range<usize>,
    edit: Edit,
}

/// `ms` in `timescale` units (exact for multiples of 1000).
fn ticks(ms: u64, timescale: u32) -> u64 {
    Millis(ms).to_timescale(timescale)
}

/// `t` in `timescale` units as milliseconds, rounded to the nearest.
fn millis(t: u64, timescale: u32) -> u64 {
    let scale = u128::from(timescale.max(1));
    u64::try_from((u128::from(t) * 1000 + scale / 2) / scale).unwrap_or(u64::MAX)
}

/// Where `inner` starts in `outer`, if it lies within it.
fn offset_in(outer: &[u8], inner: &[u8]) -> Option<Range<usize>> {
    let start = inner.as_ptr().addr().checked_sub(outer.as_ptr().addr())?;
    let end = start.checked_add(inner.len())?;
    (end <= outer.len()).then_some(start..end)
}

/// Builds the clip of `start_ms..end_ms` (see the module's time axis) from `chunks`, the
/// stored chunk files that cover the window, consecutive and in order (chunks outside the
/// window are allowed and cost a header read each). `max_ms` is the longest clip allowed
/// ([`DEFAULT_MAX_CLIP`] unless configured).
///
/// # Errors
///
/// See [`ClipError`]: its [`ClipError::status`] says how to answer each.
pub fn build_clip(chunks: &[&[u8]], start_ms: u64, end_ms: u64, max_ms: u64) -> Result<Clip, ClipError> {
    if end_ms <= start_ms {
        return Err(ClipError::EmptyWindow { start_ms, end_ms });
    }
    let duration_ms = end_ms - start_ms;
    if duration_ms > max_ms {
        return Err(ClipError::TooLong { duration_ms, max_ms });
    }
    // The chunks' heads: in order, and covering the window.
    let mut files = Vec::with_capacity(chunks.len());
    for (index, bytes) in chunks.iter().enumerate() {
        let file = read_chunk(bytes).map_err(|source| ClipError::Chunk { index, source })?;
        if let Some(previous) = files.last().map(|f: &ChunkFile<'_>| f.header.info) {
            let info = file.header.info;
            // A new session may start a moment before the last one's final frames end (a
            // configuration change cuts where its header came): only a start that steps back
            // is out of order.
            if info.start <= previous.start {
                return Err(ClipError::OutOfOrder { index, start_ms: info.start.0, previous_end_ms: previous.end().0 });
            }
            let gap = info.start.0.saturating_sub(previous.end().0);
            if gap > MAX_GAP_MS && info.start.0 > start_ms && previous.end().0 < end_ms {
                return Err(ClipError::Gap { from_ms: previous.end().0, to_ms: info.start.0 });
            }
        }
        files.push(file);
    }
    let from_ms = files.first().map_or(0, |f| f.header.info.start.0);
    let to_ms = files.last().map_or(0, |f| f.header.info.end().0);
    if files.is_empty() || start_ms < from_ms || end_ms > to_ms {
        return Err(ClipError::NotCovered { start_ms, end_ms, from_ms, to_ms });
    }
    // The chunks that matter: from the last independent one starting at or before the window
    // (and the one before it, of the same configuration, for audio pre-roll) to the last one
    // starting before its end.
    let key = files.iter().rposition(|f| f.header.info.independent && f.header.info.start.0 <= start_ms).unwrap_or(0);
    let first = match key.checked_sub(1) {
        Some(before) if files[before].config == files[key].config => before,
        _ => key,
    };
    let last = files.iter().rposition(|f| f.header.info.start.0 < end_ms).unwrap_or(first).max(first);
    // One configuration for every sample written: a chunk after the start's with another one
    // starts before the end, so the change is inside the window.
    if let Some(changed) = files[key..=last].iter().find(|f| f.config != files[key].config) {
        return Err(ClipError::ConfigChanged { at_ms: changed.header.info.start.0 });
    }

    // Every sample of those chunks, timed as their segments have them.
    let mut extra = Vec::new();
    let mut video = TrackSamples { timescale: VIDEO_TIMESCALE, samples: Vec::new() };
    let mut audio = TrackSamples { timescale: 0, samples: Vec::new() };
    for (index, file) in files.iter().enumerate().take(last + 1).skip(first) {
        let info = file.header.info;
        let mut scratch = Vec::new();
        let (runs, _) = chunk_runs(&file.config, &info, file.tags.clone(), &mut Warnings::default(), &mut scratch)
            .map_err(|source| ClipError::Chunk { index, source })?;
        for run in &runs {
            let track = if run.track_id == VIDEO_TRACK_ID { &mut video } else { &mut audio };
            if run.track_id == AUDIO_TRACK_ID {
                track.timescale = file.config.audio.as_ref().map_or(0, AudioConfig::timescale);
            }
            let mut decode = run.base_decode_time;
            for s in &run.samples {
                let source = match offset_in(chunks[index], s.data) {
                    Some(range) => Source::Input { chunk: index, range },
                    None => {
                        let at = extra.len();
                        extra.extend_from_slice(s.data);
                        Source::Extra(at..extra.len())
                    }
                };
                track.samples.push(Timed {
                    chunk: index,
                    decode,
                    duration: s.duration.into(),
                    composition_offset: s.composition_offset,
                    sync: s.flags == crate::cmaf::SAMPLE_FLAGS_SYNC,
                    source,
                });
                decode += u64::from(s.duration);
            }
        }
    }

    let video_choice = choose_video(&video, start_ms, end_ms)?;
    let audio_choice = match files[key].config.audio.as_ref() {
        Some(config) if !audio.samples.is_empty() => {
            let anchor = files[key].header.info.audio_anchor;
            choose_audio(&audio, config, anchor, start_ms, end_ms)?
        }
        _ => None,
    };

    let base = &files[key].config;
    let mut tracks: Vec<(Track, &TrackSamples, Chosen)> = Vec::with_capacity(2);
    if let (Some(v), Some(c)) = (&base.video, video_choice) {
        tracks.push((Track { id: VIDEO_TRACK_ID, kind: TrackKind::Video(v.clone()) }, &video, c));
    }
    if let (Some(a), Some(c)) = (&base.audio, audio_choice) {
        tracks.push((Track { id: AUDIO_TRACK_ID, kind: TrackKind::Audio(a.clone()) }, &audio, c));
    }
    if tracks.is_empty() {
        return Err(ClipError::NoFrames);
    }
    let mut clip = lay_out(&tracks, &files, first..last + 1)?;
    clip.extra = extra;
    clip.duration_ms = duration_ms;
    Ok(clip)
}

/// The video samples of the window: from the last keyframe shown at or before its start to the
/// last frame shown before its end (with every frame decoded before it), and the edit that
/// shows the window.
fn choose_video(track: &TrackSamples, start_ms: u64, end_ms: u64) -> Result<Option<Chosen>, ClipError> {
    let samples = &track.samples;
    let (start, end) = (i128::from(ticks(start_ms, track.timescale)), i128::from(ticks(end_ms, track.timescale)));
    let Some(first) = samples.iter().rposition(|s| s.sync && s.shown() <= start).or_else(|| {
        // No keyframe before the start (media begins a moment after it): the first keyframe,
        // after an empty edit.
        samples.iter().position(|s| s.sync && s.shown() < end)
    }) else {
        return Ok(None);
    };
    let Some(last) = samples.iter().rposition(|s| s.shown() < end).filter(|&l| l >= first) else {
        return Ok(None);
    };
    let zero = samples[first].decode;
    let shown_first = samples[first].shown();
    let (delay, from) = if shown_first > start { (shown_first - start, shown_first) } else { (0, start) };
    let delay_ms = millis(u64::try_from(delay).unwrap_or(0), track.timescale);
    let media_time = u64::try_from((from - i128::from(zero)).max(0)).unwrap_or(0);
    let edit = Edit {
        delay: Error::fit_u32("edit delay", delay_ms)?,
        media_time,
        duration: Error::fit_u32("edit duration", (end_ms - start_ms).saturating_sub(delay_ms))?,
    };
    Ok(Some(Chosen { range: first..last + 1, edit }))
}

/// The audio frames of the window: from the frame holding its start (after its decoder's
/// [`pre_roll_frames`]) to the last frame starting before its end, and the edit that presents
/// the window, to the sample. Opus at a session's first packet also skips its pre-skip.
fn choose_audio(
    track: &TrackSamples,
    config: &AudioConfig,
    anchor: Option<Millis>,
    start_ms: u64,
    end_ms: u64,
) -> Result<Option<Chosen>, ClipError> {
    let samples = &track.samples;
    let rate = track.timescale;
    let (start, end) = (ticks(start_ms, rate), ticks(end_ms, rate));
    let Some(holding) = samples.iter().position(|s| s.decode + s.duration > start) else { return Ok(None) };
    let Some(last) = samples.iter().rposition(|s| s.decode < end).filter(|&l| l >= holding) else {
        return Ok(None);
    };
    let frame = u32::try_from(samples[holding].duration).unwrap_or(u32::MAX);
    let first = holding.saturating_sub(pre_roll_frames(config, frame));
    let zero = samples[first].decode;
    let (delay_ms, mut media_time) = if zero > start { (millis(zero - start, rate), 0) } else { (0, start - zero) };
    if let (AudioConfig::Opus(opus), Some(anchor)) = (config, anchor) {
        if zero == anchor.to_timescale(rate) {
            media_time = media_time.max(opus.pre_skip.into());
        }
    }
    // The track lasts to the window's end, or to its last frame's if audio stops before.
    let last_end = samples[last].decode + samples[last].duration;
    let presented_end = millis(last_end.min(end), rate).min(end_ms);
    let presented = presented_end.saturating_sub(start_ms.saturating_add(delay_ms));
    let edit = Edit {
        delay: Error::fit_u32("edit delay", delay_ms)?,
        media_time,
        duration: Error::fit_u32("edit duration", presented)?,
    };
    Ok(Some(Chosen { range: first..last + 1, edit }))
}

/// Lays the chosen samples out in `mdat`, grouped by input chunk (its video, then its audio:
/// a movie chunk each), and writes the head.
fn lay_out(
    tracks: &[(Track, &TrackSamples, Chosen)],
    files: &[ChunkFile<'_>],
    used: Range<usize>,
) -> Result<Clip, ClipError> {
    // Sample tables: a sample lasts until the next one of its track decodes (chosen or not),
    // the track's last as its segment says.
    let mut tables: Vec<Vec<MovieSample>> = Vec::with_capacity(tracks.len());
    for (_, track, chosen) in tracks {
        let samples = &track.samples;
        let mut out = Vec::with_capacity(chosen.range.len());
        for i in chosen.range.clone() {
            let s = &samples[i];
            let duration = match samples.get(i + 1) {
                Some(next) => next.decode.checked_sub(s.decode).ok_or(ClipError::OutOfOrder {
                    index: next.chunk,
                    start_ms: files[next.chunk].header.info.start.0,
                    previous_end_ms: files[s.chunk].header.info.end().0,
                })?,
                None => s.duration,
            };
            out.push(MovieSample {
                duration: Error::fit_u32("sample duration", duration)?,
                composition_offset: s.composition_offset,
                size: Error::fit_u32("sample size", s.source.len() as u64)?,
                sync: s.sync,
            });
        }
        tables.push(out);
    }
    // mdat order and the pieces, offsets counted from mdat's payload.
    let mut body: Vec<Piece> = Vec::new();
    let mut groups: Vec<Vec<(u64, u32)>> = vec_of(tracks.len());
    let mut data_len = 0u64;
    let mut cursors: Vec<usize> = tracks.iter().map(|(_, _, c)| c.range.start).collect();
    for chunk in used {
        for (t, (_, track, chosen)) in tracks.iter().enumerate() {
            let (begin, group_start) = (cursors[t], data_len);
            while cursors[t] < chosen.range.end && track.samples[cursors[t]].chunk == chunk {
                let source = &track.samples[cursors[t]].source;
                push_piece(&mut body, data_len, source.clone());
                data_len += source.len() as u64;
                cursors[t] += 1;
            }
            if cursors[t] > begin {
                groups[t].push((group_start, Error::fit_u32("samples per chunk", (cursors[t] - begin) as u64)?));
            }
        }
    }
    let mdat_header: u64 = if data_len + 8 > u64::from(u32::MAX) { 16 } else { 8 };
    // The head's size depends on whether chunk offsets need 64 bits, which depends on the
    // head's size: written until it holds still (twice, or three times when the offsets move
    // past 4 GiB and `stco` becomes `co64`).
    let mut head = Vec::new();
    let mut base = 0u64;
    let mut settled = false;
    for _ in 0..3 {
        let chunk_lists: Vec<Vec<MovieChunk>> = groups
            .iter()
            .map(|g| g.iter().map(|&(at, samples)| MovieChunk { offset: base + mdat_header + at, samples }).collect())
            .collect();
        let movie: Vec<MovieTrack<'_>> = tracks
            .iter()
            .zip(&tables)
            .zip(&chunk_lists)
            .map(|(((track, _, chosen), samples), chunks)| MovieTrack {
                track: track.clone(),
                edit: chosen.edit,
                samples,
                chunks,
            })
            .collect();
        head.clear();
        write_movie(&mut head, &movie)?;
        settled = head.len() as u64 == base;
        if settled {
            break;
        }
        base = head.len() as u64;
    }
    if !settled {
        return Err(Error::TooLarge { field: "moov size (offsets do not settle)", value: head.len() as u64 }.into());
    }
    if mdat_header == 16 {
        head.extend_from_slice(&1u32.to_be_bytes());
        head.extend_from_slice(b"mdat");
        head.extend_from_slice(&(data_len + 16).to_be_bytes());
    } else {
        head.extend_from_slice(&Error::fit_u32("mdat size", data_len + 8)?.to_be_bytes());
        head.extend_from_slice(b"mdat");
    }
    let head_len = head.len() as u64;
    for piece in &mut body {
        piece.at += head_len;
    }
    Ok(Clip { len: head_len + data_len, head, body, extra: Vec::new(), duration_ms: 0 })
}

fn vec_of<T>(n: usize) -> Vec<Vec<T>> {
    (0..n).map(|_| Vec::new()).collect()
}

/// Appends `source` at `at`, joined to the piece before when it continues it.
fn push_piece(body: &mut Vec<Piece>, at: u64, source: Source) {
    if let Some(last) = body.last_mut() {
        let joined = match (&mut last.source, &source) {
            (Source::Input { chunk: a, range: r }, Source::Input { chunk: b, range: s })
                if a == b && r.end == s.start =>
            {
                r.end = s.end;
                true
            }
            (Source::Extra(r), Source::Extra(s)) if r.end == s.start => {
                r.end = s.end;
                true
            }
            _ => false,
        };
        if joined {
            return;
        }
    }
    body.push(Piece { at, source });
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::chunk::tests::{audio, avc_header, frame, video, AAC_FRAME, AAC_HEADER};
    use crate::chunk::{ChunkEvent, ChunkWriter, Chunker};
    use alloc::string::ToString;
    use mp4_atom::{Any, Decode, FourCC, StszSamples};

    /// 44.1 kHz stereo AAC LC: another configuration than [`AAC_HEADER`]'s 48 kHz.
    const AAC_44K_HEADER: &[u8] = &[0xAF, 0x00, 0x12, 0x10];

    /// Chunk files of 30 fps video (a keyframe each second) and 48 kHz AAC, 1 s chunks, up to
    /// `until_ms`; the AAC configuration changes to 44.1 kHz at `change_at` if given.
    fn stream(until_ms: u32, change_at: Option<u32>) -> Vec<Vec<u8>> {
        let mut w = ChunkWriter::new(Chunker::new(1000));
        let mut events = Vec::new();
        let header = avc_header();
        let (key, inter) = (frame(true, 0), frame(false, 0));
        w.push(&video(0, &header), &mut events);
        w.push(&audio(0, AAC_HEADER), &mut events);
        let (mut v, mut a, mut rate) = (0u32, 0u64, 48_000u64);
        let mut anchor = (0u32, 0u64);
        loop {
            let vt = v * 100 / 3;
            let at = anchor.0 + u32::try_from(((a - anchor.1) * 1024 * 1000 + rate / 2) / rate).unwrap();
            if vt >= until_ms && at >= until_ms {
                break;
            }
            if vt <= at {
                w.push(&video(vt, if v % 30 == 0 { &key } else { &inter }), &mut events);
                v += 1;
            } else {
                if change_at.is_some_and(|c| at >= c) && rate == 48_000 {
                    w.push(&audio(at, AAC_44K_HEADER), &mut events);
                    (rate, anchor) = (44_100, (at, a));
                }
                w.push(&audio(at, AAC_FRAME), &mut events);
                a += 1;
            }
        }
        w.finish(&mut events);
        events
            .into_iter()
            .filter_map(|e| match e {
                ChunkEvent::Closed(c) => Some(c.into_file("s")),
                _ => None,
            })
            .collect()
    }

    /// Chunk files of 30 fps video from 0 and 48 kHz AAC from `audio_from` ms, 1 s chunks, to 3 s.
    fn late_audio(audio_from: u32) -> Vec<Vec<u8>> {
        let mut w = ChunkWriter::new(Chunker::new(1000));
        let mut events = Vec::new();
        let header = avc_header();
        let (key, inter) = (frame(true, 0), frame(false, 0));
        w.push(&video(0, &header), &mut events);
        w.push(&audio(0, AAC_HEADER), &mut events);
        let (mut v, mut a) = (0u32, 0u32);
        loop {
            let vt = v * 100 / 3;
            let at = audio_from + (a * 1024 * 1000 + 24_000) / 48_000;
            if vt >= 3000 && at >= 3000 {
                break;
            }
            if vt <= at {
                w.push(&video(vt, if v % 30 == 0 { &key } else { &inter }), &mut events);
                v += 1;
            } else {
                w.push(&audio(at, AAC_FRAME), &mut events);
                a += 1;
            }
        }
        w.finish(&mut events);
        events
            .into_iter()
            .filter_map(|e| match e {
                ChunkEvent::Closed(c) => Some(c.into_file("s")),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_track_that_begins_after_the_window_starts_waits_in_an_empty_edit() {
        let chunks = late_audio(200);
        let inputs = slices(&chunks);
        let clip = build_clip(&inputs, 0, 1500, DEFAULT_MAX_CLIP).expect("a clip");
        let bytes = clip.to_vec(&inputs).expect("bytes");
        let boxes = boxes(&bytes);
        let Any::Moov(moov) = &boxes[1] else { panic!("moov") };
        let edits = |t: &mp4_atom::Trak| {
            t.edts
                .as_ref()
                .and_then(|e| e.elst.as_ref())
                .expect("elst")
                .entries
                .iter()
                .map(|e| (e.segment_duration, e.media_time))
                .collect::<Vec<_>>()
        };
        assert_eq!(edits(&moov.trak[0]), [(1500, Some(0))], "video from its first frame");
        assert_eq!(edits(&moov.trak[1]), [(200, None), (1300, Some(0))], "audio after 200 ms of nothing");
        assert_eq!((moov.trak[0].tkhd.duration, moov.trak[1].tkhd.duration, moov.mvhd.duration), (1500, 1500, 1500));
    }

    fn slices(chunks: &[Vec<u8>]) -> Vec<&[u8]> {
        chunks.iter().map(Vec::as_slice).collect()
    }

    /// Every top-level box, decoded by mp4-atom (strict).
    fn boxes(mut bytes: &[u8]) -> Vec<Any> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            out.push(Any::decode(&mut bytes).expect("mp4-atom (strict) decodes every box"));
        }
        out
    }

    #[test]
    fn a_clip_is_ftyp_moov_mdat_with_tables_and_edits_that_present_the_window() {
        let chunks = stream(6000, None);
        let inputs = slices(&chunks);
        let clip = build_clip(&inputs, 1500, 3700, DEFAULT_MAX_CLIP).expect("a clip");
        let bytes = clip.to_vec(&inputs).expect("bytes");
        assert_eq!(bytes.len() as u64, clip.len);
        let boxes = boxes(&bytes);
        let [Any::Ftyp(ftyp), Any::Moov(moov), Any::Mdat(mdat)] = &boxes[..] else { panic!("ftyp moov mdat") };
        assert_eq!(ftyp.major_brand, FourCC::new(b"isom"));
        assert!(moov.mvex.is_none(), "not fragmented");
        assert_eq!((moov.mvhd.timescale, moov.mvhd.duration), (1000, 2200));
        assert_eq!(mdat.data.len() as u64, clip.len - clip.head.len() as u64);

        let [v, a] = &moov.trak[..] else { panic!("two tracks") };
        // Video: from the keyframe at 1000 ms to the last frame shown before 3700 ms (frame
        // 110, at 3666 ms); presented from 1500 ms for 2200 ms.
        assert_eq!(v.tkhd.duration, 2200);
        let elst = v.edts.as_ref().and_then(|e| e.elst.as_ref()).expect("elst");
        assert_eq!(elst.entries.len(), 1);
        assert_eq!((elst.entries[0].segment_duration, elst.entries[0].media_time), (2200, Some(500 * 90)));
        let stbl = &v.mdia.minf.stbl;
        let StszSamples::Identical { count, .. } = stbl.stsz.samples else { panic!("equal frames") };
        assert_eq!(count, 81);
        assert_eq!(stbl.stss.as_ref().expect("stss").entries, [1, 31, 61]);
        let decode_end: u64 =
            stbl.stts.entries.iter().map(|e| u64::from(e.sample_count) * u64::from(e.sample_delta)).sum();
        assert_eq!(v.mdia.mdhd.duration, decode_end);
        assert!(stbl.ctts.is_none(), "no composition offsets");

        // Audio: one frame of pre-roll before the frame holding 1500 ms; presented to the sample.
        let elst = a.edts.as_ref().and_then(|e| e.elst.as_ref()).expect("elst");
        let media_time = elst.entries[0].media_time.expect("not empty");
        assert!((1024..2048).contains(&media_time), "one AAC frame of pre-roll and part of one: {media_time}");
        assert_eq!(elst.entries[0].segment_duration, 2200);
        let stbl = &a.mdia.minf.stbl;
        assert!(stbl.stss.is_none(), "every audio frame is sync");
        let frames: u64 = stbl.stts.entries.iter().map(|e| u64::from(e.sample_count)).sum();
        // From the frame before the one holding 1500 ms to the last starting before 3700 ms.
        assert_eq!(frames, 3700 * 48 / 1024 - (1500 * 48 / 1024 - 1) + 1);
        // Both tracks' chunks point into mdat, in file order.
        let offsets = |t: &mp4_atom::Trak| t.mdia.minf.stbl.stco.as_ref().expect("stco").entries.clone();
        let mut all: Vec<u32> = offsets(v).into_iter().chain(offsets(a)).collect();
        all.sort_unstable();
        assert_eq!(u64::from(all[0]), clip.head.len() as u64, "the first chunk starts mdat's payload");
        assert!(all.iter().all(|&o| u64::from(o) < clip.len));
    }

    #[test]
    fn the_same_window_gives_the_same_bytes_and_ranges_are_slices() {
        let chunks = stream(5000, None);
        let inputs = slices(&chunks);
        let a = build_clip(&inputs, 700, 4100, DEFAULT_MAX_CLIP).expect("a clip");
        let b = build_clip(&inputs, 700, 4100, DEFAULT_MAX_CLIP).expect("a clip");
        assert_eq!(a, b);
        let whole = a.to_vec(&inputs).expect("bytes");
        for start in (0..whole.len()).step_by(37) {
            let end = (start + 101).min(whole.len());
            let mut out = Vec::new();
            a.write_range(&inputs, start as u64..end as u64, &mut out).expect("range");
            assert_eq!(out, whole[start..end]);
        }
        // Other chunks than the clip's are refused, not read out of bounds.
        let short: Vec<&[u8]> = inputs.iter().map(|c| &c[..10]).collect();
        assert!(matches!(a.to_vec(&short), Err(ClipError::InputChanged { .. })));
    }

    #[test]
    fn a_configuration_change_inside_the_window_is_refused_naming_its_time() {
        let chunks = stream(6000, Some(3000));
        let inputs = slices(&chunks);
        let changed = build_clip(&inputs, 2500, 4500, DEFAULT_MAX_CLIP).expect_err("a change inside");
        let ClipError::ConfigChanged { at_ms } = changed else { panic!("{changed:?}") };
        assert!((3000..=4000).contains(&at_ms), "at the new session's first chunk: {at_ms}");
        assert_eq!(changed.status(), 422);
        assert!(changed.to_string().contains(&std::format!("{at_ms} ms")), "{changed}");
        // Windows on either side of it are clips.
        build_clip(&inputs, 500, 2500, DEFAULT_MAX_CLIP).expect("before the change");
        build_clip(&inputs, at_ms + 100, 5500, DEFAULT_MAX_CLIP).expect("after the change");
    }

    #[test]
    fn a_download_name_is_safe_in_a_header_and_keeps_its_unicode() {
        assert_eq!(attachment("goal").unwrap(), "attachment; filename=\"goal.mp4\"; filename*=UTF-8''goal.mp4");
        assert_eq!(
            attachment("../x/But \"final\" ü.MP4").unwrap(),
            "attachment; filename=\"But _final_ _.MP4\"; filename*=UTF-8''But%20%22final%22%20%C3%BC.MP4"
        );
        for bad in ["", "dir/", "a\r\nSet-Cookie: x", &"n".repeat(MAX_FILENAME_LEN + 1)] {
            let e = attachment(bad).expect_err("refused");
            assert_eq!(e.status(), 400, "{bad:?}");
        }
    }

    #[test]
    fn windows_that_cannot_be_clips_are_told_apart() {
        let chunks = stream(4000, None);
        let inputs = slices(&chunks);
        let status = |start, end, max| build_clip(&inputs, start, end, max).expect_err("refused").status();
        assert_eq!(status(1000, 1000, DEFAULT_MAX_CLIP), 400, "empty");
        assert_eq!(status(0, 3000, 2000), 400, "longer than the limit");
        assert_eq!(status(3500, 9000, DEFAULT_MAX_CLIP), 404, "past the media");
        assert_eq!(build_clip(&[], 0, 1000, DEFAULT_MAX_CLIP).expect_err("none").status(), 404);
        assert_eq!(DEFAULT_MAX_CLIP, 600_000);
        let long = build_clip(&inputs, 0, 700_000, DEFAULT_MAX_CLIP).expect_err("too long");
        assert_eq!(long.to_string(), "the clip would last 700000 ms; clips are limited to 600000 ms");
    }
}

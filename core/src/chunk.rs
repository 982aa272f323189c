//! Chunking: where a stream of FLV tags is cut into chunks (one per HLS segment), where a new
//! publishing session (an HLS discontinuity) begins, and how the chunk files are assembled.
//!
//! [`ChunkWriter`] is the one place that turns tags into chunk files: the ingest node, the offline
//! packager and the benches all use it. Its [`Chunker`] decides; the writer follows each decision
//! (it never cuts on its own, so the chunk it holds and the chunk the chunker describes are the
//! same chunk). Rules (`docs/storage.md` says what they mean for sessions):
//! - with video, a chunk starts at a keyframe and is cut at the first keyframe at or after the
//!   target duration; without video, at the first audio frame at or after it;
//! - rare keyframes: a chunk with no keyframe for [`KEYFRAME_WAIT_FACTOR`] × the target, or grown
//!   to [`MAX_CHUNK_BYTES`], is cut at the next frame anyway; that chunk is not independent
//!   ([`ChunkInfo::independent`]) and no frame is lost;
//! - jitter: a decode time stepping back by up to one frame duration (at least [`JITTER_MS`]) is
//!   smoothed (video is clamped forward, keeping presentation times), as is any forward gap up to
//!   [`MAX_GAP_MS`];
//! - a decode time going further backwards, a gap longer than [`MAX_GAP_MS`] in a track, or a
//!   changed sequence header starts a new session; video then waits for its next keyframe. The new
//!   session's timeline continues where the last one ended, past its last frame in decode and
//!   in presentation order (tag times are shifted by the chunk's `offset_ms`), so neither decode
//!   nor presentation times go backwards, even across a discontinuity;
//! - late tracks: a session's tracks are fixed when its first chunk opens. The [`ChunkWriter`]
//!   holds the first tags back while one track has its sequence header and the other may still
//!   come: up to [`MAX_ANNOUNCED_WAIT_MS`] when `onMetaData` announced it, so that the session's
//!   one init segment declares every track (players that read a playlist's first init segment
//!   only, as ffmpeg does, then see the late track too); one target duration when only its
//!   first tags, or nothing, announced it. A header that arrives later still starts a new session at the next
//!   video keyframe (its first one, if the late track is the video), whose init segment has both
//!   tracks; until then that track's frames are left out. No chunk carries a track its session's
//!   headers lack.

mod file;
mod parts;
mod writer;

pub use file::{headers_digest, read_chunk, write_chunk_head, ChunkFile, ChunkHeader, CHUNK_TAG, MAX_SESSION_ID_LEN};
pub use parts::{PartInfo, MAX_PARTS};
pub use writer::{ChunkEvent, ChunkWriter, ClosedChunk, OpenPart, MAX_ANNOUNCED_WAIT_MS, MAX_HELD_BYTES};

use alloc::vec::Vec;

use crate::flv::Tag;
use crate::media::{AudioConfig, Media, MediaTag, Skip, StreamConfig, VideoConfig};
use crate::timeline::{Millis, Unwrapper};

/// A forward jump in one track longer than this starts a new session.
pub const MAX_GAP_MS: u64 = 10_000;
/// A decode time stepping back by at most this much (or one frame duration, if longer) is
/// jitter, smoothed; further back starts a new session.
pub const JITTER_MS: u64 = 50;
/// Largest chunk: a chunk that would grow past it is cut before the next frame.
pub const MAX_CHUNK_BYTES: usize = 64 << 20;
/// With no keyframe for this many target durations, a chunk is cut at the next frame.
pub const KEYFRAME_WAIT_FACTOR: u64 = 3;

/// A closed chunk: what the manifest records of it and what a segment is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    /// The publishing session (0, 1, …): each begins with its own init segment, after a
    /// discontinuity.
    pub session: u32,
    /// The chunk's number, counted across sessions: the HLS media sequence number.
    pub sequence: u64,
    /// Time of the chunk's first tag on the unwrapped timeline.
    pub start: Millis,
    /// Until the next chunk's start (or, for the last chunk, past the last frame).
    pub duration_ms: u64,
    /// Session timeline minus the tags' own (unwrapped) times.
    pub offset_ms: i64,
    /// Time of the session's first audio frame: the origin of its grid of AAC frame times
    /// ([`crate::timeline::AudioClock`]), so segments built apart join without gap or overlap.
    pub audio_anchor: Option<Millis>,
    /// Its video starts with a keyframe (or it has no video): it decodes without the chunk
    /// before it. False only for a chunk cut between keyframes (rare keyframes).
    pub independent: bool,
}

impl ChunkInfo {
    /// Where the chunk ends.
    pub fn end(&self) -> Millis {
        Millis(self.start.0 + self.duration_ms)
    }

    /// The session time of a tag of the chunk stamped `timestamp`: read against the chunk's
    /// start (so chunks across a 2^32 ms wrap are right), shifted by its offset.
    pub fn time_of(&self, timestamp: u32) -> Millis {
        let raw_start = Millis(self.start.0.saturating_add_signed(-self.offset_ms));
        Millis(raw_start.unwrap_near(timestamp).0.saturating_add_signed(self.offset_ms))
    }
}

/// `a − b`, signed (saturating: times on the timeline are far below 2^63 ms).
fn signed_diff(a: Millis, b: Millis) -> i64 {
    let d = i128::from(a.0) - i128::from(b.0);
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

/// What to do with a tag, after closing `close` if it is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// A chunk that ends before this tag.
    pub close: Option<ChunkInfo>,
    /// What to do with the tag itself.
    pub action: Action,
}

/// What to do with one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Append it to the open chunk (opening one, at `at`, if none is open).
    Append {
        /// The tag's time on the unwrapped timeline (after smoothing).
        at: Millis,
        /// This tag opens a new chunk.
        opens: bool,
    },
    /// A sequence header, now part of [`Chunker::config`]; chunk files repeat the current ones
    /// at their start instead of carrying them inline.
    Configure,
    /// Leave it out: video before its first keyframe, script data, …
    Drop,
    /// Leave it out, and tell the user why.
    Skip(Skip),
}

#[derive(Debug, Clone, Copy, Default)]
struct TrackClock {
    last: Option<Millis>,
    step: u64,
    /// The latest presentation time of any frame (decode time plus composition offset): with
    /// B-frames, a frame decoded before the last one can be shown after it.
    latest_shown: Option<Millis>,
}

impl TrackClock {
    /// Past the last frame in decode order.
    fn end(&self) -> Option<Millis> {
        self.last.map(|t| Millis(t.0 + self.step))
    }

    /// Past the last frame in decode or presentation order, whichever ends later.
    fn shown_end(&self) -> Option<Millis> {
        let shown = self.latest_shown.map(|t| Millis(t.0 + self.step));
        self.end().max(shown)
    }

    fn step_to(&mut self, at: Millis, composition_ms: i64) {
        self.step = self.last.map_or(0, |l| at.0.saturating_sub(l.0));
        self.last = Some(at);
        let shown = Millis(at.0.saturating_add_signed(composition_ms));
        self.latest_shown = self.latest_shown.max(Some(shown));
    }
}

#[derive(Debug, Clone, Copy)]
struct Open {
    start: Millis,
    independent: bool,
    bytes: usize,
}

/// Sequence headers and what they configure.
#[derive(Debug, Clone, Default)]
struct Headers {
    config: StreamConfig,
    video: Option<Vec<u8>>,
    audio: Option<Vec<u8>>,
}

/// Decides chunk boundaries and sessions for a sequence of tags. Sans-IO: the caller keeps the
/// tags and acts on each [`Decision`]; [`ChunkWriter`] is that caller.
#[derive(Debug, Clone)]
pub struct Chunker {
    target_ms: u64,
    /// The latest sequence headers.
    latest: Headers,
    /// The headers the session's chunks carry, fixed when its first chunk opens.
    carried: Option<Headers>,
    /// A header arrived for a track the session does not carry: a new session starts at the
    /// next video keyframe.
    late_track: bool,
    unwrapper: Unwrapper,
    /// Session timeline minus unwrapped tag time: each new session continues where the one
    /// before ended, so decode times never go backwards across a discontinuity.
    offset: i64,
    /// Where the first frame is placed on the timeline (a resumed stream), once.
    resume_at: Option<Millis>,
    video: TrackClock,
    audio: TrackClock,
    /// The session's first audio frame.
    audio_first: Option<Millis>,
    waiting_for_keyframe: bool,
    session: u32,
    sequence: u64,
    open: Option<Open>,
    /// Whether a part may start at the last frame appended, and whether it would be independent.
    part_point: Option<bool>,
}

impl Chunker {
    /// A chunker cutting at `target_ms` (≥ 1).
    pub fn new(target_ms: u64) -> Self {
        Self {
            target_ms: target_ms.max(1),
            latest: Headers::default(),
            carried: None,
            late_track: false,
            unwrapper: Unwrapper::default(),
            offset: 0,
            resume_at: None,
            video: TrackClock::default(),
            audio: TrackClock::default(),
            audio_first: None,
            waiting_for_keyframe: true,
            session: 0,
            sequence: 0,
            open: None,
            part_point: None,
        }
    }

    /// Numbers chunks from `sequence` on (a stream that resumes continues its numbering).
    pub fn with_first_sequence(mut self, sequence: u64) -> Self {
        self.sequence = sequence;
        self
    }

    /// Places the first frame at `at` on the timeline: a stream published again continues its
    /// timeline where the last publish ended, as if the publisher had never left.
    pub fn with_resume_at(mut self, at: Millis) -> Self {
        self.resume_at = Some(at);
        self
    }

    /// The target chunk duration.
    pub fn target_ms(&self) -> u64 {
        self.target_ms
    }

    fn headers(&self) -> &Headers {
        self.carried.as_ref().unwrap_or(&self.latest)
    }

    /// The codec configuration of the session's chunks (what its init segment says).
    pub fn config(&self) -> &StreamConfig {
        &self.headers().config
    }

    /// The session's sequence header tag bodies (video, audio), to start chunk files with.
    pub fn sequence_headers(&self) -> (Option<&[u8]>, Option<&[u8]>) {
        let h = self.headers();
        (h.video.as_deref(), h.audio.as_deref())
    }

    /// Takes what the video configuration does not say from a frame of the session
    /// ([`VideoConfig::learn_from_frame`]).
    pub(crate) fn learn_from_frame(&mut self, frame: &[u8]) {
        for headers in core::iter::once(&mut self.latest).chain(self.carried.as_mut()) {
            if let Some(v) = &mut headers.config.video {
                v.learn_from_frame(frame);
            }
        }
    }

    /// Whether the current session has opened a chunk (its tracks are then fixed).
    pub fn session_started(&self) -> bool {
        self.carried.is_some()
    }

    /// Which tracks have a sequence header (video, audio).
    pub fn has_headers(&self) -> (bool, bool) {
        (self.latest.config.video.is_some(), self.latest.config.audio.is_some())
    }

    /// The current session.
    pub fn session(&self) -> u32 {
        self.session
    }

    /// Whether a part ([`PartInfo`]) may start at the frame last appended: in a session with
    /// video at video frames (at audio frames before its first one), else at audio frames;
    /// `Some(true)` if it would be independent.
    pub fn part_point(&self) -> Option<bool> {
        self.part_point
    }

    /// The open chunk as known so far: everything but its duration (0) is what it closes with.
    pub fn open_info(&self) -> Option<ChunkInfo> {
        self.open.map(|open| self.info(open, open.start))
    }

    /// What the manifest records of the chunk `open`, ending at `end`.
    fn info(&self, open: Open, end: Millis) -> ChunkInfo {
        ChunkInfo {
            session: self.session,
            sequence: self.sequence,
            start: open.start,
            duration_ms: end.0.saturating_sub(open.start.0),
            audio_anchor: self.audio_first,
            offset_ms: self.offset,
            independent: open.independent,
        }
    }

    /// Decides what to do with the next tag.
    pub fn push(&mut self, tag: &Tag<'_>) -> Decision {
        self.push_read(&MediaTag::read(*tag))
    }

    /// Decides what to do with the next tag, read already.
    pub fn push_read(&mut self, read: &MediaTag<'_>) -> Decision {
        let tag = &read.tag;
        let media = match &read.media {
            Ok(m) => *m,
            Err(skip) => return self.decide(None, Action::Skip(skip.clone())),
        };
        if matches!(media, Media::Ignored) {
            // Script data and the like: their timestamps (onMetaData's is often 0) are not on
            // the media timeline and must not move the unwrapper.
            return self.decide(None, Action::Drop);
        }
        let raw = self.unwrapper.unwrap(tag.timestamp);
        let wire = tag.wire_len();
        match media {
            Media::Ignored => self.decide(None, Action::Drop),
            Media::VideoConfig { codec, record } => {
                self.configure(tag, true, |c| VideoConfig::parse(codec, record).map(|v| c.video = Some(v)))
            }
            Media::AudioConfig { codec, record } => {
                self.configure(tag, false, |c| AudioConfig::parse(codec, record).map(|a| c.audio = Some(a)))
            }
            Media::Video { keyframe, composition_time, data } => {
                let Some(video) = &self.latest.config.video else {
                    return self.decide(None, Action::Skip(Skip::NoConfig("video")));
                };
                let keyframe = keyframe && video.is_sync(data);
                let (mut close, at) = self.place(raw, true);
                // Presentation time is kept where a decode time was clamped forward.
                let composition = i64::from(composition_time) - (signed_diff(at, raw) - self.offset);
                let carried_video = self.carried.as_ref().map(|h| h.config.video.is_some());
                if close.is_none() && carried_video == Some(false) && !keyframe {
                    return self.decide(None, Action::Drop); // late video waits for its keyframe
                }
                if close.is_none() && keyframe && (self.late_track || carried_video == Some(false)) {
                    // The late track joins here: a new session whose chunks carry every track.
                    close = self.switch_session(at);
                }
                if self.waiting_for_keyframe && !keyframe {
                    return self.decide(close, Action::Drop);
                }
                self.waiting_for_keyframe = false;
                let mut independent = true;
                if close.is_none() {
                    if let Some(open) = self.open {
                        let due = at.0 >= open.start.0 + self.target_ms;
                        let overdue = at.0 >= open.start.0 + KEYFRAME_WAIT_FACTOR * self.target_ms;
                        let full = open.bytes + wire > MAX_CHUNK_BYTES;
                        if (keyframe && due) || overdue || full {
                            close = self.close(at);
                            independent = keyframe;
                        }
                    }
                }
                self.video.step_to(at, composition);
                self.part_point = Some(keyframe);
                self.append(close, at, independent, wire)
            }
            Media::Audio(_) => {
                if let Err(skip) = self.configure_in_band(read) {
                    return self.decide(None, Action::Skip(skip));
                }
                if self.latest.config.audio.is_none() {
                    return self.decide(None, Action::Skip(Skip::NoConfig("audio")));
                }
                if self.carried.as_ref().is_some_and(|h| h.config.audio.is_none()) {
                    // A late audio track: it joins at the next video keyframe.
                    return self.decide(None, Action::Drop);
                }
                let (mut close, at) = self.place(raw, false);
                // An audio frame opens an independent chunk in a session without video, or before
                // its first keyframe; cut anywhere else (a full chunk), the chunk's video starts
                // between keyframes.
                let mut independent = true;
                if close.is_none() {
                    if let Some(open) = self.open {
                        let audio_only = self.config().video.is_none();
                        let due = audio_only && at.0 >= open.start.0 + self.target_ms;
                        if due || open.bytes + wire > MAX_CHUNK_BYTES {
                            close = self.close(at);
                            independent = audio_only || self.waiting_for_keyframe;
                        }
                    }
                }
                self.audio.step_to(at, 0);
                self.audio_first.get_or_insert(at);
                // Audio frames are part points until the session's video starts (a late video
                // track), so no part outlasts the part target.
                self.part_point = (self.config().video.is_none() || self.video.last.is_none()).then_some(true);
                self.append(close, at, independent, wire)
            }
        }
    }

    /// Closes the open chunk at the end of the stream (publisher gone, file ended).
    pub fn finish(&mut self) -> Option<ChunkInfo> {
        let end = self.tracks_end()?;
        self.close(end)
    }

    fn decide(&self, close: Option<ChunkInfo>, action: Action) -> Decision {
        Decision { close, action }
    }

    fn append(&mut self, close: Option<ChunkInfo>, at: Millis, independent: bool, bytes: usize) -> Decision {
        let opens = self.open.is_none();
        if opens {
            self.open = Some(Open { start: at, independent, bytes: 0 });
            if self.carried.is_none() {
                self.carried = Some(self.latest.clone());
            }
        }
        if let Some(open) = &mut self.open {
            open.bytes += bytes;
        }
        Decision { close, action: Action::Append { at, opens } }
    }

    /// Where the media ends: past the last video frame when there is video (segments are
    /// timed by their video, as the cuts are), else past the last audio frame.
    fn tracks_end(&self) -> Option<Millis> {
        self.video.end().or(self.audio.end())
    }

    /// Where the last frame of any track ends, in decode and in presentation order: the next
    /// session starts there, so no track overlaps itself across a discontinuity, neither in
    /// decode nor in presentation times.
    pub fn media_end(&self) -> Option<Millis> {
        self.video.shown_end().max(self.audio.shown_end())
    }

    fn close(&mut self, end: Millis) -> Option<ChunkInfo> {
        let open = self.open.take()?;
        let info = self.info(open, end);
        self.sequence += 1;
        Some(info)
    }

    /// A track joins: the open chunk ends at `at`, and a new session continues the timeline
    /// without a gap, with every track's headers.
    fn switch_session(&mut self, at: Millis) -> Option<ChunkInfo> {
        let closed = self.close(at);
        self.session += 1;
        self.carried = None;
        self.late_track = false;
        self.audio_first = None;
        closed
    }

    /// Starts a new session: the open chunk ends where its tracks end.
    fn new_session(&mut self) -> Option<ChunkInfo> {
        let end = self.tracks_end();
        let closed = end.and_then(|e| self.close(e));
        self.open = None;
        if closed.is_some() || self.video.last.is_some() || self.audio.last.is_some() {
            self.session += 1;
        }
        self.video = TrackClock::default();
        self.audio = TrackClock::default();
        self.audio_first = None;
        self.carried = None;
        self.late_track = false;
        self.waiting_for_keyframe = true;
        closed
    }

    /// Places a frame's unwrapped time on the session timeline. Jitter is smoothed: a small step
    /// back is clamped forward (video: past the last frame; audio: to it, the sample clock
    /// times its frames). A real jump backwards or a long gap in one track starts a new session,
    /// whose timeline continues where the last one ended.
    fn place(&mut self, raw: Millis, video: bool) -> (Option<ChunkInfo>, Millis) {
        if let Some(resume) = self.resume_at.take() {
            self.offset = signed_diff(resume, raw);
            return (None, resume);
        }
        let at = Millis(raw.0.saturating_add_signed(self.offset));
        let clock = if video { self.video } else { self.audio };
        let Some(last) = clock.last else { return (None, at) };
        if at.0 > last.0 + MAX_GAP_MS {
            return self.jump(raw);
        }
        if video && at <= last || !video && at < last {
            if last.0 - at.0 > clock.step.max(JITTER_MS) {
                return self.jump(raw);
            }
            return (None, Millis(last.0 + u64::from(video)));
        }
        (None, at)
    }

    fn jump(&mut self, raw: Millis) -> (Option<ChunkInfo>, Millis) {
        let at = Millis(raw.0.saturating_add_signed(self.offset));
        let resume = self.media_end().unwrap_or(at);
        let closed = self.new_session();
        self.offset = signed_diff(resume, raw);
        (closed, resume)
    }

    /// Configures the audio track from `read`, if it has no configuration yet and `read` is a
    /// frame of a codec that sends no sequence header but says its configuration in every frame
    /// (MP3, AC-3, E-AC-3: [`MediaTag::in_band`]): the sequence header [`AudioConfig::in_band`]
    /// makes of it stands for one in the chunk files; the frame is a frame all the same. Says
    /// whether it configured the track.
    pub(crate) fn configure_in_band(&mut self, read: &MediaTag<'_>) -> Result<bool, Skip> {
        if self.latest.config.audio.is_some() {
            return Ok(false);
        }
        let Some((parsed, header)) = read.in_band.and_then(|(codec, frame)| AudioConfig::in_band(codec, frame)) else {
            return Ok(false);
        };
        let header = Tag { body: &header, ..read.tag };
        match self.configure(&header, false, |c| parsed.map(|a| c.audio = Some(a))).action {
            Action::Skip(skip) => Err(skip),
            _ => Ok(true),
        }
    }

    /// A sequence header `tag` of the video (`video`) or audio track: unless it repeats the
    /// last one, `apply` parses it into the latest configuration.
    fn configure(
        &mut self,
        tag: &Tag<'_>,
        video: bool,
        apply: impl FnOnce(&mut StreamConfig) -> Result<(), Skip>,
    ) -> Decision {
        let stored = if video { &self.latest.video } else { &self.latest.audio };
        if stored.as_deref() == Some(tag.body) {
            return self.decide(None, Action::Configure); // repeated, unchanged
        }
        let replaces = stored.is_some();
        if let Err(skip) = apply(&mut self.latest.config) {
            return self.decide(None, Action::Skip(skip));
        }
        let body = Some(tag.body.to_vec());
        if video {
            self.latest.video = body;
        } else {
            self.latest.audio = body;
        }
        let Some(carried) = &self.carried else {
            return self.decide(None, Action::Configure); // nothing chunked under the old one
        };
        let in_session = if video { carried.config.video.is_some() } else { carried.config.audio.is_some() };
        if !in_session {
            self.late_track = true;
            return self.decide(None, Action::Configure);
        }
        // A changed configuration needs a new init segment: a new session.
        let close = if replaces { self.new_session() } else { None };
        self.decide(close, Action::Configure)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::codec::HIGH_360P;
    use crate::flv::TagKind;
    use alloc::vec;

    pub(crate) fn video(timestamp: u32, body: &[u8]) -> Tag<'_> {
        Tag { kind: TagKind::Video, filtered: false, timestamp, stream_id: 0, body, offset: 0 }
    }

    pub(crate) fn audio(timestamp: u32, body: &[u8]) -> Tag<'_> {
        Tag { kind: TagKind::Audio, filtered: false, timestamp, stream_id: 0, body, offset: 0 }
    }

    /// An AVC frame tag body: keyframe or not, composition time in milliseconds.
    pub(crate) fn frame(keyframe: bool, cts: i32) -> Vec<u8> {
        let [_, a, b, c] = cts.to_be_bytes();
        vec![if keyframe { 0x17 } else { 0x27 }, 0x01, a, b, c, 0, 0, 0, 1, 0x65]
    }

    /// The AVC sequence header tag body (x264, High, 640×360).
    pub(crate) fn avc_header() -> Vec<u8> {
        [&[0x17, 0x00, 0, 0, 0][..], HIGH_360P].concat()
    }

    /// The AAC sequence header tag body (AAC LC, 48 kHz stereo).
    pub(crate) const AAC_HEADER: &[u8] = &[0xAF, 0x00, 0x11, 0x90];
    /// An AAC frame tag body.
    pub(crate) const AAC_FRAME: &[u8] = &[0xAF, 0x01, 0x21, 0x10, 0x04];

    fn configured(target_ms: u64, with_audio: bool) -> Chunker {
        let mut c = Chunker::new(target_ms);
        assert_eq!(c.push(&video(0, &avc_header())).action, Action::Configure);
        if with_audio {
            assert_eq!(c.push(&audio(0, AAC_HEADER)).action, Action::Configure);
        }
        c
    }

    /// Pushes 30 fps video (a keyframe every `gop` frames) and 48 kHz AAC up to `until_ms`,
    /// interleaved by time; returns the chunks closed.
    fn run(c: &mut Chunker, until_ms: u32, gop: u32, audio_at: impl Fn(u32) -> u32) -> Vec<ChunkInfo> {
        let key = frame(true, 0);
        let inter = frame(false, 0);
        let mut closed = Vec::new();
        let (mut v, mut a) = (0u32, 0u32);
        loop {
            let vt = v * 100 / 3;
            let at = audio_at(a);
            if vt >= until_ms && at >= until_ms {
                break;
            }
            let d = if vt <= at {
                v += 1;
                c.push(&video(vt, if (v - 1) % gop == 0 { &key } else { &inter }))
            } else {
                a += 1;
                c.push(&audio(at, AAC_FRAME))
            };
            closed.extend(d.close);
        }
        closed.extend(c.finish());
        closed
    }

    fn aac_stamp(k: u32) -> u32 {
        u32::try_from((u64::from(k) * 1024 * 1000 + 24_000) / 48_000).unwrap()
    }

    #[test]
    fn cut_rule_cuts_at_the_first_keyframe_at_or_after_the_target() {
        let mut c = configured(2000, true);
        // A keyframe every 1.5 s: 0, 1.5, 3.0, 4.5 … the cuts fall on 3.0 and 6.0.
        let closed = run(&mut c, 7000, 45, aac_stamp);
        let cuts: Vec<u64> = closed.iter().map(|i| i.start.0).collect();
        assert_eq!(cuts, [0, 3000, 6000]);
        assert!(closed.iter().all(|i| i.independent && i.session == 0));
        assert_eq!(closed.windows(2).filter(|w| w[0].end() != w[1].start).count(), 0, "chunks join");
    }

    #[test]
    fn cut_rule_audio_only_streams_cut_at_the_first_audio_frame_after_the_target() {
        let mut c = Chunker::new(1000);
        c.push(&audio(0, AAC_HEADER));
        let mut starts = Vec::new();
        for k in 0..100 {
            if let Some(i) = c.push(&audio(aac_stamp(k), AAC_FRAME)).close {
                starts.push(i.start.0);
            }
        }
        assert_eq!(starts, [0, 1003]);
    }

    #[test]
    fn gap_rule_a_small_gap_is_smoothed_a_gap_over_max_gap_starts_a_session() {
        let mut c = configured(2000, false);
        let key = frame(true, 0);
        c.push(&video(0, &key));
        // 9 s without frames: a stall, not a new session.
        assert_eq!(c.push(&video(9_000, &key)).action, Action::Append { at: Millis(9_000), opens: true });
        assert_eq!(c.session(), 0);
        let d = c.push(&video(9_000 + u32::try_from(MAX_GAP_MS).unwrap() + 1, &key));
        assert!(d.close.is_some());
        assert_eq!(c.session(), 1);
    }

    #[test]
    fn script_data_stamped_0_does_not_set_the_timeline_of_media_near_the_wrap() {
        // `@setDataFrame` at 0 first, as an encoder may send it, then media 3 s before 2^32.
        let mut c = Chunker::new(2000);
        let meta = Tag { kind: TagKind::Script, filtered: false, timestamp: 0, stream_id: 0, body: b"", offset: 0 };
        assert_eq!(c.push(&meta).action, Action::Drop);
        let start = u32::MAX - 2_999;
        assert_eq!(c.push(&video(start, &avc_header())).action, Action::Configure);
        let d = c.push(&video(start, &frame(true, 0)));
        assert_eq!(d.action, Action::Append { at: Millis(u64::from(start)), opens: true });
        let d = c.push(&video(start.wrapping_add(5_000), &frame(true, 0)));
        let closed = d.close.expect("a chunk closes at the keyframe past the wrap");
        assert_eq!((closed.session, closed.start, closed.duration_ms), (0, Millis(u64::from(start)), 5_000));
    }

    #[test]
    fn jitter_rule_audio_stepping_back_1_ms_is_not_a_new_session() {
        let mut c = configured(2000, true);
        // Every tenth audio frame is stamped 1 ms before the frame before it.
        let jittered = |k: u32| if k % 10 == 5 { aac_stamp(k - 1) - 1 } else { aac_stamp(k) };
        let closed = run(&mut c, 10_000, 60, jittered);
        assert!(closed.iter().all(|i| i.session == 0), "{closed:?}");
        assert_eq!(closed.len(), 5);
    }

    #[test]
    fn jitter_rule_video_stepping_back_is_clamped_forward_keeping_presentation_time() {
        let mut c = configured(2000, false);
        let d = c.push(&video(0, &frame(true, 66)));
        assert_eq!(d.action, Action::Append { at: Millis(0), opens: true });
        c.push(&video(33, &frame(false, 66)));
        // Stamped 20 ms before the frame before it, shown at 13 + 66 = 79.
        let d = c.push(&video(13, &frame(false, 66)));
        assert_eq!((d.close, d.action), (None, Action::Append { at: Millis(34), opens: false }));
        assert_eq!(c.session(), 0);
        // Presentation order holds: the latest frame shown is still the one shown at 33 + 66.
        assert_eq!(c.video.latest_shown, Some(Millis(99)));
    }

    #[test]
    fn jitter_rule_a_step_back_beyond_one_frame_and_50_ms_starts_a_session() {
        // One frame is the step between the last two frames (here 33 or 34 ms).
        let thirty_fps = |c: &mut Chunker| {
            c.push(&video(0, &frame(true, 0)));
            for v in 1..=30u32 {
                c.push(&video(v * 100 / 3, &frame(false, 0)));
            }
        };
        let mut c = configured(2000, false);
        thirty_fps(&mut c);
        // 50 ms back is jitter; 51 ms back is a jump.
        assert_eq!(c.push(&video(950, &frame(false, 0))).close, None);
        assert_eq!(c.session(), 0);
        let mut c = configured(2000, false);
        thirty_fps(&mut c);
        assert!(c.push(&video(949, &frame(true, 0))).close.is_some());
        assert_eq!(c.session(), 1);
    }

    #[test]
    fn a_changed_sequence_header_starts_a_session() {
        let mut c = configured(2000, true);
        c.push(&video(0, &frame(true, 0)));
        c.push(&audio(0, AAC_FRAME));
        let d = c.push(&audio(10, &[0xAF, 0x00, 0x12, 0x10]));
        assert!(d.close.is_some());
        assert_eq!(c.session(), 1);
        // Repeating the same header changes nothing.
        c.push(&video(33, &frame(true, 0)));
        assert_eq!(c.push(&audio(40, &[0xAF, 0x00, 0x12, 0x10])), Decision { close: None, action: Action::Configure });
        assert_eq!(c.session(), 1);
    }

    #[test]
    fn late_header_rule_a_late_audio_header_starts_a_session_at_the_next_keyframe() {
        let mut c = configured(2000, false);
        let (key, inter) = (frame(true, 0), frame(false, 0));
        for v in 0..90u32 {
            c.push(&video(v * 100 / 3, if v % 60 == 0 { &key } else { &inter }));
        }
        // The audio header comes at 3 s: the session goes on without audio until the keyframe at
        // 4 s, where a new session with both tracks begins.
        assert_eq!(c.push(&audio(3000, AAC_HEADER)).action, Action::Configure);
        assert_eq!(c.config().audio, None, "the session's chunks carry what its init segment has");
        assert_eq!(c.push(&audio(3010, AAC_FRAME)).action, Action::Drop);
        for v in 90..120u32 {
            assert!(matches!(c.push(&video(v * 100 / 3, &inter)).action, Action::Append { .. }));
        }
        let d = c.push(&video(4000, &key));
        let closed = d.close.expect("the video-only chunk closes");
        assert_eq!((closed.session, closed.end()), (0, Millis(4000)));
        assert_eq!(d.action, Action::Append { at: Millis(4000), opens: true });
        assert_eq!(c.session(), 1);
        assert!(c.config().audio.is_some() && c.config().video.is_some());
        assert_eq!(c.push(&audio(4001, AAC_FRAME)).action, Action::Append { at: Millis(4001), opens: false });
    }

    #[test]
    fn late_header_rule_a_late_video_header_starts_a_session_at_its_first_keyframe() {
        let mut c = Chunker::new(2000);
        c.push(&audio(0, AAC_HEADER));
        for k in 0..47 {
            c.push(&audio(aac_stamp(k), AAC_FRAME));
        }
        c.push(&video(1000, &avc_header()));
        assert_eq!(c.push(&video(1000, &frame(false, 0))).action, Action::Drop);
        let d = c.push(&video(1033, &frame(true, 0)));
        assert_eq!(d.close.map(|i| (i.session, i.end())), Some((0, Millis(1033))));
        assert_eq!(c.session(), 1);
        assert!(c.config().video.is_some() && c.config().audio.is_some());
    }

    #[test]
    fn runaway_rule_no_keyframe_for_three_targets_cuts_between_keyframes() {
        let mut c = configured(2000, false);
        let closed = run(&mut c, 20_000, u32::MAX, |_| u32::MAX);
        let starts: Vec<(u64, bool)> = closed.iter().map(|i| (i.start.0, i.independent)).collect();
        assert_eq!(starts, [(0, true), (6000, false), (12000, false), (18000, false)]);
        assert!(closed.iter().all(|i| i.session == 0));
    }

    #[test]
    fn runaway_rule_a_chunk_growing_past_max_chunk_bytes_is_cut_before_the_next_frame() {
        let mut c = configured(2000, false);
        let big = [&frame(false, 0)[..], &vec![0u8; 15 << 20]].concat();
        c.push(&video(0, &frame(true, 0)));
        let mut cut = None;
        for k in 1..6u32 {
            let d = c.push(&video(k * 33, &big));
            assert!(matches!(d.action, Action::Append { .. }), "no frame is lost");
            if let Some(i) = d.close {
                cut = Some((k, i, d.action));
            }
        }
        let (k, info, action) = cut.expect("cut");
        assert_eq!(k, 5, "four 15 MiB frames fit in 64 MiB, a fifth does not");
        assert!(info.independent);
        assert_eq!(action, Action::Append { at: Millis(165), opens: true });
        assert!(!c.open.expect("open").independent);
    }

    #[test]
    fn rare_keyframes_rule_a_recovery_point_flagged_keyframe_is_not_a_cut() {
        let mut c = configured(1000, false);
        c.push(&video(0, &frame(true, 0)));
        // FLV keyframe flag, but a non-IDR slice (nal_unit_type 1): x264 intra refresh.
        let recovery = [0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x41];
        for v in 1..60u32 {
            let body: &[u8] = if v % 30 == 0 { &recovery } else { &frame(false, 0) };
            assert_eq!(c.push(&video(v * 100 / 3, body)).close, None, "frame {v}");
        }
    }

    #[test]
    fn a_new_session_starts_after_the_last_frame_shown_not_only_the_last_decoded() {
        let mut chunker = Chunker::new(1000);
        let header = avc_header();
        assert_eq!(chunker.push(&video(0, &header)).action, Action::Configure);
        // Decode order I P B: the P frame decoded at 33 is shown at 133, after the B frame
        // decoded last (at 67, shown at 67).
        for (dts, key, cts) in [(0, true, 33), (33, false, 100), (67, false, 0)] {
            let body = frame(key, cts);
            assert!(matches!(chunker.push(&video(dts, &body)).action, Action::Append { .. }));
        }
        // Shown until 133 + one frame (34 ms), decoded until 67 + 34.
        assert_eq!(chunker.media_end(), Some(Millis(167)));

        // The publisher restarts its clock: a new session, after everything shown.
        let body = frame(true, 33);
        let d = chunker.push(&video(0, &body));
        let closed = d.close.expect("the open chunk closes");
        assert_eq!((closed.start, closed.duration_ms), (Millis(0), 101), "chunks are timed by decode time");
        assert_eq!(d.action, Action::Append { at: Millis(167), opens: true });
        assert_eq!(chunker.session(), 1);
    }
}

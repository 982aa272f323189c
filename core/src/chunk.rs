//! Chunking: where a stream of FLV tags is cut into chunks (one per HLS segment), and where a
//! new publishing session (an HLS discontinuity) begins.
//!
//! The ingest node writes each chunk as a standalone FLV file and the offline packager cuts files
//! with the same [`Chunker`], so both give the same segments. Rules (DESIGN "timing rules"):
//! - with video, a chunk starts at a keyframe and is cut at the first keyframe at or after the
//!   target duration; without video, at the first audio frame at or after it;
//! - a decode time going backwards or a gap longer than [`MAX_GAP_MS`] in a track, or a changed
//!   sequence header, starts a new session; video then waits for its next keyframe. The new
//!   session's timeline continues where the last one ended, past its last frame in decode and
//!   in presentation order (tag times are shifted by the chunk's `offset_ms`), so neither decode
//!   nor presentation times go backwards, even across a discontinuity.

mod file;

pub use file::{headers_digest, read_chunk, write_chunk_head, ChunkFile, ChunkHeader, CHUNK_TAG, MAX_SESSION_ID_LEN};

use crate::codec::{AacConfig, AvcConfig};
use crate::flv::Tag;
use crate::media::{Media, Skip, StreamConfig};
use crate::timeline::{Millis, Unwrapper};

/// A forward jump in one track longer than this starts a new session.
pub const MAX_GAP_MS: u64 = 10_000;

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
}

impl ChunkInfo {
    /// Where the chunk ends.
    pub fn end(&self) -> Millis {
        Millis(self.start.0 + self.duration_ms)
    }
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
        /// The tag's time on the unwrapped timeline.
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
    /// The session's first frame.
    first: Option<Millis>,
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

    fn step_to(&mut self, at: Millis, composition_ms: i32) {
        self.step = self.last.map_or(0, |l| at.0.saturating_sub(l.0));
        self.last = Some(at);
        let shown = Millis(at.0.saturating_add_signed(composition_ms.into()));
        self.latest_shown = self.latest_shown.max(Some(shown));
    }
}

#[derive(Debug, Clone, Copy)]
struct Open {
    start: Millis,
}

/// Decides chunk boundaries and sessions for a sequence of tags. Sans-IO: the caller keeps the
/// tags (in a file or in memory) and acts on each [`Decision`].
#[derive(Debug, Clone)]
pub struct Chunker {
    target_ms: u64,
    config: StreamConfig,
    video_header: Option<alloc::vec::Vec<u8>>,
    audio_header: Option<alloc::vec::Vec<u8>>,
    unwrapper: Unwrapper,
    /// Session timeline minus unwrapped tag time: each new session continues where the one
    /// before ended, so decode times never go backwards across a discontinuity.
    offset: i64,
    /// Where the first frame is placed on the timeline (a resumed stream), once.
    resume_at: Option<Millis>,
    video: TrackClock,
    audio: TrackClock,
    waiting_for_keyframe: bool,
    session: u32,
    sequence: u64,
    open: Option<Open>,
}

impl Chunker {
    /// A chunker cutting at `target_ms` (≥ 1).
    pub fn new(target_ms: u64) -> Self {
        Self {
            target_ms: target_ms.max(1),
            config: StreamConfig::default(),
            video_header: None,
            audio_header: None,
            unwrapper: Unwrapper::default(),
            offset: 0,
            resume_at: None,
            video: TrackClock::default(),
            audio: TrackClock::default(),
            waiting_for_keyframe: true,
            session: 0,
            sequence: 0,
            open: None,
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

    /// The codec configuration in effect.
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// The current sequence header tag bodies (video, audio), to start chunk files with.
    pub fn sequence_headers(&self) -> (Option<&[u8]>, Option<&[u8]>) {
        (self.video_header.as_deref(), self.audio_header.as_deref())
    }

    /// The current session.
    pub fn session(&self) -> u32 {
        self.session
    }

    /// Decides what to do with the next tag.
    pub fn push(&mut self, tag: &Tag<'_>) -> Decision {
        let media = match Media::from_tag(tag) {
            Ok(m) => m,
            Err(skip) => return self.decide(None, Action::Skip(skip)),
        };
        let raw = self.unwrapper.unwrap(tag.timestamp);
        match media {
            Media::Ignored => self.decide(None, Action::Drop),
            Media::VideoConfig(record) => self.configure(tag, record, true),
            Media::AudioConfig(record) => self.configure(tag, record, false),
            Media::Video { keyframe, composition_time, .. } => {
                if self.config.video.is_none() {
                    return self.decide(None, Action::Skip(Skip::NoConfig("video")));
                }
                let (mut close, at) = self.place(raw, true);
                if self.waiting_for_keyframe && !keyframe {
                    return self.decide(close, Action::Drop);
                }
                self.waiting_for_keyframe = false;
                if close.is_none() && keyframe {
                    if let Some(open) = self.open {
                        if at.0 >= open.start.0 + self.target_ms {
                            close = self.close(at);
                        }
                    }
                }
                self.video.step_to(at, composition_time);
                self.append(close, at)
            }
            Media::Audio(_) => {
                if self.config.audio.is_none() {
                    return self.decide(None, Action::Skip(Skip::NoConfig("audio")));
                }
                let (mut close, at) = self.place(raw, false);
                if close.is_none() && self.config.video.is_none() {
                    if let Some(open) = self.open {
                        if at.0 >= open.start.0 + self.target_ms {
                            close = self.close(at);
                        }
                    }
                }
                self.audio.step_to(at, 0);
                self.audio.first.get_or_insert(at);
                self.append(close, at)
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

    fn append(&mut self, close: Option<ChunkInfo>, at: Millis) -> Decision {
        let opens = self.open.is_none();
        if opens {
            self.open = Some(Open { start: at });
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
        let info = ChunkInfo {
            session: self.session,
            sequence: self.sequence,
            start: open.start,
            duration_ms: end.0.saturating_sub(open.start.0),
            audio_anchor: self.audio.first,
            offset_ms: self.offset,
        };
        self.sequence += 1;
        Some(info)
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
        self.waiting_for_keyframe = true;
        closed
    }

    /// Places a frame's unwrapped time on the session timeline. A jump backwards or a long gap
    /// in one track starts a new session, whose timeline continues where the last one ended.
    fn place(&mut self, raw: Millis, video: bool) -> (Option<ChunkInfo>, Millis) {
        if let Some(resume) = self.resume_at.take() {
            self.offset = resume.0 as i64 - raw.0 as i64;
            return (None, resume);
        }
        let at = Millis(raw.0.saturating_add_signed(self.offset));
        let clock = if video { self.video } else { self.audio };
        let Some(last) = clock.last else { return (None, at) };
        if at >= last && at.0 <= last.0 + MAX_GAP_MS {
            return (None, at);
        }
        let resume = self.media_end().unwrap_or(at);
        let closed = self.new_session();
        self.offset = resume.0 as i64 - raw.0 as i64;
        (closed, resume)
    }

    fn configure(&mut self, tag: &Tag<'_>, record: &[u8], video: bool) -> Decision {
        let stored = if video { &self.video_header } else { &self.audio_header };
        if stored.as_deref() == Some(tag.body) {
            return self.decide(None, Action::Configure); // repeated, unchanged
        }
        let replaces = stored.is_some();
        let parsed = if video {
            AvcConfig::parse(record).map(|c| self.config.video = Some(c))
        } else {
            AacConfig::parse(record).map(|c| self.config.audio = Some(c))
        };
        if let Err(e) = parsed {
            return self.decide(None, Action::Skip(Skip::Config(e)));
        }
        // A changed configuration needs a new init segment: a new session, unless nothing has
        // been chunked under the old one.
        let had_media = self.open.is_some() || self.video.last.is_some() || self.audio.last.is_some();
        let close = if replaces && had_media { self.new_session() } else { None };
        let body = Some(tag.body.to_vec());
        if video {
            self.video_header = body;
        } else {
            self.audio_header = body;
        }
        self.decide(close, Action::Configure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::HIGH_360P;
    use crate::flv::TagKind;

    fn video(timestamp: u32, body: &[u8]) -> Tag<'_> {
        Tag { kind: TagKind::Video, filtered: false, timestamp, stream_id: 0, body, offset: 0 }
    }

    /// An AVC frame tag body: keyframe or not, composition time in milliseconds.
    fn frame(keyframe: bool, cts: i32) -> alloc::vec::Vec<u8> {
        let [_, a, b, c] = cts.to_be_bytes();
        alloc::vec![if keyframe { 0x17 } else { 0x27 }, 0x01, a, b, c, 0, 0, 0, 1, 0x65]
    }

    #[test]
    fn a_new_session_starts_after_the_last_frame_shown_not_only_the_last_decoded() {
        let mut chunker = Chunker::new(1000);
        let header = [&[0x17, 0x00, 0, 0, 0][..], HIGH_360P].concat();
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

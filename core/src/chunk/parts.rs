//! Parts (LL-HLS partial segments, RFC 8216bis §4.4.4.9): where an open chunk is cut into parts.
//!
//! Rules:
//! - a part ends before the frame after which the next one would reach the part target: a part
//!   lasts less than the target, unless one frame alone lasts longer;
//! - a keyframe always starts a part, which is independent (`INDEPENDENT=YES`): players start and
//!   resume there. The part before it may then be short (hls.js, given parts that only start at
//!   segment boundaries, played across mid-segment keyframes with stalls and holes);
//! - in a session with video, parts are cut at video frames only, so a part's last video frame
//!   lasts until the next part's first one, exactly as in the segment; without video, at audio
//!   frames;
//! - a part is independent if it starts with a keyframe (the first part of an independent
//!   chunk, and every part a keyframe starts);
//! - the last part of a chunk ends where the chunk ends;
//! - a part holds at least one frame it may be cut at: audio that opens a chunk before its first
//!   video frame goes into the first part with that frame, never into a part of its own (a part of
//!   audio alone, then one whose video starts later, is a hole at the start that players skip or
//!   stall on).
//!
//! A closed chunk records its parts (its `onMetaData`, [`super::file`]), so any edge builds any
//! part of it from the chunk alone, byte for byte as the ingest node built it while it was open.

use core::ops::Range;

use crate::timeline::Millis;

/// Most parts a chunk may record (a chunk file is a peer's: its part list is bounded).
pub const MAX_PARTS: usize = 4096;

/// One part of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartInfo {
    /// Its index in the chunk (0, 1, …).
    pub index: u32,
    /// Time of its first frame on the session timeline.
    pub start: Millis,
    /// Until the next part's start (the chunk's end, for the last part).
    pub duration_ms: u64,
    /// It starts with a keyframe (or has no video): `INDEPENDENT=YES`.
    pub independent: bool,
    /// Index of its first tag among the chunk's tags (the frames after the sequence headers).
    pub first_tag: u32,
    /// How many tags it holds.
    pub tags: u32,
}

impl PartInfo {
    /// Where the part ends.
    pub fn end(&self) -> Millis {
        Millis(self.start.0 + self.duration_ms)
    }
}

/// The part being filled.
#[derive(Debug, Clone, Copy)]
struct Current {
    index: u32,
    start: Millis,
    independent: bool,
    first_tag: u32,
    first_byte: usize,
    /// It holds a frame a part may start at (a video frame; an audio frame without video).
    has_point: bool,
}

/// Cuts one open chunk into parts, as its tags are appended. Sans-IO, like the chunker.
#[derive(Debug, Clone)]
pub(super) struct PartCutter {
    target_ms: u64,
    current: Current,
    /// Tags appended to the chunk so far.
    tags: u32,
    /// Time of the last frame a part may start at, for the frame interval.
    last_point: Option<Millis>,
    /// The chunk's parts closed so far, with their bytes in the chunk's tags.
    closed: alloc::vec::Vec<(PartInfo, Range<usize>)>,
}

impl PartCutter {
    /// A cutter for a chunk opening at `start` with its first tag.
    pub(super) fn new(target_ms: u64, start: Millis, independent: bool) -> Self {
        let current = Current { index: 0, start, independent, first_tag: 0, first_byte: 0, has_point: false };
        Self { target_ms: target_ms.max(1), current, tags: 0, last_point: None, closed: alloc::vec::Vec::new() }
    }

    /// Before a tag at `at` is appended at byte `byte` of the chunk's tags: `point` is
    /// `Some(sync)` if a part may start at it (`sync`: it is a keyframe, or audio without video).
    /// Returns the part that ends before it.
    pub(super) fn before_tag(&mut self, at: Millis, point: Option<bool>, byte: usize) -> Option<PartInfo> {
        let mut closed = None;
        if let Some(sync) = point {
            // A chunk's part list is bounded: past it, the last part grows.
            if self.current.has_point && self.closed.len() + 1 < MAX_PARTS {
                let elapsed = at.0.saturating_sub(self.current.start.0);
                let step = self.last_point.map_or(0, |p| at.0.saturating_sub(p.0));
                // A keyframe starts a part; so does a frame after which the next one would end
                // the part at or past its target (frame times are whole milliseconds: a frame
                // may come one later).
                if elapsed > 0 && (sync || elapsed + step >= self.target_ms) {
                    closed = Some(self.cut(at, byte));
                    self.current.independent = sync;
                }
            }
            self.last_point = Some(at);
            self.current.has_point = true;
        }
        self.tags += 1;
        closed
    }

    /// Closed part `index`, with its bytes in the chunk's tags.
    pub(super) fn part(&self, index: u32) -> Option<(PartInfo, Range<usize>)> {
        self.closed.get(index as usize).cloned()
    }

    /// Ends the last part at the chunk's `end`, its bytes ending at `byte`. Returns every part of
    /// the chunk.
    pub(super) fn finish(mut self, end: Millis, byte: usize) -> alloc::vec::Vec<PartInfo> {
        self.cut(end, byte);
        self.closed.into_iter().map(|(p, _)| p).collect()
    }

    fn cut(&mut self, end: Millis, byte: usize) -> PartInfo {
        let c = self.current;
        let part = PartInfo {
            index: c.index,
            start: c.start,
            duration_ms: end.0.saturating_sub(c.start.0),
            independent: c.independent,
            first_tag: c.first_tag,
            tags: self.tags - c.first_tag,
        };
        self.closed.push((part, c.first_byte..byte));
        self.current = Current {
            index: c.index + 1,
            start: end,
            independent: false,
            first_tag: self.tags,
            first_byte: byte,
            has_point: false,
        };
        part
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_before_the_first_video_frame_is_in_the_first_part_with_it() {
        // A chunk opening with 21 ms of audio, then a keyframe and frames every 33 ms.
        let mut cutter = PartCutter::new(333, Millis(0), true);
        let (mut byte, mut cuts) = (0, alloc::vec::Vec::new());
        assert_eq!(cutter.before_tag(Millis(0), None, byte), None, "audio in a session with video");
        byte += 100;
        for frame in 0..12u64 {
            cuts.extend(cutter.before_tag(Millis(21 + frame * 33), Some(frame == 0), byte));
            byte += 100;
        }
        let first = cuts.first().expect("a part after 10 frames");
        assert_eq!((first.index, first.start, first.first_tag), (0, Millis(0), 0), "the audio and the keyframe");
        assert!(first.independent && first.tags > 1, "{first:?}");
        assert_eq!(cuts.len(), 1, "{cuts:?}");
    }
}

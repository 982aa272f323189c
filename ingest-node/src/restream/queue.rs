//! An output's queue: the publisher's tags on their way to one destination, bounded in bytes
//! ([`MAX_QUEUE_BYTES`]), so a slow or dead destination costs the node a known amount of memory
//! and never slows the ingest (a push never waits).
//!
//! Until the output is live at its destination, the queue holds the tags from the last keyframe
//! on (a new keyframe replaces them, but not the audio that came before the first keyframe or
//! at a keyframe's own instant), so the output starts at a keyframe the moment it is published, without waiting
//! for the next one. Headers are not queued then: the output sends the stream's last ones
//! first. Once live, every tag is queued; one that would take the queue
//! past its bound empties it, and the tags that follow are dropped until the next keyframe
//! (counted: [`Dropped`]).

use std::collections::VecDeque;
use std::sync::Mutex;

use rapidrtmp_core::flv::TagKind;
use tokio::sync::Notify;

use super::tags::{OutTag, Role};

/// Bytes of tags (bodies and [`super::tags::TAG_OVERHEAD`]) one output may hold waiting for its
/// destination.
pub const MAX_QUEUE_BYTES: usize = 8 << 20;

/// Where the output is, as the queue sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Not live: the tags from the last keyframe on.
    Waiting,
    /// Live: every tag.
    Live,
    /// Live, after an overflow: dropping until the next keyframe.
    Skipping,
}

/// What a live output dropped because its destination did not take the tags fast enough.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Tags dropped.
    pub tags: u64,
    /// Their body bytes.
    pub bytes: u64,
}

#[derive(Debug)]
struct Inner {
    tags: VecDeque<OutTag>,
    bytes: usize,
    mode: Mode,
    /// Waiting: a tag to start at is queued.
    start: bool,
    dropped: Dropped,
}

impl Inner {
    fn clear(&mut self) {
        self.tags.clear();
        self.bytes = 0;
        self.start = false;
    }
}

/// One output's queue.
#[derive(Debug)]
pub struct OutputQueue {
    inner: Mutex<Inner>,
    /// Woken when tags arrive.
    pub ready: Notify,
}

impl Default for OutputQueue {
    fn default() -> Self {
        let inner =
            Inner { tags: VecDeque::new(), bytes: 0, mode: Mode::Waiting, start: false, dropped: Dropped::default() };
        Self { inner: Mutex::new(inner), ready: Notify::new() }
    }
}

impl OutputQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a tag; never waits. `starts`: an output may start at this tag (a video keyframe,
    /// or any audio frame of a stream without video). Returns what this push dropped.
    pub fn push(&self, tag: &OutTag, starts: bool) -> Dropped {
        let mut q = self.lock();
        let before = q.dropped;
        match q.mode {
            Mode::Waiting => {
                if starts {
                    // The audio that came before the first keyframe stays (a stream's first audio
                    // often comes a frame ahead of its first picture); before a later keyframe,
                    // only the audio of its own instant or after.
                    let first = !q.start;
                    q.tags.retain(|t| t.kind == TagKind::Audio && (first || t.timestamp >= tag.timestamp));
                    q.bytes = q.tags.iter().map(OutTag::cost).sum();
                    q.start = true;
                } else if tag.role == Role::Header || (!q.start && tag.kind != TagKind::Audio) {
                    return Dropped::default();
                }
                if q.bytes + tag.cost() > MAX_QUEUE_BYTES {
                    q.clear();
                    return Dropped::default();
                }
            }
            Mode::Skipping if starts => q.mode = Mode::Live,
            Mode::Skipping if tag.role != Role::Header => {
                q.dropped.tags += 1;
                q.dropped.bytes += tag.payload.len() as u64;
                return diff(q.dropped, before);
            }
            Mode::Skipping | Mode::Live => {}
        }
        if q.mode != Mode::Waiting && q.bytes + tag.cost() > MAX_QUEUE_BYTES {
            let (tags, bytes) = (q.tags.len() as u64, q.tags.iter().map(|t| t.payload.len() as u64).sum::<u64>());
            q.dropped.tags += tags;
            q.dropped.bytes += bytes;
            q.clear();
            if !starts {
                q.mode = Mode::Skipping;
                if tag.role != Role::Header {
                    q.dropped.tags += 1;
                    q.dropped.bytes += tag.payload.len() as u64;
                    return diff(q.dropped, before);
                }
            }
        }
        q.bytes += tag.cost();
        q.tags.push_back(tag.clone());
        drop(q);
        self.ready.notify_one();
        Dropped::default()
    }

    /// Whether the output can start: a keyframe is waiting.
    pub fn startable(&self) -> bool {
        self.lock().start
    }

    /// The output is live: from now on every tag is queued. Returns `first()` (taken while no
    /// tag can slip in between, so a header that arrives now is in it or queued after it), then
    /// the tags waiting since the last keyframe.
    pub fn go_live(&self, first: impl FnOnce() -> Vec<OutTag>) -> Vec<OutTag> {
        let mut q = self.lock();
        let mut out = first();
        q.mode = Mode::Live;
        q.bytes = 0;
        out.extend(q.tags.drain(..));
        out
    }

    /// Moves every queued tag to `out`.
    pub fn take(&self, out: &mut Vec<OutTag>) {
        let mut q = self.lock();
        q.bytes = 0;
        out.extend(q.tags.drain(..));
    }

    /// The output lost its destination: back to holding the tags from the last keyframe.
    pub fn reset(&self) {
        let mut q = self.lock();
        q.mode = Mode::Waiting;
        q.clear();
    }

    /// What a waiting queue holds, and whether it can start: to seed another queue with.
    pub fn snapshot(&self) -> (Vec<OutTag>, bool) {
        let q = self.lock();
        (q.tags.iter().cloned().collect(), q.start)
    }

    /// Fills a new, waiting queue with what another held ([`Self::snapshot`]).
    pub fn seed(&self, tags: &[OutTag], start: bool) {
        let mut q = self.lock();
        q.tags = tags.iter().cloned().collect();
        q.bytes = q.tags.iter().map(OutTag::cost).sum();
        q.start = start;
        drop(q);
        self.ready.notify_one();
    }

    /// What was dropped so far.
    pub fn dropped(&self) -> Dropped {
        self.lock().dropped
    }

    /// Bytes queued now.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

fn diff(now: Dropped, before: Dropped) -> Dropped {
    Dropped { tags: now.tags - before.tags, bytes: now.bytes - before.bytes }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::tags::classify;
    use super::*;

    fn key(n: usize) -> OutTag {
        let mut b = vec![0x17, 1, 0, 0, 0];
        b.resize(n, 0);
        classify(TagKind::Video, 0, Bytes::from(b))
    }
    fn inter(n: usize) -> OutTag {
        let mut b = vec![0x27, 1, 0, 0, 0];
        b.resize(n, 0);
        classify(TagKind::Video, 0, Bytes::from(b))
    }
    fn header() -> OutTag {
        classify(TagKind::Video, 0, Bytes::from_static(&[0x17, 0, 0, 0, 0, 1]))
    }

    fn audio(timestamp: u32) -> OutTag {
        classify(TagKind::Audio, timestamp, Bytes::from_static(&[0xAF, 1, 0x21]))
    }

    #[test]
    fn a_waiting_queue_keeps_the_audio_of_its_keyframes_instant() {
        let q = OutputQueue::default();
        q.push(&audio(0), false);
        q.push(&inter(10), false);
        assert!(!q.startable());
        let mut k = key(100);
        k.timestamp = 0;
        q.push(&k, true);
        q.push(&audio(21), false);
        let got: Vec<(TagKind, u32)> = q.go_live(Vec::new).iter().map(|t| (t.kind, t.timestamp)).collect();
        assert_eq!(got, [(TagKind::Audio, 0), (TagKind::Video, 0), (TagKind::Audio, 21)], "the first audio stays");
        let q = OutputQueue::default();
        q.push(&audio(0), false);
        let mut k = key(100);
        k.timestamp = 21;
        q.push(&k, true);
        q.push(&audio(30), false);
        k.timestamp = 40;
        q.push(&k, true);
        let got: Vec<(TagKind, u32)> = q.go_live(Vec::new).iter().map(|t| (t.kind, t.timestamp)).collect();
        assert_eq!(got, [(TagKind::Video, 40)], "audio older than a later keyframe goes");
    }

    #[test]
    fn a_waiting_queue_holds_the_tags_from_the_last_keyframe_without_headers() {
        let q = OutputQueue::default();
        q.push(&inter(100), false);
        assert!(!q.startable(), "nothing before the first keyframe");
        q.push(&key(100), true);
        q.push(&header(), false);
        q.push(&inter(100), false);
        q.push(&key(200), true);
        q.push(&inter(100), false);
        let got = q.go_live(|| vec![header()]);
        let sizes: Vec<usize> = got.iter().map(|t| t.payload.len()).collect();
        assert_eq!(sizes, [6, 200, 100], "the headers first, then the last keyframe and what followed");
        q.push(&inter(50), false);
        q.push(&header(), false);
        let mut more = Vec::new();
        q.take(&mut more);
        assert_eq!(more.len(), 2, "a live queue takes every tag, headers too");
        assert_eq!(q.dropped(), Dropped::default());
    }

    #[test]
    fn an_overflowing_live_queue_drops_to_the_next_keyframe_and_counts_it() {
        let q = OutputQueue::default();
        q.push(&key(1000), true);
        q.go_live(Vec::new);
        let frame = 100_000;
        let fit = MAX_QUEUE_BYTES / (frame + super::super::tags::TAG_OVERHEAD);
        for _ in 0..fit {
            assert_eq!(q.push(&inter(frame), false), Dropped::default());
        }
        assert!(q.bytes() <= MAX_QUEUE_BYTES);
        let d = q.push(&inter(frame), false);
        assert_eq!(d, Dropped { tags: fit as u64 + 1, bytes: (fit as u64 + 1) * frame as u64 });
        assert_eq!(q.push(&inter(frame), false).tags, 1, "dropped until a keyframe");
        q.push(&header(), false);
        q.push(&key(frame), true);
        q.push(&inter(frame), false);
        let mut got = Vec::new();
        q.take(&mut got);
        let roles: Vec<Role> = got.iter().map(|t| t.role).collect();
        assert_eq!(roles, [Role::Header, Role::Keyframe, Role::Frame]);
        assert_eq!(q.dropped().tags, fit as u64 + 2);
        q.reset();
        q.push(&inter(10), false);
        assert!(!q.startable(), "after a reset it waits for a keyframe again");
    }
}

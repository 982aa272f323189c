//! The chunk writer: tags in, finished chunk files out. The one place where the [`Chunker`]'s
//! decisions become chunk bytes, for the ingest node, the packager and the benches alike.

use alloc::{boxed::Box, string::String, vec::Vec};

use super::parts::{PartCutter, PartInfo};
use super::{headers_digest, write_chunk_head, Action, ChunkInfo, Chunker, MAX_CHUNK_BYTES};
use crate::flv::{parse_metadata, Amf0Value, Tag, TagKind, TagReader};
use crate::media::{Media, MediaTag, Skip, StreamConfig};

/// Most bytes of tags held back at the start of a session while a track that may be coming
/// waits for its sequence header.
pub const MAX_HELD_BYTES: usize = 16 << 20;
/// Longest wait at a session's start for the sequence header of a track that `onMetaData`
/// announced (one target duration when nothing announced it). A header within it makes one
/// session whose init segment declares every track, the one ffmpeg reads for the whole playlist
/// (its HLS demuxer skips any later `moov`); a header after it starts a new session.
pub const MAX_ANNOUNCED_WAIT_MS: u64 = 5_000;
/// Smallest buffer a chunk starts with.
const MIN_CHUNK_CAPACITY: usize = 64 << 10;

/// A closed chunk: its description, its session's headers and its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedChunk {
    /// What the manifest records of it.
    pub info: ChunkInfo,
    /// The codec configuration of its session (what its init segment says).
    pub config: StreamConfig,
    /// The session's video sequence header tag body.
    pub video_header: Option<Vec<u8>>,
    /// The session's audio sequence header tag body.
    pub audio_header: Option<Vec<u8>>,
    /// The chunk's tags, as FLV tag records (header, body, `PreviousTagSize`), as sent.
    pub tags: Vec<u8>,
    /// Its parts, if the writer cuts parts ([`ChunkWriter::with_parts`]).
    pub parts: Vec<PartInfo>,
    /// Its video frames, counted as they were appended.
    video_frames: VideoFrames,
}

/// A chunk's video frames, counted as they are appended: how many, and the first one's timestamp.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct VideoFrames {
    count: u32,
    first: Option<u32>,
}

impl ClosedChunk {
    /// The chunk's tags, read back.
    pub fn tags(&self) -> TagReader<'_> {
        TagReader::records(&self.tags)
    }

    /// Video frames per second: what the bitstream's timing information says, else the chunk's
    /// video frames over the time from its first one to the chunk's end (AV1 and VP9 encoders
    /// seldom say).
    pub fn frame_rate(&self) -> Option<f64> {
        let video = self.config.video.as_ref()?;
        if let Some(fps) = video.fps() {
            return Some(fps);
        }
        let VideoFrames { count, first } = self.video_frames;
        let span = self.info.end().0.saturating_sub(self.info.time_of(first?).0);
        (count > 1 && span > 0).then(|| f64::from(count) * 1000.0 / span as f64)
    }

    /// The digest of its session's sequence headers ([`headers_digest`]).
    pub fn headers_digest(&self) -> String {
        headers_digest(self.video_header.as_deref(), self.audio_header.as_deref())
    }

    /// The chunk file (see [`super::read_chunk`]) of session `session_id`: the head goes in front of the
    /// tags in place, so a chunk is one buffer, never two.
    pub fn into_file(self, session_id: &str) -> Vec<u8> {
        let mut head = Vec::with_capacity(512);
        write_chunk_head(
            &mut head,
            session_id,
            &self.info,
            &self.parts,
            (self.video_header.as_deref(), self.audio_header.as_deref()),
        );
        let mut bytes = self.tags;
        bytes.splice(0..0, head);
        bytes
    }
}

/// A finished part of the open chunk, in the writer's buffer: what any edge needs to build it
/// ([`crate::segment::build_part`]). The open chunk's tags are its only copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenPart<'a> {
    /// Its chunk, as known so far: sequence number, start, offset and audio anchor are final,
    /// its duration is not (0) until the chunk closes.
    pub chunk: ChunkInfo,
    /// The codec configuration of its session.
    pub config: &'a StreamConfig,
    /// The part.
    pub part: PartInfo,
    /// Its tags, as FLV tag records: the same bytes as in the chunk file.
    pub tags: &'a [u8],
}

impl OpenPart<'_> {
    /// The part's tags, read back.
    pub fn tags(&self) -> TagReader<'_> {
        TagReader::records(self.tags)
    }
}

/// What happened to a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkEvent {
    /// A chunk was opened (the caller may note the wall-clock time).
    Opened {
        /// Its sequence number.
        sequence: u64,
    },
    /// A part of the open chunk is finished ([`ChunkWriter::open_part`] has it until the chunk
    /// closes). A chunk's last part comes with its `Closed` ([`ClosedChunk::parts`]).
    Part {
        /// Its chunk's sequence number.
        sequence: u64,
        /// The part.
        part: PartInfo,
    },
    /// A chunk is finished.
    Closed(Box<ClosedChunk>),
    /// A tag was left out, and why.
    Skipped {
        /// Its `Tag::offset`.
        offset: u64,
        /// Why.
        reason: Skip,
    },
}

struct Open {
    sequence: u64,
    config: StreamConfig,
    video_header: Option<Vec<u8>>,
    audio_header: Option<Vec<u8>>,
    tags: Vec<u8>,
    parts: Option<PartCutter>,
    video_frames: VideoFrames,
}

/// A tag held back, with its place in the input.
struct Held {
    kind: TagKind,
    timestamp: u32,
    offset: u64,
    body: Vec<u8>,
}

/// Cuts tags into chunk files. Sans-IO: tags in ([`ChunkWriter::push`]), [`ChunkEvent`]s out.
pub struct ChunkWriter {
    chunker: Chunker,
    open: Option<Open>,
    /// Tags held at a session's start while an announced track lacks its header.
    held: Vec<Held>,
    held_bytes: usize,
    /// Tracks seen: a tag of their kind (video, audio).
    seen: (bool, bool),
    /// Tracks `onMetaData` announced (video, audio), if it came.
    metadata: Option<(bool, bool)>,
    /// Capacity for the next chunk's buffer: the last chunk's size plus an eighth.
    capacity_hint: usize,
    /// A finished chunk's buffer handed back ([`ChunkWriter::recycle`]), for the next chunk.
    spare: Option<Vec<u8>>,
    /// Part target duration, if chunks are cut into parts.
    part_target_ms: Option<u64>,
}

impl ChunkWriter {
    /// A writer following `chunker`'s decisions.
    pub fn new(chunker: Chunker) -> Self {
        Self {
            chunker,
            open: None,
            held: Vec::new(),
            held_bytes: 0,
            seen: (false, false),
            metadata: None,
            capacity_hint: MIN_CHUNK_CAPACITY,
            spare: None,
            part_target_ms: None,
        }
    }

    /// Also cuts each chunk into parts of at most `target_ms` ([`super::PartInfo`]): each part is
    /// an [`ChunkEvent::Part`] as soon as it is finished, and a closed chunk records its parts.
    pub fn with_parts(mut self, target_ms: u64) -> Self {
        self.part_target_ms = Some(target_ms.max(1));
        self
    }

    /// The part target duration, if chunks are cut into parts.
    pub fn part_target_ms(&self) -> Option<u64> {
        self.part_target_ms
    }

    /// The chunker deciding the cuts.
    pub fn chunker(&self) -> &Chunker {
        &self.chunker
    }

    /// The codec configuration of the open chunk, if it is `sequence` (its session's init
    /// segment).
    pub fn open_config(&self, sequence: u64) -> Option<&StreamConfig> {
        self.open.as_ref().filter(|o| o.sequence == sequence).map(|o| &o.config)
    }

    /// Finished part `index` of the open chunk, if that chunk is `sequence`.
    pub fn open_part(&self, sequence: u64, index: u32) -> Option<OpenPart<'_>> {
        let open = self.open.as_ref().filter(|o| o.sequence == sequence)?;
        let (part, bytes) = open.parts.as_ref()?.part(index)?;
        Some(OpenPart { chunk: self.chunker.open_info()?, config: &open.config, part, tags: open.tags.get(bytes)? })
    }

    /// Bytes of tags in the open chunk.
    pub fn open_bytes(&self) -> usize {
        self.open.as_ref().map_or(0, |o| o.tags.len())
    }

    /// Hands back the tag buffer of a chunk that is done with (built into a segment, say): the
    /// next chunk is written into it instead of a new allocation.
    pub fn recycle(&mut self, mut buffer: Vec<u8>) {
        buffer.clear();
        self.spare = Some(buffer);
    }

    fn buffer(&mut self) -> Vec<u8> {
        let want = self.capacity_hint.min(MAX_CHUNK_BYTES);
        match self.spare.take() {
            Some(mut b) => {
                b.reserve(want);
                b
            }
            None => Vec::with_capacity(want),
        }
    }

    /// Takes the next tag; what happened is appended to `events`.
    pub fn push(&mut self, tag: &Tag<'_>, events: &mut Vec<ChunkEvent>) {
        self.push_read(&MediaTag::read(*tag), events);
    }

    /// Takes the next tag, read already ([`MediaTag::read`]); what happened is appended to
    /// `events`.
    pub fn push_read(&mut self, read: &MediaTag<'_>, events: &mut Vec<ChunkEvent>) {
        let tag = &read.tag;
        match tag.kind {
            TagKind::Video => self.seen.0 = true,
            TagKind::Audio => self.seen.1 = true,
            TagKind::Script => {
                if let Ok(Some(m)) = parse_metadata(tag.body) {
                    let has = |key: &str| {
                        m.properties
                            .iter()
                            .any(|(k, v)| k == key && !matches!(v, Amf0Value::Null | Amf0Value::Boolean(false)))
                    };
                    self.metadata = Some((has("videocodecid"), has("audiocodecid")));
                }
            }
            _ => {}
        }
        if !self.held.is_empty() || self.should_hold(tag) {
            // The first frame of a codec without sequence header is its header: the held tags go
            // out under it, then the frame.
            match self.chunker.configure_in_band(read) {
                Err(reason) => return events.push(ChunkEvent::Skipped { offset: tag.offset, reason }),
                Ok(true) => {
                    self.release(events);
                    return self.apply(read, events);
                }
                Ok(false) => {}
            }
            // The signed 32-bit distance from the first held tag (timestamps wrap).
            let span = self
                .held
                .first()
                .map_or(0, |h| i64::from(i32::from_be_bytes(tag.timestamp.wrapping_sub(h.timestamp).to_be_bytes())));
            if read.is_config() {
                self.apply(read, events);
                if self.chunker.has_headers() == (true, true) {
                    self.release(events);
                }
                return;
            }
            let over = u64::try_from(span).map_or(true, |span| span >= self.wait_ms())
                || self.held_bytes + tag.body.len() > MAX_HELD_BYTES;
            if !over {
                self.held_bytes += tag.body.len();
                self.held.push(Held {
                    kind: tag.kind,
                    timestamp: tag.timestamp,
                    offset: tag.offset,
                    body: tag.body.to_vec(),
                });
                return;
            }
            self.release(events);
        }
        self.apply(read, events);
    }

    /// Ends the stream: the open chunk is closed.
    pub fn finish(&mut self, events: &mut Vec<ChunkEvent>) {
        self.release(events);
        if let Some(info) = self.chunker.finish() {
            self.emit(info, events);
        }
    }

    /// Whether `tag` waits: the session has not started, one track has its header and the other
    /// not, and the other may be coming: `onMetaData` or a tag of its kind announced it, or no
    /// `onMetaData` said otherwise. The wait lasts [`ChunkWriter::wait_ms`]. Holding costs no
    /// latency once the stream has started: the held tags go out as soon as the header comes or
    /// the wait ends, before the tag that ends it, so the first chunk closes at the same tag as
    /// without the wait.
    fn should_hold(&self, tag: &Tag<'_>) -> bool {
        let (v, a) = self.chunker.has_headers();
        let announced = match self.metadata {
            Some((mv, ma)) => (mv || self.seen.0) && (ma || self.seen.1),
            None => true,
        };
        announced && v != a && !self.chunker.session_started() && matches!(tag.kind, TagKind::Video | TagKind::Audio)
    }

    /// How long the session's start waits for the missing header: [`MAX_ANNOUNCED_WAIT_MS`] (at
    /// least one target duration) if `onMetaData` announced that track, else one target duration.
    fn wait_ms(&self) -> u64 {
        let target = self.chunker.target_ms();
        let announced = match (self.metadata, self.chunker.has_headers()) {
            (Some((video, _)), (false, true)) => video,
            (Some((_, audio)), (true, false)) => audio,
            _ => false,
        };
        if announced {
            target.max(MAX_ANNOUNCED_WAIT_MS)
        } else {
            target
        }
    }

    /// Lets the held tags go, in order. (They are read again: a held tag's body is a copy, and
    /// only a session's first tags are ever held.)
    fn release(&mut self, events: &mut Vec<ChunkEvent>) {
        let held = core::mem::take(&mut self.held);
        self.held_bytes = 0;
        for h in &held {
            let tag = Tag {
                kind: h.kind,
                filtered: false,
                timestamp: h.timestamp,
                stream_id: 0,
                body: &h.body,
                offset: h.offset,
            };
            self.apply(&MediaTag::read(tag), events);
        }
    }

    fn apply(&mut self, read: &MediaTag<'_>, events: &mut Vec<ChunkEvent>) {
        let tag = &read.tag;
        let decision = self.chunker.push_read(read);
        if let Some(info) = decision.close {
            self.emit(info, events);
        }
        match decision.action {
            Action::Append { opens, at } => {
                if opens || self.open.is_none() {
                    let (v, a) = self.chunker.sequence_headers();
                    // The chunker numbers a chunk when it closes it: the open one gets the next number.
                    let sequence = self.chunker.sequence;
                    let independent = self.chunker.open_info().is_none_or(|i| i.independent);
                    self.open = Some(Open {
                        sequence,
                        config: self.chunker.config().clone(),
                        video_header: v.map(<[u8]>::to_vec),
                        audio_header: a.map(<[u8]>::to_vec),
                        tags: self.buffer(),
                        parts: self.part_target_ms.map(|t| PartCutter::new(t, at, independent)),
                        video_frames: VideoFrames::default(),
                    });
                    events.push(ChunkEvent::Opened { sequence });
                }
                if let Some(open) = &mut self.open {
                    if let Ok(Media::Video { data, .. }) = read.media {
                        open.video_frames.count = open.video_frames.count.saturating_add(1);
                        open.video_frames.first.get_or_insert(tag.timestamp);
                        if let Some(v) = open.config.video.as_mut().filter(|v| v.wants_keyframe()) {
                            v.learn_from_frame(data);
                            self.chunker.learn_from_frame(data);
                        }
                    }
                    let cut =
                        open.parts.as_mut().and_then(|p| p.before_tag(at, self.chunker.part_point(), open.tags.len()));
                    if let Some(part) = cut {
                        events.push(ChunkEvent::Part { sequence: open.sequence, part });
                    }
                    tag.write(&mut open.tags);
                }
            }
            Action::Skip(reason) => events.push(ChunkEvent::Skipped { offset: tag.offset, reason }),
            _ => {}
        }
    }

    fn emit(&mut self, info: ChunkInfo, events: &mut Vec<ChunkEvent>) {
        let Some(open) = self.open.take() else { return };
        debug_assert_eq!(open.sequence, info.sequence, "the writer's chunk is the chunker's chunk");
        self.capacity_hint = (open.tags.len() + open.tags.len() / 8 + 512).max(MIN_CHUNK_CAPACITY);
        let parts = open.parts.map_or_else(Vec::new, |cutter| cutter.finish(info.end(), open.tags.len()));
        events.push(ChunkEvent::Closed(Box::new(ClosedChunk {
            info,
            config: open.config,
            video_header: open.video_header,
            audio_header: open.audio_header,
            tags: open.tags,
            parts,
            video_frames: open.video_frames,
        })));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::tests::{audio, avc_header, frame, video, AAC_FRAME, AAC_HEADER};
    use crate::chunk::KEYFRAME_WAIT_FACTOR;
    use crate::flv::{Amf0Value, TagKind};
    use crate::media::Media;
    use crate::segment::{build_segment, Warnings};
    use alloc::vec;

    fn metadata(video: bool, audio: bool) -> Vec<u8> {
        let mut body = Vec::new();
        Amf0Value::String("onMetaData".into()).write(&mut body);
        let mut props = vec![("duration".into(), Amf0Value::Number(0.0))];
        if video {
            props.push(("videocodecid".into(), Amf0Value::Number(7.0)));
        }
        if audio {
            props.push(("audiocodecid".into(), Amf0Value::Number(10.0)));
        }
        Amf0Value::Object(props).write(&mut body);
        body
    }

    fn script(body: &[u8]) -> Tag<'_> {
        Tag { kind: TagKind::Script, filtered: false, timestamp: 0, stream_id: 0, body, offset: 0 }
    }

    fn closed(events: &[ChunkEvent]) -> Vec<&ClosedChunk> {
        events
            .iter()
            .filter_map(|e| match e {
                ChunkEvent::Closed(c) => Some(&**c),
                _ => None,
            })
            .collect()
    }

    /// (video frames, audio frames) in a chunk.
    fn frames(c: &ClosedChunk) -> (usize, usize) {
        let mut n = (0, 0);
        for t in c.tags() {
            match Media::from_tag(&t.expect("a tag")) {
                Ok(Media::Video { .. }) => n.0 += 1,
                Ok(Media::Audio(_)) => n.1 += 1,
                other => panic!("a chunk holds frames only, not {other:?}"),
            }
        }
        n
    }

    #[test]
    fn late_header_rule_the_first_chunk_waits_for_an_announced_header() {
        let mut w = ChunkWriter::new(Chunker::new(2000));
        let mut events = Vec::new();
        let (meta, avc, key, inter) = (metadata(true, true), avc_header(), frame(true, 0), frame(false, 0));
        w.push(&script(&meta), &mut events);
        w.push(&audio(0, AAC_HEADER), &mut events);
        // Audio for 1 s, then the video header and its first keyframe.
        for k in 0..47u32 {
            w.push(&audio(k * 64 / 3, AAC_FRAME), &mut events);
        }
        assert!(events.is_empty(), "held while the video header is missing: {events:?}");
        w.push(&video(1000, &avc), &mut events);
        for v in 0..60u32 {
            w.push(&video(1000 + v * 100 / 3, if v == 0 { &key } else { &inter }), &mut events);
        }
        w.finish(&mut events);
        let chunks = closed(&events);
        assert_eq!(chunks.len(), 1, "one session, one chunk: {chunks:?}");
        let c = chunks[0];
        assert!(c.config.video.is_some() && c.config.audio.is_some());
        assert!(c.video_header.is_some() && c.audio_header.is_some());
        assert_eq!(frames(c), (60, 47), "every frame from the point its track is present");
        assert_eq!(c.info.start.0, 0);
    }

    #[test]
    fn late_header_rule_without_metadata_the_first_chunk_waits_too() {
        // Without onMetaData (an encoder that sends none): a second header within the wait still makes one
        // session; an onMetaData naming one track only ends the wait at once.
        for (meta, sessions) in [(None, 1), (Some(metadata(false, true)), 2)] {
            let mut w = ChunkWriter::new(Chunker::new(2000));
            let mut events = Vec::new();
            if let Some(m) = &meta {
                w.push(&script(m), &mut events);
            }
            let (avc, key) = (avc_header(), frame(true, 0));
            w.push(&audio(0, AAC_HEADER), &mut events);
            for k in 0..47u32 {
                w.push(&audio(k * 64 / 3, AAC_FRAME), &mut events);
            }
            w.push(&video(1000, &avc), &mut events);
            w.push(&video(1000, &key), &mut events);
            w.finish(&mut events);
            let chunks = closed(&events);
            assert_eq!(chunks.last().map(|c| c.info.session + 1), Some(sessions), "{meta:?}");
            assert_eq!(chunks.iter().map(|c| frames(c).1).sum::<usize>(), 47, "no audio frame lost");
        }
    }

    #[test]
    fn late_header_rule_the_wait_is_bounded() {
        // Announced by onMetaData: up to MAX_ANNOUNCED_WAIT_MS; otherwise one target duration.
        for (meta, wait) in [(Some(metadata(true, true)), MAX_ANNOUNCED_WAIT_MS), (None, 2000)] {
            let mut w = ChunkWriter::new(Chunker::new(2000));
            let mut events = Vec::new();
            if let Some(m) = &meta {
                w.push(&script(m), &mut events);
            }
            w.push(&audio(0, AAC_HEADER), &mut events);
            let mut released = None;
            for k in 0..400u32 {
                w.push(&audio(k * 64 / 3, AAC_FRAME), &mut events);
                if released.is_none() && events.iter().any(|e| matches!(e, ChunkEvent::Opened { .. })) {
                    released = Some(k * 64 / 3);
                }
            }
            let at = u64::from(released.expect("released"));
            assert!(at >= wait && at < wait + 22, "{meta:?}: released at {at} ms, the wait is {wait} ms");
            w.finish(&mut events);
            let chunks = closed(&events);
            assert!(chunks.iter().all(|c| c.config.video.is_none()));
            assert_eq!(chunks.iter().map(|c| frames(c).1).sum::<usize>(), 400);
        }
    }

    #[test]
    fn late_header_rule_an_announced_header_within_the_wait_makes_one_session_with_every_track() {
        // Video from 0, the announced audio header 3 s late: one session, both tracks declared
        // from its first chunk on; every frame kept.
        let mut w = ChunkWriter::new(Chunker::new(1000));
        let mut events = Vec::new();
        let (meta, avc, key, inter) = (metadata(true, true), avc_header(), frame(true, 0), frame(false, 0));
        w.push(&script(&meta), &mut events);
        w.push(&video(0, &avc), &mut events);
        let mut a = 0u32;
        for v in 0..300u32 {
            let t = v * 100 / 3;
            w.push(&video(t, if v % 30 == 0 { &key } else { &inter }), &mut events);
            if t == 3000 {
                w.push(&audio(t, AAC_HEADER), &mut events);
            }
            while t >= 3000 && 3000 + a * 64 / 3 <= t {
                w.push(&audio(3000 + a * 64 / 3, AAC_FRAME), &mut events);
                a += 1;
            }
        }
        w.finish(&mut events);
        let chunks = closed(&events);
        assert!(chunks.iter().all(|c| c.info.session == 0), "one session");
        assert!(chunks.iter().all(|c| c.audio_header.is_some() && c.config.audio.is_some()), "audio declared");
        let total = chunks.iter().fold((0, 0), |n, c| (n.0 + frames(c).0, n.1 + frames(c).1));
        assert_eq!(total, (300, a as usize), "every frame kept");
        assert_eq!(chunks[0].info.start.0, 0);
    }

    #[test]
    fn late_header_rule_an_announced_video_header_3s_late_cuts_the_audio_before_it_into_parts() {
        // Audio from 0, the announced video header and its keyframe 3 s late: one session with
        // both tracks; the audio before the video is cut into parts within the target.
        let mut w = ChunkWriter::new(Chunker::new(1000)).with_parts(333);
        let mut events = Vec::new();
        let (meta, avc, key, inter) = (metadata(true, true), avc_header(), frame(true, 0), frame(false, 0));
        w.push(&script(&meta), &mut events);
        w.push(&audio(0, AAC_HEADER), &mut events);
        let mut a = 0u32;
        for v in 0..150u32 {
            let t = 3000 + v * 100 / 3;
            while a * 64 / 3 < t {
                w.push(&audio(a * 64 / 3, AAC_FRAME), &mut events);
                a += 1;
            }
            if v == 0 {
                w.push(&video(t, &avc), &mut events);
            }
            w.push(&video(t, if v % 30 == 0 { &key } else { &inter }), &mut events);
        }
        w.finish(&mut events);
        let chunks = closed(&events);
        assert!(chunks.iter().all(|c| c.info.session == 0 && c.config.video.is_some()), "one session, video declared");
        let total = chunks.iter().fold((0, 0), |n, c| (n.0 + frames(c).0, n.1 + frames(c).1));
        assert_eq!(total, (150, a as usize), "every frame kept");
        assert_eq!(chunks[0].info.end().0, 3000, "the audio before the video is the first segment");
        for c in &chunks {
            assert!(c.parts.iter().all(|p| p.duration_ms <= 333), "chunk {}: {:?}", c.info.sequence, c.parts);
        }
    }

    #[test]
    fn late_header_rule_no_chunk_carries_a_track_its_headers_lack() {
        let mut w = ChunkWriter::new(Chunker::new(2000));
        let mut events = Vec::new();
        let (avc, key, inter) = (avc_header(), frame(true, 0), frame(false, 0));
        w.push(&video(0, &avc), &mut events);
        let mut a = 0u32;
        for v in 0..300u32 {
            let t = v * 100 / 3;
            w.push(&video(t, if v % 60 == 0 { &key } else { &inter }), &mut events);
            if t == 3000 {
                w.push(&audio(t, AAC_HEADER), &mut events);
            }
            while t >= 3000 && a * 64 / 3 <= t {
                w.push(&audio(a * 64 / 3, AAC_FRAME), &mut events);
                a += 1;
            }
        }
        w.finish(&mut events);
        let chunks = closed(&events);
        for c in &chunks {
            let (_, audio_frames) = frames(c);
            assert!(audio_frames == 0 || c.audio_header.is_some(), "chunk {} has audio but no header", c.info.sequence);
        }
        assert_eq!(chunks.iter().map(|c| frames(c).0).sum::<usize>(), 300, "every video frame kept");
        let sessions: Vec<u32> = chunks.iter().map(|c| c.info.session).collect();
        assert_eq!(sessions, [0, 0, 1, 1, 1], "audio joins at the keyframe at 4 s");
    }

    #[test]
    fn runaway_rule_every_frame_is_in_exactly_one_chunk() {
        let target = 1000;
        let mut w = ChunkWriter::new(Chunker::new(target));
        let mut events = Vec::new();
        let (avc, key, inter) = (avc_header(), frame(true, 0), frame(false, 0));
        w.push(&video(0, &avc), &mut events);
        w.push(&audio(0, AAC_HEADER), &mut events);
        // One keyframe at the start, none after (intra refresh), 20 s.
        let mut a = 0u32;
        for v in 0..600u32 {
            let t = v * 100 / 3;
            w.push(&video(t, if v == 0 { &key } else { &inter }), &mut events);
            while a * 64 / 3 <= t {
                w.push(&audio(a * 64 / 3, AAC_FRAME), &mut events);
                a += 1;
            }
        }
        w.finish(&mut events);
        let chunks = closed(&events);
        let total = chunks.iter().fold((0, 0), |n, c| (n.0 + frames(c).0, n.1 + frames(c).1));
        assert_eq!(total, (600, a as usize));
        assert!(chunks[0].info.independent && chunks[1..].iter().all(|c| !c.info.independent));
        assert!(chunks.iter().all(|c| c.info.duration_ms <= KEYFRAME_WAIT_FACTOR * target + 34));
        assert!(chunks.iter().all(|c| c.info.session == 0));
        // Each segment starts where the chunk starts, with the frame after the last one.
        for c in &chunks {
            let mut out = Vec::new();
            let s = build_segment(&mut out, &c.config, &c.info, c.tags(), &mut Warnings::default()).expect("segment");
            assert_eq!(s.video_samples as usize, frames(c).0);
            // The chunk file says so too (rapidrtmpIndependent), for any edge that reads it.
            let file = (*c).clone().into_file("1");
            assert_eq!(crate::chunk::read_chunk(&file).expect("chunk").header.info.independent, c.info.independent);
        }
    }

    /// 30 fps video with a keyframe every `gop` frames and AAC audio, interleaved by time, for
    /// `frames` video frames, through a writer cutting 2 s chunks into 333 ms parts.
    fn parted(gop: u32, frames: u32) -> Vec<ChunkEvent> {
        parted_and_built(gop, frames).0
    }

    /// A part built from the open chunk when its event came: (sequence, index, bytes).
    type BuiltPart = (u64, u32, Vec<u8>);

    /// [`parted`], and each part as built from the open chunk when its event came.
    fn parted_and_built(gop: u32, frames: u32) -> (Vec<ChunkEvent>, Vec<BuiltPart>) {
        use crate::segment::build_part;
        let mut w = ChunkWriter::new(Chunker::new(2000)).with_parts(333);
        let (mut events, mut built) = (Vec::new(), Vec::new());
        let mut push = |w: &mut ChunkWriter, tag: &Tag<'_>, events: &mut Vec<ChunkEvent>| {
            let from = events.len();
            w.push(tag, events);
            for e in &events[from..] {
                let ChunkEvent::Part { sequence, part } = e else { continue };
                let open = w.open_part(*sequence, part.index).expect("a finished part of the open chunk");
                let mut out = Vec::new();
                build_part(&mut out, open.config, &open.chunk, &open.part, open.tags(), &mut Warnings::default())
                    .expect("part");
                built.push((*sequence, part.index, out));
            }
        };
        let (avc, key, inter) = (avc_header(), frame(true, 0), frame(false, 0));
        push(&mut w, &video(0, &avc), &mut events);
        push(&mut w, &audio(0, AAC_HEADER), &mut events);
        let mut a = 0u32;
        for v in 0..frames {
            let t = v * 100 / 3;
            push(&mut w, &video(t, if v % gop == 0 { &key } else { &inter }), &mut events);
            while a * 64 / 3 <= t {
                push(&mut w, &audio(a * 64 / 3, AAC_FRAME), &mut events);
                a += 1;
            }
        }
        w.finish(&mut events);
        (events, built)
    }

    #[test]
    fn parts_rule_parts_tile_their_chunk_within_the_part_target() {
        let events = parted(60, 300);
        let chunks = closed(&events);
        assert_eq!(chunks.len(), 5);
        for c in &chunks {
            let parts = &c.parts;
            assert!(parts.len() >= 6, "2 s in parts of at most 333 ms: {parts:?}");
            assert_eq!(parts.iter().map(|p| p.duration_ms).sum::<u64>(), c.info.duration_ms, "parts sum to the chunk");
            assert_eq!(parts[0].start, c.info.start);
            assert_eq!(parts.last().unwrap().end(), c.info.end());
            assert_eq!(parts.iter().map(|p| p.tags as usize).sum::<usize>(), c.tags().count(), "every tag in one part");
            let tags: Vec<Tag<'_>> = c.tags().map(|t| t.unwrap()).collect();
            for (i, p) in parts.iter().enumerate() {
                assert_eq!(p.index as usize, i);
                assert!(p.duration_ms <= 333, "part {i} of chunk {}: {p:?}", c.info.sequence);
                // Short only where a segment or an independent part comes next.
                if parts.get(i + 1).is_some_and(|next| !next.independent) {
                    assert!(p.duration_ms * 100 >= 333 * 85, "part {i} lasts at least 85% of the target: {p:?}");
                }
                let first = &tags[p.first_tag as usize];
                let keyframe = matches!(Media::from_tag(first), Ok(Media::Video { keyframe: true, .. }));
                assert_eq!(p.independent, keyframe, "INDEPENDENT only, and always, on a keyframe: {p:?}");
                assert_eq!(first.kind, TagKind::Video, "with video, parts start at video frames");
            }
        }
    }

    #[test]
    fn parts_rule_a_keyframe_starts_an_independent_part() {
        // A keyframe every second in 2-second chunks: the one in the middle starts a part.
        let events = parted(30, 300);
        for c in closed(&events) {
            let starts: Vec<(u64, bool)> =
                c.parts.iter().map(|p| (p.start.0 - c.info.start.0, p.independent)).collect();
            assert!(starts.contains(&(0, true)) && starts.contains(&(1000, true)), "{starts:?}");
            assert_eq!(starts.iter().filter(|s| s.1).count(), 2, "independent at keyframes only: {starts:?}");
        }
    }

    #[test]
    fn parts_rule_a_part_built_open_is_the_part_built_from_the_chunk_file() {
        use crate::edge::{respond, Route};
        // A keyframe every 300 ms: every part starts with one.
        let (events, built) = parted_and_built(9, 200);
        let files: Vec<(u64, Vec<u8>)> =
            closed(&events).into_iter().map(|c| (c.info.sequence, c.clone().into_file("1700000000000"))).collect();
        for (sequence, index, part) in &built {
            let file = &files.iter().find(|(s, _)| s == sequence).expect("its chunk").1;
            let path = alloc::format!("/live/a/1700000000000/{sequence}.{index}.m4s");
            let served = respond(&Route::parse(&path).unwrap(), Some(file), &[]);
            assert_eq!(served.status, 200, "{path}");
            assert!(served.body == *part, "{path}: the same bytes from the open chunk and from the chunk file");
        }
        // Every part but a chunk's last (which comes with the chunk) was finished open.
        assert_eq!(built.len(), closed(&events).iter().map(|c| c.parts.len() - 1).sum::<usize>(), "one event per part");
        assert!(closed(&events).iter().all(|c| c.parts.iter().all(|p| p.independent)));
    }

    #[test]
    fn vp9_size_comes_from_the_first_keyframe_even_when_audio_comes_first() {
        use crate::codec::vp9_vectors::{VP9_TINY_KEY, VP9_TINY_VPCC};
        use crate::media::VideoConfig;
        // Enhanced RTMP: SequenceStart and key CodedFrames of FourCC vp09.
        let enhanced = |head: u8, payload: &[u8]| [&[head][..], b"vp09", payload].concat();
        let (header, key) = (enhanced(0x90, VP9_TINY_VPCC), enhanced(0x91, VP9_TINY_KEY));
        let mut w = ChunkWriter::new(Chunker::new(1000));
        let mut events = Vec::new();
        w.push(&video(0, &header), &mut events);
        w.push(&audio(0, AAC_HEADER), &mut events);
        for k in 0..3u32 {
            w.push(&audio(k * 21, AAC_FRAME), &mut events);
        }
        w.push(&video(40, &key), &mut events);
        w.push(&audio(64, AAC_FRAME), &mut events);
        w.finish(&mut events);
        let chunks = closed(&events);
        assert_eq!(chunks.len(), 1);
        let c = chunks[0];
        assert_eq!(c.config.video.as_ref().and_then(VideoConfig::size), Some((64, 64)), "{:?}", c.config);
        let file = c.clone().into_file("1700000000000");
        let read = crate::chunk::read_chunk(&file).expect("a chunk");
        assert_eq!(read.config, c.config, "the chunk file says what the writer knew");
    }

    #[test]
    fn chunk_files_read_back_as_what_the_writer_closed() {
        let mut w = ChunkWriter::new(Chunker::new(1000));
        let mut events = Vec::new();
        let (avc, key, inter) = (avc_header(), frame(true, 0), frame(false, 0));
        w.push(&video(0, &avc), &mut events);
        for v in 0..90u32 {
            w.push(&video(v * 100 / 3, if v % 30 == 0 { &key } else { &inter }), &mut events);
        }
        w.finish(&mut events);
        let chunks: Vec<ClosedChunk> = closed(&events).into_iter().cloned().collect();
        assert_eq!(chunks.len(), 3);
        for c in chunks {
            let (info, config, n) = (c.info, c.config.clone(), frames(&c));
            let file = c.into_file("1763900000123");
            let read = crate::chunk::read_chunk(&file).expect("a chunk");
            assert_eq!(read.header.info, crate::chunk::ChunkInfo { session: 0, ..info });
            assert_eq!(read.config, config);
            let media = read.tags.filter(|t| matches!(Media::from_tag(t.as_ref().unwrap()), Ok(Media::Video { .. })));
            assert_eq!(media.count(), n.0);
        }
    }
}

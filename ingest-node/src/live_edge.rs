//! The live edge of a stream this node publishes (LL-HLS): the open chunk, its finished parts
//! and the chunks closed since the store caught up, for the built-in edge to serve before any
//! other edge can. A part of the open chunk is built when asked for, from the publisher's chunk
//! writer, which holds the open chunk's only copy. Updated by the stream's
//! [`crate::publish::Publisher`]; whoever waits for it to change (a blocking playlist or part
//! request) is woken by a watch channel, never a poll.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rapidrtmp_core::chunk::{ChunkWriter, PartInfo};
use rapidrtmp_core::edge::live::{LiveChunk, LiveEdge as Edge, PartState};
use rapidrtmp_core::edge::{self, CACHE_IMMUTABLE, MP4_TYPE};
use rapidrtmp_core::manifest::ChunkEntry;
use rapidrtmp_core::media::StreamConfig;
use rapidrtmp_core::segment::{build_part, Warnings};
use tokio::sync::watch;

/// Closed chunks kept (their entries and part lists, a few hundred bytes each): enough for the
/// parts of the last three target durations.
const RECENT_CHUNKS: usize = 4;

/// What the live edge holds.
#[derive(Default)]
struct State {
    /// Recent closed chunks, then the open one.
    chunks: Vec<LiveChunk>,
    /// The publisher's chunk writer: the open chunk's parts.
    writer: Option<Arc<Mutex<ChunkWriter>>>,
    /// Chunk files of closed chunks that the stream's writer still holds (not stored yet).
    files: Vec<(u64, Bytes)>,
    ended: bool,
}

impl State {
    /// Lets go of the chunk files the writer has let go of: they are in the store (or lost).
    fn drop_stored_files(&mut self) {
        self.files.retain(|(_, f)| !f.is_unique());
    }
}

/// One stream's live edge.
pub struct LiveEdge {
    part_target_ms: u64,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
}

/// What a request for an object of the live edge gets.
pub enum Held {
    /// A chunk file the store may not have yet.
    Chunk(Bytes),
    /// The open chunk's session configuration (to build its init segment).
    Config(StreamConfig),
}

impl LiveEdge {
    /// An empty live edge cutting parts of `part_target_ms`.
    pub fn new(part_target_ms: u64) -> Self {
        Self { part_target_ms, state: Mutex::new(State::default()), changed: watch::Sender::new(0) }
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
        self.changed.send_modify(|n| *n += 1);
    }

    /// The part target duration.
    pub fn part_target_ms(&self) -> u64 {
        self.part_target_ms
    }

    /// A receiver that sees the next change (subscribe before reading, so none is missed).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A publisher started: `writer` holds its open chunk.
    pub fn attach(&self, writer: Arc<Mutex<ChunkWriter>>) {
        self.update(|s| s.writer = Some(writer));
    }

    /// A chunk was opened: `entry` has all but its duration and size.
    pub fn opened(&self, entry: ChunkEntry) {
        self.update(|s| s.chunks.push(LiveChunk { entry, parts: Vec::new(), open: true }));
    }

    /// Part `part` of the open chunk `sequence` is finished.
    pub fn part(&self, sequence: u64, part: PartInfo) {
        self.update(|s| {
            if let Some(open) = s.chunks.last_mut().filter(|c| c.open && c.entry.sequence == sequence) {
                open.parts.push(part);
            }
            s.drop_stored_files();
        });
    }

    /// The open chunk closed: its entry, its parts and its file (shared with the writer).
    pub fn closed(&self, entry: ChunkEntry, parts: Vec<PartInfo>, file: Bytes) {
        self.update(|s| {
            if s.chunks.last().is_some_and(|c| c.open) {
                s.chunks.pop();
            }
            s.drop_stored_files();
            s.files.push((entry.sequence, file));
            s.chunks.push(LiveChunk { entry, parts, open: false });
            let old = s.chunks.len().saturating_sub(RECENT_CHUNKS);
            s.chunks.drain(..old);
        });
    }

    /// The publish ended: requests go to the store from now on.
    pub fn end(&self) {
        self.update(|s| {
            *s = State { ended: true, ..State::default() };
        });
    }

    /// Whether the publish ended.
    pub fn ended(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).ended
    }

    /// Runs `f` on the core's view of the live edge and what it holds.
    fn look<R>(&self, f: impl FnOnce(&Edge<'_>, &State) -> R) -> R {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&Edge { part_target_ms: self.part_target_ms, chunks: &s.chunks }, &s)
    }

    /// Runs `f` on the core's view of the live edge.
    pub fn view<R>(&self, f: impl FnOnce(&Edge<'_>) -> R) -> R {
        self.look(|edge, _| f(edge))
    }

    /// Part `index` of segment `sequence` of `session`, built from the open chunk if it is one
    /// of its finished parts, else what it is ([`PartState`]: the next part, one further ahead,
    /// or one this edge does not hold).
    pub fn open_part(&self, session: &str, sequence: u64, index: u32) -> Result<edge::Response, PartState> {
        let writer = self.look(|edge, s| match edge.part_state(session, sequence, index) {
            PartState::Open => s.writer.clone().ok_or(PartState::Closed),
            state => Err(state),
        })?;
        let writer = writer.lock().unwrap_or_else(|e| e.into_inner());
        // The chunk closed since: this edge hears of it at once, so wait for that.
        let part = writer.open_part(sequence, index).ok_or(PartState::Next)?;
        let mut out = Vec::with_capacity(part.tags.len() + 1024);
        Ok(match build_part(&mut out, part.config, &part.chunk, &part.part, part.tags(), &mut Warnings::default()) {
            Ok(_) => edge::Response::ok(MP4_TYPE, CACHE_IMMUTABLE, out),
            Err(e) => edge::Response::error(500, format!("part: {e}")),
        })
    }

    /// What this edge holds for objects of chunk `sequence` of `session`: its file while the
    /// store may not have it, or (the open chunk) its configuration.
    pub fn held(&self, session: &str, sequence: u64) -> Option<Held> {
        let writer = {
            let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, f)) = s.files.iter().find(|(seq, _)| *seq == sequence) {
                return Some(Held::Chunk(f.clone()));
            }
            s.chunks.last().filter(|c| c.open && c.entry.session == session && c.entry.sequence == sequence)?;
            s.writer.clone()?
        };
        let writer = writer.lock().unwrap_or_else(|e| e.into_inner());
        writer.open_config(sequence).cloned().map(Held::Config)
    }
}

//! The live edge of a stream this node publishes (LL-HLS): the open chunk, its finished parts
//! and the chunks closed since the store caught up, for the built-in edge to serve before any
//! other edge can. A part of the open chunk is built when first asked for, once for all who ask
//! ([`BUILT_PARTS_KEPT`]): its tags are copied out of the publisher's chunk writer (which holds
//! the open chunk's only copy) and the part is built outside the writer's lock, so viewers never
//! hold the publisher up. Updated by the stream's [`crate::publish::StreamPublisher`] (and handed the
//! manifest its writer last stored, so a playlist is one consistent view); whoever waits for it
//! to change (a blocking playlist or part request, at most [`MAX_BLOCKING_WAITERS`]) is woken by
//! a watch channel, never a poll.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rapidrtmp_core::chunk::{ChunkWriter, PartInfo};
use rapidrtmp_core::edge::live::{self, LiveChunk, LiveEdge, PartState, PlaylistQuery, Readiness};
use rapidrtmp_core::edge::{self, Route, CACHE_IMMUTABLE, MP4_TYPE};
use rapidrtmp_core::flv::TagReader;
use rapidrtmp_core::layout::manifest_key;
use rapidrtmp_core::manifest::{ChunkEntry, Manifest};
use rapidrtmp_core::media::StreamConfig;
use rapidrtmp_core::segment::{build_init, build_part, Warnings};
use tokio::sync::{watch, OnceCell};

use crate::metrics::Metrics;
use crate::store::Store;

/// Closed chunks kept once the store has them (their entries and part lists, a few hundred bytes
/// each): enough for the parts of the last three target durations.
const RECENT_CHUNKS: usize = 4;
/// Most closed chunks kept while the store does not list them yet (a stalled store): the
/// playlist lists them from the live edge until then.
pub const MAX_UNSTORED_CHUNKS: usize = 64;
/// Most requests of one stream waiting for its live edge to advance at once (blocking playlist
/// and part requests): one more gets a 503 with `Retry-After` ([`edge::RETRY_AFTER_S`]). A CDN in
/// front collapses each blocking URL into one request, so this bounds viewers that come
/// straight to the node.
pub const MAX_BLOCKING_WAITERS: usize = 512;
/// Parts of the last chunks built and kept for whoever asks next (each is built once): more
/// than a chunk's worth, so the parts of a chunk that has just closed stay too.
const BUILT_PARTS_KEPT: usize = 16;

/// A part of the open chunk, built once for everyone who asks.
type BuiltPart = Arc<OnceCell<edge::Response>>;

/// What the live edge holds.
#[derive(Default)]
struct State {
    /// Recent closed chunks, then the open one.
    chunks: Vec<LiveChunk>,
    /// The publisher's chunk writer: the open chunk's parts.
    writer: Option<Arc<Mutex<ChunkWriter>>>,
    /// Chunk files of closed chunks that the stream's writer still holds (not stored yet), by
    /// session and sequence.
    files: Vec<(String, u64, Bytes)>,
    /// The manifest the stream's writer last stored, once it has stored one for this publish.
    manifest: Option<Arc<Manifest>>,
    /// Parts built (or being built) from the open chunk or a held file, by (sequence, index).
    built: VecDeque<((u64, u32), BuiltPart)>,
    ended: bool,
}

impl State {
    /// The place of part `index` of chunk `sequence`, built or not (the oldest place goes past
    /// [`BUILT_PARTS_KEPT`]).
    fn built_part(&mut self, sequence: u64, index: u32) -> BuiltPart {
        if let Some((_, cell)) = self.built.iter().find(|(k, _)| *k == (sequence, index)) {
            return cell.clone();
        }
        if self.built.len() >= BUILT_PARTS_KEPT {
            self.built.pop_front();
        }
        let cell = BuiltPart::default();
        self.built.push_back(((sequence, index), cell.clone()));
        cell
    }

    /// Lets go of the chunk files the writer has let go of: they are in the store (or lost).
    fn drop_stored_files(&mut self) {
        self.files.retain(|(_, _, f)| !f.is_unique());
    }

    /// Lets go of the closed chunks the store lists, but the last [`RECENT_CHUNKS`] (at most
    /// [`MAX_UNSTORED_CHUNKS`] whatever the store lists).
    fn drop_old_chunks(&mut self) {
        let stored = self.manifest.as_ref().and_then(|m| m.chunks.last()).map(|c| c.sequence);
        let closed = self.chunks.iter().filter(|c| !c.open).count();
        let mut droppable = closed.saturating_sub(RECENT_CHUNKS);
        let mut over = closed.saturating_sub(MAX_UNSTORED_CHUNKS);
        self.chunks.retain(|c| {
            let listed = stored.is_some_and(|s| c.entry.sequence <= s);
            let drop = !c.open && droppable > 0 && (listed || over > 0);
            if !c.open && droppable > 0 {
                droppable -= 1;
                over = over.saturating_sub(1);
            }
            !drop
        });
    }
}

/// One stream's live edge.
pub struct NodeLiveEdge {
    part_target_ms: u64,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    /// Requests waiting for a change now.
    waiters: AtomicUsize,
}

/// What a request for an object of the live edge gets.
pub enum Held {
    /// A chunk file the store may not have yet.
    Chunk(Bytes),
    /// The open chunk's session configuration (to build its init segment).
    Config(StreamConfig),
}

/// A request's place among those waiting on a live edge ([`NodeLiveEdge::wait_slot`]), given back
/// when dropped.
pub struct WaitSlot<'a>(&'a AtomicUsize);

impl Drop for WaitSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// A finished part of the open chunk, copied out of the publisher's writer to be built outside
/// its lock.
struct PartSource {
    chunk: rapidrtmp_core::chunk::ChunkInfo,
    config: StreamConfig,
    part: PartInfo,
    tags: Vec<u8>,
}

impl NodeLiveEdge {
    /// An empty live edge cutting parts of `part_target_ms`.
    pub fn new(part_target_ms: u64) -> Self {
        Self {
            part_target_ms,
            state: Mutex::new(State::default()),
            changed: watch::Sender::new(0),
            waiters: AtomicUsize::new(0),
        }
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

    /// A place among the requests waiting for a change, or `None` if [`MAX_BLOCKING_WAITERS`]
    /// already wait.
    pub fn wait_slot(&self) -> Option<WaitSlot<'_>> {
        self.waiters.fetch_update(Relaxed, Relaxed, |n| (n < MAX_BLOCKING_WAITERS).then_some(n + 1)).ok()?;
        Some(WaitSlot(&self.waiters))
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

    /// The open chunk closed: its entry, its parts and its file (shared with the writer); `next`,
    /// the chunk opened at the same tag, if one was. Both show at once: nobody sees the edge
    /// between the two (a playlist without the next part's hint).
    pub fn closed(&self, entry: ChunkEntry, parts: Vec<PartInfo>, file: Bytes, next: Option<ChunkEntry>) {
        self.update(|s| {
            if s.chunks.last().is_some_and(|c| c.open) {
                s.chunks.pop();
            }
            s.drop_stored_files();
            s.files.push((entry.session.clone(), entry.sequence, file));
            s.chunks.push(LiveChunk { entry, parts, open: false });
            s.drop_old_chunks();
            if let Some(next) = next {
                s.chunks.push(LiveChunk { entry: next, parts: Vec::new(), open: true });
            }
        });
    }

    /// The stream's writer stored `manifest`: playlists list the stored window from it, and the
    /// closed chunks it lists may go.
    pub fn stored(&self, manifest: &Manifest) {
        self.update(|s| {
            s.manifest = Some(Arc::new(manifest.clone()));
            s.drop_old_chunks();
            s.drop_stored_files();
        });
    }

    /// Whether the edge has the manifest its stream's writer last stored (else a playlist
    /// needs the store's).
    pub fn has_manifest(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).manifest.is_some()
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

    /// Runs `f` on the core's view of the live edge, with the manifest the stream's writer last
    /// stored (`stored`, read from the store, until there is one): one consistent view.
    pub fn view<R>(&self, stored: Option<&Manifest>, f: impl FnOnce(&LiveEdge<'_>, Option<&Manifest>) -> R) -> R {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let manifest = s.manifest.as_deref().or(stored);
        f(&LiveEdge { part_target_ms: self.part_target_ms, chunks: &s.chunks }, manifest)
    }

    /// Part `index` of segment `sequence` of `session`, if it is one of the open chunk's
    /// finished parts, else what it is ([`PartState`]: the next part, one further ahead, or one
    /// this edge does not hold). Built once for all who ask (`built` counts it), outside the
    /// publisher's lock.
    pub async fn open_part(
        &self,
        session: &str,
        sequence: u64,
        index: u32,
        built: &std::sync::atomic::AtomicU64,
    ) -> Result<edge::Response, PartState> {
        let (cell, writer) = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let state = LiveEdge { part_target_ms: self.part_target_ms, chunks: &s.chunks }
                .part_state(session, sequence, index);
            if state != PartState::Open {
                return Err(state);
            }
            let writer = s.writer.clone().ok_or(PartState::Closed)?;
            (s.built_part(sequence, index), writer)
        };
        let build = || async {
            // The publisher's lock is held only to copy the part's tags out.
            let source = {
                let writer = writer.lock().unwrap_or_else(|e| e.into_inner());
                // The chunk closed since: this edge hears of it at once, so wait for that.
                let part = writer.open_part(sequence, index).ok_or(PartState::Next)?;
                PartSource { chunk: part.chunk, config: part.config.clone(), part: part.part, tags: part.tags.to_vec() }
            };
            let mut out = Vec::with_capacity(source.tags.len() + 1024);
            let tags = TagReader::records(&source.tags);
            Ok::<_, PartState>(
                match build_part(&mut out, &source.config, &source.chunk, &source.part, tags, &mut Warnings::default())
                {
                    Ok(_) => {
                        built.fetch_add(1, Relaxed);
                        edge::Response::ok(MP4_TYPE, CACHE_IMMUTABLE, out)
                    }
                    Err(e) => {
                        tracing::warn!("live edge: part {sequence}.{index} could not be built: {e}");
                        edge::Response::error(500, "the part could not be built".into())
                    }
                },
            )
        };
        cell.get_or_try_init(build).await.cloned()
    }

    /// Part `index` of chunk `sequence` of `session`, a closed chunk whose file this edge
    /// still holds (its last part comes with the close): built once for all who ask, like the
    /// open chunk's; `None` if the edge does not hold the file.
    pub async fn held_part(
        &self,
        route: &rapidrtmp_core::edge::Route,
        (session, sequence, index): (&str, u64, u32),
        built: &std::sync::atomic::AtomicU64,
    ) -> Option<edge::Response> {
        let Some(Held::Chunk(file)) = self.held(session, sequence) else { return None };
        let cell = self.state.lock().unwrap_or_else(|e| e.into_inner()).built_part(sequence, index);
        let build = || async {
            let part = edge::respond(route, Some(&file), &[]);
            if part.status == 200 {
                built.fetch_add(1, Relaxed);
            }
            part
        };
        Some(cell.get_or_init(build).await.clone())
    }

    /// What this edge holds for objects of chunk `sequence` of `session`: its file while the
    /// store may not have it, or (the open chunk) its configuration. Only under the session's
    /// own id: any other is not this edge's (the store answers, a 404).
    pub fn held(&self, session: &str, sequence: u64) -> Option<Held> {
        let writer = {
            let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, _, f)) = s.files.iter().find(|(id, seq, _)| *seq == sequence && id == session) {
                return Some(Held::Chunk(f.clone()));
            }
            s.chunks.last().filter(|c| c.open && c.entry.session == session && c.entry.sequence == sequence)?;
            s.writer.clone()?
        };
        let writer = writer.lock().unwrap_or_else(|e| e.into_inner());
        writer.open_config(sequence).cloned().map(Held::Config)
    }

    /// The answer of a stream's live edge, or `None` where the store has the answer. A blocking
    /// request waits for the live edge to change (at most `wait`, then 503), unless
    /// [`MAX_BLOCKING_WAITERS`] already wait (503 at once).
    pub async fn answer(
        &self,
        store: &Store,
        metrics: &Metrics,
        route: &Route,
        query: Option<&str>,
        wait: Duration,
    ) -> Option<edge::Response> {
        let deadline = tokio::time::Instant::now() + wait;
        // The stored window, until the live edge has the manifest its stream's writer last stored
        // (then a playlist is the live edge's alone: one consistent view, no store read).
        let read_manifest = || async {
            if self.has_manifest() {
                return None;
            }
            match store.get(&manifest_key(route.stream())).await {
                Ok(Some(bytes)) => Manifest::parse(&bytes).ok(),
                _ => None,
            }
        };
        let query = match route {
            Route::MediaPlaylist { .. } => match PlaylistQuery::parse(query) {
                Ok(q) => Some(q),
                Err(why) => return Some(edge::Response::error(400, why.into())),
            },
            _ => None,
        };
        let mut stored = match query {
            Some(_) => read_manifest().await,
            None => None,
        };
        let (mut slot, mut waited) = (None, false);
        loop {
            // Subscribed before looking, so no change between the look and the wait is missed.
            let mut changed = self.subscribe();
            if self.ended() {
                return None;
            }
            match (route, &query) {
                (Route::MediaPlaylist { .. }, Some(query)) => {
                    // Read again only to answer after a wait: what is ready is the live edge's to say.
                    if std::mem::take(&mut waited)
                        && self.view(stored.as_ref(), |e, m| e.readiness(m, query)) != Readiness::Wait
                    {
                        stored = read_manifest().await.or(stored);
                    }
                    let answer = self.view(stored.as_ref(), |e, m| match e.readiness(m, query) {
                        Readiness::Now => Some(e.respond(m, query)),
                        Readiness::Reject(r) => Some(r),
                        Readiness::Wait => None,
                    });
                    if answer.is_some() {
                        return answer;
                    }
                }
                (Route::Part { session, sequence, part, .. }, _) => {
                    match self.open_part(session, *sequence, *part, &metrics.parts_built).await {
                        Ok(part) => return Some(part),
                        Err(PartState::Next) => {}
                        Err(PartState::Future) => return Some(live::future_part()),
                        Err(_) => {
                            return self.held_part(route, (session, *sequence, *part), &metrics.parts_built).await
                        }
                    }
                }
                (Route::Init { .. } | Route::Segment { .. } | Route::Chunk { .. }, _) => {
                    return self.held_answer(route)
                }
                _ => return None,
            }
            if slot.is_none() {
                slot = self.wait_slot();
                if slot.is_none() {
                    metrics.blocking_refused.fetch_add(1, Relaxed);
                    return Some(live::too_many_waiters());
                }
            }
            if tokio::time::timeout_at(deadline, changed.changed()).await.is_err() {
                // A request that does not block waited only for the next chunk to open: it gets
                // what there is.
                if let Some(query) = query.as_ref().filter(|q| !q.blocks()) {
                    return Some(self.view(stored.as_ref(), |e, m| e.respond(m, query)));
                }
                return Some(live::timed_out());
            }
            waited = true;
        }
    }

    /// The answer from what the live edge holds for `route`'s chunk (a chunk file the store may not
    /// have yet; the open chunk's init segment), or `None`.
    fn held_answer(&self, route: &Route) -> Option<edge::Response> {
        let (session, sequence) = route.chunk()?;
        match self.held(session, sequence)? {
            Held::Chunk(file) => Some(edge::respond(route, Some(&file), &[])),
            Held::Config(config) if matches!(route, Route::Init { .. }) => match build_init(&config) {
                Ok(init) => Some(edge::Response::ok(MP4_TYPE, CACHE_IMMUTABLE, init)),
                Err(e) => {
                    tracing::warn!("live edge: the init segment of {session}/{sequence} could not be built: {e}");
                    Some(edge::Response::error(500, "the init segment could not be built".into()))
                }
            },
            Held::Config(_) => None,
        }
    }
}

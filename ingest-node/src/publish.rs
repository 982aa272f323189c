//! One publish: RTMP media → chunk files (cut and assembled by the core's [`ChunkWriter`]) → a
//! writer task that puts each chunk, then the manifest, into the store, in order and with retries.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use rapidrtmp_core::chunk::{ChunkWriter, Chunker, ClosedChunk, Event};
use rapidrtmp_core::edge::{chunk_key, manifest_key};
use rapidrtmp_core::flv::{Tag, TagKind};
use rapidrtmp_core::hls::init_uri;
use rapidrtmp_core::manifest::{ChunkEntry, Manifest, MediaInfo, StreamState};
use rapidrtmp_core::media::{Media, StreamConfig};
use rapidrtmp_core::timeline::Millis;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::app::{now_ms, App, LiveStream};
use crate::store::StoreError;

/// Chunks that may wait for the store before the publisher is slowed down (about two minutes
/// of 2-second segments). The publisher is never disconnected and nothing is dropped: when the
/// backlog is full, reading from its socket waits.
pub const MAX_BACKLOG: usize = 64;
/// How long the writer keeps retrying a failing store once shutdown has begun.
const SHUTDOWN_RETRY: Duration = Duration::from_secs(10);

/// How a publish ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The publisher unpublished, or the stream was stopped: the playlist ends now.
    Now,
    /// The publisher dropped off: the stream stays live for the reconnect grace, then ends unless
    /// it was published again meanwhile (OBS reconnects this way).
    AfterGrace,
    /// Another publisher took the stream over: it goes on.
    Replaced,
}

/// A closed chunk on its way to the store, with what the manifest will say of it.
struct ChunkJob {
    key: String,
    bytes: Bytes,
    entry: ChunkEntry,
    media: MediaInfo,
    last_init: Option<(String, String)>,
}

enum Job {
    Chunk(Box<ChunkJob>),
    /// The publish is over; its media ended here on the stream timeline.
    End {
        media_end: Option<Millis>,
        ending: Ending,
    },
}

/// Turns one publisher's media into chunks.
pub struct Publisher {
    app: Arc<App>,
    stream: Arc<LiveStream>,
    writer: ChunkWriter,
    /// Events of the last message, reused.
    events: Vec<Event>,
    /// Wall-clock time the open chunk was opened at.
    opened_at_ms: u64,
    /// (chunker session index, session id, init segment URI) of the current session.
    session: Option<(u32, String, String)>,
    /// Digest of the last session's sequence headers and its init URI, to reuse it.
    last_init: Option<(String, String)>,
    last_session_id: u64,
    tx: mpsc::Sender<Job>,
    store_writer: tokio::task::JoinHandle<()>,
}

fn media_info(config: &StreamConfig) -> MediaInfo {
    MediaInfo {
        codecs: config.codecs(),
        width: config.video.as_ref().map(|v| v.sps.width),
        height: config.video.as_ref().map(|v| v.sps.height),
        frame_rate: config.video.as_ref().and_then(|v| v.sps.fps()),
    }
}

impl Publisher {
    /// Starts publishing `stream`: reads its manifest (to continue its numbering) and starts
    /// its writer.
    pub async fn start(app: Arc<App>, stream: Arc<LiveStream>) -> anyhow::Result<Self> {
        let key = manifest_key(&stream.key);
        let manifest = match app.store.get(&key).await.context("reading the stream manifest")? {
            Some(bytes) => match Manifest::parse(&bytes) {
                Ok(m) => m,
                Err(e) => {
                    warn!(stream = %stream.key, "manifest unreadable ({e}); starting a new one");
                    Manifest::new(&stream.key, now_ms())
                }
            },
            None => Manifest::new(&stream.key, now_ms()),
        };
        let target = app.settings.segment_duration.as_millis() as u64;
        let mut chunker = Chunker::new(target).with_first_sequence(manifest.next_sequence);
        // A stream published again continues its timeline: decode times never go back.
        let last_end = manifest.chunks.last().map(|c| c.start_ms + c.duration_ms);
        if let Some(end) = manifest.media_end_ms.max(last_end) {
            chunker = chunker.with_resume_at(Millis(end));
        }
        let last_session_id = manifest.session.parse().unwrap_or(0);
        let last_init = manifest.last_init.clone();
        let (tx, rx) = mpsc::channel(MAX_BACKLOG);
        app.writers.send_modify(|n| *n += 1);
        let store_writer = tokio::spawn(write_chunks(app.clone(), stream.clone(), manifest, rx));
        Ok(Self {
            last_init,
            app,
            stream,
            writer: ChunkWriter::new(chunker),
            events: Vec::new(),
            opened_at_ms: now_ms(),
            session: None,
            last_session_id,
            tx,
            store_writer,
        })
    }

    /// Takes one audio, video or script data message (an FLV tag body) with its RTMP timestamp.
    pub async fn media(&mut self, kind: TagKind, timestamp: u32, body: &[u8]) {
        let m = &self.app.metrics;
        self.stream.last_data_ms.store(now_ms(), Relaxed);
        if matches!(kind, TagKind::Audio | TagKind::Video) {
            m.bytes_in.fetch_add(body.len() as u64, Relaxed);
            self.stream.stats.lock().unwrap_or_else(|e| e.into_inner()).bytes_in += body.len() as u64;
        }
        if body.len() > 0xFF_FFFF {
            warn!(stream = %self.stream.key, "dropped a {}-byte message: larger than an FLV tag can hold", body.len());
            return;
        }
        let tag = Tag { kind, filtered: false, timestamp, stream_id: 0, body, offset: 0 };
        match Media::from_tag(&tag) {
            Ok(Media::Video { .. }) => m.video_frames_in.fetch_add(1, Relaxed),
            Ok(Media::Audio(_)) => m.audio_frames_in.fetch_add(1, Relaxed),
            _ => 0,
        };
        self.writer.push(&tag, &mut self.events);
        self.on_events().await;
    }

    /// Acts on what the chunk writer did: closed chunks go to the store writer.
    async fn on_events(&mut self) {
        let mut events = std::mem::take(&mut self.events);
        for event in events.drain(..) {
            match event {
                Event::Opened { .. } => {
                    self.opened_at_ms = now_ms();
                    let media = media_info(self.writer.chunker().config());
                    self.stream.stats.lock().unwrap_or_else(|e| e.into_inner()).media = media;
                }
                Event::Closed(chunk) => self.close(chunk).await,
                Event::Skipped { reason, .. } => {
                    warn!(stream = %self.stream.key, "skipped a message: {reason}")
                }
                _ => {}
            }
        }
        self.events = events;
    }

    /// Hands a closed chunk to the writer (waiting if the backlog is full).
    async fn close(&mut self, chunk: ClosedChunk) {
        let info = chunk.info;
        if !info.independent {
            info!(stream = %self.stream.key, sequence = info.sequence, "no keyframe in time: chunk cut between keyframes");
        }
        let (session_id, init) = match &self.session {
            Some((idx, id, init)) if *idx == info.session => (id.clone(), init.clone()),
            _ => {
                // A new session: ids are increasing milliseconds, unique across reconnects.
                let id = now_ms().max(self.last_session_id + 1);
                self.last_session_id = id;
                let id = id.to_string();
                let digest = chunk.headers_digest();
                let init = match &self.last_init {
                    Some((d, uri)) if *d == digest => uri.clone(),
                    _ => init_uri(&id, info.sequence),
                };
                self.last_init = Some((digest, init.clone()));
                self.session = Some((info.session, id.clone(), init.clone()));
                (id, init)
            }
        };
        let media = media_info(&chunk.config);
        let bytes = chunk.into_file(&session_id);
        let entry = ChunkEntry {
            session: session_id.clone(),
            sequence: info.sequence,
            init,
            start_ms: info.start.0,
            duration_ms: info.duration_ms,
            bytes: bytes.len() as u64,
            wall_clock_ms: self.opened_at_ms,
            independent: info.independent,
        };
        let job = Job::Chunk(Box::new(ChunkJob {
            key: chunk_key(&self.stream.key, &session_id, info.sequence),
            bytes: Bytes::from(bytes),
            entry,
            media,
            last_init: self.last_init.clone(),
        }));
        self.app.metrics.store_backlog.fetch_add(1, Relaxed);
        if self.tx.send(job).await.is_err() {
            error!(stream = %self.stream.key, sequence = info.sequence, "chunk writer is gone; chunk lost");
            self.app.metrics.chunks_lost.fetch_add(1, Relaxed);
        }
    }

    /// Ends the publish: writes the last chunk, marks the stream ended as `ending` says and waits
    /// for the writer.
    pub async fn finish(mut self, ending: Ending) {
        self.writer.finish(&mut self.events);
        self.on_events().await;
        let media_end = self.writer.chunker().media_end();
        let _ = self.tx.send(Job::End { media_end, ending }).await;
        drop(self.tx);
        let _ = self.store_writer.await;
    }
}

/// Puts an object, retrying with backoff; gives up only once shutdown has gone on too long.
async fn put_retrying(app: &App, key: &str, bytes: Bytes) -> Result<(), StoreError> {
    let mut delay = Duration::from_millis(100);
    let mut shutdown_since: Option<Instant> = None;
    loop {
        match app.store.put(key, bytes.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                app.metrics.store_errors.fetch_add(1, Relaxed);
                if app.shutting_down() && shutdown_since.get_or_insert_with(Instant::now).elapsed() > SHUTDOWN_RETRY {
                    return Err(e);
                }
                warn!("store write failed, retrying in {delay:?}: {e}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// The writer task of one publish: chunk first, manifest second, in order.
async fn write_chunks(app: Arc<App>, stream: Arc<LiveStream>, mut manifest: Manifest, mut rx: mpsc::Receiver<Job>) {
    let mkey = manifest_key(&stream.key);
    let window = app.settings.live_window;
    let mut expiring: VecDeque<(Instant, String)> = VecDeque::new();
    let mut wrote_any = false;
    while let Some(job) = rx.recv().await {
        match job {
            Job::Chunk(job) => {
                let ChunkJob { key, bytes, entry, media, last_init } = *job;
                let started = Instant::now();
                let len = bytes.len() as u64;
                let sequence = entry.sequence;
                if let Err(e) = put_retrying(&app, &key, bytes).await {
                    error!(stream = %stream.key, sequence, "chunk lost: the store kept failing at shutdown: {e}");
                    app.metrics.chunks_lost.fetch_add(1, Relaxed);
                    app.metrics.store_backlog.fetch_sub(1, Relaxed);
                    continue;
                }
                let evicted: Vec<(String, u64)> = manifest
                    .chunks
                    .iter()
                    .take((manifest.chunks.len() + 1).saturating_sub(window))
                    .map(|c| (c.session.clone(), c.sequence))
                    .collect();
                manifest.session = entry.session.clone();
                manifest.push_chunk(entry, window);
                manifest.media = media;
                manifest.last_init = last_init;
                manifest.state = StreamState::Live;
                manifest.updated_at_ms = now_ms();
                if let Err(e) = put_retrying(&app, &mkey, Bytes::from(manifest.to_json())).await {
                    error!(stream = %stream.key, "manifest not updated at shutdown: {e}");
                }
                wrote_any = true;
                app.metrics.store_backlog.fetch_sub(1, Relaxed);
                app.metrics.chunks_written.fetch_add(1, Relaxed);
                app.metrics.chunk_bytes_written.fetch_add(len, Relaxed);
                app.metrics.chunk_write.observe(started.elapsed());
                stream.stats.lock().unwrap_or_else(|e| e.into_inner()).segments += 1;
                if let Some(keep) = app.settings.retention {
                    for (session, seq) in evicted {
                        expiring.push_back((Instant::now() + keep, chunk_key(&stream.key, &session, seq)));
                    }
                    while expiring.front().is_some_and(|(at, _)| *at <= Instant::now()) {
                        if let Some((_, k)) = expiring.pop_front() {
                            if let Err(e) = app.store.delete(&k).await {
                                warn!("retention: cannot delete {k}: {e}");
                            }
                        }
                    }
                }
            }
            Job::End { media_end, ending } => {
                if let Some(end) = media_end {
                    manifest.media_end_ms = Some(end.0);
                }
                let mut end_now = ending == Ending::Now;
                if ending != Ending::Now && wrote_any {
                    // Where the media ended, for whoever publishes next; the stream stays live.
                    manifest.updated_at_ms = now_ms();
                    if let Err(e) = put_retrying(&app, &mkey, Bytes::from(manifest.to_json())).await {
                        error!(stream = %stream.key, "could not update the manifest: {e}");
                    }
                }
                if ending == Ending::AfterGrace {
                    let mut shutdown = app.shutdown.subscribe();
                    tokio::select! {
                        _ = tokio::time::sleep(app.settings.reconnect_grace) => {}
                        _ = shutdown.wait_for(|s| *s) => {}
                    }
                    end_now = app.live(&stream.key).is_none();
                    if !end_now {
                        info!(stream = %stream.key, "publisher came back; the stream goes on");
                    }
                }
                if end_now && (wrote_any || manifest.state == StreamState::Live && !manifest.chunks.is_empty()) {
                    manifest.state = StreamState::Ended;
                    manifest.updated_at_ms = now_ms();
                    if let Err(e) = put_retrying(&app, &mkey, Bytes::from(manifest.to_json())).await {
                        error!(stream = %stream.key, "could not mark the stream ended: {e}");
                    }
                }
                if end_now {
                    info!(stream = %stream.key, "stream ended");
                }
            }
        }
    }
    let _ = stream.done.send(true);
    app.writers.send_modify(|n| *n -= 1);
}

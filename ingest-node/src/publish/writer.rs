//! The writers of the streams this node owns ([`StreamWriters`]: the running writers and the
//! handles they share) and the writer of one stream: it holds the stream's owner lease and its
//! manifest, and puts each closed chunk into the store, then the manifest, in order and with
//! retries. It emits the moments "chunk stored" and "stream ended" ([`crate::lifecycle`]).
//!
//! A publisher that reconnects, or one that takes a silent one over, attaches to the same writer:
//! ownership passes in-process, and numbering and timeline go on from what the previous publisher
//! handed over, written yet or not. Once no publisher is attached (at once on an unpublish, after
//! the reconnect grace on a dropped connection) the writer marks the stream ended, releases the
//! lease and stops. The manifest is replaced only if it is unchanged since this writer last wrote
//! it: a writer that finds it changed has lost the stream to another node, and stops.
//!
//! The lease is renewed by its own task ([`Keeper`]), whatever a store write is doing. Every
//! store write runs only while the lease lets this node write: it waits while the lease is not
//! renewed, is cut short when the lease would run out first, and is never made once another node
//! has taken the stream.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rapidrtmp_core::archive::{self, Bucket, SessionRecord, BUCKET_MS, MAX_BUCKET_PARTS};
use rapidrtmp_core::layout::{bucket_key, chunk_key, init_source_key, manifest_key, session_key};
use rapidrtmp_core::manifest::{ChunkEntry, Manifest, MediaInfo, Renditions, StreamState};
use rapidrtmp_core::timeline::Millis;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{error, info, warn};

use super::Ending;
use crate::clock::now_ms;
use crate::config::Settings;
use crate::lifecycle::{Lifecycle, StreamEvent};
use crate::metrics::Metrics;
use crate::owner::{self, Claim, Hold, Keeper};
use crate::retention::{self, Schedule};
use crate::store::{Store, StoreError, Version};
use crate::streams::{LiveStream, LiveStreams};

/// How long the writer keeps retrying a failing store (or waiting for its lease to be renewed)
/// once shutdown has begun.
const SHUTDOWN_RETRY: Duration = Duration::from_secs(10);
/// How long a new publish waits for the stream's previous writer to finish closing.
const CLOSING_WAIT: Duration = Duration::from_secs(10);

/// The writers of the streams this node owns, and what they share: the store, the settings they
/// read, the metrics, this node's name, the registry of live streams (to reach a stream's live
/// edge and stop its publisher), the lifecycle, the shutdown signal and the node's backlog.
pub struct StreamWriters {
    /// Object store.
    pub store: Store,
    /// Settings.
    pub settings: Arc<Settings>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// This node's name in the owner records of the streams it writes.
    pub node_id: String,
    /// The streams being published on this node.
    pub streams: Arc<LiveStreams>,
    /// Where stream events are emitted.
    pub lifecycle: Lifecycle,
    /// Turns true when shutdown begins.
    pub shutdown: watch::Receiver<bool>,
    /// Restreaming: each publish's tap to its stream's outputs.
    pub restream: Arc<crate::restream::Restreamer>,
    /// Writers still running (shutdown waits for them to flush).
    running: watch::Sender<usize>,
    /// The running writers by stream key.
    by_key: Mutex<HashMap<String, Arc<StreamWriter>>>,
    /// Room for closed chunks waiting for the store, all streams together (bytes).
    backlog: Arc<Semaphore>,
}

/// What [`StreamWriters::new`] is made of: the handles every stream writer uses.
pub struct WriterHandles {
    /// Object store.
    pub store: Store,
    /// Settings.
    pub settings: Arc<Settings>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// This node's name.
    pub node_id: String,
    /// The streams being published on this node.
    pub streams: Arc<LiveStreams>,
    /// Where stream events are emitted.
    pub lifecycle: Lifecycle,
    /// Turns true when shutdown begins.
    pub shutdown: watch::Receiver<bool>,
    /// Restreaming.
    pub restream: Arc<crate::restream::Restreamer>,
}

impl StreamWriters {
    /// No writer yet.
    pub fn new(h: WriterHandles) -> Arc<Self> {
        Arc::new(Self {
            backlog: Arc::new(Semaphore::new(h.settings.node_backlog)),
            store: h.store,
            settings: h.settings,
            metrics: h.metrics,
            node_id: h.node_id,
            streams: h.streams,
            lifecycle: h.lifecycle,
            shutdown: h.shutdown,
            restream: h.restream,
            running: watch::channel(0).0,
            by_key: Mutex::default(),
        })
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// The live stream under `key`, if any.
    pub fn live(&self, key: &str) -> Option<Arc<LiveStream>> {
        self.streams.live(key)
    }

    /// Whether this node runs the writer of `stream`.
    pub fn writes(&self, stream: &str) -> bool {
        self.by_key.lock().unwrap_or_else(|e| e.into_inner()).contains_key(stream)
    }

    /// Waits until every writer has stopped; `false` if some still run after `within`.
    pub async fn stopped_within(&self, within: Duration) -> bool {
        let mut running = self.running.subscribe();
        let stopped = tokio::time::timeout(within, running.wait_for(|n| *n == 0)).await.is_ok();
        stopped
    }
}

/// Where the next publish of a stream goes on from.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// The next chunk's sequence number.
    pub next_sequence: u64,
    /// Where the media ended on the stream timeline, milliseconds.
    pub media_end_ms: Option<u64>,
    /// The last session id (sessions ids only grow).
    pub last_session_id: u64,
    /// Digest of the last session's sequence headers and its init segment's URI.
    pub last_init: Option<(String, String)>,
}

impl Resume {
    fn of(m: &Manifest) -> Self {
        let last_end = m.chunks.last().map(|c| c.start_ms + c.duration_ms);
        Self {
            next_sequence: m.next_sequence,
            media_end_ms: m.media_end_ms.max(last_end),
            last_session_id: m.session.parse().unwrap_or(0),
            last_init: m.last_init.clone(),
        }
    }
}

/// Room taken in the stream's and the node's backlog by one chunk until it is written (or given
/// up); it also keeps the backlog gauges.
pub struct Reservation {
    metrics: Arc<Metrics>,
    bytes: u64,
    _stream: OwnedSemaphorePermit,
    _node: OwnedSemaphorePermit,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.metrics.store_backlog.fetch_sub(1, Relaxed);
        self.metrics.store_backlog_bytes.fetch_sub(self.bytes, Relaxed);
    }
}

/// A closed chunk on its way to the store, with what the manifest will say of it.
pub struct ChunkJob {
    pub key: String,
    pub bytes: Bytes,
    pub entry: ChunkEntry,
    pub media: MediaInfo,
    pub last_init: Option<(String, String)>,
    pub renditions: Renditions,
    pub reservation: Reservation,
}

/// What publishers hand their stream's writer.
pub enum Job {
    Chunk(Box<ChunkJob>),
    /// A publish is over; its media ended here on the stream timeline.
    End {
        media_end: Option<Millis>,
        ending: Ending,
    },
}

/// Why a publish cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another node holds the stream (or this node is still closing it).
    #[error("the stream is being published on {0}")]
    Busy(String),
    /// The key names a stream group, not a stream.
    #[error("the key names a stream group")]
    Group,
    /// The store did not answer.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
}

#[derive(Debug, Default)]
struct Attachments {
    publishers: usize,
    closing: bool,
}

/// The handle publishers use to reach their stream's writer.
pub struct StreamWriter {
    stream: String,
    tx: mpsc::UnboundedSender<Job>,
    /// Kept by the attached publisher as it hands chunks over.
    pub resume: Mutex<Resume>,
    backlog: Arc<Semaphore>,
    attachments: Mutex<Attachments>,
    /// Set once the writer has stopped and left [`StreamWriters`].
    done: watch::Sender<bool>,
}

impl StreamWriter {
    /// Attaches a new publisher of `stream`: to the writer this node runs for it, or to a new one
    /// once the stream's lease is taken.
    pub async fn attach(writers: &Arc<StreamWriters>, stream: &str) -> Result<Arc<Self>, StartError> {
        let deadline = Instant::now() + CLOSING_WAIT;
        loop {
            let existing = writers.by_key.lock().unwrap_or_else(|e| e.into_inner()).get(stream).cloned();
            let Some(w) = existing else { return Self::start(writers, stream).await };
            if w.try_attach() {
                return Ok(w);
            }
            // It is closing: its last writes go first.
            let mut done = w.done.subscribe();
            if tokio::time::timeout_at(deadline, done.wait_for(|d| *d)).await.is_err() {
                return Err(StartError::Busy("this node (the stream's last publish is still being written)".into()));
            }
        }
    }

    async fn start(writers: &Arc<StreamWriters>, stream: &str) -> Result<Arc<Self>, StartError> {
        let lease = match owner::claim(&writers.store, stream, &writers.node_id, writers.settings.owner_lease).await? {
            Claim::Taken(lease) => lease,
            Claim::Held { node } => return Err(StartError::Busy(format!("node {node}"))),
        };
        if let Some(p) = lease.previous.as_ref().filter(|p| p.is_abandoned(now_ms())) {
            warn!(stream, node = %p.node, "taking the stream over from a node whose lease expired");
        }
        let previous_due = lease.previous.as_ref().and_then(|p| p.next_due_ms);
        let failed = {
            let writers = writers.clone();
            move || {
                writers.metrics.store_errors.fetch_add(1, Relaxed);
            }
        };
        // Renewed from now on, however long the reads below take.
        let keeper = Keeper::start(writers.store.clone(), lease, previous_due, failed);
        let found = writers.store.get_versioned(&manifest_key(stream)).await;
        let next_due = match &found {
            Ok(_) => retention::delete_due(&writers.store, stream, now_ms()).await,
            Err(_) => Ok(None),
        };
        let (found, next_due) = match (found, next_due) {
            (Ok(found), Ok(next_due)) => (found, next_due),
            (Err(e), _) | (_, Err(e)) => {
                release(writers, stream, keeper, previous_due, " after a failed start").await;
                return Err(e.into());
            }
        };
        keeper.set_next_due(next_due);
        let (manifest, version) = match found {
            Some((bytes, version)) => match Manifest::parse(&bytes) {
                Ok(m) => (m, Some(version)),
                Err(e) => {
                    warn!(stream, "manifest unreadable ({e}); starting a new one");
                    (Manifest::new(stream, now_ms()), Some(version))
                }
            },
            None => (Manifest::new(stream, now_ms()), None),
        };
        if manifest.group {
            release(writers, stream, keeper, None, " after a refused start").await;
            return Err(StartError::Group);
        }
        let mut manifest = manifest;
        // What the archive's windows reach back to.
        manifest.retention_ms = writers.settings.retention.map(millis);
        let (tx, rx) = mpsc::unbounded_channel();
        let w = Arc::new(Self {
            stream: stream.into(),
            tx,
            resume: Mutex::new(Resume::of(&manifest)),
            backlog: Arc::new(Semaphore::new(writers.settings.stream_backlog)),
            attachments: Mutex::new(Attachments { publishers: 1, closing: false }),
            done: watch::channel(false).0,
        });
        writers.by_key.lock().unwrap_or_else(|e| e.into_inner()).insert(stream.into(), w.clone());
        writers.running.send_modify(|n| *n += 1);
        let task = Task {
            writers: writers.clone(),
            w: w.clone(),
            manifest,
            version,
            hold: keeper.hold(),
            keeper,
            schedule: Schedule::new(stream, millis(writers.settings.retention.unwrap_or_default())),
            bucket: None,
            session: None,
            next_due,
            wrote_any: false,
            grace: None,
        };
        tokio::spawn(task.run(rx));
        Ok(w)
    }

    fn try_attach(&self) -> bool {
        let mut a = self.attachments.lock().unwrap_or_else(|e| e.into_inner());
        if !a.closing {
            a.publishers += 1;
        }
        !a.closing
    }

    /// Waits for room for a `len`-byte chunk in the stream's backlog, then in the node's: a full
    /// backlog slows the publisher down, it never drops media.
    /// (`None` only if a semaphore were closed, which nothing does.)
    pub async fn reserve(&self, writers: &StreamWriters, len: usize) -> Option<Reservation> {
        let permits = |total: usize| u32::try_from(len.clamp(1, total)).unwrap_or(u32::MAX);
        let stream = self.backlog.clone().acquire_many_owned(permits(writers.settings.stream_backlog)).await.ok()?;
        let node = writers.backlog.clone().acquire_many_owned(permits(writers.settings.node_backlog)).await.ok()?;
        writers.metrics.store_backlog.fetch_add(1, Relaxed);
        let bytes = u64::try_from(len).unwrap_or(u64::MAX);
        writers.metrics.store_backlog_bytes.fetch_add(bytes, Relaxed);
        Some(Reservation { metrics: writers.metrics.clone(), bytes, _stream: stream, _node: node })
    }

    /// Hands a job over; `false` if the writer has stopped (it lost the stream).
    pub fn send(&self, job: Job) -> bool {
        self.tx.send(job).is_ok()
    }

    /// A publisher leaves (after sending its `End`).
    pub fn detach(&self) {
        let mut a = self.attachments.lock().unwrap_or_else(|e| e.into_inner());
        a.publishers = a.publishers.saturating_sub(1);
    }

    /// Starts closing if no publisher is attached (or `force`); nobody attaches after that.
    fn try_close(&self, force: bool) -> bool {
        let mut a = self.attachments.lock().unwrap_or_else(|e| e.into_inner());
        if force || a.publishers == 0 {
            a.closing = true;
        }
        a.closing
    }
}

/// What the writer does after a step.
#[derive(PartialEq, Eq)]
enum Flow {
    Go,
    /// No publisher is left: the stream ends.
    Close,
    /// Another node took the stream over.
    Lost,
}

struct Task {
    writers: Arc<StreamWriters>,
    w: Arc<StreamWriter>,
    manifest: Manifest,
    /// The manifest's version as this writer last read or wrote it (`None`: none existed).
    version: Option<Version>,
    /// Renews the stream's lease.
    keeper: Keeper,
    /// Until when the lease lets this node write.
    hold: watch::Receiver<Hold>,
    schedule: Schedule,
    /// The archive bucket part this writer fills (the latest), as written.
    bucket: Option<Bucket>,
    /// The record of the session being written, as written.
    session: Option<SessionRecord>,
    /// When the next retention deletion is due.
    next_due: Option<u64>,
    wrote_any: bool,
    /// When the reconnect grace of a dropped publisher runs out.
    grace: Option<Instant>,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        // Due retention deletions are looked for every third of the lease.
        let every = self.writers.settings.owner_lease / 3;
        let mut retention = tokio::time::interval_at(Instant::now() + every, every);
        retention.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut shutdown = self.writers.shutdown.clone();
        let flow = loop {
            let grace = self.grace;
            let flow = tokio::select! {
                job = rx.recv() => match job {
                    Some(Job::Chunk(job)) => self.write_chunk(*job).await,
                    Some(Job::End { media_end, ending }) => self.end(media_end, ending).await,
                    None => Flow::Close,
                },
                _ = retention.tick() => self.delete_due().await,
                _ = lost(self.hold.clone()) => Flow::Lost,
                _ = sleep_until(grace) => self.grace_over(),
                _ = shutdown_begun(&mut shutdown), if grace.is_some() => self.grace_over(),
            };
            if flow != Flow::Go {
                break flow;
            }
        };
        let stream = self.w.stream.clone();
        match flow {
            Flow::Lost => {
                // The record is another node's: nothing to release.
                drop(self.keeper.stop().await);
                self.w.try_close(true);
                error!(
                    stream,
                    "another node took this stream over (this node's lease had expired): publishing here stops"
                );
                if let Some(live) = self.writers.live(&stream) {
                    live.stop.notify_one();
                }
                // Closed first: a chunk handed over from now on is counted lost by its publisher.
                rx.close();
                while let Ok(job) = rx.try_recv() {
                    if let Job::Chunk(job) = job {
                        error!(stream, sequence = job.entry.sequence, "chunk lost: the stream belongs to another node");
                        self.writers.metrics.chunks_lost.fetch_add(1, Relaxed);
                    }
                }
            }
            _ => {
                // Nothing can be queued once closing, but what was queued is written.
                while let Ok(job) = rx.try_recv() {
                    if let Job::Chunk(job) = job {
                        self.write_chunk(*job).await;
                    }
                }
                self.mark_ended().await;
                release(&self.writers, &stream, self.keeper, self.next_due, "").await;
            }
        }
        let mut running = self.writers.by_key.lock().unwrap_or_else(|e| e.into_inner());
        if running.get(&stream).is_some_and(|w| Arc::ptr_eq(w, &self.w)) {
            running.remove(&stream);
        }
        drop(running);
        self.writers.running.send_modify(|n| *n -= 1);
        let _ = self.w.done.send(true);
    }

    async fn write_chunk(&mut self, job: ChunkJob) -> Flow {
        let ChunkJob { key, bytes, entry, media, last_init, renditions, reservation } = job;
        let (writers, stream) = (self.writers.clone(), self.w.stream.clone());
        let started = std::time::Instant::now();
        let len = bytes.len() as u64;
        let (sequence, session, duration_ms) = (entry.sequence, entry.session.clone(), entry.duration_ms);
        let hold = self.hold.clone();
        match retrying(&writers, &hold, || writers.store.put(&key, bytes.clone())).await {
            Ok(()) => {}
            Err(Stop::Lost) => {
                error!(stream, sequence, "chunk lost: the stream belongs to another node");
                writers.metrics.chunks_lost.fetch_add(1, Relaxed);
                return Flow::Lost;
            }
            Err(e) => {
                error!(stream, sequence, "chunk lost at shutdown: {e}");
                writers.metrics.chunks_lost.fetch_add(1, Relaxed);
                return Flow::Go;
            }
        }
        // The archive's index names the chunk once it is stored, before the manifest does.
        match self.index(&entry, len).await {
            Ok(()) => {}
            Err(Stop::Lost) => return Flow::Lost,
            Err(e) => error!(stream, sequence, "chunk left out of the archive's index at shutdown: {e}"),
        }
        let window = writers.settings.live_window;
        let leaving: Vec<String> = self
            .manifest
            .chunks
            .iter()
            .take((self.manifest.chunks.len() + 1).saturating_sub(window))
            .map(|c| chunk_key(&stream, &c.session, c.sequence))
            .collect();
        let sources_before = self.init_sources();
        self.manifest.session = entry.session.clone();
        self.manifest.push_chunk(entry, window);
        self.manifest.media = media;
        self.manifest.last_init = last_init;
        self.manifest.renditions = renditions;
        self.manifest.state = StreamState::Live;
        if let Some(keep) = writers.settings.retention {
            // Scheduled before the manifest stops listing them.
            let expired = self.expired(leaving, &sources_before);
            if !expired.is_empty() {
                self.schedule_deletion(expired, now_ms().saturating_add(millis(keep))).await;
            }
        }
        let flow = self.put_manifest().await;
        if flow == Flow::Go {
            self.wrote_any = true;
            let write_time = started.elapsed();
            let stored = StreamEvent::ChunkStored {
                stream: stream.clone(),
                session,
                sequence,
                bytes: len,
                duration_ms,
                write_time,
            };
            writers.lifecycle.emit(stored);
            if let Some(live) = writers.live(&stream) {
                live.stats.lock().unwrap_or_else(|e| e.into_inner()).segments += 1;
                if let Some(edge) = &live.edge {
                    edge.stored(&self.manifest);
                }
            }
        }
        drop(reservation);
        flow
    }

    /// Lists a stored chunk in the archive: in each bucket its span overlaps (never back in one
    /// sealed already), then in its session's record. Each write is retried like the chunk's.
    async fn index(&mut self, entry: &ChunkEntry, bytes: u64) -> Result<(), Stop> {
        let (writers, hold) = (self.writers.clone(), self.hold.clone());
        let stream = self.w.stream.clone();
        let retention = writers.settings.retention.map(millis);
        for start in archive::buckets_of(entry) {
            let open = self.bucket.as_ref().map(|b| b.start_ms);
            let start = start.max(open.unwrap_or(0));
            if open != Some(start) {
                self.bucket = Some(self.open_bucket(start, retention).await?);
            }
            let Some(mut bucket) = self.bucket.take() else { continue };
            if bucket.chunks.last().is_some_and(|c| c.sequence == entry.sequence && c.session == entry.session) {
                self.bucket = Some(bucket);
                continue;
            }
            if bucket.full {
                if bucket.part + 1 >= MAX_BUCKET_PARTS {
                    warn!(
                        stream,
                        sequence = entry.sequence,
                        "archive: bucket {start} has all its parts; chunk not indexed"
                    );
                    self.bucket = Some(bucket);
                    continue;
                }
                bucket = Bucket::new(start, bucket.part + 1, retention);
                self.schedule_bucket(&bucket).await;
            }
            bucket.push(entry.clone());
            let (key, json) = (bucket_key(&stream, start, bucket.part), Bytes::from(bucket.to_json()));
            self.bucket = Some(bucket);
            retrying(&writers, &hold, || writers.store.put(&key, json.clone())).await?;
        }
        let record = match self.session.take() {
            Some(mut r) if r.session == entry.session => {
                r.add(entry, bytes);
                r
            }
            ended => {
                if let Some(ended) = ended {
                    self.schedule_session(&ended).await;
                }
                SessionRecord::new(entry, bytes, retention)
            }
        };
        let (key, json) = (session_key(&stream, &record.session), Bytes::from(record.to_json()));
        self.session = Some(record);
        retrying(&writers, &hold, || writers.store.put(&key, json.clone())).await
    }

    /// The latest part of the bucket starting at `start`, as the store has it (an earlier writer
    /// of the stream may have begun it), or a new one.
    async fn open_bucket(&mut self, start: u64, retention: Option<u64>) -> Result<Bucket, Stop> {
        let (writers, hold) = (self.writers.clone(), self.hold.clone());
        let mut latest = None;
        for part in 0..MAX_BUCKET_PARTS {
            let key = bucket_key(&self.w.stream, start, part);
            let found = retrying(&writers, &hold, || writers.store.get(&key)).await?;
            let Some(bucket) = found.and_then(|b| Bucket::parse(&b).ok()) else { break };
            let full = bucket.full;
            latest = Some(bucket);
            if !full {
                break;
            }
        }
        Ok(match latest {
            Some(mut b) => {
                // Entries kept a shorter time than ours are listed only as long as they are kept.
                b.retention_ms = match (b.retention_ms, retention) {
                    (Some(a), Some(r)) => Some(a.min(r)),
                    (a, r) => a.or(r),
                };
                b
            }
            None => {
                let b = Bucket::new(start, 0, retention);
                self.schedule_bucket(&b).await;
                b
            }
        })
    }

    /// Schedules a new bucket part's deletion (with `--retention`): once the chunks it lists
    /// are no longer listed (their end older than the retention), past the end of its slice.
    async fn schedule_bucket(&mut self, bucket: &Bucket) {
        if let Some(keep) = self.writers.settings.retention {
            let key = bucket_key(&self.w.stream, bucket.start_ms, bucket.part);
            self.schedule_deletion(vec![key], (bucket.start_ms + BUCKET_MS).saturating_add(millis(keep))).await;
        }
    }

    /// Schedules an ended session's record's deletion (with `--retention`): once its last chunk
    /// is no longer listed.
    async fn schedule_session(&mut self, record: &SessionRecord) {
        if let Some(keep) = self.writers.settings.retention {
            let key = session_key(&self.w.stream, &record.session);
            self.schedule_deletion(vec![key], record.end_ms.saturating_add(millis(keep))).await;
        }
    }

    /// The chunks that init segments still in use are built from: those the window's entries
    /// and the next session (`last_init`) name.
    fn init_sources(&self) -> BTreeSet<String> {
        let stream = &self.w.stream;
        let inits = self.manifest.chunks.iter().map(|c| c.init.as_str());
        let inits = inits.chain(self.manifest.last_init.as_ref().map(|(_, uri)| uri.as_str()));
        inits.filter_map(|uri| init_source_key(stream, uri)).collect()
    }

    /// What may go once `leaving` has left the window: those of them no init segment in use is
    /// built from, and chunks out of the window that were such a source before and are no more.
    fn expired(&self, leaving: Vec<String>, sources_before: &BTreeSet<String>) -> Vec<String> {
        let stream = &self.w.stream;
        let sources = self.init_sources();
        let in_window: BTreeSet<String> =
            self.manifest.chunks.iter().map(|c| chunk_key(stream, &c.session, c.sequence)).collect();
        let unused = sources_before.difference(&sources).filter(|k| !in_window.contains(*k)).cloned();
        let expired: BTreeSet<String> = leaving.into_iter().filter(|k| !sources.contains(k)).chain(unused).collect();
        expired.into_iter().collect()
    }

    /// Adds chunks to the retention schedule in the store (retrying), due at `at` ms.
    async fn schedule_deletion(&mut self, keys: Vec<String>, at: u64) {
        let (writers, hold) = (self.writers.clone(), self.hold.clone());
        let mut backoff = Backoff::default();
        loop {
            let result = match under_lease(&writers, &hold, self.schedule.add(&writers.store, keys.clone(), at)).await {
                Ok(Some(result)) => result,
                Ok(None) => continue,
                Err(e) => {
                    warn!(stream = %self.w.stream, "retention: chunks that left the window stay: {e}");
                    return;
                }
            };
            match result {
                Ok(due) => {
                    self.set_next_due(Some(self.next_due.map_or(due, |n| n.min(due))));
                    return;
                }
                Err(e) => {
                    if let Err(e) = backoff.wait(&writers, e).await {
                        warn!(stream = %self.w.stream, "retention: chunks that left the window stay: {e}");
                        return;
                    }
                }
            }
        }
    }

    /// When the next retention deletion is due, here and in the owner record's next renewals.
    fn set_next_due(&mut self, next_due: Option<u64>) {
        self.next_due = next_due;
        self.keeper.set_next_due(next_due);
    }

    /// Replaces the manifest if it is unchanged since this writer last wrote it.
    async fn put_manifest(&mut self) -> Flow {
        self.manifest.updated_at_ms = now_ms();
        let json = Bytes::from(self.manifest.to_json());
        let key = manifest_key(&self.w.stream);
        let (writers, hold, version) = (self.writers.clone(), self.hold.clone(), self.version.clone());
        let written =
            match retrying(&writers, &hold, || writers.store.put_if(&key, json.clone(), version.as_ref())).await {
                // Refused: another node wrote it, or a try of ours whose answer was lost (cut short,
                // or retried by the store's client) landed after all: then it holds these bytes.
                Ok(None) => retrying(&writers, &hold, || writers.store.get_versioned(&key))
                    .await
                    .map(|found| found.filter(|(bytes, _)| *bytes == json).map(|(_, v)| v)),
                written => written,
            };
        match written {
            Ok(Some(v)) => {
                self.version = Some(v);
                Flow::Go
            }
            Ok(None) | Err(Stop::Lost) => Flow::Lost,
            Err(e) => {
                error!(stream = %self.w.stream, "manifest not updated at shutdown: {e}");
                Flow::Go
            }
        }
    }

    async fn end(&mut self, media_end: Option<Millis>, ending: Ending) -> Flow {
        if let Some(end) = media_end {
            self.manifest.media_end_ms = Some(end.0);
        }
        if ending == Ending::Now {
            return if self.w.try_close(false) { Flow::Close } else { Flow::Go };
        }
        self.grace = Some(Instant::now() + self.writers.settings.reconnect_grace);
        if !self.wrote_any {
            return Flow::Go;
        }
        // Where the media ended, for whoever publishes next; the stream stays live.
        self.put_manifest().await
    }

    fn grace_over(&mut self) -> Flow {
        self.grace = None;
        if self.w.try_close(false) {
            Flow::Close
        } else {
            info!(stream = %self.w.stream, "publisher came back; the stream goes on");
            Flow::Go
        }
    }

    /// Makes the retention deletions that are due.
    async fn delete_due(&mut self) -> Flow {
        let (writers, hold) = (self.writers.clone(), self.hold.clone());
        let now = now_ms();
        if self.next_due.is_none_or(|due| due > now) {
            return Flow::Go;
        }
        match under_lease(&writers, &hold, retention::delete_due(&writers.store, &self.w.stream, now)).await {
            Ok(Some(Ok(next))) => self.set_next_due(next),
            Ok(Some(Err(e))) => {
                writers.metrics.store_errors.fetch_add(1, Relaxed);
                warn!(stream = %self.w.stream, "retention: deletions delayed: {e}");
            }
            Ok(None) | Err(Stop::Lapsed | Stop::Store(_)) => {}
            Err(Stop::Lost) => return Flow::Lost,
        }
        Flow::Go
    }

    async fn mark_ended(&mut self) {
        if let Some(ended) = self.session.take() {
            self.schedule_session(&ended).await;
        }
        let live = self.manifest.state == StreamState::Live && !self.manifest.chunks.is_empty();
        if self.wrote_any || live {
            self.manifest.state = StreamState::Ended;
            if self.put_manifest().await == Flow::Lost {
                error!(stream = %self.w.stream, "another node took this stream over before it could be marked ended");
            }
        }
        self.writers.lifecycle.emit(StreamEvent::StreamEnded { stream: self.w.stream.clone(), at_ms: now_ms() });
    }
}

/// Stops renewing the lease and releases it (unless it was lost meanwhile).
async fn release(writers: &StreamWriters, stream: &str, keeper: Keeper, next_due: Option<u64>, when: &str) {
    if let Some(lease) = keeper.stop().await {
        if let Err(e) = lease.release(&writers.store, next_due).await {
            warn!(stream, "cannot release the stream's ownership{when} (it expires by itself): {e}");
        }
    }
}

/// Resolves once another node has taken the stream (or the lease's keeper is gone).
async fn lost(mut hold: watch::Receiver<Hold>) {
    let _ = hold.wait_for(|h| *h == Hold::Lost).await;
}

async fn shutdown_begun(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Waits between the tries of a failing store operation: 100 ms, doubling up to 5 s, until
/// shutdown has gone on for [`SHUTDOWN_RETRY`].
#[derive(Default)]
struct Backoff {
    delay: Option<Duration>,
    shutdown_since: Option<Instant>,
}

impl Backoff {
    /// Counts the failure and waits; `Err` once it is time to give up.
    async fn wait(&mut self, writers: &StreamWriters, e: StoreError) -> Result<(), StoreError> {
        writers.metrics.store_errors.fetch_add(1, Relaxed);
        if writers.shutting_down() && self.shutdown_since.get_or_insert_with(Instant::now).elapsed() > SHUTDOWN_RETRY {
            return Err(e);
        }
        let delay = self.delay.map_or(Duration::from_millis(100), |d| (d * 2).min(Duration::from_secs(5)));
        self.delay = Some(delay);
        warn!("store write failed, retrying in {delay:?}: {e}");
        tokio::time::sleep(delay).await;
        Ok(())
    }
}

/// Why the writer gives a store operation up.
#[derive(Debug, thiserror::Error)]
enum Stop {
    /// The store kept failing once shutdown had begun.
    #[error("the store kept failing: {0}")]
    Store(StoreError),
    /// Shutdown began while the lease was not renewed, and it was not renewed in time.
    #[error("the stream's ownership could not be renewed")]
    Lapsed,
    /// Another node took the stream.
    #[error("another node took the stream over")]
    Lost,
}

/// Waits until the lease lets this node write: `Err(Lost)` once another node has taken the
/// stream, `Err(Lapsed)` when shutdown has gone on for [`SHUTDOWN_RETRY`] without a renewal.
async fn writable(writers: &StreamWriters, hold: &mut watch::Receiver<Hold>) -> Result<(), Stop> {
    let mut shutdown_since = None;
    loop {
        match *hold.borrow_and_update() {
            Hold::Lost => return Err(Stop::Lost),
            Hold::Until(t) if t > Instant::now() => return Ok(()),
            Hold::Until(_) => {}
        }
        if writers.shutting_down() && shutdown_since.get_or_insert_with(Instant::now).elapsed() > SHUTDOWN_RETRY {
            return Err(Stop::Lapsed);
        }
        // (Woken each second to notice a shutdown.)
        if let Ok(Err(_)) = tokio::time::timeout(Duration::from_secs(1), hold.changed()).await {
            return Err(Stop::Lost); // the keeper is gone
        }
    }
}

/// Resolves when the lease runs out without having been renewed, or is lost.
async fn lapse(hold: &mut watch::Receiver<Hold>) {
    loop {
        let Hold::Until(until) = *hold.borrow_and_update() else { return };
        if until <= Instant::now() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            changed = hold.changed() => {
                if changed.is_err() {
                    tokio::time::sleep_until(until).await;
                    return;
                }
            }
        }
    }
}

/// Runs one store operation while the lease lets this node write: it starts once the lease is
/// held, and is cut short (`Ok(None)`) if the lease would run out before it ends.
async fn under_lease<T>(
    writers: &StreamWriters,
    hold: &watch::Receiver<Hold>,
    op: impl Future<Output = Result<T, StoreError>>,
) -> Result<Option<Result<T, StoreError>>, Stop> {
    let mut hold = hold.clone();
    writable(writers, &mut hold).await?;
    tokio::select! {
        result = op => Ok(Some(result)),
        _ = lapse(&mut hold) => Ok(None),
    }
}

/// Runs a store operation until it succeeds (see [`Backoff`]), under the lease (see
/// [`under_lease`]).
async fn retrying<T, F>(
    writers: &StreamWriters,
    hold: &watch::Receiver<Hold>,
    mut op: impl FnMut() -> F,
) -> Result<T, Stop>
where
    F: Future<Output = Result<T, StoreError>>,
{
    let mut backoff = Backoff::default();
    loop {
        match under_lease(writers, hold, op()).await? {
            Some(Ok(v)) => return Ok(v),
            Some(Err(e)) => backoff.wait(writers, e).await.map_err(Stop::Store)?,
            None => warn!("a store write was cut short: the stream's ownership was not renewed in time"),
        }
    }
}

/// Whole milliseconds of `d` (`u64::MAX` past what 64 bits hold).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

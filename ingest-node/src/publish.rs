//! One stream's publisher ([`StreamPublisher`]): media messages → chunk files (cut and assembled
//! by the core's [`ChunkWriter`]) → the stream's writer ([`writer`]), which puts them into the
//! store. It emits the publish's lifecycle moments: publish started, session started, publish
//! ended ([`crate::lifecycle`]).

pub mod group;
pub mod multitrack;
pub mod writer;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use rapidrtmp_core::chunk::{headers_digest, ChunkEvent, ChunkWriter, Chunker, ClosedChunk, PartInfo};
use rapidrtmp_core::flv::TagKind;
use rapidrtmp_core::hls::init_uri;
use rapidrtmp_core::layout::chunk_key;
use rapidrtmp_core::manifest::{ChunkEntry, MediaInfo, Renditions};
use rapidrtmp_core::media::{MediaTag, StreamConfig};
use rapidrtmp_core::timeline::Millis;
use tracing::{error, info, warn};

use crate::clock::now_ms;
pub use crate::lifecycle::Ending;
use crate::lifecycle::StreamEvent;
use crate::metrics::Metrics;
use crate::streams::LiveStream;
use writer::{ChunkJob, Job, StartError, StreamWriter, StreamWriters};

/// Turns one publisher's media into chunks. However it ends (dropped without [`finish`] too,
/// when its connection's task fails), it tells its stream's writer, so the stream ends or goes
/// on as it should.
///
/// [`finish`]: StreamPublisher::finish
pub struct StreamPublisher {
    writers: Arc<StreamWriters>,
    stream: Arc<LiveStream>,
    /// Cuts the media into chunks; shared with the stream's live edge, which builds the open
    /// chunk's parts from it.
    writer: Arc<Mutex<ChunkWriter>>,
    /// Events of the last message, reused.
    events: Vec<ChunkEvent>,
    /// Wall-clock time the open chunk was opened at.
    opened_at_ms: u64,
    /// (chunker session index, session id, init segment URI) of the current session.
    session: Option<(u32, String, String)>,
    /// Digest of the last session's sequence headers and its init URI, to reuse it.
    last_init: Option<(String, String)>,
    last_session_id: u64,
    /// The session's video frame rate, measured on its first chunk when its configuration does
    /// not say it (a later, shorter last chunk would measure less exactly).
    frame_rate: Option<f64>,
    /// The other tracks' streams of a multitrack publish, for the manifest.
    renditions: Renditions,
    /// The stream's writer on this node.
    store_writer: Arc<StreamWriter>,
    /// How the publish ends, told to the writer on drop.
    ending: Ending,
}

/// What the manifest and the API say of a session's media; `frame_rate` when the configuration
/// does not say it.
fn media_info(config: &StreamConfig, frame_rate: Option<f64>) -> MediaInfo {
    MediaInfo {
        codecs: config.codecs(),
        width: config.video.as_ref().and_then(|v| v.size()).map(|s| s.0),
        height: config.video.as_ref().and_then(|v| v.size()).map(|s| s.1),
        frame_rate: config.video.as_ref().and_then(|v| v.fps()).or(frame_rate),
    }
}

impl StreamPublisher {
    /// Starts publishing `stream`: attaches to its writer (which takes the stream's ownership
    /// first) and goes on from where the stream's last publish ended.
    /// Emits [`StreamEvent::PublishStarted`] once started.
    pub async fn start(writers: Arc<StreamWriters>, stream: Arc<LiveStream>) -> Result<Self, StartError> {
        let store_writer = StreamWriter::attach(&writers, &stream.key).await?;
        let resume = store_writer.resume.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let target = u64::try_from(writers.settings.segment_duration.as_millis()).unwrap_or(u64::MAX);
        // Media sequence numbers start at 1: hls.js does not block for a playlist at msn 0.
        let mut chunker = Chunker::new(target).with_first_sequence(resume.next_sequence.max(1));
        // A stream published again continues its timeline: decode times never go back.
        if let Some(end) = resume.media_end_ms {
            chunker = chunker.with_resume_at(Millis(end));
        }
        let mut writer = ChunkWriter::new(chunker);
        if let Some(edge) = &stream.edge {
            writer = writer.with_parts(edge.part_target_ms());
        }
        let writer = Arc::new(Mutex::new(writer));
        if let Some(edge) = &stream.edge {
            edge.attach(writer.clone());
        }
        writers.lifecycle.emit(StreamEvent::PublishStarted {
            stream: stream.key.clone(),
            connection: stream.connection,
            peer: stream.peer,
            listener: stream.listener,
            at_ms: now_ms(),
        });
        Ok(Self {
            last_init: resume.last_init,
            last_session_id: resume.last_session_id,
            frame_rate: None,
            writers,
            stream,
            writer,
            events: Vec::new(),
            opened_at_ms: now_ms(),
            session: None,
            renditions: Renditions::default(),
            store_writer,
            ending: Ending::AfterGrace,
        })
    }

    fn writer(&self) -> MutexGuard<'_, ChunkWriter> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one audio, video or script data message (an FLV tag body with its RTMP timestamp),
    /// read already.
    pub async fn media(&mut self, message: &MediaTag<'_>) {
        let (kind, body) = (message.tag.kind, message.tag.body);
        self.stream.last_data_ms.store(now_ms(), Relaxed);
        if matches!(kind, TagKind::Audio | TagKind::Video) {
            self.stream.stats.lock().unwrap_or_else(|e| e.into_inner()).bytes_in += body.len() as u64;
        }
        if body.len() > 0xFF_FFFF {
            warn!(stream = %self.stream.key, "dropped a {}-byte message: larger than an FLV tag can hold", body.len());
            return;
        }
        self.writer.lock().unwrap_or_else(|e| e.into_inner()).push_read(message, &mut self.events);
        self.on_events().await;
    }

    /// The stream this publisher writes.
    pub fn stream(&self) -> &Arc<LiveStream> {
        &self.stream
    }

    /// Names the other tracks' streams in the manifest, from the next chunk on.
    pub fn set_renditions(&mut self, renditions: Renditions) {
        self.renditions = renditions;
    }

    /// Acts on what the chunk writer did: closed chunks go to the store writer.
    async fn on_events(&mut self) {
        let mut events = std::mem::take(&mut self.events);
        let mut events_iter = events.drain(..).peekable();
        while let Some(event) = events_iter.next() {
            match event {
                ChunkEvent::Opened { sequence } => {
                    let entry = self.opened(sequence);
                    if let (Some(edge), Some(entry)) = (&self.stream.edge, entry) {
                        edge.opened(entry);
                    }
                }
                ChunkEvent::Part { sequence, part } => self.part(sequence, part),
                ChunkEvent::Closed(chunk) => {
                    // The next chunk opens at the same tag (at a segment boundary): the live edge
                    // gets both at once.
                    let next = match events_iter.next_if(|e| matches!(e, ChunkEvent::Opened { .. })) {
                        Some(ChunkEvent::Opened { sequence }) => Some(sequence),
                        _ => None,
                    };
                    self.close(*chunk, next).await
                }
                ChunkEvent::Skipped { reason, .. } => {
                    warn!(stream = %self.stream.key, "skipped a message: {reason}")
                }
                _ => {}
            }
        }
        drop(events_iter);
        self.events = events;
    }

    /// The id and init segment URI of the chunker's session `index`, whose first chunk is
    /// `sequence` and whose sequence headers have `digest()`: a new session gets a new id
    /// (increasing milliseconds, unique across reconnects), and the last session's init segment
    /// if its headers are the same.
    fn session(&mut self, index: u32, sequence: u64, digest: impl FnOnce(&Self) -> String) -> (String, String) {
        if let Some((idx, id, init)) = &self.session {
            if *idx == index {
                return (id.clone(), init.clone());
            }
        }
        let digest = digest(self);
        self.frame_rate = None;
        let id = now_ms().max(self.last_session_id + 1);
        self.last_session_id = id;
        let id = id.to_string();
        let init = match &self.last_init {
            Some((d, uri)) if *d == digest => uri.clone(),
            _ => init_uri(&id, sequence),
        };
        self.last_init = Some((digest, init.clone()));
        self.session = Some((index, id.clone(), init.clone()));
        let started = StreamEvent::SessionStarted {
            stream: self.stream.key.clone(),
            session: id.clone(),
            first_sequence: sequence,
            at_ms: now_ms(),
        };
        self.writers.lifecycle.emit(started);
        (id, init)
    }

    /// A chunk was opened: its session is named now, so its parts have URLs at once. Returns
    /// its live edge entry, with LL-HLS on.
    fn opened(&mut self, sequence: u64) -> Option<ChunkEntry> {
        self.opened_at_ms = now_ms();
        let (media, index, info) = {
            let writer = self.writer();
            let chunker = writer.chunker();
            (media_info(chunker.config(), None), chunker.session(), chunker.open_info())
        };
        self.stream.stats.lock().unwrap_or_else(|e| e.into_inner()).media = media;
        let digest = |p: &Self| {
            let writer = p.writer();
            let (v, a) = writer.chunker().sequence_headers();
            headers_digest(v, a)
        };
        let (session, init) = self.session(index, sequence, digest);
        let info = info.filter(|_| self.stream.edge.is_some())?;
        Some(ChunkEntry {
            session,
            sequence,
            init,
            start_ms: info.start.0,
            duration_ms: 0,
            bytes: 0,
            wall_clock_ms: self.opened_at_ms,
            independent: info.independent,
        })
    }

    /// Part `part` of the open chunk `sequence` is finished: the live edge serves it from now on.
    fn part(&self, sequence: u64, part: PartInfo) {
        if let Some(edge) = &self.stream.edge {
            edge.part(sequence, part);
        }
    }

    /// Hands a closed chunk to the writer (waiting while the backlog is full); `next`: the
    /// chunk opened at the same tag.
    async fn close(&mut self, chunk: ClosedChunk, next: Option<u64>) {
        let info = chunk.info;
        if !info.independent {
            info!(stream = %self.stream.key, sequence = info.sequence, "no keyframe in time: chunk cut between keyframes");
        }
        let (session_id, init) = self.session(info.session, info.sequence, |_| chunk.headers_digest());
        if self.frame_rate.is_none() {
            self.frame_rate = chunk.frame_rate();
        }
        let media = media_info(&chunk.config, self.frame_rate);
        // What the closed chunk knows is final (VP9's size comes with its first keyframe).
        self.stream.stats.lock().unwrap_or_else(|e| e.into_inner()).media = media.clone();
        let parts = chunk.parts.clone();
        let bytes = Bytes::from(chunk.into_file(&session_id));
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
        {
            let mut resume = self.store_writer.resume.lock().unwrap_or_else(|e| e.into_inner());
            resume.next_sequence = info.sequence + 1;
            resume.last_session_id = self.last_session_id;
            resume.last_init = self.last_init.clone();
        }
        let last_init = self.last_init.clone();
        // Named after the closed chunk's session, so that a new one gets a new id.
        let next = next.and_then(|sequence| self.opened(sequence));
        let lost = |metrics: &Metrics| {
            error!(stream = %self.stream.key, sequence = info.sequence, "the stream's writer has stopped; chunk lost");
            metrics.chunks_lost.fetch_add(1, Relaxed);
        };
        if let Some(edge) = &self.stream.edge {
            edge.closed(entry.clone(), parts, bytes.clone(), next);
        }
        let Some(reservation) = self.store_writer.reserve(&self.writers, bytes.len()).await else {
            return lost(&self.writers.metrics);
        };
        let job = Job::Chunk(Box::new(ChunkJob {
            key: chunk_key(&self.stream.key, &session_id, info.sequence),
            bytes,
            entry,
            media,
            last_init,
            renditions: self.renditions.clone(),
            reservation,
        }));
        if !self.store_writer.send(job) {
            lost(&self.writers.metrics);
        }
    }

    /// Ends the publish: hands the last chunk over and tells the writer how the stream goes on.
    pub async fn finish(mut self, ending: Ending) {
        self.writer.lock().unwrap_or_else(|e| e.into_inner()).finish(&mut self.events);
        self.on_events().await;
        self.ending = ending;
    }
}

impl Drop for StreamPublisher {
    fn drop(&mut self) {
        let media_end = self.writer().chunker().media_end();
        if let Some(end) = media_end {
            self.store_writer.resume.lock().unwrap_or_else(|e| e.into_inner()).media_end_ms = Some(end.0);
        }
        let lasted_ms = now_ms().saturating_sub(self.stream.started_at_ms);
        self.writers.lifecycle.emit(StreamEvent::PublishEnded {
            stream: self.stream.key.clone(),
            connection: self.stream.connection,
            ending: self.ending,
            lasted_ms,
        });
        self.store_writer.send(Job::End { media_end, ending: self.ending });
        self.store_writer.detach();
        if let Some(edge) = &self.stream.edge {
            edge.end();
        }
        let _ = self.stream.done.send(true);
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use rapidrtmp_core::flv::TagReader;
    use rapidrtmp_core::layout::manifest_key;
    use rapidrtmp_core::manifest::Manifest;
    use tokio::sync::{broadcast, watch};

    use super::writer::{StreamWriters, WriterHandles};
    use super::*;
    use crate::config::ServeArgs;
    use crate::lifecycle::Lifecycle;
    use crate::store::{LocalStore, Store};
    use crate::streams::LiveStream;

    /// Waits for the next event, at most 10 s.
    async fn next(events: &mut broadcast::Receiver<StreamEvent>) -> StreamEvent {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Ok(event)) => event,
            other => panic!("no next event: {other:?}"),
        }
    }

    /// One publish of a real ffmpeg-made FLV file, through a real writer into a store folder:
    /// its moments come out once each and in order (publish started, session started, the chunks
    /// stored, the publish ended, the stream ended last), the chunks stored are those the
    /// manifest lists, and the metrics counted them all.
    #[tokio::test]
    async fn one_publish_tells_its_moments_once_each_in_order() {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-lifecycle-{}", std::process::id()));
        let args = ServeArgs {
            data_dir: Some(dir.clone()),
            segment_duration: Some(0.5),
            part_duration: Some(0.0),
            ..ServeArgs::default()
        };
        let settings = Arc::new(args.resolve().expect("settings"));
        let store = Store::Local(LocalStore::new(&dir).expect("store folder"));
        let metrics = Arc::<Metrics>::default();
        let lifecycle = Lifecycle::new(metrics.clone());
        let mut events = lifecycle.subscribe();
        let shutdown = watch::channel(false);
        let restream =
            crate::restream::Restreamer::new(&settings.restream, store.clone(), lifecycle.clone(), metrics.clone());
        let writers = StreamWriters::new(WriterHandles {
            store: store.clone(),
            settings,
            metrics: metrics.clone(),
            node_id: "test-node".into(),
            streams: Arc::default(),
            lifecycle,
            shutdown: shutdown.1,
            restream,
        });
        let peer: SocketAddr = "127.0.0.1:40000".parse().expect("address");
        let stream = LiveStream::new("cam".into(), now_ms(), (7, peer, "rtmp"), None);
        assert!(writers.streams.claim(&stream));
        let mut publisher = StreamPublisher::start(writers.clone(), stream.clone()).await.expect("started");
        let flv = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/golden/small.flv")).expect("clip");
        let (_, tags) = TagReader::new(&flv).expect("an FLV file");
        for tag in tags {
            let tag = tag.expect("a whole tag");
            publisher.media(&MediaTag::read(tag)).await;
        }
        publisher.finish(Ending::Now).await;
        writers.streams.release(&stream);

        let started = next(&mut events).await;
        assert!(
            matches!(&started, StreamEvent::PublishStarted { stream, connection: 7, peer: p, .. } if stream == "cam" && *p == peer),
            "{started:?}"
        );
        let session = match next(&mut events).await {
            StreamEvent::SessionStarted { stream, session, first_sequence: 1, .. } if stream == "cam" => session,
            other => panic!("expected the session to start: {other:?}"),
        };
        // The chunks are stored in order; the last ones may be stored after the publisher
        // handed them over and left: then after it ended, and always before the stream ends.
        let (mut stored, mut publish_ended) = (Vec::new(), 0);
        loop {
            match next(&mut events).await {
                StreamEvent::ChunkStored { stream, session: s, sequence, bytes, .. } if stream == "cam" => {
                    assert_eq!(s, session, "one session");
                    assert!(bytes > 0);
                    stored.push(sequence);
                }
                StreamEvent::PublishEnded { stream, connection: 7, ending: Ending::Now, .. } if stream == "cam" => {
                    publish_ended += 1;
                }
                StreamEvent::StreamEnded { stream, .. } if stream == "cam" => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(publish_ended, 1, "the publish ended once, before the stream ended");
        assert!(events.try_recv().is_err(), "nothing after the stream ended");

        let (manifest, _) = store.get_versioned(&manifest_key("cam")).await.expect("read").expect("a manifest");
        let manifest = Manifest::parse(&manifest).expect("a manifest");
        let listed: Vec<u64> = manifest.chunks.iter().map(|c| c.sequence).collect();
        assert!(stored.len() >= 2, "stored {stored:?}");
        assert_eq!(stored, listed, "the chunks stored are the chunks the manifest lists, in order");
        let count = u64::try_from(stored.len()).expect("fits");
        assert_eq!(metrics.chunks_written.load(Relaxed), count);
        assert_eq!(metrics.active_streams.load(Relaxed), 0, "started and ended once");
        // The writer releases the stream's ownership after the stream ended, then stops.
        assert!(writers.stopped_within(Duration::from_secs(10)).await, "the stream's writer stopped");
        std::fs::remove_dir_all(dir).expect("removed");
    }
}

//! Restreaming: a stream's outputs are RTMP(S) destinations (YouTube, Twitch, another RTMP
//! server) that the node publishing the stream forwards the publisher's tags to, as they came
//! (no transcode). Outputs are kept per stream in the store ([`outputs`]), set through the API,
//! and `--restream-url` gives every stream some more.
//!
//! While a stream is published on this node, it has a [`Tap`] that the publish hands every tag
//! to, and a task that keeps its set of outputs in step with the store (re-read every
//! [`OUTPUTS_REFRESH`], and at once after an API change on this node). Each enabled output is a
//! task of its own ([`forward`]) with a byte-bounded queue ([`queue`]): the ingest never waits
//! for an output, and a slow or dead destination costs at most [`queue::MAX_QUEUE_BYTES`].

pub mod forward;
pub mod outputs;
pub mod queue;
pub mod settings;
pub mod tags;
pub mod url;

pub use settings::{RestreamSettings, MAX_OUTPUTS};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rapidrtmp_core::flv::TagKind;
use serde::Serialize;
use tokio::sync::{watch, Notify};
use tracing::warn;

use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::store::Store;
use queue::OutputQueue;
use tags::{Headers, Role};
use url::OutputUrl;

/// How often a live stream's outputs are read again from the store (changes made through
/// another node's API; this node's own changes apply at once).
pub const OUTPUTS_REFRESH: Duration = Duration::from_secs(10);
/// Codecs an output's status lists as not forwarded.
const MAX_NOT_FORWARDED: usize = 8;

/// An output's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Connecting and publishing to the destination (or waiting for a keyframe to start at).
    Connecting,
    /// Forwarding.
    Live,
    /// The last attempt failed; trying again after a backoff.
    Retrying,
    /// Disabled through the API.
    Disabled,
}

impl State {
    /// The metric label and API word.
    pub fn label(self) -> &'static str {
        crate::metrics::RESTREAM_STATES[self.index()]
    }

    /// Its place in [`crate::metrics::RESTREAM_STATES`].
    fn index(self) -> usize {
        match self {
            State::Connecting => 0,
            State::Live => 1,
            State::Retrying => 2,
            State::Disabled => 3,
        }
    }
}

/// What the API shows of an output while its stream is live here.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputStatus {
    /// The state.
    pub state: State,
    /// Why the last attempt failed, while retrying (and after).
    pub last_error: Option<String>,
    /// Bytes sent to the destination (all connections).
    pub bytes_sent: u64,
    /// Tags dropped because the destination did not keep up.
    pub tags_dropped: u64,
    /// Their body bytes.
    pub bytes_dropped: u64,
    /// What the destination does not take, and so is not sent to it, e.g. `the destination does
    /// not take h265 video (hvc1): no Enhanced RTMP in its connect answer`.
    pub not_forwarded: Vec<String>,
}

/// One output of a live stream.
pub struct Output {
    /// Its id (`flag-{n}` for a `--restream-url` one).
    pub id: String,
    /// Where to.
    pub url: OutputUrl,
    /// Its tags on the way.
    pub queue: OutputQueue,
    status: Mutex<OutputStatus>,
    /// What the forwarder is told: go on, stop now, or send what is queued and stop.
    stop: watch::Sender<Stop>,
    metrics: Arc<Metrics>,
}

/// What an output's forwarder is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Keep forwarding.
    Run,
    /// Removed or disabled: stop at once.
    Now,
    /// The publish ended: send what is queued (within [`forward::FLUSH_TIMEOUT`]) and stop.
    Flush,
}

impl Output {
    fn new(id: String, url: OutputUrl, enabled: bool, metrics: Arc<Metrics>) -> Self {
        let state = if enabled { State::Connecting } else { State::Disabled };
        metrics.restream.outputs[state.index()].fetch_add(1, Relaxed);
        let status = OutputStatus {
            state,
            last_error: None,
            bytes_sent: 0,
            tags_dropped: 0,
            bytes_dropped: 0,
            not_forwarded: Vec::new(),
        };
        Self {
            id,
            url,
            queue: OutputQueue::default(),
            status: Mutex::new(status),
            stop: watch::channel(Stop::Run).0,
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, OutputStatus> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Its status now.
    pub fn status(&self) -> OutputStatus {
        let mut s = self.lock().clone();
        let d = self.queue.dropped();
        (s.tags_dropped, s.bytes_dropped) = (d.tags, d.bytes);
        s
    }

    /// Moves to `state`; `error` is kept as the last error when given.
    pub fn set_state(&self, state: State, error: Option<String>) {
        let mut s = self.lock();
        let m = &self.metrics.restream.outputs;
        m[s.state.index()].fetch_sub(1, Relaxed);
        m[state.index()].fetch_add(1, Relaxed);
        s.state = state;
        if error.is_some() {
            s.last_error = error;
        }
    }

    /// Counts bytes sent.
    pub fn sent(&self, bytes: usize) {
        self.lock().bytes_sent += bytes as u64;
        self.metrics.restream.bytes_sent.fetch_add(bytes as u64, Relaxed);
    }

    /// Records that `what` is not forwarded (once each, at most [`MAX_NOT_FORWARDED`]).
    pub fn not_forwarded(&self, what: String) -> bool {
        let mut s = self.lock();
        if s.not_forwarded.contains(&what) || s.not_forwarded.len() >= MAX_NOT_FORWARDED {
            return false;
        }
        s.not_forwarded.push(what);
        true
    }

    /// The forwarder's stop signal.
    pub fn stop_signal(&self) -> watch::Receiver<Stop> {
        self.stop.subscribe()
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        let state = self.lock().state;
        self.metrics.restream.outputs[state.index()].fetch_sub(1, Relaxed);
    }
}

/// One live stream's outputs and headers.
pub struct StreamTap {
    /// Stream key.
    pub key: String,
    headers: Mutex<Headers>,
    outputs: Mutex<Vec<Arc<Output>>>,
    /// Whether any output runs (the tap copies nothing otherwise).
    running: AtomicBool,
    /// Until the outputs are first read from the store (a few ms into the publish), the tags
    /// wait here, so an output starts with the publish's first keyframe and the audio before it.
    early: Mutex<Option<OutputQueue>>,
    /// Whether `early` is still there.
    early_open: AtomicBool,
    /// An API change on this node: reconcile now.
    changed: Notify,
    ended: watch::Sender<bool>,
}

impl StreamTap {
    /// The stream's last headers (metadata first).
    pub fn headers(&self) -> Vec<tags::OutTag> {
        self.headers.lock().unwrap_or_else(|e| e.into_inner()).all()
    }

    /// The Enhanced RTMP FourCCs of the stream's tracks.
    pub fn fourccs(&self) -> Vec<String> {
        self.headers.lock().unwrap_or_else(|e| e.into_inner()).fourccs()
    }

    fn outputs(&self) -> MutexGuard<'_, Vec<Arc<Output>>> {
        self.outputs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The handles an output's forwarder uses.
pub struct Handles {
    /// Where output up/down events go.
    pub lifecycle: Lifecycle,
    /// TLS for `rtmps://`.
    pub tls: tokio_rustls::TlsConnector,
}

/// The node's restreaming: the live streams' taps.
pub struct Restreamer {
    store: Store,
    metrics: Arc<Metrics>,
    defaults: Vec<OutputUrl>,
    handles: Arc<Handles>,
    taps: Mutex<HashMap<String, Arc<StreamTap>>>,
}

/// An output as the API lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputView {
    /// Its id.
    pub id: String,
    /// The URL with the stream key masked.
    pub url: String,
    /// Host, port and app.
    pub destination: String,
    /// Whether it forwards.
    pub enabled: bool,
    /// Set by `--restream-url` on this node (not changeable through the API).
    pub from_flag: bool,
    /// `idle` when the stream is not published on this node, else the output's state.
    pub state: String,
    /// The live status, while the stream is published on this node.
    #[serde(flatten)]
    pub status: Option<OutputStatus>,
}

impl Restreamer {
    /// The node's restreaming.
    pub fn new(settings: &RestreamSettings, store: Store, lifecycle: Lifecycle, metrics: Arc<Metrics>) -> Arc<Self> {
        let handles = Arc::new(Handles { lifecycle, tls: tokio_rustls::TlsConnector::from(settings.tls.clone()) });
        Arc::new(Self { store, metrics, defaults: settings.defaults.clone(), handles, taps: Mutex::default() })
    }

    fn taps(&self) -> MutexGuard<'_, HashMap<String, Arc<StreamTap>>> {
        self.taps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A publish of `stream` starts on this node: its tap, and the task that runs its outputs
    /// until the tap is dropped.
    pub fn attach(self: &Arc<Self>, stream: &str) -> Tap {
        let tap = Arc::new(StreamTap {
            key: stream.into(),
            headers: Mutex::default(),
            outputs: Mutex::default(),
            running: AtomicBool::new(false),
            early: Mutex::new(Some(OutputQueue::default())),
            early_open: AtomicBool::new(true),
            changed: Notify::new(),
            ended: watch::channel(false).0,
        });
        self.taps().insert(stream.into(), tap.clone());
        tokio::spawn(self.clone().control(tap.clone()));
        Tap { restreamer: self.clone(), tap }
    }

    /// The outputs of `stream` changed through this node's API: apply now if it is live here.
    pub fn changed(&self, stream: &str) {
        if let Some(tap) = self.taps().get(stream) {
            tap.changed.notify_one();
        }
    }

    /// The outputs of `stream` as the API lists them: the `--restream-url` ones, then the
    /// stored ones, with their live status when the stream is published here.
    pub async fn list(&self, stream: &str) -> Result<Vec<OutputView>, String> {
        let stored = outputs::read(&self.store, stream).await?;
        let tap = self.taps().get(stream).cloned();
        let running: Vec<Arc<Output>> = tap.map(|t| t.outputs().clone()).unwrap_or_default();
        let status = |id: &str| running.iter().find(|o| o.id == id).map(|o| o.status());
        let mut all = Vec::new();
        for (i, url) in self.defaults.iter().enumerate() {
            let id = flag_id(i);
            all.push(view(&id, url, true, true, status(&id)));
        }
        for r in &stored.outputs {
            match r.parsed() {
                Ok(url) => all.push(view(&r.id, &url, r.enabled, false, status(&r.id))),
                Err(e) => warn!(stream, output = %r.id, "an output in the store is not usable: {e}"),
            }
        }
        Ok(all)
    }

    /// What `stream` should forward to: `(id, url, enabled)`.
    async fn desired(&self, stream: &str) -> Result<Vec<(String, OutputUrl, bool)>, String> {
        let stored = outputs::read(&self.store, stream).await?;
        let mut all: Vec<_> = self.defaults.iter().enumerate().map(|(i, u)| (flag_id(i), u.clone(), true)).collect();
        all.extend(stored.outputs.iter().filter_map(|r| Some((r.id.clone(), r.parsed().ok()?, r.enabled))));
        Ok(all)
    }

    /// Keeps the stream's outputs in step with the store until the publish ends, then lets the
    /// forwarders send what they have queued.
    async fn control(self: Arc<Self>, tap: Arc<StreamTap>) {
        let mut ended = tap.ended.subscribe();
        let mut failing = false;
        loop {
            match self.desired(&tap.key).await {
                Ok(desired) => {
                    failing = false;
                    self.reconcile(&tap, desired);
                }
                Err(e) if !failing => {
                    failing = true;
                    // No outputs known: the publish's tags are not held for them.
                    *tap.early.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    tap.early_open.store(false, Relaxed);
                    warn!(stream = %tap.key, "restream: outputs not read again, the running ones go on: {e}");
                }
                Err(_) => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(OUTPUTS_REFRESH) => {}
                _ = tap.changed.notified() => {}
                _ = ended.wait_for(|e| *e) => break,
            }
        }
        let outputs = std::mem::take(&mut *tap.outputs());
        tap.running.store(false, Relaxed);
        for o in outputs {
            o.stop.send_replace(Stop::Flush);
        }
    }

    /// Starts, stops and replaces outputs so the running set is `desired`.
    fn reconcile(&self, tap: &Arc<StreamTap>, desired: Vec<(String, OutputUrl, bool)>) {
        // The first time: the outputs start from what the publish sent while they were read.
        let mut early = tap.early.lock().unwrap_or_else(|e| e.into_inner());
        let seed = early.take().map(|q| q.snapshot());
        let mut outputs = tap.outputs();
        outputs.retain(|o| {
            let keep = desired.iter().any(|(id, url, enabled)| {
                *id == o.id && *url == o.url && *enabled == (o.lock().state != State::Disabled)
            });
            if !keep {
                o.stop.send_replace(Stop::Now);
            }
            keep
        });
        for (id, url, enabled) in desired {
            if outputs.iter().any(|o| o.id == id) {
                continue;
            }
            let output = Arc::new(Output::new(id, url, enabled, self.metrics.clone()));
            if let (true, Some((tags, start))) = (enabled, &seed) {
                output.queue.seed(tags, *start);
            }
            if enabled {
                tokio::spawn(forward::run(output.clone(), tap.clone(), self.handles.clone()));
            }
            outputs.push(output);
        }
        tap.running.store(outputs.iter().any(|o| o.lock().state != State::Disabled), Relaxed);
        tap.early_open.store(false, Relaxed);
        drop(early);
    }
}

/// The id of the `--restream-url` output `i`.
pub fn flag_id(i: usize) -> String {
    format!("flag-{i}")
}

/// How the API shows an output; `status` while its stream is published here.
pub fn view(id: &str, url: &OutputUrl, enabled: bool, from_flag: bool, status: Option<OutputStatus>) -> OutputView {
    let state = match (&status, enabled) {
        (Some(s), _) => s.state.label(),
        (None, false) => State::Disabled.label(),
        (None, true) => "idle",
    };
    OutputView {
        id: id.into(),
        url: url.masked(),
        destination: url.destination(),
        enabled,
        from_flag,
        state: state.into(),
        status,
    }
}

/// A publish's hold on its stream's outputs: every tag goes through [`Tap::tag`]. Dropping it
/// ends the stream's outputs (after they send what they have queued).
pub struct Tap {
    restreamer: Arc<Restreamer>,
    tap: Arc<StreamTap>,
}

impl Tap {
    /// One of the publisher's tags, as it came; never waits.
    pub fn tag(&self, kind: TagKind, timestamp: u32, body: &[u8]) {
        let reading = tags::read(kind, body);
        let early = self.tap.early_open.load(Relaxed);
        if !early && !self.tap.running.load(Relaxed) && reading.role != Role::Header {
            return; // a frame with no output to go to: not copied
        }
        let tag = tags::OutTag::new(kind, timestamp, Bytes::copy_from_slice(body), reading);
        let has_video = {
            let mut h = self.tap.headers.lock().unwrap_or_else(|e| e.into_inner());
            h.record(&tag);
            h.has_video()
        };
        let starts =
            tag.role == Role::Keyframe || (!has_video && tag.kind == TagKind::Audio && tag.role == Role::Frame);
        if early {
            if let Some(q) = self.tap.early.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                q.push(&tag, starts);
                return;
            }
        }
        if !self.tap.running.load(Relaxed) {
            return;
        }
        for o in self.tap.outputs().iter() {
            let dropped = o.queue.push(&tag, starts);
            if dropped.tags > 0 {
                let m = &o.metrics.restream;
                m.tags_dropped.fetch_add(dropped.tags, Relaxed);
                m.bytes_dropped.fetch_add(dropped.bytes, Relaxed);
            }
        }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        let _ = self.tap.ended.send(true);
        let mut taps = self.restreamer.taps();
        if taps.get(&self.tap.key).is_some_and(|t| Arc::ptr_eq(t, &self.tap)) {
            taps.remove(&self.tap.key);
        }
    }
}

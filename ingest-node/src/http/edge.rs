//! The node's HLS edge (the ingest node's built-in one and `rapidrtmp edge`): an adapter of the
//! core's edge driver ([`EdgeDriver`]), which decides every answer exactly as the Cloudflare
//! Worker's; this file fetches what it asks for (store objects, the live origin of
//! `rapidrtmp edge --origin`) and writes the answer. On the ingest node, the streams it publishes
//! also get their live edge (LL-HLS: parts of the open segment, blocking requests:
//! [`NodeLiveEdge::answer`](crate::live_edge::NodeLiveEdge::answer)), which the driver asks first.
//!
//! Before all of it, the edge's cache ([`EdgeCache`]): a kept answer that is still fresh, else
//! one build for every request of the same key at once (single flight), whose answer each
//! request then takes its own range or `HEAD` of. A clip instead takes a place among the clips
//! being built and sent ([`Clips`]), and its bytes are written as they are sent.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};
use rapidrtmp_core::clip::ClipBody;
use rapidrtmp_core::edge::live;
use rapidrtmp_core::edge::{self, Answer, EdgeDriver, Fetched, OriginAnswer, PlaybackRequest, Sources, Step};

use crate::app::App;
use crate::clock::now_ms;
use crate::http::cache::{EdgeCache, Lookup, MAX_BUILD_WAIT};
use crate::http::clips::{ClipPlace, Clips, MAX_CLIP_BUILDS};
use crate::http::origin::{Origin, ORIGIN_TIMEOUT};
use crate::metrics::Metrics;
use crate::refusals::Cause;
use crate::store::Store;
use crate::streams::LiveStream;

/// What an edge needs from the process it runs in: the ingest node, or `rapidrtmp edge`.
pub trait EdgeHost: Send + Sync + 'static {
    /// Where the objects are.
    fn store(&self) -> &Store;
    /// Where requests are counted.
    fn metrics(&self) -> &Metrics;
    /// The cache of built answers, and the builds in flight.
    fn cache(&self) -> &EdgeCache;
    /// The clips being built and sent.
    fn clips(&self) -> &Clips;
    /// The store's playback policy, kept for a short while.
    fn playback(&self) -> &crate::playback::PolicyCache;
    /// Records a playlist request (for the API's recent viewers).
    fn saw_viewer(&self, _stream: &str, _ip: std::net::IpAddr) {}
    /// A stream this process publishes with LL-HLS on, and how long its blocking requests wait.
    fn live_stream(&self, _stream: &str) -> Option<(Arc<LiveStream>, Duration)> {
        None
    }
    /// The ingest node to ask for the live edge (`rapidrtmp edge --origin`).
    fn origin(&self) -> Option<&Origin> {
        None
    }
    /// The longest clip, milliseconds (`--max-clip`).
    fn max_clip_ms(&self) -> u64 {
        rapidrtmp_core::clip::DEFAULT_MAX_CLIP
    }
}

impl EdgeHost for App {
    fn store(&self) -> &Store {
        &self.store
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn cache(&self) -> &EdgeCache {
        &self.edge_cache
    }

    fn clips(&self) -> &Clips {
        &self.clips
    }

    fn playback(&self) -> &crate::playback::PolicyCache {
        &self.playback
    }

    fn saw_viewer(&self, stream: &str, ip: std::net::IpAddr) {
        App::saw_viewer(self, stream, ip);
    }

    fn max_clip_ms(&self) -> u64 {
        self.settings.max_clip_ms
    }

    fn live_stream(&self, stream: &str) -> Option<(Arc<LiveStream>, Duration)> {
        let target_s = self.settings.segment_duration.as_secs_f64().ceil() as u64;
        let live = self.live(stream).filter(|s| s.edge.is_some())?;
        Some((live, Duration::from_millis(live::block_timeout_ms(target_s))))
    }
}

/// Answers a playback request: the core's edge driver decides, this adapter fetches what it
/// asks for and writes its answer.
pub async fn playback<H: EdgeHost>(
    State(app): State<Arc<H>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let header = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let request = PlaybackRequest {
        method: edge::Method::from_name(method.as_str()),
        path: uri.path(),
        query: uri.query(),
        range: header(header::RANGE),
        if_none_match: header(header::IF_NONE_MATCH),
        origin: header(header::ORIGIN),
        now_ms: Some(now_ms()),
        max_clip_ms: app.max_clip_ms(),
        max_clip_bytes: app.clips().memory_bytes(),
    };
    let sources = Sources { live_edge: true, live_origin: app.origin().is_some(), cache: false };
    let mut driver = EdgeDriver::with_cache_first(&request, sources);
    // Who may play what: the store's playback policy, kept for a short while.
    match app.playback().get(app.store()).await {
        Some(policy) => driver = driver.with_playback(&policy),
        None => {
            let failed = edge::driver::http_answer(
                edge::Response::store_unavailable(),
                request.method,
                None,
                Default::default(),
            );
            return http_response(failed);
        }
    }
    let mut clip = None;
    let whole = match driver.next() {
        Step::Cache if matches!(driver.route(), Some(edge::Route::Clip { .. })) => {
            clip = app.clips().start();
            match clip {
                Some(_) => driver.cached(None),
                None => driver.cached_answer(clips_busy(), None),
            }
            None
        }
        Step::Cache => from_cache(&*app, &mut driver, sources).await,
        _ => None,
    };
    drive(&*app, &mut driver, clip.as_mut()).await;
    let (answer, clip_body) = driver.finish_streamed();
    let outcome = &answer.outcome;
    if let Some(route) = outcome.route {
        app.metrics().http_request(route, outcome.status);
    }
    if let Some(stream) = &outcome.viewer_of {
        app.saw_viewer(stream, peer.ip());
    }
    let mut response = http_response(answer);
    if let Some(body) = clip_body {
        // Written as it is sent; the clip's place and memory are given back when it is sent, or
        // its connection is gone.
        *response.body_mut() = Body::new(ClipStream { body, _place: clip });
    }
    if let Some(body) = whole {
        // A kept body that goes out as it is, without a copy: its length is the body's.
        *response.body_mut() = Body::from(body);
    }
    response
}

/// The bytes of a clip written in blocks of this size as the connection takes them.
const CLIP_BLOCK: usize = 256 << 10;

/// A clip's bytes as a response body, written a block at a time as they are sent, holding the
/// clip's place (and its chunks' memory) until then.
struct ClipStream {
    body: ClipBody,
    _place: Option<ClipPlace>,
}

impl hyper::body::Body for ClipStream {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let block = self.body.next_block(CLIP_BLOCK);
        Poll::Ready(block.map(|b| b.map(|bytes| Frame::data(Bytes::from(bytes))).map_err(std::io::Error::other)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.remaining() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.body.remaining())
    }
}

/// The 503 of a clip asked for while [`MAX_CLIP_BUILDS`] are being built (the driver adds
/// `Retry-After`).
fn clips_busy() -> edge::Response {
    edge::Response::error(503, format!("{MAX_CLIP_BUILDS} clips are being built; try again in a moment"))
}

/// The 503 of a clip whose chunks do not fit beside those of the clips being sent (the driver
/// adds `Retry-After`).
fn clip_memory_busy(clips: &Clips, bytes: u64) -> edge::Response {
    let mib = edge::driver::mebibytes;
    edge::Response::error(
        503,
        format!(
            "this clip needs {} and the clips being sent hold {} of this edge's {} for clips; try again in a moment",
            mib(bytes),
            mib(clips.memory_held()),
            mib(clips.memory_bytes())
        ),
    )
}

/// Answers `driver`'s [`Step::Cache`]: the answer kept under its key while it is fresh, else
/// the answer of the one build of that key in flight, started here if none is (a driver of a
/// `GET` of the key, with `sources`: the live edge, the live origin, the store). A request that
/// waits longer than [`build_wait`] gets the 503 of a timed out request. Returns the body
/// when the answer goes out as it is (an immutable 200 to a `GET` without a range).
async fn from_cache<H: EdgeHost>(app: &H, driver: &mut EdgeDriver, sources: Sources) -> Option<Bytes> {
    let Some(key) = driver.cache_key().map(str::to_string) else {
        driver.cached(None);
        return None;
    };
    let (path, query) = key.split_once('?').map_or((key.as_str(), None), |(p, q)| (p, Some(q)));
    let build = || async {
        let request = PlaybackRequest {
            now_ms: Some(now_ms()),
            max_clip_ms: app.max_clip_ms(),
            ..PlaybackRequest::new(edge::Method::Get, path, query)
        };
        let mut built = EdgeDriver::new(&request, sources);
        // Boxed: the build runs inside the cache's single flight, and its state machine nested in
        // that one's is deeper than the compiler lays out.
        Box::pin(drive(app, &mut built, None)).await;
        let started = Instant::now();
        match built.finish_response() {
            Ok((response, outcome)) => {
                if outcome.segment_built {
                    app.metrics().segment_build.observe(started.elapsed());
                }
                response
            }
            // Only a preflight, a 405 or a cached body have no response: not a GET without a cache.
            Err(answer) => edge::Response::error(500, format!("no response to build ({})", answer.status)),
        }
    };
    let wait = build_wait(app, driver.route());
    let (lookup, built) = app.cache().answer(&key, wait, build).await;
    let metrics = app.metrics();
    metrics.edge_cache_requests(lookup);
    metrics.edge_cache_bytes.store(u64::try_from(app.cache().bytes()).unwrap_or(u64::MAX), Relaxed);
    let Some(built) = built else {
        driver.cached_answer(live::timed_out(), None);
        return None;
    };
    if built.status == 200 && built.cache_control == edge::CACHE_IMMUTABLE && driver.cached_whole() {
        return Some(built.body.clone());
    }
    let age = (lookup == Lookup::Hit).then(|| built.age_s(Instant::now()));
    driver.cached_answer(built.response(), age);
    None
}

/// How long a request waits for the build of its answer: [`MAX_BUILD_WAIT`], plus what the
/// build may wait by design (a blocking request at this node's live edge of the stream, or
/// at the live origin).
fn build_wait<H: EdgeHost>(app: &H, route: Option<&edge::Route>) -> Duration {
    let live = route.and_then(|r| app.live_stream(r.stream())).map_or(Duration::ZERO, |(_, wait)| wait);
    let origin = if app.origin().is_some() { ORIGIN_TIMEOUT } else { Duration::ZERO };
    MAX_BUILD_WAIT + live + origin
}

/// Store reads in flight ahead of the one the edge driver asks for, when it knows what it asks
/// for next (a clip's chunks): a 10-minute clip's 300 chunks are read 8 at a time, not one after
/// another.
const READ_AHEAD: usize = 8;

/// Reads of the objects the driver asks for next ([`EdgeDriver::upcoming_keys`]), started
/// ahead, in its order; those left when the request is done or gone are aborted.
#[derive(Default)]
struct ReadsAhead(VecDeque<(String, StoreRead)>);

/// A store read running in a task of its own.
type StoreRead = tokio::task::JoinHandle<Result<Option<Vec<u8>>, crate::store::StoreError>>;

impl ReadsAhead {
    /// Reads `key`: the read started ahead for it, else now. Then starts reads of the keys
    /// after it (`upcoming`), up to [`READ_AHEAD`] in flight.
    async fn read<H: EdgeHost>(&mut self, app: &H, key: &str, upcoming: &[String]) -> Fetched {
        let started = matches!(self.0.front(), Some((k, _)) if k == key);
        if !started {
            self.abort();
        }
        // The keys after this one, behind the read of this one if it was started ahead.
        let queued = self.0.len().saturating_sub(usize::from(started));
        for next in upcoming.iter().skip(queued).take(READ_AHEAD.saturating_sub(queued)) {
            let (store, next_key) = (app.store().clone(), next.clone());
            app.metrics().edge_store_reads.fetch_add(1, Relaxed);
            self.0.push_back((next.clone(), tokio::spawn(async move { store.get_owned(&next_key).await })));
        }
        let read = match self.0.front_mut() {
            // Awaited where it is queued: a request dropped meanwhile aborts it with the others.
            Some((_, read)) if started => {
                let read = read.await.unwrap_or_else(|e| {
                    let source = std::io::Error::other(e);
                    Err(crate::store::StoreError::Io { op: "read", key: key.to_string(), source })
                });
                self.0.pop_front();
                read
            }
            _ => {
                app.metrics().edge_store_reads.fetch_add(1, Relaxed);
                app.store().get_owned(key).await
            }
        };
        match read {
            // The buffer the store read the object into, handed over: never a copy.
            Ok(object) => Fetched::from(object),
            Err(e) => {
                if let Some(count) = app.metrics().refusals.note(Cause::EdgeStore) {
                    tracing::warn!(count, "edge: store read failed: {e}");
                }
                Fetched::Unavailable
            }
        }
    }

    fn abort(&mut self) {
        for (_, read) in self.0.drain(..) {
            read.abort();
        }
    }
}

impl Drop for ReadsAhead {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Takes `driver`'s steps until it is done: asks this process's live edge, the live origin
/// and the store what it needs, reading ahead what it will ask for next. A clip's chunks are
/// read once its `clip` place holds their memory.
async fn drive<H: EdgeHost>(app: &H, driver: &mut EdgeDriver, mut clip: Option<&mut ClipPlace>) {
    let mut ahead = ReadsAhead::default();
    loop {
        let holding = clip.as_deref().is_none_or(ClipPlace::holding);
        if let (false, Some(place), Some(bytes)) = (holding, clip.as_deref_mut(), driver.clip_bytes()) {
            if !place.hold(bytes) {
                driver.refuse(clip_memory_busy(app.clips(), bytes));
            }
        }
        match driver.next() {
            Step::LiveEdge { route, query } => {
                let answer = match app.live_stream(route.stream()) {
                    Some((stream, wait)) => match &stream.edge {
                        Some(live) => live.answer(app.store(), app.metrics(), route, query, wait).await,
                        None => None,
                    },
                    None => None,
                };
                driver.live_edge_answered(answer);
            }
            Step::LiveOrigin { path_and_query } => {
                let answer = match app.origin() {
                    Some(origin) => ask_origin(app, origin, path_and_query).await,
                    None => None,
                };
                driver.origin_answered(answer);
            }
            Step::Cache => driver.cached(None),
            Step::Fetch { key } => {
                let key = key.to_string();
                let fetched = ahead.read(app, &key, driver.upcoming_keys()).await;
                driver.fetched(fetched);
            }
            Step::Done => break,
        }
    }
}

/// The live origin's answer to `path_and_query`, or `None` (logged) when it does not answer.
async fn ask_origin(app: &impl EdgeHost, origin: &Origin, path_and_query: &str) -> Option<OriginAnswer> {
    match origin.get(path_and_query).await {
        Ok(answer) => Some(answer),
        Err(e) => {
            if let Some(count) = app.metrics().refusals.note(Cause::EdgeOrigin) {
                tracing::warn!(
                    count,
                    "edge: origin {} did not answer: {e:#}; serving from the store",
                    origin.describe()
                );
            }
            None
        }
    }
}

/// Writes the driver's answer: its status, headers and the bytes it sends (a range of the
/// body, taken without a copy).
fn http_response(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = Body::from(Bytes::from(answer.body).slice(answer.send));
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            h.insert(name, value);
        }
    }
    response
}

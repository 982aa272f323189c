//! The node's HLS edge (the ingest node's built-in one and `rapidrtmp edge`): an adapter of the
//! core's edge driver ([`EdgeDriver`]), which decides every answer exactly as the Cloudflare
//! Worker's; this file fetches what it asks for (store objects, the live origin of
//! `rapidrtmp edge --origin`) and writes the answer. On the ingest node, the streams it publishes
//! also get their live edge (LL-HLS: parts of the open segment, blocking requests: [`live_answer`]),
//! which the driver asks first.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rapidrtmp_core::edge::live::{self, PartState, PlaylistQuery, Readiness};
use rapidrtmp_core::edge::{
    self, Answer, EdgeDriver, Fetched, OriginAnswer, PlaybackRequest, Route, Sources, Step, CACHE_IMMUTABLE, MP4_TYPE,
};
use rapidrtmp_core::layout::manifest_key;
use rapidrtmp_core::manifest::Manifest;
use rapidrtmp_core::segment::build_init;

use crate::app::App;
use crate::http::origin::Origin;
use crate::live_edge::Held;
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
}

impl EdgeHost for App {
    fn store(&self) -> &Store {
        &self.store
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn saw_viewer(&self, stream: &str, ip: std::net::IpAddr) {
        App::saw_viewer(self, stream, ip);
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
    };
    let sources = Sources { live_edge: true, live_origin: app.origin().is_some(), cache: false };
    let mut driver = EdgeDriver::new(&request, sources);
    loop {
        match driver.next() {
            Step::LiveEdge { route, query } => {
                let answer = match app.live_stream(route.stream()) {
                    Some((stream, wait)) => live_answer(&*app, &stream, wait, route, query).await,
                    None => None,
                };
                driver.live_edge_answered(answer);
            }
            Step::LiveOrigin { path_and_query } => {
                let answer = match app.origin() {
                    Some(origin) => ask_origin(&*app, origin, path_and_query).await,
                    None => None,
                };
                driver.origin_answered(answer);
            }
            Step::Cache => driver.cached(None),
            Step::Fetch { key } => {
                let fetched = match app.store().get(key).await {
                    // Without a copy where the store read the object into a buffer of its own.
                    Ok(object) => Fetched::from(object.map(Vec::from)),
                    Err(e) => {
                        if let Some(count) = app.metrics().refusals.note(Cause::EdgeStore) {
                            tracing::warn!(count, "edge: store read failed: {e}");
                        }
                        Fetched::Unavailable
                    }
                };
                driver.fetched(fetched);
            }
            Step::Done => break,
        }
    }
    // The response is built here, from what was fetched.
    let started = Instant::now();
    let answer = driver.finish();
    let outcome = &answer.outcome;
    if outcome.segment_built {
        app.metrics().segment_build.observe(started.elapsed());
    }
    if let Some(route) = outcome.route {
        app.metrics().http_request(route, outcome.status);
    }
    if let Some(stream) = &outcome.viewer_of {
        app.saw_viewer(stream, peer.ip());
    }
    http_response(answer)
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

/// The answer of a stream's live edge, or `None` where the store has the answer. A blocking
/// request waits for the live edge to change (at most `wait`, then 503), unless
/// [`crate::live_edge::MAX_BLOCKING_WAITERS`] already wait (503 at once).
async fn live_answer(
    app: &impl EdgeHost,
    stream: &LiveStream,
    wait: Duration,
    route: &Route,
    query: Option<&str>,
) -> Option<edge::Response> {
    let live = stream.edge.as_ref()?;
    let deadline = tokio::time::Instant::now() + wait;
    // The stored window, until the live edge has the manifest its stream's writer last stored
    // (then a playlist is the live edge's alone: one consistent view, no store read).
    let read_manifest = || async {
        if live.has_manifest() {
            return None;
        }
        match app.store().get(&manifest_key(route.stream())).await {
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
        let mut changed = live.subscribe();
        if live.ended() {
            return None;
        }
        match (route, &query) {
            (Route::MediaPlaylist { .. }, Some(query)) => {
                // Read again only to answer after a wait: what is ready is the live edge's to say.
                if std::mem::take(&mut waited)
                    && live.view(stored.as_ref(), |e, m| e.readiness(m, query)) != Readiness::Wait
                {
                    stored = read_manifest().await.or(stored);
                }
                let answer = live.view(stored.as_ref(), |e, m| match e.readiness(m, query) {
                    Readiness::Now => Some(e.respond(m, query)),
                    Readiness::Reject(r) => Some(r),
                    Readiness::Wait => None,
                });
                if answer.is_some() {
                    return answer;
                }
            }
            (Route::Part { session, sequence, part, .. }, _) => {
                match live.open_part(session, *sequence, *part, &app.metrics().parts_built).await {
                    Ok(part) => return Some(part),
                    Err(PartState::Next) => {}
                    Err(PartState::Future) => return Some(live::future_part()),
                    Err(_) => {
                        return live.held_part(route, (session, *sequence, *part), &app.metrics().parts_built).await
                    }
                }
            }
            (Route::Init { .. } | Route::Segment { .. } | Route::Chunk { .. }, _) => return held(live, route),
            _ => return None,
        }
        if slot.is_none() {
            slot = live.wait_slot();
            if slot.is_none() {
                app.metrics().blocking_refused.fetch_add(1, Relaxed);
                return Some(live::too_many_waiters());
            }
        }
        if tokio::time::timeout_at(deadline, changed.changed()).await.is_err() {
            // A request that does not block waited only for the next chunk to open: it gets
            // what there is.
            if let Some(query) = query.as_ref().filter(|q| !q.blocks()) {
                return Some(live.view(stored.as_ref(), |e, m| e.respond(m, query)));
            }
            return Some(live::timed_out());
        }
        waited = true;
    }
}

/// The answer from what the live edge holds for `route`'s chunk (a chunk file the store may not
/// have yet; the open chunk's init segment), or `None`.
fn held(live: &crate::live_edge::NodeLiveEdge, route: &Route) -> Option<edge::Response> {
    let (session, sequence) = route.chunk()?;
    match live.held(session, sequence)? {
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

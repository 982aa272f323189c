//! The built-in HLS edge: `/live/...` answered by the core's edge logic from the store, exactly
//! as the Cloudflare Worker and `rapidrtmp edge` answer it; on the ingest node, the streams it
//! publishes also get their live edge (LL-HLS: parts of the open segment, blocking requests).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rapidrtmp_core::edge::live::{self, PartState, PlaylistQuery, Readiness};
use rapidrtmp_core::edge::{self, parse_range, LiveOrigin, RangeRequest, Route, CACHE_IMMUTABLE, MP4_TYPE};
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

/// Adds the CORS headers of playback routes.
fn cors(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Range"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Content-Length, Content-Range, Age"));
}

/// Answers a playback request.
pub async fn serve<H: EdgeHost>(
    State(app): State<Arc<H>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let mut response = answer(&*app, peer, &method, &uri, range).await;
    cors(&mut response);
    response
}

async fn answer(app: &impl EdgeHost, peer: SocketAddr, method: &Method, uri: &Uri, range: Option<&str>) -> Response {
    let path = uri.path();
    if method == Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        app.metrics().http_request("live", 405);
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD, OPTIONS")]).into_response();
    }
    let Some(route) = Route::parse(path) else {
        app.metrics().http_request("live", 404);
        return to_response(edge::Response::not_found(), method, None);
    };
    let answered = |resp: edge::Response| {
        if matches!(route, Route::MediaPlaylist { .. }) && resp.status == 200 {
            app.saw_viewer(route.stream(), peer.ip());
        }
        app.metrics().http_request(route.name(), resp.status);
        to_response(resp, method, range)
    };
    if let Some(refused) = edge::refused_query(&route, uri.query()) {
        return answered(refused);
    }
    if let Some((stream, wait)) = app.live_stream(route.stream()) {
        if let Some(resp) = live_answer(app, &stream, wait, &route, uri.query()).await {
            return answered(resp);
        }
    }
    let path_and_query = uri.path_and_query().map_or(path, |p| p.as_str());
    if let (Some(origin), LiveOrigin::First) = (app.origin(), route.live_origin()) {
        match origin.get(&route, path_and_query).await {
            Ok(resp) => return answered(resp),
            Err(e) => {
                if let Some(count) = app.metrics().refusals.note(Cause::EdgeOrigin) {
                    let origin = origin.describe();
                    tracing::warn!(count, "edge: origin {origin} did not answer: {e:#}; serving the stored playlist");
                }
            }
        }
    }
    let unavailable = |e: crate::store::StoreError| {
        if let Some(count) = app.metrics().refusals.note(Cause::EdgeStore) {
            tracing::warn!(count, "edge: store read failed: {e}");
        }
        app.metrics().http_request(route.name(), 503);
        to_response(edge::Response::store_unavailable(), method, None)
    };
    let object = match app.store().get(&route.object_key()).await {
        Ok(o) => o,
        Err(e) => return unavailable(e),
    };
    let mut renditions = Vec::new();
    for key in edge::rendition_keys(&route, object.as_deref()) {
        match app.store().get(&key).await {
            Ok(o) => renditions.push(o),
            Err(e) => return unavailable(e),
        }
    }
    if let (None, Some(origin), LiveOrigin::WhenNotStored) = (&object, app.origin(), route.live_origin()) {
        match origin.get(&route, path_and_query).await {
            Ok(resp) => return answered(resp),
            Err(e) => {
                if let Some(count) = app.metrics().refusals.note(Cause::EdgeOrigin) {
                    tracing::warn!(count, "edge: origin {} did not answer: {e:#}", origin.describe());
                }
            }
        }
    }
    let started = Instant::now();
    let renditions: Vec<Option<&[u8]>> = renditions.iter().map(|o| o.as_deref()).collect();
    let resp = edge::respond(&route, object.as_deref(), &renditions);
    if matches!(route, Route::Init { .. } | Route::Segment { .. } | Route::Part { .. }) && resp.status == 200 {
        app.metrics().segment_build.observe(started.elapsed());
    }
    answered(resp)
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

/// Turns the core's response into an HTTP one; a `Range` on a 200 makes it 206 or 416.
fn to_response(r: edge::Response, method: &Method, range: Option<&str>) -> Response {
    let mut status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let total = r.body.len() as u64;
    let mut content_range = None;
    let mut body = r.body;
    if status == StatusCode::OK {
        match parse_range(range, total) {
            RangeRequest::Whole => {}
            RangeRequest::Part { start, end } => {
                status = StatusCode::PARTIAL_CONTENT;
                content_range = Some(format!("bytes {start}-{end}/{total}"));
                body = body[start as usize..=end as usize].to_vec();
            }
            RangeRequest::Unsatisfiable => {
                status = StatusCode::RANGE_NOT_SATISFIABLE;
                content_range = Some(format!("bytes */{total}"));
                body.clear();
            }
        }
    }
    let len = body.len();
    let body = if method == Method::HEAD { Body::empty() } else { Body::from(body) };
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(r.content_type));
    let cache = HeaderValue::from_str(&r.cache_control).unwrap_or(HeaderValue::from_static(edge::CACHE_NONE));
    h.insert(header::CACHE_CONTROL, cache);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if r.status == 200 {
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    if let Some(cr) = content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
        h.insert(header::CONTENT_RANGE, cr);
    }
    if r.status == 503 {
        h.insert(header::RETRY_AFTER, HeaderValue::from(edge::RETRY_AFTER_S));
    }
    resp
}

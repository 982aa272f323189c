//! The built-in HLS edge: `/live/...` answered by the core's edge logic from the store, exactly
//! as the Cloudflare Worker and `rapidrtmp edge` answer it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rapidrtmp_core::edge::{self, parse_range, RangeRequest, Route};

use crate::app::App;
use crate::metrics::Metrics;
use crate::store::Store;

/// What an edge needs from the process it runs in: the ingest node, or `rapidrtmp edge`.
pub trait EdgeHost: Send + Sync + 'static {
    /// Where the objects are.
    fn store(&self) -> &Store;
    /// Where requests are counted.
    fn metrics(&self) -> &Metrics;
    /// Records a playlist request (for the API's recent viewers).
    fn saw_viewer(&self, _stream: &str, _ip: std::net::IpAddr) {}
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
}

/// Adds the CORS headers of playback routes.
fn cors(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Range"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Content-Length, Content-Range"));
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
    let mut response = answer(&*app, peer, &method, uri.path(), range).await;
    cors(&mut response);
    response
}

async fn answer(app: &impl EdgeHost, peer: SocketAddr, method: &Method, path: &str, range: Option<&str>) -> Response {
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
    let object = match app.store().get(&route.object_key()).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!("edge: store read failed: {e}");
            app.metrics().http_request(route.name(), 503);
            let mut r = (StatusCode::SERVICE_UNAVAILABLE, "origin store unavailable\n").into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(edge::CACHE_NONE));
            return r;
        }
    };
    let started = Instant::now();
    let resp = edge::respond(&route, object.as_deref());
    if matches!(route, Route::Init { .. } | Route::Segment { .. }) && resp.status == 200 {
        app.metrics().segment_build.observe(started.elapsed());
    }
    if matches!(route, Route::MediaPlaylist { .. }) && resp.status == 200 {
        app.saw_viewer(route.stream(), peer.ip());
    }
    app.metrics().http_request(route.name(), resp.status);
    to_response(resp, method, range)
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
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(r.cache_control));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if r.status == 200 {
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    if let Some(cr) = content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
        h.insert(header::CONTENT_RANGE, cr);
    }
    resp
}

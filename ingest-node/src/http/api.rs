//! The admin API under `/api/v1`: publish tokens, streams, recordings, stop, revoke, outputs, webhooks. Every call needs
//! `Authorization: Bearer <admin key>`, checked by the router before a handler runs.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rapidrtmp_core::archive::SessionRecord;
use rapidrtmp_core::date::iso8601;
use rapidrtmp_core::layout::{self, manifest_key, session_key, sessions_prefix, valid_name};
use rapidrtmp_core::manifest::{Manifest, StreamState};
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::clock::now_ms;
use crate::publish::multitrack::is_rendition_key;
use crate::restream::{self, outputs::OutputRecord, url::OutputUrl};
use crate::tokens::{self, random_id, Grant};

/// Longest token lifetime granted: one year.
const MAX_TTL_SECONDS: u64 = 365 * 24 * 3600;

/// Why a key ending in `_v` or `_a` and a number gets no token.
const RESERVED: &str = "keys ending in _v or _a and a number are reserved: they name the tracks of a multitrack publish of the key before them (cam_v1 is video track 1 of cam)";

/// A JSON error `{"error": …}`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Checks the bearer token in constant time: `Some(401 response)` when it is missing or wrong.
/// Every API route is behind it (`api_guard` in http.rs), before its body is read.
pub fn unauthorized(app: &App, headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(app.admin_key.as_bytes())) {
        return None;
    }
    let mut r = error(StatusCode::UNAUTHORIZED, "missing or wrong admin key (Authorization: Bearer …)");
    r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    Some(r)
}

/// `POST /api/v1/publish` body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    stream_key: String,
    #[serde(default = "default_ttl")]
    ttl_seconds: u64,
    #[serde(default)]
    single_use: bool,
    /// The stream group the stream joins.
    #[serde(default)]
    group: Option<String>,
    /// The stream's playback (`public` or `signed`), set in the store's playback policy.
    #[serde(default)]
    playback: Option<rapidrtmp_core::edge::auth::Playback>,
}

fn default_ttl() -> u64 {
    3600
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublishResponse {
    token: String,
    expires_at: u64,
    rtmp_url: String,
    playback_url: String,
    /// The group's multivariant playlist, with a group.
    #[serde(skip_serializing_if = "Option::is_none")]
    group_url: Option<String>,
}

/// The host (without port) the request was addressed to, for the URLs handed back.
fn request_host(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let name = match host.find(']') {
        Some(end) => &host[..=end],
        None => host.split(':').next().unwrap_or(host),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || ".-[]:".contains(c)) {
        return "localhost".into();
    }
    name.into()
}

/// Issues a publish token.
pub async fn publish(State(app): State<Arc<App>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let req: TokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid request body: {e}")),
    };
    if !valid_name(&req.stream_key) {
        return error(StatusCode::BAD_REQUEST, "streamKey must be 1-64 of [A-Za-z0-9_-]");
    }
    if req.ttl_seconds == 0 || req.ttl_seconds > MAX_TTL_SECONDS {
        return error(StatusCode::BAD_REQUEST, "ttlSeconds must be 1 to 31536000");
    }
    if is_rendition_key(&req.stream_key) {
        return error(StatusCode::BAD_REQUEST, RESERVED);
    }
    if let Some(group) = &req.group {
        if !valid_name(group) || *group == req.stream_key {
            return error(StatusCode::BAD_REQUEST, "group must be 1-64 of [A-Za-z0-9_-], not the stream key");
        }
        if is_rendition_key(group) {
            return error(StatusCode::BAD_REQUEST, format!("group: {RESERVED}"));
        }
    }
    if let Some(playback) = req.playback {
        if let Err(e) = crate::playback::set_playback(&app.store, &req.stream_key, playback).await {
            return policy_error(e);
        }
        app.playback.forget();
    }
    let generation = match tokens::generation(&app.store, &req.stream_key).await {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(stream = %req.stream_key, "cannot read the token generation: {e}");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot read the stream key's token generation from the store",
            );
        }
    };
    let expires_at = now_ms() / 1000 + req.ttl_seconds;
    let (nonce, single_use, group) = (random_id(16), req.single_use, req.group);
    let grant = Grant { expires_at, nonce, single_use, generation, group };
    let token = app.signer.issue(&req.stream_key, &grant);
    let host = request_host(&headers);
    let s = &app.settings;
    let resp = PublishResponse {
        rtmp_url: format!("rtmp://{host}:{}/live/{}?token={token}", s.rtmp_addr.port(), req.stream_key),
        playback_url: format!("http://{host}:{}/live/{}/index.m3u8", s.http_addr.port(), req.stream_key),
        group_url: grant.group.as_ref().map(|g| format!("http://{host}:{}/live/{g}/master.m3u8", s.http_addr.port())),
        token,
        expires_at,
    };
    (StatusCode::CREATED, Json(resp)).into_response()
}

async fn stream_json(app: &App, key: &str) -> Option<serde_json::Value> {
    let live = app.live(key);
    let manifest = match app.store.get(&manifest_key(key)).await {
        Ok(Some(b)) => Manifest::parse(&b).ok(),
        _ => None,
    };
    // A stream group's record is no stream.
    if (live.is_none() && manifest.is_none()) || manifest.as_ref().is_some_and(|m| m.group) {
        return None;
    }
    let now = now_ms();
    let (state, started_at, media, segments, bytes_in) = match (&live, &manifest) {
        (Some(l), _) => {
            let stats = l.stats.lock().unwrap_or_else(|e| e.into_inner()).clone();
            ("live", l.started_at_ms, stats.media, stats.segments, Some(stats.bytes_in))
        }
        (None, Some(m)) => {
            let state = if m.state == StreamState::Live { "interrupted" } else { "ended" };
            (state, m.created_at_ms, m.media.clone(), m.chunks.len() as u64, None)
        }
        (None, None) => return None,
    };
    let duration_ms = match (&live, &manifest) {
        (Some(_), _) => now.saturating_sub(started_at),
        (None, Some(m)) => m.updated_at_ms.saturating_sub(m.created_at_ms),
        _ => 0,
    };
    let bitrate = match (&live, bytes_in) {
        (Some(_), Some(b)) if duration_ms > 0 => Some(b * 8000 / duration_ms),
        _ => manifest.as_ref().and_then(|m| {
            let ms = m.window_duration_ms();
            (ms > 0).then(|| m.chunks.iter().map(|c| c.bytes).sum::<u64>() * 8000 / ms)
        }),
    };
    Some(json!({
        "streamKey": key,
        "state": state,
        "startedAt": started_at,
        "durationMs": duration_ms,
        "codecs": media.codecs,
        "width": media.width,
        "height": media.height,
        "frameRate": media.frame_rate,
        "bitrate": bitrate,
        "segmentCount": segments,
        "recentViewers": app.recent_viewers(key),
        "playbackUrl": format!("/live/{key}/index.m3u8"),
    }))
}

/// `GET /api/v1/streams`: live streams and those with a manifest in the store.
pub async fn list_streams(State(app): State<Arc<App>>) -> Response {
    let mut keys: Vec<String> = app.streams.keys();
    match app.store.list(layout::STREAMS).await {
        Ok(names) => keys.extend(names.into_iter().filter(|n| valid_name(n))),
        Err(e) => {
            tracing::warn!("listing streams: the store did not answer: {e}");
            return error(StatusCode::SERVICE_UNAVAILABLE, "the store did not answer; try again");
        }
    }
    keys.sort();
    keys.dedup();
    keys.truncate(1000);
    let mut streams = Vec::with_capacity(keys.len());
    for k in keys {
        if let Some(s) = stream_json(&app, &k).await {
            streams.push(s);
        }
    }
    Json(json!({ "streams": streams })).into_response()
}

/// `GET /api/v1/streams/{key}`.
pub async fn stream_status(State(app): State<Arc<App>>, Path(key): Path<String>) -> Response {
    if !valid_name(&key) {
        return error(StatusCode::BAD_REQUEST, "stream keys are 1-64 of [A-Za-z0-9_-]");
    }
    match stream_json(&app, &key).await {
        Some(s) => Json(s).into_response(),
        None => error(StatusCode::NOT_FOUND, "no such stream"),
    }
}

/// Most recordings one page of `GET /api/v1/streams/{key}/recordings` lists (`?limit=`).
pub const MAX_RECORDINGS_PAGE: usize = 100;
/// Recordings a page lists without `?limit=`.
const DEFAULT_RECORDINGS_PAGE: usize = 20;

/// The page `?limit=&cursor=` asks for; `Err` with what is wrong.
fn recordings_page(query: Option<&str>) -> Result<(usize, Option<String>), String> {
    let (mut limit, mut cursor) = (None, None);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "limit" if limit.is_none() => {
                let n = value.parse::<usize>().ok().filter(|n| (1..=MAX_RECORDINGS_PAGE).contains(n));
                limit = Some(n.ok_or(format!("limit must be 1 to {MAX_RECORDINGS_PAGE}"))?);
            }
            "cursor" if cursor.is_none() => {
                if !valid_name(value) {
                    return Err("cursor must be the nextCursor of a page".into());
                }
                cursor = Some(value.to_string());
            }
            "limit" | "cursor" => return Err(format!("{name} is given twice")),
            _ => return Err(format!("unknown parameter {name:?}: limit and cursor only")),
        }
    }
    Ok((limit.unwrap_or(DEFAULT_RECORDINGS_PAGE), cursor))
}

/// Orders session ids: numbers (milliseconds since the epoch) by value, before any other name.
fn session_order(id: &str) -> (u64, &str) {
    (id.parse().unwrap_or(u64::MAX), id)
}

/// `GET /api/v1/streams/{key}/recordings?limit=&cursor=`: the publishing sessions of the stream
/// the store still holds, oldest first, each with its playlist URL; `nextCursor` asks for the
/// next page.
pub async fn recordings(State(app): State<Arc<App>>, Path(key): Path<String>, RawQuery(query): RawQuery) -> Response {
    if !valid_name(&key) {
        return error(StatusCode::BAD_REQUEST, "stream keys are 1-64 of [A-Za-z0-9_-]");
    }
    let (limit, cursor) = match recordings_page(query.as_deref()) {
        Ok(page) => page,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let unavailable = |e: crate::store::StoreError| {
        tracing::warn!(stream = %key, "recordings: the store did not answer: {e}");
        error(StatusCode::SERVICE_UNAVAILABLE, "the store did not answer; try again")
    };
    let names = match app.store.list(&sessions_prefix(&key)).await {
        Ok(names) => names,
        Err(e) => return unavailable(e),
    };
    let manifest = match app.store.get(&manifest_key(&key)).await {
        Ok(found) => found.and_then(|b| Manifest::parse(&b).ok()),
        Err(e) => return unavailable(e),
    };
    let mut ids: Vec<&str> = names.iter().filter_map(|n| n.strip_suffix(".json")).filter(|n| valid_name(n)).collect();
    if ids.is_empty() && manifest.is_none() {
        return error(StatusCode::NOT_FOUND, format!("stream {key} has no recordings in the store"));
    }
    ids.sort_by_key(|id| session_order(id));
    if let Some(cursor) = &cursor {
        ids.retain(|id| session_order(id) > session_order(cursor));
    }
    let now = now_ms();
    let mut recordings = Vec::with_capacity(limit.min(ids.len()));
    let mut next_cursor = None;
    for id in ids {
        if recordings.len() == limit {
            break;
        }
        next_cursor = Some(id.to_string());
        let record = match app.store.get(&session_key(&key, id)).await {
            Ok(Some(bytes)) => match SessionRecord::parse(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(stream = %key, session = id, "recordings: record left out: {e}");
                    continue;
                }
            },
            Ok(None) => continue,
            Err(e) => return unavailable(e),
        };
        // Gone with the retention, or going: its chunks are no longer listed.
        if record.retention_ms.is_some_and(|r| record.end_ms.saturating_add(r) <= now) {
            continue;
        }
        let live = manifest.as_ref().is_some_and(|m| m.state == StreamState::Live && m.session == record.session);
        let start = record.held_from_ms(now);
        recordings.push(json!({
            "id": record.session,
            "start": iso8601(start),
            "end": iso8601(record.end_ms),
            "durationMs": record.end_ms.saturating_sub(start),
            "bytes": record.bytes,
            "chunks": record.chunks,
            "live": live,
            "playlistUrl": format!("/live/{key}/{}/index.m3u8", record.session),
        }));
    }
    let more = recordings.len() == limit
        && next_cursor.as_deref().is_some_and(|c| {
            names
                .iter()
                .filter_map(|n| n.strip_suffix(".json"))
                .any(|id| valid_name(id) && session_order(id) > session_order(c))
        });
    let next_cursor = next_cursor.filter(|_| more);
    Json(json!({ "streamKey": key, "recordings": recordings, "nextCursor": next_cursor })).into_response()
}

/// `POST /api/v1/streams/{key}/stop` body (optional).
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StopRequest {
    /// Revoke the key's tokens too, as `…/revoke` does.
    #[serde(default)]
    revoke: bool,
}

/// Disconnects the publisher of `key` if it is live on this node, and waits (up to 10 s) for
/// it to hand its last chunk over; whether it was live here.
async fn stop_live(app: &App, key: &str) -> bool {
    let Some(live) = app.live(key) else { return false };
    app.streams.stop_connection(live.connection);
    let mut done = live.done.subscribe();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), done.wait_for(|d| *d)).await;
    true
}

/// `POST /api/v1/streams/{key}/stop`: disconnects the publisher; the stream ends (with the
/// other tracks' streams of a multitrack publish: they share its connection). With
/// `{"revoke": true}` it revokes the key's tokens too (see [`revoke_stream`]).
pub async fn stop_stream(State(app): State<Arc<App>>, Path(key): Path<String>, body: axum::body::Bytes) -> Response {
    let req = match body.is_empty() {
        true => StopRequest::default(),
        false => match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid request body: {e}")),
        },
    };
    if req.revoke {
        return revoke_key(&app, &key).await;
    }
    if !stop_live(&app, &key).await {
        return error(StatusCode::NOT_FOUND, "stream is not live");
    }
    Json(json!({ "streamKey": key, "state": "ended" })).into_response()
}

/// `POST /api/v1/streams/{key}/revoke`: every token issued for `key` so far is refused, on
/// every node sharing the store (its token generation is bumped), and its publisher is
/// disconnected: at once on this node, within a third of the owner lease on another. Tokens
/// issued afterwards work.
pub async fn revoke_stream(State(app): State<Arc<App>>, Path(key): Path<String>) -> Response {
    revoke_key(&app, &key).await
}

async fn revoke_key(app: &App, key: &str) -> Response {
    if !valid_name(key) {
        return error(StatusCode::BAD_REQUEST, "stream keys are 1-64 of [A-Za-z0-9_-]");
    }
    if is_rendition_key(key) {
        return error(StatusCode::BAD_REQUEST, format!("{RESERVED}: revoke that key"));
    }
    let generation = match tokens::revoke(&app.store, key).await {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(stream = key, "cannot revoke the stream key's tokens: {e}");
            return error(StatusCode::SERVICE_UNAVAILABLE, "cannot record the revocation in the store; try again");
        }
    };
    tracing::info!(stream = key, generation, "publish tokens revoked");
    let stopped = stop_live(app, key).await;
    Json(json!({ "streamKey": key, "generation": generation, "stopped": stopped })).into_response()
}

/// The drain state: `{"draining", "liveStreams"}`.
fn drain_json(app: &App) -> Response {
    Json(json!({ "draining": app.is_draining(), "liveStreams": app.live_count() })).into_response()
}

/// `POST /api/v1/drain`: stop taking new publishes (streams already live go on) and fail
/// `/ready`, so load balancers send new encoders elsewhere. Kubernetes' `preStop` calls it
/// (`rapidrtmp drain`); only a restart ends it.
pub async fn drain(State(app): State<Arc<App>>) -> Response {
    if app.start_draining() {
        tracing::info!(live_streams = app.live_count(), "draining: new publishes are refused");
    }
    drain_json(&app)
}

/// `GET /api/v1/drain`: whether the node is draining, and how many streams are still live.
pub async fn drain_status(State(app): State<Arc<App>>) -> Response {
    drain_json(&app)
}

/// Why a stream key gets no outputs: `None` when it may have them.
fn output_key_refused(key: &str) -> Option<Response> {
    if !valid_name(key) {
        return Some(error(StatusCode::BAD_REQUEST, "stream keys are 1-64 of [A-Za-z0-9_-]"));
    }
    is_rendition_key(key).then(|| error(StatusCode::BAD_REQUEST, format!("{RESERVED}: set outputs on that key")))
}

/// `POST /api/v1/streams/{key}/outputs` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputRequest {
    /// `rtmp://host/app/key` or `rtmps://…`.
    url: String,
}

/// `PATCH /api/v1/streams/{key}/outputs/{id}` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputPatch {
    /// Whether the output forwards.
    enabled: bool,
}

/// A new output id: 16 hex digits.
fn output_id() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the OS random source works");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The answer to a failed change of a stream's outputs.
fn outputs_failed(key: &str, e: restream::outputs::UpdateError<(StatusCode, String)>) -> Response {
    match e {
        restream::outputs::UpdateError::Refused((status, why)) => error(status, why),
        restream::outputs::UpdateError::Store(e) => {
            tracing::warn!(stream = key, "restream outputs: {e}");
            error(StatusCode::SERVICE_UNAVAILABLE, "the store did not take the change; try again")
        }
    }
}

/// `GET /api/v1/streams/{key}/outputs`: the stream's outputs, stream keys masked, with their
/// status while the stream is published on this node.
pub async fn list_outputs(State(app): State<Arc<App>>, Path(key): Path<String>) -> Response {
    if let Some(r) = output_key_refused(&key) {
        return r;
    }
    match app.writers.restream.list(&key).await {
        Ok(outputs) => Json(json!({ "streamKey": key, "outputs": outputs })).into_response(),
        Err(e) => {
            tracing::warn!(stream = %key, "restream outputs: {e}");
            error(StatusCode::SERVICE_UNAVAILABLE, "the store did not answer; try again")
        }
    }
}

/// `POST /api/v1/streams/{key}/outputs` with `{"url": "rtmp://host/app/key"}`: adds an output
/// (at most [`restream::MAX_OUTPUTS`]); it forwards at once if the stream is live here, and on
/// any node that publishes the stream.
pub async fn add_output(State(app): State<Arc<App>>, Path(key): Path<String>, body: axum::body::Bytes) -> Response {
    if let Some(r) = output_key_refused(&key) {
        return r;
    }
    let req: OutputRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid request body: {e}")),
    };
    let url = match OutputUrl::parse(&req.url) {
        Ok(u) => u,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("url: {e}")),
    };
    let record = OutputRecord { id: output_id(), url: req.url, enabled: true, created_at: now_ms() };
    let added = restream::outputs::update(&app.store, &key, |file| {
        if file.outputs.len() >= restream::MAX_OUTPUTS {
            let why = format!("a stream has at most {} outputs", restream::MAX_OUTPUTS);
            return Err((StatusCode::CONFLICT, why));
        }
        if file.outputs.iter().any(|o| o.url == record.url) {
            return Err((StatusCode::CONFLICT, "the stream already has an output to this URL".into()));
        }
        file.outputs.push(record.clone());
        Ok(())
    })
    .await;
    if let Err(e) = added {
        return outputs_failed(&key, e);
    }
    app.writers.restream.changed(&key);
    tracing::info!(stream = %key, output = %record.id, destination = %url.destination(), "output added");
    (StatusCode::CREATED, Json(restream::view(&record.id, &url, true, false, None))).into_response()
}

/// Refuses changes to a `--restream-url` output.
fn flag_output(id: &str) -> Option<Response> {
    id.starts_with("flag-").then(|| {
        error(StatusCode::BAD_REQUEST, "this output is set by --restream-url on the node; change the flag instead")
    })
}

/// `PATCH /api/v1/streams/{key}/outputs/{id}` with `{"enabled": false}` (or `true`).
pub async fn patch_output(
    State(app): State<Arc<App>>,
    Path((key, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = output_key_refused(&key).or_else(|| flag_output(&id)) {
        return r;
    }
    let req: OutputPatch = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid request body: {e}")),
    };
    let changed = restream::outputs::update(&app.store, &key, |file| {
        let Some(o) = file.outputs.iter_mut().find(|o| o.id == id) else {
            return Err((StatusCode::NOT_FOUND, "no such output".into()));
        };
        o.enabled = req.enabled;
        Ok(o.clone())
    })
    .await;
    let record = match changed {
        Ok(r) => r,
        Err(e) => return outputs_failed(&key, e),
    };
    app.writers.restream.changed(&key);
    let Ok(url) = record.parsed() else { return error(StatusCode::CONFLICT, "the stored output's URL is not usable") };
    tracing::info!(stream = %key, output = %id, destination = %url.destination(), enabled = req.enabled, "output changed");
    Json(restream::view(&record.id, &url, record.enabled, false, None)).into_response()
}

/// `DELETE /api/v1/streams/{key}/outputs/{id}`: the output stops at once and is removed.
pub async fn delete_output(State(app): State<Arc<App>>, Path((key, id)): Path<(String, String)>) -> Response {
    if let Some(r) = output_key_refused(&key).or_else(|| flag_output(&id)) {
        return r;
    }
    let removed = restream::outputs::update(&app.store, &key, |file| {
        let before = file.outputs.len();
        file.outputs.retain(|o| o.id != id);
        if file.outputs.len() == before {
            return Err((StatusCode::NOT_FOUND, "no such output".into()));
        }
        Ok(())
    })
    .await;
    if let Err(e) = removed {
        return outputs_failed(&key, e);
    }
    app.writers.restream.changed(&key);
    tracing::info!(stream = %key, output = %id, "output removed");
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /api/v1/webhooks` body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookRequest {
    url: String,
}

/// A webhook endpoint as the API lists it: never its secret.
fn webhook_json(record: &crate::webhooks::endpoints::EndpointRecord) -> serde_json::Value {
    json!({
        "id": record.id,
        "url": record.url,
        "createdAt": iso8601(record.created_at_ms),
        "disabled": record.disabled,
    })
}

fn webhooks_failed(e: crate::store::StoreError) -> Response {
    tracing::warn!("cannot read or write the webhook endpoints: {e}");
    error(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable, try again")
}

/// Adds a webhook endpoint with a new secret, answered once.
pub async fn add_webhook(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    use crate::webhooks::endpoints::{self, EndpointRecord, MAX_ENDPOINTS};
    let req: WebhookRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid request body: {e}")),
    };
    if let Err(e) = crate::local_http::Url::parse(&req.url) {
        return error(StatusCode::BAD_REQUEST, format!("url: {e:#}"));
    }
    match endpoints::list(&app.store).await {
        Ok(all) if all.len() >= MAX_ENDPOINTS => {
            return error(StatusCode::CONFLICT, format!("at most {MAX_ENDPOINTS} webhook endpoints"));
        }
        Ok(_) => {}
        Err(e) => return webhooks_failed(e),
    }
    let (_, secret) = crate::webhooks::sign::Secret::generate();
    let id = format!("wh_{}", crate::webhooks::random_hex(8));
    let record = EndpointRecord { id, url: req.url, secret, created_at_ms: now_ms(), disabled: None };
    if let Err(e) = endpoints::put(&app.store, &record).await {
        return webhooks_failed(e);
    }
    tracing::info!(webhook = %record.id, "webhook endpoint added");
    let mut answer = webhook_json(&record);
    answer["secret"] = json!(record.secret);
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// Lists the webhook endpoints: this node's `--webhook-url` one and the stored ones.
pub async fn list_webhooks(State(app): State<Arc<App>>) -> Response {
    let stored = match crate::webhooks::endpoints::list(&app.store).await {
        Ok(all) => all,
        Err(e) => return webhooks_failed(e),
    };
    let mut all = Vec::new();
    if let Some((url, _)) = &app.settings.webhooks.flag_endpoint {
        let id = crate::webhooks::endpoints::flag_id(url);
        all.push(json!({ "id": id, "url": url.to_string(), "source": "flag" }));
    }
    all.extend(stored.iter().map(webhook_json));
    Json(json!({ "webhooks": all })).into_response()
}

/// Removes a stored webhook endpoint (its pending deliveries are dropped).
pub async fn delete_webhook(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    use crate::webhooks::endpoints;
    if id.starts_with("flag-") {
        return error(StatusCode::CONFLICT, "this endpoint is set by --webhook-url: change the node's flags");
    }
    match endpoints::get(&app.store, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such webhook endpoint"),
        Err(e) => return webhooks_failed(e),
    }
    if let Err(e) = endpoints::remove(&app.store, &id).await {
        return webhooks_failed(e);
    }
    tracing::info!(webhook = %id, "webhook endpoint removed");
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_pages_say_what_is_wrong() {
        assert_eq!(recordings_page(None), Ok((DEFAULT_RECORDINGS_PAGE, None)));
        assert_eq!(recordings_page(Some("limit=5&cursor=17")), Ok((5, Some("17".into()))));
        for (bad, says) in [
            ("limit=0", "limit must be"),
            ("limit=101", "limit must be"),
            ("limit=x", "limit must be"),
            ("limit=1&limit=2", "twice"),
            ("cursor=../x", "cursor"),
            ("page=2", "unknown parameter"),
        ] {
            assert!(recordings_page(Some(bad)).unwrap_err().contains(says), "{bad}");
        }
        let mut ids = ["20", "3", "100"];
        ids.sort_by_key(|id| session_order(id));
        assert_eq!(ids, ["3", "20", "100"]);
    }
}

/// The answer to a failed edit of the playback policy.
fn policy_error(e: crate::playback::EditError) -> Response {
    use crate::playback::EditError;
    match e {
        EditError::Refused(why) => error(StatusCode::BAD_REQUEST, why),
        EditError::Contended => error(StatusCode::CONFLICT, e.to_string()),
        EditError::Store(e) => {
            tracing::warn!("playback policy not written: {e}");
            error(StatusCode::SERVICE_UNAVAILABLE, "the store did not answer")
        }
    }
}

/// `POST /api/v1/signing-keys` body.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SigningKeyRequest {
    #[serde(default)]
    alg: Option<crate::playback::Algorithm>,
}

/// Makes a playback signing key (`ES256` unless `{"alg":"EdDSA"}`): answers its private JWK,
/// once; only the public one is kept, in the store's playback policy.
pub async fn add_signing_key(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let req: SigningKeyRequest = match body.is_empty() {
        true => SigningKeyRequest::default(),
        false => match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid request body ({{\"alg\":\"ES256\"|\"EdDSA\"}}): {e}"),
                )
            }
        },
    };
    let alg = req.alg.unwrap_or(crate::playback::Algorithm::ES256);
    match crate::playback::add_key(&app.store, alg).await {
        Ok(private) => {
            app.playback.forget();
            let kid = private["kid"].clone();
            (StatusCode::CREATED, Json(json!({ "kid": kid, "privateJwk": private }))).into_response()
        }
        Err(e) => policy_error(e),
    }
}

/// Lists the playback signing keys (public JWKs).
pub async fn list_signing_keys(State(app): State<Arc<App>>) -> Response {
    match app.store.get(layout::PLAYBACK_POLICY).await {
        Ok(None) => Json(json!({ "keys": [] })).into_response(),
        Ok(Some(bytes)) => match serde_json::from_slice::<rapidrtmp_core::edge::auth::PolicyObject>(&bytes) {
            Ok(policy) => Json(json!({ "keys": policy.keys })).into_response(),
            Err(e) => {
                error(StatusCode::INTERNAL_SERVER_ERROR, format!("{} does not parse: {e}", layout::PLAYBACK_POLICY))
            }
        },
        Err(e) => {
            tracing::warn!("playback policy not read: {e}");
            error(StatusCode::SERVICE_UNAVAILABLE, "the store did not answer")
        }
    }
}

/// Removes a playback signing key: every token it signed is refused on every edge within
/// [`layout::PLAYBACK_POLICY_MAX_AGE_S`].
pub async fn delete_signing_key(State(app): State<Arc<App>>, Path(kid): Path<String>) -> Response {
    match crate::playback::remove_key(&app.store, &kid).await {
        Ok(true) => {
            app.playback.forget();
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no signing key {kid}")),
        Err(e) => policy_error(e),
    }
}

/// `PUT /api/v1/streams/{key}/playback` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaybackSetting {
    playback: rapidrtmp_core::edge::auth::Playback,
}

/// Sets a stream's (or group's) playback: `public` or `signed`.
pub async fn set_playback(State(app): State<Arc<App>>, Path(key): Path<String>, body: axum::body::Bytes) -> Response {
    if !valid_name(&key) {
        return error(StatusCode::BAD_REQUEST, "stream key must be 1-64 of [A-Za-z0-9_-]");
    }
    let req: PlaybackSetting = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid request body ({{\"playback\":\"public\"|\"signed\"}}): {e}"),
            )
        }
    };
    match crate::playback::set_playback(&app.store, &key, req.playback).await {
        Ok(()) => {
            app.playback.forget();
            Json(json!({ "streamKey": key, "playback": req.playback })).into_response()
        }
        Err(e) => policy_error(e),
    }
}

/// `POST /api/v1/streams/{key}/playback-token` body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PlaybackTokenRequest {
    #[serde(default = "default_ttl")]
    ttl_seconds: u64,
}

/// Mints a playback token for a stream (or group) with the node's own signing key.
pub async fn playback_token(
    State(app): State<Arc<App>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !valid_name(&key) {
        return error(StatusCode::BAD_REQUEST, "stream key must be 1-64 of [A-Za-z0-9_-]");
    }
    let req: PlaybackTokenRequest = match body.is_empty() {
        true => PlaybackTokenRequest { ttl_seconds: default_ttl() },
        false => match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid request body: {e}")),
        },
    };
    if req.ttl_seconds == 0 || req.ttl_seconds > MAX_TTL_SECONDS {
        return error(StatusCode::BAD_REQUEST, "ttlSeconds must be 1 to 31536000");
    }
    match crate::playback::mint(&app.store, &key, now_ms() / 1000, req.ttl_seconds).await {
        Ok(token) => {
            app.playback.forget();
            let host = request_host(&headers);
            let port = app.settings.http_addr.port();
            // The multivariant playlist: the media playlists a player then reloads are the
            // signed ones every viewer shares, so a CDN collapses their blocking reloads.
            let playback_url = format!("http://{host}:{port}/live/{key}/master.m3u8?token={token}");
            Json(json!({ "token": token, "playbackUrl": playback_url, "expiresIn": req.ttl_seconds })).into_response()
        }
        Err(e) => policy_error(e),
    }
}

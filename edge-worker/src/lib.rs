//! RapidRTMP's HLS edge as a Cloudflare Worker: an adapter of the core's edge driver
//! ([`EdgeDriver`]), which decides every answer exactly as the node's edge does.
//!
//! The driver asks for objects; this adapter reads them from the R2 binding `BUCKET` when it is
//! bound, otherwise from the S3-compatible origin at `ORIGIN_URL` (path-style base URL of the
//! bucket and prefix), signed with SigV4 when
//! `ORIGIN_ACCESS_KEY_ID` and `ORIGIN_SECRET_ACCESS_KEY` are set (region `ORIGIN_REGION`,
//! default `us-east-1`). Init and media segments are immutable: they are kept in the Workers
//! Cache. Errors are never cached.
//!
//! With `ORIGIN_LIVE_URL` (the ingest node's HTTP address), the live edge is asked of the node:
//! media playlists (Low-Latency, blocking requests included) and the init segments, segments and
//! parts of chunks the store does not have yet (the open segment); its answers are passed on
//! unchanged. Without it, standard HLS from the store.
//!
//! Bytes cross the boundary of the WASM memory once each way: an object is read into it once
//! ([`read_body`], R2's own `bytes`), and an answer's body leaves it once ([`body_of`]): a cached
//! segment and the answer that builds it share that copy, and a range leaves as only its bytes.
//!
//! `MAX_CLIP_SECONDS` is the longest clip (`/live/{stream}/clip.mp4`) it makes [default: 600].
//!
//! Who may play what is the store's playback policy (`keys/playback.json`), read at most every
//! [`PLAYBACK_POLICY_MAX_AGE_S`] per isolate and handed to the driver
//! ([`EdgeDriver::with_playback`]): signed streams are checked here as on the node, with no
//! store read per request.
//!
//! An error answer says what failed in words (the driver's, and `INTERNAL_ERROR`); what
//! the store, the runtime or the SDK said goes to the Worker's log (`console.error`), never to
//! the client.

use rapidrtmp_core::clip::DEFAULT_MAX_CLIP;
use rapidrtmp_core::edge::driver::http_answer;
use rapidrtmp_core::edge::{
    self, sigv4, Answer, EdgeDriver, Fetched, Method, OriginAnswer, Outcome, PlaybackRequest, Sources, Step,
};
use std::cell::RefCell;
use std::rc::Rc;

use rapidrtmp_core::edge::auth::PlaybackPolicy;
use rapidrtmp_core::layout::{PLAYBACK_POLICY, PLAYBACK_POLICY_MAX_AGE_S};
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{event, web_sys, Cache, Context, Env, Fetch, Headers, Request, RequestInit, Response, Result};

/// Largest object read from the origin.
const MAX_OBJECT_LEN: usize = 256 << 20;

/// The words of a 500 when the Worker itself failed to answer.
const INTERNAL_ERROR: &str = "edge internal error";

/// Why the origin could not answer: for the log only.
struct OriginError(String);

async fn read_r2(env: &Env, key: &str) -> std::result::Result<Option<Vec<u8>>, OriginError> {
    let bucket = env.bucket("BUCKET").map_err(|e| OriginError(format!("R2 binding: {e}")))?;
    let object = match bucket.get(key).execute().await {
        Ok(Some(o)) => o,
        Ok(None) => return Ok(None),
        Err(e) => return Err(OriginError(format!("R2 get {key}: {e}"))),
    };
    if object.size() as usize > MAX_OBJECT_LEN {
        return Err(OriginError(format!("{key} is larger than {MAX_OBJECT_LEN} bytes")));
    }
    let body = object.body().ok_or_else(|| OriginError(format!("R2 object {key} has no body")))?;
    body.bytes().await.map(Some).map_err(|e| OriginError(format!("R2 read {key}: {e}")))
}

/// The body of a fetched response, read once into a WASM buffer of its length (the worker crate's
/// `Response::bytes` copies each piece of the stream twice, into a growing buffer).
async fn read_body(resp: Response) -> Result<Vec<u8>> {
    let resp = web_sys::Response::from(resp);
    let buffer = JsFuture::from(resp.array_buffer()?).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// A response whose body is `bytes`: their one copy out of the WASM memory.
fn body_of(bytes: &[u8]) -> Result<Response> {
    let array = Uint8Array::from(bytes);
    let resp = web_sys::Response::new_with_opt_buffer_source_and_init(Some(&array), &web_sys::ResponseInit::new())?;
    Ok(Response::from(resp))
}

/// The longest clip, milliseconds: `MAX_CLIP_SECONDS` (1 to [`MAX_CLIP_LIMIT_S`]), else
/// [`DEFAULT_MAX_CLIP`]; a value out of range is logged and the default taken.
fn max_clip_ms(env: &Env) -> u64 {
    let Some(value) = var(env, "MAX_CLIP_SECONDS") else { return DEFAULT_MAX_CLIP };
    match value.trim().parse::<u64>() {
        Ok(s @ 1..=MAX_CLIP_LIMIT_S) => s * 1000,
        _ => {
            worker::console_error!("MAX_CLIP_SECONDS={value:?}: expected 1 to {MAX_CLIP_LIMIT_S} seconds");
            DEFAULT_MAX_CLIP
        }
    }
}

/// The largest `MAX_CLIP_SECONDS` taken: a day, as `rapidrtmp edge --max-clip`.
const MAX_CLIP_LIMIT_S: u64 = 86_400;

/// The most bytes of stored chunks a clip holds: `MAX_CLIP_MB` (1 to [`MAX_CLIP_MB_LIMIT`]), else
/// [`DEFAULT_CLIP_MB`]; a value out of range is logged and the default taken.
fn max_clip_bytes(env: &Env) -> u64 {
    let Some(value) = var(env, "MAX_CLIP_MB") else { return DEFAULT_CLIP_MB << 20 };
    match value.trim().parse::<u64>() {
        Ok(mb @ 1..=MAX_CLIP_MB_LIMIT) => mb << 20,
        _ => {
            worker::console_error!("MAX_CLIP_MB={value:?}: expected 1 to {MAX_CLIP_MB_LIMIT} MiB");
            DEFAULT_CLIP_MB << 20
        }
    }
}

/// `MAX_CLIP_MB` when unset: an isolate has 128 MB, and a clip is there three times (its
/// chunks, the file, the file's copy out of WASM memory).
const DEFAULT_CLIP_MB: u64 = 32;
/// The largest `MAX_CLIP_MB` taken: three times it leaves an isolate's 128 MB room for the
/// rest.
const MAX_CLIP_MB_LIMIT: u64 = 32;

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string()).or_else(|| env.secret(name).ok().map(|v| v.to_string()))
}

async fn read_origin(env: &Env, key: &str) -> std::result::Result<Option<Vec<u8>>, OriginError> {
    let base =
        var(env, "ORIGIN_URL").ok_or_else(|| OriginError("neither BUCKET nor ORIGIN_URL is configured".into()))?;
    let url = worker::Url::parse(&format!("{}/{key}", base.trim_end_matches('/')))
        .map_err(|e| OriginError(format!("ORIGIN_URL: {e}")))?;
    let headers = Headers::new();
    if let (Some(id), Some(secret)) = (var(env, "ORIGIN_ACCESS_KEY_ID"), var(env, "ORIGIN_SECRET_ACCESS_KEY")) {
        let region = var(env, "ORIGIN_REGION").unwrap_or_else(|| "us-east-1".into());
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let date = sigv4::amz_date(worker::Date::now().as_millis());
        let creds = sigv4::Credentials { access_key_id: &id, secret_access_key: &secret, region: &region };
        let auth = sigv4::authorization(&creds, &host, url.path(), &date, &[]);
        let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| OriginError(format!("{e}")));
        set("x-amz-date", &date)?;
        set("x-amz-content-sha256", sigv4::EMPTY_SHA256)?;
        set("authorization", &auth)?;
    }
    let mut init = RequestInit::new();
    init.with_method(worker::Method::Get).with_headers(headers);
    let request = Request::new_with_init(url.as_str(), &init).map_err(|e| OriginError(format!("{e}")))?;
    let resp = Fetch::Request(request).send().await.map_err(|e| OriginError(format!("origin: {e}")))?;
    match resp.status_code() {
        200 => {}
        404 => return Ok(None),
        s => return Err(OriginError(format!("origin answered {s} for {key}"))),
    }
    let len = resp.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<usize>().ok());
    if len.is_some_and(|l| l > MAX_OBJECT_LEN) {
        return Err(OriginError(format!("{key} is larger than {MAX_OBJECT_LEN} bytes")));
    }
    let body = read_body(resp).await.map_err(|e| OriginError(format!("origin read {key}: {e}")))?;
    if body.len() > MAX_OBJECT_LEN {
        return Err(OriginError(format!("{key} is larger than {MAX_OBJECT_LEN} bytes")));
    }
    Ok(Some(body))
}

/// Asks the ingest node at `base` (`ORIGIN_LIVE_URL`) for `path_and_query`; `None` when it
/// cannot be reached.
async fn read_live(base: &str, path_and_query: &str) -> Option<OriginAnswer> {
    let url = format!("{}{path_and_query}", base.trim_end_matches('/'));
    let resp = match Fetch::Url(worker::Url::parse(&url).ok()?).send().await {
        Ok(r) => r,
        Err(e) => {
            worker::console_warn!("live origin {url}: {e}");
            return None;
        }
    };
    let status = resp.status_code();
    let cache_control = resp.headers().get("cache-control").ok().flatten();
    let body = read_body(resp).await.ok().filter(|b| b.len() <= MAX_OBJECT_LEN)?;
    Some(OriginAnswer { status, cache_control, body })
}

async fn read_object(env: &Env, key: &str) -> std::result::Result<Option<Vec<u8>>, OriginError> {
    if env.bucket("BUCKET").is_ok() {
        read_r2(env, key).await
    } else {
        read_origin(env, key).await
    }
}

thread_local! {
    /// The playback policy this isolate read last, and when (ms since the Unix epoch).
    static POLICY: RefCell<Option<(u64, Rc<PlaybackPolicy>)>> = const { RefCell::new(None) };
}

/// The store's playback policy, read again when older than [`PLAYBACK_POLICY_MAX_AGE_S`]; the
/// last one read while the store does not answer (or holds one that does not parse); `None`
/// when none was ever read and the store does not answer.
async fn playback_policy(env: &Env, now_ms: u64) -> Option<Rc<PlaybackPolicy>> {
    let max_age_ms = PLAYBACK_POLICY_MAX_AGE_S * 1000;
    let kept = POLICY.with(|p| p.borrow().clone());
    if let Some((at, policy)) = &kept {
        if now_ms.saturating_sub(*at) < max_age_ms {
            return Some(policy.clone());
        }
    }
    let read = match read_object(env, PLAYBACK_POLICY).await {
        Ok(None) => Ok(PlaybackPolicy::public()),
        Ok(Some(bytes)) => PlaybackPolicy::parse(&bytes).map_err(|e| e.to_string()),
        Err(OriginError(detail)) => Err(detail),
    };
    match read {
        Ok(policy) => {
            let policy = Rc::new(policy);
            POLICY.with(|p| *p.borrow_mut() = Some((now_ms, policy.clone())));
            Some(policy)
        }
        Err(detail) => {
            worker::console_error!("playback policy {PLAYBACK_POLICY} not read: {detail}; keeping the last one read");
            kept.map(|(_, policy)| policy)
        }
    }
}

/// Writes the driver's answer; `cached`, a Workers Cache hit (or the entry just cached) that goes
/// out as it is, is its body. Otherwise the bytes to send leave the WASM memory once, a range
/// as only its bytes.
fn worker_response(answer: Answer, cached: Option<Response>) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in &answer.headers {
        headers.set(name, value)?;
    }
    let status = answer.status;
    let resp = match cached {
        Some(hit) => hit,
        None if answer.send.is_empty() => Response::empty()?,
        None => body_of(answer.sent())?,
    };
    Ok(resp.with_status(status).with_headers(headers))
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    match answer(req, &env).await {
        Ok(r) => Ok(r),
        Err(e) => {
            worker::console_error!("request failed: {e}");
            let failed = edge::Response::error(500, INTERNAL_ERROR.into());
            worker_response(http_answer(failed, Method::Get, None, Outcome::default()), None)
        }
    }
}

/// Answers a playback request: the core's edge driver decides, this adapter fetches what it
/// asks for (objects from the store, the live origin, the Workers Cache) and writes its answer.
async fn answer(req: Request, env: &Env) -> Result<Response> {
    let url = req.url()?;
    let header = |name: &str| req.headers().get(name);
    let (range, if_none_match, origin) = (header("range")?, header("if-none-match")?, header("origin")?);
    let request = PlaybackRequest {
        method: Method::from_name(req.method().as_ref()),
        path: url.path(),
        query: url.query(),
        range: range.as_deref(),
        if_none_match: if_none_match.as_deref(),
        origin: origin.as_deref(),
        now_ms: Some(worker::Date::now().as_millis()),
        max_clip_ms: max_clip_ms(env),
        max_clip_bytes: max_clip_bytes(env),
    };
    let live = var(env, "ORIGIN_LIVE_URL");
    let mut driver = EdgeDriver::new(&request, Sources { live_edge: false, live_origin: live.is_some(), cache: true });
    match playback_policy(env, request.now_ms.unwrap_or_default()).await {
        Some(policy) => driver = driver.with_playback(&policy),
        None => {
            let failed = http_answer(edge::Response::store_unavailable(), request.method, None, Outcome::default());
            return worker_response(failed, None);
        }
    }
    let cache = Cache::default();
    let cache_key = format!("{}://{}{}", url.scheme(), url.host_str().unwrap_or_default(), url.path());
    let mut hit = None;
    loop {
        match driver.next() {
            Step::LiveEdge { .. } => driver.live_edge_answered(None),
            Step::LiveOrigin { path_and_query } => {
                let answer = match &live {
                    Some(base) => read_live(base, path_and_query).await,
                    None => None,
                };
                driver.origin_answered(answer);
            }
            Step::Cache => match cache.get(cache_key.as_str(), true).await {
                // The cached body streams straight through, never copied into WASM memory.
                Ok(Some(cached)) if driver.cached_whole() => hit = Some(cached),
                Ok(Some(cached)) => driver.cached(Some(read_body(cached).await?)),
                Ok(None) => driver.cached(None),
                Err(e) => {
                    worker::console_warn!("cache get failed: {e}");
                    driver.cached(None);
                }
            },
            Step::Fetch { key } => match read_object(env, key).await {
                Ok(object) => driver.fetched(Fetched::from(object)),
                Err(OriginError(detail)) => {
                    worker::console_error!("origin store read failed: {detail}");
                    driver.fetched(Fetched::Unavailable);
                }
            },
            Step::Done => break,
        }
    }
    let answer = driver.finish();
    if answer.outcome.cacheable {
        let headers = Headers::new();
        for name in ["content-type", "cache-control"] {
            headers.set(name, answer.header(name).unwrap_or_default())?;
        }
        let mut entry = body_of(&answer.body)?.with_headers(headers);
        // A GET of the whole body is answered with the entry's own copy (a tee of its stream).
        if answer.send == (0..answer.body.len()) {
            hit = Some(entry.cloned()?);
        }
        if let Err(e) = cache.put(cache_key.as_str(), entry).await {
            worker::console_warn!("cache put failed: {e}");
        }
    }
    worker_response(answer, hit)
}

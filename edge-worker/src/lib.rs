//! RapidRTMP's HLS edge as a Cloudflare Worker.
//!
//! Each request is answered by the core's edge logic ([`rapidrtmp_core::edge`]) from one object
//! (and, for a multitrack stream's multivariant playlist, its renditions' manifests):
//! read from the R2 binding `BUCKET` when it is bound, otherwise from the S3-compatible origin at
//! `ORIGIN_URL` (path-style base URL of the bucket and prefix), signed with SigV4 when
//! `ORIGIN_ACCESS_KEY_ID` and `ORIGIN_SECRET_ACCESS_KEY` are set (region `ORIGIN_REGION`,
//! default `us-east-1`). Init and media segments are immutable: they are kept in the Workers
//! Cache. Errors are never cached.
//!
//! With `ORIGIN_LIVE_URL` (the ingest node's HTTP address), the live edge is asked of the node:
//! media playlists (Low-Latency, blocking requests included) and the init segments, segments and
//! parts of chunks the store does not have yet (the open segment); its answers are passed on
//! unchanged. Without it, standard HLS from the store.
//!
//! An error answer says what failed in words (`STORE_UNAVAILABLE`, `INTERNAL_ERROR`); what
//! the store, the runtime or the SDK said goes to the Worker's log (`console.error`), never to
//! the client.

use rapidrtmp_core::edge::{self, parse_range, sigv4, LiveOrigin, RangeRequest, Route, STORE_UNAVAILABLE};
use worker::{event, Cache, Context, Env, Fetch, Headers, Method, Request, RequestInit, Response, Result};

/// Largest object read from the origin.
const MAX_OBJECT_LEN: usize = 256 << 20;

/// The body of a 500 when the Worker itself failed to answer.
const INTERNAL_ERROR: &str = "edge internal error\n";

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
    init.with_method(Method::Get).with_headers(headers);
    let request = Request::new_with_init(url.as_str(), &init).map_err(|e| OriginError(format!("{e}")))?;
    let mut resp = Fetch::Request(request).send().await.map_err(|e| OriginError(format!("origin: {e}")))?;
    match resp.status_code() {
        200 => {}
        404 => return Ok(None),
        s => return Err(OriginError(format!("origin answered {s} for {key}"))),
    }
    let len = resp.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<usize>().ok());
    if len.is_some_and(|l| l > MAX_OBJECT_LEN) {
        return Err(OriginError(format!("{key} is larger than {MAX_OBJECT_LEN} bytes")));
    }
    let body = resp.bytes().await.map_err(|e| OriginError(format!("origin read {key}: {e}")))?;
    if body.len() > MAX_OBJECT_LEN {
        return Err(OriginError(format!("{key} is larger than {MAX_OBJECT_LEN} bytes")));
    }
    Ok(Some(body))
}

/// Asks the ingest node at `ORIGIN_LIVE_URL`, if set, for `path_and_query`; `None` without it
/// or when it cannot be reached.
async fn read_live(env: &Env, route: &Route, path_and_query: &str) -> Option<edge::Response> {
    let base = var(env, "ORIGIN_LIVE_URL")?;
    let url = format!("{}{path_and_query}", base.trim_end_matches('/'));
    let mut resp = match Fetch::Url(worker::Url::parse(&url).ok()?).send().await {
        Ok(r) => r,
        Err(e) => {
            worker::console_warn!("live origin {url}: {e}");
            return None;
        }
    };
    let status = resp.status_code();
    let cache_control = resp.headers().get("cache-control").ok().flatten().unwrap_or_else(|| edge::CACHE_NONE.into());
    let body = resp.bytes().await.ok().filter(|b| b.len() <= MAX_OBJECT_LEN)?;
    let content_type = if status == 200 { route.content_type() } else { "text/plain; charset=utf-8" };
    Some(edge::Response { status, content_type, cache_control: cache_control.into(), body })
}

async fn read_object(env: &Env, key: &str) -> std::result::Result<Option<Vec<u8>>, OriginError> {
    if env.bucket("BUCKET").is_ok() {
        read_r2(env, key).await
    } else {
        read_origin(env, key).await
    }
}

fn cors(headers: &Headers) -> Result<()> {
    headers.set("access-control-allow-origin", "*")?;
    headers.set("access-control-allow-methods", "GET, HEAD, OPTIONS")?;
    headers.set("access-control-allow-headers", "Range")?;
    headers.set("access-control-expose-headers", "Content-Length, Content-Range, Age")
}

/// A response with the edge's headers; a `Range` on a 200 turns it into 206 or 416.
fn respond(r: edge::Response, method: &Method, range: Option<&str>) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", r.content_type)?;
    headers.set("cache-control", &r.cache_control)?;
    cors(&headers)?;
    let len = r.body.len() as u64;
    let (status, body) = if r.status == 200 {
        headers.set("accept-ranges", "bytes")?;
        match parse_range(range, len) {
            RangeRequest::Whole => (200, r.body),
            RangeRequest::Part { start, end } => {
                headers.set("content-range", &format!("bytes {start}-{end}/{len}"))?;
                (206, r.body[start as usize..=end as usize].to_vec())
            }
            RangeRequest::Unsatisfiable => {
                headers.set("content-range", &format!("bytes */{len}"))?;
                (416, Vec::new())
            }
        }
    } else {
        if r.status == 503 {
            headers.set("retry-after", &edge::RETRY_AFTER_S.to_string())?;
        }
        (r.status, r.body)
    };
    let resp = if *method == Method::Head {
        headers.set("content-length", &body.len().to_string())?;
        Response::empty()?
    } else {
        Response::from_bytes(body)?
    };
    Ok(resp.with_status(status).with_headers(headers))
}

/// An uncached error answer: `status` with `body` (words, never an error's own text).
fn failure(status: u16, body: &str) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "text/plain; charset=utf-8")?;
    headers.set("cache-control", edge::CACHE_NONE)?;
    if status == 503 {
        headers.set("retry-after", &edge::RETRY_AFTER_S.to_string())?;
    }
    cors(&headers)?;
    Ok(Response::from_bytes(body.as_bytes().to_vec())?.with_status(status).with_headers(headers))
}

/// Logs why the origin store could not be read; the client gets a 503 that says only that.
fn unavailable(OriginError(detail): OriginError) -> Result<Response> {
    worker::console_error!("origin store read failed: {detail}");
    failure(503, STORE_UNAVAILABLE)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    match serve(req, &env).await {
        Ok(r) => Ok(r),
        Err(e) => {
            worker::console_error!("request failed: {e}");
            failure(500, INTERNAL_ERROR)
        }
    }
}

async fn serve(req: Request, env: &Env) -> Result<Response> {
    let method = req.method();
    if method == Method::Options {
        let headers = Headers::new();
        cors(&headers)?;
        return Ok(Response::empty()?.with_status(204).with_headers(headers));
    }
    if method != Method::Get && method != Method::Head {
        let headers = Headers::new();
        headers.set("allow", "GET, HEAD, OPTIONS")?;
        return Ok(Response::empty()?.with_status(405).with_headers(headers));
    }
    let url = req.url()?;
    let range = req.headers().get("range")?;
    let Some(route) = Route::parse(url.path()) else {
        return respond(edge::Response::not_found(), &method, None);
    };
    if let Some(refused) = edge::refused_query(&route, url.query()) {
        return respond(refused, &method, None);
    }
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    if route.live_origin() == LiveOrigin::First {
        if let Some(live) = read_live(env, &route, &path_and_query).await {
            return respond(live, &method, range.as_deref());
        }
    }
    let immutable = route.is_immutable();
    let cache = Cache::default();
    let cache_key = format!("{}://{}{}", url.scheme(), url.host_str().unwrap_or_default(), url.path());
    if immutable {
        let hit = cache.get(cache_key.as_str(), true).await.unwrap_or_else(|e| {
            worker::console_warn!("cache get failed: {e}");
            None
        });
        if let Some(mut hit) = hit {
            if range.is_none() && method == Method::Get {
                // The cached body streams straight through, never copied into WASM memory.
                let headers = Headers::new();
                headers.set("content-type", route.content_type())?;
                headers.set("cache-control", edge::CACHE_IMMUTABLE)?;
                headers.set("accept-ranges", "bytes")?;
                cors(&headers)?;
                return Ok(hit.with_status(200).with_headers(headers));
            }
            let body = hit.bytes().await?;
            let cached = edge::Response {
                status: 200,
                content_type: route.content_type(),
                cache_control: edge::CACHE_IMMUTABLE.into(),
                body,
            };
            return respond(cached, &method, range.as_deref());
        }
    }
    let object = match read_object(env, &route.object_key()).await {
        Ok(o) => o,
        Err(e) => return unavailable(e),
    };
    let from_live = match (&object, route.live_origin()) {
        (None, LiveOrigin::WhenNotStored) => read_live(env, &route, &path_and_query).await,
        _ => None,
    };
    let response = match from_live {
        Some(r) => r,
        None => {
            let mut renditions = Vec::new();
            for key in edge::rendition_keys(&route, object.as_deref()) {
                match read_object(env, &key).await {
                    Ok(o) => renditions.push(o),
                    Err(e) => return unavailable(e),
                }
            }
            let renditions: Vec<Option<&[u8]>> = renditions.iter().map(|o| o.as_deref()).collect();
            edge::respond(&route, object.as_deref(), &renditions)
        }
    };
    if immutable && response.status == 200 {
        let headers = Headers::new();
        headers.set("content-type", response.content_type)?;
        headers.set("cache-control", &response.cache_control)?;
        let entry = Response::from_bytes(response.body.clone())?.with_headers(headers);
        if let Err(e) = cache.put(cache_key.as_str(), entry).await {
            worker::console_warn!("cache put failed: {e}");
        }
    }
    respond(response, &method, range.as_deref())
}

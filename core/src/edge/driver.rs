//! The request flow of every edge, sans-IO: one [`EdgeDriver`] per playback request says what
//! it needs next ([`Step`]), takes what the adapter fetched, and returns the complete HTTP
//! answer ([`Answer`]: status, every header, body), ranges and `HEAD` included.
//!
//! An adapter (the ingest node's edge, `rapidrtmp edge`, the Cloudflare Worker) only fetches and
//! writes:
//!
//! ```text
//! let mut driver = EdgeDriver::new(&request, sources);
//! loop {
//!     match driver.next() {
//!         Step::LiveEdge { route, query } => driver.live_edge_answered(/* this process's live edge */),
//!         Step::LiveOrigin { path_and_query } => driver.origin_answered(/* GET from the origin */),
//!         Step::Cache => driver.cached(/* the adapter's cache of immutable answers */),
//!         Step::Fetch { key } => driver.fetched(/* the store object */),
//!         Step::Done => break,
//!     }
//! }
//! let answer = driver.finish();
//! ```
//!
//! The flow, in order (each step only where it applies):
//!
//! 1. `OPTIONS` is a 204 (CORS preflight); a method other than `GET` and `HEAD` a 405 with
//!    `Allow`; a path that is no [`Route`] a 404; refused blocking-request parameters a 400.
//! 2. [`Step::LiveEdge`]: the LL-HLS live edge of a stream this process publishes, asked first.
//! 3. [`Step::LiveOrigin`] for the routes the live origin has first ([`LiveOrigin::First`]).
//! 4. [`Step::Cache`] for immutable routes, where the adapter keeps a cache.
//!
//! An adapter that keeps built answers itself and shares each build among concurrent requests
//! of the same key ([`EdgeDriver::with_cache_first`]: the node and `rapidrtmp edge`) is asked
//! [`Step::Cache`] first, before step 2, for every route that has a [`EdgeDriver::cache_key`];
//! it answers with [`EdgeDriver::cached_answer`] (a kept answer, with its own `Cache-Control`
//! and its `Age`, or one built for the key by another driver that took the steps above), and
//! what it may keep, and for how long, is [`shared_max_age_s`] of the answer's
//! `Cache-Control`.
//! 5. [`Step::Fetch`] of the route's object, then of its renditions' manifests, one at a time.
//! 6. [`Step::LiveOrigin`] when the store lacks the object ([`LiveOrigin::WhenNotStored`]).
//! 7. The response built from the objects ([`respond`]); a store that does not answer is a 503.
//!
//! A clip ([`Route::Clip`]) fetches the manifest, the archive's buckets of its window, then its
//! chunks ([`archive::clip_chunks`]), and its answer writes only the bytes it sends
//! ([`crate::clip::Clip::write_range`]); it has no [`EdgeDriver::cache_key`].

use alloc::{borrow::Cow, string::String, string::ToString, vec::Vec};
use core::ops::Range;

use super::archive::{self, ClipChunks};
use super::auth::{child_query, PlaybackPolicy, UriSigner};
use super::live::PlaylistQuery;
use super::range::{parse_range, RangeRequest};
use super::response::{rendition_keys, respond, Response, CACHE_IMMUTABLE, CACHE_NONE, RETRY_AFTER_S, TEXT_TYPE};
use super::route::{LiveOrigin, Route, MP4_TYPE as MP4_TYPE_CLIP};
use crate::clip::{attachment, build_clip, ClipBody, ClipError, DEFAULT_MAX_CLIP, DEFAULT_MAX_CLIP_BYTES};
use crate::date::iso8601;

/// The `route` name of requests that are no route (for metrics).
pub const UNROUTED: &str = "live";
/// The methods of playback (`Allow` of a 405, and of CORS).
pub const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";
/// The CORS headers of every playback answer: any page may play (Fetch standard, §3.2.3).
pub const CORS_HEADERS: [(&str, &str); 4] = [
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", ALLOWED_METHODS),
    ("access-control-allow-headers", "Range"),
    ("access-control-expose-headers", "Content-Length, Content-Range, Age"),
];

/// The method of a request, as far as playback goes (RFC 9110 §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: the answer to `GET` without its body.
    Head,
    /// `OPTIONS`: a CORS preflight.
    Options,
    /// Any other method: 405.
    Other,
}

impl Method {
    /// The method named `name` (method names are case-sensitive, RFC 9110 §9.1).
    pub fn from_name(name: &str) -> Self {
        match name {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "OPTIONS" => Self::Options,
            _ => Self::Other,
        }
    }
}

/// A playback request: what of it the answer depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaybackRequest<'a> {
    /// The method.
    pub method: Method,
    /// The path (`/live/...`), without the query.
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// The `Range` header (RFC 9110 §14.2).
    pub range: Option<&'a str>,
    /// The `If-None-Match` header. No answer carries an `ETag`, so it never matches: the
    /// request is answered in full (RFC 9110 §13.1.2).
    pub if_none_match: Option<&'a str>,
    /// The `Origin` header. Any origin may play ([`CORS_HEADERS`]), so the answer does not
    /// depend on it.
    pub origin: Option<&'a str>,
    /// The adapter's clock, milliseconds since the Unix epoch: the archive's playlists
    /// (windows, recordings) and clips are answered as of then. `None`: they are refused (500).
    pub now_ms: Option<u64>,
    /// The longest clip this edge makes, milliseconds (`--max-clip`, the Worker's
    /// `MAX_CLIP_SECONDS`; [`DEFAULT_MAX_CLIP`] unless configured).
    pub max_clip_ms: u64,
    /// The most bytes of stored chunks a clip may hold (`--clip-memory-mb`, the Worker's
    /// `MAX_CLIP_MB`; [`DEFAULT_MAX_CLIP_BYTES`] unless configured): a clip whose chunks are
    /// larger is refused (400) before one is read.
    pub max_clip_bytes: u64,
}

impl<'a> PlaybackRequest<'a> {
    /// A request of `method` for `path` and `query`, with none of the headers.
    pub fn new(method: Method, path: &'a str, query: Option<&'a str>) -> Self {
        Self {
            method,
            path,
            query,
            range: None,
            if_none_match: None,
            origin: None,
            now_ms: None,
            max_clip_ms: DEFAULT_MAX_CLIP,
            max_clip_bytes: DEFAULT_MAX_CLIP_BYTES,
        }
    }
}

/// What an adapter can ask besides its store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sources {
    /// A live edge of its own: the ingest node, for the streams it publishes.
    pub live_edge: bool,
    /// A live origin to forward to (`rapidrtmp edge --origin`, the Worker's `ORIGIN_LIVE_URL`).
    pub live_origin: bool,
    /// A cache of immutable answers (the Worker's Workers Cache).
    pub cache: bool,
}

/// What the driver needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'d> {
    /// Ask this process's live edge for `route` (the node, for a stream it publishes): answer
    /// with [`EdgeDriver::live_edge_answered`] (`None` where the store has the answer).
    LiveEdge {
        /// The route.
        route: &'d Route,
        /// The query string.
        query: Option<&'d str>,
    },
    /// Forward the request to the live origin (`GET` of `path_and_query`): answer with
    /// [`EdgeDriver::origin_answered`].
    LiveOrigin {
        /// The path and query to ask for.
        path_and_query: &'d str,
    },
    /// Look the request up in the adapter's cache of immutable answers: answer with
    /// [`EdgeDriver::cached`] (or [`EdgeDriver::cached_whole`]); with
    /// [`EdgeDriver::with_cache_first`], of every answer by [`EdgeDriver::cache_key`], also with
    /// [`EdgeDriver::cached_answer`].
    Cache,
    /// Fetch the store object `key`: answer with [`EdgeDriver::fetched`].
    Fetch {
        /// The store key.
        key: &'d str,
    },
    /// Everything is known: [`EdgeDriver::finish`] gives the answer.
    Done,
}

/// A store read's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The object's bytes.
    Found(Vec<u8>),
    /// The store does not have it.
    Missing,
    /// The store did not answer (the adapter logs why).
    Unavailable,
}

impl From<Option<Vec<u8>>> for Fetched {
    fn from(object: Option<Vec<u8>>) -> Self {
        object.map_or(Self::Missing, Self::Found)
    }
}

/// The live origin's answer, passed on unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginAnswer {
    /// Its status.
    pub status: u16,
    /// Its `Cache-Control` (`no-store` when absent).
    pub cache_control: Option<String>,
    /// Its body.
    pub body: Vec<u8>,
}

/// What the adapter counts of an answer (the node's metrics and recent viewers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The route's name ([`Route::name`], [`UNROUTED`] for a path that is none or a refused
    /// method); `None` for a CORS preflight, which is not counted.
    pub route: Option<&'static str>,
    /// The status of the response before a range was taken from it.
    pub status: u16,
    /// An init segment, segment or part was built from a stored chunk (a 200).
    pub segment_built: bool,
    /// The stream whose media playlist was served (a 200): a viewer.
    pub viewer_of: Option<String>,
    /// A 200 of an immutable route that did not come from the adapter's cache: the adapter may
    /// keep [`Answer::body`] (with its `content-type` and `cache-control`).
    pub cacheable: bool,
}

/// The complete HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// Every header, lowercase names, in the order they are written.
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    /// The whole response body, before a range is taken from it; of a clip, only the bytes
    /// sent (a clip is written from its chunks a range at a time, never whole for a range).
    pub body: Vec<u8>,
    /// The bytes of [`Answer::body`] to send (a range of it; empty for `HEAD` and 416).
    pub send: Range<usize>,
    /// What the adapter counts.
    pub outcome: Outcome,
}

impl Answer {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| &**v)
    }

    /// The bytes to send.
    pub fn sent(&self) -> &[u8] {
        self.body.get(self.send.clone()).unwrap_or_default()
    }

    /// The bytes to send, owned: the body cut to its range in place, with no second copy.
    pub fn into_sent(self) -> Vec<u8> {
        let Range { start, end } = self.send;
        let mut body = self.body;
        body.truncate(end);
        body.drain(..start.min(body.len()));
        body
    }
}

/// Where the driver is.
#[derive(Debug)]
enum State {
    /// Ask the adapter's cache of every answer, first ([`EdgeDriver::with_cache_first`]).
    CacheFirst,
    /// Ask the live edge.
    LiveEdge,
    /// Ask the live origin before the store.
    OriginFirst,
    /// Ask the adapter's cache.
    Cache,
    /// Fetch the route's object.
    Object,
    /// Fetch rendition `n`.
    Rendition(usize),
    /// Ask the live origin: the store lacks the object.
    OriginNotStored,
    /// Build the response from the objects.
    Build,
    /// The response is known.
    Answered(Response),
    /// A cached body goes out as it is.
    CachedWhole,
    /// A CORS preflight.
    Preflight,
    /// A method playback does not allow.
    NotAllowed,
}

/// The request flow of one playback request (see the [module](self) documentation).
#[derive(Debug)]
pub struct EdgeDriver {
    method: Method,
    range: Option<String>,
    query: Option<String>,
    path_and_query: String,
    sources: Sources,
    route: Option<Route>,
    object_key: String,
    state: State,
    object: Option<Vec<u8>>,
    rendition_keys: Vec<String>,
    renditions: Vec<Option<Vec<u8>>>,
    from_cache: bool,
    /// The adapter's cache is asked first, for every route with a cache key.
    cache_first: bool,
    /// Seconds a cached answer was kept (its `Age` header).
    age_s: Option<u64>,
    /// The adapter's clock ([`PlaybackRequest::now_ms`]).
    now_ms: u64,
    /// The longest clip ([`PlaybackRequest::max_clip_ms`]).
    max_clip_ms: u64,
    /// The largest clip ([`PlaybackRequest::max_clip_bytes`]).
    max_clip_bytes: u64,
    /// A clip's chunks, once its buckets are read; they are fetched into
    /// `renditions[clip_from..]`.
    clip: Option<ClipChunks>,
    clip_from: usize,
    /// A signed stream's playlist: what signs its child URIs ([`EdgeDriver::with_playback`]).
    signer: Option<UriSigner>,
}

impl EdgeDriver {
    /// The driver of `request` at an adapter with `sources`.
    pub fn new(request: &PlaybackRequest<'_>, sources: Sources) -> Self {
        Self::driver(request, sources, false)
    }

    /// The driver of `request` at an adapter with `sources` that keeps built answers of every
    /// route for as long as their `Cache-Control` allows, and shares one build among concurrent
    /// requests of the same [`EdgeDriver::cache_key`]: it asks [`Step::Cache`] first, before the
    /// live edge, the live origin and the store (the later [`Step::Cache`] of
    /// [`Sources::cache`] is then not asked again).
    pub fn with_cache_first(request: &PlaybackRequest<'_>, sources: Sources) -> Self {
        Self::driver(request, sources, true)
    }

    fn driver(request: &PlaybackRequest<'_>, sources: Sources, cache_first: bool) -> Self {
        let path_and_query = match request.query {
            Some(q) => alloc::format!("{}?{q}", request.path),
            None => request.path.to_string(),
        };
        let mut driver = Self {
            method: request.method,
            range: request.range.map(String::from),
            query: request.query.map(String::from),
            path_and_query,
            sources,
            route: None,
            object_key: String::new(),
            state: State::Build,
            object: None,
            rendition_keys: Vec::new(),
            renditions: Vec::new(),
            from_cache: false,
            cache_first,
            age_s: None,
            now_ms: request.now_ms.unwrap_or(0),
            max_clip_ms: request.max_clip_ms,
            max_clip_bytes: request.max_clip_bytes,
            clip: None,
            clip_from: 0,
            signer: None,
        };
        driver.state = match request.method {
            Method::Options => State::Preflight,
            Method::Other => State::NotAllowed,
            Method::Get | Method::Head => {
                match Route::parse(request.path)
                    .map(|r| r.with_window(request.query, request.now_ms.unwrap_or(u64::MAX)))
                {
                    None => State::Answered(Response::not_found()),
                    Some(Err(why)) => State::Answered(Response::error(400, why)),
                    Some(Ok(route)) if route.is_archive() && request.now_ms.is_none() => {
                        driver.route = Some(route);
                        State::Answered(Response::error(500, "this edge gave the archive no clock".into()))
                    }
                    Some(Ok(route)) => {
                        let refused =
                            refused_query(&route, request.query).or_else(|| too_long(&route, request.max_clip_ms));
                        driver.object_key = route.object_key();
                        driver.route = Some(route);
                        match refused {
                            Some(refused) => State::Answered(refused),
                            None => driver.after(State::CacheFirst),
                        }
                    }
                }
            }
        };
        driver
    }

    /// Checks the request against the store's playback `policy` ([`crate::layout::PLAYBACK_POLICY`]),
    /// before anything is asked: a public stream goes on as before; a signed stream's request
    /// needs a valid token (`?token=`, on playlists) or child URI signature (`?sig=`, anywhere),
    /// else it is refused (401 without either, 403 otherwise; never cached). A granted
    /// playlist's child URIs are signed in the answer ([`UriSigner::sign_playlist`]), and the
    /// request goes on (to the cache, the live origin) under the signature of the current
    /// bucket in place of the viewer's token, so every viewer's request is the same one.
    pub fn with_playback(mut self, policy: &PlaybackPolicy) -> Self {
        let Some(route) = &self.route else { return self };
        if matches!(self.state, State::Answered(_) | State::Preflight | State::NotAllowed) {
            return self;
        }
        let now_s = self.now_ms / 1000;
        let refused = match policy.authorize(route.stream(), None, self.query.as_deref(), route.takes_token(), now_s) {
            Ok(None) => return self,
            Ok(Some(grant)) => match grant.claims {
                Some(claims) if !claims.covers(route.times_ms(self.now_ms)) => {
                    Some(super::auth::Refusal::OutsideWindow)
                }
                _ => None,
            },
            Err(refusal) => Some(refusal),
        };
        if let Some(refusal) = refused {
            self.state = State::Answered(Response::error(refusal.status(), refusal.message().into()));
            return self;
        }
        if let Some(signer) = policy.uri_signer(now_s).filter(|_| route.is_playlist()) {
            let path = self.path_and_query.split_once('?').map_or(&*self.path_and_query, |(p, _)| p);
            self.path_and_query =
                alloc::format!("{path}?{}", child_query(self.query.as_deref(), &signer.sign(route.stream())));
            self.signer = Some(signer);
        }
        self
    }

    /// The route of the request, once parsed (`None` for a path that is no route).
    pub fn route(&self) -> Option<&Route> {
        self.route.as_ref()
    }

    /// The key of this request's answer in a cache of answers: the path for immutable routes
    /// (whatever the query, the object is the same), the path and query for playlists (LL-HLS
    /// `_HLS_msn`, `_HLS_part` and `_HLS_skip` ask for different answers); `None` for a request
    /// that is no route.
    /// A clip has none: it is large, and each is asked for rarely.
    pub fn cache_key(&self) -> Option<&str> {
        let route = self.route.as_ref().filter(|r| !matches!(r, Route::Clip { .. }))?;
        Some(match route.is_immutable() {
            true => self.path_and_query.split_once('?').map_or(&*self.path_and_query, |(path, _)| path),
            false => &self.path_and_query,
        })
    }

    /// What the driver needs next.
    pub fn next(&self) -> Step<'_> {
        match (&self.state, &self.route) {
            (State::CacheFirst, _) => Step::Cache,
            (State::LiveEdge, Some(route)) => Step::LiveEdge { route, query: self.query.as_deref() },
            (State::OriginFirst | State::OriginNotStored, _) => {
                Step::LiveOrigin { path_and_query: &self.path_and_query }
            }
            (State::Cache, _) => Step::Cache,
            (State::Object, _) => Step::Fetch { key: &self.object_key },
            (State::Rendition(n), _) => match self.rendition_keys.get(*n) {
                Some(key) => Step::Fetch { key },
                None => Step::Done,
            },
            _ => Step::Done,
        }
    }

    /// The answer of this process's live edge to [`Step::LiveEdge`]; `None` where the store has
    /// the answer (or the process does not publish the stream).
    pub fn live_edge_answered(&mut self, answer: Option<Response>) {
        if matches!(self.state, State::LiveEdge) {
            self.state = match answer {
                Some(response) => State::Answered(response),
                None => self.after(State::OriginFirst),
            };
        }
    }

    /// The live origin's answer to [`Step::LiveOrigin`]; `None` when it did not answer (the
    /// adapter logs why): the store's answer is given instead.
    pub fn origin_answered(&mut self, answer: Option<OriginAnswer>) {
        let next = match self.state {
            State::OriginFirst => State::Cache,
            State::OriginNotStored => State::Build,
            _ => return,
        };
        self.state = match (answer, &self.route) {
            (Some(answer), Some(route)) => State::Answered(passed_on(route, answer)),
            _ => self.after(next),
        };
    }

    /// The adapter's cache's answer to [`Step::Cache`]: the whole body of the cached 200, or
    /// `None` on a miss.
    ///
    /// With [`EdgeDriver::with_cache_first`], a hit is of an immutable route only (a playlist's
    /// kept answer has its own `Cache-Control`: [`EdgeDriver::cached_answer`]), and a miss goes
    /// on to the live edge.
    pub fn cached(&mut self, hit: Option<Vec<u8>>) {
        let miss = match self.state {
            State::Cache => State::Object,
            State::CacheFirst => State::LiveEdge,
            _ => return,
        };
        self.state = match (hit, &self.route) {
            (Some(body), Some(route)) if route.is_immutable() => {
                self.from_cache = true;
                State::Answered(Response::ok(route.content_type(), CACHE_IMMUTABLE, body))
            }
            _ => self.after(miss),
        };
    }

    /// The adapter's answer to [`Step::Cache`] from its cache of whole answers: `response`, as
    /// it was built (status, `Content-Type`, `Cache-Control`, body) for a request of the same
    /// [`EdgeDriver::cache_key`], kept for `age_s` seconds (the answer's `Age`, RFC 9111 §5.1,
    /// so that a cache after this one keeps it no longer than its `max-age` allows), or `None`
    /// when it was built for another request waiting with this one (no `Age`). Ranges and
    /// `HEAD` are answered from it as from a built one.
    pub fn cached_answer(&mut self, response: Response, age_s: Option<u64>) {
        if matches!(self.state, State::Cache | State::CacheFirst) && self.route.is_some() {
            self.from_cache = true;
            self.age_s = age_s;
            self.state = State::Answered(response);
        }
    }

    /// On a cache hit, whether the cached body can go out as it is (a `GET` without `Range`):
    /// then the answer has no body and no `content-length`, and the adapter sends the cached
    /// body (its length with it), never copying it. `false` when the driver needs the bytes
    /// ([`EdgeDriver::cached`]).
    pub fn cached_whole(&mut self) -> bool {
        let whole = matches!(self.state, State::Cache | State::CacheFirst)
            && self.route.as_ref().is_some_and(Route::is_immutable)
            && self.method == Method::Get
            && self.range.is_none();
        if whole {
            self.from_cache = true;
            self.state = State::CachedWhole;
        }
        whole
    }

    /// The store keys the driver will ask for after the one [`EdgeDriver::next`] asks for now,
    /// in order, as far as they are known (a clip's chunks, once its buckets are read): an
    /// adapter may start reading them at once and answer each [`Step::Fetch`] from what it
    /// read. The list only grows at its end; the driver may stop before asking for them all.
    pub fn upcoming_keys(&self) -> &[String] {
        match self.state {
            State::Rendition(n) => self.rendition_keys.get(n.saturating_add(1)..).unwrap_or_default(),
            _ => &[],
        }
    }

    /// The bytes of stored chunks the clip asked for holds, once its chunks are known (before
    /// the first is fetched): what an adapter counts against the memory its clips may hold at
    /// once. `None` for any other request, and for a clip before then.
    pub fn clip_bytes(&self) -> Option<u64> {
        self.clip.as_ref().map(ClipChunks::bytes)
    }

    /// The adapter's own answer in place of what is left to do (a limit of its own, such as
    /// the memory its clips may hold at once); it is the answer [`EdgeDriver::finish`] gives.
    pub fn refuse(&mut self, response: Response) {
        if !matches!(self.state, State::Preflight | State::NotAllowed | State::CachedWhole) {
            self.state = State::Answered(response);
        }
    }

    /// The store's answer to [`Step::Fetch`].
    pub fn fetched(&mut self, fetched: Fetched) {
        let object = match fetched {
            Fetched::Found(bytes) => Some(bytes),
            Fetched::Missing => None,
            Fetched::Unavailable => {
                if matches!(self.state, State::Object | State::Rendition(_)) {
                    self.state = State::Answered(Response::store_unavailable());
                }
                return;
            }
        };
        match (&self.state, &self.route) {
            (State::Object, Some(route)) => {
                self.rendition_keys = rendition_keys(route, object.as_deref());
                self.object = object;
                self.state = match self.archive_keys() {
                    Ok(()) => self.after(State::Rendition(0)),
                    Err(answer) => State::Answered(answer),
                };
            }
            (State::Rendition(n), _) => {
                let n = n.saturating_add(1);
                self.renditions.push(object);
                self.state = match self.archive_keys() {
                    Ok(()) => self.after(State::Rendition(n)),
                    Err(answer) => State::Answered(answer),
                };
            }
            _ => {}
        }
    }

    /// For an archive playlist, adds the further objects it needs now that one more is
    /// fetched ([`archive::more_keys`]), or gives its answer when that is known already.
    /// For a clip, once every bucket part is read, adds its chunks.
    fn archive_keys(&mut self) -> Result<(), Response> {
        let Some(route) = self.route.as_ref().filter(|r| r.is_archive() && self.clip.is_none()) else {
            return Ok(());
        };
        let more: Vec<Option<&[u8]>> = self.renditions.iter().map(|o| o.as_deref()).collect();
        let last_key = more.len().checked_sub(1).and_then(|n| self.rendition_keys.get(n)).map(String::as_str);
        let keys = archive::more_keys(route, self.object.as_deref(), &more, last_key, self.now_ms)?;
        self.rendition_keys.extend(keys);
        if matches!(route, Route::Clip { .. }) && more.len() == self.rendition_keys.len() {
            let chunks = archive::clip_chunks(route, self.object.as_deref(), &more, self.now_ms)?;
            if let Some(refused) = too_large(route, &chunks, self.max_clip_bytes) {
                return Err(refused);
            }
            self.rendition_keys.extend(chunks.keys(route.stream()));
            self.clip_from = more.len();
            self.clip = Some(chunks);
            // The buckets are read: only the chunks are needed now.
            self.renditions.iter_mut().for_each(|bucket| *bucket = None);
        }
        Ok(())
    }

    /// The complete answer, once [`EdgeDriver::next`] says [`Step::Done`] (before, the answer
    /// is built from what was given so far).
    pub fn finish(self) -> Answer {
        let method = self.method;
        let (mut answer, clip) = self.finish_streamed();
        let Some(clip) = clip else { return answer };
        let len = usize::try_from(clip.remaining()).unwrap_or(usize::MAX);
        let mut body = Vec::new();
        let written = match body.try_reserve_exact(len) {
            Ok(()) => clip.write_all(&mut body).map_err(|e| Response::error(500, alloc::format!("{e}"))),
            Err(_) => Err(Response::error(503, alloc::format!("no memory for a clip of {len} bytes"))),
        };
        match written {
            Ok(()) => {
                answer.send = 0..body.len();
                answer.body = body;
                answer
            }
            Err(failed) => {
                let outcome = Outcome { route: Some("clip"), status: failed.status, ..Outcome::default() };
                http_answer(failed, method, None, outcome)
            }
        }
    }

    /// [`EdgeDriver::finish`], with a clip's bytes left to write: for a clip's `GET` (its 200 or
    /// 206), the [`Answer`] has every header but no body, and the [`ClipBody`] writes the bytes
    /// a block at a time as they are sent, so that the file is never in memory whole beside
    /// its chunks.
    pub fn finish_streamed(self) -> (Answer, Option<ClipBody>) {
        let (method, age_s) = (self.method, self.age_s);
        let range = self.range.clone();
        if let (Some(_), State::Build | State::Rendition(_) | State::OriginNotStored) = (&self.clip, &self.state) {
            return self.clip_answer(range.as_deref());
        }
        let signer = self.signer.clone();
        let path = self.path_and_query.split_once('?').map_or(&*self.path_and_query, |(p, _)| p).to_string();
        match self.finish_response() {
            Ok((mut response, outcome)) => {
                if let (Some(signer), 200) = (&signer, response.status) {
                    sign_children(signer, &path, &mut response);
                }
                let mut answer = http_answer(response, method, range.as_deref(), outcome);
                if let Some(age) = age_s {
                    answer.headers.push(("age", age.to_string().into()));
                }
                (answer, None)
            }
            Err(answer) => (answer, None),
        }
    }

    /// The response, before HTTP (what a cache of answers keeps: status, `Content-Type`,
    /// `Cache-Control`, the whole body), once [`EdgeDriver::next`] says [`Step::Done`]; the
    /// HTTP answer itself where there is no response to keep (a CORS preflight, a 405, a cached
    /// body that goes out as it is).
    pub fn finish_response(self) -> Result<(Response, Outcome), Answer> {
        let route = self.route.as_ref();
        let name = route.map_or(UNROUTED, Route::name);
        let mut segment_built = false;
        let response = match self.state {
            State::Preflight => {
                // RFC 9110 §15.3.5: a 204 has no content, and no Content-Length.
                let headers = CORS_HEADERS.iter().map(|&(n, v)| (n, Cow::Borrowed(v))).collect();
                let outcome = Outcome { route: None, status: 204, ..Outcome::default() };
                return Err(Answer { status: 204, headers, body: Vec::new(), send: 0..0, outcome });
            }
            State::NotAllowed => {
                let mut headers =
                    alloc::vec![("allow", Cow::Borrowed(ALLOWED_METHODS)), ("content-length", "0".into())];
                headers.extend(CORS_HEADERS.iter().map(|&(n, v)| (n, Cow::Borrowed(v))));
                let outcome = Outcome { route: Some(UNROUTED), status: 405, ..Outcome::default() };
                return Err(Answer { status: 405, headers, body: Vec::new(), send: 0..0, outcome });
            }
            State::CachedWhole => {
                let content_type = route.map_or(TEXT_TYPE, Route::content_type);
                let mut headers = alloc::vec![
                    ("content-type", Cow::Borrowed(content_type)),
                    ("cache-control", Cow::Borrowed(CACHE_IMMUTABLE)),
                    ("accept-ranges", Cow::Borrowed("bytes")),
                ];
                headers.extend(CORS_HEADERS.iter().map(|&(n, v)| (n, Cow::Borrowed(v))));
                let outcome = Outcome { route: Some(name), status: 200, ..Outcome::default() };
                return Err(Answer { status: 200, headers, body: Vec::new(), send: 0..0, outcome });
            }
            State::Answered(response) => response,
            // What is left to build is built from what was given: a step not taken is an
            // object not found.
            _ => match route {
                Some(route) => {
                    let renditions: Vec<Option<&[u8]>> = self.renditions.iter().map(|o| o.as_deref()).collect();
                    let response = match (route, &self.clip) {
                        (Route::Clip { .. }, Some(chunks)) => match self.build_clip(chunks) {
                            Ok((clip, inputs)) => match clip.to_vec(&inputs) {
                                Ok(body) => Response::ok(route.content_type(), CACHE_IMMUTABLE, body),
                                Err(e) => clip_refused(route, chunks, &e),
                            },
                            Err(refused) => refused,
                        },
                        (Route::Clip { .. }, None) => Response::not_found(),
                        _ if route.is_archive() => {
                            archive::respond(route, self.object.as_deref(), &renditions, self.now_ms)
                        }
                        _ => respond(route, self.object.as_deref(), &renditions),
                    };
                    segment_built = response.status == 200
                        && matches!(route, Route::Init { .. } | Route::Segment { .. } | Route::Part { .. });
                    response
                }
                None => Response::not_found(),
            },
        };
        let outcome = Outcome {
            route: Some(name),
            status: response.status,
            segment_built,
            viewer_of: route
                .filter(|r| matches!(r, Route::MediaPlaylist { .. }) && response.status == 200)
                .map(|r| r.stream().into()),
            cacheable: response.status == 200 && route.is_some_and(Route::is_immutable) && !self.from_cache,
        };
        Ok((response, outcome))
    }

    /// The clip of the fetched chunks, and the chunks; `Err` is the answer.
    fn build_clip<'s>(&'s self, chunks: &ClipChunks) -> Result<(crate::clip::Clip, Vec<&'s [u8]>), Response> {
        let route = self.route.as_ref().ok_or_else(Response::not_found)?;
        let mut inputs = Vec::with_capacity(chunks.entries.len());
        for (i, c) in chunks.entries.iter().enumerate() {
            match self.renditions.get(self.clip_from + i).and_then(Option::as_deref) {
                Some(bytes) => inputs.push(bytes),
                None => {
                    return Err(Response::error(
                        404,
                        alloc::format!(
                            "chunk {} of session {} (from {}) is no longer in the store",
                            c.sequence,
                            c.session,
                            iso8601(c.wall_clock_ms)
                        ),
                    ))
                }
            }
        }
        match build_clip(&inputs, chunks.start_ms, chunks.end_ms, self.max_clip_ms) {
            Ok(clip) => Ok((clip, inputs)),
            Err(e) => Err(clip_refused(route, chunks, &e)),
        }
    }

    /// The HTTP answer of a clip, and the bytes it sends: only those are written
    /// ([`crate::clip::Clip::write_range`]), from the chunks, as they are sent (a `HEAD` none).
    fn clip_answer(mut self, range: Option<&str>) -> (Answer, Option<ClipBody>) {
        let outcome = |status| Outcome { route: Some("clip"), status, ..Outcome::default() };
        let built = self.clip.as_ref().map(|chunks| self.build_clip(chunks).map(|(clip, _)| clip));
        let clip = match built {
            Some(Ok(clip)) => clip,
            Some(Err(refused)) => {
                let status = refused.status;
                return (http_answer(refused, self.method, range, outcome(status)), None);
            }
            None => return (http_answer(Response::not_found(), self.method, range, outcome(404)), None),
        };
        let head = answer_head(200, MP4_TYPE_CLIP, Cow::Borrowed(CACHE_IMMUTABLE), clip.len, range);
        let mut headers = head.headers;
        if let Some(Route::Clip { filename: Some(name), .. }) = &self.route {
            if let (Ok(value), 200 | 206) = (attachment(name), head.status) {
                headers.insert(2, ("content-disposition", value.into()));
            }
        }
        let body = (self.method != Method::Head && head.send.start < head.send.end).then(|| {
            // Every chunk is there: the clip was built from them.
            let chunks = self.renditions.drain(self.clip_from..).map(Option::unwrap_or_default).collect();
            ClipBody::new(clip, chunks, head.send)
        });
        (Answer { status: head.status, headers, body: Vec::new(), send: 0..0, outcome: outcome(200) }, body)
    }

    /// `state`, or the first state after it that applies to this request.
    fn after(&self, state: State) -> State {
        let Some(route) = &self.route else { return State::Build };
        let mut state = state;
        loop {
            state = match state {
                State::CacheFirst if !self.cache_first => State::LiveEdge,
                State::LiveEdge if !self.sources.live_edge => State::OriginFirst,
                State::OriginFirst if !(self.sources.live_origin && route.live_origin() == LiveOrigin::First) => {
                    State::Cache
                }
                State::Cache if self.cache_first || !(self.sources.cache && route.is_immutable()) => State::Object,
                State::Rendition(n) if n >= self.rendition_keys.len() => State::OriginNotStored,
                State::OriginNotStored
                    if !(self.object.is_none()
                        && self.sources.live_origin
                        && route.live_origin() == LiveOrigin::WhenNotStored) =>
                {
                    State::Build
                }
                state => return state,
            };
        }
    }
}

/// Signs the child URIs of a signed stream's playlist `response` (of the playlist at `path`),
/// and keeps caches from holding it longer than its signatures' bucket.
fn sign_children(signer: &UriSigner, path: &str, response: &mut Response) {
    let Ok(body) = core::str::from_utf8(&response.body) else { return };
    response.body = signer.sign_playlist(body, path).into_bytes();
    let bucket_s = signer.bucket_s();
    if shared_max_age_s(&response.cache_control).is_some_and(|s| s > bucket_s) {
        response.cache_control = Cow::Owned(alloc::format!("public, max-age={bucket_s}"));
    }
}

/// How long a shared cache may keep an answer whose `Cache-Control` is `cache_control`
/// (RFC 9111 §5.2.2), in seconds: its `s-maxage`, else its `max-age`; `None` (never kept) for
/// `no-store`, `no-cache`, `private`, no lifetime or a lifetime of 0. The status is the
/// caller's to judge (a cache of built answers keeps 200s only).
pub fn shared_max_age_s(cache_control: &str) -> Option<u64> {
    let (mut max_age, mut s_maxage) = (None, None);
    for directive in cache_control.split(',').map(str::trim) {
        let (name, value) = directive.split_once('=').map_or((directive, None), |(n, v)| (n.trim(), Some(v.trim())));
        let seconds = || value.map(|v| v.trim_matches('"')).and_then(|v| v.parse::<u64>().ok());
        if name.eq_ignore_ascii_case("no-store")
            || name.eq_ignore_ascii_case("no-cache")
            || name.eq_ignore_ascii_case("private")
        {
            return None;
        } else if name.eq_ignore_ascii_case("max-age") {
            max_age = seconds();
        } else if name.eq_ignore_ascii_case("s-maxage") {
            s_maxage = seconds();
        }
    }
    s_maxage.or(max_age).filter(|&s| s > 0)
}

/// The answer to a request whose query string `route` refuses, before anything is fetched: a
/// media playlist's blocking-request parameters that [`PlaylistQuery::parse`] refuses (400,
/// with what was wrong), wherever the playlist would come from (a live edge, an origin, the
/// store), so every edge answers the URL alike. `None` for every other request.
pub fn refused_query(route: &Route, query: Option<&str>) -> Option<Response> {
    match route {
        Route::MediaPlaylist { .. } => PlaylistQuery::parse(query).err().map(|why| Response::error(400, why.into())),
        _ => None,
    }
}

/// The 400 of a clip longer than `max_clip_ms`, before anything is read.
fn too_long(route: &Route, max_clip_ms: u64) -> Option<Response> {
    let Route::Clip { start_ms, end_ms, .. } = route else { return None };
    let length = end_ms.saturating_sub(*start_ms);
    (length > max_clip_ms).then(|| {
        Response::error(
            400,
            alloc::format!(
                "the clip from {} to {} lasts {}; clips on this edge are limited to {}",
                iso8601(*start_ms),
                iso8601(*end_ms),
                seconds(length),
                seconds(max_clip_ms)
            ),
        )
    })
}

/// The refusal of a clip whose chunks hold more than `max_bytes`.
fn too_large(route: &Route, chunks: &ClipChunks, max_bytes: u64) -> Option<Response> {
    let Route::Clip { start_ms, end_ms, .. } = route else { return None };
    let bytes = chunks.bytes();
    (bytes > max_bytes).then(|| {
        Response::error(
            400,
            alloc::format!(
                "the clip from {} to {} needs {} of stored media; clips on this edge hold at most {}: ask for a \
                 shorter one",
                iso8601(*start_ms),
                iso8601(*end_ms),
                mebibytes(bytes),
                mebibytes(max_bytes)
            ),
        )
    })
}

/// `bytes` in MiB, to a tenth (`12.5 MiB`), rounded up.
pub fn mebibytes(bytes: u64) -> String {
    let tenths = bytes.saturating_mul(10).div_ceil(1 << 20);
    alloc::format!("{}.{} MiB", tenths / 10, tenths % 10)
}

/// `ms` as seconds (`8.5 s`).
fn seconds(ms: u64) -> String {
    let (s, frac) = (ms / 1000, ms % 1000);
    match frac {
        0 => alloc::format!("{s} s"),
        _ => alloc::format!("{s}.{} s", alloc::format!("{frac:03}").trim_end_matches('0')),
    }
}

/// The answer to a clip the builder refused, its times on the wall clock.
fn clip_refused(route: &Route, chunks: &ClipChunks, e: &ClipError) -> Response {
    let window = match route {
        Route::Clip { start_ms, end_ms, .. } => alloc::format!("from {} to {}", iso8601(*start_ms), iso8601(*end_ms)),
        _ => String::new(),
    };
    let wall = |ms: u64| iso8601(chunks.wall_clock_of(ms));
    let message = match e {
        ClipError::ConfigChanged { at_ms } => alloc::format!(
            "the codec configuration changes at {}, inside the clip {window}; one MP4 file holds one \
             configuration: end the clip before it or start it after",
            wall(*at_ms)
        ),
        ClipError::Gap { from_ms, to_ms } => alloc::format!(
            "the stored media has a gap from {} to {}, inside the clip {window}",
            wall(*from_ms),
            wall(*to_ms)
        ),
        ClipError::TooLong { max_ms, .. } => {
            alloc::format!("the clip {window} is longer than {}, the limit of clips on this edge", seconds(*max_ms))
        }
        ClipError::EmptyWindow { .. } | ClipError::NotCovered { .. } | ClipError::NoFrames => {
            alloc::format!("the store holds no media of stream {} {window}", route.stream())
        }
        e => alloc::format!("the clip {window} of stream {}: {e}", route.stream()),
    };
    // An empty window here is one that lies between two sessions: no media.
    let status = match e {
        ClipError::EmptyWindow { .. } => 404,
        e => e.status(),
    };
    Response::error(status, message)
}

/// The live origin's answer as a response of `route`: its status, `Cache-Control` and body.
fn passed_on(route: &Route, answer: OriginAnswer) -> Response {
    let content_type = if answer.status == 200 { route.content_type() } else { TEXT_TYPE };
    // A header value is visible ASCII, spaces and tabs (RFC 9110 §5.5).
    let cache_control = answer
        .cache_control
        .filter(|v| v.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)))
        .map_or(Cow::Borrowed(CACHE_NONE), Cow::Owned);
    Response { status: answer.status, content_type, cache_control, body: answer.body }
}

/// The HTTP answer of `response` to a `method` request with `range`: a range of a 200 is a 206
/// or a 416 (RFC 9110 §14), `HEAD` has no body and the `Content-Length` of the `GET` (§9.3.2),
/// every 503 a `Retry-After`, every answer the CORS headers.
pub fn http_answer(response: Response, method: Method, range: Option<&str>, outcome: Outcome) -> Answer {
    let Response { status: built, content_type, cache_control, body } = response;
    let total = body.len();
    let head = answer_head(built, content_type, cache_control, u64::try_from(total).unwrap_or(u64::MAX), range);
    // Both are at most the body's length, a usize.
    let at = |n: u64| usize::try_from(n).map_or(total, |n| n.min(total));
    let mut send = at(head.send.start)..at(head.send.end);
    if method == Method::Head {
        send = 0..0;
    }
    Answer { status: head.status, headers: head.headers, body, send, outcome }
}

/// The status, headers and bytes to send of an answer before its body is known.
struct AnswerHead {
    status: u16,
    headers: Vec<(&'static str, Cow<'static, str>)>,
    /// The bytes of the whole body the answer sends (for `HEAD`, those `GET` would).
    send: Range<u64>,
}

/// The head of the answer to a request with `range` of a response of status `built` and a body
/// of `total` bytes: a range of a 200 is a 206 or a 416 (RFC 9110 §14), the `Content-Length` is
/// what a `GET` sends (a `HEAD`'s too, §9.3.2), every 503 has a `Retry-After`, every answer the
/// CORS headers.
fn answer_head(
    built: u16,
    content_type: &'static str,
    cache_control: Cow<'static, str>,
    total: u64,
    range: Option<&str>,
) -> AnswerHead {
    let mut status = built;
    let mut send = 0..total;
    let mut content_range = None;
    if built == 200 {
        match parse_range(range, total) {
            RangeRequest::Whole => {}
            RangeRequest::Part { start, end } => {
                status = 206;
                content_range = Some(alloc::format!("bytes {start}-{end}/{total}"));
                let end = end.saturating_add(1).min(total);
                send = start.min(end)..end;
            }
            RangeRequest::Unsatisfiable => {
                status = 416;
                content_range = Some(alloc::format!("bytes */{total}"));
                send = 0..0;
            }
        }
    }
    let mut headers = alloc::vec![("content-type", Cow::Borrowed(content_type)), ("cache-control", cache_control)];
    headers.push(("content-length", (send.end - send.start).to_string().into()));
    if built == 200 {
        headers.push(("accept-ranges", Cow::Borrowed("bytes")));
    }
    if let Some(content_range) = content_range {
        headers.push(("content-range", content_range.into()));
    }
    if status == 503 {
        headers.push(("retry-after", RETRY_AFTER_S.to_string().into()));
    }
    headers.extend(CORS_HEADERS.iter().map(|&(n, v)| (n, Cow::Borrowed(v))));
    AnswerHead { status, headers, send }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::tests::{avc_header, frame, video};
    use crate::chunk::{ChunkEvent, ChunkWriter, Chunker};
    use crate::edge::{CACHE_NOT_FOUND, STORE_UNAVAILABLE};
    use crate::layout::{chunk_key, manifest_key};
    use crate::manifest::{ChunkEntry, Manifest};
    use alloc::{format, vec};

    /// What the driver asked, in order.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Asked {
        LiveEdge(String),
        Origin(String),
        Cache,
        Fetch(String),
    }

    /// The peers of a driven request: the store, this process's live edge, the live origin,
    /// the cache.
    struct Peers<'a> {
        store: &'a dyn Fn(&str) -> Fetched,
        live_edge: &'a dyn Fn(&Route) -> Option<Response>,
        origin: &'a dyn Fn(&str) -> Option<OriginAnswer>,
        cache: Option<Vec<u8>>,
    }

    fn store_of(objects: &[(String, Vec<u8>)]) -> impl Fn(&str) -> Fetched + '_ {
        move |key| objects.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).into()
    }

    fn drive(request: &PlaybackRequest<'_>, sources: Sources, peers: &Peers<'_>) -> (Vec<Asked>, Answer) {
        run(EdgeDriver::new(request, sources), peers)
    }

    /// Takes `driver`'s steps with `peers` until it answers.
    fn run(mut driver: EdgeDriver, peers: &Peers<'_>) -> (Vec<Asked>, Answer) {
        let asked = steps(&mut driver, peers);
        (asked, driver.finish())
    }

    /// Takes `driver`'s steps with `peers` until it is done; what it asked.
    fn steps(driver: &mut EdgeDriver, peers: &Peers<'_>) -> Vec<Asked> {
        let mut asked = Vec::new();
        for _ in 0..100 {
            match driver.next() {
                Step::LiveEdge { route, .. } => {
                    asked.push(Asked::LiveEdge(route.path()));
                    let answer = (peers.live_edge)(route);
                    driver.live_edge_answered(answer);
                }
                Step::LiveOrigin { path_and_query } => {
                    asked.push(Asked::Origin(path_and_query.into()));
                    let answer = (peers.origin)(path_and_query);
                    driver.origin_answered(answer);
                }
                Step::Cache => {
                    asked.push(Asked::Cache);
                    driver.cached(peers.cache.clone());
                }
                Step::Fetch { key } => {
                    asked.push(Asked::Fetch(key.into()));
                    let fetched = (peers.store)(key);
                    driver.fetched(fetched);
                }
                Step::Done => return asked,
            }
        }
        panic!("the driver never finished: {asked:?}");
    }

    fn nothing_live(_: &Route) -> Option<Response> {
        None
    }

    fn no_origin(path: &str) -> Option<OriginAnswer> {
        panic!("the origin was asked for {path}")
    }

    fn get(path: &str) -> PlaybackRequest<'_> {
        PlaybackRequest::new(Method::Get, path, None)
    }

    /// A GET of `path` from a store of `objects` alone.
    fn from_store(request: &PlaybackRequest<'_>, objects: &[(String, Vec<u8>)]) -> (Vec<Asked>, Answer) {
        let store = store_of(objects);
        let peers = Peers { store: &store, live_edge: &nothing_live, origin: &no_origin, cache: None };
        drive(request, Sources::default(), &peers)
    }

    /// A window reads the manifest, then the bucket it overlaps, then the next part of a full
    /// part, and nothing more; without the adapter's clock it is refused; a bad time is a 400
    /// before any read.
    #[test]
    fn a_window_reads_its_buckets_and_the_next_part_of_a_full_one() {
        use crate::archive::{Bucket, BUCKET_MS, MAX_BUCKET_ENTRIES};
        use crate::layout::bucket_key;
        let t0 = 1_796_570_400_000;
        let mut m = Manifest::new("cam", t0);
        m.state = crate::manifest::StreamState::Ended;
        let entry = |sequence: u64| ChunkEntry {
            session: "s".into(),
            sequence,
            init: "s/init-0.mp4".into(),
            start_ms: 0,
            duration_ms: 100,
            bytes: 1,
            wall_clock_ms: t0 + sequence * 100,
            independent: true,
        };
        let mut full = Bucket::new(t0, 0, None);
        for i in 0..MAX_BUCKET_ENTRIES as u64 {
            full.push(entry(i));
        }
        let mut next = Bucket::new(t0, 1, None);
        next.push(entry(MAX_BUCKET_ENTRIES as u64));
        m.push_chunk(entry(MAX_BUCKET_ENTRIES as u64), 3);
        let objects = vec![
            (manifest_key("cam"), m.to_json()),
            (bucket_key("cam", t0, 0), full.to_json()),
            (bucket_key("cam", t0, 1), next.to_json()),
        ];
        let query = format!("start={}&end={}", t0 / 1000 + 1, t0 / 1000 + 2);
        let request = PlaybackRequest {
            now_ms: Some(t0 + BUCKET_MS),
            ..PlaybackRequest::new(Method::Get, "/live/cam/index.m3u8", Some(&query))
        };
        let (asked, answer) = from_store(&request, &objects);
        let fetched = |keys: &[String]| keys.iter().map(|k| Asked::Fetch(k.clone())).collect::<Vec<_>>();
        assert_eq!(asked, fetched(&[manifest_key("cam"), bucket_key("cam", t0, 0), bucket_key("cam", t0, 1)]));
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        assert_eq!(answer.outcome.route, Some("window"));
        let text = String::from_utf8_lossy(&answer.body);
        assert_eq!(text.matches("#EXTINF:").count(), 10, "chunks 10 to 19: {text}");
        assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD") && text.ends_with("#EXT-X-ENDLIST\n"), "{text}");

        let no_clock = PlaybackRequest::new(Method::Get, "/live/cam/index.m3u8", Some(&query));
        let (asked, answer) = from_store(&no_clock, &objects);
        assert_eq!((asked.len(), answer.status), (0, 500));
        let bad = PlaybackRequest {
            now_ms: Some(t0),
            ..PlaybackRequest::new(Method::Get, "/live/cam/index.m3u8", Some("start=x"))
        };
        let (asked, answer) = from_store(&bad, &objects);
        assert_eq!((asked.len(), answer.status), (0, 400));
        assert!(String::from_utf8_lossy(&answer.body).contains("start=\"x\""));
    }

    const CHUNK: &str = "/live/cam/170/7.flv";
    /// The chunk route answers the stored bytes as they are: what the ranges below are cut from.
    const STORED: &[u8] = b"0123456789";

    fn stored_chunk() -> Vec<(String, Vec<u8>)> {
        vec![(chunk_key("cam", "170", 7), STORED.to_vec())]
    }

    fn cors_of(a: &Answer) -> Vec<(&str, &str)> {
        a.headers.iter().filter(|(n, _)| n.starts_with("access-control-")).map(|(n, v)| (*n, &**v)).collect()
    }

    /// Every answer carries the CORS headers that let any page play (Fetch standard §3.2.3).
    fn assert_cors(a: &Answer) {
        assert_eq!(
            cors_of(a),
            [
                ("access-control-allow-origin", "*"),
                ("access-control-allow-methods", "GET, HEAD, OPTIONS"),
                ("access-control-allow-headers", "Range"),
                ("access-control-expose-headers", "Content-Length, Content-Range, Age"),
            ],
            "{:?}",
            a.headers
        );
    }

    #[test]
    fn options_is_a_cors_preflight_204_without_content() {
        let request = PlaybackRequest::new(Method::from_name("OPTIONS"), "/live/cam/index.m3u8", None);
        let (asked, a) = from_store(&request, &[]);
        assert_eq!(asked, [], "a preflight fetches nothing");
        assert_eq!(a.status, 204);
        assert_cors(&a);
        // RFC 9110 §8.6: no Content-Length in a 204.
        assert_eq!(a.header("content-length"), None);
        assert!(a.sent().is_empty());
        assert_eq!(a.outcome.route, None, "a preflight is not counted");
    }

    #[test]
    fn other_methods_are_405_with_allow() {
        for method in ["POST", "PUT", "DELETE", "PATCH", "get", "head", "Options"] {
            let request = PlaybackRequest::new(Method::from_name(method), "/live/cam/170/7.flv", None);
            let (asked, a) = from_store(&request, &stored_chunk());
            assert_eq!(asked, [], "{method}: nothing is fetched");
            // RFC 9110 §15.5.6: a 405 names the allowed methods; §9.1: names are case-sensitive.
            assert_eq!((a.status, a.header("allow")), (405, Some("GET, HEAD, OPTIONS")), "{method}");
            assert_eq!(a.header("content-length"), Some("0"));
            assert!(a.sent().is_empty());
            assert_cors(&a);
            assert_eq!((a.outcome.route, a.outcome.status), (Some(UNROUTED), 405));
        }
    }

    #[test]
    fn a_path_that_is_no_route_is_404_and_fetches_nothing() {
        for path in ["/live/cam", "/live/cam/170/07.m4s", "/other", "/live/../index.m3u8"] {
            let (asked, a) = from_store(&get(path), &[]);
            assert_eq!(asked, [], "{path}");
            assert_eq!((a.status, a.header("cache-control")), (404, Some(CACHE_NOT_FOUND)), "{path}");
            assert_eq!(a.sent(), b"not found\n");
            assert_eq!((a.outcome.route, a.outcome.status), (Some(UNROUTED), 404));
            assert_cors(&a);
        }
    }

    #[test]
    fn every_route_fetches_the_object_the_layout_names() {
        for (path, key, name) in [
            ("/live/cam/index.m3u8", manifest_key("cam"), "playlist"),
            ("/live/cam/master.m3u8", manifest_key("cam"), "multivariant"),
            ("/live/cam/170/init-7.mp4", chunk_key("cam", "170", 7), "init"),
            ("/live/cam/170/7.m4s", chunk_key("cam", "170", 7), "segment"),
            ("/live/cam/170/7.2.m4s", chunk_key("cam", "170", 7), "part"),
            ("/live/cam/170/7.flv", chunk_key("cam", "170", 7), "chunk"),
        ] {
            let (asked, a) = from_store(&get(path), &[]);
            assert_eq!(asked, [Asked::Fetch(key)], "{path}");
            assert_eq!((a.status, a.outcome.route), (404, Some(name)), "{path}: not stored");
            assert_cors(&a);
        }
    }

    #[test]
    fn a_whole_answer_has_its_length_type_and_cache_time() {
        let (_, a) = from_store(&get(CHUNK), &stored_chunk());
        assert_eq!(a.status, 200);
        assert_eq!(a.sent(), STORED);
        assert_eq!(a.header("content-type"), Some("video/x-flv"));
        assert_eq!(a.header("cache-control"), Some("public, max-age=31536000, immutable"));
        assert_eq!(a.header("content-length"), Some("10"));
        assert_eq!(a.header("accept-ranges"), Some("bytes"), "RFC 9110 §14.3: ranges are supported");
        assert_eq!(a.header("content-range"), None);
        assert_cors(&a);
        assert!(a.outcome.cacheable && !a.outcome.segment_built);
    }

    /// RFC 9110 §14.1.2 (byte ranges), §15.3.7 (206), §15.5.17 (416), §14.4 (Content-Range).
    #[test]
    fn ranges_of_a_200_are_206_or_416() {
        for (range, status, sent, content_range) in [
            ("bytes=2-5", 206, &b"2345"[..], Some("bytes 2-5/10")),
            ("bytes=0-0", 206, b"0", Some("bytes 0-0/10")),
            ("bytes=7-", 206, b"789", Some("bytes 7-9/10")),
            ("bytes=-3", 206, b"789", Some("bytes 7-9/10")),
            // A last position past the end means the end (§14.1.2).
            ("bytes=8-100", 206, b"89", Some("bytes 8-9/10")),
            // A suffix longer than the body is the whole body (§14.1.2).
            ("bytes=-20", 206, STORED, Some("bytes 0-9/10")),
            // A first position at or past the end cannot be satisfied.
            ("bytes=10-", 416, b"", Some("bytes */10")),
            ("bytes=10-12", 416, b"", Some("bytes */10")),
            ("bytes=-0", 416, b"", Some("bytes */10")),
            // An invalid range is ignored (§14.2), as are an unknown unit and several ranges
            // (a server may ignore Range).
            ("bytes=5-2", 200, STORED, None),
            ("bytes=a-b", 200, STORED, None),
            ("pages=1-2", 200, STORED, None),
            ("bytes=0-1,4-5", 200, STORED, None),
        ] {
            let request = PlaybackRequest { range: Some(range), ..get(CHUNK) };
            let (_, a) = from_store(&request, &stored_chunk());
            assert_eq!(a.status, status, "{range}");
            assert_eq!(a.sent(), sent, "{range}");
            assert_eq!(a.header("content-range"), content_range, "{range}");
            assert_eq!(a.header("content-length"), Some(&*sent.len().to_string()), "{range}");
            assert_eq!(a.header("accept-ranges"), Some("bytes"), "{range}");
            assert_eq!(a.outcome.status, 200, "{range}: counted as the 200 it was cut from");
            assert_eq!(a.clone().into_sent(), sent, "{range}: the owned bytes are the same");
        }
        // A range applies to a 200 only: a 404 stays a 404, whole.
        let request = PlaybackRequest { range: Some("bytes=0-1"), ..get(CHUNK) };
        let (_, a) = from_store(&request, &[]);
        assert_eq!((a.status, a.header("content-range"), a.sent()), (404, None, &b"not found\n"[..]));
        assert_eq!(a.header("accept-ranges"), None);
    }

    /// RFC 9110 §9.3.2: HEAD is GET without content; Content-Length is what GET would send.
    #[test]
    fn head_is_get_without_the_body() {
        for range in [None, Some("bytes=2-5"), Some("bytes=20-")] {
            let (_, got) = from_store(&PlaybackRequest { range, ..get(CHUNK) }, &stored_chunk());
            let head = PlaybackRequest { method: Method::from_name("HEAD"), range, ..get(CHUNK) };
            let (_, a) = from_store(&head, &stored_chunk());
            assert_eq!((a.status, &a.headers), (got.status, &got.headers), "{range:?}");
            assert!(a.sent().is_empty() && a.clone().into_sent().is_empty(), "{range:?}");
        }
        let (_, missing) = from_store(&PlaybackRequest { method: Method::Head, ..get(CHUNK) }, &[]);
        assert_eq!((missing.status, missing.header("content-length")), (404, Some("10")));
        assert!(missing.sent().is_empty());
    }

    #[test]
    fn a_store_outage_is_503_with_retry_after_never_cached() {
        let down = |_: &str| Fetched::Unavailable;
        let peers = Peers { store: &down, live_edge: &nothing_live, origin: &no_origin, cache: None };
        for path in ["/live/cam/index.m3u8", "/live/cam/170/7.m4s", CHUNK] {
            let (asked, a) = drive(&get(path), Sources::default(), &peers);
            assert_eq!(asked.len(), 1, "{path}: the first failed read answers");
            assert_eq!(a.status, 503, "{path}");
            // RFC 9110 §10.2.3: how long to wait; never cached (a store that comes back serves).
            assert_eq!(a.header("retry-after"), Some("1"), "{path}");
            assert_eq!(a.header("cache-control"), Some(CACHE_NONE), "{path}");
            assert_eq!(a.sent(), STORE_UNAVAILABLE.as_bytes());
            assert!(!a.outcome.cacheable);
            assert_cors(&a);
        }
        // A rendition's manifest that cannot be read: the same 503.
        let mut main = Manifest::new("cam", 1);
        main.renditions.video = vec!["cam_v1".into()];
        let json = main.to_json();
        let store =
            |key: &str| if key == manifest_key("cam") { Fetched::Found(json.clone()) } else { Fetched::Unavailable };
        let peers = Peers { store: &store, live_edge: &nothing_live, origin: &no_origin, cache: None };
        let (asked, a) = drive(&get("/live/cam/master.m3u8"), Sources::default(), &peers);
        assert_eq!(asked, [Asked::Fetch(manifest_key("cam")), Asked::Fetch(manifest_key("cam_v1"))]);
        assert_eq!((a.status, a.header("retry-after")), (503, Some("1")));
    }

    /// A manifest of `chunks` one-second chunks of session `s`.
    fn manifest(key: &str, chunks: u64) -> Manifest {
        let mut m = Manifest::new(key, 1);
        m.media.codecs = "avc1.64001F".into();
        for sequence in 1..=chunks {
            let entry = ChunkEntry {
                session: "s".into(),
                sequence,
                init: "s/init-1.mp4".into(),
                start_ms: sequence * 1000,
                duration_ms: 1000,
                bytes: 1000,
                wall_clock_ms: 0,
                independent: true,
            };
            m.push_chunk(entry, 10);
        }
        m
    }

    #[test]
    fn renditions_are_fetched_one_at_a_time_in_order() {
        let mut main = manifest("cam", 2);
        main.renditions.video = vec!["cam_v1".into(), "cam_v2".into()];
        main.renditions.audio = vec!["cam_a1".into()];
        let objects = vec![
            (manifest_key("cam"), main.to_json()),
            (manifest_key("cam_v1"), manifest("cam_v1", 2).to_json()),
            (manifest_key("cam_a1"), manifest("cam_a1", 2).to_json()),
        ];
        let (asked, a) = from_store(&get("/live/cam/master.m3u8"), &objects);
        let keys = ["cam", "cam_v1", "cam_v2", "cam_a1"].map(|k| Asked::Fetch(manifest_key(k)));
        assert_eq!(asked, keys);
        assert_eq!(a.status, 200);
        let text = core::str::from_utf8(a.sent()).unwrap();
        assert!(text.contains("../cam_v1/index.m3u8") && !text.contains("cam_v2"), "{text}");
        assert_eq!(a.header("content-type"), Some("application/vnd.apple.mpegurl"));
        assert_eq!(a.outcome.viewer_of, None, "a multivariant playlist is no viewer");
    }

    #[test]
    fn a_media_playlist_served_is_a_viewer() {
        let objects = vec![(manifest_key("cam"), manifest("cam", 3).to_json())];
        let (_, a) = from_store(&get("/live/cam/index.m3u8"), &objects);
        assert_eq!(a.status, 200);
        assert!(a.sent().starts_with(b"#EXTM3U"));
        assert_eq!(a.outcome.viewer_of.as_deref(), Some("cam"));
        assert!(!a.outcome.cacheable, "a playlist changes");
        let (_, missing) = from_store(&get("/live/cam/index.m3u8"), &[]);
        assert_eq!(missing.outcome.viewer_of, None);
    }

    /// A signed stream: a playlist needs a valid token (401 without, 403 with a bad one, never
    /// cached, nothing fetched), and its answer's child URIs carry the bucket's signature,
    /// which alone lets a segment through; the request goes on to the origin under the
    /// signature, not the viewer's token. A public stream is untouched.
    #[test]
    fn a_signed_stream_needs_a_token_then_its_child_uri_signature() {
        use crate::edge::auth::tests::{es256, policy, NOW};
        let policy = policy();
        let objects = vec![
            (manifest_key("cam"), manifest("cam", 3).to_json()),
            (manifest_key("pub"), manifest("pub", 1).to_json()),
        ];
        let store = store_of(&objects);
        let peers = Peers { store: &store, live_edge: &nothing_live, origin: &|_| None, cache: None };
        let at = |path, query| PlaybackRequest {
            now_ms: Some(NOW * 1000),
            ..PlaybackRequest::new(Method::Get, path, query)
        };
        let signed = |request: &PlaybackRequest<'_>| {
            run(EdgeDriver::new(request, Sources::default()).with_playback(&policy), &peers)
        };

        let (asked, a) = signed(&at("/live/cam/index.m3u8", None));
        assert_eq!((a.status, asked), (401, vec![]));
        assert_eq!(a.header("cache-control"), Some(CACHE_NONE));
        let expired = format!("token={}", es256("es", r#"{"sub":"cam","exp":1800000000}"#));
        let (_, a) = signed(&at("/live/cam/index.m3u8", Some(&expired)));
        assert_eq!((a.status, a.sent()), (403, &b"playback token expired\n"[..]));
        assert_eq!(a.header("cache-control"), Some(CACHE_NONE));
        let other = format!("token={}", es256("es", r#"{"sub":"pub","exp":1800000060}"#));
        assert_eq!(signed(&at("/live/cam/index.m3u8", Some(&other))).1.status, 403);

        let valid = format!("token={}", es256("es", r#"{"sub":"cam","exp":1800000060}"#));
        let sig = policy.sign_uri("cam", NOW).unwrap();
        let request = at("/live/cam/index.m3u8", Some(&valid));
        let driver =
            EdgeDriver::new(&request, Sources { live_origin: true, ..Sources::default() }).with_playback(&policy);
        assert_eq!(driver.next(), Step::LiveOrigin { path_and_query: &format!("/live/cam/index.m3u8?sig={sig}") });
        let (_, a) = signed(&request);
        assert_eq!(a.status, 200);
        let text = core::str::from_utf8(a.sent()).unwrap();
        assert!(text.contains(&format!("\ns/1.m4s?sig={sig}\n")), "{text}");
        assert!(text.contains(&format!("URI=\"s/init-1.mp4?sig={sig}\"")), "{text}");
        assert!(shared_max_age_s(a.header("cache-control").unwrap()).unwrap() <= policy.bucket_s());

        let (asked, a) = signed(&at("/live/cam/s/1.m4s", None));
        assert_eq!((a.status, asked), (401, vec![]));
        let (_, a) = signed(&at("/live/cam/s/1.m4s", Some(&valid)));
        assert_eq!(a.status, 401, "a token opens playlists only");
        let with_sig = format!("sig={sig}");
        let (asked, _) = signed(&at("/live/cam/s/1.m4s", Some(&with_sig)));
        assert_eq!(asked, vec![Asked::Fetch(chunk_key("cam", "s", 1))]);
        let late = PlaybackRequest {
            now_ms: Some((NOW + 2 * policy.bucket_s()) * 1000),
            ..at("/live/cam/s/1.m4s", Some(&with_sig))
        };
        let (asked, a) = signed(&late);
        assert_eq!((a.status, asked), (403, vec![]));

        // A clip takes the viewer's token, within the token's own archive window.
        let clip = "start=1799999980&end=1799999988";
        let (asked, a) = signed(&at("/live/cam/clip.mp4", Some(clip)));
        assert_eq!((a.status, asked), (401, vec![]));
        let with_token = format!("{clip}&{valid}");
        let (asked, _) = signed(&at("/live/cam/clip.mp4", Some(&with_token)));
        assert_eq!(asked.first(), Some(&Asked::Fetch(manifest_key("cam"))), "a token opens a clip");
        let narrow = format!("token={}", es256("es", r#"{"sub":"cam","exp":1800000060,"start":1799999984}"#));
        let outside = format!("{clip}&{narrow}");
        let (asked, a) = signed(&at("/live/cam/clip.mp4", Some(&outside)));
        assert_eq!((a.status, asked), (403, vec![]), "a clip outside the token's window");

        let (_, a) = signed(&at("/live/pub/index.m3u8", None));
        assert_eq!(a.status, 200);
        assert!(!core::str::from_utf8(a.sent()).unwrap().contains("sig="));
    }

    /// A real chunk file: one second of 30 fps H.264 of session `170`, sequence 0.
    fn real_chunk() -> Vec<u8> {
        let mut w = ChunkWriter::new(Chunker::new(1000));
        let mut events = Vec::new();
        let (avc, key, inter) = (avc_header(), frame(true, 0), frame(false, 0));
        w.push(&video(0, &avc), &mut events);
        for v in 0..30u32 {
            w.push(&video(v * 100 / 3, if v == 0 { &key } else { &inter }), &mut events);
        }
        w.finish(&mut events);
        let closed = events.into_iter().find_map(|e| match e {
            ChunkEvent::Closed(c) => Some(*c),
            _ => None,
        });
        closed.expect("a chunk").into_file("170")
    }

    /// The store of an ended stream `cam` whose session `s` started at `t0`: four chunks of 1 s
    /// (4 s of 30 fps H.264, a keyframe a second) from 15 s after `t0`, in its manifest and
    /// its archive's bucket (whose entries say each chunk is 1 byte).
    fn clip_objects(t0: u64) -> Vec<(String, Vec<u8>)> {
        use crate::archive::Bucket;
        use crate::layout::bucket_key;
        let mut w = ChunkWriter::new(Chunker::new(1000));
        let mut events = Vec::new();
        let (avc, key, inter) = (avc_header(), frame(true, 0), frame(false, 0));
        w.push(&video(0, &avc), &mut events);
        for v in 0..120u32 {
            w.push(&video(v * 100 / 3, if v % 30 == 0 { &key } else { &inter }), &mut events);
        }
        w.finish(&mut events);
        let chunks: Vec<Vec<u8>> = events
            .into_iter()
            .filter_map(|e| match e {
                ChunkEvent::Closed(c) => Some(c.into_file("s")),
                _ => None,
            })
            .collect();
        assert_eq!(chunks.len(), 4);
        let mut m = Manifest::new("cam", t0);
        m.state = crate::manifest::StreamState::Ended;
        let mut bucket = Bucket::new(t0, 0, None);
        for i in 0..4u64 {
            let entry = ChunkEntry {
                session: "s".into(),
                sequence: i,
                init: "s/init-0.mp4".into(),
                start_ms: i * 1000,
                duration_ms: 1000,
                bytes: 1,
                wall_clock_ms: t0 + 15_000 + i * 1000,
                independent: true,
            };
            bucket.push(entry.clone());
            m.push_chunk(entry, 10);
        }
        let mut objects = vec![(manifest_key("cam"), m.to_json()), (bucket_key("cam", t0, 0), bucket.to_json())];
        objects.extend(chunks.iter().enumerate().map(|(i, c)| (chunk_key("cam", "s", i as u64), c.clone())));
        objects
    }

    /// A clip reads the manifest, the bucket of its window and the chunks from the one before
    /// its keyframe's to its end; it answers ranges and `HEAD` from those chunks, names a
    /// download, is kept in no cache, and a clip longer than the limit is refused before a read.
    #[test]
    fn a_clip_reads_its_chunks_and_answers_ranges_head_and_downloads() {
        use crate::layout::bucket_key;
        let t0 = 1_796_570_400_000;
        let objects = clip_objects(t0);
        let query = format!("start={}.5&end={}.5&filename=goal", t0 / 1000 + 16, t0 / 1000 + 17);
        let clip = |method, range| PlaybackRequest {
            now_ms: Some(t0 + 60_000),
            range,
            ..PlaybackRequest::new(method, "/live/cam/clip.mp4", Some(&query))
        };
        let (asked, whole) = from_store(&clip(Method::Get, None), &objects);
        let keys = [manifest_key("cam"), bucket_key("cam", t0, 0), chunk_key("cam", "s", 0), chunk_key("cam", "s", 1)];
        let mut want: Vec<Asked> = keys.iter().map(|k| Asked::Fetch(k.clone())).collect();
        want.push(Asked::Fetch(chunk_key("cam", "s", 2)));
        assert_eq!(asked, want, "the chunk before the keyframe's (audio pre-roll) to the window's end");
        assert_eq!(whole.status, 200, "{}", String::from_utf8_lossy(&whole.body));
        assert_eq!(whole.header("content-type"), Some("video/mp4"));
        assert_eq!(whole.header("cache-control"), Some(CACHE_IMMUTABLE));
        assert_eq!(
            whole.header("content-disposition"),
            Some("attachment; filename=\"goal.mp4\"; filename*=UTF-8''goal.mp4")
        );
        assert_eq!(whole.header("content-length"), Some(&*whole.sent().len().to_string()));
        assert_eq!(whole.outcome.route, Some("clip"));
        assert!(!whole.outcome.cacheable);
        let len = whole.sent().len();
        let past = format!("bytes={len}-");
        for (range, status, slice) in
            [("bytes=10-99", 206, 10..100), ("bytes=-7", 206, len - 7..len), (&*past, 416, 0..0)]
        {
            let (_, a) = from_store(&clip(Method::Get, Some(range)), &objects);
            assert_eq!(a.status, status, "{range}");
            assert_eq!(a.sent(), &whole.sent()[slice], "{range}");
            assert_eq!(a.body.len(), a.sent().len(), "{range}: only the bytes sent are written");
        }
        let (_, head) = from_store(&clip(Method::Head, None), &objects);
        assert_eq!((head.status, &head.headers), (200, &whole.headers));
        assert!(head.sent().is_empty() && head.body.is_empty(), "HEAD writes no clip");
        assert_eq!(EdgeDriver::new(&clip(Method::Get, None), Sources::default()).cache_key(), None);

        let short = PlaybackRequest { max_clip_ms: 500, ..clip(Method::Get, None) };
        let (asked, a) = from_store(&short, &objects);
        assert_eq!((asked.len(), a.status), (0, 400));
        assert!(String::from_utf8_lossy(a.sent()).contains("limited to 0.5 s"), "{:?}", a.sent());
        // Each chunk's index entry says 1 byte: 3 are more than 2, and no chunk is read.
        let large = PlaybackRequest { max_clip_bytes: 2, ..clip(Method::Get, None) };
        let (asked, a) = from_store(&large, &objects);
        assert_eq!((a.status, asked.len()), (400, 2), "the manifest and the bucket only: {asked:?}");
        let says = String::from_utf8_lossy(a.sent());
        assert!(says.contains("needs 0.1 MiB of stored media") && says.contains("at most 0.1 MiB"), "{says}");
        let gone: Vec<_> = objects.iter().filter(|(k, _)| *k != chunk_key("cam", "s", 2)).cloned().collect();
        let (_, a) = from_store(&clip(Method::Get, None), &gone);
        assert_eq!(a.status, 404);
        assert!(String::from_utf8_lossy(a.sent()).contains("chunk 2 of session s"), "{:?}", a.sent());
    }

    /// A streamed clip's bytes, a block at a time, are the bytes of its answer, whole or a
    /// range; its answer has every header and no body; a `HEAD`, a 416 and a refusal have no
    /// clip body.
    #[test]
    fn a_streamed_clip_writes_the_bytes_of_its_answer_a_block_at_a_time() {
        use crate::layout::bucket_key;
        let t0 = 1_796_570_400_000;
        let objects = clip_objects(t0);
        let query = format!("start={}.5&end={}.5", t0 / 1000 + 16, t0 / 1000 + 17);
        let store = store_of(&objects);
        let peers = Peers { store: &store, live_edge: &nothing_live, origin: &no_origin, cache: None };
        let streamed = |method, range| {
            let request = PlaybackRequest {
                now_ms: Some(t0 + 60_000),
                range,
                ..PlaybackRequest::new(method, "/live/cam/clip.mp4", Some(&query))
            };
            let (_, whole) = from_store(&request, &objects);
            let mut driver = EdgeDriver::new(&request, Sources::default());
            // Once the bucket is read, the chunks still to read are known, in the order asked.
            for key in [manifest_key("cam"), bucket_key("cam", t0, 0)] {
                assert_eq!(driver.next(), Step::Fetch { key: &key });
                assert!(driver.upcoming_keys().is_empty(), "{key}: {:?}", driver.upcoming_keys());
                driver.fetched(store(&key));
            }
            let chunks: Vec<String> = (0..3).map(|i| chunk_key("cam", "s", i)).collect();
            assert_eq!(driver.next(), Step::Fetch { key: &chunks[0] });
            assert_eq!(driver.upcoming_keys(), &chunks[1..]);
            steps(&mut driver, &peers);
            assert_eq!(driver.clip_bytes(), Some(3), "the index's sizes of the chunks read");
            let (answer, body) = driver.finish_streamed();
            assert_eq!((answer.status, &answer.headers), (whole.status, &whole.headers));
            assert!(answer.body.is_empty() && answer.sent().is_empty());
            (whole, body)
        };
        for range in [None, Some("bytes=10-99"), Some("bytes=-7"), Some("bytes=3-")] {
            let (whole, body) = streamed(Method::Get, range);
            let mut body = body.expect("a clip body");
            assert_eq!(body.remaining(), whole.sent().len() as u64, "{range:?}");
            let mut sent = Vec::new();
            while let Some(block) = body.next_block(7) {
                let block = block.expect("a block");
                assert!(!block.is_empty() && block.len() <= 7);
                sent.extend(block);
            }
            assert_eq!(sent, whole.sent(), "{range:?}");
            assert_eq!(body.remaining(), 0);
        }
        assert!(streamed(Method::Head, None).1.is_none(), "HEAD");
        let (whole, _) = streamed(Method::Get, None);
        let past = format!("bytes={}-", whole.sent().len());
        assert!(streamed(Method::Get, Some(&past)).1.is_none(), "416");
    }

    #[test]
    fn segments_built_from_a_stored_chunk_are_reported() {
        let objects = vec![(chunk_key("cam", "170", 0), real_chunk())];
        for (path, built) in [
            ("/live/cam/170/init-0.mp4", true),
            ("/live/cam/170/0.m4s", true),
            ("/live/cam/170/0.flv", false),
            ("/live/cam/170/1.m4s", false),
        ] {
            let (_, a) = from_store(&get(path), &objects);
            assert_eq!(a.outcome.segment_built, built, "{path}: {}", a.status);
            if built {
                assert_eq!((a.status, a.header("content-type")), (200, Some("video/mp4")), "{path}");
                assert!(a.outcome.cacheable);
            }
        }
    }

    fn origin_answer(status: u16, cache_control: Option<&str>, body: &[u8]) -> OriginAnswer {
        OriginAnswer { status, cache_control: cache_control.map(String::from), body: body.to_vec() }
    }

    #[test]
    fn the_live_origin_is_asked_first_for_media_playlists() {
        let origin_sources = Sources { live_origin: true, ..Sources::default() };
        let request = PlaybackRequest::new(Method::Get, "/live/cam/index.m3u8", Some("_HLS_msn=3&_HLS_part=1"));
        let store = store_of(&[]);
        let answers = |path: &str| {
            assert_eq!(path, "/live/cam/index.m3u8?_HLS_msn=3&_HLS_part=1", "the path and query as asked");
            Some(origin_answer(200, Some("public, max-age=6"), b"#EXTM3U\n"))
        };
        let peers = Peers { store: &store, live_edge: &nothing_live, origin: &answers, cache: None };
        let (asked, a) = drive(&request, origin_sources, &peers);
        assert_eq!(asked, [Asked::Origin("/live/cam/index.m3u8?_HLS_msn=3&_HLS_part=1".into())], "no store read");
        assert_eq!((a.status, a.sent()), (200, &b"#EXTM3U\n"[..]));
        assert_eq!(a.header("cache-control"), Some("public, max-age=6"), "passed on");
        assert_eq!(a.header("content-type"), Some("application/vnd.apple.mpegurl"));
        assert_eq!(a.outcome.viewer_of.as_deref(), Some("cam"));
        // Its errors are passed on too, in words, and every 503 says when to retry.
        let busy = |_: &str| Some(origin_answer(503, None, b"too many waiting\n"));
        let peers = Peers { store: &store, live_edge: &nothing_live, origin: &busy, cache: None };
        let (_, a) = drive(&request, origin_sources, &peers);
        assert_eq!((a.status, a.header("retry-after")), (503, Some("1")));
        assert_eq!(a.header("content-type"), Some(TEXT_TYPE));
        assert_eq!(a.header("cache-control"), Some(CACHE_NONE), "no Cache-Control from the origin: not cached");
        // An origin that does not answer: the stored playlist.
        let silent = |_: &str| None;
        let objects = vec![(manifest_key("cam"), manifest("cam", 3).to_json())];
        let store = store_of(&objects);
        let peers = Peers { store: &store, live_edge: &nothing_live, origin: &silent, cache: None };
        let (asked, a) = drive(&request, origin_sources, &peers);
        assert_eq!(asked.last(), Some(&Asked::Fetch(manifest_key("cam"))));
        assert_eq!((a.status, a.header("cache-control")), (200, Some("public, max-age=1")));
    }

    #[test]
    fn the_live_origin_is_asked_for_chunks_the_store_does_not_have() {
        let sources = Sources { live_origin: true, ..Sources::default() };
        let part = |_: &str| Some(origin_answer(200, Some("public, max-age=31536000, immutable"), b"part"));
        let store = store_of(&[]);
        for path in ["/live/cam/170/9.m4s", "/live/cam/170/9.1.m4s", "/live/cam/170/init-9.mp4"] {
            let peers = Peers { store: &store, live_edge: &nothing_live, origin: &part, cache: None };
            let (asked, a) = drive(&get(path), sources, &peers);
            assert_eq!(asked, [Asked::Fetch(chunk_key("cam", "170", 9)), Asked::Origin(path.into())], "{path}");
            assert_eq!((a.status, a.sent(), a.header("content-type")), (200, &b"part"[..], Some("video/mp4")));
            assert!(!a.outcome.segment_built, "{path}: passed on, not built here");
            assert!(a.outcome.cacheable, "{path}: an immutable 200");
        }
        // Stored: built here, the origin never asked.
        let objects = vec![(chunk_key("cam", "170", 0), real_chunk())];
        let store = store_of(&objects);
        let peers = Peers { store: &store, live_edge: &nothing_live, origin: &no_origin, cache: None };
        let (_, a) = drive(&get("/live/cam/170/0.m4s"), sources, &peers);
        assert_eq!(a.status, 200);
        // Never for chunks as stored and multivariant playlists: the store has them or nobody.
        let store = store_of(&[]);
        let peers = Peers { store: &store, live_edge: &nothing_live, origin: &no_origin, cache: None };
        for path in ["/live/cam/170/9.flv", "/live/cam/master.m3u8"] {
            let (asked, a) = drive(&get(path), sources, &peers);
            assert_eq!((asked.len(), a.status), (1, 404), "{path}");
        }
        // An origin that does not answer: the store's 404.
        let silent = |_: &str| None;
        let peers = Peers { store: &store, live_edge: &nothing_live, origin: &silent, cache: None };
        let (_, a) = drive(&get("/live/cam/170/9.m4s"), sources, &peers);
        assert_eq!((a.status, a.header("cache-control")), (404, Some(CACHE_NOT_FOUND)));
    }

    #[test]
    fn without_a_live_origin_it_is_never_asked() {
        let (asked, a) = from_store(&get("/live/cam/170/9.m4s"), &[]);
        assert_eq!((asked, a.status), (vec![Asked::Fetch(chunk_key("cam", "170", 9))], 404));
    }

    #[test]
    fn the_live_edge_of_this_process_is_asked_first_for_every_route() {
        let sources = Sources { live_edge: true, live_origin: true, cache: true };
        let live = |route: &Route| Some(Response::ok(route.content_type(), "no-cache", b"live".to_vec()));
        let store = store_of(&[]);
        for path in ["/live/cam/index.m3u8", "/live/cam/master.m3u8", "/live/cam/170/1.m4s", CHUNK] {
            let peers = Peers { store: &store, live_edge: &live, origin: &no_origin, cache: None };
            let (asked, a) = drive(&get(path), sources, &peers);
            assert_eq!(asked, [Asked::LiveEdge(path.into())], "{path}");
            assert_eq!((a.status, a.sent(), a.header("cache-control")), (200, &b"live"[..], Some("no-cache")));
        }
        // Where it has no answer, the rest of the flow.
        let objects = stored_chunk();
        let store = store_of(&objects);
        let peers = Peers { store: &store, live_edge: &nothing_live, origin: &no_origin, cache: None };
        let (asked, a) = drive(&get(CHUNK), sources, &peers);
        assert_eq!(asked, [Asked::LiveEdge(CHUNK.into()), Asked::Cache, Asked::Fetch(chunk_key("cam", "170", 7))]);
        assert_eq!(a.sent(), STORED);
        // A refused query is refused before the live edge is asked.
        let request = PlaybackRequest::new(Method::Get, "/live/cam/index.m3u8", Some("_HLS_msn=07"));
        let (asked, a) = drive(&request, sources, &peers);
        assert_eq!((asked, a.status), (vec![], 400));
    }

    #[test]
    fn a_cache_of_immutable_answers_is_asked_before_the_store() {
        let sources = Sources { cache: true, ..Sources::default() };
        let store = store_of(&[]);
        let peers = Peers { store: &store, live_edge: &nothing_live, origin: &no_origin, cache: Some(STORED.to_vec()) };
        let request = PlaybackRequest { range: Some("bytes=-2"), ..get(CHUNK) };
        let (asked, a) = drive(&request, sources, &peers);
        assert_eq!(asked, [Asked::Cache]);
        assert_eq!((a.status, a.sent(), a.header("content-range")), (206, &b"89"[..], Some("bytes 8-9/10")));
        assert!(!a.outcome.cacheable, "it came from the cache");
        // Playlists are never looked up.
        let (asked, _) = drive(&get("/live/cam/index.m3u8"), sources, &peers);
        assert_eq!(asked, [Asked::Fetch(manifest_key("cam"))]);
        // A hit that goes out as it is: a GET without a range.
        let mut driver = EdgeDriver::new(&get(CHUNK), sources);
        assert_eq!(driver.next(), Step::Cache);
        assert!(driver.cached_whole());
        assert_eq!(driver.next(), Step::Done);
        let a = driver.finish();
        assert_eq!((a.status, a.header("content-length"), a.header("accept-ranges")), (200, None, Some("bytes")));
        assert_eq!(a.header("content-type"), Some("video/x-flv"));
        assert_cors(&a);
        // HEAD and ranges need the bytes.
        for request in [
            PlaybackRequest { method: Method::Head, ..get(CHUNK) },
            PlaybackRequest { range: Some("bytes=1-2"), ..get(CHUNK) },
        ] {
            let mut driver = EdgeDriver::new(&request, sources);
            assert_eq!(driver.next(), Step::Cache);
            assert!(!driver.cached_whole(), "{request:?}");
            assert_eq!(driver.next(), Step::Cache);
        }
    }

    #[test]
    fn a_cache_first_adapter_is_asked_before_the_live_edge_for_every_route() {
        let sources = Sources { live_edge: true, live_origin: true, cache: true };
        let keys = [
            ("/live/cam/index.m3u8", Some("_HLS_msn=3&_HLS_part=1"), "/live/cam/index.m3u8?_HLS_msn=3&_HLS_part=1"),
            ("/live/cam/index.m3u8", None, "/live/cam/index.m3u8"),
            ("/live/cam/master.m3u8", Some("token=a"), "/live/cam/master.m3u8?token=a"),
            ("/live/cam/170/7.m4s", Some("token=a"), "/live/cam/170/7.m4s"),
            ("/live/cam/170/7.1.m4s", None, "/live/cam/170/7.1.m4s"),
            ("/live/cam/170/init-7.mp4", None, "/live/cam/170/init-7.mp4"),
            (CHUNK, Some("x"), CHUNK),
        ];
        for (path, query, key) in keys {
            let driver = EdgeDriver::with_cache_first(&PlaybackRequest::new(Method::Get, path, query), sources);
            assert_eq!((driver.next(), driver.cache_key()), (Step::Cache, Some(key)), "{path}?{query:?}");
        }
        // A miss goes on as without the cache, which is not asked a second time.
        let objects = stored_chunk();
        let store = store_of(&objects);
        let mut driver = EdgeDriver::with_cache_first(&get(CHUNK), sources);
        driver.cached(None);
        assert_eq!(driver.next(), Step::LiveEdge { route: &Route::parse(CHUNK).unwrap(), query: None });
        driver.live_edge_answered(None);
        assert_eq!(driver.next(), Step::Fetch { key: &chunk_key("cam", "170", 7) });
        driver.fetched(store(&chunk_key("cam", "170", 7)));
        assert_eq!(driver.next(), Step::Done);
        let (response, outcome) = driver.finish_response().expect("a response");
        assert_eq!((response.status, &*response.cache_control, &response.body[..]), (200, CACHE_IMMUTABLE, STORED));
        assert!(outcome.cacheable);
        // Refused and unrouted requests, preflights and other methods are answered at once.
        for request in [
            PlaybackRequest::new(Method::Get, "/live/cam/index.m3u8", Some("_HLS_msn=07")),
            get("/live/cam/170/07.m4s"),
            PlaybackRequest::new(Method::Options, CHUNK, None),
            PlaybackRequest::new(Method::Other, CHUNK, None),
        ] {
            assert_eq!(EdgeDriver::with_cache_first(&request, sources).next(), Step::Done, "{request:?}");
        }
        // Without it, the flow is as it was: the live edge first.
        let driver = EdgeDriver::new(&get(CHUNK), sources);
        assert!(matches!(driver.next(), Step::LiveEdge { .. }));
    }

    #[test]
    fn a_kept_answer_keeps_its_cache_control_and_says_its_age() {
        let sources = Sources::default();
        let kept = || Response::ok(crate::edge::PLAYLIST_TYPE, "public, max-age=1", b"#EXTM3U\n".to_vec());
        let mut driver = EdgeDriver::with_cache_first(&get("/live/cam/index.m3u8"), sources);
        assert!(!driver.cached_whole(), "a playlist's headers are its own");
        driver.cached_answer(kept(), Some(1));
        assert_eq!(driver.next(), Step::Done);
        let a = driver.finish();
        assert_eq!((a.status, a.sent()), (200, &b"#EXTM3U\n"[..]));
        assert_eq!(a.header("cache-control"), Some("public, max-age=1"));
        assert_eq!(a.header("age"), Some("1"), "RFC 9111 §5.1");
        assert_eq!(a.header("content-type"), Some("application/vnd.apple.mpegurl"));
        assert_eq!(a.outcome.viewer_of.as_deref(), Some("cam"), "a viewer, kept answer or not");
        assert!(!a.outcome.cacheable && !a.outcome.segment_built);
        assert_cors(&a);
        // Shared with a request waiting for the same build: no Age.
        let mut driver = EdgeDriver::with_cache_first(&get("/live/cam/index.m3u8"), sources);
        driver.cached_answer(kept(), None);
        assert_eq!(driver.finish().header("age"), None);
        // HEAD and ranges of a kept answer, as of a built one.
        let head = PlaybackRequest { method: Method::Head, ..get("/live/cam/index.m3u8") };
        let mut driver = EdgeDriver::with_cache_first(&head, sources);
        driver.cached_answer(kept(), Some(0));
        let a = driver.finish();
        assert_eq!((a.status, a.sent(), a.header("content-length")), (200, &b""[..], Some("8")));
        let range = PlaybackRequest { range: Some("bytes=1-3"), ..get(CHUNK) };
        let mut driver = EdgeDriver::with_cache_first(&range, sources);
        assert!(!driver.cached_whole());
        driver.cached_answer(Response::ok(crate::edge::FLV_TYPE, CACHE_IMMUTABLE, STORED.to_vec()), Some(5));
        let a = driver.finish();
        assert_eq!((a.status, a.sent(), a.header("content-range")), (206, &b"123"[..], Some("bytes 1-3/10")));
        // An error shared by the build of another request is passed on as it is.
        let mut driver = EdgeDriver::with_cache_first(&get(CHUNK), sources);
        driver.cached_answer(Response::store_unavailable(), None);
        let a = driver.finish();
        assert_eq!((a.status, a.header("retry-after"), a.header("cache-control")), (503, Some("1"), Some(CACHE_NONE)));
        // An immutable hit of a GET without a range goes out as it is.
        let mut driver = EdgeDriver::with_cache_first(&get(CHUNK), sources);
        assert!(driver.cached_whole());
        let a = driver.finish();
        assert_eq!(
            (a.status, a.header("cache-control"), a.header("content-type")),
            (200, Some(CACHE_IMMUTABLE), Some("video/x-flv"))
        );
        // Given out of turn: ignored.
        let mut driver = EdgeDriver::new(&get(CHUNK), sources);
        driver.cached_answer(kept(), Some(1));
        assert_eq!(driver.next(), Step::Fetch { key: &chunk_key("cam", "170", 7) });
    }

    #[test]
    fn a_shared_cache_keeps_what_cache_control_allows() {
        assert_eq!(shared_max_age_s(CACHE_IMMUTABLE), Some(31_536_000));
        assert_eq!(shared_max_age_s("public, max-age=1"), Some(1));
        assert_eq!(shared_max_age_s("public, max-age=300"), Some(300));
        assert_eq!(shared_max_age_s("max-age=60, s-maxage=5"), Some(5), "s-maxage is for shared caches");
        assert_eq!(shared_max_age_s("Max-Age=\"7\""), Some(7));
        for never in [
            CACHE_NONE,
            "no-cache",
            "public, max-age=6, no-store",
            "private, max-age=9",
            "public",
            "max-age=0",
            "max-age=x",
            "",
        ] {
            assert_eq!(shared_max_age_s(never), None, "{never:?}");
        }
    }

    #[test]
    fn answers_given_out_of_turn_are_ignored() {
        let mut driver = EdgeDriver::new(&get(CHUNK), Sources::default());
        driver.live_edge_answered(Some(Response::error(500, "no".into())));
        driver.origin_answered(Some(origin_answer(500, None, b"no")));
        driver.cached(Some(b"no".to_vec()));
        assert!(!driver.cached_whole());
        assert_eq!(driver.next(), Step::Fetch { key: &chunk_key("cam", "170", 7) });
        driver.fetched(Fetched::Found(STORED.to_vec()));
        assert_eq!(driver.next(), Step::Done);
        driver.fetched(Fetched::Unavailable);
        assert_eq!(driver.finish().sent(), STORED);
    }

    /// The blocking-request parameters follow the rule of paths: one spelling of a number, and
    /// anything else a 400 that says what was wrong.
    #[test]
    fn blocking_request_parameters_are_canonical_or_400() {
        let parse = |q: &str| PlaylistQuery::parse(Some(q));
        let query = |msn, part, skip| Ok(PlaylistQuery { msn, part, skip });
        assert_eq!(parse("_HLS_msn=0"), query(Some(0), None, false));
        assert_eq!(parse("_HLS_msn=7&_HLS_part=0"), query(Some(7), Some(0), false));
        assert_eq!(
            parse("_HLS_msn=18446744073709551615&_HLS_part=4294967295"),
            query(Some(u64::MAX), Some(u32::MAX), false)
        );
        assert_eq!(parse("_HLS_skip=YES"), query(None, None, true));
        assert_eq!(parse("_HLS_skip=v2&token=abc&&x"), query(None, None, true));
        for number in
            ["07", "00", "-1", "+7", "-0", "", " 7", "7e0", "0x7", "18446744073709551616", "000000000000000000007"]
        {
            let msn = parse(&format!("_HLS_msn={number}"));
            assert_eq!(
                msn,
                Err("_HLS_msn is not a media sequence number (decimal, no sign, no leading zero)"),
                "{number:?}"
            );
            let part = parse(&format!("_HLS_msn=7&_HLS_part={number}"));
            assert_eq!(part, Err("_HLS_part is not a part index (decimal, no sign, no leading zero)"), "{number:?}");
        }
        assert!(parse("_HLS_msn=7&_HLS_part=4294967296").is_err(), "a part index is a u32");
        assert!(parse("_HLS_msn").is_err(), "no value");
        for skip in ["yes", "NO", "", "v3", "YES "] {
            assert_eq!(parse(&format!("_HLS_skip={skip}")), Err("_HLS_skip is neither YES nor v2"), "{skip:?}");
        }
        assert_eq!(parse("_HLS_msn=7&_HLS_msn=7"), Err("_HLS_msn is given twice"));
        assert_eq!(parse("_HLS_msn=7&_HLS_part=1&_HLS_part=1"), Err("_HLS_part is given twice"));
        assert_eq!(parse("_HLS_skip=YES&_HLS_skip=v2"), Err("_HLS_skip is given twice"));
        // Refused before anything is fetched, for the media playlist only (where they mean
        // something).
        let playlist = Route::parse("/live/cam/index.m3u8").unwrap();
        let refused = refused_query(&playlist, Some("_HLS_msn=07")).expect("a 400");
        assert_eq!((refused.status, &*refused.cache_control), (400, CACHE_NONE));
        assert!(refused.body.starts_with(b"_HLS_msn is not a media sequence number"));
        assert_eq!(refused_query(&playlist, Some("_HLS_msn=7&token=x")), None);
        assert_eq!(refused_query(&playlist, None), None);
        let segment = Route::parse("/live/cam/170/7.m4s").unwrap();
        assert_eq!(refused_query(&segment, Some("_HLS_msn=07")), None);
    }
}

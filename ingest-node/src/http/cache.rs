//! The edge's cache of built answers (the node's and `rapidrtmp edge`'s), and one build per
//! answer at a time.
//!
//! - **Single flight**: concurrent requests of the same key (the core's
//!   [`EdgeDriver::cache_key`](rapidrtmp_core::edge::EdgeDriver::cache_key): the path of an
//!   immutable object, the path and query of a playlist) share one build, and so one store read
//!   or one wait at the live edge; the others wait for its answer, at most as long as the
//!   adapter allows (then a 503 with `Retry-After`). A build whose request goes away is taken
//!   over by one of those waiting. Errors are shared too, never kept.
//! - **Cache**: a 200 is kept for as long as its `Cache-Control` allows a shared cache to
//!   ([`shared_max_age_s`]: init segments, segments, parts and chunks for a year, that is until
//!   evicted; a playlist for its `max-age`, at most [`MAX_MUTABLE_KEEP`]; never a `no-store` or
//!   `no-cache` answer), in at
//!   most the configured bytes, the least recently used evicted first. An answer larger than
//!   [`MAX_OBJECT_SHARE`]th of the cache is not kept. A cache of 0 bytes keeps nothing: single
//!   flight alone.
//! - **Clips** are neither kept nor shared (each is its own window): they are let in by
//!   [`Clips`](crate::http::clips::Clips).
//!
//! The clock is passed in ([`EdgeCache::get`], [`EdgeCache::keep`]) so that expiry is tested
//! without sleeping.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rapidrtmp_core::edge::driver::shared_max_age_s;
use rapidrtmp_core::edge::Response;
use tokio::sync::OnceCell;

/// The cache's size when no flag sets it, in MiB (`--cache-mb`): the last few segments of a
/// handful of streams at 720p (about 0.7 MB per 2-second segment), within the headroom the
/// memory sizing of docs/operations.md leaves.
pub const DEFAULT_CACHE_MB: u64 = 64;
/// The largest `--cache-mb` taken (64 GiB, as the other sizes in MiB): more is a mistake in
/// the flag.
pub const MAX_CACHE_MB: u64 = 65_536;
/// An answer is kept only if it is at most this fraction (1/N) of the cache: one large object
/// never pushes out everything else.
pub const MAX_OBJECT_SHARE: usize = 8;

/// Longest an answer that may change (a playlist: not `immutable`) is kept, whatever its own
/// `max-age` says to a CDN: an ended stream's playlist says 300 s, but its key may be published
/// again any moment, and this edge shows the new publish within a second, as it did before it
/// kept answers.
pub const MAX_MUTABLE_KEEP: Duration = Duration::from_secs(1);
/// Bytes an entry costs beyond its body and key (its headers, its places in the maps).
const ENTRY_OVERHEAD: usize = 256;
/// How long a request waits for the build of its answer (its own or another request's),
/// beyond what the build may wait by design (a blocking LL-HLS request, the live origin): then
/// it gets a 503 with `Retry-After`.
pub const MAX_BUILD_WAIT: Duration = Duration::from_secs(10);
/// Builds in flight counted before the ones every request has left (timed out or gone) are
/// swept from the table.
const FLIGHTS_SWEPT_AT: usize = 1024;

/// A built answer, as kept and shared: what the core's [`Response`] holds, its body shared
/// without copies, and when it was built.
#[derive(Debug)]
pub struct Built {
    /// The status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Cache-Control`.
    pub cache_control: Cow<'static, str>,
    /// The whole body.
    pub body: Bytes,
    /// When it was built.
    pub at: Instant,
}

impl Built {
    /// `response`, built at `at`.
    pub fn new(response: Response, at: Instant) -> Self {
        let Response { status, content_type, cache_control, body } = response;
        Self { status, content_type, cache_control, body: Bytes::from(body), at }
    }

    /// The core's response (a copy of the body).
    pub fn response(&self) -> Response {
        let body = self.body.to_vec();
        Response {
            status: self.status,
            content_type: self.content_type,
            cache_control: self.cache_control.clone(),
            body,
        }
    }

    /// Whole seconds since it was built, at `now` (its `Age`).
    pub fn age_s(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.at).as_secs()
    }
}

/// How a request's answer was found (the `result` of `rapidrtmp_edge_cache_requests_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Kept, and fresh.
    Hit,
    /// Built for this request.
    Miss,
    /// Built for another request of the same key, which this one waited for.
    Shared,
}

impl Lookup {
    /// Every lookup, in the order exported.
    pub const ALL: [Lookup; 3] = [Lookup::Hit, Lookup::Miss, Lookup::Shared];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
            Lookup::Shared => "shared",
        }
    }
}

/// One build, shared by every request of its key while it runs.
type Flight = OnceCell<Arc<Built>>;

/// A kept answer.
struct Entry {
    built: Arc<Built>,
    /// Fresh until then.
    until: Instant,
    /// Its place in the order of use.
    tick: u64,
    /// Bytes counted for it.
    size: usize,
}

/// The kept answers, least recently used first.
#[derive(Default)]
struct Lru {
    entries: HashMap<String, Entry>,
    /// Keys by the tick of their last use.
    order: BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
}

impl Lru {
    fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.remove(key) {
            self.order.remove(&old.tick);
            self.bytes -= old.size;
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}

/// The cache of built answers and the builds in flight.
pub struct EdgeCache {
    capacity: usize,
    kept: Mutex<Lru>,
    flights: Mutex<HashMap<String, Weak<Flight>>>,
}

impl EdgeCache {
    /// A cache of at most `capacity` bytes (0: nothing is kept, builds are still shared).
    pub fn new(capacity: usize) -> Self {
        Self { capacity, kept: Mutex::default(), flights: Mutex::default() }
    }

    /// Its size in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes kept now.
    pub fn bytes(&self) -> usize {
        self.lru().bytes
    }

    fn lru(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer kept under `key`, if it is still fresh at `now` (an answer past its
    /// lifetime is let go); it becomes the most recently used.
    pub fn get(&self, key: &str, now: Instant) -> Option<Arc<Built>> {
        let mut lru = self.lru();
        let entry = lru.entries.get(key)?;
        if now >= entry.until {
            lru.remove(key);
            return None;
        }
        let (old, built) = (entry.tick, entry.built.clone());
        let tick = lru.next_tick();
        lru.order.remove(&old);
        lru.order.insert(tick, key.to_string());
        if let Some(entry) = lru.entries.get_mut(key) {
            entry.tick = tick;
        }
        Some(built)
    }

    /// Keeps `built` under `key` if it may be kept (a 200 that a shared cache may keep, still
    /// fresh at `now`, at most [`MAX_OBJECT_SHARE`]th of the cache), evicting the least
    /// recently used answers to make room. Whether it was kept.
    pub fn keep(&self, key: &str, built: Arc<Built>, now: Instant) -> bool {
        let size = built.body.len().saturating_add(key.len()).saturating_add(ENTRY_OVERHEAD);
        let lifetime = match shared_max_age_s(&built.cache_control) {
            Some(s) if built.status == 200 => Duration::from_secs(s),
            _ => return false,
        };
        let lifetime =
            if built.cache_control.contains("immutable") { lifetime } else { lifetime.min(MAX_MUTABLE_KEEP) };
        // A lifetime past what the clock can hold is as good as forever.
        let until = built.at.checked_add(lifetime).unwrap_or(now + Duration::from_secs(u32::MAX.into()));
        if size > self.capacity / MAX_OBJECT_SHARE || until <= now {
            return false;
        }
        let mut lru = self.lru();
        lru.remove(key);
        while lru.bytes + size > self.capacity {
            let Some((_, oldest)) = lru.order.pop_first() else { break };
            if let Some(old) = lru.entries.remove(&oldest) {
                lru.bytes -= old.size;
            }
        }
        let tick = lru.next_tick();
        lru.order.insert(tick, key.to_string());
        lru.entries.insert(key.to_string(), Entry { built, until, tick, size });
        lru.bytes += size;
        true
    }

    /// The answer of `key`: kept and fresh, or built by `build` once for every request of the
    /// key that asks while it runs (and kept if it may be). `None` when it took longer than
    /// `wait` (the request's own build is then let go, and another waiting takes it over).
    pub async fn answer<F, Fut>(&self, key: &str, wait: Duration, build: F) -> (Lookup, Option<Arc<Built>>)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Response>,
    {
        let flight = match self.flight(key) {
            Ok(kept) => return (Lookup::Hit, Some(kept)),
            Err(flight) => flight,
        };
        let built_here = AtomicBool::new(false);
        let run = async {
            built_here.store(true, Relaxed);
            let response = build().await;
            let built = Arc::new(Built::new(response, Instant::now()));
            self.keep(key, built.clone(), built.at);
            built
        };
        let answer = tokio::time::timeout(wait, flight.get_or_init(|| run)).await.ok().cloned();
        self.land(key, &flight);
        let lookup = if built_here.load(Relaxed) { Lookup::Miss } else { Lookup::Shared };
        (lookup, answer)
    }

    /// The fresh answer kept under `key`, else the build in flight for it (started if none is).
    fn flight(&self, key: &str) -> Result<Arc<Built>, Arc<Flight>> {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(flight) = flights.get(key).and_then(Weak::upgrade) {
            return Err(flight);
        }
        // Looked up under the flights' lock: a build that has just ended kept its answer
        // before it left the table.
        if let Some(kept) = self.get(key, Instant::now()) {
            return Ok(kept);
        }
        if flights.len() >= FLIGHTS_SWEPT_AT {
            flights.retain(|_, f| f.strong_count() > 0);
        }
        let flight = Arc::new(Flight::new());
        flights.insert(key.to_string(), Arc::downgrade(&flight));
        Err(flight)
    }

    /// Takes `flight` out of the table once it has its answer (later requests find it kept, or
    /// build again if it may not be kept).
    fn land(&self, key: &str, flight: &Arc<Flight>) {
        if !flight.initialized() {
            return;
        }
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if flights.get(key).is_some_and(|f| std::ptr::eq(f.as_ptr(), Arc::as_ptr(flight))) {
            flights.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapidrtmp_core::edge::{CACHE_IMMUTABLE, CACHE_NONE, MP4_TYPE, PLAYLIST_TYPE};
    use std::sync::atomic::AtomicUsize;

    fn built(cache_control: &'static str, len: usize, at: Instant) -> Arc<Built> {
        Arc::new(Built::new(Response::ok(MP4_TYPE, cache_control, vec![7; len]), at))
    }

    /// Bytes an entry of `key` with a body of `len` costs.
    fn cost(key: &str, len: usize) -> usize {
        key.len() + len + ENTRY_OVERHEAD
    }

    #[test]
    fn the_cache_holds_at_most_its_bytes_evicting_the_least_recently_used() {
        let now = Instant::now();
        // Room for eight entries of 1000 bytes (each its largest share), not nine.
        let cache = EdgeCache::new(8 * cost("/0", 1000) + 10);
        let keys: Vec<String> = (0..9).map(|k| format!("/{k}")).collect();
        for key in &keys[..8] {
            assert!(cache.keep(key, built(CACHE_IMMUTABLE, 1000, now), now), "{key}");
        }
        assert_eq!(cache.bytes(), 8 * cost("/0", 1000));
        // /0 is used again: /1 is now the least recently used, and goes for /8.
        assert!(cache.get("/0", now).is_some());
        assert!(cache.keep("/8", built(CACHE_IMMUTABLE, 1000, now), now));
        assert!(cache.get("/1", now).is_none(), "the least recently used is evicted");
        for key in keys.iter().filter(|k| *k != "/1") {
            assert!(cache.get(key, now).is_some(), "{key} is kept");
        }
        assert_eq!(cache.bytes(), 8 * cost("/0", 1000));
        assert!(cache.bytes() <= cache.capacity());
        // Kept again under the same key: replaced, not counted twice.
        assert!(cache.keep("/8", built(CACHE_IMMUTABLE, 500, now), now));
        assert_eq!(cache.bytes(), 7 * cost("/0", 1000) + cost("/8", 500));
        assert_eq!(cache.get("/8", now).map(|b| b.body.len()), Some(500));
        // The order is of use, not of keeping: used in the order /0, /2 .. /8 above, then /2
        // again, two more go: /0 and /3.
        assert!(cache.get("/2", now).is_some());
        assert!(cache.keep("/9", built(CACHE_IMMUTABLE, 1000, now), now));
        assert!(cache.keep("/10", built(CACHE_IMMUTABLE, 1000, now), now));
        assert!(cache.get("/0", now).is_none() && cache.get("/3", now).is_none(), "the least recently used went");
        for key in ["/2", "/4", "/5", "/6", "/7", "/8", "/9", "/10"] {
            assert!(cache.get(key, now).is_some(), "{key} is kept");
        }
    }

    #[test]
    fn an_answer_is_kept_for_its_max_age_and_no_longer() {
        let t0 = Instant::now();
        let cache = EdgeCache::new(1 << 20);
        let playlist =
            |cc: &'static str, at| Arc::new(Built::new(Response::ok(PLAYLIST_TYPE, cc, b"#EXTM3U\n".to_vec()), at));
        assert!(cache.keep("/live/cam/index.m3u8", playlist("public, max-age=1", t0), t0));
        assert!(cache.keep("/live/cam/index.m3u8?_HLS_msn=3", playlist("public, max-age=6", t0), t0));
        let at = |ms| t0 + Duration::from_millis(ms);
        let fresh = cache.get("/live/cam/index.m3u8", at(999)).expect("fresh for its second");
        assert_eq!(fresh.age_s(at(999)), 0);
        assert!(cache.get("/live/cam/index.m3u8", at(1000)).is_none(), "stale at max-age");
        assert!(cache.get("/live/cam/index.m3u8", at(999)).is_none(), "and let go");
        let blocking = cache.get("/live/cam/index.m3u8?_HLS_msn=3", at(999)).expect("another key, its own age");
        assert_eq!(blocking.age_s(at(999)), 0);
        assert!(cache.get("/live/cam/index.m3u8?_HLS_msn=3", at(1000)).is_none(), "a playlist: a second at most");
        assert_eq!(cache.bytes(), 0, "both let go");
        // An ended stream's playlist (300 s for a CDN) is kept a second too: the key may be
        // published again.
        assert!(cache.keep("/live/old/index.m3u8", playlist("public, max-age=300", t0), t0));
        assert!(cache.get("/live/old/index.m3u8", at(999)).is_some());
        assert!(cache.get("/live/old/index.m3u8", at(1000)).is_none(), "at most MAX_MUTABLE_KEEP");
        // Built a while ago: kept only for what is left of its lifetime.
        assert!(cache.keep("/late", playlist("public, max-age=2", t0), at(500)));
        assert!(cache.get("/late", at(999)).is_some() && cache.get("/late", at(1000)).is_none());
        assert!(!cache.keep("/stale", playlist("public, max-age=1", t0), at(1000)), "already stale");
        // Never what a shared cache may not keep, nor an error.
        assert!(!cache.keep("/a", built(CACHE_NONE, 10, t0), t0));
        assert!(!cache.keep("/b", playlist("no-cache", t0), t0));
        let not_found = Arc::new(Built::new(Response::not_found(), t0));
        assert!(!cache.keep("/c", not_found, t0), "a 404 with max-age=2: errors are never kept");
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn an_answer_larger_than_its_share_of_the_cache_is_not_kept() {
        let now = Instant::now();
        let capacity = 8 * 10_000;
        let cache = EdgeCache::new(capacity);
        let share = capacity / MAX_OBJECT_SHARE - "/big".len() - ENTRY_OVERHEAD;
        assert!(!cache.keep("/big", built(CACHE_IMMUTABLE, share + 1, now), now), "one byte over");
        assert!(cache.keep("/big", built(CACHE_IMMUTABLE, share, now), now), "at its share");
        // A cache of 0 bytes keeps nothing.
        let off = EdgeCache::new(0);
        assert!(!off.keep("/a", built(CACHE_IMMUTABLE, 1, now), now));
        assert_eq!(off.bytes(), 0);
    }

    /// A real store over a temporary folder holding one object.
    async fn store_with(name: &str, key: &str, body: &[u8]) -> (crate::store::Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("rapidrtmp-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = crate::store::Store::Local(crate::store::LocalStore::new(&dir).expect("a store folder"));
        store.put(key, Bytes::copy_from_slice(body)).await.expect("stored");
        (store, dir)
    }

    /// `n` requests of `key` at once, each answered by a read of the store (counted in
    /// `reads`) that takes `slow` at least; their lookups.
    async fn concurrent(
        cache: &Arc<EdgeCache>,
        store: &crate::store::Store,
        key: &str,
        n: usize,
        reads: &Arc<AtomicUsize>,
        slow: Duration,
    ) -> Vec<(Lookup, Option<Arc<Built>>)> {
        let tasks = (0..n).map(|_| {
            let (cache, store, reads, key) = (cache.clone(), store.clone(), reads.clone(), key.to_string());
            tokio::spawn(async move {
                let build = || async {
                    reads.fetch_add(1, Relaxed);
                    let body = store.get(&key).await.expect("read").expect("stored");
                    tokio::time::sleep(slow).await;
                    Response::ok(MP4_TYPE, CACHE_IMMUTABLE, body.to_vec())
                };
                cache.answer(&key, MAX_BUILD_WAIT, build).await
            })
        });
        let mut out = Vec::new();
        for task in tasks.collect::<Vec<_>>() {
            out.push(task.await.expect("a request"));
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_of_one_key_share_one_store_read() {
        let (store, dir) = store_with("flight", "live/cam/1/0.flv", b"the chunk").await;
        for capacity in [0, 1 << 20] {
            let cache = Arc::new(EdgeCache::new(capacity));
            let reads = Arc::new(AtomicUsize::new(0));
            let got = concurrent(&cache, &store, "live/cam/1/0.flv", 32, &reads, Duration::from_millis(200)).await;
            assert_eq!(reads.load(Relaxed), 1, "cache of {capacity} bytes: one read for 32 requests");
            let count = |l| got.iter().filter(|(g, _)| *g == l).count();
            assert_eq!((count(Lookup::Miss), count(Lookup::Shared), count(Lookup::Hit)), (1, 31, 0), "{capacity}");
            assert!(got.iter().all(|(_, b)| b.as_ref().is_some_and(|b| &b.body[..] == b"the chunk")));
            // Afterwards: a hit where the cache keeps it, another read where it keeps nothing.
            let again = concurrent(&cache, &store, "live/cam/1/0.flv", 1, &reads, Duration::ZERO).await;
            match capacity {
                0 => assert_eq!((again[0].0, reads.load(Relaxed)), (Lookup::Miss, 2)),
                _ => assert_eq!((again[0].0, reads.load(Relaxed)), (Lookup::Hit, 1)),
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_failed_build_is_shared_by_its_waiters_and_never_kept() {
        let cache = Arc::new(EdgeCache::new(1 << 20));
        let builds = Arc::new(AtomicUsize::new(0));
        let request = || {
            let (cache, builds) = (cache.clone(), builds.clone());
            tokio::spawn(async move {
                let build = || async {
                    builds.fetch_add(1, Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Response::store_unavailable()
                };
                cache.answer("/k", MAX_BUILD_WAIT, build).await
            })
        };
        let tasks: Vec<_> = (0..8).map(|_| request()).collect();
        for task in tasks {
            let (_, built) = task.await.expect("a request");
            assert_eq!(built.map(|b| b.status), Some(503), "every waiter gets the build's answer");
        }
        assert_eq!((builds.load(Relaxed), cache.bytes()), (1, 0));
        let (lookup, _) = request().await.expect("a request");
        assert_eq!((lookup, builds.load(Relaxed)), (Lookup::Miss, 2), "not kept: built again");
    }

    #[tokio::test]
    async fn a_waiter_gives_up_after_its_wait_and_a_gone_builder_is_taken_over() {
        let cache = Arc::new(EdgeCache::new(1 << 20));
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Response::ok(MP4_TYPE, CACHE_IMMUTABLE, b"late".to_vec())
        };
        let leader = tokio::spawn({
            let cache = cache.clone();
            async move { cache.answer("/k", MAX_BUILD_WAIT, slow).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let never = || async { unreachable!("the build in flight is shared") };
        let (lookup, answer) = cache.answer("/k", Duration::from_millis(50), never).await;
        assert_eq!((lookup, answer.is_none()), (Lookup::Shared, true), "timed out");
        // The request that builds goes away: the next one builds.
        leader.abort();
        let _ = leader.await;
        let (lookup, answer) = cache.answer("/k", MAX_BUILD_WAIT, slow).await;
        assert_eq!((lookup, answer.map(|b| b.body.clone())), (Lookup::Miss, Some(Bytes::from_static(b"late"))));
        assert!(cache.get("/k", Instant::now()).is_some());
    }
}

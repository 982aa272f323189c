//! End-to-end test of the edge's cache of built answers and of one build per answer at a time,
//! on `rapidrtmp edge` over a stream ffmpeg published to a real node: with the cache on (its
//! default size) and off (`--cache-mb 0`), every init segment, segment and playlist is the same
//! bytes, ranges and `HEAD` included; 32 requests of one segment at once cause one build; a
//! segment asked again is a hit; and the edge's counters say so. Needs ffmpeg (`tests/run`
//! installs it).

mod support;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use support::http::{self, Response};
use support::media::publish_and_wait;
use support::node::{Edge, Node, NodeOptions};
use support::proc::TempDir;

/// The clip's publish ends this soon.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(60);
/// The ended stream's playlist is stored this soon after the publish ends.
const ENDED_WITHIN: Duration = Duration::from_secs(15);
/// Requests of one segment sent at once.
const AT_ONCE: usize = 32;

/// `n` GETs of `path` from `edge` at once (one thread each, released together).
fn get_at_once(edge: &Edge, path: &str, n: usize) -> Vec<Response> {
    let start = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (start, addr, path) = (start.clone(), edge.addr, path.to_string());
            std::thread::spawn(move || {
                start.wait();
                http::request(addr, "GET", &path, &[], &[]).unwrap_or_else(|e| panic!("GET {path}: {e}"))
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().expect("a request")).collect()
}

/// The edge's counters: cache lookups by result, segments built, bytes kept.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Counters {
    hit: f64,
    miss: f64,
    shared: f64,
    built: f64,
    bytes: f64,
}

fn counters(edge: &Edge) -> Counters {
    let m = edge.metrics();
    let lookups = |result| m.get("rapidrtmp_edge_cache_requests_total", &[("result", result)]);
    Counters {
        hit: lookups("hit"),
        miss: lookups("miss"),
        shared: lookups("shared"),
        built: m.get("rapidrtmp_segment_build_seconds_count", &[]),
        bytes: m.get("rapidrtmp_edge_cache_bytes", &[]),
    }
}

/// What `edge` answers to `method path` with `headers`: status, the headers a cache could get
/// wrong, body.
fn answer(edge: &Edge, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<Option<String>>, Vec<u8>) {
    let r = http::request(edge.addr, method, path, headers, &[]).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let names = ["content-type", "content-length", "content-range", "cache-control", "accept-ranges"];
    (r.status, names.iter().map(|n| r.header(n).map(String::from)).collect(), r.body)
}

#[test]
fn cached_and_shared_answers_are_the_bytes_of_built_ones_and_the_counters_say_what_happened() {
    let dir = TempDir::new("cache");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let (status, log, _) =
        publish_and_wait(&node.rtmp_url("cam", Some(&token)), &[], &dir.join("ff.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "ffmpeg: {log}");
    let playlist = node.wait_playlist("cam", "the stream to end", ENDED_WITHIN, |p| p.text.contains("#EXT-X-ENDLIST"));
    assert!(playlist.segments.len() >= 3, "{}", playlist.text);
    let base = "/live/cam";
    let mut objects: Vec<String> = playlist.maps.iter().map(|m| format!("{base}/{m}")).collect();
    objects.dedup();
    let inits = objects.len();
    objects.extend(playlist.segments.iter().map(|s| format!("{base}/{}", s.uri)));

    let off = Edge::start_with(&data, None, &["--cache-mb", "0"], dir.join("off.log"));
    let on = Edge::start(&data, None, dir.join("on.log"));
    let zero = Counters { hit: 0.0, miss: 0.0, shared: 0.0, built: 0.0, bytes: 0.0 };
    assert_eq!((counters(&on), counters(&off)), (zero, zero), "exported at 0 from the start");

    // Each object, 32 times at once, then twice more: one build on the cache's edge, the same
    // bytes everywhere.
    let mut kept = 0.0;
    for path in &objects {
        let built = off.get(path);
        assert_eq!(built.status, 200, "{path}: {}", built.text());
        kept += built.body.len() as f64;
        let before = counters(&on);
        let answers = get_at_once(&on, path, AT_ONCE);
        let after = counters(&on);
        assert!(
            answers.iter().all(|a| a.status == 200 && a.body == built.body),
            "{path}: the bytes built without a cache"
        );
        assert_eq!((after.miss - before.miss, after.built - before.built), (1.0, 1.0), "{path}: built once");
        assert_eq!((after.hit - before.hit) + (after.shared - before.shared), (AT_ONCE - 1) as f64, "{path}");
        for _ in 0..2 {
            let again = on.get(path);
            assert_eq!((again.status, &again.body), (200, &built.body), "{path}");
            assert_eq!(again.header("cache-control"), built.header("cache-control"), "{path}");
            assert_eq!(again.header("age"), None, "{path}: an immutable answer says no age");
        }
        let after_again = counters(&on);
        assert_eq!((after_again.hit - after.hit, after_again.miss, after_again.built), (2.0, after.miss, after.built));
        // Ranges and HEAD of a kept answer, as of a built one.
        for (method, headers) in
            [("HEAD", &[][..]), ("GET", &[("Range", "bytes=100-199")][..]), ("GET", &[("Range", "bytes=-7")][..])]
        {
            let (cached, fresh) = (answer(&on, method, path, headers), answer(&off, method, path, headers));
            assert_eq!(cached, fresh, "{method} {path} {headers:?}");
        }
    }
    let n = objects.len() as f64;
    let c = counters(&on);
    assert_eq!((c.miss, c.built), (n, n), "one build per object ({inits} init segments)");
    assert!(c.bytes >= kept, "every object kept: {} bytes for {kept}", c.bytes);

    // Without a cache, nothing is kept and every request is a build or shares one.
    let c = counters(&off);
    // One GET, then HEAD and two ranges, of each object.
    let asked = objects.len() * (1 + 3);
    assert_eq!((c.hit, c.bytes), (0.0, 0.0));
    assert_eq!(c.miss + c.shared, asked as f64, "{c:?}");
    assert_eq!(c.built, c.miss, "each miss a build");
    let before = counters(&off);
    let answers = get_at_once(&off, &objects[inits], AT_ONCE);
    assert!(answers.iter().all(|a| a.status == 200 && a.body == answers[0].body));
    let after = counters(&off);
    assert_eq!((after.miss - before.miss) + (after.shared - before.shared), AT_ONCE as f64);
    assert_eq!(after.built - before.built, after.miss - before.miss, "shared answers are not built");

    // The ended stream's playlist is kept with its own Cache-Control and an Age, for a second at
    // most (its key may be published again), however long its max-age.
    let path = format!("{base}/index.m3u8");
    let built = off.get(&path);
    assert_eq!((built.status, built.header("cache-control")), (200, Some("public, max-age=300")), "{}", built.text());
    let first = on.get(&path);
    let before = counters(&on);
    let kept = on.get(&path);
    assert_eq!((counters(&on).hit - before.hit), 1.0, "a hit");
    assert_eq!((&first.body, &kept.body), (&built.body, &built.body));
    assert_eq!(kept.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(kept.header("age"), Some("0"));
    std::thread::sleep(Duration::from_millis(1100));
    let before = counters(&on);
    let again = on.get(&path);
    assert_eq!((counters(&on).miss - before.miss), 1.0, "built again after a second");
    assert_eq!(again.body, built.body);
    // Another query is another answer.
    let other = on.get(&format!("{path}?_HLS_skip=YES"));
    assert_eq!(other.status, 200);
    assert_eq!(other.header("age"), None, "built for its own key");
}

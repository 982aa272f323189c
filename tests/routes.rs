//! End-to-end tests of the URL grammar: one URL per object. ffmpeg publishes to a real node;
//! every route (init segment, media segment, part, chunk) answers its canonical URL, and every
//! other spelling of its numbers (leading zeros, a sign, a percent-encoded digit) is a 404
//! that no cache keeps for long, on the node and on `rapidrtmp edge` over the same folder
//! store; a blocking playlist request whose parameters are not canonical is a 400 that says
//! what was wrong, the same on both. Needs ffmpeg (`tests/run` installs it).

mod support;

use std::time::Duration;

use support::checks::wait_until;
use support::hls::preload_hint;
use support::http::Response;
use support::media::publish;
use support::node::{Edge, Node, NodeOptions};
use support::proc::TempDir;

/// Two segments are stored this soon after the publish starts (1-second segments).
const STORED_WITHIN: Duration = Duration::from_secs(10);
/// `Cache-Control` of a canonical init segment, segment, part or chunk.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The spellings of `n` in a URL that are not its canonical decimal: leading zeros (up to 21
/// digits, one more than `u64::MAX` has), a sign, a percent-encoded digit.
fn other_spellings(n: u64) -> Vec<String> {
    let digits = n.to_string();
    vec![
        format!("0{digits}"),
        format!("00{digits}"),
        format!("{n:021}"),
        format!("+{digits}"),
        format!("-{digits}"),
        format!("%3{digits}"),
    ]
}

/// An object's canonical path, and the same path with one of its numbers spelled otherwise.
struct Object {
    canonical: String,
    others: Vec<String>,
}

/// The init segment (built from chunk `first`), media segment, part 0 and chunk of segment
/// `sequence` of `session`.
fn objects(key: &str, session: &str, first: u64, sequence: u64) -> Vec<Object> {
    let base = format!("/live/{key}/{session}");
    let object = |name: &dyn Fn(&str) -> String, n: u64| Object {
        canonical: name(&n.to_string()),
        others: other_spellings(n).iter().map(|s| name(s)).collect(),
    };
    let mut part = object(&|s| format!("{base}/{s}.0.m4s"), sequence);
    part.others.extend(other_spellings(0).iter().map(|p| format!("{base}/{sequence}.{p}.m4s")));
    vec![
        object(&|s| format!("{base}/init-{s}.mp4"), first),
        object(&|s| format!("{base}/{s}.m4s"), sequence),
        part,
        object(&|s| format!("{base}/{s}.flv"), sequence),
    ]
}

/// Each object's canonical URL is a 200 cached forever; each other spelling a 404 without
/// `immutable`.
fn assert_one_url_per_object(server: &str, get: &dyn Fn(&str) -> Response, objects: &[Object]) {
    for o in objects {
        let r = get(&o.canonical);
        assert_eq!(r.status, 200, "{server}: GET {}: {}", o.canonical, r.text());
        assert_eq!(r.header("cache-control"), Some(IMMUTABLE), "{server}: GET {}", o.canonical);
        for other in &o.others {
            let r = get(other);
            assert_eq!(r.status, 404, "{server}: GET {other}, another spelling of {}", o.canonical);
            let cache = r.header("cache-control").unwrap_or_default();
            assert!(!cache.contains("immutable"), "{server}: GET {other}: Cache-Control {cache:?}");
        }
    }
}

/// Blocking playlist requests whose parameters are not canonical: each a 400, never cached,
/// whose body names the parameter. Returns the bodies.
fn assert_refused_queries(server: &str, get: &dyn Fn(&str) -> Response, key: &str, msn: u64) -> Vec<Vec<u8>> {
    let queries = [
        format!("_HLS_msn=0{msn}"),
        format!("_HLS_msn=+{msn}"),
        "_HLS_msn=-1".to_string(),
        format!("_HLS_msn=%3{msn}"),
        "_HLS_msn=18446744073709551616".to_string(),
        format!("_HLS_msn={msn}&_HLS_part=00"),
        format!("_HLS_msn={msn}&_HLS_part=-0"),
        format!("_HLS_msn={msn}&_HLS_msn={msn}"),
        "_HLS_skip=yes".to_string(),
    ];
    let mut bodies = Vec::new();
    for query in queries {
        let path = format!("/live/{key}/index.m3u8?{query}");
        let r = get(&path);
        assert_eq!(r.status, 400, "{server}: GET {path}: {}", r.text());
        assert_eq!(r.header("cache-control"), Some("no-store"), "{server}: GET {path}");
        // The last parameter is the one refused.
        let parameter = query.rsplit('&').next().and_then(|p| p.split('=').next()).unwrap_or_default();
        assert!(r.text().starts_with(parameter), "{server}: GET {path}: the message names {parameter}: {}", r.text());
        bodies.push(r.body);
    }
    bodies
}

#[test]
fn numbers_in_urls_are_canonical_decimal_on_the_node_and_on_rapidrtmp_edge() {
    let dir = TempDir::new("routes");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let mut ffmpeg = publish(&node.rtmp_url("cam", Some(&token)), &["-stream_loop", "-1"], &[], &dir.join("ff.log"));
    let playlist = node.wait_playlist("cam", "two segments", STORED_WITHIN, |p| p.segments.len() >= 2);
    let first = &playlist.segments[0];
    let (session, file) = first.uri.split_once('/').expect("{session}/{sequence}.m4s");
    let sequence: u64 = file.strip_suffix(".m4s").and_then(|s| s.parse().ok()).expect("a sequence number");
    let init = first.map.strip_prefix(&format!("{session}/init-")).and_then(|m| m.strip_suffix(".mp4"));
    let init: u64 = init.and_then(|i| i.parse().ok()).unwrap_or_else(|| panic!("map {}", first.map));
    let chunk = data.join(format!("live/cam/{session}/{sequence}.flv"));
    wait_until("the first chunk to be stored", STORED_WITHIN, || chunk.exists());
    let stored = objects("cam", session, init, sequence);

    // The node: stored objects, and a part of the open segment (from memory).
    let node_get = |path: &str| node.get(path);
    assert_one_url_per_object("node", &node_get, &stored);
    wait_until("the open segment to have a part", STORED_WITHIN, || {
        preload_hint(&node.get("/live/cam/index.m3u8").text()).2 >= 1
    });
    let (open_session, open_sequence, _) = preload_hint(&node.get("/live/cam/index.m3u8").text());
    let open = objects("cam", &open_session, init, open_sequence);
    let open_part = &open[2..3];
    assert_one_url_per_object("node, a part of the open segment", &node_get, open_part);

    // Blocking playlist requests: canonical, answered; anything else, a 400.
    let blocking = node.get(&format!("/live/cam/index.m3u8?_HLS_msn={sequence}"));
    assert_eq!(blocking.status, 200, "a blocking request for a stored segment: {}", blocking.text());
    let refused_by_node = assert_refused_queries("node", &node_get, "cam", sequence);

    // `rapidrtmp edge` over the same folder: the same objects, the same answers.
    let edge = Edge::start(&data, None, dir.join("edge.log"));
    let edge_get = |path: &str| edge.get(path);
    assert_one_url_per_object("rapidrtmp edge", &edge_get, &stored);
    let refused_by_edge = assert_refused_queries("rapidrtmp edge", &edge_get, "cam", sequence);
    assert_eq!(refused_by_edge, refused_by_node, "the same messages");
    let stored_playlist = edge.get(&format!("/live/cam/index.m3u8?_HLS_msn={sequence}"));
    assert_eq!(stored_playlist.status, 200, "{}", stored_playlist.text());

    // Through all of it the node kept publishing.
    assert!(ffmpeg.status().is_none(), "ffmpeg stopped publishing:\n{}", ffmpeg.log());
    let advanced =
        |p: &support::hls::Playlist| p.segments.iter().any(|s| s.uri == format!("{open_session}/{open_sequence}.m4s"));
    node.wait_playlist("cam", "the segment that was open", STORED_WITHIN, advanced);
    assert_eq!(node.get("/ready").status, 200);
    assert!(!node.log().contains("panicked"), "the node panicked:\n{}", node.log());
}

//! Signed playback with real peers: playback tokens signed by PyJWT with `cryptography` (an
//! independent JWT implementation) against keys the node's API made; ffmpeg plays a signed
//! stream through the child URIs its playlists sign; every bad token gets its status; a child
//! URI copied after its bucket has passed is refused.
//!
//! Needs ffmpeg, ffmpeg 9 (imageio-ffmpeg) and python3 with `pyjwt` and `cryptography`
//! (tests/run installs them).

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::jwt::{child_uris, now_s, pyjwt_tokens, TOKEN_TABLE};
use support::media::{clip, frame_counts, publish_and_wait};
use support::node::{Node, NodeOptions};
use support::proc::TempDir;

/// Length of the child URI signatures' bucket the node runs with, seconds: a child URI holds
/// for one to two of them.
const BUCKET_S: u64 = 4;

/// A signed stream: tokens made by PyJWT with the keys the API made play (200), each bad one
/// gets exactly its status and reason, never cached; ffmpeg decodes every frame through the
/// signed child URIs; two viewers with two tokens get the same child URIs; a child URI
/// without its signature is 401, and one copied after its bucket (and grace) has passed is
/// 403; a removed key's tokens are refused.
#[test]
fn a_signed_stream_plays_with_valid_tokens_only_through_signed_child_uris() {
    let dir = TempDir::new("signed");
    let mut opts = NodeOptions::standard();
    opts.set("--playback", "signed");
    opts.set("--playback-uri-bucket", &BUCKET_S.to_string());
    let node = Node::start(&dir.join("data"), &opts);

    let made = |body: Value| {
        let r = node.api("POST", "/api/v1/signing-keys", Some(&body));
        assert_eq!(r.status, 201, "POST /api/v1/signing-keys {body}: {}", r.text());
        let j = r.json();
        assert_eq!(j["kid"], j["privateJwk"]["kid"], "{j}");
        j["privateJwk"].clone()
    };
    let es = made(json!({}));
    let ed = made(json!({ "alg": "EdDSA" }));
    assert_eq!((es["kty"].as_str(), ed["crv"].as_str()), (Some("EC"), Some("Ed25519")));
    let listed = node.api("GET", "/api/v1/signing-keys", None).json();
    let keys = listed["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2, "{listed}");
    assert!(keys.iter().all(|k| k.get("d").is_none()), "no private key is listed: {listed}");

    // The stream is published to its end: its playlist then lists every segment.
    let publish_token = node.token("cam", 600, false);
    let (status, messages, _) = publish_and_wait(
        &node.rtmp_url("cam", Some(&publish_token)),
        &[],
        &dir.join("publish.log"),
        Duration::from_secs(60),
    );
    assert!(status.success(), "ffmpeg publishes: {messages}");

    let table = pyjwt_tokens(&es, &ed, "cam");
    let token = |name: &str| table.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone()).unwrap();
    let playlist = |query: &str| node.get(&format!("/live/cam/index.m3u8{query}"));
    // The playlist of an ended stream: wait for the end (reconnect grace) with a valid token.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !playlist(&format!("?token={}", token("valid_es256"))).text().contains("#EXT-X-ENDLIST") {
        assert!(
            Instant::now() < deadline,
            "the stream never ended: {}",
            playlist(&format!("?token={}", token("valid_es256"))).text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let none = playlist("");
    assert_eq!(none.status, 401, "no token: {}", none.text());
    assert_eq!(none.header("cache-control"), Some("no-store"));
    assert_eq!(table.len(), TOKEN_TABLE.len(), "{table:?}");
    for &(name, status, reason) in TOKEN_TABLE {
        let r = playlist(&format!("?token={}", token(name)));
        assert_eq!(r.status, status, "{name}: {}", r.text());
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{name}");
        if status != 200 {
            assert_eq!(r.text().trim(), reason, "{name}");
            assert_eq!(r.header("cache-control"), Some("no-store"), "{name}: a refusal is never cached");
        }
    }

    // Two viewers, two tokens, one bucket: the same child URIs, each signed.
    let (a, b) = loop {
        let at = now_s() / BUCKET_S;
        let a = playlist(&format!("?token={}", token("valid_es256"))).text();
        let b = playlist(&format!("?token={}", token("valid_eddsa"))).text();
        if now_s() / BUCKET_S == at {
            break (a, b);
        }
    };
    assert_eq!(a, b, "two viewers' playlists are one");
    let uris = child_uris(&a);
    assert!(uris.len() > 3, "{a}");
    assert!(uris.iter().all(|u| u.contains("?sig=")), "every child URI is signed:\n{a}");

    // ffmpeg follows the signed child URIs and decodes every frame.
    let url = format!("{}?token={}", node.playlist_url("cam"), token("valid_eddsa"));
    let (video, audio) = frame_counts(&url);
    assert_eq!(video as u64, clip().video_frames, "every video frame through {url}");
    assert_eq!(audio as u64, clip().audio_frames, "every audio frame");

    // A segment's URI: fine now, 401 without its signature, 403 once its bucket has passed.
    let fresh = playlist(&format!("?token={}", token("valid_es256"))).text();
    let segment = child_uris(&fresh).into_iter().find(|u| u.contains(".m4s?")).expect("a segment");
    let copied = format!("/live/cam/{segment}");
    let issued = now_s();
    assert_eq!(node.get(&copied).status, 200, "{copied}");
    let bare = node.get(&format!("/live/cam/{}", segment.split('?').next().unwrap()));
    assert_eq!(bare.status, 401, "a segment without its signature: {}", bare.text());
    let expires = (issued / BUCKET_S + 2) * BUCKET_S;
    std::thread::sleep(Duration::from_secs(expires + 1 - now_s()));
    let late = node.get(&copied);
    assert_eq!(late.status, 403, "{copied} after its bucket: {}", late.text());
    assert_eq!(late.header("cache-control"), Some("no-store"));

    // A removed key's tokens are refused; the other key's still play.
    let kid = es["kid"].as_str().unwrap();
    assert_eq!(node.api("DELETE", &format!("/api/v1/signing-keys/{kid}"), None).status, 204);
    assert_eq!(node.api("DELETE", &format!("/api/v1/signing-keys/{kid}"), None).status, 404);
    assert_eq!(playlist(&format!("?token={}", token("valid_es256"))).status, 403);
    assert_eq!(playlist(&format!("?token={}", token("valid_eddsa"))).status, 200);
}

/// The node's own tokens: `POST /api/v1/streams/{key}/playback-token` answers a token and a
/// playback URL that ffprobe opens; a stream made signed through the API refuses a viewer
/// without one, and made public again plays without.
#[test]
fn the_node_mints_playback_tokens_and_sets_a_streams_playback() {
    let dir = TempDir::new("signed-mint");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    for (method, path) in [
        ("POST", "/api/v1/signing-keys"),
        ("GET", "/api/v1/signing-keys"),
        ("DELETE", "/api/v1/signing-keys/k"),
        ("PUT", "/api/v1/streams/show/playback"),
        ("POST", "/api/v1/streams/show/playback-token"),
    ] {
        assert_eq!(node.request(method, path, None, None).status, 401, "{method} {path} without the admin key");
    }
    assert!(!dir.join("data").join("keys").exists(), "unauthorized calls wrote nothing");
    let publish_token = node.token("show", 600, false);
    let (status, messages, _) = publish_and_wait(
        &node.rtmp_url("show", Some(&publish_token)),
        &[],
        &dir.join("publish.log"),
        Duration::from_secs(60),
    );
    assert!(status.success(), "ffmpeg publishes: {messages}");
    assert_eq!(node.get("/live/show/index.m3u8").status, 200, "public by default");

    let set = |playback: &str| {
        let r = node.api("PUT", "/api/v1/streams/show/playback", Some(&json!({ "playback": playback })));
        assert_eq!(r.status, 200, "{}", r.text());
    };
    set("signed");
    assert_eq!(node.get("/live/show/index.m3u8").status, 401);
    let r = node.api("POST", "/api/v1/streams/show/playback-token", Some(&json!({ "ttlSeconds": 120 })));
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    let url = j["playbackUrl"].as_str().expect("playbackUrl");
    assert!(url.ends_with(&format!("/live/show/master.m3u8?token={}", j["token"].as_str().unwrap())), "{j}");
    let local = url.replacen("localhost", "127.0.0.1", 1);
    let (video, _) = frame_counts(&local);
    assert_eq!(video as u64, clip().video_frames, "every video frame through {local}");
    let other = node.api("POST", "/api/v1/streams/other/playback-token", None).json();
    let r = node.get(&format!("/live/show/index.m3u8?token={}", other["token"].as_str().unwrap()));
    assert_eq!((r.status, r.text().trim()), (403, "playback token is for another stream"));
    set("public");
    assert_eq!(node.get("/live/show/index.m3u8").status, 200);
    let bad = node.api("PUT", "/api/v1/streams/show/playback", Some(&json!({ "playback": "private" })));
    assert_eq!(bad.status, 400);

    // The publish token request sets it too.
    let r = node.api("POST", "/api/v1/publish", Some(&json!({ "streamKey": "vip", "playback": "signed" })));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(node.get("/live/vip/index.m3u8").status, 401);
    let paths = node.api("GET", "/api/v1/openapi.json", None).json()["paths"].clone();
    for path in [
        "/api/v1/signing-keys",
        "/api/v1/signing-keys/{kid}",
        "/api/v1/streams/{key}/playback",
        "/api/v1/streams/{key}/playback-token",
    ] {
        assert!(paths.get(path).is_some(), "{path} is in the OpenAPI document");
    }
}

/// Viewers through the CDN stand-in.
const VIEWERS: usize = 50;

/// Fifty viewers with fifty tokens, through nginx caching as a CDN: each gets the same child
/// URIs, so after the first viewer every segment and init segment is a CDN hit: the origin
/// answers no more segment requests and builds no more segments than for one viewer.
#[test]
fn fifty_viewers_with_fifty_tokens_cost_the_origin_what_one_does() {
    let dir = TempDir::new("signed-cdn");
    let mut opts = NodeOptions::standard();
    opts.set("--playback", "signed");
    opts.set("--playback-uri-bucket", "3600");
    let node = Node::start(&dir.join("data"), &opts);
    let publish_token = node.token("cam", 600, false);
    let (status, messages, _) = publish_and_wait(
        &node.rtmp_url("cam", Some(&publish_token)),
        &[],
        &dir.join("publish.log"),
        Duration::from_secs(60),
    );
    assert!(status.success(), "ffmpeg publishes: {messages}");
    // Fifty different tokens (the node's, each with its own lifetime).
    let tokens: Vec<String> = (0..VIEWERS)
        .map(|i| {
            let r = node.api("POST", "/api/v1/streams/cam/playback-token", Some(&json!({ "ttlSeconds": 600 + i })));
            r.json()["token"].as_str().expect("token").to_string()
        })
        .collect();
    let distinct: std::collections::HashSet<&String> = tokens.iter().collect();
    assert_eq!(distinct.len(), VIEWERS);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !node.get(&format!("/live/cam/index.m3u8?token={}", tokens[0])).text().contains("#EXT-X-ENDLIST") {
        assert!(Instant::now() < deadline, "the stream never ended");
        std::thread::sleep(Duration::from_millis(200));
    }

    let cdn = support::cdn::Cdn::start(&dir.join("cdn"), &node.http.to_string());
    let origin = || {
        let m = node.metrics();
        let requests =
            |route| m.value("rapidrtmp_http_requests_total", &[("route", route), ("status", "200")]).unwrap_or(0.0);
        (requests("segment") + requests("init"), m.get("rapidrtmp_segment_build_seconds_count", &[]))
    };
    let watch = |token: &str| {
        let playlist = cdn.get(&format!("/live/cam/index.m3u8?token={token}"));
        assert_eq!(playlist.status, 200, "{}", playlist.text());
        let uris = child_uris(&playlist.text());
        for uri in &uris {
            let r = cdn.get(&format!("/live/cam/{uri}"));
            assert_eq!(r.status, 200, "{uri}: {}", r.text());
        }
        uris
    };
    let before = origin();
    let first = watch(&tokens[0]);
    let one = origin();
    assert!(
        one.0 - before.0 >= first.len() as f64 - 1.0,
        "the first viewer's segments reach the origin: {before:?} {one:?}"
    );
    for token in &tokens[1..] {
        assert_eq!(watch(token), first, "every viewer gets the same child URIs");
    }
    let fifty = origin();
    assert_eq!(
        fifty, one,
        "{VIEWERS} viewers: origin segment requests and builds as for one ({before:?} → {one:?} → {fifty:?})"
    );
    eprintln!(
        "origin segment+init requests, segment builds: one viewer {:?}, {VIEWERS} viewers {:?}",
        (one.0 - before.0, one.1 - before.1),
        (fifty.0 - before.0, fifty.1 - before.1)
    );
}

/// Revocation at a stateless edge: `rapidrtmp edge` on the node's store plays a token of a key,
/// then refuses it within [`PLAYBACK_POLICY_MAX_AGE_S`] of the key's removal through the node's
/// API (and the node at once); a stream made signed on the node is signed at the edge within
/// the same time.
#[test]
fn a_removed_key_and_a_stream_made_signed_hold_at_every_edge_within_the_policys_age() {
    use rapidrtmp_core::layout::PLAYBACK_POLICY_MAX_AGE_S;
    let dir = TempDir::new("signed-revoke");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    let publish_token = node.token("cam", 600, false);
    let (status, messages, _) = publish_and_wait(
        &node.rtmp_url("cam", Some(&publish_token)),
        &[],
        &dir.join("publish.log"),
        Duration::from_secs(60),
    );
    assert!(status.success(), "ffmpeg publishes: {messages}");
    let es = node.api("POST", "/api/v1/signing-keys", Some(&json!({}))).json()["privateJwk"].clone();
    let ed = node.api("POST", "/api/v1/signing-keys", Some(&json!({ "alg": "EdDSA" }))).json()["privateJwk"].clone();
    let table = pyjwt_tokens(&es, &ed, "cam");
    let valid = format!("/live/cam/index.m3u8?token={}", table[0].1);
    let edge = support::node::Edge::start(&data, None, dir.join("edge.log"));
    let bound = Duration::from_secs(PLAYBACK_POLICY_MAX_AGE_S + 2);

    // Public: the edge plays without a token; made signed, it refuses within the bound.
    assert_eq!(edge.get("/live/cam/index.m3u8").status, 200);
    assert_eq!(node.api("PUT", "/api/v1/streams/cam/playback", Some(&json!({ "playback": "signed" }))).status, 200);
    assert_eq!(node.get("/live/cam/index.m3u8").status, 401, "at once on the node");
    let changed = Instant::now();
    while edge.get("/live/cam/index.m3u8").status != 401 {
        assert!(changed.elapsed() < bound, "the edge still plays the stream unsigned after {:?}", changed.elapsed());
        std::thread::sleep(Duration::from_millis(250));
    }
    let made_signed = changed.elapsed();
    assert_eq!(edge.get(&valid).status, 200);

    let kid = es["kid"].as_str().unwrap();
    assert_eq!(node.api("DELETE", &format!("/api/v1/signing-keys/{kid}"), None).status, 204);
    assert_eq!(node.get(&valid).status, 403, "at once on the node");
    let removed = Instant::now();
    while edge.get(&valid).status != 403 {
        assert!(
            removed.elapsed() < bound,
            "the edge still accepts a removed key's token after {:?}",
            removed.elapsed()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let r = edge.get(&valid);
    assert_eq!(r.text().trim(), "playback token signed with an unknown key");
    eprintln!("at the edge: made signed after {made_signed:?}, key removed after {:?}", removed.elapsed());
}

/// A signed LL-HLS stream while it is live: the playlist's parts, preload hint and init carry
/// the signature; a blocking reload under the signature alone is held and answered with signed
/// URIs; the hinted part opens with its signature and is refused without it.
#[test]
fn a_signed_live_stream_serves_parts_and_blocking_reloads_under_the_signature() {
    let dir = TempDir::new("signed-ll");
    let mut opts = NodeOptions::standard();
    opts.set("--playback", "signed");
    let node = Node::start(&dir.join("data"), &opts);
    let publish_token = node.token("cam", 600, false);
    let _ffmpeg = support::media::publish(
        &node.rtmp_url("cam", Some(&publish_token)),
        &["-stream_loop", "-1"],
        &[],
        &dir.join("ff.log"),
    );
    let token =
        node.api("POST", "/api/v1/streams/cam/playback-token", None).json()["token"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let live = loop {
        let r = node.get(&format!("/live/cam/index.m3u8?token={token}"));
        if r.status == 200 && r.text().contains("#EXT-X-PRELOAD-HINT") {
            break r.text();
        }
        assert!(Instant::now() < deadline, "no live LL playlist: {} {}", r.status, r.text());
        std::thread::sleep(Duration::from_millis(200));
    };
    let uris = child_uris(&live);
    assert!(
        uris.iter().any(|u| u.contains(".m4s?sig=") && u.matches('.').count() >= 3),
        "parts listed, signed:\n{live}"
    );
    assert!(uris.iter().all(|u| u.contains("?sig=")), "every child URI is signed:\n{live}");
    let hint = live.lines().find(|l| l.starts_with("#EXT-X-PRELOAD-HINT")).unwrap();
    let hinted = child_uris(hint).remove(0);
    let (file, sig) = hinted.split_once('?').unwrap();
    let (session, name) = file.split_once('/').unwrap();
    let (seq, part) = name.trim_end_matches(".m4s").split_once('.').unwrap();

    let blocked = node.get(&format!("/live/cam/index.m3u8?_HLS_msn={seq}&_HLS_part={part}&{sig}"));
    assert_eq!(blocked.status, 200, "{}", blocked.text());
    let body = blocked.text();
    assert!(
        body.contains(&format!("{hinted}\""))
            || body.contains(&format!("{session}/{}.0.m4s?{sig}", seq.parse::<u64>().unwrap() + 1)),
        "the hinted part listed, signed:\n{body}"
    );
    let part = node.get(&format!("/live/cam/{hinted}"));
    assert_eq!(part.status, 200, "{hinted}: {}", part.text());
    assert_eq!(&part.body[4..8], b"styp");
    assert_eq!(node.get(&format!("/live/cam/{file}")).status, 401, "{file} without its signature");
    let unsigned_reload = node.get(&format!("/live/cam/index.m3u8?_HLS_msn={seq}&_HLS_part={part}", part = 0));
    assert_eq!(unsigned_reload.status, 401);
}

/// hls.js in Chromium plays a signed live stream through the CDN stand-in (nginx caching in
/// front of the node), entering by the multivariant playlist with one viewer's token (as
/// docs/operations.md advises): every request it makes after that playlist (media playlist
/// reloads, blocking reloads, parts, segments, init) goes out under the child URI signature,
/// shared by every viewer, and is answered; the CDN saw no 401 or 403, and no error reached
/// hls.js.
#[test]
fn hls_js_plays_a_signed_stream_through_a_cdn_with_one_token() {
    const SECONDS: u64 = 20;
    let dir = TempDir::new("signed-hlsjs");
    let mut opts = NodeOptions::standard();
    opts.set("--playback", "signed");
    let node = Node::start(&dir.join("data"), &opts);
    let publish_token = node.token("cam", 600, false);
    let _ffmpeg = support::media::publish_live_source(
        &node.rtmp_url("cam", Some(&publish_token)),
        u32::try_from(SECONDS).unwrap() + 120,
        &dir.join("ff.log"),
    );
    let token =
        node.api("POST", "/api/v1/streams/cam/playback-token", None).json()["token"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(15);
    while node.get(&format!("/live/cam/index.m3u8?token={token}")).text().matches("#EXTINF").count() < 2 {
        assert!(Instant::now() < deadline, "no live playlist with two segments");
        std::thread::sleep(Duration::from_millis(200));
    }
    let cdn = support::cdn::Cdn::start(&dir.join("cdn"), &node.http.to_string());
    let url = cdn.url(&format!("/live/cam/master.m3u8?token={token}"));
    let r = support::player::run_script("hls_live.mjs", &[("URL", &url), ("SECONDS", &SECONDS.to_string())]);
    assert_eq!(r["errors"], json!([]), "hls.js errors: {r}");
    assert_eq!(r["pageErrors"], json!([]), "{r}");
    let played = r["currentTime"].as_f64().unwrap_or(0.0) - r["startPosition"].as_f64().unwrap_or(f64::MAX);
    assert!(played >= SECONDS as f64 - 2.0, "played {played:.1} s: {r}");

    // What the CDN asked and answered: nginx's combined log, `"GET /path HTTP/1.1" status …`.
    let log = std::fs::read_to_string(dir.join("cdn/logs/access.log")).unwrap();
    let requests: Vec<(&str, &str)> = log
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once("\"GET ")?;
            let (path, rest) = rest.split_once(' ')?;
            Some((path, rest.split_once("\" ")?.1.split(' ').next()?))
        })
        .collect();
    let refused: Vec<_> = requests.iter().filter(|(_, status)| !status.starts_with('2')).collect();
    assert_eq!(refused, Vec::<&(&str, &str)>::new(), "requests the CDN did not answer with a 2xx");
    let media = requests.iter().filter(|(path, _)| path.contains(".m4s") || path.contains(".mp4")).count();
    assert!(media >= 10, "hls.js loaded {media} segments and parts through the CDN:\n{log}");
    let with_token = requests.iter().filter(|(path, _)| path.contains("token=")).count();
    assert!(
        requests.iter().all(|(path, _)| path.contains("token=") || path.contains("sig=")),
        "every request carries the token or the child URI signature:\n{log}"
    );
    assert_eq!(with_token, 1, "only the entry playlist carries the viewer's token:\n{log}");
}

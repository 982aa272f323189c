//! End-to-end tests of the ingest node (`rapidrtmp serve`) with a local-folder store: ffmpeg
//! publishes a clip over RTMP, ffprobe/ffmpeg check the HLS the node serves, and the tests look
//! at the objects in the data dir, the admin API and `/metrics`.
//!
//! Every test runs its own node on free 127.0.0.1 ports with its own data dir, so the tests run
//! in parallel. Needs ffmpeg and ffprobe (`tests/run` installs them).

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::checks::{
    assert_chunks_match, assert_decodes_cleanly, assert_every_ffmpeg_reads, assert_plays_like_the_clip,
    assert_sessions_play_like_the_clip, media_objects, tree, wait_until,
};
use support::hls::Playlist;
use support::http;
use support::media::{self, assert_publish_refused, clip, publish, publish_and_wait, publish_held, FPS};
use support::node::{Node, NodeOptions};
use support::player;
use support::proc::TempDir;
use support::prom;
use support::{fixtures, flv, mp4};

/// How long publishing the 6-second clip in real time may take on a busy machine.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(40);
/// The first segment is listed this soon after the publish starts (1-second segments).
const FIRST_SEGMENT_WITHIN: Duration = Duration::from_secs(15);
/// The node exits this soon after SIGTERM.
const SIGTERM_EXIT_WITHIN: Duration = Duration::from_secs(5);

/// GETs every init and media segment of a playlist.
fn fetch_all(node: &Node, key: &str, playlist: &Playlist) -> Vec<(String, Vec<u8>)> {
    playlist
        .uris()
        .into_iter()
        .map(|uri| {
            let r = node.get(&format!("/live/{key}/{uri}"));
            assert_eq!(r.status, 200, "GET /live/{key}/{uri}: {}", r.text());
            (uri, r.body)
        })
        .collect()
}

/// The stream's entry in `GET /api/v1/streams`.
fn listed_stream(node: &Node, key: &str) -> Value {
    let r = node.api("GET", "/api/v1/streams", None);
    assert_eq!(r.status, 200, "GET /api/v1/streams: {}", r.text());
    let list = r.json();
    let streams = list["streams"].as_array().unwrap_or_else(|| panic!("no streams array: {list}"));
    streams.iter().find(|s| s["streamKey"] == key).cloned().unwrap_or_else(|| panic!("{key} not listed: {list}"))
}

#[test]
fn published_clip_plays_back_frame_exact_and_its_chunks_decode_alone() {
    let clip = clip();
    let dir = TempDir::new("publish");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    let token = node.token("cam", 600, false);

    // Its input held open, ffmpeg is still publishing when the live playlist is read.
    let mut held = publish_held(&node.rtmp_url("cam", Some(&token)), &dir.join("ffmpeg.log"));
    let live = node.wait_playlist("cam", "a segment", FIRST_SEGMENT_WITHIN, |p| !p.segments.is_empty());
    let live_cache = node.get("/live/cam/index.m3u8");
    assert!(held.ffmpeg.status().is_none(), "ffmpeg exited with its input held open:\n{}", held.ffmpeg.log());
    assert!(!live.ended, "the playlist ends while the publisher is still sending:\n{}", live.text);
    // LL-HLS (on by default): never a stale copy, a player starts from it.
    assert_eq!(live_cache.header("cache-control"), Some("no-cache"), "live playlist");
    let mut ffmpeg = held.release();
    let status = ffmpeg.wait_timeout(PUBLISH_TIMEOUT).expect("ffmpeg publish did not finish");
    assert!(status.success(), "ffmpeg publish failed ({status}):\n{}", ffmpeg.log());

    let playlist = assert_plays_like_the_clip(&node, "cam");
    // 6 s with a keyframe every second, cut at 1 s: six segments covering the clip.
    assert_eq!(playlist.segments.len(), 6, "{}", playlist.text);
    let total: f64 = playlist.segments.iter().map(|s| s.duration).sum();
    let clip_seconds = clip.video_frames as f64 / FPS as f64;
    assert!((total - clip_seconds).abs() < 0.15, "EXTINFs add up to {total} s for a {clip_seconds} s clip");
    assert_chunks_match(&data.join("live/cam"), &playlist);

    // Live playlists are short-lived (above), an ended one lives minutes; init and media
    // segments are immutable.
    let r = node.get("/live/cam/index.m3u8");
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"), "ended playlist");
    for uri in [&playlist.maps[0], &playlist.segments[0].uri] {
        let r = node.get(&format!("/live/cam/{uri}"));
        assert_eq!(r.status, 200, "{uri}");
        assert_eq!(r.header("cache-control"), Some("public, max-age=31536000, immutable"), "{uri}");
    }
}

#[test]
fn publish_without_a_valid_token_is_refused_and_writes_nothing() {
    let dir = TempDir::new("tokens");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    // Issued first: it has expired by the time it is used below.
    let expiring = node.token("expired", 1, false);
    let expiring_issued = Instant::now();

    assert_publish_refused("no token", &node.rtmp_url("missing", None), &dir.join("missing.log"));

    let token = node.token("tampered", 600, false);
    // v2.{expires}.{nonce}.{flags}.{generation}.{signature}
    let fields: Vec<&str> = token.split('.').collect();
    assert_eq!((fields.len(), fields[0], fields[4]), (6, "v2", "0"), "token {token}");
    let forged = |at: usize, value: &str| {
        let mut f = fields.clone();
        f[at] = value;
        f.join(".")
    };
    let later = (fields[1].parse::<u64>().unwrap() + 3600).to_string();
    let forged_expiry = forged(1, &later);
    assert_publish_refused("forged expiry", &node.rtmp_url("tampered", Some(&forged_expiry)), &dir.join("exp.log"));
    let forged_generation = forged(4, "7");
    let url = node.rtmp_url("tampered", Some(&forged_generation));
    assert_publish_refused("forged generation", &url, &dir.join("generation.log"));
    let mut sig: Vec<char> = fields[5].chars().collect();
    let mid = sig.len() / 2;
    sig[mid] = if sig[mid] == 'A' { 'B' } else { 'A' };
    let sig: String = sig.into_iter().collect();
    let forged_sig = forged(5, &sig);
    assert_publish_refused("forged signature", &node.rtmp_url("tampered", Some(&forged_sig)), &dir.join("sig.log"));
    let other = node.token("other", 600, false);
    assert_publish_refused("another key's token", &node.rtmp_url("tampered", Some(&other)), &dir.join("other.log"));

    std::thread::sleep(Duration::from_millis(2100).saturating_sub(expiring_issued.elapsed()));
    assert_publish_refused("expired token", &node.rtmp_url("expired", Some(&expiring)), &dir.join("expired.log"));

    // A single-use token publishes once.
    let once = node.token("once", 600, true);
    let url = node.rtmp_url("once", Some(&once));
    let (status, messages, _) = publish_and_wait(&url, &["-t", "2"], &dir.join("once.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "first use of a single-use token failed ({status}):\n{messages}");
    node.wait_playlist("once", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended && !p.segments.is_empty());
    let objects = media_objects(&data.join("live/once"));
    let markers = tree(&data.join("tokens/used"));
    assert!(objects.keys().any(|k| k.ends_with(".flv")), "no chunk after the first publish: {objects:?}");
    assert_eq!(markers.len(), 1, "one spent single-use token: {markers:?}");
    assert_publish_refused("reused single-use token", &url, &dir.join("reused.log"));
    assert_eq!(media_objects(&data.join("live/once")), objects, "the refused reuse changed the stream's objects");
    assert_eq!(tree(&data.join("tokens/used")), markers, "the refused reuse changed the spent-token markers");

    for key in ["missing", "tampered", "expired", "other"] {
        assert!(
            !data.join("live").join(key).exists(),
            "a refused publish wrote {}",
            data.join("live").join(key).display()
        );
        let r = node.api("GET", &format!("/api/v1/streams/{key}"), None);
        assert_eq!(r.status, 404, "GET /api/v1/streams/{key} after a refused publish: {}", r.text());
    }
    let m = node.metrics();
    let attempts = |result: &str| m.value("rapidrtmp_publish_attempts_total", &[("result", result)]).unwrap_or(0.0);
    assert_eq!(
        [attempts("unauthorized"), attempts("expired"), attempts("reused"), attempts("accepted")],
        [5.0, 1.0, 1.0, 1.0],
        "publish attempts by result (unauthorized, expired, reused, accepted):\n{}",
        m.text
    );
}

#[test]
fn second_publisher_on_a_live_key_is_refused() {
    let dir = TempDir::new("busy");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let url = node.rtmp_url("cam", Some(&token));
    let mut first = publish(&url, &["-stream_loop", "-1"], &[], &dir.join("first.log"));
    node.wait_playlist("cam", "a segment", FIRST_SEGMENT_WITHIN, |p| !p.segments.is_empty());

    assert_publish_refused("second publisher", &url, &dir.join("second.log"));
    assert!(first.status().is_none(), "the first publisher stopped when the second was refused:\n{}", first.log());
    assert_eq!(node.publish_attempts("busy"), 1.0);
    assert_eq!(node.publish_attempts("accepted"), 1.0);

    // The first publish goes on undisturbed, and ends when its publisher vanishes.
    let n = node.playlist("cam").expect("playlist").segments.len();
    let p = node.wait_playlist("cam", "two more segments", Duration::from_secs(10), |p| p.segments.len() >= n + 2);
    assert!(!p.ended && p.discontinuities == 0, "{}", p.text);
    assert!(first.status().is_none(), "first publisher exited:\n{}", first.log());
    first.kill();
    node.wait_playlist("cam", "#EXT-X-ENDLIST after the publisher was killed", Duration::from_secs(10), |p| p.ended);
}

#[test]
fn reconnect_adds_a_discontinuity_and_both_sessions_play() {
    let dir = TempDir::new("reconnect");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let url = node.rtmp_url("cam", Some(&token));

    let (status, messages, _) = publish_and_wait(&url, &[], &dir.join("first.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "first publish ({status}):\n{messages}");
    let first = node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);
    let (status, messages, _) = publish_and_wait(&url, &[], &dir.join("second.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "second publish ({status}):\n{messages}");
    let p = node.wait_playlist("cam", "a second ended session", Duration::from_secs(10), |p| {
        p.ended && p.discontinuities == 1 && p.segments.len() == 2 * first.segments.len()
    });
    p.assert_well_formed();
    // Same encoder settings, same init segment: the map in effect carries across the
    // discontinuity (RFC 8216 §4.3.2.5) instead of being repeated.
    assert_eq!(p.maps.len(), 1, "the second session reuses the first one's init section:\n{}", p.text);
    let disc = p.text.find("#EXT-X-DISCONTINUITY\n").expect("discontinuity");
    let second_part = p.text.find(&p.segments[first.segments.len()].uri).expect("second session's first segment");
    assert!(disc < second_part, "the discontinuity comes before the second session:\n{}", p.text);
    assert_eq!(&p.segments[..first.segments.len()], &first.segments[..], "the first session's segments are unchanged");

    // Each session alone plays like the clip, and the whole playlist plays both.
    assert_sessions_play_like_the_clip(&node, "cam", &p, 2, dir.path());
}

#[test]
fn restarted_node_serves_an_ended_stream_from_its_data_dir() {
    let dir = TempDir::new("restart");
    let data = dir.join("data");
    // No --admin-key: the node makes one, keeps it in the data dir and finds it again.
    let opts = NodeOptions { admin_key: None, ..NodeOptions::standard() };
    let mut first = Node::start(&data, &opts);
    assert!(data.join("admin.key").is_file(), "no admin.key in the data dir");
    let token = first.token("cam", 600, false);
    let (status, messages, _) =
        publish_and_wait(&first.rtmp_url("cam", Some(&token)), &[], &dir.join("publish.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "publish ({status}):\n{messages}");
    let before = first.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);
    let bytes_before = fetch_all(&first, "cam", &before);

    let (status, took) = first.terminate(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM: {status}\n{}", first.log());
    assert!(took <= SIGTERM_EXIT_WITHIN, "the node took {took:?} to exit after SIGTERM:\n{}", first.log());

    let second = Node::start(&data, &opts);
    assert_eq!(second.admin_key, first.admin_key, "the restarted node uses the kept admin key");
    let status = second.api("GET", "/api/v1/streams/cam", None);
    assert_eq!(status.status, 200, "{}", status.text());
    assert_eq!(status.json()["state"], "ended", "{}", status.text());
    let after = second.playlist("cam").expect("the restarted node has no playlist for the stream");
    assert_eq!(after.text, before.text, "the playlist changed across the restart");
    assert!(fetch_all(&second, "cam", &after) == bytes_before, "segment bytes changed across the restart");
    assert_plays_like_the_clip(&second, "cam");
}

#[test]
fn sigterm_during_a_publish_flushes_and_ends_the_stream() {
    let clip = clip();
    let dir = TempDir::new("sigterm");
    let data = dir.join("data");
    let opts = NodeOptions::standard();
    let mut node = Node::start(&data, &opts);
    let token = node.token("cam", 600, false);
    let mut ffmpeg = publish(&node.rtmp_url("cam", Some(&token)), &["-stream_loop", "-1"], &[], &dir.join("ff.log"));
    node.wait_playlist("cam", "two segments", Duration::from_secs(10), |p| p.segments.len() >= 2);

    let (status, took) = node.terminate(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM: {status}\n{}", node.log());
    assert!(took <= SIGTERM_EXIT_WITHIN, "the node took {took:?} to exit after SIGTERM:\n{}", node.log());
    assert!(ffmpeg.wait_timeout(Duration::from_secs(10)).is_some(), "the publisher is still connected");

    let node = Node::start(&data, &opts);
    let p = node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(5), |p| p.ended);
    p.assert_well_formed();
    let chunks: Vec<String> = tree(&data.join("live/cam")).into_keys().filter(|k| k.ends_with(".flv")).collect();
    let mut listed: Vec<String> = p.segments.iter().map(|s| s.uri.replace(".m4s", ".flv")).collect();
    listed.sort();
    assert_eq!(chunks, listed, "chunks written vs segments listed:\n{}", p.text);
    let url = node.playlist_url("cam");
    assert_decodes_cleanly(&url, &[]);
    // The frames are the publisher's, up to the cut (B-frames: the last few may be missing).
    let decoded = media::frame_hashes(&url, &[]);
    let n = decoded.hashes.video.len();
    assert!(n as u64 >= FPS * (p.segments.len() as u64 - 1), "{n} video frames for {} segments", p.segments.len());
    let looped: Vec<&String> = clip.hashes.video.iter().cycle().take(n).collect();
    let same = decoded.hashes.video.iter().zip(looped).take(n.saturating_sub(3)).all(|(a, b)| a == b);
    assert!(same, "the video frames served after the SIGTERM are not the published ones");
    assert!(!decoded.hashes.audio.is_empty(), "no audio");
}

#[test]
fn admin_api_needs_the_key_lists_streams_and_stops_a_publish() {
    let clip = clip();
    let dir = TempDir::new("api");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    let body = json!({ "streamKey": "cam", "ttlSeconds": 60 });
    let revoke = json!({ "revoke": true });
    let routes: [(&str, &str, Option<&Value>); 9] = [
        ("POST", "/api/v1/publish", Some(&body)),
        ("GET", "/api/v1/streams", None),
        ("GET", "/api/v1/streams/cam", None),
        ("POST", "/api/v1/streams/cam/stop", None),
        ("POST", "/api/v1/streams/cam/stop", Some(&revoke)),
        ("POST", "/api/v1/streams/cam/revoke", None),
        ("GET", "/api/v1/openapi.json", None),
        ("POST", "/api/v1/drain", None),
        ("GET", "/api/v1/drain", None),
    ];
    let key = node.admin_key.clone();
    let wrong = [
        None,
        Some("Bearer not-the-admin-key-at-all".to_string()),
        Some(format!("Bearer {key}x")),
        Some(format!("Bearer {}", &key[..key.len() - 1])),
        Some(key.clone()),
        Some(format!("Basic {key}")),
    ];
    for (method, path, body) in routes {
        for auth in &wrong {
            let mut headers = vec![("Content-Type", "application/json")];
            if let Some(a) = auth {
                headers.push(("Authorization", a.as_str()));
            }
            let body = body.map(|b| b.to_string()).unwrap_or_default();
            let r = http::request(node.http, method, path, &headers, body.as_bytes()).unwrap();
            assert_eq!(r.status, 401, "{method} {path} with Authorization {auth:?}: {} {}", r.status, r.text());
            assert!(r.header("www-authenticate").is_some_and(|v| v.starts_with("Bearer")), "{method} {path}: {r:?}");
            assert!(r.json()["error"].is_string(), "{method} {path}: {}", r.text());
        }
    }
    assert!(!data.join("live").exists() && !data.join("tokens").exists(), "unauthorized calls wrote objects");

    let doc = node.api("GET", "/api/v1/openapi.json", None);
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{doc}");
    for path in [
        "/api/v1/publish",
        "/api/v1/streams",
        "/api/v1/streams/{key}",
        "/api/v1/streams/{key}/stop",
        "/api/v1/streams/{key}/revoke",
        "/api/v1/streams/{key}/outputs",
        "/api/v1/streams/{key}/outputs/{id}",
        "/api/v1/drain",
    ] {
        assert!(doc["paths"][path].is_object(), "openapi.json lacks {path}");
    }
    assert_eq!(node.api("GET", "/api/v1/streams/cam", None).status, 404, "a stream never published");
    assert_eq!(node.api("POST", "/api/v1/streams/cam/stop", None).status, 404, "stopping a stream not live");

    let token = node.token("cam", 600, false);
    let mut ffmpeg = publish(&node.rtmp_url("cam", Some(&token)), &["-stream_loop", "-1"], &[], &dir.join("ff.log"));
    node.wait_playlist("cam", "two segments", Duration::from_secs(10), |p| p.segments.len() >= 2);
    // The playlist lists a segment once it is cut; the API counts it once it is stored.
    wait_until("two stored segments", Duration::from_secs(10), || {
        node.api("GET", "/api/v1/streams/cam", None).json()["segmentCount"].as_u64().is_some_and(|n| n >= 2)
    });
    let codecs = format!("{},mp4a.40.2", clip.avc_codec);
    for (what, s) in
        [("list", listed_stream(&node, "cam")), ("status", node.api("GET", "/api/v1/streams/cam", None).json())]
    {
        assert_eq!(s["streamKey"], "cam", "{what}: {s}");
        assert_eq!(s["state"], "live", "{what}: {s}");
        assert_eq!(s["codecs"], codecs.as_str(), "{what}: {s}");
        assert_eq!((s["width"].as_u64(), s["height"].as_u64()), (Some(640), Some(360)), "{what}: {s}");
        assert!(s["frameRate"].as_f64().is_some_and(|f| (f - 30.0).abs() < 0.01), "{what}: {s}");
        assert!(s["segmentCount"].as_u64().is_some_and(|n| n >= 2), "{what}: {s}");
        assert_eq!(s["playbackUrl"], "/live/cam/index.m3u8", "{what}: {s}");
    }

    let stop = node.api("POST", "/api/v1/streams/cam/stop", None);
    assert_eq!(stop.status, 200, "stop: {}", stop.text());
    let stopped_at = Instant::now();
    assert!(
        ffmpeg.wait_timeout(Duration::from_secs(10)).is_some(),
        "the publisher is still running 10 s after the stop:\n{}",
        ffmpeg.log()
    );
    let p = node.wait_playlist("cam", "#EXT-X-ENDLIST after the stop", Duration::from_secs(10), |p| p.ended);
    assert!(stopped_at.elapsed() < Duration::from_secs(10));
    let s = node.api("GET", "/api/v1/streams/cam", None).json();
    assert_eq!(s["state"], "ended", "{s}");
    assert_eq!(s["segmentCount"].as_u64(), Some(p.segments.len() as u64), "{s}\n{}", p.text);
    assert_eq!(node.api("POST", "/api/v1/streams/cam/stop", None).status, 404, "stopping an ended stream");
    assert_decodes_cleanly(&node.playlist_url("cam"), &[]);
}

#[test]
fn metrics_are_prometheus_text_and_count_what_was_published() {
    let clip = clip();
    let dir = TempDir::new("metrics");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    let m = node.metrics();
    assert_eq!(m.get("rapidrtmp_chunks_written_total", &[]), 0.0);
    // A fresh node exports its labelled counters at 0 for every label value it knows, so rates
    // and alerts work before the first event: every publish result (docs/operations.md) and
    // every playback route, served and not found.
    let results = [
        "accepted",
        "unauthorized",
        "expired",
        "reused",
        "revoked",
        "reserved",
        "busy",
        "bad_name",
        "draining",
        "store_error",
    ];
    for result in results {
        let series = m.value("rapidrtmp_publish_attempts_total", &[("result", result)]);
        assert_eq!(series, Some(0.0), "rapidrtmp_publish_attempts_total{{result={result:?}}} on a fresh node");
    }
    for route in ["playlist", "multivariant", "init", "segment", "part", "chunk", "live"] {
        for status in ["200", "404"] {
            let series = m.value("rapidrtmp_http_requests_total", &[("route", route), ("status", status)]);
            assert_eq!(
                series,
                Some(0.0),
                "rapidrtmp_http_requests_total{{route={route:?},status={status}}} on a fresh node"
            );
        }
    }

    let token = node.token("cam", 600, false);
    let (status, messages, _) =
        publish_and_wait(&node.rtmp_url("cam", Some(&token)), &[], &dir.join("publish.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "publish ({status}):\n{messages}");
    let p = node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);
    wait_until("the RTMP connection to close", Duration::from_secs(10), || {
        node.metrics().get("rapidrtmp_rtmp_connections", &[]) == 0.0
    });
    let chunk_bytes: u64 =
        tree(&data.join("live/cam")).iter().filter(|(k, _)| k.ends_with(".flv")).map(|(_, v)| v.0).sum();

    let m = node.metrics();
    for family in m.types.keys() {
        assert!(m.helps.contains_key(family), "{family} has a TYPE but no HELP");
    }
    let segments = p.segments.len() as f64;
    assert_eq!(m.get("rapidrtmp_chunks_written_total", &[]), segments, "chunks written vs segments listed");
    assert_eq!(m.get("rapidrtmp_chunk_write_seconds_count", &[]), segments, "chunk write timings");
    assert_eq!(m.get("rapidrtmp_chunk_bytes_written_total", &[]), chunk_bytes as f64, "chunk bytes vs files");
    assert_eq!(m.get("rapidrtmp_publish_attempts_total", &[("result", "accepted")]), 1.0);
    for gauge in ["rapidrtmp_active_streams", "rapidrtmp_store_backlog"] {
        assert_eq!(m.get(gauge, &[]), 0.0, "{gauge} after the publish ended");
    }
    for counter in ["rapidrtmp_store_errors_total", "rapidrtmp_chunks_lost_total"] {
        assert_eq!(m.get(counter, &[]), 0.0, "{counter}");
    }
    let tags = flv::count_tags(&clip.path);
    assert_eq!(
        m.get("rapidrtmp_bytes_in_total", &[]),
        tags.body_bytes as f64,
        "media bytes in vs the clip's tag bodies"
    );
    assert!(m.get("rapidrtmp_http_requests_total", &[("route", "playlist"), ("status", "200")]) >= 1.0);
    let frames_in = (
        m.get("rapidrtmp_frames_in_total", &[("kind", "video")]),
        m.get("rapidrtmp_frames_in_total", &[("kind", "audio")]),
    );
    assert_eq!(
        frames_in,
        (clip.video_frames as f64, clip.audio_frames as f64),
        "frames received (video, audio) vs the clip's frames (ffprobe -count_packets); the clip has ({}, {}) \
         video and audio FLV tags, sequence headers and end-of-sequence included",
        tags.video,
        tags.audio
    );
}

#[test]
fn prometheus_parser_accepts_valid_text_and_rejects_malformed_text() {
    let valid = "# HELP a_total A counter.\n# TYPE a_total counter\na_total{k=\"v \\\"q\\\" \\\\ \\n\",j=\"2\"} 3\n\
                 # HELP g A gauge.\n# TYPE g gauge\ng -1.5e3\n# a comment\n\
                 # HELP h A histogram.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\n\
                 h_sum 0.3\nh_count 2\n";
    let e = prom::parse(valid).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(e.get("a_total", &[("j", "2"), ("k", "v \"q\" \\ \n")]), 3.0);
    assert_eq!(e.get("g", &[]), -1500.0);
    let bad = [
        ("no value", "# TYPE a gauge\na\n"),
        ("value not a float", "# TYPE a gauge\na one\n"),
        ("bad metric name", "# TYPE 1a gauge\n1a 1\n"),
        ("unquoted label", "# TYPE a gauge\na{k=v} 1\n"),
        ("unterminated labels", "# TYPE a gauge\na{k=\"v\" 1\n"),
        ("bad escape", "# TYPE a gauge\na{k=\"\\x\"} 1\n"),
        ("no TYPE", "b 1\n"),
        ("bad TYPE", "# TYPE a countr\na 1\n"),
        ("TYPE after samples", "# TYPE a gauge\na 1\n# TYPE a gauge\n"),
        ("empty HELP", "# HELP a\n# TYPE a gauge\na 1\n"),
        ("series twice", "# TYPE a gauge\na{k=\"1\"} 1\na{k=\"1\"} 2\n"),
        ("interleaved families", "# TYPE a gauge\n# TYPE b gauge\na{k=\"1\"} 1\nb 1\na{k=\"2\"} 1\n"),
        ("negative counter", "# TYPE c_total counter\nc_total -1\n"),
        (
            "buckets not cumulative",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        ),
        ("+Inf bucket != count", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"),
        ("no +Inf bucket", "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n"),
        ("no final newline", "# TYPE a gauge\na 1"),
    ];
    for (what, text) in bad {
        assert!(prom::parse(text).is_err(), "accepted ({what}):\n{text}");
    }
}

#[test]
fn dropped_publisher_keeps_the_stream_live_through_the_reconnect_grace() {
    let dir = TempDir::new("grace");
    let data = dir.join("data");
    let mut opts = NodeOptions::standard();
    opts.set("--reconnect-grace", "6");
    let node = Node::start(&data, &opts);
    let token = node.token("cam", 600, false);
    let url = node.rtmp_url("cam", Some(&token));

    // The connection drops (SIGKILL: no unpublish): the stream stays live…
    let mut first = publish(&url, &["-stream_loop", "-1"], &[], &dir.join("first.log"));
    node.wait_playlist("cam", "two segments", Duration::from_secs(10), |p| p.segments.len() >= 2);
    first.kill();
    std::thread::sleep(Duration::from_secs(2));
    let p = node.playlist("cam").expect("playlist");
    assert!(!p.ended, "the playlist ended at once although the publisher may come back:\n{}", p.text);
    // …and a publisher coming back within the grace continues it, with no end in between.
    let (status, messages, _) = publish_and_wait(&url, &[], &dir.join("second.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "second publish ({status}):\n{messages}");
    let p = node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);
    assert_eq!(p.discontinuities, 1, "the reconnect is one discontinuity:\n{}", p.text);
    assert_decodes_cleanly(&node.playlist_url("cam"), &[]);

    // Dropped with nobody coming back: the stream ends once the grace is over.
    let token = node.token("cam2", 600, false);
    let mut lone = publish(&node.rtmp_url("cam2", Some(&token)), &["-stream_loop", "-1"], &[], &dir.join("lone.log"));
    node.wait_playlist("cam2", "a segment", Duration::from_secs(10), |p| !p.segments.is_empty());
    lone.kill();
    let dropped = Instant::now();
    let p = node.wait_playlist("cam2", "#EXT-X-ENDLIST", Duration::from_secs(15), |p| p.ended);
    assert!(
        dropped.elapsed() >= Duration::from_secs(5),
        "ended {:?} after the drop, before the grace:\n{}",
        dropped.elapsed(),
        p.text
    );
}

/// Publishes the FLV file at `path` to `url` in real time, as it is (`ffmpeg -re -c copy`).
fn publish_file(url: &str, path: &std::path::Path, log: &std::path::Path) -> support::proc::Background {
    let mut cmd = media::ffmpeg();
    cmd.args(["-v", "error", "-re", "-i"]).arg(path).args(["-c", "copy", "-f", "flv", url]);
    support::proc::Background::spawn("ffmpeg publish", &mut cmd, log.to_path_buf())
}

/// x264 intra refresh published live for 20 s (one IDR, recovery points flagged as keyframes):
/// the node cuts its chunks anyway at 3× the 1 s target, without losing a frame; every segment
/// it lists is served, the playlist drops EXT-X-INDEPENDENT-SEGMENTS, and ffmpeg decodes the
/// stream cleanly with every frame.
#[test]
fn rare_keyframes_rule_live_intra_refresh_is_cut_anyway_and_plays_every_frame() {
    let input = fixtures::intra_refresh();
    let dir = TempDir::new("intra-refresh");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    let token = node.token("ir", 600, false);
    let mut ffmpeg = publish_file(&node.rtmp_url("ir", Some(&token)), &input, &dir.join("ffmpeg.log"));
    let status = ffmpeg.wait_timeout(Duration::from_secs(90)).expect("ffmpeg publish did not finish");
    assert!(status.success(), "ffmpeg publish failed ({status}):\n{}", ffmpeg.log());
    let playlist = node.wait_playlist("ir", "#EXT-X-ENDLIST", Duration::from_secs(15), |p| p.ended);
    playlist.assert_well_formed();
    assert!(!playlist.text.contains("#EXT-X-INDEPENDENT-SEGMENTS"), "{}", playlist.text);
    assert_eq!(playlist.discontinuities, 0, "{}", playlist.text);
    assert!(playlist.segments.len() >= 6, "cut every 3 s, not once:\n{}", playlist.text);
    assert!(playlist.segments.iter().all(|s| s.duration <= 3.1), "{}", playlist.text);
    fetch_all(&node, "ir", &playlist);
    let url = node.playlist_url("ir");
    assert_decodes_cleanly(&url, &[]);
    let decoded = media::frame_hashes(&url, &[]);
    assert_eq!(decoded.hashes.video.len(), fixtures::INTRA_REFRESH_FRAMES, "every frame is kept");
}

/// Publishes `flv` with its timestamps exactly as they are, and waits for the playlist to end.
fn publish_exactly(node: &Node, key: &str, flv: &[u8]) -> Playlist {
    let token = node.token(key, 600, false);
    let url = node.rtmp_url(key, Some(&token));
    support::publisher::publish_exact(&url, flv).unwrap_or_else(|e| panic!("publish to {url}: {e}"));
    let playlist = node.wait_playlist(key, "#EXT-X-ENDLIST", Duration::from_secs(20), |p| p.ended);
    playlist.assert_well_formed();
    playlist
}

/// Each publishing session of `playlist` (init + its segments, fetched from the node) as one
/// file in `dir`, with its init segment's track count. Every segment decodes strictly against
/// its session's init segment (a track the init lacks is an error).
fn session_files(node: &Node, key: &str, playlist: &Playlist, dir: &TempDir) -> Vec<(std::path::PathBuf, usize)> {
    let mut files = Vec::new();
    for part in 0..=playlist.discontinuities {
        let segments: Vec<&support::hls::Segment> = playlist.segments.iter().filter(|s| s.part == part).collect();
        let Some(first) = segments.first() else { continue };
        let get = |uri: &str| {
            let r = node.get(&format!("/live/{key}/{uri}"));
            assert_eq!(r.status, 200, "GET {uri}: {}", r.text());
            r.body
        };
        let mut bytes = get(&first.map);
        let init = mp4::parse_init(&bytes).unwrap_or_else(|e| panic!("{key} {}: {e}", first.map));
        for s in &segments {
            let segment = get(&s.uri);
            mp4::parse_segment(&segment, &init).unwrap_or_else(|e| panic!("{key} {}: {e}", s.uri));
            bytes.extend(segment);
        }
        let path = dir.join(&format!("{key}-session{part}.mp4"));
        std::fs::write(&path, bytes).expect("write");
        files.push((path, init.tracks.len()));
    }
    files
}

/// The video frames of a file, decoded (and that the decode is clean).
fn clean_video_frames(path: &std::path::Path) -> usize {
    let url = path.to_str().expect("utf-8 path");
    assert_decodes_cleanly(url, &[]);
    if !media::probe(url).0.iter().any(|s| s.codec_type == "video") {
        return 0;
    }
    media::video_frames(path).frames.len()
}

/// Live, a track the encoder's `onMetaData` announces whose sequence header comes 3 s late
/// (the audio; then the video): one session whose one init segment declares both tracks, so
/// ffmpeg 5.1 and ffmpeg 9 (and ffplay, mpv and OBS, which read HLS through them) read the
/// node's whole playlist with every packet published and print nothing; hls.js plays it.
#[test]
fn late_header_rule_live_an_announced_track_3s_late_every_ffmpeg_reads_the_playlist() {
    let source = fixtures::Fixture::HighBFrames;
    let dir = TempDir::new("live-late-ffmpeg");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    for (key, kind) in [("lateaudio", flv::AUDIO), ("latevideo", flv::VIDEO)] {
        let (bytes, _) = fixtures::late_sequence_header(&source.bytes(), kind, 3000);
        let playlist = publish_exactly(&node, key, &bytes);
        assert_eq!(playlist.discontinuities, 0, "{key}: one session:\n{}", playlist.text);
        assert_eq!(playlist.maps.len(), 1, "{key}: one init segment:\n{}", playlist.text);
        let files = session_files(&node, key, &playlist, &dir);
        assert_eq!(files.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [2], "{key}: the init declares both tracks");
        assert_every_ffmpeg_reads(&node.playlist_url(key), fixtures::frame_counts(&bytes));
        // hls.js (Chromium's MSE) plays it too, from the start to the end. Before the late track
        // starts, a segment has one of the two tracks its init segment declares: Chromium's
        // buffer of both counts only the time every track covers, so hls.js says such a segment
        // did not extend it (non-fatal) and plays on; nothing else.
        let report = player::play(&node.playlist_url(key), false);
        let before_the_late_track =
            |e: &Value| e["details"] == "bufferAppendNoProgress" && e["fatal"] == false && e["at"].as_f64() < Some(3.0);
        let errors: Vec<Value> = player::errors(&report).into_iter().filter(|e| !before_the_late_track(e)).collect();
        assert_eq!(errors, Vec::<Value>::new(), "{key}: no other hls.js error: {report}");
        assert_eq!(report["pageErrors"], json!([]), "{key}: {report}");
        assert!(report["currentTime"].as_f64().unwrap_or(0.0) >= 5.0, "{key}: hls.js played on: {report}");
    }
}

/// 9 audio timestamps 1 ms before the frame before them, published as they are: one session,
/// every video frame kept.
#[test]
fn jitter_rule_live_audio_stepping_back_1_ms_keeps_every_frame_in_one_session() {
    let source = fixtures::Fixture::HighBFrames;
    let bytes = fixtures::jittered_audio(&source.bytes(), 9);
    let dir = TempDir::new("live-jitter");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let playlist = publish_exactly(&node, "jitter", &bytes);
    assert_eq!(playlist.discontinuities, 0, "jitter is not a new session:\n{}", playlist.text);
    assert_eq!(playlist.maps.len(), 1, "{}", playlist.text);
    let url = node.playlist_url("jitter");
    assert_decodes_cleanly(&url, &[]);
    let frames = media::frame_hashes(&url, &[]).hashes.video.len();
    let expected = media::reference(source).video.as_ref().map(|v| v.frames.len());
    assert_eq!(Some(frames), expected, "every video frame is kept");
}

/// Live, with the encoder's `onMetaData` announcing both tracks: the video header 1 s late and
/// the audio header 3 s late are waited for (1 s segments), so each stream is one session whose
/// init segment has both tracks. The audio header 5.5 s late is past the wait
/// (`MAX_ANNOUNCED_WAIT_MS`): it joins at the next keyframe (6 s) in a second session whose init
/// segment has both tracks. No segment carries a track its init segment lacks, each session
/// decodes cleanly, and every video frame from the point the video starts is kept. (ffmpeg
/// cannot read a playlist across an init segment change: its HLS demuxer skips the second
/// `moov`, "Found duplicated MOOV Atom"; so each session is decoded on its own.)
#[test]
fn late_header_rule_live_late_video_and_audio_headers_keep_every_frame() {
    use fixtures::Fixture::{HighBFrames, LongGop};
    let dir = TempDir::new("live-late");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let cases = [
        ("latevideo", HighBFrames, flv::VIDEO, 1000, vec![2]),
        ("lateaudio", HighBFrames, flv::AUDIO, 3000, vec![2]),
        ("lateraudio", LongGop, flv::AUDIO, 5500, vec![1, 2]),
    ];
    for (key, source, kind, late_ms, tracks_per_session) in cases {
        let (bytes, _) = fixtures::late_sequence_header(&source.bytes(), kind, late_ms);
        let input = dir.join(&format!("{key}.flv"));
        std::fs::write(&input, &bytes).expect("write");
        let source_frames = media::reference(source).video.as_ref().map_or(0, |v| v.frames.len());
        let expected = if kind == flv::VIDEO { clean_video_frames(&input) } else { source_frames };
        let playlist = publish_exactly(&node, key, &bytes);
        let files = session_files(&node, key, &playlist, &dir);
        let tracks: Vec<usize> = files.iter().map(|(_, n)| *n).collect();
        assert_eq!(tracks, tracks_per_session, "{key}: tracks of each session's init:\n{}", playlist.text);
        let mut frames = 0;
        for (file, _) in &files {
            frames += clean_video_frames(file);
        }
        assert_eq!(frames, expected, "{key}: every video frame is kept");
    }
}

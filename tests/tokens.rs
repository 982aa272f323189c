//! Publish tokens' scope and revocation, with real peers: ffmpeg 9 publishes a multitrack
//! ladder whose tracks' stream keys no other token may take; two nodes on one s3s-fs bucket
//! share the tokens' generations, so a key revoked on one node is refused on both and its
//! publisher on the other is disconnected within the documented bound.
//!
//! Needs ffmpeg, ffmpeg 9 (imageio-ffmpeg), python3 and s3s-fs (`tests/s3s.sh` installs it).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::checks::{assert_decodes_cleanly, assert_frames_equal, tree, LOCAL_PLAYLIST};
use support::media::{
    assert_publish_refused, clip, ffmpeg9, frame_counts, publish_and_wait, publish_live_source, test_pattern_inputs,
    FPS,
};
use support::node::{Node, NodeOptions};
use support::proc::{run, Background, TempDir};
use support::s3s::S3sFs;

/// Seconds the multitrack source lasts.
const SECONDS: u32 = 6;
/// The owner lease of the two-node test: its nodes re-read a publishing key's token generation
/// every third of it.
const LEASE_SECONDS: u64 = 6;

/// ffmpeg 9 publishing a live two-rendition ladder to `url`: video track 0 at 640×360, track 1
/// at 320×180 (a OneTrack multitrack packet each), one AAC track, a keyframe a second.
fn ladder(url: &str, log: std::path::PathBuf) -> Background {
    let mut cmd = ffmpeg9();
    cmd.args(["-v", "error", "-re"])
        .args(test_pattern_inputs(SECONDS))
        .args(["-filter_complex", "[0:v]split=2[a][b];[b]scale=320:180[b1]"])
        .args(["-map", "[a]", "-map", "[b1]", "-map", "1:a"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-sc_threshold", "0", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-f", "flv", url]);
    Background::spawn("ffmpeg 9 ladder", &mut cmd, log)
}

/// A token for `stream_key` in the first token format (no generation), as nodes issued them
/// before keys were reserved: signed by Python's `hmac`, from the admin key, independently of
/// the node's code.
fn first_format_token(admin_key: &str, stream_key: &str) -> String {
    const SIGN: &str = "import base64, hashlib, hmac, sys
admin, key, body = sys.argv[1:4]
secret = hmac.new(admin.encode(), b'rapidrtmp publish token v1', hashlib.sha256).digest()
sig = hmac.new(secret, (key + '\\n' + body).encode(), hashlib.sha256).digest()
print(body + '.' + base64.urlsafe_b64encode(sig).rstrip(b'=').decode())";
    let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600;
    let body = format!("{expires}.first-format-nonce.0");
    let out = run(Command::new("python3").args(["-c", SIGN, admin_key, stream_key, &body]), Duration::from_secs(30));
    assert!(out.success(), "python3 signs a token: {}", out.describe());
    out.stdout_text().trim().to_string()
}

/// `POST /api/v1/publish` for `body`: its status and error text.
fn issue(node: &Node, body: Value) -> (u16, String) {
    let r = node.api("POST", "/api/v1/publish", Some(&body));
    (r.status, r.json()["error"].as_str().unwrap_or_default().to_string())
}

/// A multitrack publish of `cam` owns `cam_v1`: no token is issued for it (nor for any key
/// ending in `_v` or `_a` and a number), and a token signed for it before names were reserved
/// cannot publish it while the ladder is live. The ladder's track stream has every frame of
/// its track, nothing of the other publisher; first-format tokens of other keys still publish.
#[test]
fn a_multitrack_publish_keeps_its_track_keys_and_no_token_is_issued_for_them() {
    let dir = TempDir::new("tokens-scope");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    for (body, what) in [
        (json!({ "streamKey": "cam_v1" }), "a video track's key"),
        (json!({ "streamKey": "cam_a2" }), "an audio track's key"),
        (json!({ "streamKey": "cam_v007" }), "a video track's key with leading zeros"),
        (json!({ "streamKey": "show_720p", "group": "cam_v1" }), "a group named like a track's key"),
    ] {
        let (status, error) = issue(&node, body);
        assert_eq!(status, 400, "{what}: {error}");
        assert!(error.contains("reserved") && error.contains("multitrack"), "{what}: the reason: {error}");
    }
    for free in ["cam_v1x", "cam_video", "cam_v", "cam-v1"] {
        assert_eq!(issue(&node, json!({ "streamKey": free })).0, 201, "{free} is no track's key");
    }
    assert!(!dir.join("data/live").exists(), "refused tokens wrote stream objects");

    let bob = first_format_token(&node.admin_key, "cam_v1");
    let mut alice = ladder(&node.rtmp_url("cam", Some(&node.token("cam", 600, false))), dir.join("alice.log"));
    let v1 = node.wait_playlist("cam_v1", "a segment while live", Duration::from_secs(20), |p| !p.segments.is_empty());
    assert!(!v1.ended, "{}", v1.text);
    assert_publish_refused(
        "a first-format token for cam_v1",
        &node.rtmp_url("cam_v1", Some(&bob)),
        &dir.join("bob.log"),
    );
    assert_eq!(node.publish_attempts("reserved"), 1.0, "{}", node.metrics().text);
    let status = alice.wait_timeout(Duration::from_secs(60)).expect("the ladder's publish ends");
    assert!(status.success(), "the ladder's publish:\n{}", alice.log());

    let url = |key: &str| format!("http://{}/live/{key}/index.m3u8", node.http);
    for key in ["cam", "cam_v1"] {
        let p = node.wait_playlist(key, "#EXT-X-ENDLIST", Duration::from_secs(20), |p| p.ended);
        assert_eq!(p.discontinuities, 0, "{key}: one publish, one session:\n{}", p.text);
        let decode =
            run(ffmpeg9().args(["-v", "warning", "-i", &url(key), "-f", "null", "-"]), Duration::from_secs(60));
        assert!(decode.success() && decode.stderr.trim().is_empty(), "ffmpeg 9 decodes {key}:\n{}", decode.stderr);
    }
    let (main, track) = (frame_counts(&url("cam")), frame_counts(&url("cam_v1")));
    assert_eq!(main.0 as u64, FPS * u64::from(SECONDS), "every frame of track 0 in cam");
    assert_eq!(track, main, "cam_v1: every frame of track 1 and the audio, nothing else");
    let master = node.get("/live/cam/master.m3u8").text();
    assert!(master.contains("../cam_v1/index.m3u8"), "the ladder lists its track:\n{master}");

    // Tokens issued before keeps working for keys that are no track's.
    let old = first_format_token(&node.admin_key, "legacy");
    let (status, messages, _) =
        publish_and_wait(&node.rtmp_url("legacy", Some(&old)), &[], &dir.join("legacy.log"), Duration::from_secs(40));
    assert!(status.success(), "a first-format token publishes ({status}):\n{messages}");
    node.wait_playlist("legacy", "#EXT-X-ENDLIST", Duration::from_secs(15), |p| p.ended);
    assert_decodes_cleanly(&node.playlist_url("legacy"), &[]);
    assert_frames_equal(&node.playlist_url("legacy"), &[], &clip().hashes);
    assert!(!node.log().contains("panicked"), "{}", node.log());
}

/// `POST …/revoke` on node B: the publisher on node A is disconnected within a third of the
/// owner lease (and a store read), and the token is refused on both nodes. `stop` with
/// `{"revoke": true}` does the same on the publisher's own node, at once. A token issued after
/// each revocation publishes, and plays every frame.
#[test]
fn a_revoked_key_refuses_its_old_tokens_on_every_node_and_disconnects_its_publisher() {
    let dir = TempDir::new("tokens-revoke");
    let s3 = S3sFs::start(&dir.join("s3"), &["media"]);
    let (args, env) = s3.node_store("media", "pfx");
    let mut opts = NodeOptions::standard();
    opts.args.extend(args);
    opts.set("--owner-lease", &LEASE_SECONDS.to_string());
    opts.env = env;
    let a = Node::start(&dir.join("a"), &opts);
    let b = Node::start(&dir.join("b"), &opts);
    let bound = Duration::from_secs(LEASE_SECONDS) / 3;

    let first = a.token("cam", 600, false);
    let mut publisher = publish_live_source(&a.rtmp_url("cam", Some(&first)), 60, &dir.join("first.log"));
    a.wait_playlist("cam", "a segment", Duration::from_secs(15), |p| !p.segments.is_empty());
    let r = b.api("POST", "/api/v1/streams/cam/revoke", None);
    assert_eq!(r.status, 200, "revoke on B: {}", r.text());
    let revoked_at = Instant::now();
    assert_eq!(r.json(), json!({ "streamKey": "cam", "generation": 1, "stopped": false }));
    publisher.wait_timeout(bound + Duration::from_secs(5)).expect("the publisher on A is disconnected");
    let took = revoked_at.elapsed();
    eprintln!("publisher on A disconnected {took:?} after the revocation on B (bound {bound:?} and a store read)");
    assert!(took <= bound + Duration::from_secs(3), "disconnected after {took:?}; the bound is {bound:?}");
    a.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);
    let records = tree(&s3.root.join("media/pfx/tokens/generation"));
    assert_eq!(records.keys().collect::<Vec<_>>(), ["cam.json"], "the generation is in the bucket");

    for (node, log) in [(&a, "first-again-a.log"), (&b, "first-again-b.log")] {
        assert_publish_refused("a revoked token", &node.rtmp_url("cam", Some(&first)), &dir.join(log));
        assert_eq!(node.publish_attempts("revoked"), 1.0, "{}", node.metrics().text);
    }

    // Issued on B after the revocation, published on A; revoked by a stop on A.
    let second = b.token("cam", 600, false);
    let mut publisher = publish_live_source(&a.rtmp_url("cam", Some(&second)), 60, &dir.join("second.log"));
    a.wait_playlist("cam", "a new session", Duration::from_secs(15), |p| p.discontinuities == 1 && !p.ended);
    let r = a.api("POST", "/api/v1/streams/cam/stop", Some(&json!({ "revoke": true })));
    assert_eq!(r.status, 200, "stop with revoke on A: {}", r.text());
    assert_eq!(r.json(), json!({ "streamKey": "cam", "generation": 2, "stopped": true }));
    publisher.wait_timeout(Duration::from_secs(5)).expect("the publisher on A is disconnected at once");
    assert_publish_refused("a token revoked by stop", &b.rtmp_url("cam", Some(&second)), &dir.join("second-b.log"));
    let r = a.api("POST", "/api/v1/streams/cam_v1/revoke", None);
    assert_eq!(r.status, 400, "a track's key has no tokens of its own: {}", r.text());

    // A token issued after both revocations publishes on B, and its session plays every frame.
    let third = a.token("cam", 600, false);
    let (status, messages, _) =
        publish_and_wait(&b.rtmp_url("cam", Some(&third)), &[], &dir.join("third.log"), Duration::from_secs(40));
    assert!(status.success(), "a new token publishes ({status}):\n{messages}");
    let playlist = b
        .wait_playlist("cam", "a third session, ended", Duration::from_secs(15), |p| p.ended && p.discontinuities == 2);
    let part = dir.join("third.m3u8");
    playlist.write_part(2, &b.stream_base("cam"), &part);
    let part = part.to_str().unwrap();
    assert_decodes_cleanly(part, LOCAL_PLAYLIST);
    assert_frames_equal(part, LOCAL_PLAYLIST, &clip().hashes);
    for node in [&a, &b] {
        assert!(!node.log().contains("panicked"), "{}", node.log());
    }
}

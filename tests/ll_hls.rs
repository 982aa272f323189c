//! End-to-end tests of Low-Latency HLS on the ingest node's built-in edge: ffmpeg publishes in
//! real time, the tests read the LL playlist, make blocking playlist and part requests, and
//! check that parts decode and are the same bytes whether the open segment or the stored chunk
//! was their source; through nginx as a caching proxy (the CDN stand-in), identical blocking
//! requests reach the node once and hls.js plays the parts in headless Chromium, for a minute
//! with its defaults, audio and video, with no error event of any kind near the live edge;
//! shaka-player plays the live stream at full frame rate. Needs ffmpeg, nginx, Chromium and
//! www/node_modules (`tests/run` installs them).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::cdn::Cdn;
use support::checks::wait_until;
use support::hls::preload_hint;
use support::media::{decode_messages, long_clip, publish, publish_clip, publish_live_source};
use support::node::{Edge, Node, NodeOptions};
use support::player::{errors, play};
use support::proc::{run, TempDir};

/// The first segment is listed this soon after the publish starts (1-second segments).
const FIRST_SEGMENT_WITHIN: Duration = Duration::from_secs(15);

/// The latency test measures a player against the wall clock: it runs alone, the other tests of
/// this file side by side (a machine busy with them makes Chromium drop behind now and then,
/// and hls.js with its defaults never catches up).
static TURNS: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    TURNS.write().unwrap_or_else(|e| e.into_inner())
}

fn beside_others() -> std::sync::RwLockReadGuard<'static, ()> {
    TURNS.read().unwrap_or_else(|e| e.into_inner())
}

fn playlist(node: &Node, key: &str, query: &str) -> support::http::Response {
    node.get(&format!("/live/{key}/index.m3u8{query}"))
}

#[test]
fn ll_playlist_blocking_reload_and_parts_of_the_open_segment() {
    let _turn = beside_others();
    let dir = TempDir::new("ll");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let mut ffmpeg = publish(&node.rtmp_url("cam", Some(&token)), &["-stream_loop", "-1"], &[], &dir.join("ff.log"));
    node.wait_playlist("cam", "a segment", FIRST_SEGMENT_WITHIN, |p| !p.segments.is_empty());

    let live = playlist(&node, "cam", "");
    let text = live.text();
    assert_eq!(live.status, 200);
    for tag in ["#EXT-X-VERSION:9", "#EXT-X-PART-INF:PART-TARGET=0.333", "CAN-BLOCK-RELOAD=YES", "PART-HOLD-BACK=0.666"]
    {
        assert!(text.contains(tag), "{tag} in:\n{text}");
    }
    assert!(!text.contains("#EXT-X-MEDIA-SEQUENCE:0\n"), "media sequence numbers start at 1:\n{text}");

    // A blocking reload for the hinted part answers once the part exists, with it listed.
    let (session, seq, part) = preload_hint(&text);
    let started = Instant::now();
    let blocked = playlist(&node, "cam", &format!("?_HLS_msn={seq}&_HLS_part={part}"));
    let waited = started.elapsed();
    assert_eq!(blocked.status, 200, "{}", blocked.text());
    let uri = format!("\"{session}/{seq}.{part}.m4s\"");
    let next_segment_part = format!("\"{session}/{}.0.m4s\"", seq + 1);
    let body = blocked.text();
    assert!(body.contains(&uri) || body.contains(&next_segment_part), "{uri} listed after the wait:\n{body}");
    assert!(waited < Duration::from_millis(3000), "answered as soon as the part existed, not {waited:?}");
    assert_eq!(blocked.header("cache-control"), Some("public, max-age=6"), "6 target durations");

    // A blocking part request for the next hint is held until the part is complete.
    let (session, seq, part) = preload_hint(&body);
    let path = format!("/live/cam/{session}/{seq}.{part}.m4s");
    let held = node.get(&path);
    assert_eq!(held.status, 200, "{path}: {}", held.text());
    assert_eq!(&held.body[4..8], b"styp", "a part is a CMAF segment of its own");
    assert!(held.body.windows(4).any(|w| w == b"moof"), "with its moof");
    assert_eq!(held.header("cache-control"), Some("public, max-age=31536000, immutable"));

    // Parts of the open segment, fetched now, and the same URLs once its chunk is stored.
    let open_text = playlist(&node, "cam", "").text();
    let (session, seq, _) = preload_hint(&open_text);
    wait_until("the open segment to have two parts", Duration::from_secs(3), || {
        preload_hint(&playlist(&node, "cam", "").text()).2 >= 2
    });
    let early: Vec<Vec<u8>> = (0..2).map(|p| node.get(&format!("/live/cam/{session}/{seq}.{p}.m4s")).body).collect();
    let chunk = dir.join(&format!("data/live/cam/{session}/{seq}.flv"));
    wait_until("the chunk to be stored", Duration::from_secs(5), || chunk.exists());
    std::thread::sleep(Duration::from_millis(300));
    for (p, bytes) in early.iter().enumerate() {
        let later = node.get(&format!("/live/cam/{session}/{seq}.{p}.m4s"));
        assert_eq!(later.status, 200);
        assert!(later.body == *bytes, "part {p} of {seq}: the same bytes from the open segment and from the chunk");
    }

    // Init + every part of a closed segment decodes cleanly, like the segment.
    let closed = playlist(&node, "cam", "").text();
    let init_uri = closed
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
        .map(|u| u.trim_end_matches('"'))
        .expect("a map");
    let mut whole = node.get(&format!("/live/cam/{init_uri}")).body;
    let parts: Vec<&str> = closed
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-PART:"))
        .filter_map(|l| l.split('"').nth(1))
        .filter(|u| u.starts_with(&format!("{session}/{seq}.")))
        .collect();
    assert!(parts.len() >= 2, "segment {seq}'s parts are listed:\n{closed}");
    for uri in &parts {
        let r = node.get(&format!("/live/cam/{uri}"));
        assert_eq!(r.status, 200, "{uri}");
        whole.extend_from_slice(&r.body);
    }
    let file = dir.join("parts.mp4");
    std::fs::write(&file, &whole).unwrap();
    assert_eq!(decode_messages(&file, &[]), "", "init + parts of segment {seq} decode cleanly");

    // §6.2.5.2: a part without a segment, or too far ahead, is a 400; a future part a short 404.
    assert_eq!(playlist(&node, "cam", "?_HLS_part=1").status, 400);
    assert_eq!(playlist(&node, "cam", &format!("?_HLS_msn={}", seq + 10)).status, 400);
    let future = node.get(&format!("/live/cam/{session}/{}.5.m4s", seq + 3));
    assert_eq!((future.status, future.header("cache-control")), (404, Some("public, max-age=1")));

    // A standard player ignores the LL tags: ffmpeg decodes the LL playlist's segments cleanly
    // (from a copy made VOD, since ffmpeg 5.1 reports every live reload of an init segment as a
    // duplicated moov, LL or not).
    let base = node.stream_base("cam");
    let vod: String = playlist(&node, "cam", "")
        .text()
        .lines()
        .map(|l| match l {
            l if l.starts_with("#EXT-X-MAP:URI=\"") => l.replacen("URI=\"", &format!("URI=\"{base}"), 1),
            l if !l.starts_with('#') && !l.is_empty() => format!("{base}{l}"),
            l => l.to_string(),
        })
        .chain(["#EXT-X-ENDLIST".to_string()])
        .collect::<Vec<_>>()
        .join("\n");
    let copy = dir.join("ll.m3u8");
    std::fs::write(&copy, vod + "\n").unwrap();
    let whitelist = ["-protocol_whitelist", "file,http,tcp"];
    assert_eq!(decode_messages(&copy, &whitelist), "", "ffmpeg decodes the LL playlist's segments");
    ffmpeg.kill();
}

/// The node's count of answered playlist requests.
fn playlists_answered(node: &Node) -> f64 {
    node.metrics().value("rapidrtmp_http_requests_total", &[("route", "playlist"), ("status", "200")]).unwrap_or(0.0)
}

/// 20 viewers block on the same blocking playlist `path` at once through `cdn`: they all get
/// the same answer, and the cache asks the node once.
fn blocked_viewers(cdn: &Cdn, node: &Node, path: &str) -> Vec<support::http::Response> {
    let before = playlists_answered(node);
    let answers = cdn.get_at_once(path, 20);
    assert!(answers.iter().all(|a| a.status == 200 && a.body == answers[0].body), "20 viewers, one answer");
    assert_eq!(playlists_answered(node) - before, 1.0, "20 blocking requests through a cache reach the node once");
    answers
}

#[test]
fn through_a_cdn_blocking_requests_reach_the_node_once_and_hls_js_plays_the_parts() {
    let _turn = beside_others();
    let dir = TempDir::new("ll-cdn");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let mut ffmpeg = publish_live_source(&node.rtmp_url("cam", Some(&token)), 120, &dir.join("ff.log"));
    node.wait_playlist("cam", "a segment", FIRST_SEGMENT_WITHIN, |p| !p.segments.is_empty());
    let cdn = Cdn::start(&dir.join("cdn"), &node.http.to_string());

    // 20 viewers block on the same future part at once: the cache sends one request on.
    let (_, seq, part) = preload_hint(&playlist(&node, "cam", "").text());
    let path = format!("/live/cam/index.m3u8?_HLS_msn={seq}&_HLS_part={part}");
    let answers = blocked_viewers(&cdn, &node, &path);
    assert!(answers.iter().any(|a| a.header("x-cache") == Some("HIT")), "the others were served from the cache");

    // hls.js (Low-Latency mode, its default) plays through the cache and loads parts.
    let url = cdn.url("/live/cam/index.m3u8");
    let ll = play(&url, true);
    assert_eq!(errors(&ll), Vec::<Value>::new(), "no hls.js error: {ll}");
    assert_eq!(ll["pageErrors"], json!([]), "{ll}");
    assert_eq!((&ll["lowLatency"], &ll["blockingReload"]), (&json!(true), &json!(true)), "{ll}");
    assert!(ll["parts"].as_u64().unwrap_or(0) >= 10, "parts were loaded: {ll}");
    assert!(ll["currentTime"].as_f64().unwrap_or(0.0) >= 6.0, "played on: {ll}");

    // A player without Low-Latency mode plays the same playlist as standard HLS.
    let standard = play(&url, false);
    assert_eq!(errors(&standard), Vec::<Value>::new(), "no hls.js error: {standard}");
    assert_eq!(standard["parts"], 0, "{standard}");
    assert!(standard["currentTime"].as_f64().unwrap_or(0.0) >= 6.0, "played on: {standard}");

    // A stateless edge over the node's store, with the node as its origin, behind its own cache:
    // the same bytes for every URL, one origin request for 20 blocked viewers, and hls.js plays.
    let origin = format!("http://{}", node.http);
    let edge = Edge::start(&node.data_dir, Some(&origin), dir.join("edge.log"));
    let edge_cdn = Cdn::start(&dir.join("edge-cdn"), &edge.addr.to_string());
    let (session, seq, part) = preload_hint(&edge.get("/live/cam/index.m3u8").text());
    let path = format!("/live/cam/index.m3u8?_HLS_msn={seq}&_HLS_part={part}");
    blocked_viewers(&edge_cdn, &node, &path);
    // Parts of the open segment (asked of the origin) and of stored chunks (built from the
    // store) are the node's bytes.
    let older = seq.saturating_sub(2).max(1);
    for path in [format!("/live/cam/{session}/{seq}.0.m4s"), format!("/live/cam/{session}/{older}.1.m4s")] {
        let (ours, theirs) = (node.get(&path), edge.get(&path));
        assert!(ours.status == 200 && theirs.status == 200 && ours.body == theirs.body, "{path}: edge and node differ");
    }
    let via_edge = play(&edge_cdn.url("/live/cam/index.m3u8"), true);
    assert_eq!(errors(&via_edge), Vec::<Value>::new(), "no hls.js error: {via_edge}");
    assert!(via_edge["parts"].as_u64().unwrap_or(0) >= 10, "parts were loaded: {via_edge}");
    ffmpeg.kill();
}

/// `curl` with HTTP/2 (`--http2-prior-knowledge` for h2c, `--http2 --insecure` for TLS): the
/// HTTP version, the status and the body.
fn curl_h2(url: &str) -> (String, String) {
    let tls = url.starts_with("https:");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "-w", "\n%{http_version} %{http_code}"]);
    cmd.args(if tls { &["--http2", "--insecure"][..] } else { &["--http2-prior-knowledge"][..] });
    let out = run(cmd.arg(url), Duration::from_secs(30)).ok().stdout_text();
    let (body, line) = out.rsplit_once('\n').expect("curl's -w line");
    (line.to_string(), body.to_string())
}

#[test]
fn blocking_playlists_over_h2c_and_https_with_h2() {
    let _turn = beside_others();
    let dir = TempDir::new("ll-h2");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let mut ffmpeg = publish(&node.rtmp_url("cam", Some(&token)), &["-stream_loop", "-1"], &[], &dir.join("ff.log"));
    node.wait_playlist("cam", "a segment", FIRST_SEGMENT_WITHIN, |p| !p.segments.is_empty());
    let (session, seq, part) = preload_hint(&playlist(&node, "cam", "").text());
    let url = format!("http://{}/live/cam/index.m3u8?_HLS_msn={seq}&_HLS_part={part}", node.http);
    let (version, body) = curl_h2(&url);
    assert_eq!(version, "2 200", "a blocking playlist over h2c");
    assert!(
        body.contains(&format!("{session}/{seq}.{part}.m4s")) || body.contains(&format!("{session}/{}.0.m4s", seq + 1)),
        "{body}"
    );
    ffmpeg.kill();

    // HTTPS: h2 by ALPN, from a PEM certificate and key.
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mut openssl = Command::new("openssl");
    openssl.args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]);
    openssl
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert);
    run(&mut openssl, Duration::from_secs(30)).ok();
    let [rtmp, http] = support::proc::free_ports(2)[..] else { unreachable!() };
    let mut serve = Command::new(support::node::node_bin());
    serve.args(["serve", "--rtmp-addr", &format!("127.0.0.1:{rtmp}"), "--http-addr", &format!("127.0.0.1:{http}")]);
    serve.arg("--data-dir").arg(dir.join("tls-data")).args(["--admin-key", &support::node::new_admin_key()]);
    serve.arg("--tls-cert").arg(&cert).arg("--tls-key").arg(&key);
    let _tls = support::proc::Background::spawn("rapidrtmp serve (TLS)", &mut serve, dir.join("tls.log"));
    let health = format!("https://127.0.0.1:{http}/health");
    wait_until("the HTTPS node", Duration::from_secs(20), || {
        Command::new("curl").args(["-sk", "--max-time", "2", &health]).output().is_ok_and(|o| o.status.success())
    });
    assert_eq!(curl_h2(&health), ("2 200".to_string(), "ok\n".to_string()), "h2 over TLS");
}

/// The node's count of a counter without labels.
fn counter(node: &Node, name: &str) -> f64 {
    node.metrics().value(name, &[]).unwrap_or(0.0)
}

/// The node's count of playback requests whose answer its edge cache found as `result` (`hit`,
/// `miss`, `shared`).
fn cache_requests(node: &Node, result: &str) -> f64 {
    node.metrics().value("rapidrtmp_edge_cache_requests_total", &[("result", result)]).unwrap_or(0.0)
}

/// HTTP/1.1 GETs of `paths`, one each, sent at once over connections opened beforehand (tokio,
/// one task each): every response's status, headers and body.
fn get_at_once(addr: std::net::SocketAddr, paths: Vec<String>) -> Vec<support::http::Response> {
    let n = paths.len();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut sockets = Vec::with_capacity(n);
        for _ in 0..n {
            sockets.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
        }
        let tasks: Vec<_> = sockets
            .into_iter()
            .zip(paths)
            .map(|(mut s, path)| {
                let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
                tokio::spawn(async move {
                    s.write_all(request.as_bytes()).await.expect("send");
                    let mut raw = Vec::new();
                    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut raw))
                        .await
                        .expect("answered")
                        .unwrap();
                    raw
                })
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for t in tasks {
            let raw = t.await.unwrap();
            let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response");
            let head = String::from_utf8_lossy(&raw[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap();
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            out.push(support::http::Response { status, headers, body: raw[end + 4..].to_vec() });
        }
        out
    })
}

#[test]
fn a_thousand_blocking_viewers_share_one_wait_and_one_built_part_and_the_publisher_loses_no_frame() {
    let _turn = beside_others();
    const WAITERS: usize = 1000;
    /// `MAX_BLOCKING_WAITERS` of the node.
    const CAP: usize = 512;
    let dir = TempDir::new("ll-waiters");
    let mut opts = NodeOptions::standard();
    // Parts longer than the clip's GOP: a keyframe starts each, so each lasts the GOP (1 s)
    // and the waiters have a second to arrive.
    opts.set("--segment-duration", "2");
    opts.set("--part-duration", "1.5");
    let node = Node::start(&dir.join("data"), &opts);
    let token = node.token("cam", 600, false);
    // An 18 s clip: both rounds of viewers below wait while the stream is live, however slowly
    // the first round goes, so the part they wait for is always made.
    let clip = long_clip();
    let mut ffmpeg = publish_clip(clip, &node.rtmp_url("cam", Some(&token)), &[], &[], &dir.join("ff.log"));
    node.wait_playlist("cam", "a part", FIRST_SEGMENT_WITHIN, |p| p.text.contains("#EXT-X-PART:"));

    // Right after a part is finished (a blocking reload returns then), 1,000 viewers ask for the
    // next one, straight at the node. The publisher is paused meanwhile (SIGSTOP), so the part
    // cannot be finished before they have all connected, however slow the machine. The same
    // URL: one request waits at the live edge, the others wait for its answer (or, come late,
    // find it kept), and every viewer gets the part.
    let (_, seq, part) = preload_hint(&playlist(&node, "cam", "").text());
    let blocked = playlist(&node, "cam", &format!("?_HLS_msn={seq}&_HLS_part={part}"));
    ffmpeg.signal("STOP");
    let (session, seq, part) = preload_hint(&blocked.text());
    let (built, refused) =
        (counter(&node, "rapidrtmp_ll_parts_built_total"), counter(&node, "rapidrtmp_ll_blocking_refused_total"));
    let lookups = |node: &Node| ["hit", "miss", "shared"].map(|r| cache_requests(node, r));
    let before = lookups(&node);
    let (addr, path) = (node.http, format!("/live/cam/{session}/{seq}.{part}.m4s"));
    let waiters = std::thread::spawn(move || get_at_once(addr, vec![path; WAITERS]));
    wait_until("the viewers to connect", Duration::from_secs(15), || {
        counter(&node, "rapidrtmp_http_connections") >= WAITERS as f64
    });
    ffmpeg.signal("CONT");
    let answers = waiters.join().expect("the waiters' thread");
    assert!(
        answers.iter().all(|a| a.status == 200),
        "every viewer gets the part: {:?}",
        answers.iter().find(|a| a.status != 200)
    );
    assert!(
        answers.iter().all(|a| a.body == answers[0].body && a.body.windows(4).any(|w| w == b"moof")),
        "one part for all"
    );
    assert_eq!(counter(&node, "rapidrtmp_ll_parts_built_total") - built, 1.0, "the part is built once");
    assert_eq!(counter(&node, "rapidrtmp_ll_blocking_refused_total") - refused, 0.0, "one wait at the live edge");
    let [hits, misses, shared] = lookups(&node);
    assert_eq!(misses - before[1], 1.0, "one request asked the live edge");
    assert_eq!((hits - before[0]) + (shared - before[2]), (WAITERS - 1) as f64, "the others shared its answer");

    // Different URLs wait each on their own: as many as a stream lets wait (the cap), the
    // others get a 503 at once.
    let (_, seq, part) = preload_hint(&playlist(&node, "cam", "").text());
    let blocked = playlist(&node, "cam", &format!("?_HLS_msn={seq}&_HLS_part={part}"));
    ffmpeg.signal("STOP");
    let (_, seq, part) = preload_hint(&blocked.text());
    let refused = counter(&node, "rapidrtmp_ll_blocking_refused_total");
    let paths = (0..WAITERS).map(|v| format!("/live/cam/index.m3u8?_HLS_msn={seq}&_HLS_part={part}&viewer={v}"));
    let paths: Vec<String> = paths.collect();
    let waiters = std::thread::spawn(move || get_at_once(addr, paths));
    wait_until("the waiters beyond the cap are refused", Duration::from_secs(15), || {
        counter(&node, "rapidrtmp_ll_blocking_refused_total") - refused >= (WAITERS - CAP) as f64
    });
    ffmpeg.signal("CONT");
    let answers = waiters.join().expect("the waiters' thread");
    let ok: Vec<_> = answers.iter().filter(|a| a.status == 200).collect();
    let busy: Vec<_> = answers.iter().filter(|a| a.status == 503).collect();
    assert_eq!(ok.len() + busy.len(), WAITERS, "every waiter gets the playlist or a 503");
    assert_eq!((ok.len(), busy.len()), (CAP, WAITERS - CAP), "playlists and refusals: the cap is {CAP}");
    let listed = format!("{seq}.{part}.m4s");
    assert!(ok.iter().all(|a| String::from_utf8_lossy(&a.body).contains(&listed)), "each lists the part it waited for");
    for b in &busy {
        assert_eq!((b.header("retry-after"), b.header("cache-control")), (Some("1"), Some("no-store")));
    }
    assert_eq!(counter(&node, "rapidrtmp_ll_blocking_refused_total") - refused, busy.len() as f64);

    // Nothing held the publisher up: the stored stream has every frame of the clip.
    let status = ffmpeg.wait_timeout(Duration::from_secs(60)).expect("the publish ends");
    assert!(status.success(), "ffmpeg: {}", ffmpeg.log());
    support::checks::assert_plays_like(&node, "cam", clip);
}

#[test]
fn the_open_chunk_its_init_and_its_parts_are_served_only_under_the_live_session() {
    let _turn = beside_others();
    let dir = TempDir::new("ll-bogus");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let mut ffmpeg = publish(&node.rtmp_url("cam", Some(&token)), &["-stream_loop", "-1"], &[], &dir.join("ff.log"));
    node.wait_playlist("cam", "a segment", FIRST_SEGMENT_WITHIN, |p| !p.segments.is_empty());
    wait_until("a part of the open segment", Duration::from_secs(3), || {
        preload_hint(&playlist(&node, "cam", "").text()).2 >= 1
    });
    let text = playlist(&node, "cam", "").text();
    let (session, seq, part) = preload_hint(&text);
    let init = text.lines().find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\"")).map(|u| u.trim_end_matches('"')).unwrap();
    let init_name = init.rsplit('/').next().unwrap();
    let last = seq - 1;
    let mut paths = vec![format!("{seq}.flv"), format!("{seq}.m4s"), format!("{last}.flv"), format!("{last}.m4s")];
    paths.extend([format!("{last}.0.m4s"), init_name.to_string()]);
    if part > 0 {
        paths.push(format!("{seq}.0.m4s"));
    }
    for path in &paths {
        let bogus = node.get(&format!("/live/cam/999{session}/{path}"));
        assert_eq!(bogus.status, 404, "{path} under a bogus session: {}", bogus.text());
    }
    // Under the live session, the same objects are there.
    for path in [format!("{last}.m4s"), format!("{last}.0.m4s"), init_name.to_string()] {
        assert_eq!(node.get(&format!("/live/cam/{session}/{path}")).status, 200, "{path}");
    }
    ffmpeg.kill();
}

#[test]
fn following_the_hints_across_segment_boundaries_every_playlist_has_a_hint_and_extends_the_last() {
    let _turn = beside_others();
    let dir = TempDir::new("ll-boundary");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let mut ffmpeg = publish_live_source(&node.rtmp_url("cam", Some(&token)), 60, &dir.join("ff.log"));
    node.wait_playlist("cam", "a segment", FIRST_SEGMENT_WITHIN, |p| !p.segments.is_empty());
    // As hls.js does: block for the hinted part, with delta updates. Each segment's last part
    // is finished by the segment's close: those requests are answered at the boundary.
    let mut text = playlist(&node, "cam", "").text();
    let (_, first, _) = preload_hint(&text);
    let mut uris = std::collections::BTreeMap::new();
    while preload_hint(&text).1 < first + 6 {
        let (_, seq, part) = preload_hint(&text);
        let next = playlist(&node, "cam", &format!("?_HLS_msn={seq}&_HLS_part={part}&_HLS_skip=YES"));
        assert_eq!(next.status, 200, "{}", next.text());
        text = next.text();
        assert!(text.lines().last().unwrap_or("").starts_with("#EXT-X-PRELOAD-HINT:TYPE=PART"), "a hint:\n{text}");
        // Segments listed keep their URI under their media sequence number.
        let media_sequence: u64 =
            text.lines().find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:")).unwrap().parse().unwrap();
        let skipped: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("#EXT-X-SKIP:SKIPPED-SEGMENTS="))
            .map_or(0, |n| n.parse().unwrap());
        let listed = text.lines().filter(|l| !l.starts_with('#') && !l.is_empty());
        for (i, uri) in listed.enumerate() {
            let sn = media_sequence + skipped + i as u64;
            let was = uris.insert(sn, uri.to_string());
            assert!(was.as_deref().is_none_or(|w| w == uri), "segment {sn} was {was:?}, now {uri}:\n{text}");
        }
    }
    ffmpeg.kill();
}

/// hls.js and shaka-player play this long in the tests below.
const PLAY_FOR: Duration = Duration::from_secs(60);
/// The most hls.js may estimate it is behind the live edge after [`PLAY_FOR`] (seconds): its
/// target, PART-HOLD-BACK (0.666 s, two parts), plus what starting took, at most two more
/// parts (0.666 s), and 70 ms of jitter. hls.js starts on a part boundary: one part further
/// back when its first part comes late (a loaded machine), and with its defaults it never
/// plays faster to catch up, so it ends three or four parts behind (1.0 or 1.33 s).
const MAX_HLS_JS_LATENCY_S: f64 = 1.4;

#[test]
fn hls_js_with_its_defaults_plays_audio_and_video_through_a_cdn_for_a_minute_with_no_error_near_the_edge() {
    let _turn = alone();
    let dir = TempDir::new("ll-minute");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let mut ffmpeg = publish_live_source(&node.rtmp_url("cam", Some(&token)), 100, &dir.join("ff.log"));
    node.wait_playlist("cam", "a segment", FIRST_SEGMENT_WITHIN, |p| !p.segments.is_empty());
    let cdn = Cdn::start(&dir.join("cdn"), &node.http.to_string());
    // Another viewer loads the playlist through the cache just before: the player must not get
    // a copy older than the live edge.
    assert_eq!(cdn.get("/live/cam/index.m3u8").status, 200);
    let seconds = PLAY_FOR.as_secs().to_string();
    let url = cdn.url("/live/cam/index.m3u8");
    let r = support::player::run_script("hls_live.mjs", &[("URL", &url), ("SECONDS", &seconds)]);
    // No error event of any kind, fatal or not (a stall, a nudge, a hole skipped at the start).
    assert_eq!(r["errors"], json!([]), "hls.js errors: {r}");
    assert_eq!(r["pageErrors"], json!([]), "{r}");
    let played = r["currentTime"].as_f64().unwrap_or(0.0) - r["startPosition"].as_f64().unwrap_or(f64::MAX);
    assert!(played >= PLAY_FOR.as_secs_f64() - 2.0, "played {played:.1} s of media in {}: {r}", r["playedSeconds"]);
    // hls.js's estimate over the last ten seconds (sampled each second): one reading taken while
    // a busy machine held a frame back says less than where the player settled.
    let mut last: Vec<f64> = r["latencies"]
        .as_array()
        .expect("latency samples")
        .iter()
        .rev()
        .take(10)
        .filter_map(|s| s[1].as_f64())
        .collect();
    assert!(last.len() >= 5, "latency samples: {r}");
    last.sort_by(f64::total_cmp);
    let latency = last[last.len() / 2];
    assert!(
        latency <= MAX_HLS_JS_LATENCY_S,
        "hls.js is {latency:.3} s behind the live edge after a minute (median of the last {} s): {r}",
        last.len()
    );
    ffmpeg.kill();
}

/// Plays `url` with shaka-player for `seconds` (its low-latency mode on or off); the report of
/// `shaka_play.mjs`.
fn shaka(url: &str, seconds: u64, low_latency: bool) -> Value {
    let seconds = seconds.to_string();
    let ll = if low_latency { "1" } else { "0" };
    support::player::run_script("shaka_play.mjs", &[("URL", url), ("SECONDS", &seconds), ("LOW_LATENCY", ll)])
}

/// The frame rate of the live source ([`publish_live_source`]).
const SOURCE_FPS: f64 = 30.0;
/// A player plays at full frame rate if it decodes at least this share of the source's frames.
const FULL_FRAME_RATE: f64 = 0.9;

#[test]
fn shaka_player_plays_the_live_stream_at_full_frame_rate_with_its_defaults_and_in_low_latency_mode() {
    let _turn = beside_others();
    const SECONDS: u64 = 20;
    let dir = TempDir::new("ll-shaka");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let mut ffmpeg = publish_live_source(&node.rtmp_url("cam", Some(&token)), 100, &dir.join("ff.log"));
    node.wait_playlist("cam", "a segment", FIRST_SEGMENT_WITHIN, |p| !p.segments.is_empty());
    let url = format!("http://{}/live/cam/index.m3u8", node.http);
    for low_latency in [false, true] {
        let r = shaka(&url, SECONDS, low_latency);
        let mode = if low_latency { "low-latency mode" } else { "defaults" };
        assert_eq!((&r["errors"], &r["pageErrors"]), (&json!([]), &json!([])), "shaka ({mode}): {r}");
        assert_eq!(r["isLive"], json!(true), "{r}");
        let (frames, elapsed) =
            (r["decodedFrames"].as_f64().unwrap_or(0.0), r["playedSeconds"].as_f64().unwrap_or(0.0));
        assert!(
            elapsed >= SECONDS as f64 && frames >= FULL_FRAME_RATE * SOURCE_FPS * elapsed,
            "shaka ({mode}) decoded {frames} frames in {elapsed:.1} s: {r}"
        );
        // Buffering only until the first frame, never after.
        let started = r["firstFrameMs"].as_f64().unwrap_or(0.0);
        let rebuffered: Vec<&Value> = r["buffering"]
            .as_array()
            .map(|b| b.iter().filter(|e| e["buffering"] == true && e["t"].as_f64().unwrap_or(0.0) > started).collect())
            .unwrap_or_default();
        assert!(rebuffered.is_empty(), "shaka ({mode}) rebuffered after the start: {r}");
    }
    ffmpeg.kill();
}

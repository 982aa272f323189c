//! End-to-end test of the web page (`www/`, served by the node at `/`) in headless Chromium,
//! driven by Playwright (`tests/www/browser.mjs`): ffmpeg publishes live; the page lists the
//! stream from the API and plays it with hls.js; its inspector opens the init segment, a media
//! segment and a chunk from the live playlist, and a dropped file; its packager turns an FLV
//! into a ZIP of HLS and into one MP4. Then the checks. Against independent tools (hls.js,
//! ffprobe, ffmpeg):
//!
//! - playback advanced at least 5 s, at the clip's size, with no hls.js ERROR event at all;
//! - the stream's outputs are listed beside the player, one to a destination that is down as
//!   `retrying` with its error, its stream key masked;
//! - the box tree shows `ftyp`/`moov`/`trak` (init) and `moof`/`mdat` (segment), and the sample
//!   counts it shows equal ffprobe's packet counts of the same segment;
//! - the packager's files decode cleanly in ffmpeg, frame for frame like the clip.
//!
//! Against our own code (the same core, built natively for the CLI instead of as WASM for the
//! page): these prove that the page and the CLI agree, not that either is right (elsewhere the
//! golden dumps pin the inspector's output, and mp4-atom and ffmpeg check the packager's):
//!
//! - every JSON report downloaded from the inspector equals `rapidrtmp inspect --json` on the
//!   same bytes;
//! - the packager's files equal `rapidrtmp package` output byte for byte.
//!
//! And:
//!
//! - a file that is not media gets a clear error in both views, and no exception;
//! - the page requested nothing beyond its own origin, and its WASM is within budget.
//!
//! And, opened with `?api=` naming another origin, the page sends that origin nothing before the
//! user confirms it, and never the key entered for its own origin (`tests/www/api_origin.mjs`).
//!
//! And its Recordings view lists a stream's two sessions, plays one and links the clip of a range
//! chosen on it, at the recording's program dates (`tests/www/recordings.mjs`; its screenshot in
//! `tests/artefacts/www-recordings/`).
//!
//! Screenshots of each view are kept in `tests/artefacts/www/`. Needs `www/build.sh` run before
//! the node is built (tests/run does both), Chromium (`/usr/bin/chromium` or `$CHROMIUM`) and
//! Node.js.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::checks::{assert_decodes_cleanly, assert_frames_equal};
use support::cli::rapidrtmp_ok;
use support::media::{clip, publish, publish_and_wait};
use support::node::{new_admin_key, Node, NodeOptions};
use support::player::{browser, run_script};
use support::proc::{run, TempDir};

const BROWSER_TIMEOUT: Duration = Duration::from_secs(240);
/// How long publishing the 6-second clip in real time may take on a busy machine.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(40);
const STREAM: &str = "webpage";
/// The budget of the page's WASM, gzipped.
const WASM_BUDGET: usize = 250 * 1024;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

#[test]
fn web_page_plays_inspects_and_packages() {
    let dist = repo().join("www/dist");
    assert!(dist.join("index.html").is_file(), "{} is missing: run www/build.sh (tests/run does)", dist.display());
    let (www, chromium) = browser();

    let dir = TempDir::new("www");
    let opts = NodeOptions {
        admin_key: Some(new_admin_key()),
        args: ["--segment-duration", "2", "--live-window", "6"].map(String::from).to_vec(),
        env: Vec::new(),
    };
    let node = Node::start(&dir.join("data"), &opts);
    let base = format!("http://{}", node.http);

    // The node serves the page it was built with.
    let page = node.get("/");
    assert_eq!(page.status, 200, "GET /: {}", page.text());
    assert_eq!(page.body, std::fs::read(dist.join("index.html")).unwrap(), "GET / is not www/dist/index.html");
    assert!(page.header("content-security-policy").is_some_and(|c| c.contains("default-src 'self'")));
    // Gzipped and plain bodies are two representations: two ETags, each revalidating only itself.
    let get_page = |headers: &[(&str, &str)]| support::http::request(node.http, "GET", "/", headers, &[]).unwrap();
    let gz = get_page(&[("Accept-Encoding", "gzip")]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.body, std::fs::read(dist.join("index.html.gz")).unwrap());
    let (plain_tag, gz_tag) = (page.header("etag").unwrap(), gz.header("etag").unwrap());
    assert_ne!(plain_tag, gz_tag);
    assert_eq!(get_page(&[("Accept-Encoding", "gzip"), ("If-None-Match", gz_tag)]).status, 304);
    assert_eq!(get_page(&[("Accept-Encoding", "gzip"), ("If-None-Match", plain_tag)]).status, 200);
    assert_eq!(get_page(&[("If-None-Match", plain_tag)]).status, 304);
    let wasm = node.request("GET", "/pkg/rapidrtmp_www_bg.wasm", None, None);
    assert_eq!((wasm.status, wasm.header("content-type")), (200, Some("application/wasm")));
    let wasm_gz = std::fs::read(dist.join("pkg/rapidrtmp_www_bg.wasm.gz")).unwrap();
    assert!(wasm_gz.len() <= WASM_BUDGET, "the WASM is {} bytes gzipped, over {WASM_BUDGET}", wasm_gz.len());

    // An output to a destination that is down: the page shows it retrying, its key masked.
    let down = support::proc::free_ports(1)[0];
    let output = json!({ "url": format!("rtmp://127.0.0.1:{down}/live2/page-secret") });
    let r = node.api("POST", &format!("/api/v1/streams/{STREAM}/outputs"), Some(&output));
    assert_eq!(r.status, 201, "{}", r.text());

    let token = node.token(STREAM, 3600, false);
    let mut publisher =
        publish(&node.rtmp_url(STREAM, Some(&token)), &["-stream_loop", "-1"], &[], &dir.join("ffmpeg.log"));
    node.wait_playlist(STREAM, "3 segments", Duration::from_secs(30), |p| p.segments.len() >= 3);

    let out = repo().join("tests/artefacts/www");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let browser = run(
        Command::new("node")
            .arg(repo().join("tests/www/browser.mjs"))
            .env("BASE", &base)
            .env("ADMIN_KEY", &node.admin_key)
            .env("STREAM", STREAM)
            .env("FLV", &clip().path)
            .env("OUT", &out)
            .env("WWW", &www)
            .env("CHROMIUM", &chromium),
        BROWSER_TIMEOUT,
    );
    let result: Value = std::fs::read(out.join("result.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    assert!(
        browser.success(),
        "the browser run failed:\n{}\n{}\nwhat it saw: {result:#}",
        browser.describe(),
        browser.stdout_text()
    );
    publisher.kill();

    check_page_health(&result, &base);
    check_playback(&result["playback"]);
    let outputs = result["outputs"].to_string();
    assert!(
        outputs.contains("retrying") && outputs.contains(&format!("rtmp://127.0.0.1:{down}/live2/****")),
        "{outputs}"
    );
    assert!(outputs.contains("cannot connect") && !outputs.contains("page-secret"), "{outputs}");
    let inspected: BTreeMap<&str, &Value> =
        result["inspected"].as_array().unwrap().iter().map(|i| (i["label"].as_str().unwrap(), i)).collect();
    check_inspector(&node, &dir, &inspected);
    check_packager(&result["packaged"], &dir);
    check_bad_input(&result["badInput"]);
    for shot in ["player", "inspector-init", "inspector-segment", "inspector-chunk", "inspector-file", "packager"] {
        let png = out.join(format!("{shot}.png"));
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot {}: {e}", png.display()));
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{} is not a real screenshot", png.display());
    }
}

/// No script errors, and no request beyond the page's own origin (which is the stream's too).
fn check_page_health(result: &Value, base: &str) {
    assert_eq!(result["pageErrors"], Value::Array(vec![]), "uncaught errors in the page");
    assert_eq!(result["consoleErrors"], Value::Array(vec![]), "errors on the console");
    let requests = result["requests"].as_array().unwrap();
    assert!(!requests.is_empty());
    for url in requests.iter().map(|u| u.as_str().unwrap()) {
        let own = url.starts_with(&format!("{base}/")) || url.starts_with("blob:") || url.starts_with("data:");
        assert!(own, "the page requested {url}, beyond its origin {base}");
    }
}

fn check_playback(p: &Value) {
    let advanced = p["currentTime"].as_f64().unwrap() - p["start"].as_f64().unwrap();
    assert!(advanced >= 5.0, "playback advanced {advanced} s: {p:#}");
    assert_eq!((p["videoWidth"].as_u64(), p["videoHeight"].as_u64()), (Some(640), Some(360)), "{p:#}");
    let errors = p["hlsErrors"].as_array().cloned().unwrap_or_default();
    let unexpected = support::checks::unexpected_hls_errors(&errors, None);
    assert_eq!(unexpected, Vec::<Value>::new(), "hls.js raised ERROR events: {p:#}");
    assert_eq!(p["errorLog"].as_u64(), Some(errors.len() as u64), "the page logs each of them: {p:#}");
    assert!(p["timeline"].as_u64().unwrap() >= 2, "{p:#}");
    let stats = &p["stats"];
    assert_eq!(stats["resolution"].as_str().map(|r| r.replace(' ', "")), Some("640×360".into()), "{stats}");
    for figure in ["latency", "buffer", "bitrate", "dropped"] {
        let text = stats[figure].as_str().unwrap_or("");
        assert!(text.chars().any(|c| c.is_ascii_digit()), "live figure {figure} shows {text:?}");
    }
    let ll = stats["ll"].as_str().unwrap_or("");
    assert!(ll.starts_with("on · parts of 0.333 s, blocking reload"), "the page shows LL-HLS is on: {ll:?}");
}

fn fetch(url: &str) -> Vec<u8> {
    let r = support::http::get(url);
    assert_eq!(r.status, 200, "GET {url}: {}", r.text());
    r.body
}

/// The inspector showed the right boxes, and sample counts equal to ffprobe's; its reports
/// equal the CLI's (a check that the WASM build agrees with the native one, not an independent
/// one).
fn check_inspector(node: &Node, dir: &TempDir, inspected: &BTreeMap<&str, &Value>) {
    let boxes = |label: &str| -> Vec<String> {
        inspected[label]["boxes"].as_array().unwrap().iter().map(|b| b.as_str().unwrap().to_string()).collect()
    };
    for (label, wanted) in [("init", &["ftyp", "moov", "trak", "avcC"][..]), ("segment", &["moof", "mdat", "trun"])] {
        let seen = boxes(label);
        for b in wanted {
            assert!(seen.iter().any(|s| s == b), "the {label} box tree lacks {b}: {seen:?}");
        }
    }
    assert!(inspected["chunk"]["flvTags"].as_u64().unwrap() > 10, "{:#}", inspected["chunk"]);

    // Sample counts shown for the segment = ffprobe's packet counts of init + segment.
    let base = format!("http://{}", node.http);
    let url = |label: &str| {
        let u = inspected[label]["url"].as_str().unwrap();
        if u.starts_with("http") {
            u.to_string()
        } else {
            format!("{base}{u}")
        }
    };
    let init = fetch(&url("init"));
    let segment = fetch(&url("segment"));
    let joined = dir.join("segment.mp4");
    std::fs::write(&joined, [init.as_slice(), segment.as_slice()].concat()).unwrap();
    let probe = run(
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-count_packets",
                "-show_entries",
                "stream=codec_type,nb_read_packets",
                "-of",
                "json",
            ])
            .arg(&joined),
        Duration::from_secs(60),
    )
    .ok();
    let probe: Value = serde_json::from_slice(&probe.stdout).unwrap();
    let packets = |kind: &str| -> u64 {
        let s = probe["streams"].as_array().unwrap().iter().find(|s| s["codec_type"] == kind).unwrap();
        s["nb_read_packets"].as_str().unwrap().parse().unwrap()
    };
    let counts = &inspected["segment"]["sampleCounts"];
    assert_eq!(
        (counts["1"].as_u64(), counts["2"].as_u64()),
        (Some(packets("video")), Some(packets("audio"))),
        "samples per track shown for the segment vs ffprobe's packets"
    );
    let total = packets("video") + packets("audio");
    assert_eq!(inspected["segment"]["sampleRows"].as_u64(), Some(total), "sample table rows");

    // Every downloaded report equals `rapidrtmp inspect --json` on the same bytes: the page's
    // WASM and the CLI run the same inspector code, so this checks that they agree.
    let chunk = fetch(&url("chunk"));
    for (label, bytes) in [("init", Some(init)), ("segment", Some(segment)), ("chunk", Some(chunk)), ("file", None)] {
        let file = match bytes {
            Some(b) => {
                let f = dir.join(&format!("inspected-{label}"));
                std::fs::write(&f, b).unwrap();
                f
            }
            None => repo().join("tests/artefacts/www/packaged.mp4"),
        };
        let cli = rapidrtmp_ok(&["inspect", "--json", file.to_str().unwrap()]);
        let page = std::fs::read(inspected[label]["json"].as_str().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&page).trim_end(),
            String::from_utf8_lossy(&cli).trim_end(),
            "the page's report of the {label} differs from `rapidrtmp inspect --json`"
        );
    }
}

/// The browser's ZIP and MP4 equal `rapidrtmp package`'s output (the same packager, as WASM:
/// they agree) and decode in ffmpeg frame for frame like the clip (the independent check).
fn check_packager(packaged: &Value, dir: &TempDir) {
    let clip = clip();
    let stem = clip.path.file_stem().unwrap().to_str().unwrap();
    assert_eq!(packaged["zip"]["suggested"].as_str(), Some(format!("{stem}.zip").as_str()));
    assert_eq!(packaged["mp4"]["suggested"].as_str(), Some(format!("{stem}.mp4").as_str()));

    let unzipped = dir.join("unzipped");
    run(
        Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(packaged["zip"]["path"].as_str().unwrap())
            .arg(&unzipped),
        Duration::from_secs(60),
    )
    .ok();
    let cli = dir.join("cli");
    rapidrtmp_ok(&["package", clip.path.to_str().unwrap(), "--out", cli.to_str().unwrap()]);
    // Path → (size, content hash) of every file.
    assert_eq!(
        support::checks::tree(&unzipped),
        support::checks::tree(&cli),
        "the ZIP's files vs `rapidrtmp package`'s"
    );
    let playlist = unzipped.join("index.m3u8");
    assert_decodes_cleanly(playlist.to_str().unwrap(), &[]);
    assert_frames_equal(playlist.to_str().unwrap(), &[], &clip.hashes);

    let mp4 = packaged["mp4"]["path"].as_str().unwrap();
    let cli_mp4 = dir.join("cli.mp4");
    rapidrtmp_ok(&["package", clip.path.to_str().unwrap(), "--mp4", cli_mp4.to_str().unwrap()]);
    assert!(
        std::fs::read(mp4).unwrap() == std::fs::read(&cli_mp4).unwrap(),
        "the MP4 differs from `rapidrtmp package --mp4`'s"
    );
    assert_decodes_cleanly(mp4, &[]);
    assert_frames_equal(mp4, &[], &clip.hashes);
}

/// A file that is not media: the inspector lists what is wrong with it (as `rapidrtmp inspect`
/// does), the packager refuses it with the reason.
fn check_bad_input(bad: &Value) {
    let problems = bad["inspector"].as_array().map_or(0, Vec::len);
    assert!(problems > 0, "the inspector shows nothing wrong with a file that is not media: {bad:#}");
    let refusal = bad["packager"].as_str().unwrap_or("");
    assert!(
        refusal.starts_with("not-media.txt: ") && refusal.len() > "not-media.txt: ".len() + 10,
        "the packager's error on a file that is not media: {refusal:?}"
    );
}

/// The page sends the admin key only to the origin it was entered for. In one tab where the key
/// was entered on the node's own page, the page opened as `/?api=<another origin>` (a listener
/// on 127.0.0.1 that records every request, answers CORS preflights and lists a stream,
/// `tests/www/api_origin.mjs`) sends that origin nothing until the user confirms it on the page,
/// and then only a key entered for it: no request it receives, preflight or not, carries the
/// node's key. On the node's own origin the page still lists the node's streams with its key.
#[test]
fn web_page_sends_the_admin_key_only_to_its_own_origin_and_asks_before_another() {
    let dir = TempDir::new("www-api-origin");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let stream = "ownorigin";
    let token = node.token(stream, 3600, false);
    let mut publisher = publish(&node.rtmp_url(stream, Some(&token)), &[], &[], &dir.join("ffmpeg.log"));
    node.wait_playlist(stream, "a segment", Duration::from_secs(30), |p| !p.segments.is_empty());
    publisher.kill();

    let listener_key = "key-entered-for-the-other-origin";
    let base = format!("http://{}", node.http);
    let r = run_script(
        "api_origin.mjs",
        &[("BASE", &base), ("ADMIN_KEY", &node.admin_key), ("STREAM", stream), ("LISTENER_KEY", listener_key)],
    );
    // Whatever else happened: the other origin never got a key but the one entered for it.
    let bearer = format!("Bearer {listener_key}");
    for q in r["received"].as_array().unwrap() {
        let headers = q["headers"].to_string();
        assert!(!headers.contains(&node.admin_key), "the node's admin key reached the other origin: {q}");
        let auth = &q["headers"]["authorization"];
        assert!(auth.is_null() || *auth == bearer.as_str(), "the other origin got Authorization {auth}: {q}");
    }
    assert!(r["failure"].is_null(), "the browser run failed: {r:#}");
    assert_eq!(r["pageErrors"], Value::Array(vec![]), "uncaught errors in the page: {r:#}");
    assert_eq!(r["own"]["listed"], true, "the page lists the node's streams with its key: {r:#}");

    // Nothing reaches the other origin before it is confirmed, and the node's key is not shown.
    let api = r["api"].as_str().unwrap();
    for step in ["beforeConfirm", "reloaded"] {
        let seen = &r[step];
        assert_eq!(seen["requests"], Value::Array(vec![]), "{step}: the other origin was sent requests: {r:#}");
        assert_eq!(seen["keyField"], "", "{step}: the key field shows a key: {r:#}");
        assert_eq!((&seen["formHidden"], &seen["confirmHidden"]), (&Value::Bool(true), &Value::Bool(false)), "{step}");
        let text = seen["confirmText"].as_str().unwrap();
        assert!(text.contains(api), "{step}: the confirm step does not name {api}: {text:?}");
    }
    // Confirmed, with no key entered for it yet: no key goes there.
    assert_eq!(r["confirmed"]["keyField"], "", "{r:#}");
    assert!(r["confirmed"]["requests"].as_array().unwrap().iter().all(|q| q["headers"]["authorization"].is_null()));

    // The key entered for it, and only that one, is what it gets: through a preflight (which
    // Chromium then caches for a few seconds), then the list, on entry and again after the reload
    // and a new confirmation.
    let preflight = r["enteredForIt"]["requests"].as_array().unwrap().iter().any(|q| {
        q["method"] == "OPTIONS"
            && q["headers"]["access-control-request-headers"].as_str().is_some_and(|h| h.contains("authorization"))
    });
    assert!(preflight, "no CORS preflight for the key: {r:#}");
    for step in ["enteredForIt", "reconfirmed"] {
        let requests = r[step]["requests"].as_array().unwrap();
        let listed = requests.iter().any(|q| {
            q["method"] == "GET" && q["path"] == "/api/v1/streams" && q["headers"]["authorization"] == bearer.as_str()
        });
        assert!(listed, "{step}: the list was not asked with the key entered for it: {requests:#?}");
        assert_eq!(r[step]["streams"], serde_json::json!(["elsewhere"]), "{step}: {r:#}");
    }

    // Back on its own origin: the node's key, kept apart, lists the node's streams at once.
    let home = &r["backHome"];
    assert_eq!(home["keyField"], node.admin_key.as_str(), "{r:#}");
    assert_eq!(home["streams"], serde_json::json!([stream]), "{r:#}");
    assert_eq!(home["requests"], Value::Array(vec![]), "{r:#}");
}

/// Rare keyframes (issue 10): x264 intra refresh (one IDR, then none) packaged by `rapidrtmp
/// package` is cut between keyframes; hls.js plays it to the end in Chromium, decoding across
/// the cuts, with no fatal error and about every frame (`tests/www/hls_play.mjs`; Chromium's
/// frame counter is not exact, so ±3 of 600). The one non-fatal event allowed is hls.js skipping
/// the gap at 0 before the first B-frame-delayed picture (`bufferSeekOverHole` at the start),
/// which every B-frame stream gets.
#[test]
fn rare_keyframes_rule_hls_js_plays_an_intra_refresh_stream_across_its_cuts() {
    let input = support::fixtures::intra_refresh();
    let dir = TempDir::new("www-intra");
    let out = dir.join("out");
    rapidrtmp_ok(&["package", input.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let index = std::fs::read_to_string(out.join("index.m3u8")).unwrap();
    assert!(!index.contains("#EXT-X-INDEPENDENT-SEGMENTS"), "{index}");
    let report = run_script("hls_play.mjs", &[("DIR", out.to_str().unwrap())]);
    assert_eq!(report["ended"], true, "played to the end: {report}");
    let errors = report["errors"].as_array().cloned().unwrap_or_default();
    let unexpected: Vec<&Value> = errors
        .iter()
        .filter(|e| !(e["details"] == "bufferSeekOverHole" && e["at"].as_f64().is_some_and(|t| t < 0.2)))
        .collect();
    assert!(unexpected.is_empty(), "hls.js errors: {report}");
    assert_eq!(report["pageErrors"].as_array().map(Vec::len), Some(0), "{report}");
    let frames = report["totalVideoFrames"].as_i64().unwrap_or(0);
    assert!((frames - 600).abs() <= 3, "{frames} frames decoded of 600: {report}");
}

/// The Recordings view (`tests/www/recordings.mjs`): a stream published in two sessions by
/// ffmpeg is listed with both, oldest first, each with the duration the API gives (the 6-second
/// clip's, within half a second); the first plays in hls.js (2 s of playback at the clip's size,
/// with no ERROR event but those of a healthy start: `unexpected_hls_errors`); a range set from the playhead (1 s to 4.5 s) and then moved one step
/// (0.1 s) from the keyboard points the download link at
/// `/live/{key}/clip.mp4?start=…&end=…&filename=…`, its times being the recording's
/// `EXT-X-PROGRAM-DATE-TIME` at those points (to the millisecond), as the view shows them. A
/// stream the store does not hold shows the API's 404 message.
#[test]
fn recordings_view_lists_two_sessions_plays_one_and_links_a_clip_of_a_range() {
    let clip = clip();
    let dir = TempDir::new("www-recordings");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let stream = "recorded";
    let token = node.token(stream, 600, false);
    let url = node.rtmp_url(stream, Some(&token));
    for n in 1..=2 {
        let (status, messages, _) =
            publish_and_wait(&url, &[], &dir.join(&format!("publish-{n}.log")), PUBLISH_TIMEOUT);
        assert!(status.success(), "publish {n} ({status}):\n{messages}");
        node.wait_playlist(stream, "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);
    }
    let listed = node.api("GET", &format!("/api/v1/streams/{stream}/recordings"), None).json();
    let recs = listed["recordings"].as_array().cloned().unwrap_or_default();
    assert_eq!(recs.len(), 2, "{listed:#}");
    let missing = node.api("GET", "/api/v1/streams/nosuchstream/recordings", None);
    assert_eq!(missing.status, 404, "{}", missing.text());
    let refusal = missing.json()["error"].as_str().unwrap().to_string();

    let out = repo().join("tests/artefacts/www-recordings");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let base = format!("http://{}", node.http);
    let r = run_script(
        "recordings.mjs",
        &[("BASE", &base), ("ADMIN_KEY", &node.admin_key), ("STREAM", stream), ("OUT", out.to_str().unwrap())],
    );
    assert!(r["failure"].is_null(), "the browser run failed: {r:#}");
    assert_eq!(r["pageErrors"], Value::Array(vec![]), "uncaught errors in the page: {r:#}");
    assert_eq!(r["consoleErrors"], Value::Array(vec![]), "errors on the console: {r:#}");
    let shown = r["missing"].as_str().unwrap_or("");
    assert!(
        shown.contains(&refusal) && shown.contains("nosuchstream"),
        "the API's 404 {refusal:?}, shown as {shown:?}"
    );
    assert_eq!((r["error"].as_str(), r["hash"].as_str()), (Some(""), Some("#recordings?stream=recorded")), "{r:#}");

    // Both sessions, oldest first, with the API's durations: the clip's length.
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{r:#}");
    let clip_ms = clip.video_frames as f64 * 1000.0 / 30.0;
    for (row, rec) in rows.iter().zip(&recs) {
        assert_eq!(row["id"], rec["id"], "{r:#}");
        let ms = rec["durationMs"].as_u64().unwrap();
        assert_eq!(row["durationMs"].as_u64(), Some(ms), "{row}");
        assert!((ms as f64 - clip_ms).abs() <= 500.0, "a session of the {clip_ms} ms clip lasts {ms} ms: {rec}");
        assert_eq!(row["cells"][2].as_str(), Some(format!("{:.1} s", ms as f64 / 1000.0).as_str()), "{row}");
        let start =
            rapidrtmp_core::date::iso8601(rapidrtmp_core::date::parse_time(rec["start"].as_str().unwrap()).unwrap());
        let shown_start = row["cells"][0].as_str().unwrap().replace(' ', "T").replace("TUTC", "Z");
        assert_eq!(shown_start, start, "{row}");
    }

    let p = &r["playback"];
    let advanced = p["currentTime"].as_f64().unwrap() - p["start"].as_f64().unwrap();
    assert!(advanced >= 2.0, "playback advanced {advanced} s: {p:#}");
    assert_eq!((p["videoWidth"].as_u64(), p["videoHeight"].as_u64()), (Some(640), Some(360)), "{p:#}");
    // Played from 0: hls.js may skip the gap before the first picture at the start.
    let errors = p["errors"].as_array().cloned().unwrap_or_default();
    let unexpected = support::checks::unexpected_hls_errors(&errors, Some(0.0));
    assert_eq!(unexpected, Vec::<Value>::new(), "hls.js raised ERROR events: {p:#}");

    // The link's times: the recording's program date at each end of the range.
    let recording = node.get(recs[0]["playlistUrl"].as_str().unwrap());
    assert_eq!(recording.status, 200, "{}", recording.text());
    let dated = dated_segments(&recording.text());
    let wall = |t: f64| -> f64 {
        let (start, date) = dated.iter().rev().find(|(start, _)| *start <= t + 1e-6).copied().unwrap_or(dated[0]);
        date + (t - start) * 1000.0
    };
    for (step, (from, to), filename) in
        [("fromPlayhead", (1.0, 4.5), None), ("afterKey", (1.0, 4.4), Some("my clip.mp4"))]
    {
        let seen = &r[step];
        assert_eq!((seen["start"].as_f64(), seen["end"].as_f64()), (Some(from), Some(to)), "{step}: {seen:#}");
        assert!(seen["href"].as_str().unwrap().starts_with(&format!("{base}/")), "{step}: {seen:#}");
        assert_eq!(seen["path"].as_str(), Some(format!("/live/{stream}/clip.mp4").as_str()), "{step}: {seen:#}");
        // The query as the browser's URL parser reads the link.
        let query: BTreeMap<String, String> = serde_json::from_value(seen["query"].clone()).unwrap();
        assert_eq!(query.len(), 3, "start, end and filename: {step}: {seen:#}");
        for (name, t) in [("start", from), ("end", to)] {
            let linked: f64 = query[name].parse::<f64>().unwrap() * 1000.0;
            assert!(
                (linked - wall(t)).abs() <= 1.0,
                "{step}: {name} {linked} ms for {t} s, not {} ms: {seen:#}",
                wall(t)
            );
        }
        let length = format!("{:.1} s", to - from);
        assert_eq!(seen["length"].as_str(), Some(length.as_str()), "{step}: {seen:#}");
        let start_at = seen["startAt"].as_str().unwrap().replace(' ', "T").replace("TUTC", "Z");
        assert_eq!(start_at, rapidrtmp_core::date::iso8601(wall(from).round() as u64), "{step}: {seen:#}");
        if let Some(name) = filename {
            assert_eq!(query["filename"], name, "{step}: {seen:#}");
            assert_eq!(seen["download"].as_str(), Some(name), "{step}: {seen:#}");
        } else {
            assert!(query["filename"].starts_with("recorded-") && query["filename"].ends_with(".mp4"), "{seen:#}");
        }
        // What the link downloads: an MP4 of the range, to a frame, named as the link says.
        let href = seen["href"].as_str().unwrap();
        let clip = node.get(&href[base.len()..]);
        assert_eq!(clip.status, 200, "{step}: {href}: {}", clip.text());
        let disposition = clip.header("content-disposition").unwrap_or_default();
        assert!(disposition.starts_with("attachment") && disposition.contains(".mp4"), "{step}: {disposition}");
        let file = dir.join(&format!("{step}.mp4"));
        std::fs::write(&file, &clip.body).unwrap();
        let (_, seconds) = support::media::probe(&file);
        let seconds = seconds.unwrap_or_default();
        assert!(
            (seconds - (to - from)).abs() <= 1.0 / 30.0 + 1e-3,
            "{step}: the clip lasts {seconds} s, not {} s",
            to - from
        );
    }
    let png = std::fs::read(out.join("recordings.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "no real screenshot of the view");
}

/// `(start in the playlist, EXT-X-PROGRAM-DATE-TIME in ms)` of each segment of a media playlist,
/// its start being the sum of the `EXTINF` before it (as hls.js places it).
fn dated_segments(text: &str) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let (mut start, mut date, mut duration) = (0.0, None, None);
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            date = Some(rapidrtmp_core::date::parse_time(d).unwrap() as f64);
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = Some(d.trim_end_matches(',').split(',').next().unwrap().parse::<f64>().unwrap());
        } else if !line.starts_with('#') && !line.is_empty() {
            let d = duration.take().expect("an EXTINF before each URI");
            out.push((start, date.take().expect("a program date on each segment")));
            start += d;
        }
    }
    assert!(!out.is_empty(), "no segments:\n{text}");
    out
}

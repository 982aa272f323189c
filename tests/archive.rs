//! End-to-end tests of the archive (docs/storage.md, "Archive"): ffmpeg publishes to a node
//! with a folder store; the node serves time windows (`index.m3u8?start=…&end=…`) and session
//! recordings (`{session}/index.m3u8`) built from the index objects the writer keeps, lists the
//! recordings in its API, and deletes the archive with `--retention`. ffmpeg decodes what is
//! served, frame by frame; the store reads of a window are counted on `/metrics`
//! (`rapidrtmp_edge_store_reads_total`).
//!
//! Needs ffmpeg and ffprobe, s3s-fs, Chromium and www/node_modules (`tests/run` installs them).

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use rapidrtmp_core::date::iso8601;
use serde_json::Value;
use support::checks::{assert_decodes_cleanly, assert_frames_equal, wait_until, LOCAL_PLAYLIST};
use support::hls::Playlist;
use support::media::{self, clip, ffmpeg, publish, publish_and_wait, publish_held, Hashes};
use support::node::{Node, NodeOptions};
use support::proc::{run, TempDir};

/// How long publishing the 6-second clip in real time may take on a busy machine.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(40);
/// The archive's bucket span (core `archive::BUCKET_MS`).
const BUCKET_MS: u64 = 600_000;

/// `t` (milliseconds since the epoch) as Unix seconds with a fraction.
fn unix(t: u64) -> String {
    format!("{}.{:03}", t / 1000, t % 1000)
}

/// The recordings the node lists for `key` (every page, `limit` a page).
fn recordings(node: &Node, key: &str, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/streams/{key}/recordings?limit={limit}");
        if let Some(c) = &cursor {
            path += &format!("&cursor={c}");
        }
        let r = node.api("GET", &path, None);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let page = r.json();
        let items = page["recordings"].as_array().expect("recordings").clone();
        assert!(items.len() <= limit, "{page}");
        all.extend(items);
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return all,
        }
    }
}

/// `GET path` on the node: a 200 media playlist, parsed.
fn playlist(node: &Node, path: &str) -> Playlist {
    let r = node.get(path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/vnd.apple.mpegurl"), "{path}");
    Playlist::parse(&r.text())
}

/// Every segment of `p` has an `EXT-X-PROGRAM-DATE-TIME`.
fn assert_dated(p: &Playlist) {
    let dates = p.text.lines().filter(|l| l.starts_with("#EXT-X-PROGRAM-DATE-TIME:")).count();
    assert_eq!(dates, p.segments.len(), "a program date on every segment:\n{}", p.text);
}

/// The stream folder's path of a segment URI of a playlist under `/live/{key}/` or
/// `/live/{key}/{session}/` (`../`): `{session}/{sequence}`.
fn object_of(uri: &str) -> String {
    uri.trim_start_matches("../").trim_end_matches(".m4s").to_string()
}

/// The frames of part `part` of `p` (a playlist under `base`), decoded alone.
fn part_hashes(p: &Playlist, part: usize, base: &str, dir: &Path) -> Hashes {
    let path = dir.join(format!("window-part{part}.m3u8"));
    p.write_part(part, base, &path);
    let decoded = media::frame_hashes(path.to_str().unwrap(), LOCAL_PLAYLIST);
    assert!(decoded.stderr.is_empty(), "part {part} of the window:\n{}", decoded.stderr);
    decoded.hashes
}

#[test]
fn three_sessions_play_as_recordings_and_a_window_across_both_reconnects_plays_every_frame() {
    let clip = clip();
    let dir = TempDir::new("archive-sessions");
    let data = dir.join("data");
    // A live window of 3 segments: what is played here is the archive's, not the manifest's.
    let mut opts = NodeOptions::standard();
    opts.set("--live-window", "3");
    let node = Node::start(&data, &opts);
    let token = node.token("cam", 600, false);
    let url = node.rtmp_url("cam", Some(&token));

    let (status, messages, _) = publish_and_wait(&url, &[], &dir.join("first.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "first publish ({status}):\n{messages}");
    node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);
    // While the second publish runs (its input held open: live however slow the checks), the DVR
    // and its recording grow.
    let second = publish_held(&url, &dir.join("second.log"));
    wait_until("a live second recording", Duration::from_secs(15), || {
        let recs = recordings(&node, "cam", 10);
        recs.len() == 2 && recs[1]["live"] == true && recs[1]["chunks"].as_u64() >= Some(2)
    });
    let live = recordings(&node, "cam", 10);
    assert_eq!(live.len(), 2, "{live:?}");
    assert_eq!(live[0]["live"], false, "{live:?}");
    let dvr = playlist(
        &node,
        &format!("/live/cam/index.m3u8?start={}", unix(live[0]["id"].as_str().unwrap().parse().unwrap())),
    );
    assert_eq!(dvr.playlist_type.as_deref(), Some("EVENT"), "{}", dvr.text);
    assert!(!dvr.ended && dvr.discontinuities == 1, "{}", dvr.text);
    let growing = playlist(&node, live[1]["playlistUrl"].as_str().unwrap());
    assert_eq!(growing.playlist_type.as_deref(), Some("EVENT"), "{}", growing.text);
    assert!(!growing.ended, "{}", growing.text);
    let mut second = second.release();
    let status = second.wait_timeout(PUBLISH_TIMEOUT).expect("the second publish ends");
    assert!(status.success(), "second publish ({status}):\n{}", second.log());
    node.wait_playlist("cam", "the second session ended", Duration::from_secs(10), |p| p.ended);
    let (status, messages, _) = publish_and_wait(&url, &[], &dir.join("third.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "third publish ({status}):\n{messages}");
    let live_playlist = node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);

    // Three recordings (one a page: the cursor pages through), ended, each every frame of the clip.
    let recs = recordings(&node, "cam", 1);
    assert_eq!(recs.len(), 3, "{recs:?}");
    let mut sessions = Vec::new();
    for r in &recs {
        assert_eq!(r["live"], false, "{r}");
        let id = r["id"].as_str().unwrap().to_string();
        assert_eq!(r["playlistUrl"], format!("/live/cam/{id}/index.m3u8"), "{r}");
        let p = playlist(&node, &format!("/live/cam/{id}/index.m3u8"));
        p.assert_well_formed();
        assert_dated(&p);
        assert_eq!(p.playlist_type.as_deref(), Some("VOD"), "{}", p.text);
        assert!(p.ends_with_endlist && p.discontinuities == 0, "{}", p.text);
        assert_frames_equal(&format!("http://{}/live/cam/{id}/index.m3u8", node.http), &[], &clip.hashes);
        sessions.push((id, p));
    }
    // The recording's segments are the live playlist's own URLs.
    let last: BTreeSet<String> = sessions[2].1.segments.iter().map(|s| object_of(&s.uri)).collect();
    for s in &live_playlist.segments {
        assert!(last.contains(&object_of(&s.uri)), "{} of the live playlist is not in the recording", s.uri);
    }

    // From the middle of the first session to the middle of the third, in both spellings of time.
    let start: u64 = sessions[0].0.parse::<u64>().unwrap() + 2500;
    let end = iso8601(sessions[2].0.parse::<u64>().unwrap() + 2500);
    let path = format!("/live/cam/index.m3u8?start={}&end={end}", unix(start));
    let w = playlist(&node, &path);
    w.assert_well_formed();
    assert_dated(&w);
    assert_eq!(w.playlist_type.as_deref(), Some("VOD"), "{}", w.text);
    assert!(w.ends_with_endlist, "{}", w.text);
    assert_eq!(w.discontinuities, 2, "a discontinuity at each reconnect:\n{}", w.text);
    let all: Vec<String> = sessions.iter().flat_map(|(_, p)| p.segments.iter().map(|s| object_of(&s.uri))).collect();
    let listed: Vec<String> = w.segments.iter().map(|s| object_of(&s.uri)).collect();
    let at = all.iter().position(|o| *o == listed[0]).expect("the window's first segment is recorded");
    assert_eq!(listed, all[at..at + listed.len()], "the window is a run of the recorded segments");
    assert!(at > 0 && at + listed.len() < all.len(), "it starts and ends inside a session:\n{}", w.text);
    // Each part decodes alone: a tail of the clip, the clip, a head of the clip; the whole
    // window decodes to all of them across the two discontinuities.
    let base = node.stream_base("cam");
    let parts: Vec<Hashes> = (0..3).map(|part| part_hashes(&w, part, &base, dir.path())).collect();
    assert!(clip.hashes.video.ends_with(&parts[0].video) && !parts[0].video.is_empty(), "the first part is a tail");
    assert_eq!(parts[1], clip.hashes, "the middle session whole");
    assert!(clip.hashes.video.starts_with(&parts[2].video) && !parts[2].video.is_empty(), "the last part is a head");
    let url = format!("http://{}{path}", node.http);
    assert_decodes_cleanly(&url, &[]);
    let whole = media::frame_hashes(&url, &[]);
    let video: Vec<String> = parts.iter().flat_map(|h| h.video.clone()).collect();
    let audio: usize = parts.iter().map(|h| h.audio.len()).sum();
    assert!(
        whole.hashes.video == video,
        "{} video frames of the window, {} in its parts",
        whole.hashes.video.len(),
        video.len()
    );
    assert_eq!(whole.hashes.audio.len(), audio, "audio frames of the window");
}

/// A 2-second clip with a keyframe every 3 frames (0.1 s) and no audio: a publish of it cuts
/// 0.1 s chunks.
fn keyframe_every_tenth() -> std::path::PathBuf {
    let args: Vec<String> = [
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=30",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-g",
        "3",
        "-keyint_min",
        "3",
        "-sc_threshold",
        "0",
        "-bf",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "flv",
    ]
    .map(String::from)
    .to_vec();
    support::fixtures::encoded("tenth-keyframes", &args)
}

/// The reads the design promises for the window `[from, to)` of `key`: the manifest, then each
/// bucket part the window overlaps, and the next part of a full one (absent or not).
fn promised_reads(data: &Path, key: &str, from: u64, to: u64) -> u64 {
    let mut reads = 1;
    let mut b = from - from % BUCKET_MS;
    while b < to {
        for part in 0.. {
            let name = if part == 0 { format!("{}.json", b / 1000) } else { format!("{}-{part}.json", b / 1000) };
            reads += 1;
            let Ok(bytes) = std::fs::read(data.join(format!("live/{key}/archive/{name}"))) else { break };
            let bucket: Value = serde_json::from_slice(&bytes).expect("bucket JSON");
            if bucket["full"] != true {
                break;
            }
        }
        b += BUCKET_MS;
    }
    reads
}

#[test]
fn a_long_archive_is_found_with_the_reads_its_index_promises() {
    const CHUNKS: u64 = 2000;
    let dir = TempDir::new("archive-long");
    let data = dir.join("data");
    let mut opts = NodeOptions::standard();
    for (flag, value) in [("--segment-duration", "0.1"), ("--part-duration", "0"), ("--live-window", "10")] {
        opts.set(flag, value);
    }
    let node = Node::start(&data, &opts);
    let token = node.token("long", 600, false);
    // 115 loops of 2 s at ten times real time: over 2,000 chunks of 0.1 s in about 25 s.
    let source = keyframe_every_tenth();
    let started = Instant::now();
    let out = run(
        ffmpeg().args(["-v", "error", "-readrate", "10", "-stream_loop", "114", "-i"]).arg(&source).args([
            "-c",
            "copy",
            "-f",
            "flv",
            &node.rtmp_url("long", Some(&token)),
        ]),
        Duration::from_secs(300),
    );
    assert!(out.success(), "publish: {}", out.describe());
    node.wait_playlist("long", "#EXT-X-ENDLIST", Duration::from_secs(120), |p| p.ended);
    let chunks = support::checks::tree(&data.join("live/long")).keys().filter(|k| k.ends_with(".flv")).count() as u64;
    assert!(chunks >= CHUNKS, "{chunks} chunks written");
    eprintln!("{chunks} chunks written through the node in {:?}", started.elapsed());

    let recs = recordings(&node, "long", 100);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["chunks"].as_u64(), Some(chunks), "{recs:?}");
    let first: u64 = recs[0]["id"].as_str().unwrap().parse().unwrap();
    let end_ms = first + recs[0]["durationMs"].as_u64().unwrap();
    let reads = || node.metrics().get("rapidrtmp_edge_store_reads_total", &[]) as u64;
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(data.join("live/long/manifest.json")).unwrap()).unwrap();
    let created = manifest["createdAtMs"].as_u64().expect("createdAtMs");
    for (what, from) in [("the very beginning", first - 500), ("the middle", (first + end_ms) / 2 - 500)] {
        let to = from + 1000;
        let before = reads();
        let path = format!("/live/long/index.m3u8?start={}&end={}", unix(from), unix(to));
        let p = playlist(&node, &path);
        let read = reads() - before;
        // A window is read from the stream's creation on at the earliest.
        let promised = promised_reads(&data, "long", from.max(created), to);
        eprintln!("window at {what}: {} segments, {read} store reads (promised {promised})", p.segments.len());
        assert!(!p.segments.is_empty(), "{what}:\n{}", p.text);
        assert_eq!(read, promised, "store reads of the window at {what}");
        assert!(read <= 4, "a second of a 2,000-chunk archive in {read} reads");
        assert_dated(&p);
        assert!(p.ended, "{}", p.text);
        // What it lists is stored.
        for s in &p.segments {
            assert!(data.join(format!("live/long/{}.flv", object_of(&s.uri))).is_file(), "{} is not stored", s.uri);
        }
        assert_decodes_cleanly(&format!("http://{}{path}", node.http), &[]);
    }
}

#[test]
fn retention_removes_the_archive_and_windows_list_only_what_is_stored() {
    let dir = TempDir::new("archive-retention");
    let data = dir.join("data");
    let mut opts = NodeOptions::standard();
    opts.set("--live-window", "3");
    opts.set("--retention", "60");
    // The sweep of streams nobody writes runs every lease period: deletions come within 6 s.
    opts.set("--owner-lease", "6");
    let node = Node::start(&data, &opts);
    let token = node.token("cam", 600, false);
    let url = node.rtmp_url("cam", Some(&token));
    let (status, messages, _) = publish_and_wait(&url, &[], &dir.join("first.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "first publish ({status}):\n{messages}");
    node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);
    let first = recordings(&node, "cam", 10);
    assert_eq!(first.len(), 1, "{first:?}");
    let a = first[0]["id"].as_str().unwrap().to_string();
    let a_start: u64 = a.parse().unwrap();
    // A second session of 30 s: the first one's last window leaves the live window as it begins,
    // and is deleted a minute later (within a slot of 6 s and a sweep period of 6 s), while the
    // second session is still kept.
    let mut second = publish(&url, &["-stream_loop", "4"], &[], &dir.join("second.log"));
    let status = second.wait_timeout(Duration::from_secs(90)).expect("the second publish ends");
    assert!(status.success(), "second publish ({status}):\n{}", second.log());
    node.wait_playlist("cam", "the second session ended", Duration::from_secs(10), |p| p.ended);
    let recs = recordings(&node, "cam", 10);
    assert_eq!(recs.len(), 2, "{recs:?}");
    let b = recs[1]["id"].as_str().unwrap().to_string();
    let whole = playlist(&node, &format!("/live/cam/index.m3u8?start={}", unix(a_start - 1000)));
    assert_eq!(whole.discontinuities, 1, "both sessions before retention:\n{}", whole.text);

    // The first session's chunks go (but the one the init segment both sessions share is built
    // from, while the live window names it).
    let session_a = data.join(format!("live/cam/{a}"));
    let gone = || {
        std::fs::read_dir(&session_a)
            .map_or(true, |d| d.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "flv")).count() <= 1)
    };
    wait_until("the first session's chunks deleted", Duration::from_secs(120), gone);
    let w = playlist(&node, &format!("/live/cam/index.m3u8?start={}", unix(a_start - 1000)));
    assert!(
        w.segments.iter().all(|s| object_of(&s.uri).starts_with(&format!("{b}/"))),
        "only the second session:\n{}",
        w.text
    );
    assert!(!w.segments.is_empty(), "{}", w.text);
    for s in &w.segments {
        assert!(data.join(format!("live/cam/{}.flv", object_of(&s.uri))).is_file(), "{} listed but not stored", s.uri);
        assert_eq!(node.get(&format!("/live/cam/{}", s.uri)).status, 200, "{}", s.uri);
    }
    let old = node.get(&format!("/live/cam/{a}/index.m3u8"));
    assert_eq!(old.status, 404, "the first recording: {}", old.text());
    let recs = recordings(&node, "cam", 10);
    assert_eq!(recs.iter().map(|r| r["id"].as_str().unwrap()).collect::<Vec<_>>(), [b.as_str()], "{recs:?}");
    wait_until("the first session's record deleted", Duration::from_secs(60), || {
        !data.join(format!("live/cam/sessions/{a}.json")).exists()
    });
}

/// The same archive through an S3 store (s3s-fs, SigV4): the writer's index objects land under
/// the bucket's prefix, the recordings are listed from it, and a window across the reconnect
/// plays every frame of both sessions.
#[test]
fn the_archive_works_through_an_s3_store() {
    let clip = clip();
    let dir = TempDir::new("archive-s3");
    let s3 = support::s3s::S3sFs::start(&dir.join("s3"), &["archive"]);
    let (args, env) = s3.node_store("archive", "pfx");
    let mut opts = NodeOptions::standard();
    opts.args.extend(args);
    opts.env = env;
    opts.set("--live-window", "3");
    let node = Node::start(&dir.join("data"), &opts);
    let url = node.rtmp_url("cam", Some(&node.token("cam", 600, false)));
    for run in ["first", "second"] {
        let (status, messages, _) = publish_and_wait(&url, &[], &dir.join(&format!("{run}.log")), PUBLISH_TIMEOUT);
        assert!(status.success(), "{run} publish ({status}):\n{messages}");
        node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);
    }
    let stream = s3.root.join("archive/pfx/live/cam");
    let sessions = std::fs::read_dir(stream.join("sessions")).map(|d| d.count()).unwrap_or(0);
    let buckets = std::fs::read_dir(stream.join("archive")).map(|d| d.count()).unwrap_or(0);
    assert!(sessions == 2 && buckets >= 1, "{sessions} session records, {buckets} buckets in the bucket");
    let recs = recordings(&node, "cam", 1);
    assert_eq!(recs.len(), 2, "{recs:?}");
    let first: u64 = recs[0]["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/live/cam/index.m3u8?start={}", unix(first - 1000));
    let w = playlist(&node, &path);
    assert_eq!((w.discontinuities, w.playlist_type.as_deref()), (1, Some("VOD")), "{}", w.text);
    let whole = media::frame_hashes(&format!("http://{}{path}", node.http), &[]);
    assert!(whole.stderr.is_empty(), "{}", whole.stderr);
    let twice: Vec<String> = clip.hashes.video.iter().chain(&clip.hashes.video).cloned().collect();
    assert!(whole.hashes.video == twice, "the window's video frames are the clip's, twice");
}

#[test]
fn hls_js_plays_a_dvr_window_while_live_and_seeks_back_30_s() {
    let dir = TempDir::new("archive-dvr");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let mut publisher = publish(&node.rtmp_url("cam", Some(&token)), &["-stream_loop", "-1"], &[], &dir.join("ff.log"));
    node.wait_playlist("cam", "a segment", Duration::from_secs(10), |p| !p.segments.is_empty());
    let start: u64 = recordings(&node, "cam", 10)[0]["id"].as_str().unwrap().parse().unwrap();
    // 40 s of DVR behind the live edge before the player comes.
    node.wait_playlist("cam", "40 s of media", Duration::from_secs(60), |p| p.total_duration() >= 40.0);
    let url = format!("http://{}/live/cam/index.m3u8?start={}", node.http, unix(start));
    let p = playlist(&node, &url[url.find("/live/").unwrap()..]);
    assert_eq!(p.playlist_type.as_deref(), Some("EVENT"), "{}", p.text);
    let report = support::player::run_script("dvr_seek.mjs", &[("URL", &url), ("SEEK_BACK", "30")]);
    let errors = support::player::errors(&report);
    assert!(errors.is_empty(), "hls.js errors: {errors:?}\n{report}");
    assert_eq!(report["playlistType"], "EVENT", "{report}");
    assert_eq!(report["seeked"], true, "the seek completed: {report}");
    let (before, target, after) = (
        report["before"].as_f64().unwrap(),
        report["target"].as_f64().unwrap(),
        report["currentTime"].as_f64().unwrap(),
    );
    assert!(before >= 30.0 && target <= before - 29.9, "sought 30 s back from {before}: {report}");
    assert!(after > target + 2.0 && after < before, "played on from the time sought: {report}");
    eprintln!("DVR: started at {}, sought {before:.1} -> {target:.1}, playing at {after:.1}", report["startPosition"]);
    publisher.kill();
}

#[test]
fn bad_archive_requests_are_a_clear_4xx_never_a_5xx() {
    let dir = TempDir::new("archive-bad");
    let data = dir.join("data");
    let node = Node::start(&data, &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let (status, messages, _) =
        publish_and_wait(&node.rtmp_url("cam", Some(&token)), &["-t", "3"], &dir.join("publish.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "publish ({status}):\n{messages}");
    node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);
    let id = recordings(&node, "cam", 10)[0]["id"].as_str().unwrap().to_string();
    let t: u64 = id.parse().unwrap();
    let future = unix(t + 3_600_000);
    for (query, status, says) in [
        ("start=yesterday", 400, "neither an RFC 3339 time"),
        ("start=2026-13-01T00:00:00Z", 400, "out of range"),
        ("start=1796570400.", 400, "neither"),
        ("start=%FF", 400, "neither"),
        ("end=1796570400", 400, "end without start"),
        (&format!("start={}&end={}", unix(t + 2000), unix(t)), 400, "end is not after start"),
        (&format!("start={future}"), 400, "in the future"),
        (&format!("start={}&end={}", unix(t - 86_400_000 * 3), unix(t)), 400, "longer than 24 hours"),
        ("start=1&end=99999999999999999999", 400, "after 9999"),
        (&format!("start={}&start={}", unix(t), unix(t)), 400, "given twice"),
        (&format!("start={}&end={}", unix(t - 60_000), unix(t - 30_000)), 404, "holds nothing"),
    ] {
        let path = format!("/live/cam/index.m3u8?{query}");
        let r = node.get(&path);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(r.text().contains(says), "{path}: {}", r.text());
    }
    // A start long before the stream's first publish starts at its oldest segment.
    let oldest = playlist(&node, "/live/cam/index.m3u8?start=1");
    assert!(oldest.segments[0].uri.starts_with(&format!("{id}/")), "{}", oldest.text);
    for (path, status, says) in [
        ("/live/cam/999/index.m3u8", 404, "no session 999"),
        ("/live/nobody/index.m3u8?start=1796570400", 404, "not in the store"),
        ("/live/nobody/1/index.m3u8", 404, "no session 1"),
    ] {
        let r = node.get(path);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(r.text().contains(says), "{path}: {}", r.text());
    }
    for (path, status) in [
        ("/api/v1/streams/cam/recordings?limit=0", 400),
        ("/api/v1/streams/cam/recordings?limit=1000", 400),
        ("/api/v1/streams/cam/recordings?cursor=..%2F", 400),
        ("/api/v1/streams/cam/recordings?page=2", 400),
        ("/api/v1/streams/nobody/recordings", 404),
    ] {
        let r = node.api("GET", path, None);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(r.json()["error"].as_str().is_some_and(|e| !e.is_empty()), "{path}: {}", r.text());
    }
    assert_eq!(node.get("/api/v1/streams/cam/recordings").status, 401, "the admin key is needed");
    // The stream's own recording still plays.
    let p = playlist(&node, &format!("/live/cam/{id}/index.m3u8"));
    assert!(p.ended && !p.segments.is_empty(), "{}", p.text);
}

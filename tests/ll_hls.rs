//! End-to-end tests of Low-Latency HLS on the ingest node's built-in edge: ffmpeg publishes in
//! real time, the tests read the LL playlist, make blocking playlist and part requests, and
//! check that parts decode and are the same bytes whether the open segment or the stored chunk
//! was their source. Needs ffmpeg (`tests/run` installs it).

mod support;

use std::time::{Duration, Instant};

use support::checks::wait_until;
use support::media::{decode_messages, publish};
use support::node::{Node, NodeOptions};
use support::proc::TempDir;

/// The first segment is listed this soon after the publish starts (1-second segments).
const FIRST_SEGMENT_WITHIN: Duration = Duration::from_secs(5);

/// The `URI` of the playlist's `EXT-X-PRELOAD-HINT`, split into (session, sequence, part).
fn hint(text: &str) -> (String, u64, u32) {
    let line = text
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:TYPE=PART,URI="))
        .unwrap_or_else(|| panic!("no hint:\n{text}"));
    let uri = line.split('"').nth(1).expect("a quoted URI");
    let (session, file) = uri.split_once('/').expect("session/file");
    let (seq, part) = file.strip_suffix(".m4s").and_then(|f| f.split_once('.')).expect("seq.part.m4s");
    (session.to_string(), seq.parse().expect("seq"), part.parse().expect("part"))
}

fn playlist(node: &Node, key: &str, query: &str) -> support::http::Response {
    node.get(&format!("/live/{key}/index.m3u8{query}"))
}

#[test]
fn ll_playlist_blocking_reload_and_parts_of_the_open_segment() {
    let dir = TempDir::new("ll");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let mut ffmpeg = publish(&node.rtmp_url("cam", Some(&token)), &["-stream_loop", "-1"], &[], &dir.join("ff.log"));
    node.wait_playlist("cam", "a segment", FIRST_SEGMENT_WITHIN, |p| !p.segments.is_empty());

    let live = playlist(&node, "cam", "");
    let text = live.text();
    assert_eq!(live.status, 200);
    for tag in ["#EXT-X-VERSION:9", "#EXT-X-PART-INF:PART-TARGET=0.333", "CAN-BLOCK-RELOAD=YES", "PART-HOLD-BACK=0.999"]
    {
        assert!(text.contains(tag), "{tag} in:\n{text}");
    }
    assert!(!text.contains("#EXT-X-MEDIA-SEQUENCE:0\n"), "media sequence numbers start at 1:\n{text}");

    // A blocking reload for the hinted part answers once the part exists, with it listed.
    let (session, seq, part) = hint(&text);
    let started = Instant::now();
    let blocked = playlist(&node, "cam", &format!("?_HLS_msn={seq}&_HLS_part={part}"));
    let waited = started.elapsed();
    assert_eq!(blocked.status, 200, "{}", blocked.text());
    let uri = format!("\"{session}/{seq}.{part}.m4s\"");
    let next_segment_part = format!("\"{session}/{}.0.m4s\"", seq + 1);
    let body = blocked.text();
    assert!(body.contains(&uri) || body.contains(&next_segment_part), "{uri} listed after the wait:\n{body}");
    assert!(waited < Duration::from_millis(1500), "answered as soon as the part existed, not {waited:?}");
    assert_eq!(blocked.header("cache-control"), Some("public, max-age=6"), "6 target durations");

    // A blocking part request for the next hint is held until the part is complete.
    let (session, seq, part) = hint(&body);
    let path = format!("/live/cam/{session}/{seq}.{part}.m4s");
    let held = node.get(&path);
    assert_eq!(held.status, 200, "{path}: {}", held.text());
    assert_eq!(&held.body[4..8], b"styp", "a part is a CMAF segment of its own");
    assert!(held.body.windows(4).any(|w| w == b"moof"), "with its moof");
    assert_eq!(held.header("cache-control"), Some("public, max-age=31536000, immutable"));

    // Parts of the open segment, fetched now, and the same URLs once its chunk is stored.
    let open_text = playlist(&node, "cam", "").text();
    let (session, seq, _) = hint(&open_text);
    wait_until("the open segment to have two parts", Duration::from_secs(3), || {
        hint(&playlist(&node, "cam", "").text()).2 >= 2
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

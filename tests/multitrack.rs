//! Multitrack publishes (Enhanced RTMP v2 multitrack: OBS Enhanced Broadcasting, ffmpeg 9 with
//! several video streams) become adaptive-bit-rate ladders with no transcode: each video track
//! a variant of the stream's multivariant playlist, its own stream (`{key}_v{n}`) with the
//! default audio track beside it. ffmpeg 9 publishes three renditions of one source live; the
//! project's own client sends the same tracks in the framings OBS and the specification use
//! (legacy track 0 and OneTrack packets with `colorInfo` before the sequence start; ManyTracks;
//! ManyTracksManyCodecs). What the node serves is checked by others: ffmpeg 9 decodes every
//! variant without a word, every frame of its track; hls.js in Chromium switches through
//! every level without an error. Publishers that cannot send multitrack publish each rendition
//! as a stream of its own with a token naming a stream group: the group's multivariant playlist
//! lists them, one ladder per codec family, H.264 first.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use rapidrtmp_core::flv::Amf0Value;
use serde_json::Value;
use support::flv::{self, Flv, Tag, AUDIO, VIDEO};
use support::hls::{parse_master, Playlist};
use support::media::{ffmpeg, ffmpeg9, frame_counts, test_pattern_inputs};
use support::node::{Edge, Node, NodeOptions};
use support::player::{errors, play_levels};
use support::proc::{run, Background, TempDir};
use support::publisher::publish_exact;

/// Seconds the source lasts.
const SECONDS: u32 = 10;
/// The renditions, track 0 first: one source scaled three ways, a keyframe a second in each.
const SIZES: [(u32, u32); 3] = [(640, 360), (426, 240), (320, 180)];

/// ffmpeg 9 encoding the ladder of [`SIZES`] and two AAC tracks (128 and 64 kbit/s) into one FLV
/// (the tracks beyond 0 as OneTrack multitrack packets), to `out`.
fn ladder(out: &str, realtime: bool) -> Command {
    let mut cmd = ffmpeg9();
    cmd.args(["-v", "error"]);
    if realtime {
        cmd.arg("-re");
    }
    let [_, (w1, h1), (w2, h2)] = SIZES;
    let split = format!("[0:v]split=3[a][b][c];[b]scale={w1}:{h1}[b1];[c]scale={w2}:{h2}[c1]");
    cmd.args(test_pattern_inputs(SECONDS))
        .args(["-filter_complex", &split, "-map", "[a]", "-map", "[b1]", "-map", "[c1]", "-map", "1:a", "-map", "1:a"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-sc_threshold", "0", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-b:a:0", "128k", "-b:a:1", "64k", "-f", "flv", out]);
    cmd
}

/// The ladder as a file in `dir`, written by ffmpeg 9 as fast as it can, and its packets.
fn ladder_file(dir: &TempDir) -> (Flv, Vec<Packet>) {
    let file = dir.join("ladder.flv");
    run(ladder(&file.to_string_lossy(), false).arg("-y"), Duration::from_secs(120)).ok();
    let flv = flv::parse(&std::fs::read(&file).expect("the FLV"));
    let packets = packets(&flv);
    (flv, packets)
}

/// One track's packet of an FLV tag, read independently of the product's demuxer.
#[derive(Clone, Debug)]
struct Packet {
    kind: u8,
    timestamp: u32,
    track: u8,
    /// Video: the frame type (1 key, 2 inter).
    frame_type: u8,
    /// Enhanced RTMP packet type: 0 SequenceStart, 1 CodedFrames, 2 SequenceEnd, 4 Metadata.
    packet_type: u8,
    fourcc: [u8; 4],
    /// The body after the FourCC, as in a one-track packet (CodedFrames of AVC: the
    /// composition time, then the NAL units).
    body: Vec<u8>,
}

/// The packets of ffmpeg's FLV: legacy AVC and AAC tags (track 0) and OneTrack multitrack video
/// (CodedFramesX for the frames of the other tracks).
fn packets(flv: &Flv) -> Vec<Packet> {
    let mut out = Vec::new();
    for tag in &flv.tags {
        let b = &tag.body;
        let packet = |track, frame_type, packet_type, fourcc: &[u8; 4], body: &[u8]| Packet {
            kind: tag.kind,
            timestamp: tag.timestamp,
            track,
            frame_type,
            packet_type,
            fourcc: *fourcc,
            body: body.to_vec(),
        };
        match tag.kind {
            VIDEO if b[0] & 0x80 == 0 => {
                assert_eq!(b[0] & 0x0F, 7, "legacy AVC");
                let body = if b[1] == 0 { &b[5..] } else { &b[2..] };
                out.push(packet(0, b[0] >> 4, b[1], b"avc1", body));
            }
            VIDEO => {
                assert_eq!((b[0] & 0x0F, b[1] >> 4), (6, 0), "OneTrack multitrack");
                let fourcc: [u8; 4] = b[2..6].try_into().unwrap();
                let frame_type = (b[0] >> 4) & 7;
                match b[1] & 0x0F {
                    // CodedFramesX (composition time 0) as CodedFrames, as track 0 has them.
                    3 => out.push(packet(b[6], frame_type, 1, &fourcc, &[&[0, 0, 0][..], &b[7..]].concat())),
                    t => out.push(packet(b[6], frame_type, t, &fourcc, &b[7..])),
                }
            }
            AUDIO if b[0] >> 4 == 10 => out.push(packet(0, 0, b[1], b"mp4a", &b[2..])),
            AUDIO => {
                assert_eq!((b[0], b[1] >> 4), (0x95, 0), "OneTrack multitrack");
                let fourcc: [u8; 4] = b[2..6].try_into().unwrap();
                out.push(packet(b[6], 0, b[1] & 0x0F, &fourcc, &b[7..]));
            }
            _ => {}
        }
    }
    out
}

/// Frames (CodedFrames packets) of each video track and of each audio track.
type Frames = (BTreeMap<u8, usize>, BTreeMap<u8, usize>);

fn frames(packets: &[Packet]) -> Frames {
    let (mut video, mut audio) = (BTreeMap::new(), BTreeMap::new());
    for p in packets.iter().filter(|p| p.packet_type == 1) {
        *if p.kind == VIDEO { &mut video } else { &mut audio }.entry(p.track).or_insert(0) += 1;
    }
    (video, audio)
}

/// How the client frames the tracks.
#[derive(Clone, Copy, Debug)]
enum Framing {
    /// OBS: track 0 as legacy tags, the others as OneTrack packets, each with a `colorInfo`
    /// Metadata packet before its SequenceStart.
    Obs,
    /// Every video packet of one instant in one ManyTracks packet (one FourCC); audio as a
    /// OneTrack packet of track 0.
    ManyTracks,
    /// The same with ManyTracksManyCodecs (a FourCC per track).
    ManyTracksManyCodecs,
}

fn legacy(p: &Packet) -> Vec<u8> {
    match (p.kind, p.packet_type) {
        (VIDEO, 0) => [&[p.frame_type << 4 | 7, 0, 0, 0, 0][..], &p.body].concat(),
        (VIDEO, t) => [&[p.frame_type << 4 | 7, t][..], &p.body].concat(),
        (_, t) => [&[0xAF, t][..], &p.body].concat(),
    }
}

/// A multitrack packet of `packets` (one instant, one frame and packet type): OneTrack for one,
/// else ManyTracks or ManyTracksManyCodecs.
fn multitrack(packets: &[&Packet], many_codecs: bool) -> Vec<u8> {
    let p0 = packets[0];
    // Multitrack is packet type 6 of video, 5 of audio.
    let head = if p0.kind == VIDEO { 0x80 | p0.frame_type << 4 | 6 } else { 0x95 };
    let kind = if packets.len() == 1 {
        0
    } else if many_codecs {
        2
    } else {
        1
    };
    let mut out = vec![head, kind << 4 | p0.packet_type];
    if kind != 2 {
        out.extend_from_slice(&p0.fourcc);
    }
    for p in packets {
        if kind == 2 {
            out.extend_from_slice(&p.fourcc);
        }
        out.push(p.track);
        if kind != 0 {
            out.extend_from_slice(&(p.body.len() as u32).to_be_bytes()[1..]);
        }
        out.extend_from_slice(&p.body);
    }
    out
}

/// An AMF0 `colorInfo` Metadata body (Enhanced RTMP v2): 8-bit BT.709.
fn color_info() -> Vec<u8> {
    let mut out = Vec::new();
    Amf0Value::String("colorInfo".into()).write(&mut out);
    let config = vec![("bitDepth".into(), Amf0Value::Number(8.0)), ("colorPrimaries".into(), Amf0Value::Number(1.0))];
    Amf0Value::Object(vec![("colorConfig".into(), Amf0Value::Object(config))]).write(&mut out);
    out
}

/// The FLV the client sends: `packets` in `framing`.
fn framed(header: &[u8], packets: &[Packet], framing: Framing) -> Flv {
    let mut tags = Vec::new();
    // Packets already sent in a ManyTracks packet of an earlier one.
    let mut sent = vec![false; packets.len()];
    for (i, p) in packets.iter().enumerate() {
        if sent[i] {
            continue;
        }
        let body = match framing {
            Framing::Obs if p.track == 0 => legacy(p),
            Framing::Obs => {
                if (p.kind, p.packet_type) == (VIDEO, 0) {
                    let meta = Packet { packet_type: 4, frame_type: 1, body: color_info(), ..p.clone() };
                    tags.push(Tag::new(VIDEO, p.timestamp, multitrack(&[&meta], false)));
                }
                multitrack(&[p], false)
            }
            _ if p.kind == AUDIO => multitrack(&[p], false),
            _ => {
                // With it, the video packets of the same instant and types that follow (audio
                // between them stays where it is).
                let mut group = vec![p];
                for (j, q) in packets.iter().enumerate().skip(i + 1) {
                    if q.timestamp != p.timestamp {
                        break;
                    }
                    if q.kind == VIDEO && (q.frame_type, q.packet_type) == (p.frame_type, p.packet_type) {
                        group.push(q);
                        sent[j] = true;
                    }
                }
                multitrack(&group, matches!(framing, Framing::ManyTracksManyCodecs))
            }
        };
        tags.push(Tag::new(p.kind, p.timestamp, body));
    }
    Flv { header: header.to_vec(), tags }
}

/// `/live/{name}/…` of a variant URI relative to `/live/{key}/master.m3u8`.
fn variant_path(key: &str, uri: &str) -> String {
    match uri.strip_prefix("../") {
        Some(other) => format!("/live/{other}"),
        None => format!("/live/{key}/{uri}"),
    }
}

/// Checks the ladder the node serves for `key`, published from a source whose packets had
/// `source` frames: three variants in track order, each decoded by ffmpeg 9 without a word with
/// every frame of its track and the audio, cut at the same instants, `BANDWIDTH` at least the
/// peak bit rate of any of its segments as served. Returns the multivariant playlist's URL.
fn check_ladder(node: &Node, key: &str, source: &Frames) -> String {
    for (n, _) in SIZES.iter().enumerate() {
        let name = if n == 0 { key.to_string() } else { format!("{key}_v{n}") };
        node.wait_playlist(&name, "#EXT-X-ENDLIST", Duration::from_secs(30), |p| p.ended);
    }
    node.wait_playlist(&format!("{key}_a1"), "#EXT-X-ENDLIST", Duration::from_secs(30), |p| p.ended);
    let master = node.get(&format!("/live/{key}/master.m3u8")).text();
    let variants = parse_master(&master).unwrap_or_else(|e| panic!("{e}:\n{master}"));
    let uris: Vec<&str> = variants.iter().map(|v| v.uri.as_str()).collect();
    let renditions = [format!("../{key}_v1/index.m3u8"), format!("../{key}_v2/index.m3u8")];
    assert_eq!(uris, ["index.m3u8", &renditions[0], &renditions[1]], "{master}");
    // The default audio track is in every variant's segments; the other is a rendition of its own.
    let group = format!(
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"main\",DEFAULT=YES,AUTOSELECT=YES\n\
         #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"{key}_a1\",DEFAULT=NO,AUTOSELECT=YES,URI=\"../{key}_a1/index.m3u8\"\n"
    );
    assert!(master.contains(&group), "the audio group: {master}");
    let audio = format!("http://{}/live/{key}_a1/index.m3u8", node.http);
    let decode = run(ffmpeg9().args(["-v", "warning", "-i", &audio, "-f", "null", "-"]), Duration::from_secs(60));
    assert!(decode.success() && decode.stderr.trim().is_empty(), "ffmpeg 9 decodes audio track 1\n{}", decode.stderr);
    assert_eq!(frame_counts(&audio), (source.1[&1], 0), "every frame of audio track 1");
    let mut cuts = Vec::new();
    for (n, (v, (w, h))) in variants.iter().zip(SIZES).enumerate() {
        assert_eq!(v.attr("RESOLUTION"), Some(format!("{w}x{h}").as_str()), "{master}");
        assert_eq!(v.attr("FRAME-RATE"), Some("30.000"), "{master}");
        assert_eq!(v.attr("AUDIO"), Some("audio"), "{master}");
        let codecs = v.attr("CODECS").unwrap_or_default();
        assert!(codecs.starts_with("avc1.") && codecs.ends_with(",mp4a.40.2"), "{master}");
        let path = variant_path(key, &v.uri);
        let playlist = Playlist::parse(&node.get(&path).text());
        let base = &path[..path.rfind('/').unwrap_or(0) + 1];
        let peak = playlist
            .segments
            .iter()
            .map(|s| node.get(&format!("{base}{}", s.uri)).body.len() as f64 * 8.0 / s.duration)
            .fold(0.0, f64::max);
        let bandwidth: f64 = v.attr("BANDWIDTH").and_then(|b| b.parse().ok()).unwrap_or(0.0);
        let average: f64 = v.attr("AVERAGE-BANDWIDTH").and_then(|b| b.parse().ok()).unwrap_or(f64::MAX);
        assert!(
            bandwidth >= peak && average <= bandwidth,
            "variant {n}: BANDWIDTH {bandwidth} ≥ peak {peak:.0}: {master}"
        );
        cuts.push(playlist.segments.iter().map(|s| s.duration).collect::<Vec<_>>());
        let url = format!("http://{}{path}", node.http);
        let decode = run(ffmpeg9().args(["-v", "warning", "-i", &url, "-f", "null", "-"]), Duration::from_secs(60));
        assert!(decode.success() && decode.stderr.trim().is_empty(), "ffmpeg 9 decodes variant {n}\n{}", decode.stderr);
        let (video, audio) = frame_counts(&url);
        assert_eq!(
            (video, audio),
            (source.0[&(n as u8)], source.1[&0]),
            "variant {n}: every frame of its track, and the audio"
        );
    }
    assert!(cuts.iter().all(|c| *c == cuts[0]), "every rendition cut at the same instants: {cuts:?}");
    assert!(!node.log().contains("skipped"), "no warning per packet:\n{}", node.log());
    format!("http://{}/live/{key}/master.m3u8", node.http)
}

/// ffmpeg 9 publishes the ladder live (each rendition with its LL-HLS live edge); hls.js plays
/// it and switches through every level.
#[test]
fn an_ffmpeg_multitrack_publish_is_an_abr_ladder_hls_js_switches_through() {
    let dir = TempDir::new("multitrack-ffmpeg");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let (_, packets) = ladder_file(&dir);
    let source = frames(&packets);
    assert_eq!(source.0.len(), 3, "ffmpeg 9 wrote three video tracks: {source:?}");
    let url = node.rtmp_url("ladder", Some(&node.token("ladder", 600, false)));
    let mut publisher = Background::spawn("ffmpeg", &mut ladder(&url, true), dir.join("ffmpeg.log"));
    // While live, every rendition has its live edge: LL-HLS parts of its open segment.
    for key in ["ladder", "ladder_v1", "ladder_v2", "ladder_a1"] {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = node.get(&format!("/live/{key}/index.m3u8"));
            if r.status == 200 && r.text().contains("#EXT-X-PRELOAD-HINT:TYPE=PART") {
                break;
            }
            assert!(Instant::now() < deadline, "{key} lists parts while live: {}", r.text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let status = publisher.wait_timeout(Duration::from_secs(120)).expect("the publish ends");
    assert!(status.success(), "publish:\n{}", publisher.log());
    let master = check_ladder(&node, "ladder", &source);
    // `rapidrtmp edge` over the same store builds the same multivariant playlist.
    let edge = Edge::start(&dir.join("data"), None, dir.join("edge.log"));
    let path = "/live/ladder/master.m3u8";
    assert_eq!(edge.get(path).text(), node.get(path).text(), "rapidrtmp edge's multivariant playlist");

    let report: Value = play_levels(&master);
    assert_eq!(errors(&report), Vec::<Value>::new(), "no hls.js error: {report}");
    assert_eq!(report["pageErrors"], serde_json::json!([]), "{report}");
    let mut heights: Vec<u64> =
        report["levels"].as_array().unwrap().iter().filter_map(|l| l["height"].as_u64()).collect();
    heights.sort();
    assert_eq!(heights, [180, 240, 360], "hls.js sees the three levels: {report}");
    for level in 0..3 {
        let has = |field: &str| report[field].as_array().unwrap().iter().any(|l| l.as_u64() == Some(level));
        assert!(has("switched") && has("fragmentLevels"), "hls.js switched to level {level} and buffered it: {report}");
    }
    assert!(report["currentTime"].as_f64().unwrap_or(0.0) >= 4.0, "hls.js played on: {report}");
}

/// The project's client sends the same tracks as OBS frames them, and in ManyTracks and
/// ManyTracksManyCodecs packets: each is the same ladder.
#[test]
fn obs_framing_and_many_tracks_packets_are_the_same_ladder() {
    let dir = TempDir::new("multitrack-framings");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let (flv, packets) = ladder_file(&dir);
    let source = frames(&packets);
    for (key, framing) in
        [("obs", Framing::Obs), ("many", Framing::ManyTracks), ("manycodecs", Framing::ManyTracksManyCodecs)]
    {
        let sent = framed(&flv.header, &packets, framing);
        let many = sent.tags.iter().filter(|t| t.kind == VIDEO && t.body[0] & 0x0F == 6 && t.body[1] >> 4 != 0).count();
        assert_eq!(many > 100, !matches!(framing, Framing::Obs), "{key}: ManyTracks packets ({many})");
        let url = node.rtmp_url(key, Some(&node.token(key, 600, false)));
        publish_exact(&url, &flv::write(&sent)).unwrap_or_else(|e| panic!("{key}: publish: {e}"));
        check_ladder(&node, key, &source);
    }
}

/// OBS reconnects after its connection drops: the same multitrack publish again, within the
/// reconnect grace. Every track's stream goes on (a discontinuity, a new session), every frame
/// of both publishes in it.
#[test]
fn a_multitrack_publisher_that_reconnects_goes_on_in_every_track() {
    let dir = TempDir::new("multitrack-reconnect");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let (flv, packets) = ladder_file(&dir);
    let (video, audio) = frames(&packets);
    let sent = flv::write(&framed(&flv.header, &packets, Framing::Obs));
    let url = node.rtmp_url("again", Some(&node.token("again", 600, false)));
    for _ in 0..2 {
        // The client drops the connection at the end, as a crashed encoder would.
        publish_exact(&url, &sent).unwrap_or_else(|e| panic!("publish: {e}"));
    }
    for (key, track) in [("again", 0), ("again_v1", 1), ("again_v2", 2)] {
        let p = node.wait_playlist(key, "#EXT-X-ENDLIST", Duration::from_secs(30), |p| p.ended);
        assert_eq!(p.discontinuities, 1, "{key}: one new session:\n{}", p.text);
        let (v, a) = frame_counts(&format!("http://{}/live/{key}/index.m3u8", node.http));
        assert_eq!((v, a), (2 * video[&track], 2 * audio[&0]), "{key}: every frame of both publishes");
    }
    let p = node.wait_playlist("again_a1", "#EXT-X-ENDLIST", Duration::from_secs(30), |p| p.ended);
    assert_eq!(p.discontinuities, 1, "again_a1: one new session:\n{}", p.text);
    assert!(!node.log().contains("dropped"), "no track dropped:\n{}", node.log());
}

/// A publish token for `key` in stream group `group`.
fn group_token(node: &Node, key: &str, group: &str) -> String {
    let body = serde_json::json!({ "streamKey": key, "group": group });
    let r = node.api("POST", "/api/v1/publish", Some(&body));
    assert_eq!(r.status, 201, "POST /api/v1/publish: {}", r.text());
    let j = r.json();
    let group_url = format!("http://{}/live/{group}/master.m3u8", node.http);
    assert_eq!(j["groupUrl"].as_str(), Some(group_url.as_str()), "{j}");
    j["token"].as_str().expect("a token").to_string()
}

/// Three publishes of one show, each its own stream with a token naming the group `show`: H.265
/// (ffmpeg 9, joining first) and H.264 at two sizes (Debian's ffmpeg). The group's multivariant
/// playlist lists H.264 first; hls.js in Chromium (which has no H.265 decoder) gets the H.264
/// ladder and switches through it. The group's key itself cannot be published.
#[test]
fn a_stream_group_of_separate_publishes_is_one_ladder_per_codec_family() {
    let dir = TempDir::new("multitrack-group");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let publish = |mut cmd: Command, key: &str, video: &[&str], audio: &[&str]| {
        let url = node.rtmp_url(key, Some(&group_token(&node, key, "show")));
        cmd.args(["-v", "error", "-re"]).args(test_pattern_inputs(8)).args(video);
        cmd.args(["-g", "30", "-pix_fmt", "yuv420p"]).args(audio).args(["-f", "flv", &url]);
        Background::spawn(key, &mut cmd, dir.join(&format!("{key}.log")))
    };
    let hevc = ["-c:v", "libx265", "-x265-params", "log-level=error"];
    let mut publishers = vec![publish(ffmpeg9(), "show_hevc", &hevc, &["-c:a", "libopus"])];
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.get("/live/show/master.m3u8").status != 200 {
        assert!(Instant::now() < deadline, "the H.265 stream joined the group:\n{}", node.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    for (key, size) in [("show_hi", "640x360"), ("show_lo", "320x180")] {
        let video = ["-c:v", "libx264", "-preset", "ultrafast", "-s", size];
        publishers.push(publish(ffmpeg(), key, &video, &["-c:a", "aac"]));
    }
    for p in &mut publishers {
        let status = p.wait_timeout(Duration::from_secs(60)).expect("the publish ends");
        assert!(status.success(), "publish failed:\n{}", p.log());
    }
    for key in ["show_hevc", "show_hi", "show_lo"] {
        node.wait_playlist(key, "#EXT-X-ENDLIST", Duration::from_secs(20), |p| p.ended);
    }
    let master = node.get("/live/show/master.m3u8").text();
    let variants = parse_master(&master).unwrap_or_else(|e| panic!("{e}:\n{master}"));
    let uris: Vec<&str> = variants.iter().map(|v| v.uri.as_str()).collect();
    assert_eq!(uris, ["../show_hi/index.m3u8", "../show_lo/index.m3u8", "../show_hevc/index.m3u8"], "{master}");
    let codecs: Vec<&str> = variants.iter().map(|v| v.attr("CODECS").unwrap_or_default()).collect();
    assert!(
        codecs[0].starts_with("avc1.") && codecs[1].starts_with("avc1.") && codecs[2].starts_with("hvc1."),
        "{master}"
    );
    let sizes: Vec<&str> = variants.iter().map(|v| v.attr("RESOLUTION").unwrap_or_default()).collect();
    assert_eq!(sizes, ["640x360", "320x180", "640x360"], "{master}");
    assert!(!master.contains("#EXT-X-MEDIA"), "each stream carries its own audio: {master}");
    assert_eq!(node.get("/live/show/index.m3u8").status, 404, "a group has no media playlist");

    let report = play_levels(&format!("http://{}/live/show/master.m3u8", node.http));
    assert_eq!(errors(&report), Vec::<Value>::new(), "no hls.js error: {report}");
    let levels = report["levels"].as_array().unwrap();
    assert!(levels.iter().all(|l| l["codecs"].as_str().unwrap_or_default().starts_with("avc1.")), "{report}");
    let mut heights: Vec<u64> = levels.iter().filter_map(|l| l["height"].as_u64()).collect();
    heights.sort();
    assert_eq!(heights, [180, 360], "hls.js sees the H.264 ladder: {report}");
    for level in 0..2 {
        let has = |field: &str| report[field].as_array().unwrap().iter().any(|l| l.as_u64() == Some(level));
        assert!(has("switched") && has("fragmentLevels"), "hls.js switched to level {level} and buffered it: {report}");
    }

    let refused = publish_exact(&node.rtmp_url("show", Some(&node.token("show", 600, false))), &[]);
    assert!(refused.is_err_and(|e| e.contains("stream group")), "the group's key is not a stream");
}

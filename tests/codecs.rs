//! The codecs beyond H.264 and AAC end to end: ffmpeg 9 publishes H.265, AV1 and VP9 video with
//! Opus audio, and H.264 with AC-3 or E-AC-3, over Enhanced RTMP; Debian's ffmpeg H.264 with MP3
//! in legacy FLV. What the node serves is checked by others: ffmpeg 9 decodes every frame
//! of it without a word, as many frames as the source has; mp4-atom (strict) reads every box of
//! its init and media segments and LL-HLS parts; `rapidrtmp edge` serves the same bytes; hls.js
//! in headless Chromium plays the AV1 and VP9 streams (Chromium on Linux has no H.265 decoder).
//! Every Opus packet is kept, packaged and live, whether the stream ends on audio or on video.

mod support;

use std::process::Command;
use std::time::Duration;

use rapidrtmp_core::flv::Amf0Value;
use serde_json::Value;
use support::flv::{self, Flv, Tag, AUDIO, VIDEO};
use support::hls::{parse_master, Playlist};
use support::media::{ffmpeg, ffmpeg9, frame_counts, test_pattern_inputs};
use support::mp4::{parse_init, parse_segment};
use support::node::{Edge, Node, NodeOptions};
use support::player::{errors, play};
use support::proc::{run, Background, TempDir};
use support::publisher::publish_exact;

/// Seconds each source lasts.
const SECONDS: u32 = 6;

/// One codec's publish.
struct Case {
    key: &'static str,
    /// The publisher: ffmpeg 9 (Enhanced RTMP), or Debian's ffmpeg 5.1 (legacy FLV).
    ffmpeg: fn() -> Command,
    /// The video encoder and its options.
    video: &'static [&'static str],
    /// The audio encoder and its options.
    audio: &'static [&'static str],
    /// The `CODECS` the multivariant playlist must list, worked out by hand from the encoders'
    /// choices (640×360 at 30 fps).
    codecs: &'static str,
    /// The names ffmpeg gives the video and audio codecs.
    ffmpeg_names: [&'static str; 2],
    /// hls.js in Chromium plays it.
    in_chromium: bool,
}

/// Opus at 64 kbit/s.
const OPUS: &[&str] = &["-c:a", "libopus", "-b:a", "64k"];
/// H.264 as x264's fastest makes it: Constrained Baseline (0x42, constraint flags 0xC0), level
/// 3.0 (0x1E).
const H264: &[&str] = &["-c:v", "libx264", "-preset", "ultrafast"];

const CASES: [Case; 6] = [
    Case {
        key: "hevc",
        ffmpeg: ffmpeg9,
        video: &["-c:v", "libx265", "-x265-params", "log-level=error"],
        audio: OPUS,
        // Main (1), compatible with Main and Main 10 (flags 1 and 2: reversed, 0x6), Main tier,
        // level 2.1 (63), progressive and frame-only source flags (0x90).
        codecs: "hvc1.1.6.L63.90,opus",
        ffmpeg_names: ["hevc", "opus"],
        in_chromium: false,
    },
    Case {
        key: "av1",
        ffmpeg: ffmpeg9,
        video: &["-c:v", "libsvtav1", "-preset", "12", "-svtav1-params", "lp=1"],
        audio: OPUS,
        // Main profile (0), seq_level_idx 1 (level 2.1), Main tier, 8 bits; no colour
        // description, so no optional fields.
        codecs: "av01.0.01M.08,opus",
        ffmpeg_names: ["av1", "opus"],
        in_chromium: true,
    },
    Case {
        key: "vp9",
        ffmpeg: ffmpeg9,
        video: &["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"],
        audio: OPUS,
        // Profile 0, level 2.1, 8 bits, then the colour fields because they are not the
        // defaults: 4:2:0 colocated (01), primaries, transfer and matrix unspecified (02), limited
        // range (00).
        codecs: "vp09.00.21.08.01.02.02.02.00,opus",
        ffmpeg_names: ["vp9", "opus"],
        in_chromium: true,
    },
    Case {
        key: "mp3",
        // Legacy FLV (SoundFormat 2), as old encoders send it: no sequence header.
        ffmpeg,
        video: H264,
        audio: &["-c:a", "libmp3lame", "-b:a", "64k"],
        // MPEG-1 Layer III: audio object type 34, as Apple's HLS specification writes MP3.
        codecs: "avc1.42C01E,mp4a.40.34",
        ffmpeg_names: ["h264", "mp3"],
        in_chromium: false,
    },
    Case {
        key: "ac3",
        ffmpeg: ffmpeg9,
        video: H264,
        audio: &["-c:a", "ac3"],
        codecs: "avc1.42C01E,ac-3",
        ffmpeg_names: ["h264", "ac3"],
        in_chromium: false,
    },
    Case {
        key: "eac3",
        ffmpeg: ffmpeg9,
        video: H264,
        audio: &["-c:a", "eac3"],
        codecs: "avc1.42C01E,ec-3",
        ffmpeg_names: ["h264", "eac3"],
        in_chromium: false,
    },
];

/// The ffmpeg arguments of `case`'s source: a test pattern and a tone, `SECONDS` long, a
/// keyframe a second.
fn source_args(case: &Case) -> Vec<String> {
    let mut args = test_pattern_inputs(SECONDS);
    args.extend(case.video.iter().chain(case.audio).map(|s| s.to_string()));
    args.extend(["-g", "30", "-pix_fmt", "yuv420p"].iter().map(|s| s.to_string()));
    args
}

#[test]
fn hevc_av1_vp9_opus_mp3_ac3_and_eac3_are_served_as_cmaf_hls() {
    let dir = TempDir::new("codecs");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    // What the sources hold, written to files by the same encoders.
    let expected: Vec<(usize, usize)> = CASES
        .iter()
        .map(|case| {
            let file = dir.join(&format!("{}.mkv", case.key));
            run((case.ffmpeg)().args(["-v", "error"]).args(source_args(case)).arg(&file), Duration::from_secs(120))
                .ok();
            frame_counts(&file.to_string_lossy())
        })
        .collect();
    let mut publishers: Vec<Background> = CASES
        .iter()
        .map(|case| {
            let url = node.rtmp_url(case.key, Some(&node.token(case.key, 600, false)));
            let mut cmd = (case.ffmpeg)();
            cmd.args(["-v", "error", "-re"]).args(source_args(case)).args(["-f", "flv", &url]);
            Background::spawn(case.key, &mut cmd, dir.join(&format!("{}.log", case.key)))
        })
        .collect();
    for p in &mut publishers {
        let status = p.wait_timeout(Duration::from_secs(90)).unwrap_or_else(|| panic!("{} went on", p.name()));
        assert!(status.success(), "{} publish: {status}\n{}", p.name(), p.log());
    }
    let edge = Edge::start(&node.data_dir, None, dir.join("edge.log"));
    for (case, expected) in CASES.iter().zip(expected) {
        let key = case.key;
        node.wait_playlist(key, "the ended playlist", Duration::from_secs(20), |p| p.ended);
        let master = node.get(&format!("/live/{key}/master.m3u8")).text();
        let variants = parse_master(&master).unwrap_or_else(|e| panic!("{key}: {e}\n{master}"));
        assert_eq!(variants.len(), 1, "{master}");
        assert_eq!(variants[0].attr("CODECS"), Some(case.codecs), "{key}: {master}");
        assert_eq!(variants[0].attr("RESOLUTION"), Some("640x360"), "{key}: {master}");
        // H.265's from its VUI; AV1's and VP9's (their encoders here write no timing
        // information) measured on the first segment.
        assert_eq!(variants[0].attr("FRAME-RATE"), Some("30.000"), "{key}: {master}");

        let url = node.playlist_url(key);
        let probe = run(ffmpeg9().args(["-i", &url]), Duration::from_secs(60)).stderr;
        let [video, audio] = case.ffmpeg_names.map(|n| n.to_string());
        let seen = probe.contains(&format!("Video: {video}")) && probe.contains(&format!("Audio: {audio}"));
        assert!(seen, "{key}: ffmpeg 9 sees\n{probe}");
        let decode = run(ffmpeg9().args(["-v", "warning", "-i", &url, "-f", "null", "-"]), Duration::from_secs(120));
        assert!(decode.success() && decode.stderr.trim().is_empty(), "{key}: ffmpeg 9 decodes\n{}", decode.stderr);
        assert_eq!(frame_counts(&url), expected, "{key}: (video frames, audio packets) served and in the source");

        let playlist = Playlist::parse(&node.get(&format!("/live/{key}/index.m3u8")).text());
        for map in playlist.segment_maps() {
            let init_bytes = node.get(&format!("/live/{key}/{map}")).body;
            let init = parse_init(&init_bytes).unwrap_or_else(|e| panic!("{key} {map}: {e}"));
            assert!(init_bytes == edge.get(&format!("/live/{key}/{map}")).body, "{key} {map}: edge and node differ");
            for s in playlist.segments.iter().filter(|s| s.map == map) {
                let bytes = node.get(&format!("/live/{key}/{}", s.uri)).body;
                parse_segment(&bytes, &init).unwrap_or_else(|e| panic!("{key} {}: {e}", s.uri));
                assert!(
                    bytes == edge.get(&format!("/live/{key}/{}", s.uri)).body,
                    "{key} {}: edge and node differ",
                    s.uri
                );
            }
            // The LL-HLS parts of the first segment, built from its stored chunk: init and parts
            // decode as one file, and every edge builds the same bytes.
            let first = playlist.segments.iter().find(|s| s.map == map).expect("a segment");
            let stem = first.uri.strip_suffix(".m4s").expect("a .m4s segment");
            let mut whole = init_bytes.clone();
            for index in 0.. {
                let uri = format!("/live/{key}/{stem}.{index}.m4s");
                let part = node.get(&uri);
                if part.status == 404 {
                    assert!(index >= 3, "{key}: segment {stem} has parts 0..{index}");
                    break;
                }
                assert_eq!(part.status, 200, "{uri}");
                parse_segment(&part.body, &init).unwrap_or_else(|e| panic!("{uri}: {e}"));
                assert!(part.body == edge.get(&uri).body, "{uri}: edge and node differ");
                whole.extend_from_slice(&part.body);
            }
            let file = dir.join(&format!("{key}-parts.mp4"));
            std::fs::write(&file, &whole).expect("write");
            let decode = run(
                ffmpeg9().args(["-v", "warning", "-i"]).arg(&file).args(["-f", "null", "-"]),
                Duration::from_secs(60),
            );
            assert!(
                decode.success() && decode.stderr.trim().is_empty(),
                "{key} parts: ffmpeg 9 decodes\n{}",
                decode.stderr
            );
        }
        if case.in_chromium {
            let report: Value = play(&url, false);
            assert_eq!(errors(&report), Vec::<Value>::new(), "{key}: no hls.js error: {report}");
            assert_eq!(report["pageErrors"], serde_json::json!([]), "{key}: {report}");
            assert!(report["currentTime"].as_f64().unwrap_or(0.0) >= 4.0, "{key}: hls.js played on: {report}");
        }
    }
}

/// Rewrites an Enhanced RTMP FLV's video into framings the specification allows and ffmpeg does
/// not send: a `colorInfo` Metadata packet and an empty SequenceStart before the real one,
/// CodedFramesX for frames shown when decoded, ModEx (`TimestampOffsetNano`) in front of every
/// fifth frame and audio packet, a SequenceEnd at the end.
fn spec_framings(flv: &Flv, fourcc: &[u8; 4]) -> Flv {
    let mut out = Flv { header: flv.header.clone(), tags: Vec::new() };
    let mut n = 0;
    let mod_ex = |head: u8, rest: &[u8]| [&[head & 0xF0 | 7, 2, 0x07, 0xA1, 0x20, head & 0x0F][..], rest].concat();
    for tag in &flv.tags {
        let (Some(&head), true) = (tag.body.first(), tag.body.len() >= 5 && head_is_enhanced(&tag.body)) else {
            out.tags.push(tag.clone());
            continue;
        };
        let (packet_type, rest) = (head & 0x0F, &tag.body[1..]);
        let mut body = tag.body.clone();
        match (tag.kind, packet_type) {
            (VIDEO, 0) => {
                let mut color = Vec::new();
                Amf0Value::String("colorInfo".into()).write(&mut color);
                let props =
                    vec![("colorConfig".into(), Amf0Value::Object(vec![("bitDepth".into(), Amf0Value::Number(8.0))]))];
                Amf0Value::Object(props).write(&mut color);
                out.tags.push(Tag::new(VIDEO, tag.timestamp, [&[0x94][..], fourcc, &color].concat()));
                out.tags.push(Tag::new(VIDEO, tag.timestamp, [&[0x90][..], fourcc].concat()));
            }
            // CodedFrames with composition time 0 → CodedFramesX (no composition time).
            (VIDEO, 1) if rest.get(4..7) == Some(&[0, 0, 0]) => {
                body = [&[head & 0xF0 | 3][..], &rest[..4], &rest[7..]].concat();
            }
            _ => {}
        }
        if matches!((tag.kind, body[0] & 0x0F), (VIDEO | AUDIO, 1 | 3)) {
            n += 1;
            if n % 5 == 0 {
                body = mod_ex(body[0], &body[1..]);
            }
        }
        out.tags.push(Tag { body, ..tag.clone() });
    }
    let end = out.tags.iter().filter(|t| t.kind == VIDEO).map(|t| t.timestamp).max().unwrap_or(0);
    out.tags.push(Tag::new(VIDEO, end, [&[0x92][..], fourcc].concat()));
    out
}

/// An Enhanced RTMP audio or video tag body (`IsExHeader`, or SoundFormat 9).
fn head_is_enhanced(body: &[u8]) -> bool {
    body[0] & 0x80 != 0
}

#[test]
fn the_enhanced_rtmp_framings_the_specification_allows_are_packaged_as_ffmpeg_s_are() {
    let dir = TempDir::new("codecs-framings");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let case = &CASES[0];
    let file = dir.join("hevc.flv");
    run(ffmpeg9().args(["-v", "error"]).args(source_args(case)).arg(&file), Duration::from_secs(120)).ok();
    let flv = flv::parse(&std::fs::read(&file).expect("the FLV"));
    let framed = spec_framings(&flv, b"hvc1");
    let kinds = |f: &Flv, t: u8| f.tags.iter().filter(|x| x.kind == VIDEO && x.body[0] & 0x0F == t).count();
    assert!(kinds(&framed, 3) > 10 && kinds(&framed, 7) > 10, "CodedFramesX and ModEx were made");
    let url = node.rtmp_url("framed", Some(&node.token("framed", 600, false)));
    publish_exact(&url, &flv::write(&framed)).unwrap_or_else(|e| panic!("publish: {e}"));
    node.wait_playlist("framed", "#EXT-X-ENDLIST", Duration::from_secs(20), |p| p.ended);
    let served = node.playlist_url("framed");
    let decode = run(ffmpeg9().args(["-v", "warning", "-i", &served, "-f", "null", "-"]), Duration::from_secs(120));
    assert!(decode.success() && decode.stderr.trim().is_empty(), "ffmpeg 9 decodes\n{}", decode.stderr);
    assert_eq!(frame_counts(&served), frame_counts(&file.to_string_lossy()), "every frame of the source");
    let master = node.get("/live/framed/master.m3u8").text();
    assert!(master.contains(&format!("CODECS=\"{}\"", case.codecs)), "{master}");
}

/// The packets ffmpeg 9 reads from `input` (a file or a URL), copying, not decoding.
#[derive(Debug, PartialEq)]
struct Packets {
    /// Audio packets, in order: size and CRC.
    audio: Vec<String>,
    /// How many video packets.
    video: usize,
    /// The last packet is audio.
    ends_on_audio: bool,
}

fn packets(input: &str) -> Packets {
    let args = ["-v", "error", "-i", input, "-c", "copy", "-f", "framecrc", "-"];
    let out = run(ffmpeg9().args(args), Duration::from_secs(60)).ok().stdout_text();
    let fields = |l: &str| l.split(',').map(str::trim).map(String::from).collect::<Vec<_>>();
    Packets {
        audio: out.lines().filter(|l| l.starts_with("1,")).map(|l| fields(l)[4..6].join(" ")).collect(),
        video: out.lines().filter(|l| l.starts_with("0,")).count(),
        ends_on_audio: out.lines().rfind(|l| !l.starts_with('#')).is_some_and(|l| l.starts_with("1,")),
    }
}

/// Opus at 48 kHz in 20 ms packets (mono and stereo; ffmpeg 9 sends the Enhanced RTMP
/// MultichannelConfig after the SequenceStart) with AV1 or VP9 video, of lengths that end the
/// stream on an audio packet or on a video frame: `rapidrtmp package` and a live publish
/// (`ffmpeg -c copy` of the same file) keep every Opus packet, byte for byte and in order, and
/// every video frame.
#[test]
fn every_opus_packet_is_kept_packaged_and_live_whether_the_stream_ends_on_audio_or_on_video() {
    let dir = TempDir::new("codecs-opus-end");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    const AV1: &[&str] = &["-c:v", "libsvtav1", "-preset", "12", "-svtav1-params", "lp=1"];
    const VP9: &[&str] = &["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"];
    // (key, video encoder, video seconds, audio seconds, channels)
    let cases: [(&str, &[&str], &str, &str, &str); 4] = [
        ("av1-ends-on-audio", AV1, "3", "3.55", "1"),
        ("av1-ends-on-video", AV1, "3.5", "2.71", "2"),
        ("vp9-ends-on-audio", VP9, "2.2", "2.93", "2"),
        ("vp9-ends-on-video", VP9, "4.1", "3.37", "1"),
    ];
    let mut sources = Vec::new();
    for &(key, video, video_s, audio_s, channels) in &cases {
        let file = dir.join(&format!("{key}.flv"));
        let made = run(
            ffmpeg9()
                .args(["-v", "error", "-f", "lavfi", "-i", &format!("testsrc=size=320x240:rate=30:duration={video_s}")])
                .args(["-f", "lavfi", "-i", &format!("sine=frequency=440:sample_rate=48000:duration={audio_s}")])
                .args(video)
                .args(["-g", "30", "-pix_fmt", "yuv420p", "-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20"])
                .args(["-ac", channels, "-ar", "48000"])
                .arg(&file),
            Duration::from_secs(120),
        );
        assert!(made.success(), "{key}: {}", made.describe());
        let source = packets(&file.to_string_lossy());
        let ends_on = if source.ends_on_audio { "audio" } else { "video" };
        assert!(key.ends_with(&format!("on-{ends_on}")), "{key}: the source ends on {ends_on}");
        let wanted = 50.0 * audio_s.parse::<f64>().expect("seconds") - 1.0;
        assert!(source.audio.len() as f64 >= wanted, "{key}: {} Opus packets in the source", source.audio.len());
        sources.push((key, file, source));
    }
    let publishers: Vec<Background> = sources
        .iter()
        .map(|(key, file, _)| {
            let url = node.rtmp_url(key, Some(&node.token(key, 600, false)));
            let mut cmd = ffmpeg9();
            cmd.args(["-v", "error", "-re", "-i"]).arg(file).args(["-c", "copy", "-f", "flv", &url]);
            Background::spawn(key, &mut cmd, dir.join(&format!("{key}.log")))
        })
        .collect();
    for ((key, file, source), mut publisher) in sources.iter().zip(publishers) {
        let out = dir.join(&format!("{key}-packaged"));
        let packaged = support::cli::package_ok(file, &out, &[]);
        let warnings = support::cli::warning_lines(&packaged);
        assert!(warnings.is_empty(), "{key}: package warned\n{}", packaged.describe());
        assert_same_packets(key, "packaged", &packets(&out.join("index.m3u8").to_string_lossy()), source);

        let status = publisher.wait_timeout(Duration::from_secs(60)).unwrap_or_else(|| panic!("{key} went on"));
        assert!(status.success(), "{key} publish: {status}\n{}", publisher.log());
        node.wait_playlist(key, "the ended playlist", Duration::from_secs(20), |p| p.ended);
        assert_same_packets(key, "live", &packets(&node.playlist_url(key)), source);
    }
}

/// Every Opus packet of `source`, byte for byte and in order, and as many video frames.
fn assert_same_packets(key: &str, what: &str, got: &Packets, source: &Packets) {
    let (n, of) = (got.audio.len(), source.audio.len());
    assert!(got.audio == source.audio, "{key} {what}: {n} Opus packets of {of}, or not the same");
    assert_eq!(got.video, source.video, "{key} {what}: video frames");
}

//! End-to-end tests of clips (`GET /live/{stream}/clip.mp4?start={t}&end={t}`, docs/clips.md):
//! ffmpeg publishes a real-time source to a node with a folder store; after it ends, the node
//! and `rapidrtmp edge` serve clips of it, the times given on the wall clock of the recording's
//! `EXT-X-PROGRAM-DATE-TIME`.
//!
//! - frame accuracy: a clip from `t` to `t + 8.5 s`, `t` between keyframes, decodes in ffmpeg
//!   (edit lists honoured) to the source's frames from the one shown at `t` (within one frame),
//!   8.5 s of them within one frame; its audio starts at 0 and lasts 8.5 s within one AAC frame;
//!   mp4-atom reads every box strictly, `moov` before `mdat`;
//! - every `Range` (across the head and the body, suffixes, past the end: 416) is the same slice
//!   of the whole answer; `HEAD` is `GET` without the body; `filename` makes a download;
//! - a clip longer than `--max-clip` is a 400 naming the limit; a clip over a change of the
//!   codec configuration (a second session at another resolution) is a 422 naming the time of
//!   the change; bad input is a clear 4xx, never a 5xx;
//! - `rapidrtmp edge` over the same store answers byte for byte as the node.
//!
//! Needs ffmpeg and ffprobe (`tests/run` installs them).

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rapidrtmp_core::date::{iso8601, parse_time};
use support::fixtures;
use support::http::{self, Response};
use support::media;
use support::mp4::decode_all;
use support::node::{Edge, Node, NodeOptions};
use support::proc::{run, TempDir};

/// Source frame rate.
const FPS: u64 = 30;
/// AAC's frame, in samples, and the source's sampling rate.
const AAC_FRAME: u64 = 1024;
const RATE: u64 = 48_000;
/// The clip length the issue names.
const CLIP_MS: u64 = 8_500;
/// The node's `--max-clip`, seconds: the 8.5 s clip fits, a longer one does not.
const MAX_CLIP_S: u64 = 9;
/// How long a real-time publish of a source may take on a busy machine.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// A `seconds`-long source at `size`: testsrc2 at 30 fps, H.264 High with B-frames and a
/// keyframe every 2 s, AAC 48 kHz stereo white noise.
fn source(seconds: u32, size: &str) -> PathBuf {
    fixtures::noise_source(&format!("clips-source-{seconds}s-{size}"), seconds, size, &[])
}

/// [`source`] made heavy: the picture under moving noise, at about 4 Mbit/s (1 MB a 2 s chunk).
fn heavy_source(seconds: u32) -> PathBuf {
    let name = format!("clips-heavy-{seconds}s");
    fixtures::noise_source(
        &name,
        seconds,
        "640x360",
        &["-vf", "noise=alls=40:allf=t", "-b:v", "4M", "-maxrate", "4M", "-bufsize", "2M"],
    )
}

/// Publishes `path` to `url` in real time (`-re`, stream copy) and waits for ffmpeg to end.
fn publish(url: &str, path: &Path) {
    let mut cmd = media::ffmpeg();
    cmd.args(["-v", "error", "-re", "-i"]).arg(path).args(["-c", "copy", "-f", "flv", url]);
    run(&mut cmd, PUBLISH_TIMEOUT).ok();
}

/// The segments of a recording's playlist: (program date time, EXTINF), milliseconds.
fn dated_segments(text: &str) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut date = None;
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            date = Some(parse_time(t).expect("an RFC 3339 program date time"));
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            let secs: f64 = d.trim_end_matches(',').split(',').next().unwrap().parse().expect("EXTINF seconds");
            out.push((date.take().expect("a date on every segment"), (secs * 1000.0).round() as u64));
        }
    }
    out
}

/// The wall-clock time of `t`, milliseconds on the session's timeline (from 0), as the
/// recording's program date times place it: the date of the segment holding it plus the time
/// into it.
fn wall_clock(segments: &[(u64, u64)], t: u64) -> u64 {
    let mut start = 0;
    for &(date, duration) in segments {
        if t < start + duration {
            return date + (t - start);
        }
        start += duration;
    }
    panic!("{t} ms is past the recording ({start} ms)")
}

/// `t` (milliseconds since the epoch) as Unix seconds with a fraction.
fn unix(t: u64) -> String {
    format!("{}.{:03}", t / 1000, t % 1000)
}

fn get(node: &Node, path: &str, headers: &[(&str, &str)]) -> Response {
    http::request(node.http, "GET", path, headers, &[]).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// Recording `index` (oldest first) of `key`: its id and playlist text.
fn recording(node: &Node, key: &str, index: usize) -> (String, String) {
    let recs = node.api("GET", &format!("/api/v1/streams/{key}/recordings"), None).json();
    let rec = &recs["recordings"][index];
    let id = rec["id"].as_str().unwrap_or_else(|| panic!("recording {index}: {recs}")).to_string();
    let r = node.get(&format!("/live/{key}/{id}/index.m3u8"));
    assert_eq!(r.status, 200, "{}", r.text());
    (id, r.text())
}

#[test]
fn clips_of_a_published_stream_are_frame_accurate_ranged_and_refused_clearly() {
    let dir = TempDir::new("clips");
    let data = dir.join("data");
    let mut opts = NodeOptions::standard();
    opts.set("--segment-duration", "2");
    opts.set("--max-clip", &MAX_CLIP_S.to_string());
    let node = Node::start(&data, &opts);
    let token = node.token("cam", 600, false);
    let url = node.rtmp_url("cam", Some(&token));
    let first = source(14, "320x240");
    publish(&url, &first);
    node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(15), |p| p.ended);
    let (_, text) = recording(&node, "cam", 0);
    let segments = dated_segments(&text);
    assert!(segments.len() >= 6, "2 s segments of 14 s:\n{text}");

    // t between keyframes (4 s and 6 s), not on a frame boundary.
    let t = 5_310;
    let (start, end) = (wall_clock(&segments, t), wall_clock(&segments, t + CLIP_MS));
    let path = format!("/live/cam/clip.mp4?start={}&end={}", iso8601(start), unix(end));
    let whole = get(&node, &path, &[]);
    assert_eq!(whole.status, 200, "{path}: {}", whole.text());
    assert_eq!(whole.header("content-type"), Some("video/mp4"));
    assert_eq!(whole.header("cache-control"), Some("public, max-age=31536000, immutable"), "an ended window");
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("content-length"), Some(&*whole.body.len().to_string()));
    assert_eq!(whole.header("content-disposition"), None, "no filename: not a download");
    let file = dir.join("clip.mp4");
    std::fs::write(&file, &whole.body).unwrap();

    // mp4-atom reads every box strictly: an ordinary MP4, moov before mdat.
    let boxes = decode_all(&whole.body).unwrap_or_else(|e| panic!("mp4-atom (strict): {e}"));
    let kinds: Vec<String> = boxes.iter().map(|b| b.kind()).collect();
    assert_eq!(kinds, ["ftyp", "moov", "mdat"]);
    let printed = media::decode_messages(&file, &[]);
    assert!(printed.is_empty(), "decoding printed:\n{printed}");
    let (_, duration) = media::probe(&file);
    let duration = duration.expect("ffprobe reads a duration");
    assert!((duration - 8.5).abs() <= 1.0 / FPS as f64, "ffprobe duration {duration} s, 8.5 s expected");

    // Video: the source's frame shown at t first (within one frame), then the source's frames.
    let reference = media::video_frames(&first);
    let shown = media::presentation_times(&first);
    assert_eq!(shown.len(), reference.frames.len());
    let decoded = media::video_frames(&file);
    let at = shown.iter().rposition(|&p| p <= t as i64).expect("a frame at or before t");
    let from = (at - 1..=at + 1)
        .find(|&i| reference.frames[i].hash == decoded.frames[0].hash)
        .unwrap_or_else(|| panic!("the first frame is not the source's frame at {t} ms, within one"));
    let expected: Vec<String> =
        reference.frames[from..from + decoded.frames.len()].iter().map(|f| f.hash.clone()).collect();
    let got: Vec<String> = decoded.frames.iter().map(|f| f.hash.clone()).collect();
    assert_eq!(got, expected, "the frames after the first are the source's");
    let frames = decoded.frames.len() as i64;
    let want = (CLIP_MS * FPS / 1000) as i64;
    assert!((frames - want).abs() <= 1, "{frames} frames decoded, {want} ± 1 expected");
    eprintln!("first frame {} from the one at t, {frames} frames, ffprobe {duration} s", from as i64 - at as i64);

    // Audio: from 0, 8.5 s of samples, within one AAC frame.
    let audio = media::audio_frames(&file);
    let (num, den) = audio.time_base;
    let first_pts = audio.frames[0].pts as f64 * num as f64 / den as f64;
    assert!(first_pts.abs() <= AAC_FRAME as f64 / RATE as f64, "audio starts at {first_pts} s");
    let samples = audio.total_size() / 4;
    let want = CLIP_MS * RATE / 1000;
    assert!(samples.abs_diff(want) <= AAC_FRAME, "{samples} audio samples, {want} ± {AAC_FRAME} expected");

    // Ranges: each the same slice of the whole answer; past the end, 416.
    let len = whole.body.len() as u64;
    let moov = boxes[1].offset as u64 + boxes[1].size as u64;
    for (range, slice) in [
        ("bytes=0-0".to_string(), Some(0..1)),
        ("bytes=0-99".into(), Some(0..100)),
        (format!("bytes={}-{}", moov - 10, moov + 10), Some(moov - 10..moov + 11)),
        (format!("bytes={moov}-"), Some(moov..len)),
        (format!("bytes=100-{}", len + 1000), Some(100..len)),
        ("bytes=-1".into(), Some(len - 1..len)),
        ("bytes=-5000".into(), Some(len - 5000..len)),
        (format!("bytes=-{}", len + 10), Some(0..len)),
        (format!("bytes={}-{}", len / 3, 2 * len / 3), Some(len / 3..2 * len / 3 + 1)),
        (format!("bytes={len}-"), None),
        (format!("bytes={}-{}", len + 5, len + 9), None),
    ] {
        let r = get(&node, &path, &[("Range", &range)]);
        match slice {
            Some(slice) => {
                assert_eq!(r.status, 206, "{range}: {}", r.text());
                let want = &whole.body[slice.start as usize..slice.end as usize];
                assert!(r.body == want, "{range}: not the same slice of the whole");
                let content_range = format!("bytes {}-{}/{len}", slice.start, slice.end - 1);
                assert_eq!(r.header("content-range"), Some(&*content_range), "{range}");
            }
            None => {
                assert_eq!(r.status, 416, "{range}");
                assert_eq!(r.header("content-range"), Some(&*format!("bytes */{len}")), "{range}");
            }
        }
    }
    let head = http::request(node.http, "HEAD", &path, &[], &[]).expect("HEAD");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), Some(&*len.to_string()), "HEAD: the length GET sends");

    // A download: Content-Disposition with the name given (RFC 6266, RFC 8187).
    let named = get(&node, &format!("{path}&filename=goal%20%C3%BC"), &[]);
    assert_eq!(named.status, 200);
    assert_eq!(
        named.header("content-disposition"),
        Some("attachment; filename=\"goal _.mp4\"; filename*=UTF-8''goal%20%C3%BC.mp4")
    );
    assert!(named.body == whole.body);

    // `rapidrtmp edge` over the same store: the same bytes and headers.
    let edge = Edge::start(&data, None, dir.join("edge.log"));
    for (p, range) in
        [(path.clone(), None), (path.clone(), Some("bytes=1000-5000")), (format!("{path}&filename=a"), None)]
    {
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("Range", *r)).collect();
        let ours = get(&node, &p, &headers);
        let theirs = http::request(edge.addr, "GET", &p, &headers, &[]).expect("GET from the edge");
        assert_eq!((theirs.status, theirs.body.len()), (ours.status, ours.body.len()), "{p} {range:?}");
        assert!(theirs.body == ours.body, "{p} {range:?}: the edge's bytes differ");
        for h in ["content-type", "cache-control", "content-range", "content-disposition", "accept-ranges"] {
            assert_eq!(theirs.header(h), ours.header(h), "{p} {range:?}: {h}");
        }
    }

    // Longer than --max-clip: 400, naming the limit.
    let long = get(&node, &format!("/live/cam/clip.mp4?start={}&end={}", unix(start), unix(start + 9_500)), &[]);
    assert_eq!(long.status, 400, "{}", long.text());
    assert!(long.text().contains(&format!("limited to {MAX_CLIP_S} s")), "{}", long.text());

    // A second session at another resolution: a clip over the change is a 422 naming its time.
    publish(&url, &source(4, "160x120"));
    node.wait_playlist("cam", "the second session ended", Duration::from_secs(15), |p| {
        p.ended && p.discontinuities == 1
    });
    let (_, second) = recording(&node, "cam", 1);
    let change = dated_segments(&second)[0].0;
    let last = segments.iter().map(|s| s.0 + s.1).max().unwrap();
    assert!(change > last + 500, "a reconnect takes longer than half a second: {last} to {change}");
    let over = format!("/live/cam/clip.mp4?start={}&end={}", unix(last - 3000), unix(change + 2000));
    let refused = get(&node, &over, &[]);
    assert_eq!(refused.status, 422, "{over}: {}", refused.text());
    assert!(refused.text().contains(&iso8601(change)), "names the change at {}: {}", iso8601(change), refused.text());
    let after =
        get(&node, &format!("/live/cam/clip.mp4?start={}&end={}", unix(change + 100), unix(change + 2000)), &[]);
    assert_eq!(after.status, 200, "a clip after the change: {}", after.text());

    // Bad input: a clear 4xx each, never a 5xx.
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let s = unix(start);
    for (query, status, says) in [
        ("".to_string(), 400, "needs start and end"),
        (format!("start={s}"), 400, "needs start and end"),
        (format!("end={s}"), 400, "needs start and end"),
        (format!("start={s}&end={s}"), 400, "not after start"),
        (format!("start={}&end={s}", unix(start + 1000)), 400, "not after start"),
        ("start=yesterday&end=today".into(), 400, "start=\"yesterday\""),
        (format!("start={s}&end=2026-13-01T00:00:00Z"), 400, "out of range"),
        (format!("start={s}&start={s}&end={}", unix(end)), 400, "twice"),
        (format!("start={s}&end={}", now_s + 3600), 400, "in the future"),
        (format!("start={}&end={}", now_s + 3600, now_s + 3601), 400, "in the future"),
        (format!("start=99999999999999999999&end={}", unix(end)), 400, "start="),
        ("start=0&end=86400000".into(), 400, "limited to"),
        ("start=0&end=5".into(), 404, "holds nothing"),
        (format!("start={}&end={}", unix(start - 600_000), unix(start - 599_000)), 404, "holds nothing"),
        // Between the sessions: the reconnect, no media.
        (format!("start={}&end={}", unix(last + 100), unix(last + 400)), 404, "holds nothing"),
        (
            format!("start={}&end={}", unix(segments[0].0 - 3000), unix(segments[0].0 + 1000)),
            404,
            "not all in the store",
        ),
        (format!("start={s}&end={}&filename=%0Aevil", unix(end)), 400, "cannot name a clip"),
        (format!("start={s}&end={}&filename=%ZZ", unix(end)), 400, "percent-encoded"),
        (format!("start={s}&end={}&filename=", unix(end)), 400, "cannot name a clip"),
    ] {
        let path = format!("/live/cam/clip.mp4?{query}");
        let r = get(&node, &path, &[]);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(r.text().contains(says), "{path}: {:?} does not say {says:?}", r.text());
    }
    let r = get(&node, &format!("/live/nobody/clip.mp4?start={s}&end={}", unix(end)), &[]);
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.text().contains("not in the store"), "{}", r.text());
}

/// Clips are let in by the memory their chunks need: on `rapidrtmp edge --clip-memory-mb 3`, a
/// clip whose chunks are more is a 400 that says so, before a chunk is read, and a shorter one
/// is served; on a node with 10 MiB for clips, a clip whose chunks do not fit beside those of a
/// clip still being sent (to a viewer that reads slowly) is a 503 with `Retry-After`, and is
/// served once that one is sent, which the viewer then gets whole.
#[test]
fn clips_are_let_in_by_the_memory_their_chunks_need() {
    let dir = TempDir::new("clips-memory");
    let data = dir.join("data");
    let mut opts = NodeOptions::standard();
    opts.set("--segment-duration", "2");
    opts.set("--clip-memory-mb", "10");
    let node = Node::start(&data, &opts);
    let url = node.rtmp_url("cam", Some(&node.token("cam", 600, false)));
    publish(&url, &heavy_source(24));
    node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(15), |p| p.ended);
    let (session, text) = recording(&node, "cam", 0);
    let segments = dated_segments(&text);
    let chunk_bytes: Vec<u64> = std::fs::read_dir(data.join(format!("live/cam/{session}")))
        .expect("the session's chunks")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "flv"))
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .collect();
    assert_eq!(chunk_bytes.len(), segments.len(), "a chunk per segment:\n{text}");
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    let largest = chunk_bytes.iter().copied().max().unwrap_or(0);
    assert!((600_000..1_300_000).contains(&largest), "chunks of about 1 MB (4 Mbit/s, 2 s) expected: {chunk_bytes:?}");
    let clip_path = |from: u64, to: u64| {
        let (start, end) = (wall_clock(&segments, from), wall_clock(&segments, to));
        format!("/live/cam/clip.mp4?start={}&end={}", unix(start), unix(end))
    };

    // The edge's 3 MiB hold the chunks of 1.5 s (two or three), not those of 10 s.
    let edge = Edge::start_with(&data, None, &["--clip-memory-mb", "3"], dir.join("edge.log"));
    let reads = |edge: &Edge| edge.metrics().value("rapidrtmp_edge_store_reads_total", &[]).unwrap_or(0.0);
    let before = reads(&edge);
    let large = http::request(edge.addr, "GET", &clip_path(4_500, 14_500), &[], &[]).expect("GET");
    assert_eq!(large.status, 400, "{}", large.text());
    assert!(large.text().contains("clips on this edge hold at most 3.0 MiB"), "{}", large.text());
    assert!(large.text().contains("MiB of stored media"), "{}", large.text());
    let read = reads(&edge) - before;
    assert!(read <= 3.0, "the manifest and the window's bucket (or two), no chunk: {read} reads");
    let small = http::request(edge.addr, "GET", &clip_path(4_500, 6_000), &[], &[]).expect("GET");
    assert_eq!(small.status, 200, "{}", small.text());

    // On the node, a 10 s clip (6 or 7 chunks: over 5 MiB) sent to a viewer that reads slowly
    // holds them: another such clip does not fit beside it.
    let first = clip_path(2_500, 12_500);
    let second = clip_path(11_500, 21_500);
    let mut slow = SlowViewer::get(&node, &first);
    let busy = get(&node, &second, &[]);
    assert_eq!(busy.status, 503, "{}", busy.text());
    assert!(busy.text().contains("the clips being sent hold"), "{}", busy.text());
    assert!(busy.text().contains("of this edge's 10.0 MiB for clips"), "{}", busy.text());
    assert_eq!(busy.header("retry-after"), Some("1"));
    let body = slow.read_rest();
    let whole = get(&node, &first, &[]);
    assert_eq!(whole.status, 200, "{}", whole.text());
    assert!(body == whole.body, "the slow viewer got the clip whole: {} of {} bytes", body.len(), whole.body.len());
    let served = get(&node, &second, &[]);
    assert_eq!(served.status, 200, "once the first is sent: {}", served.text());
    eprintln!(
        "chunks {:.2}..{:.2} MiB; the slow viewer's clip {:.1} MiB",
        mib(chunk_bytes.iter().copied().min().unwrap_or(0)),
        mib(largest),
        mib(whole.body.len() as u64)
    );
}

/// A viewer that asks for a clip and reads only the head of the answer for now: its socket was
/// made with a receive buffer of 16 KiB (so its TCP window is small), and the node can send
/// little of the clip until it reads on.
struct SlowViewer {
    stream: std::net::TcpStream,
    read: Vec<u8>,
}

impl SlowViewer {
    fn get(node: &Node, path: &str) -> SlowViewer {
        use std::io::{Read, Write};
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: a new socket, owned by the TcpStream from here on.
        let stream = unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            std::net::TcpStream::from_raw_fd(fd)
        };
        set_receive_buffer(&stream, 16 << 10);
        let std::net::SocketAddr::V4(at) = node.http else { panic!("the node listens on IPv4") };
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: at.port().to_be(),
            sin_addr: libc::in_addr { s_addr: u32::from(*at.ip()).to_be() },
            sin_zero: [0; 8],
        };
        // SAFETY: a valid socket and address of the given size.
        let connected = unsafe {
            libc::connect(
                stream.as_raw_fd(),
                std::ptr::addr_of!(addr).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        assert_eq!(connected, 0, "connect: {}", std::io::Error::last_os_error());
        let mut viewer = SlowViewer { stream, read: Vec::new() };
        let request = format!("GET {path} HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n");
        viewer.stream.write_all(request.as_bytes()).expect("send the request");
        let mut buf = [0u8; 1024];
        while !viewer.read.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = viewer.stream.read(&mut buf).expect("read the head");
            assert!(n > 0, "the node closed before its answer's head");
            viewer.read.extend_from_slice(&buf[..n]);
        }
        assert!(viewer.read.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&viewer.read));
        viewer
    }

    /// Reads the rest of the answer; its body.
    fn read_rest(&mut self) -> Vec<u8> {
        use std::io::Read;
        set_receive_buffer(&self.stream, 4 << 20);
        self.stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        self.stream.read_to_end(&mut self.read).expect("read the rest");
        let head = self.read.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
        self.read[head..].to_vec()
    }
}

/// Sets the socket's receive buffer (`SO_RCVBUF`).
fn set_receive_buffer(stream: &std::net::TcpStream, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket and an int option of the right size.
    let set = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            std::ptr::addr_of!(bytes).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0, "SO_RCVBUF: {}", std::io::Error::last_os_error());
}

//! Checks shared by the local-folder and the S3 tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::hls::Playlist;
use super::media::{self, clip, Hashes};
use super::node::Node;

/// ffprobe sees exactly one H.264 640x360 video stream and one AAC 48 kHz stereo audio stream.
pub fn assert_probe_matches_clip(url: &str) {
    let streams = media::probe_streams(url);
    let video: Vec<_> = streams.iter().filter(|s| s["codec_type"] == "video").collect();
    let audio: Vec<_> = streams.iter().filter(|s| s["codec_type"] == "audio").collect();
    assert_eq!((video.len(), audio.len()), (1, 1), "ffprobe {url}: {streams:?}");
    let (v, a) = (video[0], audio[0]);
    assert_eq!(
        (v["codec_name"].as_str(), v["width"].as_u64(), v["height"].as_u64()),
        (Some("h264"), Some(640), Some(360)),
        "{v}"
    );
    assert_eq!(
        (a["codec_name"].as_str(), a["sample_rate"].as_str(), a["channels"].as_u64()),
        (Some("aac"), Some("48000"), Some(2)),
        "{a}"
    );
}

/// A full decode of `url` prints nothing.
pub fn assert_decodes_cleanly(url: &str, pre_input: &[&str]) {
    let messages = media::decode_messages(url, pre_input);
    assert!(messages.is_empty(), "`ffmpeg -v warning -i {url} -f null -` printed:\n{messages}");
}

/// Every decoded frame of `url` equals the clip's (video and audio, in order).
pub fn assert_frames_equal(url: &str, pre_input: &[&str], expected: &Hashes) {
    let decoded = media::frame_hashes(url, pre_input);
    assert!(decoded.stderr.is_empty(), "decoding {url} printed:\n{}", decoded.stderr);
    assert_hashes_equal(url, &decoded.hashes, expected);
}

/// Compares hash lists kind by kind, naming the first difference.
pub fn assert_hashes_equal(what: &str, got: &Hashes, expected: &Hashes) {
    for (kind, g, e) in [("video", &got.video, &expected.video), ("audio", &got.audio, &expected.audio)] {
        if g != e {
            let first = g.iter().zip(e.iter()).position(|(a, b)| a != b).unwrap_or(g.len().min(e.len()));
            panic!(
                "{what}: {} decoded {kind} frames, {} expected; first difference at frame {first}",
                g.len(),
                e.len()
            );
        }
    }
}

/// The published stream, ended, plays like the clip: a well-formed playlist ending with
/// `#EXT-X-ENDLIST`, ffprobe's stream details, a clean full decode and frame-exact output.
pub fn assert_plays_like_the_clip(node: &Node, key: &str) -> Playlist {
    let playlist = node.wait_playlist(key, "#EXT-X-ENDLIST", Duration::from_secs(15), |p| p.ended);
    playlist.assert_well_formed();
    assert_eq!(playlist.discontinuities, 0, "one publish, one session:\n{}", playlist.text);
    let url = node.playlist_url(key);
    assert_probe_matches_clip(&url);
    assert_decodes_cleanly(&url, &[]);
    assert_frames_equal(&url, &[], &clip().hashes);
    playlist
}

/// ffmpeg options to read a local playlist whose segments are on HTTP.
pub const LOCAL_PLAYLIST: &[&str] = &["-protocol_whitelist", "file,http,tcp"];

/// A playlist of `sessions` publishes of the clip (one discontinuity between each two): each
/// session alone (a sub-playlist written under `dir`) decodes cleanly and frame-exact like the
/// clip, and the whole playlist decodes, across the discontinuities, to the clip's frames
/// `sessions` times.
pub fn assert_sessions_play_like_the_clip(node: &Node, key: &str, playlist: &Playlist, sessions: usize, dir: &Path) {
    let clip = clip();
    assert_eq!(playlist.discontinuities + 1, sessions, "sessions in the playlist:\n{}", playlist.text);
    for part in 0..sessions {
        let path = dir.join(format!("{key}-part{part}.m3u8"));
        playlist.write_part(part, &node.stream_base(key), &path);
        let path = path.to_str().unwrap();
        assert_decodes_cleanly(path, LOCAL_PLAYLIST);
        assert_frames_equal(path, LOCAL_PLAYLIST, &clip.hashes);
    }
    let url = node.playlist_url(key);
    assert_decodes_cleanly(&url, &[]);
    let decoded = media::frame_hashes(&url, &[]);
    let n = sessions as u64;
    assert_eq!(
        (decoded.hashes.video.len() as u64, decoded.hashes.audio.len() as u64),
        (n * clip.video_frames, n * clip.audio_frames),
        "decoded (video, audio) frames of the {sessions}-session playlist; ffmpeg printed:\n{}",
        decoded.stderr
    );
    let repeated: Vec<String> = (0..sessions).flat_map(|_| clip.hashes.video.iter().cloned()).collect();
    assert!(decoded.hashes.video == repeated, "the playlist's video frames are not the clip's {sessions} times");
}

/// Files under `dir` (relative paths) with their sizes and contents' hash.
pub fn tree(dir: &Path) -> BTreeMap<String, (u64, u64)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (u64, u64)>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let data = std::fs::read(&p).unwrap_or_default();
                let hash = data
                    .iter()
                    .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, (data.len() as u64, hash));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The chunk objects of a stream (`{stream_dir}/{session}/{sequence}.flv`, `stream_dir` being
/// `…/live/{key}`) are exactly the playlist's segments, there is a manifest, and every chunk is
/// a standalone FLV file that decodes alone without a message; together their video frames are
/// the clip's and their audio frame count the clip's. Returns the chunks' total size.
pub fn assert_chunks_match(stream_dir: &Path, playlist: &Playlist) -> u64 {
    let files = tree(stream_dir);
    assert!(files.contains_key("manifest.json"), "no manifest.json in {}: {files:?}", stream_dir.display());
    let chunks: Vec<(&String, &(u64, u64))> = files.iter().filter(|(k, _)| k.ends_with(".flv")).collect();
    let expected: Vec<String> = playlist
        .segments
        .iter()
        .map(|s| s.uri.strip_suffix(".m4s").unwrap_or_else(|| panic!("segment URI {}", s.uri)).to_string() + ".flv")
        .collect();
    let mut got: Vec<String> = chunks.iter().map(|(k, _)| k.to_string()).collect();
    let mut want = expected.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "chunk objects under {} vs playlist segments:\n{}", stream_dir.display(), playlist.text);
    let others: Vec<&String> = files.keys().filter(|k| !k.ends_with(".flv") && *k != "manifest.json").collect();
    assert!(others.is_empty(), "unexpected objects under {}: {others:?}", stream_dir.display());
    let mut all = Hashes { video: Vec::new(), audio: Vec::new() };
    let mut total = 0;
    for name in &expected {
        let path = stream_dir.join(name);
        let data = std::fs::read(&path).unwrap();
        total += data.len() as u64;
        assert!(data.starts_with(b"FLV\x01"), "{} is not an FLV file", path.display());
        let decoded = media::frame_hashes(path.to_str().unwrap(), &[]);
        assert!(decoded.stderr.is_empty(), "chunk {} alone decodes with messages:\n{}", path.display(), decoded.stderr);
        assert!(!decoded.hashes.video.is_empty(), "chunk {} has no video frame", path.display());
        all.video.extend(decoded.hashes.video);
        all.audio.extend(decoded.hashes.audio);
    }
    let c = clip();
    assert!(all.video == c.hashes.video, "the chunks' video frames, decoded chunk by chunk, are not the clip's");
    assert_eq!(all.audio.len(), c.hashes.audio.len(), "audio frames in the chunks vs the clip");
    total
}

/// Waits until `cond` holds, polling; panics with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "waited {timeout:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

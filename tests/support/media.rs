//! The test clip and the ffmpeg/ffprobe wrappers.
//!
//! The clip is made once by ffmpeg (cached under `target/tmp/rapidrtmp-ingest-fixtures`, keyed
//! by the command line and the ffmpeg version): 6 s of 640x360 30 fps H.264 High with B-frames
//! and a 1 s GOP, AAC-LC 48 kHz stereo, in FLV, encoded with one thread so it is the same
//! every time. Tests publish it with `ffmpeg -re -c copy`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::proc::{run, tmp_root, Background};

/// How long one ffmpeg/ffprobe check may take.
pub const FFMPEG_TIMEOUT: Duration = Duration::from_secs(120);

/// Frames per second of the clip.
pub const FPS: u64 = 30;

/// The clip's encoding (after the lavfi inputs).
const CLIP_ARGS: &[&str] = &[
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=640x360:rate=30",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    "-t",
    "6",
    "-map",
    "0:v",
    "-map",
    "1:a",
    "-c:v",
    "libx264",
    "-profile:v",
    "high",
    "-bf",
    "2",
    "-g",
    "30",
    "-keyint_min",
    "30",
    "-sc_threshold",
    "0",
    "-pix_fmt",
    "yuv420p",
    "-threads",
    "1",
    "-c:a",
    "aac",
    "-ac",
    "2",
    "-ar",
    "48000",
    "-b:a",
    "96k",
    "-f",
    "flv",
];

/// The test clip and what ffmpeg says about it.
#[derive(Debug)]
pub struct Clip {
    pub path: PathBuf,
    /// Video packets (ffprobe -count_packets).
    pub video_frames: u64,
    /// Audio packets.
    pub audio_frames: u64,
    /// H.264 profile_idc, constraint flags and level_idc as in the RFC 6381 codec string.
    pub avc_codec: String,
    /// Decoded frame hashes (framemd5), video and audio.
    pub hashes: Hashes,
}

/// Decoded frame hashes by kind, in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    pub video: Vec<String>,
    pub audio: Vec<String>,
}

/// `ffmpeg -hide_banner -nostdin`.
pub fn ffmpeg() -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-hide_banner", "-nostdin"]);
    c
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The clip, made on first use.
pub fn clip() -> &'static Clip {
    static CLIP: OnceLock<Clip> = OnceLock::new();
    CLIP.get_or_init(make_clip)
}

fn make_clip() -> Clip {
    let version = run(Command::new("ffmpeg").arg("-version"), FFMPEG_TIMEOUT).ok().stdout_text();
    let key = fnv1a(format!("{}\n{}", version.lines().next().unwrap_or(""), CLIP_ARGS.join(" ")).as_bytes());
    let dir = tmp_root().join("rapidrtmp-ingest-fixtures");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("clip-{key:016x}.flv"));
    if !path.is_file() {
        // Another test binary may be making it too: write aside, then rename (atomic).
        let temp = dir.join(format!(".clip-{key:016x}-{}.flv", std::process::id()));
        run(ffmpeg().args(["-v", "error", "-y"]).args(CLIP_ARGS).arg(&temp), FFMPEG_TIMEOUT).ok();
        std::fs::rename(&temp, &path).unwrap();
    }
    let probe = run(
        Command::new("ffprobe")
            .args(["-v", "error", "-count_packets", "-show_entries"])
            .arg("stream=codec_type,codec_name,profile,level,nb_read_packets")
            .args(["-of", "json"])
            .arg(&path),
        FFMPEG_TIMEOUT,
    )
    .ok();
    let json: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("ffprobe JSON");
    let streams = json["streams"].as_array().expect("streams");
    let find = |kind: &str| {
        streams.iter().find(|s| s["codec_type"] == kind).unwrap_or_else(|| panic!("no {kind} in the clip: {json}"))
    };
    let count = |s: &serde_json::Value| s["nb_read_packets"].as_str().and_then(|n| n.parse::<u64>().ok()).unwrap();
    let video = find("video");
    assert_eq!(video["profile"], "High", "{json}");
    let level = video["level"].as_u64().expect("level");
    let hashes = frame_hashes(path.to_str().unwrap(), &[]);
    assert!(hashes.stderr.is_empty(), "decoding the clip warns:\n{}", hashes.stderr);
    let clip = Clip {
        video_frames: count(video),
        audio_frames: count(find("audio")),
        avc_codec: format!("avc1.6400{level:02X}"),
        hashes: hashes.hashes,
        path,
    };
    assert_eq!(clip.hashes.video.len() as u64, clip.video_frames, "every video packet of the clip decodes to a frame");
    assert!(clip.video_frames >= 5 * FPS && clip.audio_frames > 200, "{clip:?}");
    clip
}

/// Frame hashes and what ffmpeg printed (at `-v warning`).
pub struct Decoded {
    pub hashes: Hashes,
    pub stderr: String,
}

/// Decodes the first video and the first audio stream of `input` and hashes every frame
/// (`-f framemd5`); `pre_input` goes before `-i`. Panics if ffmpeg fails.
pub fn frame_hashes(input: &str, pre_input: &[&str]) -> Decoded {
    let out = run(
        ffmpeg().args(["-v", "warning"]).args(pre_input).args([
            "-i",
            input,
            "-map",
            "0:v:0",
            "-map",
            "0:a:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "framemd5",
            "-",
        ]),
        FFMPEG_TIMEOUT,
    )
    .ok();
    let mut hashes = Hashes { video: Vec::new(), audio: Vec::new() };
    for line in out.stdout_text().lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let hash = fields.last().unwrap().to_string();
        match fields[0] {
            "0" => hashes.video.push(hash),
            "1" => hashes.audio.push(hash),
            other => panic!("framemd5 of {input}: unexpected stream {other}: {line}"),
        }
    }
    Decoded { hashes, stderr: out.stderr }
}

/// `ffmpeg -v warning [pre_input] -i input -f null -`: a full decode; returns what it printed
/// (nothing, for clean media). Panics if ffmpeg fails.
pub fn decode_messages(input: &str, pre_input: &[&str]) -> String {
    let out =
        run(ffmpeg().args(["-v", "warning"]).args(pre_input).args(["-i", input, "-f", "null", "-"]), FFMPEG_TIMEOUT);
    assert!(out.status.success(), "`{}` failed ({}):\n{}", out.cmd, out.status, out.stderr);
    out.stderr
}

/// The streams ffprobe sees in `input`.
pub fn probe_streams(input: &str) -> Vec<serde_json::Value> {
    let out = run(
        Command::new("ffprobe")
            .args(["-v", "error", "-show_entries"])
            .arg("stream=codec_type,codec_name,profile,width,height,sample_rate,channels")
            .args(["-of", "json", input]),
        FFMPEG_TIMEOUT,
    )
    .ok();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe JSON");
    json["streams"].as_array().cloned().unwrap_or_default()
}

/// Starts publishing the clip to `url` in real time (`ffmpeg -re … -c copy -f flv url`);
/// `pre_input` goes before `-i` (e.g. `-stream_loop -1`), `post_input` after it (e.g. `-t 2`).
pub fn publish(url: &str, pre_input: &[&str], post_input: &[&str], log: &Path) -> Background {
    let clip = clip();
    let mut cmd = ffmpeg();
    cmd.args(["-v", "error", "-re"])
        .args(pre_input)
        .arg("-i")
        .arg(&clip.path)
        .args(post_input)
        .args(["-c", "copy", "-f", "flv", url]);
    Background::spawn("ffmpeg publish", &mut cmd, log.to_path_buf())
}

/// Publishes the clip to `url` and waits for ffmpeg to exit; returns its status and messages.
pub fn publish_and_wait(
    url: &str,
    post_input: &[&str],
    log: &Path,
    timeout: Duration,
) -> (std::process::ExitStatus, String, Duration) {
    let mut p = publish(url, &[], post_input, log);
    let status = p
        .wait_timeout(timeout)
        .unwrap_or_else(|| panic!("ffmpeg publishing to {url} did not exit within {timeout:?}:\n{}", p.log()));
    (status, p.log(), p.age())
}

/// Audio and video tags of an FLV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlvTags {
    /// Video tags (frames, sequence headers, end of sequence).
    pub video: u64,
    /// Audio tags (frames, sequence headers).
    pub audio: u64,
    /// Total size of the audio and video tag bodies.
    pub body_bytes: u64,
}

/// Counts the audio and video tags of an FLV file (panics if it is not well-formed).
pub fn flv_tags(path: &Path) -> FlvTags {
    let data = std::fs::read(path).unwrap();
    assert!(data.starts_with(b"FLV"), "{} is not FLV", path.display());
    let header = u32::from_be_bytes(data[5..9].try_into().unwrap()) as usize;
    let mut at = header + 4;
    let mut tags = FlvTags { video: 0, audio: 0, body_bytes: 0 };
    while at + 11 <= data.len() {
        let kind = data[at] & 0x1f;
        let size = u32::from_be_bytes([0, data[at + 1], data[at + 2], data[at + 3]]) as usize;
        assert!(at + 11 + size + 4 <= data.len(), "{}: truncated tag at {at}", path.display());
        match kind {
            8 => tags.audio += 1,
            9 => tags.video += 1,
            _ => {}
        }
        if kind == 8 || kind == 9 {
            tags.body_bytes += size as u64;
        }
        at += 11 + size + 4;
    }
    assert_eq!(at, data.len(), "{}: trailing bytes", path.display());
    tags
}

//! ffmpeg / ffprobe as independent decoders (stream details, decoded frame hashes, clean
//! decodes), the node tests' clip and publishing it with ffmpeg.
//!
//! The clip is made once by ffmpeg and cached with the fixtures ([`super::fixtures`]): 6 s of
//! 640x360 30 fps H.264 High with B-frames and a 1 s GOP, AAC-LC 48 kHz stereo, in FLV, encoded
//! with one thread so it is the same every time. Tests publish it with `ffmpeg -re -c copy`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::fixtures::{self, Fixture};
use super::proc::{run, Background, Run};

/// How long one ffmpeg/ffprobe call on a small file may take (debug build, busy machine).
pub const FFMPEG_TIMEOUT: Duration = Duration::from_secs(120);

/// Frames per second of the clip.
pub const FPS: u64 = 30;

/// ffmpeg's inputs for every test source: a 640×360 30 fps test pattern and a 440 Hz tone at
/// 48 kHz.
const TEST_PATTERN: [&str; 8] =
    ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"];

/// The clip's encoding (after [`TEST_PATTERN`] and its length).
const CLIP_ARGS: &[&str] = &[
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

/// ffmpeg's inputs for a `seconds`-long source ([`TEST_PATTERN`]; encoders' options follow).
pub fn test_pattern_inputs(seconds: u32) -> Vec<String> {
    let mut args: Vec<String> = TEST_PATTERN.map(String::from).to_vec();
    args.extend(["-t".into(), seconds.to_string()]);
    args
}

/// ffmpeg 9 (`$FFMPEG9`, which tests/run sets; else imageio-ffmpeg's), `-hide_banner -nostdin`:
/// the publisher of Enhanced RTMP (HEVC, AV1, VP9, Opus), and their decoder.
pub fn ffmpeg9() -> Command {
    let path = std::env::var("FFMPEG9").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| {
        let out = Command::new("python3")
            .args(["-c", "import imageio_ffmpeg as m; print(m.get_ffmpeg_exe())"])
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "no ffmpeg 9: pip install imageio-ffmpeg==0.8.1 (tests/run does)");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    });
    let mut c = Command::new(path);
    c.args(["-hide_banner", "-nostdin"]);
    c
}

/// Runs `cmd` with [`FFMPEG_TIMEOUT`]; panics unless it exits 0.
fn run_ok(cmd: &mut Command) -> Run {
    run(cmd, FFMPEG_TIMEOUT).ok()
}

/// The clip (6 s), made on first use.
pub fn clip() -> &'static Clip {
    static CLIP: OnceLock<Clip> = OnceLock::new();
    CLIP.get_or_init(|| make_clip("clip", 6))
}

/// The clip made 18 s long, for a test that needs the stream live that long without the jump
/// back of a looped clip (made on first use).
pub fn long_clip() -> &'static Clip {
    static CLIP: OnceLock<Clip> = OnceLock::new();
    CLIP.get_or_init(|| make_clip("clip-18s", 18))
}

fn make_clip(name: &str, seconds: u32) -> Clip {
    let length = ["-t".to_string(), seconds.to_string()];
    let args: Vec<String> = ["-hide_banner", "-nostdin", "-v", "error", "-y"]
        .iter()
        .chain(&TEST_PATTERN)
        .map(|a| a.to_string())
        .chain(length)
        .chain(CLIP_ARGS.iter().map(|a| a.to_string()))
        .collect();
    let path = fixtures::encoded(name, &args);
    let probe = run_ok(
        Command::new("ffprobe")
            .args(["-v", "error", "-count_packets", "-show_entries"])
            .arg("stream=codec_type,codec_name,profile,level,nb_read_packets")
            .args(["-of", "json"])
            .arg(&path),
    );
    let json: Value = serde_json::from_slice(&probe.stdout).expect("ffprobe JSON");
    let streams = json["streams"].as_array().expect("streams");
    let find = |kind: &str| {
        streams.iter().find(|s| s["codec_type"] == kind).unwrap_or_else(|| panic!("no {kind} in the clip: {json}"))
    };
    let count = |s: &Value| s["nb_read_packets"].as_str().and_then(|n| n.parse::<u64>().ok()).unwrap();
    let video = find("video");
    assert_eq!(video["profile"], "High", "{json}");
    let level = video["level"].as_u64().expect("level");
    let hashes = frame_hashes(&path, &[]);
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

#[derive(Clone, Debug, PartialEq)]
pub struct StreamInfo {
    pub codec_type: String,
    pub codec_name: String,
    pub profile: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub sample_rate: Option<u64>,
    pub channels: Option<u64>,
    pub has_b_frames: Option<u64>,
}

/// `ffprobe -show_streams -show_format -of json INPUT`: the streams and the format duration.
pub fn probe(input: &(impl AsRef<OsStr> + ?Sized)) -> (Vec<StreamInfo>, Option<f64>) {
    let run = run_ok(
        Command::new("ffprobe").args(["-v", "error", "-show_streams", "-show_format", "-of", "json"]).arg(input),
    );
    let json: Value = serde_json::from_slice(&run.stdout).expect("ffprobe JSON");
    let num = |v: &Value, k: &str| -> Option<u64> {
        match &v[k] {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    };
    let text = |v: &Value, k: &str| v[k].as_str().map(String::from);
    let streams = json["streams"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|s| StreamInfo {
            codec_type: text(s, "codec_type").unwrap_or_default(),
            codec_name: text(s, "codec_name").unwrap_or_default(),
            profile: text(s, "profile"),
            width: num(s, "width"),
            height: num(s, "height"),
            sample_rate: num(s, "sample_rate"),
            channels: num(s, "channels"),
            has_b_frames: num(s, "has_b_frames"),
        })
        .collect();
    let duration = json["format"]["duration"].as_str().and_then(|d| d.parse().ok());
    (streams, duration)
}

/// `ffmpeg -v warning [pre_input] -i input -f null -`: a full decode of every stream; returns
/// what it printed (nothing, for clean media). Panics if ffmpeg fails.
pub fn decode_messages(input: &(impl AsRef<OsStr> + ?Sized), pre_input: &[&str]) -> String {
    let mut cmd = ffmpeg();
    cmd.args(["-v", "warning"]).args(pre_input).arg("-i").arg(input).args(["-f", "null", "-"]);
    run_ok(&mut cmd).stderr
}

#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub pts: i64,
    pub duration: i64,
    pub size: u64,
    pub hash: String,
}

/// One stream's `-f framemd5` log.
#[derive(Clone, Debug)]
pub struct FrameLog {
    /// Time base (num, den) of pts/duration.
    pub time_base: (i64, i64),
    pub frames: Vec<Frame>,
}

impl FrameLog {
    pub fn hashes(&self) -> Vec<&str> {
        self.frames.iter().map(|f| f.hash.as_str()).collect()
    }

    /// Presentation times in seconds, relative to the first frame.
    pub fn relative_pts(&self) -> Vec<f64> {
        let first = self.frames.first().map(|f| f.pts).unwrap_or(0);
        let (num, den) = self.time_base;
        self.frames.iter().map(|f| (f.pts - first) as f64 * num as f64 / den as f64).collect()
    }

    pub fn total_size(&self) -> u64 {
        self.frames.iter().map(|f| f.size).sum()
    }
}

/// The streams of a `-f framemd5` log, by output stream index.
fn parse_framemd5(text: &str) -> Vec<FrameLog> {
    let mut logs: Vec<FrameLog> = Vec::new();
    let mut log = |i: &str| -> usize {
        let i: usize = i.trim().parse().expect("framemd5 stream index");
        while logs.len() <= i {
            logs.push(FrameLog { time_base: (1, 1), frames: Vec::new() });
        }
        i
    };
    let mut time_bases = Vec::new();
    let mut frames = Vec::new();
    for line in text.lines() {
        if let Some(tb) = line.strip_prefix("#tb ") {
            let (i, tb) = tb.split_once(':').expect("#tb N: n/d");
            let (n, d) = tb.trim().split_once('/').expect("time base n/d");
            time_bases.push((log(i), (n.parse().expect("tb num"), d.parse().expect("tb den"))));
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            assert_eq!(cols.len(), 6, "framemd5 line {line:?}");
            let frame = Frame {
                pts: cols[2].parse().expect("pts"),
                duration: cols[3].parse().expect("duration"),
                size: cols[4].parse().expect("size"),
                hash: cols[5].to_string(),
            };
            frames.push((log(cols[0]), frame));
        }
    }
    for (i, tb) in time_bases {
        logs[i].time_base = tb;
    }
    for (i, frame) in frames {
        logs[i].frames.push(frame);
    }
    logs
}

/// `ffmpeg -v warning [pre_input] -i input [args] -f framemd5 -`: every decoded frame of the
/// mapped streams, and what ffmpeg printed. Panics if ffmpeg fails.
fn framemd5(input: &(impl AsRef<OsStr> + ?Sized), pre_input: &[&str], args: &[&str]) -> (Vec<FrameLog>, String) {
    let mut cmd = ffmpeg();
    cmd.args(["-v", "warning"]).args(pre_input).arg("-i").arg(input).args(args).args(["-f", "framemd5", "-"]);
    let run = run_ok(&mut cmd);
    (parse_framemd5(&run.stdout_text()), run.stderr)
}

/// The video presentation times of an FLV file in milliseconds, in presentation order (the
/// order of its decoded frames): its tag times, ffprobe's packet times (ffmpeg shifts decoded
/// frames' times by the stream's start). For a source, the chunks' timeline of its first session.
pub fn presentation_times(path: &Path) -> Vec<i64> {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-select_streams", "v", "-show_entries", "packet=pts", "-of", "csv=p=0"]).arg(path);
    let out = run(&mut cmd, Duration::from_secs(60)).ok();
    let mut pts: Vec<i64> = out.stdout_text().lines().map(|l| l.trim().parse().expect("a pts")).collect();
    pts.sort_unstable();
    pts
}

/// Decoded video frames of the first video stream, timestamps in the demuxer's time base.
pub fn video_frames(input: &(impl AsRef<OsStr> + ?Sized)) -> FrameLog {
    let (logs, _) = framemd5(input, &[], &["-map", "0:v:0", "-enc_time_base", "-1"]);
    logs.into_iter().next().unwrap_or(FrameLog { time_base: (1, 1), frames: Vec::new() })
}

/// Decoded audio frames of the first audio stream as s16 PCM.
pub fn audio_frames(input: &(impl AsRef<OsStr> + ?Sized)) -> FrameLog {
    let (logs, _) = framemd5(input, &[], &["-map", "0:a:0", "-c:a", "pcm_s16le"]);
    logs.into_iter().next().unwrap_or(FrameLog { time_base: (1, 1), frames: Vec::new() })
}

/// Decoded samples (per channel) of the first audio stream.
pub fn audio_samples(input: &(impl AsRef<OsStr> + ?Sized), channels: u32) -> u64 {
    audio_frames(input).total_size() / (2 * u64::from(channels))
}

/// Frame hashes and what ffmpeg printed (at `-v warning`).
pub struct Decoded {
    pub hashes: Hashes,
    pub stderr: String,
}

/// Decodes the first video and the first audio stream of `input` and hashes every frame
/// (`-f framemd5`); `pre_input` goes before `-i`. Panics if ffmpeg fails.
pub fn frame_hashes(input: &(impl AsRef<OsStr> + ?Sized), pre_input: &[&str]) -> Decoded {
    let name = input.as_ref().to_string_lossy().into_owned();
    let args = ["-map", "0:v:0", "-map", "0:a:0", "-fps_mode", "passthrough"];
    let (logs, stderr) = framemd5(input, pre_input, &args);
    assert!(logs.len() <= 2, "framemd5 of {name}: unexpected stream {}", logs.len() - 1);
    let mut logs = logs.into_iter().map(|l| l.frames.into_iter().map(|f| f.hash).collect());
    let video = logs.next().unwrap_or_default();
    let audio = logs.next().unwrap_or_default();
    Decoded { hashes: Hashes { video, audio }, stderr }
}

/// Starts publishing the clip to `url` in real time (`ffmpeg -re … -c copy -f flv url`);
/// `pre_input` goes before `-i` (e.g. `-stream_loop -1`), `post_input` after it (e.g. `-t 2`).
pub fn publish(url: &str, pre_input: &[&str], post_input: &[&str], log: &Path) -> Background {
    publish_clip(clip(), url, pre_input, post_input, log)
}

/// [`publish`] with another clip.
pub fn publish_clip(clip: &Clip, url: &str, pre_input: &[&str], post_input: &[&str], log: &Path) -> Background {
    let mut cmd = ffmpeg();
    cmd.args(["-v", "error", "-re"])
        .args(pre_input)
        .arg("-i")
        .arg(&clip.path)
        .args(post_input)
        .args(["-c", "copy", "-f", "flv", url]);
    Background::spawn("ffmpeg publish", &mut cmd, log.to_path_buf())
}

/// A publish of the clip whose input is held open: ffmpeg reads the clip from a pipe in real
/// time (`-re`) and, when it has sent it all, waits for more, still connected, so the stream is
/// live until [`HeldPublish::release`] closes the pipe. What it sends is what [`publish`] sends.
pub struct HeldPublish {
    /// The ffmpeg process.
    pub ffmpeg: Background,
    /// Dropped to let the feeding thread close ffmpeg's input once all of the clip is written.
    release: std::sync::mpsc::Sender<()>,
}

impl HeldPublish {
    /// Lets ffmpeg reach the end of the clip (and end the publish); returns the process.
    pub fn release(self) -> Background {
        drop(self.release);
        self.ffmpeg
    }
}

/// Starts publishing the clip to `url` in real time with its input held open (see
/// [`HeldPublish`]).
pub fn publish_held(url: &str, log: &Path) -> HeldPublish {
    let bytes = std::fs::read(&clip().path).unwrap_or_else(|e| panic!("{}: {e}", clip().path.display()));
    let mut cmd = ffmpeg();
    cmd.args(["-v", "error", "-re", "-f", "flv", "-i", "pipe:0", "-c", "copy", "-f", "flv", url]);
    let (ffmpeg, mut stdin) = Background::spawn_with_stdin("ffmpeg publish (held)", &mut cmd, log.to_path_buf());
    let (release, released) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        use std::io::Write;
        // ffmpeg takes the clip at its pace; an error means it has gone (the test says why).
        if stdin.write_all(&bytes).is_ok() {
            let _ = released.recv();
        }
        drop(stdin);
    });
    HeldPublish { ffmpeg, release }
}

/// Starts publishing a live source to `url` for `seconds`: ffmpeg's test pattern and a tone,
/// encoded as it goes (x264 `zerolatency`, a keyframe every second, no B-frames; AAC), so its
/// timeline runs on without the jump back a looped clip has.
pub fn publish_live_source(url: &str, seconds: u32, log: &Path) -> Background {
    let mut cmd = ffmpeg();
    cmd.args(["-v", "error", "-re"])
        .args(test_pattern_inputs(seconds))
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-bf", "0"])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv", url]);
    Background::spawn("ffmpeg live source", &mut cmd, log.to_path_buf())
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

/// A refused publish makes ffmpeg give up this soon.
pub const REFUSED_WITHIN: Duration = Duration::from_secs(10);

/// Publishes the clip with `url` and expects ffmpeg to fail within [`REFUSED_WITHIN`].
pub fn assert_publish_refused(what: &str, url: &str, log: &Path) {
    let (status, messages, took) = publish_and_wait(url, &[], log, Duration::from_secs(30));
    assert!(!status.success(), "{what}: ffmpeg published to {url} ({status}); expected a refusal:\n{messages}");
    assert!(took < REFUSED_WITHIN, "{what}: ffmpeg took {took:?} to give up:\n{messages}");
}

/// What ffmpeg decodes from a fixture's source FLV.
#[derive(Debug)]
pub struct Reference {
    pub streams: Vec<StreamInfo>,
    pub duration: f64,
    pub video: Option<FrameLog>,
    pub audio_samples: Option<u64>,
}

/// The reference decode of `fixture`'s media (computed once per process).
pub fn reference(fixture: Fixture) -> &'static Reference {
    static REFS: [OnceLock<Reference>; 6] = [const { OnceLock::new() }; 6];
    let source = fixture.media_source();
    let index = fixtures::ALL.iter().position(|f| *f == source).expect("listed");
    REFS[index].get_or_init(|| {
        let path = source.path();
        let (streams, duration) = probe(&path);
        Reference {
            streams,
            duration: duration.expect("source duration"),
            video: source.video().map(|_| video_frames(&path)),
            audio_samples: source.audio().map(|a| audio_samples(&path, a.channels)),
        }
    })
}

/// (video frames, audio packets) ffmpeg 9 reads from `input` (a file or a URL), copying, not
/// decoding.
pub fn frame_counts(input: &str) -> (usize, usize) {
    let args = ["-v", "error", "-i", input, "-c", "copy", "-f", "framecrc", "-"];
    let out = run(ffmpeg9().args(args), Duration::from_secs(60)).ok().stdout_text();
    let count = |stream: &str| out.lines().filter(|l| l.starts_with(&format!("{stream},"))).count();
    (count("0"), count("1"))
}

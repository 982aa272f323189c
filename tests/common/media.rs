//! ffmpeg / ffprobe as independent decoders: stream details, decoded frame hashes, clean decodes.

use super::fixtures::Fixture;
use super::{run_with_timeout, Run, FFMPEG_TIMEOUT};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

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
pub fn probe(input: &Path) -> (Vec<StreamInfo>, Option<f64>) {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-show_streams", "-show_format", "-of", "json"]).arg(input);
    let run = run_with_timeout(&mut cmd, FFMPEG_TIMEOUT);
    assert!(run.success(), "ffprobe failed:\n{}", run.describe());
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

/// `ffmpeg -v warning -i INPUT -f null -`: a full decode of every stream.
pub fn decode_with_warnings(input: &Path) -> Run {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-hide_banner", "-v", "warning", "-i"]).arg(input).args(["-f", "null", "-"]);
    run_with_timeout(&mut cmd, FFMPEG_TIMEOUT)
}

/// Requires a decode that exits 0 and prints nothing on stderr.
pub fn assert_decodes_cleanly(input: &Path) {
    let run = decode_with_warnings(input);
    assert!(
        run.success() && run.stderr.trim().is_empty(),
        "decoding {} is not clean:\n{}",
        input.display(),
        run.describe()
    );
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

fn parse_framemd5(text: &str) -> FrameLog {
    let mut time_base = (1, 1);
    let mut frames = Vec::new();
    for line in text.lines() {
        if let Some(tb) = line.strip_prefix("#tb 0: ") {
            let (n, d) = tb.trim().split_once('/').expect("time base n/d");
            time_base = (n.parse().expect("tb num"), d.parse().expect("tb den"));
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            assert_eq!(cols.len(), 6, "framemd5 line {line:?}");
            frames.push(Frame {
                pts: cols[2].parse().expect("pts"),
                duration: cols[3].parse().expect("duration"),
                size: cols[4].parse().expect("size"),
                hash: cols[5].to_string(),
            });
        }
    }
    FrameLog { time_base, frames }
}

fn framemd5(input: &Path, args: &[&str]) -> FrameLog {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-hide_banner", "-v", "error", "-i"]).arg(input).args(args).args(["-f", "framemd5", "-"]);
    let run = run_with_timeout(&mut cmd, FFMPEG_TIMEOUT);
    assert!(run.success(), "framemd5 failed:\n{}", run.describe());
    parse_framemd5(&run.stdout_text())
}

/// Decoded video frames of the first video stream, timestamps in the demuxer's time base.
pub fn video_frames(input: &Path) -> FrameLog {
    framemd5(input, &["-map", "0:v:0", "-enc_time_base", "-1"])
}

/// Decoded audio frames of the first audio stream as s16 PCM.
pub fn audio_frames(input: &Path) -> FrameLog {
    framemd5(input, &["-map", "0:a:0", "-c:a", "pcm_s16le"])
}

/// Decoded samples (per channel) of the first audio stream.
pub fn audio_samples(input: &Path, channels: u32) -> u64 {
    audio_frames(input).total_size() / (2 * u64::from(channels))
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
    let index = super::fixtures::ALL.iter().position(|f| *f == source).expect("listed");
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

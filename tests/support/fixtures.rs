//! Media fixtures: FLV files encoded by ffmpeg (testsrc2 + sine, libx264 + aac, `-threads 1`),
//! generated once and cached under `target/tmp/rapidrtmp-fixtures/` with the hash of the ffmpeg
//! command line and `ffmpeg -version` in the file name, so a changed recipe or ffmpeg makes a new
//! file. Generation writes a temporary file and renames it into place, so concurrent test
//! processes (nextest) never see a partial fixture.
//!
//! Edited variants (wrapped timestamps, truncation, broken headers, …) are built from the bytes
//! of these fixtures with [`super::flv`]. The node tests' clip ([`super::media::clip`]) is
//! cached here too.

use super::flv;
use super::media::FFMPEG_TIMEOUT;
use super::proc::{fnv1a, run_with_timeout, tmp_root, unique_name};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoSpec {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// `-profile:v` for libx264.
    pub x264_profile: &'static str,
    /// What ffprobe reports as `profile`.
    pub ffprobe_profile: &'static str,
    pub b_frames: u32,
    /// Keyframe interval in frames (`-g` = `-keyint_min`, no scene cuts).
    pub gop_frames: u32,
}

impl VideoSpec {
    pub fn gop_secs(&self) -> f64 {
        f64::from(self.gop_frames) / f64::from(self.fps)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioSpec {
    pub sample_rate: u32,
    pub channels: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fixture {
    /// H.264 High with B-frames, 320x240@30, GOP 1 s + AAC 48 kHz stereo, 6 s.
    HighBFrames,
    /// H.264 Baseline (no B-frames), 640x360@25, GOP 2 s + AAC 44.1 kHz mono, 6 s.
    Baseline,
    /// H.264 Main with B-frames, 320x240@30, keyframe every 3 s + AAC 48 kHz stereo, 9 s.
    LongGop,
    /// AAC 44.1 kHz stereo only, 6 s.
    AudioOnly,
    /// H.264 Main with B-frames, 640x360@30, GOP 2 s, no audio, 6 s.
    VideoOnly,
    /// [`Fixture::HighBFrames`] with every tag timestamp shifted by 2^32 − 3000 ms (wrapping), so
    /// the u32 millisecond clock wraps 3 s into the stream.
    WrappedTimestamps,
}

/// The shift applied to every tag of [`Fixture::WrappedTimestamps`].
pub const WRAP_OFFSET_MS: u32 = u32::MAX - 3000 + 1; // 2^32 − 3000

pub const ALL: [Fixture; 6] = [
    Fixture::HighBFrames,
    Fixture::Baseline,
    Fixture::LongGop,
    Fixture::AudioOnly,
    Fixture::VideoOnly,
    Fixture::WrappedTimestamps,
];

impl Fixture {
    pub fn name(self) -> &'static str {
        match self {
            Fixture::HighBFrames => "high-bframes",
            Fixture::Baseline => "baseline-mono44k",
            Fixture::LongGop => "gop3s",
            Fixture::AudioOnly => "audio-only",
            Fixture::VideoOnly => "video-only",
            Fixture::WrappedTimestamps => "wrapped-timestamps",
        }
    }

    fn index(self) -> usize {
        ALL.iter().position(|f| *f == self).expect("listed in ALL")
    }

    pub fn video(self) -> Option<VideoSpec> {
        match self {
            Fixture::HighBFrames | Fixture::WrappedTimestamps => Some(VideoSpec {
                width: 320,
                height: 240,
                fps: 30,
                x264_profile: "high",
                ffprobe_profile: "High",
                b_frames: 2,
                gop_frames: 30,
            }),
            Fixture::Baseline => Some(VideoSpec {
                width: 640,
                height: 360,
                fps: 25,
                x264_profile: "baseline",
                ffprobe_profile: "Constrained Baseline",
                b_frames: 0,
                gop_frames: 50,
            }),
            Fixture::LongGop => Some(VideoSpec {
                width: 320,
                height: 240,
                fps: 30,
                x264_profile: "main",
                ffprobe_profile: "Main",
                b_frames: 2,
                gop_frames: 90,
            }),
            Fixture::VideoOnly => Some(VideoSpec {
                width: 640,
                height: 360,
                fps: 30,
                x264_profile: "main",
                ffprobe_profile: "Main",
                b_frames: 2,
                gop_frames: 60,
            }),
            Fixture::AudioOnly => None,
        }
    }

    pub fn audio(self) -> Option<AudioSpec> {
        match self {
            Fixture::HighBFrames | Fixture::WrappedTimestamps | Fixture::LongGop => {
                Some(AudioSpec { sample_rate: 48_000, channels: 2 })
            }
            Fixture::Baseline => Some(AudioSpec { sample_rate: 44_100, channels: 1 }),
            Fixture::AudioOnly => Some(AudioSpec { sample_rate: 44_100, channels: 2 }),
            Fixture::VideoOnly => None,
        }
    }

    pub fn duration_secs(self) -> u32 {
        match self {
            Fixture::LongGop => 9,
            _ => 6,
        }
    }

    /// The fixture carrying the same media (for [`Fixture::WrappedTimestamps`], the unshifted
    /// original): decoded output must match this one's decode.
    pub fn media_source(self) -> Fixture {
        match self {
            Fixture::WrappedTimestamps => Fixture::HighBFrames,
            other => other,
        }
    }

    /// The segment length the packager must produce for a target of `target` seconds: cuts at
    /// the first keyframe at or after the target, so a whole number of GOPs (video), or about
    /// the target (audio only: every AAC frame is a sync sample).
    pub fn nominal_segment_secs(self, target: f64) -> f64 {
        match self.video() {
            Some(v) => (target / v.gop_secs() - 1e-9).ceil() * v.gop_secs(),
            None => target,
        }
    }

    /// The ffmpeg arguments that encode this fixture (output path excluded).
    fn ffmpeg_args(self) -> Vec<String> {
        let d = self.duration_secs();
        let mut args: Vec<String> = ["-nostdin", "-v", "error", "-y"].map(String::from).to_vec();
        let mut inputs = 0;
        if let Some(v) = self.video() {
            args.extend(["-f", "lavfi", "-i"].map(String::from));
            args.push(format!("testsrc2=size={}x{}:rate={}:duration={d}", v.width, v.height, v.fps));
            inputs += 1;
        }
        if let Some(a) = self.audio() {
            args.extend(["-f", "lavfi", "-i"].map(String::from));
            args.push(format!("sine=frequency=440:sample_rate={}:duration={d}", a.sample_rate));
            inputs += 1;
        }
        assert!(inputs > 0);
        let mut input = 0;
        if let Some(v) = self.video() {
            args.extend(["-map".to_string(), format!("{input}:v")]);
            input += 1;
            let opts = [
                ("-c:v", "libx264".to_string()),
                ("-preset", "veryfast".to_string()),
                ("-profile:v", v.x264_profile.to_string()),
                ("-bf", v.b_frames.to_string()),
                ("-g", v.gop_frames.to_string()),
                ("-keyint_min", v.gop_frames.to_string()),
                ("-sc_threshold", "0".to_string()),
                ("-pix_fmt", "yuv420p".to_string()),
                ("-threads", "1".to_string()),
            ];
            for (k, val) in opts {
                args.push(k.to_string());
                args.push(val);
            }
        }
        if let Some(a) = self.audio() {
            args.extend(["-map".to_string(), format!("{input}:a")]);
            let opts = [
                ("-c:a", "aac".to_string()),
                ("-b:a", "96k".to_string()),
                ("-ar", a.sample_rate.to_string()),
                ("-ac", a.channels.to_string()),
            ];
            for (k, val) in opts {
                args.push(k.to_string());
                args.push(val);
            }
        }
        args.extend(["-f", "flv"].map(String::from));
        args
    }

    /// The fixture file, generated on first use (once per process, cached across runs).
    pub fn path(self) -> PathBuf {
        static PATHS: [OnceLock<PathBuf>; 6] = [const { OnceLock::new() }; 6];
        PATHS[self.index()].get_or_init(|| self.generate()).clone()
    }

    pub fn bytes(self) -> Vec<u8> {
        let path = self.path();
        std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    fn generate(self) -> PathBuf {
        match self {
            Fixture::WrappedTimestamps => {
                let source = Fixture::HighBFrames.path();
                let key = format!("wrap {WRAP_OFFSET_MS} of {}", source.display());
                cached(self.name(), &key, |tmp| {
                    let bytes = std::fs::read(&source).expect("read source fixture");
                    std::fs::write(tmp, shift_timestamps(&bytes, WRAP_OFFSET_MS)).expect("write");
                })
            }
            _ => encoded(self.name(), &self.ffmpeg_args()),
        }
    }
}

/// First line of `ffmpeg -version` (part of every fixture's cache key).
pub fn ffmpeg_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let run = run_with_timeout(Command::new("ffmpeg").arg("-version"), FFMPEG_TIMEOUT);
        assert!(run.success(), "ffmpeg is required:\n{}", run.describe());
        run.stdout_text().lines().next().unwrap_or_default().to_string()
    })
}

/// The one fixture cache: returns `rapidrtmp-fixtures/NAME-HASH.flv` (HASH of `key`, which
/// names everything the file is made from), calling `make(tmp)` to create it first if needed.
pub fn cached(name: &str, key: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let dir = tmp_root().join("rapidrtmp-fixtures");
    std::fs::create_dir_all(&dir).expect("create fixture dir");
    let path = dir.join(format!("{name}-{:016x}.flv", fnv1a(key.as_bytes())));
    if path.is_file() {
        return path;
    }
    let tmp = dir.join(format!(".{}.partial", unique_name(name)));
    make(&tmp);
    std::fs::rename(&tmp, &path).expect("move fixture into place");
    path
}

/// `ffmpeg ARGS… OUTPUT`, cached under `name` (the key: the arguments and the ffmpeg version).
pub fn encoded(name: &str, args: &[String]) -> PathBuf {
    let key = format!("{}\n{}", args.join(" "), ffmpeg_version());
    cached(name, &key, |tmp| {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(args).arg(tmp);
        let run = run_with_timeout(&mut cmd, FFMPEG_TIMEOUT);
        assert!(run.success(), "fixture generation failed:\n{}", run.describe());
    })
}

/// A `seconds`-long source at `size`, made on first use and kept as `name`: testsrc2 at 30 fps
/// (`video_args`, e.g. a filter or a bit rate, go before the encoder's), H.264 High with
/// B-frames and a keyframe every 2 s, AAC 48 kHz stereo of white noise (seeded: the same each
/// time, and matching itself at one shift only, so where a clip's audio comes from can be found).
pub fn noise_source(name: &str, seconds: u32, size: &str, video_args: &[&str]) -> PathBuf {
    let video = format!("testsrc2=size={size}:rate=30:duration={seconds}");
    let audio = format!("anoisesrc=color=white:sample_rate=48000:amplitude=0.3:seed=7:duration={seconds}");
    let args: Vec<String> = [
        "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", &video, "-f", "lavfi", "-i", &audio, "-map", "0:v",
        "-map", "1:a",
    ]
    .into_iter()
    .chain(video_args.iter().copied())
    .chain([
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "high",
        "-bf",
        "2",
        "-g",
        "60",
        "-keyint_min",
        "60",
        "-sc_threshold",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-threads",
        "1",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-ar",
        "48000",
        "-ac",
        "2",
        "-f",
        "flv",
    ])
    .map(String::from)
    .collect();
    encoded(name, &args)
}

/// Adds `offset` ms (wrapping at 2^32) to the timestamp of every tag.
pub fn shift_timestamps(bytes: &[u8], offset: u32) -> Vec<u8> {
    let mut file = flv::parse(bytes);
    for tag in &mut file.tags {
        tag.timestamp = tag.timestamp.wrapping_add(offset);
    }
    flv::write(&file)
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// `bytes` cut in the middle of the body of a video keyframe tag near the middle of the file.
/// Everything before that tag is complete and decodes to a prefix of the source's frames (the
/// GOPs are closed). Returns the bytes and the number of complete video frames.
pub fn truncated_mid_keyframe(bytes: &[u8]) -> (Vec<u8>, usize) {
    let file = flv::parse(bytes);
    let tag = file
        .tags
        .iter()
        .find(|t| t.offset >= bytes.len() / 2 && t.is_video_keyframe())
        .expect("a keyframe in the second half");
    let complete_frames =
        file.tags.iter().filter(|t| t.offset < tag.offset && t.kind == flv::VIDEO && t.is_media_frame()).count();
    let cut = tag.offset + 11 + tag.body.len() / 2;
    (bytes[..cut].to_vec(), complete_frames)
}

/// An FLV header (audio + video) and one video tag header claiming a 16 MiB − 1 body, followed
/// by only 64 bytes of it.
pub fn huge_first_tag() -> Vec<u8> {
    let mut out = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
    out.extend_from_slice(&[flv::VIDEO, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&[0x17, 0x01, 0, 0, 0]);
    out.extend(random_bytes(59, 7));
    out
}

/// The fixture with its sequence headers moved from the start to just before the second video
/// keyframe: the frames of the first GOP (and the audio alongside) come before any sequence
/// header. Returns the bytes and the number of video frames before the headers.
pub fn frames_before_sequence_headers(bytes: &[u8]) -> (Vec<u8>, usize) {
    let mut file = flv::parse(bytes);
    let headers: Vec<flv::Tag> = file.tags.iter().filter(|t| t.is_sequence_header()).cloned().collect();
    assert!(!headers.is_empty(), "fixture has sequence headers");
    file.tags.retain(|t| !t.is_sequence_header());
    let second_key = file
        .tags
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_video_keyframe())
        .nth(1)
        .map(|(i, _)| i)
        .expect("two keyframes");
    let ts = file.tags[second_key].timestamp;
    let frames_before = file.tags[..second_key].iter().filter(|t| t.kind == flv::VIDEO).count();
    for (n, mut header) in headers.into_iter().enumerate() {
        header.timestamp = ts;
        file.tags.insert(second_key + n, header);
    }
    (flv::write(&file), frames_before)
}

/// The fixture with zero-length video tags inserted: one with an empty body (not even the
/// frame-type byte) after the 40th video frame, one AVC NALU packet with no data (5-byte body)
/// after the 80th. Each copies the timestamp of the frame before it.
pub fn zero_length_video_frames(bytes: &[u8]) -> Vec<u8> {
    let mut file = flv::parse(bytes);
    let mut out = Vec::with_capacity(file.tags.len() + 2);
    let mut video_frames = 0;
    for tag in file.tags.drain(..) {
        let is_frame = tag.kind == flv::VIDEO && tag.is_media_frame();
        let ts = tag.timestamp;
        out.push(tag);
        if is_frame {
            video_frames += 1;
            match video_frames {
                40 => out.push(flv::Tag::new(flv::VIDEO, ts, Vec::new())),
                80 => out.push(flv::Tag::new(flv::VIDEO, ts, vec![0x27, 0x01, 0, 0, 0])),
                _ => {}
            }
        }
    }
    assert!(video_frames > 80, "fixture too short");
    file.tags = out;
    flv::write(&file)
}

/// The fixture with the AudioSpecificConfig's sampling frequency index set to 13 (reserved).
pub fn invalid_aac_sampling_index(bytes: &[u8]) -> Vec<u8> {
    let mut file = flv::parse(bytes);
    let header = file.tags.iter_mut().find(|t| t.is_aac_sequence_header()).expect("an AAC sequence header");
    let asc = &mut header.body[2..];
    assert!(asc.len() >= 2, "AudioSpecificConfig too short");
    // 5 bits object type, 4 bits sampling frequency index, 4 bits channel configuration.
    let index = 13u8;
    asc[0] = (asc[0] & 0xf8) | (index >> 1);
    asc[1] = (asc[1] & 0x7f) | ((index & 1) << 7);
    flv::write(&file)
}

/// The fixture with `count` of its audio tags, spread over the file, stamped 1 ms before the
/// audio tag before them, as encoders that round A/V timestamps send them. Returns the bytes.
pub fn jittered_audio(bytes: &[u8], count: usize) -> Vec<u8> {
    let mut file = flv::parse(bytes);
    let audio: Vec<usize> = file
        .tags
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind == flv::AUDIO && t.is_media_frame())
        .map(|(i, _)| i)
        .collect();
    assert!(audio.len() > count * 10, "fixture too short");
    let every = audio.len() / (count + 1);
    for k in 1..=count {
        let (before, at) = (audio[k * every - 1], audio[k * every]);
        file.tags[at].timestamp = file.tags[before].timestamp - 1;
    }
    flv::write(&file)
}

/// The media frames (video, audio) of an FLV file: the packet counts a player must read from
/// everything made of it.
pub fn frame_counts(bytes: &[u8]) -> (usize, usize) {
    let file = flv::parse(bytes);
    // An AVC end of sequence (AVCPacketType 2) is no frame.
    let end_of_sequence =
        |t: &flv::Tag| t.kind == flv::VIDEO && t.body.first().map(|b| b & 0x0f) == Some(7) && t.body.get(1) == Some(&2);
    let count =
        |kind: u8| file.tags.iter().filter(|t| t.kind == kind && t.is_media_frame() && !end_of_sequence(t)).count();
    (count(flv::VIDEO), count(flv::AUDIO))
}

/// The fixture with one track's sequence header arriving `late_ms` after the start, as from an
/// encoder whose audio (or video) starts late: that track's tags before it are gone, and its
/// header comes right before its first frame at or after `late_ms` (for video, a keyframe).
/// Returns the bytes and the number of that track's frames kept.
pub fn late_sequence_header(bytes: &[u8], kind: u8, late_ms: u32) -> (Vec<u8>, usize) {
    let mut file = flv::parse(bytes);
    let header = file
        .tags
        .iter()
        .find(|t| t.kind == kind && t.is_sequence_header())
        .cloned()
        .expect("a sequence header of that kind");
    let first = file
        .tags
        .iter()
        .position(|t| {
            t.kind == kind
                && t.is_media_frame()
                && t.timestamp >= late_ms
                && (kind != flv::VIDEO || t.is_video_keyframe())
        })
        .expect("a frame after late_ms");
    let ts = file.tags[first].timestamp;
    let mut tags = Vec::with_capacity(file.tags.len());
    for (i, t) in file.tags.drain(..).enumerate() {
        if i == first {
            tags.push(flv::Tag { timestamp: ts, ..header.clone() });
        }
        if t.kind != kind || i >= first {
            tags.push(t);
        }
    }
    let kept = tags.iter().filter(|t| t.kind == kind && t.is_media_frame()).count();
    file.tags = tags;
    (flv::write(&file), kept)
}

/// Video frames of an x264 intra-refresh clip: 20 s at 30 fps, one IDR at the start and none
/// after (`-x264-params intra-refresh=1:keyint=60`), with 48 kHz AAC. Cached like the fixtures.
pub const INTRA_REFRESH_FRAMES: usize = 600;

/// The intra-refresh clip ([`INTRA_REFRESH_FRAMES`]).
pub fn intra_refresh() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let args: Vec<String> = [
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30:duration=20",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=20",
            "-map",
            "0:v",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "main",
            "-x264-params",
            "intra-refresh=1:keyint=60",
            "-pix_fmt",
            "yuv420p",
            "-threads",
            "1",
            "-map",
            "1:a",
            "-c:a",
            "aac",
            "-b:a",
            "96k",
            "-ar",
            "48000",
            "-ac",
            "2",
            "-f",
            "flv",
        ]
        .map(String::from)
        .to_vec();
        encoded("intra-refresh", &args)
    })
    .clone()
}

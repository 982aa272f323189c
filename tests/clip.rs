//! Clips (docs/clips.md): stored chunks, made by the real chunk writer from an ffmpeg-encoded
//! source, cut into an ordinary MP4 by the core's clip builder and checked by real peers.
//!
//! - every box decodes under mp4-atom's strict mode, `moov` before `mdat`, each track's sample
//!   tables agree with one another and tile `mdat`;
//! - frame accuracy: a clip from `t` to `t + 8.5 s`, `t` between keyframes, decodes in ffmpeg
//!   (edit lists honoured) to the source's frames from the one shown at `t` (within one frame),
//!   every frame after it equal to the source's, 8.5 s of them within one frame (ffprobe's
//!   duration and the decoded frame count); its audio starts at 0, lasts 8.5 s and is the
//!   source's audio from `t`, each within one AAC frame;
//! - every codec the packager writes (HEVC, AV1, VP9, Opus, AC-3, MP3) makes clips that ffmpeg 9
//!   decodes to the window's frames and samples, and so do audio-only and video-only streams;
//! - any byte range of the clip equals the same slice of the whole;
//! - bad input (truncated chunks, chunks out of order, windows outside the media, reordered
//!   tags, too long a clip) is a clear error, never a panic.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mp4_atom::Any;
use rapidrtmp_core::chunk::{ChunkEvent, ChunkWriter, Chunker};
use rapidrtmp_core::clip::{build_clip, Clip, ClipError, DEFAULT_MAX_CLIP};
use rapidrtmp_core::flv::TagReader;
use support::fixtures;
use support::media;
use support::mp4::decode_all;
use support::proc::{run_with_timeout, TempDir};

/// Source frame rate.
const FPS: u64 = 30;
/// AAC's frame, in samples, and the source's sampling rate.
const AAC_FRAME: u64 = 1024;
const RATE: u64 = 48_000;
/// The clip length the issue names.
const CLIP_MS: u64 = 8_500;

/// A 30 s source at 320x240 ([`fixtures::noise_source`]): its white noise matches itself at
/// one shift only, so where a clip's audio comes from in it can be found.
fn source() -> PathBuf {
    fixtures::noise_source("clip-source-30s", 30, "320x240", &[])
}

/// The source's chunk files, as the ingest node stores them (2 s target).
fn chunks(flv: &[u8]) -> Vec<Vec<u8>> {
    let (_, reader) = TagReader::new(flv).expect("an FLV file");
    let mut writer = ChunkWriter::new(Chunker::new(2000));
    let mut events = Vec::new();
    let mut files = Vec::new();
    let mut take = |events: &mut Vec<ChunkEvent>| {
        for e in events.drain(..) {
            if let ChunkEvent::Closed(chunk) = e {
                files.push(chunk.into_file("s1"));
            }
        }
    };
    for tag in reader {
        writer.push(&tag.expect("a tag"), &mut events);
        take(&mut events);
    }
    writer.finish(&mut events);
    take(&mut events);
    files
}

fn slices(chunks: &[Vec<u8>]) -> Vec<&[u8]> {
    chunks.iter().map(Vec::as_slice).collect()
}

/// The clip's bytes, written to `dir/name`.
fn write_clip(dir: &Path, name: &str, chunks: &[&[u8]], clip: &Clip) -> (PathBuf, Vec<u8>) {
    let bytes = clip.to_vec(chunks).expect("the clip's bytes");
    assert_eq!(bytes.len() as u64, clip.len, "the size known before writing is the size written");
    let path = dir.join(name);
    std::fs::write(&path, &bytes).expect("write the clip");
    (path, bytes)
}

/// mp4-atom (strict) reads every box: `ftyp`, `moov`, `mdat`, in that order; each track's
/// tables agree (sample counts of stts, stsz, stsc) and its chunks lie inside `mdat`. Returns the
/// edit lists: (track handler, [(segment_duration, media_time)]).
fn check_boxes(bytes: &[u8]) -> Vec<(String, Vec<(u64, i64)>)> {
    let boxes = decode_all(bytes).unwrap_or_else(|e| panic!("mp4-atom (strict): {e}"));
    let kinds: Vec<String> = boxes.iter().map(|b| b.kind()).collect();
    assert_eq!(kinds, ["ftyp", "moov", "mdat"], "an ordinary MP4, moov before mdat");
    let Any::Moov(moov) = &boxes[1].atom else { unreachable!() };
    let mdat = (boxes[2].offset as u64 + 8, (boxes[2].offset + boxes[2].size) as u64);
    assert!(moov.mvex.is_none(), "not fragmented");
    let mut edits = Vec::new();
    for trak in &moov.trak {
        let stbl = &trak.mdia.minf.stbl;
        let stts: u64 = stbl.stts.entries.iter().map(|e| u64::from(e.sample_count)).sum();
        let sizes: Vec<u64> = match &stbl.stsz.samples {
            mp4_atom::StszSamples::Identical { count, size } => vec![u64::from(*size); *count as usize],
            mp4_atom::StszSamples::Different { sizes } => sizes.iter().map(|s| u64::from(*s)).collect(),
        };
        assert_eq!(stts, sizes.len() as u64, "stts and stsz count the same samples");
        let offsets: Vec<u64> = match (&stbl.stco, &stbl.co64) {
            (Some(stco), None) => stco.entries.iter().map(|o| u64::from(*o)).collect(),
            (None, Some(co64)) => co64.entries.clone(),
            other => panic!("one of stco and co64: {other:?}"),
        };
        // Each chunk's samples, by stsc, lie inside mdat.
        let mut sample = 0usize;
        for (i, &offset) in offsets.iter().enumerate() {
            let chunk = i as u32 + 1;
            let entry = stbl.stsc.entries.iter().rev().find(|e| e.first_chunk <= chunk).expect("an stsc entry");
            let n = entry.samples_per_chunk as usize;
            let len: u64 = sizes[sample..sample + n].iter().sum();
            assert!(
                offset >= mdat.0 && offset + len <= mdat.1,
                "chunk {chunk} at {offset}+{len} outside mdat {mdat:?}"
            );
            sample += n;
        }
        assert_eq!(sample, sizes.len(), "stsc places every sample");
        let elst = trak.edts.as_ref().and_then(|e| e.elst.as_ref()).expect("every track has an edit list");
        let entries =
            elst.entries.iter().map(|e| (e.segment_duration, e.media_time.map_or(-1, |t| t as i64))).collect();
        edits.push((trak.mdia.hdlr.handler.to_string(), entries));
    }
    edits
}

/// Index of the frame shown at `ms`: the last shown at or before it.
fn frame_at(pts: &[i64], ms: u64) -> usize {
    pts.iter().rposition(|&p| p <= ms as i64).expect("a frame at or before")
}

#[test]
fn clip_between_keyframes_starts_and_ends_on_the_frame() {
    let dir = TempDir::new("clip");
    let source = source();
    let flv = std::fs::read(&source).expect("read the source");
    let stored = chunks(&flv);
    assert!(stored.len() >= 14, "2 s chunks of a 30 s source: {}", stored.len());
    let inputs = slices(&stored);
    let reference = media::video_frames(&source);
    assert_eq!(reference.frames.len() as u64, 30 * FPS);
    let shown = media::presentation_times(&source);
    let source_pcm = pcm(&source);
    let first_audio_ms = first_audio_ms(&source);
    assert_eq!(shown.len(), reference.frames.len());

    // t between keyframes (6 s and 8 s), not on a frame boundary; and t on a keyframe.
    for (name, start) in [("mid-gop.mp4", 7_310u64), ("on-keyframe.mp4", 12_000)] {
        let end = start + CLIP_MS;
        let clip = build_clip(&inputs, start, end, DEFAULT_MAX_CLIP).expect("a clip");
        assert_eq!(clip.duration_ms, CLIP_MS);
        let (path, bytes) = write_clip(dir.path(), name, &inputs, &clip);

        let edits = check_boxes(&bytes);
        for (handler, entries) in &edits {
            assert_eq!(entries.len(), 1, "{name} {handler}: one edit, no delay: {entries:?}");
            assert_eq!(entries[0].0, CLIP_MS, "{name} {handler}: the edit lasts the window");
        }

        let (streams, duration) = media::probe(&path);
        let kinds: Vec<&str> = streams.iter().map(|s| s.codec_type.as_str()).collect();
        assert_eq!(kinds, ["video", "audio"], "{name}");
        let duration = duration.expect("ffprobe reads a duration");
        assert!((duration - 8.5).abs() <= 1.0 / FPS as f64, "{name}: ffprobe duration {duration} s, 8.5 s expected");
        let printed = media::decode_messages(&path, &[]);
        assert!(printed.is_empty(), "{name}: decoding printed:\n{printed}");

        // Video: the frame shown at t first (or the one after it: within one frame), then every
        // frame of the source in order, 8.5 s of them within one frame.
        let decoded = media::video_frames(&path);
        let at = frame_at(&shown, start);
        let from = (at - 1..=at + 1)
            .find(|&i| reference.frames[i].hash == decoded.frames[0].hash)
            .unwrap_or_else(|| panic!("{name}: the first frame is not the source's frame at {start} ms, within one"));
        let first = from as i64 - at as i64;
        let expected: Vec<&str> = reference.hashes()[from..from + decoded.frames.len()].to_vec();
        assert_eq!(decoded.hashes(), expected, "{name}: the frames after the first are the source's");
        let frames = decoded.frames.len() as i64;
        let want = (CLIP_MS * FPS / 1000) as i64;
        assert!((frames - want).abs() <= 1, "{name}: {frames} frames decoded, {want} ± 1 expected");
        eprintln!("{name}: first frame {first} from the one at t, {frames} frames, ffprobe {duration} s");

        // Audio: from 0, 8.5 s of samples, within one AAC frame.
        let audio = media::audio_frames(&path);
        let (num, den) = audio.time_base;
        let first_pts = audio.frames[0].pts as f64 * num as f64 / den as f64;
        assert!(first_pts.abs() <= AAC_FRAME as f64 / RATE as f64, "{name}: audio starts at {first_pts} s");
        let samples = audio.total_size() / 4;
        let want = CLIP_MS * RATE / 1000;
        assert!(samples.abs_diff(want) <= AAC_FRAME, "{name}: {samples} audio samples, {want} ± {AAC_FRAME} expected");
        eprintln!("{name}: audio from {first_pts} s, {samples} samples ({want} wanted)");

        // The audio is the source's from t: the clip's samples, decoded, are found in the
        // source's decode at t's sample, within one AAC frame (the source's decode starts at
        // its first AAC frame's time).
        let clip_pcm = pcm(&path);
        let at = ((start - first_audio_ms) * RATE / 1000) as usize;
        let lag = best_lag(&source_pcm, &clip_pcm, at, 2 * AAC_FRAME as usize);
        assert!(lag.unsigned_abs() < AAC_FRAME, "{name}: the clip's audio is the source's {lag} samples from t");
        eprintln!("{name}: audio is the source's at t {lag:+} samples");
    }
}

/// The time of the first audio tag of the FLV file `path` (ffmpeg shifts AAC's first frame
/// past its priming), in milliseconds.
fn first_audio_ms(path: &Path) -> u64 {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-select_streams", "a", "-show_entries", "packet=pts", "-of", "csv=p=0"]).arg(path);
    let run = run_with_timeout(&mut cmd, Duration::from_secs(60)).ok();
    run.stdout_text().lines().next().and_then(|l| l.trim().parse().ok()).expect("an audio packet")
}

/// Mono 16-bit PCM of the first audio stream of `path`, decoded by ffmpeg.
fn pcm(path: &Path) -> Vec<i16> {
    let mut cmd = media::ffmpeg();
    cmd.args(["-v", "error", "-i"]).arg(path).args(["-map", "0:a:0", "-ac", "1", "-f", "s16le", "-"]);
    let run = run_with_timeout(&mut cmd, Duration::from_secs(60)).ok();
    run.stdout.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()
}

/// The shift, within `±range` samples of `at`, at which `clip` (from its second AAC frame on)
/// best matches `source`: least summed difference over 0.1 s. White noise matches itself at one
/// shift only.
fn best_lag(source: &[i16], clip: &[i16], at: usize, range: usize) -> i64 {
    let window = 4_800;
    let skip = AAC_FRAME as usize;
    let cost = |lag: i64| -> u64 {
        let from = (at as i64 + lag) as usize + skip;
        source[from..from + window].iter().zip(&clip[skip..skip + window]).map(|(a, b)| a.abs_diff(*b) as u64).sum()
    };
    let range = range as i64;
    (-range..=range).min_by_key(|&lag| (cost(lag), lag.unsigned_abs())).expect("a lag")
}

#[test]
fn any_range_of_a_clip_is_the_same_slice_of_the_whole() {
    let flv = std::fs::read(source()).expect("read the source");
    let stored = chunks(&flv);
    let inputs = slices(&stored);
    let clip = build_clip(&inputs, 3_210, 9_990, DEFAULT_MAX_CLIP).expect("a clip");
    let whole = clip.to_vec(&inputs).expect("the clip");
    let len = whole.len() as u64;
    let head = clip.head.len() as u64;
    let mut ranges = vec![0..1, 0..head, head - 1..head + 1, head..head + 4096, len - 10..len, 0..len, len..len];
    // Ranges across piece boundaries, in steps that fall anywhere.
    let mut at = 0;
    while at < len {
        ranges.push(at..(at + 7_919).min(len));
        at += 7_919;
    }
    for r in ranges {
        let mut out = Vec::new();
        clip.write_range(&inputs, r.clone(), &mut out).expect("a range");
        assert!(out == whole[r.start as usize..r.end as usize], "range {r:?} differs from the same slice");
    }
    // A range past the end is cut at the end.
    let mut out = Vec::new();
    clip.write_range(&inputs, len - 3..len + 100, &mut out).expect("a range");
    assert_eq!(out, whole[len as usize - 3..]);
}

#[test]
fn bad_input_is_a_clear_error_never_a_panic() {
    let flv = std::fs::read(source()).expect("read the source");
    let stored = chunks(&flv);
    let inputs = slices(&stored);
    let end = stored.len() as u64 * 2_000;

    let err = |chunks: &[&[u8]], start: u64, end: u64| -> ClipError {
        build_clip(chunks, start, end, DEFAULT_MAX_CLIP).expect_err("an error")
    };
    // Windows.
    assert!(matches!(err(&inputs, 5_000, 5_000), ClipError::EmptyWindow { .. }));
    assert!(matches!(err(&inputs, 6_000, 5_000), ClipError::EmptyWindow { .. }));
    let long = build_clip(&inputs, 0, 20_000, 10_000).expect_err("too long");
    assert_eq!(long.status(), 400);
    assert!(long.to_string().contains("10000 ms"), "the limit is in the message: {long}");
    let outside = err(&inputs, end + 1_000, end + 2_000);
    assert!(matches!(outside, ClipError::NotCovered { .. }) && outside.status() == 404, "{outside}");
    assert!(matches!(err(&inputs[3..], 1_000, 9_000), ClipError::NotCovered { .. }));
    assert!(matches!(err(&[], 1_000, 2_000), ClipError::NotCovered { .. }));

    // Chunks out of order.
    let mut swapped = inputs.clone();
    swapped.swap(2, 3);
    let e = err(&swapped, 1_000, 9_000);
    assert!(matches!(e, ClipError::OutOfOrder { index: 3, .. }), "{e}");

    // Truncated chunks: every cut of one chunk is an error naming it or a clip (a cut between
    // tags that drops the frames after the window), never a panic.
    let target = &stored[2];
    for cut in (0..target.len()).step_by(97).chain([target.len() - 1, target.len() - 5]) {
        let mut list = inputs.clone();
        list[2] = &target[..cut];
        match build_clip(&list, 4_500, 5_500, DEFAULT_MAX_CLIP) {
            Ok(clip) => {
                let bytes = clip.to_vec(&list).expect("bytes");
                decode_all(&bytes).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            }
            Err(e) => assert!(!e.to_string().is_empty() && e.status() >= 400, "cut at {cut}: {e}"),
        }
    }
    let mut list = inputs.clone();
    list[2] = &target[..target.len() / 2];
    let e = err(&list, 4_500, 5_500);
    assert!(matches!(e, ClipError::Chunk { index: 2, .. }), "{e}");

    // Tags out of order inside a chunk: the segments' smoothing keeps decode times moving
    // forward, and the clip is still a well-formed file.
    let mut reordered = flv.clone();
    reverse_some_tags(&mut reordered);
    let stored = chunks(&reordered);
    let inputs = slices(&stored);
    for (start, end) in [(1_000, 9_500), (7_310, 15_810)] {
        match build_clip(&inputs, start, end, DEFAULT_MAX_CLIP) {
            Ok(clip) => {
                let bytes = clip.to_vec(&inputs).expect("bytes");
                check_boxes(&bytes);
            }
            Err(e) => assert!(e.status() >= 400, "{e}"),
        }
    }
    // Garbage instead of a chunk.
    let garbage = fixtures::random_bytes(4096, 7);
    let mut list = slices(&stored);
    list[1] = &garbage;
    assert!(matches!(err(&list, 1_000, 3_000), ClipError::Chunk { index: 1, .. }));
}

/// Swaps the timestamps of pairs of video tags through the file (B-frame order undone).
fn reverse_some_tags(flv: &mut Vec<u8>) {
    let mut file = support::flv::parse(flv);
    let video: Vec<usize> = (0..file.tags.len()).filter(|&i| file.tags[i].kind == support::flv::VIDEO).collect();
    for pair in video.chunks(2).step_by(5) {
        if let [a, b] = pair {
            let t = file.tags[*a].timestamp;
            file.tags[*a].timestamp = file.tags[*b].timestamp;
            file.tags[*b].timestamp = t;
        }
    }
    *flv = support::flv::write(&file);
}

/// Samples decoded of the first video and audio stream of `path` by ffmpeg 9 (video frames;
/// audio per channel), and what it printed at `-v warning`.
fn decode_counts(path: &Path) -> (usize, u64, String) {
    let mut cmd = media::ffmpeg9();
    cmd.args(["-v", "warning", "-i"]).arg(path).args(["-map", "0:v:0", "-f", "framemd5", "-"]);
    let video = run_with_timeout(&mut cmd, Duration::from_secs(120)).ok();
    let frames = video.stdout_text().lines().filter(|l| !l.starts_with('#')).count();
    let mut cmd = media::ffmpeg9();
    cmd.args(["-v", "warning", "-i"]).arg(path);
    cmd.args(["-map", "0:a:0", "-c:a", "pcm_s16le", "-ac", "1", "-f", "framemd5", "-"]);
    let audio = run_with_timeout(&mut cmd, Duration::from_secs(120)).ok();
    let bytes: u64 = audio
        .stdout_text()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(',').nth(4).and_then(|s| s.trim().parse::<u64>().ok()).expect("a size"))
        .sum();
    (frames, bytes / 2, format!("{}{}", video.stderr, audio.stderr))
}

/// A codec pair: name, the ffmpeg that encodes it, video and audio encoder options, and the
/// audio frame in samples.
type Case = (&'static str, fn() -> Command, &'static [&'static str], &'static [&'static str], u64);

/// Every codec the packager writes makes clips too: HEVC, AV1 and VP9 with Opus, H.264 with
/// AC-3 (Enhanced RTMP, from ffmpeg 9) and with MP3 (legacy FLV, Debian's ffmpeg). Each clip of
/// 2.5 s from between keyframes reads under mp4-atom (strict), decodes in ffmpeg 9 without a
/// word to 2.5 s of frames (within one) and of audio (within one audio frame).
#[test]
fn every_packaged_codec_makes_clips() {
    let dir = TempDir::new("clip-codecs");
    const X264: &[&str] = &["-c:v", "libx264", "-preset", "ultrafast"];
    let cases: [Case; 5] = [
        (
            "hevc-opus",
            media::ffmpeg9,
            &["-c:v", "libx265", "-x265-params", "log-level=error"],
            &["-c:a", "libopus"],
            960,
        ),
        (
            "av1-opus",
            media::ffmpeg9,
            &["-c:v", "libsvtav1", "-preset", "12", "-svtav1-params", "lp=1"],
            &["-c:a", "libopus"],
            960,
        ),
        (
            "vp9-opus",
            media::ffmpeg9,
            &["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"],
            &["-c:a", "libopus"],
            960,
        ),
        ("h264-ac3", media::ffmpeg9, X264, &["-c:a", "ac3"], 1536),
        ("h264-mp3", media::ffmpeg, X264, &["-c:a", "libmp3lame"], 1152),
    ];
    let (start, end) = (1_300u64, 3_800u64);
    for (name, ffmpeg, video, audio, audio_frame) in cases {
        let source = dir.join(&format!("{name}.flv"));
        let mut cmd = ffmpeg();
        cmd.args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i"]);
        cmd.args(["sine=frequency=440:sample_rate=48000", "-t", "5", "-map", "0:v", "-map", "1:a"]);
        cmd.args(video).args(audio).args(["-g", "30", "-pix_fmt", "yuv420p", "-f", "flv"]).arg(&source);
        run_with_timeout(&mut cmd, Duration::from_secs(180)).ok();
        let stored = chunks(&std::fs::read(&source).expect("the source"));
        let inputs = slices(&stored);
        let clip = build_clip(&inputs, start, end, DEFAULT_MAX_CLIP).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (path, bytes) = write_clip(dir.path(), &format!("{name}.mp4"), &inputs, &clip);
        for (handler, entries) in check_boxes(&bytes) {
            assert_eq!(entries.last().map(|e| e.0), Some(end - start), "{name} {handler}: {entries:?}");
        }
        let (frames, samples, printed) = decode_counts(&path);
        assert!(printed.is_empty(), "{name}: ffmpeg 9 printed:\n{printed}");
        let want = ((end - start) * FPS / 1000) as usize;
        assert!(frames.abs_diff(want) <= 1, "{name}: {frames} frames, {want} ± 1 expected");
        let want = (end - start) * RATE / 1000;
        assert!(samples.abs_diff(want) <= audio_frame, "{name}: {samples} audio samples, {want} ± {audio_frame}");
        eprintln!("{name}: {frames} frames, {samples} audio samples ({want} wanted), {} bytes", bytes.len());
    }
}

/// A stream with one track makes clips of that track: audio only (AAC 44.1 kHz) and video only
/// (H.264 with B-frames), each 2.9 s from between keyframes, decoded to as many samples and
/// frames, within one.
#[test]
fn audio_only_and_video_only_streams_make_clips() {
    let dir = TempDir::new("clip-one-track");
    let (start, end) = (1_300u64, 4_200u64);
    for fixture in [fixtures::Fixture::AudioOnly, fixtures::Fixture::VideoOnly] {
        let name = fixture.name();
        let stored = chunks(&fixture.bytes());
        let inputs = slices(&stored);
        let clip = build_clip(&inputs, start, end, DEFAULT_MAX_CLIP).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (path, bytes) = write_clip(dir.path(), &format!("{name}.mp4"), &inputs, &clip);
        let edits = check_boxes(&bytes);
        assert_eq!(edits.len(), 1, "{name}: one track");
        assert_eq!(edits[0].1, [(end - start, edits[0].1[0].1)], "{name}: one edit of the window");
        let printed = media::decode_messages(&path, &[]);
        assert!(printed.is_empty(), "{name}: decoding printed:\n{printed}");
        let (_, duration) = media::probe(&path);
        let duration = duration.expect("a duration");
        if let Some(video) = fixture.video() {
            let frames = media::video_frames(&path).frames.len() as u64;
            let want = (end - start) * u64::from(video.fps) / 1000;
            assert!(frames.abs_diff(want) <= 1, "{name}: {frames} frames, {want} ± 1");
            assert!((duration - 2.9).abs() <= 1.0 / f64::from(video.fps), "{name}: {duration} s");
        }
        if let Some(audio) = fixture.audio() {
            let samples = media::audio_samples(&path, audio.channels);
            let want = (end - start) * u64::from(audio.sample_rate) / 1000;
            assert!(samples.abs_diff(want) <= AAC_FRAME, "{name}: {samples} samples, {want} ± {AAC_FRAME}");
            assert!((duration - 2.9).abs() <= AAC_FRAME as f64 / f64::from(audio.sample_rate), "{name}: {duration} s");
        }
    }
}

//! `rapidrtmp package` on broken input: it must never panic or hang. Per docs/cli.md it either
//! fails with one line `error: …` (non-zero exit, naming the byte offset / tag number) or skips
//! what it cannot use with a warning on stderr and packages the rest, and then the output must
//! be as valid as for a clean input.

mod support;

use std::path::{Path, PathBuf};
use support::checks;
use support::cli::{
    assert_clean_error, assert_error_locates_input, assert_success_with_warning, package, warning_lines, BIN,
    PACKAGE_TIMEOUT,
};
use support::fixtures::{self, Fixture};
use support::proc::{run_with_timeout, TempDir};
use support::{flv, media};

fn write_input(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Decoded video frames of the output, to compare with the source's.
fn output_hashes(out: &Path) -> Vec<String> {
    media::video_frames(&out.join("index.m3u8")).frames.into_iter().map(|f| f.hash).collect()
}

fn source_hashes() -> Vec<String> {
    media::reference(Fixture::HighBFrames).video.as_ref().unwrap().frames.iter().map(|f| f.hash.clone()).collect()
}

#[test]
fn fixture_editing_round_trips() {
    let bytes = Fixture::HighBFrames.bytes();
    let file = flv::parse(&bytes);
    assert_eq!(flv::write(&file), bytes, "parse + write is the identity");
    let wrapped = flv::parse(&Fixture::WrappedTimestamps.bytes());
    assert_eq!(wrapped.tags.len(), file.tags.len());
    let mut wraps = 0;
    for (w, t) in wrapped.tags.iter().zip(&file.tags) {
        assert_eq!(w.timestamp, t.timestamp.wrapping_add(fixtures::WRAP_OFFSET_MS));
        assert_eq!(w.body, t.body);
        wraps += usize::from(t.timestamp >= 3000 && w.timestamp < t.timestamp);
    }
    assert!(wraps > 0, "the wrapped fixture crosses 2^32 ms");
    assert!(wrapped.tags[0].timestamp > u32::MAX - 3001, "it starts just before the wrap");
}

#[test]
fn truncated_in_the_middle_of_a_tag_packages_the_complete_part_or_fails_cleanly() {
    let dir = TempDir::new("truncated");
    let (bytes, complete_frames) = fixtures::truncated_mid_keyframe(&Fixture::HighBFrames.bytes());
    let input = write_input(&dir, "truncated.flv", &bytes);
    let out = dir.join("out");
    let run = package(&input, &out, &[]);
    if run.success() {
        assert_success_with_warning(&run);
        let f = Fixture::HighBFrames;
        checks::check_output(&out, f.video(), f.audio());
        let source = source_hashes();
        let got = output_hashes(&out);
        assert_eq!(
            got,
            source[..complete_frames],
            "the {complete_frames} complete video frames before the cut, in order (got {})",
            got.len()
        );
    } else {
        let line = assert_clean_error(&run);
        assert_error_locates_input(&line, &input);
    }
}

#[test]
fn random_bytes_fail_with_a_one_line_error() {
    let dir = TempDir::new("random");
    let input = write_input(&dir, "random.flv", &fixtures::random_bytes(64 * 1024, 0x5eed));
    let run = package(&input, &dir.join("out"), &[]);
    let line = assert_clean_error(&run);
    assert_error_locates_input(&line, &input);
}

#[test]
fn empty_file_fails_with_a_one_line_error() {
    let dir = TempDir::new("empty");
    let input = write_input(&dir, "empty.flv", &[]);
    let run = package(&input, &dir.join("out"), &[]);
    assert_clean_error(&run);
}

#[test]
fn missing_input_fails_with_a_one_line_error() {
    let dir = TempDir::new("missing");
    let run = package(&dir.join("does-not-exist.flv"), &dir.join("out"), &[]);
    assert_clean_error(&run);
}

#[test]
fn first_tag_claiming_a_16_mib_body_fails_cleanly() {
    let dir = TempDir::new("huge-tag");
    let input = write_input(&dir, "huge.flv", &fixtures::huge_first_tag());
    let run = package(&input, &dir.join("out"), &[]);
    // Nothing in the file is complete: there is nothing to package.
    let line = assert_clean_error(&run);
    assert_error_locates_input(&line, &input);
}

#[test]
fn frames_before_any_sequence_header_are_skipped_with_a_warning() {
    let dir = TempDir::new("no-seq-header");
    let (bytes, frames_before) = fixtures::frames_before_sequence_headers(&Fixture::HighBFrames.bytes());
    let input = write_input(&dir, "late-headers.flv", &bytes);
    let out = dir.join("out");
    let run = package(&input, &out, &[]);
    assert_success_with_warning(&run);
    let f = Fixture::HighBFrames;
    checks::check_output(&out, f.video(), f.audio());
    let source = source_hashes();
    let got = output_hashes(&out);
    assert!(
        !got.is_empty() && got.len() >= source.len() - frames_before && got.len() <= source.len(),
        "{} frames decoded; the source has {}, {frames_before} of them before the sequence headers",
        got.len(),
        source.len()
    );
    assert_eq!(got, source[source.len() - got.len()..], "the output must be the tail of the source's frames");
}

#[test]
fn zero_length_video_frames_are_skipped_with_a_warning() {
    let dir = TempDir::new("zero-length");
    let bytes = fixtures::zero_length_video_frames(&Fixture::HighBFrames.bytes());
    let input = write_input(&dir, "zero-length.flv", &bytes);
    let out = dir.join("out");
    let run = package(&input, &out, &[]);
    assert_success_with_warning(&run);
    let f = Fixture::HighBFrames;
    checks::check_output(&out, f.video(), f.audio());
    assert_eq!(output_hashes(&out), source_hashes(), "every real frame, in order");
}

/// An AAC sequence header whose samplingFrequencyIndex is 13 (reserved): the audio cannot be
/// timed, so that header is skipped with a warning that names its byte offset and the bad
/// value, the audio frames after it are skipped too, and the video is packaged alone, every
/// frame. (Refusing the whole file would lose good video; an audio track without a known
/// sample rate would not play.)
#[test]
fn aac_sequence_header_with_invalid_sampling_index_is_skipped_and_the_video_packaged() {
    let dir = TempDir::new("bad-asc");
    let bytes = fixtures::invalid_aac_sampling_index(&Fixture::HighBFrames.bytes());
    let input = write_input(&dir, "bad-asc.flv", &bytes);
    let out = dir.join("out");
    let run = package(&input, &out, &[]);
    assert_success_with_warning(&run);
    let warnings = warning_lines(&run);
    let first = warnings[0].replace(&*input.to_string_lossy(), "");
    assert!(
        first.contains("samplingFrequencyIndex") && first.contains("13") && first.contains("byte"),
        "the first warning names the sequence header's offset and its bad index:\n{}",
        run.describe()
    );
    let f = Fixture::HighBFrames;
    checks::check_output(&out, f.video(), None);
    assert_eq!(output_hashes(&out), source_hashes(), "all video frames");
}

/// A new AAC configuration partway (mono instead of stereo, from the keyframe at 3 s): HLS gets
/// a second init segment; `--mp4`, which has one `moov`, refuses with a one-line error naming
/// the segment and pointing to HLS.
#[test]
fn a_codec_change_partway_gives_hls_a_new_init_and_mp4_a_clear_error() {
    let dir = TempDir::new("codec-change");
    let mut file = flv::parse(&Fixture::HighBFrames.bytes());
    let asc = file.tags.iter().find(|t| t.is_aac_sequence_header()).unwrap().clone();
    let at = file.tags.iter().position(|t| t.is_video_keyframe() && t.timestamp >= 3000).unwrap();
    let mut mono = asc.clone();
    let channels = mono.body.len() - 1; // AudioSpecificConfig byte 1: channelConfiguration << 3
    mono.body[channels] = (mono.body[channels] & !0x78) | (1 << 3);
    assert_ne!(mono.body, asc.body, "fixture sanity: the stereo configuration changed");
    mono.timestamp = file.tags[at].timestamp;
    file.tags.insert(at, mono);
    let input = write_input(&dir, "codec-change.flv", &flv::write(&file));

    let out = dir.join("out");
    let run = package(&input, &out, &[]);
    assert!(run.success(), "{}", run.describe());
    let playlist = std::fs::read_to_string(out.join("index.m3u8")).unwrap();
    assert_eq!(playlist.matches("#EXT-X-MAP:").count(), 2, "{playlist}");

    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("package").arg(&input).arg("--mp4").arg(dir.join("out.mp4"));
    let run = run_with_timeout(&mut cmd, PACKAGE_TIMEOUT);
    let line = assert_clean_error(&run);
    assert!(line.contains("codec configuration changes at segment") && line.contains("HLS"), "{line}");
    assert!(!dir.join("out.mp4").exists(), "no partial MP4 is left behind");
}

//! End-to-end tests of `rapidrtmp package` (docs/cli.md) on ffmpeg-made fixtures.
//!
//! For each fixture the output must: package without warnings; decode cleanly in ffmpeg with the
//! source's stream parameters; reproduce the source's decoded video frames exactly (and in the
//! same relative timing) and its audio to within one AAC frame; start every segment with an IDR
//! keyframe; decode completely under mp4-atom's strict mode; keep every track's timeline
//! contiguous and every EXTINF true; follow the playlist contract; and be byte-identical when
//! packaged twice. `--mp4` must give the init and media segments as one file that decodes to
//! the same frames.

mod support;

use std::path::PathBuf;
use support::checks::{self, Output};
use support::cli::{package_ok, BIN, PACKAGE_TIMEOUT};
use support::fixtures::{self, Fixture};
use support::proc::{list_files, run_with_timeout, Run, TempDir};
use support::{flv, hls, media};

/// The segment target when `--segment-duration` is not given (docs/cli.md).
const DEFAULT_TARGET: f64 = 2.0;

struct Packaged {
    _dir: TempDir,
    out: PathBuf,
    run: Run,
}

impl Packaged {
    fn index(&self) -> PathBuf {
        self.out.join("index.m3u8")
    }

    fn decoded(&self) -> Output {
        let playlist = checks::check_playlist_contract(&self.out);
        checks::decode_output(&self.out, &playlist)
    }
}

/// `rapidrtmp package FIXTURE --out DIR/out EXTRA…` (the output directory does not exist yet).
fn package_fixture(fixture: Fixture, extra: &[&str]) -> Packaged {
    let dir = TempDir::new(fixture.name());
    let out = dir.join("out");
    let run = package_ok(&fixture.path(), &out, extra);
    Packaged { _dir: dir, out, run }
}

fn packages_without_warnings(fixture: Fixture) {
    let p = package_fixture(fixture, &[]);
    let noise: Vec<&str> = p
        .run
        .stderr_lines()
        .into_iter()
        .filter(|l| {
            let l = l.trim_start().to_ascii_lowercase();
            l.starts_with("warning") || l.starts_with("error")
        })
        .collect();
    assert!(noise.is_empty(), "a clean input must package without warnings:\n{}", p.run.describe());
}

fn decodes_cleanly_with_the_source_streams(fixture: Fixture) {
    let p = package_fixture(fixture, &[]);
    let reference = media::reference(fixture);
    let (streams, _) = media::probe(&p.index());
    let kinds: Vec<&str> = streams.iter().map(|s| s.codec_type.as_str()).collect();
    let expected_kinds: Vec<&str> =
        [fixture.video().map(|_| "video"), fixture.audio().map(|_| "audio")].into_iter().flatten().collect();
    let mut sorted = kinds.clone();
    sorted.sort_by_key(|k| if *k == "video" { 0 } else { 1 });
    assert_eq!(sorted, expected_kinds, "ffprobe streams of index.m3u8: {streams:#?}");
    for s in &streams {
        let source = reference
            .streams
            .iter()
            .find(|r| r.codec_type == s.codec_type)
            .expect("the source has this kind of stream");
        if s.codec_type == "video" {
            let v = fixture.video().unwrap();
            assert_eq!(s.codec_name, "h264", "{s:#?}");
            assert_eq!((s.width, s.height), (Some(u64::from(v.width)), Some(u64::from(v.height))), "{s:#?}");
            assert_eq!(source.profile.as_deref(), Some(v.ffprobe_profile), "fixture sanity: {source:#?}");
            assert_eq!(s.profile, source.profile, "H.264 profile: {s:#?}");
        } else {
            let a = fixture.audio().unwrap();
            assert_eq!(s.codec_name, "aac", "{s:#?}");
            assert_eq!(s.sample_rate, Some(u64::from(a.sample_rate)), "{s:#?}");
            assert_eq!(s.channels, Some(u64::from(a.channels)), "{s:#?}");
            assert_eq!(s.profile, source.profile, "AAC profile: {s:#?}");
        }
    }
    checks::assert_decodes_cleanly(&p.index(), &[]);
    checks::assert_decodes_cleanly(&p.out.join("master.m3u8"), &[]);
}

fn decoded_frames_match_the_source(fixture: Fixture) {
    let p = package_fixture(fixture, &[]);
    let reference = media::reference(fixture);
    if let Some(v) = fixture.video() {
        let source = reference.video.as_ref().expect("source video frames");
        if v.b_frames > 0 {
            let s = reference.streams.iter().find(|s| s.codec_type == "video").unwrap();
            assert!(s.has_b_frames.unwrap_or(0) > 0, "fixture sanity: the source should have B-frames: {s:#?}");
        }
        let got = media::video_frames(&p.index());
        assert_eq!(got.frames.len(), source.frames.len(), "decoded video frame count: packaged vs source");
        if let Some(i) = (0..got.frames.len()).find(|&i| got.frames[i].hash != source.frames[i].hash) {
            panic!(
                "decoded video frame {i} (presentation order) differs from the source's: {:?} vs {:?}",
                got.frames[i], source.frames[i]
            );
        }
        let (got_pts, src_pts) = (got.relative_pts(), source.relative_pts());
        for (i, (g, s)) in got_pts.iter().zip(&src_pts).enumerate() {
            assert!(
                (g - s).abs() <= 0.0015,
                "frame {i} is presented at {g:.4} s after the first frame, in the source at {s:.4} s"
            );
        }
    }
    if let Some(a) = fixture.audio() {
        let source = reference.audio_samples.expect("source audio samples");
        let got = media::audio_samples(&p.index(), a.channels);
        assert!(
            got.abs_diff(source) <= 1024,
            "decoded audio: {got} samples per channel, source {source} (more than one AAC frame apart)"
        );
    }
}

fn every_segment_starts_with_a_keyframe(fixture: Fixture) {
    let p = package_fixture(fixture, &[]);
    let out = p.decoded();
    checks::check_tracks(&out, fixture.video(), fixture.audio());
    checks::check_keyframe_starts(&out);
}

fn every_file_decodes_strictly_with_the_source_parameters(fixture: Fixture) {
    let p = package_fixture(fixture, &[]);
    let out = p.decoded();
    checks::check_tracks(&out, fixture.video(), fixture.audio());
    // Every file in the directory was decoded: the playlist contract check compares the listing
    // with the playlists' URIs.
    assert_eq!(out.inits.len() + out.segments.len() + 2, list_files(&p.out).len());
}

fn timelines_are_contiguous_and_match_extinf(fixture: Fixture) {
    let p = package_fixture(fixture, &[]);
    checks::check_timelines(&p.decoded());
}

fn playlists_follow_the_contract(fixture: Fixture) {
    let p = package_fixture(fixture, &[]);
    let playlist = checks::check_playlist_contract(&p.out);
    let text = std::fs::read_to_string(p.index()).unwrap();
    assert_eq!(
        playlist.discontinuities, 0,
        "a continuous source (timestamps wrapping at 2^32 ms included) is one period:\n{text}"
    );
    assert_eq!(playlist.segment_maps(), ["0/init-0.mp4"], "one init segment:\n{text}");
    check_segment_durations(fixture, &playlist, DEFAULT_TARGET, &text);
    let reference = media::reference(fixture);
    assert!(
        (playlist.total_duration() - reference.duration).abs() <= 0.1,
        "EXTINFs add up to {:.3} s, the source lasts {:.3} s:\n{text}",
        playlist.total_duration(),
        reference.duration
    );
    checks::check_master(&p.decoded(), fixture.video());
}

/// Segments cut at the first keyframe at or after the target: all but the last last the nominal
/// length, TARGETDURATION is its rounding.
fn check_segment_durations(fixture: Fixture, playlist: &hls::Playlist, target: f64, text: &str) {
    let nominal = fixture.nominal_segment_secs(target);
    let n = playlist.segments.len();
    for (i, s) in playlist.segments.iter().enumerate() {
        if i + 1 < n {
            assert!(
                (s.duration - nominal).abs() <= 0.1,
                "segment {} lasts {} s, expected ~{nominal} s (target {target} s, keyframes every {:?} s):\n{text}",
                s.uri,
                s.duration,
                fixture.video().map(|v| v.gop_secs())
            );
        } else {
            assert!(s.duration <= nominal + 0.1, "last segment {} lasts {} s:\n{text}", s.uri, s.duration);
        }
    }
    assert_eq!(
        playlist.target_duration,
        Some(nominal.round() as u64),
        "TARGETDURATION for ~{nominal} s segments:\n{text}"
    );
}

fn packaging_twice_gives_identical_files(fixture: Fixture) {
    let first = package_fixture(fixture, &[]);
    let second = package_fixture(fixture, &[]);
    let names = list_files(&first.out);
    assert_eq!(names, list_files(&second.out), "file names differ between two runs");
    for name in names {
        let a = std::fs::read(first.out.join(&name)).unwrap();
        let b = std::fs::read(second.out.join(&name)).unwrap();
        if a != b {
            let at = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
            panic!("{name} differs between two runs at byte {at} ({} vs {} bytes)", a.len(), b.len());
        }
    }
}

/// `--mp4 FILE` is the HLS set's init segment and media segments, in playlist order, as one
/// file; it decodes cleanly to the source's video frames.
fn mp4_output_is_the_segments_in_one_file(fixture: Fixture) {
    let p = package_fixture(fixture, &[]);
    let mp4 = p.out.with_extension("mp4");
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("package").arg(fixture.path()).arg("--mp4").arg(&mp4);
    let run = run_with_timeout(&mut cmd, PACKAGE_TIMEOUT);
    assert!(run.success(), "package --mp4 failed:\n{}", run.describe());
    let playlist = std::fs::read_to_string(p.index()).unwrap();
    let mut expected = Vec::new();
    for line in playlist.lines() {
        let uri = match line.strip_prefix("#EXT-X-MAP:URI=\"") {
            Some(rest) => rest.trim_end_matches('"'),
            None if !line.starts_with('#') && !line.is_empty() => line,
            None => continue,
        };
        expected.extend(std::fs::read(p.out.join(uri)).unwrap());
    }
    assert!(std::fs::read(&mp4).unwrap() == expected, "--mp4 is not the init and segments of the HLS set");
    checks::assert_decodes_cleanly(&mp4, &[]);
    if fixture.video().is_some() {
        assert_eq!(
            media::video_frames(&mp4).hashes(),
            media::video_frames(&fixture.path()).hashes(),
            "decoded video frames of the MP4 vs the source"
        );
    }
}

macro_rules! fixture_tests {
    ($($name:ident => $fixture:expr;)*) => {$(
        mod $name {
            use super::*;

            #[test]
            fn packages_without_warnings() {
                super::packages_without_warnings($fixture);
            }

            #[test]
            fn decodes_cleanly_with_the_source_streams() {
                super::decodes_cleanly_with_the_source_streams($fixture);
            }

            #[test]
            fn decoded_frames_match_the_source() {
                super::decoded_frames_match_the_source($fixture);
            }

            #[test]
            fn every_segment_starts_with_a_keyframe() {
                super::every_segment_starts_with_a_keyframe($fixture);
            }

            #[test]
            fn every_file_decodes_strictly_with_the_source_parameters() {
                super::every_file_decodes_strictly_with_the_source_parameters($fixture);
            }

            #[test]
            fn timelines_are_contiguous_and_match_extinf() {
                super::timelines_are_contiguous_and_match_extinf($fixture);
            }

            #[test]
            fn playlists_follow_the_contract() {
                super::playlists_follow_the_contract($fixture);
            }

            #[test]
            fn packaging_twice_gives_identical_files() {
                super::packaging_twice_gives_identical_files($fixture);
            }

            #[test]
            fn mp4_output_is_the_segments_in_one_file() {
                super::mp4_output_is_the_segments_in_one_file($fixture);
            }
        }
    )*};
}

fixture_tests! {
    high_profile_with_b_frames => Fixture::HighBFrames;
    baseline_with_mono_44k_audio => Fixture::Baseline;
    three_second_keyframe_interval => Fixture::LongGop;
    audio_only => Fixture::AudioOnly;
    video_only => Fixture::VideoOnly;
    timestamps_wrapping_past_u32 => Fixture::WrappedTimestamps;
}

/// `--segment-duration 4` with keyframes every second: 4 s segments, TARGETDURATION 4.
#[test]
fn segment_duration_option_moves_the_cut_points() {
    let fixture = Fixture::HighBFrames;
    let p = package_fixture(fixture, &["--segment-duration", "4"]);
    let out = checks::check_output(&p.out, fixture.video(), fixture.audio());
    let text = std::fs::read_to_string(p.index()).unwrap();
    check_segment_durations(fixture, &out.playlist, 4.0, &text);
    assert_eq!(out.segments.len(), 2, "6 s in 4 s segments:\n{text}");
}

// Real-world stream shapes (issue 10): jitter, late sequence headers, rare keyframes.

/// Packages `bytes` (written to a temp file) with default options.
fn package_bytes(label: &str, bytes: &[u8], extra: &[&str]) -> Packaged {
    let dir = TempDir::new(label);
    let input = dir.join("input.flv");
    std::fs::write(&input, bytes).expect("write input");
    let out = dir.join("out");
    let run = package_ok(&input, &out, extra);
    Packaged { _dir: dir, out, run }
}

fn playlist(p: &Packaged) -> (String, hls::Playlist) {
    let text = std::fs::read_to_string(p.index()).expect("index.m3u8");
    let parsed = hls::parse_media(&text).expect("index.m3u8 parses");
    (text, parsed)
}

/// No segment carries a track its init segment lacks: each segment decodes strictly against
/// its own init (a `traf` whose track the init has no `trex` for is an error there).
fn segments_match_their_inits(p: &Packaged) -> Output {
    let (_, parsed) = playlist(p);
    checks::decode_output(&p.out, &parsed)
}

/// 9 audio timestamps 1 ms before the frame before them: one session, every video frame kept.
#[test]
fn jitter_rule_audio_stepping_back_1_ms_keeps_every_frame_in_one_session() {
    let source = Fixture::HighBFrames;
    let bytes = fixtures::jittered_audio(&source.bytes(), 9);
    let p = package_bytes("jitter", &bytes, &[]);
    let (text, parsed) = playlist(&p);
    assert!(parsed.segments.iter().all(|s| !s.discontinuity_before), "no discontinuity:\n{text}");
    assert_eq!(parsed.segment_maps().len(), 1, "one session, one init segment:\n{text}");
    checks::assert_decodes_cleanly(&p.index(), &[]);
    let frames = media::video_frames(&p.index()).frames.len();
    let expected = media::reference(source).video.as_ref().map(|v| v.frames.len());
    assert_eq!(Some(frames), expected, "every video frame is kept");
    segments_match_their_inits(&p);
}

/// The video sequence header 1 s late, with `onMetaData` announcing both tracks: the first
/// chunk waits for it; one session with both tracks; every frame from where each track starts.
#[test]
fn late_header_rule_video_header_1s_late_waits_and_keeps_every_frame() {
    let source = Fixture::HighBFrames;
    let (bytes, _) = fixtures::late_sequence_header(&source.bytes(), flv::VIDEO, 1000);
    let p = package_bytes("late-video", &bytes, &[]);
    let video_kept = media::video_frames(&p._dir.join("input.flv")).frames.len();
    let (text, parsed) = playlist(&p);
    assert!(parsed.segments.iter().all(|s| !s.discontinuity_before), "one session:\n{text}");
    let out = segments_match_their_inits(&p);
    checks::check_tracks(&out, source.video(), source.audio());
    checks::assert_decodes_cleanly(&p.index(), &[]);
    assert_eq!(media::video_frames(&p.index()).frames.len(), video_kept, "every video frame from the first keyframe");
    let source_audio = media::reference(source).audio_samples.expect("audio");
    let audio = media::audio_samples(&p.index(), 2);
    assert!(audio.abs_diff(source_audio) <= 1024, "every audio frame: {audio} of {source_audio} samples");
}

/// A track `onMetaData` announces whose sequence header comes 3 s late (the audio; then the
/// video): the start waits for it, so there is one session whose one init segment declares both
/// tracks. ffmpeg 5.1 and ffmpeg 9 (and the players built on them) read the whole playlist with
/// every packet of the input and print nothing; no segment carries a track its init lacks.
#[test]
fn late_header_rule_an_announced_track_3s_late_is_in_the_init_segment_every_ffmpeg_reads() {
    let source = Fixture::HighBFrames;
    for (label, kind) in [("late-audio-3s", flv::AUDIO), ("late-video-3s", flv::VIDEO)] {
        let (bytes, _) = fixtures::late_sequence_header(&source.bytes(), kind, 3000);
        let p = package_bytes(label, &bytes, &[]);
        let (text, parsed) = playlist(&p);
        assert!(parsed.segments.iter().all(|s| !s.discontinuity_before), "{label}: one session:\n{text}");
        let out = segments_match_their_inits(&p);
        assert_eq!(out.inits.len(), 1, "{label}: one init segment:\n{text}");
        assert_eq!(out.init(0).tracks.len(), 2, "{label}: the init segment declares both tracks");
        let index = p.index();
        checks::assert_every_ffmpeg_reads(index.to_str().expect("utf-8 path"), fixtures::frame_counts(&bytes));
    }
}

/// The audio sequence header 5.5 s late (beyond the wait, `MAX_ANNOUNCED_WAIT_MS`): the video
/// goes on alone; audio joins at the next keyframe (6 s) in a new session whose init segment has
/// both tracks; no segment carries a track its init lacks, and every video frame is kept.
#[test]
fn late_header_rule_audio_header_past_the_wait_joins_in_a_new_session_with_both_tracks() {
    let source = Fixture::LongGop;
    let (bytes, _) = fixtures::late_sequence_header(&source.bytes(), flv::AUDIO, 5500);
    let p = package_bytes("late-audio", &bytes, &[]);
    let (text, parsed) = playlist(&p);
    let out = segments_match_their_inits(&p);
    assert_eq!(out.inits.len(), 2, "a video-only init, then one with both tracks:\n{text}");
    assert_eq!(out.init(0).tracks.len(), 1);
    assert_eq!(out.init(1).tracks.len(), 2);
    for s in &out.segments {
        let tracks = out.init(s.period).tracks.len();
        assert!(s.media.fragments.iter().all(|f| f.trafs.len() <= tracks), "{}: a track its init lacks", s.name);
    }
    // Each session decodes cleanly on its own, and together they hold every video frame.
    let mut frames = 0;
    for period in 0..2 {
        let segments: Vec<&checks::OutSegment> = out.segments.iter().filter(|s| s.period == period).collect();
        let joined = p.out.join(format!("period{period}.mp4"));
        let mut bytes = std::fs::read(p.out.join(&out.inits[period].0)).expect("init");
        for s in &segments {
            bytes.extend_from_slice(&s.bytes);
        }
        std::fs::write(&joined, bytes).expect("write");
        checks::assert_decodes_cleanly(&joined, &[]);
        frames += media::video_frames(&joined).frames.len();
        std::fs::remove_file(&joined).ok();
    }
    let expected = media::reference(source).video.as_ref().map(|v| v.frames.len());
    assert_eq!(Some(frames), expected, "every video frame is kept");
    assert!(parsed.segments.iter().filter(|s| s.discontinuity_before).count() == 1, "{text}");
}

/// x264 intra refresh (one IDR, then none): chunks are cut anyway at 3× the target, between
/// keyframes, with no frame lost; the playlists drop EXT-X-INDEPENDENT-SEGMENTS, and ffmpeg
/// decodes across the cuts.
#[test]
fn rare_keyframes_rule_intra_refresh_is_cut_anyway_and_keeps_every_frame() {
    let input = fixtures::intra_refresh();
    let bytes = std::fs::read(&input).expect("fixture");
    let p = package_bytes("intra-refresh", &bytes, &[]);
    let (text, parsed) = playlist(&p);
    assert!(!text.contains("#EXT-X-INDEPENDENT-SEGMENTS"), "segments start between keyframes:\n{text}");
    let master = std::fs::read_to_string(p.out.join("master.m3u8")).expect("master");
    assert!(!master.contains("#EXT-X-INDEPENDENT-SEGMENTS"), "{master}");
    assert!(parsed.segments.len() >= 3, "cut at 3× the target, not once at 20 s:\n{text}");
    assert!(parsed.segments.iter().all(|s| s.duration <= 3.0 * DEFAULT_TARGET + 0.1), "{text}");
    assert!(parsed.segments.iter().all(|s| !s.discontinuity_before), "{text}");
    segments_match_their_inits(&p);
    checks::assert_decodes_cleanly(&p.index(), &[]);
    let frames = media::video_frames(&p.index()).frames.len();
    assert_eq!(frames, fixtures::INTRA_REFRESH_FRAMES, "every frame is kept");
}

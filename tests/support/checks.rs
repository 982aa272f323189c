//! Checks shared by the tests: of a `rapidrtmp package` output directory against docs/cli.md,
//! RFC 8216 and ISO/IEC 14496-12, independent of how the packager works inside; and of what a
//! node serves and stores (the local-folder and the S3 tests), against the clip.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mp4_atom::Codec;

use super::fixtures::{AudioSpec, VideoSpec};
use super::hls::{self, Playlist};
use super::media::{self, clip, Clip, Hashes};
use super::mp4::{self, Init, MediaSegment};
use super::node::Node;
use super::proc::{fnv1a, list_files, run};

pub struct OutSegment {
    pub name: String,
    pub period: usize,
    /// EXTINF.
    pub duration: f64,
    pub bytes: Vec<u8>,
    pub media: MediaSegment,
}

/// A decoded output directory.
pub struct Output {
    pub dir: PathBuf,
    pub playlist: Playlist,
    /// Init segment of each period, in order.
    pub inits: Vec<(String, Init)>,
    pub segments: Vec<OutSegment>,
}

impl Output {
    pub fn init(&self, period: usize) -> &Init {
        &self.inits[period].1
    }
}

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// index.m3u8 follows docs/cli.md and RFC 8216: a VOD playlist (version ≥ 6 for EXT-X-MAP),
/// ending with EXT-X-ENDLIST, EXT-X-TARGETDURATION equal to the largest rounded EXTINF,
/// `{s}/init-{f}.mp4` / `{s}/{n}.m4s` paths (n = media sequence from 0, s = session counted by
/// discontinuities, f = the session's first segment), and the directory holds exactly the
/// playlists and the files they name.
pub fn check_playlist_contract(dir: &Path) -> Playlist {
    let text = read_text(&dir.join("index.m3u8"));
    let p = hls::parse_media(&text).unwrap_or_else(|e| panic!("index.m3u8 does not parse: {e}\n{text}"));
    let ctx = format!("index.m3u8:\n{text}");
    assert!(p.version.is_some_and(|v| v >= 6), "EXT-X-MAP needs EXT-X-VERSION ≥ 6; {ctx}");
    assert_eq!(p.playlist_type.as_deref(), Some("VOD"), "EXT-X-PLAYLIST-TYPE:VOD; {ctx}");
    assert!(p.ends_with_endlist, "the playlist must end with #EXT-X-ENDLIST; {ctx}");
    assert!(!p.segments.is_empty(), "no media segments; {ctx}");
    let first_sequence = p.media_sequence.unwrap_or(0);
    assert_eq!(first_sequence, 0, "media sequence numbers start at 0; {ctx}");
    let target = p.target_duration.unwrap_or_else(|| panic!("no EXT-X-TARGETDURATION; {ctx}"));
    let mut max_rounded = 0;
    let mut session_start = 0;
    for (i, s) in p.segments.iter().enumerate() {
        assert!(s.duration > 0.0, "EXTINF of {} is {}; {ctx}", s.uri, s.duration);
        let rounded = s.duration.round() as u64;
        assert!(rounded <= target, "EXTINF {} of {} rounds above TARGETDURATION {target}; {ctx}", s.duration, s.uri);
        max_rounded = max_rounded.max(rounded);
        let n = first_sequence + i as u64;
        if i == 0 || s.discontinuity_before {
            session_start = n;
        }
        let session = s.part;
        assert_eq!(s.uri, format!("{session}/{n}.m4s"), "segment {i} path (session {session}, sequence {n}); {ctx}");
        assert_eq!(
            s.map,
            format!("{session}/init-{session_start}.mp4"),
            "EXT-X-MAP of {} (session {session} starts with segment {session_start}); {ctx}",
            s.uri
        );
    }
    assert_eq!(
        target, max_rounded,
        "TARGETDURATION is the largest rounded EXTINF (hls::MediaPlaylist::target_duration); {ctx}"
    );
    let mut expected: Vec<String> = vec!["index.m3u8".into(), "master.m3u8".into()];
    expected.extend(p.segment_maps());
    expected.extend(p.segments.iter().map(|s| s.uri.clone()));
    expected.sort();
    expected.dedup();
    assert_eq!(list_files(dir), expected, "files in the output directory vs. files the playlists name");
    p
}

/// Decodes every init and media segment strictly (see [`mp4`]).
pub fn decode_output(dir: &Path, playlist: &Playlist) -> Output {
    let inits: Vec<(String, Init)> = playlist
        .segment_maps()
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).unwrap_or_else(|e| panic!("read {name}: {e}"));
            let init = mp4::parse_init(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, init)
        })
        .collect();
    let segments = playlist
        .segments
        .iter()
        .map(|s| {
            let bytes = std::fs::read(dir.join(&s.uri)).unwrap_or_else(|e| panic!("read {}: {e}", s.uri));
            let init = &inits[s.part].1;
            let media = mp4::parse_segment(&bytes, init).unwrap_or_else(|e| panic!("{}: {e}", s.uri));
            OutSegment { name: s.uri.clone(), period: s.part, duration: s.duration, bytes, media }
        })
        .collect();
    Output { dir: dir.to_path_buf(), playlist: playlist.clone(), inits, segments }
}

/// The init segments describe exactly the expected tracks, with the source's parameters.
pub fn check_tracks(out: &Output, video: Option<VideoSpec>, audio: Option<AudioSpec>) {
    for (name, init) in &out.inits {
        let handlers: Vec<&str> = init.tracks.iter().map(|t| t.handler.as_str()).collect();
        let expected = usize::from(video.is_some()) + usize::from(audio.is_some());
        assert_eq!(init.tracks.len(), expected, "{name}: tracks {handlers:?}");
        match (video, init.video()) {
            (Some(v), Some(t)) => {
                let visual = t.codec.visual().unwrap_or_else(|| panic!("{name}: video sample entry {:?}", t.codec));
                assert!(matches!(t.codec, Codec::Avc1(_) | Codec::Avc3(_)), "{name}: H.264 sample entry expected");
                assert_eq!(
                    (u32::from(visual.width), u32::from(visual.height)),
                    (v.width, v.height),
                    "{name}: avc1 size"
                );
            }
            (None, None) => {}
            (v, t) => panic!("{name}: video expected {}, found {}", v.is_some(), t.is_some()),
        }
        match (audio, init.audio()) {
            (Some(a), Some(t)) => {
                let Codec::Mp4a(mp4a) = &t.codec else {
                    panic!("{name}: audio sample entry {:?}, expected mp4a", t.codec)
                };
                assert_eq!(u32::from(mp4a.audio.channel_count), a.channels, "{name}: mp4a channel count");
                assert_eq!(u32::from(mp4a.audio.sample_rate.integer()), a.sample_rate, "{name}: mp4a sample rate");
                let dsi = mp4a.esds.es_desc.dec_config.dec_specific.as_ref();
                assert!(dsi.is_some(), "{name}: esds without AudioSpecificConfig");
            }
            (None, None) => {}
            (a, t) => panic!("{name}: audio expected {}, found {}", a.is_some(), t.is_some()),
        }
    }
}

/// Every media segment starts with a keyframe: the first video sample is flagged sync and is an
/// IDR picture; sync flags match IDR NAL units on every sample; every sample is well-formed
/// length-prefixed NAL units. Without video, the first audio sample is sync.
pub fn check_keyframe_starts(out: &Output) {
    for seg in &out.segments {
        let init = out.init(seg.period);
        if let Some(video) = init.video() {
            let length_size = video.nal_length_size().expect("avcC");
            let samples = seg.media.samples(video.id);
            assert!(!samples.is_empty(), "{}: no video track fragment / samples", seg.name);
            let first_traf = seg.media.fragments[0].trafs.iter().find(|t| t.track_id == video.id);
            assert!(first_traf.is_some_and(|t| !t.samples.is_empty()), "{}: first moof has no video samples", seg.name);
            for (i, s) in samples.iter().enumerate() {
                let data = &seg.bytes[s.offset..s.offset + s.size];
                let nals =
                    mp4::nal_types(data, length_size).unwrap_or_else(|e| panic!("{}: video sample {i}: {e}", seg.name));
                let idr = nals.contains(&5);
                if i == 0 {
                    assert!(s.is_sync(), "{}: first video sample flags {:#010x} mark it non-sync", seg.name, s.flags);
                    assert!(idr, "{}: first video sample is not an IDR picture (NAL types {nals:?})", seg.name);
                }
                assert_eq!(
                    s.is_sync(),
                    idr,
                    "{}: video sample {i}: sync flag vs IDR NAL (flags {:#010x}, NAL types {nals:?})",
                    seg.name,
                    s.flags
                );
            }
        } else {
            let audio = init.audio().expect("an audio or a video track");
            let samples = seg.media.samples(audio.id);
            assert!(!samples.is_empty(), "{}: no audio samples", seg.name);
            assert!(samples[0].is_sync(), "{}: first audio sample flags {:#010x}", seg.name, samples[0].flags);
        }
    }
}

/// Each track's fragments follow each other without gap or overlap (tfdt + durations), moof
/// sequence numbers increase, AAC samples last 1024 samples at the track's rate, and each
/// EXTINF matches the duration of the media in its segment.
pub fn check_timelines(out: &Output) {
    let mut last_sequence: Option<u32> = None;
    for seg in &out.segments {
        for f in &seg.media.fragments {
            if let Some(prev) = last_sequence {
                assert!(f.sequence > prev, "{}: mfhd sequence {} after {prev}", seg.name, f.sequence);
            }
            last_sequence = Some(f.sequence);
        }
    }
    for (period, (init_name, init)) in out.inits.iter().enumerate() {
        let segs: Vec<&OutSegment> = out.segments.iter().filter(|s| s.period == period).collect();
        for track in &init.tracks {
            let mut expected_next: Option<u64> = None;
            let total_samples: usize = segs.iter().map(|s| s.media.samples(track.id).len()).sum();
            let mut seen = 0;
            for seg in &segs {
                for traf in seg.media.trafs(track.id) {
                    let tfdt = traf
                        .decode_time
                        .unwrap_or_else(|| panic!("{}: traf of track {} without tfdt", seg.name, track.id));
                    if let Some(next) = expected_next {
                        assert_eq!(
                            tfdt, next,
                            "{}: track {} ({}) decode time {tfdt}, previous fragment ended at {next} (timescale {})",
                            seg.name, track.id, track.handler, track.timescale
                        );
                    }
                    expected_next = Some(tfdt + traf.duration());
                    for s in &traf.samples {
                        seen += 1;
                        if seen < total_samples {
                            assert!(s.duration > 0, "{}: zero-duration sample of track {}", seg.name, track.id);
                        }
                        if let Codec::Mp4a(mp4a) = &track.codec {
                            let rate = f64::from(mp4a.audio.sample_rate.integer());
                            let pcm = f64::from(s.duration) * rate / f64::from(track.timescale);
                            assert!((pcm - 1024.0).abs() <= 1.0, "{}: AAC sample lasts {} at timescale {} = {pcm:.1} samples at {rate} Hz, expected 1024 ({init_name})", seg.name, s.duration, track.timescale);
                        }
                    }
                }
            }
        }
        // EXTINF against the media in the segment: the video track when there is one (audio
        // may run up to one AAC frame longer or shorter), else the audio track.
        let (track, tolerance) = match (init.video(), init.audio()) {
            (Some(v), Some(_)) => (v, 0.025),
            (Some(v), None) => (v, 0.0015),
            (None, Some(a)) => (a, 0.0015),
            (None, None) => unreachable!(),
        };
        for seg in &segs {
            let media =
                seg.media.trafs(track.id).map(|t| t.duration()).sum::<u64>() as f64 / f64::from(track.timescale);
            let last = std::ptr::eq(*seg, *segs.last().unwrap());
            // The very last sample's duration is a guess on the packager's part; allow one frame.
            let slack = if last { 0.05 } else { 0.0 };
            assert!(
                (seg.duration - media).abs() <= tolerance + slack,
                "{}: EXTINF {} but its {} samples last {media:.4} s",
                seg.name,
                seg.duration,
                track.handler
            );
        }
    }
}

/// master.m3u8 names index.m3u8 once, with BANDWIDTH ≥ the peak segment bit rate, CODECS
/// matching the init segment, RESOLUTION and FRAME-RATE for video.
pub fn check_master(out: &Output, video: Option<VideoSpec>) {
    let text = read_text(&out.dir.join("master.m3u8"));
    let variants = hls::parse_master(&text).unwrap_or_else(|e| panic!("master.m3u8: {e}\n{text}"));
    assert_eq!(variants.len(), 1, "one variant expected:\n{text}");
    let v = &variants[0];
    assert_eq!(v.uri, "index.m3u8", "master.m3u8 must name index.m3u8:\n{text}");
    let bandwidth: u64 = v
        .attr("BANDWIDTH")
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("BANDWIDTH missing or not an integer:\n{text}"));
    let peak = peak_segment_bit_rate(out);
    assert!(
        bandwidth as f64 >= peak * 0.99,
        "BANDWIDTH {bandwidth} below the peak segment bit rate {peak:.0} (RFC 8216 §4.3.4.2: \
         segment file sizes, boxes included):\n{text}"
    );
    if let Some(average) = v.attr("AVERAGE-BANDWIDTH") {
        let average: f64 = average.parse().unwrap_or_else(|_| panic!("AVERAGE-BANDWIDTH not an integer:\n{text}"));
        let bytes: usize = out.segments.iter().map(|s| s.bytes.len()).sum();
        let actual = bytes as f64 * 8.0 / out.playlist.total_duration();
        assert!(
            (average - actual).abs() <= actual * 0.1,
            "AVERAGE-BANDWIDTH {average} vs the average segment bit rate {actual:.0}:\n{text}"
        );
    }
    let codecs: Vec<String> = v
        .attr("CODECS")
        .unwrap_or_else(|| panic!("CODECS missing:\n{text}"))
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let init = out.init(0);
    let mut expected = Vec::new();
    if let Some(t) = init.video() {
        let (entry, avcc) = match &t.codec {
            Codec::Avc1(c) => ("avc1", &c.avcc),
            Codec::Avc3(c) => ("avc3", &c.avcc),
            other => panic!("unexpected video codec {other:?}"),
        };
        expected.push(format!(
            "{entry}.{:02x}{:02x}{:02x}",
            avcc.avc_profile_indication, avcc.profile_compatibility, avcc.avc_level_indication
        ));
    }
    if let Some(t) = init.audio() {
        let Codec::Mp4a(mp4a) = &t.codec else { panic!("unexpected audio codec") };
        let aot = mp4a.esds.es_desc.dec_config.dec_specific.as_ref().map(|d| d.profile).unwrap_or(0);
        assert_eq!(aot, 2, "the fixtures are AAC-LC");
        expected.push(format!("mp4a.40.{aot}"));
    }
    let mut sorted = codecs.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "CODECS vs. the init segment:\n{text}");
    match video {
        Some(vs) => {
            assert_eq!(
                v.attr("RESOLUTION"),
                Some(format!("{}x{}", vs.width, vs.height).as_str()),
                "RESOLUTION:\n{text}"
            );
            let rate: f64 = v
                .attr("FRAME-RATE")
                .and_then(|r| r.parse().ok())
                .unwrap_or_else(|| panic!("FRAME-RATE missing:\n{text}"));
            assert!((rate - f64::from(vs.fps)).abs() < 0.01, "FRAME-RATE {rate}, source {} fps:\n{text}", vs.fps);
        }
        None => {
            assert!(v.attr("RESOLUTION").is_none(), "RESOLUTION on an audio-only stream:\n{text}");
            assert!(v.attr("FRAME-RATE").is_none(), "FRAME-RATE on an audio-only stream:\n{text}");
        }
    }
}

/// RFC 8216 §4.1: the largest bit rate of any run of consecutive segments lasting 0.5 to 1.5
/// times the target duration (size of the segment files over the sum of their EXTINFs).
pub fn peak_segment_bit_rate(out: &Output) -> f64 {
    let target = out.playlist.target_duration.unwrap_or(1) as f64;
    let segs = &out.segments;
    let mut peak: f64 = 0.0;
    for i in 0..segs.len() {
        let (mut bytes, mut secs) = (0usize, 0.0);
        for s in &segs[i..] {
            bytes += s.bytes.len();
            secs += s.duration;
            if secs > 1.5 * target {
                break;
            }
            if secs >= 0.5 * target {
                peak = peak.max(bytes as f64 * 8.0 / secs);
            }
        }
    }
    peak
}

/// Every generic check of an output directory; returns the decoded output.
pub fn check_output(dir: &Path, video: Option<VideoSpec>, audio: Option<AudioSpec>) -> Output {
    let playlist = check_playlist_contract(dir);
    let out = decode_output(dir, &playlist);
    check_tracks(&out, video, audio);
    check_keyframe_starts(&out);
    check_timelines(&out);
    check_master(&out, video);
    assert_decodes_cleanly(&dir.join("index.m3u8"), &[]);
    out
}

/// ffprobe sees exactly one H.264 640x360 video stream and one AAC 48 kHz stereo audio stream.
pub fn assert_probe_matches_clip(url: &str) {
    let (streams, _) = media::probe(url);
    let video: Vec<_> = streams.iter().filter(|s| s.codec_type == "video").collect();
    let audio: Vec<_> = streams.iter().filter(|s| s.codec_type == "audio").collect();
    assert_eq!((video.len(), audio.len()), (1, 1), "ffprobe {url}: {streams:?}");
    let (v, a) = (video[0], audio[0]);
    assert_eq!((v.codec_name.as_str(), v.width, v.height), ("h264", Some(640), Some(360)), "{v:?}");
    assert_eq!((a.codec_name.as_str(), a.sample_rate, a.channels), ("aac", Some(48000), Some(2)), "{a:?}");
}

/// A full decode of `input` (a file, a playlist or a URL) succeeds and prints nothing.
pub fn assert_decodes_cleanly(input: &(impl AsRef<OsStr> + ?Sized), pre_input: &[&str]) {
    let input = input.as_ref();
    let messages = media::decode_messages(input, pre_input);
    let input = input.to_string_lossy();
    assert!(messages.is_empty(), "`ffmpeg -v warning -i {input} -f null -` printed:\n{messages}");
}

/// What ffmpeg 5.1 and ffmpeg 9 each read from `input` (a file, a playlist or a URL), as a
/// player built on them (ffplay, mpv, OBS) would: a full decode prints nothing at `-v warning`
/// (no skipped `moov`, no track without its `trex`, no packet decoded as another track's), and a
/// copy has `expected` packets (video, audio).
pub fn assert_every_ffmpeg_reads(input: &str, expected: (usize, usize)) {
    for (name, make) in [("ffmpeg 5.1", media::ffmpeg as fn() -> std::process::Command), ("ffmpeg 9", media::ffmpeg9)] {
        let decode = run(make().args(["-v", "warning", "-i", input, "-f", "null", "-"]), media::FFMPEG_TIMEOUT).ok();
        let printed = decode.stderr;
        assert!(printed.is_empty(), "{name} decoding {input} printed:\n{printed}");
        let copy = ["-v", "warning", "-i", input, "-c", "copy", "-f", "framecrc", "-"];
        let out = run(make().args(copy), media::FFMPEG_TIMEOUT).ok().stdout_text();
        // framecrc names each stream's type in its header: `#media_type 0: video`.
        let mut kinds = BTreeMap::new();
        for line in out.lines().filter_map(|l| l.strip_prefix("#media_type ")) {
            if let Some((index, kind)) = line.split_once(": ") {
                kinds.insert(index.to_string(), kind.to_string());
            }
        }
        let count = |kind: &str| {
            let of_kind =
                |l: &&str| l.split_once(',').is_some_and(|(i, _)| kinds.get(i.trim()).is_some_and(|k| k == kind));
            out.lines().filter(|l| !l.starts_with('#')).filter(of_kind).count()
        };
        assert_eq!(
            (count("video"), count("audio")),
            expected,
            "{name} copying {input}: (video, audio) packets; streams {kinds:?}"
        );
    }
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
    assert_plays_like(node, key, clip())
}

/// [`assert_plays_like_the_clip`] with another clip.
pub fn assert_plays_like(node: &Node, key: &str, clip: &Clip) -> Playlist {
    let playlist = node.wait_playlist(key, "#EXT-X-ENDLIST", Duration::from_secs(15), |p| p.ended);
    playlist.assert_well_formed();
    assert_eq!(playlist.discontinuities, 0, "one publish, one session:\n{}", playlist.text);
    let url = node.playlist_url(key);
    assert_probe_matches_clip(&url);
    assert_decodes_cleanly(&url, &[]);
    assert_frames_equal(&url, &[], &clip.hashes);
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
            } else if !e.file_name().to_string_lossy().starts_with(".lock-") {
                // (Lock files are the folder store's own, beside the objects written
                // conditionally.)
                let data = std::fs::read(&p).unwrap_or_default();
                let hash = fnv1a(&data);
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, (data.len() as u64, hash));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A stream's objects but its owner record (which changes as the stream's ownership is taken,
/// renewed and released): what its publishes wrote.
pub fn media_objects(stream_dir: &Path) -> BTreeMap<String, (u64, u64)> {
    let mut t = tree(stream_dir);
    t.remove("owner.json");
    t
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
    // Besides chunks: the manifest, the owner record and the archive's index (buckets and
    // session records, docs/storage.md "Archive").
    let index = |k: &str| k.ends_with(".json") && (k.starts_with("archive/") || k.starts_with("sessions/"));
    let others: Vec<&String> = files
        .keys()
        .filter(|k| !k.ends_with(".flv") && !["manifest.json", "owner.json"].contains(&k.as_str()) && !index(k))
        .collect();
    assert!(others.is_empty(), "unexpected objects under {}: {others:?}", stream_dir.display());
    let mut all = Hashes { video: Vec::new(), audio: Vec::new() };
    let mut total = 0;
    for name in &expected {
        let path = stream_dir.join(name);
        let data = std::fs::read(&path).unwrap();
        total += data.len() as u64;
        assert!(data.starts_with(b"FLV\x01"), "{} is not an FLV file", path.display());
        let decoded = media::frame_hashes(&path, &[]);
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

/// The hls.js ERROR events of a live playback that a healthy one does not have. Allowed: the
/// skip of the gap between where a live start seeks to and the first buffered frame
/// (`bufferSeekOverHole` within a second of `start`, the playback position it started at), and
/// one brief stall (a non-fatal `bufferStalledError`, and the `bufferNudgeOnStall` hls.js may
/// recover from it with): a Low-Latency player plays about a second behind the live edge, and on
/// a busy machine the next part can come a moment late.
pub fn unexpected_hls_errors(errors: &[serde_json::Value], start: Option<f64>) -> Vec<serde_json::Value> {
    let stalls = errors.iter().filter(|e| e["details"] == "bufferStalledError").count();
    errors
        .iter()
        .filter(|e| {
            let at = e["at"].as_f64();
            let seek_at_start =
                e["details"] == "bufferSeekOverHole" && at.zip(start).is_some_and(|(t, s)| (t - s).abs() < 1.0);
            let one_stall = stalls == 1
                && e["fatal"] == false
                && (e["details"] == "bufferStalledError" || e["details"] == "bufferNudgeOnStall");
            !(seek_at_start || one_stall)
        })
        .cloned()
        .collect()
}

//! How HLS playlists are written (RFC 8216 and draft-pantos-hls-rfc8216bis): the text of a
//! media playlist, with the Low-Latency HLS tags when it lists parts (§4.4.4.9, §4.4.5.2,
//! §4.4.3.7–8), and of a multivariant playlist; the URIs they list. What a stream's playlists
//! list is decided above this module, by playlist policy.

use alloc::{format, string::String, vec::Vec};
use core::fmt::Write;

use crate::date::iso8601;

/// The URI of a session's init segment, relative to the media playlist. It names the session's
/// first chunk, which the init segment is built from.
pub fn init_uri(session: impl core::fmt::Display, first_sequence: u64) -> String {
    format!("{session}/init-{first_sequence}.mp4")
}

/// The URI of media segment `sequence` of `session`, relative to the media playlist.
pub fn segment_uri(session: impl core::fmt::Display, sequence: u64) -> String {
    format!("{session}/{sequence}.m4s")
}

/// The URI of part `index` of media segment `sequence` of `session`, relative to the media
/// playlist.
pub fn part_uri(session: impl core::fmt::Display, sequence: u64, index: u32) -> String {
    format!("{session}/{sequence}.{index}.m4s")
}

/// Most digits of a number in a URI: `u64::MAX` has 20.
pub const MAX_NUMBER_DIGITS: usize = 20;

/// A number of a URI (a sequence number, a part index, `_HLS_msn`): canonical decimal only, the
/// one spelling `format!("{n}")` gives (digits, no sign, no leading zero, at most
/// [`MAX_NUMBER_DIGITS`], at most `u64::MAX`), so that every object has one URL and a cache
/// keeps one copy of it.
pub fn parse_uri_number(s: &str) -> Option<u64> {
    let canonical = match s.as_bytes() {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        digits => digits.len() <= MAX_NUMBER_DIGITS && digits.iter().all(u8::is_ascii_digit),
    };
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

/// The session and first chunk an [`init_uri`] names; `None` for any other URI.
pub fn parse_init_uri(uri: &str) -> Option<(&str, u64)> {
    let (session, file) = uri.split_once('/')?;
    let sequence = file.strip_prefix("init-")?.strip_suffix(".mp4")?;
    Some((session, parse_uri_number(sequence)?))
}

/// One `EXT-X-PART` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The part's URI.
    pub uri: String,
    /// Its duration in milliseconds.
    pub duration_ms: u64,
    /// It starts with a keyframe: `INDEPENDENT=YES`.
    pub independent: bool,
}

/// `PART-HOLD-BACK` in part targets: two, the least the spec allows (§4.4.3.8: at least two,
/// three recommended). Players start this far from the live edge and, at their default
/// playback rate (hls.js, shaka-player), stay there plus the time they took to start (0.3 to
/// 0.5 s measured in Chromium): with three, hls.js played 1.4 s behind the edge with 333 ms
/// parts. Parts are complete when listed and the hinted part is held until it is, so a player
/// two parts behind still has a part in hand while the next one is cut.
pub const PART_HOLD_BACK_TARGETS: u64 = 2;

/// What a Low-Latency HLS playlist says beyond a standard one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowLatency {
    /// `EXT-X-PART-INF:PART-TARGET`: no part lasts longer.
    pub part_target_ms: u64,
    /// `EXT-X-PRELOAD-HINT:TYPE=PART`: the URI of the next part.
    pub preload_hint: Option<String>,
    /// `EXT-X-SKIP:SKIPPED-SEGMENTS`: segments left out in front (a delta update, §6.2.5.1).
    pub skipped_segments: u64,
}

impl LowLatency {
    /// `PART-HOLD-BACK`: [`PART_HOLD_BACK_TARGETS`] part targets (§4.4.3.8).
    pub fn part_hold_back_ms(&self) -> u64 {
        PART_HOLD_BACK_TARGETS * self.part_target_ms
    }
}

/// `HOLD-BACK`: three target durations (§4.4.3.8).
pub fn hold_back_ms(target_duration_s: u64) -> u64 {
    3 * target_duration_s * 1000
}

/// `CAN-SKIP-UNTIL`: six target durations, the least the spec allows (§4.4.3.8).
pub fn can_skip_until_ms(target_duration_s: u64) -> u64 {
    6 * target_duration_s * 1000
}

/// One `EXTINF` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The segment's URI.
    pub uri: String,
    /// Its duration in milliseconds.
    pub duration_ms: u64,
    /// An `EXT-X-DISCONTINUITY` precedes it.
    pub discontinuity: bool,
    /// An `EXT-X-MAP` with this URI precedes it: the first segment, and wherever the init
    /// segment changes (a map holds across discontinuities until the next one, §4.3.2.5).
    pub map: Option<String>,
    /// Wall-clock time of its first sample, milliseconds since the Unix epoch
    /// (`EXT-X-PROGRAM-DATE-TIME`), when known.
    pub program_date_time_ms: Option<u64>,
    /// Its parts (`EXT-X-PART`), listed before it (LL-HLS).
    pub parts: Vec<Part>,
    /// It is still being cut: only its parts are listed, without `EXTINF` (LL-HLS; the last
    /// segment only).
    pub open: bool,
}

/// `EXT-X-PLAYLIST-TYPE` (RFC 8216 §4.3.3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistType {
    /// The playlist never changes.
    Vod,
    /// Segments are only appended.
    Event,
}

/// A media playlist (RFC 8216 §4.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlaylist {
    /// `EXT-X-MEDIA-SEQUENCE`: the sequence number of the first segment.
    pub media_sequence: u64,
    /// `EXT-X-DISCONTINUITY-SEQUENCE`: discontinuities before the first segment.
    pub discontinuity_sequence: u64,
    /// `EXT-X-PLAYLIST-TYPE`, if any.
    pub playlist_type: Option<PlaylistType>,
    /// The segments, in order.
    pub segments: Vec<Segment>,
    /// `EXT-X-ENDLIST`: no segment will be added.
    pub ended: bool,
    /// `EXT-X-INDEPENDENT-SEGMENTS` (RFC 8216bis §4.3.5.1): every segment starts with a
    /// keyframe. False for a stream with rare keyframes, whose chunks are cut between them.
    pub independent_segments: bool,
    /// The Low-Latency HLS tags, if it lists parts.
    pub low_latency: Option<LowLatency>,
}

impl Default for MediaPlaylist {
    fn default() -> Self {
        Self {
            media_sequence: 0,
            discontinuity_sequence: 0,
            playlist_type: None,
            segments: Vec::new(),
            ended: false,
            independent_segments: true,
            low_latency: None,
        }
    }
}

/// `EXTINF` value: milliseconds as decimal seconds.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

impl MediaPlaylist {
    /// `EXT-X-TARGETDURATION`: the largest `EXTINF` rounded to the nearest second (at least 1),
    /// never a configured value, since segments cut at keyframes run long.
    pub fn target_duration(&self) -> u64 {
        let complete = self.segments.iter().filter(|s| !s.open);
        complete.map(|s| (s.duration_ms + 500) / 1000).max().unwrap_or(0).max(1)
    }

    /// Renders the playlist.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(256 + self.segments.len() * 64);
        let target = self.target_duration();
        // EXT-X-SKIP needs version 9 (§7); a Low-Latency playlist says 9 whether it skips or not.
        let version = if self.low_latency.is_some() { 9 } else { 7 };
        let _ = write!(s, "#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{target}\n");
        if let Some(ll) = &self.low_latency {
            let _ = writeln!(
                s,
                "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL={},HOLD-BACK={},PART-HOLD-BACK={}",
                seconds(can_skip_until_ms(target)),
                seconds(hold_back_ms(target)),
                seconds(ll.part_hold_back_ms())
            );
            let _ = writeln!(s, "#EXT-X-PART-INF:PART-TARGET={}", seconds(ll.part_target_ms));
        }
        let _ = writeln!(s, "#EXT-X-MEDIA-SEQUENCE:{}", self.media_sequence);
        let _ = writeln!(s, "#EXT-X-DISCONTINUITY-SEQUENCE:{}", self.discontinuity_sequence);
        match self.playlist_type {
            Some(PlaylistType::Vod) => s.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n"),
            Some(PlaylistType::Event) => s.push_str("#EXT-X-PLAYLIST-TYPE:EVENT\n"),
            None => {}
        }
        if self.independent_segments {
            s.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
        }
        if let Some(ll) = self.low_latency.as_ref().filter(|ll| ll.skipped_segments > 0) {
            let _ = writeln!(s, "#EXT-X-SKIP:SKIPPED-SEGMENTS={}", ll.skipped_segments);
        }
        for seg in &self.segments {
            if seg.discontinuity {
                s.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if let Some(map) = &seg.map {
                let _ = writeln!(s, "#EXT-X-MAP:URI=\"{map}\"");
            }
            if let Some(t) = seg.program_date_time_ms {
                let _ = writeln!(s, "#EXT-X-PROGRAM-DATE-TIME:{}", iso8601(t));
            }
            for part in &seg.parts {
                let _ = write!(s, "#EXT-X-PART:DURATION={},URI=\"{}\"", seconds(part.duration_ms), part.uri);
                s.push_str(if part.independent { ",INDEPENDENT=YES\n" } else { "\n" });
            }
            if !seg.open {
                let _ = writeln!(s, "#EXTINF:{},\n{}", seconds(seg.duration_ms), seg.uri);
            }
        }
        if let Some(hint) = self.low_latency.as_ref().and_then(|ll| ll.preload_hint.as_ref()) {
            let _ = writeln!(s, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{hint}\"");
        }
        if self.ended {
            s.push_str("#EXT-X-ENDLIST\n");
        }
        s
    }
}

/// One `EXT-X-STREAM-INF` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The media playlist's URI.
    pub uri: String,
    /// `BANDWIDTH`: peak segment bit rate, bits per second.
    pub bandwidth: u64,
    /// `AVERAGE-BANDWIDTH`, bits per second.
    pub average_bandwidth: Option<u64>,
    /// `CODECS` (RFC 6381).
    pub codecs: String,
    /// `RESOLUTION`.
    pub resolution: Option<(u32, u32)>,
    /// `FRAME-RATE`.
    pub frame_rate: Option<f64>,
    /// `AUDIO`: the group of [`AudioRendition`]s it plays with.
    pub audio: Option<String>,
}

/// One `EXT-X-MEDIA:TYPE=AUDIO` entry (RFC 8216bis §4.4.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioRendition {
    /// `GROUP-ID`.
    pub group: String,
    /// `NAME`: unique in the group.
    pub name: String,
    /// `URI` of its media playlist; `None` when its audio is in the variants' own segments.
    pub uri: Option<String>,
    /// `DEFAULT=YES`: played unless the viewer chooses another.
    pub default: bool,
}

/// Renders a multivariant playlist (RFC 8216 §4.3.4). `independent_segments`: every segment
/// of every variant starts with a keyframe (`EXT-X-INDEPENDENT-SEGMENTS`, RFC 8216bis §4.3.5.1).
pub fn render_multivariant(variants: &[Variant], audio: &[AudioRendition], independent_segments: bool) -> String {
    let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:7\n");
    if independent_segments {
        s.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
    for a in audio {
        let yes_no = |b: bool| if b { "YES" } else { "NO" };
        let _ = write!(
            s,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{}\",NAME=\"{}\",DEFAULT={},AUTOSELECT=YES",
            a.group,
            a.name,
            yes_no(a.default)
        );
        if let Some(uri) = &a.uri {
            let _ = write!(s, ",URI=\"{uri}\"");
        }
        s.push('\n');
    }
    for v in variants {
        let _ = write!(s, "#EXT-X-STREAM-INF:BANDWIDTH={}", v.bandwidth.max(1));
        if let Some(avg) = v.average_bandwidth {
            let _ = write!(s, ",AVERAGE-BANDWIDTH={}", avg.max(1));
        }
        let _ = write!(s, ",CODECS=\"{}\"", v.codecs);
        if let Some((w, h)) = v.resolution {
            let _ = write!(s, ",RESOLUTION={w}x{h}");
        }
        if let Some(fps) = v.frame_rate {
            let _ = write!(s, ",FRAME-RATE={:.3}", fps);
        }
        if let Some(group) = &v.audio {
            let _ = write!(s, ",AUDIO=\"{group}\"");
        }
        let _ = writeln!(s, "\n{}", v.uri);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn seg(n: u64, ms: u64) -> Segment {
        Segment {
            uri: segment_uri(0, n),
            duration_ms: ms,
            discontinuity: false,
            map: None,
            program_date_time_ms: None,
            parts: vec![],
            open: false,
        }
    }

    #[test]
    fn target_duration_is_the_largest_rounded_extinf() {
        let mut p = MediaPlaylist { segments: vec![seg(0, 2000), seg(1, 3499)], ..Default::default() };
        assert_eq!(p.target_duration(), 3);
        p.segments.push(seg(2, 3500));
        assert_eq!(p.target_duration(), 4);
    }

    #[test]
    fn renders_vod_playlist_with_discontinuity_and_map() {
        let mut s1 = seg(1, 1500);
        s1.discontinuity = true;
        s1.map = Some(init_uri(1, 1));
        s1.uri = segment_uri(1, 1);
        let mut s0 = seg(0, 2002);
        s0.map = Some(init_uri(0, 0));
        s0.program_date_time_ms = Some(1_700_000_000_123);
        let p = MediaPlaylist {
            playlist_type: Some(PlaylistType::Vod),
            segments: vec![s0, s1],
            ended: true,
            ..Default::default()
        };
        assert_eq!(
            p.render(),
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-MAP:URI=\"0/init-0.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.123Z\n\
             #EXTINF:2.002,\n0/0.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"1/init-1.mp4\"\n\
             #EXTINF:1.500,\n1/1.m4s\n#EXT-X-ENDLIST\n"
        );
    }

    #[test]
    fn multivariant_lists_codecs_resolution_and_rate() {
        let v = Variant {
            uri: "index.m3u8".into(),
            bandwidth: 2_500_000,
            average_bandwidth: Some(2_000_000),
            codecs: "avc1.64001F,mp4a.40.2".into(),
            resolution: Some((1280, 720)),
            frame_rate: Some(30.0),
            audio: None,
        };
        assert_eq!(
            render_multivariant(&[v], &[], true),
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=2500000,\
             AVERAGE-BANDWIDTH=2000000,CODECS=\"avc1.64001F,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=30.000\n\
             index.m3u8\n"
        );
    }

    #[test]
    fn multivariant_with_an_audio_group() {
        let v = |uri: &str| Variant {
            uri: uri.into(),
            bandwidth: 800_000,
            average_bandwidth: None,
            codecs: "avc1.64001E,mp4a.40.2".into(),
            resolution: None,
            frame_rate: None,
            audio: Some("audio".into()),
        };
        let main = AudioRendition { group: "audio".into(), name: "a0".into(), uri: None, default: true };
        let other = AudioRendition {
            uri: Some("../cam_a1/index.m3u8".into()),
            name: "a1".into(),
            default: false,
            ..main.clone()
        };
        assert_eq!(
            render_multivariant(&[v("index.m3u8"), v("../cam_v1/index.m3u8")], &[main, other], false),
            "#EXTM3U\n#EXT-X-VERSION:7\n\
             #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"a0\",DEFAULT=YES,AUTOSELECT=YES\n\
             #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"a1\",DEFAULT=NO,AUTOSELECT=YES,URI=\"../cam_a1/index.m3u8\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS=\"avc1.64001E,mp4a.40.2\",AUDIO=\"audio\"\nindex.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS=\"avc1.64001E,mp4a.40.2\",AUDIO=\"audio\"\n../cam_v1/index.m3u8\n"
        );
    }
}

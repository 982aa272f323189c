//! Media playlist parsing, and sub-playlists of one publishing session for ffmpeg.

use std::path::Path;

/// One media segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The URI as written (relative to the playlist).
    pub uri: String,
    /// EXTINF, seconds.
    pub duration: f64,
    /// The EXT-X-MAP URI in force.
    pub map: String,
    /// Index of the part (publishing session): 0, then +1 after each EXT-X-DISCONTINUITY.
    pub part: usize,
}

/// A parsed media playlist.
#[derive(Debug, Clone)]
pub struct Playlist {
    pub text: String,
    pub target_duration: Option<u64>,
    pub media_sequence: Option<u64>,
    pub segments: Vec<Segment>,
    /// EXT-X-MAP URIs in order of appearance.
    pub maps: Vec<String>,
    pub discontinuities: usize,
    pub ended: bool,
}

impl Playlist {
    /// Parses `text`; panics (with the text) if it is not a media playlist.
    pub fn parse(text: &str) -> Playlist {
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("#EXTM3U"), "not a playlist:\n{text}");
        let mut p = Playlist {
            text: text.to_string(),
            target_duration: None,
            media_sequence: None,
            segments: Vec::new(),
            maps: Vec::new(),
            discontinuities: 0,
            ended: false,
        };
        let mut map = String::new();
        let mut duration = None;
        for line in lines {
            let line = line.trim_end();
            if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
                p.target_duration = Some(v.parse().unwrap_or_else(|_| panic!("bad {line:?}")));
            } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
                p.media_sequence = Some(v.parse().unwrap_or_else(|_| panic!("bad {line:?}")));
            } else if let Some(v) = line.strip_prefix("#EXT-X-MAP:") {
                let uri = v
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("URI="))
                    .unwrap_or_else(|| panic!("EXT-X-MAP without URI: {line:?}"));
                map = uri.trim_matches('"').to_string();
                p.maps.push(map.clone());
            } else if line == "#EXT-X-DISCONTINUITY" {
                p.discontinuities += 1;
            } else if let Some(v) = line.strip_prefix("#EXTINF:") {
                let d = v.split(',').next().unwrap_or("");
                duration = Some(d.parse::<f64>().unwrap_or_else(|_| panic!("bad {line:?}")));
            } else if line == "#EXT-X-ENDLIST" {
                p.ended = true;
            } else if !line.is_empty() && !line.starts_with('#') {
                let duration = duration.take().unwrap_or_else(|| panic!("segment {line} without EXTINF:\n{text}"));
                assert!(!map.is_empty(), "segment {line} without EXT-X-MAP:\n{text}");
                p.segments.push(Segment { uri: line.to_string(), duration, map: map.clone(), part: p.discontinuities });
            }
        }
        p
    }

    /// Every URI the playlist names (init sections, then segments), relative to it.
    pub fn uris(&self) -> Vec<String> {
        let mut v = self.maps.clone();
        v.extend(self.segments.iter().map(|s| s.uri.clone()));
        v
    }

    /// Writes a VOD playlist of part `part` only, with absolute URIs under `base` (the folder URL
    /// of this playlist, ending in `/`), for ffmpeg (`-protocol_whitelist file,http,tcp`).
    pub fn write_part(&self, part: usize, base: &str, out: &Path) {
        let segs: Vec<&Segment> = self.segments.iter().filter(|s| s.part == part).collect();
        assert!(!segs.is_empty(), "part {part} has no segments:\n{}", self.text);
        let target = segs.iter().map(|s| s.duration.round() as u64).max().unwrap_or(1).max(1);
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-PLAYLIST-TYPE:VOD\n\
             #EXT-X-MAP:URI=\"{base}{}\"\n",
            segs[0].map
        );
        for s in &segs {
            assert_eq!(s.map, segs[0].map, "one part, one init section");
            text.push_str(&format!("#EXTINF:{:.3},\n{base}{}\n", s.duration, s.uri));
        }
        text.push_str("#EXT-X-ENDLIST\n");
        std::fs::write(out, text).unwrap();
    }

    /// Checks the rules every playlist we serve must follow: EXTINF rounded never above
    /// TARGETDURATION, an EXT-X-MAP first and at most one per part, positive durations.
    pub fn assert_well_formed(&self) {
        let target = self.target_duration.unwrap_or_else(|| panic!("no EXT-X-TARGETDURATION:\n{}", self.text));
        for s in &self.segments {
            assert!(s.duration > 0.0, "EXTINF {} of {}:\n{}", s.duration, s.uri, self.text);
            assert!(
                s.duration.round() as u64 <= target,
                "EXTINF {} of {} rounds above EXT-X-TARGETDURATION {target}:\n{}",
                s.duration,
                s.uri,
                self.text
            );
        }
        assert!(
            (1..=self.discontinuities + 1).contains(&self.maps.len()),
            "an EXT-X-MAP first, and at most one per session:\n{}",
            self.text
        );
        let first_tag = self.text.lines().find(|l| l.starts_with("#EXT-X-MAP") || l.starts_with("#EXTINF"));
        assert!(
            first_tag.is_some_and(|l| l.starts_with("#EXT-X-MAP")),
            "EXT-X-MAP before the first segment:\n{}",
            self.text
        );
    }
}

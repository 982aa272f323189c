//! HLS playlist parsing (RFC 8216), strict enough to catch malformed output: media playlists
//! (with the publishing sessions between EXT-X-DISCONTINUITY tags, and a sub-playlist of one
//! session for ffmpeg) and the EXT-X-STREAM-INF entries of a multivariant playlist.

use std::path::Path;

/// One media segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The URI as written (relative to the playlist).
    pub uri: String,
    /// EXTINF, seconds.
    pub duration: f64,
    /// The EXT-X-MAP URI in force (empty before the first EXT-X-MAP).
    pub map: String,
    /// Index of the part (publishing session): 0, then +1 after each EXT-X-DISCONTINUITY.
    pub part: usize,
    /// An EXT-X-DISCONTINUITY stands right before this segment.
    pub discontinuity_before: bool,
}

/// A parsed media playlist.
#[derive(Debug, Clone, Default)]
pub struct Playlist {
    pub text: String,
    pub version: Option<u32>,
    pub target_duration: Option<u64>,
    pub media_sequence: Option<u64>,
    pub playlist_type: Option<String>,
    pub segments: Vec<Segment>,
    /// EXT-X-MAP URIs in order of appearance (one per tag).
    pub maps: Vec<String>,
    pub discontinuities: usize,
    /// `#EXT-X-ENDLIST` is present.
    pub ended: bool,
    /// `#EXT-X-ENDLIST` is present and is the last non-empty line.
    pub ends_with_endlist: bool,
}

fn tag_value<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    line.strip_prefix(tag)?.strip_prefix(':')
}

/// The part the playlist's `EXT-X-PRELOAD-HINT` names: (session, segment sequence, part index).
pub fn preload_hint(text: &str) -> (String, u64, u32) {
    let line = text
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:TYPE=PART,URI="))
        .unwrap_or_else(|| panic!("no hint:\n{text}"));
    let uri = line.split('"').nth(1).expect("a quoted URI");
    let (session, file) = uri.split_once('/').expect("session/file");
    let (seq, part) = file.strip_suffix(".m4s").and_then(|f| f.split_once('.')).expect("seq.part.m4s");
    (session.to_string(), seq.parse().expect("seq"), part.parse().expect("part"))
}

/// Parses `NAME=VALUE,NAME="quoted, value",…` into (name, value) pairs, quotes removed.
pub fn parse_attributes(list: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or_else(|| format!("attribute without '=' in {list:?}"))?;
        let name = rest[..eq].trim().to_string();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-') {
            return Err(format!("bad attribute name {name:?} in {list:?}"));
        }
        rest = &rest[eq + 1..];
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').ok_or_else(|| format!("unterminated quote in {list:?}"))?;
            value = quoted[..end].to_string();
            rest = &quoted[end + 1..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].to_string();
            rest = &rest[end..];
        }
        out.push((name, value));
        rest = match rest.strip_prefix(',') {
            Some(r) => r,
            None if rest.is_empty() => rest,
            None => return Err(format!("junk after attribute value in {list:?}")),
        };
    }
    Ok(out)
}

pub fn attribute<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// Parses a media playlist; an error says what is malformed.
pub fn parse_media(text: &str) -> Result<Playlist, String> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    if lines.first() != Some(&"#EXTM3U") {
        return Err("first line is not #EXTM3U".into());
    }
    let mut p = Playlist { text: text.to_string(), ..Playlist::default() };
    let mut pending_duration: Option<f64> = None;
    let mut pending_discontinuity = false;
    let mut map = String::new();
    let mut endlist_at = None;
    let last_nonempty = lines.iter().rposition(|l| !l.trim().is_empty()).unwrap_or(0);
    for (i, line) in lines.iter().enumerate().skip(1) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(v) = tag_value(line, "#EXT-X-VERSION") {
            p.version = Some(v.parse().map_err(|_| format!("bad version {v:?}"))?);
        } else if let Some(v) = tag_value(line, "#EXT-X-TARGETDURATION") {
            p.target_duration = Some(v.parse().map_err(|_| format!("TARGETDURATION must be an integer: {v:?}"))?);
        } else if let Some(v) = tag_value(line, "#EXT-X-MEDIA-SEQUENCE") {
            p.media_sequence = Some(v.parse().map_err(|_| format!("bad MEDIA-SEQUENCE {v:?}"))?);
        } else if let Some(v) = tag_value(line, "#EXT-X-PLAYLIST-TYPE") {
            p.playlist_type = Some(v.to_string());
        } else if let Some(v) = tag_value(line, "#EXT-X-MAP") {
            let attrs = parse_attributes(v)?;
            map = attribute(&attrs, "URI").ok_or("EXT-X-MAP without URI")?.to_string();
            p.maps.push(map.clone());
        } else if let Some(v) = tag_value(line, "#EXTINF") {
            let d = v.split(',').next().unwrap_or_default();
            let d: f64 = d.parse().map_err(|_| format!("bad EXTINF {v:?}"))?;
            if pending_duration.replace(d).is_some() {
                return Err(format!("two EXTINF in a row at line {}", i + 1));
            }
        } else if line == "#EXT-X-DISCONTINUITY" {
            pending_discontinuity = true;
            p.discontinuities += 1;
        } else if line == "#EXT-X-ENDLIST" {
            p.ended = true;
            endlist_at = Some(i);
        } else if line.starts_with('#') {
            // Other tags (EXT-X-INDEPENDENT-SEGMENTS, …) and comments.
        } else {
            let duration =
                pending_duration.take().ok_or_else(|| format!("URI {line:?} at line {} without EXTINF", i + 1))?;
            p.segments.push(Segment {
                uri: line.to_string(),
                duration,
                map: map.clone(),
                part: p.discontinuities,
                discontinuity_before: std::mem::take(&mut pending_discontinuity),
            });
        }
    }
    if pending_duration.is_some() {
        return Err("EXTINF without a URI at the end".into());
    }
    p.ends_with_endlist = endlist_at == Some(last_nonempty);
    Ok(p)
}

impl Playlist {
    /// Parses a media playlist whose segments all have an EXT-X-MAP; panics (with the text)
    /// otherwise.
    pub fn parse(text: &str) -> Playlist {
        let p = parse_media(text).unwrap_or_else(|e| panic!("not a media playlist: {e}:\n{text}"));
        if let Some(s) = p.segments.iter().find(|s| s.map.is_empty()) {
            panic!("segment {} without EXT-X-MAP:\n{text}", s.uri);
        }
        p
    }

    /// Distinct EXT-X-MAP URIs of the segments in order (a URI in force for consecutive
    /// segments counts once).
    pub fn segment_maps(&self) -> Vec<String> {
        let mut maps: Vec<String> = Vec::new();
        for s in self.segments.iter().filter(|s| !s.map.is_empty()) {
            if maps.last() != Some(&s.map) {
                maps.push(s.map.clone());
            }
        }
        maps
    }

    /// The sum of the EXTINF durations, seconds.
    pub fn total_duration(&self) -> f64 {
        self.segments.iter().map(|s| s.duration).sum()
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

#[derive(Clone, Debug)]
pub struct Variant {
    pub attrs: Vec<(String, String)>,
    pub uri: String,
}

impl Variant {
    pub fn attr(&self, name: &str) -> Option<&str> {
        attribute(&self.attrs, name)
    }
}

/// The EXT-X-STREAM-INF entries of a multivariant playlist.
pub fn parse_master(text: &str) -> Result<Vec<Variant>, String> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
    if lines.first() != Some(&"#EXTM3U") {
        return Err("first line is not #EXTM3U".into());
    }
    let mut variants = Vec::new();
    let mut i = 1;
    while i < lines.len() {
        if let Some(v) = tag_value(lines[i], "#EXT-X-STREAM-INF") {
            let uri = lines.get(i + 1).ok_or("EXT-X-STREAM-INF without a URI line")?;
            if uri.starts_with('#') {
                return Err(format!("EXT-X-STREAM-INF followed by {uri:?}, not a URI"));
            }
            variants.push(Variant { attrs: parse_attributes(v)?, uri: uri.to_string() });
            i += 2;
        } else if lines[i].starts_with("#EXTINF") {
            return Err("a media segment in the multivariant playlist".into());
        } else {
            i += 1;
        }
    }
    Ok(variants)
}

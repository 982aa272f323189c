//! HLS playlist parsing (RFC 8216), strict enough to catch malformed output.

#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub duration: f64,
    pub uri: String,
    /// URI of the EXT-X-MAP in force.
    pub map: Option<String>,
    /// Number of EXT-X-DISCONTINUITY tags before this segment (the period index).
    pub period: usize,
    pub discontinuity_before: bool,
}

#[derive(Clone, Debug, Default)]
pub struct MediaPlaylist {
    pub version: Option<u32>,
    pub target_duration: Option<u64>,
    pub media_sequence: Option<u64>,
    pub playlist_type: Option<String>,
    pub segments: Vec<Segment>,
    pub discontinuities: usize,
    /// `#EXT-X-ENDLIST` is present and is the last non-empty line.
    pub ends_with_endlist: bool,
}

impl MediaPlaylist {
    /// Distinct EXT-X-MAP URIs in order.
    pub fn maps(&self) -> Vec<String> {
        let mut maps: Vec<String> = Vec::new();
        for s in &self.segments {
            if let Some(m) = &s.map {
                if maps.last() != Some(m) {
                    maps.push(m.clone());
                }
            }
        }
        maps
    }

    pub fn total_duration(&self) -> f64 {
        self.segments.iter().map(|s| s.duration).sum()
    }
}

fn tag_value<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    line.strip_prefix(tag)?.strip_prefix(':')
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

pub fn parse_media(text: &str) -> Result<MediaPlaylist, String> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    if lines.first() != Some(&"#EXTM3U") {
        return Err("first line is not #EXTM3U".into());
    }
    let mut p = MediaPlaylist::default();
    let mut pending_duration: Option<f64> = None;
    let mut pending_discontinuity = false;
    let mut map: Option<String> = None;
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
            map = Some(attribute(&attrs, "URI").ok_or("EXT-X-MAP without URI")?.to_string());
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
            endlist_at = Some(i);
        } else if line.starts_with('#') {
            // Other tags (EXT-X-INDEPENDENT-SEGMENTS, …) and comments.
        } else {
            let duration =
                pending_duration.take().ok_or_else(|| format!("URI {line:?} at line {} without EXTINF", i + 1))?;
            p.segments.push(Segment {
                duration,
                uri: line.to_string(),
                map: map.clone(),
                period: p.discontinuities,
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

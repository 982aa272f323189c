//! The chunk file: one immutable object per segment in the store (`docs/storage.md`, "Chunk").
//!
//! A chunk is a complete FLV file that plays on its own (one cut between keyframes plays after
//! the chunk before it):
//!
//! 1. the FLV header and `PreviousTagSize0`;
//! 2. an `onMetaData` script tag whose AMF0 object has the standard `duration` (seconds) and
//!    `rapidrtmpVersion` (1), `rapidrtmpSession`, `rapidrtmpSequence`, `rapidrtmpStart`,
//!    `rapidrtmpDuration`, `rapidrtmpOffset` (when not 0), `rapidrtmpIndependent` (false, only on
//!    a chunk cut between keyframes) and, with audio, `rapidrtmpAudioAnchor` (milliseconds on the
//!    session timeline; a tag's time on it is its unwrapped timestamp plus the offset; the anchor
//!    is the session's first audio frame), so a segment can be built from the chunk alone
//!    (players read it as ordinary metadata); a chunk cut into parts ([`super::parts`]) also
//!    has `rapidrtmpParts`, a strict array with one strict array per part: index of its first
//!    tag (counted from the first tag after the sequence headers), number of tags, start and
//!    duration (milliseconds), and whether it is independent (boolean);
//! 3. the session's sequence headers (video, then audio);
//! 4. the tags as the publisher sent them, from a keyframe up to the next cut (or, for a chunk cut
//!    between keyframes, from the frame after the last chunk's end).

use alloc::{string::String, vec, vec::Vec};

use super::parts::{PartInfo, MAX_PARTS};
use super::ChunkInfo;
use crate::flv::{Amf0Value, FlvHeader, Tag, TagKind, TagReader};
use crate::media::{AudioConfig, Media, StreamConfig, VideoConfig};
use crate::timeline::Millis;
use crate::Error;

/// Name of the script tag that describes a chunk.
pub const CHUNK_TAG: &str = "onMetaData";
/// Longest session id accepted in a chunk (ids are short decimal or base-36 strings).
pub const MAX_SESSION_ID_LEN: usize = 64;

/// What a chunk file says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkHeader {
    /// The publishing session's id.
    pub session: String,
    /// Sequence number, start and duration (`info.session` is not stored and reads as 0).
    pub info: ChunkInfo,
    /// Its parts, if it was cut into parts.
    pub parts: Vec<PartInfo>,
}

/// Appends the head of a chunk file (items 1–3) to `out`; the caller appends the tags.
pub fn write_chunk_head(
    out: &mut Vec<u8>,
    session: &str,
    info: &ChunkInfo,
    parts: &[PartInfo],
    headers: (Option<&[u8]>, Option<&[u8]>),
) {
    FlvHeader { version: 1, has_audio: headers.1.is_some(), has_video: headers.0.is_some(), data_offset: 9 }.write(out);
    let mut body = Vec::with_capacity(128);
    Amf0Value::String(CHUNK_TAG.into()).write(&mut body);
    let mut props = vec![
        ("duration".into(), Amf0Value::Number(info.duration_ms as f64 / 1000.0)),
        ("rapidrtmpVersion".into(), Amf0Value::Number(1.0)),
        ("rapidrtmpSession".into(), Amf0Value::String(session.into())),
        ("rapidrtmpSequence".into(), Amf0Value::Number(info.sequence as f64)),
        ("rapidrtmpStart".into(), Amf0Value::Number(info.start.0 as f64)),
        ("rapidrtmpDuration".into(), Amf0Value::Number(info.duration_ms as f64)),
    ];
    if info.offset_ms != 0 {
        props.push(("rapidrtmpOffset".into(), Amf0Value::Number(info.offset_ms as f64)));
    }
    if !info.independent {
        props.push(("rapidrtmpIndependent".into(), Amf0Value::Boolean(false)));
    }
    if let Some(anchor) = info.audio_anchor {
        props.push(("rapidrtmpAudioAnchor".into(), Amf0Value::Number(anchor.0 as f64)));
    }
    if !parts.is_empty() {
        let part = |p: &PartInfo| {
            Amf0Value::Array(vec![
                Amf0Value::Number(f64::from(p.first_tag)),
                Amf0Value::Number(f64::from(p.tags)),
                Amf0Value::Number(p.start.0 as f64),
                Amf0Value::Number(p.duration_ms as f64),
                Amf0Value::Boolean(p.independent),
            ])
        };
        props.push(("rapidrtmpParts".into(), Amf0Value::Array(parts.iter().map(part).collect())));
    }
    Amf0Value::Object(props).write(&mut body);
    // Timestamp 0: players take metadata at any other time for a subtitle track.
    let script = Tag { kind: TagKind::Script, filtered: false, timestamp: 0, stream_id: 0, body: &body, offset: 0 };
    // Its low 32 bits: FLV timestamps wrap.
    let ts = u32::try_from(info.start.0 & u64::from(u32::MAX)).unwrap_or_default();
    script.write(out);
    for (kind, h) in [(TagKind::Video, headers.0), (TagKind::Audio, headers.1)] {
        if let Some(body) = h {
            Tag { kind, filtered: false, timestamp: ts, stream_id: 0, body, offset: 0 }.write(out);
        }
    }
}

/// A digest of a session's sequence headers: sessions with equal digests share an init segment
/// (players then need not re-read it after a discontinuity).
pub fn headers_digest(video: Option<&[u8]>, audio: Option<&[u8]>) -> String {
    use core::fmt::Write;
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [video, audio] {
        match part {
            Some(b) => {
                h.update((b.len() as u64).to_be_bytes());
                h.update(b);
            }
            None => h.update(u64::MAX.to_be_bytes()),
        }
    }
    let mut out = String::with_capacity(64);
    for b in h.finalize() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A chunk file's part list, checked: at most [`MAX_PARTS`], each as written (five fields),
/// each starting where the one before ends, in time and in tags.
fn read_parts(props: &[(String, Amf0Value)]) -> Result<Vec<PartInfo>, Error> {
    let bad = Error::BadChunk;
    let Some(list) = props.iter().find_map(|(k, v)| (k == "rapidrtmpParts").then_some(v)) else {
        return Ok(Vec::new());
    };
    let Amf0Value::Array(list) = list else { return Err(bad("rapidrtmpParts is not an array")) };
    if list.len() > MAX_PARTS {
        return Err(bad("more parts than a chunk may have"));
    }
    let figure = |v: &Amf0Value| match v {
        Amf0Value::Number(n) if *n >= 0.0 && *n <= 9.007_199_254_740_991e15 && is_whole(*n) => {
            toward_zero(*n).and_then(|v| u64::try_from(v).ok())
        }
        _ => None,
    };
    let mut parts: Vec<PartInfo> = Vec::with_capacity(list.len());
    for (index, entry) in list.iter().enumerate() {
        let Amf0Value::Array(fields) = entry else { return Err(bad("a part is not an array")) };
        let part = match fields.as_slice() {
            [first, tags, start, duration, Amf0Value::Boolean(independent)] => (|| {
                Some(PartInfo {
                    index: u32::try_from(index).ok()?,
                    first_tag: u32::try_from(figure(first)?).ok()?,
                    tags: u32::try_from(figure(tags)?).ok()?,
                    start: Millis(figure(start)?),
                    duration_ms: figure(duration)?,
                    independent: *independent,
                })
            })(),
            _ => None,
        };
        let part = part.ok_or(bad("a part's fields are not as written"))?;
        let follows = match parts.last() {
            Some(p) => p.first_tag.checked_add(p.tags) == Some(part.first_tag) && p.end() == part.start,
            None => part.first_tag == 0,
        };
        if !follows || part.tags == 0 {
            return Err(bad("parts do not follow one another"));
        }
        parts.push(part);
    }
    Ok(parts)
}

/// A chunk file, read.
#[derive(Debug, Clone)]
pub struct ChunkFile<'a> {
    /// What it says about itself.
    pub header: ChunkHeader,
    /// Its codec configuration.
    pub config: StreamConfig,
    /// Its tags (sequence headers included; segment building skips them).
    pub tags: TagReader<'a>,
}

/// Largest magnitude of the numbers a chunk file's head may hold: 2^53, up to which an f64 holds
/// every whole number.
const MAX_EXACT: f64 = 9.007_199_254_740_992e15;

/// `n` rounded toward zero, if its magnitude is at most [`MAX_EXACT`] (else, or NaN, `None`).
#[allow(clippy::cast_possible_truncation, reason = "the range is checked first: only a fraction goes")]
fn toward_zero(n: f64) -> Option<i64> {
    (n.abs() <= MAX_EXACT).then_some(n as i64)
}

/// Whether `n` is a whole number within [`MAX_EXACT`].
#[allow(clippy::cast_precision_loss, reason = "within 2^53 the conversion back is exact")]
fn is_whole(n: f64) -> bool {
    toward_zero(n).is_some_and(|v| v as f64 == n)
}

fn number(props: &[(String, Amf0Value)], key: &str) -> Option<u64> {
    props.iter().find_map(|(k, v)| match v {
        Amf0Value::Number(n) if k == key && *n >= 0.0 => toward_zero(*n).and_then(|v| u64::try_from(v).ok()),
        _ => None,
    })
}

impl<'a> ChunkFile<'a> {
    /// Part `index` and its tags, if the chunk has it.
    pub fn part(&self, index: u32) -> Option<(PartInfo, impl Iterator<Item = Result<Tag<'a>, crate::flv::FlvError>>)> {
        let part = *self.header.parts.get(usize::try_from(index).ok()?)?;
        let headers = |t: &Result<Tag<'_>, _>| {
            t.as_ref()
                .is_ok_and(|t| matches!(Media::from_tag(t), Ok(Media::VideoConfig { .. } | Media::AudioConfig { .. })))
        };
        let tags = self.tags.clone().skip_while(headers).skip(part.first_tag as usize).take(part.tags as usize);
        Some((part, tags))
    }
}

/// Reads the configuration a chunk file starts with (its sequence headers, and what its first
/// keyframe tells that they do not: VP9's frame size).
fn chunk_config(chunk: &[u8]) -> Result<StreamConfig, Error> {
    let (_, reader) = TagReader::new(chunk)?;
    let mut config = StreamConfig::default();
    for tag in reader {
        let tag = tag?;
        match Media::from_tag(&tag) {
            Ok(Media::VideoConfig { codec, record }) => config.video = Some(VideoConfig::parse(codec, record)?),
            Ok(Media::AudioConfig { codec, record }) => config.audio = Some(AudioConfig::parse(codec, record)?),
            Ok(Media::Video { data, .. }) => {
                if let Some(v) = &mut config.video {
                    v.learn_from_frame(data);
                }
                break;
            }
            Ok(Media::Audio(_)) if !config.video.as_ref().is_some_and(VideoConfig::wants_keyframe) => break,
            _ => {}
        }
    }
    Ok(config)
}

/// Reads a chunk file.
pub fn read_chunk(bytes: &[u8]) -> Result<ChunkFile<'_>, Error> {
    let bad = Error::BadChunk;
    let (_, mut tags) = TagReader::new(bytes)?;
    let first = tags.next().ok_or(bad("no tags"))??;
    if first.kind != TagKind::Script {
        return Err(bad("does not start with its onMetaData script tag"));
    }
    let (name, used) = Amf0Value::read(first.body)?;
    if name != Amf0Value::String(CHUNK_TAG.into()) {
        return Err(bad("does not start with its onMetaData script tag"));
    }
    let Amf0Value::Object(props) = Amf0Value::read(&first.body[used..])?.0 else {
        return Err(bad("chunk description is not an object"));
    };
    if number(&props, "rapidrtmpVersion") != Some(1) {
        return Err(bad("unknown chunk version"));
    }
    let session = props
        .iter()
        .find_map(|(k, v)| match v {
            Amf0Value::String(s) if k == "rapidrtmpSession" && !s.is_empty() && s.len() <= MAX_SESSION_ID_LEN => {
                Some(s.clone())
            }
            _ => None,
        })
        .ok_or(bad("chunk has no valid session id"))?;
    let info = ChunkInfo {
        session: 0,
        sequence: number(&props, "rapidrtmpSequence").ok_or(bad("chunk has no sequence"))?,
        start: Millis(number(&props, "rapidrtmpStart").ok_or(bad("chunk has no start"))?),
        duration_ms: number(&props, "rapidrtmpDuration").ok_or(bad("chunk has no duration"))?,
        audio_anchor: number(&props, "rapidrtmpAudioAnchor").map(Millis),
        offset_ms: props
            .iter()
            .find_map(|(k, v)| match v {
                Amf0Value::Number(n) if k == "rapidrtmpOffset" => toward_zero(*n),
                _ => None,
            })
            .unwrap_or(0),
        independent: !props.iter().any(|(k, v)| k == "rapidrtmpIndependent" && *v == Amf0Value::Boolean(false)),
    };
    let parts = read_parts(&props)?;
    let config = chunk_config(bytes)?;
    Ok(ChunkFile { header: ChunkHeader { session, info, parts }, config, tags })
}

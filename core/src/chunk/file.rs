//! The chunk file: one immutable object per segment in the store (DESIGN "storage layout").
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
//!    (players read it as ordinary metadata);
//! 3. the session's sequence headers (video, then audio);
//! 4. the tags as the publisher sent them, from a keyframe up to the next cut (or, for a chunk cut
//!    between keyframes, from the frame after the last chunk's end).

use alloc::{string::String, vec, vec::Vec};

use super::ChunkInfo;
use crate::flv::{Amf0Value, FlvHeader, Tag, TagKind, TagReader};
use crate::media::StreamConfig;
use crate::segment::chunk_config;
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
}

/// Appends the head of a chunk file (items 1–3) to `out`; the caller appends the tags.
pub fn write_chunk_head(out: &mut Vec<u8>, session: &str, info: &ChunkInfo, headers: (Option<&[u8]>, Option<&[u8]>)) {
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
    Amf0Value::Object(props).write(&mut body);
    // Timestamp 0: players take metadata at any other time for a subtitle track.
    let script = Tag { kind: TagKind::Script, filtered: false, timestamp: 0, stream_id: 0, body: &body, offset: 0 };
    let ts = info.start.0 as u32;
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

fn number(props: &[(String, Amf0Value)], key: &str) -> Option<u64> {
    props.iter().find_map(|(k, v)| match v {
        Amf0Value::Number(n) if k == key && *n >= 0.0 && *n <= 9.007_199_254_740_992e15 => Some(*n as u64),
        _ => None,
    })
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
                Amf0Value::Number(n) if k == "rapidrtmpOffset" && n.abs() <= 9.007_199_254_740_992e15 => {
                    Some(*n as i64)
                }
                _ => None,
            })
            .unwrap_or(0),
        independent: !props.iter().any(|(k, v)| k == "rapidrtmpIndependent" && *v == Amf0Value::Boolean(false)),
    };
    let config = chunk_config(bytes)?;
    Ok(ChunkFile { header: ChunkHeader { session, info }, config, tags })
}

//! FLV tags (FLV spec v10.1, annex E.4.1 "FLV Tag") and a reader over a byte buffer.

use super::{FlvError, FlvHeader};

/// Length of an FLV tag header (E.4.1).
pub const TAG_HEADER_LEN: usize = 11;
/// Length of the `PreviousTagSize` field that follows every tag (E.3).
pub const PREVIOUS_TAG_SIZE_LEN: usize = 4;

/// `TagType` (E.4.1), kept open: unknown values are carried, not rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TagKind {
    /// 8: audio.
    Audio,
    /// 9: video.
    Video,
    /// 18: script data (AMF0, e.g. `onMetaData`).
    Script,
    /// Any other value.
    Other(u8),
}

impl TagKind {
    /// The wire value.
    pub fn code(self) -> u8 {
        match self {
            Self::Audio => 8,
            Self::Video => 9,
            Self::Script => 18,
            Self::Other(v) => v,
        }
    }

    /// Maps the 5-bit wire value.
    pub fn from_code(code: u8) -> Self {
        match code {
            8 => Self::Audio,
            9 => Self::Video,
            18 => Self::Script,
            other => Self::Other(other),
        }
    }

    /// A short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Script => "script",
            Self::Other(_) => "other",
        }
    }
}

/// One FLV tag, borrowing its body from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    /// `TagType`.
    pub kind: TagKind,
    /// `Filter`: the body is encrypted (we cannot package it).
    pub filtered: bool,
    /// `Timestamp` | `TimestampExtended` << 24: wrapping milliseconds (DTS for video).
    pub timestamp: u32,
    /// `StreamID` (always 0 in files).
    pub stream_id: u32,
    /// The tag body (`Data`), `DataSize` bytes.
    pub body: &'a [u8],
    /// Byte offset of the tag header in the input.
    pub offset: u64,
}

impl<'a> Tag<'a> {
    /// Parses the tag at the start of `buf` (its header, body and trailing `PreviousTagSize`).
    /// `offset` is where `buf` starts in the whole input, for error messages.
    ///
    /// Returns the tag and the bytes consumed, or `Ok(None)` if `buf` does not hold the whole tag
    /// yet: a partial tag is never consumed.
    pub fn parse(buf: &'a [u8], offset: u64) -> Result<Option<(Self, usize)>, FlvError> {
        let Some(h) = buf.get(..TAG_HEADER_LEN) else {
            return Ok(None);
        };
        if h[0] & 0xC0 != 0 {
            return Err(FlvError::BadTag { offset, reason: "reserved bits of the tag type are set" });
        }
        let size = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        let timestamp = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
        let stream_id = u32::from_be_bytes([0, h[8], h[9], h[10]]);
        let total = TAG_HEADER_LEN + size + PREVIOUS_TAG_SIZE_LEN;
        if buf.len() < total {
            return Ok(None);
        }
        let tag = Tag {
            kind: TagKind::from_code(h[0] & 0x1F),
            filtered: h[0] & 0x20 != 0,
            timestamp,
            stream_id,
            body: &buf[TAG_HEADER_LEN..TAG_HEADER_LEN + size],
            offset,
        };
        Ok(Some((tag, total)))
    }

    /// The number of bytes this tag occupies on the wire, with its `PreviousTagSize`.
    pub fn wire_len(&self) -> usize {
        TAG_HEADER_LEN + self.body.len() + PREVIOUS_TAG_SIZE_LEN
    }

    /// Appends this tag (header, body, `PreviousTagSize`) to `out`, with `timestamp`.
    pub fn write(&self, out: &mut alloc::vec::Vec<u8>) {
        write_tag_header(out, self.kind, self.timestamp, self.body.len());
        out.extend_from_slice(self.body);
        out.extend_from_slice(&u32::try_from(TAG_HEADER_LEN + self.body.len()).unwrap_or(u32::MAX).to_be_bytes());
    }
}

/// Appends an 11-byte tag header (stream id 0, not filtered) for a body of `size` bytes.
/// `size` must fit the 24-bit `DataSize` field; larger bodies are a caller bug.
pub fn write_tag_header(out: &mut alloc::vec::Vec<u8>, kind: TagKind, timestamp: u32, size: usize) {
    debug_assert!(size <= 0xFF_FFFF, "FLV tag body of {size} bytes does not fit 24 bits");
    let s = u32::try_from(size).unwrap_or(u32::MAX).to_be_bytes();
    let t = timestamp.to_be_bytes();
    out.extend_from_slice(&[kind.code() & 0x1F, s[1], s[2], s[3], t[1], t[2], t[3], t[0], 0, 0, 0]);
}

/// Reads the tags of a complete FLV file held in memory.
///
/// Iteration yields `Err` once (then stops) on a malformed tag or on a truncated final tag.
#[derive(Debug, Clone)]
pub struct TagReader<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> TagReader<'a> {
    /// Parses the file header and positions the reader at the first tag.
    pub fn new(buf: &'a [u8]) -> Result<(FlvHeader, Self), FlvError> {
        let header = FlvHeader::parse(buf)?
            .ok_or(FlvError::BadTag { offset: 0, reason: "file ends inside the 9-byte FLV header" })?;
        // The body starts with PreviousTagSize0 (E.3).
        let pos = header.data_offset as usize + PREVIOUS_TAG_SIZE_LEN;
        Ok((header, Self { buf, pos: pos.min(buf.len()), done: false }))
    }

    /// Reads bare tag records (header, body, `PreviousTagSize` each) with no file header in
    /// front: the body of a chunk as [`crate::chunk::ChunkWriter`] builds it.
    pub fn records(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0, done: false }
    }

    /// Byte offset of the next tag.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for TagReader<'a> {
    type Item = Result<Tag<'a>, FlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        match Tag::parse(&self.buf[self.pos..], self.pos as u64) {
            Ok(Some((tag, used))) => {
                self.pos += used;
                Some(Ok(tag))
            }
            Ok(None) => {
                self.done = true;
                Some(Err(FlvError::BadTag { offset: self.pos as u64, reason: "file ends inside this tag (truncated)" }))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn file(tags: &[Tag<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        FlvHeader { version: 1, has_audio: true, has_video: true, data_offset: 9 }.write(&mut out);
        for t in tags {
            t.write(&mut out);
        }
        out
    }

    fn tag(kind: TagKind, timestamp: u32, body: &[u8]) -> Tag<'_> {
        Tag { kind, filtered: false, timestamp, stream_id: 0, body, offset: 0 }
    }

    #[test]
    fn reads_tags_with_extended_timestamps() {
        let bytes = file(&[tag(TagKind::Video, 0x8123_4567, b"abc"), tag(TagKind::Audio, 5, b"")]);
        let (_, reader) = TagReader::new(&bytes).unwrap();
        let tags: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0].timestamp, 0x8123_4567);
        assert_eq!(tags[0].body, b"abc");
        assert_eq!(tags[0].offset, 13);
        assert_eq!(tags[1].kind, TagKind::Audio);
    }

    #[test]
    fn partial_tag_is_never_consumed() {
        let bytes = file(&[tag(TagKind::Video, 1, b"abcdef")]);
        for cut in 13..bytes.len() {
            assert_eq!(Tag::parse(&bytes[13..cut], 13), Ok(None), "cut at {cut}");
        }
        let (t, used) = Tag::parse(&bytes[13..], 13).unwrap().unwrap();
        assert_eq!((t.body, used), (&b"abcdef"[..], bytes.len() - 13));
    }

    #[test]
    fn truncated_file_reports_offset_once() {
        let bytes = file(&[tag(TagKind::Video, 1, b"abcdef"), tag(TagKind::Video, 2, b"xyz")]);
        let cut = &bytes[..bytes.len() - 2];
        let (_, reader) = TagReader::new(cut).unwrap();
        let items: Vec<_> = reader.collect();
        assert_eq!(items.len(), 2);
        assert!(matches!(items[1], Err(FlvError::BadTag { offset: 34, .. })));
    }

    #[test]
    fn huge_claimed_size_waits_without_allocating() {
        let h = [9u8, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(Tag::parse(&h, 0), Ok(None));
    }
}

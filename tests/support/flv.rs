//! A minimal FLV reader/writer, enough to edit fixtures and count tags (test code, independent
//! of the product's demuxer).
//!
//! Layout: 9-byte header ("FLV", version, flags, u32 header size) and a u32 0; then per tag an
//! 11-byte header (type u8, body size u24, timestamp u24 = low bits, timestamp extension u8 =
//! bits 24..31, stream id u24), the body, and a u32 "previous tag size" (11 + body size).

pub const AUDIO: u8 = 8;
pub const VIDEO: u8 = 9;
pub const SCRIPT: u8 = 18;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub kind: u8,
    /// Full 32-bit timestamp in milliseconds (extension byte included).
    pub timestamp: u32,
    pub stream_id: u32,
    pub body: Vec<u8>,
    /// Byte offset of the tag header in the file it was read from.
    pub offset: usize,
}

#[derive(Clone, Debug)]
pub struct Flv {
    /// The file header (normally 9 bytes), without the first previous-tag-size.
    pub header: Vec<u8>,
    pub tags: Vec<Tag>,
}

fn u24(b: &[u8]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

/// Parses a well-formed FLV file (the fixtures ffmpeg made); panics on anything else.
pub fn parse(bytes: &[u8]) -> Flv {
    assert!(bytes.len() >= 13 && &bytes[..3] == b"FLV", "not an FLV file");
    let header_len = u32::from_be_bytes(bytes[5..9].try_into().unwrap()) as usize;
    let mut pos = header_len + 4;
    let mut tags = Vec::new();
    while pos < bytes.len() {
        assert!(pos + 11 <= bytes.len(), "truncated tag header at {pos}");
        let h = &bytes[pos..pos + 11];
        let size = u24(&h[1..4]) as usize;
        let timestamp = u24(&h[4..7]) | (u32::from(h[7]) << 24);
        let body_end = pos + 11 + size;
        assert!(body_end + 4 <= bytes.len(), "truncated tag body at {pos}");
        let prev = u32::from_be_bytes(bytes[body_end..body_end + 4].try_into().unwrap());
        assert_eq!(prev as usize, 11 + size, "bad previous tag size after tag at {pos}");
        tags.push(Tag {
            kind: h[0] & 0x1f,
            timestamp,
            stream_id: u24(&h[8..11]),
            body: bytes[pos + 11..body_end].to_vec(),
            offset: pos,
        });
        pos = body_end + 4;
    }
    Flv { header: bytes[..header_len].to_vec(), tags }
}

/// One tag as bytes: header, body, previous tag size.
pub fn tag_bytes(tag: &Tag) -> Vec<u8> {
    let size = tag.body.len() as u32;
    assert!(size < 1 << 24, "tag body too large for FLV");
    let mut out = Vec::with_capacity(tag.body.len() + 15);
    out.push(tag.kind);
    out.extend_from_slice(&size.to_be_bytes()[1..]);
    out.extend_from_slice(&(tag.timestamp & 0x00ff_ffff).to_be_bytes()[1..]);
    out.push((tag.timestamp >> 24) as u8);
    out.extend_from_slice(&tag.stream_id.to_be_bytes()[1..]);
    out.extend_from_slice(&tag.body);
    out.extend_from_slice(&(size + 11).to_be_bytes());
    out
}

pub fn write(flv: &Flv) -> Vec<u8> {
    let mut out = flv.header.clone();
    out.extend_from_slice(&0u32.to_be_bytes());
    for tag in &flv.tags {
        out.extend_from_slice(&tag_bytes(tag));
    }
    out
}

impl Tag {
    pub fn new(kind: u8, timestamp: u32, body: Vec<u8>) -> Tag {
        Tag { kind, timestamp, stream_id: 0, body, offset: 0 }
    }

    /// AVC sequence header (AVCDecoderConfigurationRecord).
    pub fn is_avc_sequence_header(&self) -> bool {
        self.kind == VIDEO && self.body.len() >= 2 && self.body[0] & 0x0f == 7 && self.body[1] == 0
    }

    /// AAC sequence header (AudioSpecificConfig).
    pub fn is_aac_sequence_header(&self) -> bool {
        self.kind == AUDIO && self.body.len() >= 2 && self.body[0] >> 4 == 10 && self.body[1] == 0
    }

    pub fn is_sequence_header(&self) -> bool {
        self.is_avc_sequence_header() || self.is_aac_sequence_header()
    }

    /// A coded video frame (not a sequence header) flagged as a keyframe.
    pub fn is_video_keyframe(&self) -> bool {
        self.kind == VIDEO && !self.body.is_empty() && self.body[0] >> 4 == 1 && !self.is_avc_sequence_header()
    }

    pub fn is_media_frame(&self) -> bool {
        (self.kind == VIDEO || self.kind == AUDIO) && !self.is_sequence_header()
    }
}

/// Audio and video tags of an FLV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagCounts {
    /// Video tags (frames, sequence headers, end of sequence).
    pub video: u64,
    /// Audio tags (frames, sequence headers).
    pub audio: u64,
    /// Total size of the audio and video tag bodies.
    pub body_bytes: u64,
}

/// Counts the audio and video tags of an FLV file (panics if it is not well-formed).
pub fn count_tags(path: &std::path::Path) -> TagCounts {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let file = parse(&bytes);
    let mut counts = TagCounts { video: 0, audio: 0, body_bytes: 0 };
    for tag in file.tags.iter().filter(|t| t.kind == AUDIO || t.kind == VIDEO) {
        if tag.kind == AUDIO {
            counts.audio += 1;
        } else {
            counts.video += 1;
        }
        counts.body_bytes += tag.body.len() as u64;
    }
    counts
}

//! The publisher's tags as outputs see them: what each one is (a sequence header, a keyframe,
//! another frame, metadata) and what a destination must take to get it (a legacy FLV codec, an
//! Enhanced RTMP FourCC, multitrack); and the stream's last sequence headers and metadata, which
//! every output sends first on each (re)connect.

use bytes::Bytes;
use rapidrtmp_core::flv::{
    parse_metadata, AudioPacket, AudioPacketType, FrameType, TagKind, VideoCodec, VideoPacket, VideoPacketType,
};

/// Sequence headers kept per stream (one per track and codec): a publisher sends one per track.
pub const MAX_HEADERS: usize = 16;

/// What a tag is to an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A sequence header (decoder configuration) or `onMetaData`: sent again on reconnect.
    Header,
    /// A video keyframe: an output starts here.
    Keyframe,
    /// Anything else.
    Frame,
}

/// What a destination must take for a tag to be forwarded to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A legacy FLV tag (H.264, AAC, MP3, metadata): every RTMP server takes it.
    Legacy,
    /// An Enhanced RTMP codec: the destination's `connect` answer must list its FourCC.
    FourCc(TagKind, [u8; 4]),
    /// An Enhanced RTMP multitrack message: the answer's `capsEx` must have the multitrack bit.
    Multitrack(TagKind),
}

impl Need {
    /// How a status names it: `h265 video (hvc1)`, `multitrack audio`.
    pub fn describe(&self) -> String {
        let what = |kind: &TagKind| if *kind == TagKind::Video { "video" } else { "audio" };
        match self {
            Need::Legacy => "legacy FLV".into(),
            Need::FourCc(kind, f) => {
                let fourcc = String::from_utf8_lossy(f);
                let name = match f {
                    b"hvc1" => "h265",
                    b"av01" => "av1",
                    b"vp09" => "vp9",
                    b"avc1" => "h264",
                    b"Opus" => "opus",
                    b"fLaC" => "flac",
                    b"ac-3" => "ac3",
                    b"ec-3" => "eac3",
                    b".mp3" => "mp3",
                    b"mp4a" => "aac",
                    _ => "",
                };
                if name.is_empty() {
                    format!("{} {fourcc}", what(kind))
                } else {
                    format!("{name} {} ({fourcc})", what(kind))
                }
            }
            Need::Multitrack(kind) => format!("multitrack {}", what(kind)),
        }
    }
}

/// One of the publisher's tags, shared by every output's queue.
#[derive(Debug, Clone)]
pub struct OutTag {
    /// Audio, video or script data.
    pub kind: TagKind,
    /// RTMP timestamp, ms.
    pub timestamp: u32,
    /// The body as the publisher sent it.
    pub payload: Bytes,
    /// What it is.
    pub role: Role,
    /// What a destination must take.
    pub need: Need,
    /// Which header it is, for [`Headers`] (kind, need, track).
    slot: (TagKind, Need, u8),
}

/// Bytes a queued tag costs beyond its body (its fields and the queue's slot).
pub const TAG_OVERHEAD: usize = 64;

impl OutTag {
    /// Bytes it holds in a queue.
    pub fn cost(&self) -> usize {
        self.payload.len() + TAG_OVERHEAD
    }
}

/// Enhanced RTMP packet type of a video multitrack message (E-RTMP v2, `VideoPacketType.Multitrack`).
const VIDEO_MULTITRACK: u8 = 6;
/// Enhanced RTMP packet type of an audio multitrack message (`AudioPacketType.Multitrack`).
const AUDIO_MULTITRACK: u8 = 5;
/// The legacy sound format that announces an `ExAudioTagHeader`.
const AUDIO_EX_HEADER: u8 = 9;

fn video_fourcc(codec: VideoCodec) -> [u8; 4] {
    match codec {
        VideoCodec::Avc => *b"avc1",
        VideoCodec::Hevc => *b"hvc1",
        VideoCodec::Av1 => *b"av01",
        VideoCodec::Vp9 => *b"vp09",
        VideoCodec::FourCc(f) => f,
        _ => *b"????",
    }
}

/// What a tag is, before its body is copied: its role, its need and its track (the tag's slot
/// in [`Headers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// What it is.
    pub role: Role,
    /// What a destination must take.
    pub need: Need,
    track: u8,
}

/// A tag with its body, once read.
#[cfg(test)]
pub fn classify(kind: TagKind, timestamp: u32, payload: Bytes) -> OutTag {
    let r = read(kind, &payload);
    OutTag::new(kind, timestamp, payload, r)
}

impl OutTag {
    /// The tag of `payload`, read as `r`.
    pub fn new(kind: TagKind, timestamp: u32, payload: Bytes, r: Reading) -> Self {
        OutTag { kind, timestamp, payload, role: r.role, need: r.need, slot: (kind, r.need, r.track) }
    }
}

/// Reads what a tag is. A tag that does not parse is an ordinary legacy frame: it is forwarded
/// as it came, for the destination to judge.
pub fn read(kind: TagKind, payload: &[u8]) -> Reading {
    let (role, need, track) = match kind {
        TagKind::Video => {
            let multitrack = payload.first().is_some_and(|b| b & 0x80 != 0 && b & 0x0F == VIDEO_MULTITRACK);
            match VideoPacket::parse(payload) {
                Ok(p) => {
                    let h = p.header;
                    let role = match (h.packet_type, h.frame_type) {
                        (Some(VideoPacketType::SequenceStart), _) => Role::Header,
                        (_, FrameType::Key) => Role::Keyframe,
                        _ => Role::Frame,
                    };
                    let need = match (multitrack, h.enhanced) {
                        (true, _) => Need::Multitrack(kind),
                        (false, true) => Need::FourCc(kind, video_fourcc(h.codec)),
                        (false, false) => Need::Legacy,
                    };
                    (role, need, h.track)
                }
                Err(_) => (Role::Frame, Need::Legacy, 0),
            }
        }
        TagKind::Audio => {
            let multitrack = payload.first().is_some_and(|b| b >> 4 == AUDIO_EX_HEADER && b & 0x0F == AUDIO_MULTITRACK);
            match AudioPacket::parse(payload) {
                Ok(p) => {
                    let h = p.header;
                    let role =
                        if h.packet_type == Some(AudioPacketType::SequenceStart) { Role::Header } else { Role::Frame };
                    let need = match (multitrack, h.enhanced, h.codec.fourcc()) {
                        (true, _, _) => Need::Multitrack(kind),
                        (false, true, Some(f)) => Need::FourCc(kind, f),
                        _ => Need::Legacy,
                    };
                    (role, need, h.track)
                }
                Err(_) => (Role::Frame, Need::Legacy, 0),
            }
        }
        _ => {
            let metadata = matches!(parse_metadata(payload), Ok(Some(_)));
            (if metadata { Role::Header } else { Role::Frame }, Need::Legacy, 0)
        }
    };
    Reading { role, need, track }
}

/// A stream's last sequence header of each track and codec, and its last `onMetaData`.
#[derive(Debug, Default)]
pub struct Headers {
    tags: Vec<OutTag>,
}

impl Headers {
    /// Keeps `tag` if it is a header (replacing the last one of its slot); at most
    /// [`MAX_HEADERS`] slots, later new ones are not kept.
    pub fn record(&mut self, tag: &OutTag) {
        if tag.role != Role::Header {
            return;
        }
        if let Some(t) = self.tags.iter_mut().find(|t| t.slot == tag.slot) {
            *t = tag.clone();
        } else if self.tags.len() < MAX_HEADERS {
            self.tags.push(tag.clone());
        }
    }

    /// The headers, metadata first, each at the timestamp it came with.
    pub fn all(&self) -> Vec<OutTag> {
        let mut all = self.tags.clone();
        all.sort_by_key(|t| t.kind != TagKind::Script);
        all
    }

    /// Whether the stream has video (a video sequence header came).
    pub fn has_video(&self) -> bool {
        self.tags.iter().any(|t| t.kind == TagKind::Video)
    }

    /// The Enhanced RTMP FourCCs of the stream's tracks, offered in `connect`.
    pub fn fourccs(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.tags {
            if let Need::FourCc(_, f) = t.need {
                let f = String::from_utf8_lossy(&f).into_owned();
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(kind: TagKind, body: &[u8]) -> OutTag {
        classify(kind, 0, Bytes::copy_from_slice(body))
    }

    #[test]
    fn tags_are_read_as_headers_keyframes_and_frames_with_what_they_need() {
        let avc_header = tag(TagKind::Video, &[0x17, 0, 0, 0, 0, 1, 0x64]);
        assert_eq!((avc_header.role, avc_header.need), (Role::Header, Need::Legacy));
        let key = tag(TagKind::Video, &[0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]);
        assert_eq!((key.role, key.need), (Role::Keyframe, Need::Legacy));
        assert_eq!(tag(TagKind::Video, &[0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41]).role, Role::Frame);
        let aac = tag(TagKind::Audio, &[0xAF, 0, 0x12, 0x10]);
        assert_eq!((aac.role, aac.need), (Role::Header, Need::Legacy));
        assert_eq!(tag(TagKind::Audio, &[0xAF, 1, 0x21]).role, Role::Frame);
        // Enhanced RTMP: HEVC sequence start and a coded keyframe (frame type 1, packet type 1).
        let hevc = tag(TagKind::Video, b"\x90hvc1\x01\x02");
        assert_eq!((hevc.role, hevc.need), (Role::Header, Need::FourCc(TagKind::Video, *b"hvc1")));
        let hevc_key = tag(TagKind::Video, b"\x91hvc1\x00\x00\x00\x00\x00\x00\x01\x26");
        assert_eq!(hevc_key.role, Role::Keyframe);
        assert_eq!(hevc.need.describe(), "h265 video (hvc1)");
        let opus = tag(TagKind::Audio, b"\x90OpusOpusHead");
        assert_eq!((opus.role, opus.need), (Role::Header, Need::FourCc(TagKind::Audio, *b"Opus")));
        // Multitrack (OneTrack, coded frames, track 1).
        let mt = tag(TagKind::Video, b"\x96\x01avc1\x01\x00\x00\x00\x00\x00\x00\x01\x65");
        assert_eq!(mt.need, Need::Multitrack(TagKind::Video));
        // Broken bodies are frames, forwarded as they are.
        assert_eq!((tag(TagKind::Video, &[]).role, tag(TagKind::Video, &[]).need), (Role::Frame, Need::Legacy));
    }

    #[test]
    fn headers_keep_the_last_of_each_slot_metadata_first_and_are_bounded() {
        let mut h = Headers::default();
        let mut meta = Vec::new();
        rapidrtmp_core::flv::Amf0Value::String("onMetaData".into()).write(&mut meta);
        rapidrtmp_core::flv::Amf0Value::Object(vec![]).write(&mut meta);
        h.record(&tag(TagKind::Video, &[0x17, 0, 0, 0, 0, 1]));
        h.record(&tag(TagKind::Video, &[0x17, 0, 0, 0, 0, 2]));
        h.record(&tag(TagKind::Script, &meta));
        h.record(&tag(TagKind::Video, b"\x90hvc1\x01"));
        h.record(&tag(TagKind::Video, &[0x27, 1, 0, 0, 0]));
        let all = h.all();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].kind, TagKind::Script);
        assert_eq!(&all[1].payload[..], &[0x17, 0, 0, 0, 0, 2]);
        assert!(h.has_video());
        assert_eq!(h.fourccs(), ["hvc1"]);
        for n in 0..100u8 {
            h.record(&tag(TagKind::Video, &[0x90, b'x', b'y', b'z', n, 1]));
        }
        assert_eq!(h.all().len(), MAX_HEADERS);
    }
}

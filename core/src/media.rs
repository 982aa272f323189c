//! Media: FLV tags read as codec configurations and frames, and the configuration of a stream.

use alloc::{string::String, vec::Vec};

use crate::cmaf::{Track, TrackKind, AUDIO_TRACK_ID, VIDEO_TRACK_ID};
use crate::codec::{AacConfig, AvcConfig, CodecError};
use crate::flv::{
    AudioCodec, AudioPacket, AudioPacketType, FlvError, FrameType, Tag, TagKind, VideoCodec, VideoPacket,
    VideoPacketType,
};

/// What one FLV tag means for packaging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media<'a> {
    /// An H.264 sequence header: the `AVCDecoderConfigurationRecord` bytes.
    VideoConfig(&'a [u8]),
    /// An AAC sequence header: the `AudioSpecificConfig` bytes.
    AudioConfig(&'a [u8]),
    /// One H.264 access unit (length-prefixed NAL units).
    Video {
        /// A keyframe (IDR): a segment may start here.
        keyframe: bool,
        /// PTS − DTS in milliseconds.
        composition_time: i32,
        /// The access unit.
        data: &'a [u8],
    },
    /// One raw AAC frame.
    Audio(&'a [u8]),
    /// Nothing to package: script data, end-of-sequence, command frames.
    Ignored,
}

/// Why a tag cannot be packaged. The packager skips it and says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Skip {
    /// The tag body is malformed.
    #[error(transparent)]
    Flv(#[from] FlvError),
    /// A codec we do not package (yet).
    #[error("{kind} codec {codec} is not supported; only H.264 and AAC are packaged")]
    Codec {
        /// `audio` or `video`.
        kind: &'static str,
        /// The codec's name.
        codec: String,
    },
    /// A frame with no bytes.
    #[error("zero-length {0} frame")]
    Empty(&'static str),
    /// A frame of a track whose sequence header has not arrived.
    #[error("{0} frame before any sequence header")]
    NoConfig(&'static str),
    /// The tag is encrypted (FLV `Filter` bit).
    #[error("encrypted tag")]
    Encrypted,
    /// A sequence header that does not parse.
    #[error(transparent)]
    Config(#[from] CodecError),
}

impl<'a> Media<'a> {
    /// Reads a tag.
    pub fn from_tag(tag: &Tag<'a>) -> Result<Self, Skip> {
        if tag.filtered {
            return Err(Skip::Encrypted);
        }
        match tag.kind {
            TagKind::Video => {
                let p = VideoPacket::parse(tag.body)?;
                if p.header.frame_type == FrameType::Command {
                    return Ok(Self::Ignored);
                }
                if p.header.codec != VideoCodec::Avc {
                    return Err(Skip::Codec { kind: "video", codec: p.header.codec.name() });
                }
                match p.header.packet_type {
                    Some(VideoPacketType::SequenceStart) => Ok(Self::VideoConfig(p.payload)),
                    Some(VideoPacketType::CodedFrames | VideoPacketType::CodedFramesX) => {
                        if p.payload.is_empty() {
                            return Err(Skip::Empty("video"));
                        }
                        Ok(Self::Video {
                            keyframe: p.header.frame_type == FrameType::Key,
                            composition_time: p.header.composition_time,
                            data: p.payload,
                        })
                    }
                    _ => Ok(Self::Ignored),
                }
            }
            TagKind::Audio => {
                let p = AudioPacket::parse(tag.body)?;
                if p.header.codec != AudioCodec::Aac {
                    return Err(Skip::Codec { kind: "audio", codec: p.header.codec.name() });
                }
                match p.header.packet_type {
                    Some(AudioPacketType::SequenceStart) => Ok(Self::AudioConfig(p.payload)),
                    Some(AudioPacketType::CodedFrames) if p.payload.is_empty() => Err(Skip::Empty("audio")),
                    Some(AudioPacketType::CodedFrames) => Ok(Self::Audio(p.payload)),
                    _ => Ok(Self::Ignored),
                }
            }
            _ => Ok(Self::Ignored),
        }
    }
}

/// The codec configuration of a publishing session: what its init segment says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamConfig {
    /// The H.264 configuration, once its sequence header arrived.
    pub video: Option<AvcConfig>,
    /// The AAC configuration, once its sequence header arrived.
    pub audio: Option<AacConfig>,
}

impl StreamConfig {
    /// The CMAF tracks: video (id 1) first, then audio (id 2).
    pub fn tracks(&self) -> Vec<Track> {
        let mut t = Vec::with_capacity(2);
        if let Some(v) = &self.video {
            t.push(Track { id: VIDEO_TRACK_ID, kind: TrackKind::Video(v.clone()) });
        }
        if let Some(a) = &self.audio {
            t.push(Track { id: AUDIO_TRACK_ID, kind: TrackKind::Audio(a.clone()) });
        }
        t
    }

    /// The RFC 6381 `CODECS` list, e.g. `avc1.64001F,mp4a.40.2`.
    pub fn codecs(&self) -> String {
        let mut s = String::new();
        if let Some(v) = &self.video {
            s.push_str(&v.codec_string());
        }
        if let Some(a) = &self.audio {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(&a.codec_string());
        }
        s
    }

    /// Whether the stream has any track.
    pub fn is_empty(&self) -> bool {
        self.video.is_none() && self.audio.is_none()
    }
}

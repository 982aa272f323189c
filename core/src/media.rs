//! Media: FLV tags read as codec configurations and frames, once each where they enter
//! ([`MediaTag`]), and the configuration of a stream.

use alloc::{string::String, vec::Vec};

use crate::codec::{
    looks_like_hevc_record, AacConfig, Ac3Config, Av1Config, AvcConfig, CodecError, HevcConfig, Mp3Config, OpusConfig,
    Vp9Config,
};
use crate::flv::{
    AudioCodec, AudioPacket, AudioPacketType, FlvError, FrameType, Tag, TagKind, VideoCodec, VideoPacket,
    VideoPacketType,
};

/// The Enhanced RTMP FourCCs of the video codecs packaged (answered to a `connect` that lists
/// what the encoder can send).
pub const VIDEO_FOURCCS: &[&str] = &["avc1", "hvc1", "av01", "vp09"];
/// The Enhanced RTMP FourCCs of the audio codecs packaged.
pub const AUDIO_FOURCCS: &[&str] = &["mp4a", "Opus", ".mp3", "ac-3", "ec-3"];

/// What one FLV tag means for packaging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media<'a> {
    /// A video sequence header: the codec's decoder configuration record.
    VideoConfig {
        /// The codec the tag names.
        codec: VideoCodec,
        /// The record.
        record: &'a [u8],
    },
    /// An audio sequence header: the codec's configuration (AAC `AudioSpecificConfig`,
    /// `OpusHead`).
    AudioConfig {
        /// The codec the tag names.
        codec: AudioCodec,
        /// The record.
        record: &'a [u8],
    },
    /// One video frame: an H.264/H.265 access unit (length-prefixed NAL units), an AV1 temporal
    /// unit, a VP9 frame.
    Video {
        /// A keyframe (IDR): a segment may start here.
        keyframe: bool,
        /// PTS − DTS in milliseconds.
        composition_time: i32,
        /// The access unit.
        data: &'a [u8],
    },
    /// One audio frame: a raw AAC frame, an Opus packet, an MPEG audio frame, an AC-3 or E-AC-3
    /// syncframe.
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
    #[error(
        "{kind} codec {codec} is not supported; H.264, H.265, AV1, VP9, AAC, Opus, MP3, AC-3 and E-AC-3 are packaged"
    )]
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
    /// Reads a tag ([`MediaTag::read`] keeps what else it tells).
    pub fn from_tag(tag: &Tag<'a>) -> Result<Self, Skip> {
        MediaTag::read(*tag).media
    }

    /// What a parsed video tag body means.
    fn video(p: &VideoPacket<'a>) -> Result<Self, Skip> {
        // Only the default track of a multitrack publish is packaged (yet).
        if p.header.frame_type == FrameType::Command || p.header.track != 0 {
            return Ok(Self::Ignored);
        }
        let codec = p.header.codec;
        if !matches!(codec, VideoCodec::Avc | VideoCodec::Hevc | VideoCodec::Av1 | VideoCodec::Vp9) {
            return Err(Skip::Codec { kind: "video", codec: codec.name() });
        }
        match p.header.packet_type {
            // ffmpeg 8+ sends an empty SequenceStart before the real one: nothing yet.
            Some(VideoPacketType::SequenceStart) if p.payload.is_empty() => Ok(Self::Ignored),
            Some(VideoPacketType::SequenceStart) => Ok(Self::VideoConfig { codec, record: p.payload }),
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

    /// What a parsed audio tag body means.
    fn audio(p: &AudioPacket<'a>) -> Result<Self, Skip> {
        if p.header.track != 0 {
            return Ok(Self::Ignored);
        }
        let codec = p.header.codec;
        if !matches!(codec, AudioCodec::Aac | AudioCodec::Opus | AudioCodec::Mp3 | AudioCodec::Ac3 | AudioCodec::Eac3) {
            return Err(Skip::Codec { kind: "audio", codec: codec.name() });
        }
        match p.header.packet_type {
            // MP3, AC-3 and E-AC-3 carry their configuration in every frame: an Enhanced
            // RTMP SequenceStart of theirs is empty.
            Some(AudioPacketType::SequenceStart) if p.payload.is_empty() => Ok(Self::Ignored),
            Some(AudioPacketType::SequenceStart) => Ok(Self::AudioConfig { codec, record: p.payload }),
            // Legacy MP3 (SoundFormat 2) has no packet type: every tag is a frame.
            Some(AudioPacketType::CodedFrames) | None if p.payload.is_empty() => Err(Skip::Empty("audio")),
            Some(AudioPacketType::CodedFrames) | None => Ok(Self::Audio(p.payload)),
            _ => Ok(Self::Ignored),
        }
    }
}

/// One FLV tag, read once: the tag as it came (its bytes go into a chunk unchanged) and what its
/// header says for packaging. A message is read where it enters ([`MediaTag::read`]) and carried
/// along, through the chunker and the chunk writer, so nothing after parses its header again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaTag<'a> {
    /// The tag: kind, timestamp and body.
    pub tag: Tag<'a>,
    /// What it means for packaging (kind, codec, configuration or frame, keyframe, composition
    /// time; the default track's packet of a multitrack tag), or why it cannot be packaged.
    pub media: Result<Media<'a>, Skip>,
    /// An audio frame of a codec that sends no sequence header but says its configuration in
    /// every frame (MP3, AC-3, E-AC-3): its codec and the frame, which configure the track when
    /// nothing else has ([`AudioConfig::in_band`]).
    pub in_band: Option<(AudioCodec, &'a [u8])>,
}

impl<'a> MediaTag<'a> {
    /// Reads `tag`'s header, once.
    pub fn read(tag: Tag<'a>) -> Self {
        let encrypted = |media: Result<Media<'a>, Skip>| if tag.filtered { Err(Skip::Encrypted) } else { media };
        match tag.kind {
            TagKind::Video => {
                let media = encrypted(VideoPacket::parse(tag.body).map_err(Skip::from).and_then(|p| Media::video(&p)));
                Self { tag, media, in_band: None }
            }
            TagKind::Audio => {
                let packet = AudioPacket::parse(tag.body);
                let in_band = packet.as_ref().ok().and_then(|p| {
                    let frame = matches!(p.header.packet_type, Some(AudioPacketType::CodedFrames) | None)
                        && !p.payload.is_empty();
                    let in_band = matches!(p.header.codec, AudioCodec::Mp3 | AudioCodec::Ac3 | AudioCodec::Eac3);
                    (frame && in_band).then_some((p.header.codec, p.payload))
                });
                let media = encrypted(packet.map_err(Skip::from).and_then(|p| Media::audio(&p)));
                Self { tag, media, in_band }
            }
            _ => Self { tag, media: encrypted(Ok(Media::Ignored)), in_band: None },
        }
    }

    /// Whether it is a sequence header (a codec configuration).
    pub fn is_config(&self) -> bool {
        matches!(self.media, Ok(Media::VideoConfig { .. } | Media::AudioConfig { .. }))
    }
}

/// A video track's codec configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoConfig {
    /// H.264 (`avc1`).
    Avc(AvcConfig),
    /// H.265 (`hvc1`).
    Hevc(HevcConfig),
    /// AV1 (`av01`).
    Av1(Av1Config),
    /// VP9 (`vp09`), with its frame size: its configuration record has none, so it is read from
    /// the session's first keyframe.
    Vp9(Vp9Config, Option<(u32, u32)>),
}

impl VideoConfig {
    /// Parses the sequence header `record` of a tag naming `codec`. An H.265 record under the
    /// H.264 codec id (OBS before 29.1 sent HEVC so) is read as what it is.
    pub fn parse(codec: VideoCodec, record: &[u8]) -> Result<Self, Skip> {
        Ok(match codec {
            VideoCodec::Avc => match AvcConfig::parse(record) {
                Ok(c) => Self::Avc(c),
                Err(_) if looks_like_hevc_record(record) => Self::Hevc(HevcConfig::parse(record)?),
                Err(e) => return Err(e.into()),
            },
            VideoCodec::Hevc => Self::Hevc(HevcConfig::parse(record)?),
            VideoCodec::Av1 => Self::Av1(Av1Config::parse(record)?),
            VideoCodec::Vp9 => Self::Vp9(Vp9Config::parse(record)?, None),
            other => return Err(Skip::Codec { kind: "video", codec: other.name() }),
        })
    }

    /// The RFC 6381 codec string (`avc1.64001F`, `hvc1.1.6.L93.B0`, `av01.0.04M.08`, `vp09.00.31.08`).
    pub fn codec_string(&self) -> String {
        match self {
            Self::Avc(c) => c.codec_string(),
            Self::Hevc(c) => c.codec_string(),
            Self::Av1(c) => c.codec_string(),
            Self::Vp9(c, _) => c.codec_string(),
        }
    }

    /// Whether a frame is one decoding can start at (H.264 IDR, H.265 IRAP, AV1 key frame with
    /// its sequence header, VP9 keyframe). FLV's keyframe flag alone is not enough: encoders with
    /// intra refresh flag their recovery points as keyframes.
    pub fn is_sync(&self, frame: &[u8]) -> bool {
        match self {
            Self::Avc(c) => c.is_idr(frame),
            Self::Hevc(c) => c.is_irap(frame),
            Self::Av1(c) => c.is_sync(frame),
            Self::Vp9(..) => Vp9Config::is_keyframe(frame),
        }
    }

    /// Whether a keyframe would tell what the configuration record does not (VP9's frame size).
    pub fn wants_keyframe(&self) -> bool {
        matches!(self, Self::Vp9(_, None))
    }

    /// Takes what the configuration record does not say from `frame` if it is a keyframe (VP9's
    /// frame size, which only a keyframe's header says; other frames leave it unknown).
    pub fn learn_from_frame(&mut self, frame: &[u8]) {
        if let Self::Vp9(_, size @ None) = self {
            *size = Vp9Config::frame_size(frame);
        }
    }

    /// Displayed width and height in pixels, once known.
    pub fn size(&self) -> Option<(u32, u32)> {
        match self {
            Self::Avc(c) => Some((c.sps.width, c.sps.height)),
            Self::Hevc(c) => Some((c.sps.width, c.sps.height)),
            Self::Av1(c) => Some((c.width, c.height)),
            Self::Vp9(_, size) => *size,
        }
    }

    /// The sample aspect ratio, when the bitstream says.
    pub fn sample_aspect_ratio(&self) -> Option<(u16, u16)> {
        match self {
            Self::Avc(c) => c.sps.sample_aspect_ratio,
            Self::Hevc(c) => c.sps.sample_aspect_ratio,
            Self::Av1(_) | Self::Vp9(..) => None,
        }
    }

    /// Frames per second, when the bitstream's timing information says.
    pub fn fps(&self) -> Option<f64> {
        match self {
            Self::Avc(c) => c.sps.fps(),
            Self::Hevc(c) => c.sps.fps(),
            Self::Av1(c) => c.frame_rate.map(|(n, d)| f64::from(n) / f64::from(d.max(1))),
            Self::Vp9(..) => None,
        }
    }
}

/// An audio track's codec configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioConfig {
    /// AAC (`mp4a.40.*`).
    Aac(AacConfig),
    /// Opus (`Opus`).
    Opus(OpusConfig),
    /// MPEG-1/2 audio, MP3 above all (`mp4a` with an `esds` of object type 0x6B or 0x69).
    Mp3(Mp3Config),
    /// AC-3 (`ac-3`) or E-AC-3 (`ec-3`).
    Ac3(Ac3Config),
}

impl AudioConfig {
    /// Parses the sequence header `record` of a tag naming `codec` (for the codecs without one,
    /// the frame that configured the track: [`AudioConfig::in_band`]).
    pub fn parse(codec: AudioCodec, record: &[u8]) -> Result<Self, Skip> {
        Ok(match codec {
            AudioCodec::Aac => Self::Aac(AacConfig::parse(record)?),
            AudioCodec::Opus => Self::Opus(OpusConfig::parse(record)?),
            AudioCodec::Mp3 => Self::Mp3(Mp3Config::parse(record)?),
            AudioCodec::Ac3 | AudioCodec::Eac3 => Self::Ac3(Ac3Config::parse(record)?),
            other => return Err(Skip::Codec { kind: "audio", codec: other.name() }),
        })
    }

    /// For a `frame` of a `codec` that sends no sequence header but says its configuration in
    /// every frame (MP3, AC-3, E-AC-3: [`MediaTag::in_band`]), that configuration, and the sequence
    /// header standing for it in chunk files: an Enhanced RTMP SequenceStart of the codec's FourCC
    /// with the frame as its record. `None` for a codec without a FourCC.
    pub fn in_band(codec: AudioCodec, frame: &[u8]) -> Option<(Result<Self, Skip>, Vec<u8>)> {
        let fourcc = codec.fourcc()?;
        let header = [&[0x90][..], &fourcc, frame].concat();
        Some((Self::parse(codec, frame), header))
    }

    /// The codec string (`mp4a.40.2`, `opus`, `mp4a.40.34`, `ac-3`, `ec-3`).
    pub fn codec_string(&self) -> String {
        match self {
            Self::Aac(c) => c.codec_string(),
            Self::Opus(c) => c.codec_string(),
            Self::Mp3(c) => c.codec_string(),
            Self::Ac3(c) => c.codec_string(),
        }
    }

    /// The media timescale: the sampling rate; 48 kHz for Opus, whatever its input rate
    /// (RFC 7845 §4).
    pub fn timescale(&self) -> u32 {
        match self {
            Self::Aac(c) => c.sample_rate,
            Self::Opus(_) => 48_000,
            Self::Mp3(c) => c.sample_rate,
            Self::Ac3(c) => c.sample_rate,
        }
    }

    /// Output channels.
    pub fn channels(&self) -> u16 {
        match self {
            Self::Aac(c) => c.channels(),
            Self::Opus(c) => c.channels.into(),
            Self::Mp3(c) => c.channels,
            Self::Ac3(c) => c.channels,
        }
    }

    /// Samples (at [`AudioConfig::timescale`]) in `frame`: the codec's frame length; an Opus
    /// packet's duration from its TOC (20 ms if it does not parse).
    pub fn frame_samples(&self, frame: &[u8]) -> u32 {
        match self {
            Self::Aac(c) => c.frame_samples,
            Self::Opus(_) => OpusConfig::packet_samples(frame).unwrap_or(960),
            Self::Mp3(c) => c.samples_per_frame,
            Self::Ac3(c) => c.samples_per_frame,
        }
    }
}

/// The codec configuration of a publishing session: what its init segment says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamConfig {
    /// The video configuration, once its sequence header arrived.
    pub video: Option<VideoConfig>,
    /// The audio configuration, once its sequence header arrived.
    pub audio: Option<AudioConfig>,
}

impl StreamConfig {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{av1_vectors, hevc_vectors};
    use crate::flv::TagKind;

    fn video(body: &[u8]) -> Tag<'_> {
        Tag { kind: TagKind::Video, filtered: false, timestamp: 0, stream_id: 0, body, offset: 0 }
    }

    #[test]
    fn an_empty_sequence_start_is_nothing_yet() {
        // ffmpeg 8+ (libaom) sends `av01` SequenceStart with no record, then the real one.
        assert_eq!(Media::from_tag(&video(b"\x90av01")), Ok(Media::Ignored));
        let real = [&b"\x90av01"[..], av1_vectors::AOM_8BIT].concat();
        let Ok(Media::VideoConfig { codec, record }) = Media::from_tag(&video(&real)) else { panic!("a config") };
        assert!(matches!(VideoConfig::parse(codec, record), Ok(VideoConfig::Av1(_))));
    }

    #[test]
    fn hevc_under_the_h264_codec_id_is_read_as_hevc() {
        // OBS before 29.1: FLV codec id 7, AVCPacketType 0, composition time 0, then an hvcC.
        let body = [&[0x17, 0, 0, 0, 0][..], hevc_vectors::MAIN_360P].concat();
        let Ok(Media::VideoConfig { codec, record }) = Media::from_tag(&video(&body)) else { panic!("a config") };
        assert_eq!(codec, VideoCodec::Avc);
        let config = VideoConfig::parse(codec, record).expect("a configuration");
        assert!(matches!(config, VideoConfig::Hevc(_)), "{config:?}");
        assert_eq!(config.codec_string(), "hvc1.1.6.L63.90");
    }
}

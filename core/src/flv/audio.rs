//! Audio tag headers: legacy `AUDIODATA` (FLV spec v10.1, E.4.2.1) and Enhanced RTMP v2
//! `ExAudioTagHeader`.

use super::FlvError;

/// The audio codec: legacy `SoundFormat` or Enhanced RTMP `AudioFourCc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioCodec {
    /// AAC: `SoundFormat` 10 or FourCC `mp4a`.
    Aac,
    /// MP3: `SoundFormat` 2 or FourCC `.mp3`.
    Mp3,
    /// Opus: FourCC `Opus`.
    Opus,
    /// FLAC: FourCC `fLaC`.
    Flac,
    /// AC-3: FourCC `ac-3`.
    Ac3,
    /// E-AC-3: FourCC `ec-3`.
    Eac3,
    /// Another legacy `SoundFormat`.
    Legacy(u8),
    /// Another FourCC.
    FourCc([u8; 4]),
}

impl AudioCodec {
    fn from_fourcc(f: [u8; 4]) -> Self {
        match &f {
            b"mp4a" => Self::Aac,
            b".mp3" => Self::Mp3,
            b"Opus" => Self::Opus,
            b"fLaC" => Self::Flac,
            b"ac-3" => Self::Ac3,
            b"ec-3" => Self::Eac3,
            _ => Self::FourCc(f),
        }
    }

    /// Its Enhanced RTMP FourCC, if it has one.
    pub fn fourcc(&self) -> Option<[u8; 4]> {
        Some(match self {
            Self::Aac => *b"mp4a",
            Self::Mp3 => *b".mp3",
            Self::Opus => *b"Opus",
            Self::Flac => *b"fLaC",
            Self::Ac3 => *b"ac-3",
            Self::Eac3 => *b"ec-3",
            Self::FourCc(f) => *f,
            Self::Legacy(_) => return None,
        })
    }

    /// A short name (`aac`, `mp3`, `opus`, …).
    pub fn name(&self) -> alloc::string::String {
        use alloc::string::ToString;
        match self {
            Self::Aac => "aac".into(),
            Self::Mp3 => "mp3".into(),
            Self::Opus => "opus".into(),
            Self::Flac => "flac".into(),
            Self::Ac3 => "ac3".into(),
            Self::Eac3 => "eac3".into(),
            Self::Legacy(f) => alloc::format!("sound-format-{f}"),
            Self::FourCc(f) => alloc::string::String::from_utf8_lossy(f).to_string(),
        }
    }
}

/// The packet type: legacy `AACPacketType` mapped onto Enhanced RTMP `AudioPacketType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioPacketType {
    /// 0: decoder configuration (AudioSpecificConfig, OpusHead, …).
    SequenceStart,
    /// 1: coded frames.
    CodedFrames,
    /// 2: end of sequence (enhanced only).
    SequenceEnd,
    /// 4: multichannel configuration (enhanced only).
    MultichannelConfig,
    /// Any other value (multitrack, ModEx, …).
    Other(u8),
}

impl AudioPacketType {
    fn from_code(code: u8) -> Self {
        match code {
            0 => Self::SequenceStart,
            1 => Self::CodedFrames,
            2 => Self::SequenceEnd,
            4 => Self::MultichannelConfig,
            v => Self::Other(v),
        }
    }

    /// A short name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SequenceStart => "sequence-start",
            Self::CodedFrames => "coded-frames",
            Self::SequenceEnd => "sequence-end",
            Self::MultichannelConfig => "multichannel-config",
            Self::Other(_) => "other",
        }
    }
}

/// A parsed audio tag header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioTagHeader {
    /// Codec.
    pub codec: AudioCodec,
    /// Packet type; `None` for legacy formats other than AAC.
    pub packet_type: Option<AudioPacketType>,
    /// Legacy `SoundRate`/`SoundSize`/`SoundType` bits (low nibble of the first byte); 0 when
    /// enhanced. Informative only: AAC takes its real configuration from the AudioSpecificConfig.
    pub legacy_flags: u8,
    /// Whether the tag uses the Enhanced RTMP `ExAudioTagHeader`.
    pub enhanced: bool,
    /// The track (Enhanced RTMP multitrack): 0, the default track, unless a multitrack packet
    /// says another.
    pub track: u8,
}

/// An audio tag body split into its header and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioPacket<'a> {
    /// The header.
    pub header: AudioTagHeader,
    /// What follows the header: a configuration or a coded frame.
    pub payload: &'a [u8],
}

impl<'a> AudioPacket<'a> {
    /// Parses an audio tag body.
    pub fn parse(body: &'a [u8]) -> Result<Self, FlvError> {
        let &b0 = body.first().ok_or(FlvError::ShortBody("audio"))?;
        let format = b0 >> 4;
        if format == 9 {
            let (code, body) = super::mod_ex::packet_type(b0, &body[1..], "enhanced audio")?;
            let (code, fourcc, track, body) = if code == super::multitrack::AUDIO_MULTITRACK {
                let t = super::multitrack::default_track(body, super::multitrack::AUDIO_MULTITRACK, "enhanced audio")?;
                (t.packet_type, t.fourcc, t.id, t.body)
            } else {
                let (f, rest) = body.split_first_chunk::<4>().ok_or(FlvError::ShortBody("enhanced audio"))?;
                (code, *f, 0, rest)
            };
            let packet_type = AudioPacketType::from_code(code);
            if let AudioPacketType::Other(5..) = packet_type {
                return Err(FlvError::Unsupported("enhanced audio: unknown packet type"));
            }
            let header = AudioTagHeader {
                codec: AudioCodec::from_fourcc(fourcc),
                packet_type: Some(packet_type),
                legacy_flags: 0,
                enhanced: true,
                track,
            };
            return Ok(Self { header, payload: body });
        }
        let legacy_flags = b0 & 0x0F;
        if format == 10 {
            let &t = body.get(1).ok_or(FlvError::ShortBody("AAC audio"))?;
            let header = AudioTagHeader {
                codec: AudioCodec::Aac,
                packet_type: Some(AudioPacketType::from_code(t)),
                legacy_flags,
                enhanced: false,
                track: 0,
            };
            return Ok(Self { header, payload: &body[2..] });
        }
        let codec = if format == 2 { AudioCodec::Mp3 } else { AudioCodec::Legacy(format) };
        let header = AudioTagHeader { codec, packet_type: None, legacy_flags, enhanced: false, track: 0 };
        Ok(Self { header, payload: &body[1..] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_aac_config_and_frame() {
        let p = AudioPacket::parse(&[0xAF, 0, 0x11, 0x90]).unwrap();
        assert_eq!(p.header.codec, AudioCodec::Aac);
        assert_eq!(p.header.packet_type, Some(AudioPacketType::SequenceStart));
        assert_eq!(p.payload, &[0x11, 0x90]);
        let p = AudioPacket::parse(&[0xAF, 1, 7]).unwrap();
        assert_eq!(p.header.packet_type, Some(AudioPacketType::CodedFrames));
    }

    #[test]
    fn enhanced_mod_ex_modifiers_come_before_the_packet_type_and_fourcc() {
        let p = AudioPacket::parse(b"\x97\x02\x00\x01\x00\x01Opus\xFC").unwrap();
        assert_eq!((p.header.codec, p.header.packet_type), (AudioCodec::Opus, Some(AudioPacketType::CodedFrames)));
        assert_eq!(p.payload, b"\xFC");
    }

    #[test]
    fn enhanced_opus() {
        let p = AudioPacket::parse(b"\x91Opus\x01").unwrap();
        assert!(p.header.enhanced);
        assert_eq!(p.header.codec, AudioCodec::Opus);
        assert_eq!(p.header.packet_type, Some(AudioPacketType::CodedFrames));
        assert_eq!(p.payload, b"\x01");
    }

    #[test]
    fn short_bodies_are_errors() {
        for body in [&b""[..], b"\xAF", b"\x90Op"] {
            assert!(AudioPacket::parse(body).is_err());
        }
    }
}

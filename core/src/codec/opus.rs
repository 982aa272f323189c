//! Opus: the identification header `OpusHead` (RFC 7845 §5.1), the `dOps` box (Encapsulation of
//! Opus in ISO Base Media File Format v0.6.8 §4.3.2) and packet durations from the TOC byte
//! (RFC 6716 §3.1–3.2).

use alloc::{string::String, vec::Vec};

use super::CodecError;

/// Longest `OpusHead` accepted: the defined fields take at most 21 + 255 bytes; later minor
/// versions may append more, which is ignored.
pub const MAX_OPUS_HEAD_LEN: usize = 1024;

/// Most samples at 48 kHz in one packet: 120 ms (RFC 6716 §3.2.5).
pub const MAX_OPUS_PACKET_SAMPLES: u32 = 5760;

/// Pre-roll: 80 ms at 48 kHz, what a decoder needs to converge after a seek (RFC 7845 §4.6); the
/// `roll` distance in packets covers at least this many samples.
pub const OPUS_PRE_ROLL_SAMPLES: u32 = 3840;

/// Bytes of `OpusHead` before the channel mapping table.
const HEAD_LEN: usize = 19;

/// An Opus decoder configuration, as carried in the Enhanced RTMP `Opus` audio SequenceStart (an
/// `OpusHead`, little-endian).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusConfig {
    /// The whole `OpusHead`, byte for byte.
    pub head: Vec<u8>,
    /// Output Channel Count (1–255).
    pub channels: u8,
    /// Pre-skip: samples at 48 kHz to drop from the start of the decoded output.
    pub pre_skip: u16,
    /// Input Sample Rate in Hz (informative; Opus decodes at 48 kHz).
    pub input_sample_rate: u32,
    /// Output Gain in Q7.8 dB.
    pub output_gain: i16,
    /// Channel Mapping Family: 0 (mono or stereo), 1 (Vorbis order, 1–8 channels) or 255.
    pub mapping_family: u8,
    /// Stream Count (N); 1 for family 0.
    pub stream_count: u8,
    /// Coupled Stream Count (M); `channels` − 1 for family 0.
    pub coupled_count: u8,
    /// Channel Mapping: `channels` bytes, empty for family 0 (which has no table).
    pub channel_mapping: Vec<u8>,
}

impl OpusConfig {
    /// Parses an `OpusHead` (RFC 7845 §5.1). Any version with major version 0 (0–15) is
    /// accepted; bytes after the channel mapping table are ignored.
    pub fn parse(head: &[u8]) -> Result<Self, CodecError> {
        const WHAT: &str = "OpusHead";
        if head.len() > MAX_OPUS_HEAD_LEN {
            return Err(CodecError::Unsupported("OpusHead is longer than 1024 bytes"));
        }
        let fixed: [u8; HEAD_LEN] =
            head.get(..HEAD_LEN).and_then(|h| h.try_into().ok()).ok_or(CodecError::Truncated(WHAT))?;
        let [m0, m1, m2, m3, m4, m5, m6, m7, version, channels, s0, s1, r0, r1, r2, r3, g0, g1, mapping_family] = fixed;
        if [m0, m1, m2, m3, m4, m5, m6, m7] != *b"OpusHead" {
            return Err(CodecError::Invalid { what: "OpusHead magic", value: u32::from_be_bytes([m0, m1, m2, m3]) });
        }
        if version > 15 {
            return Err(CodecError::Unsupported("OpusHead major version is not 0"));
        }
        if channels == 0 {
            return Err(CodecError::Invalid { what: "OpusHead channel count", value: 0 });
        }
        let (stream_count, coupled_count, channel_mapping) = match mapping_family {
            0 if channels <= 2 => (1, channels - 1, Vec::new()),
            0 => return Err(CodecError::Invalid { what: "OpusHead family 0 channel count", value: channels.into() }),
            1 | 255 => {
                if mapping_family == 1 && channels > 8 {
                    return Err(CodecError::Invalid {
                        what: "OpusHead family 1 channel count",
                        value: channels.into(),
                    });
                }
                let table =
                    head.get(HEAD_LEN..HEAD_LEN + 2 + usize::from(channels)).ok_or(CodecError::Truncated(WHAT))?;
                let (&[streams, coupled], mapping) =
                    table.split_first_chunk::<2>().ok_or(CodecError::Truncated(WHAT))?;
                if streams == 0 {
                    return Err(CodecError::Invalid { what: "OpusHead stream count", value: 0 });
                }
                let decoded = u32::from(streams) + u32::from(coupled);
                if coupled > streams || decoded > 255 {
                    return Err(CodecError::Invalid { what: "OpusHead coupled stream count", value: coupled.into() });
                }
                if let Some(&bad) = mapping.iter().find(|&&c| c != 255 && u32::from(c) >= decoded) {
                    return Err(CodecError::Invalid { what: "OpusHead channel mapping", value: bad.into() });
                }
                (streams, coupled, mapping.to_vec())
            }
            _ => return Err(CodecError::Unsupported("Opus channel mapping families other than 0, 1 and 255")),
        };
        Ok(Self {
            head: head.to_vec(),
            channels,
            pre_skip: u16::from_le_bytes([s0, s1]),
            input_sample_rate: u32::from_le_bytes([r0, r1, r2, r3]),
            output_gain: i16::from_le_bytes([g0, g1]),
            mapping_family,
            stream_count,
            coupled_count,
            channel_mapping,
        })
    }

    /// The `dOps` payload, big-endian (Opus in ISOBMFF §4.3.2): Version 0, OutputChannelCount,
    /// PreSkip, InputSampleRate, OutputGain, ChannelMappingFamily, and for a family other than 0
    /// StreamCount, CoupledCount and ChannelMapping. The box header is the caller's.
    pub fn write_dops(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0, self.channels]);
        out.extend_from_slice(&self.pre_skip.to_be_bytes());
        out.extend_from_slice(&self.input_sample_rate.to_be_bytes());
        out.extend_from_slice(&self.output_gain.to_be_bytes());
        out.push(self.mapping_family);
        if self.mapping_family != 0 {
            out.extend_from_slice(&[self.stream_count, self.coupled_count]);
            out.extend_from_slice(&self.channel_mapping);
        }
    }

    /// The codecs string, `opus`: the binding defines none; this is what browsers accept for Opus
    /// in MP4 and what ffmpeg's HLS muxer writes.
    pub fn codec_string(&self) -> String {
        "opus".into()
    }

    /// Samples at 48 kHz in one Opus packet, from its TOC byte (RFC 6716 §3.1: `config` gives the
    /// frame size, the code 0–3 the frame count, code 3 from the next byte); at most
    /// [`MAX_OPUS_PACKET_SAMPLES`] (§3.2.5). In a multistream packet (RFC 7845 §5.1.1) the first
    /// stream's TOC speaks for all, as every stream lasts as long.
    pub fn packet_samples(packet: &[u8]) -> Result<u32, CodecError> {
        const WHAT: &str = "Opus packet";
        let &toc = packet.first().ok_or(CodecError::Truncated(WHAT))?;
        let config = toc >> 3;
        // Table 2: SILK 10/20/40/60 ms, Hybrid 10/20 ms, CELT 2.5/5/10/20 ms.
        let frame: u32 = match (config, config % 4) {
            (0..=11, 0) => 480,
            (0..=11, 1) => 960,
            (0..=11, 2) => 1920,
            (0..=11, _) => 2880,
            (12..=15, 0 | 2) => 480,
            (12..=15, _) => 960,
            (_, n) => 120 << n,
        };
        let frames = match toc & 0x03 {
            0 => 1,
            1 | 2 => 2,
            _ => {
                let count = packet.get(1).ok_or(CodecError::Truncated(WHAT))? & 0x3F;
                if count == 0 {
                    return Err(CodecError::Invalid { what: "Opus frame count", value: 0 });
                }
                u32::from(count)
            }
        };
        let samples = frame * frames;
        if samples > MAX_OPUS_PACKET_SAMPLES {
            return Err(CodecError::Invalid { what: "Opus packet duration (samples)", value: samples });
        }
        Ok(samples)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // Made with ffmpeg 9.0.2 (`-f lavfi -i sine -c:a libopus -f flv`): the SequenceStart tag body
    // after `Opus`; `*_DOPS` from an MP4 ffmpeg muxed from that FLV with `-c copy`.
    /// OpusHead from libopus, mono, as the FLV SequenceStart carries it.
    pub(crate) const OPUS_MONO_HEAD: &[u8] = &[
        0x4F, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64, 0x01, 0x01, 0x38, 0x01, 0x80, 0xBB, 0x00, 0x00, 0x00, 0x00,
        0x00,
    ];
    /// The dOps payload ffmpeg's MP4 muxer wrote for it.
    pub(crate) const OPUS_MONO_DOPS: &[u8] = &[0x00, 0x01, 0x01, 0x38, 0x00, 0x00, 0xBB, 0x80, 0x00, 0x00, 0x00];
    /// OpusHead from libopus, stereo, as the FLV SequenceStart carries it.
    pub(crate) const OPUS_STEREO_HEAD: &[u8] = &[
        0x4F, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64, 0x01, 0x02, 0x38, 0x01, 0x80, 0xBB, 0x00, 0x00, 0x00, 0x00,
        0x00,
    ];
    /// The dOps payload ffmpeg's MP4 muxer wrote for it.
    pub(crate) const OPUS_STEREO_DOPS: &[u8] = &[0x00, 0x02, 0x01, 0x38, 0x00, 0x00, 0xBB, 0x80, 0x00, 0x00, 0x00];
    /// OpusHead from libopus, 5.1 (channel mapping family 1), as the FLV SequenceStart carries it.
    pub(crate) const OPUS_51_HEAD: &[u8] = &[
        0x4F, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64, 0x01, 0x06, 0x38, 0x01, 0x80, 0xBB, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x04, 0x02, 0x00, 0x04, 0x01, 0x02, 0x03, 0x05,
    ];
    /// The dOps payload ffmpeg's MP4 muxer wrote for it.
    pub(crate) const OPUS_51_DOPS: &[u8] = &[
        0x00, 0x06, 0x01, 0x38, 0x00, 0x00, 0xBB, 0x80, 0x00, 0x00, 0x01, 0x04, 0x02, 0x00, 0x04, 0x01, 0x02, 0x03,
        0x05,
    ];
    /// A whole real packet: libopus stereo digital silence (`anullsrc`), 20 ms.
    pub(crate) const OPUS_SILENCE_PACKET: &[u8] = &[0xFC, 0xFF, 0xFE];
    /// The first four bytes of real libopus packets and their duration in samples at 48 kHz.
    pub(crate) const OPUS_PACKET_HEADS: [(&[u8], u32); 10] = [
        (&[0xE0, 0xB4, 0x44, 0xD2], 120),  // -frame_duration 2.5: CELT, 21 bytes
        (&[0xE8, 0xB3, 0x08, 0x7B], 240),  // 5 ms CELT, 43 bytes
        (&[0xF0, 0xAD, 0xB1, 0x6D], 480),  // 10 ms CELT, 75 bytes
        (&[0xF8, 0xAF, 0xE9, 0x1D], 960),  // 20 ms CELT (the default), 168 bytes
        (&[0xF9, 0xB1, 0xA1, 0xA0], 1920), // 40 ms: two 20 ms frames (code 1), 319 bytes
        (&[0xFB, 0x03, 0xAC, 0xA7], 2880), // 60 ms: code 3, three 20 ms frames, 479 bytes
        (&[0xFB, 0x06, 0xAF, 0xE9], 5760), // 120 ms: code 3, six frames, 956 bytes
        (&[0x18, 0xE7, 0x05, 0xDA], 2880), // -application voip -b:a 8k: one 60 ms SILK NB frame, 49 bytes
        (&[0x7B, 0x83, 0x34, 0x3B], 2880), // -b:a 24k: code 3, three 20 ms hybrid FB frames, 167 bytes
        (&[0xFC, 0x02, 0xFF, 0xFE], 960),  // 5.1 multistream (self-delimited first stream), 172 bytes
    ];

    use crate::codec::av1::tests::prefixes_and_mutations;

    #[test]
    fn mono_stereo_and_5_1_heads() {
        let m = OpusConfig::parse(OPUS_MONO_HEAD).unwrap();
        assert_eq!((m.channels, m.pre_skip, m.input_sample_rate, m.output_gain), (1, 312, 48000, 0));
        assert_eq!((m.mapping_family, m.stream_count, m.coupled_count), (0, 1, 0));
        assert!(m.channel_mapping.is_empty());
        assert_eq!(m.codec_string(), "opus");
        let s = OpusConfig::parse(OPUS_STEREO_HEAD).unwrap();
        assert_eq!((s.channels, s.stream_count, s.coupled_count), (2, 1, 1));
        let c = OpusConfig::parse(OPUS_51_HEAD).unwrap();
        assert_eq!((c.channels, c.mapping_family, c.stream_count, c.coupled_count), (6, 1, 4, 2));
        assert_eq!(c.channel_mapping, [0, 4, 1, 2, 3, 5]);
        assert_eq!(c.head, OPUS_51_HEAD);
    }

    #[test]
    fn sequence_start_through_the_flv_layer() {
        use crate::flv::{AudioCodec, AudioPacket, AudioPacketType};
        let body = [&b"\x90Opus"[..], OPUS_STEREO_HEAD].concat();
        let p = AudioPacket::parse(&body).unwrap();
        assert_eq!((p.header.codec, p.header.packet_type), (AudioCodec::Opus, Some(AudioPacketType::SequenceStart)));
        assert_eq!(OpusConfig::parse(p.payload).unwrap().channels, 2);
    }

    #[test]
    fn dops_matches_what_ffmpeg_muxed() {
        for (head, dops) in [(OPUS_MONO_HEAD, OPUS_MONO_DOPS), (OPUS_STEREO_HEAD, OPUS_STEREO_DOPS)]
            .into_iter()
            .chain([(OPUS_51_HEAD, OPUS_51_DOPS)])
        {
            let mut out = Vec::new();
            OpusConfig::parse(head).unwrap().write_dops(&mut out);
            assert_eq!(out, dops);
        }
        let mut gain = OPUS_MONO_HEAD.to_vec();
        gain[16..18].copy_from_slice(&(-256i16).to_le_bytes());
        let c = OpusConfig::parse(&gain).unwrap();
        assert_eq!(c.output_gain, -256);
        let mut out = Vec::new();
        c.write_dops(&mut out);
        assert_eq!(out[8..10], [0xFF, 0x00]);
    }

    #[test]
    fn versions_and_trailing_bytes() {
        let with_version = |v: u8| {
            let mut h = OPUS_STEREO_HEAD.to_vec();
            h[8] = v;
            OpusConfig::parse(&h)
        };
        assert!((0..=15).all(|v| with_version(v).is_ok()));
        assert!(matches!(with_version(16), Err(CodecError::Unsupported(_))));
        assert!(OpusConfig::parse(&[OPUS_STEREO_HEAD, &[1, 2, 3]].concat()).is_ok());
    }

    #[test]
    fn invalid_heads_are_errors() {
        let with = |i: usize, v: u8| {
            let mut h = OPUS_51_HEAD.to_vec();
            h[i] = v;
            OpusConfig::parse(&h)
        };
        assert!(matches!(with(0, b'o'), Err(CodecError::Invalid { what: "OpusHead magic", .. })));
        assert_eq!(with(9, 0), Err(CodecError::Invalid { what: "OpusHead channel count", value: 0 }));
        assert_eq!(with(9, 9), Err(CodecError::Invalid { what: "OpusHead family 1 channel count", value: 9 }));
        assert_eq!(with(19, 0), Err(CodecError::Invalid { what: "OpusHead stream count", value: 0 }));
        assert_eq!(with(20, 5), Err(CodecError::Invalid { what: "OpusHead coupled stream count", value: 5 }));
        assert_eq!(with(22, 6), Err(CodecError::Invalid { what: "OpusHead channel mapping", value: 6 }));
        assert!(with(22, 255).is_ok(), "255 is a silent channel");
        assert!(matches!(with(18, 2), Err(CodecError::Unsupported(_))), "ambisonics");
        assert!(with(18, 255).is_ok());
        assert_eq!(OpusConfig::parse(&OPUS_51_HEAD[..26]), Err(CodecError::Truncated("OpusHead")));
        let mut three = OPUS_STEREO_HEAD.to_vec();
        three[9] = 3;
        assert!(OpusConfig::parse(&three).is_err(), "family 0 is mono or stereo");
        assert!(OpusConfig::parse(&[]).is_err());
    }

    #[test]
    fn packet_durations() {
        assert_eq!(OpusConfig::packet_samples(OPUS_SILENCE_PACKET), Ok(960));
        for (packet, samples) in OPUS_PACKET_HEADS {
            assert_eq!(OpusConfig::packet_samples(packet), Ok(samples), "{packet:02X?}");
        }
        // Code 2 (two frames of different sizes): 2 × 10 ms SILK WB (config 8).
        assert_eq!(OpusConfig::packet_samples(&[0x42, 0x01]), Ok(960));
        // 16 × 10 ms is over 120 ms; zero frames is invalid; code 3 needs its count byte.
        assert!(OpusConfig::packet_samples(&[0xF3, 0x10]).is_err());
        assert!(OpusConfig::packet_samples(&[0xF3, 0x00]).is_err());
        assert_eq!(OpusConfig::packet_samples(&[0xF3]), Err(CodecError::Truncated("Opus packet")));
        assert!(OpusConfig::packet_samples(&[]).is_err());
        // 2 × 60 ms is the longest code 1 packet.
        assert_eq!(OpusConfig::packet_samples(&[0x19]), Ok(MAX_OPUS_PACKET_SAMPLES));
        assert_eq!(OPUS_PRE_ROLL_SAMPLES, 4 * 960);
    }

    #[test]
    fn no_input_panics() {
        for head in [OPUS_MONO_HEAD, OPUS_STEREO_HEAD, OPUS_51_HEAD] {
            prefixes_and_mutations(head, |b| {
                let _ = OpusConfig::parse(b).map(|c| c.write_dops(&mut Vec::new()));
            });
        }
        for toc in 0..=255u8 {
            for count in 0..=255u8 {
                let _ = OpusConfig::packet_samples(&[toc, count]);
            }
            let _ = OpusConfig::packet_samples(&[toc]);
        }
    }
}

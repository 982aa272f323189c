//! MPEG audio frame headers: MPEG-1 (ISO/IEC 11172-3 §2.4.1.3, §2.4.2.3), MPEG-2 lower sampling
//! frequencies (ISO/IEC 13818-3 §2.4.2.3) and MPEG 2.5 (the common extension: `ID` bits `00`, half
//! the MPEG-2 rates, Layer III only). MP3 in FLV (`SoundFormat` 2) has no sequence header: the
//! configuration is the first frame's header.

use alloc::string::String;

use super::{bits::BitReader, CodecError};

/// Bitrates in kbit/s by `bitrate_index` 1..=14 (index 0 is free format, 15 is forbidden):
/// MPEG-1 Layer I, II, III (ISO/IEC 11172-3 §2.4.2.3) and MPEG-2/2.5 Layer I, II and III
/// (ISO/IEC 13818-3 §2.4.2.3, Layers II and III share a table).
const BITRATES: [[u16; 14]; 4] = [
    [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
    [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
];
/// MPEG-2/2.5 Layers II and III.
const LSF_BITRATES: [u16; 14] = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

/// MPEG-1 sampling frequencies by `sampling_frequency` 0..=2 (3 is reserved); MPEG-2 halves them,
/// MPEG 2.5 quarters them.
const RATES: [u32; 3] = [44100, 48000, 32000];

/// The MPEG audio version, from the header's `ID` bit and the MPEG 2.5 extension bit before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpegVersion {
    /// MPEG-1 audio (ISO/IEC 11172-3): 32, 44.1 and 48 kHz.
    Mpeg1,
    /// MPEG-2 lower sampling frequencies (ISO/IEC 13818-3): 16, 22.05 and 24 kHz.
    Mpeg2,
    /// MPEG 2.5 (not ISO): 8, 11.025 and 12 kHz, Layer III only.
    Mpeg25,
}

/// An MPEG audio configuration, read from one frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp3Config {
    /// MPEG-1, MPEG-2 or MPEG 2.5.
    pub version: MpegVersion,
    /// Layer 1, 2 or 3 (MP3).
    pub layer: u8,
    /// Bitrate in bit/s; `None` for free format (`bitrate_index` 0), whose frame length the header
    /// does not give.
    pub bit_rate: Option<u32>,
    /// Sampling frequency in Hz.
    pub sample_rate: u32,
    /// `padding_bit`: this frame has one more slot.
    pub padding: bool,
    /// 1 for `mode` 3 (single channel), else 2 (stereo, joint stereo, dual channel).
    pub channels: u16,
    /// Samples per channel in one frame: 384 for Layer I, 1152 for Layer II, 1152 for MPEG-1
    /// Layer III and 576 for MPEG-2/2.5 Layer III (one granule, ISO/IEC 13818-3).
    pub samples_per_frame: u32,
}

impl Mp3Config {
    /// Parses the 4-byte header at the start of `frame` (ISO/IEC 11172-3 §2.4.1.3): `syncword`
    /// (12 bits, of which MPEG 2.5 takes the last as its version bit), `ID`, `layer`,
    /// `protection_bit`, `bitrate_index`, `sampling_frequency`, `padding_bit`, `private_bit`,
    /// `mode`; the rest (mode extension, copyright, original, emphasis) is not read. Free format is
    /// accepted, as packaging needs no frame length (FLV delimits frames); `bitrate_index` 15,
    /// reserved layer, version and sampling frequency are errors, and so is MPEG 2.5 with a layer
    /// other than III.
    pub fn parse(frame: &[u8]) -> Result<Self, CodecError> {
        const WHAT: &str = "MPEG audio header";
        let mut r = BitReader::new(frame.get(..4).ok_or(CodecError::Truncated(WHAT))?, WHAT);
        let sync = r.bits(11)?;
        if sync != 0x7FF {
            return Err(CodecError::Invalid { what: "MPEG audio syncword", value: sync });
        }
        let version = match r.bits(2)? {
            0 => MpegVersion::Mpeg25,
            2 => MpegVersion::Mpeg2,
            3 => MpegVersion::Mpeg1,
            v => return Err(CodecError::Invalid { what: "MPEG audio version (ID)", value: v }),
        };
        let layer = match r.u8(2)? {
            0 => return Err(CodecError::Invalid { what: "MPEG audio layer", value: 0 }),
            code => 4 - code,
        };
        if version == MpegVersion::Mpeg25 && layer != 3 {
            return Err(CodecError::Unsupported("MPEG 2.5 audio other than Layer III"));
        }
        r.skip(1)?; // protection_bit
        let bitrate_index = r.bits(4)?;
        let table = match (version, layer) {
            (MpegVersion::Mpeg1, _) => BITRATES.get(usize::from(layer - 1)),
            (_, 1) => BITRATES.get(3),
            _ => Some(&LSF_BITRATES),
        };
        let bit_rate = match bitrate_index {
            0 => None,
            i => {
                let kbps = table
                    .and_then(|t| t.get(i as usize - 1))
                    .ok_or(CodecError::Invalid { what: "MPEG audio bitrate_index", value: i })?;
                Some(u32::from(*kbps) * 1000)
            }
        };
        let frequency = r.bits(2)?;
        let base = *RATES
            .get(frequency as usize)
            .ok_or(CodecError::Invalid { what: "MPEG audio sampling_frequency", value: frequency })?;
        let sample_rate = match version {
            MpegVersion::Mpeg1 => base,
            MpegVersion::Mpeg2 => base / 2,
            MpegVersion::Mpeg25 => base / 4,
        };
        let padding = r.bit()?;
        r.skip(1)?; // private_bit
        let channels = if r.bits(2)? == 3 { 1 } else { 2 };
        let samples_per_frame = match (layer, version) {
            (1, _) => 384,
            (3, MpegVersion::Mpeg2 | MpegVersion::Mpeg25) => 576,
            _ => 1152,
        };
        Ok(Self { version, layer, bit_rate, sample_rate, padding, channels, samples_per_frame })
    }

    /// Bytes in this frame, header included (ISO/IEC 11172-3 §2.4.3.1: slots of 4 bytes in Layer I,
    /// 1 byte in II and III, `padding_bit` adding one): `None` for free format.
    pub fn frame_len(&self) -> Option<usize> {
        let bits = u64::from(self.bit_rate?) * u64::from(self.samples_per_frame);
        let pad = u64::from(self.padding);
        let len = if self.layer == 1 {
            (bits / 32 / u64::from(self.sample_rate) + pad) * 4
        } else {
            bits / 8 / u64::from(self.sample_rate) + pad
        };
        usize::try_from(len).ok()
    }

    /// The MPEG-4 `objectTypeIndication` for the `esds` DecoderConfigDescriptor (MP4RA object
    /// types; no DecoderSpecificInfo follows): 0x6B for MPEG-1 audio (ISO/IEC 11172-3), 0x69 for
    /// MPEG-2 audio (ISO/IEC 13818-3), which also covers MPEG 2.5 as ffmpeg's MP4 muxer writes it.
    pub fn object_type_indication(&self) -> u8 {
        match self.version {
            MpegVersion::Mpeg1 => 0x6B,
            MpegVersion::Mpeg2 | MpegVersion::Mpeg25 => 0x69,
        }
    }

    /// The codecs string players look for: `mp4a.40.` and the MPEG-4 audio object type of the
    /// layer (ISO/IEC 14496-3 Table 1.1: 32 Layer I, 33 Layer II, 34 Layer III), as Apple's HLS
    /// authoring specification and ffmpeg's HLS muxer write MP3, whatever the `esds`
    /// [`Mp3Config::object_type_indication`] (RFC 6381's `mp4a.6B` form is not recognised by
    /// them).
    pub fn codec_string(&self) -> String {
        alloc::format!("mp4a.40.{}", 31 + u32::from(self.layer))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // Made with ffmpeg 9.0.2 (`-f lavfi -i sine=sample_rate=R -ac C -c:a libmp3lame [-b:a B] -f
    // flv`): the first 8 bytes of the first audio tag body after its `SoundFormat` byte, and the
    // length of that body (a whole frame). Layer II from `-c:a mp2 -f mp2` (FLV takes no MP2).
    /// libmp3lame 44.1 kHz mono 128 kbit/s: MPEG-1 Layer III, no CRC, tag byte `0x2E`.
    pub(crate) const MP3_44K_MONO: &[u8] = &[0xFF, 0xFB, 0x90, 0xC4, 0x00, 0x00, 0x08, 0xCC];
    /// Its second frame, with `padding_bit` set.
    pub(crate) const MP3_44K_MONO_PADDED: &[u8] = &[0xFF, 0xFB, 0x92, 0xC4, 0x0E, 0x83, 0xD5, 0xE2];
    /// libmp3lame 22.05 kHz joint stereo 64 kbit/s: MPEG-2 Layer III, tag byte `0x2B`.
    pub(crate) const MP3_22K_STEREO: &[u8] = &[0xFF, 0xF3, 0x80, 0x64, 0x00, 0x0C, 0x8C, 0x31];
    /// libmp3lame 11.025 kHz mono (its default 16 kbit/s): MPEG 2.5 Layer III, tag byte `0x26`.
    pub(crate) const MP3_11K_MONO: &[u8] = &[0xFF, 0xE3, 0x20, 0xC4, 0x00, 0x10, 0xD8, 0x82];
    /// libmp3lame 48 kHz joint stereo 128 kbit/s: MPEG-1 Layer III. FLV has no 48 kHz
    /// `SoundRate`; ffmpeg writes tag byte `0x2F` (44 kHz) anyway.
    pub(crate) const MP3_48K_STEREO: &[u8] = &[0xFF, 0xFB, 0x94, 0x64, 0x00, 0x00, 0x01, 0x7A];
    /// ffmpeg's mp2 encoder, 48 kHz stereo 384 kbit/s: MPEG-1 Layer II.
    pub(crate) const MP2_48K_STEREO: &[u8] = &[0xFF, 0xFD, 0xE4, 0x04, 0x88, 0x66, 0x66, 0x77];
    /// ffmpeg's mp2 encoder, 22.05 kHz mono 32 kbit/s: MPEG-2 Layer II.
    pub(crate) const MP2_22K_MONO: &[u8] = &[0xFF, 0xF5, 0x40, 0xC4, 0x64, 0x32, 0x2D, 0x12];

    use crate::codec::av1::tests::prefixes_and_mutations;

    fn config(version: MpegVersion, layer: u8, kbps: u32, sample_rate: u32, channels: u16, samples: u32) -> Mp3Config {
        Mp3Config {
            version,
            layer,
            bit_rate: Some(kbps * 1000),
            sample_rate,
            padding: false,
            channels,
            samples_per_frame: samples,
        }
    }

    #[test]
    fn real_headers() {
        use MpegVersion::*;
        // (header, expected, frame length: the FLV tag body minus its first byte)
        let cases = [
            (MP3_44K_MONO, config(Mpeg1, 3, 128, 44100, 1, 1152), 417),
            (MP3_44K_MONO_PADDED, Mp3Config { padding: true, ..config(Mpeg1, 3, 128, 44100, 1, 1152) }, 418),
            (MP3_22K_STEREO, config(Mpeg2, 3, 64, 22050, 2, 576), 208),
            (MP3_11K_MONO, config(Mpeg25, 3, 16, 11025, 1, 576), 104),
            (MP3_48K_STEREO, config(Mpeg1, 3, 128, 48000, 2, 1152), 384),
            // 1152 × 384000 / 8 / 48000; 1152 × 32000 / 8 / 22050 = 208.98 (the .mp2 frames).
            (MP2_48K_STEREO, config(Mpeg1, 2, 384, 48000, 2, 1152), 1152),
            (MP2_22K_MONO, config(Mpeg2, 2, 32, 22050, 1, 1152), 208),
        ];
        for (header, expected, len) in cases {
            let c = Mp3Config::parse(header).unwrap();
            assert_eq!(c, expected, "{header:02X?}");
            assert_eq!(c.frame_len(), Some(len), "{header:02X?}");
        }
    }

    #[test]
    fn codec_strings_and_object_types_are_ffmpegs() {
        // ffmpeg's MP4 muxer wrote objectTypeIndication 0x6B for the 44.1 and 48 kHz streams (and
        // the 48 kHz MP2), 0x69 for 22.05 and 11.025 kHz. Its HLS muxer writes `mp4a.40.34` for all
        // MP3 (MPEG-4 Audio Object Type 34, Layer-3); RFC 6381 §3.3 gives the OTI form.
        for (header, oti, codec) in [
            (MP3_44K_MONO, 0x6B, "mp4a.40.34"),
            (MP3_48K_STEREO, 0x6B, "mp4a.40.34"),
            (MP2_48K_STEREO, 0x6B, "mp4a.40.33"),
            (MP3_22K_STEREO, 0x69, "mp4a.40.34"),
            (MP3_11K_MONO, 0x69, "mp4a.40.34"),
        ] {
            let c = Mp3Config::parse(header).unwrap();
            assert_eq!((c.object_type_indication(), c.codec_string().as_str()), (oti, codec));
        }
    }

    #[test]
    fn layer_1_and_free_format() {
        // MPEG-1 Layer I (11), 448 kbit/s (14), 32 kHz (10), padded, dual channel (10).
        let c = Mp3Config::parse(&[0xFF, 0xFF, 0xEA, 0x80]).unwrap();
        assert_eq!((c.version, c.layer, c.bit_rate, c.sample_rate), (MpegVersion::Mpeg1, 1, Some(448000), 32000));
        assert_eq!((c.channels, c.samples_per_frame), (2, 384));
        // (12 × 448000 / 32000 + 1) × 4 bytes
        assert_eq!(c.frame_len(), Some(676));
        // MPEG-2 Layer I (10 11), 256 kbit/s (14), 16 kHz (10), mono.
        let c = Mp3Config::parse(&[0xFF, 0xF7, 0xE8, 0xC0]).unwrap();
        assert_eq!((c.bit_rate, c.sample_rate, c.channels, c.frame_len()), (Some(256000), 16000, 1, Some(768)));
        // bitrate_index 0: free format.
        let c = Mp3Config::parse(&[0xFF, 0xFB, 0x00, 0x00]).unwrap();
        assert_eq!((c.bit_rate, c.frame_len(), c.sample_rate), (None, None, 44100));
    }

    #[test]
    fn reserved_values_are_errors() {
        let with = |b1: u8, b2: u8| Mp3Config::parse(&[0xFF, b1, b2, 0x00]);
        assert_eq!(with(0xFB, 0xF0), Err(CodecError::Invalid { what: "MPEG audio bitrate_index", value: 15 }));
        assert_eq!(with(0xFB, 0x0C), Err(CodecError::Invalid { what: "MPEG audio sampling_frequency", value: 3 }));
        assert_eq!(with(0xEB, 0x90), Err(CodecError::Invalid { what: "MPEG audio version (ID)", value: 1 }));
        assert_eq!(with(0xF9, 0x90), Err(CodecError::Invalid { what: "MPEG audio layer", value: 0 }));
        assert!(matches!(with(0xE5, 0x90), Err(CodecError::Unsupported(_))), "MPEG 2.5 Layer II");
        assert_eq!(
            Mp3Config::parse(&[0xFF, 0x1B, 0x90, 0xC4]),
            Err(CodecError::Invalid { what: "MPEG audio syncword", value: 0x7F8 })
        );
        assert_eq!(Mp3Config::parse(&MP3_44K_MONO[..3]), Err(CodecError::Truncated("MPEG audio header")));
        assert!(Mp3Config::parse(&[]).is_err());
    }

    #[test]
    fn frames_through_the_flv_layer() {
        use crate::flv::{AudioCodec, AudioPacket};
        let body = [&[0x2F][..], MP3_48K_STEREO].concat();
        let p = AudioPacket::parse(&body).unwrap();
        assert_eq!((p.header.codec, p.header.packet_type), (AudioCodec::Mp3, None));
        assert_eq!(Mp3Config::parse(p.payload).unwrap().sample_rate, 48000, "the frame, not the FLV flags");
    }

    #[test]
    fn no_input_panics() {
        for header in [MP3_44K_MONO, MP3_22K_STEREO, MP3_11K_MONO, MP3_48K_STEREO, MP2_48K_STEREO, MP2_22K_MONO] {
            prefixes_and_mutations(header, |b| {
                let _ = Mp3Config::parse(b).map(|c| (c.frame_len(), c.codec_string()));
            });
        }
        for b1 in 0..=255u8 {
            for b2 in 0..=255u8 {
                let _ = Mp3Config::parse(&[0xFF, b1, b2, 0xC0]).map(|c| c.frame_len());
            }
        }
    }
}

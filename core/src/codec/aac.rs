//! AAC `AudioSpecificConfig` (ISO/IEC 14496-3 §1.6.2.1), with explicit (§1.6.5.2) and
//! backward-compatible (sync extension) SBR/PS signalling.

use alloc::{string::String, vec::Vec};

use super::{bits::BitReader, CodecError};

/// Sampling frequencies by `samplingFrequencyIndex` (ISO/IEC 14496-3 Table 1.18).
const RATES: [u32; 13] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/// Longest `AudioSpecificConfig` accepted; real ones are 2 to 7 bytes.
pub const MAX_ASC_LEN: usize = 64;

/// `audioObjectType` (ISO/IEC 14496-3 Table 1.17), kept open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioObjectType(pub u8);

impl AudioObjectType {
    /// AAC LC.
    pub const AAC_LC: Self = Self(2);
    /// SBR (HE-AAC).
    pub const SBR: Self = Self(5);
    /// PS (HE-AAC v2).
    pub const PS: Self = Self(29);
}

/// An AAC decoder configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacConfig {
    /// The whole `AudioSpecificConfig`, byte for byte (written into `esds`).
    pub record: Vec<u8>,
    /// The signalled `audioObjectType` (5 or 29 for explicit HE-AAC).
    pub object_type: AudioObjectType,
    /// The core codec's object type (2 for HE-AAC over AAC LC).
    pub base_object_type: AudioObjectType,
    /// Core sampling rate in Hz: one frame of 1024 samples lasts 1024 / `sample_rate` seconds.
    pub sample_rate: u32,
    /// Output sampling rate with SBR (twice the core rate), when SBR is signalled.
    pub extension_sample_rate: Option<u32>,
    /// `channelConfiguration` (1–7).
    pub channel_configuration: u8,
    /// Parametric stereo is signalled.
    pub ps: bool,
    /// Samples per frame at `sample_rate` (1024, or 960 with `frameLengthFlag`).
    pub frame_samples: u32,
}

fn read_object_type(r: &mut BitReader<'_>) -> Result<AudioObjectType, CodecError> {
    let t = r.u8(5)?;
    Ok(AudioObjectType(if t == 31 { 32 + r.u8(6)? } else { t }))
}

fn sampling_rate(r: &mut BitReader<'_>) -> Result<u32, CodecError> {
    let index = r.bits(4)?;
    if index == 0xF {
        let rate = r.bits(24)?;
        if rate == 0 {
            return Err(CodecError::Invalid { what: "AAC explicit sampling frequency", value: 0 });
        }
        return Ok(rate);
    }
    RATES.get(index as usize).copied().ok_or(CodecError::Invalid { what: "AAC samplingFrequencyIndex", value: index })
}

impl AacConfig {
    /// Parses an `AudioSpecificConfig`.
    pub fn parse(record: &[u8]) -> Result<Self, CodecError> {
        if record.len() > MAX_ASC_LEN {
            return Err(CodecError::Unsupported("AudioSpecificConfig is longer than 64 bytes"));
        }
        let mut r = BitReader::new(record, "AudioSpecificConfig");
        let object_type = read_object_type(&mut r)?;
        let sample_rate = sampling_rate(&mut r)?;
        let channel_configuration = r.u8(4)?;
        let mut base = object_type;
        let mut ext_rate = None;
        let mut ps = false;
        if object_type == AudioObjectType::SBR || object_type == AudioObjectType::PS {
            ps = object_type == AudioObjectType::PS;
            ext_rate = Some(sampling_rate(&mut r)?);
            base = read_object_type(&mut r)?;
        }
        if !matches!(base.0, 1..=4 | 6 | 7 | 17 | 19..=23) {
            return Err(CodecError::Unsupported("AAC object type has no GASpecificConfig (not AAC)"));
        }
        if channel_configuration == 0 {
            return Err(CodecError::Unsupported("AAC program_config_element channel layouts are not supported"));
        }
        if channel_configuration > 7 {
            return Err(CodecError::Invalid { what: "AAC channelConfiguration", value: channel_configuration.into() });
        }
        // GASpecificConfig (§4.4.1).
        let frame_length_flag = r.bit()?;
        if r.bit()? {
            r.skip(14)?; // coreCoderDelay
        }
        let extension_flag = r.bit()?;
        if matches!(base.0, 6 | 20) {
            r.skip(3)?; // layerNr
        }
        if extension_flag {
            if base.0 == 22 {
                r.skip(16)?;
            }
            if matches!(base.0, 17 | 19 | 20 | 23) {
                r.skip(3)?;
            }
            r.skip(1)?; // extensionFlag3
        }
        // Backward-compatible signalling: syncExtensionType 0x2B7 (§1.6.5.2).
        if object_type == base
            && r.bits_left() >= 16
            && r.bits(11)? == 0x2B7
            && read_object_type(&mut r)? == AudioObjectType::SBR
            && r.bit()?
        {
            ext_rate = Some(sampling_rate(&mut r)?);
            if r.bits_left() >= 12 && r.bits(11)? == 0x548 {
                ps = r.bit()?;
            }
        }
        Ok(Self {
            record: record.to_vec(),
            object_type,
            base_object_type: base,
            sample_rate,
            extension_sample_rate: ext_rate,
            channel_configuration,
            ps,
            frame_samples: if frame_length_flag { 960 } else { 1024 },
        })
    }

    /// Output channels (Table 1.19; configuration 7 is 7.1, eight channels).
    pub fn channels(&self) -> u16 {
        match self.channel_configuration {
            7 => 8,
            c => u16::from(c),
        }
    }

    /// The RFC 6381 codec string, `mp4a.40.N` with the signalled object type.
    pub fn codec_string(&self) -> String {
        alloc::format!("mp4a.40.{}", self.object_type.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aac_lc_48k_stereo() {
        let c = AacConfig::parse(&[0x11, 0x90]).unwrap();
        assert_eq!((c.object_type, c.sample_rate, c.channels()), (AudioObjectType::AAC_LC, 48000, 2));
        assert_eq!(c.codec_string(), "mp4a.40.2");
        assert_eq!(c.frame_samples, 1024);
    }

    #[test]
    fn aac_lc_44100_mono_with_sbr_sync_extension() {
        let c = AacConfig::parse(&[0x12, 0x08, 0x56, 0xE5, 0x00]).unwrap();
        assert_eq!((c.sample_rate, c.channels()), (44100, 1));
        assert_eq!(c.extension_sample_rate, None);
        // 22050 Hz core, SBR at 44100: 0x2B7, SBR, flag 1, index 4.
        let c = AacConfig::parse(&[0x13, 0x88, 0x56, 0xE5, 0xA0]).unwrap();
        assert_eq!((c.sample_rate, c.extension_sample_rate), (22050, Some(44100)));
    }

    #[test]
    fn explicit_he_aac_v2() {
        // AOT 29, 24 kHz core (index 6), stereo... ext index 3 (48 kHz), base AOT 2.
        let c = AacConfig::parse(&[0xEB, 0x09, 0x88, 0x00]).unwrap();
        assert_eq!(c.object_type, AudioObjectType::PS);
        assert_eq!(c.base_object_type, AudioObjectType::AAC_LC);
        assert_eq!(c.codec_string(), "mp4a.40.29");
        assert!(c.ps);
        assert_eq!((c.sample_rate, c.extension_sample_rate), (24000, Some(48000)));
    }

    #[test]
    fn escape_object_type_and_explicit_rate() {
        // AOT 31+ escape → 32+6 bits; explicit 24-bit rate.
        let mut r = BitReader::new(&[0xF8, 0x00], "t");
        assert_eq!(read_object_type(&mut r).unwrap(), AudioObjectType(32));
        // AOT 2, index 15, rate 8000 (0x001F40), channels 1.
        let c = AacConfig::parse(&[0x17, 0x80, 0x0F, 0xA0, 0x08]).unwrap();
        assert_eq!(c.sample_rate, 8000);
        assert_eq!(c.channels(), 1);
    }

    #[test]
    fn invalid_sampling_index_is_an_error() {
        // index 13 (reserved)
        assert_eq!(
            AacConfig::parse(&[0x16, 0x88]),
            Err(CodecError::Invalid { what: "AAC samplingFrequencyIndex", value: 13 })
        );
        assert!(AacConfig::parse(&[]).is_err());
    }
}

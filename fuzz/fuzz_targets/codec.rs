//! The codec configuration parsers, and the frame readers that look into samples, on arbitrary
//! bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapidrtmp_core::codec::{
    looks_like_hevc_record, AacConfig, Ac3Config, Av1Config, AvcConfig, HevcConfig, HevcSps, Mp3Config, OpusConfig,
    Sps, Vp9Config,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = AvcConfig::parse(data) {
        let _ = (c.codec_string(), c.is_idr(data));
    }
    let _ = Sps::parse(data);
    if let Ok(c) = HevcConfig::parse(data) {
        let _ = (c.codec_string(), c.is_irap(data));
    }
    let _ = (HevcSps::parse(data), looks_like_hevc_record(data));
    if let Ok(c) = Av1Config::parse(data) {
        let mut out = Vec::new();
        c.write_av1c(&mut out);
        let _ = (c.codec_string(), c.is_sync(data));
    }
    let _ = Av1Config::write_sample(data, &mut Vec::new());
    if let Ok(c) = Vp9Config::parse(data) {
        c.write_vpcc(&mut Vec::new());
        let _ = c.codec_string();
    }
    let _ = (Vp9Config::frame_size(data), Vp9Config::is_keyframe(data));
    if let Ok(c) = AacConfig::parse(data) {
        let _ = (c.codec_string(), c.channels());
    }
    if let Ok(c) = OpusConfig::parse(data) {
        c.write_dops(&mut Vec::new());
        let _ = c.codec_string();
    }
    let _ = OpusConfig::packet_samples(data);
    if let Ok(c) = Mp3Config::parse(data) {
        let _ = (c.codec_string(), c.frame_len(), c.object_type_indication());
    }
    if let Ok(c) = Ac3Config::parse(data) {
        let mut out = Vec::new();
        c.write_dac3(&mut out);
        c.write_dec3(&mut out);
        let _ = c.codec_string();
    }
});

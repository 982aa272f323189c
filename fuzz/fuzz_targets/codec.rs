//! The codec configuration parsers on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapidrtmp_core::codec::{AacConfig, AvcConfig, Sps};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = AvcConfig::parse(data) {
        let _ = c.codec_string();
    }
    let _ = Sps::parse(data);
    if let Ok(c) = AacConfig::parse(data) {
        let _ = (c.codec_string(), c.channels());
    }
});

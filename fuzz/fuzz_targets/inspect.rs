//! The inspector (MP4 box tree and samples, FLV tags) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = rapidrtmp_core::inspect::inspect(data) {
        let _ = (report.to_text(), report.to_json());
    }
});

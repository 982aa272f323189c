//! Whole-file packaging (chunking, segment and init building, playlists) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapidrtmp_core::package::package_flv;

fuzz_target!(|data: &[u8]| {
    let mut written = 0usize;
    let mut sink = |_: &str, bytes: &[u8]| -> Result<(), ()> {
        written += bytes.len();
        Ok(())
    };
    let _ = package_flv(data, 2000, &mut sink);
});

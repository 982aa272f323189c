//! Clips from arbitrary chunk files: the first 8 bytes are the window (start and end in
//! milliseconds, u32 big-endian each), the rest is chunk files, split where each FLV header
//! (`FLV\x01`) begins. A clip is refused with a status the edge can answer, or is exactly as
//! long as it says, and every range of it is the same slice of the whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapidrtmp_core::clip::{build_clip, DEFAULT_MAX_CLIP};

/// Chunk files at most, so an input's cost stays bounded.
const MAX_CHUNKS: usize = 16;

fuzz_target!(|data: &[u8]| {
    let Some((window, rest)) = data.split_first_chunk::<8>() else { return };
    let start = u64::from(u32::from_be_bytes([window[0], window[1], window[2], window[3]]));
    let end = u64::from(u32::from_be_bytes([window[4], window[5], window[6], window[7]]));
    let mut cuts: Vec<usize> = (0..rest.len().saturating_sub(3)).filter(|&i| &rest[i..i + 4] == b"FLV\x01").collect();
    cuts.truncate(MAX_CHUNKS);
    if cuts.first() != Some(&0) {
        cuts.insert(0, 0);
    }
    let chunks: Vec<&[u8]> =
        cuts.iter().enumerate().map(|(i, &at)| &rest[at..cuts.get(i + 1).copied().unwrap_or(rest.len())]).collect();
    match build_clip(&chunks, start, end, DEFAULT_MAX_CLIP) {
        Ok(clip) => {
            let whole = clip.to_vec(&chunks).expect("the clip's own chunks hold it");
            assert_eq!(whole.len() as u64, clip.len);
            let (a, b) = (whole.len() / 3, whole.len() * 2 / 3 + 1);
            let mut part = Vec::new();
            clip.write_range(&chunks, a as u64..b as u64, &mut part).expect("a range");
            assert_eq!(part, whole[a..b.min(whole.len())]);
        }
        Err(e) => assert!(matches!(e.status(), 400 | 404 | 422 | 500), "{e}"),
    }
});

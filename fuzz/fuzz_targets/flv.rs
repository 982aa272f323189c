//! The FLV reader and the tag header parsers on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapidrtmp_core::flv::{parse_metadata, AudioPacket, Tag, TagReader, VideoPacket};

fuzz_target!(|data: &[u8]| {
    if let Ok((_, reader)) = TagReader::new(data) {
        for tag in reader {
            let Ok(tag) = tag else { break };
            assert!(tag.body.len() <= data.len());
            let _ = VideoPacket::parse(tag.body);
            let _ = AudioPacket::parse(tag.body);
            let _ = parse_metadata(tag.body);
        }
    }
    // A tag at the very start, as a streaming reader sees it: never consumes a partial tag.
    if let Ok(Some((tag, used))) = Tag::parse(data, 0) {
        assert!(used <= data.len() && tag.body.len() < used);
    }
});

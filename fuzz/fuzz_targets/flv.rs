//! The FLV reader, the tag header parsers and the multitrack splitter on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapidrtmp_core::flv::{parse_metadata, split_tracks, AudioPacket, Tag, TagKind, TagReader, VideoPacket};

fuzz_target!(|data: &[u8]| {
    if let Ok((_, reader)) = TagReader::new(data) {
        for tag in reader {
            let Ok(tag) = tag else { break };
            assert!(tag.body.len() <= data.len());
            let _ = VideoPacket::parse(tag.body);
            let _ = AudioPacket::parse(tag.body);
            let _ = parse_metadata(tag.body);
            let mut tracks = Vec::new();
            for kind in [TagKind::Video, TagKind::Audio] {
                if let Ok(true) = split_tracks(kind, tag.body, &mut tracks) {
                    // Each track's body is its bytes with at most a 5-byte header in front.
                    let total: usize = tracks.iter().map(|t| t.body.len()).sum();
                    assert!(total <= tag.body.len() + 5 * tracks.len());
                    for t in &tracks {
                        let _ = VideoPacket::parse(&t.body);
                        let _ = AudioPacket::parse(&t.body);
                    }
                }
            }
        }
    }
    // A tag at the very start, as a streaming reader sees it: never consumes a partial tag.
    if let Ok(Some((tag, used))) = Tag::parse(data, 0) {
        assert!(used <= data.len() && tag.body.len() < used);
    }
});

//! The live edge on a peer's request: a path and query (`Route::parse`, `PlaylistQuery::parse`),
//! then the blocking rules and the Low-Latency playlist (delta updates included) for the stored
//! manifest that follows the first line, next to a live edge with an open chunk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapidrtmp_core::chunk::PartInfo;
use rapidrtmp_core::edge::live::{LiveChunk, LiveEdge, PlaylistQuery, Readiness};
use rapidrtmp_core::edge::Route;
use rapidrtmp_core::manifest::{ChunkEntry, Manifest};
use rapidrtmp_core::timeline::Millis;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (request, manifest) = text.split_once('\n').unwrap_or((&text, ""));
    let (path, query) = request.split_once('?').map_or((request, None), |(p, q)| (p, Some(q)));
    let _ = Route::parse(path);
    let Ok(query) = PlaylistQuery::parse(query) else { return };
    let manifest = Manifest::parse(manifest.as_bytes()).ok();
    let next = manifest.as_ref().map_or(1, |m| m.next_sequence);
    let part = |index: u32| PartInfo {
        index,
        start: Millis(u64::from(index) * 333),
        duration_ms: 333,
        independent: index == 0,
        first_tag: index * 10,
        tags: 10,
    };
    let entry = ChunkEntry {
        session: "s".into(),
        sequence: next,
        init: "s/init-1.mp4".into(),
        start_ms: 0,
        duration_ms: 0,
        bytes: 0,
        wall_clock_ms: 0,
        independent: true,
    };
    let chunks = [LiveChunk { entry, parts: vec![part(0), part(1)], open: true }];
    let edge = LiveEdge { part_target_ms: 333, chunks: &chunks };
    match edge.readiness(manifest.as_ref(), &query) {
        Readiness::Now => assert_eq!(edge.respond(manifest.as_ref(), &query).status, 200),
        Readiness::Reject(r) => assert_eq!(r.status, 400),
        Readiness::Wait => {}
    }
});

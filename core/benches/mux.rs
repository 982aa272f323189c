//! Chunk → segment muxing throughput: the work every edge does per segment request, and
//! whole-file packaging. Input: `$RAPIDRTMP_BENCH_FLV`, else a 20-second 720p30 H.264 + AAC
//! FLV made once with ffmpeg into the target folder.
//!
//! `cargo bench -p rapidrtmp-core --bench mux`

use std::path::PathBuf;
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rapidrtmp_core::chunk::{ChunkEvent, ChunkWriter, Chunker, ClosedChunk};
use rapidrtmp_core::flv::TagReader;
use rapidrtmp_core::package::package_flv;
use rapidrtmp_core::segment::{build_segment, Warnings};

fn fixture() -> Vec<u8> {
    let path = std::env::var_os("RAPIDRTMP_BENCH_FLV").map(PathBuf::from).unwrap_or_else(|| {
        let dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| "target".into());
        let path = dir.join("bench-720p30.flv");
        if !path.exists() {
            std::fs::create_dir_all(&dir).expect("target folder");
            let tmp = dir.join("bench-720p30.tmp.flv");
            let status = Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"])
                .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "20"])
                .args(["-c:v", "libx264", "-preset", "veryfast", "-b:v", "4M", "-g", "60", "-pix_fmt", "yuv420p"])
                .args(["-c:a", "aac", "-b:a", "128k", "-f", "flv"])
                .arg(&tmp)
                .status()
                .expect("ffmpeg (install it: apt-get install ffmpeg)");
            assert!(status.success(), "ffmpeg failed to make the bench fixture");
            std::fs::rename(&tmp, &path).expect("rename fixture");
        }
        path
    });
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The file cut into chunks by the same writer as the ingest node's.
fn chunks(flv: &[u8]) -> Vec<ClosedChunk> {
    let (_, reader) = TagReader::new(flv).expect("an FLV file");
    let mut writer = ChunkWriter::new(Chunker::new(2000));
    let mut events = Vec::new();
    for tag in reader {
        writer.push(&tag.expect("a well-formed fixture"), &mut events);
    }
    writer.finish(&mut events);
    events
        .into_iter()
        .filter_map(|e| match e {
            ChunkEvent::Closed(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let flv = fixture();
    let chunks = chunks(&flv);
    let chunk = &chunks[chunks.len() / 2];
    let media: u64 = chunk.tags().map(|t| t.expect("a tag").body.len() as u64).sum();
    let mut out = Vec::with_capacity(media as usize + 65536);
    let mut g = c.benchmark_group("mux");
    g.throughput(Throughput::Bytes(media));
    g.bench_function("chunk_to_segment", |b| {
        b.iter(|| {
            out.clear();
            let mut w = Warnings::default();
            build_segment(&mut out, &chunk.config, &chunk.info, chunk.tags(), &mut w).expect("segment")
        })
    });
    g.throughput(Throughput::Bytes(flv.len() as u64));
    g.sample_size(20);
    g.bench_function("package_whole_file", |b| {
        b.iter(|| {
            let mut n = 0usize;
            let mut sink = |_: &str, d: &[u8]| -> Result<(), ()> {
                n += d.len();
                Ok(())
            };
            package_flv(&flv, 2000, &mut sink).expect("package");
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

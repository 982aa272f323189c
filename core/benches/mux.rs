//! Chunk → segment muxing throughput: the work every edge does per segment request, and
//! whole-file packaging. Input: [`common::fixture`].
//!
//! `cargo bench -p rapidrtmp-core --bench mux`

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rapidrtmp_core::chunk::{ChunkEvent, ChunkWriter, Chunker, ClosedChunk};
use rapidrtmp_core::flv::TagReader;
use rapidrtmp_core::package::package_flv;
use rapidrtmp_core::segment::{build_segment, Warnings};

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
    let flv = common::fixture();
    let chunks = chunks(&flv);
    let chunk = &chunks[chunks.len() / 2];
    let media: u64 = chunk.tags().map(|t| t.expect("a tag").body.len() as u64).sum();
    let mut out = Vec::with_capacity(usize::try_from(media).expect("a chunk fits in memory") + 65536);
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

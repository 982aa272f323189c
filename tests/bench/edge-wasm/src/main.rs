//! Native side of tests/bench/edge.sh: cuts the first chunk of an FLV file like the ingest node,
//! then builds its media segment through the edge path N times per round and reports the best
//! round.
//!
//! Usage: edge-bench FILE.flv [ITERATIONS=200] [ROUNDS=7]
//! Prints `key=value` lines: chunk_bytes, segment_bytes, digest (FNV-1a of the segment),
//! ms_per_segment (best round), ms_per_segment_median, copy_ms (best round of the copy floor:
//! the chunk copied once into a fresh buffer).

use std::time::Instant;

use rapidrtmp_bench_edge_wasm::{copy_floor, cut_first_chunk, fnv1a, run};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        eprintln!("usage: edge-bench FILE.flv [ITERATIONS] [ROUNDS]");
        std::process::exit(2)
    });
    let iterations: u32 = args.next().map_or(200, |s| s.parse().expect("ITERATIONS"));
    let rounds: u32 = args.next().map_or(7, |s| s.parse().expect("ROUNDS"));
    let flv = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let p = cut_first_chunk(&flv).unwrap_or_else(|e| panic!("{path}: {e}"));
    drop(flv);
    let segment = run(&p, iterations.min(20)); // warm-up
    let mut times = Vec::with_capacity(rounds as usize);
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let last = run(&p, iterations);
        let ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(iterations.max(1));
        assert_eq!(last.len(), segment.len());
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    let mut copy = f64::INFINITY;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        copy_floor(&p, iterations);
        copy = copy.min(t.elapsed().as_secs_f64() * 1e3 / f64::from(iterations.max(1)));
    }
    println!("chunk_bytes={}", p.chunk.len());
    println!("chunk_duration_ms={}", p.info.duration_ms);
    println!("segment_bytes={}", segment.len());
    println!("digest={:08x}", fnv1a(&segment));
    println!("ms_per_segment={:.4}", times[0]);
    println!("ms_per_segment_median={:.4}", times[times.len() / 2]);
    println!("copy_ms={copy:.4}");
}

//! The ingest node's work per RTMP message, without the network: each audio, video and script
//! message of an FLV file (input: [`common::fixture`]) goes the way the node takes it
//! (`ingest-node/src/publish/multitrack.rs` and `publish.rs`): read once ([`MediaTag`]), counted
//! for the metrics and split into its tracks, pushed into a [`ChunkWriter`] cutting 2 s chunks into 333 ms parts (the
//! node's defaults), and every closed chunk made into its chunk file.
//!
//! Instruction counts, deterministic on a busy machine:
//! `cargo bench -p rapidrtmp-core --bench ingest --no-run`, then
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null BINARY`, BINARY being the
//! `target/release/deps/ingest-*` it built. `cargo bench -p rapidrtmp-core --bench ingest` prints
//! the time.

mod common;

use std::hint::black_box;
use std::time::Instant;

use rapidrtmp_core::chunk::{ChunkEvent, ChunkWriter, Chunker};
use rapidrtmp_core::flv::{split_tracks, Tag, TagReader, TrackPacket};
use rapidrtmp_core::media::{Media, MediaTag};

/// The node's default segment and part durations.
const SEGMENT_MS: u64 = 2000;
const PART_MS: u64 = 333;
/// Times the file is published.
const PASSES: usize = 4;

/// What one publish of the file gave: messages, video and audio frames, chunks, chunk bytes.
#[derive(Debug, Default)]
struct Totals {
    messages: u64,
    video_frames: u64,
    audio_frames: u64,
    chunks: u64,
    chunk_bytes: u64,
}

fn main() {
    let flv = common::fixture();
    let started = Instant::now();
    let mut totals = Totals::default();
    for _ in 0..PASSES {
        publish(black_box(&flv), &mut totals);
    }
    let elapsed = started.elapsed();
    println!(
        "{PASSES} publishes of {} bytes: {totals:?}; {:.1} µs per message",
        flv.len(),
        elapsed.as_secs_f64() * 1e6 / totals.messages as f64
    );
}

/// One publish of the file, message by message.
fn publish(flv: &[u8], totals: &mut Totals) {
    let (_, reader) = TagReader::new(flv).expect("an FLV file");
    let mut writer = ChunkWriter::new(Chunker::new(SEGMENT_MS).with_first_sequence(1)).with_parts(PART_MS);
    let mut events = Vec::new();
    let mut packets: Vec<TrackPacket> = Vec::new();
    let mut frame_rate = None;
    for tag in reader {
        let tag = tag.expect("a well-formed fixture");
        totals.messages += 1;
        // The node's message: a kind, a timestamp and a body.
        let (kind, timestamp, body) = (tag.kind, tag.timestamp, tag.body);
        let message = MediaTag::read(Tag { kind, filtered: false, timestamp, stream_id: 0, body, offset: 0 });
        match message.media {
            Ok(Media::Video { .. }) => totals.video_frames += 1,
            Ok(Media::Audio(_)) => totals.audio_frames += 1,
            _ => {}
        }
        match split_tracks(kind, body, &mut packets) {
            Ok(true) => {
                for p in packets.iter().filter(|p| p.track == 0) {
                    writer.push_read(&MediaTag::read(Tag { body: &p.body, ..message.tag }), &mut events);
                }
            }
            Ok(false) | Err(_) => writer.push_read(&message, &mut events),
        }
        closed(&mut events, &mut frame_rate, totals);
    }
    writer.finish(&mut events);
    closed(&mut events, &mut frame_rate, totals);
}

/// What the node does with a closed chunk: measures the frame rate on the session's first one,
/// and makes its chunk file.
fn closed(events: &mut Vec<ChunkEvent>, frame_rate: &mut Option<f64>, totals: &mut Totals) {
    for event in events.drain(..) {
        if let ChunkEvent::Closed(chunk) = event {
            if frame_rate.is_none() {
                *frame_rate = chunk.frame_rate();
            }
            let file = chunk.into_file("1763900000123");
            totals.chunks += 1;
            totals.chunk_bytes += black_box(file).len() as u64;
        }
    }
}

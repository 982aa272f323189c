//! `rapidrtmp-load archive`: writes the index of a long synthetic archive into a folder store,
//! for benchmarks of archive windows (`tests/bench/archive.sh`) without publishing for a day.
//!
//! One ended stream, one publishing session of `--hours` hours of `--segment-seconds` chunks
//! ending at `--end-ms`: its bucket parts, its session record and its manifest, each serialized
//! by the core's own types ([`Bucket`], [`SessionRecord`], [`Manifest`]) under the keys of
//! [`rapidrtmp_core::layout`], and filled chunk by chunk in the order the ingest node's writer
//! fills them (a chunk over a slice edge in both buckets, a full part sealed and the slice going
//! on in its next part). What is stored is what the writer leaves: the last write of each object.
//! The chunk files are not written: a window's playlist reads the manifest and the buckets only.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use rapidrtmp_core::archive::{buckets_of, Bucket, SessionRecord, MAX_BUCKET_PARTS};
use rapidrtmp_core::layout::{bucket_key, manifest_key, session_key, valid_name};
use rapidrtmp_core::manifest::{ChunkEntry, Manifest, MediaInfo, StreamState};

/// Most hours of archive written: a year of 2 s chunks is 15.8 million entries.
const MAX_HOURS: f64 = 24.0 * 366.0;
/// Shortest chunk, seconds (the node's smallest `--segment-duration`).
const MIN_SEGMENT_SECONDS: f64 = 0.1;
/// Chunks the manifest lists (the node's default live window).
const LIVE_WINDOW: usize = 10;

/// Flags of `archive`.
#[derive(Args, Debug)]
pub struct ArchiveArgs {
    /// The folder store (`rapidrtmp serve --data-dir`, `rapidrtmp edge --store`).
    #[arg(long)]
    store: PathBuf,
    /// The stream key.
    #[arg(long, default_value = "archive")]
    stream: String,
    /// Hours of archive.
    #[arg(long, default_value_t = 25.0)]
    hours: f64,
    /// Duration of each chunk, seconds.
    #[arg(long, default_value_t = 2.0)]
    segment_seconds: f64,
    /// Bytes of each chunk (the index records them; 625,000 is 2 s at 2.5 Mbit/s).
    #[arg(long, default_value_t = 625_000)]
    chunk_bytes: u64,
    /// Wall-clock end of the archive, milliseconds since the Unix epoch (default: a minute ago).
    #[arg(long)]
    end_ms: Option<u64>,
}

/// Writes the archive; prints what it wrote.
pub fn run(args: ArchiveArgs) -> Result<bool, String> {
    if !valid_name(&args.stream) {
        return Err(format!("{:?} is not a stream key", args.stream));
    }
    if !(args.hours > 0.0 && args.hours <= MAX_HOURS) {
        return Err(format!("--hours {} is not in (0, {MAX_HOURS}]", args.hours));
    }
    if !(args.segment_seconds >= MIN_SEGMENT_SECONDS && args.segment_seconds <= 60.0) {
        return Err(format!("--segment-seconds {} is not in [{MIN_SEGMENT_SECONDS}, 60]", args.segment_seconds));
    }
    let duration_ms = (args.segment_seconds * 1000.0).round() as u64;
    let span_ms = (args.hours * 3_600_000.0).round() as u64;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?.as_millis() as u64;
    let end_ms = args.end_ms.unwrap_or(now_ms - 60_000);
    let count = span_ms / duration_ms;
    let first_ms = end_ms - count * duration_ms;
    let session = first_ms.to_string();
    let first_sequence = 0;
    let init = format!("{session}/init-{first_sequence}.mp4");

    let mut manifest = Manifest::new(&args.stream, first_ms);
    manifest.session = session.clone();
    manifest.media = MediaInfo {
        codecs: "avc1.64001F,mp4a.40.2".into(),
        width: Some(1280),
        height: Some(720),
        frame_rate: Some(30.0),
    };
    let mut record: Option<SessionRecord> = None;
    let mut bucket: Option<Bucket> = None;
    let (mut objects, mut index_bytes) = (0u64, 0u64);
    let mut write = |key: &str, json: &[u8]| -> Result<(), String> {
        objects += 1;
        index_bytes += json.len() as u64;
        put(&args.store, key, json)
    };
    for i in 0..count {
        let entry = ChunkEntry {
            session: session.clone(),
            sequence: first_sequence + i,
            init: init.clone(),
            start_ms: i * duration_ms,
            duration_ms,
            bytes: args.chunk_bytes,
            wall_clock_ms: first_ms + i * duration_ms,
            independent: true,
        };
        // As the writer does: each bucket the chunk's span overlaps, never back in a sealed one.
        for start in buckets_of(&entry) {
            let open = bucket.as_ref().map(|b| b.start_ms);
            let start = start.max(open.unwrap_or(0));
            if open != Some(start) {
                if let Some(done) = bucket.take() {
                    write(&bucket_key(&args.stream, done.start_ms, done.part), &done.to_json())?;
                }
                bucket = Some(Bucket::new(start, 0, None));
            }
            let Some(mut b) = bucket.take() else { continue };
            if b.chunks.last().is_some_and(|c| c.sequence == entry.sequence) {
                bucket = Some(b);
                continue;
            }
            if b.full && b.part + 1 >= MAX_BUCKET_PARTS {
                bucket = Some(b); // the writer does not index it either
                continue;
            }
            if b.full {
                write(&bucket_key(&args.stream, b.start_ms, b.part), &b.to_json())?;
                b = Bucket::new(start, b.part + 1, None);
            }
            b.push(entry.clone());
            bucket = Some(b);
        }
        match record.as_mut() {
            Some(r) => r.add(&entry, args.chunk_bytes),
            None => record = Some(SessionRecord::new(&entry, args.chunk_bytes, None)),
        }
        manifest.media_end_ms = Some(entry.start_ms + duration_ms);
        manifest.push_chunk(entry, LIVE_WINDOW);
    }
    if let Some(done) = bucket.take() {
        write(&bucket_key(&args.stream, done.start_ms, done.part), &done.to_json())?;
    }
    let record = record.ok_or("no chunk: --hours is shorter than one chunk")?;
    write(&session_key(&args.stream, &session), &record.to_json())?;
    manifest.state = StreamState::Ended;
    manifest.updated_at_ms = end_ms;
    write(&manifest_key(&args.stream), &manifest.to_json())?;
    println!(
        "archive of {}: {count} chunks of {duration_ms} ms from {first_ms} to {end_ms} (session {session}); \
         {objects} index objects, {index_bytes} bytes, in {}",
        args.stream,
        args.store.display()
    );
    Ok(true)
}

/// Writes `bytes` at `key` of the folder store `root` (a whole file, through a temporary one).
fn put(root: &Path, key: &str, bytes: &[u8]) -> Result<(), String> {
    let path = root.join(key);
    let dir = path.parent().ok_or_else(|| format!("{key} has no folder"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rapidrtmp_core::archive::{bucket_start, BUCKET_MS, MAX_BUCKET_ENTRIES};
    use rapidrtmp_core::layout::archive_prefix;

    use super::*;

    /// Half an hour of 0.1 s chunks: every slice fills full parts and goes on in the next; each
    /// object parses with the core's own parsers, and every chunk is listed once in the bucket
    /// of each slice its span overlaps.
    #[test]
    fn a_synthetic_archive_is_what_the_core_reads() {
        let store = std::env::temp_dir().join(format!("rapidrtmp-load-archive-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store);
        let end_ms = 1_796_570_400_000 + 123;
        let args = ArchiveArgs {
            store: store.clone(),
            stream: "cam".into(),
            hours: 0.5,
            segment_seconds: 0.1,
            chunk_bytes: 1000,
            end_ms: Some(end_ms),
        };
        assert!(run(args).unwrap());
        let count = 18_000;
        let first_ms = end_ms - count * 100;

        let manifest = Manifest::parse(&std::fs::read(store.join(manifest_key("cam"))).unwrap()).unwrap();
        assert_eq!(
            (manifest.state, manifest.chunks.len(), manifest.next_sequence),
            (StreamState::Ended, LIVE_WINDOW, count)
        );
        let record = SessionRecord::parse(&std::fs::read(store.join(session_key("cam", &manifest.session))).unwrap());
        let record = record.unwrap();
        assert_eq!((record.start_ms, record.end_ms, record.chunks), (first_ms, end_ms, count));

        let mut listed = BTreeSet::new();
        let mut full_parts = 0;
        for entry in std::fs::read_dir(store.join(archive_prefix("cam"))).unwrap() {
            let bucket = Bucket::parse(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
            full_parts += usize::from(bucket.full);
            assert_eq!(bucket.full, bucket.chunks.len() == MAX_BUCKET_ENTRIES);
            for c in &bucket.chunks {
                let slice = bucket.start_ms..bucket.start_ms + BUCKET_MS;
                assert!(slice.contains(&c.wall_clock_ms) || slice.contains(&(end_ms_of(c) - 1)));
                assert!(listed.insert((bucket.start_ms, c.sequence)), "listed twice");
            }
        }
        assert!(full_parts >= 10, "{full_parts} full parts");
        let mut wanted = BTreeSet::new();
        for s in 0..count {
            let start = first_ms + s * 100;
            for b in [bucket_start(start), bucket_start(start + 99)] {
                wanted.insert((b, s));
            }
        }
        assert_eq!(listed, wanted);
        std::fs::remove_dir_all(&store).unwrap();
    }

    fn end_ms_of(c: &ChunkEntry) -> u64 {
        rapidrtmp_core::archive::end_ms(c)
    }
}

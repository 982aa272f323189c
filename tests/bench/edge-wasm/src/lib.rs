//! One chunk → one media segment through the edge path (`rapidrtmp_core::edge::respond`, the
//! build step of every edge's driver, `rapidrtmp_core::edge::EdgeDriver`), the same code natively (`src/main.rs`) and in WASM (the exports below, driven by `run.mjs`).
//!
//! The chunk is cut from an FLV file by the core's [`ChunkWriter`], the one the ingest node
//! (`ingest-node/src/publish.rs`) uses, and written as the node writes it ([`ClosedChunk::into_file`]).

use rapidrtmp_core::chunk::{ChunkEvent, ChunkInfo, ChunkWriter, Chunker, ClosedChunk};
use rapidrtmp_core::edge::{respond, Route};
use rapidrtmp_core::flv::{Tag, TagReader};

/// Segment duration the chunk is cut at (the node's default).
pub const SEGMENT_MS: u64 = 2000;
/// Session id written into the chunk (the node uses the session's start in Unix milliseconds).
pub const SESSION: &str = "1763900000123";
/// Stream key in the route.
pub const STREAM: &str = "bench";

/// A chunk file and the request for its media segment.
pub struct Prepared {
    /// The chunk, as the ingest node would put it in the store.
    pub chunk: Vec<u8>,
    /// `/live/bench/{session}/{sequence}.m4s`.
    pub route: Route,
    /// What the chunker said of it.
    pub info: ChunkInfo,
}

fn prepared(chunk: ClosedChunk) -> Prepared {
    let info = chunk.info;
    let chunk = chunk.into_file(SESSION);
    let path = format!("/live/{STREAM}/{SESSION}/{}.m4s", info.sequence);
    let route = Route::parse(&path).expect("valid segment path");
    Prepared { chunk, route, info }
}

/// Cuts the first chunk of an FLV file, as the ingest node does with a publisher's tags.
pub fn cut_first_chunk(flv: &[u8]) -> Result<Prepared, String> {
    let (_, reader) = TagReader::new(flv).map_err(|e| format!("not an FLV file: {e}"))?;
    let mut writer = ChunkWriter::new(Chunker::new(SEGMENT_MS));
    let mut events = Vec::new();
    for tag in reader {
        let tag = tag.map_err(|e| format!("FLV: {e}"))?;
        // The node sees RTMP messages: no file offset, stream id 0.
        let tag =
            Tag { kind: tag.kind, filtered: false, timestamp: tag.timestamp, stream_id: 0, body: tag.body, offset: 0 };
        writer.push(&tag, &mut events);
        if let Some(chunk) = first_closed(&mut events) {
            return Ok(prepared(chunk));
        }
    }
    // A file shorter than one segment: its only chunk ends with it.
    writer.finish(&mut events);
    first_closed(&mut events).map(prepared).ok_or_else(|| "no media to chunk".into())
}

fn first_closed(events: &mut Vec<ChunkEvent>) -> Option<ClosedChunk> {
    events.drain(..).find_map(|e| match e {
        ChunkEvent::Closed(c) => Some(*c),
        _ => None,
    })
}

/// Builds the media segment of `p` through the edge, as a request for it would.
#[inline(never)]
pub fn build_segment(p: &Prepared) -> Vec<u8> {
    let r = respond(&p.route, Some(&p.chunk), &[]);
    assert_eq!(r.status, 200, "edge answered {}: {}", r.status, String::from_utf8_lossy(&r.body));
    r.body
}

/// Builds the segment `iterations` (≥ 1) times; returns the last one. Each segment is dropped
/// before the next is built, as an edge frees a response once it is sent.
pub fn run(p: &Prepared, iterations: u32) -> Vec<u8> {
    let mut last = Vec::new();
    for _ in 0..iterations.max(1) {
        drop(last);
        last = core::hint::black_box(build_segment(core::hint::black_box(p)));
    }
    last
}

/// The floor under [`run`]: copies the chunk into a fresh buffer of the segment's capacity
/// `iterations` (≥ 1) times, the one pass over the media a segment build cannot avoid.
pub fn copy_floor(p: &Prepared, iterations: u32) -> usize {
    let mut last = Vec::new();
    for _ in 0..iterations.max(1) {
        drop(last);
        let mut out = Vec::with_capacity(p.chunk.len() + 1024);
        out.extend_from_slice(core::hint::black_box(&p.chunk));
        last = core::hint::black_box(out);
    }
    last.len()
}

/// FNV-1a (32 bits): native and WASM must build the same bytes.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// The WASM interface, without wasm-bindgen: the host copies the FLV file into memory it got
/// from `alloc`, calls `prepare`, then times `run`.
#[cfg(target_arch = "wasm32")]
mod exports {
    use std::cell::RefCell;

    use super::Prepared;

    struct State {
        prepared: Option<Prepared>,
        last: Vec<u8>,
    }

    thread_local! {
        static STATE: RefCell<State> = const { RefCell::new(State { prepared: None, last: Vec::new() }) };
    }

    /// `len` bytes for the host to write into (leaked until `prepare` takes them back).
    #[no_mangle]
    pub extern "C" fn alloc(len: usize) -> *mut u8 {
        let mut v = Vec::<u8>::with_capacity(len.max(1));
        let p = v.as_mut_ptr();
        core::mem::forget(v);
        p
    }

    /// Cuts the first chunk of the FLV file at `ptr..ptr+len` (from `alloc`, freed here); keeps
    /// the chunk and returns its size (0 on error).
    ///
    /// # Safety
    /// `ptr` came from `alloc(len)` and holds `len` initialised bytes.
    #[no_mangle]
    pub unsafe extern "C" fn prepare(ptr: *mut u8, len: usize) -> u32 {
        let flv = unsafe { Vec::from_raw_parts(ptr, len, len.max(1)) };
        let prepared = super::cut_first_chunk(&flv).ok();
        drop(flv);
        let size = prepared.as_ref().map_or(0, |p| p.chunk.len() as u32);
        STATE.with_borrow_mut(|s| s.prepared = prepared);
        size
    }

    /// Builds the media segment from the kept chunk `iterations` times; returns the last
    /// segment's size (0 before a successful `prepare`).
    #[no_mangle]
    pub extern "C" fn run(iterations: u32) -> u32 {
        STATE.with_borrow_mut(|s| {
            s.last = Vec::new();
            let Some(p) = &s.prepared else { return 0 };
            s.last = super::run(p, iterations);
            s.last.len() as u32
        })
    }

    /// The copy floor ([`super::copy_floor`]) over the kept chunk; returns the bytes copied.
    #[no_mangle]
    pub extern "C" fn copy(iterations: u32) -> u32 {
        STATE.with_borrow(|s| s.prepared.as_ref().map_or(0, |p| super::copy_floor(p, iterations) as u32))
    }

    /// Where the last segment `run` built is (its size is what `run` returned).
    #[no_mangle]
    pub extern "C" fn segment_ptr() -> *const u8 {
        STATE.with_borrow(|s| s.last.as_ptr())
    }

    /// Where the kept chunk is (its size is what `prepare` returned).
    #[no_mangle]
    pub extern "C" fn chunk_ptr() -> *const u8 {
        STATE.with_borrow(|s| s.prepared.as_ref().map_or(core::ptr::null(), |p| p.chunk.as_ptr()))
    }

    /// FNV-1a of the last segment `run` built (to check native and WASM build the same bytes).
    #[no_mangle]
    pub extern "C" fn digest() -> u32 {
        STATE.with_borrow(|s| super::fnv1a(&s.last))
    }
}

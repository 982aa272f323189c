//! Clips being built and sent (`/live/{stream}/clip.mp4`, docs/clips.md) on the node and
//! `rapidrtmp edge`. A clip holds its stored chunks in memory until its last byte is sent, so
//! clips are let in by count and by memory: at most [`MAX_CLIP_BUILDS`] at a time, and their
//! chunks together within the edge's clip memory (`--clip-memory-mb`). A clip beyond either
//! gets a 503 with `Retry-After` at once; a clip larger than the whole clip memory is refused
//! (400) by the core's edge driver before a chunk is read.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Clips built or being sent at once: each is CPU and store reads for a while, and memory
/// until it is sent.
pub const MAX_CLIP_BUILDS: usize = 2;
/// The clip memory when no flag sets it, in MiB (`--clip-memory-mb`): a 10-minute clip of a
/// 3.4 Mbit/s stream.
pub const DEFAULT_CLIP_MEMORY_MB: u64 = rapidrtmp_core::clip::DEFAULT_MAX_CLIP_BYTES >> 20;
/// The largest `--clip-memory-mb` taken (64 GiB, as the other sizes in MiB).
pub const MAX_CLIP_MEMORY_MB: u64 = 65_536;
/// The clip memory is counted in units of this many bytes (a semaphore's permits).
const UNIT: u64 = 1024;

/// The places of clips being built and sent.
pub struct Clips {
    builds: Arc<Semaphore>,
    memory: Arc<Semaphore>,
    memory_bytes: u64,
}

impl Clips {
    /// Clips holding at most `memory_bytes` of chunks between them.
    pub fn new(memory_bytes: u64) -> Self {
        let units = usize::try_from(memory_bytes / UNIT).unwrap_or(usize::MAX).min(Semaphore::MAX_PERMITS);
        Self {
            builds: Arc::new(Semaphore::new(MAX_CLIP_BUILDS)),
            memory: Arc::new(Semaphore::new(units)),
            memory_bytes,
        }
    }

    /// The most bytes of chunks the clips hold between them (and one clip alone).
    pub fn memory_bytes(&self) -> u64 {
        self.memory_bytes
    }

    /// A place for a clip, held until its answer is sent or dropped; `None` when
    /// [`MAX_CLIP_BUILDS`] are being built or sent.
    pub fn start(&self) -> Option<ClipPlace> {
        let build = self.builds.clone().try_acquire_owned().ok()?;
        Some(ClipPlace { _build: build, memory: None, pool: self.memory.clone() })
    }

    /// Bytes of the clip memory the clips hold now.
    pub fn memory_held(&self) -> u64 {
        let free = u64::try_from(self.memory.available_permits()).unwrap_or(u64::MAX);
        self.memory_bytes.saturating_sub(free.saturating_mul(UNIT))
    }
}

/// A clip's place among those being built and sent, and the memory its chunks hold.
pub struct ClipPlace {
    _build: OwnedSemaphorePermit,
    memory: Option<OwnedSemaphorePermit>,
    pool: Arc<Semaphore>,
}

impl ClipPlace {
    /// Whether it holds memory for its chunks.
    pub fn holding(&self) -> bool {
        self.memory.is_some()
    }

    /// Holds `bytes` of the clip memory for the clip's chunks (once; later calls hold nothing
    /// more); `false` when the clips being sent hold too much of it for these.
    pub fn hold(&mut self, bytes: u64) -> bool {
        if self.memory.is_some() {
            return true;
        }
        let Ok(units) = u32::try_from(bytes.div_ceil(UNIT)) else { return false };
        match self.pool.clone().try_acquire_many_owned(units) {
            Ok(permit) => {
                self.memory = Some(permit);
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_are_let_in_by_count_and_by_memory() {
        let clips = Clips::new(10 * UNIT);
        let mut a = clips.start().expect("a first place");
        assert!(a.hold(6 * UNIT));
        assert!(a.hold(9 * UNIT), "a clip holds its memory once");
        assert_eq!(clips.memory_held(), 6 * UNIT);
        let mut b = clips.start().expect("a second place");
        assert!(clips.start().is_none(), "{MAX_CLIP_BUILDS} at a time");
        assert!(!b.hold(5 * UNIT), "6 of 10 held: 5 more do not fit");
        assert!(b.hold(4 * UNIT));
        drop(a);
        assert_eq!(clips.memory_held(), 4 * UNIT, "a clip gives its memory back when it goes");
        let mut c = clips.start().expect("a place again");
        assert!(c.hold(6 * UNIT));
        assert!(!clips.start().is_some_and(|mut d| d.hold(1)), "both places taken");
        drop((b, c));
        assert_eq!(clips.memory_held(), 0);
        assert!(!clips.start().expect("a place").hold(u64::MAX), "more than a semaphore counts");
    }
}

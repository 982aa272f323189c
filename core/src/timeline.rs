//! Time: RTMP's wrapping u32 milliseconds unwrapped once into u64, and audio sample clocks.
//!
//! RTMP timestamps (Adobe RTMP spec §5.3.1.1 and FLV spec E.4.1) are 32-bit milliseconds that
//! wrap after 49.7 days. Everything past the FLV boundary works on [`Millis`] (u64) or on
//! sample counts in a track's own timescale.

/// Milliseconds on the unwrapped, 64-bit timeline of one publishing session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// The u64 timestamp whose low 32 bits are `ts` and that is nearest to `self`: how a wrapping
    /// timestamp is read against a known point of the timeline (a chunk's start, the previous
    /// tag). Saturates at 0 rather than going below the timeline's origin.
    pub fn unwrap_near(self, ts: u32) -> Millis {
        // The wrapping distance from our low 32 bits to `ts`, read as signed: ±2^31 ms.
        let [b0, b1, b2, b3, ..] = self.0.to_le_bytes();
        let delta = ts.wrapping_sub(u32::from_le_bytes([b0, b1, b2, b3])).cast_signed();
        Millis(self.0.saturating_add_signed(i64::from(delta)))
    }

    /// This time in units of `timescale` per second (exact for 1000 and its multiples),
    /// saturating at `u64::MAX` (past 5 million years at 90 kHz).
    pub fn to_timescale(self, timescale: u32) -> u64 {
        u64::try_from(u128::from(self.0) * u128::from(timescale) / 1000).unwrap_or(u64::MAX)
    }
}

/// Unwraps a sequence of wrapping u32 timestamps, each against the one before.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwrapper {
    last: Option<Millis>,
}

impl Unwrapper {
    /// Unwraps `ts`. The first timestamp is taken as is; each next one moves the timeline by
    /// its signed 32-bit distance from the previous, so a wrap past 2^32 continues upwards and a
    /// jump backwards stays visible to the caller.
    pub fn unwrap(&mut self, ts: u32) -> Millis {
        let t = match self.last {
            None => Millis(u64::from(ts)),
            Some(last) => last.unwrap_near(ts),
        };
        self.last = Some(t);
        t
    }
}

/// Audio sample times (every audio codec: its frames hold a known number of samples, 1024 for
/// AAC): counted in samples, on a grid of whole frames anchored at the session's
/// first audio frame, so millisecond rounding never accumulates and every segment of a session
/// continues exactly where the one before ended, though each is built on its own. A frame more
/// than half a frame away from where counting puts it (a real gap or jump) is re-anchored to the
/// nearest grid point of its own timestamp.
#[derive(Debug, Clone, Copy)]
pub struct AudioClock {
    rate: u32,
    anchor: Option<u64>,
    next: Option<u64>,
}

impl AudioClock {
    /// A clock for `rate` Hz, its grid anchored at `anchor` (the session's first audio frame),
    /// or at the first frame it is given.
    pub fn new(rate: u32, anchor: Option<Millis>) -> Self {
        Self { rate, anchor: anchor.map(|a| a.to_timescale(rate)), next: None }
    }

    /// The point nearest to `measured` (in samples) of the grid of `frame_samples`.
    fn snap(&self, measured: u64, frame_samples: u32) -> u64 {
        let Some(anchor) = self.anchor else { return measured };
        let frame = i128::from(frame_samples.max(1));
        let offset = i128::from(measured) - i128::from(anchor);
        let frames = if offset >= 0 { (offset + frame / 2) / frame } else { -((-offset + frame / 2) / frame) };
        // A grid point before 0 is 0; one past u64::MAX (within a frame of it) is u64::MAX.
        u64::try_from((i128::from(anchor) + frames * frame).max(0)).unwrap_or(u64::MAX)
    }

    /// The time (in samples at the clock's rate) of the frame of `frame_samples` stamped `at`,
    /// and advances past it.
    pub fn frame_time(&mut self, at: Millis, frame_samples: u32) -> u64 {
        let measured = at.to_timescale(self.rate);
        self.anchor.get_or_insert(measured);
        let t = match self.next {
            Some(expected) if expected.abs_diff(measured) <= u64::from(frame_samples / 2) => expected,
            _ => self.snap(measured, frame_samples),
        };
        self.next = Some(t + u64::from(frame_samples));
        t
    }

    /// The time right after the last frame given.
    pub fn end(&self) -> Option<u64> {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_past_2_pow_32_upwards() {
        let mut u = Unwrapper::default();
        assert_eq!(u.unwrap(u32::MAX - 10), Millis(u64::from(u32::MAX) - 10));
        assert_eq!(u.unwrap(5), Millis(u64::from(u32::MAX) + 6));
        assert_eq!(u.unwrap(40), Millis(u64::from(u32::MAX) + 41));
    }

    #[test]
    fn backward_jumps_stay_visible() {
        let mut u = Unwrapper::default();
        u.unwrap(10_000);
        assert_eq!(u.unwrap(4_000), Millis(4_000));
        assert_eq!(Millis(100).unwrap_near(u32::MAX), Millis(0));
    }

    #[test]
    fn aac_clock_counts_samples_despite_millisecond_rounding() {
        let mut c = AudioClock::new(48_000, None);
        // ffmpeg stamps AAC at 48 kHz as 0, 21, 43, 64, 85, 107 … ms
        let stamps = (0..500u64).map(|k| Millis((k * 1024 * 1000 + 24_000) / 48_000));
        for (k, at) in stamps.enumerate() {
            assert_eq!(c.frame_time(at, 1024), k as u64 * 1024);
        }
    }

    #[test]
    fn aac_clock_resyncs_on_a_gap_to_the_frame_grid() {
        let mut c = AudioClock::new(48_000, None);
        assert_eq!(c.frame_time(Millis(0), 1024), 0);
        assert_eq!(c.frame_time(Millis(21), 1024), 1024);
        // 1000 ms is 46.875 frames: the gap ends on frame 47.
        assert_eq!(c.frame_time(Millis(1000), 1024), 47 * 1024);
        assert_eq!(c.end(), Some(48 * 1024));
    }

    #[test]
    fn segments_built_apart_continue_on_the_session_grid() {
        // Frames of one session at 44.1 kHz, anchored at 23 ms; a later segment starts at frame 87,
        // stamped with its rounded millisecond time.
        let anchor = Millis(23);
        let stamp = |k: u64| Millis(23 + (k * 1024 * 1000 + 22_050) / 44_100);
        let mut first = AudioClock::new(44_100, Some(anchor));
        for k in 0..87 {
            first.frame_time(stamp(k), 1024);
        }
        let mut second = AudioClock::new(44_100, Some(anchor));
        assert_eq!(Some(second.frame_time(stamp(87), 1024)), first.end());
    }
}

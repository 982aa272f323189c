//! Calendar dates of Unix times, for what the core writes in words: a playlist's
//! `EXT-X-PROGRAM-DATE-TIME` ([`crate::hls`]) and the date of a signed (SigV4) store request;
//! the web page dates the files of its ZIP archives with it too.

use alloc::{format, string::String};

/// The civil date (year, month 1–12, day 1–31; proleptic Gregorian) of `days` since
/// 1970-01-01 (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DDThh:mm:ss.sssZ` (proleptic Gregorian).
pub fn iso8601(ms: u64) -> String {
    // At most u64::MAX / 86_400_000 (about 2.1e11) days: an i64 holds it.
    let days = i64::try_from(ms / 86_400_000).unwrap_or(i64::MAX);
    let rem = ms % 86_400_000;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }
}

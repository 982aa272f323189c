//! Calendar dates of Unix times, for what the core writes in words: a playlist's
//! `EXT-X-PROGRAM-DATE-TIME` ([`crate::hls`]) and the date of a signed (SigV4) store request;
//! the web page dates the files of its ZIP archives with it too. And the other way: the times a
//! viewer writes in an archive URL ([`parse_time`]).

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

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant, `days_from_civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Longest time [`parse_time`] reads: `9999-12-31T23:59:59.999999999+23:59` is 35 bytes.
pub const MAX_TIME_LEN: usize = 40;
/// Latest time [`parse_time`] accepts: the end of year 9999, milliseconds since the Unix epoch.
pub const MAX_TIME_MS: u64 = 253_402_300_799_999;

/// Why a time was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// Longer than [`MAX_TIME_LEN`].
    #[error("is longer than 40 characters")]
    TooLong,
    /// Neither RFC 3339 nor Unix seconds.
    #[error("is neither an RFC 3339 time (2026-12-06T15:20:00.5Z) nor Unix seconds (1796570400.5)")]
    Malformed,
    /// A field out of its range (month 13, hour 24, February 30).
    #[error("has a field out of range (month, day, hour, minute, second or offset)")]
    OutOfRange,
    /// Before 1970 or after 9999.
    #[error("is before 1970 or after 9999")]
    OutOfEra,
}

/// Milliseconds since the Unix epoch of `s`: an RFC 3339 date-time (`2026-12-06T15:20:00.5Z`,
/// `2026-12-06T16:20:00+01:00`; `t` and `z` too, §5.6) or Unix seconds with an optional fraction
/// (`1796570400.5`). Digits of a fraction past milliseconds are dropped (rounded down).
pub fn parse_time(s: &str) -> Result<u64, TimeError> {
    if s.len() > MAX_TIME_LEN {
        return Err(TimeError::TooLong);
    }
    let ms = if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() || (s.contains('.') && frac.is_empty()) || frac.contains('.') {
            return Err(TimeError::Malformed);
        }
        let secs: u64 = whole.parse().map_err(|_| TimeError::OutOfEra)?;
        secs.checked_mul(1000).and_then(|ms| ms.checked_add(fraction_ms(frac))).ok_or(TimeError::OutOfEra)?
    } else {
        rfc3339(s.as_bytes())?
    };
    if ms > MAX_TIME_MS {
        return Err(TimeError::OutOfEra);
    }
    Ok(ms)
}

/// Milliseconds of the digits of a decimal fraction (`5` is 500).
fn fraction_ms(frac: &str) -> u64 {
    frac.bytes().take(3).chain(core::iter::repeat(b'0')).take(3).fold(0, |ms, d| ms * 10 + u64::from(d - b'0'))
}

/// RFC 3339 §5.6 `date-time`, as milliseconds since the Unix epoch.
fn rfc3339(b: &[u8]) -> Result<u64, TimeError> {
    let num = |range: core::ops::Range<usize>| -> Result<i64, TimeError> {
        let digits = b.get(range).ok_or(TimeError::Malformed)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(TimeError::Malformed);
        }
        Ok(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let at = |i: usize, want: &[u8]| b.get(i).is_some_and(|c| want.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return Err(TimeError::Malformed);
    }
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut frac_ms = 0;
    if at(i, b".") {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(TimeError::Malformed);
        }
        let frac = core::str::from_utf8(&b[i + 1..i + 1 + digits]).map_err(|_| TimeError::Malformed)?;
        frac_ms = fraction_ms(frac);
        i += 1 + digits;
    }
    let offset_min = match b.get(i..) {
        Some([b'Z' | b'z']) => 0,
        Some([sign @ (b'+' | b'-'), _, _, b':', _, _]) => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return Err(TimeError::OutOfRange);
            }
            let o = oh * 60 + om;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return Err(TimeError::Malformed),
    };
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap(y) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let days_in = usize::try_from(mo - 1).ok().and_then(|m| month_days.get(m)).copied().unwrap_or(0);
    // A leap second (60) is read as the last millisecond of its minute.
    if days_in == 0 || !(1..=days_in).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(TimeError::OutOfRange);
    }
    let (sec, frac_ms) = if sec == 60 { (59, 999) } else { (sec, frac_ms) };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    let ms = secs.checked_mul(1000).and_then(|ms| ms.checked_add(i64::try_from(frac_ms).unwrap_or(0)));
    ms.and_then(|ms| u64::try_from(ms).ok()).ok_or(TimeError::OutOfEra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_spellings() {
        assert_eq!(parse_time("2026-12-06T15:20:00.5Z"), Ok(1_796_570_400_500));
        assert_eq!(parse_time("1796570400.5"), Ok(1_796_570_400_500));
        assert_eq!(parse_time("1796570400"), Ok(1_796_570_400_000));
        assert_eq!(parse_time("2026-12-06T16:20:00.5+01:00"), Ok(1_796_570_400_500));
        assert_eq!(parse_time("2026-12-06t15:20:00.123456z"), Ok(1_796_570_400_123));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_time("2000-02-29T00:00:00Z"), Ok(951_782_400_000));
        for ms in [0, 951_782_400_000, 1_796_570_400_500, MAX_TIME_MS] {
            assert_eq!(parse_time(&iso8601(ms)), Ok(ms), "{}", iso8601(ms));
        }
    }

    #[test]
    fn bad_times_say_what_is_wrong() {
        for (bad, why) in [
            ("", TimeError::Malformed),
            ("yesterday", TimeError::Malformed),
            ("1796570400.", TimeError::Malformed),
            (".5", TimeError::Malformed),
            ("1.2.3", TimeError::Malformed),
            ("-5", TimeError::Malformed),
            ("2026-12-06T15:20:00", TimeError::Malformed),
            ("2026-12-06T15:20:00.Z", TimeError::Malformed),
            ("2026-12-06 15:20Z", TimeError::Malformed),
            ("2026-13-06T15:20:00Z", TimeError::OutOfRange),
            ("2025-02-29T15:20:00Z", TimeError::OutOfRange),
            ("2026-12-06T24:00:00Z", TimeError::OutOfRange),
            ("2026-12-06T15:20:00+24:00", TimeError::OutOfRange),
            ("1969-12-31T23:59:59Z", TimeError::OutOfEra),
            ("99999999999999999999", TimeError::OutOfEra),
            ("253402300800", TimeError::OutOfEra),
            ("2026-12-06T15:20:00.5000000000000000000000000Z", TimeError::TooLong),
            ("２０２６-12-06T15:20:00Z", TimeError::Malformed),
        ] {
            assert_eq!(parse_time(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn iso8601_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }
}

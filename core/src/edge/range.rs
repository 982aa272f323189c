//! Byte ranges of a `Range` request header (RFC 9110 §14.1.2, §14.2), single range only.

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send the whole body (200). Multiple ranges and unknown units fall here,
    /// as RFC 9110 allows a server to ignore them.
    Whole,
    /// Bytes `start..=end` (206 with `Content-Range: bytes start-end/len`).
    Part {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// Cannot be satisfied (416 with `Content-Range: bytes */len`).
    Unsatisfiable,
}

/// Reads a `Range` header for a body of `len` bytes.
pub fn parse_range(header: Option<&str>, len: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return RangeRequest::Whole };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return RangeRequest::Whole };
    // `1*DIGIT` (§14.1.1); a position past `u64::MAX` is past the end of any body, as far as
    // answering goes.
    let num = |s: &str| {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            None
        } else {
            Some(s.parse::<u64>().unwrap_or(u64::MAX))
        }
    };
    match (a.is_empty(), num(a), num(b)) {
        // bytes=-N: the last N bytes
        (true, _, Some(n)) if n > 0 && len > 0 => RangeRequest::Part { start: len.saturating_sub(n), end: len - 1 },
        (true, _, _) => RangeRequest::Unsatisfiable,
        (false, Some(start), end) if start < len => match (b.is_empty(), end) {
            (true, _) => RangeRequest::Part { start, end: len - 1 },
            (false, Some(end)) if end >= start => RangeRequest::Part { start, end: end.min(len - 1) },
            _ => RangeRequest::Whole,
        },
        (false, Some(_), _) => RangeRequest::Unsatisfiable,
        _ => RangeRequest::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeRequest::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Whole);
        assert_eq!(parse_range(Some("bytes=0-3"), 10), Part { start: 0, end: 3 });
        assert_eq!(parse_range(Some("bytes=4-"), 10), Part { start: 4, end: 9 });
        assert_eq!(parse_range(Some("bytes=-3"), 10), Part { start: 7, end: 9 });
        assert_eq!(parse_range(Some("bytes=-30"), 10), Part { start: 0, end: 9 });
        assert_eq!(parse_range(Some("bytes=5-100"), 10), Part { start: 5, end: 9 });
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=3-2"), 10), Whole);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), Whole);
        assert_eq!(parse_range(Some("items=0-1"), 10), Whole);
        assert_eq!(parse_range(Some("bytes=x-1"), 10), Whole);
        assert_eq!(parse_range(Some("bytes=+1-2"), 10), Whole);
        assert_eq!(parse_range(Some("bytes=0-3"), 0), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-3"), 0), Unsatisfiable);
    }

    /// Positions past `u64::MAX` are past the end of any body: the same answers as a position
    /// just past the end, never a 200 in place of a 206 or a 416.
    #[test]
    fn positions_beyond_u64() {
        let huge = "184467440737095516160000";
        assert_eq!(parse_range(Some(&alloc::format!("bytes=-{huge}")), 10), Part { start: 0, end: 9 });
        assert_eq!(parse_range(Some(&alloc::format!("bytes=2-{huge}")), 10), Part { start: 2, end: 9 });
        assert_eq!(parse_range(Some(&alloc::format!("bytes={huge}-")), 10), Unsatisfiable);
        assert_eq!(parse_range(Some(&alloc::format!("bytes={huge}-{huge}")), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0000000000000000000000002-3"), 10), Part { start: 2, end: 3 });
    }
}

//! The HTTP request surface of every edge, on a peer's bytes: the request target (path and
//! query: `Route::parse`, `PlaylistQuery::parse`) on the first line, a `Range` header on the
//! second (none if there is no second line), the body length (decimal) on the third (else the
//! length of what follows). Each parse either refuses or gives a value whose canonical
//! spelling parses back to it, and for a path, is the path itself: one URL per object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapidrtmp_core::edge::live::PlaylistQuery;
use rapidrtmp_core::edge::{parse_range, respond, RangeRequest, Route};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(4, '\n');
    let target = lines.next().unwrap_or_default();
    let range = lines.next();
    let len_line = lines.next().unwrap_or_default();
    let rest = lines.next().unwrap_or_default();
    let len = len_line.parse::<u64>().unwrap_or(rest.len() as u64);

    let (path, query) = target.split_once('?').map_or((target, None), |(p, q)| (p, Some(q)));
    if let Some(route) = Route::parse(path) {
        assert_eq!(route.path(), path, "a route has one path");
        assert!(route.object_key().starts_with(&format!("live/{}/", route.stream())));
        assert_eq!(respond(&route, None, &[]).status, 404);
    }

    match PlaylistQuery::parse(query) {
        Ok(q) => {
            let mut canonical = Vec::new();
            if let Some(msn) = q.msn {
                canonical.push(format!("_HLS_msn={msn}"));
                assert!(query.unwrap_or_default().split('&').any(|p| p == canonical[0]));
            }
            if let Some(part) = q.part {
                canonical.push(format!("_HLS_part={part}"));
            }
            if q.skip {
                canonical.push("_HLS_skip=YES".into());
            }
            assert_eq!(PlaylistQuery::parse(Some(&canonical.join("&"))), Ok(q));
        }
        Err(why) => assert!(!why.is_empty()),
    }

    match parse_range(range, len) {
        RangeRequest::Part { start, end } => {
            assert!(start <= end && end < len, "bytes {start}-{end} of {len}");
            let again = format!("bytes={start}-{end}");
            assert_eq!(parse_range(Some(&again), len), RangeRequest::Part { start, end });
        }
        RangeRequest::Unsatisfiable => {
            assert!(range.is_some());
        }
        RangeRequest::Whole => {}
    }
});

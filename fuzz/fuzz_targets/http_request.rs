//! The HTTP request surface of every edge, on a peer's bytes: the request target (path and
//! query: `Route::parse`, `PlaylistQuery::parse`) on the first line, a `Range` header on the
//! second (none if there is no second line), the body length (decimal) on the third (else the
//! length of what follows). Each parse either refuses or gives a value whose canonical
//! spelling parses back to it, and for a path, is the path itself: one URL per object.
//!
//! The same request then goes through the edge driver, with what follows as every object the
//! store has, the live edge's and the live origin's answers: it never panics, and its answer
//! is consistent (what it sends is what `Content-Length` says, a 206 says which bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapidrtmp_core::edge::archive::MAX_ARCHIVE_READS;
use rapidrtmp_core::edge::live::PlaylistQuery;
use rapidrtmp_core::edge::{
    parse_range, respond, EdgeDriver, Fetched, Method, OriginAnswer, PlaybackRequest, RangeRequest, Response, Route,
    Sources, Step,
};

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

    // Methods by the first byte, the sources by the second.
    let method = ["GET", "HEAD", "OPTIONS", "POST"][usize::from(data.first().copied().unwrap_or(0) % 4)];
    let bits = data.get(1).copied().unwrap_or(0);
    let sources = Sources { live_edge: bits & 1 != 0, live_origin: bits & 2 != 0, cache: bits & 4 != 0 };
    // A fixed clock: archive windows (`?start=…&end=…`) are judged as of 2026-12-06.
    let now_ms = Some(1_796_570_400_000);
    let request = PlaybackRequest { range, now_ms, ..PlaybackRequest::new(Method::from_name(method), path, query) };
    let mut driver = EdgeDriver::new(&request, sources);
    let object = rest.as_bytes().to_vec();
    for round in 0.. {
        assert!(round < 100 + MAX_ARCHIVE_READS, "the driver finishes");
        match driver.next() {
            Step::LiveEdge { .. } => {
                let answer = (bits & 8 != 0).then(|| Response::ok("video/mp4", "no-cache", object.clone()));
                driver.live_edge_answered(answer);
            }
            Step::LiveOrigin { .. } => {
                let status = u16::from(bits) * 3;
                let answer = (bits & 16 != 0).then(|| OriginAnswer {
                    status,
                    cache_control: Some(len_line.into()),
                    body: object.clone(),
                });
                driver.origin_answered(answer);
            }
            Step::Cache => {
                if bits & 32 == 0 || !driver.cached_whole() {
                    driver.cached((bits & 64 != 0).then(|| object.clone()));
                }
            }
            Step::Fetch { .. } => {
                let fetched = if bits & 128 != 0 { Fetched::Unavailable } else { Fetched::Found(object.clone()) };
                driver.fetched(fetched);
            }
            Step::Done => break,
        }
    }
    let answer = driver.finish();
    let sent = answer.sent().len();
    if method == "GET" {
        if let Some(length) = answer.header("content-length") {
            assert_eq!(length, sent.to_string(), "Content-Length is what is sent");
        }
    } else {
        assert_eq!(sent, 0, "{method} sends no body");
    }
    if answer.status == 206 {
        let range = answer.header("content-range").expect("a 206 says which bytes");
        assert!(range.starts_with("bytes "), "{range}");
    }
    assert!(answer.header("access-control-allow-origin").is_some(), "CORS on every answer");
    assert_eq!(answer.clone().into_sent(), answer.sent());
});

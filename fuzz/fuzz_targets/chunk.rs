//! The edge on an arbitrary object: a chunk file read for an init segment, a media segment or
//! one of its parts, and a manifest rendered into playlists (the multivariant playlist with the
//! same bytes as each of the renditions' manifests it names), through the edge driver: every
//! object the store has is those bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapidrtmp_core::edge::{
    rendition_keys, respond, EdgeDriver, Fetched, Method, PlaybackRequest, Route, Sources, Step,
};
use rapidrtmp_core::manifest::MAX_RENDITIONS;

fuzz_target!(|data: &[u8]| {
    let paths = ["/live/k/1/init-0.mp4", "/live/k/1/0.m4s", "/live/k/1/0.0.m4s", "/live/k/1/0.2.m4s"];
    for path in paths.into_iter().chain(["/live/k/index.m3u8", "/live/k/master.m3u8"]) {
        let route = Route::parse(path).expect("a valid route");
        let keys = rendition_keys(&route, Some(data));
        assert!(keys.len() <= 2 * MAX_RENDITIONS);
        let renditions = vec![Some(data); keys.len()];
        let r = respond(&route, Some(data), &renditions);
        assert!(matches!(r.status, 200 | 404 | 500));
        let mut driver = EdgeDriver::new(&PlaybackRequest::new(Method::Get, path, None), Sources::default());
        while let Step::Fetch { .. } = driver.next() {
            driver.fetched(Fetched::Found(data.to_vec()));
        }
        let answer = driver.finish();
        assert_eq!((answer.status, answer.sent()), (r.status, &r.body[..]), "{path}: the driver answers as respond");
    }
});

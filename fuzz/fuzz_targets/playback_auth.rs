//! Signed playback on a peer's bytes: the first line is a query string (`token=…`, `sig=…`),
//! the rest the store's playback policy object. The policy parses or is refused; the query is
//! authorized or refused, never a panic; a token that verifies names the stream it was asked
//! for, and a child URI signature minted by the policy verifies for its own stream and bucket
//! and no other stream. The first line is also signed as a playlist: signing it twice changes
//! nothing more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapidrtmp_core::edge::auth::{child_query, verify_jwt, AuthQuery, PlaybackPolicy};

/// A fixed time: the fuzzer's tokens are judged at it.
const NOW_S: u64 = 1_800_000_000;
/// The policy used when the input's does not parse or has no child URI secret: `cam` signed.
const FIXED_POLICY: &str =
    r#"{"streams":{"cam":"signed"},"uriSecret":"AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM","uriBucketS":10}"#;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (query, policy) = text.split_once('\n').unwrap_or((&text, ""));
    let fixed = PlaybackPolicy::parse(FIXED_POLICY.as_bytes()).expect("the fixed policy parses");
    let policy =
        PlaybackPolicy::parse(policy.as_bytes()).ok().filter(|p| p.uri_signer(NOW_S).is_some()).unwrap_or(fixed);
    if let Ok(params) = AuthQuery::parse(Some(query)) {
        if let Some(token) = params.token {
            let _ = verify_jwt(token, &[], NOW_S);
            if let Ok(claims) = policy.verify_token(token, "cam", Some("group"), NOW_S) {
                assert!(claims.sub == "cam" || claims.sub == "group");
                assert!(claims.exp > NOW_S);
            }
        }
        if let Some(sig) = params.sig {
            let _ = policy.verify_uri(sig, "cam", NOW_S);
        }
    }
    for token_allowed in [false, true] {
        let _ = policy.authorize("cam", Some("group"), Some(query), token_allowed, NOW_S);
    }
    if let Some(sig) = policy.sign_uri("cam", NOW_S) {
        let child = child_query(Some(query), &sig);
        let params = AuthQuery::parse(Some(&child)).expect("a child query parses");
        assert_eq!(params.token, None);
        let value = params.sig.expect("a child query has its signature");
        assert!(policy.verify_uri(value, "cam", NOW_S).is_ok());
        assert!(policy.verify_uri(value, "cam2", NOW_S).is_err());
    }
    if let Some(signer) = policy.uri_signer(NOW_S) {
        for path in ["/live/cam/index.m3u8", "/live/cam/17/index.m3u8"] {
            let once = signer.sign_playlist(query, path);
            assert_eq!(signer.sign_playlist(&once, path), once);
        }
    }
});

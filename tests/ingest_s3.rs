//! End-to-end tests of the ingest node with an S3 store: s3s-fs (a real S3 server over a folder,
//! checking SigV4) runs on 127.0.0.1 and the node writes to `s3://media/pfx`. ffmpeg publishes,
//! ffprobe/ffmpeg check what the node serves from the bucket, and the tests read the objects in
//! s3s-fs's folder.
//!
//! Needs ffmpeg, ffprobe and s3s-fs; without s3s-fs the tests fail and say to run
//! `tests/s3s.sh` (which installs it).

mod support;

use std::time::Duration;

use support::checks::{assert_chunks_match, assert_plays_like_the_clip, media_objects, tree};
use support::media::{publish_and_wait, publish_held};
use support::node::{Node, NodeOptions};
use support::proc::TempDir;
use support::s3s::S3sFs;

const BUCKET: &str = "media";
const PREFIX: &str = "pfx";
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(40);

/// s3s-fs over `{dir}/s3` and the options of a node using it (1-second segments).
fn s3_node_options(dir: &TempDir) -> (S3sFs, NodeOptions) {
    let s3 = S3sFs::start(&dir.join("s3"), &[BUCKET]);
    let (args, env) = s3.node_store(BUCKET, PREFIX);
    let mut opts = NodeOptions::standard();
    opts.args.extend(args);
    opts.env = env;
    (s3, opts)
}

#[test]
fn publish_through_the_s3_store_plays_frame_exact_and_survives_a_restart() {
    let dir = TempDir::new("s3-publish");
    let (s3, opts) = s3_node_options(&dir);
    let mut node = Node::start(&dir.join("data"), &opts);
    let token = node.token("cam", 600, true);

    // Its input held open, ffmpeg is still publishing when the live playlist is read.
    let mut held = publish_held(&node.rtmp_url("cam", Some(&token)), &dir.join("ffmpeg.log"));
    let live = node.wait_playlist("cam", "a segment", Duration::from_secs(5), |p| !p.segments.is_empty());
    assert!(held.ffmpeg.status().is_none(), "ffmpeg exited with its input held open:\n{}", held.ffmpeg.log());
    assert!(!live.ended, "the playlist ends while the publisher is still sending:\n{}", live.text);
    let mut ffmpeg = held.release();
    let status = ffmpeg.wait_timeout(PUBLISH_TIMEOUT).expect("ffmpeg publish did not finish");
    assert!(status.success(), "ffmpeg publish failed ({status}):\n{}", ffmpeg.log());

    let playlist = assert_plays_like_the_clip(&node, "cam");
    let prefix = s3.root.join(BUCKET).join(PREFIX);
    assert_chunks_match(&prefix.join("live/cam"), &playlist);
    assert_eq!(tree(&prefix.join("tokens/used")).len(), 1, "the spent single-use token is recorded in the bucket");
    assert!(!dir.join("data/live").exists(), "with an S3 store nothing goes to the data dir's live/");
    let before: Vec<(String, Vec<u8>)> =
        playlist.uris().into_iter().map(|u| (u.clone(), node.get(&format!("/live/cam/{u}")).body)).collect();

    let (status, took) = node.terminate(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM: {status}\n{}", node.log());
    assert!(took <= Duration::from_secs(5), "the node took {took:?} to exit after SIGTERM");

    // A new node (own data dir) on the same bucket serves the same bytes.
    let node = Node::start(&dir.join("data2"), &opts);
    let after = node.playlist("cam").expect("no playlist after the restart");
    assert_eq!(after.text, playlist.text, "the playlist changed across the restart");
    for (uri, bytes) in &before {
        let r = node.get(&format!("/live/cam/{uri}"));
        assert_eq!(r.status, 200, "{uri} after the restart");
        assert!(&r.body == bytes, "{uri} changed across the restart");
    }
    assert_plays_like_the_clip(&node, "cam");
}

#[test]
fn single_use_token_reuse_is_refused_through_the_s3_store() {
    let dir = TempDir::new("s3-once");
    let (s3, opts) = s3_node_options(&dir);
    let node = Node::start(&dir.join("data"), &opts);
    let token = node.token("once", 600, true);
    let url = node.rtmp_url("once", Some(&token));
    let (status, messages, _) = publish_and_wait(&url, &["-t", "2"], &dir.join("first.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "first use of a single-use token ({status}):\n{messages}");
    node.wait_playlist("once", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended && !p.segments.is_empty());

    let prefix = s3.root.join(BUCKET).join(PREFIX);
    let objects = media_objects(&prefix.join("live/once"));
    let markers = tree(&prefix.join("tokens/used"));
    assert!(objects.keys().any(|k| k.ends_with(".flv")), "no chunk in the bucket: {objects:?}");
    assert_eq!(markers.len(), 1, "one spent single-use token in the bucket: {markers:?}");

    let refused = |node: &Node, log: &str| {
        let (status, messages, took) =
            publish_and_wait(&node.rtmp_url("once", Some(&token)), &[], &dir.join(log), PUBLISH_TIMEOUT);
        assert!(!status.success(), "a reused single-use token published ({status}):\n{messages}");
        assert!(took < Duration::from_secs(10), "ffmpeg took {took:?} to give up:\n{messages}");
        assert_eq!(node.publish_attempts("reused"), 1.0, "{}", node.metrics().text);
    };
    refused(&node, "reuse.log");
    // Another node sharing the bucket (and the admin key) knows only what the store says.
    let other = Node::start(&dir.join("data2"), &opts);
    refused(&other, "reuse-other.log");
    assert_eq!(other.publish_attempts("accepted"), 0.0);

    assert_eq!(media_objects(&prefix.join("live/once")), objects, "a refused reuse changed the stream's objects");
    assert_eq!(tree(&prefix.join("tokens/used")), markers, "a refused reuse changed the spent-token markers");
}

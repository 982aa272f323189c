//! Faults: publishes racing for one stream, two nodes on one bucket, a node killed mid-publish
//! or mid-write, a store that goes away or stalls. Real peers throughout: ffmpeg publishes,
//! s3s-fs is the S3 store (behind a proxy that holds its PUTs, to stall it), the nodes are
//! `rapidrtmp serve` processes killed with SIGKILL, and ffmpeg decodes what is served.
//!
//! s3s-fs checks a conditional write's precondition and then writes, so two conditional writes
//! racing there can both succeed (S3, R2 and GCS make them atomic). The two-node test therefore
//! takes turns: the second node tries the key only while the first holds it, and again after the
//! first is dead; it never races it.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::checks::{assert_decodes_cleanly, tree, wait_until};
use support::hls::Playlist;
use support::media::{self, assert_publish_refused, clip, publish, publish_and_wait};
use support::node::{Node, NodeOptions};
use support::proc::{Background, TempDir};
use support::s3s::{S3sFs, Stall, StallingProxy};

const BUCKET: &str = "media";
const PREFIX: &str = "pfx";
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(60);
/// The owner lease of these tests' nodes, seconds (renewed every third of it).
const LEASE: &str = "3";

/// Node options with a short owner lease, on `s3` if given.
fn options(s3: Option<&S3sFs>) -> NodeOptions {
    let mut opts = NodeOptions::standard();
    opts.set("--owner-lease", LEASE);
    if let Some(s3) = s3 {
        let (args, env) = s3.node_store(BUCKET, PREFIX);
        opts.args.extend(args);
        opts.env = env;
    }
    opts
}

/// The media sequence numbers of a playlist's segments (`{session}/{sequence}.m4s`).
fn sequences(p: &Playlist) -> Vec<u64> {
    p.segments
        .iter()
        .map(|s| {
            let name = s.uri.rsplit('/').next().and_then(|n| n.strip_suffix(".m4s"));
            name.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("segment URI {}", s.uri))
        })
        .collect()
}

/// Sequence numbers follow each other without a gap or a repeat.
fn assert_contiguous(what: &str, seqs: &[u64], p: &Playlist) {
    assert!(!seqs.is_empty(), "{what}: no segment:\n{}", p.text);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{what}: sequence numbers {seqs:?}:\n{}", p.text);
}

/// No two chunk objects of a stream (`{session}/{sequence}.flv`) share a sequence number.
fn assert_no_sequence_reused(stream_dir: &Path) -> usize {
    let mut by_sequence: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for key in tree(stream_dir).into_keys().filter(|k| k.ends_with(".flv")) {
        let seq = key.rsplit('/').next().and_then(|n| n.strip_suffix(".flv")).and_then(|n| n.parse().ok());
        by_sequence.entry(seq.unwrap_or_else(|| panic!("chunk key {key}"))).or_default().push(key);
    }
    let reused: Vec<_> = by_sequence.values().filter(|keys| keys.len() > 1).collect();
    assert!(reused.is_empty(), "sequence numbers used twice under {}: {reused:?}", stream_dir.display());
    by_sequence.len()
}

/// Starts a looping publisher to `url`, again and again until one is still on 3 s later.
fn publish_once_accepted(url: &str, dir: &TempDir, within: Duration) -> Background {
    let deadline = Instant::now() + within;
    for attempt in 0.. {
        let mut p = publish(url, &["-stream_loop", "-1"], &[], &dir.join(&format!("attempt-{attempt}.log")));
        if p.wait_timeout(Duration::from_secs(3)).is_none() {
            return p;
        }
        assert!(Instant::now() < deadline, "no publish to {url} accepted within {within:?}:\n{}", p.log());
        std::thread::sleep(Duration::from_millis(500));
    }
    unreachable!()
}

/// A dropped publisher (A) comes back (B) within the reconnect grace and drops off again: both
/// attach to the stream's one writer, the stream ends after B's grace (never on A's, with A's
/// stale manifest), and the next publish goes on numbering where B stopped.
#[test]
fn publishes_within_the_reconnect_grace_share_one_writer_and_never_reuse_a_sequence_number() {
    let dir = TempDir::new("grace-race");
    let data = dir.join("data");
    let mut opts = options(None);
    opts.set("--reconnect-grace", "4");
    let node = Node::start(&data, &opts);
    let url = node.rtmp_url("cam", Some(&node.token("cam", 600, false)));

    let mut a = publish(&url, &["-stream_loop", "-1"], &[], &dir.join("a.log"));
    node.wait_playlist("cam", "two segments of A", Duration::from_secs(10), |p| p.segments.len() >= 2);
    a.kill();
    let mut b = publish(&url, &["-stream_loop", "-1"], &[], &dir.join("b.log"));
    node.wait_playlist("cam", "a segment of B", Duration::from_secs(10), |p| {
        p.discontinuities == 1 && p.segments.last().is_some_and(|s| s.part == 1)
    });
    b.kill();
    let b_dropped = Instant::now();
    let p = node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(20), |p| p.ended);
    assert!(
        b_dropped.elapsed() >= Duration::from_secs(3),
        "the stream ended {:?} after B dropped off, before B's grace:\n{}",
        b_dropped.elapsed(),
        p.text
    );
    assert_eq!(p.discontinuities, 1, "A and B are two sessions of one stream:\n{}", p.text);
    let before = sequences(&p);
    assert_contiguous("A then B", &before, &p);
    assert_decodes_cleanly(&node.playlist_url("cam"), &[]);

    let (status, messages, _) = publish_and_wait(&url, &["-t", "2"], &dir.join("c.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "publish C ({status}):\n{messages}");
    let p =
        node.wait_playlist("cam", "C's session, ended", Duration::from_secs(10), |p| p.ended && p.discontinuities == 2);
    let after = sequences(&p);
    assert!(after.starts_with(&before), "C changed what A and B wrote: {before:?} then {after:?}");
    assert_contiguous("A, B then C", &after, &p);
    assert_eq!(assert_no_sequence_reused(&data.join("live/cam")), after.len());
}

/// Two nodes on one bucket: the second refuses a key the first is writing; once the first is
/// killed (SIGKILL, mid-stream) and its lease has run out, the second takes the key over and goes
/// on with the stream: a discontinuity, no sequence number used twice, both parts decoding.
#[test]
fn two_nodes_on_one_bucket_one_owner_then_a_takeover_after_a_crash() {
    let dir = TempDir::new("two-nodes");
    let s3 = S3sFs::start(&dir.join("s3"), &[BUCKET]);
    let opts = options(Some(&s3));
    let mut one = Node::start(&dir.join("one"), &opts);
    let two = Node::start(&dir.join("two"), &opts);
    let token = one.token("cam", 600, false);

    let mut first = publish(&one.rtmp_url("cam", Some(&token)), &["-stream_loop", "-1"], &[], &dir.join("first.log"));
    one.wait_playlist("cam", "two segments", Duration::from_secs(10), |p| p.segments.len() >= 2);
    assert_publish_refused("the key on the second node", &two.rtmp_url("cam", Some(&token)), &dir.join("refused.log"));
    assert_eq!(two.publish_attempts("busy"), 1.0, "refused as busy:\n{}", two.log());
    assert!(first.status().is_none(), "the first publisher stopped:\n{}", first.log());

    one.kill();
    let killed = Instant::now();
    let listed = sequences(&two.playlist("cam").expect("the second node serves the stream from the bucket"));
    let _ = first.wait_timeout(Duration::from_secs(10));
    let mut second = publish_once_accepted(&two.rtmp_url("cam", Some(&token)), &dir, Duration::from_secs(20));
    assert!(
        killed.elapsed() >= Duration::from_secs(2),
        "the second node took the key {:?} after the crash, before the lease could expire",
        killed.elapsed()
    );
    two.wait_playlist("cam", "two segments from the second node", Duration::from_secs(15), |p| {
        p.discontinuities == 1 && p.segments.iter().filter(|s| s.part == 1).count() >= 2
    });
    second.kill();
    let p = two.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(15), |p| p.ended);
    let seqs = sequences(&p);
    assert!(seqs.starts_with(&listed), "the takeover lost chunks the first node had listed: {listed:?} then {seqs:?}");
    assert_contiguous("first node then second", &seqs, &p);
    assert_eq!(p.discontinuities, 1, "{}", p.text);
    assert_no_sequence_reused(&s3.root.join(BUCKET).join(PREFIX).join("live/cam"));
    assert_decodes_cleanly(&two.playlist_url("cam"), &[]);
    assert!(two.log().contains("taking the stream over from a node whose lease expired"), "{}", two.log());
}

/// A node killed mid-publish (SIGKILL): every chunk its manifest lists is there and plays; the
/// node started again serves the stream as ended (once the dead run's lease has expired); a new
/// publish continues its numbering and timeline.
#[test]
fn a_node_killed_mid_publish_comes_back_serving_the_stream_ended_and_a_new_publish_continues_it() {
    let dir = TempDir::new("kill-9");
    let data = dir.join("data");
    let opts = options(None);
    let mut node = Node::start(&data, &opts);
    let url = node.rtmp_url("cam", Some(&node.token("cam", 600, false)));
    let mut publisher = publish(&url, &["-stream_loop", "-1"], &[], &dir.join("first.log"));
    // Three chunks in the store (the live playlist lists the open chunk too, held in memory).
    wait_until("three chunks listed in the manifest", Duration::from_secs(10), || {
        data.join("live/cam/manifest.json").exists() && listed_chunks(&data.join("live/cam")).len() >= 3
    });
    node.kill();
    let _ = publisher.wait_timeout(Duration::from_secs(10));
    publisher.kill();

    let node = Node::start(&data, &opts);
    let p = node.wait_playlist("cam", "#EXT-X-ENDLIST after the restart", Duration::from_secs(15), |p| p.ended);
    let before = sequences(&p);
    assert_contiguous("before the crash", &before, &p);
    assert!(before.len() >= 3, "{}", p.text);
    for uri in p.uris() {
        let r = node.get(&format!("/live/cam/{uri}"));
        assert_eq!(r.status, 200, "GET {uri} of a listed chunk: {}", r.text());
    }
    assert_decodes_cleanly(&node.playlist_url("cam"), &[]);

    let url = node.rtmp_url("cam", Some(&node.token("cam", 600, false)));
    let (status, messages, _) = publish_and_wait(&url, &["-t", "2"], &dir.join("second.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "publish after the restart ({status}):\n{messages}");
    let p = node.wait_playlist("cam", "a second session, ended", Duration::from_secs(10), |p| {
        p.ended && p.discontinuities == 1
    });
    let after = sequences(&p);
    assert!(after.starts_with(&before), "{before:?} then {after:?}");
    assert_contiguous("across the crash", &after, &p);
    assert_no_sequence_reused(&data.join("live/cam"));
    assert_decodes_cleanly(&node.playlist_url("cam"), &[]);
}

/// s3s-fs stopped for 30 s while a stream publishes: the publisher is never dropped, the backlog
/// rises and falls, and once the store is back every chunk is written and listed, with every
/// video frame the node received.
#[test]
fn a_30_s_store_outage_loses_no_chunk_and_keeps_the_publisher_on() {
    let dir = TempDir::new("outage");
    let mut s3 = S3sFs::start(&dir.join("s3"), &[BUCKET]);
    let node = Node::start(&dir.join("data"), &options(Some(&s3)));
    let url = node.rtmp_url("cam", Some(&node.token("cam", 600, false)));
    // 9 plays of the clip: 54 s in real time, live through the 30 s outage however long the first
    // segment takes.
    let mut publisher = publish(&url, &["-stream_loop", "8"], &[], &dir.join("ffmpeg.log"));
    node.wait_playlist("cam", "a segment", Duration::from_secs(10), |p| !p.segments.is_empty());

    s3.stop();
    let stopped = Instant::now();
    let mut peak = 0.0f64;
    while stopped.elapsed() < Duration::from_secs(30) {
        let m = node.metrics();
        peak = peak.max(m.value("rapidrtmp_store_backlog", &[]).unwrap_or(0.0));
        assert!(publisher.status().is_none(), "the publisher was dropped during the outage:\n{}", publisher.log());
        std::thread::sleep(Duration::from_millis(500));
    }
    let bytes_waiting = node.metrics().value("rapidrtmp_store_backlog_bytes", &[]).unwrap_or(0.0);
    assert!(peak >= 20.0, "backlog peaked at {peak} chunks in 30 s of 1-second segments");
    assert!(bytes_waiting > 0.0, "no backlog bytes during the outage");
    s3.restart();

    let status = publisher.wait_timeout(PUBLISH_TIMEOUT).expect("the publish did not finish");
    assert!(status.success(), "publisher ({status}):\n{}", publisher.log());
    let p = node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(60), |p| p.ended);
    wait_until("the backlog drains", Duration::from_secs(30), || {
        node.metrics().value("rapidrtmp_store_backlog", &[]) == Some(0.0)
    });
    let m = node.metrics();
    assert_eq!(m.value("rapidrtmp_chunks_lost_total", &[]), Some(0.0), "{}", m.text);
    assert_eq!(m.value("rapidrtmp_store_backlog_bytes", &[]), Some(0.0), "{}", m.text);
    let seqs = sequences(&p);
    assert_contiguous("through the outage", &seqs, &p);
    assert_eq!(seqs[0], 1, "media sequence numbers start at 1: {}", p.text);
    let written = m.value("rapidrtmp_chunks_written_total", &[]).unwrap_or(0.0) as usize;
    let stored = assert_no_sequence_reused(&s3.root.join(BUCKET).join(PREFIX).join("live/cam"));
    assert_eq!((written, stored), (seqs.len(), seqs.len()), "chunks written and stored vs listed:\n{}", p.text);
    let received = m.value("rapidrtmp_frames_in_total", &[("kind", "video")]).unwrap_or(0.0) as u64;
    let decoded = media::video_frames(&node.playlist_url("cam")).frames.len() as u64;
    assert_eq!(decoded, received, "video frames decoded from the playlist vs received");
    assert!(received >= 5 * clip().video_frames, "{received} video frames received");
    eprintln!(
        "outage of 30 s: backlog peak {peak} chunks; chunks listed {}, written {written}, stored {stored}, lost 0; \
         video frames received {received}, decoded {decoded}",
        seqs.len()
    );
}

/// Retention kept in the store: chunks that left the live window are deleted `--retention`
/// later even though the node was killed meanwhile (its next run's sweep does it), and so are
/// those of a stream that has ended; the window's chunks stay, and play, and so do the chunks
/// its init segments are built from.
#[test]
fn retention_outlives_a_crash_and_the_stream() {
    let dir = TempDir::new("retention");
    let data = dir.join("data");
    let mut opts = options(None);
    opts.set("--live-window", "2");
    opts.set("--retention", "3");
    let stream_dir = data.join("live/cam");
    let chunks = || tree(&stream_dir).into_keys().filter(|k| k.ends_with(".flv")).collect::<Vec<_>>();
    // The window's chunks, and those its init segments are built from.
    let listed = |p: &Playlist| {
        let segments = p.segments.iter().map(|s| s.uri.replace(".m4s", ".flv"));
        let inits = p.maps.iter().map(|m| m.replace("init-", "").replace(".mp4", ".flv"));
        segments.chain(inits).collect::<std::collections::BTreeSet<_>>().into_iter().collect::<Vec<_>>()
    };

    let mut node = Node::start(&data, &opts);
    let url = node.rtmp_url("cam", Some(&node.token("cam", 600, false)));
    let mut publisher = publish(&url, &["-stream_loop", "-1"], &[], &dir.join("first.log"));
    let live = node.wait_playlist("cam", "four chunks out of the window", Duration::from_secs(15), |p| {
        p.media_sequence >= Some(4)
    });
    node.kill();
    publisher.kill();
    // The two chunks that left the window last did so less than `--retention` ago: both are
    // still in the store (deleting them at once would leave only the window and the inits).
    let out = live.media_sequence.expect("a media sequence");
    let session =
        live.segments[0].uri.split_once('/').map(|(s, _)| s.to_string()).expect("a session folder in the segment URI");
    let stored = chunks();
    for sequence in out - 2..out {
        let name = format!("{session}/{sequence}.flv");
        assert!(
            stored.contains(&name),
            "{name} left the window less than 3 s ago and is kept for now: stored {stored:?}, listed {:?}",
            listed(&live)
        );
    }

    let node = Node::start(&data, &opts);
    wait_until("only the window's chunks are left after the restart", Duration::from_secs(30), || {
        node.playlist("cam").is_some_and(|p| p.ended && listed(&p) == chunks())
    });
    assert_decodes_cleanly(&node.playlist_url("cam"), &[]);

    let first_run = node.playlist("cam").and_then(|p| p.media_sequence);

    let url = node.rtmp_url("cam", Some(&node.token("cam", 600, false)));
    let (status, messages, _) = publish_and_wait(&url, &["-t", "5"], &dir.join("second.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "second publish ({status}):\n{messages}");
    // (With a window of two, the playlist holds the second publish alone.)
    node.wait_playlist("cam", "the second publish, ended", Duration::from_secs(10), |p| {
        p.ended && p.media_sequence > first_run.map(|s| s + 2)
    });
    wait_until("only the window's chunks are left after the stream ended", Duration::from_secs(30), || {
        node.playlist("cam").is_some_and(|p| listed(&p) == chunks())
    });
    // (The archive's buckets go retention after the end of their ten minutes: those may wait.)
    let pending: Vec<String> = tree(&stream_dir.join("expiring"))
        .into_keys()
        .flat_map(|name| {
            let text = std::fs::read(stream_dir.join("expiring").join(&name)).unwrap_or_default();
            let listed: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
            let keys = listed["keys"].as_array().cloned().unwrap_or_default();
            keys.into_iter().filter_map(|k| k.as_str().map(String::from)).collect::<Vec<_>>()
        })
        .filter(|k| !k.contains("/archive/"))
        .collect();
    assert!(pending.is_empty(), "deletions left pending: {pending:?}");
    assert_decodes_cleanly(&node.playlist_url("cam"), &[]);
}

/// The chunk files `{session}/{sequence}.flv` a stream's manifest (in a folder store) lists.
fn listed_chunks(stream_dir: &Path) -> Vec<String> {
    let path = stream_dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let m: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON ({e}):\n{text}", path.display()));
    let chunks = m["chunks"].as_array().unwrap_or_else(|| panic!("no chunks in {text}"));
    chunks
        .iter()
        .map(|c| {
            format!("{}/{}.flv", c["session"].as_str().expect("session"), c["sequence"].as_u64().expect("sequence"))
        })
        .collect()
}

/// Every chunk the manifest lists is a file that decodes on its own without a message.
fn assert_listed_chunks_decode(stream_dir: &Path) -> usize {
    let listed = listed_chunks(stream_dir);
    for name in &listed {
        let path = stream_dir.join(name);
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("listed chunk {name}: {e}"));
        assert!(data.starts_with(b"FLV\x01"), "listed chunk {name} is not an FLV file ({} bytes)", data.len());
        assert_decodes_cleanly(&path, &[]);
    }
    listed.len()
}

/// The node is killed with SIGKILL during a publish's writes to a folder store, three times at
/// different moments: each time, every chunk the manifest lists is there and decodes on its own,
/// before and after the node is started again on the same folder. The temporary file of a write
/// the killed run left unfinished (planted, named as the store names them, with the dead
/// process's PID) is removed at the next start, which says how many it removed; a dot file that
/// is not the store's stays.
#[test]
fn a_node_killed_during_writes_leaves_every_listed_chunk_whole_and_its_temporary_files_are_removed() {
    let dir = TempDir::new("kill-writes");
    let data = dir.join("data");
    let opts = options(None);
    let stream_dir = data.join("live/cam");
    let not_ours = stream_dir.join(".tmp-notes");
    let mut planted = None;
    for round in 0..4u64 {
        let mut node = Node::start(&data, &opts);
        if let Some(leftover) = planted.take() {
            wait_until("the leftover temporary files removed at start", Duration::from_secs(10), || {
                node.log().contains("store folder: 1 leftover temporary files of interrupted writes removed")
            });
            assert!(!Path::new(&leftover).exists(), "the killed run's temporary file {leftover:?} is still there");
            assert!(not_ours.exists(), "a dot file that is not the store's was removed");
            let p = node.wait_playlist("cam", "#EXT-X-ENDLIST after the restart", Duration::from_secs(15), |p| p.ended);
            assert_contiguous("after the restart", &sequences(&p), &p);
            assert_decodes_cleanly(&node.playlist_url("cam"), &[]);
        }
        if round == 3 {
            break;
        }
        let before = if round == 0 { 0 } else { listed_chunks(&stream_dir).len() };
        let url = node.rtmp_url("cam", Some(&node.token("cam", 600, false)));
        let mut publisher = publish_once_accepted(&url, &dir, Duration::from_secs(20));
        wait_until("three more chunks listed", Duration::from_secs(20), || {
            stream_dir.join("manifest.json").exists() && listed_chunks(&stream_dir).len() >= before + 3
        });
        // A different moment of the writes each time.
        std::thread::sleep(Duration::from_millis(350 * round));
        let pid = node.pid();
        node.kill();
        publisher.kill();
        let listed = assert_listed_chunks_decode(&stream_dir);
        assert!(listed >= before + 3, "round {round}: {listed} chunks listed after the kill");
        let leftover = stream_dir.join(format!(".tmp-{pid}-0a1b2c3d-{}", 1000 + round));
        std::fs::write(&leftover, b"FLV\x01 cut short").unwrap();
        std::fs::write(&not_ours, b"kept").unwrap();
        planted = Some(leftover.to_string_lossy().into_owned());
        eprintln!("round {round}: killed node {pid}; {listed} chunks listed, each decodes");
    }
    assert_no_sequence_reused(&stream_dir);
}

/// The owner lease of the stalled-store test, seconds: renewed every 5 s, each attempt given up
/// after 2.5 s (a sixth).
const STALL_LEASE: &str = "15";
/// How long the store holds the media PUTs.
const STALL: Duration = Duration::from_secs(60);
/// Within it, how long every PUT stalls, owner records' too: long enough for a renewal attempt to
/// be given up (a renewal is due every 5 s, given up after 2.5 s), short enough for the lease to
/// be kept (the renewal is tried again while it has 10 s or more left).
const STALL_ALL: Duration = Duration::from_secs(8);

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A store that stalls for 60 s every PUT of a publish's media (chunks, manifest) and, for 8 s
/// of it, every PUT (the owner record's too), through a proxy in front of s3s-fs; the lease is
/// 15 s. The lease is kept throughout: the owner record in the bucket names the first node,
/// keeps being renewed and never expires; a second node on the same bucket, reaching it directly,
/// refuses the stream as busy (twice, after several lease periods) and its sweep leaves it alone;
/// the publisher stays on. Once the store answers again nothing is lost: every chunk is written
/// and listed, each decodes, and the playlist's video frames are the source's.
#[test]
fn a_store_stalling_every_put_for_60_s_keeps_the_lease_and_loses_nothing() {
    let dir = TempDir::new("stall");
    let s3 = S3sFs::start(&dir.join("s3"), &[BUCKET]);
    let proxy = StallingProxy::start(&s3.endpoint);
    let mut opts_a = NodeOptions::standard();
    opts_a.set("--owner-lease", STALL_LEASE);
    let (args, env) = s3.node_store_via(&proxy.endpoint, BUCKET, PREFIX);
    opts_a.args.extend(args);
    opts_a.env = env;
    let mut opts_b = options(Some(&s3));
    opts_b.set("--owner-lease", STALL_LEASE);
    opts_b.admin_key = opts_a.admin_key.clone(); // (tokens are signed with it)
    let a = Node::start(&dir.join("a"), &opts_a);
    let b = Node::start(&dir.join("b"), &opts_b);
    let token = a.token("cam", 600, false);
    // 13 plays of the 6-s clip: 78 s in real time.
    const PLAYS: u64 = 13;
    let mut publisher =
        publish(&a.rtmp_url("cam", Some(&token)), &["-stream_loop", &(PLAYS - 1).to_string()], &[], &dir.join("a.log"));
    a.wait_playlist("cam", "a segment", Duration::from_secs(10), |p| !p.segments.is_empty());

    let stream_dir = s3.root.join(BUCKET).join(PREFIX).join("live/cam");
    let owner = || {
        let path = stream_dir.join("owner.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let j: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("owner.json {text:?}: {e}"));
        (j["node"].as_str().unwrap_or_default().to_string(), j["expiresAtMs"].as_u64().unwrap_or(0))
    };
    let (node_a, _) = owner();
    assert!(!node_a.is_empty(), "no owner recorded");

    proxy.set(Stall::Media);
    let stalled = Instant::now();
    let (mut renewals, mut peak, mut refusals) = (BTreeSet::new(), 0.0f64, 0);
    let all_from = Duration::from_secs(20);
    while stalled.elapsed() < STALL {
        let at = stalled.elapsed();
        proxy.set(if at >= all_from && at < all_from + STALL_ALL { Stall::All } else { Stall::Media });
        let (node, expires) = owner();
        assert_eq!(node, node_a, "{at:?} into the stall the stream's owner record names another node");
        assert!(expires > now_ms(), "{at:?} into the stall the lease has expired ({expires})");
        renewals.insert(expires);
        peak = peak.max(a.metrics().value("rapidrtmp_store_backlog", &[]).unwrap_or(0.0));
        assert!(publisher.status().is_none(), "the publisher was dropped during the stall:\n{}", publisher.log());
        // After several lease periods, twice: the second node may not take the stream.
        if (refusals == 0 && at > Duration::from_secs(30)) || (refusals == 1 && at > Duration::from_secs(45)) {
            let url = b.rtmp_url("cam", Some(&token));
            assert_publish_refused("the stream on the second node", &url, &dir.join(&format!("b-{refusals}.log")));
            refusals += 1;
            assert_eq!(b.publish_attempts("busy"), refusals as f64, "refused as busy:\n{}", b.log());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    proxy.set(Stall::None);
    let held = proxy.held();
    let m = a.metrics();
    let written_in_stall = m.value("rapidrtmp_chunks_written_total", &[]).unwrap_or(0.0);
    assert!(peak >= 30.0, "backlog peaked at {peak} chunks in 60 s of 1-second segments: the store did not stall");
    // A chunk PUT's attempts are each given up after 10 s, and tried again.
    assert!(held >= 5, "only {held} requests held in 60 s");
    // Renewed every 5 s for 60 s: 12 renewals (a few may fall between two looks).
    assert!(renewals.len() >= 8, "the owner record was renewed {} times during the stall", renewals.len() - 1);

    let status = publisher.wait_timeout(Duration::from_secs(90)).expect("the publish did not finish");
    assert!(status.success(), "publisher ({status}):\n{}", publisher.log());
    let p = a.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(60), |p| p.ended);
    wait_until("the backlog drains", Duration::from_secs(30), || {
        a.metrics().value("rapidrtmp_store_backlog", &[]) == Some(0.0)
    });
    let m = a.metrics();
    assert_eq!(m.value("rapidrtmp_chunks_lost_total", &[]), Some(0.0), "{}", m.text);
    let seqs = sequences(&p);
    assert_contiguous("through the stall", &seqs, &p);
    assert_eq!(seqs[0], 1, "media sequence numbers start at 1: {}", p.text);
    let written = m.value("rapidrtmp_chunks_written_total", &[]).unwrap_or(0.0) as usize;
    let stored = assert_no_sequence_reused(&stream_dir);
    assert_eq!((written, stored), (seqs.len(), seqs.len()), "chunks written and stored vs listed:\n{}", p.text);
    let received = m.value("rapidrtmp_frames_in_total", &[("kind", "video")]).unwrap_or(0.0) as u64;
    let decoded = media::video_frames(&a.playlist_url("cam")).frames.len() as u64;
    assert_eq!(received, PLAYS * clip().video_frames, "video frames received vs published");
    assert_eq!(decoded, received, "video frames decoded from the playlist vs received");
    assert_decodes_cleanly(&a.playlist_url("cam"), &[]);
    for chunk in tree(&stream_dir).into_keys().filter(|k| k.ends_with(".flv")) {
        assert_decodes_cleanly(&stream_dir.join(&chunk), &[]);
    }
    assert!(!a.log().contains("another node took this stream over"), "{}", a.log());
    // A renewal fell in the 8 s when every PUT stalled: given up after 2.5 s, tried again, renewed.
    let log = a.log();
    assert!(
        log.contains("cannot renew the stream's ownership, retrying") && log.contains("no answer within 2.5s"),
        "{log}"
    );
    assert!(log.contains("the stream's ownership is renewed again"), "{log}");
    assert_eq!(b.publish_attempts("accepted"), 0.0);
    eprintln!(
        "stall of {STALL:?} ({STALL_ALL:?} of it for every PUT): {held} requests held, owner record renewed {} times, \
         backlog peak {peak} chunks, {written_in_stall} chunks written before and during it; then {written} written, \
         {stored} stored, 0 lost; video frames received {received}, decoded {decoded}",
        renewals.len() - 1
    );
}

//! A stream's moments as the node's log and metrics tell them after a real ffmpeg publish: the
//! lifecycle's log lines (read from its broadcast channel) come once each and in order, and the
//! metrics counted the publish once and every chunk the playlist lists.

mod support;

use std::time::Duration;

use support::checks::wait_until;
use support::media::publish_and_wait;
use support::node::{Node, NodeOptions};
use support::proc::TempDir;

/// How long the clip's publish may take.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// The lifecycle moment a node log line tells of `stream` (`None`: not a lifecycle line).
fn moment<'a>(line: &'a str, stream: &str) -> Option<&'a str> {
    let rest = line.split_once(" rapidrtmp::lifecycle: ")?.1;
    let of_stream = rest.split(' ').any(|field| field == format!("stream={stream}"));
    Some(match rest {
        _ if !of_stream => rest,
        r if r.starts_with("publishing ") && r.contains("peer=127.0.0.1:") => "publishing",
        r if r.starts_with("publish ended ") && r.contains("ending=Now") => "publish ended",
        r if r.starts_with("stream ended ") => "stream ended",
        r => r,
    })
}

#[test]
fn a_publish_is_logged_and_counted_from_start_to_end_once_each_in_order() {
    let dir = TempDir::new("lifecycle");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let url = node.rtmp_url("cam", Some(&token));
    let (status, messages, _) = publish_and_wait(&url, &[], &dir.join("publish.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "publish ({status}):\n{messages}");
    let p = node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(10), |p| p.ended);
    // The log reads the events from the channel in its own task: its last line may come later.
    wait_until("the stream's end to be logged", Duration::from_secs(10), || {
        node.log().lines().any(|l| moment(l, "cam") == Some("stream ended"))
    });
    let log = node.log();
    let moments: Vec<&str> = log.lines().filter_map(|l| moment(l, "cam")).collect();
    assert_eq!(moments, ["publishing", "publish ended", "stream ended"], "{log}");

    let m = node.metrics();
    let segments = f64::from(u32::try_from(p.segments.len()).expect("a few segments"));
    assert!(segments >= 2.0, "{}", p.text);
    assert_eq!(m.get("rapidrtmp_chunks_written_total", &[]), segments, "a chunk stored per segment listed");
    assert_eq!(m.get("rapidrtmp_chunk_write_seconds_count", &[]), segments, "a write time per chunk stored");
    assert_eq!(m.get("rapidrtmp_active_streams", &[]), 0.0, "the publish started and ended once");
}

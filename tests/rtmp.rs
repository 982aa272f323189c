//! End-to-end tests of the node's RTMP door (issue 9), driven by an RTMP client of our own
//! (`rapidrtmp_load::client`, written from Adobe's RTMP 1.0 spec): publishes no encoder makes
//! (interleaved chunks, chunk size 1, extended and wrapping timestamps, 2- and 3-byte chunk
//! stream ids), an OBS-style publish with a reconnect that takes over, and a catalogue of
//! hostile peers; ffmpeg and GStreamer (rtmp2sink, rtmpsink) stop a publish cleanly, the node idle
//! or busy with 50 other publishers.
//!
//! Every test ends the same way: the node is still running, its log has no panic, and a real
//! ffmpeg publish with a valid token plays back frame-exact. The hostile tests also watch the
//! node's RSS (within 64 MB of its idle size throughout) and `rapidrtmp_rtmp_connections` (back
//! to 0 once the test's sockets are closed).
//!
//! What the server is expected to do (issue 9): close a connection that has not published within
//! 10 s of accept; close at once on a protocol error (a handshake version other than 3, Set Chunk
//! Size 0 or ≥ 2^31, `publish` before `connect`, a second `connect`); close a connection that
//! breaks a limit after one log line with the word `limit`, the limit's `MAX_…` name and the
//! peer's address. Message types the spec does not define, and Aborts for chunk streams that
//! hold nothing, are ignored. Needs ffmpeg and ffprobe.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rapidrtmp_load::amf0::{self, Value};
use rapidrtmp_load::chunk::{write_chunk_header, ChunkHeader, HeaderCompression, MAX_MESSAGE_LENGTH};
use rapidrtmp_load::client::{command_payload, ChunkStreams, Client, Config, Error as ClientError, Event};
use rapidrtmp_load::handshake;
use rapidrtmp_load::media::Media;
use rapidrtmp_load::message::{self, type_id, MessageHeader};
use support::checks::{assert_plays_like_the_clip, assert_sessions_play_like_the_clip};
use support::media::{clip, publish_and_wait};
use support::node::{Node, NodeOptions};
use support::proc::{Background, TempDir};

/// How long the client waits for a handshake or a command's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// How long publishing the 6-second clip in real time may take on a busy machine.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(40);
/// A connection that has not published is closed this soon after its accept.
const UNPUBLISHED_DEADLINE: Duration = Duration::from_secs(10);
/// Between the client's connect and the server's accept, and the server's timer and ours.
const SLACK: Duration = Duration::from_secs(1);
/// A protocol error or a broken limit closes the connection this soon (well before the deadline).
const CLOSED_AT_ONCE: Duration = Duration::from_secs(5);
/// How long a test waits for a close it expected sooner, to say when it came (or that it did not).
const WAIT_FOR_A_LATE_CLOSE: Duration = Duration::from_secs(45);
/// The node's RSS may grow this much over its idle size during a hostile case.
const RSS_GROWTH_LIMIT_KB: u64 = 64 * 1024;
/// `rapidrtmp_rtmp_connections` is back to 0 this soon after the test's sockets are closed.
const CONNECTIONS_ZERO_WITHIN: Duration = Duration::from_secs(10);
/// How long the reconnecting publisher keeps retrying while the server holds the cut publish.
const TAKEOVER_WITHIN: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The test clip's audio and video tags.
fn clip_media() -> &'static Media {
    static MEDIA: OnceLock<Media> = OnceLock::new();
    MEDIA.get_or_init(|| Media::load(&clip().path).unwrap_or_else(|e| panic!("{e}")))
}

/// A client configuration for the node's `live` application (chunk size 4096, smallest headers).
fn config(node: &Node) -> Config {
    static SEED: AtomicU64 = AtomicU64::new(1);
    let mut c = Config::new("live", format!("rtmp://{}/live", node.rtmp));
    c.seed = u64::from(std::process::id()) << 32 | SEED.fetch_add(1, Ordering::Relaxed);
    c
}

/// `onMetaData` of the clip, as encoders send it.
fn metadata() -> Value {
    let n = |k: &str, v: f64| (k.to_string(), Value::Number(v));
    Value::EcmaArray(vec![
        n("duration", 0.0),
        n("width", 640.0),
        n("height", 360.0),
        n("framerate", 30.0),
        n("videocodecid", 7.0),
        n("audiocodecid", 10.0),
        n("audiosamplerate", 48_000.0),
        ("stereo".into(), Value::Boolean(true)),
        ("encoder".into(), Value::string("rapidrtmp-load")),
    ])
}

/// Deterministic noise.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// How the clip's messages go on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// One message after the other.
    InOrder,
    /// The audio messages that follow a video message in the file are sent between its chunks.
    Interleaved,
}

/// Sends every audio and video tag of the clip, as fast as the socket takes them.
fn send_clip(client: &mut Client, order: Order) {
    let tags = &clip_media().tags;
    let mut i = 0;
    while i < tags.len() {
        let tag = &tags[i];
        let sent = if tag.video && order == Order::Interleaved {
            let mut audio = Vec::new();
            while let Some(a) = tags.get(i + 1 + audio.len()).filter(|t| !t.video) {
                audio.push((a.time, &a.body[..]));
            }
            let r = client.video_interleaved(tag.time, &tag.body, &audio);
            i += audio.len();
            r
        } else if tag.video {
            client.video(tag.time, &tag.body)
        } else {
            client.audio(tag.time, &tag.body)
        };
        sent.unwrap_or_else(|e| panic!("sending tag {i} of the clip: {e}; the client saw {:?}", client.seen()));
        i += 1;
    }
}

/// The publish of OBS: `connect`, `releaseStream`, `FCPublish`, `createStream`, `publish`,
/// `@setDataFrame`, then the clip; `FCUnpublish` and `deleteStream` at the end if `unpublish`.
fn publish_clip(client: &mut Client, name: &str, order: Order, unpublish: bool) {
    client.connect(ANSWER_WITHIN).unwrap_or_else(|e| panic!("connect: {e}; the client saw {:?}", client.seen()));
    client.publish(name, ANSWER_WITHIN).unwrap_or_else(|e| panic!("publish: {e}; the client saw {:?}", client.seen()));
    client.set_data_frame(&metadata()).unwrap_or_else(|e| panic!("@setDataFrame: {e}"));
    send_clip(client, order);
    if unpublish {
        client.unpublish(name).unwrap_or_else(|e| panic!("unpublish: {e}"));
    }
}

/// The node is running and has not panicked.
fn assert_node_alive(node: &mut Node) {
    assert!(node.is_running(), "the node has exited:\n{}", node.log());
    let log = node.log();
    let panics: Vec<&str> = log.lines().filter(|l| l.contains("panicked")).collect();
    assert!(panics.is_empty(), "the node's log has panics:\n{}", panics.join("\n"));
}

/// How every test ends: the node is up, has not panicked, and a real ffmpeg publish with a
/// valid token plays back frame-exact.
fn assert_node_still_serves(node: &mut Node, dir: &TempDir) {
    assert_node_alive(node);
    let token = node.token("after", 600, false);
    let url = node.rtmp_url("after", Some(&token));
    let (status, messages, _) = publish_and_wait(&url, &[], &dir.join("after.log"), PUBLISH_TIMEOUT);
    assert!(status.success(), "the ffmpeg publish after the test failed ({status}):\n{messages}");
    assert_plays_like_the_clip(node, "after");
    assert_node_alive(node);
}

/// Publishes the clip with the Rust client configured by `adjust`, sent in `order`; every frame
/// must come out of the HLS playlist, frame-exact.
fn assert_rust_client_publish_plays(label: &str, order: Order, adjust: impl FnOnce(&mut Config)) {
    let dir = TempDir::new(label);
    let mut node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let mut config = config(&node);
    adjust(&mut config);
    let mut client = Client::open(node.rtmp, config, ANSWER_WITHIN).unwrap_or_else(|e| panic!("handshake: {e}"));
    publish_clip(&mut client, &format!("cam?token={token}"), order, true);
    // ffprobe's stream details, a clean decode, and every video and audio frame of the clip.
    assert_plays_like_the_clip(&node, "cam");
    drop(client);
    assert_node_still_serves(&mut node, &dir);
}

/// Samples a process's RSS every 10 ms until stopped; gives the largest seen.
struct RssWatch {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl RssWatch {
    fn start(pid: u32) -> RssWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut max = 0;
            while !flag.load(Ordering::Relaxed) {
                max = max.max(support::node::rss_kb(pid).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(10));
            }
            max
        });
        RssWatch { stop, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the RSS watch panicked")
    }
}

/// A node under a hostile case, its idle RSS and the watch on it.
struct Hostile {
    node: Node,
    dir: TempDir,
    idle_kb: u64,
    watch: RssWatch,
}

impl Hostile {
    fn start(label: &str) -> Hostile {
        Hostile::with(label, NodeOptions::standard())
    }

    fn with(label: &str, opts: NodeOptions) -> Hostile {
        let dir = TempDir::new(label);
        let node = Node::start(&dir.join("data"), &opts);
        // Idle: after the first API calls have run once.
        node.metrics();
        std::thread::sleep(Duration::from_millis(300));
        let idle_kb = node.rss_kb().expect("the node's VmRSS");
        let watch = RssWatch::start(node.pid());
        Hostile { node, dir, idle_kb, watch }
    }

    fn config(&self) -> Config {
        config(&self.node)
    }

    /// A TCP connection to the RTMP port.
    fn tcp(&self) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.node.rtmp, ANSWER_WITHIN).expect("TCP connect to the RTMP port");
        s.set_nodelay(true).expect("TCP_NODELAY");
        s
    }

    /// A connection that has done the handshake.
    fn client(&self, config: Config) -> Client {
        Client::open(self.node.rtmp, config, ANSWER_WITHIN).unwrap_or_else(|e| {
            self.assert_alive("a handshake");
            panic!("handshake: {e}")
        })
    }

    /// A connection on which nothing is sent yet (C0 and C1 discarded from the queue).
    fn silent_client(&self) -> Client {
        let mut c = Client::start(self.tcp(), self.config()).expect("client");
        c.session().take_output();
        c
    }

    /// The node process is still there (a panic in a task leaves it up; an abort does not).
    fn assert_alive(&self, what: &str) {
        assert!(self.node.rss_kb().is_some(), "the node died during {what}:\n{}", self.node.log());
    }

    /// [`assert_closed_within`], then the node is still up.
    fn closed_within(&self, what: &str, watch: JoinHandle<(Option<Duration>, Client)>, limit: Duration) -> Client {
        let client = assert_closed_within(what, watch, limit);
        self.assert_alive(what);
        client
    }

    fn connections(&self) -> f64 {
        self.node.metrics().get("rapidrtmp_rtmp_connections", &[])
    }

    /// Waits until `rapidrtmp_rtmp_connections` reads `n`.
    fn wait_connections(&self, n: f64, within: Duration, when: &str) {
        let deadline = Instant::now() + within;
        loop {
            let now = self.connections();
            if now == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "rapidrtmp_rtmp_connections reads {now}, not {n}, {within:?} {when}\nnode log:\n{}",
                self.node.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// After the case (its sockets closed): the connections gauge is back to 0, the RSS stayed
    /// within the limit, and the node still serves a real publish.
    fn finish(mut self) {
        self.wait_connections(0.0, CONNECTIONS_ZERO_WITHIN, "after the test closed its connections");
        let max = self.watch.stop();
        assert!(
            max <= self.idle_kb + RSS_GROWTH_LIMIT_KB,
            "the node's RSS went from {} KiB idle to {max} KiB during the hostile case (limit: +{} KiB)",
            self.idle_kb,
            RSS_GROWTH_LIMIT_KB
        );
        assert_node_still_serves(&mut self.node, &self.dir);
    }
}

/// Waits in a thread for the server to close the client's connection; the thread gives the
/// time from `from` to the close (`None`: still open `WAIT_FOR_A_LATE_CLOSE` after `from`) and
/// the client, with what it saw.
fn watch_close(mut client: Client, from: Instant) -> JoinHandle<(Option<Duration>, Client)> {
    std::thread::spawn(move || {
        let left = (from + WAIT_FOR_A_LATE_CLOSE).saturating_duration_since(Instant::now());
        let closed = client.wait_closed(left).unwrap_or(true);
        (closed.then(|| from.elapsed()), client)
    })
}

/// The watched connection was closed by the server within `limit` of its `from`.
fn assert_closed_within(what: &str, watch: JoinHandle<(Option<Duration>, Client)>, limit: Duration) -> Client {
    let (took, client) = watch.join().expect("the close watch panicked");
    match took {
        None => panic!("{what}: the connection is still open {WAIT_FOR_A_LATE_CLOSE:?} later (limit {limit:?})"),
        Some(t) => assert!(t <= limit, "{what}: the server closed the connection after {t:?}, not within {limit:?}"),
    }
    client
}

/// The client was not told `NetConnection.Connect.Success` or `NetStream.Publish.Start`.
fn assert_not_served(what: &str, client: &Client) {
    let served: Vec<_> = client
        .seen()
        .iter()
        .filter_map(Event::status)
        .filter(|s| s.code == "NetConnection.Connect.Success" || s.code == "NetStream.Publish.Start")
        .collect();
    assert!(served.is_empty(), "{what}: the server answered {served:?}");
}

/// Some log line names a limit (`limit` and a `MAX_…` constant) and the peer.
fn assert_limit_logged(node: &Node, peer: SocketAddr) {
    let peer = peer.to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = node.log();
        if log.lines().any(|l| l.contains(&peer) && l.contains("limit") && l.contains("MAX_")) {
            return;
        }
        let about: Vec<&str> = log.lines().filter(|l| l.contains(&peer)).collect();
        assert!(
            Instant::now() < deadline,
            "no log line names a limit (`limit`, a MAX_… constant) and the peer {peer}; its lines:\n{}",
            about.join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A header of a message on the command chunk stream (3), message stream 0.
fn command_header() -> MessageHeader {
    MessageHeader { type_id: type_id::COMMAND_AMF0, stream_id: 0, timestamp: 0 }
}

/// A header of a protocol control message (chunk stream 2, message stream 0).
fn control_header(type_id: u8) -> MessageHeader {
    MessageHeader { type_id, stream_id: 0, timestamp: 0 }
}

// ---------------------------------------------------------------------------------------------
// The Rust client publishes what encoders rarely send; every frame arrives
// ---------------------------------------------------------------------------------------------

#[test]
fn enhanced_rtmp_connect_is_answered_with_every_codec_the_node_packages() {
    let dir = TempDir::new("rtmp-fourcc");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let mut config = config(&node);
    config.fourcc_list = Some(["av01", "vp09", "hvc1", "avc1", "Opus", "mp4a", "fLaC"].map(String::from).to_vec());
    let mut c = Client::open(node.rtmp, config, ANSWER_WITHIN).expect("handshake");
    c.connect(ANSWER_WITHIN).expect("connect");
    let props = c.session().server_properties().cloned().expect("a properties object");
    let Some(Value::StrictArray(list)) = props.get("fourCcList") else { panic!("no fourCcList in {props:?}") };
    let list: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    assert_eq!(
        list,
        ["avc1", "hvc1", "av01", "vp09", "mp4a", "Opus", ".mp3", "ac-3", "ec-3"],
        "what the node packages, FLAC not"
    );
    for map in ["videoFourCcInfoMap", "audioFourCcInfoMap"] {
        assert!(matches!(props.get(map), Some(Value::Object(_) | Value::EcmaArray(_))), "{map} in {props:?}");
    }
}

#[test]
fn rust_client_publish_with_interleaved_chunks_plays_every_frame() {
    // 128-byte chunks, so that most video messages have several, with audio messages between.
    assert_rust_client_publish_plays("interleaved", Order::Interleaved, |c| c.chunk_size = 128);
}

#[test]
fn rust_client_publish_with_chunk_size_1_plays_every_frame() {
    assert_rust_client_publish_plays("chunk-size-1", Order::InOrder, |c| c.chunk_size = 1);
}

#[test]
fn rust_client_publish_with_extended_timestamps_plays_every_frame() {
    // From 1 s before 0xFFFFFF ms on; a type-0 header on every message, so that each carries
    // the Extended Timestamp, and 128-byte chunks, so that type-3 continuations repeat it.
    assert_rust_client_publish_plays("extended-timestamps", Order::InOrder, |c| {
        c.timestamp_offset = 0xFF_FFFF - 1000;
        c.compression = HeaderCompression::Type0Only;
        c.chunk_size = 128;
    });
}

#[test]
fn rust_client_publish_across_the_32_bit_timestamp_wrap_plays_every_frame() {
    // From 3 s before 2^32 ms: the wire timestamps wrap to 0 halfway through the clip (type 1
    // and 2 headers carry the deltas across the wrap).
    assert_rust_client_publish_plays("timestamp-wrap", Order::InOrder, |c| {
        c.timestamp_offset = u32::MAX - 2999;
        c.chunk_size = 128;
    });
}

#[test]
fn rust_client_publish_on_2_and_3_byte_chunk_stream_ids_plays_every_frame() {
    // The ends of both ranges: 64 and 319 (2-byte basic headers), 320 and 65599 (3-byte).
    assert_rust_client_publish_plays("chunk-stream-ids", Order::InOrder, |c| {
        c.chunk_streams = ChunkStreams { command: 64, data: 319, audio: 320, video: 65_599 };
        c.chunk_size = 128;
    });
}

// ---------------------------------------------------------------------------------------------
// OBS-style publish, and its reconnect after a cut
// ---------------------------------------------------------------------------------------------

#[test]
fn obs_style_publish_then_a_reconnect_after_the_connection_is_cut_takes_over() {
    let dir = TempDir::new("obs");
    let mut node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    // OBS: server rtmp://host/live, stream key cam?token=….
    let name = format!("cam?token={token}");

    // The first connection publishes the clip, then the link is cut: no unpublish, no FIN; the
    // socket just goes silent, as when the network drops under an encoder.
    let mut first = Client::open(node.rtmp, config(&node), ANSWER_WITHIN).expect("first handshake");
    publish_clip(&mut first, &name, Order::InOrder, false);
    let cut = Instant::now();

    // OBS reconnects, and retries while the server still holds the cut publish.
    let mut attempts = Vec::new();
    let mut second = loop {
        let mut c = Client::open(node.rtmp, config(&node), ANSWER_WITHIN).expect("reconnect handshake");
        c.connect(ANSWER_WITHIN).unwrap_or_else(|e| panic!("reconnect: connect: {e}"));
        match c.publish(&name, ANSWER_WITHIN) {
            Ok(()) => break c,
            Err(e @ (ClientError::Refused { .. } | ClientError::Closed(_))) if cut.elapsed() < TAKEOVER_WITHIN => {
                attempts.push(format!("{:.1} s after the cut: {e}", cut.elapsed().as_secs_f64()));
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => panic!("the reconnect's publish was not accepted: {e}; earlier attempts: {attempts:?}"),
        }
    };
    second.set_data_frame(&metadata()).expect("@setDataFrame");
    send_clip(&mut second, Order::InOrder);
    second.unpublish(&name).expect("unpublish");

    // The takeover ended the cut connection.
    assert!(first.wait_closed(Duration::from_secs(10)).unwrap_or(true), "the cut connection is still open");
    let p = node
        .wait_playlist("cam", "two sessions, ended", Duration::from_secs(20), |p| p.ended && p.discontinuities == 1);
    p.assert_well_formed();
    assert_sessions_play_like_the_clip(&node, "cam", &p, 2, dir.path());
    drop((first, second));
    assert_node_still_serves(&mut node, &dir);
}

// ---------------------------------------------------------------------------------------------
// Clean stops
// ---------------------------------------------------------------------------------------------

/// The node closes a connection this long after its publish ended, if the client has not.
const UNPUBLISH_LINGER: Duration = Duration::from_secs(5);
/// A stopped publish's playlist has `#EXT-X-ENDLIST` this soon.
const ENDLIST_WITHIN: Duration = Duration::from_secs(1);
/// Passes of the 6-second clip a clean-stop publisher sends: longer than the deadline for an
/// accepted publish ([`UNPUBLISHED_DEADLINE`]), which must not apply once a publish ended.
const CLEAN_STOP_PASSES: u32 = 2;
/// How long a clean-stop publisher may take, the node busy or not.
const CLEAN_STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// The other publishers that keep the node busy.
const LOAD_PUBLISHERS: usize = 50;

/// Other publishers keeping the node busy: clients of our own, each publishing the clip in real
/// time, looped, until [`Load::stop`].
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Result<(), String>>>,
}

impl Load {
    /// Starts `n` publishers and waits until every one is publishing.
    fn start(node: &Node, n: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let publishing = Arc::new(AtomicU64::new(0));
        let threads = (0..n)
            .map(|i| {
                let key = format!("busy-{i}");
                let name = format!("{key}?token={}", node.token(&key, 600, false));
                let (server, config, stop, publishing) = (node.rtmp, config(node), stop.clone(), publishing.clone());
                std::thread::spawn(move || {
                    let e = |what: &'static str| {
                        let key = key.clone();
                        move |e: ClientError| format!("{key}: {what}: {e}")
                    };
                    let mut c = Client::open(server, config, ANSWER_WITHIN).map_err(e("handshake"))?;
                    c.connect(ANSWER_WITHIN).map_err(e("connect"))?;
                    c.publish(&name, ANSWER_WITHIN).map_err(e("publish"))?;
                    c.set_data_frame(&metadata()).map_err(e("@setDataFrame"))?;
                    publishing.fetch_add(1, Ordering::Relaxed);
                    let (media, start) = (clip_media(), Instant::now());
                    for pass in 0u32.. {
                        for tag in &media.tags {
                            if stop.load(Ordering::Relaxed) {
                                return c.unpublish(&name).map_err(e("unpublish"));
                            }
                            let ms = pass * media.period + tag.time;
                            let due = start + Duration::from_millis(ms.into());
                            std::thread::sleep(due.saturating_duration_since(Instant::now()));
                            let sent = if tag.video { c.video(ms, &tag.body) } else { c.audio(ms, &tag.body) };
                            sent.map_err(e("sending"))?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        let load = Load { stop, threads };
        let deadline = Instant::now() + Duration::from_secs(30);
        while publishing.load(Ordering::Relaxed) < n as u64 {
            assert!(load.threads.iter().all(|t| !t.is_finished()), "a load publisher failed: {:?}", load.stop());
            assert!(Instant::now() < deadline, "{} of {n} load publishers publish", publishing.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(100));
        }
        load
    }

    /// Stops the publishers; what went wrong with any of them.
    fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads.into_iter().filter_map(|t| t.join().unwrap_or_else(|_| Err("panicked".into())).err()).collect()
    }
}

/// A publisher that stops cleanly at the end of its input: ffmpeg, GStreamer's rtmp2sink, or
/// GStreamer's rtmpsink (librtmp).
#[derive(Debug, Clone, Copy)]
enum Encoder {
    Ffmpeg,
    Rtmp2Sink,
    RtmpSink,
}

impl Encoder {
    /// Publishes `file` (H.264 + AAC FLV) to `url` in real time.
    fn command(self, file: &std::path::Path, url: &str) -> std::process::Command {
        // gst-launch-1.0 reads one element or property per argument (spaces inside one are kept).
        let gst = |sink: &str, location: String| {
            let mut c = std::process::Command::new("gst-launch-1.0");
            c.args(["-e", "filesrc"]).arg(format!("location={}", file.display()));
            c.args(["!", "flvdemux", "name=d", "!", "queue", "!", "h264parse", "!"]);
            c.args(["flvmux", "name=m", "streamable=true", "!", sink, &location]);
            c.args(["d.", "!", "queue", "!", "aacparse", "!", "m."]);
            c
        };
        match self {
            Encoder::Ffmpeg => {
                let mut c = support::media::ffmpeg();
                c.args(["-v", "error", "-re", "-i"]).arg(file).args(["-c", "copy", "-f", "flv", url]);
                c
            }
            Encoder::Rtmp2Sink => gst("rtmp2sink", format!("location={url}")),
            // librtmp's URL options follow the URL, space-separated.
            Encoder::RtmpSink => gst("rtmpsink", format!("location={url} live=1")),
        }
    }
}

/// ffmpeg and both GStreamer sinks publish the clip at once, each to its own key, and stop at
/// the end of it: each exits 0 and prints no error, and its stream has `#EXT-X-ENDLIST` within
/// [`ENDLIST_WITHIN`] of the publisher's exit and holds the whole clip.
fn assert_encoders_stop_cleanly(node: &Node, dir: &TempDir, file: &std::path::Path, label: &str) {
    let mut running: Vec<(Encoder, String, Background)> = [Encoder::Ffmpeg, Encoder::Rtmp2Sink, Encoder::RtmpSink]
        .into_iter()
        .map(|encoder| {
            let key = format!("{label}-{encoder:?}").to_lowercase();
            let url = node.rtmp_url(&key, Some(&node.token(&key, 600, false)));
            let log = dir.join(&format!("{key}.log"));
            let p = Background::spawn(&key, &mut encoder.command(file, &url), log);
            (encoder, key, p)
        })
        .collect();
    // (exit, ENDLIST seen) per publisher, polled together.
    let mut times: Vec<(Option<Instant>, Option<Instant>)> = vec![(None, None); running.len()];
    let start = Instant::now();
    while times.iter().any(|(exit, ended)| ended.is_none() || exit.is_none()) {
        for ((encoder, key, p), (exit, ended)) in running.iter_mut().zip(&mut times) {
            if exit.is_none() {
                if let Some(status) = p.status() {
                    *exit = Some(Instant::now());
                    let log = p.log();
                    assert!(status.success(), "{encoder:?} stopped with {status}:\n{log}");
                    let errors: Vec<&str> =
                        log.lines().filter(|l| l.to_lowercase().contains("error") || l.contains("rror")).collect();
                    assert!(errors.is_empty(), "{encoder:?} printed errors:\n{log}");
                }
            }
            if ended.is_none() && node.playlist(key).is_some_and(|p| p.ended) {
                *ended = Some(Instant::now());
            }
            if let (Some(exit), None) = (*exit, *ended) {
                assert!(
                    exit.elapsed() <= ENDLIST_WITHIN,
                    "{encoder:?} exited {:?} ago; {key} has no ENDLIST",
                    exit.elapsed()
                );
            }
        }
        assert!(start.elapsed() < CLEAN_STOP_TIMEOUT, "the publishers went on: {times:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let whole = f64::from(CLEAN_STOP_PASSES * clip_media().period) / 1000.0;
    for (encoder, key, _) in &running {
        let p = node.playlist(key).expect("the playlist");
        p.assert_well_formed();
        assert!(
            (p.total_duration() - whole).abs() < 0.5,
            "{encoder:?}: {} s of {whole} s:\n{}",
            p.total_duration(),
            p.text
        );
    }
}

#[test]
fn ffmpeg_and_gstreamer_publishers_stop_with_exit_status_0_also_on_a_busy_node() {
    let dir = TempDir::new("clean-stop");
    let mut node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let file = dir.join("clip-twice.flv");
    let passes = (CLEAN_STOP_PASSES - 1).to_string();
    let make = support::media::ffmpeg()
        .args(["-v", "error", "-stream_loop", &passes, "-i"])
        .arg(&clip().path)
        .args(["-c", "copy"])
        .arg(&file)
        .status()
        .expect("ffmpeg runs");
    assert!(make.success(), "ffmpeg made the clip played {CLEAN_STOP_PASSES} times");

    assert_encoders_stop_cleanly(&node, &dir, &file, "quiet");
    let load = Load::start(&node, LOAD_PUBLISHERS);
    assert_encoders_stop_cleanly(&node, &dir, &file, "busy");
    assert_eq!(load.stop(), Vec::<String>::new(), "the load publishers");
    assert_node_still_serves(&mut node, &dir);
}

#[test]
fn a_publisher_that_stays_connected_after_unpublishing_hears_success_its_stream_ends_at_once_and_the_node_closes_after_5_s(
) {
    let dir = TempDir::new("linger");
    let mut node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let name = format!("cam?token={}", node.token("cam", 600, false));
    let mut c = Client::open(node.rtmp, config(&node), ANSWER_WITHIN).expect("handshake");
    publish_clip(&mut c, &name, Order::InOrder, false);
    // FCUnpublish and deleteStream, as encoders end, but no close.
    c.session().fc_unpublish(&name).expect("FCUnpublish");
    c.session().delete_stream().expect("deleteStream");
    c.flush().expect("send");
    let stopped = Instant::now();
    const SUCCESS: &str = "NetStream.Unpublish.Success";
    let status = c
        .wait_for("onStatus NetStream.Unpublish.Success", ANSWER_WITHIN, |e| match e {
            Event::Status(s) if s.code == SUCCESS => Some(Ok(s.clone())),
            _ => None,
        })
        .unwrap_or_else(|e| panic!("{e}; the client saw {:?}", c.seen()));
    assert_eq!(status.level, "status");
    let on_fc = c.seen().iter().find(|e| matches!(e, Event::Command { name, .. } if name == "onFCUnpublish"));
    assert_eq!(on_fc.and_then(Event::status).map(|s| s.code), Some(SUCCESS.into()), "{:?}", c.seen());

    node.wait_playlist("cam", "#EXT-X-ENDLIST", ENDLIST_WITHIN.saturating_sub(stopped.elapsed()), |p| p.ended);
    assert!(!c.is_closed(), "the node closed the connection before the client did");
    let closed = c.wait_closed(UNPUBLISH_LINGER + SLACK).expect("read");
    let after = stopped.elapsed();
    assert!(closed && after >= UNPUBLISH_LINGER - SLACK, "closed: {closed}, {after:?} after the unpublish");
    assert_plays_like_the_clip(&node, "cam");
    assert_node_still_serves(&mut node, &dir);
}

// ---------------------------------------------------------------------------------------------
// Hostile peers
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_garbage_instead_of_a_handshake_is_closed() {
    let h = Hostile::start("garbage");
    // An HTTP request: 'G' is no RTMP version.
    let mut http = h.silent_client();
    let _ = http.write_raw(b"GET /live/cam/index.m3u8 HTTP/1.1\r\nHost: rapidrtmp\r\n\r\n");
    let http = watch_close(http, Instant::now());
    // Version 3, then noise where C1, C2 and the chunks should be.
    let mut noisy = h.silent_client();
    let opened = noisy.opened();
    let mut bytes = vec![handshake::RTMP_VERSION];
    bytes.extend(noise(64 << 10, 1));
    let _ = noisy.write_raw(&bytes);
    let noisy = watch_close(noisy, opened);

    let http = h.closed_within("an HTTP request", http, CLOSED_AT_ONCE);
    assert_not_served("an HTTP request", &http);
    let noisy = h.closed_within("version 3, then noise", noisy, UNPUBLISHED_DEADLINE + SLACK);
    assert_not_served("version 3, then noise", &noisy);
    drop((http, noisy));
    h.finish();
}

#[test]
fn hostile_wrong_handshake_version_is_closed_at_once() {
    let h = Hostile::start("version");
    // 0: deprecated; 6: RTMPE (encrypted); 32 and up are not allowed (§5.2.2).
    let watches: Vec<_> = [0u8, 6, 32, 0xFF]
        .into_iter()
        .map(|v| {
            let mut c = h.silent_client();
            let mut c0_c1 = handshake::c0_c1(0, 0, u64::from(v));
            c0_c1[0] = v;
            let _ = c.write_raw(&c0_c1);
            (v, watch_close(c, Instant::now()))
        })
        .collect();
    for (v, w) in watches {
        let c = h.closed_within(&format!("C0 version {v}"), w, CLOSED_AT_ONCE);
        assert_not_served(&format!("C0 version {v}"), &c);
    }
    h.finish();
}

#[test]
fn hostile_handshake_then_silence_is_closed_within_10_s_of_accept() {
    let h = Hostile::start("handshake-silence");
    let full = h.client(h.config());
    let opened = full.opened();
    let full = watch_close(full, opened);
    // And a handshake that stops halfway through C1.
    let mut half = h.silent_client();
    let opened = half.opened();
    let _ = half.write_raw(&handshake::c0_c1(0, 0, 2)[..700]);
    let half = watch_close(half, opened);
    h.closed_within("a handshake, then silence", full, UNPUBLISHED_DEADLINE + SLACK);
    h.closed_within("half a handshake, then silence", half, UNPUBLISHED_DEADLINE + SLACK);
    h.finish();
}

#[test]
fn hostile_connect_then_silence_is_closed_within_10_s_of_accept() {
    let h = Hostile::start("connect-silence");
    let mut connected = h.client(h.config());
    connected.connect(ANSWER_WITHIN).unwrap_or_else(|e| panic!("connect: {e}"));
    let opened = connected.opened();
    let connected = watch_close(connected, opened);
    // And one that got as far as createStream.
    let mut created = h.client(h.config());
    created.connect(ANSWER_WITHIN).unwrap_or_else(|e| panic!("connect: {e}"));
    created.session().release_stream("cam").expect("releaseStream");
    created.session().create_stream().expect("createStream");
    created.flush().expect("createStream");
    let opened = created.opened();
    let created = watch_close(created, opened);
    h.closed_within("connect, then silence", connected, UNPUBLISHED_DEADLINE + SLACK);
    h.closed_within("connect and createStream, then silence", created, UNPUBLISHED_DEADLINE + SLACK);
    h.finish();
}

#[test]
fn hostile_partial_message_then_a_message_on_another_chunk_stream_is_put_back_together() {
    let h = Hostile::start("partial-then-other");
    let mut config = h.config();
    config.chunk_size = 128; // nothing announced: connect goes in 128-byte chunks
    config.fourcc_list = Some(["av01", "vp09", "hvc1", "avc1", "Opus", "mp4a"].map(String::from).to_vec());
    let mut c = h.client(config);
    let payload = command_payload("connect", 1.0, &c.session().connect_args());
    assert!(payload.len() > 128, "connect must take several chunks");
    let mut chunks = c.session().writer_mut().begin(3, command_header(), &payload).expect("connect chunks");
    // Right after the handshake: the first chunk of connect on chunk stream 3…
    let mut first = Vec::new();
    chunks.write_next(&mut first);
    c.write_raw(&first).expect("first chunk");
    std::thread::sleep(Duration::from_millis(200));
    // …a whole message on chunk stream 2 (the one that panics rml_rtmp 0.8)…
    let window = message::window_ack_size(2_500_000);
    c.session().send_message(2, control_header(type_id::WINDOW_ACK_SIZE), &window).expect("window");
    c.flush().expect("a message on chunk stream 2");
    std::thread::sleep(Duration::from_millis(200));
    // …then the rest of connect. Interleaving is in the spec (§5.3.1): connect succeeds.
    let mut rest = Vec::new();
    while chunks.write_next(&mut rest) {}
    c.write_raw(&rest).expect("the rest of connect");
    let status = c
        .wait_for("connect's _result", ANSWER_WITHIN, |e| {
            e.status().filter(|s| s.code.starts_with("NetConnection")).map(Ok)
        })
        .unwrap_or_else(|e| panic!("connect put back together: {e}; the client saw {:?}", c.seen()));
    assert_eq!(status.code, "NetConnection.Connect.Success", "{status}");
    drop(c);
    h.finish();
}

#[test]
fn hostile_16_mib_length_claims_on_64_chunk_streams_are_bounded() {
    let h = Hostile::start("length-claims");
    let mut c = h.client(h.config());
    let peer = c.socket().local_addr().expect("local address");
    c.session().set_chunk_size(65_536).expect("chunk size");
    c.flush().expect("Set Chunk Size");
    // On each of 64 chunk streams, a message claiming 16 MiB and its first 64 KiB.
    let piece = noise(65_536, 3);
    let mut written = 0;
    for csid in 3..3 + 64 {
        let mut bytes = Vec::with_capacity(piece.len() + 12);
        let header = ChunkHeader {
            fmt: 0,
            chunk_stream_id: csid,
            timestamp: 0,
            length: MAX_MESSAGE_LENGTH,
            type_id: type_id::VIDEO,
            stream_id: 1,
            extended_on_type3: false,
        };
        write_chunk_header(&header, &mut bytes);
        bytes.extend_from_slice(&piece);
        if c.write_raw(&bytes).is_err() {
            break; // closed by the server
        }
        written += 1;
    }
    let watch = watch_close(c, Instant::now());
    let c = h.closed_within(&format!("16 MiB claims ({written} of 64 written)"), watch, CLOSED_AT_ONCE);
    assert_not_served("16 MiB claims", &c);
    assert_limit_logged(&h.node, peer);
    drop(c);
    h.finish();
}

/// Set Chunk Size with `value` as its payload, then `connect`: the connection is closed at once.
fn assert_set_chunk_size_is_a_protocol_error(h: &Hostile, value: u32) {
    let mut config = h.config();
    config.chunk_size = 128;
    let mut c = h.client(config);
    c.session().send_message(2, control_header(type_id::SET_CHUNK_SIZE), &value.to_be_bytes()).expect("message");
    c.session().connect().expect("connect");
    let _ = c.flush();
    let what = format!("Set Chunk Size 0x{value:08x}");
    let c = h.closed_within(&what, watch_close(c, Instant::now()), CLOSED_AT_ONCE);
    assert_not_served(&what, &c);
}

#[test]
fn hostile_set_chunk_size_0_is_closed_at_once() {
    let h = Hostile::start("chunk-size-0");
    assert_set_chunk_size_is_a_protocol_error(&h, 0);
    h.finish();
}

#[test]
fn hostile_set_chunk_size_2_pow_31_is_closed_at_once() {
    let h = Hostile::start("chunk-size-2-31");
    assert_set_chunk_size_is_a_protocol_error(&h, 1 << 31);
    // 2^31 - 1 is the largest the spec allows: connect (in one chunk) succeeds.
    let mut config = h.config();
    config.chunk_size = 0x7FFF_FFFF;
    let mut c = h.client(config);
    c.connect(ANSWER_WITHIN).unwrap_or_else(|e| panic!("connect after Set Chunk Size 2^31-1: {e}"));
    drop(c);
    h.finish();
}

#[test]
fn hostile_abort_for_unknown_chunk_streams_is_ignored() {
    let h = Hostile::start("abort");
    let mut config = h.config();
    config.chunk_size = 128;
    let mut c = h.client(config);
    // Aborts for chunk streams that never carried anything, of each basic header size.
    for csid in [3, 4, 5, 63, 64, 319, 320, 65_599] {
        c.session().send_message(2, control_header(type_id::ABORT), &message::abort(csid)).expect("abort");
    }
    c.flush().expect("aborts");
    // An Abort that drops something: half a connect on chunk stream 3, its Abort, then connect.
    let payload = command_payload("connect", 1.0, &c.session().connect_args());
    let mut chunks = c.session().writer_mut().begin(3, command_header(), &payload).expect("connect chunks");
    let mut half = Vec::new();
    chunks.write_next(&mut half);
    c.write_raw(&half).expect("half a connect");
    c.session().send_message(2, control_header(type_id::ABORT), &message::abort(3)).expect("abort");
    c.session().writer_mut().set_compression(HeaderCompression::Type0Only);
    c.connect(ANSWER_WITHIN).unwrap_or_else(|e| panic!("connect after the Aborts: {e}; the client saw {:?}", c.seen()));
    drop(c);
    h.finish();
}

#[test]
fn hostile_2000_connects_on_one_connection_are_closed() {
    let h = Hostile::start("connects");
    let mut config = h.config();
    config.chunk_size = 128;
    let mut c = h.client(config);
    let mut sent = 0;
    for _ in 0..2000 {
        c.session().connect().expect("connect");
        if c.flush().is_err() {
            break; // closed by the server
        }
        sent += 1;
    }
    let c = h.closed_within(&format!("{sent} connects"), watch_close(c, Instant::now()), CLOSED_AT_ONCE);
    let successes = c.seen().iter().filter(|e| matches!(e, Event::Connected(_))).count();
    assert!(successes <= 1, "{successes} of {sent} connects on one connection succeeded");
    drop(c);
    h.finish();
}

#[test]
fn hostile_publish_without_connect_is_closed_and_publishes_nothing() {
    let h = Hostile::start("publish-without-connect");
    let token = h.node.token("cam", 600, false);
    let mut c = h.client(h.config());
    let name = Value::string(format!("cam?token={token}"));
    c.session().send_command("publish", 0.0, 1, &[Value::Null, name, Value::string("live")]).expect("publish");
    let _ = c.flush();
    let c = h.closed_within("publish without connect", watch_close(c, Instant::now()), CLOSED_AT_ONCE);
    assert_not_served("publish without connect", &c);
    assert_eq!(h.node.api("GET", "/api/v1/streams/cam", None).status, 404, "a stream was published");
    assert_eq!(h.node.publish_attempts("accepted"), 0.0);
    drop(c);
    h.finish();
}

/// A command whose AMF is malformed (cut short, an unknown marker, a length or count past the
/// message, a reference to nothing, a name that is not a string) is a protocol error: the
/// connection is closed at once (measured: within 2 ms), well before the setup deadline, and
/// is never told it connected. A data message of noise is not a command: data messages only
/// carry metadata and one the node cannot read is skipped, so that connection, which never
/// publishes, is closed by the setup deadline ([`UNPUBLISHED_DEADLINE`]), not before.
#[test]
fn hostile_malformed_amf_commands_are_refused_at_once_and_noise_data_is_skipped() {
    let h = Hostile::start("malformed-amf");
    let start = |name: &str| {
        let mut v = Vec::new();
        amf0::encode(&Value::string(name), &mut v);
        v
    };
    let connect = || {
        let mut v = start("connect");
        amf0::encode(&Value::Number(1.0), &mut v);
        v
    };
    let with = |mut v: Vec<u8>, tail: &[u8]| {
        v.extend_from_slice(tail);
        v
    };
    let cases: Vec<(&str, u8, Vec<u8>)> = vec![
        ("an empty command", type_id::COMMAND_AMF0, Vec::new()),
        ("a string longer than the message", type_id::COMMAND_AMF0, vec![0x02, 0xFF, 0xFF, b'c', b'o']),
        ("an unknown type marker", type_id::COMMAND_AMF0, with(connect(), &[0x42, 1, 2, 3])),
        ("a number cut short", type_id::COMMAND_AMF0, with(start("connect"), &[0x00, 0x3F, 0xF0])),
        (
            "an object without its end",
            type_id::COMMAND_AMF0,
            with(connect(), &[0x03, 0, 3, b'a', b'p', b'p', 0x02, 0, 4]),
        ),
        ("a 4 GiB long string", type_id::COMMAND_AMF0, with(connect(), &[0x0C, 0xFF, 0xFF, 0xFF, 0xFF, b'x'])),
        ("a strict array of 2^32-1 values", type_id::COMMAND_AMF0, with(connect(), &[0x0A, 0xFF, 0xFF, 0xFF, 0xFF])),
        ("a reference to nothing", type_id::COMMAND_AMF0, with(connect(), &[0x07, 0x00, 0x05])),
        (
            "a command name that is a number",
            type_id::COMMAND_AMF0,
            with(Vec::new(), &[0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0]),
        ),
        ("an AMF3 command of noise", type_id::COMMAND_AMF3, with(vec![0x00, 0x11], &noise(200, 4))),
    ];
    let send = |t: u8, payload: &[u8]| {
        let mut c = h.client(h.config());
        let header = MessageHeader { type_id: t, stream_id: 0, timestamp: 0 };
        c.session().send_message(3, header, payload).expect("message");
        let _ = c.flush();
        let opened = c.opened();
        watch_close(c, opened)
    };
    let data = send(type_id::DATA_AMF0, &noise(300, 5));
    let watches: Vec<_> = cases.into_iter().map(|(what, t, payload)| (what, send(t, &payload))).collect();
    for (what, w) in watches {
        let c = h.closed_within(what, w, CLOSED_AT_ONCE);
        assert_not_served(what, &c);
    }
    let what = "a data message of noise";
    let (took, c) = data.join().expect("the close watch panicked");
    let took = took.unwrap_or_else(|| panic!("{what}: the connection is still open {WAIT_FOR_A_LATE_CLOSE:?} later"));
    assert!(
        took >= UNPUBLISHED_DEADLINE - SLACK && took <= UNPUBLISHED_DEADLINE + SLACK,
        "{what}: closed after {took:?}; skipped data leaves the close to the {UNPUBLISHED_DEADLINE:?} setup deadline"
    );
    h.assert_alive(what);
    assert_not_served(what, &c);
    h.finish();
}

#[test]
fn hostile_amf_nesting_10000_deep_is_a_broken_limit() {
    let h = Hostile::start("amf-nesting");
    const DEPTH: usize = 10_000;
    // In the onMetaData of an accepted publish: the node survives it (the connection may be
    // closed for it, or the metadata dropped).
    let token = h.node.token("meta", 600, false);
    let mut c = h.client(h.config());
    c.connect(ANSWER_WITHIN).expect("connect");
    c.publish(&format!("meta?token={token}"), ANSWER_WITHIN).expect("publish");
    let mut payload = Vec::new();
    amf0::encode_all(&[Value::string("@setDataFrame"), Value::string("onMetaData")], &mut payload);
    for _ in 0..DEPTH {
        payload.extend_from_slice(&[0x0A, 0, 0, 0, 1]);
    }
    payload.push(0x05);
    let stream_id = c.session().stream_id().expect("stream id");
    let header = MessageHeader { type_id: type_id::DATA_AMF0, stream_id, timestamp: 0 };
    c.session().send_message(5, header, &payload).expect("message");
    let _ = c.flush();
    let _ = c.unpublish("meta");
    let _ = c.wait_closed(Duration::from_secs(5));
    h.assert_alive("onMetaData nested 10,000 deep");
    drop(c);

    // In connect, before anything is authorized: the connection breaks a limit.
    let connect_with = |open: &[u8], close: &[u8]| {
        let mut v = command_payload("connect", 1.0, &[]);
        for _ in 0..DEPTH {
            v.extend_from_slice(open);
        }
        v.push(0x05); // null, the innermost value
        for _ in 0..DEPTH {
            v.extend_from_slice(close);
        }
        v
    };
    let cases = [
        ("objects 10,000 deep", connect_with(&[0x03, 0, 1, b'a'], &[0, 0, 0x09])),
        ("strict arrays 10,000 deep", connect_with(&[0x0A, 0, 0, 0, 1], &[])),
        ("ECMA arrays 10,000 deep", connect_with(&[0x08, 0, 0, 0, 1, 0, 1, b'a'], &[0, 0, 0x09])),
    ];
    // All connected first: a node that dies on the first payload fails below, not in a handshake.
    let clients: Vec<Client> = cases.iter().map(|_| h.client(h.config())).collect();
    let watches: Vec<_> = cases
        .into_iter()
        .zip(clients)
        .map(|((what, payload), mut c)| {
            let peer = c.socket().local_addr().expect("local address");
            c.session().set_chunk_size(4096).expect("chunk size");
            c.session().send_message(3, command_header(), &payload).expect("message");
            let _ = c.flush();
            (what, peer, watch_close(c, Instant::now()))
        })
        .collect();
    for (what, peer, w) in watches {
        let c = h.closed_within(what, w, CLOSED_AT_ONCE);
        assert_not_served(what, &c);
        assert_limit_logged(&h.node, peer);
    }

    h.finish();
}

#[test]
fn hostile_message_types_the_spec_does_not_define_are_ignored() {
    let h = Hostile::start("unknown-types");
    let mut config = h.config();
    config.chunk_size = 128;
    let mut c = h.client(config);
    for (i, t) in [7u8, 10, 11, 12, 13, 14, 21, 23, 24, 99, 127, 200, 255].into_iter().enumerate() {
        let header = MessageHeader { type_id: t, stream_id: 0, timestamp: 10 * i as u32 };
        c.session().send_message(5, header, &noise(300, u64::from(t))).expect("message");
    }
    c.flush().expect("unknown messages");
    c.connect(ANSWER_WITHIN).unwrap_or_else(|e| panic!("connect after unknown messages: {e}; saw {:?}", c.seen()));
    drop(c);
    h.finish();
}

#[test]
fn hostile_max_connections_plus_one_is_refused_and_the_slots_come_back() {
    const MAX: usize = 8;
    let mut opts = NodeOptions::standard();
    opts.args.extend(["--max-connections".to_string(), MAX.to_string()]);
    let h = Hostile::with("max-connections", opts);
    let held: Vec<Client> = (0..MAX).map(|_| h.client(h.config())).collect();
    h.wait_connections(MAX as f64, Duration::from_secs(5), "with all of them open");
    // One more, at once: refused (closed, with or without a handshake).
    let mut extra = Client::start(h.tcp(), h.config()).expect("client");
    let _ = extra.flush();
    let extra = h.closed_within("connection MAX + 1", watch_close(extra, Instant::now()), CLOSED_AT_ONCE);
    assert_not_served("connection MAX + 1", &extra);
    drop((held, extra));
    h.wait_connections(0.0, CONNECTIONS_ZERO_WITHIN, "after all of them closed");
    // A new publish works.
    let token = h.node.token("cam", 600, false);
    let mut c = h.client(h.config());
    c.connect(ANSWER_WITHIN).expect("connect after the slots came back");
    c.publish(&format!("cam?token={token}"), ANSWER_WITHIN).expect("publish after the slots came back");
    c.unpublish("cam").expect("unpublish");
    drop(c);
    h.finish();
}

#[test]
fn hostile_connections_from_one_address_beyond_the_per_address_limit_are_refused() {
    const PER_ADDRESS: usize = 4;
    let mut opts = NodeOptions::standard();
    opts.args.extend(["--max-connections".to_string(), "100".to_string()]);
    opts.env.push(("RAPIDRTMP_MAX_CONNECTIONS_PER_IP".into(), PER_ADDRESS.to_string()));
    let h = Hostile::with("per-address", opts);
    let mut held: Vec<Client> = (0..PER_ADDRESS).map(|_| h.client(h.config())).collect();
    h.wait_connections(PER_ADDRESS as f64, Duration::from_secs(5), "with all of them open");
    let mut extra = Client::start(h.tcp(), h.config()).expect("client");
    let _ = extra.flush();
    let extra =
        h.closed_within("a connection over the per-address limit", watch_close(extra, Instant::now()), CLOSED_AT_ONCE);
    assert_not_served("a connection over the per-address limit", &extra);
    // Another address is not held back.
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let mut elsewhere = Client::open_from(other, h.node.rtmp, h.config(), ANSWER_WITHIN)
        .unwrap_or_else(|e| panic!("a connection from {other}: {e}"));
    elsewhere.connect(ANSWER_WITHIN).unwrap_or_else(|e| panic!("connect from {other}: {e}"));
    // A closed connection gives its address's slot back.
    drop(held.pop());
    h.wait_connections(PER_ADDRESS as f64, Duration::from_secs(5), "after one of 127.0.0.1's closed");
    held.push(h.client(h.config()));
    drop((held, extra, elsewhere));
    h.finish();
}

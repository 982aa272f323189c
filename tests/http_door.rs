//! The HTTP door: hostile HTTP clients against a real node. After each attack the node is up,
//! has not panicked, and a real ffmpeg publish with a valid token plays every frame.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::checks::assert_plays_like_the_clip;
use support::media::{publish, publish_and_wait};
use support::node::{Node, NodeOptions};
use support::proc::TempDir;

/// The node's deadline for a complete request head (`HEADER_TIMEOUT` in
/// ingest-node/src/http/server.rs).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The node is up, logged no panic, and a publish of the clip with a fresh token plays every
/// frame.
fn assert_still_serves(node: &Node, key: &str, dir: &TempDir) {
    assert_eq!(node.get("/health").status, 200, "the node answers /health");
    let token = node.token(key, 600, false);
    let (status, log, _) = publish_and_wait(
        &node.rtmp_url(key, Some(&token)),
        &[],
        &dir.join(&format!("{key}.ffmpeg.log")),
        Duration::from_secs(60),
    );
    assert!(status.success(), "ffmpeg publish after the attack: {status}\n{log}");
    assert_plays_like_the_clip(node, key);
    assert!(!node.log().contains("panicked"), "the node panicked:\n{}", node.log());
}

/// The refusals counted for `cause` (`rapidrtmp_refused_total{cause}`).
fn refused(node: &Node, cause: &str) -> f64 {
    node.metrics()
        .value("rapidrtmp_refused_total", &[("cause", cause)])
        .unwrap_or_else(|| panic!("no refusal series {cause}"))
}

/// Raises this test process's soft open-file limit to its hard limit (the attacks below hold
/// more than 1024 sockets); returns the hard limit.
fn raise_own_file_limit() -> u64 {
    let out = Command::new("sh").args(["-c", "ulimit -Hn"]).output().expect("sh runs");
    let hard = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let hard: u64 = if hard == "unlimited" { 1 << 20 } else { hard.parse().expect("ulimit -Hn is a number") };
    let pid = std::process::id().to_string();
    let status = Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success(), "prlimit --pid {pid} --nofile={hard}:{hard}");
    hard
}

/// A socket that has been closed by the node: reading gives the end (after whatever the node
/// sent) or an error, within `within`.
fn closed_within(socket: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    socket.set_nonblocking(false).expect("blocking");
    let mut buf = [0u8; 64 << 10];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        socket.set_read_timeout(Some(left)).expect("read timeout");
        match socket.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return false,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
}

#[test]
fn held_unauthenticated_bodies_are_refused_before_a_byte_is_read_and_memory_stays_flat() {
    raise_own_file_limit();
    let dir = TempDir::new("door-bodies");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    // Warm up: the allocator's arenas and the first connections' buffers.
    for _ in 0..20 {
        assert_eq!(node.get("/health").status, 200);
    }
    let idle = node.rss_kb().expect("node RSS");
    const CONNECTIONS: usize = 300;
    const BODY: usize = 2_000_000;
    let head = format!(
        "POST /api/v1/publish HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {BODY}\r\n\r\n",
        node.http
    );
    let chunk = vec![b'{'; 64 << 10];
    let mut held = Vec::with_capacity(CONNECTIONS);
    let mut sent = 0usize;
    for _ in 0..CONNECTIONS {
        let mut s = TcpStream::connect(node.http).expect("connect");
        s.write_all(head.as_bytes()).expect("head");
        // As much of the body as the sockets take, without waiting.
        s.set_nonblocking(true).expect("nonblocking");
        let mut body_sent = 0;
        while body_sent < BODY {
            match s.write(&chunk[..chunk.len().min(BODY - body_sent)]) {
                Ok(n) => body_sent += n,
                Err(_) => break,
            }
        }
        sent += body_sent;
        held.push(s);
    }
    std::thread::sleep(Duration::from_secs(2));
    let loaded = node.rss_kb().expect("node RSS");
    let grew_mib = loaded.saturating_sub(idle) as f64 / 1024.0;
    eprintln!(
        "{CONNECTIONS} held {BODY}-byte unauthenticated bodies ({:.0} MiB sent): RSS {idle} KiB idle, {loaded} KiB held (+{grew_mib:.1} MiB)",
        sent as f64 / 1048576.0
    );
    assert!(grew_mib <= 64.0, "RSS grew by {grew_mib:.1} MiB with {CONNECTIONS} held bodies");
    // Each was answered 401 without its body being read.
    let mut answered = 0;
    for s in &mut held {
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        if let Ok(n) = s.read(&mut buf) {
            answered += usize::from(buf[..n].starts_with(b"HTTP/1.1 401"));
        }
    }
    assert_eq!(answered, CONNECTIONS, "every held request is answered 401 at once");
    assert!(refused(&node, "admin_auth") >= CONNECTIONS as f64);
    assert!(node.log().contains("admin API: missing or wrong key"), "failed authentication is logged");
    drop(held);

    // With the key: a body over the API's limit is refused (413), declared or not.
    let key = format!("Bearer {}", node.admin_key);
    let big = vec![b' '; 64 << 10];
    let r = support::http::request(node.http, "POST", "/api/v1/publish", &[("Authorization", &key)], &big).unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    // A body that does not come is given up at the body deadline (408).
    let mut s = TcpStream::connect(node.http).unwrap();
    write!(s, "POST /api/v1/publish HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\nContent-Length: 100\r\n\r\n{{")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "a stalled body: {answer}");
    assert!(started.elapsed() < Duration::from_secs(15), "answered after {:?}", started.elapsed());

    assert_still_serves(&node, "bodies", &dir);
}

#[test]
fn slowloris_under_the_soft_file_limit_is_closed_at_the_header_deadline_while_publishing_goes_on() {
    let hard = raise_own_file_limit();
    slowloris(1024, hard);
}

#[test]
fn slowloris_under_a_hard_limit_of_1024_leaves_rtmp_its_room() {
    raise_own_file_limit();
    slowloris(1024, 1024);
}

/// 1,100 connections trickling their request heads at a node started with the open-file
/// limits `soft:hard`; an ffmpeg publish during the attack.
fn slowloris(soft: u64, hard: u64) {
    let dir = TempDir::new("door-slowloris");
    let limit = format!("--nofile={soft}:{hard}");
    let node = Node::start_under(&["prlimit", &limit, "--"], &dir.join("data"), &NodeOptions::standard());
    let raised = node.log().lines().any(|l| l.contains("open-file limit") && l.contains(&format!("open_files={hard}")));
    assert!(raised, "the node raises its soft open-file limit to {hard}:\n{}", node.log());

    // The encoder's token, asked for before the attack: the attack comes from the same address
    // (127.0.0.1) and takes all of its HTTP connections.
    let key = "during";
    let token = node.token(key, 600, false);

    // 1,100 connections, each trickling a request head a byte at a time.
    const CONNECTIONS: usize = 1100;
    let head = b"GET /api/v1/streams HTTP/1.1\r\nHost: slow\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let opened = Instant::now();
    // Each socket, when it connected, and how long after that the node closed it.
    let mut sockets: Vec<(TcpStream, Instant, Option<Duration>)> = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let s = TcpStream::connect(node.http).expect("connect");
        s.set_nonblocking(true).expect("nonblocking");
        sockets.push((s, Instant::now(), None));
    }
    // A publish during the attack.
    let mut publisher = publish(&node.rtmp_url(key, Some(&token)), &[], &[], &dir.join("during.ffmpeg.log"));
    let mut sent = 0;
    while sockets.iter().any(|(_, _, c)| c.is_none()) && opened.elapsed() < HEADER_TIMEOUT * 3 {
        for (s, connected, closed) in sockets.iter_mut().filter(|(_, _, c)| c.is_none()) {
            let mut buf = [0u8; 256];
            let gone = match s.read(&mut buf) {
                Ok(_) => true, // the end, or a 503 for those over a cap: then it closes
                Err(e) if e.kind() == ErrorKind::WouldBlock => s.write(&head[sent % head.len()..][..1]).is_err(),
                Err(_) => true,
            };
            if gone {
                *closed = Some(connected.elapsed());
            }
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    let still_open = sockets.iter().filter(|(_, _, c)| c.is_none()).count();
    let longest = sockets.iter().filter_map(|(_, _, c)| *c).max().unwrap_or_default();
    eprintln!(
        "slowloris: {CONNECTIONS} connections, {still_open} still open after {:?}; the longest lived {longest:?}",
        opened.elapsed()
    );
    assert_eq!(still_open, 0, "connections trickling their head are closed");
    assert!(longest <= HEADER_TIMEOUT + Duration::from_secs(5), "one lived {longest:?}");
    assert!(refused(&node, "http_header_timeout") > 0.0);
    let status = publisher.wait_timeout(Duration::from_secs(60)).expect("the publish during the attack ends");
    assert!(status.success(), "the publish during the attack: {status}\n{}", publisher.log());
    assert_plays_like_the_clip(&node, key);
    assert!(!node.log().contains("Too many open files"), "out of file descriptors:\n{}", node.log());
    assert_still_serves(&node, "after", &dir);
}

/// HTTP/2 frames, written by hand: what an attacker sends.
mod h2 {
    pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    /// A frame: type, flags, stream, payload.
    pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// SETTINGS with `(id, value)` pairs.
    pub fn settings(values: &[(u16, u32)]) -> Vec<u8> {
        let payload: Vec<u8> =
            values.iter().flat_map(|(id, v)| [&id.to_be_bytes()[..], &v.to_be_bytes()[..]].concat()).collect();
        frame(0x4, 0, 0, &payload)
    }

    /// WINDOW_UPDATE of `increment` on `stream` (0: the connection).
    pub fn window_update(stream: u32, increment: u32) -> Vec<u8> {
        frame(0x8, 0, stream, &increment.to_be_bytes())
    }

    /// HEADERS (END_STREAM | END_HEADERS) of `GET path`, HPACK without indexing or Huffman.
    pub fn get(stream: u32, authority: &str, path: &str) -> Vec<u8> {
        let mut block = vec![0x82, 0x86]; // :method GET, :scheme http (static table)
        for (index, value) in [(4u8, path), (1u8, authority)] {
            assert!(value.len() < 127);
            block.push(index); // literal without indexing, indexed name
            block.push(value.len() as u8);
            block.extend_from_slice(value.as_bytes());
        }
        frame(0x1, 0x5, stream, &block)
    }

    /// RST_STREAM with CANCEL.
    pub fn reset(stream: u32) -> Vec<u8> {
        frame(0x3, 0, stream, &8u32.to_be_bytes())
    }
}

/// Reads an HTTP/2 connection until the node closes it (or `within` runs out), answering its
/// pings as a live client does; returns the streams it reset, whether it closed, and when.
fn answer_pings_until_closed(mut s: TcpStream, within: Duration) -> (usize, bool, Duration) {
    let started = Instant::now();
    let (mut buf, mut resets) = (Vec::new(), 0);
    let mut chunk = [0u8; 16 << 10];
    loop {
        let left = within.saturating_sub(started.elapsed());
        if left.is_zero() {
            return (resets, false, started.elapsed());
        }
        s.set_read_timeout(Some(left.min(Duration::from_secs(1)))).unwrap();
        match s.read(&mut chunk) {
            Ok(0) => return (resets, true, started.elapsed()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return (resets, true, started.elapsed()),
        }
        while buf.len() >= 9 {
            let len = (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            let (kind, flags) = (buf[3], buf[4]);
            if kind == 0x6 && flags & 1 == 0 {
                let _ = s.write_all(&h2::frame(0x6, 1, 0, &buf[9..9 + len]));
            }
            resets += usize::from(kind == 0x3);
            buf.drain(..9 + len);
        }
    }
}

#[test]
fn h2c_a_client_that_grants_no_flow_control_credit_is_let_go() {
    let dir = TempDir::new("door-h2-credit");
    let node = node_with_an_ended_stream(&dir, "src");
    let segment = a_segment(&node, "src");
    let authority = node.http.to_string();
    let idle = node.rss_kb().expect("RSS");
    // Each connection opens the stream limit of segment requests with a stream window of 0,
    // and answers pings: its socket never stalls, its streams never move.
    const CONNECTIONS: usize = 4;
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let mut s = TcpStream::connect(node.http).unwrap();
            let mut out = h2::PREFACE.to_vec();
            out.extend(h2::settings(&[(0x4, 0)])); // INITIAL_WINDOW_SIZE 0
            for i in 0..64u32 {
                out.extend(h2::get(1 + 2 * i, &authority, &segment));
            }
            s.write_all(&out).unwrap();
            std::thread::spawn(move || answer_pings_until_closed(s, Duration::from_secs(90)))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(25));
    let held = node.rss_kb().expect("RSS");
    eprintln!(
        "h2c without flow-control credit: RSS {idle} KiB idle, {held} KiB after 25 s with {CONNECTIONS} x 64 streams"
    );
    // At most two 64 KiB pieces of each stalled response are held (hyper's send buffer and the
    // hand-over), whatever the segment's size.
    assert!(held.saturating_sub(idle) < 64 << 10, "RSS grew by {} KiB", held.saturating_sub(idle));
    for client in clients {
        let (resets, closed, after) = client.join().unwrap();
        eprintln!("a client without credit: {resets} streams reset, closed: {closed} after {after:?}");
        assert!(closed, "a connection whose streams never move is closed once idle");
    }
    assert_still_serves(&node, "after", &dir);
}

/// A node on `dir` with the clip published under `key` and ended, played like the clip.
fn node_with_an_ended_stream(dir: &TempDir, key: &str) -> Node {
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token(key, 600, false);
    let log = dir.join(&format!("{key}.ffmpeg.log"));
    let (status, messages, _) = publish_and_wait(&node.rtmp_url(key, Some(&token)), &[], &log, Duration::from_secs(60));
    assert!(status.success(), "{messages}");
    assert_plays_like_the_clip(&node, key);
    node
}

/// An ended stream's largest segment path (a few hundred KB), to make responses worth holding.
fn a_segment(node: &Node, key: &str) -> String {
    let playlist = node.playlist(key).expect("playlist");
    let uri = &playlist.segments.last().expect("a segment").uri;
    format!("/live/{key}/{uri}")
}

#[test]
fn h2c_slow_readers_and_stream_floods_are_closed_and_bounded() {
    raise_own_file_limit();
    let dir = TempDir::new("door-h2");
    let node = node_with_an_ended_stream(&dir, "src");
    let segment = a_segment(&node, "src");
    let authority = node.http.to_string();
    let idle = node.rss_kb().expect("RSS");

    // Slow readers: each opens the stream limit of segment requests, grants the node all the
    // flow-control credit there is, and never reads a byte. Another only sends the preface.
    const READERS: usize = 4;
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let mut s = TcpStream::connect(node.http).unwrap();
        let mut out = h2::PREFACE.to_vec();
        out.extend(h2::settings(&[(0x4, (1 << 31) - 1)])); // INITIAL_WINDOW_SIZE
        out.extend(h2::window_update(0, (1 << 31) - 1 - 65_535));
        for i in 0..64u32 {
            out.extend(h2::get(1 + 2 * i, &authority, &segment));
        }
        s.write_all(&out).unwrap();
        readers.push(s);
    }
    let mut silent = TcpStream::connect(node.http).unwrap();
    silent.write_all(&h2::PREFACE[..10]).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let held = node.rss_kb().expect("RSS");
    eprintln!("h2c slow readers: RSS {idle} KiB idle, {held} KiB with {READERS} stalled connections");
    assert!(held.saturating_sub(idle) < 128 << 10, "RSS grew by {} KiB", held - idle);
    // The node still answers others meanwhile.
    assert_eq!(node.get("/health").status, 200);
    assert!(closed_within(&mut silent, HEADER_TIMEOUT + Duration::from_secs(3)), "a connection sending half a preface");
    // Closed once the write deadline or the unanswered pings give up on them.
    for (i, s) in readers.iter_mut().enumerate() {
        assert!(closed_within(s, Duration::from_secs(45)), "slow reader {i} is still open");
    }
    assert!(refused(&node, "http_write_timeout") + refused(&node, "http_header_timeout") > 0.0);

    // A flood of streams: far past the stream limit, and opened and reset at once (the "rapid
    // reset"). The node refuses the excess and closes the connection; it stays up.
    for rapid_reset in [false, true] {
        let mut s = TcpStream::connect(node.http).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut out = h2::PREFACE.to_vec();
        out.extend(h2::settings(&[]));
        let mut write_failed = false;
        for batch in 0..50u32 {
            for i in 0..200u32 {
                let id = 1 + 2 * (batch * 200 + i);
                out.extend(h2::get(id, &authority, "/health"));
                if rapid_reset {
                    out.extend(h2::reset(id));
                }
            }
            if s.write_all(&out).is_err() {
                write_failed = true;
                break;
            }
            out.clear();
        }
        // Closed by the node: at once (too many resets), or at the latest when its unanswered
        // pings give up.
        let closed = write_failed || closed_within(&mut s, Duration::from_secs(45));
        assert!(closed, "a flood of 10,000 streams (rapid reset: {rapid_reset}) leaves the connection open");
    }
    let after = node.rss_kb().expect("RSS");
    eprintln!("h2c floods: RSS {after} KiB after");
    assert_still_serves(&node, "after", &dir);
}

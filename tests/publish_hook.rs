//! The publish authorization hook (`--publish-auth-url`), against a hook on 127.0.0.1 that
//! answers as it is told: a 2xx lets ffmpeg publish, and the hook is told the key, the client
//! address and the query string; any other answer refuses with its body as the reason ffmpeg
//! prints; a hook that is down refuses (or allows with `--publish-auth-fallback allow`); a hook
//! slower than `--publish-auth-timeout` refuses within the deadline. Each refusal is counted
//! under its `rapidrtmp_publish_attempts_total` result and writes nothing.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rapidrtmp_load::client::{Client, Config, Error as ClientError};
use serde_json::Value;
use support::media::{assert_publish_refused, publish_and_wait};
use support::node::{Node, NodeOptions};
use support::proc::TempDir;

/// How long the node may take to answer the handshake, `connect` and `publish`.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// The most a request to the hook may be (head and body).
const MAX_HOOK_REQUEST: usize = 64 << 10;

/// A publish authorization hook on 127.0.0.1: answers every request with `status` and `body`
/// after `delay`, and keeps the JSON body of each request.
struct Hook {
    url: String,
    asked: Arc<Mutex<Vec<Value>>>,
}

impl Hook {
    fn start(status: u16, body: &'static str, delay: Duration) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the hook");
        let url = format!("http://{}/auth/publish", listener.local_addr().expect("address"));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let kept = asked.clone();
        std::thread::spawn(move || {
            for socket in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || answer(socket, status, body, delay, &kept));
            }
        });
        Hook { url, asked }
    }

    fn asked(&self) -> Vec<Value> {
        self.asked.lock().expect("not poisoned").clone()
    }
}

/// Reads one request (head, then `Content-Length` bytes), keeps its JSON body, answers.
fn answer(mut socket: TcpStream, status: u16, body: &str, delay: Duration, kept: &Mutex<Vec<Value>>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let body_start = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match socket.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        assert!(request.len() < MAX_HOOK_REQUEST, "the hook's request has no end");
    };
    let head = String::from_utf8_lossy(&request[..body_start]).to_ascii_lowercase();
    assert!(head.starts_with("post /auth/publish http/1.1\r\n"), "{head}");
    assert!(head.contains("content-type: application/json\r\n"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("a content-length");
    while request.len() < body_start + length {
        match socket.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let json: Value = serde_json::from_slice(&request[body_start..]).expect("the hook is sent JSON");
    kept.lock().expect("not poisoned").push(json);
    std::thread::sleep(delay);
    let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    let _ = socket.write_all(reply.as_bytes());
}

fn node_with(dir: &TempDir, hook: &str, more: &[(&str, &str)]) -> Node {
    let mut opts = NodeOptions::standard();
    opts.set("--publish-auth-url", hook);
    for (flag, value) in more {
        opts.set(flag, value);
    }
    Node::start(&dir.join("data"), &opts)
}

fn client(node: &Node) -> Client {
    let config = Config::new("live", format!("rtmp://{}/live", node.rtmp));
    let mut c = Client::open(node.rtmp, config, ANSWER_WITHIN).expect("handshake");
    c.connect(ANSWER_WITHIN).expect("connect");
    c
}

/// Publishes two seconds of the clip to `url`; panics unless ffmpeg succeeds.
fn assert_publishes(what: &str, url: &str, dir: &TempDir) {
    let (status, log, _) = publish_and_wait(url, &["-t", "2"], &dir.join("publish.log"), Duration::from_secs(60));
    assert!(status.success(), "{what}: ffmpeg could not publish to {url}:\n{log}");
}

#[test]
fn a_hook_answering_2xx_lets_the_publish_in_and_is_told_the_key_the_address_and_the_query() {
    let dir = TempDir::new("hook-allow");
    let hook = Hook::start(204, "", Duration::ZERO);
    let node = node_with(&dir, &hook.url, &[]);
    let token = node.token("cam", 600, false);
    let url = format!("{}&user=ann", node.rtmp_url("cam", Some(&token)));
    assert_publishes("a hook that allows", &url, &dir);
    node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(20), |p| p.ended);
    let asked = hook.asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0]["streamKey"], "cam");
    assert_eq!(asked[0]["query"], format!("token={token}&user=ann"), "the query string, token included");
    let addr = asked[0]["clientAddr"].as_str().expect("clientAddr");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_eq!(node.publish_attempts("accepted"), 1.0, "{}", node.metrics().text);

    // The token is still checked first: a bad one never reaches the hook.
    assert_publish_refused("a bad token", &node.rtmp_url("cam", Some("nope")), &dir.join("bad.log"));
    assert_eq!(hook.asked().len(), 1, "the hook was asked about a refused token");
    assert_eq!(node.publish_attempts("unauthorized"), 1.0, "{}", node.metrics().text);
}

#[test]
fn with_only_hook_a_publish_with_no_token_is_let_in_by_the_hook() {
    let dir = TempDir::new("hook-only");
    let hook = Hook::start(200, "ok", Duration::ZERO);
    let node = node_with(&dir, &hook.url, &[("--publish-auth", "only-hook")]);
    let url = format!("rtmp://{}/live/cam?user=ann", node.rtmp);
    assert_publishes("only the hook", &url, &dir);
    assert_eq!(hook.asked()[0]["query"], "user=ann");
    node.wait_playlist("cam", "#EXT-X-ENDLIST", Duration::from_secs(20), |p| p.ended);
}

#[test]
fn a_hook_refusing_gives_the_encoder_its_reason_sanitized() {
    let dir = TempDir::new("hook-deny");
    let hook = Hook::start(403, "user ann is banned\r\nuntil tomorrow", Duration::ZERO);
    let node = node_with(&dir, &hook.url, &[]);
    let url = node.rtmp_url("cam", Some(&node.token("cam", 600, false)));
    let log = dir.join("refused.log");
    assert_publish_refused("a hook that refuses", &url, &log);
    let messages = std::fs::read_to_string(&log).expect("ffmpeg's log");
    assert!(messages.contains("user ann is banned  until tomorrow"), "ffmpeg shows the hook's reason:\n{messages}");

    let mut c = client(&node);
    let token = node.token("cam", 600, false);
    match c.publish(&format!("cam?token={token}"), ANSWER_WITHIN) {
        Err(ClientError::Refused { command: "publish", status }) => {
            assert_eq!(status.code, "NetStream.Publish.Unauthorized");
            assert_eq!(status.description, "user ann is banned  until tomorrow");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(node.publish_attempts("hook_denied"), 2.0, "{}", node.metrics().text);
    assert_eq!(node.publish_attempts("accepted"), 0.0);
    assert!(!dir.join("data/live/cam").exists(), "a refused publish wrote to the store");
}

#[test]
fn a_hook_that_is_down_refuses_unless_the_fallback_allows() {
    let dir = TempDir::new("hook-down");
    let down = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/auth", listener.local_addr().expect("address"))
    };
    let node = node_with(&dir, &down, &[]);
    let token = node.token("cam", 600, false);
    let mut c = client(&node);
    match c.publish(&format!("cam?token={token}"), ANSWER_WITHIN) {
        Err(ClientError::Refused { command: "publish", status }) => {
            assert_eq!(status.code, "NetStream.Publish.BadName");
            assert_eq!(status.description, "publish authorization is unavailable, try again");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(node.publish_attempts("hook_unavailable"), 1.0, "{}", node.metrics().text);
    drop(node);

    let dir = TempDir::new("hook-down-allow");
    let node = node_with(&dir, &down, &[("--publish-auth-fallback", "allow")]);
    let url = node.rtmp_url("cam", Some(&node.token("cam", 600, false)));
    assert_publishes("a hook that is down, with the fallback allow", &url, &dir);
    assert_eq!(node.publish_attempts("accepted"), 1.0, "{}", node.metrics().text);
}

#[test]
fn a_hook_slower_than_its_deadline_refuses_within_the_deadline() {
    let dir = TempDir::new("hook-slow");
    let hook = Hook::start(200, "ok", Duration::from_secs(8));
    let node = node_with(&dir, &hook.url, &[("--publish-auth-timeout", "1")]);
    let token = node.token("cam", 600, false);
    let mut c = client(&node);
    let started = Instant::now();
    let refusal = c.publish(&format!("cam?token={token}"), ANSWER_WITHIN);
    let took = started.elapsed();
    match refusal {
        Err(ClientError::Refused { command: "publish", status }) => {
            assert_eq!(status.description, "publish authorization is unavailable, try again");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(took >= Duration::from_secs(1) && took < Duration::from_millis(2500), "refused after {took:?}");
    assert_eq!(hook.asked().len(), 1);
    assert_eq!(node.publish_attempts("hook_unavailable"), 1.0, "{}", node.metrics().text);
}

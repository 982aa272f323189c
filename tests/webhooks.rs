//! Webhooks, end to end: ffmpeg publishes, the node tells a receiver on 127.0.0.1
//! (tests/webhooks/receiver.py) that verifies every delivery with the `standardwebhooks`
//! package from PyPI and deduplicates by id. Every event arrives once, signed, in sequence order
//! per stream; a receiver that was down gets everything once it is up; a node killed with
//! deliveries pending delivers them after its restart, none twice, and so does another node on
//! the same bucket (s3s-fs); a receiver answering 410 is disabled.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::media::{assert_publish_refused, publish_and_wait};
use support::node::{Node, NodeOptions};
use support::proc::{free_ports, Background, TempDir};
use support::s3s::S3sFs;

/// The receiver's script.
const RECEIVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/webhooks/receiver.py");
/// A Standard Webhooks secret (`whsec_` and base64 of 32 bytes).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=";
/// The events one publish of a stream makes, in order.
const ONE_PUBLISH: [&str; 4] = ["stream.started", "session.started", "stream.ended", "recording.ready"];

/// The receiver: its process (while up), port and files.
struct Receiver {
    process: Option<Background>,
    port: u16,
    dir: PathBuf,
    secret: String,
}

impl Receiver {
    fn new(dir: &Path, secret: &str) -> Receiver {
        let port = free_ports(1)[0];
        std::fs::create_dir_all(dir).expect("receiver dir");
        Receiver { process: None, port, dir: dir.to_path_buf(), secret: secret.into() }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn start(&mut self) {
        std::fs::write(self.file("secret"), &self.secret).expect("secret file");
        let mut cmd = Command::new("python3");
        cmd.arg(RECEIVER).arg("--port").arg(self.port.to_string());
        cmd.arg("--secret-file").arg(self.file("secret"));
        cmd.arg("--log").arg(self.file("events.jsonl")).arg("--answer").arg(self.file("answer"));
        let process = Background::spawn("webhook receiver", &mut cmd, self.file("receiver.log"));
        let up = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(up.elapsed() < Duration::from_secs(10), "the receiver did not start:\n{}", process.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        self.process = Some(process);
    }

    fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    fn lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.file(name)).unwrap_or_default().lines().map(String::from).collect()
    }

    /// The events received, each id once, in arrival order.
    fn events(&self) -> Vec<Value> {
        self.lines("events.jsonl").iter().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
    }

    /// Waits until `n` events arrived.
    fn wait_events(&self, n: usize, within: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let events = self.events();
            if events.len() >= n {
                return events;
            }
            assert!(start.elapsed() < within, "{} of {n} events after {within:?}: {events:#?}", events.len());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A node telling `receiver`, retrying after 0.2 s at first.
fn options(receiver: &Receiver) -> NodeOptions {
    let mut opts = NodeOptions::standard();
    opts.set("--webhook-url", &receiver.url());
    opts.set("--webhook-secret", SECRET);
    opts.set("--webhook-retry-min", "0.2");
    opts
}

fn publish(node: &Node, key: &str, dir: &TempDir) {
    let url = node.rtmp_url(key, Some(&node.token(key, 600, false)));
    let (status, log, _) =
        publish_and_wait(&url, &["-t", "2"], &dir.join(&format!("{key}.log")), Duration::from_secs(60));
    assert!(status.success(), "ffmpeg could not publish {key}:\n{log}");
}

/// Checks that every event names `node`'s stream, that ids are unique, that each stream's
/// sequence numbers rise in arrival order, and that no delivery failed verification.
fn assert_once_and_in_order(receiver: &Receiver, events: &[Value]) {
    assert!(receiver.lines("events.jsonl.bad").is_empty(), "{:?}", receiver.lines("events.jsonl.bad"));
    let mut ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().expect("id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "an id arrived twice: {events:#?}");
    let mut last = std::collections::HashMap::new();
    for e in events {
        let stream = e["stream"].as_str().expect("stream");
        let sequence = e["sequence"].as_u64().expect("sequence");
        assert!(e["node"].as_str().is_some_and(|n| !n.is_empty()), "{e}");
        assert!(e["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
        if let Some(before) = last.insert(stream.to_string(), sequence) {
            assert!(sequence > before, "{stream}: {sequence} after {before}: {events:#?}");
        }
    }
}

fn kinds<'a>(events: &'a [Value], stream: &str) -> Vec<&'a str> {
    events.iter().filter(|e| e["stream"] == stream).map(|e| e["type"].as_str().expect("type")).collect()
}

#[test]
fn every_event_arrives_once_signed_and_in_order_per_stream() {
    let dir = TempDir::new("webhooks-order");
    let mut receiver = Receiver::new(&dir.join("receiver"), SECRET);
    receiver.start();
    let node = Node::start(&dir.join("data"), &options(&receiver));
    publish(&node, "cam", &dir);
    assert_publish_refused("a bad token", &node.rtmp_url("cam2", Some("nope")), &dir.join("refused.log"));
    let events = receiver.wait_events(5, Duration::from_secs(30));
    assert_once_and_in_order(&receiver, &events);
    assert_eq!(kinds(&events, "cam"), ONE_PUBLISH, "{events:#?}");
    let refused = events.iter().find(|e| e["stream"] == "cam2").expect("publish.refused");
    assert_eq!(refused["type"], "publish.refused");
    assert_eq!(refused["data"]["result"], "unauthorized");
    assert!(refused["data"]["reason"].as_str().is_some_and(|r| !r.is_empty()), "{refused}");
    // The recording's VOD URL plays the session, ended.
    let ready = events.iter().find(|e| e["type"] == "recording.ready").expect("recording.ready");
    let session = events.iter().find(|e| e["type"] == "session.started").expect("session.started");
    assert_eq!(ready["data"]["session"], session["data"]["session"]);
    let vod = node.get(ready["data"]["vodUrl"].as_str().expect("vodUrl"));
    assert_eq!(vod.status, 200, "{}", vod.text());
    assert!(vod.text().contains("#EXT-X-ENDLIST"), "{}", vod.text());
    assert!(receiver.lines("events.jsonl.duplicates").is_empty());
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = node.metrics();
    for event in ["stream.started", "publish.refused", "recording.ready"] {
        let labels = [("event", event), ("result", "delivered")];
        assert_eq!(metrics.get("rapidrtmp_webhook_deliveries_total", &labels), 1.0, "{event}: {}", metrics.text);
    }
    assert_eq!(metrics.get("rapidrtmp_webhooks_pending", &[]), 0.0, "{}", metrics.text);
}

#[test]
fn a_receiver_down_for_a_while_gets_every_event_once_it_is_up() {
    let dir = TempDir::new("webhooks-down");
    let mut receiver = Receiver::new(&dir.join("receiver"), SECRET);
    receiver.start();
    let node = Node::start(&dir.join("data"), &options(&receiver));
    publish(&node, "cam", &dir);
    receiver.wait_events(4, Duration::from_secs(30));
    receiver.stop();
    publish(&node, "cam", &dir);
    // Down: every attempt fails, and the deliveries stay pending.
    std::thread::sleep(Duration::from_secs(3));
    let metrics = node.metrics();
    assert_eq!(metrics.get("rapidrtmp_webhooks_pending", &[]), 4.0, "{}", metrics.text);
    let failed = [("event", "stream.started"), ("result", "failed")];
    assert!(metrics.get("rapidrtmp_webhook_deliveries_total", &failed) >= 2.0, "retried: {}", metrics.text);
    assert!(metrics.get("rapidrtmp_webhook_oldest_pending_seconds", &[]) >= 2.0, "{}", metrics.text);
    receiver.start();
    let events = receiver.wait_events(8, Duration::from_secs(30));
    assert_once_and_in_order(&receiver, &events);
    assert_eq!(kinds(&events, "cam"), [ONE_PUBLISH, ONE_PUBLISH].concat());
}

#[test]
fn a_node_killed_with_deliveries_pending_delivers_them_after_its_restart_none_twice() {
    let dir = TempDir::new("webhooks-kill");
    let mut receiver = Receiver::new(&dir.join("receiver"), SECRET);
    let opts = options(&receiver);
    let mut node = Node::start(&dir.join("data"), &opts);
    publish(&node, "cam", &dir);
    let start = Instant::now();
    while node.metrics().get("rapidrtmp_webhooks_pending", &[]) != 4.0 {
        assert!(start.elapsed() < Duration::from_secs(20), "{}", node.metrics().text);
        std::thread::sleep(Duration::from_millis(100));
    }
    node.kill();
    let pending = std::fs::read_dir(dir.join("data/webhooks/pending"))
        .expect("pending folder")
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json")))
        .filter(|e| e.as_ref().is_ok_and(|e| !e.file_name().to_string_lossy().starts_with('.')))
        .count();
    assert_eq!(pending, 4, "the deliveries are in the store");
    receiver.start();
    let node = Node::start(&dir.join("data"), &opts);
    // A claim the killed node held runs out after 30 s (CLAIM_LEASE).
    let events = receiver.wait_events(4, Duration::from_secs(45));
    assert_once_and_in_order(&receiver, &events);
    assert_eq!(kinds(&events, "cam"), ONE_PUBLISH);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.events().len(), 4, "nothing more arrived");
    assert_eq!(node.metrics().get("rapidrtmp_webhooks_pending", &[]), 0.0);
}

#[test]
fn an_endpoint_added_through_the_api_whose_receiver_answers_410_is_disabled() {
    let dir = TempDir::new("webhooks-gone");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    assert_eq!(node.request("GET", "/api/v1/webhooks", None, None).status, 401, "the admin key is needed");
    let doc = node.api("GET", "/api/v1/openapi.json", None).json();
    for path in ["/api/v1/webhooks", "/api/v1/webhooks/{id}"] {
        assert!(doc["paths"][path].is_object(), "openapi.json lacks {path}");
    }
    let r = node.api("POST", "/api/v1/webhooks", Some(&json!({ "url": "ftp://x/" })));
    assert_eq!(r.status, 400, "{}", r.text());
    let mut receiver = Receiver::new(&dir.join("receiver"), "");
    let r = node.api("POST", "/api/v1/webhooks", Some(&json!({ "url": receiver.url() })));
    assert_eq!(r.status, 201, "{}", r.text());
    let added: Value = serde_json::from_slice(&r.body).expect("JSON");
    let id = added["id"].as_str().expect("id").to_string();
    receiver.secret = added["secret"].as_str().expect("the secret, once").to_string();
    std::fs::write(receiver.file("answer"), "410").expect("answer file");
    receiver.start();
    let listed = node.api("GET", "/api/v1/webhooks", None);
    assert!(!listed.text().contains("whsec_"), "the list shows no secret: {}", listed.text());

    publish(&node, "cam", &dir);
    let start = Instant::now();
    let disabled = loop {
        let list: Value = serde_json::from_slice(&node.api("GET", "/api/v1/webhooks", None).body).expect("JSON");
        let endpoint = list["webhooks"].as_array().expect("list").iter().find(|w| w["id"] == id).cloned();
        let endpoint = endpoint.expect("still listed");
        if !endpoint["disabled"].is_null() {
            break endpoint;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "not disabled: {endpoint}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(disabled["disabled"].as_str().expect("why").contains("410"), "{disabled}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.lines("events.jsonl.requests").len(), 1, "one request, answered 410, then none");
    let metrics = node.metrics();
    assert_eq!(metrics.get("rapidrtmp_webhooks_pending", &[]), 0.0, "the rest were dropped:\n{}", metrics.text);
    let disabled = [("event", "stream.started"), ("result", "disabled")];
    assert_eq!(metrics.get("rapidrtmp_webhook_deliveries_total", &disabled), 1.0, "{}", metrics.text);
    assert!(receiver.events().is_empty());

    assert_eq!(node.api("DELETE", &format!("/api/v1/webhooks/{id}"), None).status, 204);
    assert_eq!(node.api("DELETE", &format!("/api/v1/webhooks/{id}"), None).status, 404);
}

/// Deliveries (all events) a node made with `result`.
fn deliveries(node: &Node, result: &str) -> f64 {
    let metrics = node.metrics();
    ONE_PUBLISH
        .iter()
        .map(|e| metrics.get("rapidrtmp_webhook_deliveries_total", &[("event", e), ("result", result)]))
        .sum()
}

#[test]
fn two_nodes_on_one_bucket_send_each_delivery_once_and_one_delivers_what_the_other_left() {
    let dir = TempDir::new("webhooks-two-nodes");
    let s3 = S3sFs::start(&dir.join("s3"), &["media"]);
    let (args, env) = s3.node_store("media", "pfx");
    let mut opts = NodeOptions::standard();
    opts.args.extend(args);
    opts.set("--webhook-retry-min", "0.2");
    opts.env = env;
    let mut a = Node::start(&dir.join("a"), &opts);
    let b = Node::start(&dir.join("b"), &opts);
    let mut receiver = Receiver::new(&dir.join("receiver"), "");
    let r = a.api("POST", "/api/v1/webhooks", Some(&json!({ "url": receiver.url() })));
    assert_eq!(r.status, 201, "{}", r.text());
    receiver.secret = r.json()["secret"].as_str().expect("secret").to_string();
    let listed = b.api("GET", "/api/v1/webhooks", None).json();
    assert_eq!(listed["webhooks"].as_array().map(Vec::len), Some(1), "B shares the endpoint: {listed}");

    // Both nodes list and claim the same deliveries: each is sent once.
    receiver.start();
    publish(&a, "one", &dir);
    let events = receiver.wait_events(4, Duration::from_secs(30));
    assert_eq!(kinds(&events, "one"), ONE_PUBLISH);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.lines("events.jsonl.requests").len(), 4, "one request per event, from either node");

    // A dies with deliveries pending; B delivers them.
    receiver.stop();
    publish(&a, "two", &dir);
    let start = Instant::now();
    while b.metrics().get("rapidrtmp_webhooks_pending", &[]) != 4.0 {
        assert!(start.elapsed() < Duration::from_secs(20), "B sees A's pending: {}", b.metrics().text);
        std::thread::sleep(Duration::from_millis(100));
    }
    a.kill();
    let delivered_by_b = deliveries(&b, "delivered");
    receiver.start();
    let events = receiver.wait_events(8, Duration::from_secs(45));
    assert_once_and_in_order(&receiver, &events);
    assert_eq!(kinds(&events, "two"), ONE_PUBLISH);
    assert!(events.iter().all(|e| e["node"] == events[0]["node"]), "every event was A's");
    assert_eq!(deliveries(&b, "delivered") - delivered_by_b, 4.0, "B delivered A's four: {}", b.metrics().text);
    assert!(receiver.lines("events.jsonl.duplicates").is_empty());
}

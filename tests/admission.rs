//! Publish admission's refusals that no other test reaches, through a real RTMP client (the
//! project's own, `rapidrtmp-load`, so the status object's code and description can be read):
//! each refusal is answered with its `NetStream.Publish.*` code and its text, counted under its
//! `rapidrtmp_publish_attempts_total` result, and writes nothing.

mod support;

use std::time::Duration;

use rapidrtmp_load::client::{Client, Config, Error as ClientError, Status};
use support::node::{Node, NodeOptions};
use support::proc::TempDir;

/// How long the node may take to answer the handshake, `connect` and `publish`.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

fn client(node: &Node) -> Client {
    let config = Config::new("live", format!("rtmp://{}/live", node.rtmp));
    let mut c = Client::open(node.rtmp, config, ANSWER_WITHIN).expect("handshake");
    c.connect(ANSWER_WITHIN).expect("connect");
    c
}

/// The status a refused `publish` of `name` is answered with.
fn refused(c: &mut Client, name: &str) -> Status {
    match c.publish(name, ANSWER_WITHIN) {
        Err(ClientError::Refused { command: "publish", status }) => status,
        other => panic!("publish {name}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_stream_key_that_is_not_a_name_is_refused_as_a_bad_name() {
    let dir = TempDir::new("admission-bad-name");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    for key in ["bad.key", &"k".repeat(65)] {
        let status = refused(&mut client(&node), &format!("{key}?token=whatever"));
        assert_eq!(status.code, "NetStream.Publish.BadName", "{key}");
        assert_eq!(status.description, "stream keys are 1-64 of [A-Za-z0-9_-]", "{key}");
    }
    assert_eq!(node.publish_attempts("bad_name"), 2.0, "{}", node.metrics().text);
    assert_eq!(node.publish_attempts("unauthorized"), 0.0, "the key is refused before the token is read");
    assert!(!dir.join("data/live").exists(), "a refused publish wrote to the store");
}

#[test]
fn a_draining_node_refuses_a_publish_with_a_valid_token() {
    let dir = TempDir::new("admission-draining");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let token = node.token("cam", 600, false);
    let r = node.api("POST", "/api/v1/drain", None);
    assert!(r.status < 300, "drain: {} {}", r.status, r.text());
    let status = refused(&mut client(&node), &format!("cam?token={token}"));
    assert_eq!(status.code, "NetStream.Publish.BadName");
    assert_eq!(status.description, "this node is draining; publish to another node");
    assert_eq!(node.publish_attempts("draining"), 1.0, "{}", node.metrics().text);
    assert_eq!(node.publish_attempts("accepted"), 0.0);
    assert!(!dir.join("data/live/cam").exists(), "a refused publish wrote to the store");
}

#[test]
fn a_connection_already_publishing_is_refused_a_second_publish() {
    let dir = TempDir::new("admission-twice");
    let node = Node::start(&dir.join("data"), &NodeOptions::standard());
    let (cam, other) = (node.token("cam", 600, false), node.token("other", 600, false));
    let mut c = client(&node);
    c.publish(&format!("cam?token={cam}"), ANSWER_WITHIN).expect("the first publish starts");
    let status = refused(&mut c, &format!("other?token={other}"));
    assert_eq!(status.code, "NetStream.Publish.BadName");
    assert_eq!(status.description, "this connection is already publishing");
    assert_eq!(node.publish_attempts("bad_name"), 1.0, "{}", node.metrics().text);
    assert_eq!(node.publish_attempts("accepted"), 1.0, "{}", node.metrics().text);
    assert!(!dir.join("data/live/other").exists(), "the refused publish wrote to the store");
}

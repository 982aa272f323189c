use alloc::vec::Vec;

use super::*;
use crate::handshake::HANDSHAKE_LEN;
use crate::message::user_control;
use crate::session::{Config, Event, ServerSession, StreamRequest};

fn config(fourccs: &[&str]) -> ClientConfig {
    ClientConfig {
        app: "live2".into(),
        tc_url: "rtmp://127.0.0.1/live2".into(),
        stream_name: "secret-key".into(),
        flash_ver: "FMLE/3.0 (compatible; RapidRTMP)".into(),
        fourccs: fourccs.iter().map(|s| s.to_string()).collect(),
        chunk_size: 4096,
        window_ack_size: 2_500_000,
    }
}

/// How the in-memory server answers a publish.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    Accept,
    RejectConnect,
    RejectPublish,
}

/// A client and the crate's own server, wired back to back in memory.
struct Pair {
    client: ClientSession,
    server: ServerSession,
    to_server: BytesMut,
    to_client: BytesMut,
    answer: Answer,
    /// What the server handed its caller.
    server_events: Vec<Event>,
    client_events: Vec<ClientEvent>,
}

impl Pair {
    fn new(client: ClientConfig, server: Config, answer: Answer) -> Self {
        Self {
            client: ClientSession::new(client, [1; 32]),
            server: ServerSession::new(server, [2; 32]),
            to_server: BytesMut::new(),
            to_client: BytesMut::new(),
            answer,
            server_events: Vec::new(),
            client_events: Vec::new(),
        }
    }

    /// Moves bytes both ways until neither side has anything more to say.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            if let Some(b) = self.client.take_output() {
                self.to_server.extend_from_slice(&b);
                moved = true;
            }
            while let Some(e) = self.server.poll(&mut self.to_server).unwrap() {
                match &e {
                    Event::Connect(c) if self.answer == Answer::RejectConnect => {
                        let _ = c;
                        self.server.reject_connect("app live2 is not here");
                    }
                    Event::Connect(c) => self.server.accept_connect(&c.clone()),
                    Event::Publish(r) if self.answer == Answer::RejectPublish => {
                        self.server.reject_stream(&r.clone(), "NetStream.Publish.BadName", "secret-key is taken")
                    }
                    Event::Publish(r) => self.server.accept_publish(&r.clone()),
                    _ => {}
                }
                self.server_events.push(e);
            }
            if let Some(b) = self.server.take_output() {
                self.to_client.extend_from_slice(&b);
                moved = true;
            }
            while let Some(e) = self.client.poll(&mut self.to_client).unwrap() {
                self.client_events.push(e);
            }
            if !moved {
                return;
            }
        }
    }
}

fn meta() -> Vec<u8> {
    let mut m = Vec::new();
    Amf0Value::String("onMetaData".into()).write(&mut m);
    Amf0Value::Object(vec![("width".into(), Amf0Value::Number(640.0))]).write(&mut m);
    m
}

#[test]
fn a_client_publishes_tags_end_to_end_to_the_server_session() {
    let mut p = Pair::new(config(&[]), Config::default(), Answer::Accept);
    p.pump();
    assert_eq!(p.client_events, [ClientEvent::Connected(ConnectAnswer::default()), ClientEvent::Publishing]);
    assert!(p.client.is_live());
    let Some(Event::Connect(c)) = p.server_events.first() else { panic!("no connect") };
    assert_eq!((c.app.as_str(), c.tc_url.as_deref()), ("live2", Some("rtmp://127.0.0.1/live2")));
    assert!(!c.is_enhanced(), "no FourCCs offered: a legacy connect");
    let Some(Event::Publish(StreamRequest { name, mode, .. })) = p.server_events.last() else { panic!("no publish") };
    assert_eq!((name.as_str(), mode.as_str()), ("secret-key", "live"));
    p.server_events.clear();

    // A metadata tag, a tag longer than a chunk, and timestamps past the 3-byte field.
    let big: Vec<u8> = (0..10_000u32).map(|i| i.to_le_bytes()[0]).collect();
    let tags: [(TagKind, u32, Vec<u8>); 5] = [
        (TagKind::Script, 0, meta()),
        (TagKind::Video, 0, vec![0x17, 0, 0, 0, 0, 1, 2]),
        (TagKind::Audio, 0, vec![0xAF, 0, 0x12, 0x10]),
        (TagKind::Video, 40, big),
        (TagKind::Audio, 0x0100_0000, vec![0xAF, 1, 9]),
    ];
    for (kind, ts, body) in &tags {
        p.client.send(*kind, *ts, body).unwrap();
    }
    p.pump();
    let got: Vec<(TagKind, u32, Vec<u8>)> = p
        .server_events
        .iter()
        .map(|e| match e {
            Event::Media { kind, timestamp, payload } => (*kind, *timestamp, payload.to_vec()),
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(got, tags, "the server hands on every tag as it was sent (onMetaData without @setDataFrame)");
}

#[test]
fn the_connect_answer_says_whether_the_destination_takes_enhanced_codecs() {
    let enhanced = Config { video_fourccs: &["avc1", "hvc1"], audio_fourccs: &["mp4a", "Opus"], ..Config::default() };
    let mut p = Pair::new(config(&["hvc1", "av01", "Opus"]), enhanced, Answer::Accept);
    p.pump();
    let Some(Event::Connect(c)) = p.server_events.first() else { panic!("no connect") };
    assert_eq!(c.fourcc_list, ["hvc1", "av01", "Opus"]);
    let Some(ClientEvent::Connected(answer)) = p.client_events.first() else { panic!("not connected") };
    assert!(answer.is_enhanced());
    assert!(answer.takes("hvc1") && answer.takes("Opus") && answer.takes("avc1"));
    assert!(!answer.takes("av01"), "a FourCC the answer leaves out is not taken");

    // A legacy server (no FourCCs in its answer) takes no enhanced codec.
    let legacy = ConnectAnswer::default();
    assert!(!legacy.is_enhanced() && !legacy.takes("hvc1"));
    let any = ConnectAnswer { fourcc_list: vec!["*".into()], ..ConnectAnswer::default() };
    assert!(any.takes("av01"));
}

#[test]
fn refusals_come_as_an_event_with_the_destinations_words() {
    let mut p = Pair::new(config(&[]), Config::default(), Answer::RejectConnect);
    p.pump();
    assert_eq!(
        p.client_events,
        [ClientEvent::Refused {
            code: "NetConnection.Connect.Rejected".into(),
            description: "app live2 is not here".into()
        }]
    );
    assert!(p.client.send(TagKind::Video, 0, b"x").is_err(), "nothing is sent after a refusal");

    let mut p = Pair::new(config(&[]), Config::default(), Answer::RejectPublish);
    p.pump();
    assert_eq!(
        p.client_events.last(),
        Some(&ClientEvent::Refused {
            code: "NetStream.Publish.BadName".into(),
            description: "secret-key is taken".into()
        })
    );
    assert!(!p.client.is_live());
}

/// A client past the handshake and `connect`, with the server's side written by hand.
fn connected() -> (ClientSession, ChunkEncoder) {
    let mut client = ClientSession::new(config(&[]), [1; 32]);
    client.take_output();
    let mut input = BytesMut::new();
    input.extend_from_slice(&[3]);
    input.extend_from_slice(&[0; 2 * HANDSHAKE_LEN]);
    assert_eq!(client.poll(&mut input), Ok(None));
    let out = client.take_output().unwrap();
    assert_eq!(&out[..HANDSHAKE_LEN], &[0; HANDSHAKE_LEN][..], "a simple S1 is echoed in C2");
    (client, ChunkEncoder::default())
}

fn feed(
    client: &mut ClientSession,
    w: &ChunkEncoder,
    kind: MessageType,
    stream: u32,
    body: &[u8],
) -> Result<Vec<ClientEvent>, Error> {
    let mut input = BytesMut::new();
    w.write(&mut input, 3, kind, stream, 0, body);
    let mut events = Vec::new();
    while let Some(e) = client.poll(&mut input)? {
        events.push(e);
    }
    Ok(events)
}

/// The client's output, as messages.
fn sent(client: &mut ClientSession) -> Vec<Message> {
    let mut out = client.take_output().map(BytesMut::from).unwrap_or_default();
    let mut d = ChunkDecoder::new();
    let mut all = Vec::new();
    while let Some(m) = d.next_message(&mut out).unwrap() {
        if m.kind == MessageType::SetChunkSize {
            d.set_chunk_size(message::read_u32(&m.payload).unwrap()).unwrap();
        }
        all.push(m);
    }
    all
}

fn result(tx: f64, values: &[Amf0Value]) -> Vec<u8> {
    command::write("_result", tx, values)
}

#[test]
fn wrong_answers_are_errors_that_say_what_was_wrong() {
    // A server that is not RTMP.
    let mut client = ClientSession::new(config(&[]), [1; 32]);
    assert_eq!(client.poll(&mut BytesMut::from(&b"HTTP/1.0 400"[..])), Err(Error::Version(b'H')));

    // createStream answered with a stream id that is not one.
    for id in [-1.0, 1.5, f64::NAN, 1e12] {
        let (mut c, w) = connected();
        feed(&mut c, &w, MessageType::CommandAmf0, 0, &result(1.0, &[Amf0Value::Null, Amf0Value::Null])).unwrap();
        let err =
            feed(&mut c, &w, MessageType::CommandAmf0, 0, &result(4.0, &[Amf0Value::Null, Amf0Value::Number(id)]))
                .unwrap_err();
        assert!(matches!(&err, Error::Protocol(m) if m.contains("stream id")), "{err}");
    }
    let (mut c, w) = connected();
    feed(&mut c, &w, MessageType::CommandAmf0, 0, &result(1.0, &[Amf0Value::Null, Amf0Value::Null])).unwrap();
    let err = feed(&mut c, &w, MessageType::CommandAmf0, 0, &result(4.0, &[Amf0Value::Null])).unwrap_err();
    assert!(matches!(&err, Error::Protocol(m) if m.contains("no stream id")), "{err}");

    // Set Chunk Size 0, a malformed command, capability bits that are not a u32.
    let (mut c, w) = connected();
    assert!(matches!(feed(&mut c, &w, MessageType::SetChunkSize, 0, &[0; 4]), Err(Error::Protocol(_))));
    let (mut c, w) = connected();
    assert!(matches!(feed(&mut c, &w, MessageType::CommandAmf0, 0, &[0x02, 0xFF]), Err(Error::Protocol(_))));
    let (mut c, w) = connected();
    let caps = Amf0Value::Object(vec![("capsEx".into(), Amf0Value::Number(-3.0))]);
    assert!(matches!(feed(&mut c, &w, MessageType::CommandAmf0, 0, &result(1.0, &[caps])), Err(Error::Protocol(_))));

    // Media before the publish is accepted is the caller's error, not sent.
    let (mut c, _) = connected();
    assert!(c.send(TagKind::Video, 0, b"x").is_err());
}

#[test]
fn answers_out_of_turn_and_unknown_commands_change_nothing() {
    let (mut c, w) = connected();
    sent(&mut c);
    // A createStream answer before connect's, an onStatus Publish.Start before publish, a
    // repeated connect answer and unknown commands: all ignored.
    for body in [
        result(4.0, &[Amf0Value::Null, Amf0Value::Number(1.0)]),
        command::write(
            "onStatus",
            0.0,
            &[Amf0Value::Null, command::info("status", "NetStream.Publish.Start", "", vec![])],
        ),
        command::write("onBWDone", 0.0, &[Amf0Value::Null]),
        command::write("_error", 2.0, &[Amf0Value::Null, command::info("error", "x", "releaseStream unknown", vec![])]),
    ] {
        assert_eq!(feed(&mut c, &w, MessageType::CommandAmf0, 0, &body), Ok(vec![]));
    }
    assert!(sent(&mut c).is_empty() && !c.is_live());
    let events = feed(&mut c, &w, MessageType::CommandAmf0, 0, &result(1.0, &[Amf0Value::Null])).unwrap();
    assert_eq!(events, [ClientEvent::Connected(ConnectAnswer::default())]);
    let names: Vec<String> = sent(&mut c).iter().map(|m| Command::parse(&m.payload).unwrap().name).collect();
    assert_eq!(names, ["releaseStream", "FCPublish", "createStream"]);
    assert_eq!(feed(&mut c, &w, MessageType::CommandAmf0, 0, &result(1.0, &[Amf0Value::Null])), Ok(vec![]));
    assert!(sent(&mut c).is_empty(), "a second connect answer sends nothing");
}

#[test]
fn pings_acknowledgement_windows_and_chunk_sizes_of_the_destination_are_honoured() {
    let (mut c, w) = connected();
    sent(&mut c);
    feed(&mut c, &w, MessageType::UserControl, 0, &message::user_control_body(user_control::PING_REQUEST, 77)).unwrap();
    let r = sent(&mut c);
    assert_eq!((r[0].kind, &r[0].payload[..]), (MessageType::UserControl, &[0, 7, 0, 0, 0, 77][..]));

    feed(&mut c, &w, MessageType::WindowAckSize, 0, &message::u32_body(50)).unwrap();
    feed(&mut c, &w, MessageType::CommandAmf0, 0, &command::write("onBWDone", 0.0, &[const { Amf0Value::Null }; 12]))
        .unwrap();
    let r = sent(&mut c);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].kind, MessageType::Acknowledgement);
    assert!(message::read_u32(&r[0].payload).unwrap() >= 50);

    // A Set Chunk Size of 1: the rest comes one byte per chunk, and is read.
    feed(&mut c, &w, MessageType::SetChunkSize, 0, &message::u32_body(1)).unwrap();
    let mut one = ChunkEncoder::default();
    one.set_chunk_size(1);
    let mut input = BytesMut::new();
    one.write(&mut input, 3, MessageType::CommandAmf0, 0, 0, &result(1.0, &[Amf0Value::Null]));
    assert!(matches!(c.poll(&mut input), Ok(Some(ClientEvent::Connected(_)))));
}

#[test]
fn a_destination_that_asks_without_reading_the_answers_is_cut_off() {
    let (mut c, w) = connected();
    let mut input = BytesMut::new();
    for t in 0..200_000 {
        w.write(
            &mut input,
            2,
            MessageType::UserControl,
            0,
            0,
            &message::user_control_body(user_control::PING_REQUEST, t),
        );
    }
    let err = loop {
        match c.poll(&mut input) {
            Ok(None) => panic!("the flood was read to its end"),
            Ok(Some(_)) => {}
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::Limit { limit: Limit::OutputBytes, .. }), "{err}");
}

#[test]
fn long_refusal_texts_are_cut_to_the_limit() {
    let (mut c, w) = connected();
    let long = "é".repeat(MAX_STATUS_TEXT);
    let body = command::write("_error", 1.0, &[Amf0Value::Null, command::info("error", "X", &long, vec![])]);
    let events = feed(&mut c, &w, MessageType::CommandAmf0, 0, &body).unwrap();
    let [ClientEvent::Refused { description, .. }] = &events[..] else { panic!("{events:?}") };
    assert!(description.len() <= MAX_STATUS_TEXT && description.len() > MAX_STATUS_TEXT - 2);
}

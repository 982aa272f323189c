use alloc::vec::Vec;

use super::*;
use crate::handshake::HANDSHAKE_LEN;

/// The client side of a test: writes chunks, reads the server's replies.
struct Client {
    session: ServerSession,
    input: BytesMut,
    writer: ChunkEncoder,
    replies: ChunkDecoder,
    events: Vec<Event>,
}

impl Client {
    /// A session past the handshake.
    fn new() -> Self {
        let mut c = Self {
            session: ServerSession::new(Config::default(), [3; 32]),
            input: BytesMut::new(),
            writer: ChunkEncoder::default(),
            replies: ChunkDecoder::new(),
            events: Vec::new(),
        };
        c.input.extend_from_slice(&[3]);
        c.input.extend_from_slice(&[0; 2 * HANDSHAKE_LEN]);
        assert_eq!(c.session.poll(&mut c.input), Ok(None));
        let out = c.session.take_output().unwrap();
        assert_eq!(out.len(), 1 + 2 * HANDSHAKE_LEN);
        c
    }

    fn send(&mut self, cs: u32, kind: MessageType, stream: u32, ts: u32, body: &[u8]) -> Result<(), Error> {
        self.writer.write(&mut self.input, cs, kind, stream, ts, body);
        while let Some(e) = self.session.poll(&mut self.input)? {
            self.events.push(e);
        }
        Ok(())
    }

    fn command(&mut self, stream: u32, name: &str, tx: f64, values: &[Amf0Value]) -> Result<(), Error> {
        self.send(3, MessageType::CommandAmf0, stream, 0, &command::write(name, tx, values))
    }

    /// The server's replies so far, as messages.
    fn replies(&mut self) -> Vec<Message> {
        let mut out = self.session.take_output().map(BytesMut::from).unwrap_or_default();
        let mut all = Vec::new();
        while let Some(m) = self.replies.next_message(&mut out).unwrap() {
            if m.kind == MessageType::SetChunkSize {
                self.replies.set_chunk_size(message::read_u32(&m.payload).unwrap()).unwrap();
            }
            all.push(m);
        }
        all
    }

    fn connect(&mut self) {
        let app = Amf0Value::Object(vec![("app".into(), Amf0Value::String("live".into()))]);
        self.command(0, "connect", 1.0, &[app]).unwrap();
        let Some(Event::Connect(c)) = self.events.pop() else { panic!("no connect event") };
        self.session.accept_connect(&c);
    }

    fn publish(&mut self) -> StreamRequest {
        self.connect();
        self.command(0, "createStream", 2.0, &[Amf0Value::Null]).unwrap();
        self.command(1, "publish", 3.0, &[Amf0Value::Null, Amf0Value::String("cam?token=t".into())]).unwrap();
        let Some(Event::Publish(r)) = self.events.pop() else { panic!("no publish event") };
        self.session.accept_publish(&r);
        r
    }
}

/// The command name and the info object's `code` of a reply.
fn reply_code(m: &Message) -> (String, Option<String>) {
    let c = Command::parse(&m.payload).unwrap();
    let code = c.args.iter().find_map(|v| string_property(v, "code"));
    (c.name, code)
}

#[test]
fn an_encoder_connects_creates_a_stream_and_publishes() {
    let mut c = Client::new();
    c.connect();
    let r = c.replies();
    let kinds: Vec<MessageType> = r.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            MessageType::WindowAckSize,
            MessageType::SetPeerBandwidth,
            MessageType::SetChunkSize,
            MessageType::CommandAmf0
        ]
    );
    assert_eq!(reply_code(&r[3]), ("_result".into(), Some("NetConnection.Connect.Success".into())));

    c.command(0, "releaseStream", 2.0, &[Amf0Value::Null, Amf0Value::String("cam".into())]).unwrap();
    c.command(0, "FCPublish", 3.0, &[Amf0Value::Null, Amf0Value::String("cam".into())]).unwrap();
    c.command(0, "createStream", 4.0, &[Amf0Value::Null]).unwrap();
    let r = c.replies();
    assert_eq!(r.len(), 3);
    let created = Command::parse(&r[2].payload).unwrap();
    assert_eq!((created.transaction, created.args[0].clone()), (4.0, Amf0Value::Number(1.0)));

    c.command(
        1,
        "publish",
        5.0,
        &[Amf0Value::Null, Amf0Value::String("cam?token=t".into()), Amf0Value::String("live".into())],
    )
    .unwrap();
    let Some(Event::Publish(req)) = c.events.pop() else { panic!("no publish") };
    assert_eq!((req.stream_id, req.name.as_str(), req.mode.as_str()), (1, "cam?token=t", "live"));
    c.session.accept_publish(&req);
    let r = c.replies();
    assert_eq!(r[0].kind, MessageType::UserControl);
    assert_eq!(reply_code(&r[1]), ("onStatus".into(), Some("NetStream.Publish.Start".into())));
    assert_eq!(r[1].stream_id, 1);

    c.send(4, MessageType::Video, 1, 40, b"video").unwrap();
    c.send(5, MessageType::Audio, 1, 41, b"audio").unwrap();
    let mut meta = Vec::new();
    Amf0Value::String("@setDataFrame".into()).write(&mut meta);
    Amf0Value::String("onMetaData".into()).write(&mut meta);
    c.send(5, MessageType::DataAmf0, 1, 0, &meta).unwrap();
    c.command(0, "FCUnpublish", 6.0, &[Amf0Value::Null, Amf0Value::String("cam".into())]).unwrap();
    let got: Vec<Event> = c.events.drain(..).collect();
    assert_eq!(got.len(), 4);
    assert_eq!(got[0], Event::Media { kind: TagKind::Video, timestamp: 40, payload: Bytes::from_static(b"video") });
    assert_eq!(got[1], Event::Media { kind: TagKind::Audio, timestamp: 41, payload: Bytes::from_static(b"audio") });
    let Event::Media { kind: TagKind::Script, payload, .. } = &got[2] else { panic!("no script data") };
    assert_eq!(Amf0Value::read(payload).unwrap().0, Amf0Value::String("onMetaData".into()));
    assert_eq!(got[3], Event::Unpublish { stream_id: 1 });
}

#[test]
fn an_ended_publish_is_answered_unpublish_success_and_the_connection_stays_open() {
    // FCUnpublish (ffmpeg, OBS, GStreamer): onFCUnpublish, its _result, then the stream's
    // onStatus; the deleteStream that follows ends nothing more and gets no answer.
    let mut c = Client::new();
    c.publish();
    c.replies();
    c.command(0, "FCUnpublish", 6.0, &[Amf0Value::Null, Amf0Value::String("cam".into())]).unwrap();
    let r = c.replies();
    let codes: Vec<(String, Option<String>, u32)> = r
        .iter()
        .map(|m| {
            let (name, code) = reply_code(m);
            (name, code, m.stream_id)
        })
        .collect();
    let success = Some(String::from("NetStream.Unpublish.Success"));
    assert_eq!(
        codes,
        [
            ("onFCUnpublish".into(), success.clone(), 0),
            ("_result".into(), None, 0),
            ("onStatus".into(), success.clone(), 1)
        ]
    );
    assert_eq!(c.events.drain(..).collect::<Vec<_>>(), [Event::Unpublish { stream_id: 1 }]);
    assert_eq!(c.session.publishing(), None);
    c.command(0, "deleteStream", 7.0, &[Amf0Value::Null, Amf0Value::Number(1.0)]).unwrap();
    assert!(c.replies().is_empty() && c.events.is_empty());

    // deleteStream alone (librtmp): the stream's onStatus, once; media after it is dropped.
    let mut c = Client::new();
    c.publish();
    c.replies();
    c.command(0, "deleteStream", 6.0, &[Amf0Value::Null, Amf0Value::Number(1.0)]).unwrap();
    let r = c.replies();
    assert_eq!(r.len(), 1);
    assert_eq!((reply_code(&r[0]), r[0].stream_id), (("onStatus".into(), success.clone()), 1));
    c.send(4, MessageType::Video, 1, 40, b"video").unwrap();
    c.command(1, "closeStream", 0.0, &[Amf0Value::Null]).unwrap();
    assert_eq!(c.events.drain(..).collect::<Vec<_>>(), [Event::Unpublish { stream_id: 1 }]);
    assert!(c.replies().is_empty());

    // The connection goes on: a new stream publishes again.
    c.command(0, "createStream", 8.0, &[Amf0Value::Null]).unwrap();
    c.command(2, "publish", 9.0, &[Amf0Value::Null, Amf0Value::String("cam?token=t".into())]).unwrap();
    assert!(matches!(c.events.pop(), Some(Event::Publish(StreamRequest { stream_id: 2, .. }))));
}

#[test]
fn commands_before_connect_and_a_second_connect_are_errors() {
    let mut c = Client::new();
    let err = c.command(1, "publish", 0.0, &[Amf0Value::Null, Amf0Value::String("cam".into())]).unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err}");

    let mut c = Client::new();
    c.connect();
    let app = Amf0Value::Object(vec![("app".into(), Amf0Value::String("live".into()))]);
    assert!(matches!(c.command(0, "connect", 2.0, &[app]), Err(Error::Protocol(_))));
}

#[test]
fn a_rejected_connect_answers_error() {
    let mut c = Client::new();
    let app = Amf0Value::Object(vec![("app".into(), Amf0Value::String("vod".into()))]);
    c.command(0, "connect", 1.0, &[app]).unwrap();
    let Some(Event::Connect(req)) = c.events.pop() else { panic!() };
    assert_eq!(req.app, "vod");
    c.session.reject_connect("unknown application");
    let r = c.replies();
    assert_eq!(reply_code(&r[0]), ("_error".into(), Some("NetConnection.Connect.Rejected".into())));
    assert!(!c.session.is_connected());
}

#[test]
fn media_outside_an_accepted_publish_is_dropped() {
    let mut c = Client::new();
    c.connect();
    c.send(4, MessageType::Video, 1, 0, b"early").unwrap();
    assert!(c.events.is_empty());
    c.publish_on_connected();
    c.send(4, MessageType::Video, 2, 0, b"other stream").unwrap();
    assert!(c.events.is_empty());
}

impl Client {
    fn publish_on_connected(&mut self) {
        self.command(1, "publish", 3.0, &[Amf0Value::Null, Amf0Value::String("cam".into())]).unwrap();
        let Some(Event::Publish(r)) = self.events.pop() else { panic!("no publish event") };
        self.session.accept_publish(&r);
    }
}

#[test]
fn a_ping_gets_a_pong_and_each_window_an_acknowledgement() {
    let mut c = Client::new();
    c.send(2, MessageType::WindowAckSize, 0, 0, &message::u32_body(1000)).unwrap();
    c.send(2, MessageType::UserControl, 0, 0, &message::user_control_body(user_control::PING_REQUEST, 77)).unwrap();
    let r = c.replies();
    assert_eq!(r.len(), 1);
    assert_eq!(&r[0].payload[..], &message::user_control_body(user_control::PING_RESPONSE, 77)[..]);
    c.send(2, MessageType::SetChunkSize, 0, 0, &message::u32_body(4096)).unwrap();
    c.writer.set_chunk_size(4096);
    c.send(6, MessageType::Audio, 1, 0, &[0; 2000]).unwrap();
    let r = c.replies();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].kind, MessageType::Acknowledgement);
    // The count: all bytes after the handshake.
    assert!(message::read_u32(&r[0].payload).unwrap() > 2000);
}

#[test]
fn aggregate_messages_are_split_with_their_offsets() {
    let mut c = Client::new();
    c.publish();
    let mut agg = Vec::new();
    for (kind, ts, body) in [(9u8, 500u32, &b"v1"[..]), (8, 510, b"a1"), (9, 533, b"v2")] {
        agg.push(kind);
        agg.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
        agg.extend_from_slice(&ts.to_be_bytes()[1..]);
        agg.push(ts.to_be_bytes()[0]);
        agg.extend_from_slice(&[0, 0, 0]);
        agg.extend_from_slice(body);
        agg.extend_from_slice(&u32::try_from(11 + body.len()).unwrap().to_be_bytes());
    }
    c.send(4, MessageType::Aggregate, 1, 1000, &agg).unwrap();
    let times: Vec<(TagKind, u32)> = c
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Media { kind, timestamp, .. } => Some((*kind, *timestamp)),
            _ => None,
        })
        .collect();
    assert_eq!(times, [(TagKind::Video, 1000), (TagKind::Audio, 1010), (TagKind::Video, 1033)]);
    agg.truncate(agg.len() - 3);
    assert!(c.send(4, MessageType::Aggregate, 1, 1100, &agg).is_err());
}

#[test]
fn amf3_command_messages_are_read_as_amf0_after_their_format_byte() {
    let mut c = Client::new();
    let mut body = vec![0u8];
    let app = Amf0Value::Object(vec![("app".into(), Amf0Value::String("live".into()))]);
    body.extend(command::write("connect", 1.0, &[app]));
    c.send(3, MessageType::CommandAmf3, 0, 0, &body).unwrap();
    assert!(matches!(c.events.pop(), Some(Event::Connect(_))));
}

#[test]
fn an_enhanced_connect_is_answered_with_the_codecs_we_ingest() {
    let mut c = Client::new();
    let object = Amf0Value::Object(vec![
        ("app".into(), Amf0Value::String("live".into())),
        (
            "fourCcList".into(),
            Amf0Value::Array(vec![Amf0Value::String("hvc1".into()), Amf0Value::String("avc1".into())]),
        ),
        ("capsEx".into(), Amf0Value::Number(1.0)),
    ]);
    c.command(0, "connect", 1.0, &[object]).unwrap();
    let Some(Event::Connect(req)) = c.events.pop() else { panic!() };
    assert_eq!(req.fourcc_list, ["hvc1", "avc1"]);
    assert_eq!(req.caps_ex, Some(1));
    c.session.accept_connect(&req);
    let r = c.replies();
    let result = Command::parse(&r[3].payload).unwrap();
    let Some(Amf0Value::Object(video)) = property(&result.object, "videoFourCcInfoMap") else { panic!() };
    assert_eq!(video[0], ("avc1".into(), Amf0Value::Number(f64::from(fourcc_info::CAN_FORWARD))));
    assert!(property(&result.object, "fourCcList").is_some());
}

/// Numbers that are not a whole `u32`: each would have become another value under a cast.
const NOT_U32: [f64; 7] = [-1.0, 1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 4_294_967_296.0, 1e300];

#[test]
fn a_connect_whose_capabilities_are_not_whole_u32_numbers_is_refused() {
    let connect = |c: &mut Client, key: &str, value: Amf0Value| {
        let object = Amf0Value::Object(vec![("app".into(), Amf0Value::String("live".into())), (key.into(), value)]);
        c.command(0, "connect", 1.0, &[object])
    };
    let map = |n| Amf0Value::Object(vec![("hvc1".into(), Amf0Value::Number(n))]);
    for n in NOT_U32 {
        for (key, value, named) in [
            ("capsEx", Amf0Value::Number(n), "`connect`'s capsEx is "),
            ("videoFourCcInfoMap", map(n), "`connect`'s videoFourCcInfoMap.hvc1 is "),
            ("audioFourCcInfoMap", map(n), "`connect`'s audioFourCcInfoMap.hvc1 is "),
        ] {
            let mut c = Client::new();
            let err = connect(&mut c, key, value).unwrap_err();
            let Error::Protocol(what) = &err else { panic!("{key} = {n}: {err}") };
            assert!(what.starts_with(named) && what.ends_with("not a whole number from 0 to 4294967295"), "{what}");
            assert!(c.events.is_empty() && !c.session.is_connected(), "{key} = {n}");
        }
    }
    // The ends of the range are taken as sent; a value that is not a number is left out, as
    // before.
    let mut c = Client::new();
    connect(&mut c, "videoFourCcInfoMap", map(4_294_967_295.0)).unwrap();
    let Some(Event::Connect(req)) = c.events.pop() else { panic!("no connect event") };
    assert_eq!(req.video_fourcc_info, [("hvc1".into(), u32::MAX)]);
    let mut c = Client::new();
    connect(&mut c, "capsEx", Amf0Value::Number(-0.0)).unwrap();
    let Some(Event::Connect(req)) = c.events.pop() else { panic!("no connect event") };
    assert_eq!(req.caps_ex, Some(0));
    let mut c = Client::new();
    connect(&mut c, "capsEx", Amf0Value::String("1".into())).unwrap();
    let Some(Event::Connect(req)) = c.events.pop() else { panic!("no connect event") };
    assert_eq!(req.caps_ex, None);
}

#[test]
fn a_delete_stream_whose_id_is_not_a_whole_u32_number_is_refused() {
    for n in NOT_U32 {
        let mut c = Client::new();
        c.publish();
        c.replies();
        let err = c.command(0, "deleteStream", 6.0, &[Amf0Value::Null, Amf0Value::Number(n)]).unwrap_err();
        assert_eq!(
            err,
            Error::Protocol(format!("`deleteStream`'s stream id is {n}, not a whole number from 0 to 4294967295"))
        );
        // Nothing was unpublished on the way.
        assert!(c.events.is_empty() && c.replies().is_empty(), "{n}");
        assert_eq!(c.session.publishing(), Some(1));
    }
}

#[test]
fn a_peer_that_never_reads_its_pongs_is_cut_off() {
    let mut c = Client::new();
    let ping = message::user_control_body(user_control::PING_REQUEST, 1);
    let mut result = Ok(());
    for _ in 0..200_000 {
        result = c.send(2, MessageType::UserControl, 0, 0, &ping);
        if result.is_err() {
            break;
        }
    }
    assert!(matches!(result, Err(Error::Limit { limit: Limit::OutputBytes, .. })));
}

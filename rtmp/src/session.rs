//! The server session: bytes in, [`Event`]s and reply bytes out.
//!
//! It answers what needs no decision on its own (the handshake, acknowledgements, pings,
//! `releaseStream`, `FCPublish`, `createStream`) and hands the caller the decisions:
//! [`Event::Connect`], [`Event::Publish`] and [`Event::Play`] wait for an `accept_*` or
//! `reject*` call, which the caller makes before polling again.

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};

use bytes::{Buf, Bytes, BytesMut};
use rapidrtmp_core::flv::{Amf0Value, TagKind};

use crate::chunk::encoder::ChunkEncoder;
use crate::chunk::ChunkDecoder;
use crate::command::{self, info, property, string_property, Command};
use crate::control;
use crate::handshake::{Handshake, Random};
use crate::limits::{Limit, MAX_OUTPUT_BYTES};
use crate::message::{self, user_control, AckWindow, Message, MessageType};
use crate::Error;

/// Chunk stream of the protocol control and user control messages we send (§5.4).
pub(crate) const CONTROL_CHUNK_STREAM: u32 = 2;
/// Chunk stream of the commands we send.
pub(crate) const COMMAND_CHUNK_STREAM: u32 = 3;
/// The `onStatus` code of a publish that ended (`FCUnpublish`, `closeStream`, `deleteStream`).
const UNPUBLISH_SUCCESS: &str = "NetStream.Unpublish.Success";

/// Enhanced RTMP FourCC capability bits (Enhanced RTMP v2, "Enhancing NetConnection connect
/// Command", `FourCcInfoMask`).
pub mod fourcc_info {
    /// The peer can decode this codec.
    pub const CAN_DECODE: u32 = 0x01;
    /// The peer can encode this codec.
    pub const CAN_ENCODE: u32 = 0x02;
    /// The peer can forward this codec without decoding it (an ingest server).
    pub const CAN_FORWARD: u32 = 0x04;
}

/// Settings of a server session.
#[derive(Debug, Clone)]
pub struct Config {
    /// Chunk size of what we send, announced with Set Chunk Size after `connect`.
    pub chunk_size: u32,
    /// Window Acknowledgement Size and Set Peer Bandwidth we announce (§5.4.4, §5.4.5); also
    /// our acknowledgement window until the peer announces one.
    pub window_ack_size: u32,
    /// Video FourCCs we ingest, answered to an Enhanced RTMP `connect` (e.g. `avc1`).
    pub video_fourccs: &'static [&'static str],
    /// Audio FourCCs we ingest (e.g. `mp4a`).
    pub audio_fourccs: &'static [&'static str],
    /// `capsEx` bits we support (Enhanced RTMP v2 `CapsExMask`).
    pub caps_ex: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            chunk_size: 4096,
            window_ack_size: 2_500_000,
            video_fourccs: &["avc1"],
            audio_fourccs: &["mp4a"],
            caps_ex: 0,
        }
    }
}

/// What a client said in `connect` (RTMP 1.0 §7.2.1.1; Enhanced RTMP v2).
#[derive(Debug, Clone, PartialEq)]
pub struct Connect {
    /// `app`: the application, e.g. `live` (some clients append `?query`).
    pub app: String,
    /// `tcUrl`: the URL the client connected to.
    pub tc_url: Option<String>,
    /// `flashVer`: the client's name and version, e.g. `FMLE/3.0 (compatible; FMSc/1.0)`.
    pub flash_ver: Option<String>,
    /// `objectEncoding`: 0 for AMF0, 3 for AMF3.
    pub object_encoding: f64,
    /// Enhanced RTMP: `fourCcList` (v1).
    pub fourcc_list: Vec<String>,
    /// Enhanced RTMP v2: `videoFourCcInfoMap`, FourCC → [`fourcc_info`] bits.
    pub video_fourcc_info: Vec<(String, u32)>,
    /// Enhanced RTMP v2: `audioFourCcInfoMap`.
    pub audio_fourcc_info: Vec<(String, u32)>,
    /// Enhanced RTMP v2: `capsEx`.
    pub caps_ex: Option<u32>,
}

impl Connect {
    /// Whether the client speaks Enhanced RTMP.
    pub fn is_enhanced(&self) -> bool {
        !self.fourcc_list.is_empty()
            || !self.video_fourcc_info.is_empty()
            || !self.audio_fourcc_info.is_empty()
            || self.caps_ex.is_some()
    }

    /// Reads the command object of `connect`; a capability that is a number but not a whole
    /// `u32` is refused.
    pub(crate) fn from_command(c: &Command) -> Result<Self, Error> {
        let o = &c.object;
        let number = |key| match property(o, key) {
            Some(Amf0Value::Number(n)) => Some(*n),
            _ => None,
        };
        let info_map = |key| match property(o, key) {
            Some(Amf0Value::Object(props)) => props
                .iter()
                .filter_map(|(k, v)| match v {
                    Amf0Value::Number(n) => {
                        Some(u32_number(*n, || format!("`connect`'s {key}.{k}")).map(|n| (k.clone(), n)))
                    }
                    _ => None,
                })
                .collect::<Result<Vec<_>, _>>(),
            _ => Ok(Vec::new()),
        };
        Ok(Self {
            app: string_property(o, "app").unwrap_or_default(),
            tc_url: string_property(o, "tcUrl"),
            flash_ver: string_property(o, "flashVer"),
            object_encoding: number("objectEncoding").unwrap_or(0.0),
            fourcc_list: match property(o, "fourCcList") {
                Some(Amf0Value::Array(items)) => items
                    .iter()
                    .filter_map(|v| match v {
                        Amf0Value::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            },
            video_fourcc_info: info_map("videoFourCcInfoMap")?,
            audio_fourcc_info: info_map("audioFourCcInfoMap")?,
            caps_ex: number("capsEx").map(|n| u32_number(n, || "`connect`'s capsEx".into())).transpose()?,
        })
    }
}

/// A `publish` or `play` (RTMP 1.0 §7.2.2.6, §7.2.2.1) waiting for the caller's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRequest {
    /// The message stream it was sent on (from `createStream`).
    pub stream_id: u32,
    /// The stream name as sent, e.g. `cam?token=…`.
    pub name: String,
    /// `publish`'s type (`live`, `record`, `append`); empty for `play`.
    pub mode: String,
    transaction: f64,
}

/// What the session asks of its caller, or hands it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A client asks to connect: answer with [`ServerSession::accept_connect`] or
    /// [`ServerSession::reject_connect`].
    Connect(Connect),
    /// A client asks to publish: answer with [`ServerSession::accept_publish`] or
    /// [`ServerSession::reject_stream`].
    Publish(StreamRequest),
    /// A client asks to play: answer with [`ServerSession::reject_stream`].
    Play(StreamRequest),
    /// The published stream ended (`FCUnpublish`, `closeStream` or `deleteStream`).
    Unpublish {
        /// Its message stream.
        stream_id: u32,
    },
    /// A message of the published stream, as the body of an FLV tag of `kind`: audio, video,
    /// or script data (a data message with any `@setDataFrame` taken off, so `onMetaData`
    /// comes first).
    Media {
        /// Audio, Video or Script.
        kind: TagKind,
        /// RTMP timestamp in milliseconds, wrapping at 2^32.
        timestamp: u32,
        /// The tag body; shares the read buffer when the message came in one chunk.
        payload: Bytes,
    },
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before `connect`.
    Connecting,
    /// `connect` is with the caller.
    ConnectAsked,
    /// Connected.
    Connected,
}

/// A sans-IO RTMP server session for publishers.
#[derive(Debug)]
pub struct ServerSession {
    config: Config,
    handshake: Handshake,
    random: Random,
    chunks: ChunkDecoder,
    encoder: ChunkEncoder,
    out: BytesMut,
    events: VecDeque<Event>,
    phase: Phase,
    connect_transaction: f64,
    next_stream_id: u32,
    /// The accepted `publish` while it lasts: its `onStatus` replies name it.
    published: Option<StreamRequest>,
    window: AckWindow,
}

impl ServerSession {
    /// A session waiting for C0; `seed` makes the handshake's random bytes.
    pub fn new(config: Config, seed: [u8; 32]) -> Self {
        Self {
            window: AckWindow::new(config.window_ack_size),
            config,
            handshake: Handshake::new(),
            random: Random::new(seed),
            chunks: ChunkDecoder::new(),
            encoder: ChunkEncoder::default(),
            out: BytesMut::new(),
            events: VecDeque::new(),
            phase: Phase::Connecting,
            connect_transaction: 0.0,
            next_stream_id: 1,
            published: None,
        }
    }

    /// Reads what it can of `input` (consuming whole handshake packets and chunks only) and
    /// returns the next event; `Ok(None)` when it needs more bytes. Replies wait in
    /// [`Self::take_output`].
    pub fn poll(&mut self, input: &mut BytesMut) -> Result<Option<Event>, Error> {
        if let Some(e) = self.events.pop_front() {
            return Ok(Some(e));
        }
        if !self.handshake.done() {
            self.handshake.advance(input, &mut self.out, &mut self.random)?;
            if !self.handshake.done() {
                return Ok(None);
            }
        }
        loop {
            let before = input.len();
            let message = self.chunks.next_message(input);
            self.count(before - input.len());
            let Some(message) = message? else { return Ok(None) };
            self.handle(message)?;
            if self.out.len() > MAX_OUTPUT_BYTES {
                return Err(Error::limit(Limit::OutputBytes, format!("{} bytes of replies unsent", self.out.len())));
            }
            if let Some(e) = self.events.pop_front() {
                return Ok(Some(e));
            }
        }
    }

    /// The bytes the input must hold for the next step (a hint for sizing the read buffer).
    pub fn wanted(&self) -> usize {
        if self.handshake.done() {
            self.chunks.wanted()
        } else {
            self.handshake.wanted()
        }
    }

    /// Replies to send, if any.
    pub fn take_output(&mut self) -> Option<Bytes> {
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }

    /// Whether `connect` was accepted.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// The message stream being published, once a publish is accepted.
    pub fn publishing(&self) -> Option<u32> {
        self.published.as_ref().map(|r| r.stream_id)
    }

    /// Accepts the pending `connect` (§7.2.1.1): window, bandwidth and chunk size, then
    /// `_result` with `NetConnection.Connect.Success` and, to an Enhanced RTMP client, the
    /// codecs and capabilities we ingest.
    pub fn accept_connect(&mut self, request: &Connect) {
        if self.phase != Phase::ConnectAsked {
            return;
        }
        let window = self.config.window_ack_size;
        self.control(MessageType::WindowAckSize, &message::u32_body(window));
        self.control(MessageType::SetPeerBandwidth, &message::peer_bandwidth_body(window));
        self.control(MessageType::SetChunkSize, &message::u32_body(self.config.chunk_size));
        self.encoder.set_chunk_size(self.config.chunk_size);
        let mut props = vec![
            ("fmsVer".to_string(), Amf0Value::String("FMS/3,5,7,7009".into())),
            ("capabilities".to_string(), Amf0Value::Number(31.0)),
            ("mode".to_string(), Amf0Value::Number(1.0)),
        ];
        if request.is_enhanced() {
            let codecs = |list: &[&str]| {
                Amf0Value::Object(
                    list.iter()
                        .map(|c| (c.to_string(), Amf0Value::Number(f64::from(fourcc_info::CAN_FORWARD))))
                        .collect(),
                )
            };
            let all = self.config.video_fourccs.iter().chain(self.config.audio_fourccs);
            props.push((
                "fourCcList".to_string(),
                Amf0Value::Array(all.map(|c| Amf0Value::String(c.to_string())).collect()),
            ));
            props.push(("videoFourCcInfoMap".to_string(), codecs(self.config.video_fourccs)));
            props.push(("audioFourCcInfoMap".to_string(), codecs(self.config.audio_fourccs)));
            props.push(("capsEx".to_string(), Amf0Value::Number(f64::from(self.config.caps_ex))));
        }
        let extra = vec![("objectEncoding".to_string(), Amf0Value::Number(0.0))];
        let body = command::write(
            "_result",
            self.connect_transaction,
            &[
                Amf0Value::Object(props),
                info("status", "NetConnection.Connect.Success", "Connection succeeded.", extra),
            ],
        );
        self.command(0, &body);
        self.phase = Phase::Connected;
    }

    /// Refuses the pending `connect` with `_error` and `NetConnection.Connect.Rejected`; the
    /// caller then closes the connection.
    pub fn reject_connect(&mut self, description: &str) {
        let i = info("error", "NetConnection.Connect.Rejected", description, Vec::new());
        let body = command::write("_error", self.connect_transaction, &[Amf0Value::Null, i]);
        self.command(0, &body);
        self.phase = Phase::Connecting;
    }

    /// Accepts a `publish`: Stream Begin, then `onStatus` `NetStream.Publish.Start`. Media of
    /// that stream then comes as [`Event::Media`].
    pub fn accept_publish(&mut self, request: &StreamRequest) {
        let begin = message::user_control_body(user_control::STREAM_BEGIN, request.stream_id);
        self.control(MessageType::UserControl, &begin);
        let description = format!("{} is now published.", request.name);
        self.on_status(request, "status", "NetStream.Publish.Start", &description);
        self.published = Some(request.clone());
    }

    /// Refuses a `publish` or `play` with `onStatus` at level `error` and `code` (such as
    /// `NetStream.Publish.BadName`).
    pub fn reject_stream(&mut self, request: &StreamRequest, code: &str, description: &str) {
        self.on_status(request, "error", code, description);
    }

    fn on_status(&mut self, request: &StreamRequest, level: &str, code: &str, description: &str) {
        let extra = vec![("details".to_string(), Amf0Value::String(request.name.clone()))];
        let body =
            command::write("onStatus", request.transaction, &[Amf0Value::Null, info(level, code, description, extra)]);
        self.command(request.stream_id, &body);
    }

    fn control(&mut self, kind: MessageType, body: &[u8]) {
        self.encoder.write(&mut self.out, CONTROL_CHUNK_STREAM, kind, 0, 0, body);
    }

    fn command(&mut self, stream_id: u32, body: &[u8]) {
        self.encoder.write(&mut self.out, COMMAND_CHUNK_STREAM, MessageType::CommandAmf0, stream_id, 0, body);
    }

    /// Counts received bytes and acknowledges each window of them (§5.4.3).
    fn count(&mut self, n: usize) {
        if let Some(sequence) = self.window.count(n) {
            self.control(MessageType::Acknowledgement, &message::u32_body(sequence));
        }
    }

    fn handle(&mut self, m: Message) -> Result<(), Error> {
        match m.kind {
            MessageType::SetChunkSize | MessageType::Abort | MessageType::WindowAckSize | MessageType::UserControl => {
                if let Some(pong) = control::apply(&m, &mut self.chunks, &mut self.window)? {
                    self.control(MessageType::UserControl, &pong);
                }
            }
            MessageType::CommandAmf0 => self.on_command(&m, &m.payload)?,
            MessageType::CommandAmf3 => self.on_command(&m, amf3_body(&m.payload))?,
            MessageType::Audio => self.media(&m, TagKind::Audio, m.payload.clone()),
            MessageType::Video => self.media(&m, TagKind::Video, m.payload.clone()),
            MessageType::DataAmf0 => self.data(&m, m.payload.clone()),
            MessageType::DataAmf3 => {
                let skip = m.payload.len() - amf3_body(&m.payload).len();
                self.data(&m, m.payload.slice(skip..));
            }
            MessageType::Aggregate => self.aggregate(&m)?,
            // Acknowledgements, Set Peer Bandwidth and shared objects need nothing from a
            // server that only ingests; unknown types are skipped.
            _ => {}
        }
        Ok(())
    }

    fn media(&mut self, m: &Message, kind: TagKind, payload: Bytes) {
        if self.publishing() == Some(m.stream_id) {
            self.events.push_back(Event::Media { kind, timestamp: m.timestamp, payload });
        }
    }

    /// A data message (§7.1.2): `@setDataFrame` is taken off, so the body is what an FLV
    /// script tag holds; `@clearDataFrame` and bodies that are not AMF0 are skipped.
    fn data(&mut self, m: &Message, payload: Bytes) {
        let Ok((Amf0Value::String(name), used)) = Amf0Value::read(&payload) else { return };
        let body = match name.as_str() {
            "@setDataFrame" => payload.slice(used..),
            "@clearDataFrame" => return,
            _ => payload,
        };
        self.media(m, TagKind::Script, body);
    }

    /// An aggregate message (§7.1.6): FLV tags whose timestamps are offsets from the first.
    fn aggregate(&mut self, m: &Message) -> Result<(), Error> {
        let mut rest = m.payload.clone();
        let mut first = None;
        while !rest.is_empty() {
            let h = rest
                .get(..11)
                .ok_or_else(|| Error::protocol("an aggregate message ends inside a sub-message header"))?;
            let kind = h[0] & 0x1F;
            let size = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
            let ts = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
            if rest.len() < 11 + size + 4 {
                return Err(Error::protocol("an aggregate message's sub-message runs past its end"));
            }
            let body = rest.slice(11..11 + size);
            rest.advance(11 + size + 4);
            let base = *first.get_or_insert(ts);
            let sub = Message { timestamp: m.timestamp.wrapping_add(ts.wrapping_sub(base)), ..m.clone() };
            match MessageType::from_id(kind) {
                MessageType::Audio => self.media(&sub, TagKind::Audio, body),
                MessageType::Video => self.media(&sub, TagKind::Video, body),
                MessageType::DataAmf0 => self.data(&sub, body),
                _ => {}
            }
        }
        Ok(())
    }

    fn on_command(&mut self, m: &Message, body: &[u8]) -> Result<(), Error> {
        let c = Command::parse(body)?;
        let connected = self.phase == Phase::Connected;
        match c.name.as_str() {
            "connect" => {
                if self.phase != Phase::Connecting {
                    return Err(Error::protocol("a second `connect` on one connection"));
                }
                let connect = Connect::from_command(&c)?;
                self.phase = Phase::ConnectAsked;
                self.connect_transaction = c.transaction;
                self.events.push_back(Event::Connect(connect));
            }
            name if !connected => return Err(Error::protocol(format!("`{name}` before an accepted `connect`"))),
            "releaseStream" | "FCPublish" => self.result(c.transaction, Amf0Value::Null),
            "createStream" => {
                let id = self.next_stream_id;
                self.next_stream_id = self.next_stream_id.saturating_add(1);
                self.result(c.transaction, Amf0Value::Number(f64::from(id)));
            }
            "publish" | "play" => {
                let request = StreamRequest {
                    stream_id: m.stream_id,
                    name: c.string_arg(0).unwrap_or_default().to_string(),
                    mode: if c.name == "publish" {
                        c.string_arg(1).unwrap_or("live").to_string()
                    } else {
                        String::new()
                    },
                    transaction: c.transaction,
                };
                self.events.push_back(if c.name == "publish" { Event::Publish(request) } else { Event::Play(request) });
            }
            // As Flash Media Server and the common servers answer: `onFCUnpublish`, then the
            // `_result`, then the stream's `onStatus` (see `unpublish`).
            "FCUnpublish" => {
                if let Some(request) = &self.published {
                    let description = format!("{} is now unpublished.", request.name);
                    let extra = vec![("details".to_string(), Amf0Value::String(request.name.clone()))];
                    let i = info("status", UNPUBLISH_SUCCESS, &description, extra);
                    self.command(0, &command::write("onFCUnpublish", 0.0, &[Amf0Value::Null, i]));
                }
                self.result(c.transaction, Amf0Value::Null);
                self.unpublish(self.publishing());
            }
            "closeStream" => self.unpublish(Some(m.stream_id)),
            "deleteStream" => {
                let id = c.number_arg(0).map(|n| u32_number(n, || "`deleteStream`'s stream id".into())).transpose()?;
                self.unpublish(id);
            }
            // getStreamLength, _checkbw and the like: nothing to say.
            _ => {}
        }
        Ok(())
    }

    fn result(&mut self, transaction: f64, value: Amf0Value) {
        if transaction != 0.0 {
            let body = command::write("_result", transaction, &[Amf0Value::Null, value]);
            self.command(0, &body);
        }
    }

    /// Ends the publish of `stream_id` if it is the one published: `onStatus`
    /// `NetStream.Unpublish.Success` on its stream, then [`Event::Unpublish`]. The connection
    /// stays open: the client closes it.
    fn unpublish(&mut self, stream_id: Option<u32>) {
        if let Some(request) = self.published.take_if(|r| stream_id == Some(r.stream_id)) {
            let description = format!("{} is now unpublished.", request.name);
            let id = request.stream_id;
            self.on_status(&StreamRequest { transaction: 0.0, ..request }, "status", UNPUBLISH_SUCCESS, &description);
            self.events.push_back(Event::Unpublish { stream_id: id });
        }
    }
}

/// An AMF0 number the peer sent where RTMP means a `u32` (a message stream id, capability
/// bits), named by `what`: refused unless it is whole and within `0 ..= 2^32 - 1`, so a -1, a
/// 1.5, a NaN or a 2^40 is never taken as some other value.
pub(crate) fn u32_number(n: f64, what: impl FnOnce() -> String) -> Result<u32, Error> {
    Amf0Value::whole_number(n)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| Error::protocol(format!("{} is {n}, not a whole number from 0 to 4294967295", what())))
}

/// An AMF3 command or data message body is AMF0 after a format byte of 0 (§7.1.1, §7.1.2).
pub(crate) fn amf3_body(payload: &[u8]) -> &[u8] {
    match payload.first() {
        Some(0) => &payload[1..],
        _ => payload,
    }
}

#[cfg(test)]
mod tests;

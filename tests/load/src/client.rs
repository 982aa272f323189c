//! An RTMP publishing client: a sans-IO [`Session`] and a blocking [`Client`] over a TCP socket.
//!
//! The session speaks, from Adobe's *RTMP specification* 1.0: the simple handshake (§5.2), the
//! chunk stream (§5.3, through [`crate::chunk`]), the protocol control messages (§5.4: it
//! announces its chunk size, applies the server's, answers Window Acknowledgement Size with
//! Acknowledgements and Set Peer Bandwidth with a Window Acknowledgement Size), User Control
//! pings (§6.2, §7.1.7), and the commands of a publisher (§7.2): `connect` (§7.2.1.1),
//! `createStream` (§7.2.1.3), `publish` (§7.2.2.6), `deleteStream` (§7.2.2.3), with the
//! `releaseStream`, `FCPublish` and `FCUnpublish` calls encoders add (not in the spec) and
//! `@setDataFrame`/`onMetaData` data messages (§7.1.2). `connect` may carry the Enhanced RTMP
//! `fourCcList` (Enhanced RTMP v2, "Enhancing NetConnection connect Command").
//!
//! Audio and video messages (§7.1.4, §7.1.5) carry FLV tag bodies. Their timestamps get
//! [`Config::timestamp_offset`] added, wrapping: the wire timestamp is the low 32 bits.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::amf0::{self, Value};
use crate::chunk::{self, ChunkReader, ChunkWriter, HeaderCompression, CONTROL_CHUNK_STREAM, DEFAULT_CHUNK_SIZE};
use crate::handshake;
use crate::message::{self, type_id, user_control, Message, MessageHeader};

/// What went wrong.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The server broke the handshake.
    #[error(transparent)]
    Handshake(#[from] handshake::Error),
    /// The chunk stream: the server's, or a message this client cannot send.
    #[error(transparent)]
    Chunk(#[from] chunk::Error),
    /// A command from the server is not AMF0 this client reads.
    #[error(transparent)]
    Amf(#[from] amf0::Error),
    /// The socket.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// The server answered a command with an error (`_error`, or an `onStatus` of level error).
    #[error("{command} refused: {status}")]
    Refused {
        /// The command refused.
        command: &'static str,
        /// The server's status object.
        status: Status,
    },
    /// The server closed the connection.
    #[error("the server closed the connection {0}")]
    Closed(String),
    /// No answer in time.
    #[error("no {0} within {1:?}")]
    Timeout(String, Duration),
    /// A call out of order (a publish before `createStream` answered, …).
    #[error("{0}")]
    Usage(&'static str),
}

/// The `level`, `code` and `description` of a status object (RTMP spec §7.2.1.1, §7.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// `status`, `warning` or `error`.
    pub level: String,
    /// E.g. `NetConnection.Connect.Success`, `NetStream.Publish.Start`.
    pub code: String,
    /// Free text.
    pub description: String,
}

impl Status {
    /// The last object with a `code` among `values` (a command's arguments).
    pub fn find(values: &[Value]) -> Option<Status> {
        values.iter().rev().find(|v| v.get("code").is_some()).map(|v| Status {
            level: v.get_str("level").to_string(),
            code: v.get_str("code").to_string(),
            description: v.get_str("description").to_string(),
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code.is_empty(), self.description.is_empty()) {
            (true, true) => write!(f, "(no status)"),
            (false, true) => write!(f, "{}", self.code),
            (true, false) => write!(f, "{}", self.description),
            (false, false) => write!(f, "{}: {}", self.code, self.description),
        }
    }
}

/// What the server said or did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// S0, S1 and S2 arrived and C2 is queued (§5.2).
    HandshakeDone,
    /// `_result` of our `connect` (§7.2.1.1): its information object.
    Connected(Value),
    /// `_result` of our `createStream` (§7.2.1.3): the message stream id to publish on.
    StreamCreated(u32),
    /// `onStatus` `NetStream.Publish.Start` after our `publish` (§7.2.2.6).
    PublishStarted(Status),
    /// `_error`, or an `onStatus` of level `error`, answering one of our commands.
    Refused {
        /// `connect`, `createStream` or `publish`.
        command: &'static str,
        /// What the server said.
        status: Status,
    },
    /// Any other `onStatus`.
    Status(Status),
    /// Any other `_result` or `_error` (§7.2.1.1): success, transaction id, the other values.
    Reply {
        /// `_result` (else `_error`).
        success: bool,
        /// The transaction id it answers.
        transaction: f64,
        /// The values after the transaction id.
        values: Vec<Value>,
    },
    /// Any other command from the server (`onBWDone`, …).
    Command {
        /// The command name.
        name: String,
        /// The values after the name.
        values: Vec<Value>,
    },
    /// A data message (§7.1.2).
    Data(Vec<Value>),
    /// Set Chunk Size (§5.4.1): applied to the reader.
    ChunkSize(u32),
    /// Abort (§5.4.2): applied to the reader.
    Abort(u32),
    /// Acknowledgement (§5.4.3).
    Acknowledgement(u32),
    /// Window Acknowledgement Size (§5.4.4): this client acknowledges from now on.
    WindowAckSize(u32),
    /// Set Peer Bandwidth (§5.4.5): the window, then the limit type.
    PeerBandwidth(u32, u8),
    /// A User Control event (§6.2, §7.1.7): type and data (pings are answered).
    UserControl(u16, Vec<u8>),
    /// A message of any other type.
    Other(Message),
}

impl Event {
    /// The status object the event carries, if any.
    pub fn status(&self) -> Option<Status> {
        match self {
            Event::Connected(info) => Status::find(std::slice::from_ref(info)),
            Event::PublishStarted(s) | Event::Status(s) | Event::Refused { status: s, .. } => Some(s.clone()),
            Event::Reply { values, .. } | Event::Command { values, .. } => Status::find(values),
            _ => None,
        }
    }
}

/// The chunk streams a session sends on (RTMP spec §5.3.1.1); protocol control messages always
/// go on chunk stream 2 (§5.4). The id picks the basic header: 1 byte for 2..=63, 2 bytes for
/// 64..=319, 3 bytes for 320..=65599.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkStreams {
    /// Commands (message type 20).
    pub command: u32,
    /// Data messages (`@setDataFrame`).
    pub data: u32,
    /// Audio messages.
    pub audio: u32,
    /// Video messages.
    pub video: u32,
}

impl ChunkStreams {
    /// One-byte basic headers (ffmpeg's choice of ids).
    pub const ONE_BYTE: ChunkStreams = ChunkStreams { command: 3, data: 5, audio: 4, video: 6 };
    /// Two-byte basic headers, the range's ends included.
    pub const TWO_BYTE: ChunkStreams = ChunkStreams { command: 64, data: 100, audio: 200, video: 319 };
    /// Three-byte basic headers, the range's ends included.
    pub const THREE_BYTE: ChunkStreams = ChunkStreams { command: 320, data: 1000, audio: 40_000, video: 65_599 };
}

impl Default for ChunkStreams {
    fn default() -> Self {
        Self::ONE_BYTE
    }
}

/// How a session connects and sends.
#[derive(Debug, Clone)]
pub struct Config {
    /// The application (`connect`'s `app`), e.g. `live`.
    pub app: String,
    /// `connect`'s `tcUrl`, e.g. `rtmp://host:1935/live`.
    pub tc_url: String,
    /// `connect`'s `flashVer`.
    pub flash_ver: String,
    /// `connect`'s `type`.
    pub connect_type: String,
    /// Enhanced RTMP: `connect`'s `fourCcList` (e.g. `["hvc1", "av01"]`), if any.
    pub fourcc_list: Option<Vec<String>>,
    /// The outbound chunk size, announced with Set Chunk Size before `connect` unless it is the
    /// default 128 (1 ..= 2^31-1).
    pub chunk_size: u32,
    /// Which chunk header types the writer uses.
    pub compression: HeaderCompression,
    /// The chunk streams of commands, data, audio and video.
    pub chunk_streams: ChunkStreams,
    /// Added (wrapping) to every audio and video timestamp.
    pub timestamp_offset: u32,
    /// C1's time field (§5.2.3).
    pub c1_time: u32,
    /// C1's "zero" field; 0 asks for the simple handshake (§5.2.3).
    pub c1_version: u32,
    /// Seed of C1's random bytes.
    pub seed: u64,
}

impl Config {
    /// A publisher of `app` at `tc_url`, with a 4096-byte chunk size and the smallest headers.
    pub fn new(app: impl Into<String>, tc_url: impl Into<String>) -> Config {
        Config {
            app: app.into(),
            tc_url: tc_url.into(),
            flash_ver: "FMLE/3.0 (compatible; rapidrtmp-load)".into(),
            connect_type: "nonprivate".into(),
            fourcc_list: None,
            chunk_size: 4096,
            compression: HeaderCompression::Smallest,
            chunk_streams: ChunkStreams::ONE_BYTE,
            timestamp_offset: 0,
            c1_time: 0,
            c1_version: 0,
            seed: 0x5eed,
        }
    }

    /// `connect`'s command object.
    pub fn connect_object(&self) -> Value {
        let mut props = vec![
            ("app".to_string(), Value::string(&self.app)),
            ("type".to_string(), Value::string(&self.connect_type)),
            ("flashVer".to_string(), Value::string(&self.flash_ver)),
            ("tcUrl".to_string(), Value::string(&self.tc_url)),
        ];
        if let Some(list) = &self.fourcc_list {
            props.push(("fourCcList".into(), Value::StrictArray(list.iter().map(Value::string).collect())));
        }
        Value::Object(props)
    }
}

/// The payload of an AMF0 command message (§7.1.1): name, transaction id, then `args`.
pub fn command_payload(name: &str, transaction: f64, args: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    amf0::encode(&Value::string(name), &mut out);
    amf0::encode(&Value::Number(transaction), &mut out);
    amf0::encode_all(args, &mut out);
    out
}

/// The client side of one RTMP connection, sans IO: [`Session::feed`] it the server's bytes,
/// send what [`Session::take_output`] gives, read what happened from [`Session::next_event`].
#[derive(Debug)]
pub struct Session {
    config: Config,
    writer: ChunkWriter,
    reader: ChunkReader,
    out: Vec<u8>,
    /// The server's handshake bytes so far; `None` once the handshake is done.
    handshake: Option<Vec<u8>>,
    events: VecDeque<Event>,
    next_transaction: f64,
    connect_transaction: Option<f64>,
    /// The properties object of the server's `connect` `_result` (`fmsVer`, Enhanced RTMP's
    /// `fourCcList`, …).
    server_properties: Option<Value>,
    create_transaction: Option<f64>,
    publish_requested: bool,
    stream_id: Option<u32>,
    bytes_received: u64,
    acknowledged: u64,
    /// The server's Window Acknowledgement Size.
    ack_window: Option<u32>,
    /// The Window Acknowledgement Size this client last sent.
    sent_window: Option<u32>,
}

impl Session {
    /// A session that has queued C0 and C1.
    pub fn new(config: Config) -> Session {
        let mut writer = ChunkWriter::new();
        writer.set_compression(config.compression);
        let out = handshake::c0_c1(config.c1_time, config.c1_version, config.seed);
        Session {
            config,
            writer,
            reader: ChunkReader::new(),
            out,
            handshake: Some(Vec::with_capacity(handshake::SERVER_REPLY_SIZE)),
            events: VecDeque::new(),
            next_transaction: 2.0,
            connect_transaction: None,
            server_properties: None,
            create_transaction: None,
            publish_requested: false,
            stream_id: None,
            bytes_received: 0,
            acknowledged: 0,
            ack_window: None,
            sent_window: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether S0 S1 S2 have arrived.
    pub fn handshake_done(&self) -> bool {
        self.handshake.is_none()
    }

    /// The message stream `createStream` gave.
    pub fn stream_id(&self) -> Option<u32> {
        self.stream_id
    }

    /// Bytes the server has sent.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// The chunk writer, for tests that cut a message by hand ([`ChunkWriter::begin`]).
    pub fn writer_mut(&mut self) -> &mut ChunkWriter {
        &mut self.writer
    }

    /// Bytes waiting to be sent.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Takes the bytes waiting to be sent.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Forgets the bytes waiting to be sent (after writing [`Session::output`]), keeping the
    /// buffer for the next ones.
    pub fn clear_output(&mut self) {
        self.out.clear();
    }

    /// Queues `bytes` as they are (raw mode, for tests of hostile peers).
    pub fn push_raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// The next thing the server said or did.
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Feeds bytes from the server: handshake, then chunks; queues the replies it calls for.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), Error> {
        self.bytes_received += input.len() as u64;
        if let Some(hs) = &mut self.handshake {
            hs.extend_from_slice(input);
            let Some(c2) = handshake::c2(hs) else { return Ok(()) };
            self.out.extend_from_slice(&c2?);
            let rest = hs.split_off(handshake::SERVER_REPLY_SIZE);
            self.handshake = None;
            self.events.push_back(Event::HandshakeDone);
            self.reader.push(&rest);
        } else {
            self.reader.push(input);
        }
        while let Some(m) = self.reader.next_message()? {
            self.handle(m)?;
        }
        if let Some(window) = self.ack_window.filter(|&w| w > 0) {
            if self.bytes_received - self.acknowledged >= u64::from(window) {
                self.acknowledged = self.bytes_received;
                // The sequence number is the byte count modulo 2^32 (§5.4.3).
                let sequence = (self.bytes_received % (1 << 32)) as u32;
                self.control(type_id::ACKNOWLEDGEMENT, &message::acknowledgement(sequence))?;
            }
        }
        Ok(())
    }

    fn handle(&mut self, m: Message) -> Result<(), Error> {
        let value = message::read_u32(&m.payload).unwrap_or(0);
        let event = match m.header.type_id {
            type_id::SET_CHUNK_SIZE => {
                let size = value & 0x7FFF_FFFF;
                self.reader.set_chunk_size(size)?;
                Event::ChunkSize(size)
            }
            type_id::ABORT => {
                self.reader.abort(value);
                Event::Abort(value)
            }
            type_id::ACKNOWLEDGEMENT => Event::Acknowledgement(value),
            type_id::WINDOW_ACK_SIZE => {
                self.ack_window = Some(value);
                Event::WindowAckSize(value)
            }
            type_id::SET_PEER_BANDWIDTH => {
                // §5.4.5: answer with a Window Acknowledgement Size if it differs from the last sent.
                if self.sent_window != Some(value) {
                    self.sent_window = Some(value);
                    self.control(type_id::WINDOW_ACK_SIZE, &message::window_ack_size(value))?;
                }
                Event::PeerBandwidth(value, m.payload.get(4).copied().unwrap_or(0))
            }
            type_id::USER_CONTROL => {
                let event = m.payload.get(..2).map_or(u16::MAX, |b| u16::from_be_bytes([b[0], b[1]]));
                let data = m.payload.get(2..).unwrap_or_default().to_vec();
                if event == user_control::PING_REQUEST {
                    let pong = message::user_control_event(user_control::PING_RESPONSE, &data);
                    self.control(type_id::USER_CONTROL, &pong)?;
                }
                Event::UserControl(event, data)
            }
            type_id::COMMAND_AMF0 => self.command(&amf0::decode_all(&m.payload)?),
            // An AMF3 command starts with a zero byte, then AMF0 values (§7.1.1).
            type_id::COMMAND_AMF3 => self.command(&amf0::decode_all(m.payload.get(1..).unwrap_or_default())?),
            type_id::DATA_AMF0 => Event::Data(amf0::decode_all(&m.payload)?),
            _ => Event::Other(m),
        };
        self.events.push_back(event);
        Ok(())
    }

    /// Interprets a command from the server.
    fn command(&mut self, values: &[Value]) -> Event {
        let name = values.first().and_then(Value::as_str).unwrap_or_default().to_string();
        let transaction = values.get(1).and_then(Value::as_number).unwrap_or(0.0);
        let rest = values.get(2..).unwrap_or_default().to_vec();
        let status = || Status::find(&rest).unwrap_or_default();
        match name.as_str() {
            "_result" | "_error" => {
                let success = name == "_result";
                if Some(transaction) == self.connect_transaction {
                    self.connect_transaction = None;
                    if success {
                        self.server_properties = rest.first().cloned();
                        return Event::Connected(rest.last().cloned().unwrap_or(Value::Null));
                    }
                    return Event::Refused { command: "connect", status: status() };
                }
                if Some(transaction) == self.create_transaction {
                    self.create_transaction = None;
                    let id = rest.iter().rev().find_map(Value::as_number);
                    return match id {
                        Some(id) if success && (0.0..=f64::from(u32::MAX)).contains(&id) => {
                            self.stream_id = Some(id as u32);
                            Event::StreamCreated(id as u32)
                        }
                        _ => Event::Refused { command: "createStream", status: status() },
                    };
                }
                if !success && self.publish_requested {
                    return Event::Refused { command: "publish", status: status() };
                }
                Event::Reply { success, transaction, values: rest }
            }
            "onStatus" => {
                let s = status();
                if self.publish_requested && s.code == "NetStream.Publish.Start" {
                    return Event::PublishStarted(s);
                }
                if self.publish_requested && s.level == "error" {
                    return Event::Refused { command: "publish", status: s };
                }
                Event::Status(s)
            }
            _ => Event::Command { name, values: values.get(1..).unwrap_or_default().to_vec() },
        }
    }

    /// Queues a protocol control message (chunk stream 2, message stream 0; §5.4).
    fn control(&mut self, type_id: u8, payload: &[u8]) -> Result<(), Error> {
        let header = MessageHeader { type_id, stream_id: 0, timestamp: 0 };
        self.writer.write(CONTROL_CHUNK_STREAM, header, payload, &mut self.out)?;
        Ok(())
    }

    /// Queues any message.
    pub fn send_message(&mut self, chunk_stream_id: u32, header: MessageHeader, payload: &[u8]) -> Result<(), Error> {
        self.writer.write(chunk_stream_id, header, payload, &mut self.out)?;
        Ok(())
    }

    /// Announces a new outbound chunk size (Set Chunk Size, §5.4.1) and cuts by it from now on.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), Error> {
        if !(1..=chunk::MAX_CHUNK_SIZE).contains(&size) {
            return Err(chunk::Error::ChunkSize(size).into());
        }
        self.control(type_id::SET_CHUNK_SIZE, &message::set_chunk_size(size))?;
        self.writer.set_chunk_size(size)?;
        Ok(())
    }

    fn transaction(&mut self) -> f64 {
        let t = self.next_transaction;
        self.next_transaction += 1.0;
        t
    }

    /// Queues a command message on the command chunk stream; returns its transaction id.
    pub fn send_command(&mut self, name: &str, transaction: f64, stream_id: u32, args: &[Value]) -> Result<f64, Error> {
        let payload = command_payload(name, transaction, args);
        let csid = self.config.chunk_streams.command;
        self.send_message(csid, MessageHeader { type_id: type_id::COMMAND_AMF0, stream_id, timestamp: 0 }, &payload)?;
        Ok(transaction)
    }

    /// The properties object of the server's `connect` `_result`, once it came.
    pub fn server_properties(&self) -> Option<&Value> {
        self.server_properties.as_ref()
    }

    /// The arguments of `connect` after its transaction id: the command object.
    pub fn connect_args(&self) -> Vec<Value> {
        vec![self.config.connect_object()]
    }

    /// Queues Set Chunk Size (unless the chunk size is the default) and `connect` (§7.2.1.1,
    /// transaction id 1). [`Event::Connected`] or [`Event::Refused`] answers it.
    pub fn connect(&mut self) -> Result<(), Error> {
        if self.config.chunk_size != DEFAULT_CHUNK_SIZE {
            self.set_chunk_size(self.config.chunk_size)?;
        }
        let args = self.connect_args();
        self.connect_transaction = Some(self.send_command("connect", 1.0, 0, &args)?);
        Ok(())
    }

    /// Queues `releaseStream` (FMLE and OBS send it before publishing).
    pub fn release_stream(&mut self, name: &str) -> Result<(), Error> {
        let t = self.transaction();
        self.send_command("releaseStream", t, 0, &[Value::Null, Value::string(name)])?;
        Ok(())
    }

    /// Queues `FCPublish` (FMLE and OBS).
    pub fn fc_publish(&mut self, name: &str) -> Result<(), Error> {
        let t = self.transaction();
        self.send_command("FCPublish", t, 0, &[Value::Null, Value::string(name)])?;
        Ok(())
    }

    /// Queues `createStream` (§7.2.1.3); [`Event::StreamCreated`] answers it.
    pub fn create_stream(&mut self) -> Result<(), Error> {
        let t = self.transaction();
        self.create_transaction = Some(self.send_command("createStream", t, 0, &[Value::Null])?);
        Ok(())
    }

    /// Queues `publish` of `name` of type `kind` (`live`) on the created stream (§7.2.2.6,
    /// transaction id 0); [`Event::PublishStarted`] or [`Event::Refused`] answers it.
    pub fn publish(&mut self, name: &str, kind: &str) -> Result<(), Error> {
        let id = self.stream_id.ok_or(Error::Usage("publish before createStream answered"))?;
        self.send_command("publish", 0.0, id, &[Value::Null, Value::string(name), Value::string(kind)])?;
        self.publish_requested = true;
        Ok(())
    }

    /// Queues `@setDataFrame("onMetaData", metadata)`, a data message on the stream (§7.1.2).
    pub fn set_data_frame(&mut self, metadata: &Value) -> Result<(), Error> {
        let id = self.stream_id.ok_or(Error::Usage("@setDataFrame before createStream answered"))?;
        let mut payload = Vec::new();
        amf0::encode_all(
            &[Value::string("@setDataFrame"), Value::string("onMetaData"), metadata.clone()],
            &mut payload,
        );
        let csid = self.config.chunk_streams.data;
        self.send_message(csid, MessageHeader { type_id: type_id::DATA_AMF0, stream_id: id, timestamp: 0 }, &payload)
    }

    /// Queues `FCUnpublish` (FMLE and OBS).
    pub fn fc_unpublish(&mut self, name: &str) -> Result<(), Error> {
        let t = self.transaction();
        self.send_command("FCUnpublish", t, 0, &[Value::Null, Value::string(name)])?;
        Ok(())
    }

    /// Queues `deleteStream` of the created stream (§7.2.2.3, transaction id 0).
    pub fn delete_stream(&mut self) -> Result<(), Error> {
        let id = self.stream_id.ok_or(Error::Usage("deleteStream before createStream answered"))?;
        self.send_command("deleteStream", 0.0, 0, &[Value::Null, Value::Number(f64::from(id))])?;
        self.publish_requested = false;
        Ok(())
    }

    /// The wire timestamp of media time `ms`: the offset added, the low 32 bits kept.
    pub fn wire_timestamp(&self, ms: u32) -> u32 {
        self.config.timestamp_offset.wrapping_add(ms)
    }

    fn media_header(&self, type_id: u8, ms: u32) -> Result<MessageHeader, Error> {
        let stream_id = self.stream_id.ok_or(Error::Usage("media before createStream answered"))?;
        Ok(MessageHeader { type_id, stream_id, timestamp: self.wire_timestamp(ms) })
    }

    /// Queues an audio message (§7.1.4): an FLV audio tag body at media time `ms`.
    pub fn audio(&mut self, ms: u32, body: &[u8]) -> Result<(), Error> {
        let header = self.media_header(type_id::AUDIO, ms)?;
        self.send_message(self.config.chunk_streams.audio, header, body)
    }

    /// Queues a video message (§7.1.5): an FLV video tag body at media time `ms`.
    pub fn video(&mut self, ms: u32, body: &[u8]) -> Result<(), Error> {
        let header = self.media_header(type_id::VIDEO, ms)?;
        self.send_message(self.config.chunk_streams.video, header, body)
    }

    /// Queues a video message with whole audio messages between its chunks (interleaving,
    /// §5.3.1): video chunk, audio message, video chunk, audio message, …; audio messages left
    /// when the video's chunks are out follow it.
    pub fn video_interleaved(&mut self, ms: u32, body: &[u8], audio: &[(u32, &[u8])]) -> Result<(), Error> {
        let header = self.media_header(type_id::VIDEO, ms)?;
        let mut chunks = self.writer.begin(self.config.chunk_streams.video, header, body)?;
        let mut audio = audio.iter();
        while chunks.write_next(&mut self.out) {
            if chunks.is_done() {
                break;
            }
            if let Some((t, a)) = audio.next() {
                self.audio(*t, a)?;
            }
        }
        for (t, a) in audio {
            self.audio(*t, a)?;
        }
        Ok(())
    }
}

/// How long a blocking read waits at most before it checks the deadline again.
const READ_SLICE: Duration = Duration::from_millis(200);

/// A blocking RTMP publisher over a TCP socket (tests and tools; the load generator drives a
/// [`Session`] over tokio instead).
#[derive(Debug)]
pub struct Client {
    socket: TcpStream,
    session: Session,
    opened: Instant,
    buf: Vec<u8>,
    /// Every event seen, in order.
    seen: Vec<Event>,
    closed: bool,
}

impl Client {
    /// Opens a TCP connection to `server` and runs the handshake.
    pub fn open(server: SocketAddr, config: Config, timeout: Duration) -> Result<Client, Error> {
        let socket = TcpStream::connect_timeout(&server, timeout)?;
        Client::handshake(socket, config, timeout)
    }

    /// [`Client::open`] from a chosen local address (e.g. 127.0.0.2, to be another host).
    pub fn open_from(local: IpAddr, server: SocketAddr, config: Config, timeout: Duration) -> Result<Client, Error> {
        Client::handshake(connect_from(local, server, timeout)?, config, timeout)
    }

    /// Runs the handshake on a connected socket.
    pub fn handshake(socket: TcpStream, config: Config, timeout: Duration) -> Result<Client, Error> {
        let mut client = Client::start(socket, config)?;
        client.flush()?;
        client.wait_for("handshake reply", timeout, |e| matches!(e, Event::HandshakeDone).then_some(Ok(())))?;
        client.flush()?;
        Ok(client)
    }

    /// A client on a connected socket that has sent nothing yet (C0 and C1 are queued).
    pub fn start(socket: TcpStream, config: Config) -> Result<Client, Error> {
        socket.set_nodelay(true)?;
        Ok(Client {
            socket,
            session: Session::new(config),
            opened: Instant::now(),
            buf: vec![0; 64 << 10],
            seen: Vec::new(),
            closed: false,
        })
    }

    /// When the TCP connection was made (about when the server accepted it).
    pub fn opened(&self) -> Instant {
        self.opened
    }

    /// The session, to queue messages by hand; [`Client::flush`] sends them.
    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// The socket.
    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// Every event seen so far.
    pub fn seen(&self) -> &[Event] {
        &self.seen
    }

    /// Whether the server has closed the connection (as far as reads have shown).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Writes bytes as they are (after whatever the session has queued).
    pub fn write_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.session.push_raw(bytes);
        self.flush()
    }

    /// Sends what the session has queued, after handling what the server has sent meanwhile
    /// (acknowledgements and pings are answered in the same write).
    pub fn flush(&mut self) -> Result<(), Error> {
        self.read_available()?;
        let out = self.session.take_output();
        if !out.is_empty() {
            self.socket.write_all(&out)?;
        }
        Ok(())
    }

    /// Reads what the server has sent without waiting.
    fn read_available(&mut self) -> Result<(), Error> {
        if self.closed {
            return Ok(());
        }
        self.socket.set_nonblocking(true)?;
        let result = loop {
            match self.socket.read(&mut self.buf) {
                Ok(0) => {
                    self.closed = true;
                    break Ok(());
                }
                Ok(n) => {
                    if let Err(e) = self.session.feed(&self.buf[..n]) {
                        break Err(e);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => break Err(e.into()),
            }
        };
        self.socket.set_nonblocking(false)?;
        result
    }

    /// Reads until `pick` returns `Some` for an event (events before it are kept in
    /// [`Client::seen`]); replies the session queues are sent as it goes.
    pub fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pick: impl FnMut(&Event) -> Option<Result<T, Error>>,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(e) = self.session.next_event() {
                let picked = pick(&e);
                self.seen.push(e);
                if let Some(r) = picked {
                    return r;
                }
            }
            let out = self.session.take_output();
            if !out.is_empty() {
                self.socket.write_all(&out)?;
            }
            if self.closed {
                return Err(Error::Closed(format!("while waiting for {what}")));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout(what.to_string(), timeout));
            }
            self.socket.set_read_timeout(Some(left.min(READ_SLICE)))?;
            match self.socket.read(&mut self.buf) {
                Ok(0) => self.closed = true,
                Ok(n) => self.session.feed(&self.buf[..n])?,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => self.closed = true,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads everything until the server closes the connection; `true` if it did within
    /// `timeout`. A reset counts as closed. What arrives is handled as long as it parses
    /// (events go to [`Client::seen`]), then only read.
    pub fn wait_closed(&mut self, timeout: Duration) -> Result<bool, Error> {
        let deadline = Instant::now() + timeout;
        let mut parsing = true;
        loop {
            while let Some(e) = self.session.next_event() {
                self.seen.push(e);
            }
            let out = self.session.take_output();
            if !out.is_empty() {
                // A write fails when the server is closing: the read below tells.
                let _ = self.socket.write_all(&out);
            }
            if self.closed {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            self.socket.set_read_timeout(Some(left.min(READ_SLICE)))?;
            match self.socket.read(&mut self.buf) {
                Ok(0) => self.closed = true,
                Ok(n) => {
                    if parsing && self.session.feed(&self.buf[..n]).is_err() {
                        parsing = false;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(_) => self.closed = true,
            }
        }
    }

    /// `connect` (after Set Chunk Size); waits for `_result` (`NetConnection.Connect.Success`).
    /// Returns the information object.
    pub fn connect(&mut self, timeout: Duration) -> Result<Value, Error> {
        self.session.connect()?;
        self.flush()?;
        self.wait_for("connect result", timeout, |e| match e {
            Event::Connected(info) => Some(Ok(info.clone())),
            Event::Refused { command, status } => Some(Err(Error::Refused { command, status: status.clone() })),
            _ => None,
        })
    }

    /// The publish sequence of OBS: `releaseStream`, `FCPublish`, `createStream`, then, on its
    /// result, `publish(name, "live")`; waits for `NetStream.Publish.Start`.
    pub fn publish(&mut self, name: &str, timeout: Duration) -> Result<(), Error> {
        self.session.release_stream(name)?;
        self.session.fc_publish(name)?;
        self.session.create_stream()?;
        self.flush()?;
        self.wait_for("createStream result", timeout, |e| match e {
            Event::StreamCreated(_) => Some(Ok(())),
            Event::Refused { command, status } => Some(Err(Error::Refused { command, status: status.clone() })),
            _ => None,
        })?;
        self.session.publish(name, "live")?;
        self.flush()?;
        self.wait_for("NetStream.Publish.Start", timeout, |e| match e {
            Event::PublishStarted(_) => Some(Ok(())),
            Event::Refused { command, status } => Some(Err(Error::Refused { command, status: status.clone() })),
            _ => None,
        })
    }

    /// Sends `@setDataFrame onMetaData`.
    pub fn set_data_frame(&mut self, metadata: &Value) -> Result<(), Error> {
        self.session.set_data_frame(metadata)?;
        self.flush()
    }

    /// Sends an audio message (FLV audio tag body) at media time `ms`.
    pub fn audio(&mut self, ms: u32, body: &[u8]) -> Result<(), Error> {
        self.session.audio(ms, body)?;
        self.flush()
    }

    /// Sends a video message (FLV video tag body) at media time `ms`.
    pub fn video(&mut self, ms: u32, body: &[u8]) -> Result<(), Error> {
        self.session.video(ms, body)?;
        self.flush()
    }

    /// Sends a video message with whole audio messages between its chunks
    /// ([`Session::video_interleaved`]).
    pub fn video_interleaved(&mut self, ms: u32, body: &[u8], audio: &[(u32, &[u8])]) -> Result<(), Error> {
        self.session.video_interleaved(ms, body, audio)?;
        self.flush()
    }

    /// `FCUnpublish` and `deleteStream`, then a half-close: the polite end of a publish.
    pub fn unpublish(&mut self, name: &str) -> Result<(), Error> {
        self.session.fc_unpublish(name)?;
        self.session.delete_stream()?;
        self.flush()?;
        let _ = self.socket.shutdown(std::net::Shutdown::Write);
        Ok(())
    }
}

/// A TCP connection from `local` (port chosen by the system) to `server`.
pub fn connect_from(local: IpAddr, server: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(server), Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(local, 0).into())?;
    socket.connect_timeout(&server.into(), timeout)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays the server: its messages, chunked by a writer of its own.
    struct Server {
        writer: ChunkWriter,
        reader: ChunkReader,
    }

    impl Server {
        fn send(&mut self, session: &mut Session, type_id: u8, stream_id: u32, payload: &[u8]) {
            let mut out = Vec::new();
            let header = MessageHeader { type_id, stream_id, timestamp: 0 };
            self.writer.write(3, header, payload, &mut out).unwrap();
            session.feed(&out).unwrap();
        }

        fn command(&mut self, session: &mut Session, name: &str, transaction: f64, args: &[Value]) {
            self.send(session, type_id::COMMAND_AMF0, 0, &command_payload(name, transaction, args));
        }

        /// The messages the session has sent since the last call.
        fn received(&mut self, session: &mut Session) -> Vec<Message> {
            self.reader.push(&session.take_output());
            let mut out = Vec::new();
            while let Some(m) = self.reader.next_message().unwrap() {
                if m.header.type_id == type_id::SET_CHUNK_SIZE {
                    self.reader.set_chunk_size(message::read_u32(&m.payload).unwrap()).unwrap();
                }
                out.push(m);
            }
            out
        }
    }

    fn status(code: &str, level: &str) -> Value {
        Value::object([("level", Value::string(level)), ("code", Value::string(code))])
    }

    fn names(messages: &[Message]) -> Vec<String> {
        messages
            .iter()
            .map(|m| match m.header.type_id {
                type_id::COMMAND_AMF0 => amf0::decode_all(&m.payload).unwrap()[0].as_str().unwrap().to_string(),
                t => format!("type {t}"),
            })
            .collect()
    }

    #[test]
    fn a_publish_from_handshake_to_publish_start() {
        let mut session = Session::new(Config::new("live", "rtmp://h/live"));
        let c0c1 = session.take_output();
        assert_eq!((c0c1.len(), c0c1[0]), (1537, 3));
        // S0 S1 S2 in two reads: C2 is the echo of S1.
        let mut s = vec![3u8];
        s.extend((0..3072).map(|i| (i * 7) as u8));
        session.feed(&s[..2000]).unwrap();
        assert!(!session.handshake_done() && session.output().is_empty());
        session.feed(&s[2000..]).unwrap();
        assert_eq!(session.next_event(), Some(Event::HandshakeDone));
        assert_eq!(session.take_output(), s[1..1537]);

        let mut server = Server { writer: ChunkWriter::new(), reader: ChunkReader::new() };
        session.connect().unwrap();
        assert_eq!(names(&server.received(&mut session)), ["type 1", "connect"]);
        server.command(&mut session, "_result", 1.0, &[Value::Null, status("NetConnection.Connect.Success", "status")]);
        assert!(matches!(session.next_event(), Some(Event::Connected(_))));

        session.release_stream("cam").unwrap();
        session.fc_publish("cam").unwrap();
        session.create_stream().unwrap();
        assert_eq!(names(&server.received(&mut session)), ["releaseStream", "FCPublish", "createStream"]);
        server.command(&mut session, "_result", 4.0, &[Value::Null, Value::Number(1.0)]);
        assert_eq!(session.next_event(), Some(Event::StreamCreated(1)));

        session.publish("cam", "live").unwrap();
        let sent = server.received(&mut session);
        assert_eq!((names(&sent), sent[0].header.stream_id), (vec!["publish".to_string()], 1));
        server.command(&mut session, "onStatus", 0.0, &[Value::Null, status("NetStream.Publish.Start", "status")]);
        assert!(matches!(session.next_event(), Some(Event::PublishStarted(_))));

        session.video(40, &[0x17, 1, 0, 0, 0]).unwrap();
        let media = server.received(&mut session);
        assert_eq!((media[0].header.type_id, media[0].header.timestamp), (type_id::VIDEO, 40));
    }

    #[test]
    fn refusals_acknowledgements_and_pings() {
        let mut config = Config::new("live", "rtmp://h/live");
        config.timestamp_offset = u32::MAX - 9;
        let mut session = Session::new(config);
        let mut s = vec![3u8];
        s.extend([0u8; 3072]);
        session.feed(&s).unwrap();
        session.take_output();
        let mut server = Server { writer: ChunkWriter::new(), reader: ChunkReader::new() };

        // Window Acknowledgement Size: an Acknowledgement once that many bytes have come.
        server.send(&mut session, type_id::WINDOW_ACK_SIZE, 0, &message::window_ack_size(4000));
        assert!(server.received(&mut session).is_empty());
        server.command(&mut session, "onBWDone", 0.0, &[Value::Null, Value::string("x".repeat(1000))]);
        let acks = server.received(&mut session);
        assert_eq!(acks.len(), 1);
        assert_eq!(acks[0].header.type_id, type_id::ACKNOWLEDGEMENT);
        assert_eq!(message::read_u32(&acks[0].payload), Some(session.bytes_received() as u32));

        // A ping is answered with its data; Set Peer Bandwidth with a Window Acknowledgement Size.
        server.send(&mut session, type_id::USER_CONTROL, 0, &message::user_control_event(6, &[0, 0, 1, 2]));
        server.send(&mut session, type_id::SET_PEER_BANDWIDTH, 0, &message::set_peer_bandwidth(5_000_000, 2));
        let replies = server.received(&mut session);
        assert_eq!(replies[0].payload, [0, 7, 0, 0, 1, 2]);
        assert_eq!((replies[1].header.type_id, &replies[1].payload[..]), (5, &5_000_000u32.to_be_bytes()[..]));

        // A refused connect and a refused publish say why.
        session.connect().unwrap();
        let info = Value::object([
            ("level", Value::string("error")),
            ("code", Value::string("NetConnection.Connect.Rejected")),
            ("description", Value::string("unknown application")),
        ]);
        server.command(&mut session, "_error", 1.0, &[Value::Null, info]);
        while let Some(e) = session.next_event() {
            if let Event::Refused { command, status } = e {
                assert_eq!(command, "connect");
                assert_eq!(status.to_string(), "NetConnection.Connect.Rejected: unknown application");
            }
        }
        assert_eq!(session.wire_timestamp(20), 10, "the offset wraps at 2^32");
        assert!(matches!(session.publish("cam", "live"), Err(Error::Usage(_))));
    }
}

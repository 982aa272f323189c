//! The client session: publishes one stream to an RTMP server (a restream destination). Bytes
//! in, [`ClientEvent`]s and bytes out, like [`crate::ServerSession`]; no socket, clock or
//! randomness inside (the caller passes a seed).
//!
//! The way it goes (RTMP 1.0 §5.2, §7.2.1.1, §7.2.2.6, as FFmpeg and OBS publish): C0+C1,
//! S0+S1+S2 in, C2; Set Chunk Size and `connect` (with Enhanced RTMP v2's `fourCcList` when the
//! caller offers FourCCs); on `_result`, [`ClientEvent::Connected`] with what the answer says
//! the destination takes, then `releaseStream`, `FCPublish` and `createStream`; on its
//! `_result`, `publish(name, "live")`; on `onStatus` `NetStream.Publish.Start`,
//! [`ClientEvent::Publishing`], after which [`ClientSession::send`] writes FLV tag bodies as
//! messages. An `_error` or an `onStatus` at level `error` is [`ClientEvent::Refused`].
//! Acknowledgements, pings and Set Chunk Size from the destination are answered or applied
//! along the way.

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};

use bytes::{Bytes, BytesMut};
use rapidrtmp_core::flv::{Amf0Value, TagKind};

use crate::chunk::encoder::ChunkEncoder;
use crate::chunk::ChunkDecoder;
use crate::command::{self, string_property, Command};
use crate::control;
use crate::handshake::{ClientHandshake, Random};
use crate::limits::{Limit, MAX_ANSWER_FOURCCS, MAX_OUTPUT_BYTES, MAX_STATUS_TEXT};
use crate::message::{self, AckWindow, Message, MessageType};
use crate::session::{amf3_body, u32_number, Connect, COMMAND_CHUNK_STREAM, CONTROL_CHUNK_STREAM};
use crate::Error;

/// Chunk stream of the audio we send.
const AUDIO_CHUNK_STREAM: u32 = 4;
/// Chunk stream of the script data (`onMetaData`) we send.
const DATA_CHUNK_STREAM: u32 = 5;
/// Chunk stream of the video we send.
const VIDEO_CHUNK_STREAM: u32 = 6;
/// The largest message body RTMP can carry: its length field has 3 bytes (§5.3.1.2.1).
const MAX_SEND_SIZE: usize = 0xFF_FFFF;

/// Transaction ids of our commands (§7.2.1): one each, so an answer names its question.
mod transaction {
    pub const CONNECT: f64 = 1.0;
    pub const RELEASE_STREAM: f64 = 2.0;
    pub const FC_PUBLISH: f64 = 3.0;
    pub const CREATE_STREAM: f64 = 4.0;
    pub const PUBLISH: f64 = 5.0;
}

/// Settings of a client session.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `app` of `connect`, e.g. `live2` (with any `?query` the destination URL had there).
    pub app: String,
    /// `tcUrl` of `connect`: the URL without the stream name, e.g. `rtmp://host/live2`.
    pub tc_url: String,
    /// The stream name `publish` sends (the destination's stream key).
    pub stream_name: String,
    /// `flashVer` of `connect`, e.g. `FMLE/3.0 (compatible; RapidRTMP)`.
    pub flash_ver: String,
    /// FourCCs offered in `connect`'s `fourCcList` (Enhanced RTMP); none: a legacy `connect`.
    pub fourccs: Vec<String>,
    /// Chunk size of what we send, announced with Set Chunk Size before `connect`.
    pub chunk_size: u32,
    /// Our acknowledgement window until the destination announces one (§5.4.4).
    pub window_ack_size: u32,
}

/// What a destination's `connect` answer says about Enhanced RTMP (v1 `fourCcList`, v2
/// `videoFourCcInfoMap`, `audioFourCcInfoMap`, `capsEx`), read from its command object or its
/// information object; each list holds at most [`MAX_ANSWER_FOURCCS`] entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectAnswer {
    /// `fourCcList`: the FourCCs the destination takes (`*` for any).
    pub fourcc_list: Vec<String>,
    /// `videoFourCcInfoMap`: FourCC → [`crate::session::fourcc_info`] bits.
    pub video_fourcc_info: Vec<(String, u32)>,
    /// `audioFourCcInfoMap`.
    pub audio_fourcc_info: Vec<(String, u32)>,
    /// `capsEx`.
    pub caps_ex: Option<u32>,
}

impl ConnectAnswer {
    fn from_connect(mut c: Connect) -> Self {
        c.fourcc_list.truncate(MAX_ANSWER_FOURCCS);
        c.video_fourcc_info.truncate(MAX_ANSWER_FOURCCS);
        c.audio_fourcc_info.truncate(MAX_ANSWER_FOURCCS);
        Self {
            fourcc_list: c.fourcc_list,
            video_fourcc_info: c.video_fourcc_info,
            audio_fourcc_info: c.audio_fourcc_info,
            caps_ex: c.caps_ex,
        }
    }

    /// Whether the destination answered as an Enhanced RTMP server.
    pub fn is_enhanced(&self) -> bool {
        !self.fourcc_list.is_empty()
            || !self.video_fourcc_info.is_empty()
            || !self.audio_fourcc_info.is_empty()
            || self.caps_ex.is_some()
    }

    /// Whether the destination takes `fourcc` (e.g. `hvc1`): listed in `fourCcList`, or with
    /// any capability bit in an info map; `*` stands for every FourCC.
    pub fn takes(&self, fourcc: &str) -> bool {
        let named = |c: &str| c == fourcc || c == "*";
        self.fourcc_list.iter().any(|c| named(c))
            || self.video_fourcc_info.iter().chain(&self.audio_fourcc_info).any(|(c, bits)| named(c) && *bits != 0)
    }
}

/// What the client session hands its caller.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The destination accepted `connect`; what its answer says it takes.
    Connected(ConnectAnswer),
    /// The destination accepted `publish` (`NetStream.Publish.Start`): [`ClientSession::send`]
    /// may now send media.
    Publishing,
    /// The destination refused (`_error`, or `onStatus` at level `error`, such as
    /// `NetStream.Publish.BadName`); the session is over, and the caller closes the connection.
    Refused {
        /// The information object's `code`, e.g. `NetConnection.Connect.Rejected`.
        code: String,
        /// Its `description`, as the destination wrote it.
        description: String,
    },
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Handshake under way.
    Handshake,
    /// `connect` sent.
    Connecting,
    /// `createStream` sent.
    CreatingStream,
    /// `publish` sent.
    Publishing,
    /// `NetStream.Publish.Start` received.
    Live,
    /// Refused: nothing more is read or sent.
    Refused,
}

/// A sans-IO RTMP client session that publishes one stream.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    handshake: ClientHandshake,
    random: Random,
    chunks: ChunkDecoder,
    encoder: ChunkEncoder,
    out: BytesMut,
    /// Bytes of replies (not media) written since the caller last took the output.
    replies_unsent: usize,
    events: VecDeque<ClientEvent>,
    stage: Stage,
    stream_id: u32,
    window: AckWindow,
}

impl ClientSession {
    /// A session whose C0 and C1 wait in [`Self::take_output`]; `seed` makes C1 and C2.
    pub fn new(config: ClientConfig, seed: [u8; 32]) -> Self {
        let mut random = Random::new(seed);
        let mut out = BytesMut::new();
        let handshake = ClientHandshake::start(&mut out, &mut random);
        Self {
            window: AckWindow::new(config.window_ack_size),
            config,
            handshake,
            random,
            chunks: ChunkDecoder::new(),
            encoder: ChunkEncoder::default(),
            out,
            replies_unsent: 0,
            events: VecDeque::new(),
            stage: Stage::Handshake,
            stream_id: 0,
        }
    }

    /// Reads what it can of `input` (whole handshake packets and chunks only) and returns the
    /// next event; `Ok(None)` when it needs more bytes. What to send waits in
    /// [`Self::take_output`].
    pub fn poll(&mut self, input: &mut BytesMut) -> Result<Option<ClientEvent>, Error> {
        if let Some(e) = self.events.pop_front() {
            return Ok(Some(e));
        }
        if self.stage == Stage::Refused {
            return Ok(None);
        }
        if !self.handshake.done() {
            let before = self.out.len();
            self.handshake.advance(input, &mut self.out, &mut self.random)?;
            self.replies_unsent += self.out.len() - before;
            if !self.handshake.done() {
                return Ok(None);
            }
            self.connect();
        }
        loop {
            let before = input.len();
            let message = self.chunks.next_message(input);
            if let Some(sequence) = self.window.count(before - input.len()) {
                self.control(MessageType::Acknowledgement, &message::u32_body(sequence));
            }
            let Some(message) = message? else { return Ok(None) };
            self.handle(message)?;
            if self.replies_unsent > MAX_OUTPUT_BYTES {
                return Err(Error::limit(
                    Limit::OutputBytes,
                    format!("{} bytes of replies unsent", self.replies_unsent),
                ));
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

    /// Bytes to send, if any: handshake, commands, replies and media, in order.
    pub fn take_output(&mut self) -> Option<Bytes> {
        self.replies_unsent = 0;
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }

    /// Bytes waiting in [`Self::take_output`].
    pub fn output_len(&self) -> usize {
        self.out.len()
    }

    /// Whether the destination accepted the publish.
    pub fn is_live(&self) -> bool {
        self.stage == Stage::Live
    }

    /// Sends one FLV tag of `kind` as a message of the published stream: its body as the
    /// publisher sent it, its timestamp in milliseconds (wrapping at 2^32). A script tag that
    /// is `onMetaData` goes as `@setDataFrame`, as encoders send it. Refused before
    /// [`ClientEvent::Publishing`], and for a body RTMP cannot carry (over 2^24 − 1 bytes).
    pub fn send(&mut self, kind: TagKind, timestamp: u32, payload: &[u8]) -> Result<(), Error> {
        if self.stage != Stage::Live {
            return Err(Error::protocol("media sent before the destination accepted the publish"));
        }
        if payload.len() > MAX_SEND_SIZE {
            return Err(Error::limit(Limit::MessageSize, format!("a {}-byte tag to send", payload.len())));
        }
        let (chunk_stream, message_type) = match kind {
            TagKind::Audio => (AUDIO_CHUNK_STREAM, MessageType::Audio),
            TagKind::Video => (VIDEO_CHUNK_STREAM, MessageType::Video),
            TagKind::Script => (DATA_CHUNK_STREAM, MessageType::DataAmf0),
            other => return Err(Error::protocol(format!("an FLV tag of type {} has no RTMP message", other.code()))),
        };
        if kind == TagKind::Script && is_on_metadata(payload) {
            let mut body = Vec::with_capacity(payload.len() + 16);
            Amf0Value::String("@setDataFrame".to_string()).write(&mut body);
            body.extend_from_slice(payload);
            if body.len() > MAX_SEND_SIZE {
                return Err(Error::limit(Limit::MessageSize, format!("a {}-byte tag to send", body.len())));
            }
            self.encoder.write(&mut self.out, chunk_stream, message_type, self.stream_id, timestamp, &body);
        } else {
            self.encoder.write(&mut self.out, chunk_stream, message_type, self.stream_id, timestamp, payload);
        }
        Ok(())
    }

    /// After the handshake: our chunk size, then `connect`.
    fn connect(&mut self) {
        let size = self.config.chunk_size.clamp(1, crate::limits::MAX_CHUNK_SIZE);
        self.control(MessageType::SetChunkSize, &message::u32_body(size));
        self.encoder.set_chunk_size(size);
        let text = |s: &str| Amf0Value::String(s.to_string());
        let mut props = vec![
            ("app".to_string(), text(&self.config.app)),
            ("type".to_string(), text("nonprivate")),
            ("flashVer".to_string(), text(&self.config.flash_ver)),
            ("tcUrl".to_string(), text(&self.config.tc_url)),
        ];
        if !self.config.fourccs.is_empty() {
            let list = self.config.fourccs.iter().map(|c| text(c)).collect();
            props.push(("fourCcList".to_string(), Amf0Value::Array(list)));
        }
        let body = command::write("connect", transaction::CONNECT, &[Amf0Value::Object(props)]);
        self.command(0, &body);
        self.stage = Stage::Connecting;
    }

    fn control(&mut self, kind: MessageType, body: &[u8]) {
        let before = self.out.len();
        self.encoder.write(&mut self.out, CONTROL_CHUNK_STREAM, kind, 0, 0, body);
        self.replies_unsent += self.out.len() - before;
    }

    fn command(&mut self, stream_id: u32, body: &[u8]) {
        let before = self.out.len();
        self.encoder.write(&mut self.out, COMMAND_CHUNK_STREAM, MessageType::CommandAmf0, stream_id, 0, body);
        self.replies_unsent += self.out.len() - before;
    }

    fn handle(&mut self, m: Message) -> Result<(), Error> {
        match m.kind {
            MessageType::SetChunkSize | MessageType::Abort | MessageType::WindowAckSize | MessageType::UserControl => {
                if let Some(pong) = control::apply(&m, &mut self.chunks, &mut self.window)? {
                    self.control(MessageType::UserControl, &pong);
                }
            }
            MessageType::CommandAmf0 => self.on_command(&m.payload)?,
            MessageType::CommandAmf3 => self.on_command(amf3_body(&m.payload))?,
            // Acknowledgements, Set Peer Bandwidth, media and data a destination may send need
            // nothing from a client that only publishes.
            _ => {}
        }
        Ok(())
    }

    fn on_command(&mut self, body: &[u8]) -> Result<(), Error> {
        if self.stage == Stage::Refused {
            return Ok(());
        }
        let c = Command::parse(body)?;
        match (c.name.as_str(), c.transaction) {
            ("_result", transaction::CONNECT) if self.stage == Stage::Connecting => {
                let mut answer = ConnectAnswer::from_connect(Connect::from_command(&c)?);
                if !answer.is_enhanced() {
                    // Some servers put the capabilities in the information object.
                    if let Some(info) = c.args.first() {
                        let c = Command { object: info.clone(), ..c.clone() };
                        answer = ConnectAnswer::from_connect(Connect::from_command(&c)?);
                    }
                }
                self.events.push_back(ClientEvent::Connected(answer));
                let name = Amf0Value::String(self.config.stream_name.clone());
                let release =
                    command::write("releaseStream", transaction::RELEASE_STREAM, &[Amf0Value::Null, name.clone()]);
                self.command(0, &release);
                self.command(0, &command::write("FCPublish", transaction::FC_PUBLISH, &[Amf0Value::Null, name]));
                self.command(0, &command::write("createStream", transaction::CREATE_STREAM, &[Amf0Value::Null]));
                self.stage = Stage::CreatingStream;
            }
            ("_result", transaction::CREATE_STREAM) if self.stage == Stage::CreatingStream => {
                let id =
                    c.number_arg(0).ok_or_else(|| Error::protocol("`createStream`'s `_result` has no stream id"))?;
                self.stream_id = u32_number(id, || "`createStream`'s stream id".into())?;
                let body = command::write(
                    "publish",
                    transaction::PUBLISH,
                    &[
                        Amf0Value::Null,
                        Amf0Value::String(self.config.stream_name.clone()),
                        Amf0Value::String("live".into()),
                    ],
                );
                self.command(self.stream_id, &body);
                self.stage = Stage::Publishing;
            }
            // `releaseStream` and `FCPublish` may be refused by servers that do not know them.
            ("_error", transaction::RELEASE_STREAM | transaction::FC_PUBLISH) => {}
            ("_error", _) => self.refuse(c.args.first()),
            ("onStatus", _) => {
                let info = c.args.first();
                let level = info.and_then(|i| string_property(i, "level")).unwrap_or_default();
                let code = info.and_then(|i| string_property(i, "code")).unwrap_or_default();
                if level == "error" {
                    self.refuse(info);
                } else if code == "NetStream.Publish.Start" && self.stage == Stage::Publishing {
                    self.stage = Stage::Live;
                    self.events.push_back(ClientEvent::Publishing);
                }
            }
            // `onBWDone`, `onFCPublish`, `_checkbw`, answers to nothing we asked: nothing to do.
            _ => {}
        }
        Ok(())
    }

    /// Ends the session with [`ClientEvent::Refused`], quoting the information object.
    fn refuse(&mut self, info: Option<&Amf0Value>) {
        let text = |key| info.and_then(|i| string_property(i, key)).map(|s| bounded(&s)).unwrap_or_default();
        self.events.push_back(ClientEvent::Refused { code: text("code"), description: text("description") });
        self.stage = Stage::Refused;
    }
}

/// Whether a script tag body starts with the AMF0 string `onMetaData`.
fn is_on_metadata(payload: &[u8]) -> bool {
    matches!(Amf0Value::read(payload), Ok((Amf0Value::String(name), _)) if name == "onMetaData")
}

/// At most [`MAX_STATUS_TEXT`] bytes of `s`, cut at a character boundary.
fn bounded(s: &str) -> String {
    let mut end = s.len().min(MAX_STATUS_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests;

//! An output's forwarder: connects to its destination, publishes there with the client session
//! of `rapidrtmp-rtmp`, and sends the stream's headers, then its queued tags; when the
//! destination fails it tries again after a backoff that doubles from [`MIN_BACKOFF`] to
//! [`MAX_BACKOFF`]. Every step has its deadline, so a destination that answers slowly or not at
//! all, or stops reading, is cut loose and retried.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rapidrtmp_rtmp::{ClientConfig, ClientEvent, ClientSession, ConnectAnswer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

use super::tags::{Need, OutTag};
use super::{Handles, Output, State, Stop, StreamTap};
use crate::lifecycle::StreamEvent;

/// Time to open the TCP connection to a destination.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time from the TCP connection to `NetStream.Publish.Start` (TLS, handshake, `connect`,
/// `createStream`, `publish`).
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// A write to the destination that does not complete within this is a destination that does
/// not read: the connection is cut and tried again.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// When the publish ends, time an output has to send what it has queued.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// The first wait before trying a failed destination again.
pub const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Free space kept in the read buffer before each read.
const READ_BUFFER: usize = 16 << 10;
/// Chunk size of what outputs send.
const CHUNK_SIZE: u32 = 4096;
/// Our acknowledgement window for what a destination sends, until it announces one (the
/// common 2.5 MB; a destination sends little).
const WINDOW_ACK_SIZE: u32 = 2_500_000;
/// Enhanced RTMP v2 `capsEx` bit: the peer takes multitrack messages (`CapsExMask.Multitrack`).
const CAPS_EX_MULTITRACK: u32 = 0x02;
/// `flashVer` of our `connect`.
const FLASH_VER: &str = "FMLE/3.0 (compatible; RapidRTMP)";

/// A connection to a destination: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How an attempt ended.
enum Ended {
    /// Told to stop (removed, disabled, or the publish ended and the queue was sent).
    Stopped,
    /// The destination failed; why.
    Failed(String),
}

/// Runs `output` until it is told to stop.
pub async fn run(output: Arc<Output>, tap: Arc<StreamTap>, handles: Arc<Handles>) {
    let mut stop = output.stop_signal();
    let mut backoff = MIN_BACKOFF;
    loop {
        // Nothing to send before a keyframe: wait for one (a publish that ends first ends this).
        while !output.queue.startable() {
            tokio::select! {
                _ = output.queue.ready.notified() => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() != Stop::Run {
                return;
            }
        }
        output.set_state(State::Connecting, None);
        let mut live_since = None;
        let ended = attempt(&output, &tap, &handles, &mut stop, &mut live_since).await;
        output.queue.reset();
        let destination = output.url.destination();
        let error = match &ended {
            Ended::Stopped => None,
            Ended::Failed(e) => Some(e.clone()),
        };
        if live_since.is_some() {
            handles.lifecycle.emit(StreamEvent::OutputDown {
                stream: tap.key.clone(),
                output: output.id.clone(),
                destination: destination.clone(),
                error: error.clone(),
            });
        }
        let Some(error) = error else { return };
        // A destination that was live is tried again soon; one that keeps failing, less and less.
        if live_since.is_some() {
            backoff = MIN_BACKOFF;
        }
        if live_since.is_none() {
            warn!(stream = %tap.key, output = %output.id, %destination, "restream: {error}; trying again in {backoff:?}");
        }
        output.set_state(State::Retrying, Some(error));
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s != Stop::Run) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection: connect, publish, forward until the destination fails or the output stops.
async fn attempt(
    output: &Output,
    tap: &StreamTap,
    handles: &Handles,
    stop: &mut watch::Receiver<Stop>,
    live_since: &mut Option<Instant>,
) -> Ended {
    let url = &output.url;
    let mut io: Box<dyn Io> = tokio::select! {
        r = connect(output, handles) => match r {
            Ok(io) => io,
            Err(e) => return Ended::Failed(e),
        },
        _ = stop.wait_for(|s| *s != Stop::Run) => return Ended::Stopped,
    };
    let mut seed = [0u8; 32];
    let _ = getrandom::fill(&mut seed);
    let config = ClientConfig {
        app: url.app.clone(),
        tc_url: url.tc_url(),
        stream_name: url.key.clone(),
        flash_ver: FLASH_VER.into(),
        fourccs: tap.fourccs(),
        chunk_size: CHUNK_SIZE,
        window_ack_size: WINDOW_ACK_SIZE,
    };
    let mut session = ClientSession::new(config, seed);
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    let deadline = Instant::now() + SETUP_TIMEOUT;
    let mut answer = ConnectAnswer::default();
    // Setup: until `NetStream.Publish.Start`.
    'setup: loop {
        loop {
            match session.poll(&mut buf) {
                Ok(Some(ClientEvent::Connected(a))) => answer = a,
                Ok(Some(ClientEvent::Publishing)) => break 'setup,
                Ok(Some(ClientEvent::Refused { code, description })) => {
                    return Ended::Failed(format!("the destination refused: {code}: {description}"))
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => return Ended::Failed(format!("the destination broke RTMP: {e}")),
            }
        }
        if let Err(e) = write(&mut io, &mut session, output, deadline).await {
            return Ended::Failed(e);
        }
        buf.reserve(session.wanted().saturating_sub(buf.len()).max(READ_BUFFER));
        tokio::select! {
            r = io.read_buf(&mut buf) => match r {
                Ok(0) => return Ended::Failed("the destination closed the connection before the publish started".into()),
                Ok(_) => {}
                Err(e) => return Ended::Failed(format!("reading from the destination: {e}")),
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Ended::Failed(format!("no NetStream.Publish.Start within {SETUP_TIMEOUT:?} of connecting"));
            }
            _ = stop.wait_for(|s| *s != Stop::Run) => return Ended::Stopped,
        }
    }
    // Live.
    output.set_state(State::Live, None);
    *live_since = Some(Instant::now());
    info!(stream = %tap.key, output = %output.id, destination = %url.destination(), "restream: live");
    handles.lifecycle.emit(StreamEvent::OutputUp {
        stream: tap.key.clone(),
        output: output.id.clone(),
        destination: url.destination(),
    });
    let mut pending = output.queue.go_live(|| tap.headers());
    let mut flush_until = None;
    loop {
        for tag in pending.drain(..) {
            if !takes(&answer, &tag, output) {
                continue;
            }
            if let Err(e) = session.send(tag.kind, tag.timestamp, &tag.payload) {
                warn!(stream = %tap.key, output = %output.id, "restream: a tag not sent: {e}");
            }
        }
        let deadline = flush_until.unwrap_or_else(|| Instant::now() + WRITE_STALL_TIMEOUT);
        if let Err(e) = write(&mut io, &mut session, output, deadline).await {
            return Ended::Failed(e);
        }
        if flush_until.is_some() {
            output.queue.take(&mut pending);
            if pending.is_empty() {
                let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
                return Ended::Stopped;
            }
            continue;
        }
        buf.reserve(session.wanted().saturating_sub(buf.len()).max(READ_BUFFER));
        tokio::select! {
            r = io.read_buf(&mut buf) => {
                match r {
                    Ok(0) => return Ended::Failed("the destination closed the connection".into()),
                    Ok(_) => {}
                    Err(e) => return Ended::Failed(format!("reading from the destination: {e}")),
                }
                loop {
                    match session.poll(&mut buf) {
                        Ok(Some(ClientEvent::Refused { code, description })) => {
                            return Ended::Failed(format!("the destination ended the publish: {code}: {description}"))
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => return Ended::Failed(format!("the destination broke RTMP: {e}")),
                    }
                }
            }
            _ = output.queue.ready.notified() => output.queue.take(&mut pending),
            _ = stop.changed() => match *stop.borrow() {
                Stop::Run => {}
                Stop::Now => return Ended::Stopped,
                Stop::Flush => {
                    flush_until = Some(Instant::now() + FLUSH_TIMEOUT);
                    output.queue.take(&mut pending);
                }
            },
        }
    }
}

/// TCP, then TLS for `rtmps://`, within [`CONNECT_TIMEOUT`] and [`SETUP_TIMEOUT`].
async fn connect(output: &Output, handles: &Handles) -> Result<Box<dyn Io>, String> {
    let url = &output.url;
    let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((url.host.as_str(), url.port))).await {
        Err(_) => return Err(format!("no TCP connection within {CONNECT_TIMEOUT:?}")),
        Ok(Err(e)) => return Err(format!("cannot connect: {e}")),
        Ok(Ok(s)) => s,
    };
    let _ = tcp.set_nodelay(true);
    if !url.tls {
        return Ok(Box::new(tcp));
    }
    let name = rustls::pki_types::ServerName::try_from(url.host.clone())
        .map_err(|e| format!("{} is not a name TLS can check: {e}", url.host))?;
    match tokio::time::timeout(SETUP_TIMEOUT, handles.tls.connect(name, tcp)).await {
        Err(_) => Err(format!("no TLS handshake within {SETUP_TIMEOUT:?}")),
        Ok(Err(e)) => Err(format!("TLS: {e}")),
        Ok(Ok(s)) => Ok(Box::new(s)),
    }
}

/// Writes what the session has to send, by `deadline`.
async fn write(
    io: &mut Box<dyn Io>,
    session: &mut ClientSession,
    output: &Output,
    deadline: Instant,
) -> Result<(), String> {
    let Some(bytes) = session.take_output() else { return Ok(()) };
    match tokio::time::timeout_at(deadline, async {
        io.write_all(&bytes).await?;
        io.flush().await
    })
    .await
    {
        Err(_) => Err(format!("the destination did not read what was sent for {WRITE_STALL_TIMEOUT:?}: cut loose")),
        Ok(Err(e)) => Err(format!("writing to the destination: {e}")),
        Ok(Ok(())) => {
            output.sent(bytes.len());
            Ok(())
        }
    }
}

/// Whether the destination takes `tag`, by its `connect` answer; what it does not take is
/// named once in the output's status.
fn takes(answer: &ConnectAnswer, tag: &OutTag, output: &Output) -> bool {
    let why = match tag.need {
        Need::Legacy => return true,
        Need::FourCc(_, f) if answer.takes(&String::from_utf8_lossy(&f)) => return true,
        Need::Multitrack(_) if answer.caps_ex.is_some_and(|c| c & CAPS_EX_MULTITRACK != 0) => return true,
        _ if !answer.is_enhanced() => "no Enhanced RTMP in its connect answer",
        Need::FourCc(..) => "its connect answer does not list it",
        Need::Multitrack(_) => "its connect answer has no multitrack in capsEx",
    };
    let what = format!("the destination does not take {}: {why}", tag.need.describe());
    if output.not_forwarded(what.clone()) {
        warn!(output = %output.id, destination = %output.url.destination(), "restream: {what}; not forwarded");
    }
    false
}

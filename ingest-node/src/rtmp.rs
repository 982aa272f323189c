//! The RTMP and RTMPS listeners: connection slots, deadlines and media intake. The protocol
//! itself is the sans-IO session of `rapidrtmp-rtmp`; this file moves its bytes, over TCP or, for
//! RTMPS, over TLS ([`crate::tls`]) whose handshake is part of the setup deadline. Both listeners
//! share their slots and admission. Who may publish is decided by [`crate::admission`]; this file
//! answers its refusals as `NetStream.Publish.*` statuses.
//!
//! Publish URL: `rtmp://host/live/{streamKey}?token=T` (`rtmps://host:1936/…` over TLS); OBS
//! style works too (server `rtmp://host/live`, stream key `{streamKey}?token=T`). Playback over
//! RTMP is refused: it is HLS.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rapidrtmp_rtmp::{Config, Connect, Event, ServerSession, StreamRequest};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::admission::{Admission, Admitted, PublishRequest, Refusal};
use crate::app::App;
use crate::publish::multitrack::MultitrackPublish;
use crate::publish::writer::StreamWriters;
use crate::publish::Ending;
use crate::refusals::Cause;
use crate::slots::{Listener, Slots};
use crate::streams::LiveStream;

/// The RTMP application publishers connect to.
pub const APP_NAME: &str = "live";
/// Time from accept to an accepted `publish` (the TLS handshake of RTMPS, the RTMP handshake,
/// `connect`, `createStream`, `publish`).
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// After a publish ends (`FCUnpublish`, `deleteStream`), the client closes the connection: it
/// may still send its closing commands and read the answers. The node closes it after this long.
const UNPUBLISH_LINGER: Duration = Duration::from_secs(5);
/// A connection that sends nothing for this long is closed (checked every [`IDLE_CHECK`]).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const IDLE_CHECK: Duration = Duration::from_secs(5);
/// Free space kept in a connection's read buffer before each read.
const READ_BUFFER: usize = 64 << 10;

/// What the RTMP and RTMPS listeners share: one set of connection slots (`--max-connections`,
/// `--max-connections-per-ip` count both) and admission.
pub struct Ingest {
    slots: Arc<Slots>,
    admission: Arc<Admission>,
}

impl Ingest {
    /// The slots and admission of the node's settings.
    pub fn new(app: &App) -> Arc<Self> {
        let s = &app.settings;
        let slots = Slots::new(s.max_connections, s.max_connections_per_ip, app.metrics.rtmp_connections.clone());
        let admission = Arc::new(Admission::new(app.signer.clone(), app.writers.clone(), app.draining.clone()));
        Arc::new(Self { slots, admission })
    }
}

/// Accepts RTMP connections (RTMPS with `tls`) until shutdown, each within its slot and
/// deadlines.
pub async fn accept_rtmp(app: Arc<App>, ingest: Arc<Ingest>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    let kind = if tls.is_some() { Listener::Rtmps } else { Listener::Rtmp };
    let (slots, admission) = (&ingest.slots, &ingest.admission);
    let mut shutdown = app.shutdown.subscribe();
    loop {
        let (socket, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    kind.accept_failed(&app.metrics, &e).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let slot = match slots.take(peer.ip()) {
            Ok(slot) => slot,
            Err(refused) => {
                kind.refused(&app.metrics, peer, refused);
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let (writers, admission, metrics, tls) =
            (app.writers.clone(), admission.clone(), app.metrics.clone(), tls.clone());
        let id = app.connection_id();
        tokio::spawn(async move {
            let _slot = slot; // given back however this task ends
            let setup_until = Instant::now() + SETUP_TIMEOUT;
            let mut conn = Connection::new(writers, admission, peer, id, kind.label());
            let result = match tls {
                None => conn.run(socket, setup_until).await,
                Some(tls) => match tokio::time::timeout_at(setup_until, tls.accept(socket)).await {
                    Ok(Ok(socket)) => conn.run(socket, setup_until).await,
                    Ok(Err(e)) => Err(Closed::Tls(e.to_string())),
                    Err(_) => Err(Closed::Tls("no TLS handshake within 10 s of connecting".into())),
                },
            };
            if let Some((stream, publish)) = conn.publishing.take() {
                let ending = conn.ending;
                conn.end_publish(stream, publish, ending).await;
            }
            match result {
                Ok(()) => debug!(%peer, "RTMP connection closed"),
                Err(Closed::Io(e)) => debug!(%peer, "RTMP connection closed: {e}"),
                Err(Closed::Peer(e @ rapidrtmp_rtmp::Error::Limit { .. })) => {
                    warn!(%peer, "RTMP connection closed: {e}")
                }
                Err(Closed::Peer(e)) => info!(%peer, "RTMP connection closed: {e}"),
                Err(Closed::Timeout(why)) => info!(%peer, "RTMP connection closed: {why}"),
                Err(Closed::Tls(why)) => {
                    if let Some(count) = metrics.refusals.note(Cause::TlsHandshake) {
                        info!(%peer, count, "RTMPS connection closed: TLS handshake failed: {why}");
                    }
                }
            }
        });
    }
}

/// Completes when a live stream's publisher is told to stop (the API, a takeover).
type StopSignal = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn stop_signal(stream: Arc<LiveStream>) -> StopSignal {
    Box::pin(async move { stream.stop.notified().await })
}

/// Waits for the signal of the stream being published, if any.
async fn stopped(stop: &mut Option<(Arc<LiveStream>, StopSignal)>) {
    match stop {
        Some((_, signal)) => signal.await,
        None => std::future::pending().await,
    }
}

/// Why a connection ended.
enum Closed {
    /// The socket failed.
    Io(std::io::Error),
    /// The peer broke the protocol or a limit.
    Peer(rapidrtmp_rtmp::Error),
    /// A deadline passed.
    Timeout(&'static str),
    /// The TLS handshake of an RTMPS connection failed or did not finish in time.
    Tls(String),
}

impl From<std::io::Error> for Closed {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<rapidrtmp_rtmp::Error> for Closed {
    fn from(e: rapidrtmp_rtmp::Error) -> Self {
        Self::Peer(e)
    }
}

/// Writes `out` and flushes it (TLS keeps what it could not write yet until flushed).
async fn send<S: AsyncWrite + Unpin>(socket: &mut S, out: &[u8]) -> std::io::Result<()> {
    socket.write_all(out).await?;
    socket.flush().await
}

/// Splits `key?token=T&…` into the key and the token.
fn split_key(raw: &str) -> (&str, &str) {
    let (key, query) = raw.split_once('?').unwrap_or((raw, ""));
    let token = query.split('&').find_map(|kv| kv.strip_prefix("token=")).unwrap_or("");
    (key, token)
}

/// The codecs the packager turns into HLS, answered to an Enhanced RTMP `connect`.
fn session_config() -> Config {
    use rapidrtmp_core::media::{AUDIO_FOURCCS, VIDEO_FOURCCS};
    Config { video_fourccs: VIDEO_FOURCCS, audio_fourccs: AUDIO_FOURCCS, ..Config::default() }
}

/// One RTMP connection, with its handles: the stream writers (which its publish feeds, and whose
/// shutdown signal ends it) and admission.
struct Connection {
    writers: Arc<StreamWriters>,
    admission: Arc<Admission>,
    peer: SocketAddr,
    id: u64,
    /// The listener it came in on (`rtmp`, `rtmps`).
    listener: &'static str,
    session: ServerSession,
    publishing: Option<(Arc<LiveStream>, MultitrackPublish)>,
    close: bool,
    /// How the publish ends if the connection does: a dropped connection may come back.
    ending: Ending,
    /// When the node closes the connection if the client has not: [`UNPUBLISH_LINGER`] after
    /// its publish ended; `None` before a publish ends and while one is live.
    linger_until: Option<Instant>,
}

impl Connection {
    fn new(
        writers: Arc<StreamWriters>,
        admission: Arc<Admission>,
        peer: SocketAddr,
        id: u64,
        listener: &'static str,
    ) -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random source works");
        let session = ServerSession::new(session_config(), seed);
        Self {
            writers,
            admission,
            peer,
            id,
            listener,
            session,
            publishing: None,
            close: false,
            ending: Ending::AfterGrace,
            linger_until: None,
        }
    }

    /// Reads, hands the bytes to the session, acts on its events and sends its replies, until
    /// the peer leaves, a deadline passes or the publish is stopped. `socket` is a TCP stream
    /// or, for RTMPS, a TLS one; a publish must be accepted by `setup_until`.
    async fn run<S>(&mut self, mut socket: S, setup_until: Instant) -> Result<(), Closed>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut buf = BytesMut::with_capacity(READ_BUFFER);
        let setup = tokio::time::sleep_until(setup_until);
        tokio::pin!(setup);
        let mut idle = tokio::time::interval_at(Instant::now() + IDLE_CHECK, IDLE_CHECK);
        idle.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let (mut reads, mut quiet) = (0u64, Duration::ZERO);
        // The futures that outlive a read are made once, not on every read.
        let mut shutdown_rx = self.writers.shutdown.clone();
        let shutdown = shutdown_rx.changed();
        tokio::pin!(shutdown);
        let mut stop: Option<(Arc<LiveStream>, StopSignal)> = None;
        let linger = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(linger);
        let mut lingering = None;
        loop {
            while let Some(event) = self.session.poll(&mut buf)? {
                // Replies first (`NetStream.Unpublish.Success` before the last chunk is stored).
                if let Some(out) = self.session.take_output() {
                    send(&mut socket, &out).await?;
                }
                self.handle(event).await;
            }
            if let Some(out) = self.session.take_output() {
                send(&mut socket, &out).await?;
            }
            if self.close {
                return Ok(());
            }
            buf.reserve(self.session.wanted().saturating_sub(buf.len()).max(READ_BUFFER));
            let live = self.publishing.as_ref().map(|(s, _)| s);
            if stop.as_ref().map(|(s, _)| Arc::as_ptr(s)) != live.map(Arc::as_ptr) {
                stop = live.map(|s| (s.clone(), stop_signal(s.clone())));
            }
            if self.linger_until != lingering {
                lingering = self.linger_until;
                if let Some(at) = lingering {
                    linger.as_mut().reset(at);
                }
            }
            let idle_since_publish = self.session.publishing().is_none() && self.publishing.is_none();
            tokio::select! {
                r = socket.read_buf(&mut buf) => {
                    if r? == 0 {
                        return Ok(());
                    }
                    reads += 1;
                }
                _ = &mut setup, if idle_since_publish && lingering.is_none() => {
                    return Err(Closed::Timeout("no accepted publish within 10 s of connecting"));
                }
                _ = &mut linger, if idle_since_publish && lingering.is_some() => {
                    return Err(Closed::Timeout("the client kept the connection 5 s after its publish ended"));
                }
                _ = idle.tick() => {
                    quiet = if reads == 0 { quiet + IDLE_CHECK } else { Duration::ZERO };
                    reads = 0;
                    if quiet >= IDLE_TIMEOUT {
                        return Err(Closed::Timeout("nothing received for 30 s"));
                    }
                }
                _ = stopped(&mut stop) => {
                    let replaced = self.publishing.as_ref().is_some_and(|(s, _)| s.replaced.load(Relaxed));
                    self.ending = if replaced { Ending::Replaced } else { Ending::Now };
                    info!(peer = %self.peer, "publish stopped by the API or a takeover");
                    return Ok(());
                }
                _ = &mut shutdown => {
                    self.ending = Ending::Now;
                    return Ok(());
                }
            }
        }
    }

    async fn handle(&mut self, event: Event) {
        match event {
            Event::Connect(c) => self.connect_requested(&c),
            Event::Publish(request) => {
                self.publish_requested(&request).await;
                if self.publishing.is_some() {
                    self.linger_until = None;
                }
            }
            Event::Play(request) => {
                let key = split_key(&request.name).0.to_string();
                let why = format!("playback is over HLS: /live/{key}/index.m3u8");
                self.session.reject_stream(&request, "NetStream.Play.Failed", &why);
                self.close = true;
            }
            // Audio, video, and script data: onMetaData says which tracks the stream will have.
            Event::Media { kind, timestamp, payload } => {
                if let Some((_, publish)) = &mut self.publishing {
                    publish.media(kind, timestamp, &payload).await;
                }
            }
            // The stream ends now; the client closes the connection, within UNPUBLISH_LINGER.
            Event::Unpublish { .. } => {
                self.linger_until = Some(Instant::now() + UNPUBLISH_LINGER);
                if let Some((stream, publish)) = self.publishing.take() {
                    self.end_publish(stream, publish, Ending::Now).await;
                }
            }
            _ => {}
        }
    }

    fn connect_requested(&mut self, c: &Connect) {
        if c.app.split('?').next().map(|a| a.trim_end_matches('/')) == Some(APP_NAME) {
            self.session.accept_connect(c);
        } else {
            self.session.reject_connect("unknown application: publish to rtmp://host/live/{streamKey}?token=…");
            self.close = true;
        }
    }

    /// Answers a refused publish the RTMP way: `NetStream.Publish.Unauthorized` when the
    /// token was refused, `NetStream.Publish.BadName` otherwise, with the refusal's text.
    fn reject(&mut self, request: &StreamRequest, refusal: &Refusal) {
        const BAD_NAME: &str = "NetStream.Publish.BadName";
        const UNAUTHORIZED: &str = "NetStream.Publish.Unauthorized";
        let code = if refusal.is_unauthorized() { UNAUTHORIZED } else { BAD_NAME };
        self.session.reject_stream(request, code, &refusal.to_string());
        self.close = true;
    }

    async fn publish_requested(&mut self, request: &StreamRequest) {
        if self.publishing.is_some() {
            let refusal = self.admission.refused(self.peer, Refusal::AlreadyPublishing);
            return self.reject(request, &refusal);
        }
        let (key, token) = split_key(&request.name);
        let query = request.name.split_once('?').map_or("", |(_, q)| q);
        let (connection, peer, listener) = (self.id, self.peer, self.listener);
        let asked = PublishRequest { key, token, connection, peer, listener, query };
        match self.admission.admit(asked).await {
            Ok(Admitted { stream, publisher }) => {
                self.publishing = Some((stream, MultitrackPublish::new(self.writers.clone(), publisher)));
                self.session.accept_publish(request);
            }
            Err(refusal) => self.reject(request, &refusal),
        }
    }

    async fn end_publish(&mut self, stream: Arc<LiveStream>, publish: MultitrackPublish, ending: Ending) {
        // Out of the registry first: a publisher reconnecting during the grace is welcome.
        self.admission.leave(&stream);
        publish.finish(ending).await;
    }
}

#[cfg(test)]
mod tests {
    use super::split_key;

    #[test]
    fn stream_key_and_token() {
        assert_eq!(split_key("cam?token=abc.def"), ("cam", "abc.def"));
        assert_eq!(split_key("cam?x=1&token=t"), ("cam", "t"));
        assert_eq!(split_key("cam"), ("cam", ""));
    }
}

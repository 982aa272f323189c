//! The RTMP listener: handshake, publish authorization and media intake (rml_rtmp sessions).
//!
//! Publish URL: `rtmp://host/live/{streamKey}?token=T`; OBS style works too (server
//! `rtmp://host/live`, stream key `{streamKey}?token=T`). Playback over RTMP is refused: it is HLS.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rapidrtmp_core::edge::valid_name;
use rapidrtmp_core::flv::TagKind;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

use crate::app::{now_ms, App, LiveStream};
use crate::publish::{Ending, Publisher};
use crate::tokens::TokenError;

/// The RTMP application publishers connect to.
pub const APP_NAME: &str = "live";
/// Time allowed for the handshake and `connect`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that sends nothing for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes a peer may send without completing a message: bounds rml_rtmp's reassembly buffers.
const MAX_PENDING_BYTES: usize = 32 << 20;
/// Socket read size.
const READ_BUFFER: usize = 16 << 10;
/// How long a takeover waits for the old publisher's last chunk to be written.
const TAKEOVER_WAIT: Duration = Duration::from_secs(15);

/// Accepts RTMP connections until shutdown.
pub async fn serve(app: Arc<App>, listener: TcpListener) {
    let mut shutdown = app.shutdown.subscribe();
    loop {
        let (socket, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    warn!("RTMP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        if app.metrics.rtmp_connections.load(Relaxed) as usize >= app.settings.max_connections {
            warn!(%peer, "connection limit reached; refusing");
            drop(socket);
            continue;
        }
        let _ = socket.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            app.metrics.rtmp_connections.fetch_add(1, Relaxed);
            let id = app.connection_id();
            if let Err(e) = Connection::run(app.clone(), socket, peer, id).await {
                debug!(%peer, "RTMP connection closed: {e}");
            }
            app.metrics.rtmp_connections.fetch_sub(1, Relaxed);
        });
    }
}

/// Splits `key?token=T&…` into the key and the token.
fn split_key(raw: &str) -> (&str, &str) {
    let (key, query) = raw.split_once('?').unwrap_or((raw, ""));
    let token = query.split('&').find_map(|kv| kv.strip_prefix("token=")).unwrap_or("");
    (key, token)
}

struct Connection {
    app: Arc<App>,
    socket: TcpStream,
    peer: SocketAddr,
    id: u64,
    session: ServerSession,
    publishing: Option<(Arc<LiveStream>, Publisher)>,
    close: bool,
    /// How the publish ends if the connection does: a dropped connection may come back.
    ending: Ending,
}

impl Connection {
    async fn run(app: Arc<App>, mut socket: TcpStream, peer: SocketAddr, id: u64) -> anyhow::Result<()> {
        let remaining = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut socket))
            .await
            .map_err(|_| anyhow::anyhow!("handshake timed out"))??;
        let (session, results) = ServerSession::new(ServerSessionConfig::new())?;
        let mut conn =
            Self { app, socket, peer, id, session, publishing: None, close: false, ending: Ending::AfterGrace };
        let result = conn.serve(results, remaining).await;
        if let Some((stream, publisher)) = conn.publishing.take() {
            let ending = conn.ending;
            conn.end_publish(stream, publisher, ending).await;
        }
        result
    }

    async fn serve(&mut self, first: Vec<ServerSessionResult>, remaining: Vec<u8>) -> anyhow::Result<()> {
        self.handle_results(first).await?;
        let results = self.session.handle_input(&remaining)?;
        self.handle_results(results).await?;
        let mut buf = vec![0u8; READ_BUFFER];
        let mut pending = 0usize;
        let mut shutdown = self.app.shutdown.subscribe();
        while !self.close {
            let live = self.publishing.as_ref().map(|(s, _)| s.clone());
            let stop = async move {
                match live {
                    Some(s) => s.stop.notified().await,
                    None => std::future::pending().await,
                }
            };
            let n = tokio::select! {
                r = tokio::time::timeout(IDLE_TIMEOUT, self.socket.read(&mut buf)) => match r {
                    Err(_) => anyhow::bail!("idle for {IDLE_TIMEOUT:?}"),
                    Ok(r) => r?,
                },
                _ = stop => {
                    let replaced = self.publishing.as_ref().is_some_and(|(s, _)| s.replaced.load(Relaxed));
                    self.ending = if replaced { Ending::Replaced } else { Ending::Now };
                    info!(peer = %self.peer, "publish stopped by the API or a takeover");
                    return Ok(());
                }
                _ = shutdown.changed() => {
                    self.ending = Ending::Now;
                    return Ok(());
                }
            };
            if n == 0 {
                return Ok(());
            }
            let results = self.session.handle_input(&buf[..n])?;
            if results.iter().any(|r| matches!(r, ServerSessionResult::RaisedEvent(_))) {
                pending = 0;
            } else {
                pending += n;
                if pending > MAX_PENDING_BYTES {
                    anyhow::bail!("{pending} bytes without a complete message");
                }
            }
            self.handle_results(results).await?;
        }
        self.socket.flush().await?;
        Ok(())
    }

    async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.socket.write_all(bytes).await?;
        Ok(())
    }

    async fn handle_results(&mut self, results: Vec<ServerSessionResult>) -> anyhow::Result<()> {
        for r in results {
            match r {
                ServerSessionResult::OutboundResponse(p) => self.send(&p.bytes).await?,
                ServerSessionResult::RaisedEvent(e) => self.handle_event(e).await?,
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(())
    }

    async fn reply(
        &mut self,
        r: Result<Vec<ServerSessionResult>, rml_rtmp::sessions::ServerSessionError>,
    ) -> anyhow::Result<()> {
        for res in r? {
            if let ServerSessionResult::OutboundResponse(p) = res {
                self.send(&p.bytes).await?;
            }
        }
        Ok(())
    }

    async fn handle_event(&mut self, event: ServerSessionEvent) -> anyhow::Result<()> {
        match event {
            ServerSessionEvent::ConnectionRequested { request_id, app_name } => {
                if app_name.split('?').next() == Some(APP_NAME) {
                    let r = self.session.accept_request(request_id);
                    self.reply(r).await?;
                } else {
                    let r = self.session.reject_request(
                        request_id,
                        "NetConnection.Connect.Rejected",
                        "unknown application: publish to rtmp://host/live/{streamKey}?token=…",
                    );
                    self.reply(r).await?;
                    self.close = true;
                }
            }
            ServerSessionEvent::PublishStreamRequested { request_id, stream_key, .. } => {
                self.publish_requested(request_id, &stream_key).await?;
            }
            ServerSessionEvent::PlayStreamRequested { request_id, stream_key, .. } => {
                let key = split_key(&stream_key).0.to_string();
                let r = self.session.reject_request(
                    request_id,
                    "NetStream.Play.Failed",
                    &format!("playback is over HLS: /live/{key}/index.m3u8"),
                );
                self.reply(r).await?;
                self.close = true;
            }
            ServerSessionEvent::VideoDataReceived { data, timestamp, .. } => {
                self.media(TagKind::Video, timestamp.value, data).await;
            }
            ServerSessionEvent::AudioDataReceived { data, timestamp, .. } => {
                self.media(TagKind::Audio, timestamp.value, data).await;
            }
            ServerSessionEvent::PublishStreamFinished { .. } => {
                if let Some((stream, publisher)) = self.publishing.take() {
                    self.end_publish(stream, publisher, Ending::Now).await;
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn media(&mut self, kind: TagKind, timestamp: u32, data: Bytes) {
        if let Some((_, publisher)) = &mut self.publishing {
            publisher.media(kind, timestamp, &data).await;
        }
    }

    async fn reject(&mut self, request_id: u32, code: &str, result: &'static str, why: &str) -> anyhow::Result<()> {
        self.app.metrics.publish_attempt(result);
        info!(peer = %self.peer, result, "publish rejected: {why}");
        let r = self.session.reject_request(request_id, code, why);
        self.reply(r).await?;
        self.close = true;
        Ok(())
    }

    async fn publish_requested(&mut self, request_id: u32, raw: &str) -> anyhow::Result<()> {
        const BAD_NAME: &str = "NetStream.Publish.BadName";
        const UNAUTHORIZED: &str = "NetStream.Publish.Unauthorized";
        let (key, token) = split_key(raw);
        if self.publishing.is_some() {
            return self.reject(request_id, BAD_NAME, "bad_name", "this connection is already publishing").await;
        }
        if !valid_name(key) {
            return self.reject(request_id, BAD_NAME, "bad_name", "stream keys are 1-64 of [A-Za-z0-9_-]").await;
        }
        let now = now_ms();
        let grant = match self.app.signer.verify(key, token, now / 1000) {
            Ok(g) => g,
            Err(e) => {
                let result = if e == TokenError::Expired { "expired" } else { "unauthorized" };
                return self.reject(request_id, UNAUTHORIZED, result, &e.to_string()).await;
            }
        };
        // A live key is busy unless its publisher went silent (OBS reconnecting).
        let previous = self.app.live(key);
        if let Some(prev) = &previous {
            if !prev.is_silent(now) {
                return self.reject(request_id, BAD_NAME, "busy", "stream key is already being published").await;
            }
        }
        if grant.single_use {
            let marker = format!("tokens/used/{}", grant.nonce);
            if !rapidrtmp_core::edge::valid_name(&grant.nonce) {
                return self.reject(request_id, UNAUTHORIZED, "unauthorized", "invalid publish token").await;
            }
            match self.app.store.put_if_absent(&marker, Bytes::from(format!("{key}\n"))).await {
                Ok(true) => {}
                Ok(false) => {
                    return self.reject(request_id, UNAUTHORIZED, "reused", "publish token was already used").await;
                }
                Err(e) => {
                    warn!("cannot record a single-use token: {e}");
                    return self.reject(request_id, BAD_NAME, "store_error", "storage unavailable, try again").await;
                }
            }
        }
        if let Some(prev) = previous {
            info!(stream = key, "taking over from a silent publisher");
            prev.replaced.store(true, Relaxed);
            prev.stop.notify_one();
            let mut done = prev.done.subscribe();
            let _ = tokio::time::timeout(TAKEOVER_WAIT, done.wait_for(|d| *d)).await;
        }
        let stream = Arc::new(LiveStream {
            key: key.to_string(),
            started_at_ms: now,
            connection: self.id,
            last_data_ms: now.into(),
            stop: Default::default(),
            replaced: Default::default(),
            done: tokio::sync::watch::channel(false).0,
            stats: Mutex::default(),
        });
        let claimed = {
            let mut streams = self.app.streams.lock().unwrap_or_else(|e| e.into_inner());
            let busy = streams.get(key).is_some_and(|s| !s.is_silent(now_ms()) && !*s.done.borrow());
            if !busy {
                streams.insert(key.to_string(), stream.clone());
            }
            !busy
        };
        if !claimed {
            return self.reject(request_id, BAD_NAME, "busy", "stream key is already being published").await;
        }
        let publisher = match Publisher::start(self.app.clone(), stream.clone()).await {
            Ok(p) => p,
            Err(e) => {
                self.app.streams.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
                warn!("cannot start publishing {key}: {e:#}");
                return self.reject(request_id, BAD_NAME, "store_error", "storage unavailable, try again").await;
            }
        };
        self.app.metrics.publish_attempt("accepted");
        self.app.metrics.active_streams.fetch_add(1, Relaxed);
        info!(peer = %self.peer, stream = key, "publishing");
        self.publishing = Some((stream, publisher));
        let r = self.session.accept_request(request_id);
        self.reply(r).await
    }

    async fn end_publish(&mut self, stream: Arc<LiveStream>, publisher: Publisher, ending: Ending) {
        // Out of the registry first: a publisher reconnecting during the grace is welcome.
        {
            let mut streams = self.app.streams.lock().unwrap_or_else(|e| e.into_inner());
            if streams.get(&stream.key).is_some_and(|s| s.connection == self.id) {
                streams.remove(&stream.key);
            }
        }
        self.app.metrics.active_streams.fetch_sub(1, Relaxed);
        info!(stream = %stream.key, ?ending, "publish ended");
        publisher.finish(ending).await;
    }
}

/// Runs the server side of the RTMP handshake; returns the bytes that followed it.
async fn handshake(socket: &mut TcpStream) -> anyhow::Result<Vec<u8>> {
    let mut hs = Handshake::new(PeerType::Server);
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            anyhow::bail!("closed during the handshake");
        }
        match hs.process_bytes(&buf[..n])? {
            HandshakeProcessResult::InProgress { response_bytes } => socket.write_all(&response_bytes).await?,
            HandshakeProcessResult::Completed { response_bytes, remaining_bytes } => {
                socket.write_all(&response_bytes).await?;
                return Ok(remaining_bytes);
            }
        }
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

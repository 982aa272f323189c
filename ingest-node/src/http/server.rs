//! The HTTP listener, for the ingest node and `rapidrtmp edge`: accepts connections within the
//! connection caps and serves each with hyper (HTTP/1.1 and HTTP/2 cleartext, or HTTPS with
//! ALPN), under deadlines, so that no client can hold the node's memory or file descriptors.
//!
//! | limit | value |
//! |---|---|
//! | complete request head (TLS handshake included), from connect or from the last response | [`HEADER_TIMEOUT`] |
//! | request head size | [`MAX_HEAD_BYTES`], at most [`MAX_HEADERS`] fields |
//! | a response write that makes no progress | [`WRITE_TIMEOUT`] |
//! | HTTP/2 streams per connection | [`H2_MAX_STREAMS`] |
//! | HTTP/2 header list | [`MAX_HEAD_BYTES`] |
//! | HTTP/2 pings | every [`H2_PING_INTERVAL`], answered within [`H2_PING_TIMEOUT`] |
//! | connections, and per client address | `--max-http-connections`, `--max-http-connections-per-ip` |
//!
//! Request bodies are the API's business ([`super::api_guard`]): authentication first, then a
//! size limit and a deadline.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tracing::{debug, warn};

use crate::metrics::Metrics;
use crate::refusals::Cause;
use crate::slots::{Refused, Slots};

/// A client must have sent a complete request head this soon after connecting (the TLS
/// handshake included), and, on a kept-alive HTTP/1.1 connection, after the last response: it
/// is also the keep-alive idle timeout.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A response write that the client lets make no progress for this long closes the connection.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest request head (request line and header fields; HTTP/2: the header list).
pub const MAX_HEAD_BYTES: usize = 16 << 10;
/// Most header fields in an HTTP/1.1 request.
pub const MAX_HEADERS: usize = 64;
/// Most concurrent streams on one HTTP/2 connection (an LL-HLS player holds a few blocking
/// requests at once).
pub const H2_MAX_STREAMS: u32 = 64;
/// How often an HTTP/2 connection is pinged.
pub const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
/// How soon a ping must be answered, or the connection is closed.
pub const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause after a failed `accept` (out of file descriptors): the loop waits, never spins.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What the listener shares with each connection.
struct Shared {
    router: Router,
    tls: Option<TlsAcceptor>,
    metrics: Arc<Metrics>,
    builder: auto::Builder<TokioExecutor>,
}

/// Serves `router` on `listener` (over TLS with `tls`) within `slots`, until `shutdown` turns
/// true; connections still open then finish their requests.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    slots: Arc<Slots>,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) {
    let shared = Arc::new(Shared { router, tls, metrics, builder: builder() });
    let mut stop = shutdown.clone();
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    if let Some(n) = shared.metrics.refusals.note(Cause::HttpAccept) {
                        warn!(count = n, "HTTP accept failed: {e}");
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => return,
        };
        let slot = match slots.take(peer.ip()) {
            Ok(slot) => slot,
            Err(refused) => {
                refuse(&shared.metrics, socket, peer, refused);
                continue;
            }
        };
        let (shared, shutdown) = (shared.clone(), shutdown.clone());
        tokio::spawn(async move {
            let _slot = slot; // given back however this task ends
            connection(&shared, socket, peer, shutdown).await;
        });
    }
}

/// Resolves once `shutdown` turns true.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Turns away a connection over a cap: a `503` if the socket takes it at once, then close.
fn refuse(metrics: &Metrics, socket: TcpStream, peer: SocketAddr, refused: Refused) {
    const BUSY: &[u8] =
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let _ = socket.try_write(BUSY);
    let (cause, flag, n) = match refused {
        Refused::Node(n) => (Cause::HttpNodeLimit, "--max-http-connections", n),
        Refused::Address(n) => (Cause::HttpAddressLimit, "--max-http-connections-per-ip", n),
    };
    if let Some(count) = metrics.refusals.note(cause) {
        warn!(%peer, count, "HTTP connection refused: {n} are open ({flag})");
    }
}

/// The hyper settings every connection is served with.
fn builder() -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(MAX_HEAD_BYTES as u32)
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_TIMEOUT);
    b
}

/// Serves one connection: the TLS handshake and the first request head within
/// [`HEADER_TIMEOUT`], then requests until either side closes or shutdown.
async fn connection(shared: &Shared, socket: TcpStream, peer: SocketAddr, shutdown: watch::Receiver<bool>) {
    let _ = socket.set_nodelay(true);
    let io = WriteDeadline::new(socket, shared.metrics.clone());
    let first_deadline = tokio::time::sleep(HEADER_TIMEOUT);
    tokio::pin!(first_deadline);
    match &shared.tls {
        None => drive(shared, TokioIo::new(io), peer, first_deadline, shutdown).await,
        Some(acceptor) => {
            let handshake = tokio::select! {
                r = acceptor.accept(io) => r,
                () = &mut first_deadline => Err(io::ErrorKind::TimedOut.into()),
            };
            match handshake {
                Ok(tls) => drive(shared, TokioIo::new(tls), peer, first_deadline, shutdown).await,
                Err(e) => {
                    if let Some(count) = shared.metrics.refusals.note(Cause::TlsHandshake) {
                        debug!(%peer, count, "TLS handshake failed: {e}");
                    }
                }
            }
        }
    }
}

async fn drive<I>(
    shared: &Shared,
    io: TokioIo<I>,
    peer: SocketAddr,
    first_deadline: Pin<&mut Sleep>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let requested = Arc::new(Notify::new());
    let router = shared.router.clone();
    let seen = requested.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        seen.notify_one();
        request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
        router.clone().oneshot(request.map(axum::body::Body::new))
    });
    let conn = shared.builder.serve_connection(io, service);
    tokio::pin!(conn);
    // Until the first request head is in: a client that sends nothing, or trickles its head
    // (HTTP/1.1 or the HTTP/2 preface), is closed at the deadline.
    tokio::select! {
        _ = conn.as_mut() => return,
        () = requested.notified() => {}
        () = first_deadline => {
            if let Some(count) = shared.metrics.refusals.note(Cause::HttpHeaderTimeout) {
                debug!(%peer, count, "HTTP connection closed: no request head within {HEADER_TIMEOUT:?}");
            }
            return;
        }
    }
    tokio::select! {
        _ = conn.as_mut() => return,
        () = stopped(&mut shutdown) => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

/// A socket whose writes must make progress: a write (or flush) left pending for
/// [`WRITE_TIMEOUT`] fails with `TimedOut`, which ends the connection. A reader that stops
/// reading fills the socket's buffer, then this closes it; a response body is never held for
/// it longer.
struct WriteDeadline<T> {
    inner: T,
    /// Armed while a write is pending.
    timer: Pin<Box<Sleep>>,
    armed: bool,
    metrics: Arc<Metrics>,
}

impl<T> WriteDeadline<T> {
    fn new(inner: T, metrics: Arc<Metrics>) -> Self {
        Self { inner, timer: Box::pin(tokio::time::sleep(WRITE_TIMEOUT)), armed: false, metrics }
    }

    /// After a pending write: arms the timer on the first one, fails once it has run out.
    fn stalled<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        if !self.armed {
            self.armed = true;
            self.timer.as_mut().reset(Instant::now() + WRITE_TIMEOUT);
        }
        if self.timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(count) = self.metrics.refusals.note(Cause::HttpWriteTimeout) {
            debug!(count, "HTTP connection closed: the client took nothing for {WRITE_TIMEOUT:?}");
        }
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")))
    }

    fn progressed<R>(&mut self, r: Poll<io::Result<R>>, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        match r {
            Poll::Pending => self.stalled(cx),
            ready => {
                self.armed = false;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progressed(r, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progressed(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.progressed(r, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.progressed(r, cx)
    }
}

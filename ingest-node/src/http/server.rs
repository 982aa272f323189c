//! The HTTP listener, for the ingest node and `rapidrtmp edge`: accepts connections within the
//! connection caps and serves each with hyper (HTTP/1.1 and HTTP/2 cleartext, or HTTPS with
//! ALPN), under deadlines, so that no client can hold the node's memory or file descriptors.
//!
//! | limit | value |
//! |---|---|
//! | complete request head (TLS handshake included), from connect or from the last response | [`HEADER_TIMEOUT`] |
//! | request head size | [`MAX_HEAD_BYTES`], at most [`MAX_HEADERS`] fields |
//! | a response write that makes no progress | [`WRITE_TIMEOUT`] |
//! | a response body the client takes nothing of (HTTP/2 without flow-control credit too) | [`WRITE_TIMEOUT`] |
//! | a connection with no request in flight | [`IDLE_TIMEOUT`] |
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

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body as _, Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tracing::info;

use crate::metrics::Metrics;
use crate::refusals::Cause;
use crate::slots::{Listener, Refused, Slots};

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
/// A connection with no request in flight for this long is closed gracefully (an HTTP/1.1
/// connection sooner, by [`HEADER_TIMEOUT`]).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a connection checks whether it is idle.
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// Response bodies larger than this are handed to the connection a piece at a time, each piece
/// within [`WRITE_TIMEOUT`], so a client that takes nothing (an HTTP/2 stream without
/// flow-control credit, which leaves the socket idle) does not hold the body longer.
const PACED_OVER: usize = 64 << 10;
/// The pieces of a paced body.
const PACED_PIECE: usize = 64 << 10;

/// What the listener shares with each connection.
struct Shared {
    router: Router,
    tls: Option<TlsAcceptor>,
    metrics: Arc<Metrics>,
    builder: auto::Builder<TokioExecutor>,
}

/// Serves `router` on `listener` (over TLS with `tls`) within `slots`, until `shutdown` turns
/// true; connections still open then finish their requests.
pub async fn accept_http(
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
                    Listener::Http.accept_failed(&shared.metrics, &e).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => return,
        };
        let slot = match slots.take(peer.ip()) {
            Ok(slot) => slot,
            Err(refused) => {
                refuse(&shared.metrics, socket, peer, refused, shared.tls.is_none());
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

/// Turns away a connection over a cap: a `503` if the socket takes it at once (in clear text
/// only: a TLS client could not read it), then close.
fn refuse(metrics: &Metrics, socket: TcpStream, peer: SocketAddr, refused: Refused, clear_text: bool) {
    const BUSY: &[u8] =
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if clear_text {
        let _ = socket.try_write(BUSY);
    }
    Listener::Http.refused(metrics, peer, refused);
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
        .max_send_buf_size(PACED_PIECE)
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
                        info!(%peer, count, "TLS handshake failed: {e}");
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
    let activity = Arc::new(Activity::default());
    let (router, seen, active, metrics) =
        (shared.router.clone(), requested.clone(), activity.clone(), shared.metrics.clone());
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        seen.notify_one();
        let in_flight = active.begin();
        request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
        let response = router.clone().oneshot(request.map(Body::new));
        let metrics = metrics.clone();
        async move {
            let response = response.await?;
            Ok::<_, std::convert::Infallible>(response.map(|body| paced(body, metrics, in_flight)))
        }
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
                info!(%peer, count, "HTTP connection closed: no request head within {HEADER_TIMEOUT:?}");
            }
            return;
        }
    }
    // Then until either side closes; at shutdown, or once idle, requests in flight finish and
    // the connection closes (HTTP/2: GOAWAY).
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = stopped(&mut shutdown) => break,
            () = tokio::time::sleep(IDLE_CHECK) => if activity.idle_for() >= IDLE_TIMEOUT { break },
        }
    }
    conn.as_mut().graceful_shutdown();
    // A response the client never takes (an HTTP/2 stream without flow-control credit) would
    // hold the connection open: it gets one more write deadline.
    let _ = tokio::time::timeout(WRITE_TIMEOUT, conn).await;
}

/// Requests in flight on a connection, and since when it has had none.
struct Activity {
    in_flight: std::sync::atomic::AtomicUsize,
    idle_since: std::sync::Mutex<Instant>,
}

impl Default for Activity {
    fn default() -> Self {
        Self { in_flight: 0.into(), idle_since: std::sync::Mutex::new(Instant::now()) }
    }
}

/// One request in flight: until its response head is ready, and a large body until it has all
/// been handed to the connection ([`paced`]).
struct InFlight(Arc<Activity>);

impl Activity {
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// How long the connection has had no request in flight (zero while it has one).
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        self.idle_since.lock().unwrap_or_else(|e| e.into_inner()).elapsed()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            *self.0.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
    }
}

/// A large response body handed on a piece at a time by a task that gives up on a client that
/// takes no piece for [`WRITE_TIMEOUT`]: the body is dropped and the response ends short (the
/// stream is reset, or the connection closed). The request counts as in flight until then.
/// Small bodies go as they are.
fn paced(body: Body, metrics: Arc<Metrics>, in_flight: InFlight) -> Body {
    let Some(len) = body.size_hint().exact().filter(|&n| n > PACED_OVER as u64) else {
        return body;
    };
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let _in_flight = in_flight;
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let Ok(Some(mut data)) = frame.map(|f| f.into_data().ok()) else { return };
            while !data.is_empty() {
                let piece = data.split_to(data.len().min(PACED_PIECE));
                match tokio::time::timeout(WRITE_TIMEOUT, tx.send(piece)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return, // the response was dropped: the client went away
                    Err(_) => {
                        if let Some(count) = metrics.refusals.note(Cause::HttpWriteTimeout) {
                            info!(count, "HTTP response dropped: the client took nothing for {WRITE_TIMEOUT:?}");
                        }
                        return;
                    }
                }
            }
        }
    });
    Body::new(Paced { rx, remaining: len })
}

/// The receiving end of [`paced`].
struct Paced {
    rx: mpsc::Receiver<Bytes>,
    remaining: u64,
}

impl hyper::body::Body for Paced {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(piece)) => {
                self.remaining = self.remaining.saturating_sub(piece.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(piece))))
            }
            Poll::Ready(None) if self.remaining > 0 => {
                Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading"))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
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
            info!(count, "HTTP connection closed: the client took nothing for {WRITE_TIMEOUT:?}");
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

//! The node's one HTTP client: `rapidrtmp health` and `rapidrtmp drain` ask the node's own
//! endpoints with it (the container image is `scratch`, with no curl, so the binary checks and
//! drains itself; [`request`], on a small runtime of its own), and the node asks the publish
//! authorization hook and delivers webhooks with it ([`send`], on the node's runtime). hyper's
//! HTTP/1.1 client connection, one request per connection; plain `http://` only, bounded in time
//! (one deadline for resolving, connecting, sending and reading) and in size.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::http::{header, HeaderName, HeaderValue, Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Largest response read, head and body together.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// `http://host[:port][/path]`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The host as written (an IPv6 address keeps its brackets), for the `Host` header.
    pub host: String,
    /// The port (80 when the URL names none).
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// Parses a plain-HTTP URL; anything else is an error that says why.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        if !url.starts_with("http://") {
            bail!("{url:?}: expected an http:// URL (this client speaks plain HTTP)");
        }
        let uri: Uri = url.parse().with_context(|| format!("{url:?}: expected http://host[:port]/path"))?;
        let Some(authority) = uri.authority() else {
            bail!("{url:?}: expected http://host[:port]/path");
        };
        if authority.as_str().contains('@') {
            bail!("{url:?}: expected http://host[:port]/path");
        }
        let host = authority.host();
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("{url:?}: bad host");
        }
        let port = match authority.as_str().strip_prefix(host) {
            Some("") => 80,
            _ => authority.port_u16().with_context(|| format!("{url:?}: bad port"))?,
        };
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let path = if path.is_empty() { "/" } else { path };
        Ok(Self { host: host.into(), port, path: path.into() })
    }

    /// The same host and port with another path.
    pub fn with_path(&self, path: &str) -> Self {
        Self { path: path.into(), ..self.clone() }
    }

    async fn socket_addrs(&self) -> anyhow::Result<Vec<SocketAddr>> {
        let name = self.host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<_> = tokio::net::lookup_host((name, self.port))
            .await
            .with_context(|| format!("cannot resolve {}", self.host))?
            .collect();
        if addrs.is_empty() {
            bail!("{} resolves to no address", self.host);
        }
        Ok(addrs)
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}:{}{}", self.host, self.port, self.path)
    }
}

/// A response: status and body.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

/// Sends `method url` with no body (with a bearer token when given) and reads the whole
/// response, all within `timeout`, on a runtime of its own (for the commands that have none).
pub fn request(method: &str, url: &Url, bearer: Option<&str>, timeout: Duration) -> anyhow::Result<Reply> {
    let mut headers = Vec::new();
    if let Some(token) = bearer {
        let value = HeaderValue::from_str(&format!("Bearer {token}")).context("the token is not a header value")?;
        headers.push((header::AUTHORIZATION, value));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(send(method, url, &headers, Bytes::new(), timeout))
}

/// Sends `method url` with these extra headers and this body (its `Content-Type` among the
/// headers) and reads the whole response, all within `timeout`.
pub async fn send(
    method: &str,
    url: &Url,
    headers: &[(HeaderName, HeaderValue)],
    body: Bytes,
    timeout: Duration,
) -> anyhow::Result<Reply> {
    let deadline = Instant::now() + timeout;
    let method = Method::from_bytes(method.as_bytes()).with_context(|| format!("{method:?}: not an HTTP method"))?;
    let host = HeaderValue::from_str(&format!("{}:{}", url.host, url.port)).context("bad host")?;
    let mut request = Request::builder()
        .method(method)
        .uri(url.path.as_str())
        .header(header::HOST, host)
        .header(header::USER_AGENT, concat!("rapidrtmp/", env!("CARGO_PKG_VERSION")))
        .header(header::CONNECTION, "close")
        .header(header::CONTENT_LENGTH, body.len());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = request.body(Full::new(body)).with_context(|| format!("{url}: bad request"))?;

    let addrs = tokio::time::timeout_at(deadline, url.socket_addrs())
        .await
        .with_context(|| format!("cannot resolve {} within {timeout:?}", url.host))??;
    let mut last_error = None;
    let mut socket = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        match tokio::time::timeout(left, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                socket = Some(s);
                break;
            }
            Ok(Err(e)) => last_error = Some(e.to_string()),
            Err(_) => last_error = Some("connection timed out".into()),
        }
    }
    let Some(socket) = socket else {
        bail!("cannot connect to {url}: {}", last_error.as_deref().unwrap_or("no address"));
    };

    let exchange = async {
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(MAX_RESPONSE_BYTES)
            .handshake(TokioIo::new(socket))
            .await
            .with_context(|| format!("{url}: starting HTTP/1.1"))?;
        // The connection answers this one request, then closes; its errors reach the response.
        tokio::spawn(connection);
        let response = sender.send_request(request).await.map_err(|e| head_error(url, &e))?;
        let status = response.status().as_u16();
        // The head as it came on the wire: status line, each header line, the empty line.
        let head: usize = 17
            + response.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum::<usize>()
            + 2;
        let room = MAX_RESPONSE_BYTES.saturating_sub(head);
        let body = Limited::new(response.into_body(), room).collect().await.map_err(|e| {
            match e.downcast::<hyper::Error>() {
                Ok(e) if closed_early(&e) => anyhow::anyhow!("{url}: the connection closed mid-response"),
                Ok(e) => anyhow::Error::new(e).context(format!("{url}: reading the response")),
                Err(_) => anyhow::anyhow!("{url}: the response is larger than {MAX_RESPONSE_BYTES} bytes"),
            }
        })?;
        anyhow::Ok(Reply { status, body: body.to_bytes().to_vec() })
    };
    tokio::time::timeout_at(deadline, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("{url}: no complete answer within {timeout:?}"))?
}

/// Whether a body could not be read because the connection ended before it did.
fn closed_early(e: &hyper::Error) -> bool {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof) {
            return true;
        }
        cause = c.source();
    }
    e.is_incomplete_message()
}

/// What went wrong before the response head was read, in words.
fn head_error(url: &Url, e: &hyper::Error) -> anyhow::Error {
    if e.is_incomplete_message() {
        anyhow::anyhow!("{url}: the connection closed with no answer")
    } else if e.is_parse_too_large() {
        anyhow::anyhow!("{url}: the response is larger than {MAX_RESPONSE_BYTES} bytes")
    } else if e.is_parse() || e.is_parse_status() {
        anyhow::anyhow!("{url}: not an HTTP/1.x response ({e})")
    } else {
        anyhow::anyhow!("{url}: {e}")
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread::JoinHandle;

    use super::*;

    #[test]
    fn parses_urls() {
        let u = Url::parse("http://127.0.0.1:8080/health").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("127.0.0.1", 8080, "/health"));
        let u = Url::parse("http://[::1]:9/x?y=1").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("[::1]", 9, "/x?y=1"));
        let u = Url::parse("http://node").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("node", 80, "/"));
        assert_eq!(Url::parse("http://[::1]/a").unwrap().port, 80);
        for bad in ["https://x/health", "127.0.0.1:8080", "http://", "http://a:b/", "http://u@h/"] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_empty_or_too_large_port_is_refused() {
        for bad in ["http://h:/", "http://h:65536/", "http://[::1]:/"] {
            let e = format!("{:#}", Url::parse(bad).unwrap_err());
            assert!(e.ends_with("bad port"), "{bad}: {e}");
        }
    }

    /// A peer on 127.0.0.1 that reads one request head, answers `reply` (then waits `hold`)
    /// and hands back the request it read.
    fn peer(reply: Vec<u8>, hold: Duration) -> (Url, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/api/v1/drain", listener.local_addr().unwrap())).unwrap();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            let _ = s.write_all(&reply);
            std::thread::sleep(hold);
            String::from_utf8(head).unwrap()
        });
        (url, handle)
    }

    fn ask(reply: &[u8]) -> anyhow::Result<Reply> {
        let (url, peer) = peer(reply.to_vec(), Duration::ZERO);
        let r = request("GET", &url, None, Duration::from_secs(5));
        peer.join().unwrap();
        r
    }

    #[test]
    fn sends_one_request_with_its_token_and_reads_length_chunked_and_closed_bodies() {
        let (url, peer) = peer(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n".to_vec(), Duration::ZERO);
        let r = request("POST", &url, Some("k3y"), Duration::from_secs(5)).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok\n"[..]));
        let head = peer.join().unwrap().to_ascii_lowercase();
        let port = url.port;
        for line in [
            "post /api/v1/drain http/1.1\r\n".to_string(),
            format!("host: 127.0.0.1:{port}\r\n"),
            "authorization: bearer k3y\r\n".into(),
            "connection: close\r\n".into(),
            "content-length: 0\r\n".into(),
            format!("user-agent: rapidrtmp/{}\r\n", env!("CARGO_PKG_VERSION")),
        ] {
            assert!(head.contains(&line), "{line:?} not in {head:?}");
        }

        let r = ask(b"HTTP/1.0 200 OK\r\n\r\nto the end").unwrap();
        assert_eq!(r.body, b"to the end");
        let chunked =
            b"HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n2\r\nno\r\n1\r\n!\r\n0\r\n\r\n";
        let r = ask(chunked).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (503, &b"no!"[..]));
    }

    #[test]
    fn a_short_odd_or_oversized_answer_is_an_error_in_words() {
        let text = |r: anyhow::Result<Reply>| format!("{:#}", r.unwrap_err());
        let e = text(ask(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok"));
        assert!(e.ends_with("the connection closed mid-response"), "{e}");
        let e = text(ask(b""));
        assert!(e.ends_with("the connection closed with no answer"), "{e}");
        let e = text(ask(b"SSH-2.0-x\r\n\r\n"));
        assert!(e.contains("not an HTTP/1.x response"), "{e}");
        let big = MAX_RESPONSE_BYTES - 40;
        let mut reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {big}\r\n\r\n").into_bytes();
        reply.resize(reply.len() + big, b'x');
        let e = text(ask(&reply));
        assert!(e.ends_with(&format!("the response is larger than {MAX_RESPONSE_BYTES} bytes")), "{e}");
        let mut reply = b"HTTP/1.1 200 OK\r\nX-Fill: ".to_vec();
        reply.resize(reply.len() + MAX_RESPONSE_BYTES, b'x');
        let e = text(ask(&reply));
        assert!(e.ends_with(&format!("the response is larger than {MAX_RESPONSE_BYTES} bytes")), "{e}");
        // Just under the limit, head and body together, is read whole.
        let mut reply = b"HTTP/1.1 200 OK\r\nContent-Length: 1048000\r\n\r\n".to_vec();
        reply.resize(reply.len() + 1_048_000, b'x');
        assert_eq!(ask(&reply).unwrap().body.len(), 1_048_000);
    }

    #[test]
    fn one_deadline_bounds_the_whole_exchange() {
        // The peer sends the head and part of the body, then holds the connection open.
        let (url, peer) = peer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf".to_vec(), Duration::from_secs(3));
        let started = std::time::Instant::now();
        let e = format!("{:#}", request("GET", &url, None, Duration::from_millis(500)).unwrap_err());
        let took = started.elapsed();
        assert!(e.ends_with("no complete answer within 500ms"), "{e}");
        assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(2), "{took:?}");
        peer.join().unwrap();

        // Nothing listens: the connection is refused, in words.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/health", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        let e = format!("{:#}", request("GET", &url, None, Duration::from_secs(2)).unwrap_err());
        assert!(e.starts_with(&format!("cannot connect to {url}: ")), "{e}");
    }
}

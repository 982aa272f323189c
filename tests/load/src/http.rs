//! A minimal HTTP/1.1 client over keep-alive connections, enough for the load tool: token
//! requests, playlist polling and the viewers' playlist and part requests.

use std::io::{Error, ErrorKind};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most bytes of response headers read before the response is refused.
const MAX_HEAD_BYTES: usize = 64 << 10;
/// Most bytes of a response body read before the response is refused (a 2 s 1080p segment is
/// a few MB).
const MAX_BODY_BYTES: usize = 64 << 20;
/// Bytes asked of the socket per read.
const READ_SIZE: usize = 64 << 10;

/// `http://host[:port][/path]` → (`host:port`, `/path`).
pub fn parse_http_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url}: expected http://host[:port]/…"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("{url}: no host"));
    }
    let host_port = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    Ok((host_port, path.to_string()))
}

/// One response: its status, body and `Retry-After` (whole seconds) if it had one.
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The whole body.
    pub body: Vec<u8>,
    /// `Retry-After` in seconds, when given as a number.
    pub retry_after: Option<u64>,
}

/// A minimal HTTP/1.1 client connection (keep-alive, Content-Length or close-delimited bodies).
pub struct HttpConn {
    /// `host:port` it connects to.
    pub host_port: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl HttpConn {
    /// A connection to `host_port`, opened at the first request.
    pub fn new(host_port: String) -> Self {
        Self { host_port, stream: None, buf: Vec::new() }
    }

    /// A `GET path` request with the headers every request of the load tool carries.
    pub fn get_request(&self, path: &str) -> Vec<u8> {
        format!("GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rapidrtmp-load\r\n\r\n", self.host_port).into_bytes()
    }

    /// Sends `request` and reads one response. Reconnects once if a kept-alive connection
    /// turns out closed.
    pub async fn exchange(&mut self, request: &[u8]) -> std::io::Result<Response> {
        let reused = self.stream.is_some();
        match self.try_exchange(request).await {
            Ok(r) => Ok(r),
            Err(_) if reused => {
                self.stream = None;
                self.try_exchange(request).await
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }

    async fn try_exchange(&mut self, request: &[u8]) -> std::io::Result<Response> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.host_port).await?;
            let _ = s.set_nodelay(true);
            self.stream = Some(s);
            self.buf.clear();
        }
        let Some(stream) = self.stream.as_mut() else { unreachable!() };
        stream.write_all(request).await?;
        // Headers.
        let mut searched = 0;
        let head_end = loop {
            if let Some(i) = self.buf[searched..].windows(4).position(|w| w == b"\r\n\r\n") {
                break searched + i + 4;
            }
            searched = self.buf.len().saturating_sub(3);
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(Error::new(ErrorKind::InvalidData, "response headers larger than 64 KiB"));
            }
            self.buf.reserve(READ_SIZE);
            if stream.read_buf(&mut self.buf).await? == 0 {
                return Err(Error::new(ErrorKind::UnexpectedEof, "connection closed before the response headers"));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| Error::new(ErrorKind::InvalidData, "bad HTTP status line"))?;
        let header = |name: &str| {
            head.lines().skip(1).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_ascii_lowercase())
            })
        };
        let close = header("connection").is_some_and(|v| v == "close");
        let retry_after = header("retry-after").and_then(|v| v.parse::<u64>().ok());
        if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            return Err(Error::new(ErrorKind::InvalidData, "chunked responses are not supported"));
        }
        let body = match header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            Some(len) if len > MAX_BODY_BYTES => {
                return Err(Error::new(ErrorKind::InvalidData, format!("a {len}-byte body is over 64 MiB")));
            }
            Some(len) => {
                while self.buf.len() < head_end + len {
                    self.buf.reserve((head_end + len - self.buf.len()).min(READ_SIZE.max(len)));
                    if stream.read_buf(&mut self.buf).await? == 0 {
                        return Err(Error::new(ErrorKind::UnexpectedEof, "connection closed inside the body"));
                    }
                }
                let body = self.buf[head_end..head_end + len].to_vec();
                self.buf.drain(..head_end + len);
                body
            }
            None => {
                stream.read_to_end(&mut self.buf).await?;
                let body = self.buf[head_end..].to_vec();
                self.buf.clear();
                self.stream = None;
                return Ok(Response { status, body, retry_after });
            }
        };
        if close {
            self.stream = None;
        }
        Ok(Response { status, body, retry_after })
    }
}

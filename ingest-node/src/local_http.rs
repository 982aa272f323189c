//! A minimal blocking HTTP/1.1 client for the node's own endpoints (`rapidrtmp health`,
//! `rapidrtmp drain`): the container image is `scratch`, with no curl, so the binary checks and
//! drains itself. Plain `http://` only, one request per connection, bounded in time and size.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

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
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("{url:?}: expected an http:// URL (this client speaks plain HTTP to the node itself)");
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            bail!("{url:?}: expected http://host[:port]/path");
        }
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => {
                let port = authority[i + 1..].parse().with_context(|| format!("{url:?}: bad port"))?;
                (&authority[..i], port)
            }
            _ => (authority, 80),
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("{url:?}: bad host");
        }
        Ok(Self { host: host.into(), port, path: path.into() })
    }

    /// The same host and port with another path.
    pub fn with_path(&self, path: &str) -> Self {
        Self { path: path.into(), ..self.clone() }
    }

    fn socket_addrs(&self) -> anyhow::Result<Vec<SocketAddr>> {
        let name = self.host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<_> =
            (name, self.port).to_socket_addrs().with_context(|| format!("cannot resolve {}", self.host))?.collect();
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
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

/// Sends `method url` (with a bearer token when given) and reads the whole response, all
/// within `timeout`.
pub fn request(method: &str, url: &Url, bearer: Option<&str>, timeout: Duration) -> anyhow::Result<Response> {
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    let mut socket = None;
    for addr in url.socket_addrs()? {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                socket = Some(s);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let Some(mut socket) = socket else {
        let e = last_error.map_or_else(|| "no address".to_string(), |e| e.to_string());
        bail!("cannot connect to {url}: {e}");
    };
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: rapidrtmp/{}\r\nConnection: close\r\nContent-Length: 0\r\n",
        url.path,
        url.host,
        url.port,
        env!("CARGO_PKG_VERSION")
    );
    if let Some(token) = bearer {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    socket.set_write_timeout(Some(left))?;
    socket.write_all(head.as_bytes()).with_context(|| format!("cannot send the request to {url}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("{url}: no complete answer within {timeout:?}");
        }
        socket.set_read_timeout(Some(left))?;
        match socket.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > MAX_RESPONSE_BYTES {
                    bail!("{url}: the response is larger than {MAX_RESPONSE_BYTES} bytes");
                }
                if let Some(r) = parse_response(&raw, false)? {
                    return Ok(r);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("{url}: reading the response")),
        }
    }
    match parse_response(&raw, true)? {
        Some(r) => Ok(r),
        None if raw.is_empty() => bail!("{url}: the connection closed with no answer"),
        None => bail!("{url}: the connection closed mid-response"),
    }
}

/// Parses a complete response; `Ok(None)` while more bytes are needed. A body without a length
/// ends with the connection: `closed` says it has.
fn parse_response(raw: &[u8], closed: bool) -> anyhow::Result<Option<Response>> {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&raw[..end]).context("the response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = match status_line.split(' ').collect::<Vec<_>>()[..] {
        [v, code, ..] if v.starts_with("HTTP/1.") => code.parse::<u16>().ok(),
        _ => None,
    };
    let Some(status) = status else {
        bail!("not an HTTP/1.x response: {status_line:?}");
    };
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().context("bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let body = &raw[end + 4..];
    if chunked {
        return Ok(dechunk(body)?.map(|body| Response { status, body }));
    }
    match length {
        Some(n) if body.len() >= n => Ok(Some(Response { status, body: body[..n].to_vec() })),
        Some(_) => Ok(None),
        // No length: the body runs to the end of the connection.
        None if closed => Ok(Some(Response { status, body: body.to_vec() })),
        None => Ok(None),
    }
}

/// Decodes a chunked body; `Ok(None)` until the last chunk has arrived.
fn dechunk(mut data: &[u8]) -> anyhow::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&data[..eol]).context("bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).with_context(|| format!("bad chunk size {size_text:?}"))?;
        if size > MAX_RESPONSE_BYTES {
            bail!("a chunk of {size} bytes is larger than {MAX_RESPONSE_BYTES}");
        }
        let rest = &data[eol + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&rest[..size]);
        data = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
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
    fn reads_length_and_chunked_bodies() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n", false).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok\n"[..]));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok", true).unwrap().is_none());
        assert!(parse_response(b"HTTP/1.0 200 OK\r\n\r\nto the end", false).unwrap().is_none());
        let r = parse_response(b"HTTP/1.0 200 OK\r\n\r\nto the end", true).unwrap().unwrap();
        assert_eq!(r.body, b"to the end");
        let chunked =
            b"HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n2\r\nno\r\n1\r\n!\r\n0\r\n\r\n";
        let r = parse_response(chunked, false).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (503, &b"no!"[..]));
        assert!(parse_response(&chunked[..chunked.len() - 7], false).unwrap().is_none());
        assert!(parse_response(b"SSH-2.0-x\r\n\r\n", true).is_err());
    }
}

//! A minimal HTTP/1.1 client over std's TcpStream: one request per connection
//! (`Connection: close`), fixed-length or chunked bodies.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {} {}", self.status, self.text()))
    }
}

/// Sends one request to `addr`. `headers` are added to `Host`, `Connection: close` and, with a
/// body, `Content-Length`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let raw = read_response(&mut stream, method == "HEAD")?;
    parse(&raw, method == "HEAD")
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{method} {path}: {e}")))
}

/// Parses a response; `head`: the answer to a HEAD request, which has no body whatever its
/// `Content-Length` says (RFC 9110 §9.3.2).
fn parse(raw: &[u8], head_request: bool) -> Result<Response, String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("empty response")?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!("bad status line {status_line:?}"));
    }
    let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or(format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (k, v) = line.split_once(':').ok_or(format!("bad header line {line:?}"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let rest = &raw[end + 4..];
    let get = |name: &str| headers.iter().find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name));
    let body = if head_request {
        if !rest.is_empty() {
            return Err(format!("{} body bytes after a HEAD response", rest.len()));
        }
        Vec::new()
    } else if get("transfer-encoding").is_some_and(|(_, v)| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some((_, len)) = get("content-length") {
        let len: usize = len.parse().map_err(|_| format!("bad Content-Length {len:?}"))?;
        if rest.len() != len {
            return Err(format!("Content-Length {len} but {} body bytes", rest.len()));
        }
        rest.to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").ok_or("truncated chunk size")?;
        let size_text = std::str::from_utf8(&data[..eol]).map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Reads one response: up to the end of its body as its headers say (`Content-Length`, chunked,
/// none for HEAD), or to EOF; servers that keep the connection open despite `Connection: close`
/// (wrangler dev) are not waited for.
fn read_response(stream: &mut TcpStream, head_request: bool) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let body = &raw[end + 4..];
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            let complete = if head_request || head.starts_with("http/1.1 204") || head.starts_with("http/1.1 304") {
                true
            } else if head.lines().any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked")) {
                body.ends_with(b"0\r\n\r\n")
            } else {
                length.is_some_and(|n| body.len() >= n)
            };
            if complete {
                return Ok(raw);
            }
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Splits `http://host:port/path` into the address and the path.
pub fn split_url(url: &str) -> (SocketAddr, String) {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not an http:// URL: {url}"));
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = host.parse().unwrap_or_else(|e| panic!("{url}: host {host:?}: {e}"));
    (addr, format!("/{path}"))
}

/// `GET url`, panicking on a transport error.
pub fn get(url: &str) -> Response {
    let (addr, path) = split_url(url);
    request(addr, "GET", &path, &[], &[]).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

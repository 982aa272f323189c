//! s3s-fs, a real S3 server over a folder (checks SigV4), on a free 127.0.0.1 port; and
//! [`StallingProxy`], a TCP proxy in front of it that can hold PUT requests (a slow store).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::proc::{free_ports, Background};

pub const ACCESS_KEY: &str = "rapidrtmp-test-ak";
pub const SECRET_KEY: &str = "rapidrtmp-test-secret-key";

/// The s3s-fs program: `$S3S_FS`, else on `PATH`, else in `~/.cargo/bin`; panics naming
/// `tests/s3s.sh` (which installs it) when there is none.
pub fn program() -> PathBuf {
    const HOW: &str = "run tests/s3s.sh to install it (cargo install s3s-fs@0.14.1 --features binary --locked)";
    if let Some(p) = std::env::var_os("S3S_FS") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "S3S_FS={} is no file: {HOW}", p.display());
        return p;
    }
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("s3s-fs not found (PATH, ~/.cargo/bin, $S3S_FS): {HOW}"))
}

/// A running s3s-fs serving `root` (each bucket a sub-folder); killed on drop.
pub struct S3sFs {
    proc: Background,
    pub root: PathBuf,
    pub endpoint: String,
}

impl S3sFs {
    /// Starts s3s-fs over `root` (created) with the buckets `buckets` (empty folders).
    pub fn start(root: &Path, buckets: &[&str]) -> S3sFs {
        let program = program();
        for b in buckets {
            std::fs::create_dir_all(root.join(b)).unwrap();
        }
        for attempt in 0..3 {
            let port = free_ports(1)[0];
            let log = root.with_file_name(format!("s3s-fs-{attempt}.log"));
            let mut cmd = Command::new(&program);
            cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(root);
            let mut proc = Background::spawn("s3s-fs", &mut cmd, log);
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return S3sFs { proc, root: root.to_path_buf(), endpoint: format!("http://127.0.0.1:{port}") };
                }
                if let Some(status) = proc.status() {
                    let log = proc.log();
                    if attempt < 2 && log.contains("in use") {
                        break;
                    }
                    panic!("s3s-fs exited ({status}):\n{log}");
                }
                assert!(Instant::now() < deadline, "s3s-fs did not listen on {port} in 15 s:\n{}", proc.log());
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        unreachable!("three attempts to start s3s-fs")
    }

    /// The node flags and environment for `s3://{bucket}/{prefix}` on this server.
    pub fn node_store(&self, bucket: &str, prefix: &str) -> (Vec<String>, Vec<(String, String)>) {
        self.node_store_via(&self.endpoint, bucket, prefix)
    }

    /// [`S3sFs::node_store`] reaching this server through `endpoint` (a proxy in front of it).
    pub fn node_store_via(&self, endpoint: &str, bucket: &str, prefix: &str) -> (Vec<String>, Vec<(String, String)>) {
        let endpoint = endpoint.to_string();
        let args = vec![
            "--store".to_string(),
            format!("s3://{bucket}/{prefix}"),
            "--s3-endpoint".into(),
            endpoint,
            "--s3-region".into(),
            "us-east-1".into(),
            "--s3-path-style".into(),
            "true".into(),
        ];
        let env = [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        (args, env)
    }

    pub fn log(&self) -> String {
        self.proc.log()
    }

    /// Stops the server (an origin outage).
    pub fn stop(&mut self) {
        self.proc.kill();
    }

    /// Starts it again on the same port and folder.
    pub fn restart(&mut self) {
        self.proc.kill();
        let port: u16 = self.endpoint.rsplit(':').next().and_then(|p| p.parse().ok()).expect("endpoint port");
        let mut cmd = Command::new(program());
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&self.root);
        self.proc = Background::spawn("s3s-fs", &mut cmd, self.root.with_file_name("s3s-fs-restart.log"));
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(self.proc.status().is_none(), "s3s-fs did not restart:\n{}", self.proc.log());
            assert!(Instant::now() < deadline, "s3s-fs did not listen again on {port} in 15 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        self.proc.kill();
        if std::thread::panicking() {
            eprintln!("---- s3s-fs log ----\n{}\n----", self.proc.log_tail(40));
        }
    }
}

/// Which PUT requests a [`StallingProxy`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Stall {
    /// None: everything passes.
    None,
    /// Every PUT but those of owner records (`…/owner.json`): chunks, manifests, retention
    /// lists, token markers.
    Media,
    /// Every PUT.
    All,
}

/// Largest request body the proxy reads (a chunk is a few MB).
const PROXY_MAX_BODY: usize = 64 << 20;

/// A TCP proxy on a free 127.0.0.1 port in front of an HTTP/1.1 server (s3s-fs) that holds the
/// PUT requests [`Stall`] names, whole, until it is switched back: the store stalls. A held
/// request whose client gives up (closes the connection) is dropped, never forwarded. The other
/// requests, and every response, pass unchanged. Stops accepting on drop.
pub struct StallingProxy {
    pub endpoint: String,
    stall: Arc<AtomicU8>,
    held: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl StallingProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`), passing everything.
    pub fn start(upstream: &str) -> StallingProxy {
        let upstream: SocketAddr = upstream.trim_start_matches("http://").parse().expect("upstream 127.0.0.1:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().unwrap();
        let stall = Arc::new(AtomicU8::new(Stall::None as u8));
        let held = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, h, st) = (stall.clone(), held.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (s, h) = (s.clone(), h.clone());
                std::thread::spawn(move || {
                    if let Err(e) = proxy_connection(client, upstream, &s, &h) {
                        eprintln!("stalling proxy: connection ended: {e}");
                    }
                });
            }
        });
        StallingProxy { endpoint: format!("http://{addr}"), stall, held, stop, addr }
    }

    /// Holds the PUT requests `stall` names from now on (and releases those it no longer names).
    pub fn set(&self, stall: Stall) {
        self.stall.store(stall as u8, Ordering::Relaxed);
    }

    /// How many requests have been held so far.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        self.set(Stall::None);
    }
}

/// Whether `stall` holds a `method` request for `path`.
fn holds(stall: u8, method: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    method == "PUT" && (stall == Stall::All as u8 || (stall == Stall::Media as u8 && !path.ends_with("/owner.json")))
}

/// Relays one client connection: responses are copied as they come; requests are read whole
/// (head and `Content-Length` body) and held while the switch says so.
fn proxy_connection(
    client: TcpStream,
    upstream: SocketAddr,
    stall: &AtomicU8,
    held: &AtomicU64,
) -> std::io::Result<()> {
    let mut server = TcpStream::connect(upstream)?;
    let (mut from_server, mut to_client) = (server.try_clone()?, client.try_clone()?);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(std::net::Shutdown::Both);
    });
    let mut reader = BufReader::new(client.try_clone()?);
    loop {
        let mut head = Vec::new();
        let mut content_length = 0usize;
        loop {
            let before = head.len();
            if reader.read_until(b'\n', &mut head)? == 0 {
                let _ = server.shutdown(std::net::Shutdown::Both);
                return Ok(()); // the client closed the connection
            }
            let line = String::from_utf8_lossy(&head[before..]).to_ascii_lowercase();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.strip_prefix("content-length:") {
                content_length = v.trim().parse().map_err(|_| std::io::Error::other(format!("bad {line:?}")))?;
            }
            if line.starts_with("transfer-encoding:") || line.starts_with("expect:") {
                // (The S3 client sends neither; this proxy does not implement them.)
                return Err(std::io::Error::other(format!("unsupported request header {line:?}")));
            }
        }
        if content_length > PROXY_MAX_BODY {
            return Err(std::io::Error::other(format!("request body of {content_length} bytes")));
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        let request_line =
            String::from_utf8_lossy(&head[..head.iter().position(|&b| b == b'\r').unwrap_or(0)]).into_owned();
        let mut parts = request_line.split(' ');
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if holds(stall.load(Ordering::Relaxed), method, path) {
            held.fetch_add(1, Ordering::Relaxed);
            while holds(stall.load(Ordering::Relaxed), method, path) {
                if client_gone(&client)? {
                    let _ = server.shutdown(std::net::Shutdown::Both);
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        server.write_all(&head)?;
        server.write_all(&body)?;
    }
}

/// Whether the client closed its connection (it sends nothing more while it waits for an
/// answer: a read would see the end).
fn client_gone(client: &TcpStream) -> std::io::Result<bool> {
    client.set_read_timeout(Some(Duration::from_millis(5)))?;
    let mut byte = [0u8; 1];
    let gone = match client.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => false,
        Err(_) => true,
    };
    client.set_read_timeout(None)?;
    Ok(gone)
}

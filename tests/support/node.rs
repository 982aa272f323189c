//! A `rapidrtmp serve` child process on free 127.0.0.1 ports, and its HTTP API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::cli::BIN;
use super::hls::Playlist;
use super::http::{self, Response};
use super::proc::{free_ports, unique_name, Background};
use super::prom::{self, Exposition};

/// The binary nodes run: [`BIN`], or the build named by `RAPIDRTMP_TEST_NODE_BIN` (to run the
/// tests against another build of the node, e.g. an older one, side by side).
pub fn node_bin() -> String {
    std::env::var("RAPIDRTMP_TEST_NODE_BIN").unwrap_or_else(|_| BIN.to_string())
}

/// How long a node may take to answer `/ready`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start a node.
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    /// `--admin-key`; `None` lets the node make one (kept in the data dir) or reuse it.
    pub admin_key: Option<String>,
    /// More flags (`--segment-duration 1`, `--store …`).
    pub args: Vec<String>,
    /// Environment variables (the `RAPIDRTMP_*` ones of the test process are removed).
    pub env: Vec<(String, String)>,
}

impl NodeOptions {
    /// A fixed admin key, 1-second segments and a window holding a whole test's segments.
    pub fn standard() -> NodeOptions {
        NodeOptions {
            admin_key: Some(new_admin_key()),
            args: ["--segment-duration", "1", "--live-window", "100", "--reconnect-grace", "2"]
                .map(String::from)
                .to_vec(),
            env: Vec::new(),
        }
    }
}

impl NodeOptions {
    /// Sets `flag` to `value`: replaces its value if it is set, adds it if not.
    pub fn set(&mut self, flag: &str, value: &str) {
        match self.args.iter().position(|a| a == flag) {
            Some(at) => self.args[at + 1] = value.into(),
            None => self.args.extend([flag.to_string(), value.to_string()]),
        }
    }
}

/// A fresh admin key (at least 16 characters).
pub fn new_admin_key() -> String {
    format!("test-admin-{}", unique_name("key"))
}

/// A running node; killed (SIGKILL, by PID) on drop, its log printed if the test is failing.
pub struct Node {
    proc: Background,
    pub rtmp: SocketAddr,
    pub http: SocketAddr,
    pub data_dir: PathBuf,
    pub admin_key: String,
}

impl Node {
    /// Starts a node on `data_dir` and waits for `/ready`; its log goes beside the data dir.
    pub fn start(data_dir: &Path, opts: &NodeOptions) -> Node {
        Self::start_under(&[], data_dir, opts)
    }

    /// [`Node::start`] through `wrapper`, a command that runs the node as its last argument
    /// (`prlimit --nofile=1024:N --`), which must exec it (so the PID is the node's).
    pub fn start_under(wrapper: &[&str], data_dir: &Path, opts: &NodeOptions) -> Node {
        static STARTS: AtomicU64 = AtomicU64::new(0);
        for attempt in 0..3 {
            let ports = free_ports(2);
            let rtmp: SocketAddr = ([127, 0, 0, 1], ports[0]).into();
            let http: SocketAddr = ([127, 0, 0, 1], ports[1]).into();
            let n = STARTS.fetch_add(1, Ordering::Relaxed);
            let name = data_dir.file_name().and_then(|n| n.to_str()).unwrap_or("data");
            let log = data_dir.with_file_name(format!("{name}.node-{n}.log"));
            let mut cmd = match wrapper.split_first() {
                Some((program, args)) => {
                    let mut c = Command::new(program);
                    c.args(args).arg(node_bin());
                    c
                }
                None => Command::new(node_bin()),
            };
            cmd.arg("serve")
                .args(["--rtmp-addr", &rtmp.to_string(), "--http-addr", &http.to_string()])
                .arg("--data-dir")
                .arg(data_dir);
            if let Some(k) = &opts.admin_key {
                cmd.args(["--admin-key", k]);
            }
            cmd.args(&opts.args);
            for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("RAPIDRTMP_")) {
                cmd.env_remove(k);
            }
            cmd.env("NO_COLOR", "1").env("RAPIDRTMP_LOG", "info");
            for (k, v) in &opts.env {
                cmd.env(k, v);
            }
            let mut proc = Background::spawn("rapidrtmp serve", &mut cmd, log);
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if let Some(status) = proc.status() {
                    let log = proc.log();
                    if log.contains("cannot listen") && attempt < 2 {
                        break; // a port was taken in the meantime: new ports
                    }
                    panic!("rapidrtmp serve exited ({status}) before it was ready:\n{log}");
                }
                if let Ok(r) = http::request(http, "GET", "/ready", &[], &[]) {
                    if r.status == 200 {
                        let admin_key = match &opts.admin_key {
                            Some(k) => k.clone(),
                            None => std::fs::read_to_string(data_dir.join("admin.key"))
                                .unwrap_or_else(|e| panic!("no admin.key in {}: {e}", data_dir.display()))
                                .trim()
                                .to_string(),
                        };
                        return Node { proc, rtmp, http, data_dir: data_dir.to_path_buf(), admin_key };
                    }
                }
                assert!(Instant::now() < deadline, "node not ready within {START_TIMEOUT:?}:\n{}", proc.log());
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        unreachable!("three attempts to start a node")
    }

    /// `method path` with `Authorization: Bearer {auth}` if given.
    pub fn request(&self, method: &str, path: &str, auth: Option<&str>, body: Option<&Value>) -> Response {
        let bearer = auth.map(|k| format!("Bearer {k}"));
        let mut headers = Vec::new();
        if let Some(b) = &bearer {
            headers.push(("Authorization", b.as_str()));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        http::request(self.http, method, path, &headers, body.as_bytes())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\nnode log:\n{}", self.proc.log_tail(40)))
    }

    /// An admin API call with the right key.
    pub fn api(&self, method: &str, path: &str, body: Option<&Value>) -> Response {
        self.request(method, path, Some(&self.admin_key), body)
    }

    /// `GET path` without credentials.
    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, None, None)
    }

    /// Issues a publish token (`POST /api/v1/publish`); checks the response's shape.
    pub fn token(&self, key: &str, ttl_seconds: u64, single_use: bool) -> String {
        let r = self.api(
            "POST",
            "/api/v1/publish",
            Some(&json!({ "streamKey": key, "ttlSeconds": ttl_seconds, "singleUse": single_use })),
        );
        assert_eq!(r.status, 201, "POST /api/v1/publish: {}", r.text());
        let j = r.json();
        let token = j["token"].as_str().unwrap_or_else(|| panic!("no token: {j}")).to_string();
        let expires = j["expiresAt"].as_u64().unwrap_or_else(|| panic!("no expiresAt: {j}"));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert!(
            expires >= now && expires <= now + ttl_seconds + 2,
            "expiresAt {expires}, now {now}, ttl {ttl_seconds}"
        );
        let rtmp_url = j["rtmpUrl"].as_str().unwrap_or_default();
        assert!(
            rtmp_url.ends_with(&format!(":{}/live/{key}?token={token}", self.rtmp.port())),
            "rtmpUrl {rtmp_url:?} for RTMP port {}",
            self.rtmp.port()
        );
        let playback = j["playbackUrl"].as_str().unwrap_or_default();
        assert!(
            playback.ends_with(&format!(":{}/live/{key}/index.m3u8", self.http.port())),
            "playbackUrl {playback:?}"
        );
        token
    }

    /// `rtmp://127.0.0.1:PORT/live/{key}[?token=…]`.
    pub fn rtmp_url(&self, key: &str, token: Option<&str>) -> String {
        match token {
            Some(t) => format!("rtmp://{}/live/{key}?token={t}", self.rtmp),
            None => format!("rtmp://{}/live/{key}", self.rtmp),
        }
    }

    /// The folder URL of a stream's playlists, ending in `/`.
    pub fn stream_base(&self, key: &str) -> String {
        format!("http://{}/live/{key}/", self.http)
    }

    /// `http://…/live/{key}/index.m3u8`.
    pub fn playlist_url(&self, key: &str) -> String {
        format!("{}index.m3u8", self.stream_base(key))
    }

    /// The media playlist, or `None` on 404.
    pub fn playlist(&self, key: &str) -> Option<Playlist> {
        let r = self.get(&format!("/live/{key}/index.m3u8"));
        match r.status {
            404 => None,
            200 => Some(Playlist::parse(&r.text())),
            s => panic!("GET /live/{key}/index.m3u8: {s} {}", r.text()),
        }
    }

    /// Polls the playlist until `done` holds; panics with the last playlist after `timeout`.
    pub fn wait_playlist(
        &self,
        key: &str,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Playlist) -> bool,
    ) -> Playlist {
        let deadline = Instant::now() + timeout;
        loop {
            let p = self.playlist(key);
            if let Some(p) = &p {
                if done(p) {
                    return p.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for the playlist of {key} to have {what}; last: {}\nnode log:\n{}",
                p.map_or("404".into(), |p| p.text),
                self.proc.log_tail(40)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `GET /metrics`, parsed strictly.
    pub fn metrics(&self) -> Exposition {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200, "/metrics: {}", r.text());
        let ct = r.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("text/plain"), "/metrics Content-Type {ct:?}");
        prom::parse(&r.text()).unwrap_or_else(|e| panic!("/metrics is not valid Prometheus text: {e}\n{}", r.text()))
    }

    /// `rapidrtmp_publish_attempts_total{result}`. Every result is exported from the start, at
    /// 0: an absent series fails the test (so a check for 0 cannot pass on a missing metric).
    pub fn publish_attempts(&self, result: &str) -> f64 {
        self.metrics().get("rapidrtmp_publish_attempts_total", &[("result", result)])
    }

    /// Sends SIGTERM and waits up to `within` for the exit.
    pub fn terminate(&mut self, within: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        self.proc.signal("TERM");
        let status = self
            .proc
            .wait_timeout(within)
            .unwrap_or_else(|| panic!("node still running {within:?} after SIGTERM:\n{}", self.proc.log_tail(40)));
        (status, started.elapsed())
    }

    pub fn log(&self) -> String {
        self.proc.log()
    }

    /// Kills the node with SIGKILL (a crash: nothing is flushed) and waits for it to be gone.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.proc.status().is_none()
    }

    /// Resident set size in KiB (`VmRSS` of /proc/PID/status), `None` once the process is gone.
    pub fn rss_kb(&self) -> Option<u64> {
        rss_kb(self.pid())
    }
}

/// `VmRSS` of a process in KiB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Drop for Node {
    fn drop(&mut self) {
        self.proc.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- rapidrtmp node log ({}), last lines ----\n{}\n----",
                self.proc.log_path().display(),
                self.proc.log_tail(60)
            );
        }
    }
}

/// A `rapidrtmp edge` child process on a free 127.0.0.1 port; killed (by PID) on drop.
pub struct Edge {
    pub addr: SocketAddr,
    _proc: Background,
}

impl Edge {
    /// Starts `rapidrtmp edge --store {store}` (with `--origin {origin}` if given) and waits
    /// for `/ready`; its log goes to `log`.
    pub fn start(store: &Path, origin: Option<&str>, log: PathBuf) -> Edge {
        Edge::start_with(store, origin, &[], log)
    }

    /// [`Edge::start`] with more flags (`args`).
    pub fn start_with(store: &Path, origin: Option<&str>, args: &[&str], log: PathBuf) -> Edge {
        let addr: SocketAddr = ([127, 0, 0, 1], free_ports(1)[0]).into();
        let mut cmd = Command::new(node_bin());
        cmd.args(["edge", "--store"]).arg(store).args(["--http-addr", &addr.to_string()]).args(args);
        if let Some(origin) = origin {
            cmd.args(["--origin", origin]);
        }
        cmd.env_remove("RAPIDRTMP_ORIGIN").env_remove("RAPIDRTMP_CACHE_MB");
        let proc = Background::spawn("rapidrtmp edge", &mut cmd, log);
        super::checks::wait_until("rapidrtmp edge ready", START_TIMEOUT, || {
            http::request(addr, "GET", "/ready", &[], &[]).is_ok_and(|r| r.status == 200)
        });
        Edge { addr, _proc: proc }
    }

    /// GETs `path`.
    pub fn get(&self, path: &str) -> Response {
        http::request(self.addr, "GET", path, &[], &[]).unwrap_or_else(|e| panic!("GET {path} from the edge: {e}"))
    }

    /// `GET /metrics`, parsed strictly.
    pub fn metrics(&self) -> Exposition {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200, "/metrics: {}", r.text());
        prom::parse(&r.text()).unwrap_or_else(|e| panic!("/metrics is not valid Prometheus text: {e}\n{}", r.text()))
    }
}

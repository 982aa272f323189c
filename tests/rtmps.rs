//! End-to-end tests of RTMPS (`--rtmps-addr`): RTMP over TLS, with the certificate of
//! `--tls-cert`/`--tls-key`. Real peers: Debian's ffmpeg (GnuTLS) publishes `rtmps://…`, with
//! verification on (`-tls_verify 1 -ca_file`) against a test CA made with openssl; openssl
//! `s_client` reads the certificate the node serves; raw sockets play the clients that never
//! finish a handshake or speak plain RTMP to the TLS port.
//!
//! What the node is expected to do: the stream published over RTMPS plays back frame-exact, as
//! over RTMP; a certificate whose name does not match is refused by a verifying client; a
//! certificate replaced on disk is served to the next connection (RTMPS and HTTPS alike) while a
//! publish that started before it goes on to its last frame; a connection that never completes
//! the TLS handshake is closed at the 10 s setup deadline; plain RTMP on the RTMPS port is
//! refused at once; RTMP and RTMPS connections share the per-address slots; `--rtmps-addr`
//! without a usable certificate stops the start with the reason. Needs ffmpeg, ffprobe, openssl
//! and curl (`tests/run` installs them).

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::checks::{assert_decodes_cleanly, assert_frames_equal, assert_probe_matches_clip, wait_until};
use support::hls::Playlist;
use support::media::{self, assert_publish_refused, clip, publish_held};
use support::node::{new_admin_key, node_bin};
use support::proc::{free_ports, run, Background, TempDir};
use support::prom::{self, Exposition};

/// How long publishing the 6-second clip in real time may take on a busy machine.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(40);
/// The first segment is listed this soon after the publish starts (1-second segments).
const FIRST_SEGMENT_WITHIN: Duration = Duration::from_secs(10);
/// A connection that has not published (TLS handshake included) is closed this soon after its
/// accept.
const SETUP_DEADLINE: Duration = Duration::from_secs(10);
/// Between the client's connect and the server's accept, and the server's timer and ours.
const SLACK: Duration = Duration::from_secs(1);
/// Plain RTMP on the RTMPS port is refused this soon (well before the setup deadline).
const REFUSED_AT_ONCE: Duration = Duration::from_secs(3);
/// The node looks at its certificate files at most once a second; a test waits this long after
/// replacing them.
const RELOAD_WITHIN: Duration = Duration::from_millis(2500);
/// How long openssl may take.
const OPENSSL_TIMEOUT: Duration = Duration::from_secs(30);

/// A test CA and the server certificates it signs, in a folder.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// A new CA (`ca.pem`, `ca.key`) in `dir`.
    fn new(dir: &Path) -> Pki {
        let pki = Pki { dir: dir.to_path_buf() };
        pki.openssl(
            &["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
            &["-days", "2", "-subj", "/CN=RapidRTMP test CA", "-keyout", "ca.key", "-out", "ca.pem"],
        );
        pki
    }

    /// Runs openssl with `args` then `more` in the folder; panics with its messages unless it
    /// succeeds.
    fn openssl(&self, args: &[&str], more: &[&str]) {
        run(Command::new("openssl").current_dir(&self.dir).args(args).args(more), OPENSSL_TIMEOUT).ok();
    }

    /// The CA certificate.
    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A server certificate `{name}.pem` and key `{name}.key` for `san` (`DNS:localhost,…`),
    /// signed by the CA, with serial number `serial`.
    fn server(&self, name: &str, san: &str, serial: u32) -> (PathBuf, PathBuf) {
        let (key, csr, cert, ext) =
            (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"), format!("{name}.ext"));
        std::fs::write(self.dir.join(&ext), format!("subjectAltName={san}\n")).unwrap();
        let new_key = ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        self.openssl(&new_key, &["-subj", &format!("/CN={name}"), "-keyout", &key, "-out", &csr]);
        let sign = ["x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-days", "2"];
        self.openssl(&sign, &["-set_serial", &serial.to_string(), "-extfile", &ext, "-out", &cert]);
        (self.dir.join(cert), self.dir.join(key))
    }
}

/// The serial number (hex, as openssl prints it) of the certificate `addr` serves, read by
/// `openssl s_client`.
fn served_serial(addr: SocketAddr) -> String {
    let out = run(
        Command::new("openssl")
            .args(["s_client", "-connect", &addr.to_string(), "-servername", "localhost"])
            .stdin(Stdio::null()),
        OPENSSL_TIMEOUT,
    );
    let chain = out.stdout_text();
    assert!(
        chain.contains("-----BEGIN CERTIFICATE-----"),
        "s_client {addr} showed no certificate:\n{}",
        out.describe()
    );
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    x509.stdin.take().unwrap().write_all(chain.as_bytes()).unwrap();
    let serial = x509.wait_with_output().unwrap();
    assert!(serial.status.success(), "openssl x509 read no certificate from:\n{chain}");
    String::from_utf8_lossy(&serial.stdout).trim().trim_start_matches("serial=").to_string()
}

/// The serial of a certificate file.
fn file_serial(cert: &Path) -> String {
    let out = run(Command::new("openssl").args(["x509", "-noout", "-serial", "-in"]).arg(cert), OPENSSL_TIMEOUT).ok();
    out.stdout_text().trim().trim_start_matches("serial=").to_string()
}

/// How long a node may take to answer `/ready`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `rapidrtmp serve` with RTMPS on, killed on drop. With `--tls-cert` its HTTP address speaks
/// HTTPS only, so this handle talks to it with curl (the shared `Node` speaks plain HTTP).
struct TlsNode {
    proc: Background,
    rtmps: SocketAddr,
    http: SocketAddr,
    admin_key: String,
}

impl TlsNode {
    /// Starts a node on free ports serving `cert` and `key`, with flags `more`, and waits for
    /// `/ready`.
    fn start(data: &Path, cert: &Path, key: &Path, more: &[&str]) -> TlsNode {
        let [rtmp, rtmps, http] = free_ports(3)[..] else { unreachable!() };
        let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let admin_key = new_admin_key();
        let mut cmd = Command::new(node_bin());
        cmd.args(["serve", "--rtmp-addr", &addr(rtmp).to_string(), "--rtmps-addr", &addr(rtmps).to_string()])
            .args(["--http-addr", &addr(http).to_string(), "--admin-key", &admin_key])
            .args(["--segment-duration", "1", "--live-window", "100", "--reconnect-grace", "2"])
            .arg("--data-dir")
            .arg(data)
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .args(more);
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("RAPIDRTMP_")) {
            cmd.env_remove(k);
        }
        cmd.env("NO_COLOR", "1").env("RAPIDRTMP_LOG", "info");
        let log = data.with_file_name("node.log");
        let proc = Background::spawn("rapidrtmp serve (RTMPS)", &mut cmd, log);
        let node = TlsNode { proc, rtmps: addr(rtmps), http: addr(http), admin_key };
        let deadline = Instant::now() + START_TIMEOUT;
        while node.curl("GET", "/ready", false, None).0 != 200 {
            assert!(Instant::now() < deadline, "node not ready within {START_TIMEOUT:?}:\n{}", node.proc.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        node
    }

    /// `method path` over HTTPS (the certificate not checked), with the admin key if `admin`;
    /// (status, body), status 0 if there was no answer.
    fn curl(&self, method: &str, path: &str, admin: bool, json: Option<&str>) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-sk", "--max-time", "10", "-X", method, "-w", "\n%{http_code}"]);
        if admin {
            cmd.args(["-H", &format!("Authorization: Bearer {}", self.admin_key)]);
        }
        if let Some(body) = json {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary", body]);
        }
        let out = run(cmd.arg(format!("https://{}{path}", self.http)), Duration::from_secs(20)).stdout_text();
        let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// A publish token for `key`.
    fn token(&self, key: &str) -> String {
        let body = format!(r#"{{"streamKey":"{key}","ttlSeconds":600}}"#);
        let (status, answer) = self.curl("POST", "/api/v1/publish", true, Some(&body));
        assert_eq!(status, 201, "POST /api/v1/publish: {answer}");
        let j: serde_json::Value = serde_json::from_str(&answer).unwrap();
        j["token"].as_str().unwrap_or_else(|| panic!("no token: {j}")).to_string()
    }

    /// `rtmps://{host}:{port}/live/{key}?token=…`.
    fn rtmps_url(&self, host: &str, key: &str) -> String {
        format!("rtmps://{host}:{}/live/{key}?token={}", self.rtmps.port(), self.token(key))
    }

    /// `GET /metrics`, parsed strictly.
    fn metrics(&self) -> Exposition {
        let (status, text) = self.curl("GET", "/metrics", false, None);
        assert_eq!(status, 200, "/metrics: {text}");
        prom::parse(&text).unwrap_or_else(|e| panic!("/metrics is not valid Prometheus text: {e}\n{text}"))
    }

    /// `rapidrtmp_publishes_total{listener}`.
    fn publishes(&self, listener: &str) -> f64 {
        self.metrics().get("rapidrtmp_publishes_total", &[("listener", listener)])
    }

    /// `rapidrtmp_refused_total{cause}`.
    fn refused(&self, cause: &str) -> f64 {
        self.metrics().get("rapidrtmp_refused_total", &[("cause", cause)])
    }

    /// The media playlist, or `None` on 404.
    fn playlist(&self, key: &str) -> Option<Playlist> {
        match self.curl("GET", &format!("/live/{key}/index.m3u8"), false, None) {
            (404, _) => None,
            (200, text) => Some(Playlist::parse(&text)),
            (s, text) => panic!("GET /live/{key}/index.m3u8: {s} {text}"),
        }
    }

    /// Polls the playlist until `done` holds.
    fn wait_playlist(&self, key: &str, what: &str, timeout: Duration, done: impl Fn(&Playlist) -> bool) -> Playlist {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.playlist(key).filter(&done) {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {key} to have {what}:\n{}",
                self.proc.log_tail(40)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The stream ends, in one session, and ffprobe, a full decode and the frame hashes over
    /// HTTPS match the clip's: every frame, in order.
    fn assert_plays_like_the_clip(&self, key: &str) {
        let playlist = self.wait_playlist(key, "#EXT-X-ENDLIST", Duration::from_secs(15), |p| p.ended);
        playlist.assert_well_formed();
        assert_eq!(playlist.discontinuities, 0, "one publish, one session:\n{}", playlist.text);
        let url = format!("https://{}/live/{key}/index.m3u8", self.http);
        assert_probe_matches_clip(&url);
        assert_decodes_cleanly(&url, &[]);
        assert_frames_equal(&url, &[], &clip().hashes);
    }

    fn log(&self) -> String {
        self.proc.log()
    }
}

/// A node serving `cert` and `key` on its HTTPS and RTMPS addresses.
fn start(dir: &TempDir, cert: &Path, key: &Path) -> TlsNode {
    TlsNode::start(&dir.join("data"), cert, key, &[])
}

/// ffmpeg's output options that check the node's certificate against the test CA.
fn verify(ca: &Path) -> Vec<&str> {
    vec!["-tls_verify", "1", "-ca_file", ca.to_str().unwrap()]
}

#[test]
fn rtmps_publish_with_verification_plays_back_frame_exact_and_is_counted_as_rtmps() {
    let dir = TempDir::new("rtmps-publish");
    let pki = Pki::new(dir.path());
    let (cert, key) = pki.server("node", "DNS:localhost,IP:127.0.0.1", 1);
    let node = start(&dir, &cert, &key);

    let url = node.rtmps_url("127.0.0.1", "cam");
    let ca = pki.ca();
    let mut ffmpeg = media::publish(&url, &[], &verify(&ca), &dir.join("ffmpeg.log"));
    let status = ffmpeg.wait_timeout(PUBLISH_TIMEOUT).expect("the RTMPS publish did not finish");
    assert!(status.success(), "ffmpeg publishing over RTMPS failed ({status}):\n{}", ffmpeg.log());
    node.assert_plays_like_the_clip("cam");

    assert_eq!((node.publishes("rtmps"), node.publishes("rtmp")), (1.0, 0.0), "{}", node.metrics().text);
    let accepted = node.metrics().get("rapidrtmp_publish_attempts_total", &[("result", "accepted")]);
    assert_eq!(accepted, 1.0);
    let log = node.log();
    let line = log.lines().find(|l| l.contains("publishing")).unwrap_or_else(|| panic!("no publishing line:\n{log}"));
    assert!(line.contains("listener=\"rtmps\""), "the publishing line names no listener: {line}");
}

#[test]
fn a_verifying_client_refuses_a_certificate_for_another_name_and_takes_the_right_one() {
    let dir = TempDir::new("rtmps-name");
    let pki = Pki::new(dir.path());
    // For `localhost` only: a client connecting to 127.0.0.1 finds a name that does not match.
    let (cert, key) = pki.server("localhost", "DNS:localhost", 2);
    let node = start(&dir, &cert, &key);
    let ca = pki.ca();

    let wrong = node.rtmps_url("127.0.0.1", "wrong");
    let (status, messages, _) = {
        let mut p = media::publish(&wrong, &[], &verify(&ca), &dir.join("wrong.log"));
        let status = p.wait_timeout(PUBLISH_TIMEOUT).expect("ffmpeg did not give up");
        (status, p.log(), p.age())
    };
    assert!(!status.success(), "ffmpeg published to {wrong} with a certificate for localhost:\n{messages}");
    assert!(node.playlist("wrong").is_none(), "a stream was published through a refused certificate");
    assert_eq!(node.publishes("rtmps"), 0.0);
    // ffmpeg checks the name once the handshake is done, and leaves before any RTMP.
    let m = node.metrics();
    let attempts: f64 =
        m.samples.iter().filter(|s| s.name == "rapidrtmp_publish_attempts_total").map(|s| s.value).sum();
    assert_eq!(attempts, 0.0, "a publish reached the node through a refused certificate");

    let right = node.rtmps_url("localhost", "right");
    let mut ffmpeg = media::publish(&right, &[], &verify(&ca), &dir.join("right.log"));
    let status = ffmpeg.wait_timeout(PUBLISH_TIMEOUT).expect("the RTMPS publish did not finish");
    assert!(status.success(), "ffmpeg publishing to {right} failed ({status}):\n{}", ffmpeg.log());
    node.assert_plays_like_the_clip("right");
    assert_eq!(node.publishes("rtmps"), 1.0);
}

#[test]
fn a_certificate_replaced_on_disk_is_served_to_the_next_connection_and_a_live_publish_goes_on() {
    let dir = TempDir::new("rtmps-reload");
    let pki = Pki::new(dir.path());
    let (old_cert, old_key) = pki.server("old", "DNS:localhost,IP:127.0.0.1", 0x11);
    let (new_cert, new_key) = pki.server("new", "DNS:localhost,IP:127.0.0.1", 0x22);
    let (cert, key) = (dir.join("live.pem"), dir.join("live.key"));
    std::fs::copy(&old_cert, &cert).unwrap();
    std::fs::copy(&old_key, &key).unwrap();
    let node = start(&dir, &cert, &key);
    let (old, new) = (file_serial(&old_cert), file_serial(&new_cert));
    assert_ne!(old, new);
    assert_eq!(served_serial(node.rtmps), old);

    // A publish over RTMPS, live across the renewal.
    let url = node.rtmps_url("127.0.0.1", "cam");
    let held = publish_held(&url, &dir.join("ffmpeg.log"));
    node.wait_playlist("cam", "a segment", FIRST_SEGMENT_WITHIN, |p| !p.segments.is_empty());

    // Renewed in place, as certbot does: first a half-written certificate (kept out), then
    // the whole of it and its key.
    let text = std::fs::read(&new_cert).unwrap();
    std::fs::write(&cert, &text[..text.len() / 2]).unwrap();
    std::thread::sleep(RELOAD_WITHIN);
    assert_eq!(served_serial(node.rtmps), old, "a half-written certificate replaced the good one");
    std::fs::write(&cert, &text).unwrap();
    std::fs::copy(&new_key, &key).unwrap();
    std::thread::sleep(RELOAD_WITHIN);
    assert_eq!(served_serial(node.rtmps), new, "the renewed certificate is not served to a new RTMPS connection");
    assert_eq!(served_serial(node.http), new, "HTTPS serves the same, renewed certificate");
    let log = node.log();
    assert_eq!(log.matches("cannot be loaded").count(), 1, "one warning for the half-written file:\n{log}");
    assert!(log.contains("TLS certificate reloaded"), "{log}");

    let before = node.playlist("cam").expect("live playlist");
    assert!(!before.ended, "the publish ended at the renewal:\n{}", before.text);
    let mut ffmpeg = held.release();
    let status = ffmpeg.wait_timeout(PUBLISH_TIMEOUT).expect("the RTMPS publish did not finish");
    assert!(status.success(), "the publish that started before the renewal failed ({status}):\n{}", ffmpeg.log());
    // One session, every frame: the publish was never cut.
    node.assert_plays_like_the_clip("cam");
}

/// Reads from `socket` until the peer closes it (or it fails); returns when, from `since`.
fn closed_after(mut socket: TcpStream, since: Instant, limit: Duration) -> Option<Duration> {
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut buf = [0u8; 4096];
    while since.elapsed() < limit {
        match socket.read(&mut buf) {
            Ok(0) => return Some(since.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return Some(since.elapsed()),
        }
    }
    None
}

#[test]
fn a_client_that_never_completes_the_handshake_is_cut_at_the_setup_deadline_and_plain_rtmp_is_refused() {
    let dir = TempDir::new("rtmps-deadline");
    let pki = Pki::new(dir.path());
    let (cert, key) = pki.server("node", "DNS:localhost,IP:127.0.0.1", 3);
    let node = start(&dir, &cert, &key);

    // Connects and sends nothing: no ClientHello.
    let silent = TcpStream::connect(node.rtmps).unwrap();
    let since = Instant::now();
    let silent = std::thread::spawn(move || closed_after(silent, since, SETUP_DEADLINE + SLACK * 10));
    // Plain RTMP bytes (C0 and C1 of the RTMP handshake) on the TLS port: closed at once.
    let mut plain = TcpStream::connect(node.rtmps).unwrap();
    let sent = Instant::now();
    let mut c0c1 = vec![0x5a; 1537];
    c0c1[0] = 3;
    plain.write_all(&c0c1).unwrap();
    let took = closed_after(plain, sent, SETUP_DEADLINE + SLACK);
    assert!(took.is_some_and(|t| t < REFUSED_AT_ONCE), "plain RTMP on the RTMPS port: closed after {took:?}");
    // ffmpeg publishing plain RTMP to the RTMPS port gives up with an error.
    let plain_url = format!("rtmp://{}/live/plain?token={}", node.rtmps, node.token("plain"));
    assert_publish_refused("plain RTMP on the RTMPS port", &plain_url, &dir.join("plain.log"));

    let took = silent.join().unwrap();
    assert!(
        took.is_some_and(|t| t >= SETUP_DEADLINE - SLACK && t <= SETUP_DEADLINE + SLACK),
        "a silent client on the RTMPS port was closed after {took:?}, not at the {SETUP_DEADLINE:?} deadline"
    );
    assert!(node.refused("tls_handshake") >= 3.0, "{}", node.metrics().text);
    wait_until("no RTMP connection open", Duration::from_secs(10), || {
        node.metrics().get("rapidrtmp_rtmp_connections", &[]) == 0.0
    });
    assert!(node.playlist("plain").is_none());
    assert_eq!(node.publishes("rtmps"), 0.0);
    // The node still takes an RTMPS publish.
    let url = node.rtmps_url("127.0.0.1", "after");
    let mut ffmpeg = media::publish(&url, &[], &verify(&pki.ca()), &dir.join("after.log"));
    let status = ffmpeg.wait_timeout(PUBLISH_TIMEOUT).expect("the RTMPS publish did not finish");
    assert!(status.success(), "ffmpeg publishing over RTMPS failed ({status}):\n{}", ffmpeg.log());
    node.assert_plays_like_the_clip("after");
}

#[test]
fn rtmp_and_rtmps_share_the_connection_slots_of_an_address() {
    let dir = TempDir::new("rtmps-slots");
    let pki = Pki::new(dir.path());
    let (cert, key) = pki.server("node", "DNS:localhost,IP:127.0.0.1", 4);
    let node = TlsNode::start(&dir.join("data"), &cert, &key, &["--max-connections-per-ip", "1"]);
    let rtmp_port = {
        let log = node.log();
        let at = log.find("rtmp=127.0.0.1:").expect("the listening line names the RTMP address") + "rtmp=".len();
        log[at..].split_whitespace().next().unwrap().parse::<SocketAddr>().unwrap()
    };

    // One plain RTMP connection holds the address's only slot: an RTMPS one is turned away.
    let held = TcpStream::connect(rtmp_port).unwrap();
    wait_until("the RTMP connection counted", Duration::from_secs(5), || {
        node.metrics().get("rapidrtmp_rtmp_connections", &[]) == 1.0
    });
    let turned_away = TcpStream::connect(node.rtmps).unwrap();
    let took = closed_after(turned_away, Instant::now(), SETUP_DEADLINE);
    assert!(took.is_some_and(|t| t < REFUSED_AT_ONCE), "an RTMPS connection over the cap closed after {took:?}");
    assert_eq!(node.refused("rtmp_connection_limit_per_ip"), 1.0, "{}", node.metrics().text);

    // The slot back, RTMPS is served again.
    drop(held);
    wait_until("the RTMP connection gone", Duration::from_secs(5), || {
        node.metrics().get("rapidrtmp_rtmp_connections", &[]) == 0.0
    });
    assert_eq!(served_serial(node.rtmps), file_serial(&cert));
}

#[test]
fn rtmps_without_a_usable_certificate_stops_the_start_with_the_reason() {
    let dir = TempDir::new("rtmps-start");
    let pki = Pki::new(dir.path());
    let (cert, _) = pki.server("a", "DNS:localhost", 5);
    let (_, other_key) = pki.server("b", "DNS:localhost", 6);
    let serve = |more: &[&str]| {
        let mut cmd = Command::new(node_bin());
        cmd.args(["serve", "--rtmp-addr", "127.0.0.1:0", "--rtmps-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(more);
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("RAPIDRTMP_")) {
            cmd.env_remove(k);
        }
        let out = run(&mut cmd, Duration::from_secs(20));
        assert!(!out.success(), "the node started with {more:?}:\n{}", out.describe());
        out.stderr
    };
    let none = serve(&[]);
    assert!(none.contains("RTMPS needs a certificate, --tls-cert and --tls-key"), "{none}");
    let (cert, other_key) = (cert.to_str().unwrap(), other_key.to_str().unwrap());
    let mismatch = serve(&["--tls-cert", cert, "--tls-key", other_key]);
    assert!(mismatch.contains("does the key match"), "{mismatch}");
    assert!(!dir.join("data").join("admin.key").exists(), "an admin key was made before the certificate was checked");
}

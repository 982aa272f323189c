//! nginx-rtmp (Debian's `libnginx-mod-rtmp`) as a restream destination: an RTMP server on a
//! 127.0.0.1 port whose `live2` application records every publish it receives (`record all`,
//! one file per publish) into a folder, so a test can count and decode what reached it. It can
//! be killed and started again on the same port (a destination that fails and comes back), and
//! take RTMPS too: nginx's `stream` module (Debian's `libnginx-mod-stream`) ends TLS on a port of
//! its own and passes the bytes on to the RTMP port.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::checks::wait_until;
use super::proc::{free_ports, Background};

/// The module Debian's `libnginx-mod-rtmp` installs (tests/run installs it when missing).
pub const MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";
/// The module Debian's `libnginx-mod-stream` installs (tests/run installs it when missing).
pub const STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";

/// A recording nginx-rtmp; killed (by PID) on drop.
pub struct NginxRtmp {
    pub port: u16,
    /// The RTMPS port, with [`NginxRtmp::start_tls`].
    pub tls_port: Option<u16>,
    /// The certificate and key (PEM) of the RTMPS port.
    tls: Option<(PathBuf, PathBuf)>,
    dir: PathBuf,
    process: Option<Background>,
    starts: usize,
}

impl NginxRtmp {
    /// A destination on a free port, not started yet.
    pub fn new(dir: &Path) -> NginxRtmp {
        assert!(Path::new(MODULE).exists(), "{MODULE} is missing: apt-get install libnginx-mod-rtmp (tests/run does)");
        std::fs::create_dir_all(dir.join("rec")).unwrap();
        NginxRtmp {
            port: free_ports(1)[0],
            tls_port: None,
            tls: None,
            dir: dir.to_path_buf(),
            process: None,
            starts: 0,
        }
    }

    /// Starts a new one that also takes RTMPS on a port of its own, with `cert` and `key` (PEM).
    pub fn start_tls(dir: &Path, cert: &Path, key: &Path) -> NginxRtmp {
        assert!(
            Path::new(STREAM_MODULE).exists(),
            "{STREAM_MODULE} is missing: apt-get install libnginx-mod-stream (tests/run does)"
        );
        let mut n = NginxRtmp::new(dir);
        n.tls_port = Some(free_ports(1)[0]);
        n.tls = Some((cert.to_path_buf(), key.to_path_buf()));
        n.run();
        n
    }

    /// Starts a new one on a free port, and waits for it to listen.
    pub fn start(dir: &Path) -> NginxRtmp {
        let mut n = NginxRtmp::new(dir);
        n.run();
        n
    }

    /// (Re)starts nginx on its port and waits for it to listen.
    pub fn run(&mut self) {
        let d = self.dir.display();
        let port = self.port;
        let (stream_module, stream) = match (self.tls_port, &self.tls) {
            (Some(tls_port), Some((cert, key))) => (
                format!("load_module {STREAM_MODULE};\n"),
                format!(
                    "stream {{\n  server {{\n    listen 127.0.0.1:{tls_port} ssl;\n    ssl_certificate {};\n\
                       ssl_certificate_key {};\n    proxy_pass 127.0.0.1:{port};\n  }}\n}}\n",
                    cert.display(),
                    key.display()
                ),
            ),
            _ => (String::new(), String::new()),
        };
        let conf = format!(
            "{stream_module}load_module {MODULE};\ndaemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n\
             rtmp {{\n  server {{\n    listen 127.0.0.1:{port};\n    chunk_size 4096;\n\
                 application live2 {{\n      live on;\n      record all;\n      record_path {d}/rec;\n\
                   record_unique on;\n    }}\n  }}\n}}\n{stream}"
        );
        let path = self.dir.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let mut cmd = Command::new("nginx");
        cmd.arg("-p").arg(&self.dir).arg("-c").arg(&path).args(["-e", "stderr"]);
        self.starts += 1;
        let log = self.dir.join(format!("nginx-{}.log", self.starts));
        self.process = Some(Background::spawn("nginx-rtmp", &mut cmd, log));
        for p in [Some(port), self.tls_port].into_iter().flatten() {
            let addr = format!("127.0.0.1:{p}");
            wait_until("nginx-rtmp to listen", Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok());
        }
    }

    /// Kills nginx (SIGKILL): its connections drop, its port refuses.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// An output URL to it: `rtmp://127.0.0.1:{port}/live2/{name}`.
    pub fn url(&self, name: &str) -> String {
        format!("rtmp://127.0.0.1:{}/live2/{name}", self.port)
    }

    /// An RTMPS output URL to it: `rtmps://127.0.0.1:{tls_port}/live2/{name}`.
    pub fn tls_url(&self, name: &str) -> String {
        format!("rtmps://127.0.0.1:{}/live2/{name}", self.tls_port.expect("started with start_tls"))
    }

    /// Its recordings, oldest first (`record_unique` names them `{name}-{unix time}.flv`).
    pub fn recordings(&self) -> Vec<PathBuf> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(self.dir.join("rec"))
            .map(|d| d.flatten().map(|e| (e.metadata().and_then(|m| m.modified()).unwrap(), e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files.into_iter().map(|(_, p)| p).collect()
    }

    /// What nginx logged (every start).
    pub fn log(&self) -> String {
        (1..=self.starts)
            .map(|n| std::fs::read_to_string(self.dir.join(format!("nginx-{n}.log"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
            + &std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

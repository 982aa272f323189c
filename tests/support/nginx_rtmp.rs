//! nginx-rtmp (Debian's `libnginx-mod-rtmp`) as a restream destination: an RTMP server on a
//! 127.0.0.1 port whose `live2` application records every publish it receives (`record all`,
//! one file per publish) into a folder, so a test can count and decode what reached it. It can
//! be killed and started again on the same port (a destination that fails and comes back).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::checks::wait_until;
use super::proc::{free_ports, Background};

/// The module Debian's `libnginx-mod-rtmp` installs (tests/run installs it when missing).
pub const MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

/// A recording nginx-rtmp; killed (by PID) on drop.
pub struct NginxRtmp {
    pub port: u16,
    dir: PathBuf,
    process: Option<Background>,
    starts: usize,
}

impl NginxRtmp {
    /// A destination on a free port, not started yet.
    pub fn new(dir: &Path) -> NginxRtmp {
        assert!(Path::new(MODULE).exists(), "{MODULE} is missing: apt-get install libnginx-mod-rtmp (tests/run does)");
        std::fs::create_dir_all(dir.join("rec")).unwrap();
        NginxRtmp { port: free_ports(1)[0], dir: dir.to_path_buf(), process: None, starts: 0 }
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
        let conf = format!(
            "load_module {MODULE};\ndaemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n\
             rtmp {{\n  server {{\n    listen 127.0.0.1:{port};\n    chunk_size 4096;\n\
                 application live2 {{\n      live on;\n      record all;\n      record_path {d}/rec;\n\
                   record_unique on;\n    }}\n  }}\n}}\n"
        );
        let path = self.dir.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let mut cmd = Command::new("nginx");
        cmd.arg("-p").arg(&self.dir).arg("-c").arg(&path).args(["-e", "stderr"]);
        self.starts += 1;
        let log = self.dir.join(format!("nginx-{}.log", self.starts));
        self.process = Some(Background::spawn("nginx-rtmp", &mut cmd, log));
        let addr = format!("127.0.0.1:{port}");
        wait_until("nginx-rtmp to listen", Duration::from_secs(10), || std::net::TcpStream::connect(&addr).is_ok());
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

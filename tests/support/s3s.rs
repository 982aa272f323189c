//! s3s-fs, a real S3 server over a folder (checks SigV4), on a free 127.0.0.1 port.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
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
        let args = vec![
            "--store".to_string(),
            format!("s3://{bucket}/{prefix}"),
            "--s3-endpoint".into(),
            self.endpoint.clone(),
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

//! Commands with a timeout, child processes (killed by PID on drop), scratch folders, free ports,
//! and small file helpers (listing a tree, a stable hash).

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Cargo's scratch folder for integration tests (`target/tmp`).
pub fn tmp_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// A name nobody else uses: pid, a per-process counter and the clock.
pub fn unique_name(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{label}-{}-{n}-{}", std::process::id(), nanos % 1_000_000_000_000)
}

/// A scratch folder, removed when the test passes and kept (path printed) when it fails.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let path = tmp_root().join("rapidrtmp-tests").join(unique_name(label));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: keeping {} for inspection", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// `n` distinct TCP ports free on 127.0.0.1 right now (all listeners held at once, then closed).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0")).collect();
    listeners.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

/// A command line for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// What a finished (or killed) command did.
#[derive(Debug)]
pub struct Run {
    pub command: String,
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub elapsed: Duration,
    pub timed_out: bool,
}

impl Run {
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }

    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Non-empty lines of stderr.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| !l.trim().is_empty()).collect()
    }

    /// Panics unless the command exited 0.
    pub fn ok(self) -> Run {
        assert!(self.success(), "command failed:\n{}", self.describe());
        self
    }

    /// A description for assertion messages.
    pub fn describe(&self) -> String {
        let stderr: String = if self.stderr.chars().count() > 4000 {
            let head: String = self.stderr.chars().take(4000).collect();
            format!("{head}…[{} bytes in all]\n", self.stderr.len())
        } else {
            self.stderr.clone()
        };
        format!(
            "`{}` → {} in {:.2?}{}\n--- stderr ---\n{}--------------",
            self.command,
            match (self.timed_out, self.status) {
                (true, _) => "TIMED OUT (killed)".to_string(),
                (false, Some(s)) => s.to_string(),
                (false, None) => "no status".to_string(),
            },
            self.elapsed,
            if self.stdout.is_empty() { "" } else { " (stdout not shown)" },
            stderr
        )
    }
}

/// Runs `cmd` (stdin closed), collecting stdout and stderr, and kills it after `timeout`; a
/// timeout is reported in [`Run::timed_out`], not as a panic (for tests of hangs).
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Run {
    let command = describe(cmd);
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
    let mut out = child.stdout.take().expect("stdout piped");
    let mut err = child.stderr.take().expect("stderr piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("waiting for `{command}`: {e}"),
        }
    };
    let elapsed = start.elapsed();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    Run { command, status, stdout, stderr, elapsed, timed_out }
}

/// Runs `cmd` to completion (stdin closed, output captured); kills it and panics after `timeout`.
pub fn run(cmd: &mut Command, timeout: Duration) -> Run {
    let run = run_with_timeout(cmd, timeout);
    assert!(!run.timed_out, "did not finish within {timeout:?}; killed:\n{}", run.describe());
    run
}

/// Sorted paths (relative, `/`-separated) of the regular files under `dir`, recursively.
pub fn list_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.expect("dir entry");
            let path = entry.path();
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                assert!(kind.is_file(), "unexpected non-file {} in {}", rel.join("/"), root.display());
                out.push(rel.join("/"));
            }
        }
    }
    let mut names = Vec::new();
    walk(dir, dir, &mut names);
    names.sort();
    names
}

/// FNV-1a, a stable hash for cache keys and file contents.
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A long-running child (node, publisher, s3s-fs) whose stdout and stderr go to a log file;
/// killed (SIGKILL, by PID) on drop unless it has already exited.
pub struct Background {
    name: String,
    child: Child,
    log: PathBuf,
    status: Option<ExitStatus>,
    started: Instant,
}

impl Background {
    pub fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Background {
        Background::start(name, cmd.stdin(Stdio::null()), log)
    }

    /// [`Background::spawn`] with its standard input a pipe, returned to write to (the child
    /// reads end of file once it is dropped).
    pub fn spawn_with_stdin(name: &str, cmd: &mut Command, log: PathBuf) -> (Background, ChildStdin) {
        let mut b = Background::start(name, cmd.stdin(Stdio::piped()), log);
        let stdin = b.child.stdin.take().expect("a piped stdin");
        (b, stdin)
    }

    fn start(name: &str, cmd: &mut Command, log: PathBuf) -> Background {
        let file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let text = describe(cmd);
        let child = cmd
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{text}`: {e}"));
        Background { name: name.into(), child, log, status: None, started: Instant::now() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Time since the start.
    pub fn age(&self) -> Duration {
        self.started.elapsed()
    }

    /// The exit status if it has exited.
    pub fn status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Waits up to `timeout` for the exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal (`TERM`, `KILL`, …) to this process only, by PID.
    pub fn signal(&mut self, sig: &str) {
        if self.status().is_some() {
            return;
        }
        let out = Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()).output().expect("run kill");
        assert!(out.status.success() || self.status().is_some(), "kill -{sig} {} failed", self.pid());
    }

    /// Kills it (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if self.status().is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.kill();
    }
}

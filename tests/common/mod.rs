//! Helpers shared by the end-to-end tests of the `rapidrtmp` binary.
//!
//! - [`checks`]: checks of a package output directory (playlists, boxes, timelines, decode);
//! - [`fixtures`]: ffmpeg-made FLV fixtures, generated once and cached under
//!   `target/tmp/rapidrtmp-fixtures` (keyed by the ffmpeg command line and version), plus the
//!   edited (wrapped, truncated, broken) variants built from their bytes;
//! - [`flv`]: a minimal FLV tag reader/writer used to edit fixtures;
//! - [`hls`]: playlist parsing;
//! - [`mp4`]: strict decoding of every box we write (mp4-atom with `strict`) and the sample
//!   tables of each fragment;
//! - [`media`]: ffmpeg/ffprobe wrappers (stream info, decoded frame hashes, clean decodes);
//! - this file: running commands with a timeout, temp dirs, running `rapidrtmp package`.
#![allow(dead_code)]

pub mod checks;
pub mod fixtures;
pub mod flv;
pub mod hls;
pub mod media;
pub mod mp4;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_rapidrtmp");

/// How long one `rapidrtmp package` of a small fixture may take (debug build, busy machine).
pub const PACKAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one ffmpeg/ffprobe call on a small fixture may take.
pub const FFMPEG_TIMEOUT: Duration = Duration::from_secs(120);

/// Cargo's scratch folder for integration tests (`target/tmp`).
pub fn tmp_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// A name nobody else uses: pid, a per-process counter and the clock.
pub fn unique_name(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{label}-{}-{n}-{nanos}", std::process::id())
}

/// A scratch directory, removed when the test passes and kept (path printed) when it fails.
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

fn shell_words(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` (stdin closed), collecting stdout and stderr, and kills it after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Run {
    let command = shell_words(cmd);
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

/// Fails the test if the run crashed: a panic (exit code 101 or "panicked" on stderr), a signal
/// (abort, segfault, stack overflow) or a timeout.
pub fn assert_no_crash(run: &Run) {
    assert!(!run.timed_out, "command hung:\n{}", run.describe());
    assert!(run.status.is_some(), "no exit status:\n{}", run.describe());
    assert!(run.code().is_some(), "killed by a signal (abort/segfault?):\n{}", run.describe());
    assert_ne!(run.code(), Some(101), "exit code 101 (a Rust panic):\n{}", run.describe());
    assert!(!run.stderr.contains("panicked"), "panic message on stderr:\n{}", run.describe());
    assert!(!run.stderr.contains("RUST_BACKTRACE"), "panic hint on stderr:\n{}", run.describe());
}

/// Runs `rapidrtmp package INPUT --out OUT [EXTRA…]`.
pub fn package(input: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("package").arg(input).arg("--out").arg(out).args(extra);
    let run = run_with_timeout(&mut cmd, PACKAGE_TIMEOUT);
    assert_no_crash(&run);
    run
}

/// Runs `rapidrtmp package` and requires success.
pub fn package_ok(input: &Path, out: &Path, extra: &[&str]) -> Run {
    let run = package(input, out, extra);
    assert!(run.success(), "package failed:\n{}", run.describe());
    run
}

/// docs/cli.md: an error is one line `error: …` on stderr with a non-zero exit code. Warnings may
/// precede it; nothing may follow it. Returns the error line.
pub fn assert_clean_error(run: &Run) -> String {
    assert_no_crash(run);
    assert!(!run.success(), "expected a failure:\n{}", run.describe());
    let lines = run.stderr_lines();
    let errors: Vec<&&str> = lines.iter().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "expected exactly one `error: …` line:\n{}", run.describe());
    let last = *lines.last().expect("stderr has lines");
    assert!(
        last.starts_with("error: ") && last.len() > "error: ".len(),
        "the error must be the last stderr line, as `error: …`:\n{}",
        run.describe()
    );
    last.to_string()
}

/// docs/cli.md: errors about the input name "the byte offset / tag number".
/// (The input's path is ignored: its digits do not count.)
pub fn assert_error_locates_input(line: &str, input: &Path) {
    let text = line.replace(&*input.to_string_lossy(), "").to_ascii_lowercase();
    let located = ["offset", "byte", "tag"].iter().any(|w| {
        text.match_indices(w).any(|(i, _)| {
            // A number within a few words after the keyword: "at byte 1234", "tag 17", …
            text[i..].chars().take(24).any(|c| c.is_ascii_digit())
        })
    });
    assert!(located, "docs/cli.md: the error should give the byte offset / tag number, got: {line}");
}

/// Lines of stderr that are warnings (`warning: …`, any case).
pub fn warning_lines(run: &Run) -> Vec<&str> {
    run.stderr_lines().into_iter().filter(|l| l.trim_start().to_ascii_lowercase().starts_with("warning")).collect()
}

/// A success that reports the skipped input on stderr (a `warning: …` line) and no `error:` line.
pub fn assert_success_with_warning(run: &Run) {
    assert_no_crash(run);
    assert!(run.success(), "expected success:\n{}", run.describe());
    assert!(!warning_lines(run).is_empty(), "expected a `warning: …` line on stderr:\n{}", run.describe());
    assert!(
        !run.stderr_lines().iter().any(|l| l.starts_with("error")),
        "a successful run printed an error line:\n{}",
        run.describe()
    );
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

/// FNV-1a, a stable hash for cache keys.
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

//! Running the `rapidrtmp` CLI (`rapidrtmp package`) and checking its docs/cli.md contract:
//! no panic, hang or signal; one `error: …` line last on failure; warnings for skipped input.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::proc::{run_with_timeout, Run};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_rapidrtmp");

/// How long one `rapidrtmp package` of a small fixture may take (debug build, busy machine).
pub const PACKAGE_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Runs `rapidrtmp ARGS…` and requires success; returns its stdout.
pub fn rapidrtmp_ok(args: &[&str]) -> Vec<u8> {
    let run = run_with_timeout(Command::new(BIN).args(args), PACKAGE_TIMEOUT);
    assert!(run.success(), "rapidrtmp failed:\n{}", run.describe());
    run.stdout
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

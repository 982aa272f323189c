//! hls.js in headless Chromium (`tests/www/ll_play.mjs`, `tests/www/abr_play.mjs`): plays a
//! playlist for a while and reports what happened.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::checks::unexpected_hls_errors;
use super::proc::run;

/// What the browser scripts need: the `www/` folder (its node_modules: hls.js, playwright-core)
/// and Chromium (`$CHROMIUM`, default /usr/bin/chromium); panics, saying how to get them, if
/// either is missing.
pub fn browser() -> (PathBuf, String) {
    let www = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../www");
    assert!(
        www.join("node_modules/hls.js").is_dir(),
        "{}/node_modules is missing: run www/build.sh or `npm ci` in www/ (tests/run does)",
        www.display()
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).is_file(), "no Chromium at {chromium}: apt-get install chromium (tests/run does)");
    (www, chromium)
}

/// Runs the browser script `tests/www/{script}` with `vars` besides WWW and CHROMIUM (4 minutes
/// at most); its JSON report.
pub fn run_script(script: &str, vars: &[(&str, &str)]) -> Value {
    let (www, chromium) = browser();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = Command::new("node");
    cmd.arg(root.join("tests/www").join(script)).env("WWW", &www).env("CHROMIUM", &chromium);
    cmd.envs(vars.iter().copied());
    let run = run(&mut cmd, Duration::from_secs(240)).ok();
    serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{script} output: {e}"))
}

/// Plays `url` with hls.js for 8 s, Low-Latency mode on or off; the report of `ll_play.mjs`.
pub fn play(url: &str, low_latency: bool) -> Value {
    run_script("ll_play.mjs", &[("URL", url), ("LOW_LATENCY", if low_latency { "1" } else { "0" })])
}

/// Plays the multivariant playlist `url` with hls.js and forces it through every level, lowest
/// bit rate first; the report of `abr_play.mjs`.
pub fn play_levels(url: &str) -> Value {
    run_script("abr_play.mjs", &[("URL", url)])
}

/// The hls.js ERROR events of a [`play`] report that a healthy playback does not have.
pub fn errors(report: &Value) -> Vec<Value> {
    let errors = report["errors"].as_array().cloned().unwrap_or_default();
    unexpected_hls_errors(&errors, report["startPosition"].as_f64())
}

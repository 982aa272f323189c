//! `rapidrtmp inspect`: tags of an FLV, boxes and samples of an MP4.

use std::path::Path;

use anyhow::{anyhow, Context};

/// Runs the command.
pub fn run(file: &Path, json: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let report = rapidrtmp_core::inspect::inspect(&bytes).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let out = if json { report.to_json() } else { report.to_text() };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(())
}

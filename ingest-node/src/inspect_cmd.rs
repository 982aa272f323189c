//! `rapidrtmp inspect`: tags of an FLV, boxes and samples of an MP4.

use std::path::Path;

/// Runs the command.
pub fn run(_file: &Path, _json: bool) -> anyhow::Result<()> {
    anyhow::bail!("inspect is not wired yet")
}

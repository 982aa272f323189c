//! `rapidrtmp package`: an FLV file → an HLS folder, or one fragmented MP4.

use std::path::Path;

use anyhow::{anyhow, Context};
use rapidrtmp_core::package::{package_flv, package_fmp4, PackageError, PackageReport};

/// Parses `--segment-duration`: seconds, at least 0.1, at most one hour.
pub fn parse_duration(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(0.1..=3600.0).contains(&v) {
        return Err(format!("{v} s is outside 0.1..=3600 seconds"));
    }
    Ok(v)
}

/// The input file's bytes: mapped (no copy, no fresh pages) when it is a regular file, else read.
enum Input {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl Input {
    fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        if file.metadata()?.is_file() {
            // SAFETY: the map is read-only and lives only while we package; like any reader of a
            // file, we assume nobody truncates the input meanwhile (that would raise SIGBUS).
            #[allow(unsafe_code)]
            let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) };
            if let Ok(map) = map {
                return Ok(Self::Mapped(map));
            }
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut &file, &mut bytes)?;
        Ok(Self::Read(bytes))
    }
}

impl std::ops::Deref for Input {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Mapped(m) => m,
            Self::Read(v) => v,
        }
    }
}

/// Runs the command.
pub fn run(input: &Path, out: &Path, segment_duration: f64) -> anyhow::Result<()> {
    let bytes = Input::open(input).with_context(|| format!("cannot read {}", input.display()))?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut sink = |name: &str, data: &[u8]| -> std::io::Result<()> {
        let path = out.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, data)
    };
    let report = package_flv(&bytes, millis(segment_duration), &mut sink).map_err(|e| match e {
        PackageError::Input(e) => anyhow!("{}: {e}", input.display()),
        PackageError::Sink(e) => anyhow!("cannot write into {}: {e}", out.display()),
    })?;
    warn(input, &report);
    eprintln!(
        "packaged {} segments in {} session(s) into {}",
        report.segments,
        report.sessions,
        out.join(rapidrtmp_core::package::MEDIA_PLAYLIST).display()
    );
    Ok(())
}

/// Runs the command with `--mp4`.
pub fn run_mp4(input: &Path, out: &Path, segment_duration: f64) -> anyhow::Result<()> {
    let bytes = Input::open(input).with_context(|| format!("cannot read {}", input.display()))?;
    let (mp4, report) =
        package_fmp4(&bytes, millis(segment_duration)).map_err(|e| anyhow!("{}: {e}", input.display()))?;
    std::fs::write(out, mp4).with_context(|| format!("cannot write {}", out.display()))?;
    warn(input, &report);
    eprintln!("packaged {} segments into {}", report.segments, out.display());
    Ok(())
}

fn millis(seconds: f64) -> u64 {
    (seconds * 1000.0).round() as u64
}

/// Prints the tags left out and where the input was cut short.
fn warn(input: &Path, report: &PackageReport) {
    for w in &report.warnings.list {
        eprintln!("warning: {}: {w}", input.display());
    }
    if report.warnings.dropped > 0 {
        eprintln!("warning: {}: {} more tags skipped", input.display(), report.warnings.dropped);
    }
    if let Some(e) = &report.truncated {
        eprintln!("warning: {}: {e}; packaged everything before it", input.display());
    }
}

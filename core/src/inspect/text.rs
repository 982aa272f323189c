//! The readable text form of a [`Mp4Report`].

use alloc::string::String;
use core::fmt::Write;

use super::{BoxNode, Mp4Report, SampleInfo, TrackInfo};

/// Renders the tree, the tracks, the sample table and the warnings.
pub(super) fn render(report: &Mp4Report) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_report(&mut out, report);
    out
}

fn write_report(out: &mut String, report: &Mp4Report) -> core::fmt::Result {
    let kind = if report.fragmented { "fragmented MP4" } else { "MP4" };
    writeln!(out, "file: {} bytes, {kind}", report.file_size)?;
    writeln!(out, "boxes:")?;
    for node in &report.boxes {
        write_box(out, node, 1)?;
    }
    if !report.tracks.is_empty() {
        writeln!(out, "tracks:")?;
        for track in &report.tracks {
            write_track(out, track)?;
        }
    }
    if !report.samples.is_empty() {
        let truncated = if report.samples_truncated { ", truncated" } else { "" };
        writeln!(out, "samples ({} listed{truncated}):", report.samples.len())?;
        writeln!(
            out,
            "  {:>5} {:>8} {:>6} {:>12} {:>9} {:>12} {:>12} {:>8} {:>8} {:>10} key",
            "track", "index", "frag", "offset", "size", "decode", "present", "cts", "duration", "flags"
        )?;
        for sample in &report.samples {
            write_sample(out, sample)?;
        }
    }
    if !report.warnings.is_empty() {
        writeln!(out, "warnings:")?;
        for warning in &report.warnings {
            writeln!(out, "  - {warning}")?;
        }
    }
    Ok(())
}

fn write_box(out: &mut String, node: &BoxNode, depth: usize) -> core::fmt::Result {
    write!(out, "{:indent$}{} @{} size {}", "", node.kind, node.offset, node.size, indent = depth * 2)?;
    if node.header_size != 8 {
        write!(out, " (header {})", node.header_size)?;
    }
    for (i, (name, value)) in node.fields.iter().enumerate() {
        let sep = if i == 0 { ": " } else { " " };
        write!(out, "{sep}{name}={value}")?;
    }
    if let Some(error) = &node.error {
        write!(out, "  !! {error}")?;
    }
    writeln!(out)?;
    for child in &node.children {
        write_box(out, child, depth + 1)?;
    }
    Ok(())
}

fn write_track(out: &mut String, t: &TrackInfo) -> core::fmt::Result {
    write!(out, "  track {}:", t.track_id)?;
    if let Some(handler) = &t.handler {
        write!(out, " {handler}")?;
    }
    if let Some(codec) = &t.codec {
        write!(out, " {codec}")?;
    }
    if let (Some(w), Some(h)) = (t.width, t.height) {
        write!(out, " {w}x{h}")?;
    }
    if let Some(channels) = t.channels {
        write!(out, " {channels} ch")?;
    }
    if let Some(rate) = t.sample_rate {
        write!(out, " {rate} Hz")?;
    }
    if let Some(timescale) = t.timescale {
        write!(out, ", timescale {timescale}")?;
    }
    if let Some(duration) = t.duration {
        write!(out, ", duration {duration}")?;
    }
    writeln!(out, ", {} samples", t.sample_count)
}

fn write_sample(out: &mut String, s: &SampleInfo) -> core::fmt::Result {
    let mut fragment = String::new();
    match s.fragment {
        Some(n) => write!(fragment, "{n}")?,
        None => fragment.push('-'),
    }
    let mut flags = String::new();
    match s.flags {
        Some(f) => write!(flags, "{f:#010x}")?,
        None => flags.push('-'),
    }
    writeln!(
        out,
        "  {:>5} {:>8} {:>6} {:>12} {:>9} {:>12} {:>12} {:>8} {:>8} {:>10} {}",
        s.track_id,
        s.index,
        fragment,
        s.offset,
        s.size,
        s.decode_time,
        s.presentation_time,
        s.composition_offset,
        s.duration,
        flags,
        if s.keyframe { "K" } else { "" }
    )
}

//! The core of RapidRTMP for the web page, through wasm-bindgen: inspect any FLV or MP4, and
//! package an FLV into an HLS set (as a ZIP) or one fragmented MP4, in the browser.
//!
//! ```js
//! import init, { inspect, packageHls, packageMp4 } from './pkg/rapidrtmp_www.js';
//! await init();
//! const report = JSON.parse(inspect(bytes));   // the same JSON as `rapidrtmp inspect --json`
//! const { zip, files, segments, sessions, warnings } = packageHls(bytes, 2, Date.now() / 1000);
//! const { mp4 } = packageMp4(bytes, 2);
//! ```

pub mod zip;

use js_sys::{Array, Object, Reflect, Uint8Array};
use rapidrtmp_core::package::{package_flv, package_fmp4, PackageError, PackageReport};
use wasm_bindgen::prelude::*;

use crate::zip::ZipWriter;

/// The shortest and longest target segment durations, in seconds (as `rapidrtmp package`).
const SEGMENT_SECONDS: std::ops::RangeInclusive<f64> = 0.1..=3600.0;

/// The report of `rapidrtmp inspect --json` on `bytes` (an FLV, MP4, fMP4, init or media segment).
///
/// # Errors
///
/// When `bytes` is neither FLV nor MP4, with the reason.
#[wasm_bindgen]
pub fn inspect(bytes: &[u8]) -> Result<String, JsError> {
    rapidrtmp_core::inspect::inspect(bytes).map(|r| r.to_json()).map_err(|e| JsError::new(&e.to_string()))
}

/// Packages an FLV file into an HLS set: `{ zip, files: [{name, size}], segments, sessions,
/// warnings }`, the ZIP holding what `rapidrtmp package --out` writes, its entries dated
/// `unix_seconds`.
///
/// # Errors
///
/// When the input cannot be packaged (with the byte offset), or the set does not fit in a ZIP.
#[wasm_bindgen(js_name = packageHls)]
pub fn package_hls(bytes: &[u8], segment_seconds: f64, unix_seconds: f64) -> Result<JsValue, JsError> {
    let ms = segment_millis(segment_seconds)?;
    let mut zip = ZipWriter::new(unix_seconds as i64);
    let files = Array::new();
    let mut sink = |name: &str, data: &[u8]| {
        files.push(&object(&[("name", name.into()), ("size", (data.len() as f64).into())]));
        zip.add(name, data)
    };
    let report = package_flv(bytes, ms, &mut sink).map_err(|e| match e {
        PackageError::Input(e) => JsError::new(&e.to_string()),
        PackageError::Sink(e) => JsError::new(&e.to_string()),
    })?;
    let zip = zip.finish().map_err(|e| JsError::new(&e.to_string()))?;
    Ok(object(&[
        ("zip", Uint8Array::from(zip.as_slice()).into()),
        ("files", files.into()),
        ("segments", (report.segments as f64).into()),
        ("sessions", report.sessions.into()),
        ("warnings", warnings(&report).into()),
    ]))
}

/// Packages an FLV file into one fragmented MP4: `{ mp4, segments, warnings }`, the bytes of
/// `rapidrtmp package --mp4`.
///
/// # Errors
///
/// When the input cannot be packaged, or changes codec configuration partway.
#[wasm_bindgen(js_name = packageMp4)]
pub fn package_mp4(bytes: &[u8], segment_seconds: f64) -> Result<JsValue, JsError> {
    let (mp4, report) =
        package_fmp4(bytes, segment_millis(segment_seconds)?).map_err(|e| JsError::new(&e.to_string()))?;
    Ok(object(&[
        ("mp4", Uint8Array::from(mp4.as_slice()).into()),
        ("segments", (report.segments as f64).into()),
        ("warnings", warnings(&report).into()),
    ]))
}

fn segment_millis(seconds: f64) -> Result<u64, JsError> {
    if !SEGMENT_SECONDS.contains(&seconds) {
        return Err(JsError::new(&format!("a segment duration of {seconds} s is outside 0.1..=3600 seconds")));
    }
    Ok((seconds * 1000.0).round() as u64)
}

/// The report's warnings as lines, as `rapidrtmp package` prints them.
fn warnings(report: &PackageReport) -> Array {
    let lines = Array::new();
    for w in &report.warnings.list {
        lines.push(&w.to_string().into());
    }
    if report.warnings.dropped > 0 {
        lines.push(&format!("{} more tags skipped", report.warnings.dropped).into());
    }
    if let Some(e) = &report.truncated {
        lines.push(&format!("{e}; packaged everything before it").into());
    }
    lines
}

fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

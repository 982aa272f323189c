//! Embeds the web page, `www/dist` (built by `www/build.sh`), into the binary: writes
//! `$OUT_DIR/www_assets.rs`, a table of every file with its gzipped twin and an ETag.
//! Without `www/dist` the table is empty and the node says at `/` how to build the page.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    // At run time, not `env!`: a build script compiled for one checkout may run for another that
    // shares the target folder.
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let www = Path::new(&manifest_dir).join("../www");
    let dist = www.join("dist");
    // A missing folder would rerun this script on every build: watch its parent until it exists.
    let watched = if dist.is_dir() { &dist } else { &www };
    println!("cargo:rerun-if-changed={}", watched.display());

    let mut files = Vec::new();
    if dist.is_dir() {
        collect(&dist, &mut files);
    }
    files.sort();
    let mut out = String::from("/// The files of `www/dist`, by path.\npub static ASSETS: &[Asset] = &[\n");
    for path in &files {
        let rel = path.strip_prefix(&dist).expect("under dist").to_string_lossy().replace('\\', "/");
        if rel.ends_with(".gz") {
            continue;
        }
        let bytes = fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let gz = PathBuf::from(format!("{}.gz", path.display()));
        let hash = fnv1a(&bytes);
        // The gzipped body is another representation: another ETag (RFC 9110 §8.8.3).
        let gzip = if gz.is_file() {
            format!("Some((include_bytes!({:?}), \"\\\"{hash:016x}-gz\\\"\"))", gz.display())
        } else {
            "None".into()
        };
        let _ = writeln!(
            out,
            "    Asset {{ path: {rel:?}, body: include_bytes!({:?}), gzip: {gzip}, etag: \"\\\"{hash:016x}\\\"\" }},",
            path.display()
        );
    }
    out.push_str("];\n");
    let target = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("www_assets.rs");
    fs::write(&target, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// FNV-1a, 64 bits: a content hash for ETags.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

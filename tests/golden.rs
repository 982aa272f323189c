//! Golden dumps: `rapidrtmp inspect` on a small committed FLV and on what `rapidrtmp package`
//! makes of it must match the files in tests/golden/ byte for byte. `UPDATE_GOLDEN=1` rewrites
//! them.

mod support;

use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden")
}

fn rapidrtmp(args: &[&str]) -> String {
    String::from_utf8(support::cli::rapidrtmp_ok(args)).expect("UTF-8 output")
}

fn check(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1 to create it)", path.display()));
    if expected != actual {
        let line = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{name} differs from the golden file at line {}:\n  golden: {:?}\n  actual: {:?}\n(UPDATE_GOLDEN=1 rewrites it)",
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

#[test]
fn inspect_of_the_small_flv_matches_its_golden_dumps() {
    let flv = golden_dir().join("small.flv");
    let flv = flv.to_str().expect("UTF-8 path");
    check("small.flv.txt", &rapidrtmp(&["inspect", flv]));
    check("small.flv.json", &rapidrtmp(&["inspect", flv, "--json"]));
}

#[test]
fn packaged_small_flv_matches_its_golden_dumps() {
    let out = std::env::temp_dir().join(format!("rapidrtmp-golden-{}", std::process::id()));
    let flv = golden_dir().join("small.flv");
    rapidrtmp(&["package", flv.to_str().expect("UTF-8 path"), "--out", out.to_str().expect("UTF-8 path")]);
    let playlist = std::fs::read_to_string(out.join("index.m3u8")).expect("index.m3u8");
    check("small.index.m3u8", &playlist);
    check("small.master.m3u8", &std::fs::read_to_string(out.join("master.m3u8")).expect("master.m3u8"));
    check("small.init.txt", &rapidrtmp(&["inspect", out.join("0/init-0.mp4").to_str().expect("path")]));
    check("small.segment0.txt", &rapidrtmp(&["inspect", out.join("0/0.m4s").to_str().expect("path")]));
    std::fs::remove_dir_all(&out).expect("clean up");
}

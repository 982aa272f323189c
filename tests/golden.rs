//! Golden dumps: `rapidrtmp inspect` on a small committed FLV and on what `rapidrtmp package`
//! makes of it must match the files in tests/golden/ byte for byte.
//!
//! `UPDATE_GOLDEN=1` rewrites the files that differ, and the test then fails, naming them: a
//! rewrite is never a pass. Review `git diff tests/golden`, then run again without it. With
//! `CI` set, `UPDATE_GOLDEN` is refused (and tests/run refuses it too).

mod support;

use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden")
}

fn rapidrtmp(args: &[&str]) -> String {
    String::from_utf8(support::cli::rapidrtmp_ok(args)).expect("UTF-8 output")
}

/// One test's golden files: each is checked, or with `UPDATE_GOLDEN` rewritten if it differs.
struct Goldens {
    update: bool,
    rewritten: Vec<&'static str>,
}

impl Goldens {
    fn new() -> Goldens {
        let update = std::env::var_os("UPDATE_GOLDEN").is_some();
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
        assert!(!(update && ci), "UPDATE_GOLDEN is set in CI, where the golden files are checked, never rewritten");
        Goldens { update, rewritten: Vec::new() }
    }

    fn check(&mut self, name: &'static str, actual: &str) {
        let path = golden_dir().join(name);
        let expected = std::fs::read_to_string(&path);
        if self.update {
            if expected.as_deref().ok() != Some(actual) {
                std::fs::write(&path, actual).expect("write golden file");
                self.rewritten.push(name);
            }
            return;
        }
        let expected =
            expected.unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1 to create it)", path.display()));
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

    /// Fails if a file was rewritten.
    fn finish(self) {
        assert!(
            self.rewritten.is_empty(),
            "UPDATE_GOLDEN rewrote {:?} in tests/golden/: review `git diff tests/golden`, then run without UPDATE_GOLDEN",
            self.rewritten
        );
    }
}

#[test]
fn inspect_of_the_small_flv_matches_its_golden_dumps() {
    let flv = golden_dir().join("small.flv");
    let flv = flv.to_str().expect("UTF-8 path");
    let mut goldens = Goldens::new();
    goldens.check("small.flv.txt", &rapidrtmp(&["inspect", flv]));
    goldens.check("small.flv.json", &rapidrtmp(&["inspect", flv, "--json"]));
    goldens.finish();
}

#[test]
fn packaged_small_flv_matches_its_golden_dumps() {
    let out = std::env::temp_dir().join(format!("rapidrtmp-golden-{}", std::process::id()));
    let flv = golden_dir().join("small.flv");
    rapidrtmp(&["package", flv.to_str().expect("UTF-8 path"), "--out", out.to_str().expect("UTF-8 path")]);
    let playlist = std::fs::read_to_string(out.join("index.m3u8")).expect("index.m3u8");
    let mut goldens = Goldens::new();
    goldens.check("small.index.m3u8", &playlist);
    goldens.check("small.master.m3u8", &std::fs::read_to_string(out.join("master.m3u8")).expect("master.m3u8"));
    goldens.check("small.init.txt", &rapidrtmp(&["inspect", out.join("0/init-0.mp4").to_str().expect("path")]));
    goldens.check("small.segment0.txt", &rapidrtmp(&["inspect", out.join("0/0.m4s").to_str().expect("path")]));
    std::fs::remove_dir_all(&out).expect("clean up");
    goldens.finish();
}

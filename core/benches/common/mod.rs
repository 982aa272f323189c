//! The benches' input: `$RAPIDRTMP_BENCH_FLV`, else a 20-second 720p30 H.264 + AAC FLV made
//! once with ffmpeg into the target folder.

use std::path::PathBuf;
use std::process::Command;

/// The bytes of the bench's FLV file.
pub fn fixture() -> Vec<u8> {
    let path = std::env::var_os("RAPIDRTMP_BENCH_FLV").map(PathBuf::from).unwrap_or_else(|| {
        let dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| "target".into());
        let path = dir.join("bench-720p30.flv");
        if !path.exists() {
            std::fs::create_dir_all(&dir).expect("target folder");
            let tmp = dir.join("bench-720p30.tmp.flv");
            let status = Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"])
                .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "20"])
                .args(["-c:v", "libx264", "-preset", "veryfast", "-b:v", "4M", "-g", "60", "-pix_fmt", "yuv420p"])
                .args(["-c:a", "aac", "-b:a", "128k", "-f", "flv"])
                .arg(&tmp)
                .status()
                .expect("ffmpeg (install it: apt-get install ffmpeg)");
            assert!(status.success(), "ffmpeg failed to make the bench fixture");
            std::fs::rename(&tmp, &path).expect("rename fixture");
        }
        path
    });
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

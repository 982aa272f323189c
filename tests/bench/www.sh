#!/usr/bin/env bash
# The web page's packager and inspector (the core as WASM, run by Node's V8, the engine of
# Chromium) against the native `rapidrtmp package --mp4` and against ffmpeg remuxing the same
# ~5-minute 720p30 FLV to fragmented MP4, in one run, best of $ROUNDS rounds each.
#
#   tests/bench/www.sh            # BENCH_DIR (default ~/.cache/rapidrtmp/bench), ROUNDS (5)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapidrtmp/target}"
input=$(tests/bench/input.sh)
[ -f www/dist/pkg/rapidrtmp_www_bg.wasm ] || www/build.sh
cargo build --release -q -p rapidrtmp
node tests/bench/www.mjs "$input" "$CARGO_TARGET_DIR/release/rapidrtmp" "${ROUNDS:-5}"

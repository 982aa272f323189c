#!/usr/bin/env bash
# `rapidrtmp package` against ffmpeg's own fMP4 HLS muxer and against `cp`, on one ~5-minute
# 720p30 FLV (made once with ffmpeg), all three from the page cache into fresh folders on the same
# file system, best of $ROUNDS rounds each, in one run.
#
#   tests/bench/package.sh            # BENCH_DIR (default ~/.cache/rapidrtmp/bench), ROUNDS (5)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export BENCH_DIR="${BENCH_DIR:-$HOME/.cache/rapidrtmp/bench}"
ROUNDS="${ROUNDS:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapidrtmp/target}"
input=$(tests/bench/input.sh)
cargo build --release -q -p rapidrtmp
bin="$CARGO_TARGET_DIR/release/rapidrtmp"
work="$(mktemp -d "$BENCH_DIR/run.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cat "$input" > /dev/null # into the page cache

# Best wall time of $ROUNDS runs of "$@", each into a fresh $work/out; seconds.
best() {
    local best="" t0 t1 dt
    for _ in $(seq "$ROUNDS"); do
        rm -rf "$work/out" && mkdir -p "$work/out" && sync
        t0=$(date +%s.%N)
        "$@" > /dev/null 2>&1
        t1=$(date +%s.%N)
        dt=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$dt < $best" | bc -l)" = 1 ]; then best=$dt; fi
    done
    echo "$best"
}

command -v bc > /dev/null || { echo "needs bc (apt-get install bc)" >&2; exit 1; }
size=$(stat -c %s "$input")
t_cp=$(best cp "$input" "$work/out/")
t_rr=$(best "$bin" package "$input" --out "$work/out")
t_ff=$(best ffmpeg -v error -i "$input" -c copy -f hls -hls_segment_type fmp4 -hls_time 2 -hls_playlist_type vod \
    "$work/out/index.m3u8")
mbps() { echo "scale=0; $size / $1 / 1000000" | bc -l; }
printf 'input           %s (%d MB)\n' "$input" $((size / 1000000))
printf 'cp              %8.3f s  %6s MB/s\n' "$t_cp" "$(mbps "$t_cp")"
printf 'rapidrtmp       %8.3f s  %6s MB/s\n' "$t_rr" "$(mbps "$t_rr")"
printf 'ffmpeg -c copy  %8.3f s  %6s MB/s\n' "$t_ff" "$(mbps "$t_ff")"
printf 'ffmpeg / rapidrtmp  %.1fx   (target ≥ 4)\n' "$(echo "$t_ff / $t_rr" | bc -l)"
printf 'rapidrtmp / cp      %.2fx   (target ≤ 1.5)\n' "$(echo "$t_rr / $t_cp" | bc -l)"

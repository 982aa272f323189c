#!/usr/bin/env bash
# Prints the path of the benchmarks' input: ~5 minutes of 720p30 FLV (~3 Mbit/s, H.264 + AAC),
# made once with ffmpeg into BENCH_DIR (default ~/.cache/rapidrtmp/bench).
set -euo pipefail
BENCH_DIR="${BENCH_DIR:-$HOME/.cache/rapidrtmp/bench}"
mkdir -p "$BENCH_DIR"
input="$BENCH_DIR/package-720p30-5min.flv"
if [ ! -f "$input" ]; then
    echo "making $input (5 min of 720p30, ~3 Mbit/s, once)…" >&2
    ffmpeg -v error -y -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
        -t 300 -c:v libx264 -preset ultrafast -tune zerolatency -b:v 3M -maxrate 3M -bufsize 6M -g 60 -pix_fmt yuv420p \
        -c:a aac -b:a 128k -f flv "$input.tmp"
    mv "$input.tmp" "$input"
fi
echo "$input"

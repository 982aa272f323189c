#!/usr/bin/env bash
# Archive benchmark: what a time window's playlist and a clip cost (docs/storage.md, "Archive").
#
# 1. Windows. `rapidrtmp-load archive` writes the index of a HOURS-hour archive of one ended
#    stream of 2 s chunks into a folder store (its bucket parts, session record and manifest,
#    serialized by the core's own types, filled chunk by chunk as the node's writer fills them;
#    no chunk files: a playlist reads only the index). `rapidrtmp edge --cache-mb 0` (nothing
#    kept: every request is built from the store) over it, pinned to SERVER_CORE, answers a
#    1-hour and a 24-hour window (`index.m3u8?start=…&end=…`, both aligned to the ten-minute
#    buckets), REPEATS times each. Reported per window: the store reads of one request
#    (`rapidrtmp_edge_store_reads_total` on /metrics, before and after), the segments listed,
#    the playlist's bytes, and the best and median time to build and send it (curl's total).
# 2. Clips. A node (`rapidrtmp serve`) over s3s-fs (a real S3 server over a folder) records
#    the 720p30 H.264 2.5 Mbit/s + AAC fixture of lib.sh, published by rapidrtmp-load in real
#    time for the longest clip and 20 s more; first it asks the node for a 4-second clip, and
#    if the node has no clip.mp4 the step ends there, saying "clip.mp4 not served (status N)".
#    Then each clip of CLIPS seconds (starting 5 s into the recording) is fetched once from a
#    fresh node and once from a fresh `rapidrtmp edge` over the same bucket (a fresh process
#    each, pinned to SERVER_CORE, so that its peak memory is the clip's): time to first byte
#    and total (curl), bytes, the MP4's duration (ffprobe), and the server's peak memory
#    (VmHWM from /proc/PID/status, read before it is stopped). With BASELINE_BIN (another
#    `rapidrtmp` binary, e.g. an earlier commit's), each clip is fetched from its node and edge
#    too, from the same recording, and reported as "baseline".
#
# Usage: tests/bench/archive.sh
# Environment: STEPS ("windows clips": which parts run), HOURS (25: the archive of step 1; at
# least 24.5 for the 24-hour window), REPEATS (5), CLIPS ("60 600": clip lengths, seconds),
# SERVER_CORE (0), BENCH_DIR (~/.cache/rapidrtmp/bench: the fixture, results), CARGO_TARGET_DIR
# (~/.cache/rapidrtmp/target), RAPIDRTMP_BIN and LOAD_BIN (prebuilt binaries: skip the build),
# BASELINE_BIN (none: a binary to compare the clips with).
# Step 2 publishes in real time: with the default CLIPS it takes over 10 minutes. The machine
# should be otherwise idle. Results: printed, and appended to $BENCH_DIR/archive-results.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/rapidrtmp/target}
export PATH="$HOME/.cargo/bin:$PATH"
BENCH_DIR=${BENCH_DIR:-$HOME/.cache/rapidrtmp/bench}
STEPS=${STEPS:-"windows clips"}
HOURS=${HOURS:-25}
REPEATS=${REPEATS:-5}
CLIPS=${CLIPS:-"60 600"}
SERVER_CORE=${SERVER_CORE:-0}
RESULTS=$BENCH_DIR/archive-results.txt
# The archive's bucket span (core `archive::BUCKET_MS`), seconds.
BUCKET_S=600
# The bucket of step 2's S3 store, and its credentials (s3s-fs checks SigV4).
S3_BUCKET=bench
S3_AK=bench-ak
S3_SK=bench-secret-key

log() { printf '[archive.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=tests/bench/lib.sh
. "$ROOT/tests/bench/lib.sh"

# --- tools -------------------------------------------------------------------------------------
command -v curl >/dev/null || { log "installing curl"; apt_install curl ca-certificates; }
command -v taskset >/dev/null || { log "installing util-linux (taskset)"; apt_install util-linux; }
if [[ " $STEPS " == *" clips "* ]]; then
    command -v ffmpeg >/dev/null || { log "installing ffmpeg"; apt_install ffmpeg; }
    command -v s3s-fs >/dev/null || { log "installing s3s-fs (once, ~8 min)"; "$ROOT/tests/s3s.sh" >&2; }
fi

release_binaries # RAPIDRTMP and LOAD

start_work archive # $WORK, and STARTED: the PIDs this script started, stopped on exit
: >"$WORK/out"
out() { printf '%s\n' "$*" | tee -a "$WORK/out"; }
metric() { # BASE NAME: the value of an unlabelled metric on BASE/metrics
    curl -fsS "$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}
peak_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

start_server() { # KIND NAME [flags…]: `rapidrtmp serve` or `rapidrtmp edge` on SERVER_CORE;
    # sets SERVER (its base URL) and SERVER_PID. The binary is $RAPIDRTMP, or $SERVER_BIN if set.
    local kind=$1 name=$2 http
    shift 2
    http=$(free_port)
    SERVER=http://127.0.0.1:$http
    RAPIDRTMP_LOG=warn taskset -c "$SERVER_CORE" "${SERVER_BIN:-$RAPIDRTMP}" "$kind" --http-addr "127.0.0.1:$http" "$@" \
        >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    STARTED+=("$SERVER_PID")
    wait_http "$SERVER/ready" 15 || die "rapidrtmp $kind did not get ready; see $WORK/$name.log"
}

# --- 1. windows --------------------------------------------------------------------------------
windows_step() {
    local store=$WORK/windows info first end
    awk -v h="$HOURS" 'BEGIN { exit !(h >= 24.5) }' || die "HOURS=$HOURS: the 24-hour window needs at least 24.5"
    log "writing the index of a $HOURS-hour archive of 2 s chunks"
    info=$("$LOAD" archive --store "$store" --stream archive --hours "$HOURS" --segment-seconds 2)
    log "$info"
    first=$(sed -n 's/.* from \([0-9]*\) to \([0-9]*\) .*/\1/p' <<<"$info")
    end=$(sed -n 's/.* from \([0-9]*\) to \([0-9]*\) .*/\2/p' <<<"$info")
    [[ -n $first && -n $end ]] || die "rapidrtmp-load archive said: $info"
    start_server edge windows-edge --store "$store" --cache-mb 0

    local hours start stop i before after reads t times segments bytes
    for hours in 1 24; do
        # Aligned to the buckets, inside the archive, ending before its end.
        stop=$(( end / 1000 / BUCKET_S * BUCKET_S ))
        start=$(( stop - hours * 3600 ))
        (( start * 1000 >= first )) || die "the archive is too short for a $hours-hour window"
        times=()
        for ((i = 0; i < REPEATS; i++)); do
            before=$(metric "$SERVER" rapidrtmp_edge_store_reads_total)
            t=$(curl -fsS -o "$WORK/window.m3u8" -w '%{time_total}' \
                "$SERVER/live/archive/index.m3u8?start=$start&end=$stop") || die "GET the $hours-hour window failed"
            after=$(metric "$SERVER" rapidrtmp_edge_store_reads_total)
            times+=("$t")
            if (( i == 0 )); then
                reads=$(( after - before ))
                segments=$(grep -c '^#EXTINF' "$WORK/window.m3u8")
                bytes=$(stat -c %s "$WORK/window.m3u8")
                grep -q '^#EXT-X-ENDLIST' "$WORK/window.m3u8" || die "the $hours-hour window has no ENDLIST"
            elif (( after - before != reads )); then
                die "the $hours-hour window read $(( after - before )) objects, then $reads: the edge kept something"
            fi
        done
        out "$(printf '%s\n' "${times[@]}" | sort -n | awk -v h="$hours" -v r="$reads" -v s="$segments" -v b="$bytes" '
            { t[NR] = $1 * 1000 }
            END { printf "window %2d h: %4d store reads, %6d segments, %8d bytes of playlist; built and sent in %.1f ms (best), %.1f ms (median of %d)\n",
                  h, r, s, b, t[1], t[int((NR + 1) / 2)], NR }')"
    done
    stop_pid "$SERVER_PID"
}

# --- 2. clips ----------------------------------------------------------------------------------
clips_step() {
    local s3root=$WORK/s3 s3port longest seconds node_pid http rtmp admin status recs session t0
    make_fixture
    mkdir -p "$s3root/$S3_BUCKET"
    s3port=$(free_port)
    s3s-fs --host 127.0.0.1 --port "$s3port" --access-key "$S3_AK" --secret-key "$S3_SK" "$s3root" \
        >"$WORK/s3s-fs.log" 2>&1 &
    STARTED+=("$!")
    for ((i = 0; i < 100; i++)); do
        curl -s -o /dev/null "http://127.0.0.1:$s3port/" && break
        sleep 0.1
    done
    export AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK AWS_EC2_METADATA_DISABLED=true \
        AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent RAPIDRTMP_S3_PATH_STYLE=true
    local s3=(--store "s3://$S3_BUCKET/archive" --s3-endpoint "http://127.0.0.1:$s3port" --s3-region us-east-1)

    longest=$(tr ' ' '\n' <<<"$CLIPS" | sort -n | tail -1)
    seconds=$(( longest + 20 ))
    rtmp=$(free_port)
    admin=bench-admin-key-$RANDOM$RANDOM
    log "recording ${seconds} s of the 720p fixture through rapidrtmp serve into s3s-fs"
    start_server serve ingest "${s3[@]}" --data-dir "$WORK/ingest" --rtmp-addr "127.0.0.1:$rtmp" --admin-key "$admin"
    node_pid=$SERVER_PID
    http=$SERVER
    "$LOAD" --url "rtmp://127.0.0.1:$rtmp/live" --streams 1 --file "$FIXTURE" --duration "$seconds" \
        --key-prefix clip --admin-key "$admin" --api "$http" >"$WORK/publish.out" 2>&1 &
    local publisher=$!
    STARTED+=("$publisher")

    # Does the node serve clips at all? A 4-second one, once 15 s are recorded.
    sleep 15
    recs=$(curl -fsS -H "Authorization: Bearer $admin" "$http/api/v1/streams/clip-0/recordings") \
        || die "no recordings listed: $(cat "$WORK/publish.out")"
    session=$(sed -n 's/.*"id": *"\([0-9]*\)".*/\1/p' <<<"$recs" | head -1)
    [[ -n $session ]] || die "no session in $recs"
    t0=$(( session / 1000 + 5 ))
    status=$(curl -s -o "$WORK/probe.mp4" -w '%{http_code}' "$http/live/clip-0/clip.mp4?start=$t0&end=$(( t0 + 4 ))")
    if [[ $status != 200 ]]; then
        out "clips: clip.mp4 not served (status $status): $(head -c 200 "$WORK/probe.mp4")"
        stop_pid "$publisher"
        stop_pid "$node_pid"
        return
    fi
    log "clip.mp4 is served; waiting for the publish to end (${seconds} s in all)"
    wait "$publisher" || die "the publish failed: $(cat "$WORK/publish.out")"
    sleep 3
    stop_pid "$node_pid"

    local clip kind bin binaries=("$RAPIDRTMP")
    [[ -n ${BASELINE_BIN:-} ]] && binaries+=("$BASELINE_BIN")
    for clip in $CLIPS; do
        for bin in "${binaries[@]}"; do
            for kind in serve edge; do
                SERVER_BIN=$bin fetch_clip "$clip" "$kind" "$([[ $bin == "$RAPIDRTMP" ]] || echo ' (baseline)')"
            done
        done
    done
}

fetch_clip() { # SECONDS KIND LABEL: the clip of SECONDS from a fresh `rapidrtmp KIND`, reported
    local clip=$1 kind=$2 label=$3 r duration peak
    if [[ $kind == serve ]]; then
        start_server serve "clip-$clip-node" "${s3[@]}" --data-dir "$WORK/node-$clip-$RANDOM" \
            --rtmp-addr "127.0.0.1:$(free_port)" --admin-key "$admin"
    else
        start_server edge "clip-$clip-edge" "${s3[@]}"
    fi
    r=$(curl -sS -o "$WORK/clip.mp4" -w '%{http_code} %{time_starttransfer} %{time_total} %{size_download}' \
        "$SERVER/live/clip-0/clip.mp4?start=$t0&end=$(( t0 + clip ))") || die "GET the $clip s clip failed"
    peak=$(peak_kb "$SERVER_PID")
    stop_pid "$SERVER_PID"
    [[ ${r%% *} == 200 ]] || die "the $clip s clip from $kind: status ${r%% *}: $(head -c 300 "$WORK/clip.mp4")"
    duration=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$WORK/clip.mp4")
    out "$(awk -v r="$r" -v k="$kind" -v c="$clip" -v d="$duration" -v p="$peak" -v b="$label" 'BEGIN {
        split(r, f, " ")
        printf "clip %4d s from %-5s%s: first byte %7.1f ms, total %8.1f ms, %6.1f MB, MP4 of %.3f s, peak memory %6.1f MB\n",
            c, (k == "serve" ? "node" : "edge"), b, f[2] * 1000, f[3] * 1000, f[4] / 1e6, d, p / 1024 }')"
}

for step in $STEPS; do
    case $step in
        windows) windows_step ;;
        clips) clips_step ;;
        *) die "unknown step $step (windows, clips)" ;;
    esac
done

mkdir -p "$BENCH_DIR"
{
    echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') $(nproc) cores"
    cat "$WORK/out"
} >>"$RESULTS"
log "results appended to $RESULTS"

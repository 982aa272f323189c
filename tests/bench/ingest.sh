#!/usr/bin/env bash
# Ingest benchmark: N real-time RTMP publishers (720p30 H.264 ~2.5 Mbit/s + AAC, one FLV file
# looped by rapidrtmp-load) against `rapidrtmp serve` and against nginx-rtmp (`hls on`).
#
# For each N and server it reports the server's CPU (utime+stime from /proc/PID/stat over the
# steady window, as % of one core, and per stream its user and kernel parts), its peak RSS (VmRSS) and the RSS added per stream over the
# idle baseline, the load tool's own CPU and the machine's CPU use (both share the cores), and
# how soon a segment is listed after the keyframe that closes it arrives (one stream's playlist
# polled every 10 ms: rapidrtmp over HTTP, nginx-rtmp as the file it writes), and for rapidrtmp the
# time to write a chunk and its manifest to the store (mean, and the histogram bucket holding the
# 95th percentile; the default folder store fsyncs each object and its folder).
#
# Usage: tests/bench/ingest.sh
# Environment: STREAMS ("50 200"), DURATION (30 s), WARMUP (6 s before the CPU window opens),
# RAMP (2 s over which stream starts are spread), SERVERS ("rapidrtmp nginx"),
# BENCH_DIR (~/.cache/rapidrtmp/bench: the fixture, results), CARGO_TARGET_DIR
# (~/.cache/rapidrtmp/target), POLL (1: measure the listing latency; 0: no playlist polling),
# RAPIDRTMP_BIN and LOAD_BIN (prebuilt binaries: skip the build), WAIT_IDLE (0: seconds to
# wait, before each run, for the other processes to use at most 10% CPU).
# The machine should be otherwise idle: each run first measures the CPU other processes use
# (bg_cpu in the raw lines) and warns when it is above 10% of one core; the table's "other CPU%"
# is what the rest of the machine used during the measured window.
# Results: printed, and saved in $BENCH_DIR/ingest-results.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/rapidrtmp/target}
BENCH_DIR=${BENCH_DIR:-$HOME/.cache/rapidrtmp/bench}
STREAMS=${STREAMS:-"50 200"}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-6}
RAMP=${RAMP:-2}
SERVERS=${SERVERS:-"rapidrtmp nginx"}
POLL=${POLL:-1}
RESULTS=$BENCH_DIR/ingest-results.txt
NGINX_RTMP_SO=/usr/lib/nginx/modules/ngx_rtmp_module.so
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[ingest.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=tests/bench/lib.sh
. "$ROOT/tests/bench/lib.sh"

(( DURATION > WARMUP + 2 )) || die "DURATION ($DURATION) must exceed WARMUP ($WARMUP) + 2"

# --- tools -------------------------------------------------------------------------------------
command -v ffmpeg >/dev/null || { log "installing ffmpeg"; apt_install ffmpeg; }
command -v curl >/dev/null || { log "installing curl"; apt_install curl ca-certificates; }
if [[ " $SERVERS " == *" nginx "* ]] && { ! command -v nginx >/dev/null || [[ ! -f $NGINX_RTMP_SO ]]; }; then
    log "installing nginx and libnginx-mod-rtmp"
    apt_install nginx libnginx-mod-rtmp
    # The package may start a system nginx: leave it alone, it does not touch our ports.
fi

# --- fixture (made once) -----------------------------------------------------------------------
make_fixture

# --- binaries ----------------------------------------------------------------------------------
release_binaries # RAPIDRTMP and LOAD

# --- helpers -----------------------------------------------------------------------------------
start_work bench # $WORK, and STARTED: the PIDs this script started, stopped on exit

machine_busy() { # busy and total jiffies of all CPUs
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
now() { date +%s.%N; }

sample_rss() { # PID OUT: peak VmRSS (kB) every 100 ms until PID exits or OUT.stop exists
    local pid=$1 out=$2 peak=0 r
    while kill -0 "$pid" 2>/dev/null && [[ ! -e $out.stop ]]; do
        r=$(rss_kb "$pid")
        (( r > peak )) && peak=$r && echo "$peak" >"$out"
        sleep 0.1
    done
}

chunk_write_stats() { # METRICS: "MEAN_MS P95_MS" of rapidrtmp_chunk_write_seconds ("- -" if none)
    awk '
        /^rapidrtmp_chunk_write_seconds_bucket/ { split($0, q, "\""); le[n] = q[2]; c[n++] = $NF }
        /^rapidrtmp_chunk_write_seconds_sum / { sum = $2 }
        /^rapidrtmp_chunk_write_seconds_count / { count = $2 }
        END {
            if (count == 0) { print "- -"; exit }
            for (i = 0; i < n; i++) if (c[i] >= 0.95 * count) { p = le[i]; break }
            printf "%.2f %s\n", sum / count * 1000, (p == "+Inf" ? "inf" : p * 1000)
        }' <<<"$1"
}

wait_tcp() { # PORT [seconds]: until something listens
    local i
    for ((i = 0; i < ${2:-20} * 10; i++)); do
        [[ -n $(ss -Htln "sport = :$1" 2>/dev/null) ]] && return 0
        sleep 0.1
    done
    return 1
}

# --- one measured run --------------------------------------------------------------------------
# run_one SERVER N: starts the server, measures, appends one result line "key=value …" to
# $WORK/lines (run in this shell, not a subshell, so that STARTED and the EXIT trap see its PIDs).
run_one() {
    local server=$1 n=$2 dir="$WORK/$1-$2" rtmp_port http_port pid admin load_args=() poll
    mkdir -p "$dir"
    local b0 b1 bg
    local waited=0
    while :; do
        b0=$(machine_busy); sleep 2; b1=$(machine_busy)
        bg=$(awk -v a="$b0" -v b="$b1" -v ncpu="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f", (y[1] - x[1]) / (y[2] - x[2]) * 100 * ncpu }')
        (( bg > 10 && waited < ${WAIT_IDLE:-0} )) || break
        (( waited % 60 == 0 )) && log "waiting for the machine to be idle (other processes use ${bg}% CPU)"
        waited=$((waited + 2))
    done
    (( bg <= 10 )) || log "warning: other processes use ${bg}% CPU: the figures of this run are disturbed"
    rtmp_port=$(free_port)
    case $server in
    rapidrtmp)
        http_port=$(free_port)
        admin=bench-admin-key-$RANDOM$RANDOM
        RAPIDRTMP_LOG=warn "$RAPIDRTMP" serve --rtmp-addr "127.0.0.1:$rtmp_port" \
            --http-addr "127.0.0.1:$http_port" --data-dir "$dir/data" --admin-key "$admin" \
            --max-connections $((n + 50)) --max-connections-per-ip $((n + 50)) >"$dir/server.log" 2>&1 &
        pid=$!
        STARTED+=("$pid")
        for _ in $(seq 100); do
            curl -fsS "http://127.0.0.1:$http_port/ready" >/dev/null 2>&1 && break
            sleep 0.1
        done
        curl -fsS "http://127.0.0.1:$http_port/ready" >/dev/null || die "rapidrtmp did not get ready; see $dir/server.log"
        load_args=(--admin-key "$admin" --api "http://127.0.0.1:$http_port")
        poll="http://127.0.0.1:$http_port/live/load-0/index.m3u8"
        ;;
    nginx)
        mkdir -p "$dir/logs" "$dir/hls"
        cat >"$dir/nginx.conf" <<EOF
load_module $NGINX_RTMP_SO;
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log stderr warn;
events { worker_connections $((n + 200)); }
rtmp {
    server {
        listen 127.0.0.1:$rtmp_port;
        application live {
            live on;
            hls on;
            hls_path $dir/hls;
            hls_fragment 2s;
        }
    }
}
EOF
        nginx -p "$dir" -c "$dir/nginx.conf" -e stderr >"$dir/server.log" 2>&1 &
        pid=$!
        STARTED+=("$pid")
        wait_tcp "$rtmp_port" || die "nginx did not start; see $dir/server.log"
        poll="$dir/hls/load-0.m3u8"
        ;;
    esac
    sleep 1
    local base_kb
    base_kb=$(rss_kb "$pid")
    [[ $POLL == 1 ]] && load_args+=(--poll-playlist "$poll" --poll-log "$dir/poll.log")

    rm -f "$dir/rss" "$dir/rss.stop"
    sample_rss "$pid" "$dir/rss" &
    local sampler=$!
    STARTED+=("$sampler")

    log "$server, $n streams: publishing for $DURATION s"
    "$LOAD" --url "rtmp://127.0.0.1:$rtmp_port/live" --streams "$n" --file "$FIXTURE" \
        --duration "$DURATION" --ramp "$RAMP" --key-prefix load --keyframe-log "$dir/keyframes.log" \
        "${load_args[@]}" >"$dir/load.out" 2>"$dir/load.err" &
    local load=$!
    STARTED+=("$load")

    sleep "$WARMUP"
    local c0 u0 l0 m0 t0 c1 u1 l1 m1 t1
    c0=$(cpu_ticks "$pid"); u0=$(cpu_user_ticks "$pid"); l0=$(cpu_ticks "$load"); m0=$(machine_busy); t0=$(now)
    sleep $((DURATION - WARMUP))
    c1=$(cpu_ticks "$pid"); u1=$(cpu_user_ticks "$pid"); l1=$(cpu_ticks "$load"); m1=$(machine_busy); t1=$(now)

    wait "$load" || log "$server, $n streams: rapidrtmp-load exited with $? (see $dir/load.out)"
    touch "$dir/rss.stop"
    wait "$sampler" 2>/dev/null || true
    local metrics=""
    if [[ $server == rapidrtmp ]]; then
        metrics=$(curl -fsS "http://127.0.0.1:$http_port/metrics" || true)
    fi
    stop_pid "$pid"
    cat "$dir/load.out" >&2

    local peak_kb result write_stats
    peak_kb=$(cat "$dir/rss" 2>/dev/null || echo "$base_kb")
    write_stats=$(chunk_write_stats "$metrics")
    result=$(grep '^RESULT ' "$dir/load.out" | sed 's/^RESULT //')
    awk -v ncpu="$(nproc)" -v server="$server" -v n="$n" -v c0="$c0" -v c1="$c1" -v u0="$u0" -v u1="$u1" -v l0="$l0" -v l1="$l1" \
        -v m0="$m0" -v m1="$m1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" -v bg="$bg" -v base="$base_kb" \
        -v peak="$peak_kb" -v result="$result" -v chunks="$(awk '/^rapidrtmp_chunks_written_total /{print $2}' <<<"$metrics")" \
        -v lost="$(awk '/^rapidrtmp_chunks_lost_total /{print $2}' <<<"$metrics")" \
        -v write_mean="${write_stats% *}" -v write_p95="${write_stats#* }" '
    BEGIN {
        wall = t1 - t0
        split(m0, a, " "); split(m1, b, " ")
        mach = (b[1] - a[1]) / (b[2] - a[2]) * 100 * ncpu
        printf "server=%s n=%d cpu=%.1f cpu_per_stream=%.3f user_per_stream=%.3f sys_per_stream=%.3f rss_mb=%.1f base_mb=%.1f rss_kb_per_stream=%.0f load_cpu=%.1f machine_cpu=%.1f other_cpu=%.1f bg_cpu=%s window_s=%.1f chunks=%s lost=%s chunk_write_mean_ms=%s chunk_write_p95_ms=%s %s\n",
            server, n, (c1 - c0) / hz / wall * 100, (c1 - c0) / hz / wall * 100 / n,
            (u1 - u0) / hz / wall * 100 / n, ((c1 - c0) - (u1 - u0)) / hz / wall * 100 / n,
            peak / 1024, base / 1024, (peak - base) / n, (l1 - l0) / hz / wall * 100,
            mach, mach - (c1 - c0) / hz / wall * 100 - (l1 - l0) / hz / wall * 100, bg, wall, chunks == "" ? "-" : chunks,
            lost == "" ? "-" : lost, write_mean, write_p95, result
    }' >>"$WORK/lines"
    log "$(tail -n 1 "$WORK/lines")"
}

# --- main --------------------------------------------------------------------------------------
log "fixture: $FIXTURE; streams: $STREAMS; $DURATION s each (CPU window: ${WARMUP}..$DURATION s); servers: $SERVERS"
: >"$WORK/lines"
for n in $STREAMS; do
    for server in $SERVERS; do
        run_one "$server" "$n"
    done
done
mapfile -t LINES <"$WORK/lines"

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
{
    echo "RTMP ingest benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo))"
    echo "fixture: 1280x720 30 fps H.264 ~2.5 Mbit/s + AAC 128 kbit/s, looped; $DURATION s per run, CPU over ${WARMUP}..$DURATION s"
    echo "CPU%: of one core ($(( $(nproc) * 100 ))% = all cores); user/kernel: CPU%/strm in user space and in the kernel (socket"
    echo "reads, file writes). load: rapidrtmp-load; mach: all processes; other: mach - server - load"
    echo "(other > 10% means something else ran during the window). RSS KB/strm: (peak RSS - idle RSS) / N."
    echo "seg med/p95: closing keyframe sent -> segment in the playlist, one stream, polled every 10 ms."
    echo "write mean/p95: a chunk and its manifest written to the store (p95: the histogram bucket's bound)."
    echo
    printf '%5s %-10s %9s %11s %13s %9s %11s %14s %16s %9s %9s %10s %10s %9s %8s\n' \
        N server "CPU%" "CPU%/strm" "user/kernel" "RSS MB" "RSS KB/strm" "seg med/p95" "write mean/p95" "load CPU%" "mach CPU%" "other CPU%" connected "late tags" "max lag"
    for line in "${LINES[@]}"; do
        seg="-"
        [[ -n $(field seg_median_ms "$line") ]] && seg="$(field seg_median_ms "$line")/$(field seg_p95_ms "$line") ms"
        write="-"
        [[ $(field chunk_write_mean_ms "$line") != - ]] && write="$(field chunk_write_mean_ms "$line")/$(field chunk_write_p95_ms "$line") ms"
        printf '%5s %-10s %9s %11s %13s %9s %11s %14s %16s %9s %9s %10s %10s %9s %8s\n' \
            "$(field n "$line")" "$(field server "$line")" "$(field cpu "$line")" "$(field cpu_per_stream "$line")" \
            "$(field user_per_stream "$line")/$(field sys_per_stream "$line")" \
            "$(field rss_mb "$line")" "$(field rss_kb_per_stream "$line")" "$seg" "$write" "$(field load_cpu "$line")" \
            "$(field machine_cpu "$line")" "$(field other_cpu "$line")" "$(field connected "$line")/$(field streams "$line")" \
            "$(field late_tags "$line")" "$(field max_lag_ms "$line") ms"
    done
    echo
    echo "raw:"
    printf '%s\n' "${LINES[@]}"
} | tee "$RESULTS"
log "results saved in $RESULTS"

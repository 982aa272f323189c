#!/usr/bin/env bash
# Restreaming benchmark: what an output costs. One real-time RTMP publisher (720p30 H.264
# ~2.5 Mbit/s + AAC, the ingest fixture looped by rapidrtmp-load) into `rapidrtmp serve` with 0
# and then OUTPUTS outputs to an nginx-rtmp sink, and the same into nginx-rtmp with 0 and OUTPUTS
# `push` lines to the same sink: nginx-rtmp's push is the peer.
#
# For each server it reports its CPU (utime+stime from /proc/PID/stat over the steady window, % of
# one core) and peak RSS with no output and with OUTPUTS, and the difference per output; for
# RapidRTMP also how many outputs the API said were live and the bytes they sent.
#
# Usage: tests/bench/restream.sh
# Environment: OUTPUTS (10), DURATION (30 s), WARMUP (8 s before the CPU window opens),
# SERVERS ("rapidrtmp nginx"), BENCH_DIR (~/.cache/rapidrtmp/bench), CARGO_TARGET_DIR
# (~/.cache/rapidrtmp/target), RAPIDRTMP_BIN and LOAD_BIN (prebuilt binaries: skip the build).
# The machine should be otherwise idle ("other CPU%" says what the rest used during the window).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/rapidrtmp/target}
BENCH_DIR=${BENCH_DIR:-$HOME/.cache/rapidrtmp/bench}
OUTPUTS=${OUTPUTS:-10}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-8}
SERVERS=${SERVERS:-"rapidrtmp nginx"}
NGINX_RTMP_SO=/usr/lib/nginx/modules/ngx_rtmp_module.so
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[restream.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=tests/bench/lib.sh
. "$ROOT/tests/bench/lib.sh"

(( DURATION > WARMUP + 2 )) || die "DURATION ($DURATION) must exceed WARMUP ($WARMUP) + 2"
(( OUTPUTS >= 1 && OUTPUTS <= 16 )) || die "OUTPUTS ($OUTPUTS) must be 1 to 16 (a stream's limit)"

# --- tools, fixture, binaries ------------------------------------------------------------------
command -v ffmpeg >/dev/null || { log "installing ffmpeg"; apt_install ffmpeg; }
command -v curl >/dev/null || { log "installing curl"; apt_install curl ca-certificates; }
if ! command -v nginx >/dev/null || [[ ! -f $NGINX_RTMP_SO ]]; then
    log "installing nginx and libnginx-mod-rtmp"
    apt_install nginx libnginx-mod-rtmp
fi
make_fixture
release_binaries # RAPIDRTMP and LOAD

start_work restream

machine_busy() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
now() { date +%s.%N; }
wait_tcp() {
    local i
    for ((i = 0; i < 200; i++)); do
        [[ -n $(ss -Htln "sport = :$1" 2>/dev/null) ]] && return 0
        sleep 0.1
    done
    return 1
}

# nginx-rtmp with an `application APP { live on; LINES }` on PORT, in DIR; prints its PID.
start_nginx() {
    local dir=$1 port=$2 app=$3 lines=$4
    mkdir -p "$dir/logs"
    cat >"$dir/nginx.conf" <<EOF
load_module $NGINX_RTMP_SO;
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
rtmp {
    server {
        listen 127.0.0.1:$port;
        application $app {
            live on;
$lines
        }
    }
}
EOF
    nginx -p "$dir" -c "$dir/nginx.conf" -e stderr >"$dir/server.log" 2>&1 &
    echo $!
}

# The sink every output publishes to: nginx-rtmp that takes any stream and keeps nothing.
SINK_PORT=$(free_port)
SINK=$(start_nginx "$WORK/sink" "$SINK_PORT" sink "")
STARTED+=("$SINK")
wait_tcp "$SINK_PORT" || die "the sink nginx did not start; see $WORK/sink/server.log"

# --- one measured run --------------------------------------------------------------------------
# run_one SERVER N: publishes one stream for DURATION s into SERVER forwarding it to N outputs;
# appends "key=value …" to $WORK/lines.
run_one() {
    local server=$1 n=$2 dir="$WORK/$1-$2" rtmp_port http_port pid admin load_args=() i
    mkdir -p "$dir"
    rtmp_port=$(free_port)
    case $server in
    rapidrtmp)
        http_port=$(free_port)
        admin=bench-admin-key-$RANDOM$RANDOM
        RAPIDRTMP_LOG=warn "$RAPIDRTMP" serve --rtmp-addr "127.0.0.1:$rtmp_port" \
            --http-addr "127.0.0.1:$http_port" --data-dir "$dir/data" --admin-key "$admin" \
            >"$dir/server.log" 2>&1 &
        pid=$!
        STARTED+=("$pid")
        wait_http "http://127.0.0.1:$http_port/ready" 10 || die "rapidrtmp did not get ready; see $dir/server.log"
        for ((i = 0; i < n; i++)); do
            curl -fsS -o /dev/null -H "Authorization: Bearer $admin" \
                -d "{\"url\":\"rtmp://127.0.0.1:$SINK_PORT/sink/$server-$n-$i\"}" \
                "http://127.0.0.1:$http_port/api/v1/streams/bench-0/outputs" || die "adding output $i failed"
        done
        load_args=(--admin-key "$admin" --api "http://127.0.0.1:$http_port")
        ;;
    nginx)
        local pushes=""
        for ((i = 0; i < n; i++)); do
            pushes+="            push rtmp://127.0.0.1:$SINK_PORT/sink/$server-$n-$i;"$'\n'
        done
        pid=$(start_nginx "$dir" "$rtmp_port" live "$pushes")
        STARTED+=("$pid")
        wait_tcp "$rtmp_port" || die "nginx did not start; see $dir/server.log"
        ;;
    esac
    sleep 1
    local base_kb peak_kb=0 r
    base_kb=$(rss_kb "$pid")

    log "$server, $n outputs: publishing for $DURATION s"
    # The publish lasts 3 s past the window, so that the outputs are still live when asked.
    "$LOAD" --url "rtmp://127.0.0.1:$rtmp_port/live" --streams 1 --file "$FIXTURE" \
        --duration "$((DURATION + 3))" --key-prefix bench "${load_args[@]}" >"$dir/load.out" 2>"$dir/load.err" &
    local load=$!
    STARTED+=("$load")

    sleep "$WARMUP"
    local c0 m0 t0 c1 m1 t1 s0 s1 t_end
    c0=$(cpu_ticks "$pid"); s0=$(cpu_ticks "$SINK"); m0=$(machine_busy); t0=$(now)
    t_end=$(awk -v t="$t0" -v d="$((DURATION - WARMUP))" 'BEGIN { printf "%.0f", t + d }')
    while (( $(date +%s) < t_end )); do
        r=$(rss_kb "$pid")
        (( r > peak_kb )) && peak_kb=$r
        sleep 0.5
    done
    c1=$(cpu_ticks "$pid"); s1=$(cpu_ticks "$SINK"); m1=$(machine_busy); t1=$(now)

    local live="-" sent="-"
    if [[ $server == rapidrtmp ]]; then
        local outputs
        outputs=$(curl -fsS -H "Authorization: Bearer $admin" "http://127.0.0.1:$http_port/api/v1/streams/bench-0/outputs" || true)
        # (grep finds nothing when no output is live: the counts are then 0)
        live=$(grep -o '"state":"live"' <<<"$outputs" | wc -l) || true
        sent=$(grep -o '"bytesSent":[0-9]*' <<<"$outputs" | awk -F: '{ s += $2 } END { print s + 0 }') || true
    fi
    wait "$load" || log "$server, $n outputs: rapidrtmp-load exited with $? (see $dir/load.out)"
    stop_pid "$pid"
    grep -q '^RESULT .*errors=0' "$dir/load.out" || die "the publish failed: $(cat "$dir/load.out" "$dir/load.err")"

    awk -v ncpu="$(nproc)" -v server="$server" -v n="$n" -v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" \
        -v m0="$m0" -v m1="$m1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" -v base="$base_kb" -v peak="$peak_kb" \
        -v live="$live" -v sent="$sent" '
    BEGIN {
        wall = t1 - t0
        split(m0, a, " "); split(m1, b, " ")
        cpu = (c1 - c0) / hz / wall * 100
        sink = (s1 - s0) / hz / wall * 100
        mach = (b[1] - a[1]) / (b[2] - a[2]) * 100 * ncpu
        printf "server=%s outputs=%d cpu=%.2f rss_mb=%.1f base_mb=%.1f sink_cpu=%.2f other_cpu=%.1f live=%s bytes_sent=%s window_s=%.1f\n",
            server, n, cpu, peak / 1024, base / 1024, sink, mach - cpu - sink, live, sent, wall
    }' >>"$WORK/lines"
    log "$(tail -n 1 "$WORK/lines")"
}

# --- main --------------------------------------------------------------------------------------
: >"$WORK/lines"
for server in $SERVERS; do
    run_one "$server" 0
    run_one "$server" "$OUTPUTS"
done
mapfile -t LINES <"$WORK/lines"

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
echo "Restreaming benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores; one 720p30 ~2.6 Mbit/s stream, $DURATION s"
echo "per run, CPU over ${WARMUP}..$DURATION s (% of one core), RSS peak in the window; outputs to a local nginx-rtmp sink"
echo
printf '%-10s %8s %8s %8s %10s %9s %12s\n' server outputs "CPU%" "RSS MB" "sink CPU%" "other CPU%" "live/bytes"
for line in "${LINES[@]}"; do
    printf '%-10s %8s %8s %8s %10s %9s %12s\n' "$(field server "$line")" "$(field outputs "$line")" \
        "$(field cpu "$line")" "$(field rss_mb "$line")" "$(field sink_cpu "$line")" "$(field other_cpu "$line")" \
        "$(field live "$line")/$(field bytes_sent "$line")"
done
echo
for server in $SERVERS; do
    zero=$(grep "server=$server outputs=0 " "$WORK/lines")
    many=$(grep "server=$server outputs=$OUTPUTS " "$WORK/lines")
    awk -v s="$server" -v n="$OUTPUTS" -v c0="$(field cpu "$zero")" -v c1="$(field cpu "$many")" \
        -v r0="$(field rss_mb "$zero")" -v r1="$(field rss_mb "$many")" \
        'BEGIN { printf "%s: per output %.3f%% of a core, %.0f KB of RSS\n", s, (c1 - c0) / n, (r1 - r0) * 1024 / n }'
done

#!/usr/bin/env bash
# Serving benchmark: what building at request time costs against serving files, and what one node
# does for a thousand Low-Latency HLS viewers of one stream.
#
# 1. Static against built, one core each. An ended stream (the 720p30 H.264 2.5 Mbit/s + AAC
#    fixture of lib.sh, published for 20 s by rapidrtmp-load to `rapidrtmp serve`: ten 2 s
#    segments, as the node writes them) is served by `rapidrtmp edge` over that folder store,
#    pinned to core 0; every segment and the media playlist are fetched from it once and written
#    as static files, which nginx (`sendfile on`, one worker, pinned to core 0, run after the
#    edge, never beside it) serves. `wrk -t1 -c16` on core 1 loads each for WRK_SECONDS: the
#    ten segment URLs in turn (a wrk Lua script), then the media playlist alone. Reported:
#    req/s, Gbit/s (headers and bodies) and the server's CPU, and the ratio rapidrtmp/nginx, in
#    two modes of the edge: cold (`--cache-mb 0`: nothing kept, every answer built; requests for
#    the same object at the same moment still share one build) and hot (`--cache-mb 256`), with
#    the edge's cache metrics after each. A binary whose `edge` has no `--cache-mb` runs the cold mode alone (it has no cache),
#    and the output says so. Bytes are checked: each of the edge's answers (before and after the
#    load) and each of nginx's equals the static file (cmp), and wrk must count no non-2xx
#    answer and no socket error.
# 2. VIEWERS Low-Latency HLS viewers of one live stream straight at the node (no CDN): the
#    fixture published in a loop with LL-HLS at its defaults (`--part-duration` 0.333 s), then
#    `rapidrtmp-load viewers` (core 1, one task per viewer, two keep-alive connections each)
#    follows the playlist for VIEWER_SECONDS as a player does: blocking reloads (`_HLS_msn`,
#    `_HLS_part`), the preload-hinted part, every part listed. Reported: parts listed against
#    delivered (missed must be 0), errors by request kind and status, latency p50/p99 (a blocking
#    reload or hinted part waits for the part to exist: about a part duration), and the node's
#    CPU (utime+stime from /proc/PID/stat over the window, as % of one core; node on core 0).
#    The node's HTTP caps are raised so that every viewer fits: `--max-http-connections` and
#    `--max-http-connections-per-ip` 2 × VIEWERS + 64 (all viewers come from 127.0.0.1; the
#    default per-IP cap is a quarter of the cap, at most 1024).
#
# Usage: tests/bench/serve.sh
# Environment: STEPS ("static viewers": which parts run), WRK_SECONDS (10), CONNECTIONS (16),
# MODES ("cold hot" when the binary has --cache-mb, else "cold"), CACHE_MB (256: the hot mode),
# VIEWERS (1000), VIEWER_SECONDS (30), SERVER_CORE (0), LOAD_CORE (1),
# BENCH_DIR (~/.cache/rapidrtmp/bench: the fixture, results), CARGO_TARGET_DIR
# (~/.cache/rapidrtmp/target), RAPIDRTMP_BIN and LOAD_BIN (prebuilt binaries: skip the build).
# The machine should be otherwise idle. Results: printed, and appended to
# $BENCH_DIR/serve-results.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/rapidrtmp/target}
BENCH_DIR=${BENCH_DIR:-$HOME/.cache/rapidrtmp/bench}
STEPS=${STEPS:-"static viewers"}
WRK_SECONDS=${WRK_SECONDS:-10}
CONNECTIONS=${CONNECTIONS:-16}
CACHE_MB=${CACHE_MB:-256}
VIEWERS=${VIEWERS:-1000}
VIEWER_SECONDS=${VIEWER_SECONDS:-30}
SERVER_CORE=${SERVER_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
RESULTS=$BENCH_DIR/serve-results.txt
CLK_TCK=$(getconf CLK_TCK)
# The ended stream: ten segments of about 2 s.
VOD_SECONDS=20
VOD_SEGMENTS=10

log() { printf '[serve.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=tests/bench/lib.sh
. "$ROOT/tests/bench/lib.sh"

(( VIEWER_SECONDS >= 5 )) || die "VIEWER_SECONDS ($VIEWER_SECONDS) must be at least 5"

# --- tools -------------------------------------------------------------------------------------
command -v ffmpeg >/dev/null || { log "installing ffmpeg"; apt_install ffmpeg; }
command -v curl >/dev/null || { log "installing curl"; apt_install curl ca-certificates; }
command -v nginx >/dev/null || { log "installing nginx"; apt_install nginx; }
command -v wrk >/dev/null || { log "installing wrk"; apt_install wrk; }
command -v taskset >/dev/null || { log "installing util-linux (taskset)"; apt_install util-linux; }
(( $(nproc) >= 2 )) || die "two cores are needed (server on one, load on the other)"

# Each viewer holds two connections, and so does the node for it.
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
(( $(ulimit -Sn) >= 2 * VIEWERS + 256 )) || die "the open-file limit ($(ulimit -Sn)) is too low for $VIEWERS viewers"

# --- fixture (made once) and binaries ----------------------------------------------------------
make_fixture
release_binaries # RAPIDRTMP and LOAD

if "$RAPIDRTMP" edge --help | grep -- --cache-mb >/dev/null; then
    HAS_CACHE=1
    MODES=${MODES:-"cold hot"}
else
    HAS_CACHE=
    MODES=${MODES:-cold}
    [[ $MODES == cold ]] || die "MODES=$MODES: this rapidrtmp has no --cache-mb, only the cold mode runs"
fi

start_work serve # $WORK, and STARTED: the PIDs this script started, stopped on exit
: >"$WORK/out"
out() { printf '%s\n' "$*" >>"$WORK/out"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
now() { date +%s.%N; }

start_node() { # DIR [flags…]: `rapidrtmp serve` with its data in DIR, on core NODE_CORE if set;
    # sets NODE (its base URL), NODE_PID, NODE_RTMP (port), ADMIN (its admin key)
    local dir=$1 http pin=()
    shift
    [[ -n ${NODE_CORE:-} ]] && pin=(taskset -c "$NODE_CORE")
    NODE_RTMP=$(free_port)
    http=$(free_port)
    NODE=http://127.0.0.1:$http
    ADMIN=bench-admin-key-$RANDOM$RANDOM
    RAPIDRTMP_LOG=warn "${pin[@]}" "$RAPIDRTMP" serve --rtmp-addr "127.0.0.1:$NODE_RTMP" --http-addr "127.0.0.1:$http" \
        --data-dir "$dir" --admin-key "$ADMIN" "$@" >"$dir.log" 2>&1 &
    NODE_PID=$!
    STARTED+=("$NODE_PID")
    wait_http "$NODE/ready" 10 || die "rapidrtmp serve did not get ready; see $dir.log"
}

publish() { # KEY_PREFIX SECONDS [taskset core]: rapidrtmp-load publishes the fixture to the node as PREFIX-0
    local prefix=$1 seconds=$2 pin=()
    [[ -n ${3:-} ]] && pin=(taskset -c "$3")
    "${pin[@]}" "$LOAD" --url "rtmp://127.0.0.1:$NODE_RTMP/live" --streams 1 --file "$FIXTURE" \
        --duration "$seconds" --key-prefix "$prefix" --admin-key "$ADMIN" --api "$NODE" \
        >"$WORK/publish-$prefix.out" 2>&1 &
    PUBLISHER=$!
    STARTED+=("$PUBLISHER")
}

# --- 1. static against built -------------------------------------------------------------------
wrk_run() { # BASE PATHS_FILE NAME SERVER_PID: wrk on LOAD_CORE over the paths in turn;
    # prints "req/s Gbit/s server-CPU%", fails on any non-2xx answer or socket error
    local base=$1 paths=$2 name=$3 pid=$4 c0 c1 t0 t1 line
    c0=$(cpu_ticks "$pid"); t0=$(now)
    taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d"${WRK_SECONDS}s" -s "$WORK/cycle.lua" \
        "$base" -- "$paths" >"$WORK/wrk-$name.out" 2>&1 || die "wrk failed: $(cat "$WORK/wrk-$name.out")"
    c1=$(cpu_ticks "$pid"); t1=$(now)
    line=$(grep '^RESULT ' "$WORK/wrk-$name.out") || die "wrk printed no result: $(cat "$WORK/wrk-$name.out")"
    log "$name: $line"
    awk -v line="$line" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" -v name="$name" '
    BEGIN {
        n = split(line, kv, " ")
        for (i = 2; i <= n; i++) { split(kv[i], p, "="); r[p[1]] = p[2] }
        bad = r["status"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
        if (bad > 0) {
            printf "%s: %d non-2xx answers, %d socket errors\n", name, r["status"], bad - r["status"] > "/dev/stderr"
            exit 1
        }
        s = r["duration_us"] / 1e6
        printf "%.0f %.2f %.0f\n", r["requests"] / s, r["bytes"] * 8 / s / 1e9, (c1 - c0) / hz / (t1 - t0) * 100
    }'
}

check_bytes() { # BASE WHO: every static file equals what BASE answers for its path
    local base=$1 who=$2 path
    while IFS= read -r path; do
        curl -fsS -o "$WORK/answer" "$base$path" || die "$who: GET $path failed"
        cmp -s "$WORK/answer" "$WORK/static$path" || die "$who: $path differs from the static file"
    done <"$WORK/all-paths"
}

static_step() {
    # wrk's script: the paths of the file given after `--`, one request each in turn; at the end
    # one RESULT line (errors.status counts answers that are not 2xx/3xx).
    cat >"$WORK/cycle.lua" <<'LUA'
local paths, n = {}, 0
function init(args)
    for line in io.lines(args[1]) do paths[#paths + 1] = line end
end
function request()
    n = n % #paths + 1
    return wrk.format("GET", paths[n])
end
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("RESULT requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d\n",
        summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(99)))
end
LUA
    local data=$WORK/vod
    log "making the ended stream: ${VOD_SECONDS} s of the fixture published to rapidrtmp serve"
    start_node "$data"
    publish vod "$VOD_SECONDS"
    wait "$PUBLISHER" || die "the publish failed: $(cat "$WORK/publish-vod.out")"
    stop_pid "$NODE_PID"

    local edge_port edge_pid mode flags=() segments playlist_bytes seg_bytes r
    edge_port=$(free_port)
    local base=http://127.0.0.1:$edge_port
    for mode in $MODES; do
        flags=()
        if [[ -n $HAS_CACHE ]]; then
            [[ $mode == cold ]] && flags=(--cache-mb 0) || flags=(--cache-mb "$CACHE_MB")
        fi
        log "rapidrtmp edge ($mode${flags[*]:+: ${flags[*]}}) on core $SERVER_CORE"
        RAPIDRTMP_LOG=warn taskset -c "$SERVER_CORE" "$RAPIDRTMP" edge --store "$data" \
            --http-addr "127.0.0.1:$edge_port" "${flags[@]}" >"$WORK/edge-$mode.log" 2>&1 &
        edge_pid=$!
        STARTED+=("$edge_pid")
        wait_http "$base/ready" 10 || die "rapidrtmp edge did not get ready; see $WORK/edge-$mode.log"
        if [[ ! -s $WORK/all-paths ]]; then
            # The static copy: the media playlist and every segment it lists, as the edge answers.
            curl -fsS -o "$WORK/playlist" "$base/live/vod-0/index.m3u8" || die "no playlist for the ended stream"
            grep -q '^#EXT-X-ENDLIST' "$WORK/playlist" || die "the stream did not end: $(cat "$WORK/playlist")"
            grep -v '^#' "$WORK/playlist" | grep . | sed 's|^|/live/vod-0/|' >"$WORK/segment-paths"
            segments=$(wc -l <"$WORK/segment-paths")
            (( segments == VOD_SEGMENTS )) || die "the ended stream has $segments segments, not $VOD_SEGMENTS"
            echo /live/vod-0/index.m3u8 >"$WORK/playlist-paths"
            cat "$WORK/playlist-paths" "$WORK/segment-paths" >"$WORK/all-paths"
            while IFS= read -r path; do
                mkdir -p "$(dirname "$WORK/static$path")"
                curl -fsS -o "$WORK/static$path" "$base$path" || die "GET $path failed"
            done <"$WORK/all-paths"
        fi
        check_bytes "$base" "rapidrtmp edge ($mode)"
        r=$(wrk_run "$base" "$WORK/segment-paths" "edge-$mode-segments" "$edge_pid")
        out "rapidrtmp $mode segments $r"
        r=$(wrk_run "$base" "$WORK/playlist-paths" "edge-$mode-playlist" "$edge_pid")
        out "rapidrtmp $mode playlist $r"
        check_bytes "$base" "rapidrtmp edge ($mode, after the load)"
        curl -fsS "$base/metrics" 2>/dev/null | grep -i '^rapidrtmp_[a-z_]*cache' | sed "s/^/$mode: /" >>"$WORK/edge-cache-metrics" || true
        stop_pid "$edge_pid"
    done

    log "nginx static (sendfile on, one worker) on core $SERVER_CORE"
    local ng_port
    ng_port=$(free_port)
    mkdir -p "$WORK/nginx"
    cat >"$WORK/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
    types { application/vnd.apple.mpegurl m3u8; video/mp4 m4s mp4; }
    server {
        listen 127.0.0.1:$ng_port;
        root $WORK/static;
    }
}
CONF
    taskset -c "$SERVER_CORE" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e stderr >"$WORK/nginx.log" 2>&1 &
    local ng_pid=$!
    STARTED+=("$ng_pid")
    wait_http "http://127.0.0.1:$ng_port/live/vod-0/index.m3u8" 10 || die "nginx did not start: $(cat "$WORK/nginx.log")"
    check_bytes "http://127.0.0.1:$ng_port" "nginx"
    r=$(wrk_run "http://127.0.0.1:$ng_port" "$WORK/segment-paths" nginx-segments "$ng_pid")
    out "nginx static segments $r"
    r=$(wrk_run "http://127.0.0.1:$ng_port" "$WORK/playlist-paths" nginx-playlist "$ng_pid")
    out "nginx static playlist $r"
    stop_pid "$ng_pid"

    seg_bytes=$(sed "s|^|$WORK/static|" "$WORK/segment-paths" | xargs cat | wc -c)
    playlist_bytes=$(wc -c <"$WORK/static/live/vod-0/index.m3u8")
    out "sizes $seg_bytes $playlist_bytes"
}

# --- 2. viewers of one LL-HLS stream -----------------------------------------------------------
viewers_step() {
    local data=$WORK/live cap=$((2 * VIEWERS + 64))
    log "rapidrtmp serve on core $SERVER_CORE, HTTP caps $cap (per IP too), LL-HLS at its defaults"
    NODE_CORE=$SERVER_CORE start_node "$data" --max-http-connections "$cap" --max-http-connections-per-ip "$cap"
    publish cam $((VIEWER_SECONDS + 30)) "$LOAD_CORE"
    local url=$NODE/live/cam-0/index.m3u8 i
    for ((i = 0; i < 100; i++)); do
        curl -fsS "$url" 2>/dev/null | grep '^#EXT-X-PART:' >/dev/null && break
        sleep 0.1
    done
    curl -fsS "$url" | grep '^#EXT-X-PART:' >/dev/null || die "the live playlist lists no part: $(curl -sS "$url")"
    sleep 2

    log "$VIEWERS viewers for $VIEWER_SECONDS s"
    taskset -c "$LOAD_CORE" "$LOAD" viewers --url "$url" --viewers "$VIEWERS" --duration "$VIEWER_SECONDS" \
        --ramp 2 >"$WORK/viewers.out" 2>"$WORK/viewers.err" &
    local load=$!
    STARTED+=("$load")
    # The CPU window: from the end of the ramp to a second before the last viewer stops.
    sleep 2
    local c0 u0 l0 t0 c1 u1 l1 t1 rss
    c0=$(cpu_ticks "$NODE_PID"); u0=$(cpu_user_ticks "$NODE_PID"); l0=$(cpu_ticks "$load"); t0=$(now)
    sleep $((VIEWER_SECONDS - 1))
    c1=$(cpu_ticks "$NODE_PID"); u1=$(cpu_user_ticks "$NODE_PID"); l1=$(cpu_ticks "$load"); t1=$(now)
    rss=$(rss_kb "$NODE_PID")
    local ok=1
    wait "$load" || ok=
    cat "$WORK/viewers.out" >&2
    curl -fsS "$NODE/metrics" 2>/dev/null | grep -i '^rapidrtmp_[a-z_]*cache' >"$WORK/cache-metrics" || true
    stop_pid "$PUBLISHER"
    stop_pid "$NODE_PID"
    local result
    result=$(grep '^RESULT ' "$WORK/viewers.out") || die "rapidrtmp-load viewers printed no result: $(cat "$WORK/viewers.err")"
    out "viewers ${result#RESULT } $(awk -v c0="$c0" -v c1="$c1" -v u0="$u0" -v u1="$u1" -v l0="$l0" -v l1="$l1" \
        -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" -v rss="$rss" 'BEGIN {
        w = t1 - t0
        printf "node_cpu=%.1f node_user=%.1f node_sys=%.1f load_cpu=%.1f node_rss_mb=%.0f window_s=%.1f",
            (c1 - c0) / hz / w * 100, (u1 - u0) / hz / w * 100, ((c1 - c0) - (u1 - u0)) / hz / w * 100,
            (l1 - l0) / hz / w * 100, rss / 1024, w }')"
    [[ -n $ok ]] || log "warning: some viewer missed a part or never started (see above)"
}

# --- main --------------------------------------------------------------------------------------
[[ " $STEPS " == *" static "* ]] && static_step
[[ " $STEPS " == *" viewers "* ]] && viewers_step

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
{
    echo "== serving benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), load $(cut -d' ' -f1-3 /proc/loadavg)"
    if [[ " $STEPS " == *" static "* ]]; then
        read -r _ seg_bytes playlist_bytes < <(grep '^sizes ' "$WORK/out")
        echo "ended stream: 720p30 H.264 2.5 Mbit/s + AAC, $VOD_SEGMENTS segments of ~2 s ($(calc '%.2f' "$seg_bytes / $VOD_SEGMENTS / 1e6") MB each), media playlist $playlist_bytes bytes"
        echo "server on core $SERVER_CORE (one at a time), wrk -t1 -c$CONNECTIONS on core $LOAD_CORE, ${WRK_SECONDS} s per row; bytes checked (cmp), no non-2xx"
        if [[ -n $HAS_CACHE ]]; then
            echo "cold: --cache-mb 0 (every answer built; simultaneous requests for one object share a build); hot: --cache-mb $CACHE_MB"
        else
            echo "this rapidrtmp has no --cache-mb (no cache of built objects): cold mode only"
        fi
        echo "CPU%: the server's, of one core; per core: req/s / (CPU% / 100), the ratio when wrk, not the server, is the limit"
        printf '%-6s %-15s %20s %5s %20s %5s %7s %9s\n' mode object "rapidrtmp req/s" "CPU%" "nginx static req/s" "CPU%" ratio "per core"
        for mode in $MODES; do
            for object in segments playlist; do
                read -r _ _ _ ours_rps ours_gbps ours_cpu < <(grep "^rapidrtmp $mode $object " "$WORK/out")
                read -r _ _ _ ng_rps ng_gbps ng_cpu < <(grep "^nginx static $object " "$WORK/out")
                printf '%-6s %-15s %20s %5s %20s %5s %7s %9s\n' "$mode" "$([[ $object == playlist ]] && echo 'media playlist' || echo segments)" \
                    "$ours_rps ($ours_gbps Gb/s)" "$ours_cpu" "$ng_rps ($ng_gbps Gb/s)" "$ng_cpu" "$(calc '%.2f×' "$ours_rps / $ng_rps")" \
                    "$(calc '%.2f×' "($ours_rps / ($ours_cpu + 0.001)) / ($ng_rps / ($ng_cpu + 0.001))")"
            done
        done
        [[ -s $WORK/edge-cache-metrics ]] && { echo "rapidrtmp edge cache metrics after each mode:"; sed 's/^/  /' "$WORK/edge-cache-metrics"; }
    fi
    if [[ " $STEPS " == *" viewers "* ]]; then
        v=$(grep '^viewers ' "$WORK/out")
        echo
        echo "$VIEWERS LL-HLS viewers of one live stream straight at the node (no CDN), $VIEWER_SECONDS s each, node on core $SERVER_CORE,"
        echo "viewers and publisher on core $LOAD_CORE; LL-HLS defaults (0.333 s parts); HTTP caps 2 × viewers + 64 (per IP too);"
        echo "cache of built objects: $([[ -n $HAS_CACHE ]] && echo "the node's default size" || echo 'none in this binary')"
        printf '%-28s %s\n' "viewers started" "$(field started "$v")/$(field viewers "$v")"
        printf '%-28s %s\n' "parts listed / delivered" "$(field listed "$v") / $(field delivered "$v") (per viewer $(field min_listed "$v")..$(field max_listed "$v") listed)"
        printf '%-28s %s\n' "missed parts" "$(field missed "$v") ($(field missing_viewers "$v") viewers)"
        printf '%-28s %s\n' "errors (kind:status=count)" "$(field errors "$v") ($(field errors_by_status "$v"))"
        printf '%-28s %s\n' "requests" "$(field requests "$v") in $(field wall_s "$v") s, $(calc '%.2f' "$(field part_bytes "$v") * 8 / $(field wall_s "$v") / 1e9") Gbit/s of parts"
        printf '%-28s %s\n' "playlist reload p50/p99" "$(field playlist_p50_ms "$v") / $(field playlist_p99_ms "$v") ms (blocking: waits for the next part)"
        printf '%-28s %s\n' "hinted part p50/p99" "$(field hint_p50_ms "$v") / $(field hint_p99_ms "$v") ms (blocking)"
        printf '%-28s %s\n' "listed part p50/p99" "$(field part_p50_ms "$v") / $(field part_p99_ms "$v") ms"
        printf '%-28s %s\n' "node CPU (% of one core)" "$(field node_cpu "$v") (user $(field node_user "$v"), kernel $(field node_sys "$v")) over $(field window_s "$v") s; RSS $(field node_rss_mb "$v") MB"
        printf '%-28s %s\n' "rapidrtmp-load CPU" "$(field load_cpu "$v")"
        [[ -s $WORK/cache-metrics ]] && { echo "node cache metrics:"; sed 's/^/  /' "$WORK/cache-metrics"; }
    fi
    echo "raw:"
    grep -v '^sizes ' "$WORK/out"
} | tee -a "$RESULTS"
log "results appended to $RESULTS"

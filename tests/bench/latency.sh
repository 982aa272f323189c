#!/usr/bin/env bash
# Glass-to-glass latency benchmark: a real-time source with the wall clock in every frame
# (tests/bench/clock_source.py, x264 zerolatency, 1 s GOP, no B-frames), with an AAC track (a
# tone) and without one, is published at once to `rapidrtmp serve` (LL-HLS on, its defaults) and
# to nginx-rtmp (`hls on`, 1 s fragments, the yardstick); hls.js in headless Chromium
# (tests/bench/latency.mjs, default settings) plays each through nginx as a caching proxy (the
# CDN stand-in of tests/ll_hls.rs) and reads the clock back off every frame it shows. Prints, per
# server and source, p50 and p95 latency, the time to the first frame, and hls.js's stall events
# (bufferStalledError, bufferNudgeOnStall, bufferSeekOverHole) and errors of any kind.
#
# Usage: tests/bench/latency.sh
# Environment: SECONDS_MEASURED (30), WARMUP (5 s of playback before measuring), NODE_ARGS (more
# `rapidrtmp serve` flags, e.g. "--segment-duration 1"),
# RAPIDRTMP_BIN (a prebuilt binary: skip the build), CARGO_TARGET_DIR (~/.cache/rapidrtmp/target),
# CHROMIUM (/usr/bin/chromium). Needs ffmpeg, nginx with libnginx-mod-rtmp, Chromium and
# www/node_modules (tests/run installs them; this script installs nginx-rtmp if missing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/rapidrtmp/target}
BENCH_DIR=${BENCH_DIR:-$HOME/.cache/rapidrtmp/bench}
MEASURED=${SECONDS_MEASURED:-30}
WARMUP=${WARMUP:-5}
NGINX_RTMP_SO=/usr/lib/nginx/modules/ngx_rtmp_module.so
log() { printf '[latency.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=tests/bench/lib.sh
. "$ROOT/tests/bench/lib.sh"

if ! command -v nginx >/dev/null || [[ ! -f $NGINX_RTMP_SO ]]; then
    log "installing nginx and libnginx-mod-rtmp"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx libnginx-mod-rtmp >&2
fi
[[ -d $ROOT/www/node_modules/hls.js ]] || die "www/node_modules is missing: run www/build.sh"
if [[ -z ${RAPIDRTMP_BIN:-} ]]; then
    log "building rapidrtmp (release)"
    (cd "$ROOT" && cargo build --release -q -p rapidrtmp)
fi
RAPIDRTMP=${RAPIDRTMP_BIN:-$CARGO_TARGET_DIR/release/rapidrtmp}

start_work latency

node_rtmp=$(free_port); node_http=$(free_port); ng_rtmp=$(free_port); ng_http=$(free_port)
admin=latency-admin-key-$RANDOM$RANDOM
RAPIDRTMP_LOG=warn "$RAPIDRTMP" serve --rtmp-addr "127.0.0.1:$node_rtmp" --http-addr "127.0.0.1:$node_http" \
    --data-dir "$WORK/data" --admin-key "$admin" ${NODE_ARGS:-} >"$WORK/node.log" 2>&1 &
STARTED+=($!)
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$node_http/ready" >/dev/null 2>&1 && break; sleep 0.1; done
token() { # KEY: a publish token for KEY
    curl -fsS -H "Authorization: Bearer $admin" -H 'content-type: application/json' \
        -d "{\"streamKey\":\"$1\",\"ttlSeconds\":3600}" "http://127.0.0.1:$node_http/api/v1/publish" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

mkdir -p "$WORK/hls" "$WORK/cache" "$WORK/tmp"
cat >"$WORK/nginx.conf" <<CONF
load_module $NGINX_RTMP_SO;
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
rtmp {
    server {
        listen 127.0.0.1:$ng_rtmp;
        application live { live on; hls on; hls_path $WORK/hls; hls_fragment 1s; hls_playlist_length 6s; }
    }
}
http {
    access_log off;
    client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp;
    uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
    proxy_cache_path $WORK/cache keys_zone=edge:10m max_size=1g inactive=10m use_temp_path=off;
    server {
        listen 127.0.0.1:$ng_http;
        location /node/ {
            proxy_pass http://127.0.0.1:$node_http/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache edge;
            proxy_cache_key \$scheme\$proxy_host\$request_uri;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 10s;
            proxy_read_timeout 30s;
        }
        location /nginx-rtmp/ {
            alias $WORK/hls/;
            add_header Cache-Control no-cache;
            add_header Access-Control-Allow-Origin *;
        }
    }
}
CONF
nginx -p "$WORK" -c "$WORK/nginx.conf" -e stderr >"$WORK/nginx.log" 2>&1 &
STARTED+=($!)
sleep 1

publish() { # KEY AUDIO(1|0): the clock source (with a tone as AAC if AUDIO) to both servers, as KEY
    local audio_in=() audio_out=()
    if [[ $2 == 1 ]]; then
        audio_in=(-re -f lavfi -i sine=frequency=440:sample_rate=48000)
        audio_out=(-map 1:a -c:a aac -b:a 64k)
    fi
    log "publishing the clock source as $1 (audio: $2) to rapidrtmp and nginx-rtmp"
    python3 "$ROOT/tests/bench/clock_source.py" |
        ffmpeg -hide_banner -v error -f rawvideo -pix_fmt gray -s 640x360 -r 30 -i - "${audio_in[@]}" \
            -c:v libx264 -preset veryfast -tune zerolatency -g 30 -bf 0 -pix_fmt yuv420p -flags +global_header \
            -map 0:v "${audio_out[@]}" -f tee \
            "[f=flv:onfail=ignore]rtmp://127.0.0.1:$node_rtmp/live/$1?token=$(token "$1")|[f=flv:onfail=ignore]rtmp://127.0.0.1:$ng_rtmp/live/$1" \
            >"$WORK/ffmpeg-$1.log" 2>&1 &
    PUBLISHER=$!
    STARTED+=($PUBLISHER)
    sleep 6
}

measure() { # NAME URL: one JSON line
    log "$1: hls.js playing $2 for $((WARMUP + MEASURED)) s"
    URL=$2 WWW="$ROOT/www" MEASURE=$MEASURED WARMUP=$WARMUP node "$ROOT/tests/bench/latency.mjs"
}

row() { # NAME JSON
    python3 - "$1" "$2" <<'PY'
import json, sys
name, r = sys.argv[1], json.loads(sys.argv[2])
stalls = sum(e['details'] in ('bufferStalledError', 'bufferNudgeOnStall', 'bufferSeekOverHole') for e in r['errors'])
print(f"{name:<34} {r['p50'] or '-':>8} {r['p95'] or '-':>8} {r['firstFrameMs']:>14} {r['samples']:>8} {r['parts']:>6} {stalls:>7} {len(r['errors']):>7}")
PY
}

declare -A results
for case in "lat 1" "latv 0"; do
    read -r key audio <<<"$case"
    publish "$key" "$audio"
    results[$key.ours]=$(measure "rapidrtmp $key" "http://127.0.0.1:$ng_http/node/live/$key/index.m3u8")
    results[$key.theirs]=$(measure "nginx-rtmp $key" "http://127.0.0.1:$ng_http/nginx-rtmp/$key.m3u8")
    kill "$PUBLISHER" 2>/dev/null || true
    wait "$PUBLISHER" 2>/dev/null || true
done

echo "Glass-to-glass latency, hls.js (default settings) in headless Chromium through an nginx cache, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "source: 640x360 30 fps x264 zerolatency, 1 s GOP, no B-frames, wall clock in every frame; AAC 64 kbit/s tone or none;"
echo "${MEASURED} s measured after ${WARMUP} s; rapidrtmp serve ${NODE_ARGS:-(defaults)}"
printf '%-34s %8s %8s %14s %8s %6s %7s %7s\n' "server (source)" "p50 ms" "p95 ms" "first frame ms" frames parts stalls errors
row "rapidrtmp LL-HLS (audio+video)" "${results[lat.ours]}"
row "nginx-rtmp 1 s frags (audio+video)" "${results[lat.theirs]}"
row "rapidrtmp LL-HLS (video)" "${results[latv.ours]}"
row "nginx-rtmp 1 s frags (video)" "${results[latv.theirs]}"
for k in lat.ours lat.theirs latv.ours latv.theirs; do echo "raw: $k ${results[$k]}"; done

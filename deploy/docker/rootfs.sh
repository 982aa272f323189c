#!/bin/sh
# Lays out what the runtime image (deploy/docker/Dockerfile, stage `runtime`) copies in:
#
#   OUT/rapidrtmp        the binary, which must be static (scratch has no libc)
#   OUT/rootfs/etc/      passwd and group with the user rapidrtmp (65532), and
#                        ssl/certs/ca-certificates.crt for HTTPS object stores
#   OUT/data/            the (empty) data dir, chowned to 65532 by the Dockerfile's COPY
#
#   deploy/docker/rootfs.sh OUT BINARY [CA_BUNDLE]
#
# The Dockerfile's build stage runs it; so does tests/deploy/run.sh, which builds the runtime
# stage from a binary built on the host.
set -eu

[ $# -ge 2 ] || { echo "usage: $0 OUT BINARY [CA_BUNDLE]" >&2; exit 2; }
out=$1
bin=$2
certs=${3:-/etc/ssl/certs/ca-certificates.crt}
uid=65532

[ -f "$bin" ] || { echo "$0: no binary at $bin" >&2; exit 1; }
[ -s "$certs" ] || { echo "$0: no CA bundle at $certs" >&2; exit 1; }
# A dynamically linked binary has a program interpreter (ld.so), which scratch lacks.
if LC_ALL=C readelf -l "$bin" | grep 'INTERP' >/dev/null; then
    echo "$0: $bin is dynamically linked; build it for x86_64-unknown-linux-musl" >&2
    exit 1
fi

rm -rf "$out"
mkdir -p "$out/rootfs/etc/ssl/certs" "$out/data"
install -m 0755 "$bin" "$out/rapidrtmp"
install -m 0644 "$certs" "$out/rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\nrapidrtmp:x:%s:%s:RapidRTMP:/data:/sbin/nologin\n' "$uid" "$uid" \
    >"$out/rootfs/etc/passwd"
printf 'root:x:0:\nrapidrtmp:x:%s:\n' "$uid" >"$out/rootfs/etc/group"
chmod 0644 "$out/rootfs/etc/passwd" "$out/rootfs/etc/group"

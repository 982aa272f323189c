# Shared by the benchmarks (the ingest fixture, ports, CPU and memory readings, apt): source it after
# setting BENCH_DIR and defining log().

FIXTURE=$BENCH_DIR/ingest-720p30.flv

APT_UPDATED=
apt_install() { # PACKAGE…: installs Debian packages, updating the index once per run
    [[ -n $APT_UPDATED ]] || { apt-get update -qq >&2; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

make_fixture() { # the 720p30 H.264 2.5 Mbit/s (keyframe every 2 s) + AAC, 10 s FLV, made once
    mkdir -p "$BENCH_DIR"
    [[ -s $FIXTURE ]] && return
    log "making the fixture $FIXTURE (720p30 H.264 2.5 Mbit/s, keyframe every 2 s, AAC, 10 s)"
    ffmpeg -v error -y -f lavfi -i testsrc2=size=1280x720:rate=30 \
        -f lavfi -i sine=frequency=440:sample_rate=48000 -t 10 \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p -b:v 2500k -maxrate 2500k -bufsize 2500k \
        -g 60 -keyint_min 60 -sc_threshold 0 -c:a aac -b:a 128k -ac 2 \
        -f flv "$FIXTURE.tmp"
    mv "$FIXTURE.tmp" "$FIXTURE"
}

release_binaries() { # sets RAPIDRTMP and LOAD: $RAPIDRTMP_BIN and $LOAD_BIN, else release builds
    if [[ -z ${RAPIDRTMP_BIN:-} || -z ${LOAD_BIN:-} ]]; then
        log "building rapidrtmp and rapidrtmp-load (release)"
        (cd "$ROOT" && cargo build --release -q -p rapidrtmp -p rapidrtmp-load)
    fi
    RAPIDRTMP=${RAPIDRTMP_BIN:-$CARGO_TARGET_DIR/release/rapidrtmp}
    LOAD=${LOAD_BIN:-$CARGO_TARGET_DIR/release/rapidrtmp-load}
}

free_port() { # a TCP port nothing uses now
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        [[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && { echo "$p"; return; }
    done
}

cpu_ticks() { # utime+stime of PID, in clock ticks (fields 14 and 15 of /proc/PID/stat)
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }
    awk '{ print $12 + $13 }' <<<"$s"
}

cpu_user_ticks() { # utime of PID alone, in clock ticks: cpu_ticks minus it is the kernel's share
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }
    awk '{ print $12 }' <<<"$s"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

start_work() { # NAME: a work folder in $WORK and the PIDs list STARTED, both cleaned up on exit
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rapidrtmp-$1.XXXXXX")
    STARTED=()
    trap cleanup_work EXIT
    trap 'exit 130' INT TERM
}

cleanup_work() { # stops the PIDs in STARTED and removes $WORK
    local pid
    for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}

stop_pid() { # PID: SIGTERM, then SIGKILL after 25 s
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 250; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

wait_http() { # URL [seconds]: until URL answers 2xx; non-zero if it never did
    local i
    for ((i = 0; i < ${2:-10} * 10; i++)); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

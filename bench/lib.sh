# Shared by bench/run.sh and bench/registry.sh (sourced, not run): logging
# and the teardown of what a bench started.

log() { printf '# %s\n' "$*" >&2; }

# Sets BERTH_BIN_DIR unless given: target/release (under $CARGO_TARGET_DIR,
# else the repository's target/) when it has every binary named, else
# target/debug.
default_bin_dir() { # binaries...
    [[ -n ${BERTH_BIN_DIR:-} ]] && return 0
    local target=${CARGO_TARGET_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target} b
    BERTH_BIN_DIR=$target/release
    for b in "$@"; do [[ -x $target/release/$b ]] || BERTH_BIN_DIR=$target/debug; done
}

stop_pid() { # pid name: SIGTERM, wait 20s, SIGKILL
    local pid=$1 name=$2 i
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    log "$name ($pid) ignored SIGTERM; SIGKILL"
    kill -KILL "$pid" 2>/dev/null
}

umount_under() { # unmount everything at or under $1, deepest first
    local m
    awk -v r="$1" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
}

# N clients at once, each running M `run --rm busybox true` one after the
# other through the given client command (e.g. `env DOCKER_HOST=... docker`).
# Prints "SECONDS FAILURES"; the first failures' messages go to the log.
# Each client's failure count is its exit status (not a file: a full disk
# must not turn failures into successes).
concurrent_runs() { # clients each client-command...
    local clients=$1 each=$2 dir start end failures=0 i p
    shift 2
    dir=$(mktemp -d)
    local pids=()
    start=$(date +%s.%N)
    for ((i = 0; i < clients; i++)); do
        (
            fails=0
            for ((j = 0; j < each; j++)); do
                "$@" run --rm busybox true >/dev/null 2>>"$dir/err.$i" || fails=$((fails + 1))
            done
            exit $((fails > 255 ? 255 : fails))
        ) &
        pids+=($!)
    done
    # Only our clients: the daemons are background jobs of the caller too.
    for p in "${pids[@]}"; do
        wait "$p"
        failures=$((failures + $?))
    done
    end=$(date +%s.%N)
    if ((failures > 0)); then
        log "$failures failed runs; the first messages:"
        cat "$dir"/err.* 2>/dev/null | sort | uniq -c | sort -rn | head -5 >&2
    fi
    awk -v s="$start" -v e="$end" -v f="$failures" 'BEGIN { printf "%.2f %d\n", e - s, f }'
    rm -rf "$dir"
}

# The peer dockerd, as TESTING.md prescribes: its own everything.
PEER_DATA=/var/lib/docker-peer
PEER_EXEC=/run/docker-peer
PEER_SOCK=/run/docker-peer.sock
PEER_PID=/run/docker-peer.pid
# It runs in a network namespace of its own, so its docker0 and iptables
# rules vanish with it (and never meet the host's or berth's).
PEER_NETNS=berthbench-peer
DOCKER=/usr/local/bin/docker
[[ -x $DOCKER ]] || DOCKER=$(command -v docker)

wait_ping() { # sock pid name
    local i
    for ((i = 0; i < 600; i++)); do
        kill -0 "$2" 2>/dev/null || { log "$3 exited during start-up"; return 1; }
        [[ $(curl -s --max-time 1 --unix-socket "$1" http://d/_ping 2>/dev/null) == OK ]] && return 0
        sleep 0.1
    done
    log "$3 did not answer /_ping in 60s"
    return 1
}

# A busybox rootfs from the host's busybox in $1/bundle/rootfs, and its
# tar in $1/busybox.tar: the same image for every daemon, with no pull.
busybox_rootfs() { # dir
    local rfs=$1/bundle/rootfs a
    mkdir -p "$rfs"/{bin,dev,etc,home,proc,root,sys,tmp,usr,var}
    chmod 1777 "$rfs/tmp"
    cp /bin/busybox "$rfs/bin/busybox"
    for a in $(/bin/busybox --list); do [[ $a == busybox ]] || ln -sf busybox "$rfs/bin/$a"; done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$rfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rfs/etc/group"
    tar -C "$rfs" --numeric-owner -cf "$1/busybox.tar" .
}

import_busybox() { # sock (busybox_rootfs made $BR/busybox.tar)
    DOCKER_HOST=unix://$1 "$DOCKER" import --change 'CMD ["sh"]' "$BR/busybox.tar" busybox:latest >/dev/null
}

# berthd on $1/berth.sock (data under $1/berth), busybox imported and one
# container run: returns 0 when it is usable. Sets BERTHD_PID.
start_berthd() { # dir extra-flags...
    local dir=$1
    shift
    if [[ ! -x $BERTH_BIN_DIR/berthd ]]; then
        log "no berthd in $BERTH_BIN_DIR (build with: cargo build --release --workspace --bins)"
        return 1
    fi
    log "starting berthd from $BERTH_BIN_DIR"
    setsid "$BERTH_BIN_DIR/berthd" --data-root "$dir/berth/d" --exec-root "$dir/berth/x" \
        -H "unix://$dir/berth.sock" --pidfile "$dir/berth.pid" "$@" \
        >"$dir/berthd.log" 2>&1 </dev/null &
    BERTHD_PID=$!
    if wait_ping "$dir/berth.sock" "$BERTHD_PID" berthd && import_busybox "$dir/berth.sock" &&
        DOCKER_HOST=unix://$dir/berth.sock "$DOCKER" run --rm busybox true; then
        return 0
    fi
    log "berthd is not usable; its log:"; tail -20 "$dir/berthd.log" >&2
    return 1
}

# The peer dockerd on $PEER_SOCK in its own network namespace, busybox
# imported and one container run. Sets DOCKERD_PID; its log in $1.
start_peer_dockerd() { # dir
    log "starting the peer dockerd on $PEER_SOCK"
    rm -rf "$PEER_DATA" "$PEER_EXEC"
    [[ -e /run/netns/$PEER_NETNS ]] && ip netns del "$PEER_NETNS"
    ip netns add "$PEER_NETNS" && ip -n "$PEER_NETNS" link set lo up
    setsid nsenter --net="/run/netns/$PEER_NETNS" dockerd --data-root "$PEER_DATA" --exec-root "$PEER_EXEC" \
        -H "unix://$PEER_SOCK" --pidfile "$PEER_PID" --bip 172.29.0.1/16 >"$1/dockerd.log" 2>&1 </dev/null &
    DOCKERD_PID=$!
    if wait_ping "$PEER_SOCK" "$DOCKERD_PID" dockerd && import_busybox "$PEER_SOCK" &&
        DOCKER_HOST=unix://$PEER_SOCK "$DOCKER" run --rm busybox true; then
        return 0
    fi
    log "the peer dockerd is not usable; its log:"; tail -20 "$1/dockerd.log" >&2
    return 1
}

# Stops both daemons (containers first) and removes what they made.
stop_daemons() { # dir
    if [[ -n ${BERTHD_PID:-} ]]; then
        DOCKER_HOST=unix://$1/berth.sock "$DOCKER" rm -f $(DOCKER_HOST=unix://$1/berth.sock "$DOCKER" ps -aq 2>/dev/null) >/dev/null 2>&1
    fi
    if [[ -n ${DOCKERD_PID:-} ]]; then
        DOCKER_HOST=unix://$PEER_SOCK "$DOCKER" rm -f $(DOCKER_HOST=unix://$PEER_SOCK "$DOCKER" ps -aq 2>/dev/null) >/dev/null 2>&1
    fi
    stop_pid "${BERTHD_PID:-}" berthd
    stop_pid "${DOCKERD_PID:-}" dockerd
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "${BERTHD_PID:-0}" 2>/dev/null || kill -0 "${DOCKERD_PID:-0}" 2>/dev/null || break
        sleep 0.1
    done
    umount_under "$1"
    umount_under "$PEER_DATA"
    umount_under "$PEER_EXEC"
    rm -rf "$1" "$PEER_DATA" "$PEER_EXEC" "$PEER_SOCK" "$PEER_PID"
    [[ -e /run/netns/$PEER_NETNS ]] && ip netns del "$PEER_NETNS"
}

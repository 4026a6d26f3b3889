#!/usr/bin/env bash
# berth compose bench, in ONE run: a 10-service project
#   berth compose (berth-compose) -> berthd
#   docker-compose 1.29           -> a peer dockerd
# timing `up -d` (from nothing), a second `up -d` with nothing changed, and
# `down`, RUNS times each; prints medians and ratios. Never fails on time.
#
# Usage: sudo bench/compose.sh [-n RUNS]
# Env:   BERTH_BIN_DIR (default target/release, else target/debug),
#        BENCH_ROOT (default /tmp/berth-compose-bench)
set -uo pipefail

RUNS=5
while getopts "n:h" opt; do
    case $opt in
    n) RUNS=$OPTARG ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
    esac
done

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
default_bin_dir berthd berth-compose
BR=${BENCH_ROOT:-/tmp/berth-compose-bench}
DOCKER=/usr/local/bin/docker
[[ -x $DOCKER ]] || DOCKER=$(command -v docker)
PEER_DATA=/var/lib/docker-peer-compose
PEER_EXEC=/run/docker-peer-compose
PEER_SOCK=/run/docker-peer-compose.sock
PEER_NETNS=berthbench-compose
BERTHD_PID=
DOCKERD_PID=

cleanup() {
    set +e
    [[ -n $BERTHD_PID ]] && (cd "$BR/proj" && DOCKER_HOST=unix://$BR/berth.sock "$BERTH_BIN_DIR/berth-compose" down -t 1 >/dev/null 2>&1)
    [[ -n $DOCKERD_PID ]] && (cd "$BR/proj" && DOCKER_HOST=unix://$PEER_SOCK docker-compose down -t 1 >/dev/null 2>&1)
    stop_pid "$BERTHD_PID" berthd
    stop_pid "$DOCKERD_PID" dockerd
    sleep 1
    umount_under "$BR"
    umount_under "$PEER_DATA"
    umount_under "$PEER_EXEC"
    rm -rf "$BR" "$PEER_DATA" "$PEER_EXEC" "$PEER_SOCK"
    [[ -e /run/netns/$PEER_NETNS ]] && ip netns del "$PEER_NETNS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_ping() { # sock pid
    local i
    for ((i = 0; i < 600; i++)); do
        kill -0 "$2" 2>/dev/null || return 1
        [[ $(curl -s --max-time 1 --unix-socket "$1" http://d/_ping 2>/dev/null) == OK ]] && return 0
        sleep 0.1
    done
    return 1
}

rm -rf "$BR" && mkdir -p "$BR/proj"
RFS=$BR/rootfs
mkdir -p "$RFS"/{bin,etc,tmp}
cp /bin/busybox "$RFS/bin/busybox"
for a in $(/bin/busybox --list); do [[ $a == busybox ]] || ln -sf busybox "$RFS/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$RFS/etc/passwd"
tar -C "$RFS" --numeric-owner -cf "$BR/busybox.tar" .

# Ten services that stop at once on SIGTERM, on the default network.
{
    echo "services:"
    for i in $(seq 1 10); do
        printf '  s%d:\n    image: busybox\n    command: ["sh", "-c", "trap \\"exit 0\\" TERM; sleep 1000 & wait"]\n' "$i"
    done
} >"$BR/proj/docker-compose.yml"

setsid "$BERTH_BIN_DIR/berthd" --data-root "$BR/berth/d" --exec-root "$BR/berth/x" \
    -H "unix://$BR/berth.sock" --pidfile "$BR/berth.pid" >"$BR/berthd.log" 2>&1 </dev/null &
BERTHD_PID=$!
wait_ping "$BR/berth.sock" "$BERTHD_PID" || { log "berthd did not start"; tail "$BR/berthd.log"; exit 1; }
DOCKER_HOST=unix://$BR/berth.sock "$DOCKER" import "$BR/busybox.tar" busybox:latest >/dev/null

ip netns add "$PEER_NETNS" && ip -n "$PEER_NETNS" link set lo up
setsid nsenter --net="/run/netns/$PEER_NETNS" dockerd --data-root "$PEER_DATA" --exec-root "$PEER_EXEC" \
    -H "unix://$PEER_SOCK" --pidfile "$PEER_EXEC.pid" --bip 172.28.0.1/16 >"$BR/dockerd.log" 2>&1 </dev/null &
DOCKERD_PID=$!
DOCKER_OK=0
if wait_ping "$PEER_SOCK" "$DOCKERD_PID"; then
    DOCKER_HOST=unix://$PEER_SOCK "$DOCKER" import "$BR/busybox.tar" busybox:latest >/dev/null && DOCKER_OK=1
fi

ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }

run_set() { # name sock compose-command...
    local name=$1 sock=$2; shift 2
    local i t0 up again down
    : >"$BR/$name.up"; : >"$BR/$name.again"; : >"$BR/$name.down"
    for ((i = 0; i < RUNS; i++)); do
        t0=$(ms); (cd "$BR/proj" && DOCKER_HOST=unix://$sock "$@" up -d >/dev/null 2>&1) || log "$name up failed"
        up=$(($(ms) - t0))
        t0=$(ms); (cd "$BR/proj" && DOCKER_HOST=unix://$sock "$@" up -d >/dev/null 2>&1) || log "$name second up failed"
        again=$(($(ms) - t0))
        t0=$(ms); (cd "$BR/proj" && DOCKER_HOST=unix://$sock "$@" down >/dev/null 2>&1) || log "$name down failed"
        down=$(($(ms) - t0))
        echo "$up" >>"$BR/$name.up"; echo "$again" >>"$BR/$name.again"; echo "$down" >>"$BR/$name.down"
    done
}

log "berth compose -> berthd, $RUNS runs"
run_set berth "$BR/berth.sock" "$BERTH_BIN_DIR/berth-compose"
if ((DOCKER_OK)); then
    log "docker-compose 1.29 -> dockerd, $RUNS runs"
    run_set peer "$PEER_SOCK" docker-compose
fi

echo "berth compose bench: $(date -u +%FT%TZ), $(nproc) cores, 10 services, $RUNS runs, medians in ms"
printf '%-22s %12s %14s %8s\n' step "berth-compose" "compose 1.29" ratio
for step in up again down; do
    b=$(median <"$BR/berth.$step")
    p=$( ((DOCKER_OK)) && median <"$BR/peer.$step" || echo -)
    r=$(awk -v b="$b" -v p="$p" 'BEGIN { if (b > 0 && p > 0) printf "%.1fx", p / b; else print "-" }')
    label=$step
    [[ $step == up ]] && label="up -d"
    [[ $step == again ]] && label="up -d (no change)"
    printf '%-22s %12s %14s %8s\n' "$label" "$b" "$p" "$r"
done

#!/usr/bin/env bash
# The cluster lab: N engine nodes on this one machine, each in its own
# network namespace, joined by a bridge as hosts on one LAN are, each with
# its own data root, exec root, cgroup parent, pid file and socket. For
# people trying swarm, overlay and failover by hand, and for benchmarks;
# the e2e suite makes its own labs under its test prefix.
#
#   scripts/lab.sh up [-n NODES] [-d berthd|dockerd]   start the lab (default 5 berthd)
#   scripts/lab.sh env NODE                             print `export DOCKER_HOST=...` for node N
#   scripts/lab.sh sh NODE                              a shell inside node N's namespace, DOCKER_HOST set
#   scripts/lab.sh status                               nodes, addresses, pids, whether each answers
#   scripts/lab.sh kill NODE                            kill -9 node N's daemon (a crash; its roots stay)
#   scripts/lab.sh start NODE                           start node N's daemon again on its roots
#   scripts/lab.sh down                                 stop every node by its pid and remove it all
#
# Node i (1-based) has the address 10.77.0.(10+i)/24 on the lab bridge
# `blab0` (the host is 10.77.0.1), netns `blab-i`, and its files under
# /var/lib/berth-lab/i (data), /run/berth-lab/i (exec root, socket, pid).
# A daemon's own default bridge lives inside its namespace, so every node
# can keep 172.17.0.0/16 as on separate hosts.
# Env: BERTH_BIN_DIR (default target/release, else target/debug).
set -euo pipefail
cd "$(dirname "$0")/.."

BRIDGE=blab0
SUBNET_PREFIX=10.77.0
DATA=/var/lib/berth-lab
RUN=/run/berth-lab
STATE=$RUN/lab.state # lines: "node netns daemon pid"

log() { printf 'lab: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
[[ $(id -u) == 0 ]] || die "must run as root (network namespaces, mounts)"

bin_dir() {
    [[ -n ${BERTH_BIN_DIR:-} ]] && { echo "$BERTH_BIN_DIR"; return; }
    local t=${CARGO_TARGET_DIR:-$PWD/target}
    if [[ -x $t/release/berthd ]]; then echo "$t/release"; else echo "$t/debug"; fi
}

addr() { echo "$SUBNET_PREFIX.$((10 + $1))"; }

answers() { # sock
    [[ $(curl -s --max-time 1 --unix-socket "$1" http://d/_ping 2>/dev/null) == OK ]]
}

start_node() { # i daemon
    local i=$1 ns=blab-$1
    ip netns add "$ns"
    ip link add "blab${i}h" type veth peer name eth0 netns "$ns"
    ip link set "blab${i}h" master "$BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$(addr "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$SUBNET_PREFIX.1"
    mkdir -p "$RUN/$i" "$DATA/$i"
    launch "$i" "$2"
}

launch() { # i daemon: start node i's daemon on its roots (new, or after a kill)
    local i=$1 daemon=$2 ns=blab-$1 dir=$RUN/$1 pid
    case $daemon in
    berthd)
        setsid nsenter --net="/run/netns/$ns" "$(bin_dir)/berthd" \
            --data-root "$DATA/$i" --exec-root "$dir/exec" --cgroup-parent "berth-lab-$i" \
            -H "unix://$dir/docker.sock" --pidfile "$dir/daemon.pid" \
            >>"$dir/daemon.log" 2>&1 </dev/null &
        ;;
    dockerd)
        setsid nsenter --net="/run/netns/$ns" dockerd \
            --data-root "$DATA/$i" --exec-root "$dir/exec" --cgroup-parent "berth-lab-$i" \
            -H "unix://$dir/docker.sock" --pidfile "$dir/daemon.pid" \
            >>"$dir/daemon.log" 2>&1 </dev/null &
        ;;
    esac
    pid=$!
    # one line per node: a relaunch replaces the node's line
    sed -i "/^$i /d" "$STATE"
    echo "$i $ns $daemon $pid" >>"$STATE"
    local n
    for ((n = 0; n < 300; n++)); do
        answers "$dir/docker.sock" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    log "node $i ($daemon) did not answer; its log:"
    tail -20 "$dir/daemon.log" >&2
    return 1
}

node_line() { # i: "i ns daemon pid" of node i
    [[ -e $STATE ]] || die "no lab is up"
    awk -v i="$1" '$1 == i' "$STATE" | grep . || die "no such node: $1"
}

cmd_kill() { # i: kill -9 node i's daemon (its containers, state and netns stay)
    local i ns daemon pid
    read -r i ns daemon pid < <(node_line "$1")
    kill -KILL "$pid" 2>/dev/null || true
    local n
    for ((n = 0; n < 100; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    log "node $i: $daemon (pid $pid) killed"
}

cmd_start() { # i: start node i's daemon again on the same roots
    local i ns daemon pid
    read -r i ns daemon pid < <(node_line "$1")
    kill -0 "$pid" 2>/dev/null && die "node $i still runs (pid $pid)"
    launch "$i" "$daemon"
    log "node $i: $daemon started again"
}

cmd_up() {
    local nodes=5 daemon=berthd opt
    OPTIND=1
    while getopts "n:d:" opt; do
        case $opt in
        n) nodes=$OPTARG ;;
        d) daemon=$OPTARG ;;
        *) die "usage: lab.sh up [-n NODES] [-d berthd|dockerd]" ;;
        esac
    done
    [[ $nodes =~ ^[1-9][0-9]?$ ]] || die "NODES must be 1 to 99"
    [[ $daemon == berthd || $daemon == dockerd ]] || die "daemon must be berthd or dockerd"
    [[ -e $STATE ]] && die "a lab is up already (scripts/lab.sh down first)"
    [[ $daemon == dockerd ]] || [[ -x $(bin_dir)/berthd ]] ||
        die "no berthd in $(bin_dir) (cargo build --release --workspace --bins)"
    mkdir -p "$RUN"
    : >"$STATE"
    ip link add "$BRIDGE" type bridge
    ip addr add "$SUBNET_PREFIX.1/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    # the same busybox image in every node, with no pull (bench/lib.sh's
    # busybox_rootfs and import_busybox, which read $BR)
    # shellcheck source=bench/lib.sh
    . bench/lib.sh
    BR=$RUN
    busybox_rootfs "$RUN" >/dev/null
    local i
    for ((i = 1; i <= nodes; i++)); do
        start_node "$i" "$daemon" || { cmd_down; die "node $i did not start"; }
        import_busybox "$RUN/$i/docker.sock"
        log "node $i: $daemon at $(addr "$i"), DOCKER_HOST=unix://$RUN/$i/docker.sock"
    done
    log "up: $nodes nodes; try: eval \$(scripts/lab.sh env 1); docker swarm init --advertise-addr $(addr 1)"
}

cmd_down() {
    local i ns daemon pid n
    if [[ -e $STATE ]]; then
        while read -r i ns daemon pid; do
            DOCKER_HOST=unix://$RUN/$i/docker.sock docker rm -f $(DOCKER_HOST=unix://$RUN/$i/docker.sock docker ps -aq 2>/dev/null) >/dev/null 2>&1 || true
            kill -TERM "$pid" 2>/dev/null || true
        done <"$STATE"
        while read -r i ns daemon pid; do
            for ((n = 0; n < 200; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        done <"$STATE"
    fi
    # a daemon a person started by hand on a node's roots wrote its pid file
    local f
    for f in "$RUN"/*/daemon.pid; do
        [[ -e $f ]] || continue
        pid=$(cat "$f")
        [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || continue
        kill -TERM "$pid" 2>/dev/null || true
        for ((n = 0; n < 200; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    # everything mounted under the lab's directories, deepest first
    awk -v a="$DATA" -v b="$RUN" 'index($5, a "/") == 1 || index($5, b "/") == 1 { print $5 }' /proc/self/mountinfo |
        sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    for ns in $(ip netns list | awk '/^blab-/ { print $1 }'); do ip netns del "$ns"; done
    ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"
    # cgroups the nodes' containers left (a daemon removes its own on a clean stop)
    find /sys/fs/cgroup -depth -type d -name 'berth-lab-*' -exec rmdir {} + 2>/dev/null || true
    rm -rf "$DATA" "$RUN"
    log "down"
}

cmd_status() {
    [[ -e $STATE ]] || { log "no lab is up"; return 0; }
    local i ns daemon pid state
    printf '%-5s %-8s %-8s %-14s %-8s %s\n' NODE NETNS DAEMON ADDRESS PID STATE
    while read -r i ns daemon pid; do
        state=down
        answers "$RUN/$i/docker.sock" && state=up
        printf '%-5s %-8s %-8s %-14s %-8s %s\n' "$i" "$ns" "$daemon" "$(addr "$i")" "$pid" "$state"
    done <"$STATE"
}

node_arg() { [[ ${1:-} =~ ^[0-9]+$ && -S $RUN/$1/docker.sock ]] || die "no such node: ${1:-}"; }

case ${1:-} in
up) shift; cmd_up "$@" ;;
down) cmd_down ;;
status) cmd_status ;;
kill) cmd_kill "${2:-}" ;;
start) cmd_start "${2:-}" ;;
env) node_arg "${2:-}"; echo "export DOCKER_HOST=unix://$RUN/$2/docker.sock" ;;
sh) node_arg "${2:-}"; DOCKER_HOST=unix://$RUN/$2/docker.sock exec nsenter --net="/run/netns/blab-$2" "${SHELL:-bash}" ;;
*) sed -n '2,22p' "$0"; exit 2 ;;
esac

#!/usr/bin/env bash
# Swarm in the cluster lab (scripts/lab.sh), berthd against dockerd in the
# same run, with the real docker CLI: time to `swarm init`, to join a
# manager and a worker, from kill -9 of the leader's daemon to the first
# write accepted by a surviving manager, and the resident memory of idle
# managers. Each round brings a fresh 4-node lab up (3 managers, 1 worker)
# and takes it down; the figures are medians over the rounds.
#
#   sudo bench/swarm.sh [-r ROUNDS]      (default 3)
#
# Needs root, docker (the CLI), dockerd, and berthd built (target/release
# preferred, as scripts/lab.sh). Never fails on time.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3
while getopts "r:" opt; do
    case $opt in
    r) ROUNDS=$OPTARG ;;
    *) echo "usage: bench/swarm.sh [-r ROUNDS]" >&2; exit 2 ;;
    esac
done
[[ $(id -u) == 0 ]] || { echo "bench/swarm.sh: must run as root" >&2; exit 1; }

RUN=/run/berth-lab
LAB=scripts/lab.sh
OUT=$(mktemp -d /tmp/berth-swarm-bench.XXXX)
trap '$LAB down >/dev/null 2>&1 || true; rm -rf "$OUT"' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
dk() { local n=$1; shift; DOCKER_HOST=unix://$RUN/$n/docker.sock docker "$@"; }
timed() { # name cmd...: run, record the milliseconds it took in $OUT/name
    local name=$1 t0 t1
    shift
    t0=$(now_ms)
    "$@" >/dev/null
    t1=$(now_ms)
    echo $((t1 - t0)) >>"$OUT/$name"
}
pid_of() { awk -v i="$1" '$1 == i { print $4 }' "$RUN/lab.state"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
children_rss_kib() { # the daemon's child processes (dockerd's containerd)
    local total=0 c
    for c in $(pgrep -P "$1" 2>/dev/null); do total=$((total + $(rss_kib "$c"))); done
    echo "$total"
}

round() { # daemon
    local d=$1
    $LAB up -n 4 -d "$d" >/dev/null 2>&1
    timed "$d.init" dk 1 swarm init --advertise-addr 10.77.0.11
    local mt wt
    mt=$(dk 1 swarm join-token -q manager)
    wt=$(dk 1 swarm join-token -q worker)
    timed "$d.join_manager" dk 2 swarm join --token "$mt" 10.77.0.11:2377
    timed "$d.join_manager" dk 3 swarm join --token "$mt" 10.77.0.11:2377
    timed "$d.join_worker" dk 4 swarm join --token "$wt" 10.77.0.11:2377
    sleep 5 # idle: heartbeats and Raft ticks only
    local p
    p=$(pid_of 2) # a follower: node 1 made the swarm and leads it
    echo $(($(rss_kib "$p") / 1024)) >>"$OUT/$d.rss_follower_mib"
    echo $(($(children_rss_kib "$p") / 1024)) >>"$OUT/$d.rss_children_mib"
    p=$(pid_of 1)
    echo $(($(rss_kib "$p") / 1024)) >>"$OUT/$d.rss_leader_mib"
    # the leader (joins do not move it, but this does not assume so) and
    # a surviving manager to write through
    local leader_id leader=0 survivor=0 i id
    leader_id=$(dk 1 node ls --format '{{.ID}} {{.ManagerStatus}}' | awk '$2 == "Leader" { print $1 }')
    for i in 1 2 3; do
        id=$(dk "$i" info -f '{{.Swarm.NodeID}}')
        if [[ $id == "$leader_id" ]]; then leader=$i; elif ((survivor == 0)); then survivor=$i; fi
    done
    ((leader > 0)) || { echo "$d: no leader found" >&2; $LAB down >/dev/null 2>&1; return; }
    local target t0 t1 n=0
    target=$(dk "$survivor" info -f '{{.Swarm.NodeID}}')
    # the survivor has written through the leader before: a live cluster
    dk "$survivor" node update --label-add before=kill "$target" >/dev/null
    # the clock starts before the kill: the kill waits for the process to
    # be gone, which can take a while after the signal
    t0=$(now_ms)
    $LAB kill "$leader" >/dev/null 2>&1
    until dk "$survivor" node update --label-add "failover=$n" "$target" >/dev/null 2>&1; do
        n=$((n + 1))
        (($(now_ms) - t0 > 60000)) && { echo "$d: no write accepted within 60 s" >&2; break; }
        sleep 0.02
    done
    t1=$(now_ms)
    echo $((t1 - t0)) >>"$OUT/$d.failover"
    $LAB down >/dev/null 2>&1
}

median() { sort -n "$1" | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }

for ((r = 1; r <= ROUNDS; r++)); do
    for d in berthd dockerd; do
        echo "round $r: $d" >&2
        round "$d"
    done
done

printf '%-30s %10s %10s %8s\n' "swarm (median of $ROUNDS)" berthd dockerd ratio
for m in init join_manager join_worker failover rss_leader_mib rss_follower_mib rss_children_mib; do
    b=$(median "$OUT/berthd.$m")
    k=$(median "$OUT/dockerd.$m")
    ratio=$(awk -v b="$b" -v k="$k" 'BEGIN { if (k > 0 && b != "-") printf "%.3fx", b / k; else print "-" }')
    unit=ms
    [[ $m == rss_* ]] && unit=MiB
    printf '%-30s %10s %10s %8s\n' "$m ($unit)" "$b" "$k" "$ratio"
done

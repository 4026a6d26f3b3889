#!/usr/bin/env bash
# berth compose bench (issue 16): in ONE run, berthd and a peer dockerd side
# by side, the same 10-service project (one published port, one named
# volume, the default network), measured with hyperfine:
#   up -d from nothing, down of a running project, and a second up -d with
#   nothing changed, for
#     berth-compose    -> berthd
#     docker-compose 1.29 (Debian's) -> dockerd (the peer)
#     docker-compose 1.29 -> berthd (for reference)
# Prints medians and the ratios against docker-compose -> dockerd, and
# whether the issue's goals are met (up -d and down at least 5x faster; a
# second up -d under 50 ms). Never fails on time.
#
# Usage: bench/compose.sh [-n RUNS]   (default 5 runs + 1 warm-up each)
# Env:   BERTH_BIN_DIR   berthd and berth-compose (default: target/release,
#                        else target/debug)
#        BENCH_ROOT      scratch dir (default /tmp/berth-cbench)
set -uo pipefail

RUNS=5
while getopts "n:h" opt; do
    case $opt in
    n) RUNS=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
    esac
done

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
default_bin_dir berthd berth-compose
BR=${BENCH_ROOT:-/tmp/berth-cbench}
V1=$(command -v docker-compose)
BERTHD_PID=
DOCKERD_PID=
trap 'set +e; down_all; stop_daemons "$BR"' EXIT
trap 'exit 130' INT TERM

rm -rf "$BR" && mkdir -p "$BR/project"
busybox_rootfs "$BR"

# Ten services that stop at once on SIGTERM: with `init: true` the
# command is not PID 1, so SIGTERM ends it. (A shell trap in PID 1 raced
# the bench: a down right after up -d came before the trap was set, and
# waited out the stop timeout.)
P=$BR/project/docker-compose.yml
{
    echo 'version: "3.8"'
    echo 'services:'
    for i in $(seq 1 10); do
        echo "  s$i:"
        echo '    image: busybox'
        echo '    command: ["sleep", "3600"]'
        echo '    init: true'
        echo "    environment: [\"N=$i\"]"
        ((i == 1)) && printf '    ports: ["18080:80"]\n'
        ((i == 2)) && printf '    volumes: ["data:/data"]\n'
    done
    echo 'volumes:'
    echo '  data: {}'
} >"$P"

BERTH_OK=0
start_berthd "$BR" && BERTH_OK=1
DOCKER_OK=0
start_peer_dockerd "$BR" && DOCKER_OK=1

# compose commands as "key" -> command line (project "cb" in $BR/project)
cmd() { # tool sock args...
    local tool=$1 sock=$2
    shift 2
    case $tool in
    berth) echo "env DOCKER_HOST=unix://$sock $BERTH_BIN_DIR/berth-compose -p cb -f $P $*" ;;
    v1) echo "env DOCKER_HOST=unix://$sock $V1 --no-ansi -p cb -f $P $*" ;;
    esac
}
down_all() {
    ((BERTH_OK)) && $(cmd berth "$BR/berth.sock" down -v -t 1) >/dev/null 2>&1
    ((BERTH_OK)) && $(cmd v1 "$BR/berth.sock" down -v -t 1) >/dev/null 2>&1
    ((DOCKER_OK)) && $(cmd v1 "$PEER_SOCK" down -v -t 1) >/dev/null 2>&1
    return 0
}

declare -A MEDIAN
measure() { # key prepare command
    local key=$1 prepare=$2 command=$3 csv=$BR/$1.csv
    if hyperfine -N --style basic --warmup 1 --runs "$RUNS" --prepare "$prepare" \
        --export-csv "$csv" --command-name "$key" "$command" >&2; then
        MEDIAN[$key]=$(awk -F, 'NR == 2 { printf "%.1f", $4 * 1000 }' "$csv")
    else
        log "$key: hyperfine failed"
    fi
}
bench_pair() { # prefix tool sock
    local pre=$1 tool=$2 sock=$3 up down
    up=$(cmd "$tool" "$sock" up -d)
    down=$(cmd "$tool" "$sock" down -v -t 1)
    log "$pre: up -d, down, second up -d"
    measure "$pre-up" "$down" "$up"
    # The project settles for a second before each timed down: a
    # container signalled within milliseconds of its start (before its
    # init has set up its signal handling) ignores SIGTERM as PID 1 and
    # waits out the stop timeout, on any engine; docker-compose 1.29's own
    # start-up time would hide that, berth compose's would not.
    measure "$pre-down" "sh -c '$up && sleep 1'" "$down"
    measure "$pre-again" "$up" "$up"
    $down >/dev/null 2>&1
}
if ((BERTH_OK)) && [[ -x $BERTH_BIN_DIR/berth-compose ]]; then
    bench_pair berth berth "$BR/berth.sock"
fi
if ((BERTH_OK)) && [[ -n $V1 ]]; then
    bench_pair v1-berthd v1 "$BR/berth.sock"
fi
if ((DOCKER_OK)) && [[ -n $V1 ]]; then
    bench_pair v1-dockerd v1 "$PEER_SOCK"
fi

ms() { [[ -n ${MEDIAN[$1]:-} ]] && echo "${MEDIAN[$1]} ms" || echo "n/a"; }
ratio() { # key base
    local a=${MEDIAN[$1]:-} b=${MEDIAN[$2]:-}
    [[ -n $a && -n $b ]] && awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3fx", a / b }' || echo "n/a"
}
echo
echo "berth compose bench: $(date -u +%FT%TZ), $(nproc) cores, $RUNS runs + 1 warm-up each, hyperfine -N"
echo "binaries: $BERTH_BIN_DIR; $($V1 version --short 2>/dev/null | sed 's/^/docker-compose /')"
for op in up down again; do
    case $op in
    up) title="up -d, 10 services, from nothing" ;;
    down) title="down -v of the running project" ;;
    again) title="up -d again, nothing changed" ;;
    esac
    echo
    printf '%-48s %12s %12s\n' "$title" "median" "vs v1->dockerd"
    printf '%-48s %12s %12s\n' "berth-compose -> berthd" "$(ms berth-$op)" "$(ratio berth-$op v1-dockerd-$op)"
    printf '%-48s %12s %12s\n' "docker-compose 1.29 -> berthd" "$(ms v1-berthd-$op)" "$(ratio v1-berthd-$op v1-dockerd-$op)"
    printf '%-48s %12s %12s\n' "docker-compose 1.29 -> dockerd (peer)" "$(ms v1-dockerd-$op)" "1.000x"
done
echo
goal() { # label key base factor
    local a=${MEDIAN[$2]:-} b=${MEDIAN[$3]:-}
    if [[ -z $a || -z $b ]]; then echo "goal: $1: not measured"; return; fi
    echo "goal: $1: $(awk -v a="$a" -v b="$b" -v f="$4" 'BEGIN { print (a * f <= b) ? "met" : "NOT met" }')"
}
goal "up -d at least 5x faster" berth-up v1-dockerd-up 5
goal "down at least 5x faster" berth-down v1-dockerd-down 5
if [[ -n ${MEDIAN[berth-again]:-} ]]; then
    echo "goal: second up -d under 50 ms: $(awk -v a="${MEDIAN[berth-again]}" 'BEGIN { print (a < 50) ? "met" : "NOT met" }')"
else
    echo "goal: second up -d under 50 ms: not measured"
fi
((BERTH_OK || DOCKER_OK))

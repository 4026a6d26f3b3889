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

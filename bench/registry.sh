#!/usr/bin/env bash
# berth registry bench: in ONE run, on one 1 GiB image of 8 incompressible
# layers (8 x 128 MiB of random data), measure
#   1. raw blob upload and download rates of berth-registry against CNCF
#      distribution (Debian's docker-registry), with the same client:
#      8 parallel curl (monolithic POST + streamed PUT of new blobs each
#      round, then GET), and each server's CPU seconds per GiB;
#   2. whole images through skopeo (dir: -> registry, registry -> dir:),
#      both registries;
#   3. berthd against dockerd pushing the same `docker load`ed image to the
#      same registry, then pulling the same (skopeo-pushed) image back,
#      against both registries.
# Prints a table of times, rates and ratios, and whether the issue's goals
# are met. Never fails on time; exits non-zero only when it could measure
# nothing at all.
#
# Usage: bench/registry.sh [-r ROUNDS]      (rounds of the raw blob test, default 3; median)
# Env:   BERTH_BIN_DIR   berthd and berth-registry (default: target/release,
#                        else target/debug, under $CARGO_TARGET_DIR or ./target)
#        BENCH_ROOT      scratch dir on the real disk (default /var/tmp/berth-rbench)
#        RBENCH_PORTS    "BERTH_PORT DIST_PORT" (default "5101 5102")
#        RBENCH_ONLY     the parts to run (default "raw skopeo daemons")
#        RBENCH_WHO      the daemons to run (default "berthd dockerd")
set -uo pipefail

ROUNDS=3
while getopts "r:h" opt; do
    case $opt in
    r) ROUNDS=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
    esac
done

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
default_bin_dir berthd berth-registry
BR=${BENCH_ROOT:-/var/tmp/berth-rbench}
read -r BPORT DPORT <<<"${RBENCH_PORTS:-5101 5102}"
BREG=127.0.0.1:$BPORT
DREG=127.0.0.1:$DPORT
DOCKER=/usr/local/bin/docker
[[ -x $DOCKER ]] || DOCKER=$(command -v docker)

# The peer dockerd: its own everything, in the host's network namespace
# (so it reaches the registries on loopback) without a bridge or iptables.
PEER_DATA=/var/lib/docker-rbench
PEER_EXEC=/run/docker-rbench
PEER_SOCK=/run/docker-rbench.sock
PEER_PID=/run/docker-rbench.pid
BSOCK=$BR/berth.sock
# berthd has no `--bridge none`: a bridge of its own (removed on exit), no
# nftables table (--iptables=false); the bench runs no container.
BERTH_BRIDGE=rbench0

ONLY=" ${RBENCH_ONLY:-raw skopeo daemons} "
part() { [[ $ONLY == *" $1 "* ]]; }
NLAYERS=8
LAYER_MIB=${RBENCH_LAYER_MIB:-128} # smaller only for a smoke test of this script
TOTAL_MIB=$((NLAYERS * LAYER_MIB))

BREG_PID= DREG_PID= BERTHD_PID= DOCKERD_PID=

cleanup() {
    set +e
    stop_pid "$BERTHD_PID" berthd
    stop_pid "$DOCKERD_PID" dockerd
    stop_pid "$BREG_PID" berth-registry
    stop_pid "$DREG_PID" docker-registry
    for ((i = 0; i < 50; i++)); do
        kill -0 "${BERTHD_PID:-0}" 2>/dev/null || kill -0 "${DOCKERD_PID:-0}" 2>/dev/null || break
        sleep 0.1
    done
    umount_under "$BR"
    umount_under "$PEER_DATA"
    umount_under "$PEER_EXEC"
    rm -rf "$BR" "$PEER_DATA" "$PEER_EXEC" "$PEER_SOCK" "$PEER_PID"
    ip link show "$BERTH_BRIDGE" >/dev/null 2>&1 && ip link del "$BERTH_BRIDGE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
timed() { # key cmd...: time a command into T[key] (a log line on failure)
    local key=$1 t0; shift
    sync
    t0=$(now)
    if "$@" >"$BR/out/$key.log" 2>&1; then
        T[$key]=$(secs "$t0" "$(now)")
    else
        log "$key failed: $(tail -3 "$BR/out/$key.log")"
    fi
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
rate() { [[ -n ${1:-} ]] && awk -v t="$1" -v m="$TOTAL_MIB" 'BEGIN { printf "%.0f", m / t }'; }

wait_http() { # url pid name
    local i
    for ((i = 0; i < 300; i++)); do
        kill -0 "$2" 2>/dev/null || { log "$3 exited during start-up"; return 1; }
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.1
    done
    log "$3 did not answer in 30s"
    return 1
}

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

for t in curl jq skopeo dockerd docker-registry gzip tar sha256sum; do
    command -v "$t" >/dev/null || { log "missing $t (install skopeo docker.io docker-registry curl jq)"; exit 1; }
done
for b in berthd berth-shim berth-registry; do
    [[ -x $BERTH_BIN_DIR/$b ]] || { log "no $b in $BERTH_BIN_DIR (cargo build --release --workspace --bins)"; exit 1; }
done
[[ $BERTH_BIN_DIR == */debug ]] && log "WARNING: debug binaries from $BERTH_BIN_DIR: figures are not representative"

rm -rf "$BR" && mkdir -p "$BR"/{data,img,out}

# --- the image ---------------------------------------------------------------
# 8 layer tars, each one file of 128 MiB of random data; a docker-archive of
# them for `docker load`; a skopeo dir: with the layers gzip'd (-1: the
# data does not compress anyway) so pushing it measures the registries,
# not a compressor.
log "making $NLAYERS x $LAYER_MIB MiB random layers in $BR/img"
A=$BR/img/archive
D=$BR/img/dir
mkdir -p "$A" "$D" "$BR/img/raw"
for ((i = 0; i < NLAYERS; i++)); do
    mkdir -p "$BR/img/raw/l$i"
    head -c $((LAYER_MIB << 20)) /dev/urandom >"$BR/img/raw/l$i/data$i.bin"
    tar -C "$BR/img/raw/l$i" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$A/layer$i.tar" "data$i.bin"
    rm -rf "$BR/img/raw/l$i"
done
rmdir "$BR/img/raw"
ls "$A"/layer*.tar | xargs -P 2 -n 1 sh -c 'gzip -1 -n -c "$1" >"$1.gz"' sh
DIFF_IDS=() GZ_DIGESTS=() GZ_SIZES=()
for ((i = 0; i < NLAYERS; i++)); do
    DIFF_IDS+=("sha256:$(sha256sum "$A/layer$i.tar" | cut -d' ' -f1)")
    gd=$(sha256sum "$A/layer$i.tar.gz" | cut -d' ' -f1)
    GZ_DIGESTS+=("sha256:$gd")
    GZ_SIZES+=("$(stat -c %s "$A/layer$i.tar.gz")")
    mv "$A/layer$i.tar.gz" "$D/$gd"
done
config=$(jq -cn --argjson d "$(printf '%s\n' "${DIFF_IDS[@]}" | jq -R . | jq -s .)" '{
    architecture: "amd64", os: "linux", created: "2026-01-01T00:00:00Z",
    config: {Cmd: ["/data0.bin"]},
    rootfs: {type: "layers", diff_ids: $d},
    history: [$d[] | {created: "2026-01-01T00:00:00Z", created_by: "bench layer"}]
}')
printf '%s' "$config" >"$A/config.json"
CONFIG_DIGEST=sha256:$(sha256sum "$A/config.json" | cut -d' ' -f1)
cp "$A/config.json" "$D/${CONFIG_DIGEST#sha256:}"
layers_json=$(for ((i = 0; i < NLAYERS; i++)); do echo "layer$i.tar"; done | jq -R . | jq -sc .)
jq -cn --argjson l "$layers_json" '[{Config: "config.json", RepoTags: ["rbench:1"], Layers: $l}]' >"$A/manifest.json"
tar -C "$A" -cf "$BR/img/image.tar" manifest.json config.json $(cd "$A" && ls layer*.tar)
rm -f "$A"/layer*.tar
{
    jq -n --arg cd "$CONFIG_DIGEST" --argjson cs "$(stat -c %s "$A/config.json")" \
        --argjson ld "$(printf '%s\n' "${GZ_DIGESTS[@]}" | jq -R . | jq -s .)" \
        --argjson ls "$(printf '%s\n' "${GZ_SIZES[@]}" | jq -s .)" '{
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        config: {mediaType: "application/vnd.docker.container.image.v1+json", size: $cs, digest: $cd},
        layers: [range(0; $ld | length) as $i |
            {mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", size: $ls[$i], digest: $ld[$i]}]
    }'
} >"$D/manifest.json"
printf 'Directory Transport Version: 1.1\n' >"$D/version"

# The raw blobs: the gzip'd layers (random bytes either way) for the first
# round, and as many new random blobs for each further upload round: a
# push sends blobs the registry does not have (docker asks first), so
# every round stores new content rather than finding it already there.
declare -A RAW_BLOB=() RAW_DIGEST=() # "round,layer" -> file, digest
BLOBS=() BLOB_DIGESTS=()
for ((i = 0; i < NLAYERS; i++)); do
    BLOBS+=("$D/${GZ_DIGESTS[i]#sha256:}")
    BLOB_DIGESTS+=("${GZ_DIGESTS[i]}")
    RAW_BLOB[1,$i]=${BLOBS[i]} RAW_DIGEST[1,$i]=${BLOB_DIGESTS[i]}
done
if part raw; then
    for ((r = 2; r <= ROUNDS; r++)); do
        mkdir -p "$BR/img/raw$r"
        for ((i = 0; i < NLAYERS; i++)); do
            f=$BR/img/raw$r/blob$i
            head -c "${LAYER_MIB}M" /dev/urandom >"$f"
            RAW_BLOB[$r,$i]=$f RAW_DIGEST[$r,$i]=sha256:$(sha256sum "$f" | cut -d' ' -f1)
        done
    done
fi

# --- registries ----------------------------------------------------------------
reg_config() { # root addr
    cat <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $1
  delete:
    enabled: true
http:
  addr: $2
EOF
}
reg_config "$BR/data/berth-registry" "$BREG" >"$BR/berth-registry.yml"
reg_config "$BR/data/distribution" "$DREG" >"$BR/distribution.yml"
log "starting berth-registry on $BREG and distribution on $DREG"
setsid "$BERTH_BIN_DIR/berth-registry" serve "$BR/berth-registry.yml" >"$BR/berth-registry.log" 2>&1 </dev/null &
BREG_PID=$!
setsid docker-registry serve "$BR/distribution.yml" >"$BR/distribution.log" 2>&1 </dev/null &
DREG_PID=$!
wait_http "http://$BREG/v2/" "$BREG_PID" berth-registry || { tail "$BR/berth-registry.log" >&2; exit 1; }
wait_http "http://$DREG/v2/" "$DREG_PID" distribution || { tail "$BR/distribution.log" >&2; exit 1; }

declare -A T # key -> seconds (median where repeated)

# One parallel upload of round R's blobs to REG/REPO; prints the wall
# time, or nothing when any request failed.
upload_all() { # reg repo round
    local reg=$1 repo=$2 r=$3 i t0 t1 ok=1
    local st=$BR/out/st.$$
    rm -f "$st".*
    t0=$(now)
    for ((i = 0; i < NLAYERS; i++)); do
        (
            loc=$(curl -s -o /dev/null -w '%header{location}' -X POST "http://$reg/v2/$repo/blobs/uploads/")
            [[ $loc == /* ]] && loc=http://$reg$loc
            sep='?'; [[ $loc == *\?* ]] && sep='&'
            # -T streams the file (--data-binary @ would read all of it into
            # memory first); no Expect: 100-continue round trip.
            curl -s -o /dev/null -w '%{http_code}' -T "${RAW_BLOB[$r,$i]}" -H 'Expect:' \
                -H 'Content-Type: application/octet-stream' "$loc${sep}digest=${RAW_DIGEST[$r,$i]}" >"$st.$i"
        ) &
    done
    wait
    t1=$(now)
    for ((i = 0; i < NLAYERS; i++)); do [[ $(cat "$st.$i" 2>/dev/null) == 201 ]] || ok=0; done
    rm -f "$st".*
    ((ok)) && secs "$t0" "$t1"
}

download_all() { # reg repo
    local reg=$1 repo=$2 i t0 t1 ok=1
    local st=$BR/out/st.$$
    rm -f "$st".*
    t0=$(now)
    for ((i = 0; i < NLAYERS; i++)); do
        curl -s -o /dev/null -w '%{http_code} %{size_download}' \
            "http://$reg/v2/$repo/blobs/${BLOB_DIGESTS[i]}" >"$st.$i" &
    done
    wait
    t1=$(now)
    for ((i = 0; i < NLAYERS; i++)); do
        [[ $(cat "$st.$i" 2>/dev/null) == "200 $(stat -c %s "${BLOBS[i]}")" ]] || ok=0
    done
    rm -f "$st".*
    ((ok)) && secs "$t0" "$t1"
}

# --- 1. raw blobs ------------------------------------------------------------------
# The two registries take turns, round by round, so that whatever else the
# machine does weighs on both alike. Besides the wall time, each server's
# own CPU time (utime + stime from /proc) is summed over its rounds; an
# upload round's window runs to the end of the `sync` after it, so it
# includes the flushing each registry asked for.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
declare -A CPU=() RAW=() # dir-reg -> server CPU ticks over all rounds; the rounds' times
raw_round() { # dir reg round: one timed upload or download round, its time into RAW
    local dir=$1 reg=$2 r=$3 addr=$BREG pid=$BREG_PID c0 t
    [[ $reg == dist ]] && addr=$DREG pid=$DREG_PID
    c0=$(cpu_ticks "$pid")
    if [[ $dir == up ]]; then
        t=$(upload_all "$addr" "bench/raw$r" "$r") || true
        sync
    else
        t=$(download_all "$addr" "bench/raw1") || true
    fi
    CPU[$dir-$reg]=$((${CPU[$dir-$reg]:-0} + $(cpu_ticks "$pid") - c0))
    if [[ -n $t ]]; then RAW[$dir-$reg]+=" $t"; else log "$reg: $dir round $r failed"; fi
}
sync
if part raw; then
    for ((r = 1; r <= ROUNDS; r++)); do
        for reg in berth dist; do raw_round up "$reg" "$r"; done
    done
    # Downloads take a fraction of a second: three times the rounds.
    for ((r = 1; r <= 3 * ROUNDS; r++)); do
        for reg in berth dist; do raw_round down "$reg" "$r"; done
    done
    hz=$(getconf CLK_TCK)
    for reg in berth dist; do
        log "$reg: upload${RAW[up-$reg]:-} s, download${RAW[down-$reg]:-} s"
        for dir in up down; do
            T[$dir-$reg]=$(echo "${RAW[$dir-$reg]:-}" | median)
            n=$ROUNDS; [[ $dir == down ]] && n=$((3 * ROUNDS))
            # Server CPU seconds per GiB moved, over all rounds.
            T[cpu-$dir-$reg]=$(awk -v c="${CPU[$dir-$reg]:-0}" -v hz="$hz" -v n="$n" -v m="$TOTAL_MIB" \
                'BEGIN { printf "%.2f", c / hz / (n * m / 1024) }')
        done
    done
fi

# --- 2. skopeo -------------------------------------------------------------------------
# (The daemons pull the image skopeo pushes: it is always copied in.)
for reg in berth dist; do
    addr=$BREG; [[ $reg == dist ]] && addr=$DREG
    timed "skopeo-in-$reg" \
        skopeo copy -q --dest-tls-verify=false "dir:$D" "docker://$addr/bench/image:1"
    rm -rf "$BR/out/dir"
    part skopeo || continue
    timed "skopeo-out-$reg" \
        skopeo copy -q --src-tls-verify=false "docker://$addr/bench/image:1" "dir:$BR/out/dir"
    rm -rf "$BR/out/dir"
done

# --- 3. berthd and dockerd -------------------------------------------------------------------
WHO=" ${RBENCH_WHO:-berthd dockerd} "
if part daemons && [[ $WHO == *" berthd "* ]]; then
    log "starting berthd from $BERTH_BIN_DIR"
    setsid "$BERTH_BIN_DIR/berthd" --data-root "$BR/berth/d" --exec-root "$BR/berth/x" \
        -H "unix://$BSOCK" --pidfile "$BR/berth.pid" --bridge "$BERTH_BRIDGE" --bip 172.31.250.1/24 --iptables=false \
        --insecure-registry "$BREG" --insecure-registry "$DREG" \
        >"$BR/berthd.log" 2>&1 </dev/null &
    BERTHD_PID=$!
    wait_ping "$BSOCK" "$BERTHD_PID" berthd || { tail "$BR/berthd.log" >&2; BERTHD_PID_FAILED=1; }
else
    BERTHD_PID_FAILED=1
fi
if part daemons && [[ $WHO == *" dockerd "* ]]; then
    log "starting the peer dockerd"
    setsid dockerd --data-root "$PEER_DATA" --exec-root "$PEER_EXEC" -H "unix://$PEER_SOCK" \
        --pidfile "$PEER_PID" --bridge none --iptables=false --ip-masq=false \
        --insecure-registry "$BREG" --insecure-registry "$DREG" \
        >"$BR/dockerd.log" 2>&1 </dev/null &
    DOCKERD_PID=$!
    wait_ping "$PEER_SOCK" "$DOCKERD_PID" dockerd || { tail "$BR/dockerd.log" >&2; DOCKERD_PID_FAILED=1; }
else
    DOCKERD_PID_FAILED=1
fi

dk() { # who args...: the docker CLI against berthd or dockerd
    local who=$1; shift
    if [[ $who == berthd ]]; then DOCKER_HOST=unix://$BSOCK "$DOCKER" "$@"; else DOCKER_HOST=unix://$PEER_SOCK "$DOCKER" "$@"; fi
}

for who in berthd dockerd; do
    [[ $who == berthd && -n ${BERTHD_PID_FAILED:-} ]] && continue
    [[ $who == dockerd && -n ${DOCKERD_PID_FAILED:-} ]] && continue
    timed "load-$who" dk "$who" load -i "$BR/img/image.tar"
    # Push: distribution first (neutral ground), then berth-registry. The
    # second push of each daemon is also a fresh repository and registry.
    for reg in dist berth; do
        addr=$BREG; [[ $reg == dist ]] && addr=$DREG
        dk "$who" tag rbench:1 "$addr/bench/$who:1"
        timed "push-$who-$reg" dk "$who" push "$addr/bench/$who:1"
    done
    # Pull the skopeo-pushed image (the same bytes for both daemons) after
    # removing every local copy of its layers.
    for reg in dist berth; do
        addr=$BREG; [[ $reg == dist ]] && addr=$DREG
        dk "$who" rmi -f $(dk "$who" images -q | sort -u) >/dev/null 2>&1
        dk "$who" image prune -af >/dev/null 2>&1
        timed "pull-$who-$reg" dk "$who" pull "$addr/bench/image:1"
        grep -q 'Already exists' "$BR/out/pull-$who-$reg.log" && log "pull-$who-$reg found layers already there"
    done
    dk "$who" rmi -f $(dk "$who" images -q | sort -u) >/dev/null 2>&1
done

# --- report ----------------------------------------------------------------------------------
fmt_s() { [[ -n ${1:-} ]] && printf '%.3f s' "$1" || printf 'n/a'; }
fmt_r() { [[ -n ${1:-} ]] && printf '%s MiB/s' "$(rate "$1")" || printf 'n/a'; }
speedup() { # slower-time faster-time -> "N.NNx" (how many times faster)
    [[ -n ${1:-} && -n ${2:-} ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }' || printf 'n/a'
}
ge() { [[ -n ${1:-} && -n ${2:-} ]] && awk -v a="$1" -v b="$2" -v g="$3" 'BEGIN { exit !(a / b >= g) }'; }

echo
echo "registry bench: $NLAYERS x $LAYER_MIB MiB incompressible blobs ($TOTAL_MIB MiB), $(nproc) cores, binaries $BERTH_BIN_DIR"
echo
printf '%-44s %12s %12s %10s %14s\n' "raw blobs, $NLAYERS parallel curl (median)" time rate "vs dist" "server CPU/GiB"
for dir in up down; do
    name=upload; [[ $dir == down ]] && name=download
    printf '%-44s %12s %12s %10s %14s\n' "$name berth-registry" "$(fmt_s "${T[$dir-berth]:-}")" "$(fmt_r "${T[$dir-berth]:-}")" \
        "$(speedup "${T[$dir-dist]:-}" "${T[$dir-berth]:-}")" "${T[cpu-$dir-berth]:-n/a} s"
    printf '%-44s %12s %12s %10s %14s\n' "$name distribution" "$(fmt_s "${T[$dir-dist]:-}")" "$(fmt_r "${T[$dir-dist]:-}")" "1.00x" \
        "${T[cpu-$dir-dist]:-n/a} s"
done
echo
printf '%-44s %12s %12s %10s\n' "skopeo copy (gzip'd layers, no recompression)" time rate "vs dist"
for dir in in out; do
    printf '%-44s %12s %12s %10s\n' "copy $dir  berth-registry" "$(fmt_s "${T[skopeo-$dir-berth]:-}")" "$(fmt_r "${T[skopeo-$dir-berth]:-}")" "$(speedup "${T[skopeo-$dir-dist]:-}" "${T[skopeo-$dir-berth]:-}")"
    printf '%-44s %12s %12s %10s\n' "copy $dir  distribution" "$(fmt_s "${T[skopeo-$dir-dist]:-}")" "$(fmt_r "${T[skopeo-$dir-dist]:-}")" "1.00x"
done
echo
printf '%-44s %12s %12s %10s\n' "docker CLI: berthd vs dockerd" berthd dockerd "speedup"
printf '%-44s %12s %12s %10s\n' "load (docker-archive, not a goal)" "$(fmt_s "${T[load-berthd]:-}")" "$(fmt_s "${T[load-dockerd]:-}")" "$(speedup "${T[load-dockerd]:-}" "${T[load-berthd]:-}")"
for reg in dist berth; do
    name=distribution; [[ $reg == berth ]] && name=berth-registry
    printf '%-44s %12s %12s %10s\n' "push to $name" "$(fmt_s "${T[push-berthd-$reg]:-}")" "$(fmt_s "${T[push-dockerd-$reg]:-}")" "$(speedup "${T[push-dockerd-$reg]:-}" "${T[push-berthd-$reg]:-}")"
done
for reg in dist berth; do
    name=distribution; [[ $reg == berth ]] && name=berth-registry
    printf '%-44s %12s %12s %10s\n' "pull from $name" "$(fmt_s "${T[pull-berthd-$reg]:-}")" "$(fmt_s "${T[pull-dockerd-$reg]:-}")" "$(speedup "${T[pull-dockerd-$reg]:-}" "${T[pull-berthd-$reg]:-}")"
done
echo
goal() { # text ok
    if [[ $2 == 1 ]]; then echo "goal: $1: met"; else echo "goal: $1: NOT met"; fi
}
g=0; ge "${T[up-dist]:-}" "${T[up-berth]:-}" 1.5 && g=1; goal "berth-registry upload >= 1.5x distribution" $g
g=0; ge "${T[down-dist]:-}" "${T[down-berth]:-}" 1.5 && g=1; goal "berth-registry download >= 1.5x distribution" $g
g=0; ge "${T[push-dockerd-dist]:-}" "${T[push-berthd-dist]:-}" 3 && g=1; goal "berthd push >= 3x faster than dockerd (distribution)" $g
g=0; ge "${T[pull-dockerd-dist]:-}" "${T[pull-berthd-dist]:-}" 2 && g=1; goal "berthd pull >= 2x faster than dockerd (distribution)" $g

n=0
for k in "${!T[@]}"; do [[ -n ${T[$k]} ]] && n=$((n + 1)); done
((n > 0)) || exit 1
exit 0

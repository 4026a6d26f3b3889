#!/usr/bin/env bash
# berth's quick start on a fresh Debian machine (as root): installs what the
# build and the tests need, builds, starts berthd on its default socket, makes a busybox
# image from the host's static busybox (no registry needed), and runs a
# container with the berth CLI. Leaves berthd running; stop it with
#   kill $(cat /run/berthd.pid)
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# build needs, what berthd runs, and what the test suite (.ci/test) needs:
# one list shared with CI
scripts/install-deps.sh
cargo build --release --workspace --bins
bin=$PWD/target/release
sock=/run/berth/berth.sock

if ! [ -S "$sock" ] || ! "$bin/berth" version >/dev/null 2>&1; then
    mkdir -p /var/log
    "$bin/berthd" >/var/log/berthd.log 2>&1 &
    for _ in $(seq 50); do
        "$bin/berth" version >/dev/null 2>&1 && break
        sleep 0.1
    done
fi
"$bin/berth" version >/dev/null || { echo "berthd did not start; see /var/log/berthd.log" >&2; exit 1; }

if ! "$bin/berth" image inspect busybox >/dev/null 2>&1; then
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    mkdir -p "$rootfs"/{bin,dev,etc,home,proc,root,sys,tmp,usr,var}
    chmod 1777 "$rootfs/tmp"
    cp /bin/busybox "$rootfs/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
    tar -C "$rootfs" -c . | "$bin/berth" import -c 'CMD ["sh"]' - busybox:latest
fi

"$bin/berth" run --rm busybox echo "hello from a berth container"
echo
echo "berthd is running (pid $(cat /run/berthd.pid)) on unix://$sock."
echo "Try: $bin/berth run -it --rm busybox sh"
echo "or the docker CLI: DOCKER_HOST=unix://$sock docker ps -a"

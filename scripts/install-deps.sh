#!/usr/bin/env bash
# Everything berth's build, its test suite and its bench need, from Debian's
# packages: one list, so the quick start and CI can never disagree (a fresh
# machine that ran scripts/quickstart.sh can run .ci/test at once).
# Idempotent: installs only when a package is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
    # build
    libseccomp-dev pkg-config build-essential
    # run time: the busybox image fixture, networking, mounts
    busybox-static iproute2 nftables iptables util-linux procps kmod
    # the TLS tests' certificates (daemon and CLI), made with docker's recipe
    openssl
    # peers the suite and the bench check against (dockerd, its containerd,
    # the 20.10 CLI; OCI runtimes), and the bench's tools
    docker.io containerd runc crun hyperfine jq curl ca-certificates
    # clients the e2e suite drives berthd with: the Python Docker SDK (with
    # websocket-client, for its attach over a websocket) and docker-compose 1.29
    python3-docker python3-websocket docker-compose
    # berth-registry's peers: skopeo, htpasswd (apache2-utils), and CNCF
    # distribution for token-auth checks
    skopeo apache2-utils docker-registry
    # berth-dns tests: dig, and dnsmasq as a real upstream (-base: the binary
    # without the service that would start a host-wide dnsmasq on port 53)
    bind9-dnsutils dnsmasq-base
    # `--init`: tini-static as docker-init (dockerd uses the same binary)
    tini
)
if ! dpkg -s "${packages[@]}" >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends "${packages[@]}"
fi

# docker.io may start a system dockerd where systemd runs; the suite never
# uses it (every test starts its own daemons on their own sockets).
command -v /usr/local/bin/docker >/dev/null ||
    echo "install-deps: note: /usr/local/bin/docker (CLI 28) is missing; the suite falls back to the docker on PATH" >&2

# the unused-dependency check .ci/test runs (a crates.io tool: no Debian package)
command -v cargo-machete >/dev/null || cargo install --locked cargo-machete@0.9.2

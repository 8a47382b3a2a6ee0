#!/usr/bin/env bash
# Make sure a real Docker engine answers on /var/run/docker.sock, for tests,
# benchmarks and development. Idempotent: a second run takes well under a second.
#
#   1. installs docker.io and busybox-static with apt-get, only if missing;
#   2. starts dockerd in the background (vfs storage, no iptables, no bridge)
#      when `docker info` does not answer, logging to $TIDEWATCH_DOCKERD_LOG;
#   3. waits until the engine is ready, with a timeout;
#   4. imports the image tidewatch/busybox:local from /bin/busybox (no registry
#      is reachable on these machines), if it is missing.
#
# An engine that already answers (the user's own, or DOCKER_HOST) is used as is.
set -euo pipefail

IMAGE="${TIDEWATCH_BUSYBOX_IMAGE:-tidewatch/busybox:local}"
LOG_FILE="${TIDEWATCH_DOCKERD_LOG:-/var/log/tidewatch-dockerd.log}"
READY_TIMEOUT_S="${TIDEWATCH_DOCKERD_TIMEOUT_S:-60}"
APPLETS=(sh sleep yes echo cat top ls ps true false env dd head tail wc grep sed awk
         printf kill date id hostname mkdir rm touch uname seq tee)

step() { printf '[local-docker] %s\n' "$*" >&2; }
die() { printf '[local-docker] error: %s\n' "$*" >&2; exit 1; }

engine_answers() { docker info >/dev/null 2>&1; }

install_missing() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v docker >/dev/null || missing+=(docker.io)
    [[ -x /bin/busybox ]] || missing+=(busybox-static)
    ((${#missing[@]} == 0)) && return 0
    [[ $EUID -eq 0 ]] || die "missing ${missing[*]}; run this script as root to install them"
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    step "installing ${missing[*]} (apt-get)…"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_engine() {
    [[ $EUID -eq 0 ]] || die "the Docker engine is not answering and starting dockerd needs root"
    if [[ -S /var/run/docker.sock ]] && pgrep -x dockerd >/dev/null; then
        step "dockerd is running but not answering yet; waiting for it"
        return 0
    fi
    mkdir -p "$(dirname "$LOG_FILE")"
    step "starting dockerd (vfs storage, no iptables, no bridge); log: $LOG_FILE"
    # setsid + nohup: the engine must outlive this script and the test session.
    setsid nohup dockerd --storage-driver=vfs --iptables=false --bridge=none \
        >>"$LOG_FILE" 2>&1 </dev/null &
}

wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT_S))
    until engine_answers; do
        if ((SECONDS >= deadline)); then
            tail -n 20 "$LOG_FILE" >&2 2>/dev/null || true
            die "the Docker engine did not answer within ${READY_TIMEOUT_S}s (see $LOG_FILE)"
        fi
        sleep 0.3
    done
}

import_busybox() {
    if docker image inspect "$IMAGE" >/dev/null 2>&1; then
        step "image $IMAGE present"
        return 0
    fi
    step "importing $IMAGE from /bin/busybox"
    local root
    root="$(mktemp -d)"
    mkdir -p "$root/bin" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/etc"
    cp /bin/busybox "$root/bin/busybox"
    local applet
    for applet in "${APPLETS[@]}"; do
        ln -s busybox "$root/bin/$applet"
    done
    tar -C "$root" -c . | docker import \
        --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
    rm -rf "$root"
}

install_missing
if engine_answers; then
    step "the Docker engine answers"
else
    start_engine
    wait_ready
    step "the Docker engine is ready"
fi
import_busybox
step "ready"

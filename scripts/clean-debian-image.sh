#!/usr/bin/env bash
# Make the image of a clean Debian 12 VPS for the one-line install test: a
# debootstrap minbase root with only python3, python3-venv, curl, ca-certificates
# and sudo (the command "Add server" shows pipes into sudo), imported into the local Docker engine (no registry is
# reachable on these machines). Idempotent: once the root and the image exist,
# a second run takes about a second.
#
#   scripts/clean-debian-image.sh      prints the image name on its last line
#
# The root is cached outside the clone ($TIDEWATCH_STATE/clean-debian-root), so
# a fresh CI clone on the same machine reuses it. Needs root and the engine
# (scripts/local-docker.sh).
set -euo pipefail

STATE_DIR="${TIDEWATCH_STATE:-/var/lib/tidewatch-dev}"
ROOT_DIR="$STATE_DIR/clean-debian-root"
IMAGE="${TIDEWATCH_CLEAN_DEBIAN_IMAGE:-tidewatch/clean-debian:bookworm}"
PACKAGES="python3,python3-venv,curl,ca-certificates,sudo"
# The marker holds the package list: a changed list builds the root anew.
MARKER="$ROOT_DIR/.tidewatch-complete"
SUITE="bookworm"

step() { printf '[clean-debian] %s\n' "$*" >&2; }
die() { printf '[clean-debian] error: %s\n' "$*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "building a Debian root needs root (debootstrap)"
docker info >/dev/null 2>&1 || die "the Docker engine is not answering; run scripts/local-docker.sh first"

if [[ "$(cat "$MARKER" 2>/dev/null)" != "$PACKAGES" ]]; then
    if ! command -v debootstrap >/dev/null; then
        step "installing debootstrap (apt-get)…"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    step "building a clean Debian $SUITE root in $ROOT_DIR (about a minute and 250 MB, once per machine)…"
    mkdir -p "$STATE_DIR"
    rm -rf "$ROOT_DIR.partial"
    # Progress: one line per package fetched or set up, so a slow mirror is visible.
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT_DIR.partial" 2>&1 |
        while IFS= read -r line; do
            case "$line" in
                I:\ Retrieving*|I:\ Validating*) ;;
                *) printf '  %s\n' "$line" >&2 ;;
            esac
        done
    [[ -x "$ROOT_DIR.partial/usr/bin/python3" && -x "$ROOT_DIR.partial/usr/bin/curl" ]] ||
        die "debootstrap finished but python3 or curl is missing in the root"
    # Package lists and downloaded .debs are not part of a VPS we test against.
    rm -rf "$ROOT_DIR.partial/var/cache/apt/archives/"*.deb "$ROOT_DIR.partial/var/lib/apt/lists/"*
    echo "$PACKAGES" >"$ROOT_DIR.partial/.tidewatch-complete"
    rm -rf "$ROOT_DIR"
    mv "$ROOT_DIR.partial" "$ROOT_DIR"
    # A new root makes any older image stale.
    docker image rm -f "$IMAGE" >/dev/null 2>&1 || true
fi

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    step "importing $ROOT_DIR into the Docker engine as $IMAGE…"
    tar -C "$ROOT_DIR" --exclude=./.tidewatch-complete --exclude='./proc/*' --exclude='./sys/*' \
        --exclude='./dev/*' -c . | docker import - "$IMAGE" >/dev/null
fi
step "image ready: $IMAGE"
echo "$IMAGE"

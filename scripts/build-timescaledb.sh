#!/usr/bin/env bash
# Build the TimescaleDB Community (TSL) edition into its own Debian trixie root,
# beside the Apache-edition root that scripts/local-db.sh made. Called by
# `scripts/local-db.sh --edition timescale`; not meant to be run alone.
#
# Debian ships only the Apache edition, so we copy the Apache root (without its
# database), add a compiler, and build the same TimescaleDB version from the
# upstream source with -DAPACHE_ONLY=OFF. Built once per machine: about 5 minutes
# on 2 cores, then cached under $TIDEWATCH_CACHE.
#
# Usage: build-timescaledb.sh APACHE_ROOT TSL_ROOT SOURCE_TARBALL
set -euo pipefail

APACHE_ROOT="$1"
TSL_ROOT="$2"
TARBALL="$3"
PATCH="$(cd "$(dirname "$0")/.." && pwd)/packaging/timescaledb/pg17.12-portal-drop.patch"
PARTIAL="$TSL_ROOT.partial"
LOG="$(dirname "$TSL_ROOT")/timescaledb-build.log"
SRC_IN_ROOT=/usr/src/timescaledb

step() { printf '\033[1m[local-db]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[local-db] error:\033[0m %s\n' "$*" >&2; exit 1; }

[[ -f "$APACHE_ROOT/.tidewatch-complete" ]] || die "no Apache-edition root at $APACHE_ROOT (run scripts/local-db.sh first)"
[[ -r "$TARBALL" ]] || die "TimescaleDB source not found at $TARBALL"

unmount_proc() { if mountpoint -q "$PARTIAL/proc" 2>/dev/null; then umount "$PARTIAL/proc"; fi; }
trap unmount_proc EXIT
: >"$LOG"

step "Community edition: copying the trixie root to $PARTIAL (its database and sockets left out)…"
unmount_proc
rm -rf "$PARTIAL"
mkdir -p "$PARTIAL"
# The Apache server keeps running: its data directory and sockets are not copied.
tar -C "$APACHE_ROOT" --exclude=./var/lib/tidewatch --exclude='./tmp/*' --exclude='./proc/*' \
    -cf - . | tar -C "$PARTIAL" -xf -
rm -f "$PARTIAL/.tidewatch-complete"
# Packages installed in a chroot must not start services.
printf '#!/bin/sh\nexit 101\n' > "$PARTIAL/usr/sbin/policy-rc.d"
chmod 755 "$PARTIAL/usr/sbin/policy-rc.d"
mount -t proc proc "$PARTIAL/proc"

in_partial() { chroot "$PARTIAL" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }

step "Community edition: installing the compiler and PostgreSQL headers (apt-get, about 200 MB)…"
in_partial apt-get update -qq >>"$LOG" 2>&1 || { tail -20 "$LOG" >&2; die "apt-get update failed in the root (log: $LOG)"; }
in_partial apt-get install -y -qq --no-install-recommends \
    postgresql-server-dev-17 build-essential cmake libssl-dev patch >>"$LOG" 2>&1 \
    || { tail -20 "$LOG" >&2; die "apt-get install failed in the root (log: $LOG)"; }

step "Community edition: unpacking $(basename "$TARBALL") and applying the PostgreSQL 17.12 portal workaround…"
rm -rf "$PARTIAL$SRC_IN_ROOT"
mkdir -p "$PARTIAL$SRC_IN_ROOT"
tar -C "$PARTIAL$SRC_IN_ROOT" -xzf "$TARBALL"
cp "$PATCH" "$PARTIAL/tmp/portal.patch"
in_partial patch -d "$SRC_IN_ROOT" -p1 -i /tmp/portal.patch >>"$LOG" 2>&1 \
    || { tail -20 "$LOG" >&2; die "the portal workaround did not apply (log: $LOG)"; }

step "Community edition: configuring (cmake)…"
in_partial sh -c "cd $SRC_IN_ROOT && ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
    -DWARNINGS_AS_ERRORS=OFF -DAPACHE_ONLY=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo" >>"$LOG" 2>&1 \
    || { tail -20 "$LOG" >&2; die "cmake failed (log: $LOG)"; }

step "Community edition: compiling with make -j2 (about 5 minutes on 2 cores; progress below)…"
# make prints "[ NN%]"; show each new tens of percent so a long build is visibly alive.
last_shown=-1
while IFS= read -r line; do
    printf '%s\n' "$line" >>"$LOG"
    if [[ "$line" =~ ^\[\ *([0-9]+)%\] ]]; then
        tens=$(( BASH_REMATCH[1] / 10 * 10 ))
        if (( tens > last_shown )); then
            last_shown=$tens
            step "  compiled ${tens}%"
        fi
    fi
done < <(in_partial sh -c "cd $SRC_IN_ROOT/build && make -j2 2>&1 && make install 2>&1; echo \"make-exit=\$?\"")
grep -q '^make-exit=0$' "$LOG" || { tail -30 "$LOG" >&2; die "the TimescaleDB build failed (log: $LOG)"; }
compgen -G "$PARTIAL/usr/lib/postgresql/17/lib/timescaledb-tsl-*.so" >/dev/null \
    || die "the build finished but the TSL library is missing (log: $LOG)"

unmount_proc
rm -rf "$PARTIAL$SRC_IN_ROOT" "$PARTIAL/tmp/portal.patch"
touch "$PARTIAL/.tidewatch-complete"
rm -rf "$TSL_ROOT"
mv "$PARTIAL" "$TSL_ROOT"
step "Community edition root ready at $TSL_ROOT."

#!/usr/bin/env bash
# Install what Tidewatch needs on a Debian machine: system packages and the
# Python virtual environment (.venv). Idempotent and quick on a second run.
#
#   scripts/setup.sh            # server stack: Python deps only
#   scripts/setup.sh --test     # plus Chromium, the Docker engine tools and node_exporter for tests
set -euo pipefail
cd "$(dirname "$0")/.."

WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1

step() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

PACKAGES=(python3-venv debootstrap postgresql-client)
if ((WITH_TEST)); then
    PACKAGES+=(chromium chromium-driver docker.io busybox-static prometheus-node-exporter docker-compose iproute2 iputils-ping faketime)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    [[ $EUID -eq 0 ]] || die "missing Debian packages: ${missing[*]}. Run as root, or install them first."
    command -v apt-get >/dev/null || die "this script needs Debian's apt-get; see README for other systems (compose.yaml)"
    step "installing ${missing[*]} (apt-get, a few minutes the first time)…"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Tidewatch needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))"
if [[ ! -x .venv/bin/python ]]; then
    step "creating the virtual environment in .venv…"
    "$PYTHON" -m venv .venv
fi
STAMP=.venv/.tidewatch-installed
if [[ ! -f $STAMP || pyproject.toml -nt $STAMP ]]; then
    step "installing Python packages (pinned in pyproject.toml)…"
    PIP_LOG=.venv/pip-install.log
    if ! { .venv/bin/pip install --upgrade pip && .venv/bin/pip install --progress-bar off -e '.[dev]'; } >"$PIP_LOG" 2>&1; then
        tail -25 "$PIP_LOG" >&2
        die "pip could not install the Python packages; the end of its log is above (full log: $PIP_LOG)"
    fi
    touch "$STAMP"
fi
step "ready."

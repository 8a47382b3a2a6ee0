#!/usr/bin/env bash
# Install (or upgrade) the Tidewatch agent from a checkout, a wheel or an sdist, with
# no Tidewatch server to fetch from:
#
#   sudo scripts/install-agent.sh --server collector.example.com:50051 --token twa_... \
#       [--docker] [--ca-file ca.pem] [--no-tls] [--no-start] [--root DIR] [--python PATH] SOURCE
#
# The install itself is the one-line install's script (api/agent_install/install.sh),
# given the local wheel instead of the server's: one install logic. A checkout or an
# sdist is built into a wheel first. --root DIR installs into DIR for the current user
# (the served script's --dir): no root, no service user, no systemd.
set -euo pipefail

CHECKOUT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BODY="${CHECKOUT}/api/agent_install/install.sh"
UNIT="${CHECKOUT}/packaging/systemd/tidewatch-agent.service"
PYTHON="${PYTHON:-python3}"

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
fail() { printf 'install-agent: %s\n' "$*" >&2; exit 1; }

SERVER="" SOURCE="" TLS="true" CA_FILE=""
PASS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --server) SERVER="${2:?--server needs host:port}"; shift 2 ;;
        --token) PASS+=(--token "${2:?--token needs a value}"); shift 2 ;;
        --ca-file) CA_FILE="${2:?--ca-file needs a path}"; shift 2 ;;
        --no-tls) TLS="false"; CA_FILE=""; shift ;;
        --docker|--no-start) PASS+=("$1"); shift ;;
        --root) PASS+=(--dir "${2:?--root needs a directory}"); shift 2 ;;
        --python) PYTHON="${2:?--python needs a path}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) fail "unknown option $1 (see --help)" ;;
        *) [ -z "$SOURCE" ] || fail "only one SOURCE, got '$SOURCE' and '$1'"; SOURCE="$1"; shift ;;
    esac
done

[ -n "$SOURCE" ] || { usage; fail "SOURCE (wheel, sdist or repository path) is required"; }
[ -e "$SOURCE" ] || fail "SOURCE $SOURCE does not exist"
[ -n "$SERVER" ] || fail "--server host:port is required"
[ -f "$BODY" ] || fail "the install script is not at $BODY"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
if [[ "$SOURCE" == *.whl ]]; then
    WHEEL="$(cd "$(dirname "$SOURCE")" && pwd)/$(basename "$SOURCE")"
else
    printf '==> building a wheel from %s\n' "$SOURCE"
    "$PYTHON" -m venv "$WORK/build" || fail "$PYTHON cannot create a virtualenv; install python3-venv"
    "$WORK/build/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
        -w "$WORK/wheel" "$SOURCE" || fail "could not build a wheel from $SOURCE"
    WHEEL="$(ls "$WORK"/wheel/*.whl)"
fi

# The values the Tidewatch server would fill in; curl reads the wheel over file://.
TW_API_URL="file://" TW_WHEEL_PATH="$WHEEL" TW_WHEEL_NAME="$(basename "$WHEEL")"
TW_WHEEL_SHA256="$(sha256sum "$WHEEL" | cut -d' ' -f1)"
TW_COLLECTOR="$SERVER" TW_TLS="$TLS" TW_CA_FILE="$CA_FILE" TW_CA_PEM=""
TW_UNIT="$(cat "$UNIT" 2>/dev/null || true)"
export TW_API_URL TW_WHEEL_PATH TW_WHEEL_NAME TW_WHEEL_SHA256 TW_COLLECTOR TW_TLS TW_CA_FILE TW_CA_PEM TW_UNIT
bash "$BODY" --python "$PYTHON" "${PASS[@]}"

#!/usr/bin/env bash
# Install (or upgrade) the Tidewatch agent on a Debian/Ubuntu VPS.
#
#   sudo scripts/install-agent.sh --server collector.example.com:50051 --token tw_agent_... \
#       [--docker] [--ca-file ca.pem] [--no-tls] [--no-start] [--dry-run] SOURCE
#
# SOURCE is a wheel, an sdist or a checkout of the repository. Only the agent's
# own dependencies are installed (grpcio, protobuf, psutil, docker) into
# /opt/tidewatch-agent/venv. Safe to run again: existing config is kept, the
# package is upgraded and the service restarted.
#
# --root DIR installs into DIR instead of / (for tests and image builds): no
# user, no chown, no systemctl.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
UNIT_SOURCE="${SCRIPT_DIR}/../packaging/systemd/tidewatch-agent.service"
AGENT_USER="tidewatch-agent"
PYTHON="${PYTHON:-python3}"

SERVER="" TOKEN="" CA_FILE="" TLS="true" DOCKER=0 START=1 DRY_RUN=0 ROOT="/" SOURCE=""

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
step() { printf '==> %s\n' "$*"; }
fail() { printf 'install-agent: %s\n' "$*" >&2; exit 1; }
# Run a command, or only show it with --dry-run.
run() {
    printf '    + %s\n' "$*"
    if [ "$DRY_RUN" = 0 ]; then "$@"; fi
}

while [ $# -gt 0 ]; do
    case "$1" in
        --server) SERVER="${2:?--server needs host:port}"; shift 2 ;;
        --token) TOKEN="${2:?--token needs a value}"; shift 2 ;;
        --ca-file) CA_FILE="${2:?--ca-file needs a path}"; shift 2 ;;
        --no-tls) TLS="false"; shift ;;
        --docker) DOCKER=1; shift ;;
        --no-start) START=0; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) fail "unknown option $1 (see --help)" ;;
        *) [ -z "$SOURCE" ] || fail "only one SOURCE, got '$SOURCE' and '$1'"; SOURCE="$1"; shift ;;
    esac
done

[ -n "$SOURCE" ] || { usage; fail "SOURCE (wheel, sdist or repository path) is required"; }
[ -e "$SOURCE" ] || fail "SOURCE $SOURCE does not exist"
if [ -d "$SOURCE" ]; then
    SOURCE="$(cd "$SOURCE" && pwd)"
else
    SOURCE="$(cd "$(dirname "$SOURCE")" && pwd)/$(basename "$SOURCE")"
fi
[ -f "$UNIT_SOURCE" ] || fail "systemd unit not found at $UNIT_SOURCE"

ROOT="${ROOT%/}"
REAL_SYSTEM=0
[ -z "$ROOT" ] && REAL_SYSTEM=1
PREFIX="${ROOT}/opt/tidewatch-agent"
VENV="${PREFIX}/venv"
CONF_DIR="${ROOT}/etc/tidewatch"
CONFIG="${CONF_DIR}/agent.toml"
STATE_DIR="${ROOT}/var/lib/tidewatch-agent"
UNIT_DIR="${ROOT}/etc/systemd/system"

if [ "$REAL_SYSTEM" = 1 ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    fail "run as root (or use --dry-run / --root DIR)"
fi

step "checking Python (3.11 or newer, with venv)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "$PYTHON is older than 3.11; install python3.11 or set PYTHON=/path/to/python3.11"
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    command -v apt-get >/dev/null || fail "$PYTHON has no venv module; install it"
    run apt-get install -y python3-venv
fi

if [ "$REAL_SYSTEM" = 1 ]; then
    step "service user ${AGENT_USER}"
    if id -u "$AGENT_USER" >/dev/null 2>&1; then
        echo "    exists"
    else
        run useradd --system --home-dir /var/lib/tidewatch-agent --no-create-home \
            --shell /usr/sbin/nologin --user-group "$AGENT_USER"
    fi
    if [ "$DOCKER" = 1 ]; then
        if getent group docker >/dev/null; then
            # Membership of docker is root-equivalent on this host: only with --docker.
            run usermod -aG docker "$AGENT_USER"
        else
            echo "    no docker group on this host: Docker metrics will report 'unavailable'"
        fi
    fi
fi

step "virtualenv ${VENV}"
if [ -x "${VENV}/bin/python" ]; then
    echo "    exists"
else
    run mkdir -p "$PREFIX"
    run "$PYTHON" -m venv "$VENV"
fi
step "installing the agent from ${SOURCE} (agent dependencies only)"
run "${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$SOURCE"

step "directories"
run install -d -m 0750 "$CONF_DIR"
run install -d -m 0700 "$STATE_DIR" "${STATE_DIR}/spool"
if [ "$REAL_SYSTEM" = 1 ]; then
    run chown "root:${AGENT_USER}" "$CONF_DIR"
    run chown -R "${AGENT_USER}:${AGENT_USER}" "$STATE_DIR"
fi

step "config ${CONFIG}"
if [ -e "$CONFIG" ]; then
    echo "    exists: kept as it is (edit it, then: systemctl restart tidewatch-agent)"
else
    [ -n "$SERVER" ] || fail "no config yet: --server host:port is required"
    [ -n "$TOKEN" ] || fail "no config yet: --token is required"
    case "$SERVER$TOKEN$CA_FILE" in *'"'*|*'\'*) fail "quotes and backslashes are not allowed in --server/--token/--ca-file" ;; esac
    TLS_LINES="enabled = ${TLS}"
    [ -z "$CA_FILE" ] || TLS_LINES="${TLS_LINES}"$'\n'"ca_file = \"${CA_FILE}\""
    printf '    writing (mode 0640 root:%s)\n' "$AGENT_USER"
    if [ "$DRY_RUN" = 0 ]; then
        # Created 0640 from the start: the token never sits in a world-readable file.
        (umask 027; cat >"$CONFIG" <<EOF
# Tidewatch agent configuration; every key is described in docs/agent.md.
log_level = "info"

[server]
address = "${SERVER}"
token = "${TOKEN}"

[tls]
${TLS_LINES}

[spool]
directory = "/var/lib/tidewatch-agent/spool"

[features]
docker = true
docker_control = true
shell = true
script = true
pty = true
files = false
EOF
        )
        chmod 0640 "$CONFIG"
        if [ "$REAL_SYSTEM" = 1 ]; then chown "root:${AGENT_USER}" "$CONFIG"; fi
    fi
fi

step "systemd unit ${UNIT_DIR}/tidewatch-agent.service"
run install -d -m 0755 "$UNIT_DIR"
run install -m 0644 "$UNIT_SOURCE" "${UNIT_DIR}/tidewatch-agent.service"

if [ "$REAL_SYSTEM" = 1 ] && [ "$DRY_RUN" = 0 ]; then
    step "checking the config as ${AGENT_USER}"
    runuser -u "$AGENT_USER" -- "${VENV}/bin/tidewatch-agent" --check-config --config "$CONFIG"
fi

if [ "$REAL_SYSTEM" = 1 ] && [ -d /run/systemd/system ] && [ "$START" = 1 ]; then
    step "enabling and (re)starting the service"
    run systemctl daemon-reload
    run systemctl enable tidewatch-agent.service
    run systemctl restart tidewatch-agent.service
    echo "    follow it with: journalctl -u tidewatch-agent -f"
else
    step "not starting the service (no systemd, --no-start or --root)"
    echo "    start it by hand: ${VENV}/bin/tidewatch-agent --config ${CONFIG}"
fi
step "done"

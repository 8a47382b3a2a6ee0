# Install (or upgrade) the Tidewatch agent on this machine, from the Tidewatch server
# that served this script:
#
#   curl -fsSL https://tidewatch.example.com/agent/install.sh | sudo bash -s -- --token TOKEN
#
# Options (after "bash -s --"):
#   --token TOKEN        the agent token "Add server" showed (required)
#   --collector H:PORT   connect to this collector instead of the server's setting
#   --no-tls             plaintext to the collector (labs only)
#   --ca-file PATH       trust this CA file (on this machine) for the collector
#   --docker             let the agent read Docker (adds its user to the docker group:
#                        root-equivalent on this host)
#   --dir DIR            install into DIR for the current user: no root, no service
#   --no-start           install, but do not enable or start the service
#   --python PATH        the Python 3.11+ to use (default: python3)
#
# Needs only curl and Python 3.11+ with venv. Safe to run again: it upgrades the
# agent, rewrites the config from the options, and restarts the service.
set -euo pipefail

tw_step() { printf '==> %s\n' "$*"; }
tw_note() { printf '    %s\n' "$*"; }
tw_fail() {
    printf 'tidewatch install: error: %s\n' "$1" >&2
    [ $# -lt 2 ] || printf '  what to do: %s\n' "$2" >&2
    exit 1
}

tw_usage() {
    cat <<USAGE
Install or upgrade the Tidewatch agent from $TW_API_URL:
  curl -fsSL $TW_API_URL/agent/install.sh | sudo bash -s -- --token TOKEN [options]
  --token TOKEN  --collector HOST:PORT  --no-tls  --ca-file PATH  --docker
  --dir DIR (no root, no service)  --no-start  --python PATH
USAGE
}

tw_main() {
    local token="" collector="$TW_COLLECTOR" tls="$TW_TLS" ca_file="$TW_CA_FILE" docker=0 dir="" start=1
    local python="python3"
    while [ $# -gt 0 ]; do
        case "$1" in
            --token) [ $# -ge 2 ] || tw_fail "--token needs a value"; token="$2"; shift 2 ;;
            --collector) [ $# -ge 2 ] || tw_fail "--collector needs host:port"; collector="$2"; shift 2 ;;
            --no-tls) tls=false; ca_file=""; shift ;;
            --ca-file) [ $# -ge 2 ] || tw_fail "--ca-file needs a path"; ca_file="$2"; shift 2 ;;
            --docker) docker=1; shift ;;
            --dir) [ $# -ge 2 ] || tw_fail "--dir needs a directory"; dir="$2"; shift 2 ;;
            --no-start) start=0; shift ;;
            --python) [ $# -ge 2 ] || tw_fail "--python needs a path"; python="$2"; shift 2 ;;
            -h|--help) tw_usage; return 0 ;;
            *) tw_fail "unknown option '$1'" "see the options at the top of $TW_API_URL/agent/install.sh" ;;
        esac
    done

    [ -n "$token" ] || tw_fail "--token is required" \
        "copy the whole command from \"Add server\" in Tidewatch (or rotate the server's token there)"
    [[ "$token" =~ ^[A-Za-z0-9_.-]{1,200}$ ]] || tw_fail "the token has characters no Tidewatch token has" \
        "copy it again from Tidewatch, without quotes or spaces"
    local address_re='^[][A-Za-z0-9.:_%-]{1,300}:[0-9]{1,5}$'
    [[ "$collector" =~ $address_re ]] || tw_fail "collector '$collector' is not host:port" \
        "pass --collector host:port, or ask an admin to set the collector address in Tidewatch's Settings"
    if [ -n "$ca_file" ] && [[ "$ca_file" == *'"'* || "$ca_file" == *\\* ]]; then
        tw_fail "--ca-file may not contain quotes or backslashes"
    fi

    local system=1 venv conf_dir config state_dir ca_target owner_group=""
    if [ -n "$dir" ]; then
        system=0
        mkdir -p "$dir" || tw_fail "cannot create $dir" "choose a directory you can write to"
        dir="$(cd "$dir" && pwd)"
        venv="$dir/venv" conf_dir="$dir" config="$dir/agent.toml" state_dir="$dir/state"
    else
        [ "$(id -u)" = 0 ] || tw_fail "installing the service needs root" \
            "run it with sudo (as \"Add server\" shows), or pass --dir DIR to install for this user only"
        venv="/opt/tidewatch-agent/venv" conf_dir="/etc/tidewatch" config="/etc/tidewatch/agent.toml"
        state_dir="/var/lib/tidewatch-agent" owner_group="tidewatch-agent"
    fi
    ca_target="$conf_dir/collector-ca.pem"

    tw_step "checking this machine"
    command -v "$python" >/dev/null 2>&1 || tw_fail "no $python on PATH" \
        "install Python 3.11 or newer (Debian/Ubuntu: apt-get install python3 python3-venv), or pass --python PATH"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || tw_fail \
        "$("$python" -V 2>&1) is older than 3.11" "install Python 3.11 or newer and pass --python /path/to/python3.11"
    if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
        if [ "$system" = 1 ] && command -v apt-get >/dev/null 2>&1; then
            tw_note "$python has no venv module: installing python3-venv"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null ||
                tw_fail "apt-get could not install python3-venv" "run: apt-get update && apt-get install python3-venv"
        else
            tw_fail "$python has no venv module" "install it (Debian/Ubuntu: apt-get install python3-venv)"
        fi
    fi
    tw_note "$("$python" -V 2>&1) with venv"

    local work
    work="$(mktemp -d)"
    # shellcheck disable=SC2064  # expand now: $work is local
    trap "rm -rf '$work'" EXIT
    tw_step "downloading the agent from $TW_API_URL"
    curl -fsSL --retry 3 -o "$work/$TW_WHEEL_NAME" "$TW_API_URL$TW_WHEEL_PATH" || tw_fail \
        "could not download $TW_API_URL$TW_WHEEL_PATH" "check that this machine reaches the Tidewatch server"
    "$python" - "$work/$TW_WHEEL_NAME" "$TW_WHEEL_SHA256" <<'PY' || tw_fail "the downloaded agent is corrupt (sha256 differs)" "run the command again"
import hashlib, sys
with open(sys.argv[1], "rb") as f:
    sys.exit(hashlib.sha256(f.read()).hexdigest() != sys.argv[2])
PY
    tw_note "$TW_WHEEL_NAME (sha256 checked)"

    tw_step "virtualenv $venv"
    if "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
        tw_note "exists"
    else
        rm -rf "$venv"
        mkdir -p "$(dirname "$venv")"
        "$python" -m venv "$venv" || tw_fail "could not create the virtualenv $venv" \
            "check the free space and that $python's venv module works"
        tw_note "created"
    fi

    tw_step "installing the agent; grpcio, protobuf, psutil and docker come from the package index"
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off \
        --upgrade "$work/$TW_WHEEL_NAME" 2>&1 | sed -u 's/^/    /' || tw_fail "pip could not install the agent (see above)" \
        "check that this machine reaches the package index (pip config list, PIP_INDEX_URL), then run the command again"
    tw_note "installed: $("$venv/bin/tidewatch-agent" --version 2>&1)"

    if [ "$system" = 1 ]; then
        tw_step "service user $owner_group"
        if id -u "$owner_group" >/dev/null 2>&1; then
            tw_note "exists"
        else
            useradd --system --home-dir "$state_dir" --no-create-home --shell /usr/sbin/nologin \
                --user-group "$owner_group" || tw_fail "could not create the user $owner_group" \
                "create it by hand (useradd --system $owner_group), then run the command again"
            tw_note "created"
        fi
        if [ "$docker" = 1 ]; then
            if getent group docker >/dev/null; then
                usermod -aG docker "$owner_group"
                tw_note "added to the docker group"
            else
                tw_note "no docker group on this machine: Docker metrics will say 'unavailable'"
            fi
        fi
    fi

    tw_step "config $config"
    install -d -m 0750 "$conf_dir"
    install -d -m 0700 "$state_dir" "$state_dir/spool"
    if [ -n "$owner_group" ]; then
        chown "root:$owner_group" "$conf_dir"
        chown -R "$owner_group:$owner_group" "$state_dir"
    fi
    if [ -n "$TW_CA_PEM" ] && [ "$tls" = true ] && [ "$ca_file" = "$TW_CA_FILE" ]; then
        printf '%s\n' "$TW_CA_PEM" >"$work/ca.pem"
        install -m 0644 "$work/ca.pem" "$ca_target"
        ca_file="$ca_target"
        tw_note "collector CA written to $ca_target"
    fi
    local ca_line=""
    [ -z "$ca_file" ] || ca_line="ca_file = \"$ca_file\""
    # Created 0640 from the start: the token never sits in a world-readable file.
    (umask 027; cat >"$work/agent.toml" <<EOF
# Written by $TW_API_URL/agent/install.sh; run it again to change it. Keys: docs/agent.md.
log_level = "info"

[server]
address = "$collector"
token = "$token"

[tls]
enabled = $tls
$ca_line

[spool]
directory = "$state_dir/spool"
EOF
    )
    if [ -f "$config" ] && cmp -s "$work/agent.toml" "$config"; then
        tw_note "unchanged"
    else
        [ ! -f "$config" ] || { cp -p "$config" "$config.previous"; tw_note "the old one is kept as $config.previous"; }
        install -m 0640 "$work/agent.toml" "$config"
        tw_note "written: collector $collector, TLS $tls${ca_file:+, CA $ca_file}"
    fi
    [ -z "$owner_group" ] || chown "root:$owner_group" "$config"

    tw_step "checking the config"
    local run_as=()
    [ -z "$owner_group" ] || run_as=(runuser -u "$owner_group" --)
    "${run_as[@]}" "$venv/bin/tidewatch-agent" --check-config --config "$config" | sed 's/^/    /' ||
        tw_fail "the agent refused its config (see above)" "fix the options and run the command again"

    local run_command="${run_as[*]:+${run_as[*]} }$venv/bin/tidewatch-agent --config $config"
    if [ "$system" = 1 ] && [ "$start" = 1 ] && [ -d /run/systemd/system ] && [ -n "$TW_UNIT" ]; then
        tw_step "systemd service tidewatch-agent"
        printf '%s\n' "$TW_UNIT" >"$work/tidewatch-agent.service"
        install -m 0644 "$work/tidewatch-agent.service" /etc/systemd/system/tidewatch-agent.service
        systemctl daemon-reload
        systemctl enable --quiet tidewatch-agent.service
        systemctl restart tidewatch-agent.service || tw_fail "the service did not start" \
            "see: journalctl -u tidewatch-agent -n 50"
        tw_note "running; follow it with: journalctl -u tidewatch-agent -f"
    else
        if [ "$start" = 0 ]; then
            tw_step "not starting the agent (--no-start)"
        elif [ "$system" = 0 ]; then
            tw_step "not installing a service (--dir)"
        elif [ -z "$TW_UNIT" ]; then
            tw_step "the Tidewatch server has no systemd unit to give (it runs without packaging/): start the agent yourself"
        else
            tw_step "no systemd on this machine: start the agent yourself"
        fi
        tw_note "run: $run_command"
    fi
    tw_step "done: the server turns online in Tidewatch once the agent connects"
}

# Everything above only defines functions: a download cut short runs nothing.
tw_main "$@"

#!/usr/bin/env bash
# Run the whole Tidewatch stack on this machine, for trying it out and for
# development: TimescaleDB, collector, API, dashboards and an agent watching
# this host. Everything listens on 127.0.0.1 only. Ctrl-C stops it all.
#
#   bash scripts/run-local.sh            # add --with-docker to start a local Docker engine too
#
# Set TIDEWATCH_DSN to use an existing TimescaleDB instead of the local one.
# Set TIDEWATCH_LOCAL_COLLECTORS=N to run N collector processes on the one agent port:
# they share it with SO_REUSEPORT (the kernel spreads agent connections among them),
# each with its own metrics port (9464, 9465, ...). See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE="${TIDEWATCH_STATE:-/var/lib/tidewatch-dev}"
export TIDEWATCH_STATE="$STATE"
LOGS="$STATE/logs"
GRPC_PORT="${TIDEWATCH_LOCAL_GRPC_PORT:-50051}"
API_PORT="${TIDEWATCH_LOCAL_API_PORT:-8000}"
DASH_PORT="${TIDEWATCH_LOCAL_DASHBOARDS_PORT:-8050}"
METRICS_PORT="${TIDEWATCH_LOCAL_METRICS_PORT:-9464}"
COLLECTORS="${TIDEWATCH_LOCAL_COLLECTORS:-1}"
[[ "$COLLECTORS" =~ ^[1-9][0-9]*$ ]] || { echo "TIDEWATCH_LOCAL_COLLECTORS must be a positive integer" >&2; exit 1; }
# The start command the API, dashboards and tidewatch-admin show for a new VPS: this
# collector, which has no certificate here, so plaintext.
export TIDEWATCH_INSTALL_COLLECTOR_ADDRESS="${TIDEWATCH_INSTALL_COLLECTOR_ADDRESS:-127.0.0.1:$GRPC_PORT}"
export TIDEWATCH_INSTALL_TLS="${TIDEWATCH_INSTALL_TLS:-false}"
export TIDEWATCH_INSTALL_API_URL="${TIDEWATCH_INSTALL_API_URL:-http://127.0.0.1:$API_PORT}"

step() { printf '\033[1m[tidewatch]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[tidewatch] error:\033[0m %s\n' "$*" >&2; exit 1; }

for port in "$GRPC_PORT" "$API_PORT" "$DASH_PORT" "$METRICS_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port on 127.0.0.1 is already in use (another Tidewatch?). Stop it, or set TIDEWATCH_LOCAL_*_PORT."
    fi
done

bash scripts/setup.sh
if [[ "${1:-}" == "--with-docker" ]]; then
    step "starting a local Docker engine…"
    bash scripts/local-docker.sh
fi
if [[ -z "${TIDEWATCH_DSN:-}" ]]; then
    step "starting the local TimescaleDB…"
    TIDEWATCH_DSN="$(bash scripts/local-db.sh)"
fi
export TIDEWATCH_DSN
mkdir -p "$LOGS" && chmod 700 "$STATE"

step "applying database migrations…"
.venv/bin/tidewatch-migrate 2>&1 | sed 's/^/  /' >&2
.venv/bin/tidewatch-admin bootstrap >/dev/null

TOKEN_FILE="$STATE/local-agent.token"
if [[ ! -s "$TOKEN_FILE" ]]; then
    step "registering this machine as a VPS…"
    name="$(hostname -s)"
    for suffix in "" -2 -3 -4 -5; do
        if token="$(.venv/bin/tidewatch-admin create-vps "$name$suffix" --ip 127.0.0.1 2>/dev/null)"; then
            (umask 077; echo "$token" > "$TOKEN_FILE")
            break
        fi
    done
    [[ -s "$TOKEN_FILE" ]] || die "could not register this machine as a VPS; see: .venv/bin/tidewatch-admin create-vps NAME"
fi

pids=()
cleanup() {
    trap - INT TERM EXIT
    step "stopping…"
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

launch() {
    local name=$1; shift
    "$@" >>"$LOGS/$name.log" 2>&1 &
    pids+=($!)
}
wait_port() {
    local name=$1 port=$2
    for _ in $(seq 1 150); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.2
    done
    tail -20 "$LOGS/$name.log" >&2
    die "$name did not start; its log is above ($LOGS/$name.log)"
}

step "starting the collector, API, dashboards and alert evaluator (logs in $LOGS)…"
for i in $(seq 0 $((COLLECTORS - 1))); do
    # Same agent port for all (SO_REUSEPORT); rollup maintenance runs under a fleet-wide lock.
    launch "collector$([[ $i -gt 0 ]] && echo "-$i")" env TIDEWATCH_COLLECTOR_LISTEN="127.0.0.1:$GRPC_PORT" \
        TIDEWATCH_COLLECTOR_METRICS_LISTEN="127.0.0.1:$((METRICS_PORT + i))" .venv/bin/tidewatch-collector
done
launch api env TIDEWATCH_API_LISTEN="127.0.0.1:$API_PORT" .venv/bin/tidewatch-api
launch dashboards env TIDEWATCH_DASHBOARDS_LISTEN="127.0.0.1:$DASH_PORT" \
    TIDEWATCH_DASHBOARDS_API_URL="http://127.0.0.1:$API_PORT" .venv/bin/tidewatch-dashboards
launch alerts .venv/bin/tidewatch-alerts
wait_port collector "$GRPC_PORT"
wait_port api "$API_PORT"
wait_port dashboards "$DASH_PORT"

step "starting the agent for this machine…"
mkdir -p "$STATE/agent-spool"
launch agent env TIDEWATCH_AGENT_CONFIG=/dev/null TIDEWATCH_AGENT_SERVER="127.0.0.1:$GRPC_PORT" \
    TIDEWATCH_AGENT_TOKEN_FILE="$TOKEN_FILE" TIDEWATCH_AGENT_TLS=false \
    TIDEWATCH_AGENT_SPOOL_DIRECTORY="$STATE/agent-spool" .venv/bin/tidewatch-agent

password="(see $STATE/admin-password)"
[[ -r "$STATE/admin-password" ]] && password="$(cat "$STATE/admin-password")"
cat <<MSG

  Tidewatch is running.

    Dashboards   http://127.0.0.1:$DASH_PORT
    API          http://127.0.0.1:$API_PORT   (OpenAPI: http://127.0.0.1:$API_PORT/schema)
    Agent link   127.0.0.1:$GRPC_PORT (gRPC)   Collector metrics: http://127.0.0.1:$METRICS_PORT/metrics
    Database     $(sed -E 's#//([^:]+):[^@]*@#//\1:***@#; s#password=[^ ]*#password=***#' <<<"$TIDEWATCH_DSN")

    Log in as    admin / $password

  Logs: $LOGS    Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}" || true
step "a service exited; see the logs in $LOGS"

#!/usr/bin/env bash
# Provision and start a local TimescaleDB for development and tests.
#
# Debian 12 ships no TimescaleDB, so we build a small Debian 13 (trixie) root
# with debootstrap and run postgresql-17-timescaledb from it, bound to
# 127.0.0.1 only. The root lives outside the clone, so later runs take seconds.
#
# Prints the DSN on its last line and writes it to $TIDEWATCH_STATE/local-db.dsn.
# A TIDEWATCH_DSN given by the user always wins: then this script does nothing.
set -euo pipefail

CACHE_DIR="${TIDEWATCH_CACHE:-/var/cache/tidewatch}"
STATE_DIR="${TIDEWATCH_STATE:-/var/lib/tidewatch-dev}"
ROOT="$CACHE_DIR/trixie-root"
PORT="${TIDEWATCH_LOCAL_DB_PORT:-55432}"
PGBIN=/usr/lib/postgresql/17/bin
PGDATA_IN_ROOT=/var/lib/tidewatch/pgdata
DB_NAME=tidewatch
DB_USER=tidewatch

step() { printf '\033[1m[local-db]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[local-db] error:\033[0m %s\n' "$*" >&2; exit 1; }

if [[ -n "${TIDEWATCH_DSN:-}" ]]; then
    step "TIDEWATCH_DSN is set; using that database and provisioning nothing."
    echo "$TIDEWATCH_DSN"
    exit 0
fi

if [[ $EUID -ne 0 ]]; then
    die "the local TimescaleDB needs root (it uses debootstrap and chroot).
  Run this as root, or point Tidewatch at a database you already have:
    export TIDEWATCH_DSN=postgresql://user:pass@host:5432/tidewatch
  or run the production stack with Docker:  docker compose up -d"
fi
if [[ ! -f /etc/debian_version ]] || ! command -v apt-get >/dev/null; then
    die "the local TimescaleDB is built with Debian tools (apt-get, debootstrap).
  On other systems set TIDEWATCH_DSN to an existing TimescaleDB, or use compose.yaml."
fi

mkdir -p "$CACHE_DIR" "$STATE_DIR"
chmod 700 "$STATE_DIR"

if [[ ! -f "$ROOT/.tidewatch-complete" ]]; then
    if ! command -v debootstrap >/dev/null; then
        step "installing debootstrap (apt-get)…"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    step "building a Debian trixie root with TimescaleDB in $ROOT (about a minute, 700 MB, once)…"
    rm -rf "$ROOT.partial"
    debootstrap --variant=minbase --include=postgresql-17,postgresql-17-timescaledb \
        trixie "$ROOT.partial" 2>&1 | while IFS= read -r line; do
            case "$line" in I:\ Retrieving*|I:\ Validating*|I:\ Unpacking*|I:\ Configuring*) ;;
                *) printf '  %s\n' "$line" >&2 ;; esac
        done
    [[ -x "$ROOT.partial$PGBIN/postgres" ]] || die "debootstrap finished but PostgreSQL 17 is missing in the root"
    touch "$ROOT.partial/.tidewatch-complete"
    rm -rf "$ROOT"
    mv "$ROOT.partial" "$ROOT"
    step "trixie root ready."
fi

in_root() { chroot "$ROOT" "$@"; }
as_postgres() { chroot "$ROOT" su postgres -s /bin/sh -c "$*"; }

if [[ ! -f "$ROOT$PGDATA_IN_ROOT/PG_VERSION" ]]; then
    step "initialising the database cluster…"
    in_root mkdir -p "$PGDATA_IN_ROOT"
    in_root chown -R postgres:postgres /var/lib/tidewatch
    as_postgres "$PGBIN/initdb -D $PGDATA_IN_ROOT -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8" >/dev/null
    cat >> "$ROOT$PGDATA_IN_ROOT/postgresql.conf" <<CONF
# Tidewatch local development settings
shared_preload_libraries = 'timescaledb'
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '/tmp'
max_connections = 300
shared_buffers = 512MB
synchronous_commit = on
timescaledb.telemetry_level = off
CONF
fi

if ! as_postgres "$PGBIN/pg_ctl -D $PGDATA_IN_ROOT status" >/dev/null 2>&1; then
    step "starting PostgreSQL 17 + TimescaleDB on 127.0.0.1:$PORT…"
    as_postgres "$PGBIN/pg_ctl -D $PGDATA_IN_ROOT -l $PGDATA_IN_ROOT/server.log -w -t 60 start" >/dev/null \
        || { tail -20 "$ROOT$PGDATA_IN_ROOT/server.log" >&2; die "PostgreSQL did not start; its log is above"; }
fi

PASSWORD_FILE="$STATE_DIR/local-db.password"
if [[ ! -s "$PASSWORD_FILE" ]]; then
    (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$PASSWORD_FILE")
fi
PASSWORD="$(cat "$PASSWORD_FILE")"

psql_root() { as_postgres "PGOPTIONS='-c client_min_messages=warning' $PGBIN/psql -h /tmp -p $PORT -U postgres -v ON_ERROR_STOP=1 -qAt $*"; }
if [[ "$(psql_root "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'\"")" != 1 ]]; then
    step "creating role $DB_USER and database $DB_NAME…"
    psql_root "-c \"CREATE ROLE $DB_USER LOGIN CREATEROLE PASSWORD '$PASSWORD'\""
fi
psql_root "-c \"ALTER ROLE $DB_USER PASSWORD '$PASSWORD'\""
if [[ "$(psql_root "-c \"SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'\"")" != 1 ]]; then
    psql_root "-c \"CREATE DATABASE $DB_NAME OWNER $DB_USER\""
fi
# The extension needs a superuser to create; migrations then only use it.
psql_root "-d $DB_NAME -c \"CREATE EXTENSION IF NOT EXISTS timescaledb\""
# Tests create throwaway databases from a template that already has the extension.
psql_root "-c \"ALTER ROLE $DB_USER CREATEDB\""
if [[ "$(psql_root "-c \"SELECT 1 FROM pg_database WHERE datname = 'tidewatch_template'\"")" != 1 ]]; then
    psql_root "-c \"CREATE DATABASE tidewatch_template OWNER $DB_USER\""
    psql_root "-d tidewatch_template -c \"CREATE EXTENSION IF NOT EXISTS timescaledb\""
fi
# Nobody (TimescaleDB's scheduler included) may connect to the template, so copies never wait.
psql_root "-c \"ALTER DATABASE tidewatch_template WITH IS_TEMPLATE true ALLOW_CONNECTIONS false\""
psql_root "-c \"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'tidewatch_template'\"" >/dev/null

DSN="postgresql://$DB_USER:$PASSWORD@127.0.0.1:$PORT/$DB_NAME"
(umask 077; echo "$DSN" > "$STATE_DIR/local-db.dsn")
step "TimescaleDB is up at 127.0.0.1:$PORT (DSN saved in $STATE_DIR/local-db.dsn)."
echo "$DSN"

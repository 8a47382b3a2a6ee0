#!/usr/bin/env bash
# Provision and start a local TimescaleDB for development and tests.
#
# Debian 12 ships no TimescaleDB, so we build a small Debian 13 (trixie) root
# with debootstrap and run postgresql-17-timescaledb from it, bound to
# 127.0.0.1 only. The root lives outside the clone, so later runs take seconds.
#
#   scripts/local-db.sh                      Apache edition (Debian's package), port 55432
#   scripts/local-db.sh --edition timescale  Community (TSL) edition, port 55433, beside it:
#       built once from the TimescaleDB source archive (scripts/build-timescaledb.sh);
#       the production image (compose.yaml) runs this edition.
#
# Prints the DSN on its last line and writes it to $TIDEWATCH_STATE/local-db.dsn
# (local-db-timescale.dsn for the Community edition). A DSN given by the user
# (TIDEWATCH_DSN, or TIDEWATCH_TIMESCALE_DSN for the Community edition) always
# wins: then this script does nothing.
# Exit status 3: the Community edition was asked for but its source is missing.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
CACHE_DIR="${TIDEWATCH_CACHE:-/var/cache/tidewatch}"
STATE_DIR="${TIDEWATCH_STATE:-/var/lib/tidewatch-dev}"
APACHE_ROOT="$CACHE_DIR/trixie-root"
PGBIN=/usr/lib/postgresql/17/bin
PGDATA_IN_ROOT=/var/lib/tidewatch/pgdata
DB_NAME=tidewatch
DB_USER=tidewatch

EDITION=apache
while [[ $# -gt 0 ]]; do
    case "$1" in
        --edition) EDITION="${2:-}"; shift 2 || shift ;;
        --edition=*) EDITION="${1#--edition=}"; shift ;;
        *) printf '[local-db] error: unknown argument %s (use --edition apache|timescale)\n' "$1" >&2; exit 2 ;;
    esac
done
case "$EDITION" in
    apache)
        ROOT="$APACHE_ROOT"
        PORT="${TIDEWATCH_LOCAL_DB_PORT:-55432}"
        DSN_FILE="$STATE_DIR/local-db.dsn"
        GIVEN_DSN="${TIDEWATCH_DSN:-}"
        GIVEN_DSN_NAME=TIDEWATCH_DSN
        ;;
    timescale)
        ROOT="$CACHE_DIR/trixie-root-tsl"
        PORT="${TIDEWATCH_LOCAL_TIMESCALE_PORT:-55433}"
        DSN_FILE="$STATE_DIR/local-db-timescale.dsn"
        GIVEN_DSN="${TIDEWATCH_TIMESCALE_DSN:-}"
        GIVEN_DSN_NAME=TIDEWATCH_TIMESCALE_DSN
        SOURCE="${TIDEWATCH_TIMESCALEDB_SOURCE:-$REPO/../shared/vendor/timescaledb-2.19.3.tar.gz}"
        ;;
    *) printf '[local-db] error: unknown edition "%s" (use apache or timescale)\n' "$EDITION" >&2; exit 2 ;;
esac

step() { printf '\033[1m[local-db]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[local-db] error:\033[0m %s\n' "$*" >&2; exit 1; }

if [[ -n "$GIVEN_DSN" ]]; then
    step "$GIVEN_DSN_NAME is set; using that database and provisioning nothing."
    echo "$GIVEN_DSN"
    exit 0
fi
if [[ $EDITION == timescale && ! -f "$ROOT/.tidewatch-complete" && ! -r "$SOURCE" ]]; then
    printf '\033[33m[local-db]\033[0m %s\n' "the Community (TSL) edition is built from the TimescaleDB source archive,
  which is not at $SOURCE.
  Set TIDEWATCH_TIMESCALEDB_SOURCE to a copy of timescaledb-2.19.3.tar.gz (upstream tag 2.19.3),
  or keep using the Apache edition, which needs nothing more:  scripts/local-db.sh" >&2
    exit 3
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

if [[ ! -f "$APACHE_ROOT/.tidewatch-complete" ]]; then
    if ! command -v debootstrap >/dev/null; then
        step "installing debootstrap (apt-get)…"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    step "building a Debian trixie root with TimescaleDB in $APACHE_ROOT (about a minute, 700 MB, once)…"
    rm -rf "$APACHE_ROOT.partial"
    debootstrap --variant=minbase --include=postgresql-17,postgresql-17-timescaledb \
        trixie "$APACHE_ROOT.partial" 2>&1 | while IFS= read -r line; do
            case "$line" in I:\ Retrieving*|I:\ Validating*|I:\ Unpacking*|I:\ Configuring*) ;;
                *) printf '  %s\n' "$line" >&2 ;; esac
        done
    [[ -x "$APACHE_ROOT.partial$PGBIN/postgres" ]] || die "debootstrap finished but PostgreSQL 17 is missing in the root"
    touch "$APACHE_ROOT.partial/.tidewatch-complete"
    rm -rf "$APACHE_ROOT"
    mv "$APACHE_ROOT.partial" "$APACHE_ROOT"
    step "trixie root ready."
fi
if [[ $EDITION == timescale && ! -f "$ROOT/.tidewatch-complete" ]]; then
    bash "$REPO/scripts/build-timescaledb.sh" "$APACHE_ROOT" "$ROOT" "$SOURCE"
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
    if [[ $EDITION == timescale ]]; then
        cat >> "$ROOT$PGDATA_IN_ROOT/postgresql.conf" <<CONF
timescaledb.license = 'timescale'
# Each migrated database holds 37 jobs (10 refresh, 18 retention and 7
# compression policies, TimescaleDB's own) and one scheduler; tests keep several
# databases at once. Too few workers and jobs silently fail to start.
timescaledb.max_background_workers = 48
# TimescaleDB's workers, its launcher, and room for parallel query workers.
max_worker_processes = 64
CONF
    fi
fi

if ! as_postgres "$PGBIN/pg_ctl -D $PGDATA_IN_ROOT status" >/dev/null 2>&1; then
    step "starting PostgreSQL 17 + TimescaleDB ($EDITION edition) on 127.0.0.1:$PORT…"
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
(umask 077; echo "$DSN" > "$DSN_FILE")
step "TimescaleDB ($EDITION edition) is up at 127.0.0.1:$PORT (DSN saved in $DSN_FILE)."
echo "$DSN"

"""Throwaway databases for tests and benchmarks, migrated like production.

``scratch_database(dsn)`` creates ``<prefix>_<pid>_<random>`` on the server
``dsn`` points at, enables TimescaleDB, applies ``sql/`` and drops it on exit.
The role needs CREATEDB; TimescaleDB is a trusted extension, so the database
owner may create it without being a superuser.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from common.migrate import apply_migrations

__all__ = [
    "create_scratch_database",
    "drop_scratch_database",
    "drop_stale_scratch_databases",
    "scratch_database",
    "with_database",
]

log = logging.getLogger("tidewatch.scratch_db")

_PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


def with_database(dsn: str, dbname: str) -> str:
    """``dsn`` with its database replaced by ``dbname``."""
    return make_conninfo(dsn, dbname=dbname)


def create_scratch_database(dsn: str, prefix: str = "tidewatch_test") -> str:
    """Create and migrate a fresh database; return its DSN."""
    if not _PREFIX_PATTERN.match(prefix):
        raise ValueError(f"scratch database prefix {prefix!r} must match {_PREFIX_PATTERN.pattern}")
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise PermissionError(
                f"role {conninfo_to_dict(dsn).get('user', '?')} may not create databases; "
                "grant it once as the postgres superuser: ALTER ROLE <role> CREATEDB"
            ) from exc
    scratch_dsn = with_database(dsn, name)
    try:
        apply_migrations(scratch_dsn)
    except BaseException:
        drop_scratch_database(dsn, scratch_dsn)
        raise
    return scratch_dsn


def drop_scratch_database(dsn: str, scratch_dsn: str) -> None:
    """Drop the database of ``scratch_dsn``, closing whatever still uses it."""
    name = str(conninfo_to_dict(scratch_dsn)["dbname"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def drop_stale_scratch_databases(dsn: str, prefix: str = "tidewatch_test") -> list[str]:
    """Drop scratch databases left by processes of this machine that died.

    Only for a server on this machine: elsewhere a pid says nothing about liveness.
    """
    if str(conninfo_to_dict(dsn).get("host", "")) not in _LOCAL_HOSTS:
        return []
    pattern = re.compile(rf"^{re.escape(prefix)}_(?P<pid>\d+)_[0-9a-f]{{8}}$")
    dropped: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database")]
        for name in names:
            match = pattern.match(name)
            if match is None or _process_alive(int(match["pid"])):
                continue
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            dropped.append(name)
    if dropped:
        log.info("dropped %d stale scratch database(s): %s", len(dropped), ", ".join(dropped))
    return dropped


@contextmanager
def scratch_database(dsn: str, prefix: str = "tidewatch_test") -> Iterator[str]:
    """A migrated scratch database for the duration of the block."""
    drop_stale_scratch_databases(dsn, prefix)
    scratch_dsn = create_scratch_database(dsn, prefix)
    try:
        yield scratch_dsn
    finally:
        drop_scratch_database(dsn, scratch_dsn)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

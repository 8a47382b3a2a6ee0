"""A login for the read-only ``tidewatch_reader`` role, as an analyst or Grafana would get it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

__all__ = ["reader_login"]


@contextmanager
def reader_login(dsn: str) -> Iterator[str]:
    """A DSN for a fresh login role whose only privileges come from ``tidewatch_reader``
    (sql/0005_reader_role.sql). Dropped afterwards."""
    name = f"tw_reader_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE tidewatch_reader").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
    try:
        yield make_conninfo(dsn, user=name, password=password)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))

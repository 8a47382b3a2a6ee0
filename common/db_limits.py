"""Client-side time limits for database work, for a server that stops answering.

A server-side ``statement_timeout`` does nothing when the server itself is
frozen (stopped, swapping, a hung disk), and TCP keepalives are answered by the
server's kernel even then. So every unit of work (taking a pooled connection,
the statements, the COMMIT) runs under a client-side limit: when it expires the
connection's socket is shut down, libpq fails at once with the connection
broken, and the pool discards it. Cancelling the task instead would make
psycopg send a cancel request to the frozen server and wait for it.

After a limit expires during COMMIT the outcome is unknown: callers must treat
the work as not done (the collector does not ack; the agent's replay is then
recognised by ``ingested_batches``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import time
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

__all__ = [
    "DatabaseUnresponsive",
    "check_within_deadline",
    "connect_kwargs",
    "is_connection_failure",
    "limited_connection",
    "time_limit",
]

ConnT = TypeVar("ConnT", bound=AsyncConnection[Any])

# Dead peers (a host gone, a cable pulled) are found by the kernel within about
# idle + interval * count seconds, and unacknowledged writes fail after
# TCP_USER_TIMEOUT_MS. Neither notices a stopped server process: time_limit does.
KEEPALIVES_IDLE_S = 10
KEEPALIVES_INTERVAL_S = 5
KEEPALIVES_COUNT = 3
TCP_USER_TIMEOUT_MS = 30_000
# The pool's connection check, when no caller deadline applies.
DEFAULT_CHECK_LIMIT_S = 2.0

_deadline: ContextVar[float | None] = ContextVar("tidewatch_db_deadline", default=None)


class DatabaseUnresponsive(psycopg.OperationalError):
    """The database gave no answer within a client-side limit; the connection was discarded."""

    def __init__(self, what: str, limit_s: float) -> None:
        super().__init__(f"{what}: no answer from the database within {limit_s:g} s")
        self.what = what
        self.limit_s = limit_s


def connect_kwargs(dsn: str, connect_timeout_s: float) -> dict[str, Any]:
    """libpq connection parameters that bound connecting and detect dead peers.

    Values the DSN sets itself are left alone.
    """
    wanted: dict[str, Any] = {
        # libpq counts whole seconds and treats less than 2 as 2.
        "connect_timeout": max(2, math.ceil(connect_timeout_s)),
        "keepalives": 1,
        "keepalives_idle": KEEPALIVES_IDLE_S,
        "keepalives_interval": KEEPALIVES_INTERVAL_S,
        "keepalives_count": KEEPALIVES_COUNT,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
    }
    given = conninfo_to_dict(dsn)
    return {key: value for key, value in wanted.items() if key not in given}


def is_connection_failure(exc: BaseException) -> bool:
    """True when ``exc`` means the database did not answer, rather than refused the statement."""
    if isinstance(exc, PoolTimeout | OSError):
        return True
    if isinstance(exc, psycopg.OperationalError):
        # No SQLSTATE: raised by libpq (refused, reset, closed). 08: connection
        # exceptions; 57P: the server shutting down or starting up.
        return exc.sqlstate is None or exc.sqlstate.startswith(("08", "57P"))
    return False


def _shut_down(conn: AsyncConnection[Any]) -> None:
    """Break the connection now: pending and later reads and writes fail at once."""
    with contextlib.suppress(OSError, psycopg.Error):
        fd = conn.pgconn.socket
        # A duplicate descriptor, so libpq's own stays valid until the pool closes it.
        with socket.socket(fileno=socket.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)


class _Limit:
    """Whether a :func:`time_limit` expired (and so broke its connection)."""

    expired = False


@contextlib.asynccontextmanager
async def time_limit(conn: AsyncConnection[Any], limit_s: float, what: str) -> AsyncIterator[_Limit]:
    """Run the block on ``conn`` for at most ``limit_s``; past it, break the connection
    and raise :class:`DatabaseUnresponsive`."""
    limit = _Limit()

    def expire() -> None:
        limit.expired = True
        _shut_down(conn)

    timer = asyncio.get_running_loop().call_later(max(limit_s, 0.0), expire)
    try:
        yield limit
    except Exception as exc:
        if limit.expired:
            raise DatabaseUnresponsive(what, limit_s) from exc
        raise
    finally:
        timer.cancel()


async def check_within_deadline(conn: AsyncConnection[Any]) -> None:
    """A pool ``check`` that cannot hang: it gets what is left of the caller's limit."""
    deadline = _deadline.get()
    limit_s = DEFAULT_CHECK_LIMIT_S if deadline is None else max(0.05, deadline - time.monotonic())
    async with time_limit(conn, limit_s, "connection check"):
        await AsyncConnectionPool.check_connection(conn)


@contextlib.asynccontextmanager
async def limited_connection(
    pool: AsyncConnectionPool[ConnT], limit_s: float, what: str
) -> AsyncIterator[ConnT]:
    """``pool.connection()`` where taking the connection, the block and the commit
    together last at most ``limit_s``; the wait for a connection alone, at most
    the pool's ``timeout`` too.

    Raises PoolTimeout when no connection comes in time, DatabaseUnresponsive
    when the database stops answering; a connection broken by the limit is
    closed before it goes back, so the pool discards it.
    """
    deadline = time.monotonic() + limit_s
    token = _deadline.set(deadline)
    try:
        conn = await pool.getconn(timeout=min(limit_s, pool.timeout))
    finally:
        _deadline.reset(token)
    try:
        try:
            # ``async with conn``: commit on success, roll back on error, as pool.connection() does.
            async with time_limit(conn, deadline - time.monotonic(), what) as limit, conn:
                yield conn
        except DatabaseUnresponsive as exc:
            raise DatabaseUnresponsive(what, limit_s) from exc.__cause__
        if limit.expired:
            # The limit broke the connection just as the block ended: don't pool it.
            await conn.close()
    finally:
        await pool.putconn(conn)

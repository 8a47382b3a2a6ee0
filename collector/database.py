"""The collector's connection pool: every use time-limited, and one view of whether
the database answers.

Work that hits a limit, finds no connection, or loses its connection starts an
outage episode: one log line, ``tidewatch_collector_database_up`` 0. The first
work started after that which the database answers ends it: one more line, the
gauge back to 1. Reports from work started before the last change are stale
(it may have been waiting since before the outage) and are ignored, so the
state does not flap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from collector import metrics
from common.db_limits import DatabaseUnresponsive, connect_kwargs, is_connection_failure, limited_connection
from common.settings import CollectorSettings

__all__ = ["Database", "DatabaseHealth"]

log = logging.getLogger("tidewatch.collector.database")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class DatabaseHealth:
    """Whether the database answers, from what the collector's work reports."""

    def __init__(self) -> None:
        self.up = True
        self._changed_at = float("-inf")
        self._down_since = 0.0

    def failed(self, started: float, exc: BaseException) -> None:
        """Work started at ``started`` (monotonic) got no answer: ``exc`` says why."""
        if not self.up or started < self._changed_at:
            return
        self.up = False
        self._changed_at = time.monotonic()
        self._down_since = started
        metrics.DB_UP.set(0)
        if isinstance(exc, DatabaseUnresponsive | PoolTimeout):
            reason = (
                f"{exc.what}: no answer" if isinstance(exc, DatabaseUnresponsive) else "no connection in time"
            )
            log.error(
                "database unresponsive for %.0f s (%s); unacknowledged batches stay queued, "
                "agents keep theirs until it answers",
                self._changed_at - started,
                reason,
            )
        else:
            log.error(
                "database unavailable (%s); unacknowledged batches stay queued, "
                "agents keep theirs until it answers",
                _first_line(exc),
            )

    def answered(self, started: float) -> None:
        """Work started at ``started`` got its answers."""
        if self.up or started < self._changed_at:
            return
        self.up = True
        self._changed_at = time.monotonic()
        metrics.DB_UP.set(1)
        log.warning("database back after %.0f s", self._changed_at - self._down_since)


class Database:
    """The pool, with :meth:`connection` the only way in."""

    def __init__(self, settings: CollectorSettings, dsn: str) -> None:
        self.query_limit_s = settings.db_query_timeout_s
        self.write_limit_s = settings.db_write_timeout_s
        self.health = DatabaseHealth()
        self.pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            dsn,
            kwargs=connect_kwargs(dsn, settings.db_connect_timeout_s),
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            timeout=settings.db_query_timeout_s,
            open=False,
            name="collector",
            reconnect_timeout=0,
        )

    @asynccontextmanager
    async def connection(
        self, what: str, limit_s: float | None = None
    ) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection in a transaction (committed at the end of the block),
        for at most ``limit_s`` (default: the query limit) including the commit.

        Raises PoolTimeout, DatabaseUnresponsive or psycopg.OperationalError
        when the database does not answer; each is reported to :attr:`health`.
        """
        limit = self.query_limit_s if limit_s is None else limit_s
        started = time.monotonic()
        try:
            async with limited_connection(self.pool, limit, what) as conn:
                yield conn
        except Exception as exc:
            if is_connection_failure(exc):
                self.health.failed(started, exc)
            else:
                self.health.answered(started)  # it refused the statement, but it answered
            raise
        self.health.answered(started)

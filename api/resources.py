"""What the app holds while it runs: settings, the pool, the session cache and
the live feed. Opened in the lifespan, closed on exit; nothing connects at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import cast

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import NamedDependency
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from api.auth.hashing import HashingPool
from api.auth.sessions import SessionCache
from api.auth.throttle import AuthThrottle
from api.commands.updates import CommandUpdates
from api.live.hub import LiveHub
from common.db_limits import check_within_deadline, connect_kwargs, limited_connection
from common.edition import Edition, parse_edition
from common.settings import ApiSettings, InstallSettings

__all__ = ["Connection", "Db", "Resources", "get_resources", "lifespan", "provide_db"]

Connection = AsyncConnection[DictRow]
# What handlers declare to receive the request's connection.
Db = NamedDependency[Connection]

POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
# How long a request waits for a pooled connection before answering 503.
POOL_TIMEOUT_S = 5.0


@dataclass
class Resources:
    """Everything the handlers share. ``pool`` exists only inside the lifespan."""

    settings: ApiSettings
    dsn: str
    sessions: SessionCache
    live: LiveHub
    install: InstallSettings
    command_updates: CommandUpdates
    throttle: AuthThrottle = field(default_factory=AuthThrottle)
    _pool: AsyncConnectionPool[Connection] | None = None
    _hashing: HashingPool | None = None
    _edition: Edition | None = field(default=None, repr=False)

    @property
    def pool(self) -> AsyncConnectionPool[Connection]:
        if self._pool is None:
            raise RuntimeError("the connection pool is opened by the app's lifespan")
        return self._pool

    def connection(self, what: str, limit_s: float | None = None) -> AbstractAsyncContextManager[Connection]:
        """A pooled connection in a transaction, for at most ``limit_s`` (default: the
        request limit) including the commit. A database that does not answer in time
        raises PoolTimeout or DatabaseUnresponsive (both 503 problems)."""
        limit = self.settings.db_query_timeout_s if limit_s is None else limit_s
        return limited_connection(self.pool, limit, what)

    @property
    def hashing(self) -> HashingPool:
        if self._hashing is None:
            raise RuntimeError("the hashing pool is opened by the app's lifespan")
        return self._hashing

    async def edition(self, conn: Connection) -> Edition:
        """The TimescaleDB edition, read once and remembered."""
        if self._edition is None:
            cur = await conn.execute("SELECT tw_timescaledb_edition() AS edition")
            row = await cur.fetchone()
            self._edition = parse_edition(row["edition"] if row else None)
        return self._edition


def get_resources(state: State) -> Resources:
    """The app's :class:`Resources` from its state."""
    return cast(Resources, state.resources)


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """Open the pool and the live feed; close both on shutdown.

    The pool opens without waiting, so the API starts (and its health check
    reports 503) even while the database is down.
    """
    res = get_resources(app.state)
    settings = res.settings
    # The server stops a runaway query itself (the connection survives); the
    # client-side limit in connection() covers a server that hangs. Settings
    # the DSN's own options give are kept.
    options = f"-c statement_timeout={round(settings.db_query_timeout_s * 1000)}"
    if given := conninfo_to_dict(res.dsn).get("options"):
        options = f"{given} {options}"
    res._pool = AsyncConnectionPool(
        res.dsn,
        connection_class=Connection,
        kwargs={
            "row_factory": dict_row,
            "application_name": "tidewatch-api",
            "options": options,
            **connect_kwargs(res.dsn, settings.db_connect_timeout_s),
        },
        min_size=POOL_MIN_SIZE,
        max_size=POOL_MAX_SIZE,
        timeout=POOL_TIMEOUT_S,
        check=check_within_deadline,
        open=False,
        name="tidewatch-api",
    )
    await res._pool.open(wait=False)
    res._hashing = HashingPool()
    await res.live.start()
    await res.command_updates.start()
    try:
        yield
    finally:
        await res.command_updates.stop()
        await res.live.stop()
        await res._pool.close()
        res._pool = None
        res._hashing.close()
        res._hashing = None


async def provide_db(state: State) -> AsyncIterator[Connection]:
    """One pooled connection per request, in a transaction: committed when the
    handler returns, rolled back when it raises."""
    async with get_resources(state).connection("request") as conn:
        yield conn

"""What the app holds while it runs: settings, the pool, the session cache and
the live feed. Opened in the lifespan, closed on exit; nothing connects at import."""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncIterator, Callable
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

from api.auth.change_hints import AuthChangeListener
from api.auth.hashing import HashingPool
from api.auth.recent_logins import RecentLogins
from api.auth.sessions import SessionCache
from api.auth.throttle import AuthThrottle
from api.commands.updates import CommandUpdates
from api.listening import ListenLoop
from api.live.hub import LiveHub
from api.live.watch import WatchLeases
from api.status_page.cache import TimedCache
from common.api_models.status_page import StatusPageOut
from common.db_limits import check_within_deadline, connect_kwargs, limited_connection
from common.edition import Edition, parse_edition
from common.settings import ApiSettings, InstallSettings

__all__ = ["Connection", "Db", "Resources", "get_resources", "lifespan", "provide_db", "statements_alone"]

Connection = AsyncConnection[DictRow]
# What handlers declare to receive the request's connection.
Db = NamedDependency[Connection]

POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
# How long a request waits for a pooled connection before answering 503.
POOL_TIMEOUT_S = 5.0
# A connection back in the pool for less than this is handed out without the
# pool's check (one round trip less per request). A server lost meanwhile fails
# the request's own statement, which connection()'s limit and the 503 handler cover.
CHECK_AFTER_IDLE_S = 5.0
# PostgreSQL's JIT compiles a plan whose cost passes jit_above_cost; the fleet
# overview's LATERAL over every raw chunk does, and compiling took ~450 ms against
# ~60 ms of execution. The API's statements are short, so JIT never pays off here.
SESSION_OPTIONS = "-c jit=off"


@dataclass
class Resources:
    """Everything the handlers share. ``pool`` exists only inside the lifespan."""

    settings: ApiSettings
    dsn: str
    sessions: SessionCache
    # Hints from other instances that a cached token or user changed.
    auth_changes: AuthChangeListener
    live: LiveHub
    install: InstallSettings
    command_updates: CommandUpdates
    # The one LISTEN connection behind auth_changes, live and command_updates.
    listen: ListenLoop
    throttle: AuthThrottle = field(default_factory=AuthThrottle)
    watch: WatchLeases = field(default_factory=WatchLeases)
    # The public status page (None: turned off), loaded at most once per period.
    status_page: TimedCache[StatusPageOut | None] = field(default_factory=TimedCache)
    recent_logins: RecentLogins = field(default_factory=RecentLogins)
    hashing_factory: Callable[[], HashingPool] = HashingPool
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


_returned_at: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()


async def _note_returned(conn: Connection) -> None:
    _returned_at[conn] = time.monotonic()


async def _check_if_idle(conn: Connection) -> None:
    """The pool's check, for connections idle for CHECK_AFTER_IDLE_S or more."""
    returned = _returned_at.get(conn)
    if returned is not None and time.monotonic() - returned < CHECK_AFTER_IDLE_S:
        return
    await check_within_deadline(conn)


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
    options = f"-c statement_timeout={round(settings.db_query_timeout_s * 1000)} {SESSION_OPTIONS}"
    if given := conninfo_to_dict(res.dsn).get("options"):
        options = f"{given} {options}"
    res._pool = AsyncConnectionPool(
        res.dsn,
        connection_class=Connection,
        kwargs={
            "row_factory": dict_row,
            "application_name": "tidewatch-api",
            # The server stops a runaway query itself (the connection survives);
            # the client-side limit in connection() covers a server that hangs.
            "options": options,
            **connect_kwargs(res.dsn, settings.db_connect_timeout_s),
        },
        min_size=POOL_MIN_SIZE,
        max_size=POOL_MAX_SIZE,
        timeout=POOL_TIMEOUT_S,
        check=_check_if_idle,
        reset=_note_returned,
        open=False,
        name="tidewatch-api",
    )
    await res._pool.open(wait=False)
    res._hashing = res.hashing_factory()
    res._hashing.warm()
    await res.listen.start()
    await res.watch.start(res.connection)
    try:
        yield
    finally:
        await res.watch.stop()
        await res.listen.stop()
        await res._pool.close()
        res._pool = None
        res._hashing.close()
        res._hashing = None


@asynccontextmanager
async def statements_alone(conn: Connection) -> AsyncIterator[Connection]:
    """Read-only work without BEGIN and COMMIT: two round trips less per request.
    Only for reads that need no common snapshot; the pooled connection is
    handed back in its usual transactional mode."""
    await conn.set_autocommit(True)
    try:
        yield conn
    finally:
        # A broken or closed connection is discarded by the pool: leave its error be the one raised.
        if not (conn.closed or conn.broken):
            await conn.set_autocommit(False)


async def provide_db(state: State) -> AsyncIterator[Connection]:
    """One pooled connection per request, in a transaction: committed when the
    handler returns, rolled back when it raises."""
    async with get_resources(state).connection("request") as conn:
        yield conn

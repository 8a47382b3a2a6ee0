"""One LISTEN connection for the channels the collector reacts to.

Handlers get the NOTIFY payload. The connection is re-established after a
database outage, and ``on_reconnect`` runs so that anything missed while
disconnected (pending commands, say) is picked up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
from psycopg import sql

from common.backoff import Backoff

__all__ = ["NotificationListener"]

log = logging.getLogger("tidewatch.collector.listener")

Handler = Callable[[str], Awaitable[None]]


class NotificationListener:
    def __init__(
        self, dsn: str, handlers: dict[str, Handler], on_reconnect: Callable[[], Awaitable[None]]
    ) -> None:
        self._dsn = dsn
        self._handlers = handlers
        self._on_reconnect = on_reconnect

    async def run(self) -> None:
        backoff = Backoff(base_s=0.5, cap_s=10.0)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
                    for channel in self._handlers:
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    backoff.reset()
                    await self._on_reconnect()
                    async for notify in conn.notifies():
                        handler = self._handlers.get(notify.channel)
                        if handler is None:
                            continue
                        try:
                            await handler(notify.payload)
                        except Exception:
                            log.exception(
                                "handling %s notification %r failed", notify.channel, notify.payload
                            )
            except psycopg.OperationalError as exc:
                delay = backoff.next_delay()
                log.warning(
                    "notification listener lost the database, retrying in %.1f s: %s",
                    delay,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else exc,
                )
                await asyncio.sleep(delay)

"""One LISTEN connection on ``tidewatch_command_updates`` per API process.

A NOTIFY is only a hint that a command changed: watchers are woken and re-read
the record and its output chunks from the table, so a lost, duplicated or
forged payload can never put wrong data in front of a client. After a lost
connection every watcher is woken, since hints may have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from psycopg import sql

from common.api_models.commands import COMMAND_UPDATES_CHANNEL

__all__ = ["CommandUpdates"]

log = logging.getLogger("tidewatch.api.commands")

RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 15.0


class CommandUpdates:
    def __init__(self, dsn: str, channel: str = COMMAND_UPDATES_CHANNEL) -> None:
        self._dsn = dsn
        self._channel = channel
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self.listening = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="tidewatch-command-updates")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.listening.clear()

    def watch(self, command_id: str) -> asyncio.Event:
        """An event set whenever ``command_id`` may have changed; pass it to :meth:`unwatch`."""
        event = asyncio.Event()
        self._watchers.setdefault(command_id, set()).add(event)
        return event

    def unwatch(self, command_id: str, event: asyncio.Event) -> None:
        watchers = self._watchers.get(command_id)
        if watchers is not None:
            watchers.discard(event)
            if not watchers:
                del self._watchers[command_id]

    def hint(self, command_id: str) -> None:
        for event in self._watchers.get(command_id, ()):
            event.set()

    def _wake_all(self) -> None:
        for watchers in self._watchers.values():
            for event in watchers:
                event.set()

    async def _run(self) -> None:
        delay = RECONNECT_MIN_S
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, application_name="tidewatch-api-commands"
                ) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    self.listening.set()
                    self._wake_all()
                    delay = RECONNECT_MIN_S
                    async for notify in conn.notifies():
                        self.hint(notify.payload)
            except psycopg.Error as exc:
                log.warning("command updates lost (%s); reconnecting in %.1fs", str(exc).strip(), delay)
            self.listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

"""What a hint on ``tidewatch_command_updates`` does in an API process.

A NOTIFY is only a hint that a command changed: watchers are woken and re-read
the record and its output chunks from the table, so a lost, duplicated or
forged payload can never put wrong data in front of a client. After a lost
connection every watcher is woken, since hints may have been missed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from api.listening import ChannelListener
from common.api_models.commands import COMMAND_UPDATES_CHANNEL

__all__ = ["CommandUpdates"]


class CommandUpdates(ChannelListener):
    def __init__(self, channel: str = COMMAND_UPDATES_CHANNEL) -> None:
        super().__init__(channel, label="command updates")
        self._watchers: dict[str, set[asyncio.Event]] = {}

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

    def on_notify(self, payload: str) -> None:
        self.hint(payload)

    async def on_listen(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Wake every watcher: hints may have been missed while disconnected."""
        for watchers in self._watchers.values():
            for event in watchers:
                event.set()

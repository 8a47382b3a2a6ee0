"""The API's background tasks, and its one LISTEN connection.

Each API process keeps a single LISTEN connection (:class:`ListenLoop`) for every
channel it hears: the live feed, command updates and auth change hints. Each
channel has a :class:`ChannelListener` saying what its payloads do. After each
(re)connect, once LISTEN holds on every channel, each listener's
:meth:`~ChannelListener.on_listen` runs (load a key, or wake everyone who may have
missed a hint while disconnected) before any payload is handed over. A lost
connection is re-established with jittered backoff (common.backoff); a listener's
``listening`` is set only while LISTEN holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

import psycopg
from psycopg import sql

from common.backoff import Backoff

__all__ = ["BackgroundTask", "ChannelListener", "ListenLoop"]

RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 15.0


class BackgroundTask:
    """One named asyncio task: ``start`` spawns it, ``stop`` cancels it and waits."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None

    def start(self, run: Coroutine[Any, Any, None]) -> None:
        self._task = asyncio.create_task(run, name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class ChannelListener:
    """What one channel's notifications do; a :class:`ListenLoop` delivers them."""

    def __init__(self, channel: str, *, label: str) -> None:
        self.channel = channel
        self.label = label
        self.listening = asyncio.Event()

    def on_notify(self, payload: str) -> None:
        """One notification's payload."""
        raise NotImplementedError

    async def on_listen(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """After each (re)connect, once LISTEN holds and before the first payload."""


class ListenLoop:
    """Keeps one LISTEN connection up for several channels, reconnecting with backoff."""

    def __init__(
        self,
        dsn: str,
        listeners: Sequence[ChannelListener],
        *,
        application_name: str,
        log: logging.Logger,
    ) -> None:
        channels = [listener.channel for listener in listeners]
        if len(set(channels)) != len(channels):
            raise ValueError(f"one listener per channel, got {channels}")
        self._dsn = dsn
        self._listeners = {listener.channel: listener for listener in listeners}
        self._application_name = application_name
        self._log = log
        self._task = BackgroundTask(application_name)

    async def start(self) -> None:
        """Begin listening in the background; returns at once."""
        for listener in self._listeners.values():
            listener.listening = asyncio.Event()
        self._task.start(self._run())

    async def stop(self) -> None:
        await self._task.stop()
        self._set_listening(False)

    def _set_listening(self, listening: bool) -> None:
        for listener in self._listeners.values():
            if listening:
                listener.listening.set()
            else:
                listener.listening.clear()

    async def _run(self) -> None:
        backoff = Backoff(base_s=RECONNECT_MIN_S, cap_s=RECONNECT_MAX_S)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, application_name=self._application_name
                ) as conn:
                    for channel in self._listeners:
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    # Notifications arriving meanwhile wait in psycopg's backlog.
                    for listener in self._listeners.values():
                        await listener.on_listen(conn)
                    self._set_listening(True)
                    backoff.reset()
                    self._log.info(
                        "listening for %s",
                        ", ".join(f"{lis.label} ({ch})" for ch, lis in self._listeners.items()),
                    )
                    async for notify in conn.notifies():
                        if (heard := self._listeners.get(notify.channel)) is not None:
                            heard.on_notify(notify.payload)
            except psycopg.Error as exc:
                self._log.warning(
                    "LISTEN connection lost (%s); reconnecting within %.1fs",
                    str(exc).strip(),
                    backoff.ceiling(),
                )
            self._set_listening(False)
            await asyncio.sleep(backoff.next_delay())

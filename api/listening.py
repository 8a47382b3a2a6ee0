"""The API's background tasks, and the LISTEN connection lifecycle they share.

:class:`ListenLoop` connects, LISTENs on one channel, runs :meth:`~ListenLoop.on_listen`
(load a key, or wake everyone who may have missed a hint while disconnected), then
hands each payload to :meth:`~ListenLoop.on_notify`; subclasses say what those do. A lost connection is re-established with jittered
backoff (common.backoff); ``listening`` is set only while LISTEN holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

import psycopg
from psycopg import sql

from common.backoff import Backoff

__all__ = ["BackgroundTask", "ListenLoop"]

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


class ListenLoop:
    """Keeps one LISTEN connection up, reconnecting with backoff, until stopped."""

    def __init__(
        self, dsn: str, channel: str, *, application_name: str, label: str, log: logging.Logger
    ) -> None:
        self._dsn = dsn
        self.channel = channel
        self._application_name = application_name
        self._label = label
        self._log = log
        self._listen_task = BackgroundTask(application_name)
        self.listening = asyncio.Event()

    def on_notify(self, payload: str) -> None:
        """One notification's payload."""
        raise NotImplementedError

    async def on_listen(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """After each (re)connect, once LISTEN holds and before the first payload."""

    async def start(self) -> None:
        """Begin listening in the background; returns at once."""
        self.listening = asyncio.Event()
        self._listen_task.start(self._run())

    async def stop(self) -> None:
        await self._listen_task.stop()
        self.listening.clear()

    async def _run(self) -> None:
        backoff = Backoff(base_s=RECONNECT_MIN_S, cap_s=RECONNECT_MAX_S)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, application_name=self._application_name
                ) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    # Notifications arriving meanwhile wait in psycopg's backlog.
                    await self.on_listen(conn)
                    self.listening.set()
                    backoff.reset()
                    self._log.info("%s listening on %s", self._label, self.channel)
                    async for notify in conn.notifies():
                        self.on_notify(notify.payload)
            except psycopg.Error as exc:
                self._log.warning(
                    "%s lost (%s); reconnecting within %.1fs",
                    self._label,
                    str(exc).strip(),
                    backoff.ceiling(),
                )
            self.listening.clear()
            await asyncio.sleep(backoff.next_delay())

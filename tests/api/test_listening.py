"""The API's one LISTEN connection against the real database: each channel's
payloads reach its own listener over one connection, and a connection killed by
the server comes back and runs every listener's catch-up hook again before any
reports listening."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from api.listening import ChannelListener, ListenLoop

pytestmark = pytest.mark.db

LIMIT_S = 30.0


async def notify(dsn: str, channel: str, payload: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


class Recorder(ChannelListener):
    """Records each payload, and the server process of each connection it hears on."""

    def __init__(self, channel: str) -> None:
        super().__init__(channel, label=f"recorder {channel}")
        self.received: asyncio.Queue[str] = asyncio.Queue()
        self.connects: list[int] = []
        self.reconnected = asyncio.Event()

    def on_notify(self, payload: str) -> None:
        self.received.put_nowait(payload)

    async def on_listen(self, conn: psycopg.AsyncConnection[Any]) -> None:
        row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
        assert row is not None
        self.connects.append(row[0])
        if len(self.connects) == 2:
            self.reconnected.set()


def _loop(dsn: str, *listeners: ChannelListener) -> ListenLoop:
    return ListenLoop(
        dsn,
        listeners,
        application_name=f"tidewatch-test-{uuid.uuid4().hex[:8]}",
        log=logging.getLogger("tests.listening"),
    )


@contextlib.asynccontextmanager
async def two_listening(dsn: str) -> AsyncIterator[tuple[Recorder, Recorder]]:
    """Two channels' recorders on one running loop, once LISTEN holds; stopped after."""
    suffix = uuid.uuid4().hex[:8]
    first, second = Recorder(f"test_a_{suffix}"), Recorder(f"test_b_{suffix}")
    loop = _loop(dsn, first, second)
    await loop.start()
    try:
        await asyncio.wait_for(first.listening.wait(), LIMIT_S)
        assert second.listening.is_set()
        assert len(first.connects) == 1
        yield first, second
    finally:
        await loop.stop()
    assert not first.listening.is_set() and not second.listening.is_set()


async def test_each_channel_reaches_its_own_listener_over_one_connection(db_dsn: str) -> None:
    async with two_listening(db_dsn) as (first, second):
        assert first.connects == second.connects, "both channels must share one connection"
        await notify(db_dsn, second.channel, "for b")
        await notify(db_dsn, first.channel, "for a")
        assert await asyncio.wait_for(first.received.get(), LIMIT_S) == "for a"
        assert await asyncio.wait_for(second.received.get(), LIMIT_S) == "for b"
        assert first.received.empty() and second.received.empty()


async def test_a_lost_connection_reconnects_and_every_listener_catches_up(db_dsn: str) -> None:
    async with two_listening(db_dsn) as (first, second):
        await notify(db_dsn, first.channel, "first")
        assert await asyncio.wait_for(first.received.get(), LIMIT_S) == "first"

        async with await psycopg.AsyncConnection.connect(db_dsn, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (first.connects[0],))
        await asyncio.wait_for(first.reconnected.wait(), LIMIT_S)
        await asyncio.wait_for(second.reconnected.wait(), LIMIT_S)
        await asyncio.wait_for(first.listening.wait(), LIMIT_S)
        assert second.listening.is_set()
        assert first.connects[1] != first.connects[0]
        assert second.connects == first.connects

        await notify(db_dsn, second.channel, "second")
        assert await asyncio.wait_for(second.received.get(), LIMIT_S) == "second"


def test_two_listeners_on_one_channel_are_refused() -> None:
    with pytest.raises(ValueError, match="one listener per channel"):
        _loop("postgresql://unused", Recorder("same"), Recorder("same"))

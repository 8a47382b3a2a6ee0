"""The shared LISTEN lifecycle against the real database: a payload reaches the
handler, and a connection killed by the server comes back and runs the
catch-up hook again before it reports listening."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import psycopg
import pytest

from api.listening import ListenLoop

pytestmark = pytest.mark.db

LIMIT_S = 30.0


async def notify(dsn: str, channel: str, payload: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


class Recorder(ListenLoop):
    """Records each payload, and the server process of each connection it LISTENs on."""

    def __init__(self, dsn: str, channel: str) -> None:
        super().__init__(
            dsn,
            channel,
            application_name=f"tidewatch-test-{uuid.uuid4().hex[:8]}",
            label="test listener",
            log=logging.getLogger("tests.listening"),
        )
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


async def test_a_lost_connection_reconnects_and_catches_up(db_dsn: str) -> None:
    channel = f"test_listen_{uuid.uuid4().hex[:8]}"
    loop = Recorder(db_dsn, channel)
    await loop.start()
    try:
        await asyncio.wait_for(loop.listening.wait(), LIMIT_S)
        assert len(loop.connects) == 1
        await notify(db_dsn, channel, "first")
        assert await asyncio.wait_for(loop.received.get(), LIMIT_S) == "first"

        async with await psycopg.AsyncConnection.connect(db_dsn, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (loop.connects[0],))
        await asyncio.wait_for(loop.reconnected.wait(), LIMIT_S)
        await asyncio.wait_for(loop.listening.wait(), LIMIT_S)
        assert loop.connects[1] != loop.connects[0]

        await notify(db_dsn, channel, "second")
        assert await asyncio.wait_for(loop.received.get(), LIMIT_S) == "second"
    finally:
        await loop.stop()
    assert not loop.listening.is_set()

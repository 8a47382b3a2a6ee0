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


async def test_a_lost_connection_reconnects_and_catches_up(db_dsn: str) -> None:
    channel = f"test_listen_{uuid.uuid4().hex[:8]}"
    app_name = f"tidewatch-test-{uuid.uuid4().hex[:8]}"
    received: asyncio.Queue[str] = asyncio.Queue()
    connects: list[int] = []
    reconnected = asyncio.Event()

    async def on_listen(conn: psycopg.AsyncConnection[Any]) -> None:
        row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
        assert row is not None
        connects.append(row[0])
        if len(connects) == 2:
            reconnected.set()

    loop = ListenLoop(
        db_dsn,
        channel,
        application_name=app_name,
        label="test listener",
        log=logging.getLogger("tests.listening"),
        on_notify=received.put_nowait,
        on_listen=on_listen,
    )
    loop.start()
    try:
        await asyncio.wait_for(loop.listening.wait(), LIMIT_S)
        assert len(connects) == 1
        await notify(db_dsn, channel, "first")
        assert await asyncio.wait_for(received.get(), LIMIT_S) == "first"

        async with await psycopg.AsyncConnection.connect(db_dsn, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (connects[0],))
        await asyncio.wait_for(reconnected.wait(), LIMIT_S)
        await asyncio.wait_for(loop.listening.wait(), LIMIT_S)
        assert connects[1] != connects[0]

        await notify(db_dsn, channel, "second")
        assert await asyncio.wait_for(received.get(), LIMIT_S) == "second"
    finally:
        await loop.stop()
    assert not loop.listening.is_set()

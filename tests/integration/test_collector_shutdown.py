"""Graceful shutdown: batches already received are written and acknowledged before streams close."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from collector.app import CollectorApp
from proto import agent_pb2
from tests.conftest import collector_settings, create_vps
from tests.factories import now_ms, performance_batch
from tests.stream_client import TestStream, handshake

pytestmark = pytest.mark.db


async def test_stop_drains_queued_batches_and_acks_them(db_dsn: str) -> None:
    vps = create_vps(db_dsn)
    # A long flush interval keeps the batch queued when the stop begins.
    app = CollectorApp(collector_settings(flush_interval_ms=30_000), db_dsn)
    await app.start()
    stream = TestStream(f"127.0.0.1:{app.port}", vps.token)
    await stream.send(handshake())
    await stream.next("server_handshake_ack")
    t0 = now_ms() - 2000
    await stream.send(agent_pb2.MessageToServer(performance_batch=performance_batch(7, [t0, t0 + 1000])))
    for _ in range(500):  # up to 5 s for the batch to reach the queue
        if app.writer.queued_batches:
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the batch never reached the ingest queue")

    stopping = asyncio.create_task(app.stop(5.0))
    ack = (await stream.acks(1, within_s=5.0))[7]
    await stopping
    await stream.close()

    assert ack.outcome == agent_pb2.BatchAck.OUTCOME_STORED
    with psycopg.connect(db_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM host_metrics WHERE vps_id = %s", (vps.id,)).fetchone()
    assert row == (2,)

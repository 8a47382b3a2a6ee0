"""Graceful shutdown: batches already received are written and acknowledged before streams close."""

from __future__ import annotations

import asyncio
import uuid

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


async def test_stop_records_every_held_stream_as_disconnected_in_one_go(
    db_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A stopping collector releases all its VPSes and ends the commands in flight on its
    streams before its pool closes: none is left held by a collector that is gone, and no
    stream's own clean-up finds the pool shut."""
    settings = collector_settings(unestablished_streams_per_ip=100)  # 40 agents from one address
    app = CollectorApp(settings, db_dsn)
    await app.start()
    vpses = [create_vps(db_dsn) for _ in range(40)]
    streams = [TestStream(f"127.0.0.1:{app.port}", vps.token) for vps in vpses]
    for stream in streams:
        await stream.send(handshake())
    for stream in streams:
        await stream.next("server_handshake_ack")
    ids = [vps.id for vps in vpses]
    with psycopg.connect(db_dsn) as conn:
        held = conn.execute(
            "SELECT count(*) FROM vps WHERE id = ANY(%s) AND connected_collector = %s",
            (ids, settings.collector_id),
        ).fetchone()
        assert held == (40,)
        session = app.registry.get(vpses[0].id)
        assert session is not None
        command = conn.execute(
            "INSERT INTO commands (id, vps_id, kind, request, status, dispatched_stream)"
            " VALUES (%s, %s, 'shell', '{}', 'dispatched', %s) RETURNING id",
            (uuid.uuid4(), vpses[0].id, session.stream_id),
        ).fetchone()
        assert command is not None

    await app.stop(5.0)
    for stream in streams:
        await stream.close()

    with psycopg.connect(db_dsn) as conn:
        still_held = conn.execute(
            "SELECT count(*) FROM vps WHERE id = ANY(%s) AND connected_collector IS NOT NULL", (ids,)
        ).fetchone()
        ended = conn.execute("SELECT status, error_message FROM commands WHERE id = %s", command).fetchone()
    assert still_held == (0,)
    assert ended == ("failed", "agent disconnected")
    assert not [r.message for r in caplog.records if "could not record disconnect" in r.message]

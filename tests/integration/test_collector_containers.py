"""Container metadata with the collector's cache: unchanged samples touch no row, changes still land."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest

from collector.app import CollectorApp
from proto import agent_pb2
from tests.conftest import create_vps
from tests.factories import docker_batch, now_ms
from tests.stream_client import TestStream, handshake

pytestmark = pytest.mark.db


def resent(batch: agent_pb2.DockerInfoBatch, sequence: int, timestamp_ms: int) -> agent_pb2.DockerInfoBatch:
    """The same containers in a later sample."""
    later = agent_pb2.DockerInfoBatch()
    later.CopyFrom(batch)
    later.sequence, later.timestamp_unix_ms = sequence, timestamp_ms
    return later


async def test_identical_samples_then_a_change(collector: CollectorApp, db_dsn: str) -> None:
    vps = create_vps(db_dsn)
    stream = TestStream(f"127.0.0.1:{collector.port}", vps.token)
    await stream.send(handshake())
    await stream.next("server_handshake_ack")
    t0 = now_ms() - 30_000
    first = docker_batch(1, t0, containers=3)

    async def send(batch: agent_pb2.DockerInfoBatch) -> None:
        await stream.send(agent_pb2.MessageToServer(docker_batch=batch))
        acks = await stream.acks(1)
        assert acks[batch.sequence].outcome == agent_pb2.BatchAck.OUTCOME_STORED

    def table(sql: str) -> list[tuple[object, ...]]:
        with psycopg.connect(db_dsn) as conn:
            return conn.execute(sql, (vps.id,)).fetchall()

    await send(first)
    # Nothing changed: stored (the metrics) while the containers table is locked, so the
    # sample read and wrote no container row.
    async with await psycopg.AsyncConnection.connect(db_dsn) as locker:
        await locker.execute("LOCK TABLE containers IN ACCESS EXCLUSIVE MODE")
        await asyncio.wait_for(send(resent(first, 2, t0 + 5000)), 10)
        await locker.rollback()
    assert table("SELECT count(*) FROM container_metrics WHERE vps_id = %s") == [(6,)]
    at_t0 = datetime.fromtimestamp(t0 / 1000, UTC)
    assert table("SELECT DISTINCT last_seen FROM containers WHERE vps_id = %s") == [(at_t0,)]

    changed = resent(first, 3, t0 + 10_000)
    changed.containers[0].state = "exited"
    changed.containers[0].status = "Exited (137) 1 second ago"
    changed.containers[0].exit_code = 137
    changed.containers[1].labels["com.example.role"] = "worker"
    del changed.containers[2]
    await send(changed)
    await send(resent(changed, 4, t0 + 15_000))
    await stream.close()

    events = table(
        "SELECT right(container_id, 1), event, exit_code, time FROM container_events WHERE vps_id = %s"
        " ORDER BY time, id"
    )
    at_t10 = datetime.fromtimestamp((t0 + 10_000) / 1000, UTC)
    assert events == [
        *((str(i), event, None, at_t0) for i in range(3) for event in ("appeared", "started")),
        ("0", "died", 137, at_t10),
        ("2", "removed", None, at_t10),
    ]
    rows = table(
        "SELECT right(container_id, 1), state, exit_code, labels, last_seen, removed_at"
        " FROM containers WHERE vps_id = %s ORDER BY container_id"
    )
    assert rows == [
        ("0", "exited", 137, {"com.example.role": "web"}, at_t10, None),
        ("1", "running", None, {"com.example.role": "worker"}, at_t10, None),
        ("2", "running", None, {"com.example.role": "web"}, at_t0, at_t10),
    ]

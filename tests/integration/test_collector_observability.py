"""What the collector tells the rest of the system: live NOTIFYs, container events, /metrics."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import psycopg
import pytest
from psycopg import sql

from collector.app import CollectorApp
from common.api_models import LIVE_CHANNEL
from common.live_signing import LIVE_KEY_QUERY, verify_live_payload
from proto import agent_pb2
from tests.conftest import collector_settings, create_vps, free_port
from tests.factories import docker_batch, now_ms, performance_batch
from tests.stream_client import TestStream, handshake

pytestmark = pytest.mark.db


async def connect(port: int, token: str) -> TestStream:
    stream = TestStream(f"127.0.0.1:{port}", token)
    await stream.send(handshake())
    await stream.next("server_handshake_ack")
    return stream


async def test_live_notify_carries_the_latest_values_after_commit(
    collector: CollectorApp, db_dsn: str
) -> None:
    vps = create_vps(db_dsn)
    async with await psycopg.AsyncConnection.connect(db_dsn, autocommit=True) as listener:
        await listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(LIVE_CHANNEL)))
        key_row = await (await listener.execute(LIVE_KEY_QUERY)).fetchone()
        assert key_row is not None
        key = bytes(key_row[0])
        stream = await connect(collector.port, vps.token)
        t0 = now_ms() - 3000
        batch = performance_batch(1, [t0, t0 + 1000, t0 + 2000])
        await stream.send(agent_pb2.MessageToServer(performance_batch=batch))
        await stream.acks(1)
        async with asyncio.timeout(10):
            async for notify in listener.notifies():
                body = verify_live_payload(key, notify.payload)
                assert body is not None, notify.payload
                payload = json.loads(body)
                # The same channel carries the agent's "online" status message.
                if payload["vps_id"] == vps.id and payload.get("kind", "sample") == "sample":
                    break
        await stream.close()
    latest = batch.snapshots[-1]
    assert payload["time_ms"] == t0 + 2000
    assert payload["cpu_percent"] == round(latest.cpu_percent, 2)
    assert payload["memory_used_bytes"] == latest.memory_used_bytes
    assert payload["disk_total_bytes"] == latest.disks[0].total_bytes
    assert len(notify.payload) < 1000  # small: NOTIFY payloads are capped at 8000 bytes


async def test_container_state_changes_become_events(collector: CollectorApp, db_dsn: str) -> None:
    vps = create_vps(db_dsn)
    stream = await connect(collector.port, vps.token)
    t0 = now_ms() - 60_000
    running = docker_batch(1, t0, containers=2)
    died = docker_batch(2, t0 + 5000, containers=2)
    died.containers[0].state = "exited"
    died.containers[0].status = "Exited (137) 1 second ago"
    died.containers[0].exit_code = 137
    died.containers[0].oom_killed = True
    died.containers[0].has_stats = False
    died.containers[1].state = "exited"
    died.containers[1].exit_code = 3
    died.containers[1].has_stats = False
    gone = docker_batch(3, t0 + 10_000, containers=1)
    gone.containers[0].CopyFrom(died.containers[0])
    for seq, batch in ((1, running), (2, died), (3, gone)):
        await stream.send(agent_pb2.MessageToServer(docker_batch=batch))
        assert (await stream.acks(1))[seq].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    await stream.close()
    with psycopg.connect(db_dsn) as conn:
        events = conn.execute(
            "SELECT right(container_id, 1), event, exit_code FROM container_events WHERE vps_id = %s"
            " ORDER BY time, id",
            (vps.id,),
        ).fetchall()
        state = conn.execute(
            "SELECT right(container_id, 1), state, exit_code, oom_killed, removed_at IS NOT NULL"
            " FROM containers WHERE vps_id = %s ORDER BY container_id",
            (vps.id,),
        ).fetchall()
    assert events == [
        ("0", "appeared", None),
        ("0", "started", None),
        ("1", "appeared", None),
        ("1", "started", None),
        ("0", "oom", 137),
        ("1", "died", 3),
        ("1", "removed", None),
    ]
    assert state == [("0", "exited", 137, True, False), ("1", "exited", 3, False, True)]


async def test_prometheus_metrics_describe_ingest(db_dsn: str) -> None:
    port = free_port()
    vps = create_vps(db_dsn)
    app = CollectorApp(collector_settings(), db_dsn)
    await app.start()
    from collector.metrics import serve_metrics

    serve_metrics(f"127.0.0.1:{port}")
    try:
        stream = await connect(app.port, vps.token)
        bad = performance_batch(2, [now_ms()])
        bad.snapshots[0].load_1 = -1.0
        await stream.send(
            agent_pb2.MessageToServer(performance_batch=performance_batch(1, [now_ms() - 1000]))
        )
        await stream.send(agent_pb2.MessageToServer(performance_batch=bad))
        await stream.acks(2)
        await stream.close()
        text = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        )
    finally:
        await app.stop(2.0)
    for name in (
        'tidewatch_collector_rows_total{table="host_metrics"}',
        'tidewatch_collector_batches_total{outcome="stored",reason=""}',
        'tidewatch_collector_batches_total{outcome="rejected",reason="invalid"}',
        "tidewatch_collector_queue_rows",
        "tidewatch_collector_ingest_lag_seconds_bucket",
        "tidewatch_collector_flush_seconds_count",
        "tidewatch_collector_agents_connected",
    ):
        assert name in text, name
    rows = next(
        line
        for line in text.splitlines()
        if line.startswith('tidewatch_collector_rows_total{table="host_metrics"}')
    )
    assert float(rows.split()[-1]) >= 1

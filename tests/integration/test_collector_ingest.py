"""The collector against a real TimescaleDB over a real gRPC channel."""

from __future__ import annotations

import math

import grpc
import psycopg
import pytest

from collector.app import CollectorApp
from proto import agent_pb2
from tests.conftest import Vps, create_vps
from tests.factories import docker_batch, now_ms, performance_batch
from tests.stream_client import TestStream, handshake

pytestmark = [pytest.mark.db, pytest.mark.storage]


def count(dsn: str, table: str, vps_id: int) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE vps_id = %s", (vps_id,)).fetchone()
    assert row is not None
    return int(row[0])


async def open_stream(collector: CollectorApp, token: str | None, epoch: int = 1) -> TestStream:
    stream = TestStream(f"127.0.0.1:{collector.port}", token)
    await stream.send(handshake(epoch))
    ack = await stream.next("server_handshake_ack")
    assert ack.server_handshake_ack.authenticated
    return stream


async def test_batches_are_stored_once_and_acked_after_commit(
    collector: CollectorApp, db_dsn: str, vps: Vps
) -> None:
    stream = await open_stream(collector, vps.token)
    t0 = now_ms() - 10_000
    batch = performance_batch(1, [t0, t0 + 1000, t0 + 2000])
    await stream.send(agent_pb2.MessageToServer(performance_batch=batch))
    await stream.send(agent_pb2.MessageToServer(docker_batch=docker_batch(2, t0)))
    acks = await stream.acks(2)
    assert acks[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    assert acks[2].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    assert count(db_dsn, "host_metrics", vps.id) == 3
    assert count(db_dsn, "disk_metrics", vps.id) == 12
    assert count(db_dsn, "network_metrics", vps.id) == 9
    assert count(db_dsn, "container_metrics", vps.id) == 10
    assert count(db_dsn, "containers", vps.id) == 10

    # A replay (agent reconnected before it saw the ack) is acknowledged, not stored twice.
    await stream.send(agent_pb2.MessageToServer(performance_batch=batch))
    replay = await stream.acks(1)
    assert replay[1].outcome == agent_pb2.BatchAck.OUTCOME_DUPLICATE
    assert count(db_dsn, "host_metrics", vps.id) == 3
    await stream.close()


async def test_same_sequence_in_a_new_epoch_is_new_data(collector: CollectorApp, db_dsn: str) -> None:
    vps = create_vps(db_dsn)
    t0 = now_ms() - 5000
    first = await open_stream(collector, vps.token, epoch=100)
    await first.send(agent_pb2.MessageToServer(performance_batch=performance_batch(1, [t0])))
    assert (await first.acks(1))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    await first.close()
    second = await open_stream(collector, vps.token, epoch=200)
    await second.send(agent_pb2.MessageToServer(performance_batch=performance_batch(1, [t0 + 1000])))
    assert (await second.acks(1))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    assert count(db_dsn, "host_metrics", vps.id) == 2
    await second.close()


@pytest.mark.parametrize("token", [None, "nonsense", "twa_AAAAAAAAAAAAAAAA." + "x" * 43])
async def test_bad_tokens_are_unauthenticated(collector: CollectorApp, token: str | None) -> None:
    stream = TestStream(f"127.0.0.1:{collector.port}", token)
    await stream.send(handshake())
    assert await stream.status() == grpc.StatusCode.UNAUTHENTICATED
    await stream.close()


async def test_invalid_values_are_rejected_by_field_and_others_kept(
    collector: CollectorApp, db_dsn: str
) -> None:
    vps = create_vps(db_dsn)
    stream = await open_stream(collector, vps.token)
    t0 = now_ms() - 5000
    good = performance_batch(1, [t0])
    nan = performance_batch(2, [t0 + 1000])
    nan.snapshots[0].cpu_percent = math.nan
    future = performance_batch(3, [now_ms() + 3_600_000])
    negative = performance_batch(4, [t0 + 2000])
    negative.snapshots[0].network_interfaces[1].rx_bytes_per_second = -5.0
    huge = performance_batch(5, [t0 + 3000])
    huge.snapshots[0].memory_used_bytes = 2**64 - 1
    for b in (good, nan, future, negative, huge):
        await stream.send(agent_pb2.MessageToServer(performance_batch=b))
    acks = await stream.acks(5)
    assert acks[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    for seq, needle in (
        (2, "snapshots[0].cpu_percent"),
        (3, "in the future"),
        (4, "network_interfaces[1].rx_bytes_per_second"),
        (5, "memory_used_bytes"),
    ):
        assert acks[seq].outcome == agent_pb2.BatchAck.OUTCOME_REJECTED
        assert acks[seq].status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert needle in acks[seq].detail, acks[seq].detail
    assert count(db_dsn, "host_metrics", vps.id) == 1
    await stream.close()


async def test_first_message_must_be_a_handshake(collector: CollectorApp, vps: Vps) -> None:
    stream = TestStream(f"127.0.0.1:{collector.port}", vps.token)
    await stream.send(agent_pb2.MessageToServer(heartbeat=agent_pb2.Heartbeat(timestamp_unix_ms=now_ms())))
    assert await stream.status() == grpc.StatusCode.FAILED_PRECONDITION
    await stream.close()

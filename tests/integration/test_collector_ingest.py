"""The collector against a real TimescaleDB over a real gRPC channel."""

from __future__ import annotations

import math

import grpc
import psycopg
import pytest

from agent.runtime.bundling import build_bundle
from collector.app import CollectorApp
from proto import agent_pb2
from tests.conftest import Vps, collector_settings, create_vps
from tests.factories import docker_batch, now_ms, performance_batch
from tests.stream_client import TestStream, handshake

pytestmark = [pytest.mark.db, pytest.mark.storage]


def count(dsn: str, table: str, vps_id: int) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE vps_id = %s", (vps_id,)).fetchone()
    assert row is not None
    return int(row[0])


async def open_stream(
    collector: CollectorApp, token: str | None, epoch: int = 1, *, bundles: bool = False, offered: bool = True
) -> TestStream:
    stream = TestStream(f"127.0.0.1:{collector.port}", token)
    await stream.send(handshake(epoch, bundles=bundles))
    ack = await stream.next("server_handshake_ack")
    assert ack.server_handshake_ack.authenticated
    # An agent that did not announce bundles gets today's ack, without the offer.
    assert ack.server_handshake_ack.HasField("batch_bundling") == (bundles and offered)
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


def _by_sequence(messages: list[list[agent_pb2.BatchAck]]) -> dict[int, agent_pb2.BatchAck]:
    return {ack.sequence: ack for acks in messages for ack in acks}


async def test_a_bundle_is_acked_batch_by_batch_and_replayed_as_duplicates(
    collector: CollectorApp, db_dsn: str
) -> None:
    vps = create_vps(db_dsn)
    stream = TestStream(f"127.0.0.1:{collector.port}", vps.token)
    await stream.send(handshake(bundles=True))
    offer = (await stream.next("server_handshake_ack")).server_handshake_ack.batch_bundling
    assert (offer.supported, offer.max_batches, offer.max_bytes) == (True, 64, 1024 * 1024)

    t0 = now_ms() - 10_000
    invalid = performance_batch(3, [t0 + 5000])
    invalid.snapshots[0].cpu_percent = math.nan
    bundle = build_bundle(
        [
            agent_pb2.MessageToServer(performance_batch=performance_batch(1, [t0, t0 + 1000, t0 + 2000])),
            agent_pb2.MessageToServer(docker_batch=docker_batch(2, t0)),
            agent_pb2.MessageToServer(performance_batch=invalid),
        ]
    )
    assert bundle.WhichOneof("payload") == "batch_bundle"
    await stream.send(bundle)
    messages = await stream.bundled_acks(3)
    acks = _by_sequence(messages)
    assert acks[1].outcome == acks[2].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    # Committed in one flush, so acknowledged in one message.
    assert any({ack.sequence for ack in group} >= {1, 2} for group in messages), messages
    assert acks[3].outcome == agent_pb2.BatchAck.OUTCOME_REJECTED
    assert acks[3].status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "snapshots[0].cpu_percent" in acks[3].detail, acks[3].detail
    assert count(db_dsn, "host_metrics", vps.id) == 3
    assert count(db_dsn, "container_metrics", vps.id) == 10

    # The same bundle again (the agent never saw those acks): nothing is stored twice.
    await stream.send(bundle)
    again = _by_sequence(await stream.bundled_acks(3))
    assert again[1].outcome == again[2].outcome == agent_pb2.BatchAck.OUTCOME_DUPLICATE
    assert again[3].outcome == agent_pb2.BatchAck.OUTCOME_REJECTED
    assert count(db_dsn, "host_metrics", vps.id) == 3
    assert count(db_dsn, "container_metrics", vps.id) == 10
    await stream.close()


def _bundle_of(batches: int, t0: int) -> agent_pb2.MessageToServer:
    return build_bundle(
        [
            agent_pb2.MessageToServer(performance_batch=performance_batch(s, [t0 + s * 1000]))
            for s in range(1, batches + 1)
        ]
    )


async def test_a_bundle_over_the_offered_count_or_unoffered_is_refused_and_stores_nothing(
    collector: CollectorApp, db_dsn: str
) -> None:
    vps = create_vps(db_dsn)
    t0 = now_ms() - 100_000
    over = await open_stream(collector, vps.token, bundles=True)
    await over.send(_bundle_of(65, t0))
    assert await over.status() == grpc.StatusCode.INVALID_ARGUMENT
    assert "65 batches" in await over.details() and "at most 64" in await over.details()
    await over.close()

    # An agent that did not announce bundles was offered none: a bundle from it breaks the protocol.
    unannounced = await open_stream(collector, vps.token)
    await unannounced.send(_bundle_of(2, t0))
    assert await unannounced.status() == grpc.StatusCode.FAILED_PRECONDITION
    assert "did not offer bundles" in await unannounced.details()
    await unannounced.close()
    assert count(db_dsn, "host_metrics", vps.id) == 0


async def test_a_collector_with_bundles_off_answers_like_an_older_one(db_dsn: str) -> None:
    app = CollectorApp(collector_settings(batch_bundles=False), db_dsn)
    await app.start()
    try:
        vps = create_vps(db_dsn)
        stream = await open_stream(app, vps.token, bundles=True, offered=False)
        t0 = now_ms() - 10_000
        await stream.send(agent_pb2.MessageToServer(performance_batch=performance_batch(1, [t0])))
        await stream.send(agent_pb2.MessageToServer(docker_batch=docker_batch(2, t0)))
        acks = await stream.acks(2)  # one BatchAck per batch, as before bundles
        assert acks[1].outcome == acks[2].outcome == agent_pb2.BatchAck.OUTCOME_STORED
        await stream.send(_bundle_of(2, t0 + 10_000))
        assert await stream.status() == grpc.StatusCode.FAILED_PRECONDITION
        await stream.close()
    finally:
        await app.stop(2.0)


async def test_first_message_must_be_a_handshake(collector: CollectorApp, vps: Vps) -> None:
    stream = TestStream(f"127.0.0.1:{collector.port}", vps.token)
    await stream.send(agent_pb2.MessageToServer(heartbeat=agent_pb2.Heartbeat(timestamp_unix_ms=now_ms())))
    assert await stream.status() == grpc.StatusCode.FAILED_PRECONDITION
    await stream.close()

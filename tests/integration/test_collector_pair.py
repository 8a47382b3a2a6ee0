"""Two real ``tidewatch-collector`` processes on one database, as when several share a fleet.

Each check runs both collectors as child processes (the real entry point) on
their own loopback ports, with the shared test database:
- one agent is held by exactly one collector: a reconnect to the other cuts the old stream;
- a batch replayed to the other collector is acknowledged DUPLICATE and stored once,
  alone or in a batch bundle (each of its batches DUPLICATE);
- rollup maintenance takes a fleet-wide advisory lock that both honour;
- both may listen on one port (SO_REUSEPORT), the kernel spreading agents among them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import psycopg
import pytest

from agent.runtime.bundling import build_bundle
from collector.maintenance import MAINTENANCE_LOCK_ID
from proto import agent_pb2
from tests.conftest import create_vps, free_port
from tests.factories import docker_batch, now_ms, performance_batch
from tests.integration.test_collector_faults import CollectorProcess
from tests.stream_client import TestStream, handshake

pytestmark = [pytest.mark.slow, pytest.mark.db]

_REFRESHED = re.compile(r"rollups refreshed")


@pytest.fixture
async def pair(db_dsn: str, tmp_path: Path) -> AsyncIterator[tuple[CollectorProcess, CollectorProcess]]:
    """Two collectors; maintenance every 0.3 s so that the lock is contended."""
    env = {"TIDEWATCH_COLLECTOR_MAINTENANCE_INTERVAL_S": "0.3"}
    first = CollectorProcess(db_dsn, free_port(), tmp_path / "a.log", env)
    second = CollectorProcess(db_dsn, free_port(), tmp_path / "b.log", env)
    try:
        first.start()
        second.start()
        await first.wait_listening(40.0)
        await second.wait_listening(40.0)
        yield first, second
    finally:
        first.terminate()
        second.terminate()


async def connect(process: CollectorProcess, token: str, *, bundles: bool = False) -> tuple[TestStream, str]:
    """An established stream on a TCP connection of its own, and the collector id its
    handshake ack names."""
    # Channels in one process share connections unless each has its own subchannel pool.
    stream = TestStream(f"127.0.0.1:{process.port}", token, options=[("grpc.use_local_subchannel_pool", 1)])
    await stream.send(handshake(1, bundles=bundles))
    ack = (await stream.next("server_handshake_ack", 20.0)).server_handshake_ack
    assert ack.authenticated
    assert ack.batch_bundling.supported == bundles
    return stream, ack.collector_id


def holder(dsn: str, vps_id: int) -> str | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT connected_collector FROM vps WHERE id = %s", (vps_id,)).fetchone()
    assert row is not None
    return None if row[0] is None else str(row[0])


def host_rows(dsn: str, vps_id: int, table: str = "host_metrics") -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE vps_id = %s", (vps_id,)).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_reconnect_to_the_other_collector_cuts_the_old_stream(
    pair: tuple[CollectorProcess, CollectorProcess], db_dsn: str
) -> None:
    first, second = pair
    vps = create_vps(db_dsn)
    old, first_id = await connect(first, vps.token)
    assert holder(db_dsn, vps.id) == first_id

    new, second_id = await connect(second, vps.token)
    assert second_id != first_id
    # The first collector learns of it from the hint, re-reads the row and cuts its stream.
    async with asyncio.timeout(30.0):
        code = await old.status()
    assert code == grpc.StatusCode.ABORTED, await old.details()
    assert "another collector" in await old.details()
    await old.close()
    # Its disconnect did not clear the new holder.
    assert holder(db_dsn, vps.id) == second_id

    # A forged hint about the agent the second collector holds cuts nothing: the row names it.
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_notify('tidewatch_session_taken', %s)", (str(vps.id),))
    await new.send(agent_pb2.MessageToServer(performance_batch=performance_batch(1, [now_ms() - 1000])))
    assert (await new.acks(1, 20.0))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    assert not new.call.done()
    assert holder(db_dsn, vps.id) == second_id
    await new.close()


@pytest.mark.parametrize("bundles", [False, True], ids=["single-batches", "one-bundle"])
async def test_batches_replayed_to_the_other_collector_are_duplicates_and_stored_once(
    pair: tuple[CollectorProcess, CollectorProcess], db_dsn: str, bundles: bool
) -> None:
    first, second = pair
    vps = create_vps(db_dsn)
    t0 = now_ms() - 10_000
    batches = [
        agent_pb2.MessageToServer(performance_batch=performance_batch(1, [t0, t0 + 1000])),
        agent_pb2.MessageToServer(docker_batch=docker_batch(2, t0)),
        agent_pb2.MessageToServer(performance_batch=performance_batch(3, [t0 + 2000])),
    ]
    messages = [build_bundle(batches)] if bundles else batches

    async def deliver(process: CollectorProcess) -> dict[int, int]:
        """Each batch's outcome, its acks read as that wire carries them."""
        stream, _ = await connect(process, vps.token, bundles=bundles)
        for message in messages:
            await stream.send(message)
        if bundles:
            acks = [a for group in await stream.bundled_acks(3, 20.0) for a in group]
        else:
            acks = list((await stream.acks(3, 20.0)).values())
        await stream.close()
        return {a.sequence: a.outcome for a in acks}

    def stored() -> tuple[int, int]:
        return host_rows(db_dsn, vps.id), host_rows(db_dsn, vps.id, "container_metrics")

    assert await deliver(first) == dict.fromkeys((1, 2, 3), agent_pb2.BatchAck.OUTCOME_STORED)
    assert stored() == (3, 10)
    # As if the agent never saw those acks: the same epoch and sequences, to the other collector.
    assert await deliver(second) == dict.fromkeys((1, 2, 3), agent_pb2.BatchAck.OUTCOME_DUPLICATE)
    assert stored() == (3, 10)


async def test_rollup_maintenance_is_held_off_fleet_wide_by_its_advisory_lock(
    pair: tuple[CollectorProcess, CollectorProcess], db_dsn: str
) -> None:
    first, second = pair

    def refreshes() -> int:
        return len(_REFRESHED.findall(first.log())) + len(_REFRESHED.findall(second.log()))

    async def wait_for_refreshes(more_than: int, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while refreshes() <= more_than:
            assert time.monotonic() < deadline, f"no maintenance run:\n{first.log()}\n{second.log()}"
            await asyncio.sleep(0.2)

    # Both collectors run maintenance on their own while nothing holds the lock.
    await wait_for_refreshes(0)
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MAINTENANCE_LOCK_ID,))
        # A run that had the lock before ours finishes; after that, none may start.
        await asyncio.sleep(3.0)
        held_from = refreshes()
        await asyncio.sleep(3.0)  # ten intervals of each collector
        assert refreshes() == held_from, "a collector ran maintenance while another held the lock"
        conn.execute("SELECT pg_advisory_unlock(%s)", (MAINTENANCE_LOCK_ID,))
    await wait_for_refreshes(held_from)


async def test_two_collectors_share_one_port_and_both_take_agents(db_dsn: str, tmp_path: Path) -> None:
    port = free_port()
    first = CollectorProcess(db_dsn, port, tmp_path / "a.log")
    second = CollectorProcess(db_dsn, port, tmp_path / "b.log")
    streams: list[TestStream] = []
    try:
        first.start()
        await first.wait_listening(40.0)
        second.start()
        deadline = time.monotonic() + 40.0
        while "listening on" not in second.log():
            assert second.alive, f"the second collector could not share the port:\n{second.log()}"
            assert time.monotonic() < deadline, f"second collector not listening:\n{second.log()}"
            await asyncio.sleep(0.2)
        holders: set[str] = set()
        # Each stream is its own TCP connection; the kernel picks a listener per connection.
        for _ in range(40):
            stream, collector_id = await connect(first, create_vps(db_dsn).token)
            streams.append(stream)
            holders.add(collector_id)
        assert len(holders) == 2, f"every connection went to {holders}"
    finally:
        for stream in streams:
            await stream.close()
        first.terminate()
        second.terminate()

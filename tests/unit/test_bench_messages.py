"""The load generator's spliced message bytes against the messages the factories build.

``bench.agent_messages`` writes the varying fields (sequence, timestamps) in front of
template bytes instead of building protobuf objects per sample. These tests decode
what it produces with the real proto classes and hold it equal to what
``tests.factories`` builds for the same values, so the cheap path cannot drift from
the real message shape; and they drive a generator's sampling to check that every
batch it queues is distinct, with advancing timestamps and the bench's row mix.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench.agent_messages import AgentShape, build_templates, heartbeat
from bench.sim_agents import AgentProcess
from bench.sim_protocol import KIND_DOCKER, KIND_PERFORMANCE, AgentSpec, ProcessPlan
from proto import agent_pb2
from tests.factories import docker_batch, snapshot

REFERENCE_MS = 1_790_000_000_000
SHAPES = [AgentShape(), AgentShape(disks=1, interfaces=1, containers=1, cores=1), AgentShape(8, 6, 30, 16)]


def _factory_snapshot(shape: AgentShape, timestamp_ms: int, template: int) -> agent_pb2.PerformanceSnapshot:
    """What the template numbered ``template`` holds, with the timestamp set as an agent would."""
    message = snapshot(
        0, disks=shape.disks, interfaces=shape.interfaces, cores=shape.cores, seed=template + 1
    )
    message.timestamp_unix_ms = timestamp_ms
    return message


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("count", [1, 2, 5, 17])
def test_performance_bytes_equal_the_factories_message(shape: AgentShape, count: int) -> None:
    templates = build_templates(shape, REFERENCE_MS)
    variants = len(templates.snapshot_bodies)
    for sequence, variant in [(1, 0), (127, 5), (128, 15), (2**40 + 3, 123)]:
        stamps = [REFERENCE_MS + 1000 * i + 7 for i in range(count)]
        data = templates.performance(sequence, stamps, variant)
        expected = agent_pb2.MessageToServer(
            performance_batch=agent_pb2.PerformanceSnapshotBatch(
                sequence=sequence,
                snapshots=[
                    _factory_snapshot(shape, ts, (variant + i) % variants) for i, ts in enumerate(stamps)
                ],
            )
        )
        decoded = agent_pb2.MessageToServer.FromString(data)
        assert decoded == expected
        # Field order is canonical (the varying fields have the lowest numbers), so the
        # bytes are exactly what protobuf itself would write.
        assert data == expected.SerializeToString(deterministic=True)
        first = decoded.performance_batch.snapshots[0]
        assert len(first.disks) == shape.disks
        assert len(first.disk_io) == shape.disk_io_devices
        assert len(first.network_interfaces) == shape.interfaces


@pytest.mark.parametrize("shape", SHAPES)
def test_docker_bytes_equal_the_factories_message(shape: AgentShape) -> None:
    templates = build_templates(shape, REFERENCE_MS)
    for sequence, timestamp_ms in [(1, REFERENCE_MS), (300, REFERENCE_MS + 5000), (2**33, REFERENCE_MS + 1)]:
        data = templates.docker(sequence, timestamp_ms)
        batch = docker_batch(sequence, REFERENCE_MS, containers=shape.containers)
        batch.timestamp_unix_ms = timestamp_ms  # containers keep the start times of the reference
        expected = agent_pb2.MessageToServer(docker_batch=batch)
        assert agent_pb2.MessageToServer.FromString(data) == expected
        assert data == expected.SerializeToString(deterministic=True)


def test_heartbeat_bytes_equal_the_proto_message() -> None:
    for timestamp_ms in (1, REFERENCE_MS, 2**62):
        expected = agent_pb2.MessageToServer(heartbeat=agent_pb2.Heartbeat(timestamp_unix_ms=timestamp_ms))
        assert heartbeat(timestamp_ms) == expected.SerializeToString()


class _Reports:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, obj: Any) -> None:
        self.items.append(obj)


def _plan(agents: int, shape: AgentShape) -> ProcessPlan:
    return ProcessPlan(
        process_index=0,
        target="127.0.0.1:9",  # channels connect lazily; nothing is dialled here
        agents=tuple(AgentSpec(i, 100 + i, f"token-{i}") for i in range(agents)),
        fleet_size=agents,
        shape=shape,
        batch_snapshots=5,
        batch_max_delay_s=5.0,
        snapshot_interval_s=1.0,
        docker_interval_s=5.0,
        heartbeat_interval_s=10.0,
        agents_per_channel=2,
        connect_concurrency=1,
        drain_timeout_s=1.0,
        epoch_base=0,
    )


def test_generated_batches_are_distinct_advancing_and_hold_the_row_mix() -> None:
    shape = AgentShape()

    async def generate() -> AgentProcess:
        fleet = AgentProcess(_plan(3, shape), build_templates(shape, REFERENCE_MS), _Reports())
        for second in range(23):
            now_ms = REFERENCE_MS + 1000 * second
            for agent in fleet.agents:
                fleet._snapshot(agent, now_ms)
                if second % 5 == agent.spec.index:
                    fleet._docker(agent, now_ms)
        await fleet.close()
        return fleet

    fleet = asyncio.run(generate())
    rows: dict[str, int] = {}
    for agent in fleet.agents:
        assert sorted(agent.pending) == list(range(1, agent.sequence + 1))  # one sequence per batch
        stamps: list[int] = []
        for sequence, sent in sorted(agent.pending.items()):
            message = agent_pb2.MessageToServer.FromString(sent.data)
            if sent.kind == KIND_PERFORMANCE:
                batch = message.performance_batch
                assert batch.sequence == sequence
                times = [s.timestamp_unix_ms for s in batch.snapshots]
                assert (
                    len(times) == sent.samples and times[0] == sent.oldest_ms and times[-1] == sent.newest_ms
                )
                stamps += times
                for s in batch.snapshots:
                    rows["host_metrics"] = rows.get("host_metrics", 0) + 1
                    rows["disk_metrics"] = rows.get("disk_metrics", 0) + len(s.disks)
                    rows["disk_io_metrics"] = rows.get("disk_io_metrics", 0) + len(s.disk_io)
                    rows["network_metrics"] = rows.get("network_metrics", 0) + len(s.network_interfaces)
            else:
                assert sent.kind == KIND_DOCKER
                docker = message.docker_batch
                assert docker.sequence == sequence and docker.timestamp_unix_ms == sent.newest_ms
                rows["container_metrics"] = rows.get("container_metrics", 0) + len(docker.containers)
        assert stamps == sorted(set(stamps))  # every snapshot time distinct and advancing
        # The first batch is cut short at a staggered size; later ones hold five.
        sizes = [s.samples for s in agent.pending.values() if s.kind == KIND_PERFORMANCE]
        assert sizes[0] == 1 + agent.spec.index % 5 and set(sizes[1:]) == {5}
    generated = fleet.stats
    # Every snapshot in a batch (the last partial hold is not cut yet).
    held = sum(len(agent.held) for agent in fleet.agents)
    assert rows == shape.expected_rows(generated.snapshots_generated - held, generated.docker_generated)
    assert fleet.pending_count == sum(len(agent.pending) for agent in fleet.agents)

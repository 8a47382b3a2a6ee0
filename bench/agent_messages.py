"""Pre-serialised agent messages whose only varying fields are sequence and timestamps.

The load generator must not be the bottleneck, so instead of building protobuf
objects per sample it splices a sequence number and timestamps in front of
template bytes made once from ``tests.factories``. Protobuf parsers accept
fields in any order, so the collector decodes exactly what the factories
would have produced for the same values.
"""

from __future__ import annotations

from dataclasses import dataclass

from proto import agent_pb2
from tests.factories import docker_batch, snapshot

__all__ = ["AgentShape", "MessageTemplates", "build_templates", "heartbeat", "varint"]

# Wire tags: (field number << 3) | wire type; 0 is varint, 2 is length-delimited.
_TAG_SEQUENCE = b"\x08"  # sequence = 1 in both batch messages
_TAG_SNAPSHOT_TIME = b"\x08"  # PerformanceSnapshot.timestamp_unix_ms = 1
_TAG_DOCKER_TIME = b"\x10"  # DockerInfoBatch.timestamp_unix_ms = 2
_TAG_SNAPSHOTS = 0x12  # PerformanceSnapshotBatch.snapshots = 2
_TAG_PERFORMANCE_BATCH = 0x12  # MessageToServer.performance_batch = 2
_TAG_DOCKER_BATCH = 0x1A  # MessageToServer.docker_batch = 3
_TAG_HEARTBEAT = 0x3A  # MessageToServer.heartbeat = 7
_TAG_HEARTBEAT_TIME = b"\x08"  # Heartbeat.timestamp_unix_ms = 1
_VARIANTS = 16


def varint(value: int) -> bytes:
    """Protobuf base-128 encoding of a non-negative integer."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _delimited(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + varint(len(payload)) + payload


@dataclass(frozen=True, slots=True)
class AgentShape:
    """What one simulated VPS reports: the factories' small-VPS shape by default."""

    disks: int = 4
    interfaces: int = 3
    containers: int = 10
    cores: int = 2

    @property
    def disk_io_devices(self) -> int:
        return max(1, self.disks // 2)  # as tests.factories.snapshot builds them

    def rows_per_snapshot(self) -> dict[str, int]:
        return {
            "host_metrics": 1,
            "disk_metrics": self.disks,
            "disk_io_metrics": self.disk_io_devices,
            "network_metrics": self.interfaces,
        }

    def rows_per_docker_sample(self) -> dict[str, int]:
        return {"container_metrics": self.containers}

    def expected_rows(self, snapshots: int, docker_samples: int) -> dict[str, int]:
        """Rows each table must hold after ``snapshots`` and ``docker_samples`` are stored."""
        out = {table: n * snapshots for table, n in self.rows_per_snapshot().items()}
        out.update({table: n * docker_samples for table, n in self.rows_per_docker_sample().items()})
        return out


@dataclass(frozen=True, slots=True)
class MessageTemplates:
    """Serialised ``MessageToServer`` bodies minus the fields that change per sample."""

    snapshot_bodies: tuple[bytes, ...]
    docker_body: bytes

    def performance(self, sequence: int, timestamps_ms: list[int], variant: int) -> bytes:
        """A ``MessageToServer`` holding a ``PerformanceSnapshotBatch``."""
        bodies = self.snapshot_bodies
        snapshots = b"".join(
            _delimited(_TAG_SNAPSHOTS, _TAG_SNAPSHOT_TIME + varint(ts) + bodies[(variant + i) % len(bodies)])
            for i, ts in enumerate(timestamps_ms)
        )
        return _delimited(_TAG_PERFORMANCE_BATCH, _TAG_SEQUENCE + varint(sequence) + snapshots)

    def docker(self, sequence: int, timestamp_ms: int) -> bytes:
        """A ``MessageToServer`` holding a ``DockerInfoBatch``."""
        body = _TAG_SEQUENCE + varint(sequence) + _TAG_DOCKER_TIME + varint(timestamp_ms) + self.docker_body
        return _delimited(_TAG_DOCKER_BATCH, body)


def heartbeat(timestamp_ms: int) -> bytes:
    """A ``MessageToServer`` holding a ``Heartbeat`` (nothing pending, nothing spooled)."""
    return _delimited(_TAG_HEARTBEAT, _TAG_HEARTBEAT_TIME + varint(timestamp_ms))


def build_templates(shape: AgentShape, reference_ms: int) -> MessageTemplates:
    """Templates from the factories; ``reference_ms`` anchors container start times."""
    bodies = []
    for seed in range(_VARIANTS):
        # Timestamp 0 is proto3's default, so it is left out of the bytes.
        message = snapshot(
            0, disks=shape.disks, interfaces=shape.interfaces, cores=shape.cores, seed=seed + 1
        )
        bodies.append(message.SerializeToString())
    docker = docker_batch(1, reference_ms, containers=shape.containers)
    docker.sequence = 0
    docker.timestamp_unix_ms = 0
    templates = MessageTemplates(tuple(bodies), docker.SerializeToString())
    _check(templates, shape, reference_ms)
    return templates


def _check(templates: MessageTemplates, shape: AgentShape, reference_ms: int) -> None:
    """Fail fast if the splicing ever stops producing what the factories would."""
    perf = agent_pb2.MessageToServer.FromString(
        templates.performance(7, [reference_ms, reference_ms + 1000], variant=3)
    )
    batch = perf.performance_batch
    if (
        perf.WhichOneof("payload") != "performance_batch"
        or batch.sequence != 7
        or [s.timestamp_unix_ms for s in batch.snapshots] != [reference_ms, reference_ms + 1000]
        or len(batch.snapshots[0].disks) != shape.disks
        or len(batch.snapshots[0].network_interfaces) != shape.interfaces
    ):
        raise AssertionError(f"performance template decodes wrongly: {perf}")
    docker = agent_pb2.MessageToServer.FromString(templates.docker(9, reference_ms)).docker_batch
    beat = agent_pb2.MessageToServer.FromString(heartbeat(reference_ms))
    if beat.heartbeat.timestamp_unix_ms != reference_ms:
        raise AssertionError(f"heartbeat decodes wrongly: {beat}")
    if (
        docker.sequence != 9
        or docker.timestamp_unix_ms != reference_ms
        or len(docker.containers) != shape.containers
        or not all(c.has_stats for c in docker.containers)
    ):
        raise AssertionError(f"docker template decodes wrongly: {docker}")

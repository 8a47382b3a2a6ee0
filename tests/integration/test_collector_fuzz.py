"""Malformed bytes and extreme values against the real collector.

Every input must get a precise answer: a REJECTED ack with INVALID_ARGUMENT
whose detail starts with the field path, or the stream ending with
INVALID_ARGUMENT (or RESOURCE_EXHAUSTED when oversized; FAILED_PRECONDITION for
a second handshake). Never INTERNAL or UNKNOWN. The collector must stay up and
keep storing, and rows stored before the fuzzing must be untouched.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import psycopg
import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.app import CollectorApp
from collector.tables import FLOAT_MAX
from proto import agent_pb2
from tests.conftest import Vps, collector_settings, create_vps
from tests.factories import docker_batch, now_ms, performance_batch, snapshot
from tests.integration.test_collector_ingest import open_stream
from tests.stream_client import CLIENT_WRITE_FAILED, final_status, handshake

pytestmark = pytest.mark.db

METHOD = "/tidewatch.v1.AgentCommunicationService/EstablishCommunicationStream"
BATCH_KINDS = ("performance_batch", "docker_batch", "generic_metrics_batch")
PROBE_SEQUENCE = 7_777_777
SEQUENCES = itertools.count(1000)  # a fresh sequence per case: equal (sequence, time) would be a replay
# "snapshots[0].disks[1].mountpoint: ..." or "sequence: ...": the detail starts with the field path.
FIELD_PATH = re.compile(r"^[a-z_]+(\[\d+\])?(\.[a-z_0-9]+(\[\d+\])?)*: ")
FUZZ_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
MAX_MESSAGE_BYTES = 256 * 1024


@pytest.fixture(scope="module")
async def fuzz_collector(db_dsn: str) -> AsyncIterator[CollectorApp]:
    app = CollectorApp(collector_settings(max_message_bytes=MAX_MESSAGE_BYTES), db_dsn)
    await app.start()
    yield app
    await app.stop(2.0)


@pytest.fixture(scope="module")
def fuzz_vps(db_dsn: str) -> Vps:
    return create_vps(db_dsn)


def stored_checksum(dsn: str, vps_id: int) -> tuple[int, float]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(sum(cpu_percent), 0) FROM host_metrics WHERE vps_id = %s", (vps_id,)
        ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1])


def assert_same_checksum(after: tuple[int, float], before: tuple[int, float]) -> None:
    """Same rows, same values: the count exactly, the sum up to float rounding.

    SQL's sum adds in whatever order the plan reads chunks, so two sums of the same
    stored floats can differ in the last bits (851.1000000000001 vs 851.0999999999998).
    """
    assert after[0] == before[0], (after, before)
    assert after[1] == pytest.approx(before[1], rel=1e-12, abs=1e-12), (after, before)


@pytest.fixture(scope="module")
async def bystander(
    fuzz_collector: CollectorApp, db_dsn: str
) -> AsyncIterator[tuple[Vps, tuple[int, float]]]:
    """A VPS with data stored before any fuzzing; it must be intact afterwards."""
    vps = create_vps(db_dsn)
    stream = await open_stream(fuzz_collector, vps.token)
    t0 = now_ms() - 60_000
    await stream.send(
        agent_pb2.MessageToServer(performance_batch=performance_batch(1, [t0 + i * 1000 for i in range(20)]))
    )
    assert (await stream.acks(1))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    await stream.close()
    before = stored_checksum(db_dsn, vps.id)
    yield vps, before
    assert_same_checksum(stored_checksum(db_dsn, vps.id), before)


# -- a raw stream: any bytes after a valid handshake ------------------------------------------


@dataclass
class Answer:
    acks: list[agent_pb2.BatchAck] = field(default_factory=list)
    ended: grpc.StatusCode | None = None
    details: str = ""


def raw_call(channel: grpc.aio.Channel, token: str) -> grpc.aio.StreamStreamCall:
    """The agent stream with requests sent as given bytes, not serialized messages."""
    call = channel.stream_stream(
        METHOD,
        request_serializer=lambda b: b,
        response_deserializer=agent_pb2.MessageToAgent.FromString,
    )
    return call(metadata=(("authorization", f"Bearer {token}"),), timeout=15)


async def exchange(port: int, token: str, payload: bytes, wait_for_sequence: int | None = None) -> Answer:
    """Handshake, send ``payload`` as raw bytes, then a probe; collect acks until the probe's or the end.

    When the probe's write races the server ending the stream, the client's core can keep
    its own INTERNAL stand-in for good and the server's status is never seen. That says
    nothing about the server, so the same exchange runs again on a new stream (a few times
    at most); every status actually received is still returned and checked.
    """
    for _ in range(5):
        answer = await _exchange_once(port, token, payload, wait_for_sequence)
        if (answer.ended, answer.details) != CLIENT_WRITE_FAILED:
            return answer
    return answer


async def _exchange_once(port: int, token: str, payload: bytes, wait_for_sequence: int | None) -> Answer:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = raw_call(channel, token)
        await call.write(handshake().SerializeToString())
        first = await call.read()
        assert first is not grpc.aio.EOF and first.WhichOneof("payload") == "server_handshake_ack"
        answer = Answer()
        probe = agent_pb2.PerformanceSnapshotBatch(sequence=PROBE_SEQUENCE)  # empty: always rejected
        try:
            await call.write(payload)
            await call.write(agent_pb2.MessageToServer(performance_batch=probe).SerializeToString())
        except (grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError):
            pass  # the stream already ended; its status says why
        needed = Counter({PROBE_SEQUENCE: 1})
        if wait_for_sequence is not None:
            needed[wait_for_sequence] += 1
        seen: Counter[int] = Counter()
        try:
            while (message := await call.read()) is not grpc.aio.EOF:
                if message.WhichOneof("payload") == "batch_ack":
                    answer.acks.append(message.batch_ack)
                    seen[message.batch_ack.sequence] += 1
                    if all(seen[k] >= n for k, n in needed.items()):
                        call.cancel()
                        return answer
        except grpc.aio.AioRpcError:
            pass
        answer.ended, answer.details = await final_status(call)
        return answer


def assert_precise(answer: Answer) -> None:
    if answer.ended is not None:
        assert answer.ended in (
            grpc.StatusCode.INVALID_ARGUMENT,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            grpc.StatusCode.FAILED_PRECONDITION,
        ), (answer.ended, answer.details)
        assert answer.details
    for ack in answer.acks:
        if ack.outcome == agent_pb2.BatchAck.OUTCOME_REJECTED:
            assert ack.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0], ack
            assert FIELD_PATH.match(ack.detail), ack.detail
        else:
            assert ack.outcome in (agent_pb2.BatchAck.OUTCOME_STORED, agent_pb2.BatchAck.OUTCOME_DUPLICATE), (
                ack
            )


async def check_bytes(port: int, token: str, payload: bytes) -> Answer:
    """Send ``payload`` and hold the answer to what the same bytes parse to locally."""
    message = agent_pb2.MessageToServer()
    try:
        message.ParseFromString(payload)
        kind = message.WhichOneof("payload")
    except DecodeError:
        kind = "undecodable"
    sequence = getattr(message, kind).sequence if kind in BATCH_KINDS else None
    answer = await exchange(port, token, payload, sequence)
    assert_precise(answer)
    if kind in ("undecodable", None):
        assert answer.ended == grpc.StatusCode.INVALID_ARGUMENT, (kind, answer)
    elif kind == "agent_handshake":
        assert answer.ended == grpc.StatusCode.FAILED_PRECONDITION, answer
    else:  # a batch is acked; anything else is taken quietly and the stream lives on
        assert answer.ended is None, (kind, answer)
    return answer


@functools.cache
def valid_samples() -> list[bytes]:
    """Built on first use, never at import (a time taken then goes stale on a slow run), and
    once: hypothesis needs the same data on replay."""
    t = now_ms() - 30_000
    samples = [
        agent_pb2.MessageToServer(performance_batch=performance_batch(11, [t, t + 1000])),
        agent_pb2.MessageToServer(docker_batch=docker_batch(12, t, containers=2)),
        agent_pb2.MessageToServer(
            generic_metrics_batch=agent_pb2.GenericMetricsBatch(
                sequence=13,
                metrics=[agent_pb2.GenericMetric(timestamp_unix_ms=t, name="app_requests", value=3.0)],
            )
        ),
        agent_pb2.MessageToServer(
            command_response=agent_pb2.CommandResponse(
                command_id="x", status=agent_pb2.COMMAND_STATUS_RUNNING
            )
        ),
        agent_pb2.MessageToServer(heartbeat=agent_pb2.Heartbeat(timestamp_unix_ms=t)),
    ]
    return [m.SerializeToString() for m in samples]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid message with bytes flipped, cut short or spliced: near-misses parse in odd ways."""
    data = bytearray(draw(st.sampled_from(valid_samples())))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if how == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif how == "truncate":
            del data[at:]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            del data[at : at + draw(st.integers(1, 8))]
    return bytes(data)


@FUZZ_SETTINGS
@given(payload=st.one_of(st.binary(max_size=512), mutated()))
async def test_arbitrary_bytes_get_a_precise_status(
    fuzz_collector: CollectorApp, fuzz_vps: Vps, bystander: object, payload: bytes
) -> None:
    await check_bytes(fuzz_collector.port, fuzz_vps.token, payload)


@pytest.mark.parametrize(
    ("payload", "ended"),
    [
        (agent_pb2.MessageToServer().SerializeToString(), grpc.StatusCode.INVALID_ARGUMENT),
        (b"\xff\xff\xff", grpc.StatusCode.INVALID_ARGUMENT),
        (handshake().SerializeToString(), grpc.StatusCode.FAILED_PRECONDITION),
        # Field 2 (performance_batch) declaring 1 MiB but carrying 3 bytes.
        (b"\x12\x80\x80\x40abc", grpc.StatusCode.INVALID_ARGUMENT),
        (b"\x00" * 64, grpc.StatusCode.INVALID_ARGUMENT),
    ],
    ids=["no-payload", "garbage", "second-handshake", "truncated-length", "zeros"],
)
async def test_stream_level_faults_end_the_stream_precisely(
    fuzz_collector: CollectorApp, fuzz_vps: Vps, bystander: object, payload: bytes, ended: grpc.StatusCode
) -> None:
    answer = await exchange(fuzz_collector.port, fuzz_vps.token, payload)
    assert answer.ended == ended, answer
    assert_precise(answer)


async def test_an_oversized_message_is_resource_exhausted(
    fuzz_collector: CollectorApp, fuzz_vps: Vps, bystander: object
) -> None:
    t = now_ms() - 10_000
    big = agent_pb2.MessageToServer(
        generic_metrics_batch=agent_pb2.GenericMetricsBatch(
            sequence=1,
            metrics=[
                agent_pb2.GenericMetric(
                    timestamp_unix_ms=t, name="big", value=1.0, labels={"pad": "x" * 1000}
                )
                for _ in range(MAX_MESSAGE_BYTES // 1000 + 10)
            ],
        )
    )
    assert big.ByteSize() > MAX_MESSAGE_BYTES
    answer = await exchange(fuzz_collector.port, fuzz_vps.token, big.SerializeToString())
    assert answer.ended == grpc.StatusCode.RESOURCE_EXHAUSTED, answer


# -- extreme values in well-formed messages --------------------------------------------------


# A message and the field path a rejection of it must name.
Case = tuple[agent_pb2.MessageToServer, str]
# Builds a case around a sample time in ms: cases are listed at import, stamped when run.
Build = Callable[[int], Case]


def setter(path: str, value: object) -> Callable[[Any], None]:
    """Set ``a[0].b`` on a message; ``name+`` extends a repeated field, a dict updates a map."""
    *parents, name = path.split(".")

    def apply(message: Any) -> None:
        target = message
        for part in parents:
            attr, _, index = part.partition("[")
            target = getattr(target, attr)
            if index:
                target = target[int(index.rstrip("]"))]
        if name.endswith("+"):
            getattr(target, name[:-1]).extend(value)
        elif isinstance(value, dict):
            getattr(target, name).update(value)
        else:
            setattr(target, name, value)

    return apply


def perf(path: str = "", value: object = None, *, sequence: int = 100, names: str = "") -> Build:
    """One snapshot with ``path`` set; a rejection names that path, or ``names`` if given."""

    def build(t_ms: int) -> Case:
        s = snapshot(t_ms)
        if path:
            setter(path, value)(s)
        batch = agent_pb2.PerformanceSnapshotBatch(sequence=sequence, snapshots=[s])
        return agent_pb2.MessageToServer(performance_batch=batch), names or f"snapshots[0].{path.rstrip('+')}"

    return build


def docker(path: str, value: object, *also: tuple[str, object]) -> Build:
    def build(t_ms: int) -> Case:
        batch = docker_batch(100, t_ms, containers=1)
        for field_path, field_value in ((path, value), *also):
            setter(field_path, field_value)(batch.containers[0])
        return agent_pb2.MessageToServer(docker_batch=batch), f"containers[0].{path.rstrip('+')}"

    return build


def generic(path: str, value: object) -> Build:
    def build(t_ms: int) -> Case:
        metric = agent_pb2.GenericMetric(timestamp_unix_ms=t_ms, name="app_queue_depth", value=1.0)
        setter(path, value)(metric)
        batch = agent_pb2.GenericMetricsBatch(sequence=100, metrics=[metric])
        return agent_pb2.MessageToServer(generic_metrics_batch=batch), f"metrics[0].{path}"

    return build


def whole(kind: str, field: str, *, stamped: bool = False, **fields: Any) -> Build:
    """A batch of ``kind`` with only the given fields (and the sample time if ``stamped``): no samples."""
    batch_type = {
        "performance_batch": agent_pb2.PerformanceSnapshotBatch,
        "docker_batch": agent_pb2.DockerInfoBatch,
        "generic_metrics_batch": agent_pb2.GenericMetricsBatch,
    }[kind]

    def build(t_ms: int) -> Case:
        stamp = {"timestamp_unix_ms": t_ms} if stamped else {}
        return agent_pb2.MessageToServer(**{kind: batch_type(sequence=100, **stamp, **fields)}), field

    return build


REJECTED, STORED = "rejected", "stored"
NUL = "a\x00b"
EXTREME_CASES: list[tuple[str, Build, str]] = [
    ("nan-cpu", perf("cpu_percent", math.nan), REJECTED),
    ("inf-cpu", perf("cpu_percent", math.inf), REJECTED),
    ("minus-inf-load", perf("load_1", -math.inf), REJECTED),
    ("negative-zero-cpu", perf("cpu_percent", -0.0), STORED),
    ("negative-load", perf("load_5", -1.0), REJECTED),
    ("huge-load", perf("load_15", 1e308), REJECTED),
    ("huge-rate", perf("network_interfaces[0].rx_bytes_per_second", 1e300), REJECTED),
    ("nan-core", perf("cpu_per_core_percent+", [math.nan]), REJECTED),
    ("cpu-over-100", perf("cpu_user_percent", 100.5), REJECTED),
    ("bytes-2^63", perf("memory_used_bytes", 2**63), REJECTED),
    ("bytes-2^63-1", perf("swap_used_bytes", 2**63 - 1), STORED),
    ("uint32-max-connections", perf("tcp_connections", 2**32 - 1), REJECTED),
    ("10k-cores", perf("cpu_per_core_percent+", [1.0] * 10_000), REJECTED),
    ("nul-interface", perf("network_interfaces[0].interface", NUL), REJECTED),
    ("huge-mountpoint", perf("disks[0].mountpoint", "/" + "m" * 100_000), REJECTED),
    ("empty-interface-name", perf("network_interfaces[1].interface", ""), REJECTED),
    ("zero-time", perf("timestamp_unix_ms", 0), REJECTED),
    ("negative-time", perf("timestamp_unix_ms", -(2**63)), REJECTED),
    ("far-past", perf("timestamp_unix_ms", 1), REJECTED),
    ("far-future", perf("timestamp_unix_ms", 2**63 - 1), REJECTED),
    ("sequence-0", perf(sequence=0, names="sequence"), REJECTED),
    ("sequence-2^64-1", perf(sequence=2**64 - 1, names="sequence"), REJECTED),
    ("empty-performance", whole("performance_batch", "snapshots"), REJECTED),
    ("empty-generic", whole("generic_metrics_batch", "metrics"), REJECTED),
    ("empty-docker", whole("docker_batch", "", stamped=True, docker_available=True), STORED),
    ("docker-zero-time", whole("docker_batch", "timestamp_unix_ms"), REJECTED),
    ("container-nul-id", docker("container_id", NUL), REJECTED),
    ("container-nul-id-no-stats", docker("container_id", NUL, ("has_stats", False)), REJECTED),
    ("container-nul-name", docker("name", NUL), REJECTED),
    ("container-nul-label", docker("labels", {"k": NUL}), REJECTED),
    ("container-nul-label-key", docker("labels", {NUL: "v"}), REJECTED),
    ("container-nul-port", docker("ports+", [NUL]), REJECTED),
    ("container-far-future-created", docker("created_unix_ms", 2**62), REJECTED),
    ("container-far-future-finished", docker("finished_unix_ms", 2**63 - 1), REJECTED),
    ("container-restarts-uint32-max", docker("restart_count", 2**32 - 1), REJECTED),
    ("container-huge-memory", docker("memory_usage_bytes", 2**64 - 1), REJECTED),
    ("container-nan-cpu", docker("cpu_percent", math.nan), REJECTED),
    ("container-huge-cpu", docker("cpu_percent", 1e308), REJECTED),
    ("generic-nan", generic("value", math.nan), REJECTED),
    ("generic-inf", generic("value", -math.inf), REJECTED),
    ("generic-huge", generic("value", -1e308), STORED),
    ("generic-bad-name", generic("name", "1 bad name"), REJECTED),
    ("generic-nul-label", generic("labels", {"k": NUL}), REJECTED),
    ("generic-future", generic("timestamp_unix_ms", 2**62), REJECTED),
]


@pytest.mark.parametrize(
    ("case", "expected"), [c[1:] for c in EXTREME_CASES], ids=[c[0] for c in EXTREME_CASES]
)
async def test_extreme_values_are_stored_or_rejected_by_field(
    fuzz_collector: CollectorApp, fuzz_vps: Vps, bystander: object, case: Build, expected: str
) -> None:
    message, field_path = case(now_ms() - 20_000)
    batch = getattr(message, message.WhichOneof("payload"))
    if batch.sequence == 100:  # the builders' placeholder; the sequence cases keep theirs
        batch.sequence = next(SEQUENCES)
    answer = await check_bytes(fuzz_collector.port, fuzz_vps.token, message.SerializeToString())
    ack = next(a for a in answer.acks if a.sequence == batch.sequence)
    if expected == STORED:
        assert ack.outcome == agent_pb2.BatchAck.OUTCOME_STORED, ack
    else:
        assert ack.outcome == agent_pb2.BatchAck.OUTCOME_REJECTED, ack
        assert re.match(re.escape(field_path) + r"(\[\d+\])?[.:]", ack.detail), ack.detail


def quiet(kind: str, **fields: Any) -> agent_pb2.MessageToServer:
    payload = {"command_response": agent_pb2.CommandResponse, "heartbeat": agent_pb2.Heartbeat}.get(
        kind, agent_pb2.PtyDataToServer
    )(**fields)
    return agent_pb2.MessageToServer(**{kind: payload})


RUNNING, FAILED = agent_pb2.COMMAND_STATUS_RUNNING, agent_pb2.COMMAND_STATUS_FAILED
QUIET_CASES: list[tuple[str, agent_pb2.MessageToServer]] = [
    (
        "command-nul-error",
        quiet("command_response", command_id=str(uuid.uuid4()), status=FAILED, error_message=NUL),
    ),
    ("command-nul-id", quiet("command_response", command_id=NUL, status=RUNNING)),
    ("command-huge-id", quiet("command_response", command_id="x" * 100_000, status=RUNNING)),
    ("command-unknown-status", quiet("command_response", command_id="x", status=99)),
    (
        "command-bad-utf8-output",
        quiet("command_response", command_id="x", status=RUNNING, stdout=b"\xff\x00"),
    ),
    ("heartbeat-extremes", quiet("heartbeat", timestamp_unix_ms=-(2**63), pending_batches=2**64 - 1)),
    ("pty-nul", quiet("pty_data", session_id=NUL, output=b"\x00" * 10)),
]


@pytest.mark.parametrize("message", [case[1] for case in QUIET_CASES], ids=[case[0] for case in QUIET_CASES])
async def test_odd_control_messages_leave_the_stream_open(
    fuzz_collector: CollectorApp, fuzz_vps: Vps, bystander: object, message: agent_pb2.MessageToServer
) -> None:
    answer = await check_bytes(fuzz_collector.port, fuzz_vps.token, message.SerializeToString())
    assert answer.ended is None and answer.acks[-1].sequence == PROBE_SEQUENCE


# Field -> the range it accepts: percentages, non-negative amounts (capped), any finite number.
FLOAT_FIELDS: dict[str, tuple[float, float]] = {
    "cpu_percent": (0.0, 100.0),
    "cpu_system_percent": (0.0, 100.0),
    "load_1": (0.0, FLOAT_MAX),
    "disk_io[0].write_ops_per_second": (0.0, FLOAT_MAX),
    "network_interfaces[2].tx_packets_per_second": (0.0, FLOAT_MAX),
    "temperatures[0].celsius": (-math.inf, math.inf),
}


@FUZZ_SETTINGS
@given(
    path=st.sampled_from(sorted(FLOAT_FIELDS)),
    value=st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([-0.0, 5e-324, 100.0, 100.00000000000001, FLOAT_MAX, FLOAT_MAX * 1.0000001]),
)
async def test_any_float_is_stored_or_rejected_naming_its_field(
    fuzz_collector: CollectorApp, fuzz_vps: Vps, bystander: object, path: str, value: float
) -> None:
    sequence = next(SEQUENCES)
    message, _ = perf(sequence=sequence)(now_ms() - 20_000)
    sample = message.performance_batch.snapshots[0]
    sample.temperatures.add(sensor="cpu", celsius=40.0)
    setter(path, value)(sample)
    answer = await check_bytes(fuzz_collector.port, fuzz_vps.token, message.SerializeToString())
    ack = next(a for a in answer.acks if a.sequence == sequence)
    low, high = FLOAT_FIELDS[path]
    if math.isfinite(value) and low <= value <= high:
        assert ack.outcome == agent_pb2.BatchAck.OUTCOME_STORED, (value, ack)
    else:
        assert ack.outcome == agent_pb2.BatchAck.OUTCOME_REJECTED, (value, ack)
        assert ack.detail.startswith(f"snapshots[0].{path}:"), (value, ack.detail)


@FUZZ_SETTINGS
@given(
    hostname=st.text(max_size=300),
    ips=st.lists(st.text(max_size=80), max_size=3),
    boot_ms=st.integers(-(2**63), 2**63 - 1),
    cores=st.integers(0, 2**32 - 1),
)
async def test_any_host_info_in_the_handshake_is_acked(
    fuzz_collector: CollectorApp,
    db_dsn: str,
    fuzz_vps: Vps,
    hostname: str,
    ips: list[str],
    boot_ms: int,
    cores: int,
) -> None:
    message = handshake()
    host = message.agent_handshake.host
    host.hostname, host.boot_time_unix_ms, host.cpu_logical_cores = hostname, boot_ms, cores
    host.ip_addresses.extend(ips)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{fuzz_collector.port}") as channel:
        call = raw_call(channel, fuzz_vps.token)
        await call.write(message.SerializeToString())
        reply = await call.read()
        assert reply is not grpc.aio.EOF, await final_status(call)
        assert reply.WhichOneof("payload") == "server_handshake_ack"
        call.cancel()
    # Host facts are informational: cleaned and stored, never a reason to lock the agent out.
    with psycopg.connect(db_dsn) as conn:
        row = conn.execute("SELECT hostname, ip_addresses FROM vps WHERE id = %s", (fuzz_vps.id,)).fetchone()
    assert row == (hostname.replace("\x00", "")[:255], [ip.replace("\x00", "")[:64] for ip in ips])


async def test_after_the_fuzzing_the_collector_still_stores(
    fuzz_collector: CollectorApp, db_dsn: str, bystander: tuple[Vps, tuple[int, float]]
) -> None:
    vps = create_vps(db_dsn)
    stream = await open_stream(fuzz_collector, vps.token)
    t0 = now_ms() - 5_000
    await stream.send(agent_pb2.MessageToServer(performance_batch=performance_batch(1, [t0, t0 + 1000])))
    assert (await stream.acks(1))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    assert stored_checksum(db_dsn, vps.id)[0] == 2
    await stream.close()
    assert_same_checksum(stored_checksum(db_dsn, bystander[0].id), bystander[1])

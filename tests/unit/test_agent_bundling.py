"""Which pending batches the agent sends together, and how long a lone Docker batch waits."""

from __future__ import annotations

from pathlib import Path

from agent.runtime.bundling import BundleLimits, BundlePlanner, build_bundle
from agent.runtime.pending import PendingStore
from agent.runtime.sequence import SequenceAllocator
from agent.runtime.spool_log import SegmentLog
from proto import agent_pb2


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _store(tmp_path: Path) -> PendingStore:
    return PendingStore(
        SegmentLog(tmp_path / "spool", max_bytes=1 << 22, commit_interval_s=0),
        SequenceAllocator(tmp_path / "spool", clock_ms=lambda: 555),
        memory_max_batches=100,
    )


def _performance(snapshots: int = 1) -> agent_pb2.MessageToServer:
    batch = agent_pb2.PerformanceSnapshotBatch(
        snapshots=[agent_pb2.PerformanceSnapshot(timestamp_unix_ms=1000 + i) for i in range(snapshots)]
    )
    return agent_pb2.MessageToServer(performance_batch=batch)


def _docker() -> agent_pb2.MessageToServer:
    return agent_pb2.MessageToServer(docker_batch=agent_pb2.DockerInfoBatch(timestamp_unix_ms=1000))


def _planner(
    store: PendingStore, clock: _Clock, due: list[float | None], limits: BundleLimits | None = None
) -> BundlePlanner:
    return BundlePlanner(
        limits or BundleLimits(max_batches=64, max_bytes=1 << 20),
        store,
        next_batch_due=lambda: due[0],
        hold_max_s=lambda: 5.0,
        clock=clock,
    )


def test_the_offer_is_read_from_the_ack_and_narrowed_to_the_agents_limit() -> None:
    assert BundleLimits.offered(agent_pb2.ServerHandshakeAck(authenticated=True), 1 << 24) is None
    ack = agent_pb2.ServerHandshakeAck(
        batch_bundling=agent_pb2.BatchBundling(supported=True, max_batches=64, max_bytes=1 << 20)
    )
    assert BundleLimits.offered(ack, 1 << 24) == BundleLimits(64, 1 << 20)
    assert BundleLimits.offered(ack, 4096) == BundleLimits(64, 4096)
    ack.batch_bundling.max_batches = 1  # a bundle of one is no bundle
    assert BundleLimits.offered(ack, 1 << 24) is None


def test_a_bundle_is_the_concatenation_of_its_single_batch_messages() -> None:
    messages = [_performance(2), _docker(), _performance(1)]
    bundle = build_bundle(messages)
    # What bench/sim_agents.py sends: the messages' bytes one after another parse as the bundle.
    body = b"".join(m.SerializeToString() for m in messages)
    assert agent_pb2.BatchBundle.FromString(body) == bundle.batch_bundle
    assert len(bundle.batch_bundle.performance_batches) == 2
    assert len(bundle.batch_bundle.docker_batches) == 1
    assert build_bundle([messages[1]]) is messages[1]  # one batch goes as itself


def test_a_docker_batch_waits_for_the_next_performance_batch_then_both_go(tmp_path: Path) -> None:
    store, clock = _store(tmp_path), _Clock()
    due: list[float | None] = [102.0]
    planner = _planner(store, clock, due)
    docker = store.submit(_docker())
    picked, wait_s = planner.take(0, room=32)
    assert picked == [] and wait_s == 2.5  # until due, plus slack for the sampler
    clock.now = 101.0
    assert planner.take(0, room=32) == ([], 1.5)  # the same hold, not a new one
    performance = store.submit(_performance())
    clock.now = 102.1
    picked, wait_s = planner.take(0, room=32)
    assert [sequence for sequence, _ in picked] == [docker, performance] and wait_s is None


def test_the_wait_is_bounded_and_a_lone_batch_goes_when_it_ends(tmp_path: Path) -> None:
    store, clock = _store(tmp_path), _Clock()
    due: list[float | None] = [104.9]
    planner = _planner(store, clock, due)
    docker = store.submit(_docker())
    assert planner.take(0, room=32) == ([], 5.0)  # min(due + slack, now + batch_max_delay_s)
    clock.now = 105.0  # the performance batch never came (its sampler failing, say)
    picked, wait_s = planner.take(0, room=32)
    assert [sequence for sequence, _ in picked] == [docker] and wait_s is None


def test_no_wait_when_the_next_batch_is_too_far_or_unknown(tmp_path: Path) -> None:
    store, clock = _store(tmp_path), _Clock()
    due: list[float | None] = [105.5]
    planner = _planner(store, clock, due)
    store.submit(_docker())
    assert len(planner.take(0, room=32)[0]) == 1
    due[0] = None
    assert len(planner.take(0, room=32)[0]) == 1


def test_a_hold_ends_when_sampling_stops(tmp_path: Path) -> None:
    store, clock = _store(tmp_path), _Clock()
    due: list[float | None] = [103.0]
    planner = _planner(store, clock, due)
    docker = store.submit(_docker())
    assert planner.take(0, room=32) == ([], 3.5)
    due[0] = None  # the agent is stopping: no performance batch will come
    picked, wait_s = planner.take(0, room=32)
    assert [sequence for sequence, _ in picked] == [docker] and wait_s is None


def test_bundles_stay_within_count_room_and_bytes(tmp_path: Path) -> None:
    store, clock = _store(tmp_path), _Clock()
    sequences = [store.submit(_performance(5)) for _ in range(10)]
    size = max(store.next_after(s - 1)[1].ByteSize() for s in sequences)  # type: ignore[index]
    planner = _planner(store, clock, [None], BundleLimits(max_batches=4, max_bytes=6 + 3 * size))
    picked, _ = planner.take(0, room=32)
    assert [s for s, _ in picked] == sequences[:3]  # bytes bound first
    assert build_bundle([m for _, m in picked]).ByteSize() <= 6 + 3 * size
    picked, _ = _planner(store, clock, [None], BundleLimits(4, 1 << 20)).take(0, room=32)
    assert [s for s, _ in picked] == sequences[:4]  # then the offered count
    picked, _ = _planner(store, clock, [None]).take(sequences[7], room=2)
    assert [s for s, _ in picked] == sequences[8:10]  # and the in-flight room, after the cursor


def test_a_batch_over_the_byte_limit_goes_alone(tmp_path: Path) -> None:
    store, clock = _store(tmp_path), _Clock()
    big = store.submit(_performance(50))
    store.submit(_performance(1))
    planner = _planner(store, clock, [None], BundleLimits(max_batches=64, max_bytes=200))
    picked, _ = planner.take(0, room=32)
    assert [s for s, _ in picked] == [big]

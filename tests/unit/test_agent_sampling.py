"""Batching and sampling cadence, and server config applied live."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from agent.config import FeatureSettings, IntervalSettings
from agent.runtime.batcher import SnapshotBatcher
from agent.runtime.live import LiveSettings, features_to_proto
from agent.runtime.sampling import Cadence, Samplers, SamplingLoops
from proto import agent_pb2


def _snap(ms: int = 0) -> agent_pb2.PerformanceSnapshot:
    return agent_pb2.PerformanceSnapshot(timestamp_unix_ms=ms)


# -- batcher (pure, fake clock) ----------------------------------------------------------


def test_batcher_sends_at_max_snapshots() -> None:
    batcher = SnapshotBatcher()
    for i in range(4):
        batcher.add(_snap(i), now=10.0 + i * 0.1)
        assert not batcher.ready(10.0 + i * 0.1, max_snapshots=5, max_delay_s=5.0)
    batcher.add(_snap(4), now=10.4)
    assert batcher.ready(10.4, max_snapshots=5, max_delay_s=5.0)
    batch = batcher.take()
    assert batch is not None
    assert [s.timestamp_unix_ms for s in batch.snapshots] == [0, 1, 2, 3, 4]
    assert batch.sequence == 0  # the pending store assigns it
    assert len(batcher) == 0 and batcher.take() is None


def test_batcher_sends_at_max_delay_from_the_first_snapshot() -> None:
    batcher = SnapshotBatcher()
    assert batcher.deadline(5.0) is None
    assert not batcher.ready(100.0, max_snapshots=5, max_delay_s=5.0)
    batcher.add(_snap(), now=100.0)
    batcher.add(_snap(), now=103.0)
    assert batcher.deadline(5.0) == 105.0
    assert not batcher.ready(104.9, max_snapshots=5, max_delay_s=5.0)
    assert batcher.ready(105.0, max_snapshots=5, max_delay_s=5.0)
    batcher.take()
    batcher.add(_snap(), now=200.0)
    assert batcher.deadline(5.0) == 205.0  # the clock restarts with the next batch


def test_cadence_keeps_rhythm_but_never_bursts() -> None:
    cadence = Cadence()
    assert cadence.due(1.0) == float("-inf")
    cadence.mark(10.0, 1.0)
    assert cadence.due(1.0) == 11.0
    cadence.mark(11.2, 1.0)  # a little late: stay on the grid
    assert cadence.due(1.0) == 12.0
    cadence.mark(50.0, 1.0)  # far behind (suspend): restart from now, no burst
    assert cadence.due(1.0) == 51.0


# -- live settings -----------------------------------------------------------------------


def test_agent_config_changes_intervals_and_zero_means_the_local_value() -> None:
    local = IntervalSettings(batch_max_snapshots=5, batch_max_delay_s=5.0)
    live = LiveSettings(local, FeatureSettings())
    changes = live.apply(agent_pb2.AgentConfig(snapshot_interval_ms=2000, batch_max_snapshots=9))
    assert live.intervals.snapshot_interval_s == 2.0
    assert live.intervals.batch_max_snapshots == 9
    assert live.intervals.docker_interval_s == 5.0
    assert sorted(changes) == ["batch_max_snapshots=9", "snapshot_interval_s=2.0"]
    assert live.apply(agent_pb2.AgentConfig(snapshot_interval_ms=2000, batch_max_snapshots=9)) == []
    # The server's config is whole: what it stops setting (watch mode over) goes back to local.
    watch = agent_pb2.AgentConfig(snapshot_interval_ms=2000, batch_max_snapshots=1, batch_max_delay_ms=100)
    assert sorted(live.apply(watch)) == ["batch_max_delay_s=0.1", "batch_max_snapshots=1"]
    assert sorted(live.apply(agent_pb2.AgentConfig())) == [
        "batch_max_delay_s=5.0",
        "batch_max_snapshots=5",
        "snapshot_interval_s=1.0",
    ]
    assert live.intervals == local


def test_agent_config_is_floored() -> None:
    live = LiveSettings(IntervalSettings(), FeatureSettings())
    live.apply(agent_pb2.AgentConfig(snapshot_interval_ms=1, heartbeat_interval_ms=5))
    assert live.intervals.snapshot_interval_s == 0.1
    assert live.intervals.heartbeat_interval_s == 1.0


def test_server_can_narrow_features_but_never_widen() -> None:
    local = FeatureSettings(docker=True, docker_control=True, shell=True, script=False, pty=True, files=False)
    live = LiveSettings(IntervalSettings(), local)
    everything = agent_pb2.FeatureSwitches(
        docker=True, docker_control=True, shell=True, script=True, pty=True, files=True
    )
    live.apply(agent_pb2.AgentConfig(features=everything))
    assert live.features == local
    live.apply(agent_pb2.AgentConfig(features=agent_pb2.FeatureSwitches(docker=True)))
    assert live.features == FeatureSettings(
        docker=True, docker_control=False, shell=False, script=False, pty=False, files=False
    )
    # Absent features (no message) keep the current ones.
    live.apply(agent_pb2.AgentConfig(snapshot_interval_ms=3000))
    assert live.features.docker and not live.features.shell
    # The server may give back what it took, up to the local switches.
    live.apply(agent_pb2.AgentConfig(features=everything))
    assert live.features == local
    assert features_to_proto(local).script is False


async def test_wait_changed_wakes_on_apply() -> None:
    live = LiveSettings(IntervalSettings(), FeatureSettings())
    assert await live.wait_changed(0.01) is False
    waiter = asyncio.create_task(live.wait_changed(10.0))
    await asyncio.sleep(0.01)
    live.apply(agent_pb2.AgentConfig(docker_interval_ms=1000))
    assert await asyncio.wait_for(waiter, 10.0) is True


# -- sampling loops with fake samplers ---------------------------------------------------


def _fast(**overrides: float) -> IntervalSettings:
    values: dict[str, float] = {
        "snapshot_interval_s": 0.02,
        "docker_interval_s": 0.05,
        "generic_interval_s": 0.05,
        "heartbeat_interval_s": 1.0,
        "batch_max_snapshots": 3,
        "batch_max_delay_s": 5.0,
    }
    values.update(overrides)
    return IntervalSettings(**values)  # type: ignore[arg-type]


async def _run_for(loops: SamplingLoops, seconds: float) -> None:
    task = asyncio.create_task(loops.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_loops_batch_snapshots_and_sample_docker_and_generic() -> None:
    counter = itertools.count()

    def snapshot() -> agent_pb2.PerformanceSnapshot | None:
        n = next(counter)
        return None if n == 0 else _snap(n)  # the first call has no rates yet

    generic_calls = itertools.count()

    def generic() -> list[agent_pb2.GenericMetric]:
        # Every other call is empty and must not produce a batch.
        return [agent_pb2.GenericMetric(name="m", value=1.0)] if next(generic_calls) % 2 else []

    sent: list[agent_pb2.MessageToServer] = []
    samplers = Samplers(
        snapshot=snapshot,
        docker=lambda: agent_pb2.DockerInfoBatch(docker_available=True),
        generic=generic,
    )
    loops = SamplingLoops(samplers, LiveSettings(_fast(), FeatureSettings()), sent.append)
    await _run_for(loops, 0.5)
    kinds = [m.WhichOneof("payload") for m in sent]
    perf = [m.performance_batch for m in sent if m.HasField("performance_batch")]
    assert len(perf) >= 3
    assert all(len(b.snapshots) == 3 for b in perf)
    stamps = [s.timestamp_unix_ms for b in perf for s in b.snapshots]
    assert stamps == list(range(1, len(stamps) + 1))  # no gaps, no duplicates
    assert kinds.count("docker_batch") >= 3
    generic_batches = [m.generic_metrics_batch for m in sent if m.HasField("generic_metrics_batch")]
    assert generic_batches and all(len(b.metrics) == 1 for b in generic_batches)


async def test_loops_flush_by_delay_and_at_shutdown() -> None:
    sent: list[agent_pb2.MessageToServer] = []
    live = LiveSettings(_fast(batch_max_snapshots=1000, batch_max_delay_s=0.15), FeatureSettings())
    loops = SamplingLoops(Samplers(snapshot=lambda: _snap(1)), live, sent.append)
    await _run_for(loops, 0.25)
    assert len(sent) == 1  # one batch sent by age
    assert 4 <= len(sent[0].performance_batch.snapshots) <= 10
    loops.flush()  # the partial batch is not lost at shutdown
    assert len(sent) == 2 and len(sent[1].performance_batch.snapshots) >= 1


async def test_loops_follow_live_config_and_docker_switch() -> None:
    sent: list[agent_pb2.MessageToServer] = []
    live = LiveSettings(_fast(snapshot_interval_s=10.0, docker_interval_s=10.0), FeatureSettings())
    samplers = Samplers(
        snapshot=lambda: _snap(1), docker=lambda: agent_pb2.DockerInfoBatch(docker_available=True)
    )
    loops = SamplingLoops(samplers, live, sent.append)
    task = asyncio.create_task(loops.run())
    await asyncio.sleep(0.1)
    before = len(sent)  # just the first docker sample; snapshots are 10 s apart
    assert before == 1
    # The server speeds things up and turns Docker off: applied without a restart.
    live.apply(
        agent_pb2.AgentConfig(
            snapshot_interval_ms=100,
            docker_interval_ms=100,
            batch_max_snapshots=2,
            features=agent_pb2.FeatureSwitches(shell=True),
        )
    )
    await asyncio.sleep(0.55)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    later = sent[before:]
    assert len(later) >= 2
    assert all(m.HasField("performance_batch") for m in later)
    assert all(len(m.performance_batch.snapshots) == 2 for m in later)


async def test_failing_sampler_is_logged_once_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    calls = itertools.count()

    def flaky() -> agent_pb2.PerformanceSnapshot | None:
        if next(calls) < 5:
            raise OSError("proc is gone")
        return _snap(7)

    sent: list[agent_pb2.MessageToServer] = []
    loops = SamplingLoops(
        Samplers(snapshot=flaky), LiveSettings(_fast(batch_max_snapshots=1), FeatureSettings()), sent.append
    )
    await _run_for(loops, 0.3)
    assert caplog.text.count("host sampler failed") == 1
    assert "host sampler recovered" in caplog.text
    assert sent and sent[0].performance_batch.snapshots[0].timestamp_unix_ms == 7

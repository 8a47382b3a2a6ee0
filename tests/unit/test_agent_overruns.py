"""Docker samples that overrun their interval: counted each time, logged once per streak, sent in heartbeats."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from agent.config import (
    AgentSettings,
    FeatureSettings,
    IntervalSettings,
    ServerSettings,
    SpoolSettings,
    TlsSettings,
)
from agent.runtime.agent import AgentRuntime
from agent.runtime.live import LiveSettings
from agent.runtime.overruns import OverrunWatch
from agent.runtime.sampling import Samplers, SamplingLoops
from common.backoff import Backoff
from proto import agent_pb2
from tests.unit.test_agent_stream import TOKEN, FakeCollector, fake_collector, wait_until

__all__ = ["fake_collector"]  # the fixture, shared with test_agent_stream


# Only this module's records: tasks another test left behind may log too.
OVERRUNS_LOGGER = "agent.runtime.overruns"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == OVERRUNS_LOGGER
    ]


def _recoveries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "back within" in r.getMessage()]


def test_an_overrun_streak_is_logged_once_with_its_figures(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=OVERRUNS_LOGGER)
    watch = OverrunWatch("Docker")
    watch.note(0.4, 5.0, 300)
    assert watch.total == 0 and not caplog.records
    for took in (7.25, 9.0, 12.0):
        watch.note(took, 5.0, 300)
    assert watch.total == 3
    assert _warnings(caplog) == [
        "Docker sample took 7.2 s for 300 containers, longer than its 5.0 s interval; samples are late "
        "(counted in the heartbeat; logged again only after it recovers)"
    ]
    watch.note(1.0, 5.0, 300)
    assert _recoveries(caplog) == [
        "Docker sampling back within its interval: 1.0 s for 300 containers (interval 5.0 s) after 3 overruns"
    ]
    watch.note(1.0, 5.0, 300)  # still fine: nothing more to say
    watch.note(5.5, 5.0, 301)  # a new streak is news again
    assert watch.total == 4
    assert len(_warnings(caplog)) == 2 and "5.5 s for 301 containers" in _warnings(caplog)[1]
    assert len(_recoveries(caplog)) == 1


async def test_the_docker_loop_times_samples_with_its_clock(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=OVERRUNS_LOGGER)
    # The injected clock runs with real time (the loop also waits on it) plus whatever
    # time each fake sample "takes": far more than the interval, or nothing.
    skew = [0.0]
    durations = [0.0, 3.0, 3.0, 3.0, 0.0, 0.0, 3.0, 0.0]
    calls = 0
    done = asyncio.Event()

    def docker() -> agent_pb2.DockerInfoBatch:
        nonlocal calls
        if calls < len(durations):
            skew[0] += durations[calls]
        calls += 1
        if calls == len(durations) + 1:
            done.set()
        return agent_pb2.DockerInfoBatch(
            docker_available=True, containers=[agent_pb2.DockerContainerInfo()] * 2
        )

    intervals = IntervalSettings(snapshot_interval_s=60.0, docker_interval_s=0.05)
    loops = SamplingLoops(
        Samplers(snapshot=lambda: None, docker=docker),
        LiveSettings(intervals, FeatureSettings()),
        lambda message: None,
        clock=lambda: time.monotonic() + skew[0],
    )
    task = asyncio.create_task(loops.run())
    await asyncio.wait_for(done.wait(), 10.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert loops.docker_overruns.total == 4
    assert len(_warnings(caplog)) == 2
    assert all("took 3.0 s for 2 containers" in w for w in _warnings(caplog))
    assert len(_recoveries(caplog)) == 2


async def test_the_heartbeat_carries_the_overrun_count(
    fake_collector: tuple[FakeCollector, int], tmp_path: Path
) -> None:
    fake, port = fake_collector

    def slow_docker() -> agent_pb2.DockerInfoBatch:
        time.sleep(0.15)  # longer than the 0.1 s interval below
        return agent_pb2.DockerInfoBatch(docker_available=True)

    settings = AgentSettings(
        server=ServerSettings(address=f"127.0.0.1:{port}", token=TOKEN),
        tls=TlsSettings(enabled=False),
        intervals=IntervalSettings(snapshot_interval_s=1.0, docker_interval_s=0.1, heartbeat_interval_s=1.0),
        spool=SpoolSettings(directory=tmp_path / "spool", max_bytes=1 << 20),
    )
    runtime = AgentRuntime(
        settings,
        samplers=Samplers(snapshot=lambda: None, docker=slow_docker),
        host_info=lambda: agent_pb2.HostInfo(hostname="slow-docker"),
        agent_version="1.0",
        backoff=Backoff(base_s=0.05, cap_s=0.1),
        shutdown_flush_s=1.0,
    )
    stop = asyncio.Event()
    run = asyncio.create_task(runtime.run(stop))

    def overruns_heard() -> int:
        return max((m.heartbeat.docker_sample_overruns_total for m in fake.of_kind("heartbeat")), default=0)

    try:
        await wait_until(lambda: overruns_heard() >= 2, timeout_s=20)
    finally:
        stop.set()
        await asyncio.wait_for(run, 10)
    assert overruns_heard() <= runtime.sampling.docker_overruns.total

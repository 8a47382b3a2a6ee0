"""Faults under load: the collector killed, the database restarted, the database absent at start.

Simulated agents (tests/sim_agent.py) keep producing through each fault and
deliver exactly as the real agent does; afterwards every table must hold
exactly the rows generated, with no gap and no duplicate. The collector runs as
a real ``tidewatch-collector`` process against a private PostgreSQL cluster
(tests/pg_control.py) so that stopping the database touches nothing else.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import Vps, create_vps, free_port
from tests.pg_control import PrivatePostgres
from tests.sim_agent import SimAgent

pytestmark = [pytest.mark.slow, pytest.mark.db]

COLLECTOR_BIN = Path(sys.executable).with_name("tidewatch-collector")
# Per table, the columns that identify one sample of one VPS.
SAMPLE_KEYS = {
    "host_metrics": "time",
    "disk_metrics": "time, mountpoint",
    "disk_io_metrics": "time, device",
    "network_metrics": "time, interface",
    "container_metrics": "time, container_id",
}


@pytest.fixture(autouse=True)
def _database_back_up(pg: PrivatePostgres) -> Iterator[None]:
    yield
    pg.ensure_running()  # whatever a test did, the next one gets a database


class CollectorProcess:
    """``tidewatch-collector`` as a child process on a fixed port, logging to a file."""

    def __init__(self, dsn: str, port: int, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.dsn = dsn
        self.port = port
        self.log_path = log_path
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEWATCH_")}
        env |= {
            "TIDEWATCH_DSN": self.dsn,
            "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{self.port}",
            "TIDEWATCH_COLLECTOR_METRICS_LISTEN": "",
            "TIDEWATCH_COLLECTOR_FLUSH_INTERVAL_MS": "50",
            "TIDEWATCH_COLLECTOR_MAINTENANCE_INTERVAL_S": "3600",
            "TIDEWATCH_COLLECTOR_HEARTBEAT_INTERVAL_S": "2",
        }
        env |= self.extra_env
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([str(COLLECTOR_BIN)], env=env, stdout=log, stderr=subprocess.STDOUT)

    async def wait_listening(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.alive, f"collector exited early:\n{self.log()}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                await asyncio.sleep(0.1)
        raise AssertionError(f"collector not listening on {self.port} after {timeout_s} s:\n{self.log()}")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
async def collector_process(pg: PrivatePostgres, tmp_path: Path) -> AsyncIterator[CollectorProcess]:
    process = CollectorProcess(pg.dsn, free_port(), tmp_path / "collector.log")
    try:
        yield process
    finally:
        process.terminate()


def start_agents(port: int, vps_list: list[Vps]) -> list[SimAgent]:
    agents = [SimAgent(f"127.0.0.1:{port}", vps.token, vps_id=vps.id) for vps in vps_list]
    for agent in agents:
        agent.start()
    return agents


async def start_with_agents(process: CollectorProcess, dsn: str, count: int = 3) -> list[SimAgent]:
    process.start()
    await process.wait_listening()
    return start_agents(process.port, [create_vps(dsn) for _ in range(count)])


async def finish(agents: list[SimAgent], timeout_s: float = 40.0) -> None:
    for agent in agents:
        await agent.stop_producing()
    try:
        await asyncio.gather(*(a.wait_all_acked(timeout_s) for a in agents))
    except TimeoutError:
        raise AssertionError(
            "batches still unacknowledged: "
            + "; ".join(
                f"vps {a.vps_id}: {len(a.pending)} pending, connected={a.connected}, "
                f"failures={a.stream_failures[-5:]}" + (f"\n{a.where_delivery_waits()}" if a.pending else "")
                for a in agents
            )
        ) from None
    finally:
        for agent in agents:
            await agent.close()


def assert_exactly_generated(dsn: str, agents: list[SimAgent]) -> None:
    with psycopg.connect(dsn) as conn:
        for agent in agents:
            vps_id = agent.vps_id
            assert set(agent.outcomes.values()) <= {1, 2}, "a batch was rejected"  # STORED, DUPLICATE
            for table, key in SAMPLE_KEYS.items():
                row = conn.execute(
                    f"SELECT count(*), count(DISTINCT ({key})) FROM {table} WHERE vps_id = %s", (vps_id,)
                ).fetchone()
                assert row is not None
                rows, distinct = row
                assert rows == agent.expected_rows[table], (table, vps_id, rows, agent.expected_rows[table])
                assert distinct == rows, f"{table}: duplicate samples for vps {vps_id}"
        produced = sum(a.produced for a in agents)
        batches = conn.execute(
            "SELECT count(*) FROM ingested_batches WHERE vps_id = ANY(%s)",
            ([a.vps_id for a in agents],),
        ).fetchone()
        assert batches is not None and batches[0] == produced


async def test_collector_killed_under_load_loses_and_duplicates_nothing(
    pg: PrivatePostgres, collector_process: CollectorProcess
) -> None:
    agents = await start_with_agents(collector_process, pg.dsn)
    try:
        await asyncio.sleep(3)
        assert all(a.connects == 1 and a.outcomes for a in agents), [a.stream_failures for a in agents]
        # Stall commits for a moment so that every agent surely has batches in flight when the
        # collector dies (its open transaction dies with it); then kill it.
        async with await psycopg.AsyncConnection.connect(pg.dsn) as locker:
            await locker.execute("LOCK TABLE ingested_batches IN ACCESS EXCLUSIVE MODE")
            for _ in range(100):
                if all(len(a.pending) >= 3 for a in agents):
                    break
                await asyncio.sleep(0.05)
            collector_process.kill()
            in_flight = [len(a.pending) for a in agents]
        await asyncio.sleep(2)  # agents keep producing and retrying against a closed port
        during_outage = [a.produced_while_disconnected for a in agents]
        collector_process.start()
        await collector_process.wait_listening()
        await asyncio.sleep(3)
    finally:
        await finish(agents)

    assert all(n >= 3 for n in in_flight), in_flight
    assert all(n > 0 for n in during_outage), during_outage
    for agent in agents:
        assert agent.connects >= 2, agent.stream_failures
        assert agent.sends > agent.produced, "the batches in flight at the kill were not resent"
    assert_exactly_generated(pg.dsn, agents)


async def test_database_restart_under_load_loses_nothing_and_collector_survives(
    pg: PrivatePostgres, collector_process: CollectorProcess
) -> None:
    agents = await start_with_agents(collector_process, pg.dsn)
    try:
        await asyncio.sleep(2)
        with pg.stopped("fast"):
            await asyncio.sleep(4)
        restarted = time.monotonic()
        await asyncio.sleep(2)
    finally:
        await finish(agents)
    recovered_s = time.monotonic() - restarted

    assert collector_process.alive, collector_process.log()
    log = collector_process.log()
    # One line when the outage is noticed and one when it ends, not one per batch.
    assert len(re.findall(r"database (unavailable \(|unresponsive for \d+ s)", log)) == 1, log
    assert len(re.findall(r"database back after \d+ s", log)) == 1, log
    assert_exactly_generated(pg.dsn, agents)
    assert recovered_s < 20, f"ingest took {recovered_s:.1f} s to catch up after the database returned"


async def test_collector_started_without_database_ingests_once_it_returns(
    pg: PrivatePostgres, collector_process: CollectorProcess
) -> None:
    vps_list = [create_vps(pg.dsn) for _ in range(2)]
    with pg.stopped("fast"):
        collector_process.start()
        await collector_process.wait_listening()
        assert "database not reachable at start" in collector_process.log(), collector_process.log()
        agents = start_agents(collector_process.port, vps_list)
        # Refused promptly with UNAVAILABLE, well inside the agent's handshake timeout.
        for _ in range(80):
            if all(a.stream_failures for a in agents):
                break
            await asyncio.sleep(0.1)
        assert not any(a.connects for a in agents)
        assert all("UNAVAILABLE" in a.stream_failures for a in agents), [a.stream_failures for a in agents]
    try:
        await asyncio.sleep(3)
    finally:
        await finish(agents)
    assert collector_process.alive, collector_process.log()
    assert_exactly_generated(pg.dsn, agents)

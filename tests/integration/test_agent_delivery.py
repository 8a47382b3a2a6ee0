"""The real agent against the real collector and Docker engine: kill -9 the
collector mid-run, restart it, and every sample the agent took is stored once.

Run twice: with batch bundles (the agent announces them, the collector offers them,
and the backlog after the outage is replayed in bundles) and against a collector
that answers like an older one (no offer: the agent sends one batch per message)."""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import Vps, free_port
from tests.docker_fixtures import LabelledContainers
from tests.processes import Service

pytestmark = [pytest.mark.db, pytest.mark.docker, pytest.mark.slow]

SNAPSHOT_INTERVAL_S = 0.5


def _rows(dsn: str, sql: str, vps_id: int) -> tuple[Any, ...]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, (vps_id,)).fetchone()
    assert row is not None
    return tuple(row)


def _bundles_received(metrics_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.search(r"^tidewatch_collector_batch_bundles_total (\S+)$", text, re.MULTILINE)
    assert found, "the collector exports tidewatch_collector_batch_bundles_total"
    return float(found.group(1))


@pytest.mark.parametrize("bundles", [True, False], ids=["bundles", "older-collector"])
def test_collector_killed_mid_run_loses_no_sample(
    db_dsn: str, vps: Vps, labelled_containers: LabelledContainers, tmp_path: Path, bundles: bool
) -> None:
    busy = labelled_containers.run(["/bin/sh", "-c", "yes > /dev/null"])
    port, metrics_port = free_port(), free_port()
    collector_env = {
        "TIDEWATCH_DSN": db_dsn,
        "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{port}",
        "TIDEWATCH_COLLECTOR_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
        "TIDEWATCH_COLLECTOR_FLUSH_INTERVAL_MS": "50",
        "TIDEWATCH_COLLECTOR_BATCH_BUNDLES": "true" if bundles else "false",
    }
    collector = Service("collector", ["tidewatch-collector"], collector_env, log_name="delivery-collector")
    (tmp_path / "agent.toml").write_text(
        "[intervals]\n"
        f"snapshot_interval_s = {SNAPSHOT_INTERVAL_S}\n"
        "docker_interval_s = 1.0\n"
        "batch_max_snapshots = 2\n"
        "batch_max_delay_s = 1.0\n"
    )
    agent = Service(
        "agent",
        ["tidewatch-agent"],
        {
            "TIDEWATCH_AGENT_CONFIG": str(tmp_path / "agent.toml"),
            "TIDEWATCH_AGENT_SERVER": f"127.0.0.1:{port}",
            "TIDEWATCH_AGENT_TOKEN": vps.token,
            "TIDEWATCH_AGENT_TLS": "false",
            "TIDEWATCH_AGENT_SPOOL_DIRECTORY": str(tmp_path / "spool"),
        },
        log_name="delivery-agent",
    )
    try:
        collector.start(port)
        agent.start()
        time.sleep(5)
        connects_before = agent.log_path.read_text().count("connected to collector")
        collector.kill()
        time.sleep(5)  # the agent keeps sampling into its pending store
        collector.start(port)
        # Reconnection follows the agent's jittered backoff: wait for it, then run a little longer.
        deadline = time.monotonic() + 45
        while agent.log_path.read_text().count("connected to collector") <= connects_before:
            assert time.monotonic() < deadline, agent.log_tail()
            time.sleep(0.2)
        time.sleep(4)
        assert agent.stop(30) == 0, agent.log_tail()
        # Counted by the restarted collector alone: the replayed backlog came in bundles, or none did.
        received = _bundles_received(metrics_port)
        assert received > 0 if bundles else received == 0, received
    finally:
        agent.stop()
        collector.stop()

    log = agent.log_path.read_text()  # the last shutdown line is this run's
    taken = re.findall(r"taking (\d+) snapshots and (\d+) Docker samples; (\d+) batches", log)
    assert taken, agent.log_tail()
    snapshots, docker_samples, left_pending = map(int, taken[-1])
    assert left_pending == 0, "everything was acknowledged before the agent stopped"
    assert snapshots >= 25  # 15 s at 0.5 s, minus start-up
    this_run = log[log.rfind("\n===== ") :]  # the log file is appended to across runs
    wire = "batch bundles of up to 64 batches" if bundles else "single batches"
    assert this_run.count(wire) == this_run.count("connected to collector") >= 2, agent.log_tail()
    assert "FAILED_PRECONDITION" not in this_run, agent.log_tail()

    count, distinct, max_gap_s = _rows(
        db_dsn,
        "SELECT count(*), count(DISTINCT time),"
        " coalesce(extract(epoch FROM max(gap)), 0) FROM"
        " (SELECT time, time - lag(time) OVER (ORDER BY time) AS gap FROM host_metrics WHERE vps_id = %s) g",
        vps.id,
    )
    assert count == snapshots, f"stored {count} host rows for {snapshots} snapshots taken"
    assert distinct == count, "no duplicates"
    assert float(max_gap_s) < 3 * SNAPSHOT_INTERVAL_S, f"a gap of {max_gap_s} s in the stored samples"

    # Docker: the busy container has stats from its second reading on, once per sample.
    busy_rows, busy_distinct = _rows(
        db_dsn,
        f"SELECT count(*), count(DISTINCT time) FROM container_metrics"
        f" WHERE vps_id = %s AND container_id = '{busy.id}'",
        vps.id,
    )
    assert busy_rows == busy_distinct
    assert docker_samples - 1 <= busy_rows <= docker_samples
    (seen,) = _rows(
        db_dsn, f"SELECT count(*) FROM containers WHERE vps_id = %s AND container_id = '{busy.id}'", vps.id
    )
    assert seen == 1

"""The real agent against the real collector and Docker engine: kill -9 the
collector mid-run, restart it, and every sample the agent took is stored once."""

from __future__ import annotations

import re
import time
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


def test_collector_killed_mid_run_loses_no_sample(
    db_dsn: str, vps: Vps, labelled_containers: LabelledContainers, tmp_path: Path
) -> None:
    busy = labelled_containers.run(["/bin/sh", "-c", "yes > /dev/null"])
    port = free_port()
    collector_env = {
        "TIDEWATCH_DSN": db_dsn,
        "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{port}",
        "TIDEWATCH_COLLECTOR_METRICS_LISTEN": "",
        "TIDEWATCH_COLLECTOR_FLUSH_INTERVAL_MS": "50",
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
    finally:
        agent.stop()
        collector.stop()

    log = agent.log_path.read_text()  # the last shutdown line is this run's
    taken = re.findall(r"taking (\d+) snapshots and (\d+) Docker samples; (\d+) batches", log)
    assert taken, agent.log_tail()
    snapshots, docker_samples, left_pending = map(int, taken[-1])
    assert left_pending == 0, "everything was acknowledged before the agent stopped"
    assert snapshots >= 25  # 15 s at 0.5 s, minus start-up

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

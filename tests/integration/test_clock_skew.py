"""A real agent whose clock is 10 minutes off (libfaketime), against the real
collector and database: every sample is stored at the real time, none is
refused, and the skew shows in the API and the collector's metrics. At 2
minutes off, the data is corrected and the offset recorded, but not flagged.

The agent starts while the collector is down, so its first batches are taken
before it has measured its clock (corrected by the collector's estimate), the
rest after (corrected with the offset stamped in each batch).
"""

from __future__ import annotations

import glob
import re
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from litestar.testing import TestClient

from api.app import create_app
from common.settings import ApiSettings
from common.tokens import hash_password
from tests.conftest import Vps, free_port
from tests.prerequisites import missing
from tests.processes import Service

pytestmark = [pytest.mark.db, pytest.mark.slow]

SNAPSHOT_INTERVAL_S = 0.5
# A clock skew is measured to within half a round trip; the rest is scheduling on a busy machine.
TOLERANCE = timedelta(seconds=3)


def _libfaketime(skew_s: int) -> dict[str, str]:
    """What ``faketime -f +600s`` sets. Preloaded directly, so the agent is our child and
    gets our signals (the faketime wrapper dies of SIGTERM before the agent has stopped)."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        message = "libfaketime is not installed (apt-get install faketime; scripts/setup.sh --test does)"
        missing(message)
    return {"LD_PRELOAD": found[0], "FAKETIME": f"{skew_s:+d}s"}


def _log_from(service: Service, offset: int) -> str:
    """This run's part of a log that earlier runs appended to."""
    with service.log_path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def _wait_for(predicate: object, what: str, timeout_s: float, log: Service) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {timeout_s} s\n{log.log_tail()}"
        time.sleep(0.2)


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text: str = response.read().decode()
    return text


def _gauge(metrics_text: str, vps_id: int) -> float | None:
    found = re.search(
        rf'^tidewatch_collector_agent_clock_offset_seconds\{{vps_id="{vps_id}"\}} (\S+)$', metrics_text, re.M
    )
    return float(found.group(1)) if found else None


def _api_vps(dsn: str, vps_id: int) -> dict[str, object]:
    username = f"clock-{vps_id}-{time.monotonic_ns()}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES (%s, %s, 'viewer')",
            (username, hash_password("correct horse battery")),
        )
    with TestClient(app=create_app(ApiSettings(), dsn)) as client:
        login = client.post(
            "/api/auth/login", json={"username": username, "password": "correct horse battery"}
        )
        assert login.status_code == 200, login.text
        response = client.get(
            f"/api/vps/{vps_id}", headers={"Authorization": f"Bearer {login.json()['token']}"}
        )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize("skew_s", [600, -600, 120], ids=["ahead-10min", "behind-10min", "ahead-2min"])
def test_skewed_agent_is_stored_at_real_time_and_shown(
    db_dsn: str, vps: Vps, tmp_path: Path, skew_s: int
) -> None:
    faketime = _libfaketime(skew_s)
    port, metrics_port = free_port(), free_port()
    collector = Service(
        "collector",
        ["tidewatch-collector"],
        {
            "TIDEWATCH_DSN": db_dsn,
            "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{port}",
            "TIDEWATCH_COLLECTOR_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
            "TIDEWATCH_COLLECTOR_FLUSH_INTERVAL_MS": "50",
        },
        log_name=f"clock-collector-{skew_s}",
    )
    (tmp_path / "agent.toml").write_text(
        "[intervals]\n"
        f"snapshot_interval_s = {SNAPSHOT_INTERVAL_S}\n"
        "batch_max_snapshots = 2\n"
        "batch_max_delay_s = 1.0\n"
        "heartbeat_interval_s = 2.0\n"
        "[features]\n"
        "docker = false\n"
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
            **faketime,
        },
        log_name=f"clock-agent-{skew_s}",
    )
    started = datetime.now(UTC)
    log_offset = agent.log_path.stat().st_size if agent.log_path.exists() else 0
    try:
        agent.start()
        _wait_for(lambda: "reconnecting" in _log_from(agent, log_offset), "a refused connection", 60, agent)
        time.sleep(3)  # sampling into the pending store, clock not yet measured
        collector_started = datetime.now(UTC)
        collector.start(metrics_port)
        _wait_for(lambda: "connected to collector" in _log_from(agent, log_offset), "connected", 60, agent)
        time.sleep(5)
        gauge = _gauge(_scrape(metrics_port), vps.id)
        assert gauge is not None, "the collector exports the agent's clock offset"
        assert abs(gauge + skew_s) < TOLERANCE.total_seconds(), gauge
        assert agent.stop(30) == 0, agent.log_tail()
        stopped = datetime.now(UTC)
        # The offset reaches the database at the collector's next housekeeping (every 5 s).
        with psycopg.connect(db_dsn) as conn:
            _wait_for(
                lambda: (
                    conn.execute("SELECT clock_offset_ms FROM vps WHERE id = %s", (vps.id,)).fetchone()
                    != (None,)
                ),
                "clock offset recorded",
                30,
                collector,
            )
    finally:
        agent.stop()
        collector.stop()

    log = _log_from(agent, log_offset)
    taken = re.findall(r"taking (\d+) snapshots and \d+ Docker samples; (\d+) batches", log)
    assert taken, agent.log_tail()
    snapshots, left_pending = map(int, taken[-1])
    assert left_pending == 0, "everything was acknowledged"
    assert snapshots >= 10
    assert "rejected" not in log, agent.log_tail()
    measured = re.findall(r"collector clock minus ours ([+-]\d+) ms", log)
    assert measured, "the agent logs its measured offset when it connects"
    assert abs(int(measured[0]) + skew_s * 1000) < TOLERANCE.total_seconds() * 1000, measured

    with psycopg.connect(db_dsn) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT time), min(time), max(time) FROM host_metrics WHERE vps_id = %s",
            (vps.id,),
        ).fetchone()
        assert row is not None
        count, distinct, first, last = row
        health = conn.execute(
            "SELECT clock_offset_ms, rejected_batches_total FROM vps_agent_health WHERE vps_id = %s",
            (vps.id,),
        ).fetchone()
    assert count == snapshots, f"stored {count} of {snapshots} snapshots"
    assert distinct == count
    # At the real time: 10 minutes off would be far outside.
    assert started - TOLERANCE <= first and last <= stopped + TOLERANCE, (started, first, last, stopped)
    assert first < collector_started, "the samples taken before the clock was measured are kept"
    assert health is not None
    assert abs(health[0] + skew_s * 1000) < TOLERANCE.total_seconds() * 1000, health
    assert health[1] == 0

    body = _api_vps(db_dsn, vps.id)
    if abs(skew_s) > 300:
        assert body["clock_skewed"] is True
        note = body["clock_note"]
        assert isinstance(note, str)
        assert note.startswith("clock skewed by "), note
        assert note.endswith("(ahead)" if skew_s > 0 else "(behind)"), note
    else:  # corrected and recorded, not flagged
        assert (body["clock_skewed"], body["clock_note"]) == (False, None)
    offset = body["clock_offset_ms"]
    assert isinstance(offset, int)
    assert abs(offset + skew_s * 1000) < TOLERANCE.total_seconds() * 1000
    latest = body["latest"]
    assert isinstance(latest, dict)
    latest_time = datetime.fromisoformat(str(latest["time"]))
    assert abs(latest_time - last) < timedelta(milliseconds=1)
    assert body["rejected_batches_total"] == 0

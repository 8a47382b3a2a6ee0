"""The real agent killed with SIGKILL at random moments, during a collector outage and
after it: every snapshot it logged as taken is stored exactly once."""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.conftest import Vps, free_port
from tests.processes import Service

pytestmark = [pytest.mark.db, pytest.mark.slow]

TRIALS_PER_PHASE = 12  # during the outage, then with the collector back: 24 kills
SNAPSHOT_INTERVAL_S = 0.25
TAKEN = re.compile(r"snapshot taken at (\d+)")


class AgentLog:
    """This test's part of the agent's log file (earlier runs may precede it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = path.stat().st_size if path.exists() else 0

    def text(self) -> str:
        with self.path.open("rb") as fh:
            fh.seek(self.start)
            return fh.read().decode(errors="replace")

    def count(self, needle: str) -> int:
        return self.text().count(needle)

    def wait_for(self, what: Callable[[], bool], timeout_s: float, tail: Callable[[], str]) -> None:
        deadline = time.monotonic() + timeout_s
        while not what():
            assert time.monotonic() < deadline, tail()
            time.sleep(0.05)


def _stored_ms(dsn: str, vps_id: int) -> list[int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT round(extract(epoch FROM time) * 1000)::bigint FROM host_metrics WHERE vps_id = %s",
            (vps_id,),
        ).fetchall()
    return [int(r[0]) for r in rows]


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    db_dsn: str, vps: Vps, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    port = free_port()
    collector = Service(
        "collector",
        ["tidewatch-collector"],
        {
            "TIDEWATCH_DSN": db_dsn,
            "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{port}",
            "TIDEWATCH_COLLECTOR_METRICS_LISTEN": "",
            "TIDEWATCH_COLLECTOR_FLUSH_INTERVAL_MS": "50",
        },
        log_name="crash-collector",
    )
    (tmp_path / "agent.toml").write_text(
        'log_level = "debug"\n'
        "[intervals]\n"
        f"snapshot_interval_s = {SNAPSHOT_INTERVAL_S}\n"
        "batch_max_snapshots = 4\n"
        "batch_max_delay_s = 1.0\n"
        "[features]\ndocker = false\n"
        '[generic_metrics]\ndirectory = ""\n'
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
        log_name="crash-agent",
    )
    log = AgentLog(agent.log_path)
    context = f"(seed {seed})"

    def tail() -> str:
        return f"{context}\n{agent.log_tail()}"

    def kill_after_random_snapshots() -> None:
        # Some kills land while a batch is half full, some right after it was sent,
        # some during the resend of the backlog: the count of snapshots decides.
        agent.start()
        target = log.count("snapshot taken at") + rng.randint(1, 7)
        log.wait_for(lambda: log.count("snapshot taken at") >= target, 60, tail)
        time.sleep(rng.uniform(0, SNAPSHOT_INTERVAL_S))
        agent.kill()

    try:
        collector.start(port)
        agent.start()
        log.wait_for(lambda: log.count("connected to collector") >= 1, 60, tail)
        agent.kill()
        collector.kill()  # the outage
        for _ in range(TRIALS_PER_PHASE):
            kill_after_random_snapshots()
        collector.start(port)
        for _ in range(TRIALS_PER_PHASE):
            kill_after_random_snapshots()
        # Last run: let it deliver the backlog, then stop it cleanly.
        for _ in range(5):
            connects = log.count("connected to collector")
            agent.start()
            log.wait_for(lambda c=connects: log.count("connected to collector") > c, 60, tail)  # type: ignore[misc]
            time.sleep(2)
            assert agent.stop(30) == 0, tail()
            left = re.findall(r"(\d+) batches \(\d+ bytes\) kept in", log.text())
            if left and left[-1] == "0":
                break
        else:
            pytest.fail(f"the backlog never drained {context}")
    finally:
        agent.stop()
        collector.stop()

    text = log.text()
    assert text.count("===== ") == 2 * TRIALS_PER_PHASE + 1 + len(re.findall(r"agent stopped after", text))
    taken = [int(ms) for ms in TAKEN.findall(text)]
    assert len(taken) >= 2 * TRIALS_PER_PHASE * 2, tail()
    assert len(set(taken)) == len(taken), "the agent took two snapshots with one timestamp"
    stored = Counter(_stored_ms(db_dsn, vps.id))
    duplicated = sorted(ms for ms, n in stored.items() if n > 1)
    missing = sorted(set(taken) - set(stored))
    invented = sorted(set(stored) - set(taken))
    assert not duplicated, f"stored more than once: {duplicated} {context}"
    assert not missing, f"taken but never stored: {missing} of {len(taken)} {context}"
    assert not invented, f"stored but never logged as taken: {invented} {context}"

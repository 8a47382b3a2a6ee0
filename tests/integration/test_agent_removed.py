"""The real agent, when its VPS is removed from Tidewatch while it is connected:
the collector says so (NOT_FOUND, not "token rotated"), and the agent stops
retrying fast, says what to do once per attempt, and shows no traceback."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import psycopg
import pytest

from collector.app import CollectorApp
from common.channels import TOKEN_ROTATED_CHANNEL
from tests.conftest import Vps
from tests.processes import Service

pytestmark = [pytest.mark.db, pytest.mark.slow]

RETRY_AT_LEAST_S = 480  # 600 s with up to 20 % jitter


async def _wait_for_log(agent: Service, pattern: str, within_s: float) -> re.Match[str]:
    deadline = time.monotonic() + within_s
    while (found := re.search(pattern, agent.log_path.read_text())) is None:
        assert time.monotonic() < deadline, f"no {pattern!r} in the agent log:\n{agent.log_tail()}"
        await asyncio.sleep(0.2)
    return found


async def test_a_removed_vps_agent_is_told_and_backs_off_for_minutes(
    collector: CollectorApp, db_dsn: str, vps: Vps, tmp_path: Path
) -> None:
    agent = Service(
        "agent",
        ["tidewatch-agent"],
        {
            "TIDEWATCH_AGENT_SERVER": f"127.0.0.1:{collector.port}",
            "TIDEWATCH_AGENT_TOKEN": vps.token,
            "TIDEWATCH_AGENT_TLS": "false",
            "TIDEWATCH_AGENT_SPOOL_DIRECTORY": str(tmp_path / "spool"),
        },
        log_name="removed-agent",
    )
    try:
        agent.start()
        await _wait_for_log(agent, r"connected to collector", 30)
        with psycopg.connect(db_dsn) as conn:  # what DELETE /api/vps/{id} does
            conn.execute("DELETE FROM vps WHERE id = %s", (vps.id,))
            conn.execute("SELECT pg_notify(%s, %s)", (TOKEN_ROTATED_CHANNEL, str(vps.id)))
        told = await _wait_for_log(agent, r"this VPS was removed from Tidewatch.*trying again in (\d+) s", 20)
        assert int(told[1]) >= RETRY_AT_LEAST_S
        await asyncio.sleep(5)  # a fast retry would show here
        assert agent.alive()
    finally:
        agent.stop()
    log = agent.log_path.read_text()
    assert log.count("this VPS was removed from Tidewatch") == 1, log
    assert log.count("connected to collector") == 1, "the agent reconnected at once"
    assert "token rotated" not in log
    assert "Traceback" not in log

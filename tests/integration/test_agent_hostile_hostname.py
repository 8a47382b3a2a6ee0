"""The real agent on a host whose name is not UTF-8 (bytes ``bad\\377\\376host`` in a UTS
namespace): it connects, the VPS turns online, and the hostname is stored escaped."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import psycopg
import pytest

from agent.host_text import unescape
from tests.conftest import Vps, free_port
from tests.prerequisites import missing
from tests.processes import BIN, Service

pytestmark = [pytest.mark.db, pytest.mark.slow]

HOSTNAME_BYTES = b"bad\xff\xfehost"


def _needs_root_and_unshare() -> None:
    reason = None
    if os.geteuid() != 0:
        reason = "needs root for a UTS namespace"
    elif shutil.which("unshare") is None:
        reason = "needs unshare (util-linux)"
    if reason is not None:
        missing(reason)


def test_agent_with_a_non_utf8_hostname_connects_and_is_stored_escaped(
    db_dsn: str, vps: Vps, tmp_path: Path
) -> None:
    _needs_root_and_unshare()
    port = free_port()
    collector = Service(
        "collector",
        ["tidewatch-collector"],
        {
            "TIDEWATCH_DSN": db_dsn,
            "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{port}",
            "TIDEWATCH_COLLECTOR_METRICS_LISTEN": "",
        },
        log_name="hostile-host-collector",
    )
    agent = Service(
        "agent",
        ["tidewatch-agent"],
        {
            "TIDEWATCH_AGENT_SERVER": f"127.0.0.1:{port}",
            "TIDEWATCH_AGENT_TOKEN": vps.token,
            "TIDEWATCH_AGENT_TLS": "false",
            "TIDEWATCH_AGENT_SPOOL_DIRECTORY": str(tmp_path / "spool"),
            "TIDEWATCH_AGENT_FEATURES_DOCKER": "false",
            "TIDEWATCH_AGENT_GENERIC_METRICS_DIRECTORY": "",
        },
        log_name="hostile-host-agent",
    )
    # The hostname is set inside a new UTS namespace, then the agent replaces the shell.
    agent.command = [
        "unshare",
        "--uts",
        "sh",
        "-c",
        r"printf 'bad\377\376host' > /proc/sys/kernel/hostname && exec " + '"$0"',
        str(BIN / "tidewatch-agent"),
    ]
    log_start = agent.log_path.stat().st_size if agent.log_path.exists() else 0
    try:
        collector.start(port)
        agent.start()
        deadline = time.monotonic() + 60
        row = None
        while time.monotonic() < deadline:
            with psycopg.connect(db_dsn) as conn:
                row = conn.execute(
                    "SELECT online, hostname, sanitised_fields FROM vps WHERE id = %s", (vps.id,)
                ).fetchone()
            if row is not None and row[0]:
                break
            assert agent.alive(), agent.log_tail()
            time.sleep(0.2)
        assert row is not None and row[0], f"the VPS never turned online\n{agent.log_tail()}"
    finally:
        agent.stop()
        collector.stop()

    _online, hostname, sanitised = row
    assert hostname == "bad\\xff\\xfehost"
    assert os.fsencode(unescape(hostname)) == HOSTNAME_BYTES  # reversible to the very bytes
    assert sanitised == ["hostname"]
    with agent.log_path.open("rb") as fh:
        fh.seek(log_start)
        agent_log = fh.read().decode(errors="replace")
    assert "hostname is not clean UTF-8 text; reporting it escaped as bad\\xff\\xfehost" in agent_log
    assert "UnicodeEncodeError" not in agent_log and "Traceback" not in agent_log
    assert f"vps {vps.id}: its agent escaped host facts that were not clean UTF-8 text: hostname" in (
        collector.log_path.read_text(errors="replace")
    )

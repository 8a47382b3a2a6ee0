"""The collector runs on the event loop its settings name, and says which at startup."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest
import uvloop

from common.event_loop import loop_factory
from tests.conftest import collector_settings, free_port
from tests.processes import BIN, Service


async def test_integration_tests_and_their_collectors_run_on_uvloop(collector: object) -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


def test_an_unknown_loop_is_an_error_not_a_fallback() -> None:
    with pytest.raises(ValueError, match="trio"):
        loop_factory("trio")
    assert collector_settings().event_loop == "uvloop"


@pytest.mark.parametrize(
    ("setting", "logged"),
    [
        (None, "event loop: uvloop.Loop (uvloop 0."),
        ("uvloop", "event loop: uvloop.Loop (uvloop 0."),
        ("asyncio", "event loop: asyncio.unix_events._UnixSelectorEventLoop"),
    ],
)
def test_the_collector_logs_the_loop_it_runs_on(db_dsn: str, setting: str | None, logged: str) -> None:
    port = free_port()
    env = {
        "TIDEWATCH_DSN": db_dsn,
        "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{port}",
        "TIDEWATCH_COLLECTOR_METRICS_LISTEN": "",
    }
    if setting is not None:
        env["TIDEWATCH_COLLECTOR_EVENT_LOOP"] = setting
    collector = Service("collector", ["tidewatch-collector"], env, log_name=f"collector-loop-{setting}")
    collector.start(port=port, timeout_s=60)
    try:
        assert logged in collector.log_tail()
    finally:
        assert collector.stop() == 0


def test_an_unknown_loop_setting_stops_the_collector_with_its_name(db_dsn: str) -> None:
    env = {"TIDEWATCH_DSN": db_dsn, "TIDEWATCH_COLLECTOR_EVENT_LOOP": "trio"}
    collector = Service("collector", ["tidewatch-collector"], env, log_name="collector-loop-unknown").start()
    assert collector.process is not None
    assert collector.process.wait(60) == 2
    deadline = time.monotonic() + 10
    while "event_loop" not in collector.log_tail() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Invalid enum value 'trio' - at `$.event_loop`" in collector.log_tail()


def test_without_uvloop_the_collector_stops_saying_what_to_do(db_dsn: str, tmp_path: Path) -> None:
    # A module of that name that cannot be imported, found first: as if the wheel were missing.
    (tmp_path / "uvloop.py").write_text("raise ImportError(\"No module named 'uvloop'\")\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "TIDEWATCH_DSN": db_dsn,
        "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{free_port()}",
        "TIDEWATCH_COLLECTOR_METRICS_LISTEN": "",
    }
    result = subprocess.run(
        [str(BIN / "tidewatch-collector")], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "needs uvloop (the server extra), or TIDEWATCH_COLLECTOR_EVENT_LOOP=asyncio" in result.stderr
    assert "No module named 'uvloop'" in result.stderr and "Traceback" not in result.stderr

"""The README's first command, ``bash scripts/run-local.sh``, run as a user runs it.

It starts the collector (two processes sharing the agent port, as
``TIDEWATCH_LOCAL_COLLECTORS=2`` documents), the API, the dashboards, the
alert evaluator and an agent for this machine, prints where to open it and
the admin login, and stops everything on Ctrl-C. The database is a fresh test
database given through ``TIDEWATCH_DSN`` (the script's own switch for an
existing TimescaleDB), and every port is free-chosen, so the test does not
meet a developer's running stack.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from tests.conftest import create_test_database, drop_test_database, free_port

pytestmark = [pytest.mark.db, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BANNER_TIMEOUT_S = 180.0
ONLINE_TIMEOUT_S = 90.0


def _two_free_ports() -> int:
    """A port whose next port is free too: the script gives collector i the metrics port base + i."""
    for _ in range(100):
        base = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", base + 1))
            except OSError:
                continue
        return base
    raise RuntimeError("no two adjacent free ports on 127.0.0.1")


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    out: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            out.put(line)
        out.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return out


def _read_until(out: queue.Queue[str | None], marker: str, seen: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = out.get(timeout=1.0)
        except queue.Empty:
            continue
        if line is None:
            raise AssertionError("run-local.sh exited early:\n" + "".join(seen[-40:]))
        seen.append(line)
        if marker in line:
            return
    raise AssertionError(f"no {marker!r} within {timeout_s:.0f} s:\n" + "".join(seen[-40:]))


def _command(process: psutil.Process) -> list[str]:
    """Its command line, or [] once it has ended."""
    try:
        return process.cmdline()
    except psutil.NoSuchProcess:
        return []


@pytest.fixture
def database() -> Iterator[str]:
    dsn = create_test_database("tidewatch_run_local")
    yield dsn
    drop_test_database(dsn)


def test_run_local_starts_the_stack_with_two_collectors_and_stops_on_ctrl_c(
    database: str, tmp_path: Path
) -> None:
    grpc_port, api_port, dash_port, metrics_port = free_port(), free_port(), free_port(), _two_free_ports()
    state = tmp_path / "state"
    env = {
        **os.environ,
        "TIDEWATCH_DSN": database,
        "TIDEWATCH_STATE": str(state),
        "TIDEWATCH_LOCAL_COLLECTORS": "2",
        "TIDEWATCH_LOCAL_GRPC_PORT": str(grpc_port),
        "TIDEWATCH_LOCAL_API_PORT": str(api_port),
        "TIDEWATCH_LOCAL_DASHBOARDS_PORT": str(dash_port),
        "TIDEWATCH_LOCAL_METRICS_PORT": str(metrics_port),
    }
    for leaked in (
        "TIDEWATCH_INSTALL_COLLECTOR_ADDRESS",
        "TIDEWATCH_INSTALL_API_URL",
        "TIDEWATCH_INSTALL_TLS",
    ):
        env.pop(leaked, None)
    process = subprocess.Popen(
        ["bash", "scripts/run-local.sh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    try:
        out = _lines(process)
        _read_until(out, "Press Ctrl-C to stop.", seen, BANNER_TIMEOUT_S)
        banner = "".join(seen)
        assert f"Dashboards   http://127.0.0.1:{dash_port}" in banner
        assert f"API          http://127.0.0.1:{api_port}" in banner
        assert f"Agent link   127.0.0.1:{grpc_port} (gRPC)" in banner
        login = re.search(r"Log in as\s+admin / (\S+)", banner)
        assert login, banner
        password = login.group(1)
        assert password == (state / "admin-password").read_text().strip()
        # The printed database address hides the password.
        secret = str(psycopg.conninfo.conninfo_to_dict(database)["password"])
        assert secret and secret not in banner

        # The script's own short-lived helpers (the banner's `cat`, say) may end meanwhile.
        services = [p for p in psutil.Process(process.pid).children(recursive=True) if _command(p)]
        collectors = [p for p in services if any("tidewatch-collector" in part for part in _command(p))]
        assert len(collectors) == 2, [_command(p) for p in services]

        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30) as api:
            token = api.post("/api/auth/login", json={"username": "admin", "password": password})
            assert token.status_code in (200, 201), token.text
            headers = {"Authorization": f"Bearer {token.json()['token']}"}
            deadline = time.monotonic() + ONLINE_TIMEOUT_S
            fleet: list[dict[str, object]] = []
            while time.monotonic() < deadline:
                fleet = api.get("/api/vps", headers=headers).json()
                if len(fleet) == 1 and fleet[0].get("online") is True:
                    break
                time.sleep(0.5)
            assert len(fleet) == 1 and fleet[0].get("online") is True, fleet
            assert fleet[0]["name"] == socket.gethostname().split(".")[0]
        assert httpx.get(f"http://127.0.0.1:{dash_port}/", timeout=30).status_code == 200
        # Served by a production WSGI server, not Flask's development one (which warns so).
        assert "development server" not in (state / "logs" / "dashboards.log").read_text()
        for index in range(2):
            metrics = httpx.get(f"http://127.0.0.1:{metrics_port + index}/metrics", timeout=30)
            assert metrics.status_code == 200 and "tidewatch_collector" in metrics.text

        # Ctrl-C reaches the script (the terminal's foreground job); its trap stops every service.
        process.send_signal(signal.SIGINT)
        assert process.wait(60) is not None
        gone, alive = psutil.wait_procs(services, timeout=30)
        assert not alive, [_command(p) for p in alive]
        assert len(gone) == len(services)
    finally:
        # Whatever an assertion left running (the script and its services share one session).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        logs = state / "logs"
        if logs.is_dir():
            for log in sorted(logs.glob("*.log")):
                print(f"--- {log.name} ---\n{log.read_text(errors='replace')[-2000:]}")

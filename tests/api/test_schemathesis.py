"""Schemathesis against the live API: every check, stateful links included, as admin,
operator and viewer (issue 10, item 16). The run is bounded: a fixed seed and a few
examples per operation.

The app is served by uvicorn on a real socket, with login limits the suite never
reaches (test_throttle.py covers those); the Schemathesis CLI runs in its own process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn

from api.app import create_app
from common.settings import ApiSettings
from common.tokens import hash_password
from tests.api.conftest import PASSWORD, fresh_database, roomy_hashing, roomy_throttle
from tests.conftest import create_vps, drop_test_database, free_port

pytestmark = [pytest.mark.db, pytest.mark.timeout(600)]

SEED = 20261130
EXAMPLES = 8
ROOT = Path(__file__).resolve().parents[2]
# High ids, so generated ids (1, 2, … or int64's maximum) never hit the accounts under test.
ACCOUNTS = {"admin": 7_000_000_000_001, "operator": 7_000_000_000_002, "viewer": 7_000_000_000_003}


@pytest.fixture(scope="module")
def live_api() -> Iterator[str]:
    dsn = fresh_database()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for role, user_id in ACCOUNTS.items():
            conn.execute(
                "INSERT INTO users (id, username, password_hash, role) OVERRIDING SYSTEM VALUE"
                " VALUES (%s, %s, %s, %s)",
                (user_id, f"st-{role}", hash_password(PASSWORD), role),
            )
        # Something for every role to read at the ids generators try first.
        first = create_vps(dsn, "st-first")
        # The public status page on, showing it (off, the page is only ever a 404).
        conn.execute("UPDATE status_page SET enabled = true")
        conn.execute("INSERT INTO status_page_groups (position, title) VALUES (0, 'All')")
        conn.execute(
            "INSERT INTO status_page_servers (vps_id, group_position, position) VALUES (%s, 0, 0)",
            (first.id,),
        )
    port = free_port()
    app = create_app(ApiSettings(), dsn, throttle=roomy_throttle(), hashing=roomy_hashing)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="schemathesis-api", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start within 60 s"
            assert thread.is_alive(), "uvicorn exited during start"
            time.sleep(0.1)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(30)
        drop_test_database(dsn)


def _token(base_url: str, role: str) -> str:
    response = httpx.post(
        f"{base_url}/api/auth/login", json={"username": f"st-{role}", "password": PASSWORD}, timeout=30
    )
    response.raise_for_status()
    token: str = response.json()["token"]
    return token


def _only_refused(report: str, status: str) -> set[str]:
    """Operations Schemathesis saw answer nothing but ``status`` ("401" or "403")."""
    lines = iter(report.splitlines())
    found: set[str] = set()
    for line in lines:
        if line.strip().startswith(f"{status} ") and "operations)" in line:
            for item in lines:
                if not item.strip().startswith("- "):
                    break
                found.add(item.strip()[2:])
    return found


def _needs_more_than(role: str, operation: str) -> bool:
    method, path = operation.split(" ", 1)
    admin_only = path.startswith(
        ("/api/users", "/api/audit", "/api/tokens/all", "/api/status-page/config", "/api/settings")
    )
    # The alerts, billing, traffic-quota and command writes (under /api/vps too) are the operator's.
    operator_write = path.startswith(("/api/vps", "/api/alerts", "/api/commands")) and method != "GET"
    return {"viewer": admin_only or operator_write, "operator": admin_only}.get(role, False)


def _schemathesis(base_url: str, role: str, token: str, tmp_path: Path, *selection: str) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{base_url}/schema/openapi.json",
        "--checks=all",
        "--phases=examples,coverage,fuzzing,stateful",
        f"--max-examples={EXAMPLES}",
        f"--seed={SEED}",
        "--generation-database=none",
        "--workers=1",
        "--request-timeout=30",
        f"--header=Authorization: Bearer {token}",
        *selection,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    report = done.stdout[-12_000:] + done.stderr[-3_000:]
    assert done.returncode == 0, report
    # A token that stopped working would make every later check vacuous.
    assert not _only_refused(report, "401"), report
    # Only what the role may not do is always refused.
    assert all(_needs_more_than(role, op) for op in _only_refused(report, "403")), report


def test_schemathesis_finds_nothing_in_logout(live_api: str, tmp_path: Path) -> None:
    _schemathesis(live_api, "viewer", _token(live_api, "viewer"), tmp_path, "--include-operation-id=logout")


# The admin's run may disable or demote the others (through links from GET /api/users): it goes last.
@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_schemathesis_finds_nothing(live_api: str, tmp_path: Path, role: str) -> None:
    # Logout revokes the token the run uses; it gets a run of its own below.
    _schemathesis(live_api, role, _token(live_api, role), tmp_path, "--exclude-operation-id=logout")

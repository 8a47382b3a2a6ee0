"""A host metric added through the registry, end to end (issue 12): memory_shared_bytes.

The real ``tidewatch-agent`` samples this machine with psutil, ``tidewatch-collector``
stores the samples, and ``tidewatch-api`` serves them: every raw bucket the API
returns is the mean of the stored samples in it, and the stored samples are
what psutil reports here. The column has no rollup (see sql/0011 and
docs/metrics-registry.md), so the 1-minute resolution carries nulls for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest

from common.tokens import hash_password
from tests.conftest import Vps, create_test_database, create_vps, drop_test_database, free_port
from tests.processes import Service

pytestmark = [pytest.mark.db, pytest.mark.slow]

PASSWORD = "registry-e2e-password"


@dataclass
class Stack:
    dsn: str
    vps: Vps
    api_url: str
    collector: Service
    agent: Service


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    dsn = create_test_database("tidewatch_registry_e2e")
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES ('admin', %s, 'admin')",
            (hash_password(PASSWORD),),
        )
    vps = create_vps(dsn, "registry-e2e")
    grpc_port, api_port = free_port(), free_port()
    spool = tmp_path_factory.mktemp("spool")
    (Path(spool) / "none.toml").write_text("")
    collector = Service(
        "collector",
        ["tidewatch-collector"],
        {
            "TIDEWATCH_DSN": dsn,
            "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{grpc_port}",
            "TIDEWATCH_COLLECTOR_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
            "TIDEWATCH_COLLECTOR_FLUSH_INTERVAL_MS": "50",
        },
        log_name="registry-e2e-collector",
    )
    api = Service(
        "api",
        ["tidewatch-api"],
        {"TIDEWATCH_DSN": dsn, "TIDEWATCH_API_LISTEN": f"127.0.0.1:{api_port}"},
        log_name="registry-e2e-api",
    )
    agent = Service(
        "agent",
        ["tidewatch-agent"],
        {
            "TIDEWATCH_AGENT_SERVER": f"127.0.0.1:{grpc_port}",
            "TIDEWATCH_AGENT_TOKEN": vps.token,
            "TIDEWATCH_AGENT_TLS": "false",
            "TIDEWATCH_AGENT_SPOOL_DIRECTORY": str(spool),
            "TIDEWATCH_AGENT_INTERVALS_BATCH_MAX_SNAPSHOTS": "1",
            "TIDEWATCH_AGENT_CONFIG": str(Path(spool) / "none.toml"),
        },
        log_name="registry-e2e-agent",
    )
    services = [collector, api, agent]
    try:
        collector.start(grpc_port)
        api.start(api_port)
        agent.start()
        yield Stack(dsn, vps, f"http://127.0.0.1:{api_port}", collector, agent)
    finally:
        for service in reversed(services):
            service.stop()
        drop_test_database(dsn)


def _stored(dsn: str, vps_id: int) -> list[tuple[datetime, int]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT time, memory_shared_bytes FROM host_metrics WHERE vps_id = %s ORDER BY time", (vps_id,)
        ).fetchall()
    return [(t, v) for t, v in rows]


def test_memory_shared_bytes_goes_from_psutil_to_the_api(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api_url, timeout=10) as client:
        login = client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        assert login.status_code in (200, 201), login.text
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"

        deadline = time.monotonic() + 60
        while len(stored := _stored(stack.dsn, stack.vps.id)) < 3:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"fewer than 3 samples in 60 s\n{stack.agent.log_tail()}\n{stack.collector.log_tail()}"
                )
            time.sleep(0.5)
        shared_now = psutil.virtual_memory().shared
        assert shared_now > 0, "this test needs a host with some shared memory (any Linux with /dev/shm)"
        # Shared memory moves a little on a busy machine; the agent's reading is this host's.
        assert all(0.5 * shared_now <= v <= 2 * shared_now for _, v in stored), (shared_now, stored)

        start_ms = round(stored[0][0].timestamp() * 1000)
        end_ms = round(stored[-1][0].timestamp() * 1000) + 1
        params = {"from": str(start_ms), "to": str(end_ms), "resolution": "raw"}
        response = client.get(f"/api/vps/{stack.vps.id}/metrics/host", params=params)
        assert response.status_code == 200, response.text
        series: dict[str, Any] = response.json()
        assert series["resolution"] == "raw" and series["time_ms"]
        step = series["step_ms"]
        expected = []
        for bucket in series["time_ms"]:
            inside = [v for t, v in stored if bucket <= t.timestamp() * 1000 < bucket + step]
            expected.append(sum(inside) / len(inside))
        assert series["memory_shared_bytes"] == pytest.approx(expected)

        minute = client.get(f"/api/vps/{stack.vps.id}/metrics/host", params={**params, "resolution": "1m"})
        assert minute.status_code == 200, minute.text
        body = minute.json()
        assert body["resolution"] == "1m" and body["time_ms"]
        assert body["memory_shared_bytes"] == [None] * len(body["time_ms"])
        assert all(v is not None for v in body["memory_used_bytes"])

"""End to end: a real agent → gRPC → collector → TimescaleDB → API → Dash page in Chromium.

Every part is the real entry point in its own process: ``tidewatch-collector``,
``tidewatch-api``, ``tidewatch-dashboards`` and ``tidewatch-agent`` sampling
this machine with psutil.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest

from common.tokens import hash_password
from tests.browser import click, retry, sign_in
from tests.conftest import ARTIFACTS, Vps, create_test_database, create_vps, drop_test_database, free_port
from tests.processes import Service

pytestmark = [pytest.mark.db, pytest.mark.slow]

ADMIN_PASSWORD = "e2e-admin-password"


@dataclass
class Stack:
    dsn: str
    vps: Vps
    api_url: str
    dashboards_url: str
    collector: Service
    agent: Service


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    dsn = create_test_database("tidewatch_e2e")
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES ('admin', %s, 'admin')",
            (hash_password(ADMIN_PASSWORD),),
        )
    vps = create_vps(dsn, "e2e-local")
    grpc_port, api_port, dash_port = free_port(), free_port(), free_port()
    base = {"TIDEWATCH_DSN": dsn}
    spool = tmp_path_factory.mktemp("spool")
    services = [
        Service(
            "collector",
            ["tidewatch-collector"],
            {
                **base,
                "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{grpc_port}",
                "TIDEWATCH_COLLECTOR_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
                "TIDEWATCH_COLLECTOR_FLUSH_INTERVAL_MS": "50",
            },
            log_name="e2e-collector",
        ),
        Service(
            "api",
            ["tidewatch-api"],
            {**base, "TIDEWATCH_API_LISTEN": f"127.0.0.1:{api_port}"},
            log_name="e2e-api",
        ),
        Service(
            "dashboards",
            ["tidewatch-dashboards"],
            {
                "TIDEWATCH_DASHBOARDS_LISTEN": f"127.0.0.1:{dash_port}",
                "TIDEWATCH_DASHBOARDS_API_URL": f"http://127.0.0.1:{api_port}",
            },
            log_name="e2e-dashboards",
        ),
        Service(
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
            log_name="e2e-agent",
        ),
    ]
    (Path(spool) / "none.toml").write_text("")
    collector, api, dashboards, agent = services
    try:
        collector.start(grpc_port)
        api.start(api_port)
        dashboards.start(dash_port)
        agent.start()
        yield Stack(
            dsn, vps, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{dash_port}", collector, agent
        )
    finally:
        for service in reversed(services):
            service.stop()
        drop_test_database(dsn)


def login(api_url: str) -> httpx.Client:
    client = httpx.Client(base_url=api_url, timeout=10)
    response = client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code in (200, 201), response.text
    client.headers["Authorization"] = f"Bearer {response.json()['token']}"
    return client


def test_real_samples_arrive_through_the_api(stack: Stack) -> None:
    client = login(stack.api_url)
    deadline = time.monotonic() + 45
    series: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/api/vps/{stack.vps.id}/metrics/host", params={"resolution": "raw"})
        assert response.status_code == 200, response.text
        series = response.json()
        if len(series["time_ms"]) >= 3:
            break
        time.sleep(1)
    else:
        pytest.fail(
            f"no samples through the API in 45 s\n{stack.agent.log_tail()}\n{stack.collector.log_tail()}"
        )
    assert series["resolution"] == "raw"
    times: list[int] = series["time_ms"]
    assert times == sorted(times)
    assert abs(times[-1] / 1000 - time.time()) < 30
    assert all(0 <= v <= 100 for v in series["cpu_percent"])
    assert set(series["memory_total_bytes"]) == {psutil.virtual_memory().total}

    fleet = client.get("/api/vps").json()
    mine = next(v for v in fleet if v["id"] == stack.vps.id)
    assert mine["online"] is True
    assert mine["hostname"] == socket.gethostname()


@pytest.mark.browser
def test_dashboard_plots_the_samples(stack: Stack, dash_duo: Any) -> None:
    """The real tidewatch-dashboards process, in headless Chromium, signed in as the admin."""
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    dash_duo.driver.set_window_size(1440, 1320)
    dash_duo.driver.get(f"{stack.dashboards_url}/login")
    sign_in(dash_duo, "admin", ADMIN_PASSWORD)

    dash_duo.wait_for_contains_text("#fleet-grid", "e2e-local", timeout=20)
    card = f"a[href='/vps/{stack.vps.id}']"
    card_class = retry(lambda: dash_duo.find_element(card).get_attribute("class"), f"class of {card}")
    assert "offline" not in card_class
    dash_duo.driver.save_screenshot(str(shots / "e2e-fleet.png"))

    click(dash_duo, card)
    dash_duo.wait_for_contains_text("#vps-header", socket.gethostname(), timeout=20)
    for graph in ("vps-cpu", "vps-memory", "vps-network", "vps-disk"):
        dash_duo.wait_for_element(f"#{graph} .scatterlayer .trace", timeout=20)
    time.sleep(1.5)  # let the live refresh draw a few more samples for the screenshot
    dash_duo.driver.save_screenshot(str(shots / "e2e-vps-detail.png"))
    assert dash_duo.get_logs() == []

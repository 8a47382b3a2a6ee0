"""Browser-test fixtures: headless Chromium for ``dash_duo``, and the real API
(``tidewatch-api`` as a subprocess) on a scratch database with demo metrics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import DictRow, dict_row
from selenium.webdriver.chrome.options import Options

from common.api_models import Role
from tests.api.conftest import PASSWORD, create_user, db_dsn, refresh_rollups, unique
from tests.conftest import ARTIFACTS, free_port
from tests.prerequisites import CHROMIUM
from tests.processes import Service

__all__ = [
    "SCREENSHOTS",
    "DemoFleet",
    "api_url",
    "db_dsn",
    "demo_fleet",
    "pytest_setup_options",
    "screenshots",
]

SCREENSHOTS = ARTIFACTS / "screenshots"


def pytest_setup_options() -> Options:
    """Chromium options for dash_duo: headless, no sandbox (root in CI), no background traffic."""
    options = Options()
    if CHROMIUM.exists():
        options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=1440,1000",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)  # type: ignore[no-untyped-call]
    return options


@pytest.fixture(scope="session")
def api_url(db_dsn: str) -> Iterator[str]:
    """The real ``tidewatch-api`` entry point, serving the scratch database."""
    port = free_port()
    service = Service(
        "api",
        ["tidewatch-api"],
        env={"TIDEWATCH_DSN": db_dsn, "TIDEWATCH_API_LISTEN": f"127.0.0.1:{port}"},
        log_name="dashboards-api",
    ).start(port)
    yield f"http://127.0.0.1:{port}"
    service.stop()


@dataclass(frozen=True)
class DemoFleet:
    """What the browser tests sign in as and expect to see."""

    username: str
    busy_vps_id: int
    busy_vps_name: str
    idle_vps_name: str


def _insert_demo_metrics(
    conn: psycopg.Connection[DictRow],
    vps_id: int,
    origin: datetime,
    start: datetime,
    end: datetime,
    every: timedelta,
) -> None:
    # Smooth daily and hourly waves with a little noise, so charts look like a real host.
    conn.execute(
        """
        INSERT INTO host_metrics
        SELECT t, %(vps)s,
               least(100, greatest(0, 28 + 14 * sin(e / 3600.0) + 8 * sin(e / 420.0) + random() * 6)),
               '{}', 18, 6, 1.5 + random(), 0.2, 0.9 + 0.5 * sin(e / 3600.0), 0.8, 0.7,
               8589934592, (3.4 * 1073741824 + 0.6 * 1073741824 * sin(e / 5400.0))::bigint,
               (4.2 * 1073741824)::bigint, 1610612736, 104857600, 2147483648, 134217728,
               312, 41, 187, 864000 + e::bigint - extract(epoch FROM %(origin)s)::bigint
        FROM generate_series(%(start)s, %(end)s, %(every)s) AS t, extract(epoch FROM t) AS e
        """,
        {"vps": vps_id, "origin": origin, "start": start, "end": end, "every": every},
    )
    conn.execute(
        """
        INSERT INTO network_metrics
        SELECT t, %(vps)s, i.name, i.scale * (1 + 0.6 * sin(e / 900.0) + random() * 0.3),
               i.scale * 0.35 * (1 + 0.5 * sin(e / 700.0)), 100, 80, 0, 0, 0, 0, 0, 0
        FROM generate_series(%(start)s, %(end)s, %(every)s) AS t, extract(epoch FROM t) AS e,
             (VALUES ('eth0', 2400000.0), ('docker0', 180000.0)) AS i (name, scale)
        """,
        {"vps": vps_id, "origin": origin, "start": start, "end": end, "every": every},
    )
    conn.execute(
        """
        INSERT INTO disk_metrics
        SELECT t, %(vps)s, d.mount, d.device, 'ext4', d.total,
               (d.total * (d.base + 0.02 * (e - extract(epoch FROM %(origin)s)) / 86400.0))::bigint, 0, 1000000, 300000
        FROM generate_series(%(start)s, %(end)s, %(every)s) AS t, extract(epoch FROM t) AS e,
             (VALUES ('/', '/dev/vda1', 85899345920, 0.58), ('/var/lib/docker', '/dev/vdb', 214748364800, 0.31))
               AS d (mount, device, total, base)
        """,
        {"vps": vps_id, "origin": origin, "start": start, "end": end, "every": every},
    )


@pytest.fixture(scope="session")
def demo_fleet(db_dsn: str) -> DemoFleet:
    """An operator, a busy online VPS with three days of history and a clock
    10 minutes ahead, an idle offline one."""
    now = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(db_dsn, autocommit=True, row_factory=dict_row) as conn:
        _, username = create_user(conn, Role.OPERATOR, PASSWORD, unique("ops"))
        busy_name, idle_name = unique("web"), unique("db")
        busy = conn.execute(
            """
            INSERT INTO vps (name, ip_address, agent_key_id, agent_token_hash, hostname, os_name, os_version,
                             kernel_version, architecture, cpu_model, cpu_physical_cores, cpu_logical_cores,
                             memory_total_bytes, swap_total_bytes, agent_version, online, last_seen, connected_at,
                             clock_offset_ms, clock_rtt_ms, clock_checked_at)
            VALUES (%s, '203.0.113.7', %s, 'x', 'web-01.example.net', 'Debian GNU/Linux', '12 (bookworm)',
                    '6.1.0-28-amd64', 'x86_64', 'AMD EPYC 7543P', 4, 8, 8589934592, 2147483648, '0.1.0',
                    true, now(), now() - interval '10 days', -596000, 4, now())
            RETURNING id
            """,
            (busy_name, unique("k")),
        ).fetchone()
        assert busy is not None
        conn.execute(
            "INSERT INTO vps (name, ip_address, agent_key_id, agent_token_hash, hostname, os_name, online, last_seen)"
            " VALUES (%s, '198.51.100.23', %s, 'x', 'db-01', 'Ubuntu', false, now() - interval '3 hours')",
            (idle_name, unique("k")),
        )
        history_start = now - timedelta(days=3)
        recent = now - timedelta(hours=2)
        _insert_demo_metrics(conn, busy["id"], history_start, history_start, recent, timedelta(minutes=1))
        _insert_demo_metrics(
            conn, busy["id"], history_start, recent + timedelta(seconds=5), now, timedelta(seconds=5)
        )
        refresh_rollups(conn, history_start)
        for source in ("network_metrics", "disk_metrics"):
            refresh_rollups(conn, history_start, source)
    return DemoFleet(username, busy["id"], busy_name, idle_name)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS

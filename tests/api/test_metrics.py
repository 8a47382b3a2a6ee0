"""Range queries at each resolution, against raw rows and refreshed rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from api.app import create_app
from common.api_models import Role
from common.settings import ApiSettings
from tests.api.conftest import (
    SignedIn,
    assert_problem,
    fetch_one,
    insert_host_metrics,
    refresh_rollups,
    sign_in,
)
from tests.conftest import create_vps

pytestmark = [pytest.mark.db, pytest.mark.storage]
Client = AsyncTestClient[Litestar]
Db = psycopg.Connection[DictRow]
GIB, MIB = 1 << 30, 1 << 20


def _ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def _minute_floor(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


async def _host(client: Client, who: SignedIn, vps_id: int, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/api/vps/{vps_id}/metrics/host", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def vps_id(db_dsn: str) -> int:
    return create_vps(db_dsn).id


async def test_short_ranges_read_raw_samples(client: Client, db: Db, viewer: SignedIn, vps_id: int) -> None:
    now = _minute_floor(datetime.now(UTC))
    insert_host_metrics(db, vps_id, now - timedelta(minutes=20), now, timedelta(seconds=10))
    body = await _host(client, viewer, vps_id, **{"from": _ms(now - timedelta(minutes=15)), "to": _ms(now)})
    assert (body["resolution"], body["step_ms"]) == ("raw", 1000)
    assert (body["from_ms"], body["to_ms"]) == (_ms(now - timedelta(minutes=15)), _ms(now))
    times = [datetime.fromtimestamp(ms / 1000, UTC) for ms in body["time_ms"]]
    assert len(times) == 90 and times == sorted(times)
    assert body["cpu_percent"] == [float(t.minute) for t in times]
    assert body["memory_used_bytes"] == [float(GIB + t.second * MIB) for t in times]
    assert body["memory_total_bytes"] == [8.0 * GIB] * 90
    assert all(isinstance(v, float) for v in body["load_1"])


async def test_default_range_is_the_last_hour(client: Client, db: Db, viewer: SignedIn, vps_id: int) -> None:
    now = datetime.now(UTC)
    insert_host_metrics(db, vps_id, now - timedelta(hours=2), now, timedelta(minutes=1))
    body = await _host(client, viewer, vps_id)
    assert abs(body["to_ms"] - _ms(now)) < 60_000 and body["to_ms"] - body["from_ms"] == 3_600_000
    assert body["resolution"] == "raw" and body["step_ms"] == 5000
    assert 59 <= len(body["time_ms"]) <= 61


async def test_a_day_reads_the_minute_rollup_and_matches_raw(
    client: Client, db: Db, viewer: SignedIn, vps_id: int
) -> None:
    now = _minute_floor(datetime.now(UTC))
    start = now - timedelta(hours=26)
    insert_host_metrics(db, vps_id, start, now, timedelta(seconds=30))
    refresh_rollups(db, start)
    window = {"from": (now - timedelta(hours=24)).isoformat(), "to": now.isoformat()}
    rolled = await _host(client, viewer, vps_id, **window)
    assert (rolled["resolution"], rolled["step_ms"]) == ("1m", 60_000)
    assert len(rolled["time_ms"]) == 24 * 60
    minutes = [datetime.fromtimestamp(ms / 1000, UTC).minute for ms in rolled["time_ms"]]
    assert rolled["cpu_percent"] == [float(m) for m in minutes]
    # Samples at :00 and :30 average to 15 s, i.e. 15 MiB above 1 GiB.
    assert set(rolled["memory_used_bytes"]) == {float(GIB + 15 * MIB)}
    raw = await _host(client, viewer, vps_id, resolution="raw", **window)
    assert (raw["resolution"], raw["step_ms"]) == ("raw", 60_000)
    assert {k: raw[k] for k in ("time_ms", "cpu_percent", "memory_used_bytes", "load_1")} == {
        k: rolled[k] for k in ("time_ms", "cpu_percent", "memory_used_bytes", "load_1")
    }


@pytest.mark.edition("apache")
async def test_rollup_reads_fill_the_unrefreshed_tail_from_raw(
    client: Client, db: Db, viewer: SignedIn, vps_id: int
) -> None:
    """On the Apache edition the rollup trails the data; charts must not."""
    now = _minute_floor(datetime.now(UTC))
    start = now - timedelta(hours=30)
    insert_host_metrics(db, vps_id, start, now + timedelta(minutes=1), timedelta(seconds=30))
    refresh_rollups(db, start)
    lag = now - timedelta(minutes=7)
    original = fetch_one(db, "SELECT watermark FROM rollup_watermarks WHERE name = 'host_metrics_1m'")[
        "watermark"
    ]
    try:
        # As if the collector had not refreshed for seven minutes.
        db.execute("UPDATE rollup_watermarks SET watermark = %s WHERE name = 'host_metrics_1m'", (lag,))
        db.execute("DELETE FROM host_metrics_1m WHERE vps_id = %s AND bucket >= %s", (vps_id, lag))
        body = await _host(
            client,
            viewer,
            vps_id,
            **{"from": _ms(now - timedelta(hours=24)), "to": _ms(now + timedelta(minutes=1))},
        )
    finally:
        db.execute("UPDATE rollup_watermarks SET watermark = %s WHERE name = 'host_metrics_1m'", (original,))
        refresh_rollups(db, lag)
    assert body["resolution"] == "1m"
    tail = {ms: cpu for ms, cpu in zip(body["time_ms"], body["cpu_percent"], strict=True) if ms >= _ms(lag)}
    expected = {_ms(lag + timedelta(minutes=i)): float((lag + timedelta(minutes=i)).minute) for i in range(8)}
    assert tail == expected
    assert len(body["time_ms"]) == len(set(body["time_ms"])) <= 1500


async def test_long_ranges_read_the_hour_rollup(
    client: Client, db: Db, viewer: SignedIn, vps_id: int
) -> None:
    now = _minute_floor(datetime.now(UTC)).replace(minute=0)
    now -= timedelta(hours=now.hour % 2)  # 2-hour buckets start at even hours
    start = now - timedelta(days=90)
    insert_host_metrics(db, vps_id, start, now, timedelta(minutes=10))
    refresh_rollups(db, start)
    body = await _host(client, viewer, vps_id, **{"from": start.isoformat(), "to": now.isoformat()})
    assert (body["resolution"], body["step_ms"]) == ("1h", 2 * 3_600_000)
    assert len(body["time_ms"]) == 90 * 12
    # Samples at minutes 0, 10 … 50 average to 25 in every bucket.
    assert set(body["cpu_percent"]) == {25.0}
    assert set(body["memory_total_bytes"]) == {8.0 * GIB}
    explicit = await _host(
        client, viewer, vps_id, resolution="1h", **{"from": _ms(now - timedelta(hours=6)), "to": _ms(now)}
    )
    assert (explicit["resolution"], explicit["step_ms"], len(explicit["time_ms"])) == ("1h", 3_600_000, 6)
    assert explicit["cpu_percent_max"] == [50.0] * 6


async def test_every_series_fits_the_point_limit(
    client: Client, db: Db, viewer: SignedIn, vps_id: int
) -> None:
    now = _minute_floor(datetime.now(UTC))
    insert_host_metrics(db, vps_id, now - timedelta(hours=2), now, timedelta(seconds=1))
    refresh_rollups(db, now - timedelta(hours=2))
    for resolution in ("auto", "raw", "1m"):
        body = await _host(
            client, viewer, vps_id, resolution=resolution, **{"from": _ms(now - timedelta(hours=2))}
        )
        assert 0 < len(body["time_ms"]) <= 1500, resolution
    body = await _host(
        client, viewer, vps_id, resolution="raw", **{"from": _ms(now - timedelta(hours=2)), "to": _ms(now)}
    )
    assert (body["step_ms"], len(body["time_ms"])) == (5000, 1440)


async def test_the_point_limit_follows_the_setting(db: Db, db_dsn: str, vps_id: int) -> None:
    now = _minute_floor(datetime.now(UTC))
    insert_host_metrics(db, vps_id, now - timedelta(hours=1), now, timedelta(seconds=5))
    refresh_rollups(db, now - timedelta(hours=1))
    app = create_app(ApiSettings(max_points_per_series=100), db_dsn)
    async with AsyncTestClient(app=app) as small:
        who = await sign_in(small, db, Role.VIEWER)
        body = await _host(small, who, vps_id, **{"from": _ms(now - timedelta(hours=1)), "to": _ms(now)})
    assert body["step_ms"] == 60_000 and len(body["time_ms"]) == 60


async def test_per_device_series(client: Client, db: Db, viewer: SignedIn, vps_id: int) -> None:
    now = _minute_floor(datetime.now(UTC))
    for i in range(3):
        t = now - timedelta(seconds=10 * (i + 1))
        for interface, rate in [("eth0", 100.0 * (i + 1)), ("wg0", 7.0)]:
            db.execute(
                "INSERT INTO network_metrics VALUES (%s, %s, %s, %s, %s, 1, 1, 0, 0, 0, 0, %s, %s)",
                (t, vps_id, interface, rate, rate / 2, int(rate * 10), int(rate * 5)),
            )
        db.execute(
            "INSERT INTO disk_metrics VALUES (%s, %s, '/', '/dev/vda1', 'ext4', 100, %s, 0, 10, 1)",
            (t, vps_id, 40 + i),
        )
        db.execute("INSERT INTO disk_io_metrics VALUES (%s, %s, 'vda', 512, 1024, 2, 4)", (t, vps_id))
        db.execute(
            "INSERT INTO container_metrics VALUES (%s, %s, 'c0ffee', 12.5, 1000, 4000, 0, 0, 0, 0, 3)",
            (t, vps_id),
        )
    db.execute(
        "INSERT INTO containers (vps_id, container_id, name, image, state, status)"
        " VALUES (%s, 'c0ffee', 'web', 'nginx:1.27', 'running', 'Up')",
        (vps_id,),
    )
    window = {"from": _ms(now - timedelta(minutes=5)), "to": _ms(now)}
    base = f"/api/vps/{vps_id}/metrics"
    network = (await client.get(f"{base}/network", params=window, headers=viewer.headers)).json()
    assert [i["interface"] for i in network["interfaces"]] == ["eth0", "wg0"]
    assert network["interfaces"][0]["rx_bytes_per_second"] == [300.0, 200.0, 100.0]
    assert network["interfaces"][0]["tx_bytes"] == [1500.0, 1000.0, 500.0]
    disks = (await client.get(f"{base}/disks", params=window, headers=viewer.headers)).json()
    assert disks["mounts"][0]["mountpoint"] == "/" and disks["mounts"][0]["used_bytes"] == [42.0, 41.0, 40.0]
    diskio = (await client.get(f"{base}/diskio", params=window, headers=viewer.headers)).json()
    assert diskio["devices"][0]["write_bytes_per_second"] == [1024.0] * 3
    containers = (await client.get(f"{base}/containers", params=window, headers=viewer.headers)).json()
    [container] = containers["containers"]
    assert (container["name"], container["image"], container["pids"]) == ("web", "nginx:1.27", [3.0] * 3)
    empty = (
        await client.get(
            f"{base}/network",
            params={"from": _ms(now - timedelta(days=300)), "to": _ms(now - timedelta(days=299))},
            headers=viewer.headers,
        )
    ).json()
    assert empty["interfaces"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2025-02-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}, "from"),
        ({"from": "NaN"}, "from"),
        ({"to": "inf"}, "to"),
        ({"from": "1;DROP TABLE vps"}, "from"),
        ({"from": "' OR 1=1 --"}, "from"),
        ({"from": "2025-13-45"}, "from"),
        ({"from": "-5"}, "from"),
        ({"to": "99999999999999999"}, "to"),
        ({"from": "1.5e12"}, "from"),
        ({"to": "0001-01-01T00:00:00Z"}, "to"),
        ({"to": ""}, "to"),
        ({"from": "x" * 65}, "from"),
        ({"resolution": "5m"}, "resolution"),
    ],
)
async def test_bad_ranges_are_precise_problems(
    client: Client, viewer: SignedIn, vps_id: int, params: dict[str, str], field: str
) -> None:
    response = await client.get(f"/api/vps/{vps_id}/metrics/host", params=params, headers=viewer.headers)
    assert_problem(response, 422, field)


async def test_unknown_vps_is_404(client: Client, viewer: SignedIn) -> None:
    for series in ("host", "network", "disks", "diskio", "containers"):
        response = await client.get(f"/api/vps/987654321/metrics/{series}", headers=viewer.headers)
        assert "987654321" in assert_problem(response, 404)["detail"]
    assert_problem(await client.get("/api/vps/1/metrics/host"), 401)

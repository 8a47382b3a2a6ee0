"""Per-core CPU, temperatures, custom metrics and status events over a window: the
endpoints the history charts read beyond the registry's rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from api.metrics.extras import MAX_CUSTOM_SERIES
from tests.api.conftest import SignedIn, assert_problem
from tests.conftest import create_vps

pytestmark = [pytest.mark.db]
Client = AsyncTestClient[Litestar]
Db = psycopg.Connection[DictRow]


def _ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


async def _get(client: Client, who: SignedIn, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def vps_id(db_dsn: str) -> int:
    return create_vps(db_dsn).id


def _insert_cores(db: Db, vps_id: int, start: datetime, count: int, cores: list[list[float]]) -> None:
    """``count`` samples 10 s apart; sample ``i`` has per-core values ``cores[i % len(cores)]``."""
    for i in range(count):
        db.execute(
            "INSERT INTO host_metrics SELECT %s, %s, 50, %s, 1, 2, 3, 4, 0.5, 0.4, 0.3, 8589934592, 1073741824,"
            " 4294967296, 1000, 2000, 0, 0, 10, 2, 100, 3600",
            (start + timedelta(seconds=10 * i), vps_id, cores[i % len(cores)]),
        )


async def test_per_core_cpu_is_bucketed_per_core(
    client: Client, db: Db, viewer: SignedIn, vps_id: int
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    # Two samples per 20 s bucket would average; one per 10 s with a 10 s step keeps each.
    _insert_cores(db, vps_id, start, 6, [[10.0, 90.0, 0.0], [20.0, 80.0, 100.0]])
    body = await _get(
        client, viewer, f"/api/vps/{vps_id}/metrics/cpu-cores",
        **{"from": _ms(start), "to": _ms(start + timedelta(minutes=1))},
    )  # fmt: skip
    assert body["resolution"] == "raw" and body["step_ms"] == 1000
    assert body["time_ms"] == [_ms(start) + 10_000 * i for i in range(6)]
    assert body["cores"] == [[10.0, 20.0] * 3, [90.0, 80.0] * 3, [0.0, 100.0] * 3]
    # A wide window averages each core within its buckets and keeps the point limit.
    wide = await _get(
        client, viewer, f"/api/vps/{vps_id}/metrics/cpu-cores",
        **{"from": _ms(start - timedelta(days=2)), "to": _ms(start + timedelta(minutes=1))},
    )  # fmt: skip
    assert wide["resolution"] == "raw" and wide["step_ms"] >= 60_000
    assert len(wide["time_ms"]) == 1 and wide["cores"] == [[15.0], [85.0], [50.0]]


async def test_temperatures_per_sensor(client: Client, db: Db, viewer: SignedIn, vps_id: int) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    for i, (cpu, nvme) in enumerate([(40.0, 30.0), (60.0, 32.0)]):
        t = start + timedelta(seconds=5 * i)
        db.execute(
            "INSERT INTO temperature_metrics VALUES (%s, %s, 'coretemp', %s), (%s, %s, 'nvme0', %s)",
            (t, vps_id, cpu, t, vps_id, nvme),
        )
    path = f"/api/vps/{vps_id}/metrics/temperatures"
    body = await _get(client, viewer, path, **{"from": _ms(start), "to": _ms(start + timedelta(seconds=30))})
    assert body["resolution"] == "raw"
    by_sensor = {s["sensor"]: s for s in body["sensors"]}
    assert sorted(by_sensor) == ["coretemp", "nvme0"]
    assert by_sensor["coretemp"]["celsius"] == [40.0, 60.0] and by_sensor["nvme0"]["celsius_max"] == [
        30.0,
        32.0,
    ]
    wide = await _get(
        client,
        viewer,
        path,
        **{"from": _ms(start - timedelta(days=30)), "to": _ms(start + timedelta(minutes=1))},
    )
    # No rollup exists for temperatures: a month is read from raw rows, one bucket here.
    assert wide["resolution"] == "raw" and wide["step_ms"] == 1_800_000
    coretemp = next(s for s in wide["sensors"] if s["sensor"] == "coretemp")
    assert coretemp["celsius"] == [50.0] and coretemp["celsius_max"] == [60.0]


async def test_custom_metrics_one_series_per_name_and_labels(
    client: Client, db: Db, viewer: SignedIn, vps_id: int
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    rows = [
        ("queue_depth", {"queue": "mail"}, 3.0),
        ("queue_depth", {"queue": "mail"}, 5.0),
        ("queue_depth", {"queue": "jobs"}, 7.0),
        ("backup_age_seconds", {}, 600.0),
    ]
    for name, labels, value in rows:
        db.execute(
            "INSERT INTO generic_metrics VALUES (%s, %s, %s, %s, %s)",
            (start, vps_id, name, Jsonb(labels), value),
        )
    window = {"from": _ms(start), "to": _ms(start + timedelta(minutes=1))}
    body = await _get(client, viewer, f"/api/vps/{vps_id}/metrics/custom", **window)
    assert body["resolution"] == "raw" and body["truncated"] is False
    got = [(m["name"], m["labels"], m["value"], m["value_max"]) for m in body["metrics"]]
    assert got == [
        ("backup_age_seconds", {}, [600.0], [600.0]),
        ("queue_depth", {"queue": "jobs"}, [7.0], [7.0]),
        ("queue_depth", {"queue": "mail"}, [4.0], [5.0]),
    ]
    only = await _get(
        client, viewer, f"/api/vps/{vps_id}/metrics/custom", name="backup_age_seconds", **window
    )
    assert [m["name"] for m in only["metrics"]] == ["backup_age_seconds"]


async def test_custom_metrics_are_capped_and_say_so(
    client: Client, db: Db, viewer: SignedIn, vps_id: int
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    db.execute(
        "INSERT INTO generic_metrics SELECT %s, %s, 'many', jsonb_build_object('i', lpad(i::text, 4, '0')), i"
        " FROM generate_series(1, %s) AS i",
        (start, vps_id, MAX_CUSTOM_SERIES + 5),
    )
    body = await _get(
        client, viewer, f"/api/vps/{vps_id}/metrics/custom",
        **{"from": _ms(start), "to": _ms(start + timedelta(minutes=1))},
    )  # fmt: skip
    assert body["truncated"] is True and len(body["metrics"]) == MAX_CUSTOM_SERIES
    assert body["metrics"][0]["labels"] == {"i": "0001"}


async def test_status_events_start_with_the_state_before_the_window(
    client: Client, db: Db, viewer: SignedIn, vps_id: int
) -> None:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    for minutes, status in [(0, "online"), (30, "offline"), (90, "online"), (100, "offline")]:
        db.execute(
            "INSERT INTO vps_status_events (vps_id, time, status, reason) VALUES (%s, %s, %s, 'test')",
            (vps_id, base + timedelta(minutes=minutes), status),
        )
    path = f"/api/vps/{vps_id}/status-events"
    body = await _get(
        client,
        viewer,
        path,
        **{"from": _ms(base + timedelta(minutes=60)), "to": _ms(base + timedelta(minutes=95))},
    )
    assert [(e["status"], e["time"]) for e in body] == [
        ("offline", (base + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")),
        ("online", (base + timedelta(minutes=90)).isoformat().replace("+00:00", "Z")),
    ]
    assert all(e["reason"] == "test" for e in body)
    assert await _get(client, viewer, path, **{"from": _ms(base - timedelta(hours=1)), "to": _ms(base)}) == []


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("metrics/cpu-cores", {"from": "yesterday"}, "from"),
        ("metrics/temperatures", {"to": "2026-13-01T00:00:00Z"}, "to"),
        ("metrics/custom", {"name": ""}, "name"),
        ("metrics/custom", {"name": "a\u202eb"}, "name"),
        ("status-events", {"limit": "0"}, "limit"),
        ("status-events", {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field(
    client: Client, viewer: SignedIn, vps_id: int, path: str, params: dict[str, str], field: str
) -> None:
    response = await client.get(f"/api/vps/{vps_id}/{path}", params=params, headers=viewer.headers)
    assert_problem(response, 422, field)


@pytest.mark.parametrize(
    "path", ["metrics/cpu-cores", "metrics/temperatures", "metrics/custom", "status-events"]
)
async def test_unknown_vps_is_404_and_anonymous_is_401(client: Client, viewer: SignedIn, path: str) -> None:
    assert_problem(await client.get(f"/api/vps/999999999/{path}", headers=viewer.headers), 404)
    assert_problem(await client.get(f"/api/vps/1/{path}"), 401)

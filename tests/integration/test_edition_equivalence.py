"""One dataset, both editions: every rollup and every API series agree value by value.

The same samples (on time, replayed after a 4-hour outage and after a 3-day one)
go through a real collector into a fresh database on the Apache server and on
the Community server; each collector's maintenance refreshes. Then every rollup
row and every metrics endpoint's answer are compared. It uses both servers
itself, so it runs once, in the full (Apache) pass of scripts/test.sh.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from litestar.testing import AsyncTestClient
from psycopg.rows import dict_row

from api.app import create_app
from common.api_models import Role
from common.edition import Edition
from common.settings import LOCAL_DSN_FILE, ApiSettings, resolve_dsn
from tests.api.conftest import sign_in
from tests.conftest import create_test_database, create_vps, drop_test_database, server_edition
from tests.editions import (
    Outages,
    ingest_with_outages,
    outages_now,
    rollup_names,
    rollup_rows,
    timescale_server_dsn,
)

pytestmark = [pytest.mark.db, pytest.mark.slow]

ENDPOINTS = ("host", "network", "disks", "diskio", "containers")


def assert_close(got: Any, want: Any, where: str) -> None:
    """Equal, recursively; floats to a relative 1e-9 (the editions sum in different orders)."""
    if isinstance(got, dict) and isinstance(want, dict):
        assert got.keys() == want.keys(), where
        for key in got:
            assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(got, list) and isinstance(want, list):
        assert len(got) == len(want), (where, len(got), len(want))
        for index, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{where}[{index}]")
    elif isinstance(got, float) or isinstance(want, float):
        assert got is not None and want is not None, (where, got, want)
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9), (where, got, want)
    else:
        assert got == want, (where, got, want)


def windows(o: Outages) -> list[tuple[str, datetime, datetime, str]]:
    return [
        ("1m, 4-hour outage and now", o.anchor - timedelta(hours=5), o.anchor + timedelta(minutes=1), "1m"),
        (
            "1m, 3-day outage",
            o.anchor - timedelta(days=3, hours=1),
            o.anchor - timedelta(days=3) + timedelta(hours=1),
            "1m",
        ),
        ("1h, four days", o.anchor - timedelta(days=4), o.anchor + timedelta(minutes=1), "1h"),
        ("auto, four days", o.anchor - timedelta(days=4), o.anchor + timedelta(minutes=1), "auto"),
        (
            "raw, 4-hour outage",
            o.anchor - timedelta(hours=4, minutes=30),
            o.anchor - timedelta(hours=3, minutes=50),
            "raw",
        ),
    ]


async def api_series(dsn: str, vps_id: int, outages: Outages) -> dict[str, Any]:
    """Every metrics endpoint over every window, through the real API app."""
    out: dict[str, Any] = {}
    async with AsyncTestClient(app=create_app(ApiSettings(), dsn)) as client:
        with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
            viewer = await sign_in(client, conn, Role.VIEWER)
        for endpoint in ENDPOINTS:
            for label, start, end, resolution in windows(outages):
                response = await client.get(
                    f"/api/vps/{vps_id}/metrics/{endpoint}",
                    params={"from": start.isoformat(), "to": end.isoformat(), "resolution": resolution},
                    headers=viewer.headers,
                )
                assert response.status_code == 200, response.text
                out[f"{endpoint} {label}"] = response.json()
    return out


@pytest.fixture
def both_servers() -> Iterator[dict[str, str]]:
    # The Apache server is the test server, unless that is the Community one (TIDEWATCH_DSN).
    apache = resolve_dsn() if server_edition() is Edition.APACHE else LOCAL_DSN_FILE.read_text().strip()
    servers = {"apache": apache, "timescale": timescale_server_dsn()}
    dsns: dict[str, str] = {}
    try:
        for edition, server in servers.items():
            dsns[edition] = create_test_database(f"tidewatch_equiv_{edition}", server)
            with psycopg.connect(dsns[edition]) as conn:
                row = conn.execute("SELECT tw_timescaledb_edition()").fetchone()
            assert row == (edition,), f"the {edition} server is the {row} edition"
        yield dsns
    finally:
        for dsn in dsns.values():
            drop_test_database(dsn)


async def test_both_editions_store_and_serve_the_same_values(both_servers: dict[str, str]) -> None:
    outages = outages_now()
    vps_ids: dict[str, int] = {}
    for edition, dsn in both_servers.items():
        vps = create_vps(dsn, "equivalence")
        vps_ids[edition] = vps.id
        await ingest_with_outages(dsn, vps.token, outages)

    apache, timescale = both_servers["apache"], both_servers["timescale"]
    names = rollup_names(apache)
    assert names == rollup_names(timescale) and len(names) == 10
    for name in names:
        got = rollup_rows(timescale, name, vps_ids["timescale"])
        want = rollup_rows(apache, name, vps_ids["apache"])
        assert_close(got, want, name)
        # Not vacuous: each rollup holds the on-time data and both outages.
        buckets = {r["bucket"] for r in want}
        for period in (outages.on_time, outages.four_hours_late, outages.three_days_late):
            assert any(period[0] - timedelta(hours=1) < b <= period[-1] for b in buckets), (name, period[0])

    series = {
        edition: await api_series(dsn, vps_ids[edition], outages) for edition, dsn in both_servers.items()
    }
    assert_close(series["timescale"], series["apache"], "api")
    host = series["apache"]["host 1m, 4-hour outage and now"]
    assert len(host["time_ms"]) >= 15 + 5  # the outage's minutes and the on-time ones

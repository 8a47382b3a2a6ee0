"""The columnar statement (one row per series, one array per column) against the row statement
it replaced in the metrics routes: the same series and values, on real rows, at every tier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import DictRow, tuple_row

from api.metrics.resolution import Coverage, choose_plan
from api.metrics.series import (
    CONTAINER_LABELS,
    CONTAINERS,
    HOST,
    NETWORK,
    SeriesLabels,
    SeriesSpec,
    build_columnar_query,
    build_query,
    columns_of,
    query_params,
    to_columns,
)
from common.api_models.metrics import ResolutionChoice
from tests.api.conftest import insert_host_metrics, refresh_rollups
from tests.conftest import create_vps

pytestmark = [pytest.mark.db, pytest.mark.storage]
Db = psycopg.Connection[DictRow]


def _both(
    db: Db,
    spec: SeriesSpec,
    labels: SeriesLabels | None,
    vps_id: int,
    start: datetime,
    end: datetime,
    resolution: ResolutionChoice = "auto",
) -> tuple[str, dict[str | None, dict[str, object]], dict[str | None, dict[str, object]]]:
    coverage = Coverage(now=datetime.now(UTC), raw_keep=timedelta(days=30), keep_1m=timedelta(days=90))
    plan = choose_plan(start, end, resolution, 1500, coverage)
    params = query_params(vps_id, start, end, plan.step)
    results = []
    for build, read in ((build_query, to_columns), (build_columnar_query, columns_of)):
        cur = db.cursor(row_factory=tuple_row, binary=True)
        rows = cur.execute(build(spec, plan, live_rollups=False, labels=labels), params).fetchall()
        results.append(read(spec, rows, labels))
    return plan.resolution, results[0], results[1]


def test_columnar_results_equal_row_results_at_each_tier(db: Db, db_dsn: str) -> None:
    vps_id = create_vps(db_dsn).id
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(days=3)
    insert_host_metrics(db, vps_id, start, now, timedelta(minutes=1))
    db.execute(
        "INSERT INTO network_metrics SELECT t, %s, i, extract(minute FROM t) * 10, 5, 1, 1, 0, 0, 0, 0,"
        " extract(second FROM t)::bigint, 7 FROM generate_series(%s, %s, interval '1 minute') t,"
        " unnest(ARRAY['eth0', 'wg0']) i",
        (vps_id, start, now - timedelta(minutes=1)),
    )
    db.execute(
        "INSERT INTO container_metrics SELECT t, %s, c, extract(minute FROM t), 1000, 4000, 0, 0, 0, 0, 3"
        " FROM generate_series(%s, %s, interval '1 minute') t, unnest(ARRAY['c1', 'c2']) c",
        (vps_id, start, now - timedelta(minutes=1)),
    )
    # c2 has no record: its name and image are empty in both forms.
    db.execute(
        "INSERT INTO containers (vps_id, container_id, name, image, state, status)"
        " VALUES (%s, 'c1', 'web', 'nginx', 'running', 'Up')",
        (vps_id,),
    )
    for source in ("host_metrics", "network_metrics", "container_metrics"):
        refresh_rollups(db, start, source)
    # Host rows past the rollups' watermark: those buckets come from raw rows.
    insert_host_metrics(db, vps_id, now, now + timedelta(minutes=30), timedelta(minutes=1))
    end = now + timedelta(minutes=30)
    windows: list[tuple[timedelta, ResolutionChoice]] = [
        (timedelta(hours=1), "auto"),  # raw
        (timedelta(hours=30), "auto"),  # the 1-minute rollup, re-bucketed
        (timedelta(days=3), "1h"),
    ]
    seen = set()
    for spec, labels in ((HOST, None), (NETWORK, None), (CONTAINERS, CONTAINER_LABELS)):
        for width, choice in windows:
            resolution, rows, columnar = _both(db, spec, labels, vps_id, end - width, end, choice)
            assert rows, (spec.table, width)
            assert columnar == rows, (spec.table, width)
            seen.add(resolution)
        # An empty window: no series either way.
        _, rows, columnar = _both(
            db, spec, labels, vps_id, start - timedelta(days=2), start - timedelta(days=1)
        )
        assert rows == columnar == {}
    assert seen == {"raw", "1m", "1h"}

"""Storage on the edition under test (scripts/test.sh runs these on both): replayed
outages reach every rollup, retention changed through tidewatch-admin is what is kept,
and the read-only role can run every documented query but write nothing."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from common.edition import Edition
from tests.conftest import create_test_database, create_vps, drop_test_database, server_edition
from tests.editions import ingest_with_outages, outages_now

pytestmark = [pytest.mark.db, pytest.mark.storage]

DOCS_SQL = Path(__file__).resolve().parents[2] / "docs" / "sql.md"


@pytest.fixture(scope="module")
def storage_dsn() -> Iterator[str]:
    dsn = create_test_database("tidewatch_storage")
    yield dsn
    drop_test_database(dsn)


def _rows(dsn: str, query: sql.Composable | str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


async def test_replayed_outages_reach_every_rollup(storage_dsn: str) -> None:
    vps = create_vps(storage_dsn)
    outages = outages_now()
    await ingest_with_outages(storage_dsn, vps.token, outages)

    definitions = _rows(
        storage_dsn,
        "SELECT d.name, d.bucket_width, d.group_columns, coalesce(s.source_table, d.source_table)"
        " FROM rollup_definitions d LEFT JOIN rollup_definitions s ON s.name = d.source_table ORDER BY d.name",
    )
    assert len(definitions) == 10
    for name, width, group_columns, raw_table in definitions:
        groups = sql.SQL(", ").join(sql.Identifier(c.strip()) for c in str(group_columns).split(","))
        got = _rows(
            storage_dsn,
            sql.SQL("SELECT bucket, {g}, sample_count FROM {r} WHERE vps_id = %s ORDER BY 1, {g}").format(
                g=groups, r=sql.Identifier(str(name))
            ),
            vps.id,
        )
        want = _rows(
            storage_dsn,
            sql.SQL(
                "SELECT time_bucket(%s, time) AS b, {g}, count(*) FROM {t} WHERE vps_id = %s GROUP BY b, {g} ORDER BY 1, {g}"
            ).format(g=groups, t=sql.Identifier(str(raw_table))),
            width,
            vps.id,
        )
        assert got == want, name
        buckets = [row[0] for row in got if isinstance(row[0], datetime)]
        assert len(buckets) == len(got)
        for period in (outages.four_hours_late, outages.three_days_late):
            assert any(period[0] - timedelta(hours=1) < b <= period[-1] for b in buckets), (name, period[0])
    assert _rows(storage_dsn, "SELECT count(*) FROM rollup_invalidations") == [(0,)]
    assert _rows(storage_dsn, "SELECT count(*) FROM rollup_watermarks WHERE watermark IS NULL") == [(0,)]


def _admin(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("tidewatch-admin")), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TIDEWATCH_DSN": dsn},
        timeout=60,
    )


def test_retention_set_with_tidewatch_admin_is_what_is_kept(own_dsn: str) -> None:
    """Its own database, and old rows at midday: the replayed outage's rows, 3 days and
    50 minutes back, would add a second old chunk whenever midnight fell between them."""
    dsn = own_dsn
    vps = create_vps(dsn)
    now = datetime.now(UTC)
    midday_three_days_ago = datetime.combine(now.date() - timedelta(days=3), time(12), tzinfo=UTC)
    with psycopg.connect(dsn) as conn:
        for start, end in (
            (midday_three_days_ago, midday_three_days_ago + timedelta(minutes=5)),
            (now - timedelta(minutes=5), now),
        ):
            conn.execute(
                "INSERT INTO disk_metrics (time, vps_id, mountpoint, device, fstype, total_bytes, used_bytes,"
                " free_bytes, inodes_total, inodes_used)"
                " SELECT t, %s, '/', '/dev/vda1', 'ext4', 100, 40, 60, 10, 1 FROM generate_series(%s, %s, interval '1 minute') t",
                (vps.id, start, end - timedelta(microseconds=1)),
            )
    old = "SELECT count(*) FROM disk_metrics WHERE vps_id = %s AND time < now() - interval '2 days'"
    assert _rows(dsn, old, vps.id) == [(5,)]

    refused = _admin(dsn, "set-retention", "disk_metrics", "30 minutes")
    assert refused.returncode == 1 and "at least 1 hour" in refused.stderr
    unknown = _admin(dsn, "set-retention", "nope", "2 days")
    assert unknown.returncode == 1 and "no retention setting for 'nope'" in unknown.stderr

    done = _admin(dsn, "set-retention", "disk_metrics", "2 days")
    try:
        assert done.returncode == 0, done.stderr
        assert "1 old chunks dropped" in done.stdout
        assert _rows(dsn, old, vps.id) == [(0,)]
        assert _rows(dsn, "SELECT count(*) FROM disk_metrics WHERE vps_id = %s", vps.id) == [(5,)]
        assert _rows(dsn, "SELECT keep FROM retention_settings WHERE relation = 'disk_metrics'") == [
            (timedelta(days=2),)
        ]
        if server_edition() is Edition.COMMUNITY:
            # The native policy was replaced, so TimescaleDB's own job keeps the same.
            assert _rows(dsn, "SELECT tw_retention_policy_keep('disk_metrics')") == [(timedelta(days=2),)]
        audit = _rows(
            dsn,
            "SELECT actor, detail->>'from', detail->>'to' FROM audit_log"
            " WHERE action = 'retention.set' AND target = 'retention:disk_metrics'",
        )
        assert audit == [("tidewatch-admin", "7 days", "2 days")]
    finally:
        assert _admin(dsn, "set-retention", "disk_metrics", "7 days").returncode == 0
    if server_edition() is Edition.COMMUNITY:
        assert _rows(dsn, "SELECT tw_retention_policy_keep('disk_metrics')") == [(timedelta(days=7),)]


def _documented_sql() -> list[str]:
    return [block.strip() for block in re.findall(r"```sql\n(.*?)```", DOCS_SQL.read_text(), re.S)]


@pytest.fixture
def reader_dsn(storage_dsn: str) -> Iterator[str]:
    """A login in tidewatch_reader, made as docs/sql.md tells an administrator to."""
    name = f"tw_reader_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with psycopg.connect(storage_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE tidewatch_reader").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
    try:
        yield make_conninfo(storage_dsn, user=name, password=password)
    finally:
        with psycopg.connect(storage_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_the_reader_runs_every_documented_query_and_writes_nothing(storage_dsn: str, reader_dsn: str) -> None:
    vps = create_vps(storage_dsn)
    with psycopg.connect(storage_dsn) as conn:
        conn.execute(
            "INSERT INTO host_metrics SELECT t, %s, 50, '{}', 1, 1, 0, 0, 1, 1, 1, 4096, 1000, 2000, 0, 0, 0, 0, 10, 1, 100, 86400"
            " FROM generate_series(now() - interval '30 minutes', now(), interval '1 minute') t",
            (vps.id,),
        )
    blocks = _documented_sql()
    setup = [b for b in blocks if b.startswith("CREATE ROLE")]
    examples = [b for b in blocks if not b.startswith("CREATE ROLE")]
    assert len(setup) == 1 and len(examples) >= 5
    with psycopg.connect(reader_dsn, autocommit=True) as reader:
        for example in examples:
            reader.execute(example.encode()).fetchall()
        assert reader.execute("SELECT name FROM vps_inventory WHERE vps_id = %s", (vps.id,)).fetchone()
        assert reader.execute("SELECT * FROM tw_job_problems()").fetchall() is not None
        writes = [
            "INSERT INTO host_metrics (time, vps_id) VALUES (now(), 1)",
            "UPDATE retention_settings SET keep = '1 day'",
            "DELETE FROM rollup_watermarks",
            "TRUNCATE host_metrics",
            "UPDATE vps_inventory SET name = 'x'",
            "SELECT * FROM vps",
            "SELECT * FROM users",
            "CREATE TABLE mine (x int)",
            "SELECT tw_apply_retention()",
            setup[0].replace("'…'", "'secret'"),
        ]
        # Not one write privilege on any relation (continuous aggregates' hypertables included).
        writable = reader.execute(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'v', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')"
        ).fetchall()
        assert writable == []
        for statement in writes:
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)):
                reader.execute(statement.encode())


def test_watermarks_load_and_refuse_infinity(storage_dsn: str) -> None:
    loaded = _rows(storage_dsn, "SELECT name, watermark FROM rollup_watermarks ORDER BY name")
    assert len(loaded) == 10
    assert all(mark is None or isinstance(mark, datetime) for _, mark in loaded)
    with pytest.raises(psycopg.errors.CheckViolation):
        _rows(storage_dsn, "UPDATE rollup_watermarks SET watermark = '-infinity' RETURNING 1")

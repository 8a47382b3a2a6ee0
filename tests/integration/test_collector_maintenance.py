"""Maintenance on either edition: rollup refresh, late data, retention and the single-runner lock.

The module gets its own database: retention drops chunks, and rollups are
compared bucket by bucket with a direct aggregate of the raw rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from collector.app import CollectorApp
from collector.maintenance import Maintenance
from proto import agent_pb2
from tests.conftest import (
    collector_settings,
    create_test_database,
    create_vps,
    drop_test_database,
    server_edition,
)
from tests.factories import performance_batch
from tests.integration.test_collector_ingest import open_stream

pytestmark = [pytest.mark.db, pytest.mark.storage]

LATE_WINDOW = timedelta(minutes=15)
Pool = AsyncConnectionPool[AsyncConnection[Any]]


@pytest.fixture(scope="module")
def maintenance_dsn() -> Iterator[str]:
    dsn = create_test_database("tidewatch_maint")
    yield dsn
    drop_test_database(dsn)


@pytest.fixture
async def pool(maintenance_dsn: str) -> AsyncIterator[Pool]:
    async with AsyncConnectionPool(maintenance_dsn, min_size=1, max_size=4, open=False) as opened:
        yield opened


async def refresh(pool: Pool) -> dict[str, int]:
    """One maintenance pass, waiting out another runner holding the lock."""
    maintenance = Maintenance(pool, LATE_WINDOW)
    for _ in range(100):
        if (written := await maintenance.run_once()) is not None:
            return written
        await asyncio.sleep(0.1)
    raise AssertionError("maintenance lock never became free")


def hour_start() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def insert_host_rows(dsn: str, vps_id: int, start: datetime, end: datetime, step: str) -> None:
    """Deterministic host and network rows every ``step`` in [start, end), announced as late
    data the way ingest announces rows behind the refresh window (else the next refresh skips them)."""
    with psycopg.connect(dsn) as conn:
        for source in ("host_metrics", "network_metrics"):
            conn.execute("SELECT tw_record_late_data(%s, %s)", (source, start))
        conn.execute(
            "INSERT INTO host_metrics SELECT t, %(vps)s, (extract(epoch FROM t)::bigint %% 97)::float8, '{}',"
            " 1, 1, 0, 0, (extract(epoch FROM t)::bigint %% 7)::float8, 0.5, 0.25,"
            " 4096, 1000 + (extract(epoch FROM t)::bigint %% 13), 2000, 0, 0, 0, 0, 10, 1, 100, 86400"
            " FROM generate_series(%(start)s, %(end)s - interval '1 microsecond', %(step)s::interval) AS t",
            {"vps": vps_id, "start": start, "end": end, "step": step},
        )
        conn.execute(
            "INSERT INTO network_metrics SELECT t, %(vps)s, i, 100.0 * n, 50.0, 1, 1, n %% 3, 0, 0, 0, n * 10, n"
            " FROM generate_series(%(start)s, %(end)s - interval '1 microsecond', %(step)s::interval) AS t,"
            " LATERAL (SELECT extract(epoch FROM t)::bigint %% 1000 AS n) AS v, unnest(ARRAY['eth0', 'eth1']) AS i",
            {"vps": vps_id, "start": start, "end": end, "step": step},
        )


def rows(dsn: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


HOST_DIRECT = (
    "SELECT time_bucket(%s::interval, time) AS b, avg(cpu_percent), max(cpu_percent), min(cpu_percent),"
    " avg(load_1), max(memory_used_bytes), count(*) FROM host_metrics WHERE vps_id = %s GROUP BY b ORDER BY b"
)
HOST_ROLLUP = (
    "SELECT bucket, cpu_percent_avg, cpu_percent_max, cpu_percent_min, load_1_avg, memory_used_bytes_max,"
    " sample_count FROM {} WHERE vps_id = %s ORDER BY bucket"
)
NETWORK_DIRECT = (
    "SELECT time_bucket(%s::interval, time) AS b, interface, avg(rx_bytes_per_second), max(rx_bytes_per_second),"
    " sum(rx_errors), sum(rx_bytes_delta), sum(tx_bytes_delta), count(*)"
    " FROM network_metrics WHERE vps_id = %s GROUP BY b, interface ORDER BY b, interface"
)
NETWORK_ROLLUP = (
    "SELECT bucket, interface, rx_bytes_per_second_avg, rx_bytes_per_second_max, rx_errors_sum, rx_bytes_sum,"
    " tx_bytes_sum, sample_count FROM {} WHERE vps_id = %s ORDER BY bucket, interface"
)


def assert_same_rows(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    """Equal row by row; floats to 1e-9 (summation order may differ)."""
    assert len(got) == len(want), (len(got), len(want))
    for g, w in zip(got, want, strict=True):
        assert len(g) == len(w)
        for a, b in zip(g, w, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                assert a == pytest.approx(b, rel=1e-9), (g, w)
            else:
                assert a == b, (g, w)


def assert_rollups_match(dsn: str, vps_id: int) -> None:
    for width, suffix in (("1 minute", "_1m"), ("1 hour", "_1h")):
        assert_same_rows(
            rows(dsn, HOST_ROLLUP.format("host_metrics" + suffix), vps_id),
            rows(dsn, HOST_DIRECT, width, vps_id),
        )
        assert_same_rows(
            rows(dsn, NETWORK_ROLLUP.format("network_metrics" + suffix), vps_id),
            rows(dsn, NETWORK_DIRECT, width, vps_id),
        )


async def test_rollups_equal_a_direct_aggregate_of_three_hours(maintenance_dsn: str, pool: Pool) -> None:
    vps = create_vps(maintenance_dsn)
    end = hour_start()  # once: an hour ticking between two reads would make four hours
    insert_host_rows(maintenance_dsn, vps.id, end - timedelta(hours=3), end, "30 seconds")

    assert await Maintenance(pool, LATE_WINDOW).detect_edition() is server_edition()
    written = await refresh(pool)
    assert written["host_metrics_1m"] >= 180 and written["host_metrics_1h"] >= 3

    counts = dict(
        rows(
            maintenance_dsn,
            "SELECT 'host_1m', count(*) FROM host_metrics_1m WHERE vps_id = %s"
            " UNION ALL SELECT 'host_1h', count(*) FROM host_metrics_1h WHERE vps_id = %s"
            " UNION ALL SELECT 'net_1m', count(*) FROM network_metrics_1m WHERE vps_id = %s"
            " UNION ALL SELECT 'net_1h', count(*) FROM network_metrics_1h WHERE vps_id = %s",
            vps.id,
            vps.id,
            vps.id,
            vps.id,
        )
    )
    assert counts == {"host_1m": 180, "host_1h": 3, "net_1m": 360, "net_1h": 6}
    assert rows(
        maintenance_dsn, "SELECT DISTINCT sample_count FROM host_metrics_1m WHERE vps_id = %s", vps.id
    ) == [(2,)]
    assert_rollups_match(maintenance_dsn, vps.id)

    # A second pass rewrites only the refresh window and changes nothing.
    await refresh(pool)
    assert_rollups_match(maintenance_dsn, vps.id)


@pytest.fixture
async def maintenance_collector(maintenance_dsn: str) -> AsyncIterator[CollectorApp]:
    """A collector on this database, started once its own first maintenance pass is over."""
    finished = asyncio.Event()

    class Finished(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith(("rollups refreshed", "maintenance failed")):
                finished.set()

    handler = Finished()
    logger = logging.getLogger("tidewatch.collector.maintenance")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    app = CollectorApp(collector_settings(rollup_late_window_s=LATE_WINDOW.total_seconds()), maintenance_dsn)
    try:
        await app.start()
        await asyncio.wait_for(finished.wait(), 20)
        yield app
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        await app.stop(2.0)


async def test_late_data_from_ingest_is_reaggregated(
    maintenance_dsn: str, pool: Pool, maintenance_collector: CollectorApp
) -> None:
    vps = create_vps(maintenance_dsn)
    end = hour_start()
    insert_host_rows(maintenance_dsn, vps.id, end - timedelta(hours=3), end, "30 seconds")
    await refresh(pool)
    late = end - timedelta(hours=2) + timedelta(minutes=7, seconds=10)
    minute = late.replace(second=0)
    before = rows(maintenance_dsn, HOST_ROLLUP.format("host_metrics_1m"), vps.id)
    assert (minute, 2) in {(r[0], r[-1]) for r in before}
    rows(maintenance_dsn, "DELETE FROM rollup_invalidations RETURNING 1")

    stream = await open_stream(maintenance_collector, vps.token)
    batch = performance_batch(1, [int(late.timestamp() * 1000)])
    batch.snapshots[0].cpu_percent = 99.5
    await stream.send(agent_pb2.MessageToServer(performance_batch=batch))
    assert (await stream.acks(1))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    await stream.close()

    invalidated = rows(
        maintenance_dsn,
        "SELECT rollup, min(from_time) FROM rollup_invalidations GROUP BY rollup ORDER BY rollup",
    )
    # The minute rollups are invalidated from the late sample on; the hour ones are either
    # invalidated too or rebuilt from the minutes (checked below against the raw rows).
    assert ("host_metrics_1m", late) in invalidated and ("network_metrics_1m", late) in invalidated
    # The range the late batch touched, exactly: one sample.
    assert rows(
        maintenance_dsn,
        "SELECT from_time, to_time FROM rollup_invalidations WHERE rollup = 'host_metrics_1m'",
    ) == [(late, late)]

    await refresh(pool)
    after = {r[0]: r for r in rows(maintenance_dsn, HOST_ROLLUP.format("host_metrics_1m"), vps.id)}
    assert after[minute][-1] == 3  # two raw rows plus the late one
    assert after[minute][2] == 99.5  # the new maximum
    assert_rollups_match(maintenance_dsn, vps.id)
    assert rows(maintenance_dsn, "SELECT count(*) FROM rollup_invalidations") == [(0,)]


async def test_every_value_ingest_accepts_can_be_aggregated(
    maintenance_dsn: str, pool: Pool, maintenance_collector: CollectorApp
) -> None:
    # avg() over float8 tracks a sum of squares: two huge values in one bucket overflow it
    # and would break every later refresh of the rollup. Ingest must refuse them instead.
    vps = create_vps(maintenance_dsn)
    stream = await open_stream(maintenance_collector, vps.token)
    t = int((hour_start() - timedelta(minutes=30)).timestamp() * 1000)
    for sequence, value in enumerate((1e18, 1e200, 1e300, 1.7e308), start=1):
        batch = performance_batch(sequence, [t + 1000 * sequence, t + 1000 * sequence + 500])
        batch.snapshots[0].load_1 = value
        batch.snapshots[0].network_interfaces[0].rx_bytes_per_second = value
        await stream.send(agent_pb2.MessageToServer(performance_batch=batch))
    acks = await stream.acks(4)
    await stream.close()
    assert acks[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    await refresh(pool)  # raises if a stored value overflowed an aggregate
    assert_rollups_match(maintenance_dsn, vps.id)


async def test_only_one_maintenance_runs_at_a_time(maintenance_dsn: str, pool: Pool) -> None:
    first, second = Maintenance(pool, LATE_WINDOW), Maintenance(pool, LATE_WINDOW)
    async with await AsyncConnection.connect(maintenance_dsn) as blocker:
        # Holding the watermarks stalls the first runner inside its refresh, lock held.
        await blocker.execute("SELECT * FROM rollup_watermarks FOR UPDATE")
        running = asyncio.create_task(first.run_once())
        for _ in range(100):
            waiting = rows(
                maintenance_dsn,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
                " AND (query LIKE '%%tw_refresh_rollup%%' OR query LIKE 'UPDATE rollup_watermarks%%')",
            )
            if waiting[0][0]:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the first maintenance pass never reached its refresh")
        assert await second.run_once() is None
        await blocker.rollback()
    written = await asyncio.wait_for(running, 20)
    assert written is not None and set(written) >= {"host_metrics_1m", "network_metrics_1h"}
    assert await second.run_once() is not None  # the lock was released


def test_retention_drops_whole_chunks_older_than_the_setting(own_dsn: str) -> None:
    """Its own database, and old rows at midday: the count of dropped chunks must not
    depend on the time of day (the module's other rows, from three hours back, sit in
    yesterday's chunk before 03:00 UTC, and five minutes from 23:55 span two chunks)."""
    dsn = own_dsn
    vps = create_vps(dsn)
    now = datetime.now(UTC)
    midday_three_days_ago = datetime.combine(now.date() - timedelta(days=3), time(12), tzinfo=UTC)
    insert_host_rows(
        dsn, vps.id, midday_three_days_ago, midday_three_days_ago + timedelta(minutes=5), "1 minute"
    )
    insert_host_rows(dsn, vps.id, now - timedelta(minutes=10), now, "1 minute")
    chunks = "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'host_metrics'"
    chunks_before = rows(dsn, chunks)[0][0]
    old_rows = "SELECT count(*) FROM {} WHERE vps_id = %s AND time < now() - interval '2 days'"

    with pytest.raises(psycopg.errors.CheckViolation):
        rows(
            dsn,
            "UPDATE retention_settings SET keep = '30 minutes' WHERE relation = 'host_metrics' RETURNING 1",
        )
    rows(dsn, "UPDATE retention_settings SET keep = '1 hour' WHERE relation = 'host_metrics' RETURNING 1")
    try:
        dropped = rows(dsn, "SELECT tw_apply_retention()")[0][0]
    finally:
        rows(dsn, "UPDATE retention_settings SET keep = '7 days' WHERE relation = 'host_metrics' RETURNING 1")
        rows(dsn, "SELECT tw_apply_retention()")  # the Community edition's policy follows back

    assert dropped == 1
    assert rows(dsn, chunks)[0][0] == chunks_before - 1
    assert rows(dsn, old_rows.format("host_metrics"), vps.id) == [(0,)]
    assert rows(dsn, "SELECT count(*) FROM host_metrics WHERE vps_id = %s", vps.id) == [(10,)]
    # Other relations keep their 7 days: the 3-day-old network rows stay.
    assert rows(dsn, old_rows.format("network_metrics"), vps.id) == [(10,)]


async def test_a_backlog_is_refreshed_in_slices_and_equals_a_direct_aggregate(
    own_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Four days never refreshed (a restored backup, say) go in day-sized slices, each logged."""
    dsn = own_dsn
    vps = create_vps(dsn)
    start = hour_start() - timedelta(days=4)
    insert_host_rows(dsn, vps.id, start, start + timedelta(days=4), "5 minutes")
    async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False) as backlog_pool:
        with caplog.at_level(logging.INFO, logger="tidewatch.collector.maintenance"):
            await refresh(backlog_pool)
    sliced = [
        r.getMessage() for r in caplog.records if "rollup host_metrics_1m: backlog slice" in r.getMessage()
    ]
    assert len(sliced) >= 3, sliced
    assert_rollups_match(dsn, vps.id)

"""A failing or stale TimescaleDB job shows: a collector metric and log line naming it,
and a "degraded" health naming it; once it is gone, both clear. Community edition only:
the Apache edition cannot run user-defined jobs (add_job is TSL)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from psycopg import AsyncConnection
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool

from api.app import create_app
from collector.maintenance import Maintenance
from common.settings import ApiSettings

pytestmark = [pytest.mark.db, pytest.mark.storage, pytest.mark.edition("timescale")]

PROBLEM_METRIC = "tidewatch_collector_timescaledb_job_problem"
# Seconds between runs of the test's stale job: stale after three of them.
STALE_JOB_INTERVAL_S = 2


async def maintenance_pass(dsn: str) -> Maintenance:
    async with AsyncConnectionPool[AsyncConnection[Any]](dsn, min_size=1, max_size=2, open=False) as pool:
        maintenance = Maintenance(pool, timedelta(minutes=15))
        assert await maintenance.run_once() is not None
    return maintenance


async def health(dsn: str) -> dict[str, Any]:
    async with AsyncTestClient(app=create_app(ApiSettings(), dsn)) as client:
        response = await client.get("/api/health")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_failing_job_is_reported_by_name(own_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    with psycopg.connect(own_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE PROCEDURE tw_test_always_fails(job_id int, config jsonb) LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'this job always fails'; END $$"
        )
        row = conn.execute(
            "SELECT add_job('tw_test_always_fails', '1 hour', initial_start => now())"
        ).fetchone()
        assert row is not None
        job_id = int(row[0])

        def failed() -> bool:
            status = conn.execute(
                "SELECT last_run_status FROM timescaledb_information.job_stats WHERE job_id = %s", (job_id,)
            ).fetchone()
            return status is not None and status[0] == "Failed"

        # TimescaleDB's scheduler runs it at once; generous for a busy machine.
        deadline = time.monotonic() + 120
        while not failed():
            assert time.monotonic() < deadline, "TimescaleDB's scheduler never ran the failing job"
            await asyncio.sleep(0.5)

    name = f"User-Defined Action [{job_id}]"
    with caplog.at_level(logging.WARNING, logger="tidewatch.collector.maintenance"):
        maintenance = await maintenance_pass(own_dsn)
    assert [p.job_id for p in maintenance.job_problems] == [job_id]
    assert REGISTRY.get_sample_value(PROBLEM_METRIC, {"job": name, "problem": "failing"}) == 1
    assert f"TimescaleDB job {name} (job {job_id}) is failing: 1 failures, never succeeded" in caplog.text

    body = await health(own_dsn)
    assert body["status"] == "degraded" and body["database"] == "ok"
    assert body["jobs"] == [f"{name} (job {job_id}) is failing: 1 failures, never succeeded"]

    with psycopg.connect(own_dsn, autocommit=True) as conn:
        conn.execute("SELECT delete_job(%s)", (job_id,))
    await maintenance_pass(own_dsn)
    assert REGISTRY.get_sample_value(PROBLEM_METRIC, {"job": name, "problem": "failing"}) is None
    body = await health(own_dsn)
    assert (body["status"], body["jobs"]) == ("ok", [])


async def test_a_stale_job_is_reported_by_name(own_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    """A scheduled job that succeeded once and then is never run again: stale after three
    of its intervals, once tidewatch.job_stale_minimum lowers the one-hour minimum."""
    with psycopg.connect(own_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE PROCEDURE tw_test_succeeds(job_id int, config jsonb) LANGUAGE plpgsql"
            " AS $$ BEGIN NULL; END $$"
        )
        row = conn.execute(
            "SELECT add_job('tw_test_succeeds', make_interval(secs => %s), initial_start => now())",
            (STALE_JOB_INTERVAL_S,),
        ).fetchone()
        assert row is not None
        job_id = int(row[0])

        def stats() -> tuple[str | None, str | None, bool, bool]:
            """last_run_status, job_status, next run a day away, stale by three intervals (plus a second)."""
            found = conn.execute(
                "SELECT last_run_status, job_status, next_start > now() + interval '12 hours',"
                " isfinite(last_successful_finish)"
                "   AND now() - last_successful_finish > make_interval(secs => 3 * %s + 1)"
                " FROM timescaledb_information.job_stats WHERE job_id = %s",
                (STALE_JOB_INTERVAL_S, job_id),
            ).fetchone()
            assert found is not None, "the job has no stats"
            return found[0], found[1], bool(found[2]), bool(found[3])

        # TimescaleDB's scheduler runs it at once; generous for a busy machine.
        deadline = time.monotonic() + 120
        while stats()[:2] != ("Success", "Scheduled"):
            assert time.monotonic() < deadline, "TimescaleDB's scheduler never ran the job to success"
            await asyncio.sleep(0.2)
        # Still scheduled, but its next run is a day away: its last success only ages.
        # A run that was already under way when this landed reschedules it on finishing:
        # push it back again until it holds.
        deadline = time.monotonic() + 120
        while True:
            status, _, far, stale = stats()
            assert status == "Success", f"the job's last run is {status}"
            if not far:
                conn.execute("SELECT alter_job(%s, next_start => now() + interval '1 day')", (job_id,))
            elif stale:
                break
            assert time.monotonic() < deadline, "the job never went three intervals without a success"
            await asyncio.sleep(0.5)

    name = f"User-Defined Action [{job_id}]"
    # The default minimum (one hour) keeps it from being stale yet.
    maintenance = await maintenance_pass(own_dsn)
    assert [p.job_id for p in maintenance.job_problems] == []
    assert REGISTRY.get_sample_value(PROBLEM_METRIC, {"job": name, "problem": "stale"}) is None

    shortened = make_conninfo(own_dsn, options="-c tidewatch.job_stale_minimum=1s")
    with caplog.at_level(logging.WARNING, logger="tidewatch.collector.maintenance"):
        maintenance = await maintenance_pass(shortened)
    assert [(p.job_id, p.problem) for p in maintenance.job_problems] == [(job_id, "stale")]
    assert REGISTRY.get_sample_value(PROBLEM_METRIC, {"job": name, "problem": "stale"}) == 1
    assert REGISTRY.get_sample_value(PROBLEM_METRIC, {"job": name, "problem": "failing"}) is None
    line = re.compile(rf"{re.escape(name)} \(job {job_id}\) is stale: 0 failures, last success (\d+) s ago")
    logged = re.search(rf"TimescaleDB job {line.pattern}", caplog.text)
    assert logged is not None, caplog.text
    assert int(logged[1]) >= 3 * STALE_JOB_INTERVAL_S

    # The API configures logging (caplog's handler goes): its checks come after the log's.
    assert (await health(own_dsn))["jobs"] == []
    body = await health(shortened)
    assert body["status"] == "degraded" and body["database"] == "ok"
    assert len(body["jobs"]) == 1 and line.fullmatch(body["jobs"][0]), body["jobs"]

    with psycopg.connect(own_dsn, autocommit=True) as conn:
        conn.execute("SELECT delete_job(%s)", (job_id,))
    await maintenance_pass(shortened)
    assert REGISTRY.get_sample_value(PROBLEM_METRIC, {"job": name, "problem": "stale"}) is None
    body = await health(shortened)
    assert (body["status"], body["jobs"]) == ("ok", [])


def test_the_worker_settings_fit_the_job_count(own_dsn: str) -> None:
    """compose.yaml and the local server give every job of a database a worker, with room to spare."""
    compose = yaml.safe_load((Path(__file__).resolve().parents[2] / "compose.yaml").read_text())
    args = compose["services"]["db"]["command"]
    settings = dict(a.split("=", 1) for a in args[1:] if "=" in a)
    with psycopg.connect(own_dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM timescaledb_information.jobs),"
            " current_setting('timescaledb.max_background_workers')::int,"
            " current_setting('max_worker_processes')::int"
        ).fetchone()
    assert row is not None
    jobs, local_workers, local_processes = row
    assert jobs == 37  # the comments in compose.yaml and scripts/local-db.sh count them
    for workers, processes in (
        (int(settings["timescaledb.max_background_workers"]), int(settings["max_worker_processes"])),
        (local_workers, local_processes),
    ):
        assert workers >= jobs + 1  # every job at once, plus the database's scheduler
        assert processes >= workers + 8  # the launcher and parallel query workers

"""A frozen database under load (every PostgreSQL process SIGSTOPped for 20 s),
and a COMMIT the server never answers.

A frozen server refuses nothing: connections stay open, TCP handshakes still
complete, nothing answers. The collector (a real ``tidewatch-collector``) must
notice through its client-side time limits, say so once, show it on /metrics,
ack nothing it did not commit, and lose nothing; a real ``tidewatch-api`` must
answer /api/health with a 503 problem within its 2 s budget, and log it as 503.
The database is a private cluster (tests/pg_control.py), never the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec
import psycopg
import pytest

from collector.app import CollectorApp
from proto import agent_pb2
from tests.conftest import collector_settings, create_vps, free_port
from tests.factories import now_ms, performance_batch
from tests.integration.test_collector_faults import (
    CollectorProcess,
    assert_exactly_generated,
    finish,
    start_agents,
)
from tests.pg_control import PrivatePostgres
from tests.processes import Service
from tests.stream_client import TestStream, handshake

pytestmark = [pytest.mark.slow, pytest.mark.db]

FREEZE_S = 20.0
# Short limits so the freeze is noticed early in it; the defaults are longer.
QUERY_LIMIT_S = 2.0
WRITE_LIMIT_S = 3.0
HEALTH_BUDGET_S = 2.0
# What an HTTP round trip to a local process may add to the budget on a busy 2-core machine.
HTTP_SLACK_S = 1.0


def http_get(url: str, timeout_s: float = 15.0) -> tuple[int, str, dict[str, str], float]:
    """Status, body, headers and seconds taken; HTTP errors are answers too."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status, body, headers = response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, body, headers = exc.code, exc.read().decode(), dict(exc.headers)
    return status, body, {k.lower(): v for k, v in headers.items()}, time.monotonic() - started


async def database_up(metrics_port: int) -> float:
    _, text, _, _ = await asyncio.to_thread(http_get, f"http://127.0.0.1:{metrics_port}/metrics", 5.0)
    line = next(x for x in text.splitlines() if x.startswith("tidewatch_collector_database_up "))
    return float(line.split()[-1])


async def wait_for_database_up(metrics_port: int, value: float, timeout_s: float) -> float:
    """Seconds until the collector's gauge reads ``value``; fails after ``timeout_s``."""
    started = time.monotonic()
    while (seen := await database_up(metrics_port)) != value:
        assert time.monotonic() - started < timeout_s, f"database_up still {seen} after {timeout_s} s"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def health(api_port: int) -> tuple[int, dict[str, object], float]:
    status, body, headers, took = await asyncio.to_thread(http_get, f"http://127.0.0.1:{api_port}/api/health")
    if status != 200:
        assert headers["content-type"].startswith("application/problem+json"), headers
    return status, msgspec.json.decode(body), took


async def test_frozen_database_is_noticed_and_loses_nothing(pg: PrivatePostgres, tmp_path: Path) -> None:
    metrics_port, api_port = free_port(), free_port()
    collector = CollectorProcess(
        pg.dsn,
        free_port(),
        tmp_path / "collector.log",
        env={
            "TIDEWATCH_COLLECTOR_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
            "TIDEWATCH_COLLECTOR_DB_QUERY_TIMEOUT_S": str(QUERY_LIMIT_S),
            "TIDEWATCH_COLLECTOR_DB_WRITE_TIMEOUT_S": str(WRITE_LIMIT_S),
            "TIDEWATCH_COLLECTOR_DB_CONNECT_TIMEOUT_S": "2",
        },
    )
    api = Service(
        "api",
        ["tidewatch-api"],
        {
            "TIDEWATCH_DSN": pg.dsn,
            "TIDEWATCH_API_LISTEN": f"127.0.0.1:{api_port}",
            "TIDEWATCH_API_HEALTH_TIMEOUT_S": str(HEALTH_BUDGET_S),
        },
        log_name=f"frozen-database-api-{secrets.token_hex(3)}",
    )
    agents = []
    try:
        await asyncio.to_thread(api.start, api_port, 60.0)
        collector.start()
        await collector.wait_listening()
        agents = start_agents(collector.port, [create_vps(pg.dsn) for _ in range(3)])
        for _ in range(200):  # 20 s
            if all(a.outcomes for a in agents):
                break
            await asyncio.sleep(0.1)
        assert all(a.outcomes for a in agents), [a.stream_failures for a in agents]
        assert (await health(api_port))[0] == 200
        assert await database_up(metrics_port) == 1

        during: list[tuple[int, dict[str, object], float]] = []
        with pg.frozen():
            frozen_at = time.monotonic()
            during.append(await health(api_port))  # hangs on the database at once
            # Noticed by the first write or query whose limit expires.
            noticed_s = await wait_for_database_up(metrics_port, 0, WRITE_LIMIT_S + 10)
            during.append(await health(api_port))  # the pool's connections are now broken or new
            acked_while_frozen = [len(a.outcomes) for a in agents]
            await asyncio.sleep(max(0.0, FREEZE_S - (time.monotonic() - frozen_at)))
            assert [len(a.outcomes) for a in agents] == acked_while_frozen, "acked while frozen"
        back_s = await wait_for_database_up(metrics_port, 1, 30)
        # The API's pool may still be reconnecting: those answers are 503 too, and logged.
        refused_after_thaw = 0
        for _ in range(60):  # 30 s
            status = (await health(api_port))[0]
            if status == 200:
                break
            refused_after_thaw += status == 503
            await asyncio.sleep(0.5)
        else:
            raise AssertionError("/api/health not 200 within 30 s of the thaw")
    finally:
        try:
            await finish(agents)
        finally:
            collector.terminate()
            api.stop()

    assert noticed_s < WRITE_LIMIT_S + 8, noticed_s
    for status, body, took in during:
        assert status == 503, body
        assert body["status"] == 503 and "database" in str(body["title"]).lower(), body
        assert "did not answer" in str(body["detail"]) or "no database connection" in str(body["detail"]), (
            body
        )
        assert took <= HEALTH_BUDGET_S + HTTP_SLACK_S, f"health took {took:.2f} s while frozen"
    assert back_s < 30

    log = collector.log()
    unresponsive = re.findall(r"database unresponsive for (\d+) s", log)
    # For as long as the first work to give up had waited: a query's or a write's limit.
    assert len(unresponsive) == 1 and QUERY_LIMIT_S <= float(unresponsive[0]) <= WRITE_LIMIT_S + 1, log
    assert "database unavailable" not in log, log
    back = re.findall(r"database back after (\d+) s", log)
    assert len(back) == 1 and FREEZE_S - WRITE_LIMIT_S - 2 <= float(back[0]) <= FREEZE_S + 30, log
    # Each 503 answered in time is also logged as 503, not later as 200.
    api_log = api.log_path.read_text(errors="replace")
    logged_503 = re.findall(r'"GET /api/health HTTP/1\.1" 503', api_log)
    assert len(logged_503) == len(during) + refused_after_thaw, api_log

    assert_exactly_generated(pg.dsn, agents)


@contextlib.contextmanager
def commits_unanswered(pg: PrivatePostgres) -> Iterator[None]:
    """Every COMMIT waits for a synchronous standby that does not exist: committed on
    the server, but never answered, so the client cannot know the outcome."""
    with psycopg.connect(pg.admin_dsn, autocommit=True) as admin:
        admin.execute("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
        admin.execute("SELECT pg_reload_conf()")
        try:
            yield
        finally:
            admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
            admin.execute("SELECT pg_reload_conf()")


async def test_a_commit_left_unanswered_is_never_acked_and_is_stored_once(pg: PrivatePostgres) -> None:
    vps = create_vps(pg.dsn)
    app = CollectorApp(collector_settings(db_write_timeout_s=1.5, db_query_timeout_s=1.5), pg.dsn)
    await app.start()
    stream = TestStream(f"127.0.0.1:{app.port}", vps.token)
    try:
        await stream.send(handshake())
        await stream.next("server_handshake_ack")
        t0 = now_ms() - 10_000
        with commits_unanswered(pg):
            await stream.send(
                agent_pb2.MessageToServer(performance_batch=performance_batch(1, [t0, t0 + 1000]))
            )
            with pytest.raises(TimeoutError):
                await stream.next("batch_ack", within_s=3 * 1.5)
            assert not app.db.health.up
            with psycopg.connect(pg.admin_dsn) as admin:
                waiting = admin.execute(
                    "SELECT count(DISTINCT a.pid) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid"
                    " WHERE a.wait_event = 'SyncRep' AND l.relation = 'ingested_batches'::regclass"
                ).fetchone()
            assert waiting is not None and waiting[0] >= 1, "the ingest's COMMIT was not the one left waiting"
        ack = (await stream.next("batch_ack", within_s=20)).batch_ack
    finally:
        await stream.close()
        await app.stop(2.0)
    # The first COMMIT did take effect: the replay is recognised, and nothing is written twice.
    assert (ack.sequence, ack.outcome) == (1, agent_pb2.BatchAck.OUTCOME_DUPLICATE)
    assert app.db.health.up
    with psycopg.connect(pg.dsn) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM host_metrics WHERE vps_id = %(v)s),"
            " (SELECT count(*) FROM ingested_batches WHERE vps_id = %(v)s)",
            {"v": vps.id},
        ).fetchone()
    assert counts == (2, 1)

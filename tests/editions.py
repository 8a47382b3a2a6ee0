"""Storage tests on both TimescaleDB editions: the Community server, and one dataset
with outages, ingested through a real collector and refreshed by its maintenance."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from collector.app import CollectorApp
from collector.maintenance import Maintenance
from proto import agent_pb2
from tests.conftest import collector_settings
from tests.factories import docker_batch, performance_batch
from tests.prerequisites import missing
from tests.stream_client import TestStream, handshake

TIMESCALE_DSN_FILE = (
    Path(os.environ.get("TIDEWATCH_STATE", "/var/lib/tidewatch-dev")) / "local-db-timescale.dsn"
)
LATE_WINDOW = timedelta(minutes=15)


def timescale_server_dsn() -> str:
    """The Community-edition server (scripts/local-db.sh --edition timescale).

    Missing: a failure in CI, else a skip that says how to get one."""
    given = os.environ.get("TIDEWATCH_TIMESCALE_DSN", "").strip()
    if given:
        return given
    if TIMESCALE_DSN_FILE.is_file():
        return TIMESCALE_DSN_FILE.read_text().strip()
    message = (
        "no Community-edition server: run scripts/local-db.sh --edition timescale "
        "(needs ../shared/vendor/timescaledb-2.19.3.tar.gz) or set TIDEWATCH_TIMESCALE_DSN"
    )
    missing(message)


@dataclass(frozen=True)
class Outages:
    """Sample times: on time, replayed after a 4-hour outage, and after a 3-day one."""

    anchor: datetime

    @property
    def on_time(self) -> list[datetime]:
        return [self.anchor - timedelta(seconds=10 * i) for i in range(30, 0, -1)]

    @property
    def four_hours_late(self) -> list[datetime]:
        start = self.anchor - timedelta(hours=4, minutes=20)
        return [start + timedelta(seconds=20 * i) for i in range(45)]

    @property
    def three_days_late(self) -> list[datetime]:
        start = self.anchor - timedelta(days=3, minutes=50)
        return [start + timedelta(seconds=20 * i) for i in range(45)]


def outages_now() -> Outages:
    return Outages(datetime.now(UTC).replace(second=0, microsecond=0))


async def refresh(dsn: str) -> dict[str, int]:
    """One maintenance pass, as the collector runs it, waiting out another runner."""
    async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False) as pool:
        maintenance = Maintenance(pool, LATE_WINDOW)
        for _ in range(200):
            if (written := await maintenance.run_once()) is not None:
                return written
            await asyncio.sleep(0.1)
    raise AssertionError("maintenance lock never became free")


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


async def _send(stream: TestStream, step: int, times: list[datetime]) -> None:
    performance = performance_batch(2 * step - 1, [_ms(t) for t in times])
    docker = docker_batch(2 * step, _ms(times[-1]), containers=3)
    await stream.send(agent_pb2.MessageToServer(performance_batch=performance))
    await stream.send(agent_pb2.MessageToServer(docker_batch=docker))
    acks = await stream.acks(2)
    assert all(a.outcome == agent_pb2.BatchAck.OUTCOME_STORED for a in acks.values()), acks


async def ingest_with_outages(dsn: str, token: str, outages: Outages) -> None:
    """On-time data and a maintenance pass, then the agent's replay of both outages
    (its spool, oldest batch last as a late reconnect may deliver it) and another pass."""
    app = CollectorApp(collector_settings(rollup_late_window_s=LATE_WINDOW.total_seconds()), dsn)
    await app.start()
    try:
        stream = TestStream(f"127.0.0.1:{app.port}", token)
        await stream.send(handshake(1))
        assert (await stream.next("server_handshake_ack")).server_handshake_ack.authenticated
        await _send(stream, 1, outages.on_time)
        await refresh(dsn)
        await _send(stream, 2, outages.four_hours_late)
        await _send(stream, 3, outages.three_days_late)
        await stream.close()
    finally:
        await app.stop(2.0)
    await refresh(dsn)


def rollup_rows(dsn: str, rollup: str, vps_id: int) -> list[dict[str, Any]]:
    """Every row of ``rollup`` for the VPS, without its id, in a stable order."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        row = conn.execute(
            "SELECT group_columns FROM rollup_definitions WHERE name = %s", (rollup,)
        ).fetchone()
        assert row is not None
        keys = [c.strip() for c in row["group_columns"].split(",") if c.strip() and c.strip() != "vps_id"]
        order = sql.SQL(", ").join(sql.Identifier(c) for c in ["bucket", *keys])
        found = conn.execute(
            sql.SQL("SELECT * FROM {} WHERE vps_id = %s ORDER BY {}").format(sql.Identifier(rollup), order),
            (vps_id,),
        ).fetchall()
    return [{k: v for k, v in r.items() if k != "vps_id"} for r in found]


def rollup_names(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM rollup_definitions ORDER BY bucket_width, name")]

"""The collector's multi-row ``vps`` updates lock in id order, and the fleet-wide
offline sweep skips rows another transaction holds (collector.vps_locks): two
transactions holding rows the other wants in another order would deadlock. The
sweep also ends the commands in flight on the VPSes it marks offline."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from collector.agent_clock import AgentClock, RejectionTally, record_agent_health
from collector.app import CollectorApp
from common.api_models.commands import COMMAND_UPDATES_CHANNEL
from tests.conftest import create_vps
from tests.integration.test_collector_sessions import insert_command, query, wait_until

pytestmark = pytest.mark.db

LIMIT_S = 15.0


async def _blocked_on(dsn: str, pid: int, holder_pid: int) -> None:
    """Until backend ``pid`` waits on a lock ``holder_pid`` holds (no event says so: poll)."""
    await wait_until(
        lambda: bool(query(dsn, "SELECT %s = ANY(pg_blocking_pids(%s))", holder_pid, pid)[0][0]),
        LIMIT_S,
        "the writer to wait on the held row",
    )


def _free_now(dsn: str, vps_id: int) -> bool:
    """Whether no other transaction holds ``vps_id``'s row (it is taken and let go at once)."""
    with psycopg.connect(dsn) as probe:
        try:
            probe.execute("SELECT 1 FROM vps WHERE id = %s FOR NO KEY UPDATE NOWAIT", (vps_id,))
        except psycopg.errors.LockNotAvailable:
            return False
        return True


async def test_agent_health_waits_for_the_lowest_id_before_locking_any_higher(db_dsn: str) -> None:
    low, high = create_vps(db_dsn), create_vps(db_dsn)
    assert low.id < high.id
    # As in a live fleet, rows are updated all the time: the lower id's newest version
    # now sits after the higher one's in the table, so a plan's scan order is not id order.
    query(db_dsn, "UPDATE vps SET last_seen = now() WHERE id = %s RETURNING id", low.id)
    # Handed over highest first: the order the dicts happen to have must not matter.
    clocks = {high.id: AgentClock(offset_ms=5, rtt_ms=2), low.id: AgentClock(offset_ms=7, rtt_ms=3)}
    rejections = {high.id: RejectionTally(1, "x"), low.id: RejectionTally(2, "y")}
    with psycopg.connect(db_dsn) as holder:
        holder.execute("SELECT 1 FROM vps WHERE id = %s FOR NO KEY UPDATE", (low.id,))
        holder_pid = holder.info.backend_pid
        async with await psycopg.AsyncConnection.connect(db_dsn) as writer:
            writing = asyncio.create_task(record_agent_health(writer, clocks, rejections))
            try:
                await _blocked_on(db_dsn, writer.info.backend_pid, holder_pid)
                high_was_free = _free_now(db_dsn, high.id)
            finally:
                holder.rollback()
            async with asyncio.timeout(LIMIT_S):
                await writing
            await writer.commit()
    assert high_was_free, "the higher id was locked before the lower one it waits for"
    rows = query(
        db_dsn,
        "SELECT id, clock_offset_ms, rejected_batches_total FROM vps WHERE id = ANY(%s) ORDER BY id",
        [low.id, high.id],
    )
    assert rows == [(low.id, 7, 2), (high.id, 5, 1)]


async def test_the_offline_sweep_skips_a_row_another_transaction_holds(
    collector: CollectorApp, db_dsn: str
) -> None:
    app = collector
    held, free = create_vps(db_dsn), create_vps(db_dsn)
    query(
        db_dsn,
        "UPDATE vps SET online = true, last_seen = now() - interval '1 day' WHERE id = ANY(%s) RETURNING id",
        [held.id, free.id],
    )
    with psycopg.connect(db_dsn) as holder:
        holder.execute("SELECT 1 FROM vps WHERE id = %s FOR NO KEY UPDATE", (held.id,))
        async with asyncio.timeout(LIMIT_S):
            await app.registry.housekeeping_once()
        online = query(
            db_dsn, "SELECT id, online FROM vps WHERE id = ANY(%s) ORDER BY id", [held.id, free.id]
        )
        assert online == [(held.id, True), (free.id, False)]
    # Let go: the next sweep takes it.
    async with asyncio.timeout(LIMIT_S):
        await app.registry.housekeeping_once()
    assert query(db_dsn, "SELECT online FROM vps WHERE id = %s", held.id) == [(False,)]


async def test_the_offline_sweep_fails_the_commands_in_flight_and_announces_each(
    collector: CollectorApp, db_dsn: str
) -> None:
    vps = create_vps(db_dsn)
    command_id = insert_command(db_dsn, vps.id, "sleep 60")
    query(
        db_dsn,
        "UPDATE commands SET status = 'dispatched', dispatched_stream = 'gone' WHERE id = %s RETURNING id",
        command_id,
    )
    async with await psycopg.AsyncConnection.connect(db_dsn, autocommit=True) as listener:
        # Listening before the VPS goes stale: the collector's own housekeeping may sweep first.
        await listener.execute(f"LISTEN {COMMAND_UPDATES_CHANNEL}")
        query(
            db_dsn,
            "UPDATE vps SET online = true, last_seen = now() - interval '1 day' WHERE id = %s RETURNING id",
            vps.id,
        )
        async with asyncio.timeout(LIMIT_S):
            await collector.registry.housekeeping_once()
            async for notify in listener.notifies():
                assert notify.payload == command_id
                break
    assert query(db_dsn, "SELECT status, error_message FROM commands WHERE id = %s", command_id) == [
        ("failed", "agent disconnected")
    ]

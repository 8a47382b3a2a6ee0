"""Cached container state: the same answers as the database's, no SQL when nothing changed."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any, cast

import pytest
from psycopg import AsyncCursor

from collector.containers import (
    LAST_SEEN_REFRESH,
    ContainerCache,
    ContainerWrite,
    StoredContainer,
    _signature,
    _stored_from_row,
    diff_containers,
    write_containers,
)
from collector.rows import ContainerState
from tests.unit.test_container_diff import NOW
from tests.unit.test_container_diff import state as diff_state

FIVE_S = timedelta(seconds=5)
# Keys whose sorted order differs from jsonb's (shorter keys first), and a non-ASCII value.
LABELS_JSON = json.dumps({"aa": "1", "b": "ü"}, sort_keys=True, ensure_ascii=False)


def state(container_id: str = "c1", **changes: object) -> ContainerState:
    return diff_state(container_id, **{"labels_json": LABELS_JSON, **changes})


def database_row(vps_id: int, c: ContainerState, last_seen: datetime) -> tuple[Any, ...]:
    """The row ``_load_stored`` reads back after ``c`` was written, as PostgreSQL returns it."""
    berlin = timezone(timedelta(hours=2))  # a session time zone other than UTC
    return (
        vps_id,
        c.container_id,
        c.state,
        c.status,
        c.restart_count,
        c.oom_killed,
        c.name,
        c.image,
        c.exit_code,
        '{"b": "ü", "aa": "1"}',  # jsonb's key order: shorter keys first
        list(c.ports),
        c.started_at.astimezone(berlin) if c.started_at else None,
        c.finished_at,
        last_seen.astimezone(berlin),
        False,
    )


class RecordingCursor:
    """Stands in for the transaction's cursor: records statements, holds the stored rows."""

    def __init__(self, rows: list[tuple[Any, ...]] | None = None) -> None:
        self.rows = rows or []
        self.statements: list[str] = []

    async def execute(self, sql: str, params: Any = None) -> None:
        self.statements.append(sql.split(" ", 1)[0])

    async def executemany(self, sql: str, params: Any) -> None:
        self.statements.append(sql.split(" ", 1)[0])

    async def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


def as_cursor(cur: RecordingCursor) -> AsyncCursor[Any]:
    return cast(AsyncCursor[Any], cur)


def test_a_state_read_from_the_database_equals_the_one_written() -> None:
    c = state()
    vps_id, cid, stored = _stored_from_row(database_row(7, c, NOW - FIVE_S))
    assert (vps_id, cid) == (7, "c1")
    assert diff_containers({cid: stored}, [c], NOW) == ([], [], [])
    assert stored == StoredContainer(c.state, c.status, 0, False, _signature(c), NOW - FIVE_S, False)


async def test_unchanged_samples_of_a_cached_vps_issue_no_sql() -> None:
    containers = [state("c1"), state("c2")]
    first = RecordingCursor()
    written = await write_containers(as_cursor(first), [(7, NOW, containers)])
    assert first.statements == ["SELECT", "INSERT", "INSERT"]  # load, upsert, events
    assert written.events == 4 and written.loaded == {7}

    again = RecordingCursor()
    later = await write_containers(as_cursor(again), [(7, NOW + FIVE_S, containers)], written.states)
    assert again.statements == []
    assert later == ContainerWrite(0, written.states, frozenset())

    # The same state read back from the database gives the same (empty) answer.
    rows = [database_row(7, c, NOW) for c in containers]
    reloaded = RecordingCursor(rows)
    from_db = await write_containers(as_cursor(reloaded), [(7, NOW + FIVE_S, containers)])
    assert reloaded.statements == ["SELECT"]
    assert from_db.states == written.states


async def test_a_change_in_a_cached_vps_is_written_and_the_cache_is_not_touched() -> None:
    containers = [state("c1"), state("c2")]
    written = await write_containers(as_cursor(RecordingCursor()), [(7, NOW, containers)])
    before = {vps_id: dict(c) for vps_id, c in written.states.items()}
    died = state("c1", state="exited", status="Exited (1)", exit_code=1)

    cur = RecordingCursor()
    after = await write_containers(as_cursor(cur), [(7, NOW + FIVE_S, [died])], written.states)
    assert cur.statements == ["INSERT", "UPDATE", "INSERT"]  # upsert c1, remove c2, events
    assert after.events == 2
    assert after.states[7]["c1"].state == "exited" and after.states[7]["c2"].removed
    assert written.states == before, "the cached state changed before the commit"


async def test_last_seen_is_still_refreshed_for_a_cached_vps() -> None:
    c = state()
    written = await write_containers(as_cursor(RecordingCursor()), [(7, NOW, [c])])
    cur = RecordingCursor()
    refreshed = await write_containers(as_cursor(cur), [(7, NOW + LAST_SEEN_REFRESH, [c])], written.states)
    assert cur.statements == ["INSERT"] and refreshed.events == 0
    assert refreshed.states[7]["c1"].last_seen == NOW + LAST_SEEN_REFRESH


async def test_only_uncached_vpses_are_loaded() -> None:
    c = state()
    cached = (await write_containers(as_cursor(RecordingCursor()), [(7, NOW, [c])])).states
    cur = RecordingCursor()
    written = await write_containers(as_cursor(cur), [(7, NOW + FIVE_S, [c]), (8, NOW + FIVE_S, [c])], cached)
    assert written.loaded == {8} and cur.statements[0] == "SELECT"
    assert set(written.states) == {7, 8}


def write(vps_id: int, seen_at: datetime = NOW) -> ContainerWrite:
    stored = StoredContainer("running", "Up", 0, False, (), seen_at, False)
    return ContainerWrite(0, {vps_id: {"c1": stored}}, frozenset({vps_id}))


async def test_the_cache_keeps_what_committed_and_forgets_what_failed() -> None:
    cache = ContainerCache()
    async with cache.claim([7]) as claim:
        assert claim.cached == {}
        claim.written = write(7)
    async with cache.claim([7]) as claim:
        assert claim.cached == write(7).states

    with pytest.raises(RuntimeError):
        async with cache.claim([7, 8]) as claim:
            claim.written = write(8)
            raise RuntimeError("the commit failed")
    async with cache.claim([7, 8]) as claim:
        assert claim.cached == {}, "a VPS of a failed transaction was kept"
    assert len(cache) == 0


async def test_cached_state_expires_after_the_refresh_interval() -> None:
    clock = [100.0]
    cache = ContainerCache(max_age_s=60, clock=lambda: clock[0])
    async with cache.claim([7]) as claim:
        claim.written = write(7)
    clock[0] = 159.0
    async with cache.claim([7]) as claim:
        assert 7 in claim.cached
        claim.written = ContainerWrite(0, write(7).states, frozenset())  # from the cache: age kept
    clock[0] = 160.0
    async with cache.claim([7]) as claim:
        assert claim.cached == {}, "trusted for longer than max_age_s since it was read"


async def test_a_claimed_vps_waits_for_the_other_transaction_and_sees_its_state() -> None:
    cache = ContainerCache()
    order: list[str] = []
    committing = asyncio.Event()

    async def first() -> None:
        async with cache.claim([7, 8]) as claim:
            order.append("first claimed")
            await committing.wait()
            claim.written = write(7)
        order.append("first committed")

    async def second() -> None:
        async with cache.claim([7]) as claim:
            order.append("second claimed")
            assert 7 in claim.cached

    async def disjoint() -> None:
        async with cache.claim([9]):
            order.append("disjoint claimed")

    tasks = [asyncio.create_task(first())]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(second()), asyncio.create_task(disjoint())]
    await asyncio.sleep(0.01)
    assert order == ["first claimed", "disjoint claimed"]
    committing.set()
    await asyncio.gather(*tasks)
    assert order == ["first claimed", "disjoint claimed", "first committed", "second claimed"]


async def test_a_cancelled_transaction_releases_its_claim() -> None:
    cache = ContainerCache()
    holding = asyncio.Event()

    async def stuck() -> None:
        async with cache.claim([7]):
            holding.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await holding.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(10), cache.claim([7]) as claim:  # not stuck; generous for a busy machine
        assert claim.cached == {}

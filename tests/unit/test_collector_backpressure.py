"""Overload: room is awaited before conversion, and handshakes queue below the pool size."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, cast

import grpc
import pytest

from collector import service
from collector.agent_session import AgentSession
from collector.auth import AgentAuthenticator, AuthFailure
from collector.commands import CommandRelay
from collector.database import Database
from collector.ingest import IngestWriter, QueueFull
from collector.rows import TimeRules, convert_batch
from collector.service import AgentStreamService, _StreamError, new_handshake_slots
from collector.sessions import SessionRegistry
from proto import agent_pb2
from tests.conftest import collector_settings
from tests.factories import now_ms, performance_batch


def rules() -> TimeRules:
    """Time rules as of now: taken per call, since a time taken at import goes stale on a slow run."""
    return TimeRules(now_ms=now_ms(), max_future_ms=300_000, max_age_ms=86_400_000)


def writer(queue_max_rows: int) -> IngestWriter:
    """A writer that is never started: what is queued stays queued."""
    return IngestWriter(
        cast(Any, None),
        flush_max_rows=1000,
        flush_interval_ms=50,
        queue_max_rows=queue_max_rows,
        late_window=timedelta(seconds=180),
    )


def ten_rows(sequence: int) -> Any:
    """A performance batch of one snapshot: 1 host, 4 disk, 2 disk I/O and 3 network rows."""
    return performance_batch(sequence, [now_ms() - 1000])


def twenty_rows(sequence: int) -> Any:
    return performance_batch(sequence, [now_ms() - 2000, now_ms() - 1000])


def service_with(writer: Any, **settings: Any) -> AgentStreamService:
    return AgentStreamService(
        collector_settings(**settings),
        cast(AgentAuthenticator, None),
        cast(SessionRegistry, None),
        writer,
        cast(CommandRelay, None),
        raw_retention_s=86_400,
    )


def session() -> AgentSession:
    return AgentSession(vps_id=1, epoch=1, local_features=agent_pb2.FeatureSwitches())


async def test_wait_for_room_returns_below_the_cap_and_refuses_at_it() -> None:
    w = writer(queue_max_rows=15)
    await w.wait_for_room(0.0)  # empty: no wait, even with no time to wait
    await w.submit(1, 1, convert_batch("performance_batch", twenty_rows(1), 1, rules()), 0.0)  # alone
    started = time.monotonic()
    with pytest.raises(QueueFull, match=r"^ingest queue full \(20 rows waiting for the database\)$"):
        await w.wait_for_room(0.2)
    assert 0.15 < time.monotonic() - started < 1.0
    waiting = asyncio.create_task(w.wait_for_room(5.0))
    await asyncio.sleep(0.01)
    w._release(await w._take())  # a flush commits everything queued
    await asyncio.wait_for(waiting, 10.0)
    await w.submit(1, 1, convert_batch("performance_batch", ten_rows(2), 1, rules()), 0.0)
    await w.wait_for_room(0.0)  # 10 of 15: room, though another 10 rows would not fit


async def test_wait_for_room_refuses_while_shutting_down() -> None:
    w = writer(queue_max_rows=15)
    await w.close(0.1)
    with pytest.raises(QueueFull, match=r"^collector is shutting down$"):
        await w.wait_for_room(1.0)


async def test_a_full_queue_refuses_the_stream_before_converting(monkeypatch: pytest.MonkeyPatch) -> None:
    w = writer(queue_max_rows=15)
    await w.submit(
        1,
        1,
        convert_batch(
            "performance_batch", performance_batch(1, [now_ms() - 2000, now_ms() - 1000]), 1, rules()
        ),
        1,
    )
    converted: list[Any] = []
    monkeypatch.setattr(service, "convert_batch", lambda *args: converted.append(args))
    with pytest.raises(_StreamError) as refused:
        await service_with(w, queue_wait_s=0.05)._accept_batch(session(), "performance_batch", ten_rows(2))
    assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused.value.detail == (
        "ingest queue full (20 rows waiting for the database); keep the batch and retry later"
    )
    assert converted == []


async def test_room_and_submit_share_one_queue_wait() -> None:
    w = writer(queue_max_rows=15)
    await w.submit(1, 1, convert_batch("performance_batch", ten_rows(1), 1, rules()), 1.0)
    started = time.monotonic()
    # Below the cap (10 of 15), but 10 more rows do not fit: the refusal comes after one wait
    # (1 s), not two (2 s); the gap leaves room for a busy machine's scheduling delays.
    with pytest.raises(_StreamError, match="ingest queue full"):
        await service_with(w, queue_wait_s=1.0)._accept_batch(session(), "performance_batch", ten_rows(2))
    assert 0.95 < time.monotonic() - started < 1.9


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode) -> None:
        self.code = code


class Context:
    def __init__(self, peer: str = "ipv4:127.0.0.1:1") -> None:
        self._peer = peer

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", "Bearer twa_x.y"),)

    def peer(self) -> str:
        return self._peer

    async def abort(self, code: grpc.StatusCode, detail: str) -> None:
        raise Aborted(code)


class _NoRows:
    async def fetchall(self) -> list[Any]:
        return []


class _Connection:
    async def execute(self, *_: Any) -> _NoRows:
        return _NoRows()


class CountingDatabase:
    """Counts the pool connections held at once; no VPS row matches any token."""

    def __init__(self) -> None:
        self.taken = 0
        self.active = 0
        self.peak = 0

    @contextlib.asynccontextmanager
    async def connection(self, what: str, limit_s: float | None = None) -> AsyncIterator[_Connection]:
        self.taken += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(0.01)  # a round trip
            yield _Connection()
        finally:
            self.active -= 1


async def test_handshake_lookups_share_the_registrations_slots_below_the_pool_size() -> None:
    slots = new_handshake_slots(collector_settings(pool_max_size=5))  # 3: two stay for the flushers
    db = CountingDatabase()
    auth = AgentAuthenticator(cast(Database, db), slots)
    # Registrations of a storm hold every slot: no lookup may take a pool connection meanwhile.
    for _ in range(3):
        await slots.acquire()
    storm = [asyncio.create_task(auth.authenticate(f"Bearer twa_{i:016d}.{'s' * 43}")) for i in range(20)]
    await asyncio.sleep(0.05)
    assert db.taken == 0 and not any(task.done() for task in storm)
    slots.release()  # one registration ends
    results = await asyncio.wait_for(asyncio.gather(*storm, return_exceptions=True), 10.0)
    assert all(isinstance(r, AuthFailure) and "unknown agent token" in str(r) for r in results)
    assert db.peak == 1  # the one free slot; the lookups of the storm share it
    assert db.taken < len(storm)

"""Container metadata upserts and state-change events from Docker batches.

``diff_containers`` is pure: it compares what is stored with what the agent
saw and yields the events (started, stopped, died with exit code, OOM,
restarted, removed) and the rows that need writing. ``write_containers`` runs
the SQL inside the ingest transaction.

``ContainerCache`` keeps the committed state per VPS, so a Docker sample in
which nothing changed costs no SQL at all: no ``SELECT ... FOR UPDATE``, no
upsert. Its entries are replaced only after a commit, and trusted for at most
``LAST_SEEN_REFRESH`` after they were read from the database.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncCursor

from collector.rows import ContainerState

__all__ = [
    "ContainerCache",
    "ContainerEvent",
    "ContainerWrite",
    "StoredContainer",
    "diff_containers",
    "write_containers",
]

# Refresh last_seen at least this often even when nothing else changed.
LAST_SEEN_REFRESH = timedelta(seconds=60)

# name, image, restart count, exit code, OOM, labels JSON, ports, started, finished
Signature = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class StoredContainer:
    state: str
    status: str
    restart_count: int
    oom_killed: bool
    signature: Signature
    last_seen: datetime
    removed: bool


StoredByVps = dict[int, dict[str, StoredContainer]]


@dataclass(frozen=True, slots=True)
class ContainerEvent:
    container_id: str
    event: str
    exit_code: int | None = None
    detail: str = ""


def _signature(c: ContainerState) -> Signature:
    """What, besides state and status, makes a stored row stale."""
    return (
        c.name,
        c.image,
        c.restart_count,
        c.exit_code,
        c.oom_killed,
        c.labels_json,
        tuple(c.ports),
        c.started_at,
        c.finished_at,
    )


def diff_containers(
    stored: dict[str, StoredContainer], seen: list[ContainerState], seen_at: datetime
) -> tuple[list[ContainerEvent], list[ContainerState], list[str]]:
    """Events, containers to upsert, and ids now gone, for one Docker sample."""
    events: list[ContainerEvent] = []
    upserts: list[ContainerState] = []
    for c in seen:
        before = stored.get(c.container_id)
        if before is None or before.removed:
            events.append(ContainerEvent(c.container_id, "appeared", detail=c.state))
            if c.state == "running":
                events.append(ContainerEvent(c.container_id, "started"))
            upserts.append(c)
            continue
        was_running = before.state in ("running", "restarting", "paused")
        if c.state == "running" and before.state != "running":
            events.append(ContainerEvent(c.container_id, "started"))
        elif was_running and c.state in ("exited", "dead"):
            if c.oom_killed:
                events.append(ContainerEvent(c.container_id, "oom", c.exit_code, "killed: out of memory"))
            elif c.exit_code:
                events.append(ContainerEvent(c.container_id, "died", c.exit_code))
            else:
                events.append(ContainerEvent(c.container_id, "stopped", c.exit_code))
        if c.restart_count > before.restart_count:
            events.append(
                ContainerEvent(c.container_id, "restarted", detail=f"restart count {c.restart_count}")
            )
        elif c.state == "running" and before.state == "running" and c.started_at != before.signature[7]:
            # Restarted between two samples (docker restart): still running, started anew.
            events.append(ContainerEvent(c.container_id, "restarted", detail="started again"))
        changed = (
            c.state != before.state
            or c.status != before.status
            or _signature(c) != before.signature
            or seen_at - before.last_seen >= LAST_SEEN_REFRESH
        )
        if changed:
            upserts.append(c)
    seen_ids = {c.container_id for c in seen}
    gone = [cid for cid, s in stored.items() if not s.removed and cid not in seen_ids]
    events.extend(ContainerEvent(cid, "removed") for cid in gone)
    return events, upserts, gone


def _stored_from_row(row: tuple[Any, ...]) -> tuple[int, str, StoredContainer]:
    """(vps_id, container_id, state) from a row of ``_load_stored``'s query."""
    (
        vps_id,
        cid,
        state,
        status,
        restarts,
        oom,
        name,
        image,
        exit_code,
        labels,
        ports,
        started,
        finished,
        last_seen,
        removed,
    ) = row
    # jsonb prints keys in its own order: encode as the converter does.
    labels_json = json.dumps(json.loads(labels), sort_keys=True, ensure_ascii=False)
    signature = (name, image, restarts, exit_code, oom, labels_json, tuple(ports), started, finished)
    return vps_id, cid, StoredContainer(state, status, restarts, oom, signature, last_seen, removed)


async def _load_stored(cur: AsyncCursor[Any], vps_ids: list[int]) -> StoredByVps:
    # Locked in key order, so two flushers (or collectors) cannot deadlock on each other.
    await cur.execute(
        "SELECT vps_id, container_id, state, status, restart_count, oom_killed, name, image, exit_code,"
        " labels::text, ports, started_at, finished_at, last_seen, removed_at IS NOT NULL"
        " FROM containers WHERE vps_id = ANY(%s) ORDER BY vps_id, container_id FOR UPDATE",
        (vps_ids,),
    )
    out: StoredByVps = {vps_id: {} for vps_id in vps_ids}
    for row in await cur.fetchall():
        vps_id, cid, stored = _stored_from_row(row)
        out[vps_id][cid] = stored
    return out


@dataclass(frozen=True, slots=True)
class ContainerWrite:
    """What one transaction wrote: the event count, and the state of every VPS it touched."""

    events: int = 0
    states: StoredByVps = field(default_factory=dict)
    loaded: frozenset[int] = frozenset()  # VPSes whose state was read from the database


async def write_containers(
    cur: AsyncCursor[Any],
    samples: list[tuple[int, datetime, list[ContainerState]]],
    cached: Mapping[int, Mapping[str, StoredContainer]] | None = None,
) -> ContainerWrite:
    """Apply Docker samples (vps_id, time, containers) in time order.

    VPSes in ``cached`` (their committed state) are not read from the database;
    the others are, locked. Nothing is written for containers that did not
    change and are not due a ``last_seen`` refresh.
    """
    if not samples:
        return ContainerWrite()
    cached = cached or {}
    vps_ids = {vps_id for vps_id, _, _ in samples}
    missing = sorted(vps_ids - cached.keys())
    stored_by_vps = await _load_stored(cur, missing) if missing else {}
    for vps_id in vps_ids - stored_by_vps.keys():
        stored_by_vps[vps_id] = dict(cached[vps_id])  # a copy: the cache changes only after commit
    upsert_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    removed_rows: list[tuple[Any, ...]] = []
    for vps_id, seen_at, seen in sorted(samples, key=lambda s: s[1]):
        stored = stored_by_vps[vps_id]
        if stored and max(s.last_seen for s in stored.values()) > seen_at:
            continue  # an older sample replayed after a newer one: metrics only
        events, upserts, gone = diff_containers(stored, seen, seen_at)
        event_rows.extend((seen_at, vps_id, e.container_id, e.event, e.exit_code, e.detail) for e in events)
        for c in upserts:
            upsert_rows.append(
                (
                    vps_id,
                    c.container_id,
                    c.name,
                    c.image,
                    c.state,
                    c.status,
                    c.created_at,
                    c.started_at,
                    c.finished_at,
                    c.restart_count,
                    c.exit_code,
                    c.oom_killed,
                    c.labels_json,
                    json.dumps(c.ports),
                    seen_at,
                )
            )
            stored[c.container_id] = StoredContainer(
                c.state, c.status, c.restart_count, c.oom_killed, _signature(c), seen_at, False
            )
        for cid in gone:
            removed_rows.append((seen_at, vps_id, cid))
            old = stored[cid]
            stored[cid] = StoredContainer(
                old.state, old.status, old.restart_count, old.oom_killed, old.signature, seen_at, True
            )
    if upsert_rows:
        await cur.executemany(
            "INSERT INTO containers (vps_id, container_id, name, image, state, status, created_at,"
            " started_at, finished_at, restart_count, exit_code, oom_killed, labels, ports, last_seen)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb,"
            " ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)), %s)"
            " ON CONFLICT (vps_id, container_id) DO UPDATE SET name = EXCLUDED.name,"
            " image = EXCLUDED.image, state = EXCLUDED.state, status = EXCLUDED.status,"
            " created_at = EXCLUDED.created_at, started_at = EXCLUDED.started_at,"
            " finished_at = EXCLUDED.finished_at, restart_count = EXCLUDED.restart_count,"
            " exit_code = EXCLUDED.exit_code, oom_killed = EXCLUDED.oom_killed,"
            " labels = EXCLUDED.labels, ports = EXCLUDED.ports, last_seen = EXCLUDED.last_seen,"
            " removed_at = NULL",
            upsert_rows,
        )
    if removed_rows:
        await cur.executemany(
            "UPDATE containers SET removed_at = %s WHERE vps_id = %s AND container_id = %s", removed_rows
        )
    if event_rows:
        await cur.executemany(
            "INSERT INTO container_events (time, vps_id, container_id, event, exit_code, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            event_rows,
        )
    return ContainerWrite(len(event_rows), stored_by_vps, frozenset(missing))


@dataclass(slots=True)
class _Entry:
    containers: dict[str, StoredContainer]
    loaded_monotonic: float


@dataclass(slots=True)
class CacheClaim:
    """One transaction's hold on some VPSes: their trusted cached state, and what it wrote."""

    cached: dict[int, dict[str, StoredContainer]]
    written: ContainerWrite | None = None


class ContainerCache:
    """The committed container state per VPS, owned by the ingest writer.

    A transaction that writes Docker samples claims their VPSes first: a second
    flusher with a sample for one of them waits until the first has committed
    (as it used to wait on the database's row locks), so no state is diffed
    twice. What the transaction wrote is kept only if it committed; otherwise
    its VPSes are forgotten and read from the database next time. Entries are
    trusted for ``max_age_s`` after they were read from the database, which
    bounds how long a change made elsewhere (another collector, a manual edit)
    can go unseen.
    """

    def __init__(
        self,
        max_age_s: float = LAST_SEEN_REFRESH.total_seconds(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age_s = max_age_s
        self._clock = clock
        self._entries: dict[int, _Entry] = {}
        self._claimed: set[int] = set()
        self._released = asyncio.Event()

    def __len__(self) -> int:
        return len(self._entries)

    @asynccontextmanager
    async def claim(self, vps_ids: Iterable[int]) -> AsyncIterator[CacheClaim]:
        """Hold these VPSes for one transaction; wrap the transaction in this block.

        Set ``written`` to what ``write_containers`` returned. It is applied when
        the block exits normally (the transaction committed); on an exception the
        claimed VPSes are dropped from the cache.
        """
        wanted = set(vps_ids)
        while not self._claimed.isdisjoint(wanted):
            await self._released.wait()
        self._claimed |= wanted  # no await since the check: claiming all at once cannot deadlock
        try:
            claim = CacheClaim(self._trusted(wanted))
            yield claim
        except BaseException:
            for vps_id in wanted:
                self._entries.pop(vps_id, None)
            raise
        else:
            if claim.written is not None:
                self._apply(claim.written)
        finally:
            self._claimed -= wanted
            if wanted:
                self._released.set()  # wakes every waiter; each checks its own VPSes again
                self._released = asyncio.Event()

    def _trusted(self, vps_ids: set[int]) -> dict[int, dict[str, StoredContainer]]:
        oldest = self._clock() - self._max_age_s
        trusted: dict[int, dict[str, StoredContainer]] = {}
        for vps_id in vps_ids:
            entry = self._entries.get(vps_id)
            if entry is not None and entry.loaded_monotonic > oldest:
                trusted[vps_id] = entry.containers
        return trusted

    def _apply(self, written: ContainerWrite) -> None:
        now = self._clock()
        for vps_id, containers in written.states.items():
            old = self._entries.get(vps_id)
            loaded = now if vps_id in written.loaded or old is None else old.loaded_monotonic
            self._entries[vps_id] = _Entry(containers, loaded)

"""Container metadata upserts and state-change events from Docker batches.

``diff_containers`` is pure: it compares what is stored with what the agent
saw and yields the events (started, stopped, died with exit code, OOM,
restarted, removed) and the rows that need writing. ``write_containers`` runs
the SQL inside the ingest transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncCursor

from collector.rows import ContainerState

__all__ = ["ContainerEvent", "StoredContainer", "diff_containers", "write_containers"]

# Refresh last_seen at least this often even when nothing else changed.
LAST_SEEN_REFRESH = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class StoredContainer:
    state: str
    status: str
    restart_count: int
    oom_killed: bool
    signature: str
    last_seen: datetime
    removed: bool


@dataclass(frozen=True, slots=True)
class ContainerEvent:
    container_id: str
    event: str
    exit_code: int | None = None
    detail: str = ""


def _signature(c: ContainerState) -> str:
    """What, besides state and status, makes a stored row stale."""
    return json.dumps(
        [
            c.name,
            c.image,
            c.restart_count,
            c.exit_code,
            c.oom_killed,
            c.labels_json,
            c.ports,
            str(c.started_at),
            str(c.finished_at),
        ]
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


async def _load_stored(cur: AsyncCursor[Any], vps_ids: list[int]) -> dict[int, dict[str, StoredContainer]]:
    await cur.execute(
        "SELECT vps_id, container_id, state, status, restart_count, oom_killed, name, image, exit_code,"
        " labels::text, ports, started_at, finished_at, last_seen, removed_at IS NOT NULL"
        " FROM containers WHERE vps_id = ANY(%s) FOR UPDATE",
        (vps_ids,),
    )
    out: dict[int, dict[str, StoredContainer]] = {}
    for row in await cur.fetchall():
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
        labels_json = json.dumps(json.loads(labels), sort_keys=True, ensure_ascii=False)
        signature = json.dumps(
            [name, image, restarts, exit_code, oom, labels_json, list(ports), str(started), str(finished)]
        )
        out.setdefault(vps_id, {})[cid] = StoredContainer(
            state, status, restarts, oom, signature, last_seen, removed
        )
    return out


async def write_containers(
    cur: AsyncCursor[Any], samples: list[tuple[int, datetime, list[ContainerState]]]
) -> int:
    """Apply Docker samples (vps_id, time, containers) in time order; return events written."""
    if not samples:
        return 0
    stored_by_vps = await _load_stored(cur, sorted({vps_id for vps_id, _, _ in samples}))
    upsert_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    removed_rows: list[tuple[Any, ...]] = []
    for vps_id, seen_at, seen in sorted(samples, key=lambda s: s[1]):
        stored = stored_by_vps.setdefault(vps_id, {})
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
    return len(event_rows)

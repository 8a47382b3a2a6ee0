"""Announce committed samples and status changes on ``tidewatch_live``, signed (see
common.live_signing)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import psycopg

from common.channels import LIVE_CHANNEL
from common.live_signing import LIVE_KEY_QUERY, sign_live_payload

__all__ = ["LiveNotifier", "record_status_event"]

log = logging.getLogger("tidewatch.collector.live")


class LiveNotifier:
    """Signs live payloads with the key from the database, read once on first use."""

    def __init__(self) -> None:
        self._key: bytes | None = None

    async def notify(self, cur: psycopg.AsyncCursor[Any], summaries: Iterable[dict[str, Any]]) -> None:
        """NOTIFY within the caller's transaction: delivered on commit, or not at all."""
        key = self._key or await self._load_key(cur)
        if key is None:
            return  # the live view waits; the batch itself must still commit
        payloads = [sign_live_payload(key, json.dumps(s, separators=(",", ":")).encode()) for s in summaries]
        # Binary (%b): the JSON payloads are sent as they are, not quoted into an array literal.
        await cur.execute("SELECT pg_notify(%s, p) FROM unnest(%b::text[]) AS p", (LIVE_CHANNEL, payloads))

    async def _load_key(self, cur: psycopg.AsyncCursor[Any]) -> bytes | None:
        try:
            async with cur.connection.transaction():  # a savepoint: a failure spares the batch
                row = await (await cur.execute(LIVE_KEY_QUERY)).fetchone()
        except psycopg.Error as exc:
            log.error("cannot read the live signing key (%s); live views get no samples", exc)
            return None
        if row is None:
            log.error("no live_notify_hmac key: run tidewatch-migrate (sql/0010_service_keys.sql)")
            return None
        self._key = bytes(row[0])
        return self._key


async def record_status_event(
    conn: psycopg.AsyncConnection[Any], live: LiveNotifier, vps_id: int, online: bool, reason: str
) -> None:
    """Record an online/offline transition and announce it to live views, in the caller's
    transaction. ``time_ms`` is the database's clock, shared by every collector, so the
    API can drop a status older than one it has already relayed."""
    status = "online" if online else "offline"
    cur = conn.cursor()
    row = await (
        await cur.execute(
            "INSERT INTO vps_status_events (vps_id, status, reason) VALUES (%s, %s, %s)"
            " RETURNING (extract(epoch FROM time) * 1000)::bigint",
            (vps_id, status, reason),
        )
    ).fetchone()
    time_ms = int(row[0]) if row else 0
    message = {"kind": "status", "vps_id": vps_id, "time_ms": time_ms, "online": online, "reason": reason}
    await live.notify(cur, [message])

"""Ending in-flight commands whose agent is gone: one statement, each change announced.

Used by the relay (a stream ended, or the collector stops) and by housekeeping (a VPS
went offline wherever its stream was held), inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from common.api_models.commands import COMMAND_UPDATES_CHANNEL

__all__ = ["DISCONNECTED", "IN_FLIGHT", "fail_in_flight_where"]

DISCONNECTED = "agent disconnected"
IN_FLIGHT = ["dispatched", "accepted", "running"]


async def fail_in_flight_where(conn: AsyncConnection[Any], condition: str, params: tuple[object, ...]) -> int:
    """In-flight commands matching ``condition`` (SQL over ``commands``, with ``params``)
    end failed, and each is announced on the command-updates channel. Returns how many."""
    rows = await (
        await conn.execute(
            "WITH ended AS (UPDATE commands SET status = 'failed', finished_at = now(), error_message = %s"
            f" WHERE status = ANY(%s) AND {condition} RETURNING id)"
            " SELECT pg_notify(%s, id::text) FROM ended",
            (DISCONNECTED, IN_FLIGHT, *params, COMMAND_UPDATES_CHANNEL),
        )
    ).fetchall()
    return len(rows)

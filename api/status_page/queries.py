"""The public status page in one statement, and the pure step from its rows to the page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from api.resources import Connection
from common.api_models.status_page import StatusGroupOut, StatusPageOut, StatusServerOut
from common.uptime import StatusChange, uptime_percent

__all__ = ["LONGEST_WINDOW", "WINDOWS", "build_page", "read_page_rows"]

WINDOWS = (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("30d", timedelta(days=30)))
LONGEST_WINDOW = max(width for _, width in WINDOWS)

# One row per server shown (or one row with no server when the page is off or empty).
# The newest change before the longest window gives the state at its start.
_PAGE = """
SELECT p.enabled, p.title, now() AS now,
       g.position AS group_position, g.title AS group_title,
       s.position, s.display_name, v.online, v.created_at,
       h.load_1, h.cpu_percent,
       coalesce(ev.times, '{}') AS change_times, coalesce(ev.onlines, '{}') AS change_onlines
FROM status_page p
LEFT JOIN status_page_servers s ON p.enabled
LEFT JOIN status_page_groups g ON g.position = s.group_position
LEFT JOIN vps v ON v.id = s.vps_id
LEFT JOIN LATERAL (
    SELECT load_1, cpu_percent FROM host_metrics WHERE vps_id = v.id ORDER BY time DESC LIMIT 1
) h ON true
LEFT JOIN LATERAL (
    SELECT array_agg(e.time ORDER BY e.time) AS times, array_agg(e.status = 'online' ORDER BY e.time) AS onlines
    FROM (
        (SELECT time, status FROM vps_status_events
         WHERE vps_id = v.id AND time < now() - %(longest)s ORDER BY time DESC LIMIT 1)
        UNION ALL
        (SELECT time, status FROM vps_status_events WHERE vps_id = v.id AND time >= now() - %(longest)s)
    ) e
) ev ON true
ORDER BY g.position, s.position
"""


async def read_page_rows(conn: Connection) -> list[dict[str, Any]]:
    """Everything the page needs, in one query."""
    cur = await conn.execute(_PAGE, {"longest": LONGEST_WINDOW})
    return await cur.fetchall()


def _server(row: dict[str, Any], number: int) -> StatusServerOut:
    now = row["now"]
    changes = [StatusChange(t, o) for t, o in zip(row["change_times"], row["change_onlines"], strict=True)]
    uptimes = {
        name: uptime_percent(changes, now - width, now, row["created_at"], row["online"])
        for name, width in WINDOWS
    }
    online = bool(row["online"])
    return StatusServerOut(
        name=row["display_name"] or f"Server {number}",
        online=online,
        uptime_24h_percent=uptimes["24h"],
        uptime_7d_percent=uptimes["7d"],
        uptime_30d_percent=uptimes["30d"],
        load_1=row["load_1"] if online else None,
        cpu_percent=row["cpu_percent"] if online else None,
    )


def build_page(rows: Sequence[dict[str, Any]]) -> StatusPageOut | None:
    """The page from :func:`read_page_rows`' rows; None when it is turned off."""
    if not rows or not rows[0]["enabled"]:
        return None
    groups: list[StatusGroupOut] = []
    group_position: int | None = None
    number = 0
    for row in rows:
        if row["group_position"] is None:
            continue
        if row["group_position"] != group_position:
            group_position = row["group_position"]
            groups.append(StatusGroupOut(title=row["group_title"], servers=[]))
        number += 1
        groups[-1].servers.append(_server(row, number))
    return StatusPageOut(title=rows[0]["title"], generated_at=rows[0]["now"], groups=groups)

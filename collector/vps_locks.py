"""The order in which the collector locks ``vps`` rows.

Several collectors (and each one's housekeeping, health and digest writers) update
many ``vps`` rows per statement. Two transactions that lock overlapping rows in
different orders can deadlock, and an UPDATE's join visits rows in whatever order
its plan chooses. So every multi-row update first locks its rows in id order with
:data:`LOCK_VPS_IN_ID_ORDER`, as a CTE the UPDATE joins; a sweep that any
collector may do (marking stale VPSes offline) skips rows another holds instead.
``FOR NO KEY UPDATE``: an ingest flush's foreign-key check (``FOR KEY SHARE``)
never waits on it, nor it on the flush.
"""

from __future__ import annotations

__all__ = ["LOCK_VPS_IN_ID_ORDER"]

# One parameter: the ids (int8[]). Yields the locked ids.
LOCK_VPS_IN_ID_ORDER = "SELECT id FROM vps WHERE id = ANY(%s::int8[]) ORDER BY id FOR NO KEY UPDATE"

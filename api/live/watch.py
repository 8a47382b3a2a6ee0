"""Watch mode: VPSes someone views live get their agent's samples at once.

Each API instance counts its own live sockets per watched VPS and keeps one
lease row per VPS in ``live_watch_leases`` (sql/0015_live_watch.sql), renewed
every ``renew_s`` to ``now() + grace_s`` while any of its sockets watch. When the
last one leaves, the lease is renewed one final time and left to expire: the
grace period, so a page reload does not flap the agent's batching. A crashed
instance's leases expire the same way.

The collector holding the agent's stream re-reads the leases (the truth) when
``tidewatch_agent_config`` hints that a VPS became watched, and polls the ones
it has put in watch mode until their leases lapse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from api.listening import BackgroundTask
from common.channels import AGENT_CONFIG_CHANNEL

__all__ = ["FLEET_IDS", "WatchLeases", "watchable"]

log = logging.getLogger("tidewatch.api.live.watch")

DEFAULT_GRACE_S = 30.0
DB_LIMIT_S = 5.0

_RENEW = """
INSERT INTO live_watch_leases (vps_id, api_instance, expires_at)
SELECT id, %(instance)s, now() + make_interval(secs => %(grace_s)s)
FROM vps WHERE id = ANY(%(ids)s)
ON CONFLICT (vps_id, api_instance) DO UPDATE SET expires_at = excluded.expires_at
"""
# The whole fleet, when it is small enough to watch: at most limit + 1 ids.
FLEET_IDS = "SELECT id FROM vps ORDER BY id LIMIT %s"
# The hint for the collectors: these VPSes may have become watched.
_HINT = "SELECT pg_notify(%s, id::text) FROM unnest(%s::bigint[]) AS id"

ConnectionFactory = Callable[[str, float], AbstractAsyncContextManager[Any]]


def watchable(
    named: Iterable[int], everything: bool, asked: bool, max_vps: int, fleet: Iterable[int] = ()
) -> frozenset[int]:
    """The VPSes one subscription may hold in watch mode, when it asks: those it names, or
    with ``everything`` the whole ``fleet``; none when that is more than ``max_vps``, so a
    big fleet page never switches every agent to per-snapshot sending."""
    if not asked:
        return frozenset()
    ids = frozenset(fleet if everything else named)
    return ids if len(ids) <= max_vps else frozenset()


class WatchLeases:
    """This instance's viewers per VPS, and the lease rows that publish them."""

    def __init__(self, grace_s: float = DEFAULT_GRACE_S, instance_id: str | None = None) -> None:
        self.grace_s = grace_s
        # Renewed well before expiry, so a slow database round does not drop a lease.
        self.renew_s = max(0.5, grace_s / 3)
        self.instance_id = instance_id or f"api-{uuid.uuid4().hex[:16]}"
        self._viewers: Counter[int] = Counter()
        self._new: set[int] = set()
        self._left: set[int] = set()
        self._wake = asyncio.Event()
        self._task = BackgroundTask("tidewatch-watch-leases")
        self._connection: ConnectionFactory | None = None

    def watched(self) -> frozenset[int]:
        """The VPSes at least one socket of this instance watches now."""
        return frozenset(self._viewers)

    def change(self, before: frozenset[int], after: frozenset[int]) -> None:
        """A socket now watches ``after`` instead of ``before``."""
        for vps_id in after - before:
            self._viewers[vps_id] += 1
            if self._viewers[vps_id] == 1:
                self._new.add(vps_id)
                self._left.discard(vps_id)
        for vps_id in before - after:
            self._viewers[vps_id] -= 1
            if self._viewers[vps_id] <= 0:
                del self._viewers[vps_id]
                self._left.add(vps_id)
                self._new.discard(vps_id)
        if self._new or self._left:
            self._wake.set()

    async def start(self, connection: ConnectionFactory) -> None:
        self._connection = connection
        self._wake = asyncio.Event()
        self._task.start(self._run())

    async def stop(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.renew_s)
            self._wake.clear()
            new, left = set(self._new), set(self._left)
            self._new.clear()
            self._left.clear()
            try:
                await self.flush(new, left)
            except (PoolTimeout, psycopg.Error, TimeoutError) as exc:
                # Try again next round, hinting every watched VPS then: a lease may
                # have lapsed meanwhile and its collector stopped looking.
                self._new |= set(self._viewers)
                self._left |= left - set(self._viewers)
                log.warning(
                    "watch leases not renewed (will retry): %s", str(exc).strip() or type(exc).__name__
                )

    async def flush(self, new: set[int], left: set[int]) -> None:
        """Renew every lease held (a left VPS one last time: its grace), then hint the new."""
        assert self._connection is not None, "start() first"
        renew = sorted(set(self._viewers) | left)
        if not renew:
            return
        async with self._connection("watch leases", DB_LIMIT_S) as conn:
            await conn.execute(_RENEW, {"instance": self.instance_id, "grace_s": self.grace_s, "ids": renew})
            if new:
                await conn.execute(_HINT, (AGENT_CONFIG_CHANNEL, sorted(new)))

"""What each agent says about itself: the kinds its handshake allows, and its heartbeat counters.

Heartbeats arrive from every agent every few seconds; only the newest of each
is kept in memory and written in one statement per flush, so a large fleet
costs one round trip, not one per heartbeat.
"""

from __future__ import annotations

import logging

from psycopg.types.json import Jsonb

from collector.database import Database
from proto import agent_pb2

__all__ = ["FEATURE_NAMES", "AgentStateWriter", "features_dict"]

log = logging.getLogger("tidewatch.collector.agent_state")

FEATURE_NAMES = ("docker", "shell", "script", "pty", "files", "docker_control")
_INT64_MAX = 2**63 - 1
_COUNTERS = (
    "pending_batches",
    "spooled_bytes",
    "dropped_batches_total",
    "docker_sample_overruns_total",
    "control_messages_dropped_total",
)


def features_dict(features: agent_pb2.FeatureSwitches) -> dict[str, bool]:
    """The local switches as a JSON object."""
    return {name: bool(getattr(features, name)) for name in FEATURE_NAMES}


class AgentStateWriter:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._latest: dict[int, agent_pb2.Heartbeat] = {}

    def heartbeat(self, vps_id: int, heartbeat: agent_pb2.Heartbeat) -> None:
        """Remember the newest heartbeat of ``vps_id`` until the next flush."""
        self._latest[vps_id] = heartbeat

    async def store_features(self, vps_id: int, features: agent_pb2.FeatureSwitches) -> None:
        async with self._db.connection("agent features") as conn:
            await conn.execute(
                "INSERT INTO vps_agent_state (vps_id, local_features, features_at) VALUES (%s, %s, now())"
                " ON CONFLICT (vps_id) DO UPDATE SET local_features = excluded.local_features,"
                " features_at = excluded.features_at",
                (vps_id, Jsonb(features_dict(features))),
            )

    async def flush(self) -> int:
        """Write the newest counters of every agent heard since the last flush."""
        latest, self._latest = self._latest, {}
        if not latest:
            return 0
        vps_ids = sorted(latest)
        columns = {name: [min(getattr(latest[v], name), _INT64_MAX) for v in vps_ids] for name in _COUNTERS}
        try:
            async with self._db.connection("agent counters") as conn:
                await conn.execute(
                    "INSERT INTO vps_agent_state (vps_id, heartbeat_at, pending_batches, spooled_bytes,"
                    " dropped_batches_total, docker_sample_overruns_total, control_messages_dropped_total)"
                    " SELECT u.v, now(), u.p, u.s, u.d, u.o, u.c"
                    " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[],"
                    " %s::bigint[]) AS u(v, p, s, d, o, c) JOIN vps ON vps.id = u.v"
                    " ON CONFLICT (vps_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,"
                    " pending_batches = excluded.pending_batches, spooled_bytes = excluded.spooled_bytes,"
                    " dropped_batches_total = excluded.dropped_batches_total,"
                    " docker_sample_overruns_total = excluded.docker_sample_overruns_total,"
                    " control_messages_dropped_total = excluded.control_messages_dropped_total",
                    (vps_ids, *columns.values()),
                )
        except Exception:
            # Newer heartbeats that came in meanwhile win; the rest are retried.
            for vps_id, heartbeat in latest.items():
                self._latest.setdefault(vps_id, heartbeat)
            raise
        return len(vps_ids)

"""A VPS with every metric family the agent sends, an offline stretch (no samples,
with its status events) and two days of history, for the history browser test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import DictRow, dict_row

from tests.api.conftest import refresh_rollups, unique

__all__ = ["OFFLINE_AGO", "ONLINE_AGO", "HistoryVps", "insert_history_vps"]

# The agent was offline from 5 h ago to 4 h 20 min ago: no samples, two status events.
OFFLINE_AGO, ONLINE_AGO = timedelta(hours=5), timedelta(hours=4, minutes=20)
_SOURCES = ("host_metrics", "network_metrics", "disk_metrics", "disk_io_metrics", "container_metrics")


@dataclass(frozen=True)
class HistoryVps:
    vps_id: int
    name: str
    now: datetime


def _insert(
    conn: psycopg.Connection[DictRow], vps_id: int, start: datetime, end: datetime, every: timedelta
) -> None:
    window = {"vps": vps_id, "start": start, "end": end, "every": every}
    series = "generate_series(%(start)s, %(end)s, %(every)s) AS t, extract(epoch FROM t) AS e"
    conn.execute(
        f"""
        INSERT INTO host_metrics
        SELECT t, %(vps)s, 30 + 12 * sin(e / 3600.0),
               ARRAY(SELECT 25 + 20 * sin(e / 1800.0 + c) FROM generate_series(0, 7) AS c),
               18 + 6 * sin(e / 3600.0), 6, 1.5, 0.2, 0.9 + 0.5 * sin(e / 3600.0), 0.8, 0.7,
               8589934592, (3.4 * 1073741824 + 0.6 * 1073741824 * sin(e / 5400.0))::bigint,
               (4.2 * 1073741824)::bigint, 1610612736, 104857600, 2147483648, 134217728,
               312, 41, 187, 86400
        FROM {series}
        """,
        window,
    )
    conn.execute(
        f"""
        INSERT INTO network_metrics
        SELECT t, %(vps)s, 'eth0', 2400000 * (1 + 0.6 * sin(e / 900.0)), 800000, 100, 80, 0, 0, 0, 0, 0, 0
        FROM {series}
        """,
        window,
    )
    conn.execute(
        f"""
        INSERT INTO disk_metrics
        SELECT t, %(vps)s, '/', '/dev/vda1', 'ext4', 85899345920, 49392123904, 0, 5242880, 1310720
        FROM {series}
        """,
        window,
    )
    conn.execute(
        f"""
        INSERT INTO disk_io_metrics
        SELECT t, %(vps)s, 'vda', 5242880 * (1 + sin(e / 600.0)), 2097152, 120, 45 FROM {series}
        """,
        window,
    )
    conn.execute(
        f"""
        INSERT INTO temperature_metrics
        SELECT t, %(vps)s, s.name, s.base + 4 * sin(e / 1200.0)
        FROM {series}, (VALUES ('coretemp', 52.0), ('nvme0', 38.0)) AS s (name, base)
        """,
        window,
    )
    conn.execute(
        f"""
        INSERT INTO container_metrics
        SELECT t, %(vps)s, c.id, c.cpu, c.mem, 1073741824, 0, 0, 0, 0, 12
        FROM {series}, (VALUES ('a1b2c3d4e5f6', 35.0, 268435456), ('f6e5d4c3b2a1', 8.0, 67108864)) AS c (id, cpu, mem)
        """,
        window,
    )
    conn.execute(
        f"""
        INSERT INTO generic_metrics
        SELECT t, %(vps)s, 'queue_depth', jsonb_build_object('queue', q.name), q.base + 5 * sin(e / 700.0)
        FROM {series}, (VALUES ('mail', 20.0), ('jobs', 60.0)) AS q (name, base)
        """,
        window,
    )


def insert_history_vps(dsn: str) -> HistoryVps:
    """The VPS, its containers, its samples (1 per minute for two days, 1 per 5 s in the
    last two hours, none while offline) and refreshed rollups."""
    now = datetime.now(UTC).replace(microsecond=0)
    name = unique("hist")
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        row = conn.execute(
            "INSERT INTO vps (name, ip_address, agent_key_id, agent_token_hash, hostname, os_name, cpu_model,"
            " cpu_logical_cores, memory_total_bytes, online, last_seen, connected_at)"
            " VALUES (%s, '192.0.2.80', %s, 'x', 'hist-01', 'Debian GNU/Linux', 'AMD EPYC 7543P', 8, 8589934592,"
            " true, now(), now() - %s::interval) RETURNING id",
            (name, unique("k"), ONLINE_AGO),
        ).fetchone()
        assert row is not None
        vps_id = row["id"]
        conn.execute(
            "INSERT INTO containers (vps_id, container_id, name, image, state, status) VALUES"
            " (%(v)s, 'a1b2c3d4e5f6', 'web', 'nginx:1.27', 'running', 'Up'),"
            " (%(v)s, 'f6e5d4c3b2a1', 'worker', 'python:3.12', 'running', 'Up')",
            {"v": vps_id},
        )
        start, recent = now - timedelta(days=2), now - timedelta(hours=2)
        _insert(conn, vps_id, start, now - OFFLINE_AGO, timedelta(minutes=1))
        _insert(conn, vps_id, now - ONLINE_AGO, recent, timedelta(minutes=1))
        _insert(conn, vps_id, recent + timedelta(seconds=5), now, timedelta(seconds=5))
        conn.execute(
            "INSERT INTO vps_status_events (vps_id, time, status, reason) VALUES"
            " (%(v)s, %(start)s, 'online', 'connected'), (%(v)s, %(off)s, 'offline', 'heartbeat timeout'),"
            " (%(v)s, %(on)s, 'online', 'reconnected')",
            {"v": vps_id, "start": start, "off": now - OFFLINE_AGO, "on": now - ONLINE_AGO},
        )
        for source in _SOURCES:
            refresh_rollups(conn, start, source)
    return HistoryVps(vps_id, name, now)

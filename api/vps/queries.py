"""Reading VPS records with their newest metrics."""

from __future__ import annotations

from typing import Any

import msgspec

from api.resources import Connection
from common.api_models import VpsOut
from common.channels import TOKEN_ROTATED_CHANNEL
from common.clock import clock_skew_note, is_clock_skewed

__all__ = ["TOKEN_ROTATED_CHANNEL", "fetch_vps", "list_vps"]


_LATEST = ("time", "cpu_percent", "memory_used_bytes", "memory_total_bytes", "swap_used_bytes",
           "swap_total_bytes", "load_1", "uptime_seconds", "disk_used_bytes", "disk_total_bytes",
           "net_rx_bytes_per_second", "net_tx_bytes_per_second")  # fmt: skip

# Each LATERAL reads one VPS's newest rows through the (vps_id, time DESC)
# indexes, so the list costs a few index probes per VPS, whatever the history.
_SELECT = """
SELECT v.id, v.name, v.ip_address, v.labels, v.created_at, v.token_rotated_at, v.online,
       v.last_seen, v.connected_at, v.hostname, v.os_name, v.os_version, v.kernel_version,
       v.architecture, v.cpu_model, v.cpu_physical_cores, v.cpu_logical_cores,
       v.memory_total_bytes, v.swap_total_bytes, v.boot_time, v.ip_addresses,
       v.virtualization, v.agent_version, v.traffic_reset_day, v.traffic_quota_bytes,
       v.sanitised_fields,
       v.clock_offset_ms, v.clock_rtt_ms, v.clock_checked_at, v.rejected_batches_total,
       v.last_rejected_at, v.last_rejection,
       h.time AS latest_time, h.cpu_percent AS latest_cpu_percent,
       h.memory_used_bytes AS latest_memory_used_bytes,
       h.memory_total_bytes AS latest_memory_total_bytes,
       h.swap_used_bytes AS latest_swap_used_bytes, h.swap_total_bytes AS latest_swap_total_bytes,
       h.load_1 AS latest_load_1, h.uptime_seconds AS latest_uptime_seconds,
       d.used_bytes AS latest_disk_used_bytes, d.total_bytes AS latest_disk_total_bytes,
       n.rx AS latest_net_rx_bytes_per_second, n.tx AS latest_net_tx_bytes_per_second
FROM vps v
LEFT JOIN LATERAL (
    SELECT time, cpu_percent, memory_used_bytes, memory_total_bytes, swap_used_bytes,
           swap_total_bytes, load_1, uptime_seconds
    FROM host_metrics WHERE vps_id = v.id ORDER BY time DESC LIMIT 1
) h ON true
LEFT JOIN LATERAL (
    -- Once per device: bind mounts of one filesystem must not count twice.
    SELECT sum(used_bytes)::bigint AS used_bytes, sum(total_bytes)::bigint AS total_bytes
    FROM (
        SELECT DISTINCT ON (device) used_bytes, total_bytes FROM disk_metrics
        WHERE vps_id = v.id
          AND time = (SELECT max(time) FROM disk_metrics WHERE vps_id = v.id)
        ORDER BY device
    ) newest
) d ON true
LEFT JOIN LATERAL (
    SELECT sum(rx_bytes_per_second) AS rx, sum(tx_bytes_per_second) AS tx FROM network_metrics
    WHERE vps_id = v.id
      AND time = (SELECT max(time) FROM network_metrics WHERE vps_id = v.id)
) n ON true
"""


def _to_vps(row: dict[str, Any]) -> VpsOut:
    latest = {name: row.pop(f"latest_{name}") for name in _LATEST}
    row["latest"] = latest if latest["time"] is not None else None
    row["clock_skewed"] = is_clock_skewed(row["clock_offset_ms"])
    row["clock_note"] = clock_skew_note(row["clock_offset_ms"])
    return msgspec.convert(row, VpsOut)


async def list_vps(conn: Connection) -> list[VpsOut]:
    """Every VPS, by name, with its newest metrics."""
    cur = await conn.execute(_SELECT + " ORDER BY v.name")
    return [_to_vps(row) for row in await cur.fetchall()]


async def fetch_vps(conn: Connection, vps_id: int) -> VpsOut | None:
    """One VPS with its newest metrics, or None."""
    cur = await conn.execute(_SELECT + " WHERE v.id = %s", (vps_id,))
    row = await cur.fetchone()
    return _to_vps(row) if row else None

"""What the collector knows of each agent's clock and refused batches, and how it is recorded.

The agent measures its own offset (NTP-style, see agent/runtime/clock.py) and
reports it in every Heartbeat; the collector keeps the latest per stream. Until
a heartbeat says so, or for an agent that does not measure, a one-way estimate
from the agent's timestamps stands in (off by the network delay: milliseconds,
against the minutes this is about).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from collector import metrics
from collector.vps_locks import LOCK_VPS_IN_ID_ORDER
from common.clock import clock_skew_note
from proto import agent_pb2

__all__ = ["AgentClock", "RejectionTally", "now_ms", "record_agent_health"]

log = logging.getLogger("tidewatch.collector.clock")


def now_ms() -> int:
    """The collector's wall clock in Unix milliseconds."""
    return time.time_ns() // 1_000_000


_RTT_MAX_MS = 2**31 - 1


@dataclass(slots=True)
class AgentClock:
    """One stream's view of its agent's clock: collector time minus agent time."""

    offset_ms: int | None = None
    rtt_ms: int | None = None
    # Whether the estimate is the agent's own measurement (else one-way).
    measured: bool = False
    # Whether the skew past the limit was logged (once per crossing, per stream).
    skew_logged: bool = False
    # What was last handed over for the database, and when (monotonic).
    recorded_offset_ms: int | None = None
    recorded_at: float = -1e18

    def due_for_recording(self, now: float, every_s: float = 60.0, change_ms: int = 100) -> bool:
        """Whether the estimate moved by ``change_ms`` or was last recorded ``every_s`` ago; marks it so."""
        if self.offset_ms is None:
            return False
        moved = self.recorded_offset_ms is None or abs(self.offset_ms - self.recorded_offset_ms) >= change_ms
        if not moved and now - self.recorded_at < every_s:
            return False
        self.recorded_offset_ms, self.recorded_at = self.offset_ms, now
        return True

    def from_handshake(self, handshake: agent_pb2.AgentHandshake, received_ms: int) -> None:
        if handshake.agent_time_unix_ms > 0:
            self.offset_ms = received_ms - handshake.agent_time_unix_ms
            self.rtt_ms, self.measured = None, False

    def from_heartbeat(self, heartbeat: agent_pb2.Heartbeat, received_ms: int) -> None:
        if heartbeat.clock_offset_known:
            # The column is an int4; a round trip that long means nothing anyway.
            self.offset_ms, self.measured = heartbeat.clock_offset_ms, True
            self.rtt_ms = min(heartbeat.clock_rtt_ms, _RTT_MAX_MS)
        elif heartbeat.timestamp_unix_ms > 0 and not self.measured:
            self.offset_ms, self.rtt_ms = received_ms - heartbeat.timestamp_unix_ms, None

    def observe(self, vps_id: int) -> None:
        """Export the gauge and log a crossing of the skew limit, once each way."""
        if self.offset_ms is None:
            return
        metrics.AGENT_CLOCK_OFFSET.labels(str(vps_id)).set(self.offset_ms / 1000)
        note = clock_skew_note(self.offset_ms)
        if note is not None and not self.skew_logged:
            self.skew_logged = True
            log.warning(
                "vps %d: %s (offset %+d ms, %s); its samples are stored at corrected times. "
                "Fix the host's time sync (NTP).",
                vps_id,
                note,
                self.offset_ms,
                f"round trip {self.rtt_ms} ms" if self.measured else "one-way estimate",
            )
        elif note is None and self.skew_logged:
            self.skew_logged = False
            log.info("vps %d: clock back within limits (offset %+d ms)", vps_id, self.offset_ms)


@dataclass(slots=True)
class RejectionTally:
    """Batches refused for good since the last write to the database."""

    count: int = 0
    last_detail: str = ""


async def record_agent_health(
    conn: AsyncConnection[Any],
    clocks: dict[int, AgentClock],
    rejections: dict[int, RejectionTally],
) -> None:
    """Write the latest clock estimates and add the refused batches to the per-VPS totals.

    Both statements' rows are locked first, together, in id order (collector.vps_locks).
    """
    known = {vps_id: c for vps_id, c in clocks.items() if c.offset_ms is not None}
    if known.keys() | rejections.keys():
        await conn.execute(LOCK_VPS_IN_ID_ORDER, (sorted(known.keys() | rejections.keys()),))
    if known:
        await conn.execute(
            "UPDATE vps SET clock_offset_ms = c.offset_ms, clock_rtt_ms = c.rtt_ms, clock_checked_at = now()"
            " FROM unnest(%s::int8[], %s::int8[], %s::int4[]) AS c (id, offset_ms, rtt_ms)"
            " WHERE vps.id = c.id",
            (
                list(known),
                [c.offset_ms for c in known.values()],
                [c.rtt_ms for c in known.values()],
            ),
        )
    if rejections:
        await conn.execute(
            "UPDATE vps SET rejected_batches_total = rejected_batches_total + r.n,"
            " last_rejected_at = now(), last_rejection = r.detail"
            " FROM unnest(%s::int8[], %s::int8[], %s::text[]) AS r (id, n, detail) WHERE vps.id = r.id",
            (
                list(rejections),
                [r.count for r in rejections.values()],
                [r.last_detail.replace("\x00", "")[:1024] for r in rejections.values()],
            ),
        )

"""The agent's estimate of its clock offset from the collector's clock, NTP-style. Pure.

Each exchange with the collector gives four times: the agent sent (t0) and
received (t3) on its own clock, the collector received (t1) and sent (t2) on
the collector's. Then, as in NTP::

    offset = ((t1 - t0) + (t2 - t3)) / 2      round trip = (t3 - t0) - (t2 - t1)

The estimate comes from the exchange with the lowest round trip among recent
ones: a slow exchange (a queued message, a busy collector) is the likeliest to
be asymmetric, and its error is bounded by half its round trip.

t0 and t3 are read from the boot clock, which never steps and keeps counting
through a suspend; each sample is kept as "collector time minus boot clock".
The offset from the *wall* clock is derived from that when asked, so an NTP
step of the wall clock during an outage changes the estimate at once, without
a new exchange.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ClockEstimate", "ClockEstimator", "boot_clock_s", "wall_clock_ms"]


def boot_clock_s() -> float:
    """Seconds on a clock that never steps and counts suspended time."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def wall_clock_ms() -> int:
    """The wall clock in Unix milliseconds: what sample timestamps use."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class ClockEstimate:
    """Collector time minus agent wall-clock time; add it to an agent timestamp to correct it."""

    offset_ms: int
    rtt_ms: int
    known: bool


UNKNOWN = ClockEstimate(offset_ms=0, rtt_ms=0, known=False)


@dataclass(frozen=True, slots=True)
class _Sample:
    server_minus_boot_ms: float
    rtt_ms: float
    taken_boot_s: float


class ClockEstimator:
    """Keeps the last ``window`` exchanges and answers with the best of them.

    Samples older than ``max_age_s`` before the newest one are forgotten: the
    boot clock drifts (tens of ppm), so a fresh exchange beats an old fast one.
    With no new exchanges (an outage), the last ones keep serving.
    """

    def __init__(
        self,
        *,
        wall_ms: Callable[[], int] = wall_clock_ms,
        boot_s: Callable[[], float] = boot_clock_s,
        window: int = 8,
        max_age_s: float = 900.0,
        max_open_probes: int = 16,
    ) -> None:
        self._wall_ms = wall_ms
        self._boot_s = boot_s
        self._samples: deque[_Sample] = deque(maxlen=window)
        self._max_age_s = max_age_s
        self._probes: OrderedDict[int, float] = OrderedDict()
        self._max_open_probes = max_open_probes
        self._next_probe = 1

    def now_boot_s(self) -> float:
        """The boot clock, for callers timing an exchange."""
        return self._boot_s()

    def add_exchange(
        self, *, sent_boot_s: float, received_boot_s: float, server_received_ms: int, server_sent_ms: int
    ) -> None:
        """One request/response: the agent's boot-clock times and the collector's wall-clock times."""
        t0, t3 = sent_boot_s * 1000.0, received_boot_s * 1000.0
        t1, t2 = float(server_received_ms), float(server_sent_ms)
        if t3 < t0 or t2 < t1 or server_received_ms <= 0:
            return  # not a possible exchange: ignore rather than poison the estimate
        rtt = max(0.0, (t3 - t0) - (t2 - t1))
        self._samples.append(_Sample(((t1 - t0) + (t2 - t3)) / 2.0, rtt, received_boot_s))
        newest = received_boot_s
        while self._samples and newest - self._samples[0].taken_boot_s > self._max_age_s:
            self._samples.popleft()

    def add_handshake(self, *, sent_boot_s: float, received_boot_s: float, server_time_ms: int) -> None:
        """The handshake round trip: the ack carries one collector time (SNTP-style)."""
        self.add_exchange(
            sent_boot_s=sent_boot_s,
            received_boot_s=received_boot_s,
            server_received_ms=server_time_ms,
            server_sent_ms=server_time_ms,
        )

    def open_probe(self) -> int:
        """A new probe id to send in a Heartbeat; call :meth:`probe_sent` when it is written."""
        probe_id = self._next_probe
        self._next_probe += 1
        return probe_id

    def probe_sent(self, probe_id: int) -> None:
        """The probe went out now."""
        self._probes[probe_id] = self._boot_s()
        while len(self._probes) > self._max_open_probes:
            self._probes.popitem(last=False)  # lost with an earlier stream

    def probe_answered(self, probe_id: int, *, server_received_ms: int, server_sent_ms: int) -> bool:
        """The collector's answer to a probe arrived now; False if the probe is unknown."""
        sent = self._probes.pop(probe_id, None)
        if sent is None:
            return False
        self.add_exchange(
            sent_boot_s=sent,
            received_boot_s=self._boot_s(),
            server_received_ms=server_received_ms,
            server_sent_ms=server_sent_ms,
        )
        return True

    def estimate(self) -> ClockEstimate:
        """The current offset of the wall clock, or :data:`UNKNOWN` before any exchange."""
        if not self._samples:
            return UNKNOWN
        best = min(self._samples, key=lambda s: s.rtt_ms)
        server_now = best.server_minus_boot_ms + self._boot_s() * 1000.0
        return ClockEstimate(
            offset_ms=round(server_now - self._wall_ms()),
            rtt_ms=round(best.rtt_ms),
            known=True,
        )

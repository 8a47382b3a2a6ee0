"""Traffic per network interface (``NetworkInterfaceStats``) from two counter readings.

Deltas are reset-aware (``counter_delta``), so the server can sum
``rx_bytes_delta`` over any period across reboots. An interface that appears
between two readings gets its first rates on the next one.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Protocol

from agent.collectors.rates import counter_delta, rate_per_second
from agent.host_text import host_text
from proto import agent_pb2

__all__ = ["DEFAULT_INTERFACE_EXCLUDE", "NetIoCounters", "NetIoTracker"]

# Loopback is not traffic anyone pays for; veth pairs repeat what containers
# already send through their bridge.
DEFAULT_INTERFACE_EXCLUDE: tuple[str, ...] = ("lo", "veth*")


class NetIoCounters(Protocol):
    """The fields of ``psutil.net_io_counters(pernic=True)`` that we use."""

    @property
    def bytes_sent(self) -> int: ...
    @property
    def bytes_recv(self) -> int: ...
    @property
    def packets_sent(self) -> int: ...
    @property
    def packets_recv(self) -> int: ...
    @property
    def errin(self) -> int: ...
    @property
    def errout(self) -> int: ...
    @property
    def dropin(self) -> int: ...
    @property
    def dropout(self) -> int: ...


_Reading = tuple[float, int, int, int, int, int, int, int, int]


def _reading(now_s: float, c: NetIoCounters) -> _Reading:
    return (
        now_s,
        c.bytes_recv,
        c.bytes_sent,
        c.packets_recv,
        c.packets_sent,
        c.errin,
        c.errout,
        c.dropin,
        c.dropout,
    )


class NetIoTracker:
    """Keeps the previous reading per interface and turns the next one into rates and deltas."""

    def __init__(self, *, exclude: Sequence[str] = DEFAULT_INTERFACE_EXCLUDE) -> None:
        self._exclude = tuple(exclude)
        self._previous: dict[str, _Reading] = {}

    def update(
        self, counters: Mapping[str, NetIoCounters], now_s: float
    ) -> list[agent_pb2.NetworkInterfaceStats]:
        """Stats since the previous call for every interface seen both times."""
        stats: list[agent_pb2.NetworkInterfaceStats] = []
        previous, self._previous = self._previous, {}
        for name, c in counters.items():
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in self._exclude):
                continue
            current = _reading(now_s, c)
            self._previous[name] = current
            before = previous.get(name)
            if before is None:
                continue
            seconds = now_s - before[0]
            rx_bytes, tx_bytes, rx_packets, tx_packets, rx_err, tx_err, rx_drop, tx_drop = (
                counter_delta(b, a) for b, a in zip(before[1:], current[1:], strict=True)
            )
            stats.append(
                agent_pb2.NetworkInterfaceStats(
                    interface=host_text(name, "network_interface"),
                    rx_bytes_per_second=rate_per_second(rx_bytes, seconds),
                    tx_bytes_per_second=rate_per_second(tx_bytes, seconds),
                    rx_packets_per_second=rate_per_second(rx_packets, seconds),
                    tx_packets_per_second=rate_per_second(tx_packets, seconds),
                    rx_errors=rx_err,
                    tx_errors=tx_err,
                    rx_drops=rx_drop,
                    tx_drops=tx_drop,
                    rx_bytes_delta=rx_bytes,
                    tx_bytes_delta=tx_bytes,
                    rx_bytes_counter=c.bytes_recv,
                    tx_bytes_counter=c.bytes_sent,
                )
            )
        return stats

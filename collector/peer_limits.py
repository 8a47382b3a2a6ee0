"""Per-IP accounting of streams that have not yet proven who they are.

A stream counts from its first byte until its handshake is registered: token
check, waiting for the handshake (up to HANDSHAKE_TIMEOUT_S) and registration.
An established agent no longer counts, so a flood of half-open streams from
one address cannot keep agents elsewhere, or already connected, out.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from urllib.parse import unquote

__all__ = ["StreamsPerIp", "normalise_ip", "peer_address", "peer_ip"]


def peer_ip(peer: str) -> str:
    """The address in a gRPC peer string: ``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``, ``unix:…``."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]") or rest
    return peer


def normalise_ip(host: str) -> str:
    """``::ffff:1.2.3.4`` as ``1.2.3.4``; other addresses in their canonical text."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def peer_address(peer: str) -> tuple[str, int] | None:
    """(ip, port) of an ``ipv4:`` or ``ipv6:`` peer string, the IP as
    :func:`normalise_ip` writes it; None for other kinds."""
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    host, _, port = unquote(rest).rpartition(":")
    if not port.isdigit():
        return None
    return normalise_ip(host.strip("[]")), int(port)


class StreamsPerIp:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.refused = 0
        self._counts: Counter[str] = Counter()

    def refuse(self) -> int:
        """Count one refusal; returns the running total."""
        self.refused += 1
        return self.refused

    def acquire(self, ip: str) -> bool:
        if self._counts[ip] >= self.limit:
            return False
        self._counts[ip] += 1
        return True

    def held(self, ip: str) -> int:
        return self._counts[ip]

    def release(self, ip: str) -> None:
        self._counts[ip] -= 1
        if self._counts[ip] <= 0:
            del self._counts[ip]

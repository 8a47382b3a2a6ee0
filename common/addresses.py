"""Host names, IP literals and ``host:port`` strings: one set of rules for every component.

Standard library only, so the agent imports it too without new dependencies.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["HOSTNAME", "is_ip_literal", "is_valid_host", "split_host_port"]

# RFC 1123 labels; a leading '-' is impossible, so a host never parses as an option.
HOSTNAME = re.compile(
    r"(?=.{1,253}\.?\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


def is_ip_literal(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address."""
    if "%" in text:
        return False  # IPv6 scope ids would let arbitrary text through
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_valid_host(text: str) -> bool:
    """Whether ``text`` is a plain host name or IP address, nothing more."""
    return bool(HOSTNAME.fullmatch(text)) or is_ip_literal(text)


def split_host_port(text: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for an IPv6 literal) as ``(host, port)``, brackets removed.

    Raises ValueError when the host is not a host name or IP address, or the port is not
    in 1..65535; callers add which setting it was.
    """
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        host_ok = is_ip_literal(host)
    else:
        host_ok = ":" not in host and is_valid_host(host)
    if not sep or not host_ok or not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"expected host:port ([v6]:port for IPv6), got {text!r}")
    return host, int(port)

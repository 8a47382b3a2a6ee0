"""Validation of host names and IP literals taken from config or from the server."""

from __future__ import annotations

import ipaddress
import re

__all__ = ["is_ip_literal", "is_valid_host"]

# RFC 1123 labels; a leading '-' is impossible, so a host never parses as an option.
_HOSTNAME = re.compile(
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
    return bool(_HOSTNAME.fullmatch(text)) or is_ip_literal(text)

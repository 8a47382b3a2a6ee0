"""Parse ``host:port`` listen settings."""

from __future__ import annotations

from common.addresses import split_host_port
from common.settings import SettingsError

__all__ = ["split_listen"]


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a pair; SettingsError when malformed."""
    try:
        return split_host_port(listen)
    except ValueError:
        raise SettingsError(f"listen address {listen!r} must be host:port, e.g. 127.0.0.1:8000") from None

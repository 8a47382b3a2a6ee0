"""Parse ``host:port`` listen settings."""

from __future__ import annotations

from common.settings import SettingsError

__all__ = ["split_listen"]


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a pair; SettingsError when malformed."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"listen address {listen!r} must be host:port, e.g. 127.0.0.1:8000")
    return host.strip("[]") or "127.0.0.1", int(port)

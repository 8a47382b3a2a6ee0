"""The health check's answer."""

from __future__ import annotations

from msgspec import Struct

__all__ = ["HealthOut"]


class HealthOut(Struct):
    """``GET /api/health`` when the database answers."""

    status: str
    database: str
    edition: str
    schema_version: int
    live_feed: str

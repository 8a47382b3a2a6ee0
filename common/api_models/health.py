"""The health check's answer."""

from __future__ import annotations

from msgspec import Struct, field

__all__ = ["HealthOut"]


class HealthOut(Struct):
    """``GET /api/health`` when the database answers. ``status`` is ``ok``, or
    ``degraded`` when TimescaleDB jobs fail or fall behind (``jobs`` names each)."""

    status: str
    database: str
    edition: str
    schema_version: int
    live_feed: str
    jobs: list[str] = field(default_factory=list)

"""Range-query responses beyond the registry's series: per-core CPU, custom metrics,
and the online/offline events that mark the history charts.

Like ``common.api_models.metrics``: arrays aligned with ``time_ms`` (bucket start,
epoch milliseconds, UTC), ``null`` where a bucket has no value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from msgspec import Struct

from common.api_models.metrics import SeriesWindow

__all__ = ["CpuCoresSeries", "CustomMetricSeries", "CustomSeries", "StatusEventOut", "VpsStatus"]

Values = list[float | None]
VpsStatus = Literal["online", "offline"]


class CpuCoresSeries(SeriesWindow, kw_only=True):
    """Busy % of each logical CPU: ``cores[i][j]`` is core ``i`` in bucket ``time_ms[j]``.
    Raw samples only (per-core values are not rolled up)."""

    time_ms: list[int]
    cores: list[Values]


class CustomMetricSeries(Struct, kw_only=True):
    """One custom metric with one label set: average and highest value per bucket."""

    name: str
    labels: dict[str, str]
    time_ms: list[int]
    value: Values
    value_max: Values


class CustomSeries(SeriesWindow, kw_only=True):
    """Custom (generic) metrics, one series per name and label set, ordered by name then labels.
    ``truncated``: more series matched than the response holds."""

    metrics: list[CustomMetricSeries]
    truncated: bool


class StatusEventOut(Struct, kw_only=True):
    """The VPS went online or offline at ``time``; ``reason`` says why, when known."""

    time: datetime
    status: VpsStatus
    reason: str

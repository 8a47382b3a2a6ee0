"""FROZEN: the metric tables as ``tests/frozen_rows.py`` knew them (before issue 12).

Today's registry entries less the columns added since, so the frozen conversion
validates its rows against the tables it was written for.
"""

from __future__ import annotations

import dataclasses

from collector.tables import (
    BIGINT_MAX,
    CONTAINER,
    DISK,
    DISK_IO,
    GENERIC,
    INT_MAX,
    NETWORK,
    TEMPERATURE,
    Table,
)
from collector.tables import HOST as _HOST_NOW

__all__ = [
    "ADDED_SINCE",
    "BIGINT_MAX",
    "CONTAINER",
    "DISK",
    "DISK_IO",
    "GENERIC",
    "HOST",
    "INT_MAX",
    "NETWORK",
    "TEMPERATURE",
    "Table",
]

# Columns added to the registry after the freeze, per table.
ADDED_SINCE: dict[str, tuple[str, ...]] = {"host_metrics": ("memory_shared_bytes",)}

HOST = dataclasses.replace(
    _HOST_NOW, columns=tuple(c for c in _HOST_NOW.columns if c.name not in ADDED_SINCE["host_metrics"])
)

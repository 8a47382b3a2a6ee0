"""The raw hypertables the collector writes, as ``common.metric_tables`` describes them.

Kept as the collector's name for the registry: ``Table`` is a
:class:`~common.metric_tables.MetricTable`, whose column order is the tuple
order of rows and whose ``copy_sql``/``pg_types`` drive the COPY.
"""

from __future__ import annotations

from common.metric_tables import (
    BIGINT_MAX,
    CONTAINER,
    DISK,
    DISK_IO,
    FLOAT_MAX,
    GENERIC,
    HOST,
    INT_MAX,
    METRIC_TABLES,
    NETWORK,
    TEMPERATURE,
    Check,
    Column,
)
from common.metric_tables import MetricTable as Table

__all__ = [
    "BIGINT_MAX",
    "CONTAINER",
    "DISK",
    "DISK_IO",
    "FLOAT_MAX",
    "GENERIC",
    "HOST",
    "INT_MAX",
    "NETWORK",
    "TABLES",
    "TEMPERATURE",
    "Check",
    "Column",
    "Table",
]

TABLES: dict[str, Table] = METRIC_TABLES

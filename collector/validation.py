"""Value rules for incoming batches. Pure: no I/O.

Every value an agent sends is checked against its column's rule before any of
the batch is queued, and the first failure names the field path, so the agent
log and the collector log say exactly what was wrong.

Rows are checked by ``collector.row_checks``, built from each table's column
rules when the module loads: it accepts exactly what the column-by-column loop
here accepts, at a fraction of the cost. Only a row it refuses goes through
the loop, which finds and names the bad field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from collector.row_checks import row_check
from collector.tables import BIGINT_MAX, FLOAT_MAX, INT_MAX, Check, Table

__all__ = ["BatchLimits", "InvalidBatch", "check_count", "check_row", "check_time", "row_check"]


class InvalidBatch(Exception):
    """The batch can never be stored as sent; ``str()`` names the field and the rule."""


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """Absurd counts are refused: they are bugs or attacks, never real hosts."""

    snapshots_per_batch: int = 3600
    cores: int = 1024
    disks: int = 256
    disk_devices: int = 512
    interfaces: int = 512
    temperatures: int = 256
    containers: int = 2000
    labels_per_item: int = 64
    label_bytes: int = 1024
    generic_metrics_per_batch: int = 20_000
    ports_per_container: int = 256


def check_count(path: str, count: int, limit: int) -> None:
    if count > limit:
        raise InvalidBatch(f"{path}: {count} items, more than the limit of {limit}")


def check_time(path: str, time_ms: int, *, now_ms: int, max_future_ms: int, max_age_ms: int) -> None:
    if time_ms <= 0:
        raise InvalidBatch(f"{path}: timestamp is missing or before 1970")
    if time_ms > now_ms + max_future_ms:
        raise InvalidBatch(
            f"{path}: timestamp {time_ms} is {(time_ms - now_ms) / 1000:.0f} s in the future "
            f"(limit {max_future_ms / 1000:.0f} s); check the agent's clock (NTP)"
        )
    if time_ms < now_ms - max_age_ms:
        raise InvalidBatch(
            f"{path}: timestamp {time_ms} is older than raw retention ({max_age_ms / 86_400_000:.1f} days)"
        )


def _bad(path: str, column: str, value: Any, check: Check) -> InvalidBatch:
    shown = repr(value)
    if len(shown) > 64:
        shown = shown[:61] + "..."
    return InvalidBatch(f"{path}.{column}: {shown} is not a {check.value}")


def check_row(table: Table, row: tuple[Any, ...], path: str) -> None:
    """Raise InvalidBatch naming ``path.<column>`` if a value breaks its rule.

    Time and vps_id (the first two columns) are set by the collector and
    checked elsewhere.
    """
    if not row_check(table)(row):  # also a malformed row: the loop below raises the error
        _check_each_column(table, row, path)


def _check_each_column(table: Table, row: tuple[Any, ...], path: str) -> None:
    for column, value in zip(table.columns[2:], row[2:], strict=True):
        check = column.check
        if check is Check.PERCENT:
            ok = isinstance(value, float) and 0.0 <= value <= 100.0  # NaN fails both comparisons
        elif check is Check.FLOAT_NONNEG:
            ok = isinstance(value, float) and 0.0 <= value <= FLOAT_MAX
        elif check is Check.FLOAT:
            ok = isinstance(value, float) and math.isfinite(value)
        elif check is Check.BIGINT_NONNEG:
            ok = isinstance(value, int) and 0 <= value <= BIGINT_MAX
        elif check is Check.INT_NONNEG:
            ok = isinstance(value, int) and 0 <= value <= INT_MAX
        elif check is Check.NAME:
            ok = isinstance(value, str) and 0 < len(value) <= 256 and "\x00" not in value
        elif check is Check.PATH:
            ok = isinstance(value, str) and len(value) <= 4096 and "\x00" not in value
        elif check is Check.PERCENT_ARRAY:
            ok = all(0.0 <= v <= 100.0 for v in value)
        elif check is Check.JSON:
            ok = isinstance(value, str) and "\\u0000" not in value
        else:  # pragma: no cover - every Check is handled above
            ok = False
        if not ok:
            raise _bad(path, column.name, value, check)

"""Value rules for incoming batches. Pure: no I/O.

Every value an agent sends is checked against its column's rule before any of
the batch is queued, and the first failure names the field path, so the agent
log and the collector log say exactly what was wrong.

Rows are checked by one function per table, generated from the table's column
rules (``row_check``): a single boolean expression that accepts exactly what
the column-by-column loop accepts, at a third of the cost. Only a row it
refuses goes through the loop, which finds and names the bad field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collector.tables import BIGINT_MAX, FLOAT_MAX, INT_MAX, TABLES, Check, Table

__all__ = ["BatchLimits", "InvalidBatch", "check_count", "check_row", "check_time", "row_check"]

RowCheck = Callable[[tuple[Any, ...]], bool]


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
    entry = _ROW_CHECKS.get(id(table))
    fast = entry[1] if entry is not None else row_check(table)
    try:
        ok = fast(row)
    except Exception:  # a malformed row: the loop below raises the same error
        ok = False
    if not ok:
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


# Each rule of _check_each_column as an expression over one value ``{v}``; for a
# float, ``-inf < v < inf`` is exactly math.isfinite(v). Keep the two in step:
# tests/unit/test_validation.py compares them on random rows.
_RULES: dict[Check, str] = {
    Check.PERCENT: "isinstance({v}, float) and 0.0 <= {v} <= 100.0",
    Check.FLOAT_NONNEG: f"isinstance({{v}}, float) and 0.0 <= {{v}} <= {FLOAT_MAX!r}",
    Check.FLOAT: "isinstance({v}, float) and -_inf < {v} < _inf",
    Check.BIGINT_NONNEG: f"isinstance({{v}}, int) and 0 <= {{v}} <= {BIGINT_MAX!r}",
    Check.INT_NONNEG: f"isinstance({{v}}, int) and 0 <= {{v}} <= {INT_MAX!r}",
    Check.NAME: "isinstance({v}, str) and 0 < len({v}) <= 256 and '\\x00' not in {v}",
    Check.PATH: "isinstance({v}, str) and len({v}) <= 4096 and '\\x00' not in {v}",
    Check.PERCENT_ARRAY: "all(0.0 <= x <= 100.0 for x in {v})",
    Check.JSON: "isinstance({v}, str) and '\\\\u0000' not in {v}",
}

# Keyed by id(): hashing a Table (all its columns) would cost more than the check.
# The Table is kept in the value, so its id cannot be reused.
_ROW_CHECKS: dict[int, tuple[Table, RowCheck]] = {}


def row_check(table: Table) -> RowCheck:
    """True if every value of a row satisfies its column's rule; compiled once per table.

    A row of the wrong length or shape may raise instead of returning False.
    """
    entry = _ROW_CHECKS.get(id(table))
    if entry is None:
        entry = _ROW_CHECKS[id(table)] = (table, _compile(table))
    return entry[1]


def _compile(table: Table) -> RowCheck:
    # The source comes only from our own table definitions, never from input.
    names = [f"v{i}" for i in range(len(table.columns))]
    tests = [
        f"({_RULES[c.check].format(v=name)})" if c.check in _RULES else "False"
        for c, name in zip(table.columns[2:], names[2:], strict=True)
    ]
    source = (
        "def row_ok(row):\n"
        f"    {', '.join(['_', '_', *names[2:]])}, = row\n"
        f"    return {' and '.join(tests) or 'True'}\n"
    )
    namespace: dict[str, Any] = {"_inf": math.inf}
    exec(compile(source, f"<row check for {table.name}>", "exec"), namespace)
    fn: RowCheck = namespace["row_ok"]
    return fn


for _table in TABLES.values():
    row_check(_table)

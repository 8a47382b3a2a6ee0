"""Fast value rules over many rows at once, built from the registry when the module loads.

``collector.validation._check_each_column`` is the reference: it walks one row
column by column and names the first bad field. Checking every row that way
costs a Python call per value. Here each table's columns are grouped by rule
(all its percentages, all its byte counters, ...), and one group is checked
for all the rows of a batch with a few C-level passes (``isinstance`` over
``map``, ``min``, ``max``, a ``sum`` that a NaN spoils, one joined string for NUL): the cost
per value is a few tens of nanoseconds, and there is no generated source.

A check answers True only if the reference would accept every row; a False
(or any exception) sends the caller to the reference, which finds and names
the field. ``tests/unit/test_row_check.py`` holds the two to the same answers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

from common.metric_tables import BIGINT_MAX, FLOAT_MAX, INT_MAX, METRIC_TABLES, Check, MetricTable

__all__ = ["RowsCheck", "row_check", "rows_check", "rows_ok"]

Row = tuple[Any, ...]
RowsCheck = Callable[[Sequence[Row]], bool]
ValuesOk = Callable[[list[Any]], bool]

# For a float, -max <= v <= max is exactly math.isfinite(v).
_FINITE = sys.float_info.max


# Each rule comes in two forms: for values of any type (the type is tested), and for
# values whose type their source guarantees (``typed``: a proto field of that type,
# see collector/row_checks_proto.py), which skip what the type already ensures.


def _floats_within(low: float, high: float, *, typed: bool = False) -> ValuesOk:
    def bounds(values: list[Any]) -> bool:
        # NaN compares false both ways and can hide from min/max. A NaN makes the
        # sum NaN; without one, values within finite bounds cannot make it NaN
        # (an overflow gives an infinity, never inf - inf). One C loop, no call per value.
        total: float = sum(values)
        return total == total and low <= min(values) and max(values) <= high

    if typed:
        return bounds
    return lambda values: all(map(isinstance, values, repeat(float))) and bounds(values)


def _ints_within(high: int, *, typed: bool = False) -> ValuesOk:
    if typed:  # an unsigned proto integer: never negative
        return lambda values: max(values) <= high
    return lambda values: (
        all(map(isinstance, values, repeat(int))) and min(values) >= 0 and max(values) <= high
    )


def _texts(min_length: int, max_length: int, *, typed: bool = False) -> ValuesOk:
    def ok(values: list[Any]) -> bool:
        if not typed and not all(map(isinstance, values, repeat(str))):
            return False
        lengths = list(map(len, values))
        return min(lengths) >= min_length and max(lengths) <= max_length and "\x00" not in "".join(values)

    return ok


def _percent_arrays(values: list[Any]) -> bool:
    # The reference compares each element (0.0 <= v <= 100.0) without a type test.
    flat = list(chain.from_iterable(values))
    if not flat:
        return True
    # Bounds first: past them every element is a number within 0..100, so the sum is NaN
    # only if an element is.
    if not (min(flat) >= 0.0 and max(flat) <= 100.0):
        return False
    total = sum(flat)
    return total == total  # type: ignore[no-any-return]


def _labels(values: list[Any]) -> bool:
    # Joined with NUL, which the pattern lacks, so no match can span two values.
    return all(map(isinstance, values, repeat(str))) and "\\u0000" not in "\x00".join(values)


_RULES: dict[Check, ValuesOk] = {
    Check.PERCENT: _floats_within(0.0, 100.0),
    Check.FLOAT_NONNEG: _floats_within(0.0, FLOAT_MAX),
    Check.FLOAT: _floats_within(-_FINITE, _FINITE),
    Check.BIGINT_NONNEG: _ints_within(BIGINT_MAX),
    Check.INT_NONNEG: _ints_within(INT_MAX),
    Check.NAME: _texts(1, 256),
    Check.PATH: _texts(0, 4096),
    Check.PERCENT_ARRAY: _percent_arrays,
    Check.JSON: _labels,
}
# For values whose Python type is guaranteed: float, a non-negative int, str.
_TYPED_RULES: dict[Check, ValuesOk] = {
    Check.PERCENT: _floats_within(0.0, 100.0, typed=True),
    Check.FLOAT_NONNEG: _floats_within(0.0, FLOAT_MAX, typed=True),
    Check.FLOAT: _floats_within(-_FINITE, _FINITE, typed=True),
    Check.BIGINT_NONNEG: _ints_within(BIGINT_MAX, typed=True),
    Check.INT_NONNEG: _ints_within(INT_MAX, typed=True),
    Check.NAME: _texts(1, 256, typed=True),
    Check.PATH: _texts(0, 4096, typed=True),
}


def _group(indices: list[int], rule: ValuesOk) -> RowsCheck:
    """One rule over the given columns of every row."""
    if len(indices) == 1:
        one = itemgetter(indices[0])
        return lambda rows: rule(list(map(one, rows)))
    several = itemgetter(*indices)
    return lambda rows: rule(list(chain.from_iterable(map(several, rows))))


def _build(table: MetricTable, typed: frozenset[int]) -> RowsCheck:
    by_rule: dict[tuple[Check, bool], list[int]] = {}
    width = len(table.columns)
    for index, column in enumerate(table.columns[2:], start=2):  # time and vps_id: set by the collector
        proven = index in typed and column.check in _TYPED_RULES
        by_rule.setdefault((column.check, proven), []).append(index)
    if any(check not in _RULES for check, _ in by_rule):
        return lambda rows: False  # a rule only the reference knows
    groups = [
        _group(indices, (_TYPED_RULES if proven else _RULES)[check])
        for (check, proven), indices in by_rule.items()
    ]

    def check(rows: Sequence[Row]) -> bool:
        if not rows:
            return True
        try:
            # A row of another width goes to the reference, which refuses it.
            if set(map(len, rows)) != {width}:
                return False
            for group in groups:  # noqa: SIM110 - a plain loop: no generator object per call
                if not group(rows):
                    return False
            return True
        except Exception:  # a value of a type no rule expects: the reference decides
            return False

    return check


# Keyed by id(): hashing a table (all its columns) would cost more than the check.
# The table is kept in the value, so its id cannot be reused.
_CHECKS: dict[tuple[int, frozenset[int]], tuple[MetricTable, RowsCheck]] = {}


def rows_check(table: MetricTable, typed: frozenset[int] = frozenset()) -> RowsCheck:
    """The table's check over many rows; built once per table.

    ``typed``: the indices of columns whose values are known to be of their rule's
    Python type (float; int, and never negative; str). Only a caller that knows it,
    from where the values come, may pass them: the type is then not tested again.
    """
    entry = _CHECKS.get((id(table), typed))
    if entry is None:
        entry = _CHECKS[(id(table), typed)] = (table, _build(table, typed))
    return entry[1]


def rows_ok(table: MetricTable, rows: Sequence[Row]) -> bool:
    """True if the reference would accept every row."""
    return rows_check(table)(rows)


def row_check(table: MetricTable) -> Callable[[Row], bool]:
    """The same for one row."""
    check = rows_check(table)
    return lambda row: check((row,))


for _table in METRIC_TABLES.values():
    rows_check(_table)

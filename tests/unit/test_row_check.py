"""Conversion fast paths: the registry-built row check accepts exactly what the column rules accept,
and remembered label JSON is still checked per call."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector import tables
from collector.rows import TimeRules, _labels_json, convert_batch
from collector.tables import BIGINT_MAX, FLOAT_MAX, INT_MAX, Check, Table
from collector.validation import BatchLimits, InvalidBatch, _check_each_column, check_row, row_check
from tests.factories import docker_batch, performance_batch

NOW_MS = 1_800_000_000_000
RULES = TimeRules(now_ms=NOW_MS, max_future_ms=300_000, max_age_ms=7 * 86_400_000)

_EDGE_FLOATS = [
    0.0,
    -0.0,
    100.0,
    math.nextafter(100.0, math.inf),
    -1e-300,
    FLOAT_MAX,
    math.nextafter(FLOAT_MAX, math.inf),
    1e308,
    -1e308,
    math.inf,
    -math.inf,
    math.nan,
]
_EDGE_INTS = [0, 1, -1, INT_MAX, INT_MAX + 1, 2**32 - 1, BIGINT_MAX, BIGINT_MAX + 1, 2**64 - 1, True, False]
_EDGE_TEXT = [
    "",
    "a",
    "\x00",
    "a\x00b",
    "\\u0000",
    '{"k": "\\u0000"}',
    "x" * 256,
    "x" * 257,
    "/" * 4096,
    "/" * 4097,
]

floats = st.floats() | st.sampled_from(_EDGE_FLOATS)
ints = st.integers(min_value=-(2**65), max_value=2**65) | st.sampled_from(_EDGE_INTS)
texts = st.text(alphabet=st.sampled_from('a/é\x00\\u0{}"'), max_size=300) | st.sampled_from(_EDGE_TEXT)
anything = floats | ints | texts | st.none() | st.lists(floats | ints, max_size=3)
clean_text = st.text(alphabet=st.sampled_from("a/é{}: "), max_size=300)

# Values that pass their rule (edges included), so whole rows are often valid.
_VALID: dict[Check, st.SearchStrategy[Any]] = {
    Check.FLOAT: st.floats(allow_nan=False, allow_infinity=False),
    Check.FLOAT_NONNEG: st.floats(0.0, FLOAT_MAX),
    Check.PERCENT: st.floats(0.0, 100.0),
    Check.BIGINT_NONNEG: st.integers(0, BIGINT_MAX),
    Check.INT_NONNEG: st.integers(0, INT_MAX),
    Check.NAME: clean_text.filter(lambda t: 0 < len(t) <= 256),
    Check.PATH: clean_text,
    Check.JSON: clean_text,
    Check.PERCENT_ARRAY: st.lists(st.floats(0.0, 100.0) | st.integers(0, 100), max_size=6),
}


@st.composite
def rows(draw: st.DrawFn) -> tuple[Table, tuple[Any, ...]]:
    """A valid row of one table, with up to three values replaced by edge cases or anything."""
    table = draw(st.sampled_from(list(tables.TABLES.values())))
    values = [None, 1, *(draw(_VALID[c.check]) for c in table.columns[2:])]
    for index in draw(st.lists(st.integers(2, len(values) - 1), max_size=3)):
        if table.columns[index].check is Check.PERCENT_ARRAY:
            # Only numbers: anything else makes the loop itself raise TypeError.
            values[index] = draw(st.lists(floats | ints, max_size=4))
        else:
            values[index] = draw(anything)
    return table, tuple(values)


def loop_accepts(table: Table, row: tuple[Any, ...]) -> bool:
    """The reference: the column-by-column loop that names the field."""
    try:
        _check_each_column(table, row, "x")
    except InvalidBatch:
        return False
    return True


@settings(max_examples=3000)
@given(rows())
def test_compiled_check_agrees_with_the_column_loop(case: tuple[Table, tuple[Any, ...]]) -> None:
    table, row = case
    accepted = loop_accepts(table, row)
    assert row_check(table)(row) is accepted
    if accepted:
        check_row(table, row, "x")
    else:
        with pytest.raises(InvalidBatch) as fast:
            check_row(table, row, "snapshots[1]")
        with pytest.raises(InvalidBatch) as slow:
            _check_each_column(table, row, "snapshots[1]")
        assert str(fast.value) == str(slow.value)


def test_realistic_rows_take_the_fast_path() -> None:
    """The factories' batches pass the compiled check itself, not only the loop behind it."""
    t0 = NOW_MS - 60_000
    batches = [
        convert_batch("performance_batch", performance_batch(1, [t0 + i * 1000 for i in range(5)]), 1, RULES),
        convert_batch("docker_batch", docker_batch(2, t0), 1, RULES),
    ]
    checked = 0
    for converted in batches:
        for name, table_rows in converted.rows.items():
            check = row_check(tables.TABLES[name])
            assert all(check(row) for row in table_rows), name
            checked += len(table_rows)
    assert checked == 5 * 10 + 10


@pytest.mark.parametrize("cut", [1, -1])
def test_a_row_of_the_wrong_length_fails_as_the_loop_does(cut: int) -> None:
    good = (None, 1, "cpu", 40.0)
    row = good[:cut] if cut < 0 else (*good, 1.0)
    with pytest.raises(ValueError, match="zip"):
        check_row(tables.TEMPERATURE, row, "x")
    with pytest.raises(InvalidBatch, match=r"^x\.sensor: "):
        check_row(tables.TEMPERATURE, (None, 1, "", *row[3:]), "x")


def test_a_table_defined_elsewhere_is_compiled_on_first_use() -> None:
    table = Table("t", (tables.Column("time", Check.TIME), tables.Column("vps_id", Check.ID)))
    check_row(table, (None, 1), "x")
    wide = Table("w", (*table.columns, tables.Column("n", Check.INT_NONNEG)))
    with pytest.raises(InvalidBatch, match=r"^x\.n: -1 is not a non-negative integer below 2\^31$"):
        check_row(wide, (None, 1, -1), "x")


def test_remembered_labels_are_still_checked_against_each_call_s_limits() -> None:
    labels = {"role": "web", "tier": "ünï"}
    first = _labels_json(labels, "containers[0]", BatchLimits())
    assert first == '{"role": "web", "tier": "ünï"}'
    assert _labels_json(dict(reversed(labels.items())), "containers[1]", BatchLimits()) == first
    with pytest.raises(InvalidBatch, match=r"^containers\[2\]\.labels: too large$"):
        _labels_json(labels, "containers[2]", BatchLimits(label_bytes=1, labels_per_item=2))
    with pytest.raises(InvalidBatch, match=r"^containers\[3\]\.labels: 2 items, more than the limit of 1$"):
        _labels_json(labels, "containers[3]", BatchLimits(labels_per_item=1))
    for attempt in range(2):  # refused every time, never remembered
        with pytest.raises(InvalidBatch, match=r"labels: a key or value contains NUL$"):
            _labels_json({"k": "v\x00"}, f"containers[{attempt}]", BatchLimits())

"""Value rules per column check, time rules and count limits."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from collector import tables
from collector.tables import BIGINT_MAX, FLOAT_MAX, INT_MAX, Check, Table
from collector.validation import InvalidBatch, check_count, check_row, check_time

_VALID: dict[Check, Any] = {
    Check.TIME: datetime(2026, 1, 1, tzinfo=UTC),
    Check.ID: 1,
    Check.FLOAT: 1.5,
    Check.FLOAT_NONNEG: 1.5,
    Check.PERCENT: 50.0,
    Check.BIGINT_NONNEG: 1,
    Check.INT_NONNEG: 1,
    Check.NAME: "eth0",
    Check.PATH: "/",
    Check.PERCENT_ARRAY: [1.0, 2.0],
    Check.JSON: "{}",
}


def row_with(table: Table, column: str, value: Any) -> tuple[Any, ...]:
    """A valid row for ``table`` with one column replaced."""
    names = [c.name for c in table.columns]
    assert column in names, column
    return tuple(value if c.name == column else _VALID[c.check] for c in table.columns)


def test_every_table_has_a_valid_row() -> None:
    for table in tables.TABLES.values():
        check_row(table, tuple(_VALID[c.check] for c in table.columns), "x")


CASES: list[tuple[Table, str, Any, bool]] = [
    # percentages
    (tables.HOST, "cpu_percent", 0.0, True),
    (tables.HOST, "cpu_percent", -0.0, True),
    (tables.HOST, "cpu_percent", 100.0, True),
    (tables.HOST, "cpu_percent", math.nan, False),
    (tables.HOST, "cpu_percent", math.inf, False),
    (tables.HOST, "cpu_percent", -1e-9, False),
    (tables.HOST, "cpu_percent", math.nextafter(100.0, math.inf), False),
    (tables.HOST, "cpu_percent", 50, False),  # an int where a double belongs
    (tables.HOST, "cpu_per_core_percent", [], True),
    (tables.HOST, "cpu_per_core_percent", [0.0, 100.0], True),
    (tables.HOST, "cpu_per_core_percent", [1.0, math.nan], False),
    (tables.HOST, "cpu_per_core_percent", [101.0], False),
    # non-negative floats, capped so rollup sums cannot overflow
    (tables.HOST, "load_1", 0.0, True),
    (tables.HOST, "load_1", FLOAT_MAX, True),
    (tables.HOST, "load_1", math.nextafter(FLOAT_MAX, math.inf), False),
    (tables.HOST, "load_1", 1e308, False),
    (tables.HOST, "load_1", -1.0, False),
    (tables.HOST, "load_1", math.inf, False),
    (tables.HOST, "load_1", math.nan, False),
    (tables.NETWORK, "rx_bytes_per_second", -math.inf, False),
    # any finite float
    (tables.TEMPERATURE, "celsius", -273.15, True),
    (tables.TEMPERATURE, "celsius", -1e308, True),
    (tables.TEMPERATURE, "celsius", math.inf, False),
    (tables.GENERIC, "value", math.nan, False),
    # integers
    (tables.HOST, "memory_used_bytes", 0, True),
    (tables.HOST, "memory_used_bytes", BIGINT_MAX, True),
    (tables.HOST, "memory_used_bytes", BIGINT_MAX + 1, False),
    (tables.HOST, "memory_used_bytes", -1, False),
    (tables.HOST, "memory_used_bytes", 1.0, False),
    (tables.HOST, "tcp_connections", INT_MAX, True),
    (tables.HOST, "tcp_connections", INT_MAX + 1, False),
    (tables.CONTAINER, "pids", 2**32 - 1, False),
    # names: 1..256 characters, no NUL
    (tables.NETWORK, "interface", "", False),
    (tables.NETWORK, "interface", "i" * 256, True),
    (tables.NETWORK, "interface", "i" * 257, False),
    (tables.NETWORK, "interface", "et\x00h0", False),
    (tables.NETWORK, "interface", "über-0", True),
    # paths: up to 4096 characters (empty allowed), no NUL
    (tables.DISK, "fstype", "", True),
    (tables.DISK, "mountpoint", "/" * 4096, True),
    (tables.DISK, "mountpoint", "/" * 4097, False),
    (tables.DISK, "device", "/dev/\x00", False),
    # labels as JSON text: jsonb refuses \u0000
    (tables.GENERIC, "labels", '{"a": "b"}', True),
    (tables.GENERIC, "labels", '{"a": "\\u0000"}', False),
]


@pytest.mark.parametrize(
    ("table", "column", "value", "ok"),
    CASES,
    ids=[f"{t.name}.{c}={v!r:.30}" for t, c, v, _ in CASES],
)
def test_column_rules(table: Table, column: str, value: Any, ok: bool) -> None:
    row = row_with(table, column, value)
    if ok:
        check_row(table, row, "snapshots[3]")
    else:
        check = next(c.check for c in table.columns if c.name == column)
        with pytest.raises(InvalidBatch) as error:
            check_row(table, row, "snapshots[3]")
        assert str(error.value).startswith(f"snapshots[3].{column}: ")
        assert str(error.value).endswith(f"is not a {check.value}")


def test_the_first_bad_column_is_named_and_long_values_are_cut() -> None:
    row = row_with(tables.DISK, "mountpoint", "\x00" + "m" * 5000)
    with pytest.raises(InvalidBatch) as error:
        check_row(tables.DISK, row, "snapshots[0].disks[2]")
    message = str(error.value)
    assert message.startswith("snapshots[0].disks[2].mountpoint: '\\x00mmm")
    assert "..." in message and len(message) < 200


def test_time_and_vps_id_are_not_checked_here() -> None:
    row = (None, None, *row_with(tables.TEMPERATURE, "celsius", 20.0)[2:])
    check_row(tables.TEMPERATURE, row, "x")


NOW_MS = 1_800_000_000_000


@pytest.mark.parametrize(
    ("time_ms", "message"),
    [
        (0, "timestamp is missing or before 1970"),
        (-1, "timestamp is missing or before 1970"),
        (-(2**63), "timestamp is missing or before 1970"),
        (NOW_MS + 301_000, "301 s in the future (limit 300 s); check the agent's clock (NTP)"),
        (NOW_MS + 300_001, "in the future"),
        (2**63 - 1, "in the future"),
        (NOW_MS - 7 * 86_400_000 - 1, "older than raw retention (7.0 days)"),
        (1, "older than raw retention"),
    ],
)
def test_bad_times_are_named(time_ms: int, message: str) -> None:
    with pytest.raises(InvalidBatch) as error:
        check_time(
            "snapshots[1].timestamp_unix_ms",
            time_ms,
            now_ms=NOW_MS,
            max_future_ms=300_000,
            max_age_ms=7 * 86_400_000,
        )
    assert str(error.value).startswith("snapshots[1].timestamp_unix_ms: ")
    assert message in str(error.value)


@pytest.mark.parametrize("time_ms", [NOW_MS, NOW_MS + 300_000, NOW_MS - 7 * 86_400_000, NOW_MS - 1])
def test_times_within_the_window_pass(time_ms: int) -> None:
    check_time("t", time_ms, now_ms=NOW_MS, max_future_ms=300_000, max_age_ms=7 * 86_400_000)


def test_counts_up_to_the_limit_pass() -> None:
    check_count("snapshots[0].cpu_per_core_percent", 1024, 1024)
    with pytest.raises(
        InvalidBatch, match=r"^snapshots\[0\]\.cpu_per_core_percent: 1025 items, more than the limit of 1024$"
    ):
        check_count("snapshots[0].cpu_per_core_percent", 1025, 1024)

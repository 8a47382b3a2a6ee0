"""The resolution rule and time parsing: pure, fast, exhaustive."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.metrics.resolution import (
    MAX_RANGE,
    TIER_WIDTHS,
    Coverage,
    WindowError,
    choose_plan,
    parse_instant,
    resolve_window,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
COVERAGE = Coverage(now=NOW, raw_keep=timedelta(days=7), keep_1m=timedelta(days=90))


def _plan(width: timedelta, requested: str = "auto", max_points: int = 1500) -> tuple[str, timedelta]:
    plan = choose_plan(NOW - width, NOW, requested, max_points, COVERAGE)  # type: ignore[arg-type]
    return plan.resolution, plan.step


@pytest.mark.parametrize(
    ("width", "expected"),
    [
        (timedelta(minutes=15), ("raw", timedelta(seconds=1))),
        (timedelta(hours=1), ("raw", timedelta(seconds=5))),
        (timedelta(hours=6), ("raw", timedelta(seconds=15))),
        (timedelta(hours=12), ("raw", timedelta(seconds=30))),
        (timedelta(hours=24), ("1m", timedelta(minutes=1))),
        (timedelta(days=7), ("1m", timedelta(minutes=10))),
        (timedelta(days=20), ("1m", timedelta(minutes=30))),
        # 720 hourly buckets are at least a third of 1,500: the 1-hour tier answers.
        (timedelta(days=30), ("1h", timedelta(hours=1))),
        (timedelta(days=90), ("1h", timedelta(hours=2))),
        (timedelta(days=730), ("1h", timedelta(hours=12))),
        (timedelta(days=2900), ("1h", timedelta(days=2))),
    ],
)
def test_auto_picks_the_tier_by_range_and_points(width: timedelta, expected: tuple[str, timedelta]) -> None:
    assert _plan(width) == expected


def test_ranges_past_retention_fall_back_to_coarser_tiers() -> None:
    old = NOW - timedelta(days=10)
    assert choose_plan(old, old + timedelta(hours=1), "auto", 1500, COVERAGE).resolution == "1m"
    ancient = NOW - timedelta(days=200)
    plan = choose_plan(ancient, ancient + timedelta(hours=1), "auto", 1500, COVERAGE)
    assert (plan.resolution, plan.step) == ("1h", timedelta(hours=1))


def test_explicit_tiers_keep_their_native_width_at_least() -> None:
    assert _plan(timedelta(minutes=10), "1h") == ("1h", timedelta(hours=1))
    assert _plan(timedelta(minutes=10), "1m") == ("1m", timedelta(minutes=1))
    assert _plan(timedelta(days=7), "raw") == ("raw", timedelta(minutes=10))


@given(
    width_s=st.integers(min_value=1, max_value=int(MAX_RANGE.total_seconds())),
    max_points=st.integers(min_value=2, max_value=20_000),
    requested=st.sampled_from(["auto", "raw", "1m", "1h"]),
    offset_s=st.integers(min_value=0, max_value=86_400 * 400),
)
def test_no_series_ever_exceeds_the_point_limit(
    width_s: int, max_points: int, requested: str, offset_s: int
) -> None:
    start = NOW - timedelta(seconds=offset_s + width_s)
    plan = choose_plan(start, start + timedelta(seconds=width_s), requested, max_points, COVERAGE)  # type: ignore[arg-type]
    # Aligned buckets touched by [start, end): at most ceil(width / step) + 1.
    step_s = plan.step.total_seconds()
    first = math.floor(start.timestamp() / step_s)
    last = math.floor((start.timestamp() + width_s - 1e-6) / step_s)
    assert last - first + 1 <= max_points
    assert plan.step >= TIER_WIDTHS[plan.resolution]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1700000000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("2025-01-31T12:00:00Z", datetime(2025, 1, 31, 12, tzinfo=UTC)),
        ("2025-01-31T12:00:00", datetime(2025, 1, 31, 12, tzinfo=UTC)),
        ("2025-01-31T14:00:00+02:00", datetime(2025, 1, 31, 12, tzinfo=UTC)),
        ("2025-01-31 12:00:00.5z", datetime(2025, 1, 31, 12, 0, 0, 500000, tzinfo=UTC)),
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_instants_parse_as_utc(text: str, expected: datetime) -> None:
    assert parse_instant(text, "from") == expected


@pytest.mark.parametrize(
    "text",
    [
        *("NaN", "inf", "-1", "1e12", "", "now", "2025-02-30", "253402300800000", "1;DROP"),
        # Only ASCII digits, RFC 3339 date-times and 1970..9999 (issue 10, items 3 and 7).
        *("\u0661\u0667\u0660\u0660", "\uff11\uff17\uff10\uff10", " 1700000000000", "1700000000000\n"),
        *("2025-01-31", "20250131T120000Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59"),
    ],
)
def test_bad_instants_name_the_field(text: str) -> None:
    with pytest.raises(WindowError) as caught:
        parse_instant(text, "to")
    assert caught.value.field == "to"


def test_windows_default_and_must_be_ordered_and_bounded() -> None:
    assert resolve_window(None, None, NOW) == (NOW - timedelta(hours=1), NOW)
    assert resolve_window("2025-06-01T11:00:00Z", None, NOW)[0] == NOW - timedelta(hours=1)
    assert resolve_window("2025-06-01T12:00:00Z", "2025-06-01T12:00:00Z", NOW) == (NOW, NOW)
    with pytest.raises(WindowError, match="must not be after"):
        resolve_window("2025-06-01T13:00:00Z", "2025-06-01T12:00:00Z", NOW)
    # Longer than MAX_RANGE: clipped to it, ending at to.
    assert resolve_window("1990-01-01T00:00:00Z", None, NOW) == (NOW - MAX_RANGE, NOW)
    with pytest.raises(WindowError, match="outside") as caught:
        resolve_window(None, "0001-01-01T00:00:00Z", NOW)  # was an OverflowError: a 500
    assert caught.value.field == "to"

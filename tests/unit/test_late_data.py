"""Ranges late data touched, and the Community edition's refresh windows built from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collector.cagg_refresh import refresh_windows
from collector.late_data import merge_ranges

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_overlapping_and_close_ranges_join_and_others_stay_apart() -> None:
    ranges = [(at(10), at(12)), (at(0), at(3)), (at(2), at(5)), (at(5.5), at(6)), (at(100), at(101))]
    assert merge_ranges(ranges) == [(at(0), at(5)), (at(5.5), at(6)), (at(10), at(12)), (at(100), at(101))]
    assert merge_ranges(ranges, MINUTE) == [(at(0), at(6)), (at(10), at(12)), (at(100), at(101))]
    assert merge_ranges([]) == []


def test_a_contained_range_changes_nothing() -> None:
    assert merge_ranges([(at(0), at(60)), (at(10), at(20))]) == [(at(0), at(60))]


def test_windows_are_the_recent_one_and_exactly_the_late_ranges() -> None:
    now_bucket = at(24 * 60)
    recent_from = now_bucket - timedelta(minutes=15)
    four_hours = (now_bucket - 4 * HOUR, now_bucket - 4 * HOUR + 20 * MINUTE)
    three_days = (now_bucket - timedelta(days=3), now_bucket - timedelta(days=3) + 20 * MINUTE)
    assert refresh_windows(MINUTE, recent_from, now_bucket, [four_hours, three_days]) == [
        three_days,
        four_hours,
        (recent_from, now_bucket),
    ]


def test_a_late_range_reaching_the_recent_window_joins_it() -> None:
    now_bucket = at(600)
    recent_from = at(585)
    assert refresh_windows(MINUTE, recent_from, now_bucket, [(at(570), at(590))]) == [(at(570), now_bucket)]


def test_the_current_bucket_is_left_to_real_time_aggregation() -> None:
    now_bucket = at(600)
    windows = refresh_windows(HOUR, now_bucket, now_bucket, [(now_bucket, now_bucket + HOUR)])
    # The recent window still covers one whole bucket; the still-filling one is not refreshed.
    assert windows == [(now_bucket - HOUR, now_bucket)]

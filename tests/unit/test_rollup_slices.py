from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collector.rollup_backlog import slices

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_slices_cover_the_range_without_gaps_or_overlap() -> None:
    got = list(slices(T0, T0 + timedelta(days=2, hours=5), timedelta(days=1)))
    assert got == [
        (T0, T0 + timedelta(days=1)),
        (T0 + timedelta(days=1), T0 + timedelta(days=2)),
        (T0 + timedelta(days=2), T0 + timedelta(days=2, hours=5)),
    ]


def test_an_empty_range_has_no_slices() -> None:
    assert list(slices(T0, T0, timedelta(days=1))) == []

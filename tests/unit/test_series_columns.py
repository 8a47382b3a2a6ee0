"""``to_columns``: tuple rows of a series query, transposed into one columnar dict per series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api.metrics.series import DISKS, HOST, to_columns

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def test_one_series_without_a_key() -> None:
    values = [tuple(float(i * 100 + j) for j in range(len(HOST.fields))) for i in range(3)]
    rows: list[tuple[Any, ...]] = [(T0 + timedelta(minutes=i), *v) for i, v in enumerate(values)]
    out = to_columns(HOST, rows)
    assert list(out) == [None]
    series = out[None]
    assert list(series) == ["time_ms", *(f.name for f in HOST.fields)]
    assert series["time_ms"] == [_ms(T0 + timedelta(minutes=i)) for i in range(3)]
    for j, f in enumerate(HOST.fields):
        assert series[f.name] == [v[j] for v in values]


def test_rows_split_by_series_key_in_order() -> None:
    width = len(DISKS.fields)
    rows: list[tuple[Any, ...]] = [
        (T0, "/", *([1] * width)),
        (T0 + timedelta(hours=1), "/", *([2] * width)),
        (T0, "/data", *([None] * width)),
    ]
    out = to_columns(DISKS, rows)
    assert list(out) == ["/", "/data"]
    assert out["/"]["time_ms"] == [_ms(T0), _ms(T0 + timedelta(hours=1))]
    assert out["/"][DISKS.fields[0].name] == [1, 2]
    assert out["/data"] == {"time_ms": [_ms(T0)], **{f.name: [None] for f in DISKS.fields}}


def test_no_rows_no_series() -> None:
    assert to_columns(DISKS, []) == {}

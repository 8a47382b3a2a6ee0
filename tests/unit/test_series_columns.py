"""``to_columns``: tuple rows of a series query (epoch-ms bucket first), transposed into one
columnar dict per series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api.metrics.series import CONTAINER_LABELS, CONTAINERS, DISKS, HOST, columns_of, to_columns

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def test_one_series_without_a_key() -> None:
    values = [tuple(float(i * 100 + j) for j in range(len(HOST.fields))) for i in range(3)]
    rows: list[tuple[Any, ...]] = [(_ms(T0 + timedelta(minutes=i)), *v) for i, v in enumerate(values)]
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
        (_ms(T0), "/", *([1] * width)),
        (_ms(T0 + timedelta(hours=1)), "/", *([2] * width)),
        (_ms(T0), "/data", *([None] * width)),
    ]
    out = to_columns(DISKS, rows)
    assert list(out) == ["/", "/data"]
    assert out["/"]["time_ms"] == [_ms(T0), _ms(T0 + timedelta(hours=1))]
    assert out["/"][DISKS.fields[0].name] == [1, 2]
    assert out["/data"] == {"time_ms": [_ms(T0)], **{f.name: [None] for f in DISKS.fields}}


def test_no_rows_no_series() -> None:
    assert to_columns(DISKS, []) == {}


def test_label_columns_come_once_per_series_and_null_is_empty() -> None:
    width = len(CONTAINERS.fields)
    rows: list[tuple[Any, ...]] = [
        (_ms(T0), "c1", *([1.0] * width), "web", "nginx"),
        (_ms(T0 + timedelta(minutes=1)), "c1", *([2.0] * width), "web", "nginx"),
        (_ms(T0), "c2", *([3.0] * width), None, None),
    ]
    out = to_columns(CONTAINERS, rows, CONTAINER_LABELS)
    assert list(out) == ["c1", "c2"]
    assert (out["c1"]["name"], out["c1"]["image"]) == ("web", "nginx")
    assert out["c1"][CONTAINERS.fields[-1].name] == [1.0, 2.0]
    assert out["c1"]["time_ms"] == [_ms(T0), _ms(T0 + timedelta(minutes=1))]
    # No record of the container: empty name and image, as before.
    assert (out["c2"]["name"], out["c2"]["image"]) == ("", "")
    assert out["c2"][CONTAINERS.fields[0].name] == [3.0]


# columns_of: rows of the columnar statement (one per series, one list per column).


def test_columnar_row_without_a_key() -> None:
    times = [_ms(T0 + timedelta(minutes=i)) for i in range(3)]
    columns = [[float(i * 100 + j) for i in range(3)] for j in range(len(HOST.fields))]
    out = columns_of(HOST, [(times, *columns)])
    assert list(out) == [None]
    assert out[None] == {"time_ms": times, **{f.name: columns[j] for j, f in enumerate(HOST.fields)}}


def test_columnar_rows_one_per_series_key_in_order() -> None:
    width = len(DISKS.fields)
    rows: list[tuple[Any, ...]] = [
        ("/", [_ms(T0), _ms(T0 + timedelta(hours=1))], *([[1, 2]] * width)),
        ("/data", [_ms(T0)], *([[None]] * width)),
    ]
    out = columns_of(DISKS, rows)
    assert list(out) == ["/", "/data"]
    assert out["/"]["time_ms"] == [_ms(T0), _ms(T0 + timedelta(hours=1))]
    assert out["/"][DISKS.fields[0].name] == [1, 2]
    assert out["/data"] == {"time_ms": [_ms(T0)], **{f.name: [None] for f in DISKS.fields}}


def test_columnar_no_rows_no_series() -> None:
    assert columns_of(DISKS, []) == {}


def test_columnar_labels_once_per_series_and_null_is_empty() -> None:
    width = len(CONTAINERS.fields)
    rows: list[tuple[Any, ...]] = [
        ("c1", [_ms(T0), _ms(T0 + timedelta(minutes=1))], *([[1.0, 2.0]] * width), "web", "nginx"),
        ("c2", [_ms(T0)], *([[3.0]] * width), None, None),
    ]
    out = columns_of(CONTAINERS, rows, CONTAINER_LABELS)
    assert list(out) == ["c1", "c2"]
    assert (out["c1"]["name"], out["c1"]["image"]) == ("web", "nginx")
    assert out["c1"][CONTAINERS.fields[-1].name] == [1.0, 2.0]
    # No record of the container: empty name and image, as with row results.
    assert (out["c2"]["name"], out["c2"]["image"]) == ("", "")
    assert out["c2"][CONTAINERS.fields[0].name] == [3.0]

"""History ranges, URL state, zoom reading, captions and the new units: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from common.api_models import HostSeries
from dashboards.history.captions import describe_range, describe_resolution, describe_timezone
from dashboards.history.ranges import (
    DEFAULT_PRESET,
    MIN_SPAN_MS,
    PRESETS,
    HistoryRange,
    from_local_input,
    from_query,
    from_store,
    iso_utc,
    parse_iso_utc,
    to_local_input,
    zoomed_range,
)
from dashboards.units import bit_rate_scale, format_bit_rate, format_utc_offset, si_scale

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000


def test_presets_are_the_promised_ones() -> None:
    assert list(PRESETS) == ["1h", "6h", "24h", "7d", "30d", "90d", "1y"]
    assert PRESETS["1y"] == 365 * 24 * HOUR and PRESETS["90d"] == 90 * 24 * HOUR
    assert DEFAULT_PRESET == "1h"


def test_a_preset_ends_now_and_a_fixed_range_does_not_move() -> None:
    assert HistoryRange("6h").bounds(T0) == (T0 - 6 * HOUR, T0)
    fixed = HistoryRange.fixed(T0, T0 + HOUR)
    assert fixed.bounds(T0 + 99 * HOUR) == (T0, T0 + HOUR)


@pytest.mark.parametrize(
    "shown",
    [
        HistoryRange("24h"),
        HistoryRange("1y"),
        HistoryRange.fixed(T0, T0 + 90_000),
        HistoryRange.fixed(0, T0),
        HistoryRange.fixed(T0, T0 + HOUR, "30d"),
    ],
)
def test_the_url_and_the_store_reproduce_the_range(shown: HistoryRange) -> None:
    query = dict(pair.split("=", 1) for pair in shown.query().lstrip("?").split("&"))
    assert from_query(query) == shown
    assert from_store(shown.store()) == shown


def test_the_url_reads_as_text() -> None:
    assert HistoryRange("7d").query() == "?range=7d"
    assert HistoryRange.fixed(T0, T0 + HOUR).query() == "?from=2026-01-01T00:00:00Z&to=2026-01-01T01:00:00Z"
    assert HistoryRange.fixed(T0, T0 + HOUR, "6h").query().endswith("Z&back=6h")


def test_fixed_ranges_are_whole_seconds_and_never_narrower_than_a_minute() -> None:
    assert HistoryRange.fixed(T0 + 1_400, T0 + HOUR + 1).bounds(0) == (T0 + 1_000, T0 + HOUR + 1_000)
    narrow = HistoryRange.fixed(T0, T0 + 2_000)
    start, end = narrow.bounds(0)
    assert end - start == MIN_SPAN_MS and start <= T0 and end >= T0 + 2_000


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"range": "2h"},
        {"range": ["6h"]},
        {"from": "yesterday", "to": "today"},
        {"from": "2026-01-01T01:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"from": "2026-01-01T00:00:00Z"},
        {"from": "1969-12-31T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
    ],
)
def test_an_unreadable_url_falls_back_to_the_default(query: dict[str, object]) -> None:
    assert from_query(query) == HistoryRange(DEFAULT_PRESET)


def test_a_url_without_offset_means_utc() -> None:
    assert parse_iso_utc("2026-01-01T00:00:00") == T0
    assert parse_iso_utc("2026-01-01T02:00:00+02:00") == T0
    assert parse_iso_utc("not a time") is None
    assert iso_utc(T0 + 999) == "2026-01-01T00:00:00Z"


def test_a_zoom_is_read_in_local_time_and_given_back_in_utc() -> None:
    # The axes are shifted by the viewer's offset (UTC+2 here): 02:00 on the axis is 00:00 UTC.
    relayout = {"xaxis.range[0]": "2026-01-01 02:00:00.250", "xaxis.range[1]": "2026-01-01 03:00"}
    assert zoomed_range(relayout, 120) == HistoryRange.fixed(T0, T0 + HOUR)
    assert zoomed_range({"xaxis.range": [T0, T0 + HOUR]}, 0) == HistoryRange.fixed(T0, T0 + HOUR)
    assert zoomed_range({"xaxis.range": [T0 + 2 * HOUR, T0 + 3 * HOUR]}, 120) == HistoryRange.fixed(
        T0, T0 + HOUR
    )


def test_a_zoom_remembers_its_preset_and_a_double_click_goes_back() -> None:
    zoom = {"xaxis.range[0]": "2026-01-01 00:00", "xaxis.range[1]": "2026-01-01 01:00"}
    first = zoomed_range(zoom, 0, HistoryRange("7d"))
    assert first == HistoryRange.fixed(T0, T0 + HOUR, "7d") and first.store()["back"] == "7d"
    deeper = zoomed_range({"xaxis.range": [T0, T0 + 60_000]}, 0, first)
    assert deeper is not None and deeper.back == "7d" and from_store(deeper.store()) == deeper
    reset = {"xaxis.autorange": True, "yaxis.autorange": True}
    assert zoomed_range(reset, 0, deeper) == HistoryRange("7d")
    # Nothing to go back to: a preset already shown, or a range from a link or the picker.
    assert zoomed_range(reset, 0, HistoryRange("7d")) is None
    assert zoomed_range(reset, 0, HistoryRange.fixed(T0, T0 + HOUR)) is None
    assert HistoryRange.fixed(T0, T0 + HOUR, "2h").back is None


@pytest.mark.parametrize(
    "relayout",
    [
        None,
        {"autosize": True},
        {"xaxis.autorange": True, "yaxis.autorange": True},
        {"yaxis.range[0]": 0, "yaxis.range[1]": 5},
        {"xaxis.range[0]": "2026-01-01 03:00", "xaxis.range[1]": "2026-01-01 02:00"},
        {"xaxis.range[0]": "garbage", "xaxis.range[1]": "2026-01-01 02:00"},
        {"xaxis.range": [True, False]},
    ],
)
def test_what_is_not_an_x_zoom_changes_nothing(relayout: dict[str, object] | None) -> None:
    assert zoomed_range(relayout, 0) is None


def test_the_picker_speaks_local_wall_time() -> None:
    assert to_local_input(T0, 330) == "2026-01-01 05:30"
    assert from_local_input("2026-01-01 05:30", 330) == T0
    assert from_local_input("2026-01-01T05:30", 330) == T0
    for bad in (None, "", "31/01/2026", "2026-01-01T05:30+01:00"):
        assert from_local_input(bad, 0) is None


def test_captions() -> None:
    window = {"vps_id": 1, "from_ms": T0, "to_ms": T0 + HOUR, "time_ms": []}
    fields: dict[str, list[float]] = {
        f: [] for f in HostSeries.__struct_fields__ if f not in (*window, "resolution", "step_ms")
    }
    rollup = msgspec.convert({**window, **fields, "resolution": "1m", "step_ms": 600_000}, HostSeries)
    raw = msgspec.convert({**window, **fields, "resolution": "raw", "step_ms": 5_000}, HostSeries)
    assert describe_resolution(rollup) == "1-minute rollup · 10 min buckets"
    assert describe_resolution(raw) == "raw samples · 5 s buckets"
    assert describe_timezone("Europe/Berlin", 60) == "times in Europe/Berlin (UTC+01:00)"
    assert describe_timezone(None, -210) == "times in UTC-03:30"
    assert describe_timezone("UTC", 0) == "times in UTC"
    assert describe_range(T0, T0 + HOUR, 60) == "2026-01-01 01:00 → 02:00"
    assert describe_range(T0, T0 + 30 * HOUR, 0) == "2026-01-01 00:00 → 2026-01-02 06:00"
    assert datetime.fromtimestamp(T0 / 1000, UTC).isoformat() == "2026-01-01T00:00:00+00:00"


def test_network_rates_are_decimal_bits() -> None:
    assert format_bit_rate(125_000) == "1.00 Mbit/s"
    assert format_bit_rate(100) == "800 bit/s"
    assert format_bit_rate(125_000_000_000) == "1.00 Tbit/s"
    assert format_bit_rate(None) == "—"
    assert bit_rate_scale(999) == (1.0, "bit/s") and bit_rate_scale(1000) == (1000.0, "kbit/s")
    assert si_scale(2.5e9) == (1e9, "G") and si_scale(-4000) == (1000.0, "k")


def test_utc_offsets() -> None:
    assert format_utc_offset(0) == "UTC"
    assert format_utc_offset(330) == "UTC+05:30"
    assert format_utc_offset(-180) == "UTC-03:00"

"""Figures and units: pure functions, tested without a browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.figures import empty_figure, with_gaps
from dashboards.units import (
    byte_scale,
    format_ago,
    format_bytes,
    format_duration,
    format_percent,
    format_rate,
    format_step,
    percent,
)

GIB = 1 << 30


def test_gaps_break_lines_where_samples_stop() -> None:
    times, (values,) = with_gaps([0, 1000, 2000, 9000, 10000], 1000, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert times == [0, 1000, 2000, 3000, 9000, 10000]
    assert values == [1.0, 2.0, 3.0, None, 4.0, 5.0]
    assert with_gaps([], 1000, []) == ([], [[]])


def test_an_empty_figure_says_why() -> None:
    figure = empty_figure("why")
    assert figure.layout.xaxis.visible is False and figure.layout.annotations[0].text == "why"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (1.5 * GIB, "1.5 GiB"),
        (300 * GIB, "300 GiB"),
        (5 * 1024 * GIB, "5.0 TiB"),
    ],
)
def test_bytes_read_like_a_human_wrote_them(value: float | None, text: str) -> None:
    assert format_bytes(value) == text


def test_other_units() -> None:
    assert byte_scale(0) == (1.0, "B") and byte_scale(3 * GIB) == (GIB, "GiB")
    assert format_rate(2048) == "2.0 KiB/s" and format_rate(None) == "—"
    assert percent(1, 4) == 25.0 and percent(1, 0) is None and percent(None, 4) is None
    assert format_percent(42.123) == "42.1%" and format_percent(None) == "—"
    assert [format_duration(s) for s in (5, 65, 3700, 93784, None)] == ["5s", "1m 5s", "1h 1m", "1d 2h", "—"]
    assert [format_step(ms) for ms in (1000, 5000, 60_000, 600_000, 7_200_000, 86_400_000)] == [
        "1 s",
        "5 s",
        "1 min",
        "10 min",
        "2 h",
        "1 d",
    ]
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert format_ago(None, now) == "never" and format_ago(now, now) == "just now"
    assert format_ago(now - timedelta(minutes=3, seconds=4), now) == "3m 4s ago"


def test_traffic_figures_order_cycles_oldest_first_and_draw_the_quota() -> None:
    from datetime import UTC, datetime

    from common.api_models.alerts import TrafficCycle, TrafficQuotaOut, TrafficVpsOut
    from dashboards.traffic_figures import vps_traffic_figure

    def cycle(month: int, used: int) -> TrafficCycle:
        return TrafficCycle(datetime(2026, month, 1, tzinfo=UTC), datetime(2026, month + 1, 1, tzinfo=UTC),
                            used, 0, used)  # fmt: skip

    quota = TrafficQuotaOut(1, 2**40, "in", 1, "UTC", [80.0])
    traffic = TrafficVpsOut(1, "web", quota, cycle(3, 2**39), [cycle(1, 2**38), cycle(2, 2**38)], 2**40, 1.0,
                            None, 50.0)  # fmt: skip
    figure = vps_traffic_figure(traffic)
    assert list(figure.layout.xaxis.categoryarray) == ["2026-01-01", "2026-02-01", "2026-03-01"]
    used = next(t for t in figure.data if t.name == "used")
    assert list(used.y) == [0.25, 0.25, 0.5]  # TiB
    assert figure.layout.shapes[0].y0 == 1.0


def test_alert_overlays_shade_events_and_project_filling_disks() -> None:
    from datetime import UTC, datetime, timedelta

    import plotly.graph_objects as go

    from common.api_models.alerts import DiskForecast, EventOut
    from dashboards.alert_overlays import add_disk_projection, add_event_markers

    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    event = EventOut(7, 1, "cpu-high", "threshold", 3, "vps:3", "web", now - timedelta(hours=1), None, 95.0,
                     99.0, "", {}, None, None)  # fmt: skip
    figure = add_event_markers(go.Figure(), [event], now)
    (band,) = figure.layout.shapes
    assert band.x0 == int((now - timedelta(hours=1)).timestamp() * 1000) and band.x1 == int(
        now.timestamp() * 1000
    )
    assert figure.layout.annotations[0].text == "⚠ cpu-high"

    disk = go.Figure()
    disk.update_layout(xaxis={"range": [0, int(now.timestamp() * 1000)]})
    filling = DiskForecast("/", 100, 50, 10.0, now + timedelta(hours=10))
    flat = DiskForecast("/data", 100, 20, None, None)
    add_disk_projection(disk, [filling, flat], now, range_ms=4 * 3_600_000)
    (line,) = disk.data
    assert line.name == "/ full in 10.0 h"
    # One hour ahead (a quarter of 4 h) of ten to full: 50 % + 50 % / 10.
    assert list(line.y) == [50.0, 55.0]
    assert disk.layout.xaxis.range[1] == int((now + timedelta(hours=1)).timestamp() * 1000)

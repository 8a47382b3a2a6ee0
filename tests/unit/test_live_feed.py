"""Pure parts of the browser's live feed: the socket URL, the page's config, the fleet ids."""

from __future__ import annotations

import pytest

from common.settings import DashboardSettings, load_settings
from dashboards.live_feed import feed_config, live_socket_url
from dashboards.live_ids import FIELDS, live_id
from dashboards.live_view import LIVE_CHARTS, WAITING_TEXT, WINDOW_POINTS, live_figure


@pytest.mark.parametrize(
    ("api_url", "socket_url"),
    [
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/api/live"),
        ("https://monitor.example.com/", "wss://monitor.example.com/api/live"),
        ("HTTPS://monitor.example.com/tidewatch", "wss://monitor.example.com/tidewatch/api/live"),
        ("http://[::1]:8000", "ws://[::1]:8000/api/live"),
    ],
)
def test_socket_url_follows_the_api_url(api_url: str, socket_url: str) -> None:
    assert live_socket_url(api_url) == socket_url


@pytest.mark.parametrize("bad", ["127.0.0.1:8000", "ftp://h/", "http://", ""])
def test_a_url_the_browser_cannot_reach_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="http"):
        live_socket_url(bad)


def test_the_public_url_wins_over_the_api_url() -> None:
    settings = load_settings(
        DashboardSettings,
        "TIDEWATCH_DASHBOARDS_",
        {
            "TIDEWATCH_DASHBOARDS_API_URL": "http://10.0.0.5:8000",
            "TIDEWATCH_DASHBOARDS_PUBLIC_API_URL": "https://monitor.example.com",
        },
    )
    config = feed_config(settings, "vps", "root", "status", [7], max_points=WINDOW_POINTS)
    assert config["url"] == "wss://monitor.example.com/api/live"
    assert config["subscribe"] == {"vps_ids": [7], "all": False, "watch": True}
    assert config["max_points"] == WINDOW_POINTS
    fleet = feed_config(DashboardSettings(api_url="http://10.0.0.5:8000"), "fleet", "r", "s", None)
    assert fleet["url"] == "ws://10.0.0.5:8000/api/live"
    assert fleet["subscribe"]["all"] is True


def test_fleet_ids_are_stable_per_vps_and_field() -> None:
    assert live_id(3, "cpu") == {"type": "fleet-live", "vps": 3, "field": "cpu"}
    assert len({str(live_id(3, f)) for f in FIELDS}) == len(FIELDS)
    with pytest.raises(ValueError, match="no live field"):
        live_id(3, "cpu_percent")


def test_live_charts_start_empty_with_one_trace_per_series() -> None:
    for chart_id, (_, _, traces) in LIVE_CHARTS.items():
        figure = live_figure(chart_id)
        assert [t.name for t in figure.data] == [name for name, _ in traces]
        assert all(len(t.x) == 0 for t in figure.data)
        assert figure.layout.uirevision == chart_id
        # Blank, and saying why, until the first points (not a January-2000 date axis).
        assert figure.layout.xaxis.visible is False and figure.layout.yaxis.visible is False
        assert [note.text for note in figure.layout.annotations] == [WAITING_TEXT]

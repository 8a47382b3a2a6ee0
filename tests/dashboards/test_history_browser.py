"""The VPS page's history in a real headless Chromium, against the real API and database:
every metric family drawn, presets, a zoom that re-queries at a finer resolution and moves
every chart, the URL that reproduces the view after a reload, gaps and offline marks."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

import pytest

from common.settings import DashboardSettings
from dashboards.app import create_app
from dashboards.history.layout import CHARTS
from tests.api.conftest import PASSWORD
from tests.browser import click, click_xpath, sign_in, text_of, type_into
from tests.conftest import free_port
from tests.dashboards.conftest import DemoFleet
from tests.dashboards.history_data import HistoryVps, insert_history_vps

pytestmark = [pytest.mark.browser, pytest.mark.db]

# Generous: the machine running this may be shared and busy.
WAIT_S = 45.0
T = TypeVar("T")


@pytest.fixture(scope="module")
def history_vps(db_dsn: str) -> HistoryVps:
    return insert_history_vps(db_dsn)


def _until(condition: Callable[[], T], what: str) -> T:
    deadline = time.monotonic() + WAIT_S
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {WAIT_S:.0f} s (last: {value!r})"
        time.sleep(0.2)


def _plot(dash_duo: Any, graph_id: str, expression: str) -> Any:
    """``expression`` of the Plotly graph div inside ``#graph_id`` (``gd``): what is drawn."""
    script = f"const gd = document.querySelector('#{graph_id} .js-plotly-plot'); return gd ? ({expression}) : null;"
    return dash_duo.driver.execute_script(script)


def _x_range(dash_duo: Any, graph_id: str) -> list[str] | None:
    shown: list[str] | None = _plot(dash_duo, graph_id, "gd.layout.xaxis.range.map(String)")
    return shown


def _query(dash_duo: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(dash_duo.driver.current_url).query)


def test_history_presets_zoom_and_url(
    dash_duo: Any, api_url: str, demo_fleet: DemoFleet, history_vps: HistoryVps, screenshots: Path
) -> None:
    app = create_app(DashboardSettings(api_url=api_url))
    dash_duo.start_server(app, port=free_port())
    dash_duo.driver.set_window_size(1440, 3000)
    sign_in(dash_duo, demo_fleet.username, PASSWORD)
    dash_duo.wait_for_element("#fleet-grid", timeout=WAIT_S)

    # A link with a preset opens that range: a day reads the 1-minute rollup.
    page = f"{dash_duo.server_url}/vps/{history_vps.vps_id}"
    dash_duo.driver.get(f"{page}?range=24h")
    dash_duo.wait_for_contains_text("#vps-resolution", "1-minute rollup", timeout=WAIT_S)
    assert "times in " in text_of(dash_duo, "#vps-history-timezone")
    for slot in CHARTS:  # every family this VPS reports is drawn, none is hidden
        dash_duo.wait_for_element(f"#{slot.graph_id} .js-plotly-plot .main-svg", timeout=WAIT_S)
        assert _plot(dash_duo, slot.graph_id, "gd.data.length") > 0, slot.graph_id
    dash_duo.wait_for_element("#vps-custom-charts .js-plotly-plot", timeout=WAIT_S)
    assert "queue_depth" in text_of(dash_duo, "#vps-custom-charts").lower()  # titles are upper-cased
    assert _plot(dash_duo, "vps-cores", "gd.data[0].type") == "heatmap"  # 8 cores
    assert "bit/s" in text_of(dash_duo, "#vps-network") and "GiB" in text_of(dash_duo, "#vps-memory")
    # The offline hour is a gap (a null breaks the line) and a shaded band with its edges.
    assert _plot(dash_duo, "vps-cpu", "gd.data[0].y.some(v => v === null)")
    shapes = _plot(dash_duo, "vps-memory", "gd.layout.shapes.map(s => s.name)")
    assert shapes.count("offline") == 1 and {"went offline", "went online"} <= set(shapes), shapes
    dash_duo.driver.save_screenshot(str(screenshots / "vps-history-24h.png"))

    # A preset click: a week, and the URL follows.
    click_xpath(dash_duo, "//div[@id='vps-range']//label[normalize-space()='7d']")
    dash_duo.wait_for_contains_text("#vps-resolution", "1-minute rollup · 10 min buckets", timeout=WAIT_S)
    _until(lambda: _query(dash_duo).get("range") == ["7d"], "?range=7d in the URL")

    # Zoom one chart to 20 minutes: the API is asked again at a finer resolution, and
    # every chart moves to the same range.
    before = _x_range(dash_duo, "vps-memory")
    dash_duo.driver.execute_script(
        "const gd = document.querySelector('#vps-cpu .js-plotly-plot');"
        "const last = gd.layout.xaxis.range[1];"
        "const end = (typeof last === 'number' ? last : Date.parse(last.replace(' ', 'T') + 'Z')) - 3600e3;"
        "const iso = ms => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');"
        "Plotly.relayout(gd, {'xaxis.range[0]': iso(end - 20 * 60e3), 'xaxis.range[1]': iso(end)});"
    )
    dash_duo.wait_for_contains_text("#vps-resolution", "raw samples · 1 s buckets", timeout=WAIT_S)
    zoomed = _until(
        lambda: (r := _x_range(dash_duo, "vps-network")) != before and r, "network follows the zoom"
    )
    assert _x_range(dash_duo, "vps-memory") == zoomed == _x_range(dash_duo, "vps-cpu")
    query = _until(lambda: _query(dash_duo) if "from" in _query(dash_duo) else {}, "?from=&to= in the URL")
    assert "range" not in query and query["back"] == ["7d"]
    assert (
        dash_duo.driver.execute_script("return document.querySelectorAll('#vps-range input:checked').length")
        == 0
    )
    # 5 s samples in 1 s buckets still draw a line (not dots between gaps).
    assert _plot(dash_duo, "vps-cpu", "gd.data[0].y.filter(v => v === null).length") == 0
    shown = text_of(dash_duo, "#vps-history-span")
    dash_duo.driver.save_screenshot(str(screenshots / "vps-history-zoomed.png"))

    # The link reproduces the view: same range, same resolution, after a reload.
    dash_duo.driver.refresh()
    dash_duo.wait_for_contains_text("#vps-resolution", "raw samples · 1 s buckets", timeout=WAIT_S)
    _until(lambda: _x_range(dash_duo, "vps-cpu") == zoomed, "the reloaded chart shows the zoomed range")
    assert _query(dash_duo) == query and text_of(dash_duo, "#vps-history-span") == shown

    # A double-click on a chart goes back to the preset the zoom started from.
    dash_duo.driver.execute_script(
        "Plotly.relayout(document.querySelector('#vps-load .js-plotly-plot'),"
        " {'xaxis.autorange': true, 'yaxis.autorange': true});"
    )
    dash_duo.wait_for_contains_text("#vps-resolution", "1-minute rollup · 10 min buckets", timeout=WAIT_S)
    _until(lambda: _query(dash_duo).get("range") == ["7d"], "?range=7d in the URL again")

    # The custom range picker, in the browser's local wall time: two hours of 5 s samples.
    start = (history_vps.now - timedelta(hours=3)).replace(second=0)
    end = start + timedelta(hours=2)
    for field, moment in (("#vps-history-from", start), ("#vps-history-to", end)):
        # The browser's offset at that moment, not now's: a DST change may lie between.
        offset = timedelta(
            minutes=dash_duo.driver.execute_script(
                "return -new Date(arguments[0]).getTimezoneOffset();", int(moment.timestamp() * 1000)
            )
        )
        dash_duo.clear_input(field)
        type_into(dash_duo, field, f"{moment + offset:%Y-%m-%d %H:%M}")
    click(dash_duo, "#vps-history-apply")
    _until(
        lambda: _query(dash_duo).get("from") == [f"{start:%Y-%m-%dT%H:%M:%SZ}"], "the picked range in the URL"
    )
    assert _query(dash_duo)["to"] == [f"{end:%Y-%m-%dT%H:%M:%SZ}"]
    dash_duo.wait_for_contains_text("#vps-resolution", "raw samples · 5 s buckets", timeout=WAIT_S)

    # A custom metric's label picker: one label set less, one line less.
    custom = "#vps-custom-charts"
    _until(lambda: _plot(dash_duo, "vps-custom-charts", "gd.data.length") == 2, "two queue_depth lines")
    click(dash_duo, f"{custom} .dash-dropdown, {custom} .Select-control")
    click_xpath(dash_duo, "//*[@id='vps-custom-charts']//*[@role='option'][contains(., 'mail')]")
    _until(
        lambda: _plot(dash_duo, "vps-custom-charts", "gd.data.map(t => t.name).join()") == 'queue="jobs"',
        "one line",
    )

    logs = dash_duo.get_logs()
    for entry in logs:
        print("BROWSER LOG:", entry["message"])
    assert logs == []

"""Live values pushed to the browser: a real agent → collector → NOTIFY → API socket →
the dashboards in headless Chromium, with no range queries while they change.

The API's access log is the counter: between the first and the last of several pushed
updates, no ``/metrics/`` range query and no fleet re-read reaches the API. The VPS page's
live charts are seeded once on open (and after a reconnection) with one raw read of
``/metrics/host`` and ``/metrics/network``; that read is checked for, before the window. The same
holds while the agent is killed and started again: the card's status follows the
collector's pushed ``status`` messages.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dashboards.live_ids import live_id
from dashboards.live_view import WAITING_TEXT
from dashboards.units import format_bytes, format_percent, format_rate
from tests.browser import click, css_id, retry, sign_in, text_of
from tests.dashboards.conftest import SCREENSHOTS
from tests.e2e.live_stack import ADMIN, PASSWORD, LiveStack, live_stack

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.browser]

UPDATES = 4
OFFLINE_AFTER_S = 4
RANGE_OR_FLEET_QUERY = re.compile(r'"GET /api/vps(\?|/\d+/metrics/| HTTP)')


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    collector_env = {
        # Heartbeats every second keep the live agent well inside the shortened offline limit.
        "TIDEWATCH_COLLECTOR_AGENT_HEARTBEAT_INTERVAL_MS": "1000",
        "TIDEWATCH_COLLECTOR_OFFLINE_AFTER_S": str(OFFLINE_AFTER_S),
    }
    with live_stack(tmp_path_factory.mktemp("live-browser"), collector_env=collector_env) as s:
        yield s


def _queries_since(stack: LiveStack, offset: int) -> list[str]:
    text = stack.apis[0].log_path.read_text(errors="replace")[offset:]
    return [line for line in text.splitlines() if RANGE_OR_FLEET_QUERY.search(line)]


def _log_size(stack: LiveStack) -> int:
    return len(stack.apis[0].log_path.read_text(errors="replace"))


def _distinct_values(read: Callable[[], str], count: int, timeout_s: float) -> list[str]:
    """Read until ``count`` different values were seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while len(seen) < count:
        assert time.monotonic() < deadline, f"only {seen} within {timeout_s} s"
        value = read()
        if value and (not seen or value != seen[-1]):
            seen.append(value)
        time.sleep(0.1)
    return seen


def test_fleet_and_vps_pages_update_from_pushed_samples(stack: LiveStack, dash_duo: Any) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver = dash_duo.driver
    driver.set_window_size(1440, 1400)
    driver.get(f"{stack.dashboards_url}/login")
    sign_in(dash_duo, ADMIN, PASSWORD)

    # Fleet: the card's numbers change in place; the fleet is not re-read meanwhile.
    vps = stack.vps.id
    net = css_id(live_id(vps, "net"))
    # A card drawn before the agent's first report gets its meters from a re-read the feed asks for.
    dash_duo.wait_for_element(css_id(live_id(vps, "cpu-detail")), timeout=60)
    dash_duo.wait_for_contains_text("#fleet-live-status", "live", timeout=30)
    mark = _log_size(stack)
    first_text = text_of(dash_duo, net)
    fleet_values = _distinct_values(
        lambda: text_of(dash_duo, css_id(live_id(vps, "cpu-detail"))) + text_of(dash_duo, net), UPDATES, 60
    )
    assert _queries_since(stack, mark) == [], stack.logs()
    assert "every sample" in text_of(dash_duo, "#fleet-live-status")  # a fleet of one is watched
    assert first_text.startswith("↓ ")
    driver.save_screenshot(str(SCREENSHOTS / "live-fleet.png"))

    # VPS page: the live charts open with the last window (one seed read), then grow in
    # place and numbers follow, with no range queries per tick.
    opened_mark = _log_size(stack)
    opened_ms = int(time.time() * 1000)
    click(dash_duo, f"a[href='/vps/{vps}']")
    seeds = _seeds_at_least(driver, 1)
    # Points from before the page opened: the seed, drawn as soon as the chart is.
    _until(lambda: len([t for t in _live_cpu_times(driver) if t < opened_ms]) >= 2, "seeded points", 60)
    seed_reads = [q for q in _queries_since(stack, opened_mark) if "resolution=raw" in q]
    assert len(seed_reads) == 2, seed_reads  # host and network, once
    dash_duo.wait_for_element("#vps-cpu .scatterlayer .trace", timeout=60)
    # The first points brought the live chart's axes back and took its waiting note away.
    _until(lambda: WAITING_TEXT not in text_of(dash_duo, "#vps-live-cpu"), "waiting note gone", 30)
    assert "%" in text_of(dash_duo, "#vps-live-cpu .yaxislayer-above")
    dash_duo.wait_for_contains_text("#vps-live-status", "every sample", timeout=30)
    _distinct_values(
        lambda: driver.find_element("id", "vps-live-sample-ms").get_attribute("textContent"), 1, 30
    )
    mark = _log_size(stack)
    newest_before = max(_live_cpu_times(driver))
    sample_times = _distinct_values(
        lambda: driver.find_element("id", "vps-live-sample-ms").get_attribute("textContent"), UPDATES, 30
    )
    times_after = _live_cpu_times(driver)
    assert _queries_since(stack, mark) == [], stack.logs()
    assert [int(t) for t in sample_times] == sorted(int(t) for t in sample_times)
    new_points = [t for t in times_after if t > newest_before]
    assert len(new_points) >= UPDATES - 1, (newest_before, times_after)
    _assert_in_order(times_after)
    assert text_of(dash_duo, "#vps-live-cpu-value").endswith("%")
    assert text_of(dash_duo, "#vps-live-rx-value").endswith("/s")
    assert fleet_values
    driver.save_screenshot(str(SCREENSHOTS / "live-vps.png"))

    # The feed's number formats are the server's (dashboards/units.py).
    sizes = [0, 1, 1023, 1024, 1536, 10 * 1024**2 + 7, 123 * 1024**3, 5.5 * 1024**4]
    shares = [0, 3.14159, 42.123, 99.96, 100]
    js = driver.execute_script(
        "var f = window.tidewatchLive.format;"
        " return [arguments[0].map(function (v) { return [f.bytes(v), f.rate(v)]; }),"
        " arguments[1].map(f.percent)];",
        sizes,
        shares,
    )
    assert js == [[[format_bytes(v), format_rate(v)] for v in sizes], [format_percent(v) for v in shares]]

    # The API restarts: the feed says so, reconnects by itself and the values move on.
    api = stack.apis[0]
    api.stop()
    dash_duo.wait_for_contains_text("#vps-live-status", "reconnecting", timeout=30)
    api.start(int(stack.api_urls[0].rsplit(":", 1)[1]))
    dash_duo.wait_for_contains_text("#vps-live-status", "every sample", timeout=60)
    _seeds_at_least(driver, seeds + 1)  # the reconnected feed re-read what it missed
    last = int(sample_times[-1])
    _distinct_values(
        lambda: (
            t
            if int(t := driver.find_element("id", "vps-live-sample-ms").get_attribute("textContent")) > last
            else ""
        ),
        2,
        30,
    )
    _assert_in_order(_live_cpu_times(driver))
    # The browser logs the socket's failed reconnection attempts while the API is down; nothing else.
    logs = [entry for entry in dash_duo.get_logs() if "WebSocket connection to" not in entry["message"]]
    assert logs == []
    # Values the page already shows are not written again (one set_props each, otherwise).
    writes = driver.execute_script("return window.tidewatchLive.writes")
    assert writes["made"] > 0 and writes["skipped"] > 0, writes

    # The agent dies, then comes back: the fleet card's status follows, with no re-read.
    click(dash_duo, ".tw-back")
    badge = css_id(live_id(vps, "status"))
    # Only a fleet card has this element, so the fleet page's first read is done: the VPS
    # page's header carries a status badge with the same live id.
    dash_duo.wait_for_element(css_id(live_id(vps, "cpu-detail")), timeout=60)
    dash_duo.wait_for_contains_text(badge, "online", timeout=30)
    dash_duo.wait_for_contains_text("#fleet-live-status", "live", timeout=30)
    mark = _log_size(stack)
    stack.agent.kill()
    dash_duo.wait_for_contains_text(badge, "offline", timeout=OFFLINE_AFTER_S + 30)
    classes = dash_duo.find_element(badge).get_attribute("class").split()
    assert "tw-status-offline" in classes and "tw-status-online" not in classes, classes
    assert "tw-fleet-status" in classes, classes  # the card's own classes are kept
    assert _queries_since(stack, mark) == [], stack.logs()
    driver.save_screenshot(str(SCREENSHOTS / "live-fleet-offline.png"))
    stack.agent.start()
    dash_duo.wait_for_contains_text(badge, "online", timeout=60)
    assert "tw-status-online" in dash_duo.find_element(badge).get_attribute("class").split()
    assert _queries_since(stack, mark) == [], stack.logs()
    assert dash_duo.get_logs() == []


def _live_cpu_times(driver: Any) -> list[int]:
    """The live CPU chart's x values, back in UTC epoch ms (the feed shifts them to local
    time); none while the chart is not drawn yet."""
    return list(
        driver.execute_script(
            "var shift = -new Date().getTimezoneOffset() * 60000;"
            " var plot = document.querySelector('#vps-live-cpu .js-plotly-plot');"
            " return plot === null ? [] : plot.data[0].x.map(function (x) { return x - shift; });"
        )
    )


def _until(check: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.1)


def _seeds_at_least(driver: Any, count: int, timeout_s: float = 60) -> int:
    """Wait until the feed has drawn ``count`` seeds on this page's charts; how many it has."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = retry(
            lambda: driver.find_element("id", "vps-live-seeded").get_attribute("textContent"), "seeds drawn"
        )
        if text.isdigit() and int(text) >= count:
            return int(text)
        assert time.monotonic() < deadline, f"seeds drawn: {text!r} after {timeout_s} s, waiting for {count}"
        time.sleep(0.1)


def _assert_in_order(times: list[int]) -> None:
    """No point twice, none out of order (seed and pushes merged)."""
    assert times, "an empty live chart"
    assert all(a < b for a, b in itertools.pairwise(times)), times

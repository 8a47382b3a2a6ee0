"""How fast the fleet page draws a big fleet, in headless Chromium (issue 13).

Seeds ``--vps`` servers (default 500) with labels and recent samples into a scratch
database, starts the real ``tidewatch-api`` and ``tidewatch-dashboards`` on it, signs
in, and opens the fleet page in headless Chromium, in each view, at the page size
the page uses and with every server on one page, side by side in one run:

* first render: navigation start to the grid drawn (every callback on the way);
* update: a poll tick while a writer adds a sample for every server every 2 s, as a
  live fleet does: the refresh round trip (API read + rows), the draw round trip
  (filter, sort, components), and the browser's part (response to laid-out DOM);
* control: a click on "sort by CPU" to the re-sorted grid laid out.

The browser's part ends at the frame after the last DOM change, with layout forced
in it; "blocked" sums the main thread's long tasks (> 50 ms) over the step.

    .venv/bin/python -m bench.fleet_render             # 500 servers
    .venv/bin/python -m bench.fleet_render --vps 100 --ticks 3

The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row
from selenium import webdriver
from selenium.webdriver.common.by import By

from bench.fleet import create_bench_database, drop_bench_database
from dashboards.fleet_controls import PER_PAGE
from tests.api.conftest import PASSWORD, create_user
from tests.conftest import free_port
from tests.dashboards.conftest import pytest_setup_options
from tests.processes import Service

from common.api_models import Role  # isort: skip

REFRESH_MS = 2000
STEP_TIMEOUT_S = 60.0
QUIET_S = 0.4

_SEED = """
INSERT INTO vps (name, ip_address, agent_key_id, agent_token_hash, labels, hostname, os_name,
                 os_version, online, last_seen, connected_at)
SELECT 'node-' || lpad(i::text, 4, '0'), '10.0.' || (i / 250) || '.' || (i %% 250 + 1),
       'fleet-bench-' || i, 'x',
       jsonb_build_object('env', (ARRAY['prod', 'staging', 'dev'])[1 + i %% 3],
                          'role', (ARRAY['web', 'db', 'cache', 'worker'])[1 + i %% 4],
                          'region', (ARRAY['eu-west', 'us-east', 'ap-south'])[1 + (i / 7) %% 3]),
       'node-' || i || '.example.net', 'Debian GNU/Linux', '12 (bookworm)', i %% 10 <> 0,
       now(), now() - interval '3 days'
FROM generate_series(1, %(count)s) AS i
"""
# One sample per online server, %(ago_s)s seconds ago: host, one interface, one disk.
_SAMPLES = (
    """
    INSERT INTO host_metrics (time, vps_id, cpu_percent, cpu_per_core_percent, cpu_user_percent,
        cpu_system_percent, cpu_iowait_percent, cpu_steal_percent, load_1, load_5, load_15,
        memory_total_bytes, memory_used_bytes, memory_available_bytes, memory_cached_bytes,
        memory_buffers_bytes, swap_total_bytes, swap_used_bytes, tcp_connections, udp_connections,
        process_count, uptime_seconds)
    SELECT now() - make_interval(secs => %(ago_s)s), id, random() * 100, '{}', 10, 5, 1, 0, random() * 4, 1, 1, 8589934592,
           (random() * 8589934592)::bigint, 4294967296, 1073741824, 104857600, 2147483648, 0,
           120, 10, 150, 259200
    FROM vps WHERE online""",
    """
    INSERT INTO network_metrics (time, vps_id, interface, rx_bytes_per_second, tx_bytes_per_second,
        rx_packets_per_second, tx_packets_per_second, rx_errors, tx_errors, rx_drops, tx_drops,
        rx_bytes_delta, tx_bytes_delta)
    SELECT now() - make_interval(secs => %(ago_s)s), id, 'eth0', random() * 5e6, random() * 1e6, 100, 80, 0, 0, 0, 0, 0, 0
    FROM vps WHERE online""",
    """
    INSERT INTO disk_metrics (time, vps_id, mountpoint, device, fstype, total_bytes, used_bytes,
        free_bytes, inodes_total, inodes_used)
    SELECT now() - make_interval(secs => %(ago_s)s), id, '/', '/dev/vda1', 'ext4', 85899345920, (random() * 85899345920)::bigint,
           0, 1000000, 1000
    FROM vps WHERE online""",
)

# Installed before any page script: times every Dash callback request, the last change
# under #fleet-grid and the frame after it (layout forced), and long tasks.
_PROBE = """
(() => {
  const tw = window.__tw = {calls: [], lastMutation: 0, painted: 0, longTasks: []};
  const originalFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input.url;
    if (!url.includes("_dash-update-component")) return originalFetch(input, init);
    let output = "";
    try { output = JSON.parse(init.body).output; } catch (error) {}
    const call = {output, start: performance.now(), end: 0};
    tw.calls.push(call);
    const response = await originalFetch(input, init);
    response.clone().text().then(() => { call.end = performance.now(); });
    return response;
  };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) tw.longTasks.push([entry.startTime, entry.duration]);
  }).observe({type: "longtask", buffered: true});
  const watch = () => {
    const grid = document.getElementById("fleet-grid");
    if (!grid) { setTimeout(watch, 10); return; }
    new MutationObserver(() => {
      tw.lastMutation = performance.now();
      requestAnimationFrame(() => { void document.body.offsetHeight; tw.painted = performance.now(); });
    }).observe(grid, {childList: true, subtree: true, characterData: true, attributes: true});
  };
  watch();
})();
"""


@dataclass(frozen=True)
class Step:
    """One measured render, in ms."""

    total: float
    refresh: float | None
    draw: float
    browser: float
    blocked: float


class FleetWriter(threading.Thread):
    """Adds a sample for every online server every ``every_s``, as a live fleet would."""

    def __init__(self, dsn: str, every_s: float) -> None:
        super().__init__(daemon=True)
        self._dsn, self._every_s = dsn, every_s
        self._halt = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            while not self._halt.wait(self._every_s):
                write_samples(conn)

    def stop(self) -> None:
        self._halt.set()
        self.join(30)


def write_samples(conn: psycopg.Connection[Any], ago_s: float = 0.0) -> None:
    for sql in _SAMPLES:
        conn.execute(sql, {"ago_s": ago_s})


def seed(dsn: str, count: int) -> str:
    """``count`` labelled servers, a minute of samples each, and an admin; returns its name."""
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(_SEED, {"count": count})
        for ago_s in (60, 50, 40, 30, 20, 10):
            write_samples(conn, ago_s)
        conn.execute("ANALYZE")
        _, username = create_user(conn, Role.ADMIN, PASSWORD, "fleet-bench")
    return username


def _until(condition: Callable[[], Any], what: str, timeout_s: float = STEP_TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def _js(driver: webdriver.Chrome, script: str) -> Any:
    return driver.execute_script(script)  # type: ignore[no-untyped-call]


class Page:
    """The fleet page in one Chromium tab, with the probe installed."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def state(self) -> dict[str, Any]:
        return _js(self.driver, "return window.__tw")  # type: ignore[no-any-return]

    def count(self, view: str) -> int:
        selector = ".tw-vps-card" if view == "cards" else ".tw-fleet-table tbody tr:not(.tw-fleet-group-row)"
        return int(_js(self.driver, f"return document.querySelectorAll('{selector}').length"))

    def settled_draw(self, after_ms: float, view: str, rows: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """Wait for a draw that started after ``after_ms`` to end and the grid to settle."""

        def done() -> tuple[dict[str, Any], dict[str, Any]] | None:
            state = self.state()
            draws = [
                c for c in state["calls"] if "fleet-grid.children" in c["output"] and c["start"] > after_ms
            ]
            if not draws or not draws[0]["end"] or state["painted"] < draws[0]["end"]:
                return None
            if self.count(view) != rows:
                return None
            now = _js(self.driver, "return performance.now()")
            return (state, draws[0]) if now - state["lastMutation"] > QUIET_S * 1000 else None

        return _until(done, f"the {view} view to draw {rows} rows")  # type: ignore[no-any-return]

    def step(self, state: dict[str, Any], draw: dict[str, Any], began: float, with_refresh: bool) -> Step:
        refresh = None
        if with_refresh:
            refreshes = [
                c for c in state["calls"] if "fleet-rows.data" in c["output"] and c["start"] < draw["start"]
            ]
            last = refreshes[-1]
            refresh, began = last["end"] - last["start"], last["start"]
        blocked = sum(duration for start, duration in state["longTasks"] if start >= began)
        return Step(
            total=state["painted"] - began,
            refresh=refresh,
            draw=draw["end"] - draw["start"],
            browser=state["painted"] - draw["end"],
            blocked=blocked,
        )

    def now_ms(self) -> float:
        return float(_js(self.driver, "return performance.now()"))


def measure_view(page: Page, base: str, view: str, per_page: int, vps: int, ticks: int) -> list[str]:
    rows = min(per_page, vps)
    page.driver.get(f"{base}/?view={view}&per_page={per_page}")
    state, draw = page.settled_draw(0.0, view, rows)
    first = page.step(state, draw, 0.0, with_refresh=False)
    updates = []
    for _ in range(ticks):
        state, draw = page.settled_draw(page.now_ms(), view, rows)
        updates.append(page.step(state, draw, 0.0, with_refresh=True))
    clicked = page.now_ms()
    page.driver.find_element(By.XPATH, "//div[@id='fleet-sort']//label[normalize-space()='CPU']").click()
    state, draw = page.settled_draw(clicked, view, rows)
    control = page.step(state, draw, clicked, with_refresh=False)
    page.driver.find_element(By.XPATH, "//div[@id='fleet-sort']//label[normalize-space()='Name']").click()
    label = f"{view:5} {rows:4} rows"
    return [
        _line(label, "first render", first),
        _line(label, f"update (median of {ticks})", _median(updates)),
        _line(label, "update (worst)", max(updates, key=lambda s: s.total)),
        _line(label, "sort by CPU", control),
    ]


def _median(steps: list[Step]) -> Step:
    def med(values: list[float | None]) -> float:
        return statistics.median(v for v in values if v is not None)

    return Step(
        total=med([s.total for s in steps]),
        refresh=med([s.refresh for s in steps]),
        draw=med([s.draw for s in steps]),
        browser=med([s.browser for s in steps]),
        blocked=med([s.blocked for s in steps]),
    )


def _line(label: str, what: str, step: Step) -> str:
    refresh = f"{step.refresh:7.0f}" if step.refresh is not None else "      -"
    return (
        f"{label}  {what:22} total {step.total:7.0f}  refresh {refresh}  draw {step.draw:6.0f}"
        f"  browser {step.browser:6.0f}  blocked {step.blocked:6.0f}"
    )


def _sign_in(driver: webdriver.Chrome, base: str, username: str) -> None:
    driver.get(f"{base}/login")
    _until(lambda: driver.find_elements(By.ID, "login-username"), "the sign-in form")
    driver.find_element(By.ID, "login-username").send_keys(username)
    driver.find_element(By.ID, "login-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    _until(lambda: driver.find_elements(By.CSS_SELECTOR, "#fleet-grid > *"), "the fleet after sign-in")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vps", type=int, default=500)
    parser.add_argument("--ticks", type=int, default=5, help="poll-tick updates measured per view")
    args = parser.parse_args()

    dsn = create_bench_database()
    services: list[Service] = []
    writer: FleetWriter | None = None
    driver: webdriver.Chrome | None = None
    try:
        username = seed(dsn, args.vps)
        api_port, dash_port = free_port(), free_port()
        services.append(
            Service(
                "api",
                ["tidewatch-api"],
                env={"TIDEWATCH_DSN": dsn, "TIDEWATCH_API_LISTEN": f"127.0.0.1:{api_port}"},
                log_name="bench-fleet-api",
            ).start(api_port)
        )
        services.append(
            Service(
                "dashboards",
                ["tidewatch-dashboards"],
                env={
                    "TIDEWATCH_DASHBOARDS_LISTEN": f"127.0.0.1:{dash_port}",
                    "TIDEWATCH_DASHBOARDS_API_URL": f"http://127.0.0.1:{api_port}",
                    "TIDEWATCH_DASHBOARDS_LIVE_REFRESH_MS": str(REFRESH_MS),
                },
                log_name="bench-fleet-dashboards",
            ).start(dash_port)
        )
        base = f"http://127.0.0.1:{dash_port}"
        started = time.monotonic()
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}") as client:
            token = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
            token.raise_for_status()
            fleet = client.get("/api/vps", headers={"Authorization": f"Bearer {token.json()['token']}"})
            fleet.raise_for_status()
        api_ms = (time.monotonic() - started) * 1000
        print(f"{len(fleet.json())} servers; GET /api/vps answered {len(fleet.content) / 1024:.0f} KiB")
        print(f"(login + GET /api/vps, cold: {api_ms:.0f} ms)")

        driver = webdriver.Chrome(options=pytest_setup_options())
        driver.set_window_size(1440, 1000)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _PROBE})
        _sign_in(driver, base, username)
        writer = FleetWriter(dsn, REFRESH_MS / 1000)
        writer.start()
        page = Page(driver)
        print(
            f"times in ms; updates poll every {REFRESH_MS} ms while every server gets a sample"
            f" every {REFRESH_MS} ms; {args.vps} servers"
        )
        for view in ("cards", "table"):
            for per_page in (PER_PAGE[view], args.vps):  # type: ignore[index]
                for line in measure_view(page, base, view, per_page, args.vps, args.ticks):
                    print(line, flush=True)
        return 0
    finally:
        if driver is not None:
            driver.quit()
        if writer is not None:
            writer.stop()
        for service in reversed(services):
            service.stop()
        drop_bench_database(dsn)


if __name__ == "__main__":
    sys.exit(main())

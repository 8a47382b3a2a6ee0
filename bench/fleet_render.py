"""How fast the fleet page draws a big fleet, in headless Chromium (issue 13).

Seeds ``--vps`` servers (default 500) with labels and recent samples into a scratch
database, starts the real ``tidewatch-api`` and ``tidewatch-dashboards`` on it, signs
in, and opens the fleet page in headless Chromium, in each view, at the page size
the page uses (and, with ``--whole``, with every server on one page), side by side:

* first render: navigation start to the grid drawn (every callback on the way);
* update: a re-read of the fleet (what the page's interval or the live feed's resync
  asks for) while a writer adds a sample for every server every 2 s: the refresh
  round trip (API read + rows), the draw round trip (filter, sort, components), and
  the browser's part (response to laid-out DOM);
* push: what ``assets/live_feed.js`` does with a batch holding a sample of every
  server shown (``set_props`` on their live ids, no callback), to the DOM laid out;
* feed all / feed diff: the feed's own renderer on batches where only CPU and the
  inbound rate moved, writing every live element (as it did before) against only the
  changed ones (what ships), side by side, with the set_props count per batch;
* control: a click on "sort by CPU" to the re-sorted grid laid out.

The browser's part ends at the frame after the last DOM change, with layout forced
in it; "blocked" sums the main thread's long tasks (> 50 ms) over the step.

    .venv/bin/python -m bench.fleet_render             # 500 servers
    .venv/bin/python -m bench.fleet_render --vps 100 --ticks 3
    .venv/bin/python -m bench.fleet_render --whole --ticks 2   # and all on one page

The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row
from selenium import webdriver
from selenium.webdriver.common.by import By

from bench.fleet import create_bench_database, drop_bench_database
from bench.fleet_page import (
    PROBE,
    PUSH,
    PUSH_FEED,
    REREAD,
    SCRIPT_TIMEOUT_S,
    CpuClock,
    Page,
    Step,
    StepTimeout,
    js,
    settled_after,
    until,
)
from common.api_models import Role
from dashboards.fleet_controls import PER_PAGE
from tests.api.conftest import PASSWORD, create_user
from tests.conftest import free_port
from tests.dashboards.conftest import pytest_setup_options
from tests.processes import Service

WRITE_EVERY_S = 2.0
QUIET_REFRESH_MS = 24 * 3600 * 1000

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


def _spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: max(0.0, after[name] - before[name]) for name in after}


def first_and_sort(page: Page, clock: CpuClock, base: str, view: str, per_page: int, rows: int) -> list[Step]:
    """On the dashboards that do not poll: the first render, then a click on "sort by CPU"."""
    before = clock.read()
    page.driver.get(f"{base}/?view={view}&per_page={per_page}")
    state, draw = page.settled_draw(0.0, view, rows)
    after = clock.read()
    first = page.step(state, draw, 0.0, False, _spent(before, after))
    clicked = page.now_ms()
    page.driver.find_element(By.XPATH, "//div[@id='fleet-sort']//label[normalize-space()='CPU']").click()
    state, draw = page.settled_draw(clicked, view, rows)
    sort = page.step(state, draw, clicked, False, _spent(after, clock.read()))
    return [first, sort]


def reread_updates(
    page: Page, clock: CpuClock, base: str, view: str, per_page: int, rows: int, ticks: int
) -> list[Step]:
    """Re-reads of the fleet, as the page's interval (or the live feed's resync) asks for
    them, each after the writer has added new samples: from the ask to the grid laid out."""
    page.driver.get(f"{base}/?view={view}&per_page={per_page}")
    page.settled_draw(0.0, view, rows)
    steps = []
    for _ in range(ticks):
        time.sleep(WRITE_EVERY_S)  # new samples for every server
        before = clock.read()
        asked = page.now_ms()
        js(page.driver, REREAD)
        state, draw = page.settled_draw(asked, view, rows)
        steps.append(page.step(state, draw, asked, True, _spent(before, clock.read())))
    return steps


def pushes(page: Page, clock: CpuClock, view: str, count: int) -> list[Step]:
    """Live-feed batches set in place (no callback, no draw): to the grid laid out."""

    def push() -> tuple[float, bool, int] | None:
        answer = js(page.driver, PUSH)  # None while the page is too busy to answer
        return (*answer, 0) if answer else None

    steps, _ = _pushed(page, clock, view, count, push)
    return steps


def feed_pushes(page: Page, clock: CpuClock, view: str, count: int, check: bool) -> tuple[list[Step], int]:
    """The feed's own renderer on batches where CPU and rx moved: writing only what
    changed (``check``) or every element. Returns the steps and set_props per batch."""
    return _pushed(page, clock, view, count, lambda: js(page.driver, PUSH_FEED, check))


def _pushed(
    page: Page, clock: CpuClock, view: str, count: int, push: Callable[[], tuple[float, bool, int] | None]
) -> tuple[list[Step], int]:
    """``count`` batches pushed by ``push``, each timed until the values are laid out; and
    the last batch's writes. ``push`` answers when it began, whether live elements were
    shown and its writes, or None until the page answers."""
    steps, writes = [], 0
    for _ in range(count):
        before = clock.read()
        began, shown, writes = until(push, "a pushed batch")
        if not shown:
            raise StepTimeout(f"no live elements in the {view} view")
        state = until(partial(settled_after, page, began), "the pushed values laid out")
        blocked = sum(d for start, d in state["longTasks"] if start >= began)
        total = state["painted"] - began
        steps.append(Step(total, None, 0.0, total, blocked, _spent(before, clock.read())))
    return steps, writes


def _median(steps: list[Step]) -> Step:
    def med(values: list[float | None]) -> float:
        known = [v for v in values if v is not None]
        return statistics.median(known) if known else 0.0

    return Step(
        total=med([s.total for s in steps]),
        refresh=med([s.refresh for s in steps]),
        draw=med([s.draw for s in steps]),
        browser=med([s.browser for s in steps]),
        blocked=med([s.blocked for s in steps]),
        cpu={name: med([s.cpu[name] for s in steps]) for name in steps[0].cpu},
    )


HEADER = (
    f"{'view':5} {'rows':>4}  {'step':16} {'wall':>6} {'refresh':>7} {'draw':>6} {'browser':>7} {'blocked':>7}"
    f"   cpu: {'browser':>7} {'dash':>5} {'api':>5}"
)


def _line(view: str, rows: int, what: str, step: Step) -> str:
    refresh = f"{step.refresh:7.0f}" if step.refresh is not None else "      -"
    cpu = step.cpu
    return (
        f"{view:5} {rows:4}  {what:16} {step.total:6.0f} {refresh} {step.draw:6.0f} {step.browser:7.0f}"
        f" {step.blocked:7.0f}        {cpu['browser']:7.0f} {cpu['dashboards']:5.0f} {cpu['api']:5.0f}"
    )


def _pid(service: Service) -> int:
    assert service.process is not None, f"{service.name} is not running"
    return service.process.pid


def _sign_in(driver: webdriver.Chrome, base: str, username: str) -> None:
    driver.get(f"{base}/login")
    until(lambda: driver.find_elements(By.ID, "login-username"), "the sign-in form")
    driver.find_element(By.ID, "login-username").send_keys(username)
    driver.find_element(By.ID, "login-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    until(lambda: driver.find_elements(By.CSS_SELECTOR, "#fleet-grid > *"), "the fleet after sign-in")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vps", type=int, default=500)
    parser.add_argument("--ticks", type=int, default=5, help="poll-tick updates measured per view")
    parser.add_argument(
        "--whole", action="store_true", help="also every server on one page (slow: minutes at 500)"
    )
    args = parser.parse_args()

    dsn = create_bench_database()
    services: list[Service] = []
    writer: FleetWriter | None = None
    driver: webdriver.Chrome | None = None
    try:
        username = seed(dsn, args.vps)
        api_port = free_port()
        api = Service(
            "api",
            ["tidewatch-api"],
            env={"TIDEWATCH_DSN": dsn, "TIDEWATCH_API_LISTEN": f"127.0.0.1:{api_port}"},
            log_name="bench-fleet-api",
        )
        services.append(api.start(api_port))
        # The dashboards never poll by themselves here: the bench asks for each re-read.
        dash_port = free_port()
        dashboards = Service(
            "dashboards",
            ["tidewatch-dashboards"],
            env={
                "TIDEWATCH_DASHBOARDS_LISTEN": f"127.0.0.1:{dash_port}",
                "TIDEWATCH_DASHBOARDS_API_URL": f"http://127.0.0.1:{api_port}",
                "TIDEWATCH_DASHBOARDS_LIVE_REFRESH_MS": str(QUIET_REFRESH_MS),
            },
            log_name="bench-fleet-dashboards",
        )
        services.append(dashboards.start(dash_port))
        quiet = f"http://127.0.0.1:{dash_port}"
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
        driver.set_script_timeout(SCRIPT_TIMEOUT_S)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
        page = Page(driver)
        _sign_in(driver, quiet, username)
        clock = CpuClock(
            {
                "browser": [driver.service.process.pid],
                "dashboards": [_pid(s) for s in services[1:]],
                "api": [_pid(services[0])],
            }
        )
        writer = FleetWriter(dsn, WRITE_EVERY_S)
        writer.start()
        print(
            f"{args.vps} servers; ms. wall: from the trigger to the grid laid out; refresh and draw:"
            " the two callbacks' round trips; browser: draw response to layout; blocked: long tasks."
            " cpu: CPU time each process used in the step. Update: a re-read of the fleet (the"
            f" page's interval, or the live feed's resync) after every server got a new sample;"
            " push: the live feed's set_props for every server shown, no callback."
        )
        print(HEADER)
        results: dict[tuple[str, int], dict[str, Step]] = {}
        sizes = {view: [PER_PAGE[view]] + ([args.vps] if args.whole else []) for view in PER_PAGE}
        for view, per_pages in sizes.items():
            for per_page in per_pages:
                rows = min(per_page, args.vps)
                try:
                    first, sort = first_and_sort(page, clock, quiet, view, per_page, rows)
                    updates = reread_updates(page, clock, quiet, view, per_page, rows, args.ticks)
                    pushed = pushes(page, clock, view, args.ticks)
                    feed_pushes(page, clock, view, 1, True)  # the page now shows the fixed values
                    every, every_writes = feed_pushes(page, clock, view, args.ticks, False)
                    changed, changed_writes = feed_pushes(page, clock, view, args.ticks, True)
                except StepTimeout as exc:
                    print(f"{view:5} {rows:4}  gave up: {exc}", flush=True)
                    continue
                results[(view, rows)] = {"first": first, "update": _median(updates), "sort": sort}
                print(_line(view, rows, "first render", first))
                print(_line(view, rows, f"update (median {args.ticks})", _median(updates)))
                print(_line(view, rows, "update (worst)", max(updates, key=lambda s: s.total)))
                print(_line(view, rows, f"push (median {args.ticks})", _median(pushed)))
                print(_line(view, rows, f"feed all {every_writes:4d}", _median(every)))
                print(_line(view, rows, f"feed diff {changed_writes:4d}", _median(changed)))
                ratio = _median(every).total / max(_median(changed).total, 0.001)
                cpu = _median(every).cpu["browser"] / max(_median(changed).cpu["browser"], 1.0)
                print(
                    f"{view:5} {rows:4}  feed every element / changed only: wall x{ratio:.1f}, browser cpu x{cpu:.1f}"
                )
                print(_line(view, rows, "sort by CPU", sort), flush=True)
        for view in PER_PAGE:
            paged, whole = results.get((view, PER_PAGE[view])), results.get((view, args.vps))
            if not paged or not whole or paged is whole:
                continue
            print(f"all {args.vps} on one page ÷ {PER_PAGE[view]} a page, {view}:")
            for what in ("first", "update", "sort"):
                print(
                    f"  {what:6} wall x{whole[what].total / paged[what].total:4.1f}"
                    f"  browser cpu x{whole[what].cpu['browser'] / max(paged[what].cpu['browser'], 1.0):4.1f}"
                )
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

"""The fleet page in a Chromium tab, instrumented for bench/fleet_render.py: Dash's
callback requests, the last change under ``#fleet-grid`` and the frame after it, long
tasks, and the CPU time of the processes behind a step."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil
from selenium import webdriver
from selenium.common.exceptions import TimeoutException

__all__ = [
    "PROBE",
    "PUSH",
    "PUSH_FEED",
    "QUIET_S",
    "REREAD",
    "SCRIPT_TIMEOUT_S",
    "CpuClock",
    "Page",
    "Step",
    "StepTimeout",
    "js",
    "settled_after",
    "until",
]

STEP_TIMEOUT_S = 90.0
SCRIPT_TIMEOUT_S = 5
QUIET_S = 0.4

# Installed before any page script: times every Dash callback request, the last change
# under #fleet-grid and the frame after it (layout forced), and long tasks.
PROBE = """
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
    const json = response.json.bind(response);
    // Dash reads the answer with json(): the moment it has the body is the server's end.
    response.json = async () => { const body = await json(); call.end = performance.now(); return body; };
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
    """One measured render: wall times and CPU used, in ms."""

    total: float
    refresh: float | None
    draw: float
    browser: float
    blocked: float
    cpu: dict[str, float]


class CpuClock:
    """CPU time (user + system) used so far by each process tree: on a busy machine,
    what a step costs each part, however long it waited for a core."""

    def __init__(self, roots: dict[str, list[int]]) -> None:
        self._roots = {name: [psutil.Process(pid) for pid in pids] for name, pids in roots.items()}

    def read(self) -> dict[str, float]:
        used = {}
        for name, roots in self._roots.items():
            total = 0.0
            for process in [p for root in roots for p in (root, *root.children(recursive=True))]:
                try:
                    times = process.cpu_times()
                except psutil.NoSuchProcess:
                    continue  # gone since the listing: its time goes with it
                total += times.user + times.system
            used[name] = total * 1000
        return used


class StepTimeout(Exception):
    """A step did not settle in time: the page is too slow at this size."""


def until(condition: Callable[[], Any], what: str, timeout_s: float = STEP_TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise StepTimeout(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(0.05)


def js(driver: webdriver.Chrome, script: str, *args: Any) -> Any:
    """The script's value, or None while the page's main thread is too busy to answer."""
    try:
        return driver.execute_script(script, *args)  # type: ignore[no-untyped-call]
    except TimeoutException:
        return None


class Page:
    """The fleet page in one Chromium tab, with the probe installed."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def state(self) -> dict[str, Any] | None:
        return js(self.driver, "return window.__tw")  # type: ignore[no-any-return]

    def count(self, view: str) -> int | None:
        selector = ".tw-vps-card" if view == "cards" else ".tw-fleet-table tbody tr:not(.tw-fleet-group-row)"
        count = js(self.driver, f"return document.querySelectorAll('{selector}').length")
        return None if count is None else int(count)

    def settled_draw(self, after_ms: float, view: str, rows: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """Wait for a draw that started after ``after_ms`` to end and the grid to settle."""

        def done() -> tuple[dict[str, Any], dict[str, Any]] | None:
            state = self.state()
            if state is None:
                return None
            # The last draw the grid changed after (a draw with nothing new changes nothing).
            draws = [
                c
                for c in state["calls"]
                if "fleet-grid.children" in c["output"]
                and c["start"] > after_ms
                and 0 < c["end"] <= state["lastMutation"]
            ]
            if not draws or self.count(view) != rows:
                return None
            now = js(self.driver, "return performance.now()")
            return (state, draws[-1]) if now and now - state["lastMutation"] > QUIET_S * 1000 else None

        return until(done, f"the {view} view to draw {rows} rows")  # type: ignore[no-any-return]

    def step(
        self,
        state: dict[str, Any],
        draw: dict[str, Any],
        began: float,
        with_refresh: bool,
        cpu: dict[str, float],
    ) -> Step:
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
            cpu=cpu,
        )

    def now_ms(self) -> float:
        return float(until(lambda: js(self.driver, "return performance.now()"), "the page's clock"))


REREAD = 'window.dash_clientside.set_props("fleet-interval", {n_intervals: Date.now()});'
# What assets/live_feed.js does with one batch holding a sample of every server shown.
PUSH = """
const domId = (id) => "{" + Object.keys(id).sort().map((k) => JSON.stringify(k) + ":" + JSON.stringify(id[k])).join(",") + "}";
const set = (vps, field, props) => {
  const id = {type: "fleet-live", vps: vps, field: field};
  if (document.getElementById(domId(id))) window.dash_clientside.set_props(id, props);
};
const shown = Array.from(document.querySelectorAll("[id^='{']")).map((e) => {
  try { return JSON.parse(e.id); } catch (error) { return null; }
}).filter((id) => id && id.type === "fleet-live" && id.field === "status").map((id) => id.vps);
const began = performance.now();
for (const vps of shown) {
  set(vps, "status", {className: "tw-status tw-status-online",
    children: [{type: "Span", namespace: "dash_html_components", props: {className: "tw-dot"}}, "online"]});
  for (const field of ["cpu", "memory"]) {
    const value = Math.random() * 100;
    set(vps, field, {children: value.toFixed(1) + "%"});
    set(vps, field + "-bar", {className: "tw-meter-fill tw-level-ok", style: {width: value.toFixed(1) + "%"}});
    set(vps, field + "-detail", {children: "load " + (value / 25).toFixed(2)});
  }
  set(vps, "net", {children: "↓ " + (value => value.toFixed(1))(Math.random() * 999) + " KiB/s  ↑ 1.0 KiB/s"});
}
return [began, shown.length];
"""


def settled_after(page: Page, began: float) -> dict[str, Any] | None:
    state = page.state()
    now = js(page.driver, "return performance.now()")
    if not state or not now or state["lastMutation"] < began:
        return None
    return state if now - state["lastMutation"] > QUIET_S * 1000 else None


# The feed's own renderer (assets/live_feed.js) with one batch for every server shown,
# in which only CPU and the inbound rate moved since the last one (memory, load and the
# status stay): arguments[0] false writes every element, as the feed did before it
# compared with the page.
PUSH_FEED = """
const shown = Array.from(document.querySelectorAll("[id^='{']")).map((e) => {
  try { return JSON.parse(e.id); } catch (error) { return null; }
}).filter((id) => id && id.type === "fleet-live" && id.field === "status").map((id) => id.vps);
const live = window.tidewatchLive;
live.writes.check = arguments[0];
const batch = {};
const now = Date.now();
for (const vps of shown) {
  batch[vps] = [{vps_id: vps, time_ms: now, cpu_percent: Math.random() * 100, load_1: 0.5,
    memory_used_bytes: 2 ** 30, memory_total_bytes: 4 * 2 ** 30,
    rx_bytes_per_second: Math.random() * 1e6, tx_bytes_per_second: 1024}];
}
const made = live.writes.made;
const began = performance.now();
live.render.fleet({levels: [75, 90], resync: null, root: "fleet-live"}, batch);
live.writes.check = true;
return [began, shown.length, live.writes.made - made];
"""

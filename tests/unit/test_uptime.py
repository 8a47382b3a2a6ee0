"""Uptime over a window from online/offline changes, and the status page's cache."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from api.status_page.cache import TimedCache
from common.uptime import StatusChange, uptime_percent

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
LONG_AGO = T0 - 365 * DAY


def on(at: datetime) -> StatusChange:
    return StatusChange(at, True)


def off(at: datetime) -> StatusChange:
    return StatusChange(at, False)


def test_no_events_at_all_follows_the_current_state() -> None:
    assert uptime_percent([], T0, T0 + DAY, LONG_AGO, online_now=True) == 100.0
    assert uptime_percent([], T0, T0 + DAY, LONG_AGO, online_now=False) == 0.0


def test_offline_at_the_start_of_the_window_counts_down_until_it_comes_back() -> None:
    changes = [off(T0 - 2 * DAY), on(T0 + 6 * HOUR)]
    assert uptime_percent(changes, T0, T0 + DAY, LONG_AGO, online_now=True) == 75.0


def test_online_at_the_start_then_an_outage_inside_the_window() -> None:
    changes = [on(T0 - DAY), off(T0 + 12 * HOUR), on(T0 + 18 * HOUR)]
    assert uptime_percent(changes, T0, T0 + DAY, LONG_AGO, online_now=True) == 75.0


def test_a_vps_created_mid_window_is_judged_on_the_time_it_existed() -> None:
    created = T0 + 12 * HOUR
    # Its agent connected an hour after it was added, and stayed.
    changes = [on(created + HOUR)]
    got = uptime_percent(changes, T0, T0 + DAY, created, online_now=True)
    assert got == pytest.approx(100 * 11 / 12)


def test_a_window_entirely_before_the_vps_existed_has_no_uptime() -> None:
    assert uptime_percent([], T0, T0 + DAY, T0 + 2 * DAY, online_now=True) is None


def test_before_the_first_known_change_the_state_was_the_opposite() -> None:
    # Only an 'offline' at 06:00 is known: it was online before it.
    assert uptime_percent([off(T0 + 6 * HOUR)], T0, T0 + DAY, LONG_AGO, online_now=False) == 25.0
    # Only an 'online' at 06:00: it was offline before.
    assert uptime_percent([on(T0 + 6 * HOUR)], T0, T0 + DAY, LONG_AGO, online_now=True) == 75.0


def test_changes_after_the_window_and_repeats_change_nothing() -> None:
    changes = [on(T0 - DAY), on(T0 + 3 * HOUR), off(T0 + 2 * DAY)]
    assert uptime_percent(changes, T0, T0 + DAY, LONG_AGO, online_now=False) == 100.0


def test_order_of_the_changes_given_does_not_matter() -> None:
    changes = [on(T0 + 18 * HOUR), off(T0 + 12 * HOUR), on(T0 - DAY)]
    assert uptime_percent(changes, T0, T0 + DAY, LONG_AGO, online_now=True) == 75.0


def test_a_change_exactly_at_the_window_start_sets_the_state_from_there() -> None:
    assert uptime_percent([off(T0 - DAY), on(T0)], T0, T0 + DAY, LONG_AGO, online_now=True) == 100.0


async def test_the_cache_loads_once_for_concurrent_misses_and_again_after_the_period() -> None:
    now = [100.0]
    cache: TimedCache[int] = TimedCache(ttl_s=5.0, clock=lambda: now[0])
    release = asyncio.Event()

    async def load() -> int:
        await release.wait()
        return cache.loads + 1

    waiting = [asyncio.ensure_future(cache.get(load)) for _ in range(25)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [1] * 25
    assert cache.loads == 1
    now[0] += 4.9
    assert await cache.get(load) == 1
    now[0] += 0.2
    assert await cache.get(load) == 2
    cache.invalidate()
    assert await cache.get(load) == 3 and cache.loads == 3


async def test_a_failed_load_is_not_cached() -> None:
    cache: TimedCache[int] = TimedCache(ttl_s=60.0)

    async def broken() -> int:
        raise RuntimeError("database down")

    async def works() -> int:
        return 7

    with pytest.raises(RuntimeError):
        await cache.get(broken)
    assert await cache.get(works) == 7


def test_uptime_never_passes_100_percent_by_rounding() -> None:
    start = datetime(2026, 11, 30, 8, 37, 5, 123457, tzinfo=UTC)
    for micro in range(0, 1_000_000, 9_973):
        end = start + timedelta(days=1, microseconds=micro)
        got = uptime_percent([on(start - DAY)], start, end, LONG_AGO, online_now=True)
        assert got == 100.0

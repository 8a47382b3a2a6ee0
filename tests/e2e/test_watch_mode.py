"""Watch mode across two real API instances: a real agent's batching follows the viewers.

The agent batches 5 snapshots (or 5 s) by default, so an observer that does not watch
gets a sample about every 5 s. A socket that watches the VPS, on either API instance,
makes it send every snapshot (about one a second); the agent goes back to batching
only after the last watcher on any instance has left and the grace period has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import psycopg
import pytest

from tests.e2e.live_stack import LiveStack, live_stack, open_live, samples

pytestmark = [pytest.mark.db, pytest.mark.slow]

GRACE_S = 3.0
# Batching: a sample per ~5 s; watched: per ~1 s. Between them, with room for a busy machine.
BATCHED_GAP_S = 3.0
WATCHED_GAP_S = 2.5


def _gaps(got: list[dict[str, Any]]) -> list[float]:
    return [(b["time_ms"] - a["time_ms"]) / 1000 for a, b in itertools.pairwise(got)]


def _leases(stack: LiveStack) -> list[tuple[str, bool]]:
    with psycopg.connect(stack.dsn) as conn:
        rows = conn.execute(
            "SELECT api_instance, expires_at > now() FROM live_watch_leases WHERE vps_id = %s ORDER BY 1",
            (stack.vps.id,),
        ).fetchall()
    return [(str(r[0]), bool(r[1])) for r in rows]


async def _until_batched(observer: Any, timeout_s: float) -> list[float]:
    """Samples until two consecutive gaps show batching again; their gaps."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    recent: list[dict[str, Any]] = []
    while loop.time() < deadline:
        recent = (recent + await samples(observer, 1, deadline - loop.time()))[-3:]
        gaps = _gaps(recent)
        if len(gaps) == 2 and min(gaps) >= BATCHED_GAP_S:
            return gaps
    raise AssertionError(f"still not batching after {timeout_s} s: {_gaps(recent)}")


async def _watched_for(observer: Any, count: int) -> list[float]:
    """The gaps of the next ``count`` samples, after dropping whatever was in flight."""
    await samples(observer, 2, 30)
    return _gaps(await samples(observer, count, 30))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with live_stack(tmp_path_factory.mktemp("watch"), apis=2, watch_grace_s=GRACE_S) as s:
        yield s


async def test_watchers_on_two_instances_hold_watch_mode_until_the_last_leaves(stack: LiveStack) -> None:
    api_a, api_b = stack.api_urls
    vps = stack.vps.id
    observer, ack = await open_live(api_a, stack.token(0), {"vps_ids": [vps]})
    assert ack["watching"] == []
    try:
        # Nobody watches: the agent's own batching.
        await samples(observer, 1, 60)
        assert min(_gaps(await samples(observer, 3, 60))) >= BATCHED_GAP_S, stack.logs()

        viewer_a, ack_a = await open_live(api_a, stack.token(0), {"vps_ids": [vps], "watch": True})
        assert ack_a["watching"] == [vps]
        gaps = await _watched_for(observer, 4)
        assert max(gaps) <= WATCHED_GAP_S, (gaps, stack.logs())

        viewer_b, ack_b = await open_live(api_b, stack.token(1), {"vps_ids": [vps], "watch": True})
        assert ack_b["watching"] == [vps]
        await viewer_a.close()
        # A's lease lapses after the grace; B's still holds the agent in watch mode.
        await asyncio.sleep(GRACE_S + 3)
        leases = _leases(stack)
        assert sorted(active for _, active in leases) == [False, True], leases
        gaps = await _watched_for(observer, 4)
        assert max(gaps) <= WATCHED_GAP_S, (gaps, stack.logs())

        await viewer_b.close()
        # The last watcher left: after the grace, the agent batches again.
        gaps = await _until_batched(observer, 40)
        assert all(not active for _, active in _leases(stack))
        assert "batch_max_snapshots=1" in stack.agent.log_path.read_text()
        assert "batch_max_snapshots=5" in stack.agent.log_path.read_text()
    finally:
        await observer.close()


async def test_the_whole_fleet_is_watched_only_while_it_is_small(stack: LiveStack) -> None:
    fleet, ack = await open_live(stack.api_urls[1], stack.token(1), {"all": True, "watch": True})
    try:
        assert ack["watching"] == [stack.vps.id]
        with psycopg.connect(stack.dsn) as conn:
            conn.execute(
                "INSERT INTO vps (name, agent_key_id, agent_token_hash)"
                " SELECT 'filler-' || g, 'filler-key-' || g, 'x' FROM generate_series(1, 12) AS g"
            )
        big, ack = await open_live(stack.api_urls[1], stack.token(1), {"all": True, "watch": True})
        await big.close()
        assert ack["watching"] == []
        # A subscription naming this one VPS is granted, whatever the fleet's size.
        one, ack = await open_live(
            stack.api_urls[1], stack.token(1), {"vps_ids": [stack.vps.id], "watch": True}
        )
        await one.close()
        assert ack["watching"] == [stack.vps.id]
    finally:
        await fleet.close()


async def test_a_crashed_instances_watch_lapses_by_itself(stack: LiveStack) -> None:
    """Runs last: it kills API instance B, whose watcher then never says goodbye."""
    observer, _ = await open_live(stack.api_urls[0], stack.token(0), {"vps_ids": [stack.vps.id]})
    try:
        await _until_batched(observer, 40)  # whatever the earlier tests left has lapsed
        viewer, ack = await open_live(
            stack.api_urls[1], stack.token(1), {"vps_ids": [stack.vps.id], "watch": True}
        )
        assert ack["watching"] == [stack.vps.id]
        gaps = await _watched_for(observer, 3)
        assert max(gaps) <= WATCHED_GAP_S, (gaps, stack.logs())
        stack.apis[1].kill()
        await _until_batched(observer, 40)
        assert all(not active for _, active in _leases(stack))
        with contextlib.suppress(Exception):
            await viewer.close()
    finally:
        await observer.close()

"""The agent's reconnect delays: a fleet that lost its collector at once comes back spread out."""

from __future__ import annotations

from pathlib import Path

from agent.runtime.client import StreamClient
from common.backoff import Backoff
from tests.unit.test_agent_stream import _client, _store


def _spread_client(tmp_path: Path, spread_s: float, backoff: Backoff) -> StreamClient:
    client, _ = _client(1, _store(tmp_path), reconnect_spread_s=spread_s)
    client._backoff = backoff  # the one a stable stream resets
    return client


def test_the_first_reconnect_after_a_stable_stream_is_spread_over_the_window(tmp_path: Path) -> None:
    backoff = Backoff(base_s=0.5, cap_s=30.0)
    backoff.attempts = 7  # failures before the stream that then held
    client = _spread_client(tmp_path, 5.0, backoff)
    delays = [client.reconnect_delay(backoff, stable=True) for _ in range(400)]
    assert all(0.0 <= d <= 5.0 for d in delays)
    # Spread over the whole window, not bunched in the backoff's first half second.
    assert sum(d > 2.5 for d in delays) > 100
    assert sum(d < 2.5 for d in delays) > 100
    assert backoff.attempts == 0  # the stable stream reset the backoff


def test_failed_attempts_then_back_off_exponentially_with_jitter(tmp_path: Path) -> None:
    backoff = Backoff(base_s=0.5, cap_s=30.0)
    client = _spread_client(tmp_path, 5.0, backoff)
    delays = [client.reconnect_delay(backoff, stable=False) for _ in range(4)]
    ceilings = [0.5, 1.0, 2.0, 4.0]
    assert all(0.0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert backoff.attempts == 4


def test_the_window_never_exceeds_the_backoff_cap(tmp_path: Path) -> None:
    backoff = Backoff(base_s=0.05, cap_s=0.1)
    client = _spread_client(tmp_path, 5.0, backoff)
    assert max(client.reconnect_delay(backoff, stable=True) for _ in range(200)) <= 0.1


def _after(attempts: int) -> Backoff:
    backoff = Backoff(base_s=0.5, cap_s=30.0)
    backoff.attempts = attempts
    return backoff


def test_a_stream_that_dropped_before_it_was_stable_is_spread_too(tmp_path: Path) -> None:
    # A second collector restart within stable_after_s: the fleet drops together again.
    client = _spread_client(tmp_path, 5.0, _after(0))
    delays = [client.reconnect_delay(_after(0), stable=False, established=True) for _ in range(400)]
    assert all(0.0 <= d <= 5.0 for d in delays)
    assert sum(d > 2.5 for d in delays) > 100  # not bunched in the backoff's first half second


def test_a_stream_that_keeps_dropping_still_backs_off_past_the_window(tmp_path: Path) -> None:
    client = _spread_client(tmp_path, 5.0, _after(0))
    backoff = _after(5)  # ceiling 0.5 * 2**5 = 16 s
    delay = client.reconnect_delay(backoff, stable=False, established=True)
    assert 0.0 <= delay <= 16.0
    assert backoff.attempts == 6  # counted as a failed attempt
    delays = [client.reconnect_delay(_after(5), stable=False, established=True) for _ in range(200)]
    assert max(delays) <= 16.0
    assert sum(d > 5.0 for d in delays) > 50

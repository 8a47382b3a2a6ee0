"""The in-process session cache: TTL, token expiry, eviction and bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.auth.sessions import AuthUser, SessionCache
from common.api_models import Role


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _user(user_id: int = 1, token_id: int = 10) -> AuthUser:
    return AuthUser(id=user_id, username=f"u{user_id}", role=Role.VIEWER, token_id=token_id)


def test_entries_live_for_the_ttl_only() -> None:
    clock = Clock()
    cache = SessionCache(ttl_s=30, clock=clock)
    cache.put("twu_a", _user(), expires_at=None)
    assert cache.get("twu_a") == _user() and cache.get("twu_b") is None
    clock.now += 29.9
    assert cache.get("twu_a") is not None
    clock.now += 0.2
    assert cache.get("twu_a") is None


def test_a_token_expiring_sooner_than_the_ttl_is_not_kept_past_it() -> None:
    clock = Clock()
    cache = SessionCache(ttl_s=30, clock=clock)
    cache.put("soon", _user(), expires_at=datetime.now(UTC) + timedelta(seconds=5))
    cache.put("gone", _user(), expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert cache.get("gone") is None
    clock.now += 6
    assert cache.get("soon") is None


def test_eviction_by_token_and_by_user() -> None:
    cache = SessionCache()
    cache.put("a", _user(1, 10), None)
    cache.put("b", _user(1, 11), None)
    cache.put("c", _user(2, 12), None)
    cache.evict(token_id=10)
    assert (cache.get("a"), cache.get("b") is not None) == (None, True)
    cache.evict(user_id=1)
    assert cache.get("b") is None and cache.get("c") is not None


def test_the_cache_is_bounded_oldest_first() -> None:
    cache = SessionCache(max_entries=2)
    for name in ("a", "b", "c"):
        cache.put(name, _user(), None)
    assert [cache.get(n) is not None for n in ("a", "b", "c")] == [False, True, True]

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
    cache.put("twu_a", _user(), expires_at=None, read_at=cache.generation)
    assert cache.get("twu_a") == _user() and cache.get("twu_b") is None
    clock.now += 29.9
    assert cache.get("twu_a") is not None
    clock.now += 0.2
    assert cache.get("twu_a") is None


def test_a_token_expiring_sooner_than_the_ttl_is_not_kept_past_it() -> None:
    clock = Clock()
    cache = SessionCache(ttl_s=30, clock=clock)
    cache.put("soon", _user(), expires_at=datetime.now(UTC) + timedelta(seconds=5), read_at=0)
    cache.put("gone", _user(), expires_at=datetime.now(UTC) - timedelta(seconds=1), read_at=0)
    assert cache.get("gone") is None
    clock.now += 6
    assert cache.get("soon") is None


def test_eviction_by_token_and_by_user() -> None:
    cache = SessionCache()
    cache.put("a", _user(1, 10), None, read_at=cache.generation)
    cache.put("b", _user(1, 11), None, read_at=cache.generation)
    cache.put("c", _user(2, 12), None, read_at=cache.generation)
    cache.evict(token_id=10)
    assert (cache.get("a"), cache.get("b") is not None) == (None, True)
    cache.evict(user_id=1)
    assert cache.get("b") is None and cache.get("c") is not None


def test_the_cache_is_bounded_oldest_first() -> None:
    cache = SessionCache(max_entries=2)
    for name in ("a", "b", "c"):
        cache.put(name, _user(), None, read_at=cache.generation)
    assert [cache.get(n) is not None for n in ("a", "b", "c")] == [False, True, True]


def test_a_hint_marks_the_token_or_the_users_tokens_for_a_recheck() -> None:
    cache = SessionCache()
    for name, user in (("a", _user(1, 10)), ("b", _user(1, 11)), ("c", _user(2, 12))):
        cache.put(name, user, None, read_at=cache.generation)
    cache.mark_changed(token_id=10)
    # A marked entry is not served as is, and is offered for the row's re-read.
    assert cache.get("a") is None and cache.due_recheck("a") == _user(1, 10)
    assert cache.get("b") == _user(1, 11) and cache.due_recheck("b") is None
    cache.mark_changed(user_id=1)
    assert cache.get("b") is None and cache.due_recheck("b") == _user(1, 11)
    assert cache.get("c") == _user(2, 12)
    cache.mark_all_changed()
    assert [cache.due_recheck(n) is not None for n in ("a", "b", "c")] == [True, True, True]
    # Re-reading the row puts a fresh entry back.
    cache.put("c", _user(2, 12), None, read_at=cache.generation)
    assert cache.get("c") == _user(2, 12)


def test_a_row_read_before_a_hint_or_an_eviction_is_cached_due_a_recheck() -> None:
    """The race a hint must not lose: a request reads the row, the token is revoked
    elsewhere and the hint lands, then the request caches what it read."""
    cache = SessionCache()
    read_at = cache.generation
    cache.mark_changed(token_id=99)  # about another token, even
    cache.put("a", _user(1, 10), None, read_at=read_at)
    assert cache.get("a") is None and cache.due_recheck("a") == _user(1, 10)
    read_at = cache.generation
    cache.evict(token_id=10)
    cache.put("a", _user(1, 10), None, read_at=read_at)
    assert cache.get("a") is None

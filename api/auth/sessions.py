"""Bearer sessions: issue them at login, verify them on every request.

A token is verified with argon2 once, then remembered in-process for a short
TTL under the SHA-256 of the token, so steady traffic pays a dict lookup.
Revocations on this instance evict at once. Other instances hear of them through
a hint (api.auth.change_hints) that marks the cached entries for a re-check: the
next request re-reads the token's row (one indexed query, no argon2). A hint is
never trusted to grant anything, so a forged one costs a query and no more; the
TTL bounds what an instance that missed a hint may still accept.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import msgspec
from litestar.exceptions import NotAuthorizedException

from common.api_models import Role
from common.tokens import API_TOKEN_PREFIX, IssuedToken, issue_token, parse_token, verify_token

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow

__all__ = [
    "TOKEN_STATE",
    "AuthUser",
    "SessionCache",
    "authenticate",
    "create_session",
    "issue_session_token",
]

CACHE_TTL_S = 30.0
CACHE_MAX_ENTRIES = 10_000

_LOOKUP = """
SELECT t.id AS token_id, t.token_hash, t.expires_at,
       u.id AS user_id, u.username, u.role, u.disabled
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.key_id = %s
"""
# A known token's row as it stands now: enough to re-check a cached entry or an
# open live socket without argon2 (the secret was verified when it was cached).
TOKEN_STATE = """
SELECT u.id AS user_id, u.username, u.role, u.disabled, t.expires_at,
       t.expires_at IS NOT NULL AND t.expires_at <= now() AS expired
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.id = %s
"""


class AuthUser(msgspec.Struct, frozen=True):
    """The caller of a request, as the handlers see it."""

    id: int
    username: str
    role: Role
    token_id: int


@dataclass(slots=True)
class _Entry:
    user: AuthUser
    valid_until: float
    # Set by a change hint: the row may have changed since it was read.
    recheck: bool = False


class SessionCache:
    """Recently verified tokens, keyed on their SHA-256, bounded in size."""

    def __init__(
        self,
        ttl_s: float = CACHE_TTL_S,
        max_entries: int = CACHE_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # Counts evictions and hints: a row read before one of them may be stale.
        self.generation = 0

    def get(self, token: str) -> AuthUser | None:
        """The cached user, unless absent, expired or due a re-check."""
        entry = self._entry(token)
        return None if entry is None or entry.recheck else entry.user

    def due_recheck(self, token: str) -> AuthUser | None:
        """The cached user of an entry a hint marked: its row must be re-read."""
        entry = self._entry(token)
        return entry.user if entry is not None and entry.recheck else None

    def _entry(self, token: str) -> _Entry | None:
        key = _key(token)
        entry = self._entries.get(key)
        if entry is not None and entry.valid_until <= self._clock():
            del self._entries[key]
            return None
        return entry

    def put(self, token: str, user: AuthUser, expires_at: datetime | None, *, read_at: int) -> None:
        """Remember ``user`` for ``token``, from a row read when ``generation`` was
        ``read_at``; a hint since then leaves the entry due a re-check."""
        valid_for = self._ttl_s
        if expires_at is not None:
            valid_for = min(valid_for, (expires_at - datetime.now(UTC)).total_seconds())
        if valid_for <= 0:
            return
        key = _key(token)
        recheck = read_at != self.generation
        self._entries[key] = _Entry(user, self._clock() + valid_for, recheck)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def mark_changed(self, *, token_id: int | None = None, user_id: int | None = None) -> None:
        """A hint: this token, or every token of this user, may have changed elsewhere."""
        self.generation += 1
        for entry in self._entries.values():
            if entry.user.token_id == token_id or entry.user.id == user_id:
                entry.recheck = True

    def mark_all_changed(self) -> None:
        """Hints may have been missed (the listener reconnected): re-check every entry."""
        self.generation += 1
        for entry in self._entries.values():
            entry.recheck = True

    def evict(self, *, token_id: int | None = None, user_id: int | None = None) -> None:
        """Forget a revoked token, or every token of a changed user."""
        self.generation += 1
        stale = [
            key
            for key, entry in self._entries.items()
            if entry.user.token_id == token_id or entry.user.id == user_id
        ]
        for key in stale:
            del self._entries[key]


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def authenticate(conn: AsyncConnection[DictRow], cache: SessionCache, token: str) -> AuthUser:
    """The user behind ``token``; raises 401 unless it is valid, unexpired and enabled."""
    key_id = parse_token(token, API_TOKEN_PREFIX)
    if key_id is None:
        raise NotAuthorizedException("malformed bearer token: expected twu_<key id>.<secret>")
    if (cached := cache.get(token)) is not None:
        return cached
    generation = cache.generation
    if (marked := cache.due_recheck(token)) is not None:
        return await _recheck(conn, cache, token, marked, generation)
    row = await (await conn.execute(_LOOKUP, (key_id,))).fetchone()
    # argon2 is CPU-bound: keep it off the event loop.
    if row is None or not await asyncio.to_thread(verify_token, row["token_hash"], token):
        raise NotAuthorizedException("invalid or revoked token")
    user = _user_of(row, row["token_id"])
    await conn.execute("UPDATE api_tokens SET last_used_at = now() WHERE id = %s", (row["token_id"],))
    cache.put(token, user, row["expires_at"], read_at=generation)
    return user


def _user_of(row: DictRow, token_id: int) -> AuthUser:
    """The user of an existing token's row; 401 if the token expired or the account is disabled."""
    if row["expires_at"] is not None and row["expires_at"] <= datetime.now(UTC):
        raise NotAuthorizedException("token expired: log in again")
    if row["disabled"]:
        raise NotAuthorizedException("this account is disabled")
    return AuthUser(id=row["user_id"], username=row["username"], role=Role(row["role"]), token_id=token_id)


async def _recheck(
    conn: AsyncConnection[DictRow], cache: SessionCache, token: str, marked: AuthUser, generation: int
) -> AuthUser:
    """Re-read a hinted entry's row: still there and enabled keeps it (with the role
    as it is now); anything else is a 401 and forgets it."""
    row = await (await conn.execute(TOKEN_STATE, (marked.token_id,))).fetchone()
    try:
        if row is None:
            raise NotAuthorizedException("invalid or revoked token")
        user = _user_of(row, marked.token_id)
    except NotAuthorizedException:
        cache.evict(token_id=marked.token_id)
        raise
    cache.put(token, user, row["expires_at"], read_at=generation)
    return user


def issue_session_token() -> IssuedToken:
    """A new bearer token and its argon2 hash (CPU-bound: run it on the hashing pool)."""
    return issue_token(API_TOKEN_PREFIX)


async def create_session(
    conn: AsyncConnection[DictRow], user_id: int, ttl: timedelta, description: str, issued: IssuedToken
) -> tuple[str, datetime]:
    """Store ``issued`` for ``user_id``; return the token (shown once) and its expiry."""
    cur = await conn.execute(
        "INSERT INTO api_tokens (user_id, key_id, token_hash, description, expires_at)"
        " VALUES (%s, %s, %s, %s, now() + %s) RETURNING expires_at",
        (user_id, issued.key_id, issued.token_hash, description, ttl),
    )
    row = await cur.fetchone()
    assert row is not None
    return issued.token, row["expires_at"]

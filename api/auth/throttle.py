"""Rate limits for login and self-registration: token buckets, in process.

Login draws one token from the caller IP's bucket and one from the bucket of
(IP, username). The (IP, username) bucket stops password guessing against one
account; the IP bucket stops spraying many names from one address. There is
deliberately no bucket per username alone: an attacker could keep it empty
and lock the real admin out for as long as the attack lasts. With these
buckets an admin signing in from another address is never slowed, and one
sharing the attacker's address waits at most until the buckets refill.

Buckets live in each API instance's memory: with N instances behind a load
balancer an attacker gets N times the budget (docs/security.md). The hashing
pool (api.auth.hashing) bounds the CPU each instance spends either way.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from api.errors import ProblemError

__all__ = ["AuthThrottle", "BucketRule", "TokenBuckets"]

MAX_TRACKED_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class BucketRule:
    """``capacity`` attempts at once, refilled at ``per_minute``."""

    capacity: int
    per_minute: float

    @property
    def refill_per_s(self) -> float:
        return self.per_minute / 60.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Buckets keyed by any string, bounded in number (least recently used go first:
    a forgotten bucket is a full one, which only ever favours the caller)."""

    def __init__(
        self, rule: BucketRule, clock: Callable[[], float], max_keys: int = MAX_TRACKED_KEYS
    ) -> None:
        self._rule = rule
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def wait_s(self, key: str) -> float:
        """Seconds until ``key`` has a token (0 when it has one now)."""
        bucket = self._refilled(key)
        if bucket.tokens >= 1.0:
            return 0.0
        return (1.0 - bucket.tokens) / self._rule.refill_per_s

    def take(self, key: str) -> None:
        """Spend one token of ``key`` (call after :meth:`wait_s` said 0)."""
        self._refilled(key).tokens -= 1.0

    def _refilled(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self._rule.capacity), now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            refill = (now - bucket.updated) * self._rule.refill_per_s
            bucket.tokens = min(float(self._rule.capacity), bucket.tokens + refill)
            bucket.updated = now
        return bucket


# 10 quick tries per account and address, then one every 12 s.
LOGIN_PER_IP_AND_USER = BucketRule(capacity=10, per_minute=5)
# 30 quick tries per address over any names, then one every 2 s.
LOGIN_PER_IP = BucketRule(capacity=30, per_minute=30)
# 5 new accounts per address at once, then one a minute.
REGISTER_PER_IP = BucketRule(capacity=5, per_minute=1)


class AuthThrottle:
    """The login and registration limits of one API instance."""

    def __init__(
        self,
        login_per_ip_and_user: BucketRule = LOGIN_PER_IP_AND_USER,
        login_per_ip: BucketRule = LOGIN_PER_IP,
        register_per_ip: BucketRule = REGISTER_PER_IP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._login_account = TokenBuckets(login_per_ip_and_user, clock)
        self._login_ip = TokenBuckets(login_per_ip, clock)
        self._register_ip = TokenBuckets(register_per_ip, clock)

    def admit_login(self, client_ip: str, username: str) -> None:
        """Spend a login attempt; 429 with Retry-After when either bucket is empty."""
        account = f"{client_ip}\x00{username.casefold()}"
        wait = max(self._login_account.wait_s(account), self._login_ip.wait_s(client_ip))
        if wait > 0:
            raise _too_many("login attempts", wait)
        self._login_account.take(account)
        self._login_ip.take(client_ip)

    def admit_registration(self, client_ip: str) -> None:
        """Spend a registration attempt; 429 with Retry-After when the address is over its limit."""
        wait = self._register_ip.wait_s(client_ip)
        if wait > 0:
            raise _too_many("registrations", wait)
        self._register_ip.take(client_ip)


def _too_many(what: str, wait_s: float) -> ProblemError:
    retry_after = max(1, math.ceil(wait_s))
    return ProblemError(
        429,
        f"too many {what} from this address; try again in {retry_after} s",
        slug="too-many-requests",
        title="Too many attempts",
        headers={"Retry-After": str(retry_after)},
    )

"""Who signed in successfully lately, from where: the key to the reserved hashing slots.

An attacker rotating addresses can fill the general password-check slots for
as long as the storm lasts. A pair of (address, username) that has proven the
password lately is let into slots the storm cannot take (api.auth.hashing), so
the real admin at their usual address still gets in. The attacker cannot claim
the pair without the admin's address, and from it is held by the login throttle
of that (address, username).

Pairs live in each instance's memory, bounded in number; a restart forgets
them, which only returns those users to the general slots.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["RecentLogins"]

REMEMBER_S = 30 * 24 * 3600.0
MAX_REMEMBERED = 10_000


class RecentLogins:
    """(address, username) pairs that signed in within ``remember_s``, least recent forgotten first."""

    def __init__(
        self,
        remember_s: float = REMEMBER_S,
        max_remembered: int = MAX_REMEMBERED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._remember_s = remember_s
        self._max_remembered = max_remembered
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def record(self, client_ip: str, username: str) -> None:
        """Note a successful sign-in."""
        key = (client_ip, username.casefold())
        self._seen[key] = self._clock()
        self._seen.move_to_end(key)
        while len(self._seen) > self._max_remembered:
            self._seen.popitem(last=False)

    def __contains__(self, pair: tuple[str, str]) -> bool:
        client_ip, username = pair
        key = (client_ip, username.casefold())
        seen = self._seen.get(key)
        if seen is None:
            return False
        if self._clock() - seen > self._remember_s:
            del self._seen[key]
            return False
        return True

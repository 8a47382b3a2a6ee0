"""Auth change hints: sent with each revoking change, heard by every API instance.

Each instance LISTENs on ``AUTH_CHANGE_CHANNEL`` (api.listening); a hint marks
the named token, or every token of the named user, in the session cache for a
re-check on its next request (api.auth.sessions). Hints are never trusted to
grant anything: any database role may NOTIFY, and the worst a forged or unreadable
hint does is make an instance re-read rows. A reconnect marks every entry, since
hints may have been missed while the connection was down.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import psycopg

from api.auth.sessions import SessionCache
from api.listening import ChannelListener
from common.auth_changes import NOTIFY_AUTH_CHANGE, AuthChange, auth_change_payload
from common.channels import AUTH_CHANGE_CHANNEL

__all__ = ["AuthChangeListener", "announce_auth_change"]

log = logging.getLogger("tidewatch.api.auth")

_decoder = msgspec.json.Decoder(AuthChange)


async def announce_auth_change(
    conn: psycopg.AsyncConnection[Any], *, token_id: int | None = None, user_id: int | None = None
) -> None:
    """Tell every API instance, once this transaction commits, to re-check a token or user."""
    await conn.execute(NOTIFY_AUTH_CHANGE, (auth_change_payload(token_id=token_id, user_id=user_id),))


class AuthChangeListener(ChannelListener):
    """Marks session cache entries for a re-check as hints arrive."""

    def __init__(self, cache: SessionCache) -> None:
        super().__init__(AUTH_CHANGE_CHANNEL, label="auth change hints")
        self._cache = cache
        # Hints handled since start: lets a caller wait for one without sleeping.
        self.heard = 0

    async def on_listen(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._cache.mark_all_changed()

    def on_notify(self, payload: str) -> None:
        self.heard += 1
        try:
            change = _decoder.decode(payload)
        except msgspec.DecodeError:
            change = AuthChange()
        if change.token_id is None and change.user_id is None:
            # Unreadable (a newer format, or forged): re-checking everything is always safe.
            log.warning("auth change hint not understood (%.80r); re-checking every cached token", payload)
            self._cache.mark_all_changed()
            return
        self._cache.mark_changed(token_id=change.token_id, user_id=change.user_id)

"""Authenticate agents by their per-VPS token.

The token names its key id, which finds the VPS row; argon2 verifies the token
against the stored hash. Successful checks are cached by a digest of the token
and the stored hash, so reconnect storms do not each pay for argon2, and a
rotated token (a new stored hash) misses the cache at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import NamedTuple

from collector.database import Database
from common.tokens import AGENT_TOKEN_PREFIX, parse_token, verify_token

__all__ = ["AgentAuthenticator", "AgentIdentity", "AuthFailure"]

log = logging.getLogger("tidewatch.collector.auth")


class AuthFailure(Exception):
    """The token is missing, malformed, unknown or wrong; the message is safe to return."""


class AgentIdentity(NamedTuple):
    """Who a stream authenticated as: the VPS, and the stored hash its token matched.

    The hash is kept with the held stream, so a hint that the token rotated can be
    checked against the vps row instead of believed.
    """

    vps_id: int
    token_hash: str


class AgentAuthenticator:
    def __init__(self, db: Database) -> None:
        # Its query limit answers UNAVAILABLE well inside the agent's handshake timeout.
        self._db = db
        self._verified: dict[tuple[str, str], int] = {}

    async def authenticate(self, authorization: str | None) -> AgentIdentity:
        """The identity for an ``authorization: Bearer <token>`` value, or AuthFailure."""
        if not authorization:
            raise AuthFailure("missing 'authorization: Bearer <agent token>' metadata")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthFailure("authorization metadata must be 'Bearer <agent token>'")
        token = token.strip()
        key_id = parse_token(token, AGENT_TOKEN_PREFIX)
        if key_id is None:
            raise AuthFailure("malformed agent token (expected twa_<key>.<secret>)")
        async with self._db.connection("agent authentication") as conn:
            row = await (
                await conn.execute("SELECT id, agent_token_hash FROM vps WHERE agent_key_id = %s", (key_id,))
            ).fetchone()
        if row is None:
            raise AuthFailure(
                "unknown agent token: no VPS in Tidewatch has it (was this VPS removed?);"
                " create the VPS in Tidewatch and reinstall the agent with its token"
            )
        vps_id, token_hash = int(row[0]), str(row[1])
        cache_key = (hashlib.sha256(token.encode()).hexdigest(), token_hash)
        if self._verified.get(cache_key) == vps_id:
            return AgentIdentity(vps_id, token_hash)
        if not await asyncio.to_thread(verify_token, token_hash, token):
            raise AuthFailure("wrong agent token (was it rotated?)")
        if len(self._verified) > 100_000:
            self._verified.clear()
        self._verified[cache_key] = vps_id
        return AgentIdentity(vps_id, token_hash)

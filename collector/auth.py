"""Authenticate agents by their per-VPS token.

The token names its key id, which finds the VPS row. A row with a stored
SHA-256 digest of the token (``vps.agent_token_digest``, sql/0019) is checked
against it in microseconds: agent tokens carry 256 random bits, so the digest
is as safe as argon2 for them. The rows of handshakes that arrive together (a
reconnect storm) are read with one SELECT. Otherwise argon2 verifies the token against the
stored hash, and the digest is stored for the next handshake (only while the
hash is still the one verified; a rotation clears the digest in the database).
Successful checks are also cached by a digest of the token and the stored hash,
and a rotated token (a new stored hash) misses the cache at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from typing import NamedTuple

import psycopg
from psycopg_pool import PoolTimeout

from collector.database import Database
from collector.vps_locks import LOCK_VPS_IN_ID_ORDER
from common.tokens import AGENT_TOKEN_PREFIX, parse_token, verify_token

__all__ = ["AgentAuthenticator", "AgentIdentity", "AuthFailure", "token_digest"]

log = logging.getLogger("tidewatch.collector.auth")

# Digests verified within this long of each other are stored in one statement.
DIGEST_WRITE_DELAY_S = 0.5
# Lookups of vps rows at once, each for every handshake waiting when it starts.
LOOKUP_CONCURRENCY = 2
# argon2 verifications at once (tokens with no stored digest yet).
ARGON2_CONCURRENCY = 4


class AuthFailure(Exception):
    """The token is missing, malformed, unknown or wrong; the message is safe to return."""


class AgentIdentity(NamedTuple):
    """Who a stream authenticated as: the VPS, and the stored hash its token matched.

    The hash is kept with the held stream, so a hint that the token rotated can be
    checked against the vps row instead of believed.
    """

    vps_id: int
    token_hash: str


class _VpsRow(NamedTuple):
    vps_id: int
    token_hash: str
    stored_digest: bytes | None


def token_digest(token: str) -> bytes:
    """What ``vps.agent_token_digest`` holds for ``token`` (domain-separated SHA-256)."""
    return hashlib.sha256(b"tidewatch agent token digest v1\x00" + token.encode()).digest()


class AgentAuthenticator:
    def __init__(self, db: Database, slots: asyncio.Semaphore | None = None) -> None:
        # Its query limit answers UNAVAILABLE well inside the agent's handshake timeout.
        self._db = db
        # The pool connections handshakes may hold at once, shared with registration
        # (AgentStreamService), so that a storm leaves connections to the flushers.
        self._slots = slots
        self._verified: dict[tuple[str, str], int] = {}
        self._pending_digests: dict[int, tuple[str, bytes]] = {}
        self._digest_writer: asyncio.Task[None] | None = None
        # Key ids waiting for the next lookup, each with the handshakes that want its row.
        self._lookups: dict[str, list[asyncio.Future[_VpsRow | None]]] = {}
        self._lookup_tasks: set[asyncio.Task[None]] = set()
        # argon2 is slow and memory-hard: a storm of first handshakes must not run it all at once.
        self._argon2_slots = asyncio.Semaphore(ARGON2_CONCURRENCY)

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
        row = await self._lookup(key_id)
        if row is None:
            raise AuthFailure(
                "unknown agent token: no VPS in Tidewatch has it (was this VPS removed?);"
                " create the VPS in Tidewatch and reinstall the agent with its token"
            )
        vps_id, token_hash, stored_digest = row
        digest = token_digest(token)
        if stored_digest is not None:
            if not hmac.compare_digest(digest, bytes(stored_digest)):
                raise AuthFailure("wrong agent token (was it rotated?)")
            return AgentIdentity(vps_id, token_hash)
        cache_key = (hashlib.sha256(token.encode()).hexdigest(), token_hash)
        if self._verified.get(cache_key) != vps_id:
            async with self._argon2_slots:
                verified = await asyncio.to_thread(verify_token, token_hash, token)
            if not verified:
                raise AuthFailure("wrong agent token (was it rotated?)")
            if len(self._verified) > 100_000:
                self._verified.clear()
            self._verified[cache_key] = vps_id
        self._remember_digest(vps_id, token_hash, digest)
        return AgentIdentity(vps_id, token_hash)

    async def _lookup(self, key_id: str) -> _VpsRow | None:
        """The vps row of ``key_id``: one SELECT for every handshake of the same instant."""
        waiter: asyncio.Future[_VpsRow | None] = asyncio.get_running_loop().create_future()
        self._lookups.setdefault(key_id, []).append(waiter)
        if len(self._lookup_tasks) < LOOKUP_CONCURRENCY:
            task = asyncio.create_task(self._run_lookups(), name="agent-token-lookups")
            self._lookup_tasks.add(task)
            task.add_done_callback(self._lookup_tasks.discard)
        return await waiter

    async def _run_lookups(self) -> None:
        # Handshakes that arrive while the lookups run wait for the next free one: no timer,
        # so a lone handshake waits for nothing and a storm's share a few statements. More
        # than one at a time, so a handshake never waits out a slow lookup before its own.
        await asyncio.sleep(0)
        while self._lookups:
            batch, self._lookups = self._lookups, {}
            try:
                async with (
                    self._slots or contextlib.nullcontext(),
                    self._db.connection("agent authentication") as conn,
                ):
                    rows = await (
                        await conn.execute(
                            "SELECT agent_key_id, id, agent_token_hash, agent_token_digest FROM vps"
                            " WHERE agent_key_id = ANY(%s)",
                            (list(batch),),
                        )
                    ).fetchall()
            except Exception as exc:  # each handshake answers UNAVAILABLE
                for waiters in batch.values():
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                continue
            found = {str(r[0]): _VpsRow(int(r[1]), str(r[2]), r[3]) for r in rows}
            for key_id, waiters in batch.items():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(found.get(key_id))

    def _remember_digest(self, vps_id: int, token_hash: str, digest: bytes) -> None:
        """Store the verified token's digest soon, outside the handshake: one UPDATE for many."""
        self._pending_digests[vps_id] = (token_hash, digest)
        if self._digest_writer is None or self._digest_writer.done():
            self._digest_writer = asyncio.create_task(self._write_digests(), name="agent-token-digests")

    async def digests_written(self) -> None:
        """Wait until the digests remembered so far are written (or failed)."""
        while self._digest_writer is not None and not self._digest_writer.done():
            await asyncio.shield(self._digest_writer)

    async def _write_digests(self) -> None:
        await asyncio.sleep(DIGEST_WRITE_DELAY_S)  # gather a storm's digests into one statement
        pending, self._pending_digests = self._pending_digests, {}
        ids = list(pending)
        try:
            async with self._db.connection("agent token digests") as conn:
                # Only while the hash is still the one verified: a rotation meanwhile wins.
                await conn.execute(
                    f"WITH locked AS ({LOCK_VPS_IN_ID_ORDER})"
                    " UPDATE vps SET agent_token_digest = d.digest"
                    " FROM unnest(%s::int8[], %s::text[], %s::bytea[]) AS d (id, token_hash, digest), locked"
                    " WHERE vps.id = d.id AND locked.id = d.id AND vps.agent_token_hash = d.token_hash"
                    " AND vps.agent_token_digest IS NULL",
                    (sorted(ids), ids, [pending[i][0] for i in ids], [pending[i][1] for i in ids]),
                )
        except (psycopg.OperationalError, PoolTimeout) as exc:  # the next handshake tries again
            log.warning("%d agent token digest(s) not stored (database?): %s", len(ids), str(exc).strip())

"""Agent tokens: argon2 once, then the stored SHA-256 digest (sql/0019), never an old token's.

Against the real database: the collector's authenticator stores the digest
after the first argon2 check, accepts the token by digest afterwards (a fresh
authenticator, so no in-process cache helps), and a rotated token hash drops
the digest in the same UPDATE (trigger), so the old token fails.
"""

from __future__ import annotations

import psycopg
import pytest

from collector.auth import AgentAuthenticator, AuthFailure, token_digest
from collector.database import Database
from common.tokens import AGENT_TOKEN_PREFIX, issue_token
from tests.conftest import collector_settings, create_vps


def _digest(dsn: str, vps_id: int) -> bytes | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT agent_token_digest FROM vps WHERE id = %s", (vps_id,)).fetchone()
    assert row is not None
    return None if row[0] is None else bytes(row[0])


async def _authenticate(dsn: str, token: str) -> int:
    """A fresh authenticator each time: what a restarted collector sees."""
    db = Database(collector_settings(), dsn)
    await db.pool.open(wait=True)
    auth = AgentAuthenticator(db)
    try:
        return (await auth.authenticate(f"Bearer {token}")).vps_id
    finally:
        await auth.digests_written()
        await db.pool.close()


async def test_the_digest_is_stored_after_argon2_and_then_decides(db_dsn: str) -> None:
    vps = create_vps(db_dsn)
    assert _digest(db_dsn, vps.id) is None
    assert await _authenticate(db_dsn, vps.token) == vps.id
    assert _digest(db_dsn, vps.id) == token_digest(vps.token)
    # The argon2 hash no longer matters while the digest is there: spoil it to prove it.
    with psycopg.connect(db_dsn) as conn:
        conn.execute("ALTER TABLE vps DISABLE TRIGGER vps_token_digest_follows_hash")
        conn.execute("UPDATE vps SET agent_token_hash = 'not an argon2 hash' WHERE id = %s", (vps.id,))
        conn.execute("ALTER TABLE vps ENABLE TRIGGER vps_token_digest_follows_hash")
    assert await _authenticate(db_dsn, vps.token) == vps.id
    key_id, _, _ = vps.token.partition(".")
    with pytest.raises(AuthFailure, match="wrong agent token"):
        await _authenticate(db_dsn, f"{key_id}.{'A' * 43}")


async def test_a_rotated_token_drops_the_digest_and_the_old_token_fails(db_dsn: str) -> None:
    vps = create_vps(db_dsn)
    assert await _authenticate(db_dsn, vps.token) == vps.id
    assert _digest(db_dsn, vps.id) is not None
    issued = issue_token(AGENT_TOKEN_PREFIX)
    with psycopg.connect(db_dsn) as conn:  # as the API rotates a token
        conn.execute(
            "UPDATE vps SET agent_key_id = %s, agent_token_hash = %s, token_rotated_at = now() WHERE id = %s",
            (issued.key_id, issued.token_hash, vps.id),
        )
    assert _digest(db_dsn, vps.id) is None
    with pytest.raises(AuthFailure, match="unknown agent token"):
        await _authenticate(db_dsn, vps.token)  # its key id is gone with it
    # The old secret under the new key id: argon2 refuses it, and no digest is stored.
    old_secret = vps.token.partition(".")[2]
    with pytest.raises(AuthFailure, match="wrong agent token"):
        await _authenticate(db_dsn, f"{issued.token.partition('.')[0]}.{old_secret}")
    assert _digest(db_dsn, vps.id) is None
    assert await _authenticate(db_dsn, issued.token) == vps.id
    assert _digest(db_dsn, vps.id) == token_digest(issued.token)


async def test_a_digest_of_the_wrong_length_is_refused_by_the_schema(db_dsn: str) -> None:
    vps = create_vps(db_dsn)
    with psycopg.connect(db_dsn) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE vps SET agent_token_digest = %s WHERE id = %s", (b"short", vps.id))

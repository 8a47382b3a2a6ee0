"""``/api/tokens``: personal API tokens, named and expiring, for scripts and tools.

They are rows of ``api_tokens`` with ``kind = 'personal'`` (sql/0016), so they
authenticate exactly like a login session (api/auth/sessions.py) and carry the
owner's role. The secret is returned once, at creation; only its argon2 hash
is stored. Every signed-in user manages their own; admins list and revoke
anyone's.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from api import paths
from api.audit import record_audit
from api.auth.change_hints import announce_auth_change
from api.auth.guards import requires_admin, requires_viewer
from api.auth.sessions import AuthUser
from api.errors import ProblemError, not_found, problem_responses
from api.resources import Connection, Db, get_resources
from api.strict_input import INT64_MAX
from common.api_models import Role, TokenCreate, TokenCreated, TokenOut
from common.api_models.tokens import MAX_PERSONAL_TOKENS
from common.records import AuditAction
from common.tokens import API_TOKEN_PREFIX, issue_token

__all__ = ["TokensController"]

TokenId = Annotated[int, PathParameter(ge=1, le=INT64_MAX, description="Token id")]

_SELECT = """
SELECT t.id, t.user_id, u.username, t.description AS name, t.created_at, t.expires_at, t.last_used_at
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.kind = 'personal' AND (%(user_id)s::bigint IS NULL OR t.user_id = %(user_id)s)
ORDER BY t.id DESC
"""


async def _list(db: Connection, user_id: int | None) -> list[TokenOut]:
    cur = await db.execute(_SELECT, {"user_id": user_id})
    return msgspec.convert(await cur.fetchall(), list[TokenOut])


async def _admit_one_more(db: Connection, user_id: int) -> None:
    """409 once the user holds :data:`MAX_PERSONAL_TOKENS` (expired ones count until revoked)."""
    # Locking the owner's row serialises concurrent creations, so the cap holds.
    await db.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", (user_id,))
    cur = await db.execute(
        "SELECT count(*) AS held FROM api_tokens WHERE user_id = %s AND kind = 'personal'", (user_id,)
    )
    row = await cur.fetchone()
    if row is not None and row["held"] >= MAX_PERSONAL_TOKENS:
        raise ProblemError(
            409,
            f"you hold {MAX_PERSONAL_TOKENS} personal tokens, the most allowed; revoke some first"
            " (expired ones count until revoked)",
            title="Too many tokens",
        )


class TokensController(Controller):
    """Create, list and revoke personal API tokens."""

    path = paths.TOKENS
    tags = ["tokens"]
    guards = [requires_viewer]

    @get(operation_id="listOwnTokens", name="tokens:list", summary="List your personal API tokens")
    async def list_own(self, db: Db, request: Request[AuthUser, str, Any]) -> list[TokenOut]:
        return await _list(db, request.user.id)

    @get(
        paths.TOKENS_ALL,
        operation_id="listAllTokens",
        name="tokens:list-all",
        summary="List every user's personal API tokens (admin)",
        guards=[requires_admin],
    )
    async def list_all(
        self,
        db: Db,
        user_id: Annotated[
            int | None, QueryParameter(ge=1, le=INT64_MAX, description="Only this user's tokens")
        ] = None,
    ) -> list[TokenOut]:
        return await _list(db, user_id)

    @post(
        operation_id="createToken",
        name="tokens:create",
        summary="Create a personal API token; its secret is shown this once",
        description="The token acts with your role until it expires or is revoked. "
        "Send it as Authorization: Bearer.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(409, s409="You already hold the most tokens allowed"),
    )
    async def create_token(
        self, data: JSONBody[TokenCreate], db: Db, state: State, request: Request[AuthUser, str, Any]
    ) -> TokenCreated:
        owner = request.user
        await _admit_one_more(db, owner.id)
        issued = await get_resources(state).hashing.run(issue_token, API_TOKEN_PREFIX, trusted=True)
        cur = await db.execute(
            "INSERT INTO api_tokens (user_id, key_id, token_hash, description, expires_at, kind)"
            " VALUES (%s, %s, %s, %s, now() + make_interval(days => %s), 'personal')"
            " RETURNING id, created_at, expires_at",
            (owner.id, issued.key_id, issued.token_hash, data.name, data.expires_in_days),
        )
        row = await cur.fetchone()
        assert row is not None
        await record_audit(
            db,
            request,
            AuditAction.TOKEN_CREATE,
            user=owner,
            target=f"token:{row['id']}",
            detail={"name": data.name, "expires_at": row["expires_at"].isoformat()},
        )
        return TokenCreated(
            id=row["id"],
            user_id=owner.id,
            username=owner.username,
            name=data.name,
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            token=issued.token,
        )

    @delete(
        paths.TOKEN_ITEM,
        operation_id="revokeToken",
        name="tokens:revoke",
        summary="Revoke a personal API token (yours; an admin's: anyone's)",
        description="It stops working at once on this API instance, and on others as soon as they hear of it.",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(404, s404="No such token of yours"),
    )
    async def revoke_token(
        self, token_id: TokenId, state: State, request: Request[AuthUser, str, Any]
    ) -> None:
        caller = request.user
        res = get_resources(state)
        # Its own transaction, committed before the cache forgets the token: evicting first
        # would let a concurrent request re-cache it from the not yet deleted row.
        async with res.connection("revoke token") as db:
            cur = await db.execute(
                "DELETE FROM api_tokens t USING users u"
                " WHERE t.id = %(id)s AND t.kind = 'personal' AND u.id = t.user_id"
                " AND (t.user_id = %(caller)s OR %(admin)s)"
                " RETURNING t.user_id, u.username, t.description AS name",
                {"id": token_id, "caller": caller.id, "admin": caller.role is Role.ADMIN},
            )
            row = await cur.fetchone()
            if row is None:
                # Someone else's token is as absent as a missing one: ids reveal nothing.
                raise not_found("token", token_id)
            await announce_auth_change(db, token_id=token_id)
            await record_audit(
                db,
                request,
                AuditAction.TOKEN_REVOKE,
                user=caller,
                target=f"token:{token_id}",
                detail={"name": row["name"], "owner_id": row["user_id"], "owner": row["username"]},
            )
        res.sessions.evict(token_id=token_id)

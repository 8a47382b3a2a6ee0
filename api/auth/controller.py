"""Register, log in, log out, and who am I."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from api import paths
from api.accounts import USER_COLUMNS, fetch_user, insert_user
from api.audit import client_ip, record_audit
from api.auth.change_hints import announce_auth_change
from api.auth.guards import requires_viewer
from api.auth.sessions import AuthUser, create_session, issue_session_token
from api.errors import ProblemError, problem_responses
from api.resources import Connection, Db, get_resources
from api.settings.store import registration_open
from common.api_models import (
    LoginRequest,
    RegisterRequest,
    RegistrationAccepted,
    Role,
    SessionOut,
    UserOut,
)
from common.records import AuditAction
from common.tokens import hash_password, password_needs_rehash, verify_password

__all__ = ["AuthController"]

log = logging.getLogger("tidewatch.api.auth")

T = TypeVar("T")


@functools.cache
def _dummy_password_hash() -> str:
    # Unknown users still pay one argon2 verify, so timing does not reveal them.
    return hash_password(secrets.token_urlsafe(16))


# A refused attempt is answered after this pause: a waiting coroutine costs nothing,
# while instant 429s would let a flood loop as fast as the server can answer.
REFUSAL_DELAY_S = 1.0


async def _admit(check: Callable[..., T], *args: object) -> T:
    try:
        return check(*args)
    except ProblemError:
        await asyncio.sleep(REFUSAL_DELAY_S)
        raise


async def _store_rehash(db: Connection, user_id: int, old_hash: str, new_hash: str) -> bool:
    """Replace the hash unless the password changed meanwhile; True when replaced."""
    cur = await db.execute(
        "UPDATE users SET password_hash = %s WHERE id = %s AND password_hash = %s",
        (new_hash, user_id, old_hash),
    )
    return cur.rowcount == 1


class AuthController(Controller):
    """Accounts and sessions. Login returns a bearer token for every other route."""

    path = paths.AUTH
    tags = ["auth"]

    @post(
        paths.AUTH_REGISTER,
        operation_id="registerUser",
        name="auth:register",
        summary="Ask for a viewer account",
        description="Open only when the registration setting is on (PATCH /api/settings; until an admin sets it, TIDEWATCH_API_ALLOW_REGISTRATION). New accounts are viewers; "
        "an admin can promote them. The answer is the same whether or not the name was free, so it "
        "cannot be used to find out which usernames exist: log in to see whether the account is yours.",
        status_code=HTTP_202_ACCEPTED,
        opt={"exclude_from_auth": True},
        responses=problem_responses(400, 403, 422, 429, 503),
        security=[],
    )
    async def register(
        self, data: JSONBody[RegisterRequest], state: State, request: Request[Any, Any, Any]
    ) -> RegistrationAccepted:
        res = get_resources(state)
        async with res.connection("registration check") as db:
            is_open = await registration_open(db, res.settings)
        if not is_open:
            raise ProblemError(403, "registration is closed; ask an admin for an account")
        await _admit(res.throttle.admit_registration, client_ip(request))
        # Hashed before taking a connection, and whether or not the name is free (same timing).
        password_hash = await res.hashing.run(hash_password, data.password)
        async with res.pool.connection() as db:
            try:
                async with db.transaction():
                    user = await insert_user(db, data.username, password_hash, Role.VIEWER)
            except ProblemError:
                log.info("self-registration of a taken username from %s refused", client_ip(request))
            else:
                await record_audit(
                    db,
                    request,
                    AuditAction.REGISTER,
                    user=user,
                    target=f"user:{user.id}",
                    detail={"role": user.role.value},
                )
        return RegistrationAccepted(
            username=data.username,
            detail="if the username was free, the account now exists: log in with the password you chose",
        )

    @post(
        paths.AUTH_LOGIN,
        operation_id="login",
        name="auth:login",
        summary="Exchange a username and password for a bearer token",
        description="Rate-limited per address and per (address, username): 429 with Retry-After.",
        status_code=HTTP_200_OK,
        opt={"exclude_from_auth": True},
        responses=problem_responses(400, 401, 422, 429, 503),
        security=[],
    )
    async def login(
        self, data: JSONBody[LoginRequest], state: State, request: Request[Any, Any, Any]
    ) -> SessionOut:
        res = get_resources(state)
        address = client_ip(request)
        await _admit(res.throttle.admit_login, address, data.username)
        # Full slots answer 503 at once: a queue would only grow while a storm lasts.
        trusted = (address, data.username) in res.recent_logins
        async with await _admit(res.hashing.admission, trusted) as hashing:
            # No connection is held while argon2 runs: slow hashes must not drain the pool.
            async with res.pool.connection() as db:
                cur = await db.execute(
                    f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = %s", (data.username,)
                )
                row = await cur.fetchone()
            stored_hash = row["password_hash"] if row else _dummy_password_hash()
            password_ok = await hashing.run(verify_password, stored_hash, data.password)
            if row is None or not password_ok or row["disabled"]:
                reason = "disabled" if row is not None and password_ok else "bad credentials"
                async with res.pool.connection() as db:
                    await record_audit(
                        db,
                        request,
                        AuditAction.LOGIN_FAILED,
                        user=None,
                        actor=data.username,
                        target=f"user:{row['id']}" if row else "",
                        detail={"reason": reason},
                    )
                if reason == "disabled":
                    raise NotAuthorizedException("this account is disabled")
                raise NotAuthorizedException("wrong username or password")
            # Hashes made with older parameters are upgraded while the password is at hand.
            new_hash = None
            if password_needs_rehash(stored_hash):
                new_hash = await hashing.run(hash_password, data.password)
            issued = await hashing.run(issue_session_token)
        user = msgspec.convert(row, UserOut)
        ttl = timedelta(hours=res.settings.session_ttl_hours)
        async with res.pool.connection() as db:
            rehashed = new_hash is not None and await _store_rehash(db, user.id, stored_hash, new_hash)
            token, expires_at = await create_session(
                db, user.id, ttl, f"login from {address or 'unknown'}", issued
            )
            await record_audit(
                db,
                request,
                AuditAction.LOGIN,
                user=user,
                target=f"user:{user.id}",
                detail={"password_rehashed": True} if rehashed else None,
            )
        res.recent_logins.record(address, data.username)
        return SessionOut(token=token, expires_at=expires_at, user=user)

    @post(
        paths.AUTH_LOGOUT,
        operation_id="logout",
        name="auth:logout",
        summary="Revoke the bearer token of this request",
        status_code=HTTP_204_NO_CONTENT,
        guards=[requires_viewer],
    )
    async def logout(self, state: State, request: Request[AuthUser, str, Any]) -> None:
        user = request.user
        res = get_resources(state)
        # Committed before the session cache forgets the token, so no request re-caches it.
        async with res.connection("logout") as db:
            await db.execute("DELETE FROM api_tokens WHERE id = %s", (user.token_id,))
            await announce_auth_change(db, token_id=user.token_id)
            await record_audit(db, request, AuditAction.LOGOUT, user=user, target=f"user:{user.id}")
        res.sessions.evict(token_id=user.token_id)

    @get(
        paths.AUTH_ME,
        operation_id="getCurrentUser",
        name="auth:me",
        summary="The user behind the bearer token",
        guards=[requires_viewer],
    )
    async def me(self, db: Db, request: Request[AuthUser, str, Any]) -> UserOut:
        user = await fetch_user(db, request.user.id)
        if user is None:  # deleted since the token was cached
            raise NotAuthorizedException("this account no longer exists")
        return user

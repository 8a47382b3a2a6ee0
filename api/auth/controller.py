"""Register, log in, log out, and who am I."""

from __future__ import annotations

import asyncio
import functools
import secrets
from datetime import timedelta
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from api import paths
from api.accounts import USER_COLUMNS, fetch_user, insert_user
from api.audit import client_ip, record_audit
from api.auth.guards import requires_viewer
from api.auth.sessions import AuthUser, create_session
from api.errors import ProblemError
from api.resources import Db, get_resources
from common.api_models import LoginRequest, RegisterRequest, Role, SessionOut, UserOut
from common.problems import Problem
from common.records import AuditAction
from common.tokens import hash_password, verify_password

__all__ = ["AuthController"]


@functools.cache
def _dummy_password_hash() -> str:
    # Unknown users still pay one argon2 verify, so timing does not reveal them.
    return hash_password(secrets.token_urlsafe(16))


class AuthController(Controller):
    """Accounts and sessions. Login returns a bearer token for every other route."""

    path = paths.AUTH
    tags = ["auth"]

    @post(
        paths.AUTH_REGISTER,
        operation_id="registerUser",
        name="auth:register",
        summary="Create a viewer account",
        description="Open only when TIDEWATCH_API_ALLOW_REGISTRATION is true. "
        "New accounts are viewers; an admin can promote them.",
        opt={"exclude_from_auth": True},
        responses={
            403: ResponseSpec(Problem, description="Registration is closed"),
            409: ResponseSpec(Problem, description="The username is taken"),
        },
        security=[],
    )
    async def register(
        self, data: JSONBody[RegisterRequest], db: Db, state: State, request: Request[Any, Any, Any]
    ) -> UserOut:
        if not get_resources(state).settings.allow_registration:
            raise ProblemError(403, "registration is closed; ask an admin for an account")
        user = await insert_user(db, data.username, data.password, Role.VIEWER)
        await record_audit(
            db,
            request,
            AuditAction.REGISTER,
            user=user,
            target=f"user:{user.id}",
            detail={"role": user.role.value},
        )
        return user

    @post(
        paths.AUTH_LOGIN,
        operation_id="login",
        name="auth:login",
        summary="Exchange a username and password for a bearer token",
        status_code=HTTP_200_OK,
        opt={"exclude_from_auth": True},
        responses={401: ResponseSpec(Problem, description="Wrong username or password")},
        security=[],
    )
    async def login(
        self, data: JSONBody[LoginRequest], db: Db, state: State, request: Request[Any, Any, Any]
    ) -> SessionOut:
        cur = await db.execute(
            f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = %s", (data.username,)
        )
        row = await cur.fetchone()
        stored_hash = row["password_hash"] if row else _dummy_password_hash()
        password_ok = await asyncio.to_thread(verify_password, stored_hash, data.password)
        if row is None or not password_ok or row["disabled"]:
            reason = "disabled" if row is not None and password_ok else "bad credentials"
            await record_audit(
                db,
                request,
                AuditAction.LOGIN_FAILED,
                user=None,
                actor=data.username,
                target=f"user:{row['id']}" if row else "",
                detail={"reason": reason},
            )
            # Keep the audit row although the request fails.
            await db.commit()
            if reason == "disabled":
                raise NotAuthorizedException("this account is disabled")
            raise NotAuthorizedException("wrong username or password")
        user = msgspec.convert(row, UserOut)
        ttl = timedelta(hours=get_resources(state).settings.session_ttl_hours)
        token, expires_at = await create_session(
            db, user.id, ttl, f"login from {client_ip(request) or 'unknown'}"
        )
        await record_audit(
            db,
            request,
            AuditAction.LOGIN,
            user=user,
            target=f"user:{user.id}",
        )
        return SessionOut(token=token, expires_at=expires_at, user=user)

    @post(
        paths.AUTH_LOGOUT,
        operation_id="logout",
        name="auth:logout",
        summary="Revoke the bearer token of this request",
        status_code=HTTP_204_NO_CONTENT,
        guards=[requires_viewer],
    )
    async def logout(self, db: Db, state: State, request: Request[AuthUser, str, Any]) -> None:
        user = request.user
        await db.execute("DELETE FROM api_tokens WHERE id = %s", (user.token_id,))
        get_resources(state).sessions.evict(token_id=user.token_id)
        await record_audit(db, request, AuditAction.LOGOUT, user=user, target=f"user:{user.id}")

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

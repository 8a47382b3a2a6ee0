"""User management and the audit log: admins only."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from api import paths
from api.accounts import USER_COLUMNS, insert_user
from api.audit import record_audit
from api.auth.change_hints import announce_auth_change
from api.auth.guards import requires_admin
from api.auth.sessions import AuthUser
from api.errors import ProblemError, invalid, not_found
from api.resources import Connection, Db, get_resources
from common.api_models import AuditEntry, Role, UserCreate, UserOut, UserUpdate
from common.problems import Problem
from common.records import AuditAction
from common.tokens import hash_password

__all__ = ["AuditController", "UsersController"]

UserId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="User id")]


async def _ensure_an_admin_remains(db: Connection, changing_user_id: int) -> None:
    """409 unless some enabled admin other than ``changing_user_id`` exists."""
    # FOR UPDATE serialises concurrent demotions of the last two admins.
    cur = await db.execute(
        "SELECT id FROM users WHERE role = 'admin' AND NOT disabled AND id <> %s FOR UPDATE",
        (changing_user_id,),
    )
    if await cur.fetchone() is None:
        raise ProblemError(409, "at least one enabled admin must remain", title="Last admin")


class UsersController(Controller):
    """Create, change and remove users. Changing a user takes effect at once."""

    path = paths.USERS
    tags = ["users"]
    guards = [requires_admin]

    @get(operation_id="listUsers", name="users:list", summary="List users")
    async def list_users(self, db: Db) -> list[UserOut]:
        cur = await db.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY id")
        return msgspec.convert(await cur.fetchall(), list[UserOut])

    @post(
        operation_id="createUser",
        name="users:create",
        summary="Create a user with any role",
        responses={409: ResponseSpec(Problem, description="The username is taken")},
    )
    async def create_user(
        self, data: JSONBody[UserCreate], db: Db, state: State, request: Request[AuthUser, str, Any]
    ) -> UserOut:
        password_hash = await get_resources(state).hashing.run(hash_password, data.password, trusted=True)
        user = await insert_user(db, data.username, password_hash, data.role)
        await record_audit(
            db,
            request,
            AuditAction.USER_CREATE,
            user=request.user,
            target=f"user:{user.id}",
            detail={"username": user.username, "role": user.role.value},
        )
        return user

    @patch(
        paths.USER_ITEM,
        operation_id="updateUser",
        name="users:update",
        summary="Change a user's role, disabled flag or password",
        description="A new password or disabling revokes the user's sessions.",
        responses={
            404: ResponseSpec(Problem, description="No such user"),
            409: ResponseSpec(Problem, description="That would leave no enabled admin"),
        },
    )
    async def update_user(
        self,
        user_id: UserId,
        data: JSONBody[UserUpdate],
        state: State,
        request: Request[AuthUser, str, Any],
    ) -> UserOut:
        res = get_resources(state)
        changes: dict[str, Any] = {}
        if data.role is not msgspec.UNSET:
            changes["role"] = data.role.value
        if data.disabled is not msgspec.UNSET:
            changes["disabled"] = data.disabled
        if not changes and data.password is msgspec.UNSET:
            raise invalid("body", "give at least one of role, disabled or password", "body")
        if data.password is not msgspec.UNSET:
            # Hashed before taking a connection: argon2 must not hold one.
            changes["password_hash"] = await res.hashing.run(hash_password, data.password, trusted=True)
        # Committed before the session cache forgets the user: evicting first would let a
        # concurrent request re-cache a token from rows not yet changed.
        async with res.connection("update user") as db:
            if changes.get("role", Role.ADMIN) != Role.ADMIN or changes.get("disabled") is True:
                await _ensure_an_admin_remains(db, user_id)
            assignments = ", ".join(f"{column} = %({column})s" for column in changes)
            cur = await db.execute(
                f"UPDATE users SET {assignments} WHERE id = %(id)s RETURNING {USER_COLUMNS}",
                {**changes, "id": user_id},
            )
            row = await cur.fetchone()
            if row is None:
                raise not_found("user", user_id)
            if "password_hash" in changes or changes.get("disabled") is True:
                await db.execute("DELETE FROM api_tokens WHERE user_id = %s", (user_id,))
            await announce_auth_change(db, user_id=user_id)
            audited = {key: value for key, value in changes.items() if key != "password_hash"}
            if "password_hash" in changes:
                audited["password"] = "changed"
            await record_audit(
                db,
                request,
                AuditAction.USER_UPDATE,
                user=request.user,
                target=f"user:{user_id}",
                detail=audited,
            )
        res.sessions.evict(user_id=user_id)
        return msgspec.convert(row, UserOut)

    @delete(
        paths.USER_ITEM,
        operation_id="deleteUser",
        name="users:delete",
        summary="Delete a user and their tokens",
        status_code=HTTP_204_NO_CONTENT,
        responses={
            404: ResponseSpec(Problem, description="No such user"),
            409: ResponseSpec(Problem, description="That would leave no enabled admin, or it is the caller"),
        },
    )
    async def delete_user(self, user_id: UserId, state: State, request: Request[AuthUser, str, Any]) -> None:
        if user_id == request.user.id:
            # The audit row names its actor; an account cannot outlive its own deletion to sign it.
            raise ProblemError(
                409, "you cannot delete your own account; ask another admin", title="Own account"
            )
        res = get_resources(state)
        # Committed before the session cache forgets the user (see update_user).
        async with res.connection("delete user") as db:
            await _ensure_an_admin_remains(db, user_id)
            cur = await db.execute("DELETE FROM users WHERE id = %s RETURNING username", (user_id,))
            row = await cur.fetchone()
            if row is None:
                raise not_found("user", user_id)
            await announce_auth_change(db, user_id=user_id)
            await record_audit(
                db,
                request,
                AuditAction.USER_DELETE,
                user=request.user,
                target=f"user:{user_id}",
                detail={"username": row["username"]},
            )
        res.sessions.evict(user_id=user_id)


class AuditController(Controller):
    """Who did what, newest first."""

    path = paths.AUDIT
    tags = ["audit"]
    guards = [requires_admin]

    @get(
        operation_id="listAuditLog",
        name="audit:list",
        summary="Read the audit log, newest first",
        description="Filters combine (AND). Page back with before_id = the last id of the previous page.",
    )
    async def list_audit(
        self,
        db: Db,
        limit: Annotated[int, QueryParameter(ge=1, le=1000, description="Rows to return")] = 100,
        before_id: Annotated[
            int | None, QueryParameter(ge=1, le=2**63 - 1, description="Only rows older than this id")
        ] = None,
        user_id: Annotated[
            int | None, QueryParameter(ge=1, le=2**63 - 1, description="Only what this user did")
        ] = None,
        vps_id: Annotated[
            int | None, QueryParameter(ge=1, le=2**63 - 1, description="Only what was done to this VPS")
        ] = None,
        action: Annotated[AuditAction | None, QueryParameter(description="Only this action")] = None,
    ) -> list[AuditEntry]:
        # Only the filters given go into the WHERE, so each can use its (column, id DESC) index.
        filters = {
            "before": ("id < %(before)s", before_id),
            "user_id": ("user_id = %(user_id)s", user_id),
            "target": ("target = %(target)s", None if vps_id is None else f"vps:{vps_id}"),
            "action": ("action = %(action)s", None if action is None else action.value),
        }
        given = {name: value for name, (_, value) in filters.items() if value is not None}
        where = " AND ".join(filters[name][0] for name in given) or "true"
        cur = await db.execute(
            "SELECT id, time, user_id, actor, action, target, detail, client_ip FROM audit_log"
            f" WHERE {where} ORDER BY id DESC LIMIT %(limit)s",
            {**given, "limit": limit},
        )
        return msgspec.convert(await cur.fetchall(), list[AuditEntry])

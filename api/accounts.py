"""Reading and creating users, shared by the auth and user-management routes."""

from __future__ import annotations

import msgspec
import psycopg

from api.errors import conflict
from api.resources import Connection
from common.api_models import Role, UserOut
from common.records import INSERT_USER

__all__ = ["USER_COLUMNS", "fetch_user", "insert_user"]

# What UserOut shows: never the password hash.
USER_COLUMNS = "id, username, role, disabled, created_at"


async def fetch_user(conn: Connection, user_id: int) -> UserOut | None:
    """A user by id, or None."""
    cur = await conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,))
    row = await cur.fetchone()
    return msgspec.convert(row, UserOut) if row else None


async def insert_user(conn: Connection, username: str, password_hash: str, role: Role) -> UserOut:
    """Create a user; 409 naming ``username`` when it is taken (only admins may learn that)."""
    try:
        cur = await conn.execute(
            INSERT_USER, {"username": username, "password_hash": password_hash, "role": role.value}
        )
    except psycopg.errors.UniqueViolation:
        raise conflict(f"username {username!r} is taken", "username") from None
    return msgspec.convert(await cur.fetchone(), UserOut)

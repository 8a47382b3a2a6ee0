"""Users, roles, sessions and the audit trail."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from common.api_models.text import END, TEXT_PATTERN

__all__ = [
    "AuditEntry",
    "LoginRequest",
    "Password",
    "RegisterRequest",
    "RegistrationAccepted",
    "Role",
    "SessionOut",
    "UserCreate",
    "UserOut",
    "UserUpdate",
    "Username",
]


class Role(StrEnum):
    """What a user may do: a viewer reads, an operator also changes VPSes and
    runs commands, an admin also manages users."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Higher ranks include every right of the lower ones."""
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """True when this role has at least the rights of ``needed``."""
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}

# Mirrors the CHECK on users.username, so a bad name is a 422 naming the field.
Username = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9_.@-]{1,64}" + END,
        description="1-64 letters, digits or _ . @ -",
        examples=["alice"],
    ),
]
Password = Annotated[
    str,
    Meta(min_length=8, max_length=1024, description="At least 8 characters"),
]


class LoginRequest(Struct, forbid_unknown_fields=True):
    """Credentials for ``POST /api/auth/login``."""

    # Not the Username pattern: any name gets the same 401, but NUL and the like never reach SQL.
    username: Annotated[str, Meta(min_length=1, max_length=64, pattern=TEXT_PATTERN)]
    password: Annotated[str, Meta(min_length=1, max_length=1024)]


class RegisterRequest(Struct, forbid_unknown_fields=True):
    """Self-registration; creates a ``viewer``."""

    username: Username
    password: Password


class RegistrationAccepted(Struct):
    """The answer to self-registration, the same whether or not the name was free."""

    username: str
    detail: str


class UserOut(Struct):
    """A user as the API shows it (never the password hash)."""

    id: int
    username: str
    role: Role
    disabled: bool
    created_at: datetime


class SessionOut(Struct):
    """A fresh bearer token from login: shown once, send it as ``Authorization: Bearer``."""

    token: str
    expires_at: datetime
    user: UserOut
    token_type: str = "bearer"


class UserCreate(Struct, forbid_unknown_fields=True):
    """An admin creates a user with any role."""

    username: Username
    password: Password
    role: Role = Role.VIEWER


class UserUpdate(Struct, forbid_unknown_fields=True):
    """Fields an admin may change; absent fields stay as they are."""

    role: Role | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET
    password: Password | UnsetType = UNSET


class AuditEntry(Struct):
    """One row of the audit log: who did what to which target, from where."""

    id: int
    time: datetime
    user_id: int | None
    actor: str
    action: str
    target: str
    detail: dict[str, Any] = msgspec.field(default_factory=dict)
    client_ip: str = ""

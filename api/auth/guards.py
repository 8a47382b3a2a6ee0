"""Role guards: a route declares the least role it needs."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from api.auth.sessions import AuthUser
from common.api_models import Role

__all__ = ["requires_admin", "requires_operator", "requires_role", "requires_viewer"]


def requires_role(needed: Role) -> Guard:
    """A guard that lets through users whose role includes ``needed``.

    A coroutine function: Litestar runs a plain function guard in a worker thread,
    a thread hop on every request for what is a dict lookup and a comparison."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        user = connection.scope.get("user")
        if not isinstance(user, AuthUser):
            raise NotAuthorizedException()
        if not user.role.allows(needed):
            raise PermissionDeniedException(
                f"this needs the {needed} role or higher; {user.username} is {user.role}"
            )

    return guard


requires_viewer = requires_role(Role.VIEWER)
requires_operator = requires_role(Role.OPERATOR)
requires_admin = requires_role(Role.ADMIN)

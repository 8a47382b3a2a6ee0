"""Bearer-token authentication for every route not marked ``exclude_from_auth``."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.auth.sessions import authenticate
from api.resources import get_resources

__all__ = ["BearerAuthMiddleware", "bearer_token"]


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; 401 otherwise."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("send Authorization: Bearer <token> (get one from POST /api/auth/login)")
    return token.strip()


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Sets ``request.user`` to an :class:`~api.auth.sessions.AuthUser`."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        token = bearer_token(connection.headers.get("authorization", ""))
        res = get_resources(connection.app.state)
        # A cached session needs no database round trip (authenticate checks the cache too).
        if (cached := res.sessions.get(token)) is not None:
            return AuthenticationResult(user=cached, auth=token)
        async with res.connection("authentication") as conn:
            user = await authenticate(conn, res.sessions, token)
        return AuthenticationResult(user=user, auth=token)

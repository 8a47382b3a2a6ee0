"""Audit rows for state-changing requests, written in the request's transaction."""

from __future__ import annotations

from typing import Any, Protocol

from litestar import Request

from api.resources import Connection
from common.records import INSERT_AUDIT, AuditAction, audit_params

__all__ = ["Actor", "client_ip", "record_audit"]


class Actor(Protocol):
    """Whoever acted: a signed-in user, or the account a request just created."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


def client_ip(request: Request[Any, Any, Any]) -> str:
    """The peer address (the proxy's, behind one: forwarded headers are not trusted)."""
    return request.client.host if request.client else ""


async def record_audit(
    conn: Connection,
    request: Request[Any, Any, Any],
    action: AuditAction,
    *,
    user: Actor | None,
    target: str = "",
    detail: dict[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Append one audit row; ``actor`` defaults to the user's name."""
    await conn.execute(
        INSERT_AUDIT,
        audit_params(
            user_id=user.id if user else None,
            actor=actor if actor is not None else (user.username if user else "anonymous"),
            action=action,
            target=target,
            detail=detail,
            client_ip=client_ip(request),
        ),
    )

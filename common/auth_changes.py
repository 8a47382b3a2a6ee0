"""Hints that a token or a user changed, for every API instance's session cache.

A change that revokes or narrows access (logout, token revocation, a user's role,
password, disabling or deletion, the admin CLI's password reset) NOTIFYs
``AUTH_CHANGE_CHANNEL`` inside its own transaction, so the hint is delivered only
once the change is committed. A hint names what to re-read and grants nothing
(api.auth.change_hints).
"""

from __future__ import annotations

import msgspec

from common.channels import AUTH_CHANGE_CHANNEL

__all__ = ["NOTIFY_AUTH_CHANGE", "AuthChange", "auth_change_payload"]

NOTIFY_AUTH_CHANGE = f"SELECT pg_notify('{AUTH_CHANGE_CHANNEL}', %s)"


class AuthChange(msgspec.Struct, frozen=True, omit_defaults=True):
    """One token (``token_id``) or every token of one user (``user_id``)."""

    token_id: int | None = None
    user_id: int | None = None


_encoder = msgspec.json.Encoder()


def auth_change_payload(*, token_id: int | None = None, user_id: int | None = None) -> str:
    """The NOTIFY payload naming a changed token or user."""
    if token_id is None and user_id is None:
        raise ValueError("name a token_id or a user_id")
    return _encoder.encode(AuthChange(token_id=token_id, user_id=user_id)).decode()

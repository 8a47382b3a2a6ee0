"""Personal API tokens: named bearer tokens a user makes for scripts and tools."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct

from common.api_models.text import TEXT_PATTERN

__all__ = [
    "MAX_PERSONAL_TOKENS",
    "MAX_TOKEN_DAYS",
    "TokenCreate",
    "TokenCreated",
    "TokenName",
    "TokenOut",
]

# A year at most: a leaked token must die on its own (docs/api.md says why there is no "never").
MAX_TOKEN_DAYS = 365
# Per user; bounds the table and what one account can pile up.
MAX_PERSONAL_TOKENS = 50

TokenName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        pattern=TEXT_PATTERN,
        description="1-64 characters, no control or invisible characters",
        examples=["backup script"],
    ),
]


class TokenCreate(Struct, forbid_unknown_fields=True):
    """A new personal token: its name and how many days it lives."""

    name: TokenName
    expires_in_days: Annotated[
        int, Meta(ge=1, le=MAX_TOKEN_DAYS, description=f"Days until it expires, 1-{MAX_TOKEN_DAYS}")
    ] = 30


class TokenOut(Struct):
    """A personal token as listed: never its secret."""

    id: int
    user_id: int
    username: str
    name: str
    created_at: datetime
    expires_at: datetime
    # Updated when the token is verified, at most once per session-cache TTL (30 s).
    last_used_at: datetime | None


class TokenCreated(Struct):
    """A token just made: ``token`` is shown this once; only its hash is kept."""

    id: int
    user_id: int
    username: str
    name: str
    created_at: datetime
    expires_at: datetime
    token: str
    token_type: str = "bearer"

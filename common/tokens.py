"""Agent and API tokens: generation, parsing and argon2 hashing.

A token is ``<prefix>_<key_id>.<secret>``. The key id is stored in clear to find
the row; only an argon2 hash of the whole token is kept, and verification is
argon2's constant-time comparison. Tokens carry 256 bits of randomness, so the
hashing parameters can be lighter than for passwords without weakening them,
which keeps reconnect storms cheap.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "AGENT_TOKEN_PREFIX",
    "API_TOKEN_PREFIX",
    "IssuedToken",
    "hash_password",
    "hash_token",
    "issue_token",
    "parse_token",
    "password_needs_rehash",
    "verify_password",
    "verify_token",
]

AGENT_TOKEN_PREFIX = "twa"
API_TOKEN_PREFIX = "twu"
_TOKEN_PATTERN = re.compile(
    r"^(?P<prefix>tw[au])_(?P<key_id>[A-Za-z0-9]{16})\.(?P<secret>[A-Za-z0-9_-]{43})$"
)

# Random tokens: one pass, 8 MiB. Passwords: OWASP's first argon2id choice (19 MiB,
# 2 passes, 1 lane; Password Storage Cheat Sheet), about a seventh of the CPU of
# argon2-cffi's default (64 MiB, 3 passes, 4 lanes), so a login storm costs less.
# Each hash names its own parameters: older hashes still verify, and
# password_needs_rehash tells the login route to upgrade them.
_token_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
_password_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    key_id: str
    token: str
    token_hash: str


def issue_token(prefix: str) -> IssuedToken:
    """A fresh token; show ``token`` once, store ``key_id`` and ``token_hash``."""
    key_id = "".join(
        secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(16)
    )
    token = f"{prefix}_{key_id}.{secrets.token_urlsafe(32)}"
    return IssuedToken(key_id=key_id, token=token, token_hash=hash_token(token))


def parse_token(token: str, prefix: str) -> str | None:
    """The key id of a well-formed token with ``prefix``, else None."""
    match = _TOKEN_PATTERN.match(token)
    if match is None or match["prefix"] != prefix:
        return None
    return match["key_id"]


def hash_token(token: str) -> str:
    return _token_hasher.hash(token)


def verify_token(token_hash: str, token: str) -> bool:
    try:
        return _token_hasher.verify(token_hash, token)
    except (VerificationError, InvalidHashError):
        return False


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def password_needs_rehash(password_hash: str) -> bool:
    """True when ``password_hash`` was made with other parameters than today's."""
    try:
        return _password_hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False

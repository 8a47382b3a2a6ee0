"""RFC 9457 problem details: the one error body every Tidewatch HTTP API returns.

The API builds these; clients (the dashboards, scripts) decode them to show a
precise message. ``errors`` names each offending field for validation problems.
"""

from __future__ import annotations

import msgspec

__all__ = ["PROBLEM_MEDIA_TYPE", "PROBLEM_TYPE_BASE", "FieldError", "Problem"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Problem types are stable URIs; they need not resolve, but docs/api.md lists them.
PROBLEM_TYPE_BASE = "https://tidewatch.dev/problems/"


class FieldError(msgspec.Struct, frozen=True):
    """One invalid input: which field, where it came from, and what is wrong."""

    field: str
    message: str
    source: str = "body"


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    """An RFC 9457 ``application/problem+json`` body."""

    type: str
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    errors: list[FieldError] = msgspec.field(default_factory=list)

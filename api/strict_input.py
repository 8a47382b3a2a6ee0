"""Strict reading of ids, integer query parameters and JSON bodies.

Litestar converts inputs leniently (``int("٨٠")`` is 80, ``"1"`` is an
integer in a body, ``1e2`` is a query ``limit``). This hook runs after the
guards and before Litestar parses anything, and refuses every input that is
not written the one canonical way:

- integer path and query parameters: ASCII decimal, no sign, no leading zero,
  within int64 (bounds checked further by each parameter's ``ge``/``le``);
- JSON bodies: checked strictly (no string for a number, no "true" for a
  boolean; ``5.0`` is an integer, as JSON Schema says) against the handler's
  body Struct, so malformed, non-UTF-8 or absurdly nested bodies are a
  problem response, never a 500.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, get_args

import msgspec
from litestar import Request
from litestar.handlers import HTTPRouteHandler

from api.errors import ProblemError, invalid
from common.api_models.text import TEXT_PATTERN

__all__ = ["CANONICAL_INT", "INT64_MAX", "refuse_lenient_input"]

INT64_MAX = 2**63 - 1
# Every body here is a Struct a few levels deep; anything deeper is not one of them.
MAX_BODY_DEPTH = 32
CANONICAL_INT = re.compile(r"(?:0|[1-9][0-9]{0,18})", re.ASCII)
_AT_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_IN_PATH = re.compile(r" in `\$\.?(?P<path>[^`]*)`$")
_BACKTICK_FIELD = re.compile(r"field `(?P<field>[^`]+)`")


def _is_int(annotation: Any) -> bool:
    options = get_args(annotation) or (annotation,)
    return int in options and bool not in options


@cache
def _int_parameters(handler: HTTPRouteHandler) -> tuple[str, ...]:
    """The wire name of each integer path or query parameter of ``handler``."""
    return tuple(
        getattr(field.kwarg_definition, "name", None) or name
        for name, field in handler.parsed_fn_signature.parameters.items()
        if _is_int(field.annotation)
    )


@cache
def _body_type(handler: HTTPRouteHandler) -> Any:
    field = handler.parsed_fn_signature.parameters.get("data")
    return field.annotation if field is not None else None


def _integral_floats_as_ints(value: Any, depth: int = 0) -> Any:
    """JSON Schema counts ``5.0`` as an integer; strings stay strings."""
    if depth > MAX_BODY_DEPTH:
        raise ProblemError(
            400,
            f"the body nests deeper than {MAX_BODY_DEPTH} levels",
            slug="malformed-json",
            title="Malformed JSON body",
        )
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(item, depth + 1) for item in value]
    return value


def _raw_path_values(request: Request[Any, Any, Any]) -> dict[str, str]:
    template = request.scope.get("path_template", "")
    values: dict[str, str] = {}
    for part, actual in zip(template.split("/"), request.scope["path"].split("/"), strict=False):
        if part.startswith("{") and part.endswith("}"):
            values[part[1:-1].split(":")[0]] = actual
    return values


def _check_int(name: str, source: str, raw: str) -> None:
    if CANONICAL_INT.fullmatch(raw) is None or int(raw) > INT64_MAX:
        shown = raw if len(raw) <= 24 else raw[:24] + "…"
        raise invalid(
            name, f"{shown!r} is not a plain decimal integer (digits 0-9, no sign or leading zero)", source
        )


def _body_problem(exc: msgspec.ValidationError) -> ProblemError:
    message = str(exc)
    field = "body"
    if match := _AT_PATH.search(message) or _IN_PATH.search(message):
        # msgspec writes a dict's values as `labels[...]`: name the dict.
        field = match["path"].replace("[...]", "") or "body"
        message = message[: match.start()]
    elif match := _BACKTICK_FIELD.search(message):
        field = match["field"]
    if repr(TEXT_PATTERN) in message:
        message = "must not contain control, bidi-override or other invisible characters"
    elif "matching regex" in message:
        message = "does not have the required form (see the field's pattern in the OpenAPI document)"
    return invalid(field, message, "body")


async def refuse_lenient_input(request: Request[Any, Any, Any]) -> None:
    """Litestar ``before_request`` hook: 422 for a non-canonical integer or a loosely typed body."""
    handler = request.route_handler
    if not isinstance(handler, HTTPRouteHandler):
        return
    path_values = _raw_path_values(request)
    for name in _int_parameters(handler):
        if name in path_values:
            _check_int(name, "path", path_values[name])
        for raw in request.query_params.getall(name, []):
            _check_int(name, "query", raw)
    body_type = _body_type(handler)
    if body_type is None:
        return
    try:
        document = msgspec.json.decode(await request.body())
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        reason = "it is not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise ProblemError(
            400, f"the body is not valid JSON: {reason}", slug="malformed-json", title="Malformed JSON body"
        ) from None
    try:
        msgspec.convert(_integral_floats_as_ints(document), body_type, strict=True)
    except msgspec.ValidationError as exc:
        raise _body_problem(exc) from None

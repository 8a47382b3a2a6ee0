"""Every error as an RFC 9457 problem: the exception to raise, and the handlers.

Handlers are registered once in ``api.app``; handlers never build error
bodies themselves, they raise :class:`ProblemError` (or let Litestar raise).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

import psycopg
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    SerializationException,
    ValidationException,
)
from litestar.openapi import ResponseSpec
from litestar.types import ExceptionHandlersMap
from psycopg_pool import PoolTimeout

from common.db_limits import DatabaseUnresponsive
from common.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE, FieldError, Problem

__all__ = [
    "PROBLEM_STATUS_MEANINGS",
    "ProblemError",
    "conflict",
    "exception_handlers",
    "invalid",
    "not_found",
    "problem_response",
    "problem_responses",
    "unmet_rule",
]

log = logging.getLogger("tidewatch.api.errors")

# A problem type per status unless a handler picks a more precise one.
_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    422: "validation",
    429: "too-many-requests",
    500: "internal",
    503: "unavailable",
}
_BACKTICK_FIELD = re.compile(r"field `(?P<field>[^`]+)`")


class ProblemError(HTTPException):
    """Raise to answer with a problem; ``errors`` name the offending fields."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: Iterable[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=detail, status_code=status_code, headers=headers)
        self.slug = slug or _SLUGS.get(status_code, "error")
        self.title = title or HTTPStatus(status_code).phrase
        self.errors = list(errors)


def unmet_rule(field: str, message: str, source: str = "body") -> ProblemError:
    """422 for a value its schema allows but a rule the schema cannot state refuses: a
    cross-field rule, an IANA timezone, a cron expression, a referenced row that does not exist.

    Its own problem type (``unmet-rule``) tells it apart from a schema violation
    (``validation``); tests/api/schemathesis_hooks.py relies on that.
    """
    return ProblemError(
        422,
        f"{field}: {message}",
        slug="unmet-rule",
        title="Invalid input",
        errors=[FieldError(field=field, message=message, source=source)],
    )


def not_found(kind: str, ident: object) -> ProblemError:
    """404 for a resource that does not exist (or is not visible)."""
    return ProblemError(404, f"{kind} {ident} does not exist", title=f"{kind.capitalize()} not found")


def conflict(detail: str, field: str) -> ProblemError:
    """409 for a value that must be unique, naming the field."""
    return ProblemError(409, detail, errors=[FieldError(field=field, message=detail, source="body")])


def invalid(field: str, message: str, source: str = "query") -> ProblemError:
    """422 for one invalid input the signature could not catch."""
    return ProblemError(
        422,
        f"{field}: {message}",
        title="Invalid input",
        errors=[FieldError(field=field, message=message, source=source)],
    )


# What each status means wherever it is declared in the OpenAPI document.
PROBLEM_STATUS_MEANINGS = {
    400: "Malformed JSON body",
    401: "No valid bearer token",
    403: "The caller's role does not allow this",
    404: "No such resource",
    405: "Method not allowed (see Allow)",
    409: "Conflicts with existing data",
    413: "Body larger than 1 MiB",
    422: "Invalid input; errors name each field",
    429: "Too many attempts (see Retry-After)",
    503: "The database or the password hasher is busy or unreachable (see Retry-After)",
}


def problem_responses(*statuses: int, **descriptions: str) -> dict[int, ResponseSpec]:
    """OpenAPI responses for ``statuses``, each an ``application/problem+json`` body.
    ``descriptions`` overrides a meaning per status, keyed ``s404="No such VPS"``."""
    return {
        status: ResponseSpec(
            Problem,
            description=descriptions.get(
                f"s{status}", PROBLEM_STATUS_MEANINGS.get(status, HTTPStatus(status).phrase)
            ),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in statuses
    }


def problem_response(request: Request[Any, Any, Any], exc: ProblemError) -> Response[Problem]:
    """The response for a :class:`ProblemError`."""
    body = Problem(
        type=PROBLEM_TYPE_BASE + exc.slug,
        title=exc.title,
        status=exc.status_code,
        detail=exc.detail,
        instance=request.url.path,
        errors=exc.errors,
    )
    return Response(body, status_code=exc.status_code, media_type=PROBLEM_MEDIA_TYPE, headers=exc.headers)


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    errors = [_field_error(request, item) for item in exc.extra or [] if isinstance(item, Mapping)]
    fields = ", ".join(dict.fromkeys(e.field for e in errors)) or "request"
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or exc.detail
    problem = ProblemError(422, detail, title=f"Invalid input: {fields}", errors=errors)
    return problem_response(request, problem)


def _field_error(request: Request[Any, Any, Any], item: Mapping[str, Any]) -> FieldError:
    message = str(item.get("message", "invalid value"))
    field = str(item.get("key", "") or "")
    source = item.get("source", "body")
    # Litestar reports whole-body errors (missing or unknown field) on "data".
    if field in ("", "data"):
        match = _BACKTICK_FIELD.search(message)
        field = match["field"] if match else "body"
    return FieldError(
        field=_wire_name(request, field), message=message, source=str(getattr(source, "value", source))
    )


def _wire_name(request: Request[Any, Any, Any], field: str) -> str:
    """The name a client sent (``from``), not the handler's parameter (``from_``)."""
    parameters = request.route_handler.parsed_fn_signature.parameters
    definition = parameters.get(field)
    kwarg = definition.kwarg_definition if definition is not None else None
    return getattr(kwarg, "name", None) or field


def _unauthorized(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Problem]:
    detail = exc.detail if exc.detail != "Unauthorized" else "a valid bearer token is required"
    problem = ProblemError(401, detail, headers={"WWW-Authenticate": 'Bearer realm="tidewatch"'})
    return problem_response(request, problem)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    status = exc.status_code
    phrase = HTTPStatus(status).phrase
    detail = exc.detail if exc.detail != phrase else ""
    if status == 400 and isinstance(exc.__cause__, SerializationException):
        problem = ProblemError(400, detail, slug="malformed-json", title="Malformed JSON body")
    elif status == 404 and not detail:
        problem = ProblemError(404, f"no route matches {request.url.path}")
    elif status == 405:
        problem = ProblemError(
            405, f"{request.method} is not allowed on {request.url.path}", headers=exc.headers
        )
    else:
        problem = ProblemError(status, detail or phrase, headers=exc.headers)
    return problem_response(request, problem)


def _database_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
    detail = (
        f"the database did not answer within {exc.limit_s:g} s; try again shortly"
        if isinstance(exc, DatabaseUnresponsive)
        else "the database is not reachable; try again shortly"
    )
    problem = ProblemError(
        503,
        detail,
        title="Database unavailable",
        headers={"Retry-After": "5"},
    )
    return problem_response(request, problem)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    problem = ProblemError(500, "an unexpected error occurred; it has been logged")
    return problem_response(request, problem)


def exception_handlers() -> ExceptionHandlersMap:
    """The app's exception handlers: every error becomes a problem."""
    return {
        ProblemError: problem_response,
        ValidationException: _validation,
        NotAuthorizedException: _unauthorized,
        HTTPException: _http,
        PoolTimeout: _database_unavailable,
        psycopg.OperationalError: _database_unavailable,
        Exception: _internal,
    }

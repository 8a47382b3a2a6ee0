"""The OpenAPI document, made to say exactly what the server does.

Litestar's generated document leaves out what this app adds around the
handlers: problem responses from guards, the strict-input hook and the error
handlers, ``security: []`` on open routes (it drops empty lists), exact int64
bounds (it writes them as floats) and ``additionalProperties: false`` for
bodies that refuse unknown fields. :func:`truthful` adds them, from the routes
themselves, in this one place; tests/api/test_schemathesis.py holds the
server to the result.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
from litestar import Litestar
from litestar.connection import Request
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin

from api.auth.guards import requires_admin, requires_operator
from api.errors import PROBLEM_STATUS_MEANINGS
from api.metrics.resolution import EPOCH_MS_PATTERN, YEAR_1970_TO_9999_PATTERN
from api.strict_input import INT64_MAX
from common import api_models
from common.api_models import alerts as alert_models
from common.api_models import commands as command_models
from common.api_models import settings as settings_models
from common.api_models import status_page as status_page_models
from common.problems import PROBLEM_MEDIA_TYPE, Problem

__all__ = ["TruthfulJsonRenderPlugin", "truthful"]

_PROBLEM = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_INSTANT = {
    "anyOf": [
        {"type": "string", "format": "date-time", "pattern": YEAR_1970_TO_9999_PATTERN},
        {"type": "string", "pattern": EPOCH_MS_PATTERN, "description": "epoch milliseconds"},
    ]
}
# Query parameters read by api/metrics/resolution.py parse_instant (metrics window, alert events).
_INSTANT_QUERY_PARAMETERS = frozenset({"from", "to", "since"})
# Bodies where "nothing to change" is refused (api/users.py).
_NON_EMPTY = {"UserUpdate", "ServerSettingsUpdate"}


def _handlers(app: Litestar) -> dict[str, HTTPRouteHandler]:
    found: dict[str, HTTPRouteHandler] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler) and isinstance(handler.operation_id, str):
                found[handler.operation_id] = handler
    return found


def _statuses(handler: HTTPRouteHandler, operation: dict[str, Any]) -> set[int]:
    """The problem statuses ``handler`` can answer with, besides those it declares itself."""
    statuses = {503}
    if not handler.opt.get("exclude_from_auth"):
        statuses.add(401)
    guards = {guard for layer in handler.ownership_layers for guard in layer.guards or ()}
    if guards & {requires_operator, requires_admin}:
        statuses.add(403)
    places = {parameter["in"] for parameter in operation.get("parameters", [])}
    if "path" in places:
        statuses |= {404, 422}
    if "query" in places:
        statuses.add(422)
    if "requestBody" in operation:
        statuses |= {400, 413, 422}
    return statuses


def _exact_bounds(node: Any) -> None:
    """Integer bounds as integers; int64's maximum is not representable as a float."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for key in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
                value = node.get(key)
                if isinstance(value, float):
                    node[key] = INT64_MAX if value >= float(INT64_MAX) else int(value)
        for child in node.values():
            _exact_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _exact_bounds(child)


def _msgspec_components() -> dict[str, Any]:
    """Every body's schema as msgspec writes it: unlike Litestar's, it keeps dict key patterns,
    size limits, constraints inside containers and ``additionalProperties: false``."""
    structs: list[type[Any]] = [Problem]
    # The alerts, billing, traffic and command bodies live in their own modules, not re-exported.
    for module in (api_models, alert_models, command_models, status_page_models, settings_models):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, msgspec.Struct):
                structs.append(value)
    _, components = msgspec.json.schema_components(structs, ref_template="#/components/schemas/{name}")
    return components


# msgspec reads a body's dates and date-times only as RFC 3339, years 0001-9999. Without a
# pattern, clients that do not assert "format" (Schemathesis among them) take "" for valid.
_RFC3339_YEAR = "^(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-"


def _dated_strings(node: Any) -> None:
    """A year pattern on every date and date-time string that has none."""
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") in ("date", "date-time"):
            node.setdefault("pattern", _RFC3339_YEAR)
        for value in node.values():
            _dated_strings(value)
    elif isinstance(node, list):
        for value in node:
            _dated_strings(value)


def truthful(document: dict[str, Any], app: Litestar) -> dict[str, Any]:
    """A corrected copy of Litestar's ``document`` for ``app``."""
    doc = copy.deepcopy(document)
    handlers = _handlers(app)
    for item in doc["paths"].values():
        for operation in item.values():
            handler = handlers.get(operation.get("operationId", ""))
            if handler is None:
                continue
            if handler.opt.get("exclude_from_auth"):
                operation["security"] = []
            responses = operation.setdefault("responses", {})
            for status in _statuses(handler, operation):
                responses.setdefault(str(status), {"description": PROBLEM_STATUS_MEANINGS[status]})
            if "requestBody" not in operation and "400" in responses:
                del responses["400"]  # Litestar's guess: bad parameters are 422 problems here
            for status, response in responses.items():
                if int(status) >= 400:
                    response["content"] = copy.deepcopy(_PROBLEM)
                    if int(status) in (429, 503):
                        response["headers"] = {
                            "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}
                        }
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["name"] in _INSTANT_QUERY_PARAMETERS:
                    parameter["schema"] = {
                        **copy.deepcopy(_INSTANT),
                        "description": parameter.get("description", ""),
                    }
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in _msgspec_components().items():
        if name in schemas:
            schemas[name] = schema
    for name in _NON_EMPTY:
        if name in schemas:
            schemas[name]["minProperties"] = 1
    _exact_bounds(doc)
    _dated_strings(schemas)
    return doc


class TruthfulJsonRenderPlugin(JsonRenderPlugin):
    """Serves ``openapi.json`` after :func:`truthful` (built once per app)."""

    def __init__(self) -> None:
        super().__init__()
        self._rendered: dict[int, bytes] = {}

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        key = id(request.app)
        if key not in self._rendered:
            self._rendered[key] = self.render_json(request, truthful(openapi_schema, request.app))
        return self._rendered[key]

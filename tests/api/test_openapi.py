"""The OpenAPI document says what the server does (issue 10, item 16).
tests/api/test_schemathesis.py holds the server to it; these pin the corrections."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.api.conftest import SignedIn, assert_problem

pytestmark = pytest.mark.db
Client = AsyncTestClient[Litestar]


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _operation(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for item in document["paths"].values():
        for operation in item.values():
            if operation.get("operationId") == operation_id:
                found: dict[str, Any] = operation
                return found
    raise AssertionError(f"no operation {operation_id}")


async def test_open_routes_need_no_bearer_and_the_rest_inherit_it(document: dict[str, Any]) -> None:
    assert document["security"] == [{"bearer": []}]
    for open_route in ("login", "registerUser", "getHealth", "getAgentInstallScript", "getAgentWheel"):
        assert _operation(document, open_route)["security"] == []
    assert "security" not in _operation(document, "listVps")


@pytest.mark.parametrize(
    ("operation_id", "statuses"),
    [
        ("updateUser", {"400", "401", "403", "404", "409", "413", "422", "503"}),
        ("updateVps", {"400", "401", "403", "404", "409", "413", "422", "503"}),
        ("getVps", {"401", "404", "422", "503"}),
        ("listAuditLog", {"401", "403", "422", "503"}),
        ("login", {"400", "401", "413", "422", "429", "503"}),
        ("getHostMetrics", {"401", "404", "422", "503"}),
        ("createToken", {"400", "401", "409", "413", "422", "503"}),
        ("revokeToken", {"401", "404", "422", "503"}),
        ("listAllTokens", {"401", "403", "422", "503"}),
        ("listOwnTokens", {"401", "503"}),
    ],
)
async def test_error_statuses_are_declared_as_problems(
    document: dict[str, Any], operation_id: str, statuses: set[str]
) -> None:
    responses = _operation(document, operation_id)["responses"]
    declared = {status for status in responses if int(status) >= 400}
    assert declared == statuses
    for status in declared:
        content = responses[status]["content"]
        assert list(content) == ["application/problem+json"]
        assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


async def test_int64_bounds_are_integers_and_closed_bodies_say_so(document: dict[str, Any]) -> None:
    [vps_id] = _operation(document, "getVps")["parameters"]
    assert vps_id["schema"]["maximum"] == 2**63 - 1 and isinstance(vps_id["schema"]["maximum"], int)
    schemas = document["components"]["schemas"]
    for body in (
        "VpsCreate",
        "VpsUpdate",
        "UserCreate",
        "UserUpdate",
        "LoginRequest",
        "RegisterRequest",
        "TokenCreate",
    ):
        assert schemas[body]["additionalProperties"] is False, body
    assert schemas["UserUpdate"]["minProperties"] == 1
    labels = schemas["VpsUpdate"]["properties"]["labels"]
    assert labels["maxProperties"] == 64 and "pattern" in labels["propertyNames"]


async def test_from_and_to_are_date_times_or_epoch_milliseconds(document: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in _operation(document, "getHostMetrics")["parameters"]}
    for name in ("from", "to"):
        branches = parameters[name]["schema"]["anyOf"]
        assert branches[0]["format"] == "date-time" and "pattern" in branches[1]


async def test_405_answers_say_what_is_allowed(client: Client, operator: SignedIn) -> None:
    response = await client.put("/api/vps", json={}, headers=operator.headers)
    assert_problem(response, 405)
    assert {method.strip() for method in response.headers["allow"].split(",")} >= {"GET", "POST"}

"""Every failure is an RFC 9457 problem; health fails loudly without a database."""

from __future__ import annotations

import time

import psycopg
import pytest
from litestar import Litestar
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from api.app import create_app
from common.settings import ApiSettings
from tests.api.conftest import SignedIn, assert_problem
from tests.conftest import free_port

pytestmark = pytest.mark.db
Client = AsyncTestClient[Litestar]


async def test_health_reports_the_database(client: Client) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == body["database"] == "ok"
    assert body["edition"] in ("apache", "timescale") and body["schema_version"] >= 5


async def test_health_is_503_when_the_database_is_unreachable() -> None:
    dead = f"postgresql://tidewatch:nope@127.0.0.1:{free_port()}/tidewatch?connect_timeout=1"
    async with AsyncTestClient(app=create_app(ApiSettings(), dead)) as client:
        health = await client.get("/api/health")
        body = assert_problem(health, 503)
        assert health.headers["retry-after"] == "5" and "database" in body["title"].lower()
        login = await client.post("/api/auth/login", json={"username": "a", "password": "b"})
        assert_problem(login, 503)
        ws = await client.websocket_connect("/api/live", params={"token": "twu_" + "a" * 16 + "." + "b" * 43})
        with ws, pytest.raises(WebSocketDisconnect) as closed:
            assert "database" in ws.receive_json(timeout=10)["detail"]
            ws.receive(timeout=5)
        assert closed.value.code == 1013


async def test_health_is_503_within_its_budget_when_the_database_hangs(
    client: Client, db: psycopg.Connection[DictRow]
) -> None:
    budget_s = ApiSettings().health_timeout_s
    # The lock makes the health query wait, as a frozen server would: no error, no answer.
    with db.transaction():
        db.execute("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        health = await client.get("/api/health")
        took = time.monotonic() - started
    body = assert_problem(health, 503)
    assert body["detail"] == f"the database did not answer within {budget_s:g} s", body
    assert took < budget_s + 1.0, f"health took {took:.2f} s"
    # The connection the limit broke was discarded, not pooled: the next check is fine.
    assert (await client.get("/api/health")).status_code == 200


async def test_malformed_and_unknown_requests(client: Client, operator: SignedIn) -> None:
    headers = {**operator.headers, "content-type": "application/json"}
    bad_json = await client.post("/api/vps", content=b'{"name": ', headers=headers)
    assert assert_problem(bad_json, 400)["type"].endswith("/malformed-json")
    assert_problem(await client.get("/api/nothing-here", headers=operator.headers), 404)
    assert_problem(await client.put("/api/vps", json={}, headers=operator.headers), 405)
    huge = await client.post("/api/vps", content=b"x" * (2 * 1024 * 1024), headers=headers)
    assert_problem(huge, 413)


async def test_validation_problems_name_every_field(client: Client, operator: SignedIn) -> None:
    response = await client.post(
        "/api/vps", json={"name": "", "ip_address": 7, "labels": []}, headers=operator.headers
    )
    body = assert_problem(response, 422)
    assert body["type"].endswith("/validation") and body["errors"][0]["source"] == "body"
    assert body["errors"][0]["field"] in ("name", "ip_address", "labels")


async def test_openapi_documents_every_operation(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert len(operations) >= 17
    assert all(op.get("operationId") and op.get("summary") for op in operations)
    assert "bearer" in document["components"]["securitySchemes"]

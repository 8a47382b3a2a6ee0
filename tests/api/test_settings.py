"""``/api/settings``, the register route obeying it, and the install script and wheel it feeds.

A database of its own: the settings row is global, and other tests rely on the
environment's defaults being in force.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow, dict_row

from api.agent_install.script import HEADER_END
from api.app import create_app
from common.api_models import Role
from common.settings import ApiSettings, InstallSettings
from tests.api.conftest import (
    PASSWORD,
    SignedIn,
    assert_problem,
    audit_rows,
    fresh_database,
    roomy_hashing,
    roomy_throttle,
    sign_in,
    unique,
)
from tests.conftest import drop_test_database
from tests.integration.test_collector_tls import make_ca

pytestmark = pytest.mark.db

Client = AsyncTestClient[Litestar]
ENV_INSTALL = InstallSettings(
    collector_address="collector.example.net:7443", tls=True, api_url="https://tw.example.net/"
)


@pytest.fixture(scope="module")
def settings_dsn() -> Iterator[str]:
    dsn = fresh_database()
    yield dsn
    drop_test_database(dsn)


@pytest.fixture(scope="module")
async def settings_client(settings_dsn: str) -> AsyncIterator[Client]:
    app = create_app(
        ApiSettings(allow_registration=True),
        settings_dsn,
        ENV_INSTALL,
        roomy_throttle(),
        hashing=roomy_hashing,
    )
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@pytest.fixture
def conn(settings_dsn: str) -> Iterator[psycopg.Connection[DictRow]]:
    with psycopg.connect(settings_dsn, autocommit=True, row_factory=dict_row) as connection:
        yield connection
        # Each test starts from the environment's defaults.
        connection.execute(
            "UPDATE server_settings SET allow_registration = NULL, public_api_url = NULL,"
            " collector_host = NULL, collector_port = NULL, collector_tls = NULL, collector_ca_pem = NULL,"
            " updated_at = NULL, updated_by = NULL"
        )


@pytest.fixture
async def settings_admin(settings_client: Client, conn: psycopg.Connection[DictRow]) -> SignedIn:
    return await sign_in(settings_client, conn, Role.ADMIN)


async def _register(client: Client) -> Any:
    return await client.post("/api/auth/register", json={"username": unique("u"), "password": PASSWORD})


def _check_syntax(script: str) -> None:
    subprocess.run(["bash", "-n"], input=script, text=True, check=True, timeout=30)


def _script_values(script: str) -> dict[str, str]:
    """The header's TW_* values, as bash reads them."""
    header, end, _ = script.partition(HEADER_END)
    assert end, "the script has no header of values"
    shown = subprocess.run(
        ["bash", "-c", header + '\nfor v in "${!TW_@}"; do printf "%s=%s\\0" "$v" "${!v}"; done'],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return dict(item.split("=", 1) for item in shown.split("\0") if item)


async def test_only_admins_read_or_change_settings(
    settings_client: Client, conn: psycopg.Connection[DictRow]
) -> None:
    assert_problem(await settings_client.get("/api/settings"), 401)
    operator = await sign_in(settings_client, conn, Role.OPERATOR)
    assert_problem(await settings_client.get("/api/settings", headers=operator.headers), 403)
    refused = await settings_client.patch(
        "/api/settings", json={"allow_registration": False}, headers=operator.headers
    )
    assert_problem(refused, 403)


async def test_the_environment_seeds_every_value_and_retention_is_shown(
    settings_client: Client, settings_admin: SignedIn
) -> None:
    response = await settings_client.get("/api/settings", headers=settings_admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["allow_registration"] is True
    assert body["public_api_url"] == "https://tw.example.net"
    assert (body["collector_host"], body["collector_port"]) == ("collector.example.net", 7443)
    assert body["collector_address"] == "collector.example.net:7443"
    assert body["collector_tls"] is True and body["collector_ca_pem"] == ""
    assert body["install_command_example"] == (
        "curl -fsSL https://tw.example.net/agent/install.sh | sudo bash -s -- --token YOUR_AGENT_TOKEN"
    )
    retention = {r["relation"]: r["keep_seconds"] for r in body["retention"]}
    assert retention["host_metrics"] == 7 * 86400
    assert body["updated_by"] is None


async def test_a_change_is_stored_audited_and_wins_over_the_environment(
    settings_client: Client, settings_admin: SignedIn, conn: psycopg.Connection[DictRow]
) -> None:
    ca, _, _ = make_ca("settings test CA")
    pem = ca.cert.decode()
    response = await settings_client.patch(
        "/api/settings",
        json={
            "allow_registration": False,
            "public_api_url": "http://203.0.113.9:8000/",
            "collector_host": "2001:db8::5",
            "collector_port": 50051,
            "collector_ca_pem": pem,
        },
        headers=settings_admin.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["public_api_url"] == "http://203.0.113.9:8000"
    assert body["collector_address"] == "[2001:db8::5]:50051"
    assert body["collector_ca_pem"] == pem and body["updated_by"] == settings_admin.username
    [row] = audit_rows(conn, "settings")
    assert row["action"] == "settings.update" and row["user_id"] == settings_admin.id
    assert row["detail"]["collector_ca_pem"] == "set" and row["detail"]["allow_registration"] is False

    # The register route obeys the stored value, though the environment says open.
    assert_problem(await _register(settings_client), 403)
    await settings_client.patch(
        "/api/settings", json={"allow_registration": True}, headers=settings_admin.headers
    )
    assert (await _register(settings_client)).status_code == 202

    # A new server's command fetches from the stored public URL.
    created = await settings_client.post(
        "/api/vps", json={"name": unique("vps")}, headers=settings_admin.headers
    )
    assert created.status_code == 201, created.text
    token = created.json()["agent_token"]
    assert created.json()["install_command"] == (
        f"curl -fsSL http://203.0.113.9:8000/agent/install.sh | sudo bash -s -- --token {token}"
    )

    # The install script carries the stored collector, TLS and CA.
    script = await settings_client.get("/agent/install.sh")
    assert script.status_code == 200, script.text
    values = _script_values(script.text)
    assert values["TW_API_URL"] == "http://203.0.113.9:8000"
    assert values["TW_COLLECTOR"] == "[2001:db8::5]:50051" and values["TW_TLS"] == "true"
    assert values["TW_CA_PEM"] == pem.strip()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"collector_port": 0}, "collector_port"),
        ({"collector_port": 70000}, "collector_port"),
        ({"collector_host": "-bad-.example"}, "collector_host"),
        ({"collector_host": "a b"}, "collector_host"),
        ({"public_api_url": "ftp://x.example"}, "public_api_url"),
        ({"public_api_url": "http://x.example/?q=1"}, "public_api_url"),
        ({"collector_ca_pem": "not a certificate"}, "collector_ca_pem"),
        (
            {"collector_ca_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
            "collector_ca_pem",
        ),
        ({"allow_registration": "yes"}, "allow_registration"),
        ({"unknown_setting": 1}, "unknown_setting"),
        ({}, "body"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field(
    settings_client: Client, settings_admin: SignedIn, body: dict[str, Any], field: str
) -> None:
    response = await settings_client.patch("/api/settings", json=body, headers=settings_admin.headers)
    assert_problem(response, 422 if response.status_code != 400 else 400, field)
    after = await settings_client.get("/api/settings", headers=settings_admin.headers)
    assert after.json()["updated_by"] is None


async def test_a_ca_without_tls_is_refused_either_way_round(
    settings_client: Client, settings_admin: SignedIn
) -> None:
    ca, _, _ = make_ca("settings test CA")
    both = {"collector_tls": False, "collector_ca_pem": ca.cert.decode()}
    assert_problem(
        await settings_client.patch("/api/settings", json=both, headers=settings_admin.headers),
        422,
        "collector_ca_pem",
    )
    stored = await settings_client.patch(
        "/api/settings", json={"collector_ca_pem": ca.cert.decode()}, headers=settings_admin.headers
    )
    assert stored.status_code == 200, stored.text
    turned_off = await settings_client.patch(
        "/api/settings", json={"collector_tls": False}, headers=settings_admin.headers
    )
    assert_problem(turned_off, 422, "collector_tls")


async def test_the_script_and_wheel_need_no_login_and_agree(settings_client: Client) -> None:
    script = await settings_client.get("/agent/install.sh")
    assert script.status_code == 200, script.text
    assert script.headers["content-type"].startswith("text/x-shellscript")
    _check_syntax(script.text)
    values = _script_values(script.text)
    assert values["TW_COLLECTOR"] == "collector.example.net:7443"
    assert values["TW_UNIT"].startswith("[Unit]")
    wheel = await settings_client.get(values["TW_WHEEL_PATH"])
    assert wheel.status_code == 200
    assert hashlib.sha256(wheel.content).hexdigest() == values["TW_WHEEL_SHA256"]
    assert values["TW_WHEEL_NAME"] in wheel.headers["content-disposition"]

"""The VPS page's empty state, against the real API: an admin sees the one-line install
command the server settings give; others are told that rotating the token shows it."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from common.api_models import Role
from dashboards.client import ApiClient
from dashboards.vps_empty import COMMAND_ID, agent_missing
from tests.api.conftest import PASSWORD, create_user

pytestmark = pytest.mark.db


def _texts(component: Any) -> list[str]:
    """Every string in a component tree, with the command block's id marked."""
    if isinstance(component, str):
        return [component]
    found = [f"#{component.id}"] if getattr(component, "id", None) == COMMAND_ID else []
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None:
            found += _texts(child)
    return found


def _signed_in(db_dsn: str, api: ApiClient, role: Role) -> str:
    with psycopg.connect(db_dsn, autocommit=True, row_factory=dict_row) as conn:
        _, username = create_user(conn, role, PASSWORD)
    return api.login(username, PASSWORD).token


def test_admins_see_the_one_line_command_others_how_to_get_it(api_url: str, db_dsn: str) -> None:
    api = ApiClient(api_url)
    admin = _signed_in(db_dsn, api, Role.ADMIN)
    example = api.get_settings(admin).install_command_example
    assert example.startswith("curl -fsSL ") and example.endswith(
        "/agent/install.sh | sudo bash -s -- --token YOUR_AGENT_TOKEN"
    )
    shown = _texts(agent_missing(api, admin, "admin"))
    assert f"#{COMMAND_ID}" in shown and example in " ".join(shown), shown
    assert "TIDEWATCH_AGENT_TOKEN" not in " ".join(shown)

    for role in (Role.OPERATOR, Role.VIEWER):
        token = _signed_in(db_dsn, api, role)
        text = " ".join(_texts(agent_missing(api, token, role.value)))
        assert f"#{COMMAND_ID}" not in text and "curl" not in text, text
        assert "rotate the agent token" in text.lower() and "one-line install command" in text, text

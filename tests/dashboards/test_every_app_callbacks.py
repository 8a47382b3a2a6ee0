"""Helper modules' callbacks reach every app a process builds, not only the first
(dashboards/deferred.py): each app serves them in its own dependency list."""

from __future__ import annotations

from dash import Dash

from common.settings import DashboardSettings
from dashboards.app import create_app

# Outputs of dashboards/operations.py's callbacks (its tabs).
OUTPUTS = ("ops-pane-containers.hidden", "ops-agent.hidden")


def _served_outputs(app: Dash) -> str:
    """What the browser is told the app's callbacks write: its /_dash-dependencies."""
    response = app.server.test_client().get("/_dash-dependencies")
    assert response.status_code == 200
    return " ".join(str(dependency["output"]) for dependency in response.get_json())


def test_two_apps_both_have_the_operations_callbacks() -> None:
    settings = DashboardSettings(api_url="http://127.0.0.1:9")  # never called here
    first = create_app(settings)
    first_outputs = _served_outputs(first)
    second = create_app(settings)
    second_outputs = _served_outputs(second)
    for output in OUTPUTS:
        assert output in first_outputs, output
        assert output in second_outputs, output

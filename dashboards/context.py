"""What callbacks and layouts need from the running app, without importing it.

``create_app`` stores the settings and the API client in the Flask config;
pages read them here, inside the request that runs their code.
"""

from __future__ import annotations

from typing import Any, cast

import flask

from common.settings import DashboardSettings
from dashboards.client import ApiClient

__all__ = ["API_KEY", "SETTINGS_KEY", "api", "settings", "token_of"]

API_KEY = "TIDEWATCH_API"
SETTINGS_KEY = "TIDEWATCH_SETTINGS"


def api() -> ApiClient:
    """The app's API client."""
    return cast(ApiClient, flask.current_app.config[API_KEY])


def settings() -> DashboardSettings:
    """The app's settings."""
    return cast(DashboardSettings, flask.current_app.config[SETTINGS_KEY])


def token_of(session: dict[str, Any] | None) -> str | None:
    """The bearer token in the browser's session store, if signed in."""
    return session.get("token") if session else None

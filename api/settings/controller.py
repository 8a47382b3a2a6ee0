"""``/api/settings``: registration and the collector address install commands use. Admins only."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch
from litestar.datastructures import State
from litestar.params import JSONBody

from api import paths
from api.audit import record_audit
from api.auth.guards import requires_admin
from api.auth.sessions import AuthUser
from api.errors import problem_responses
from api.resources import Db, get_resources
from api.settings.store import effective_settings, settings_out, update_settings
from common.api_models.settings import ServerSettingsOut, ServerSettingsUpdate
from common.records import AuditAction

__all__ = ["SettingsController"]


class SettingsController(Controller):
    """Settings stored in the database; until an admin sets one, its environment default holds."""

    path = paths.SETTINGS
    tags = ["settings"]
    guards = [requires_admin]

    @get(
        operation_id="getSettings",
        name="settings:get",
        summary="The settings in force, with the retention of every table",
        responses=problem_responses(401, 403, 503),
    )
    async def get_settings(self, db: Db, state: State) -> ServerSettingsOut:
        res = get_resources(state)
        return await settings_out(db, await effective_settings(db, res.settings, res.install))

    @patch(
        operation_id="updateSettings",
        name="settings:update",
        summary="Change registration or the collector address that install commands give",
        description="Absent fields stay as they are. A stored value wins over the environment's "
        "(TIDEWATCH_API_ALLOW_REGISTRATION, TIDEWATCH_INSTALL_*). Takes effect at once, on every "
        "API instance; agents already installed keep their own config.",
        responses=problem_responses(400, 401, 403, 422, 503),
    )
    async def update(
        self, data: JSONBody[ServerSettingsUpdate], db: Db, state: State, request: Request[AuthUser, str, Any]
    ) -> ServerSettingsOut:
        res = get_resources(state)
        current, changed = await update_settings(db, data, request.user.id, res.settings, res.install)
        audited = {k: v for k, v in changed.items() if k != "collector_ca_pem"}
        if "collector_ca_pem" in changed:
            audited["collector_ca_pem"] = "set" if changed["collector_ca_pem"] else "cleared"
        await record_audit(
            db, request, AuditAction.SETTINGS_UPDATE, user=request.user, target="settings", detail=audited
        )
        return await settings_out(db, current)

"""``GET /agent/install.sh`` and the agent's wheel: what the one-line install fetches.

Served without a login: a new VPS has no API credentials, only its agent token,
which it presents to the collector. Neither answer holds a secret: the collector
address and CA are what every agent is told anyway, and the wheel is the agent's code.
"""

from __future__ import annotations

import asyncio

from litestar import Controller, Response, get
from litestar.datastructures import State

from api import paths
from api.agent_install.script import install_script
from api.agent_install.wheel import agent_wheel
from api.errors import problem_responses
from api.resources import get_resources
from api.settings.store import effective_settings

__all__ = ["AgentInstallController"]

WHEEL_MEDIA_TYPE = "application/octet-stream"


class AgentInstallController(Controller):
    """The install script and the wheel, both built from the code this API runs."""

    tags = ["agent install"]

    @get(
        paths.AGENT_INSTALL_SCRIPT,
        operation_id="getAgentInstallScript",
        name="agent:install-script",
        summary="The agent's install script, for: curl -fsSL …/agent/install.sh | sudo bash -s -- --token …",
        description="Carries the collector address, TLS and CA from the settings, and the wheel's sha256.",
        media_type="text/x-shellscript",
        opt={"exclude_from_auth": True},
        security=[],
        responses=problem_responses(503),
    )
    async def script(self, state: State) -> Response[str]:
        res = get_resources(state)
        wheel = await asyncio.to_thread(agent_wheel)
        async with res.connection("install script") as db:
            settings = await effective_settings(db, res.settings, res.install)
        return Response(
            install_script(settings, wheel, paths.AGENT_WHEEL),
            media_type="text/x-shellscript; charset=utf-8",
            headers={"Cache-Control": "no-store"},
        )

    @get(
        paths.AGENT_WHEEL,
        operation_id="getAgentWheel",
        name="agent:wheel",
        summary="The agent's wheel: only its own packages, requiring grpcio, protobuf, psutil and docker",
        media_type=WHEEL_MEDIA_TYPE,
        opt={"exclude_from_auth": True},
        security=[],
    )
    async def wheel(self) -> Response[bytes]:
        wheel = await asyncio.to_thread(agent_wheel)
        return Response(
            wheel.content,
            media_type=WHEEL_MEDIA_TYPE,
            headers={
                "Content-Disposition": f'attachment; filename="{wheel.filename}"',
                "X-Agent-Version": wheel.version,
            },
        )

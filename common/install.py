"""How an operator starts an agent for a VPS: one shell line with its token."""

from __future__ import annotations

import shlex

from common.settings import InstallSettings

__all__ = ["install_command"]


def install_command(settings: InstallSettings, token: str) -> str:
    """The agent's start command for ``token``, reaching the collector as ``settings`` say."""
    assignments = {
        "TIDEWATCH_AGENT_SERVER": settings.collector_address,
        "TIDEWATCH_AGENT_TOKEN": token,
        "TIDEWATCH_AGENT_TLS": "true" if settings.tls else "false",
    }
    if settings.ca_file:
        assignments["TIDEWATCH_AGENT_TLS_CA_FILE"] = settings.ca_file
    return (
        " ".join(f"{name}={shlex.quote(value)}" for name, value in assignments.items()) + " tidewatch-agent"
    )

"""How an operator starts an agent for a VPS: one shell line with its token."""

from __future__ import annotations

import shlex

__all__ = ["DEFAULT_COLLECTOR_PORT", "install_command"]

DEFAULT_COLLECTOR_PORT = 50051


def install_command(collector_address: str, token: str) -> str:
    """The agent's start command for ``token``, reaching the collector at ``collector_address``."""
    return (
        f"TIDEWATCH_AGENT_SERVER={shlex.quote(collector_address)} "
        f"TIDEWATCH_AGENT_TOKEN={shlex.quote(token)} tidewatch-agent"
    )

"""How an operator starts an agent for a VPS: one shell line with its token."""

from __future__ import annotations

import shlex

from common.settings import InstallSettings

__all__ = ["INSTALL_SCRIPT_PATH", "install_command", "join_host_port", "one_line_install_command"]

# Where the API serves the install script; the one-line command fetches it.
INSTALL_SCRIPT_PATH = "/agent/install.sh"


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


def one_line_install_command(public_api_url: str, token: str) -> str:
    """The line an operator pastes on a new VPS: fetch the API's install script, run it as root."""
    script_url = public_api_url.rstrip("/") + INSTALL_SCRIPT_PATH
    return f"curl -fsSL {shlex.quote(script_url)} | sudo bash -s -- --token {shlex.quote(token)}"


def join_host_port(host: str, port: int) -> str:
    """``host:port`` as the agent's config takes it: an IPv6 address in brackets."""
    bare = host.strip("[]")
    return f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"

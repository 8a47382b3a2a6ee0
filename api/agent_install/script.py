"""The install script a VPS runs: a fixed body (install.sh beside this module) after a
header of values this server fills in: where to fetch the wheel, the collector address,
TLS and CA, and the systemd unit."""

from __future__ import annotations

import shlex
from functools import cache
from pathlib import Path

from api.agent_install.wheel import AgentWheel
from api.settings.store import EffectiveSettings

__all__ = ["HEADER_END", "UNIT_FILE", "install_script", "script_body"]

BODY_FILE = Path(__file__).with_name("install.sh")
# The line after the filled-in values.
HEADER_END = "# --- end of the values from the Tidewatch server ---"
# The script embeds this unit's text (scripts/install-agent.sh passes the same file).
UNIT_FILE = Path(__file__).resolve().parents[2] / "packaging" / "systemd" / "tidewatch-agent.service"


@cache
def script_body() -> str:
    return BODY_FILE.read_text()


@cache
def _unit_text() -> str:
    # Absent when the API runs from an installed package without the checkout: then the
    # script installs no service and says how to start the agent.
    return UNIT_FILE.read_text() if UNIT_FILE.is_file() else ""


def install_script(settings: EffectiveSettings, wheel: AgentWheel, wheel_path: str) -> str:
    """The whole script for ``settings``; every value is shell-quoted."""
    values = {
        "TW_API_URL": settings.public_api_url,
        "TW_WHEEL_PATH": wheel_path,
        "TW_WHEEL_NAME": wheel.filename,
        "TW_WHEEL_SHA256": wheel.sha256,
        "TW_COLLECTOR": settings.collector_address,
        "TW_TLS": "true" if settings.collector_tls else "false",
        "TW_CA_FILE": settings.collector_ca_file,
        "TW_CA_PEM": settings.collector_ca_pem.strip() if settings.collector_tls else "",
        "TW_UNIT": _unit_text(),
    }
    header = "\n".join(f"{name}={shlex.quote(value)}" for name, value in values.items())
    return (
        f"#!/usr/bin/env bash\n# Values from the Tidewatch server (its Settings page).\n{header}\n{HEADER_END}\n\n"
        + script_body()
    )

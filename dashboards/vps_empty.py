"""What the VPS page says while its agent has never reported: the one-line install
command (``curl … /agent/install.sh | sudo bash -s -- --token …``).

The command's address is the server setting ``public_api_url``, which only admins may
read (GET /api/settings), and the token is shown only once, when it is issued. So an
admin sees the command with a placeholder token; everyone is told that rotating the
token shows the whole command, ready to paste.
"""

from __future__ import annotations

from dash import html

from dashboards.client import ApiClient, ApiError
from dashboards.components import empty_state

__all__ = ["agent_missing"]

TITLE = "No data yet — is the agent running?"
COMMAND_ID = "vps-empty-command"
_ROTATE = {
    "admin": "Rotate the agent token with the button above to get this command with a fresh token, ready to paste.",
    "operator": "Rotate the agent token with the button above: the new token comes with the one-line install"
    " command to paste on the server.",
}
_ASK = "An operator or admin can rotate the agent token, which shows the one-line install command."


def agent_missing(api: ApiClient, token: str, role: str | None) -> html.Div:
    """The empty state for a server whose agent never reported, as ``role`` may see it."""
    rotate = _ROTATE.get(role or "", _ASK)
    if role != "admin":
        return empty_state(TITLE, "Install the agent on the server with its token. " + rotate)
    try:
        example = api.get_settings(token).install_command_example
    except ApiError:
        return empty_state(TITLE, "Install the agent on the server with its token. " + rotate)
    return empty_state(
        TITLE,
        "Install the agent by running this on the server, as root, with the token shown when the server"
        " was added. " + rotate,
        example,
        COMMAND_ID,
    )

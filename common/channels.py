"""The PostgreSQL NOTIFY channels the services LISTEN on, declared once.

Any database role, even a read-only one, may NOTIFY on any channel. So a
notification is a hint that something may have changed: the listener re-reads
the truth from tables it alone can write (collector channels) or checks a
signature only the services can make (``tidewatch_live``, see
:mod:`common.live_signing`).
"""

from __future__ import annotations

from common.api_models.live import LIVE_CHANNEL

__all__ = [
    "AGENT_CONFIG_CHANNEL",
    "AUTH_CHANGE_CHANNEL",
    "COLLECTOR_CHANNELS",
    "COMMANDS_CHANNEL",
    "LIVE_CHANNEL",
    "SESSION_TAKEN_CHANNEL",
    "TOKEN_ROTATED_CHANNEL",
]

# Payload: a VPS id. Hint: it may have pending commands.
COMMANDS_CHANNEL = "tidewatch_commands"
# Payload: a VPS id. Hint: its agent token may have changed, or the VPS is gone.
TOKEN_ROTATED_CHANNEL = "tidewatch_token_rotated"
# Payload: a VPS id, or "*". Hint: its agent config may have changed.
AGENT_CONFIG_CHANNEL = "tidewatch_agent_config"
# Payload: a VPS id. Hint: another collector may have taken its agent's stream; the
# collector holding it re-reads vps.connected_collector and cuts its stream if so.
SESSION_TAKEN_CHANNEL = "tidewatch_session_taken"
# Payload: {"token_id": N} or {"user_id": N} (common.auth_changes). Hint: every API
# instance re-reads that token's, or that user's tokens', rows on their next request.
AUTH_CHANGE_CHANNEL = "tidewatch_auth"

COLLECTOR_CHANNELS = (COMMANDS_CHANNEL, TOKEN_ROTATED_CHANNEL, AGENT_CONFIG_CHANNEL, SESSION_TAKEN_CHANNEL)

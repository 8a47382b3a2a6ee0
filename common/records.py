"""Writes shared by the API and ``tidewatch-admin``: users, VPS records, audit rows.

Both run the same statements (one async, one sync), so the SQL and the audit
action names are defined once here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from psycopg.types.json import Jsonb

from common.tokens import AGENT_TOKEN_PREFIX, IssuedToken, issue_token

__all__ = [
    "INSERT_AUDIT",
    "INSERT_USER",
    "INSERT_VPS",
    "AuditAction",
    "audit_params",
    "new_agent_token",
]


class AuditAction(StrEnum):
    """The ``audit_log.action`` of each state-changing operation."""

    REGISTER = "auth.register"
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_DELETE = "user.delete"
    USER_BOOTSTRAP = "user.bootstrap"
    USER_SET_PASSWORD = "user.set_password"
    VPS_CREATE = "vps.create"
    VPS_UPDATE = "vps.update"
    VPS_DELETE = "vps.delete"
    VPS_ROTATE_TOKEN = "vps.rotate_token"
    RETENTION_SET = "retention.set"
    VPS_BILLING_UPDATE = "vps.billing_update"
    VPS_BILLING_DELETE = "vps.billing_delete"
    VPS_TRAFFIC_QUOTA_UPDATE = "vps.traffic_quota_update"
    ALERT_RULE_CREATE = "alert_rule.create"
    ALERT_RULE_UPDATE = "alert_rule.update"
    ALERT_RULE_DELETE = "alert_rule.delete"
    ALERT_CHANNEL_CREATE = "alert_channel.create"
    ALERT_CHANNEL_UPDATE = "alert_channel.update"
    ALERT_CHANNEL_DELETE = "alert_channel.delete"
    ALERT_CHANNEL_TEST = "alert_channel.test"
    ALERT_SILENCE_CREATE = "alert_silence.create"
    ALERT_SILENCE_DELETE = "alert_silence.delete"
    ALERT_EVENT_ACK = "alert_event.ack"
    COMMAND_CREATE = "command.create"
    COMMAND_CANCEL = "command.cancel"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    STATUS_PAGE_UPDATE = "status_page.update"
    SETTINGS_UPDATE = "settings.update"


INSERT_USER = """
INSERT INTO users (username, password_hash, role)
VALUES (%(username)s, %(password_hash)s, %(role)s)
RETURNING id, username, role, disabled, created_at
"""

INSERT_VPS = """
INSERT INTO vps (name, ip_address, labels, agent_key_id, agent_token_hash, created_by)
VALUES (%(name)s, %(ip_address)s, %(labels)s, %(agent_key_id)s, %(agent_token_hash)s, %(created_by)s)
RETURNING id
"""

INSERT_AUDIT = """
INSERT INTO audit_log (user_id, actor, action, target, detail, client_ip)
VALUES (%(user_id)s, %(actor)s, %(action)s, %(target)s, %(detail)s, %(client_ip)s)
"""


def audit_params(
    *,
    user_id: int | None,
    actor: str,
    action: AuditAction,
    target: str = "",
    detail: dict[str, Any] | None = None,
    client_ip: str = "",
) -> dict[str, Any]:
    """Parameters for :data:`INSERT_AUDIT`."""
    return {
        "user_id": user_id,
        "actor": actor,
        "action": action.value,
        "target": target,
        "detail": Jsonb(detail or {}),
        "client_ip": client_ip,
    }


def new_agent_token() -> IssuedToken:
    """A fresh agent token; store ``key_id`` and ``token_hash``, show ``token`` once."""
    return issue_token(AGENT_TOKEN_PREFIX)

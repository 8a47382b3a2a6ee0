"""Request bodies exactly as each service documents them. Pure: no I/O.

- Telegram Bot API ``sendMessage``: JSON with ``chat_id``, ``text``, ``parse_mode``.
- Discord webhook: ``content`` and ``embeds`` (title, description, color, fields, timestamp).
- Slack incoming webhook: ``text`` (fallback) and ``blocks`` (header + mrkdwn section).
- Generic webhook: the event as JSON, signed with HMAC-SHA256 over ``<timestamp>.<body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from email.message import EmailMessage
from typing import Any

from alerts.channels.message import Message

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "discord_payload",
    "email_message",
    "generic_payload",
    "sign",
    "slack_payload",
    "telegram_payload",
]

SIGNATURE_HEADER = "X-Tidewatch-Signature"
TIMESTAMP_HEADER = "X-Tidewatch-Timestamp"
_COLORS = {"firing": 0xD9534F, "resolved": 0x5CB85C, "test": 0x5BC0DE}


def telegram_payload(message: Message, chat_id: str) -> dict[str, Any]:
    text = f"<b>{html.escape(message.title)}</b>\n{html.escape(message.body)}"
    return {"chat_id": chat_id, "text": text[:4096], "parse_mode": "HTML"}


def discord_payload(message: Message) -> dict[str, Any]:
    embed: dict[str, Any] = {
        "title": message.title[:256],
        "description": message.body[:4096],
        "color": _COLORS.get(message.state, 0x777777),
        "fields": [
            {"name": "State", "value": message.state, "inline": True},
            {"name": "Target", "value": message.fields["target"][:1024], "inline": True},
        ],
    }
    return {"content": message.title[:2000], "embeds": [embed]}


def slack_payload(message: Message) -> dict[str, Any]:
    return {
        "text": message.title,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": message.body[:3000]}},
        ],
    }


def generic_payload(message: Message, event: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "state": message.state,
        "title": message.title,
        "body": message.body,
        "fields": message.fields,
        "event_id": event.get("id") if event else None,
    }


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``<timestamp>.<body>``; the timestamp lets receivers refuse replays."""
    digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def email_message(message: Message, sender: str, recipients: list[str]) -> EmailMessage:
    """Plain text with an HTML alternative."""
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail.set_content(f"{message.title}\n\n{message.body}\n")
    body_html = html.escape(message.body).replace("\n", "<br>\n")
    mail.add_alternative(
        f"<html><body><h2>{html.escape(message.title)}</h2><p>{body_html}</p></body></html>",
        subtype="html",
    )
    return mail

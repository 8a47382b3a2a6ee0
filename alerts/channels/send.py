"""Deliver one message over one channel. Raises on failure; the caller retries."""

from __future__ import annotations

import json
import ssl
import time
from typing import Any

import aiosmtplib
import httpx

from alerts.channels.message import Message
from alerts.channels.payloads import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    discord_payload,
    email_message,
    generic_payload,
    sign,
    slack_payload,
    telegram_payload,
)

__all__ = ["DeliveryError", "deliver"]

TELEGRAM_API = "https://api.telegram.org"


class DeliveryError(Exception):
    """The channel refused or could not be reached."""


async def _post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> None:
    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
        response = await client.post(
            url, content=body, headers={"Content-Type": "application/json", **headers}
        )
    if response.status_code >= 300:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")


async def _email(message: Message, config: dict[str, Any], secret: dict[str, Any], timeout_s: float) -> None:
    recipients = [str(r) for r in config.get("to", [])]
    mail = email_message(message, str(config.get("from", "tidewatch@localhost")), recipients)
    security = config.get("security", "starttls")
    # A private relay's own CA (a path on the evaluator's host); else the system's.
    context = ssl.create_default_context(cafile=str(config["ca_file"])) if config.get("ca_file") else None
    try:
        await aiosmtplib.send(
            mail,
            hostname=str(config.get("host", "localhost")),
            port=int(config.get("port", 587)),
            username=config.get("username") or None,
            password=secret.get("password") or None,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            tls_context=context,
            timeout=timeout_s,
        )
    except aiosmtplib.SMTPException as exc:
        raise DeliveryError(f"SMTP: {exc}") from exc


async def deliver(
    kind: str,
    config: dict[str, Any],
    secret: dict[str, Any],
    message: Message,
    event: dict[str, Any] | None,
    timeout_s: float = 15.0,
) -> None:
    """Send ``message`` over a channel of ``kind``."""
    try:
        if kind == "email":
            await _email(message, config, secret, timeout_s)
            return
        if kind == "telegram":
            base = str(config.get("api_base") or TELEGRAM_API).rstrip("/")
            url = f"{base}/bot{secret.get('bot_token', '')}/sendMessage"
            body = json.dumps(telegram_payload(message, str(config.get("chat_id", "")))).encode()
            await _post(url, body, {}, timeout_s)
            return
        if kind in ("discord", "slack"):
            payload = discord_payload(message) if kind == "discord" else slack_payload(message)
            await _post(str(secret.get("url", "")), json.dumps(payload).encode(), {}, timeout_s)
            return
        if kind == "webhook":
            body = json.dumps(generic_payload(message, event), default=str).encode()
            headers: dict[str, str] = {}
            if key := secret.get("hmac_key"):
                stamp = str(int(time.time()))
                headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(str(key).encode(), stamp, body)}
            await _post(str(config.get("url", "")), body, headers, timeout_s)
            return
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    except OSError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    raise DeliveryError(f"unknown channel kind {kind!r}")

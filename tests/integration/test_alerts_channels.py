"""Each channel kind against a real local receiver: the exact payload each service
documents, the HMAC signature, STARTTLS-less SMTP with HTML and plain text, and
retries with backoff whose attempts are recorded."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from alerts.sender import send_next
from alerts.settings import AlertsSettings
from tests.alert_receivers import HttpReceiver, SmtpReceiver
from tests.integration.test_alerts_evaluator import execute
from tests.integration.test_collector_tls import make_ca, make_leaf

pytestmark = pytest.mark.db

SETTINGS = AlertsSettings(backoff_base_s=0.01, max_attempts=3)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as http:
        yield http


def channel(dsn: str, kind: str, config: dict[str, Any], secret: dict[str, Any]) -> int:
    return int(
        execute(
            dsn,
            "INSERT INTO alert_channels (name, kind, config, secret) VALUES (%s, %s, %s, %s) RETURNING id",
            f"{kind}-{secrets.token_hex(3)}", kind, json.dumps(config), json.dumps(secret),
        )[0][0]
    )  # fmt: skip


async def send_test(dsn: str, channel_id: int) -> int:
    """Queue a test delivery and send until it is settled (sent, or failed after its attempts)."""
    delivery = int(
        execute(
            dsn,
            "INSERT INTO alert_deliveries (channel_id, transition) VALUES (%s, 'test') RETURNING id",
            channel_id,
        )[0][0]
    )
    deadline = time.monotonic() + 60
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while execute(dsn, "SELECT status FROM alert_deliveries WHERE id = %s", delivery) == [("pending",)]:
            assert time.monotonic() < deadline, "the delivery never settled"
            await send_next(conn, SETTINGS)
    return delivery


async def test_telegram_discord_slack_and_signed_webhook_payloads(
    db_dsn: str, receiver: HttpReceiver
) -> None:
    tg = channel(
        db_dsn, "telegram", {"chat_id": "-100123", "api_base": receiver.url}, {"bot_token": "123:ABC"}
    )
    await send_test(db_dsn, tg)
    request = receiver.requests[-1]
    assert request.path == "/bot123:ABC/sendMessage"
    assert request.headers["Content-Type"] == "application/json"
    body = request.json()
    assert set(body) == {"chat_id", "text", "parse_mode"}
    assert body["chat_id"] == "-100123" and body["parse_mode"] == "HTML"
    assert body["text"].startswith("<b>[TEST] test: test</b>\n")

    dc = channel(db_dsn, "discord", {}, {"url": f"{receiver.url}/api/webhooks/1/tok"})
    await send_test(db_dsn, dc)
    body = receiver.requests[-1].json()
    assert receiver.requests[-1].path == "/api/webhooks/1/tok"
    assert set(body) == {"content", "embeds"}
    embed = body["embeds"][0]
    assert embed["title"] == "[TEST] test: test" and isinstance(embed["color"], int)
    assert {f["name"] for f in embed["fields"]} == {"State", "Target"}

    sl = channel(db_dsn, "slack", {}, {"url": f"{receiver.url}/services/T/B/X"})
    await send_test(db_dsn, sl)
    body = receiver.requests[-1].json()
    assert set(body) == {"text", "blocks"}
    assert body["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[TEST] test: test"},
    }
    assert body["blocks"][1]["type"] == "section" and body["blocks"][1]["text"]["type"] == "mrkdwn"

    wh = channel(db_dsn, "webhook", {"url": f"{receiver.url}/hook"}, {"hmac_key": "s3cret"})
    await send_test(db_dsn, wh)
    request = receiver.requests[-1]
    stamp = request.headers["X-Tidewatch-Timestamp"]
    expected = hmac.new(b"s3cret", stamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Tidewatch-Signature"] == f"sha256={expected}"
    assert request.json()["state"] == "test"


async def test_failures_are_retried_with_backoff_and_recorded(db_dsn: str, receiver: HttpReceiver) -> None:
    receiver.status = 503
    wh = channel(db_dsn, "webhook", {"url": f"{receiver.url}/hook"}, {})
    delivery = await send_test(db_dsn, wh)
    status, attempts, log = execute(
        db_dsn, "SELECT status, attempts, attempt_log FROM alert_deliveries WHERE id = %s", delivery
    )[0]
    assert (status, attempts) == ("failed", 3)
    assert [entry["ok"] for entry in log] == [False, False, False]
    assert all("HTTP 503" in entry["error"] and entry["at"] for entry in log)
    assert len(receiver.requests) == 3

    receiver.status = 200
    delivery = await send_test(db_dsn, wh)
    assert execute(db_dsn, "SELECT status, attempts FROM alert_deliveries WHERE id = %s", delivery) == [
        ("sent", 1)
    ]


async def test_email_has_plain_and_html_parts_and_templates(db_dsn: str) -> None:
    with SmtpReceiver() as smtp:
        config = {
            "host": "127.0.0.1", "port": smtp.port, "security": "none", "from": "tw@test", "to": ["a@test", "b@test"],
            "title_template": "Tidewatch: $state_upper on $target", "body_template": "Summary: $summary",
        }  # fmt: skip
        await send_test(db_dsn, channel(db_dsn, "email", config, {}))
        (mail,) = smtp.messages
    assert mail["Subject"] == "Tidewatch: TEST on test"
    assert mail["To"] == "a@test, b@test"
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None and "Summary: Test notification from Tidewatch" in plain.get_content()
    assert html is not None and "<h2>Tidewatch: TEST on test</h2>" in html.get_content()


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_email_over_starttls_and_tls_with_auth(db_dsn: str, tmp_path: Path, mode: str) -> None:
    ca, ca_key, ca_cert = make_ca("Tidewatch test mail CA")
    leaf = make_leaf(ca_key, ca_cert, "localhost", server=True)
    (tmp_path / "ca.crt").write_bytes(ca.cert)
    (tmp_path / "server.pem").write_bytes(leaf.cert + leaf.key)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(tmp_path / "server.pem")
    with SmtpReceiver(server_tls, mode, login=("alerts", "hunter2")) as smtp:
        config = {"host": "127.0.0.1", "port": smtp.port, "security": mode, "username": "alerts",
                  "from": "tw@test", "to": ["ops@test"], "ca_file": str(tmp_path / "ca.crt")}  # fmt: skip
        ok = await send_test(db_dsn, channel(db_dsn, "email", config, {"password": "hunter2"}))
        wrong = await send_test(db_dsn, channel(db_dsn, "email", config, {"password": "wrong"}))
        assert smtp.logins == ["alerts"]
        assert len(smtp.messages) == 1
    assert execute(db_dsn, "SELECT status FROM alert_deliveries WHERE id = %s", ok) == [("sent",)]
    status, log = execute(db_dsn, "SELECT status, attempt_log FROM alert_deliveries WHERE id = %s", wrong)[0]
    assert status == "failed" and all("SMTP" in entry["error"] for entry in log)

"""Send queued deliveries. Each is claimed with FOR UPDATE SKIP LOCKED and held
locked while it is sent, so two senders never send the same row; a failure is
retried with exponential backoff and every attempt is recorded on the row."""

from __future__ import annotations

import json
import logging
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from alerts.channels.message import render
from alerts.channels.send import DeliveryError, deliver
from alerts.settings import AlertsSettings

__all__ = ["send_next"]

log = logging.getLogger("tidewatch.alerts.sender")

_CLAIM = """
SELECT d.id, d.event_id, d.transition, d.attempts, c.kind, c.config, c.secret, c.name AS channel
FROM alert_deliveries d JOIN alert_channels c ON c.id = d.channel_id
WHERE d.status = 'pending' AND d.next_attempt_at <= now()
ORDER BY d.next_attempt_at, d.id LIMIT 1 FOR UPDATE OF d SKIP LOCKED
"""
_EVENT = """
SELECT e.*, r.name AS rule, r.kind FROM alert_events e JOIN alert_rules r ON r.id = e.rule_id WHERE e.id = %s
"""


async def send_next(conn: AsyncConnection[Any], settings: AlertsSettings) -> bool:
    """Claim and send one due delivery; False when none is due."""
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        job = await (await cur.execute(_CLAIM)).fetchone()
        if job is None:
            return False
        event: dict[str, Any] | None = None
        if job["event_id"] is not None:
            event = await (await cur.execute(_EVENT, (job["event_id"],))).fetchone()
        if event is None:
            state = "test"
            event_fields: dict[str, Any] = {
                "rule": "test",
                "target_key": "test",
                "summary": "Test notification from Tidewatch",
            }
        else:
            state = "resolved" if job["transition"] == "resolve" else "firing"
            event_fields = event
        message = render(event_fields, state, job["config"])
        attempt = job["attempts"] + 1
        try:
            await deliver(job["kind"], job["config"], job["secret"], message, event, settings.send_timeout_s)
            error = None
        except DeliveryError as exc:
            error = str(exc)[:500]
        entry = json.dumps([{"attempt": attempt, "ok": error is None, "error": error}])
        if error is None:
            await conn.execute(
                "UPDATE alert_deliveries SET status = 'sent', attempts = %s, sent_at = now(),"
                " attempt_log = attempt_log || jsonb_set(%s::jsonb, '{0,at}', to_jsonb(now())) WHERE id = %s",
                (attempt, entry, job["id"]),
            )
            log.info("sent %s %s over %s (delivery %d)", state, job["transition"], job["channel"], job["id"])
            return True
        delay = min(settings.backoff_base_s * 2 ** (attempt - 1), settings.backoff_max_s)
        final = attempt >= settings.max_attempts
        await conn.execute(
            "UPDATE alert_deliveries SET status = %s, attempts = %s,"
            " next_attempt_at = now() + make_interval(secs => %s),"
            " attempt_log = attempt_log || jsonb_set(%s::jsonb, '{0,at}', to_jsonb(now())) WHERE id = %s",
            ("failed" if final else "pending", attempt, delay, entry, job["id"]),
        )
        log.warning("delivery %d over %s failed (attempt %d): %s", job["id"], job["channel"], attempt, error)
        return True

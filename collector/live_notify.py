"""Announce committed samples on ``tidewatch_live``, signed (see common.live_signing)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import psycopg

from common.channels import LIVE_CHANNEL
from common.live_signing import LIVE_KEY_QUERY, sign_live_payload

__all__ = ["LiveNotifier"]


class LiveNotifier:
    """Signs live payloads with the key from the database, read once on first use."""

    def __init__(self) -> None:
        self._key: bytes | None = None

    async def notify(self, cur: psycopg.AsyncCursor[Any], summaries: Iterable[dict[str, Any]]) -> None:
        """NOTIFY within the caller's transaction: delivered on commit, or not at all."""
        if self._key is None:
            row = await (await cur.execute(LIVE_KEY_QUERY)).fetchone()
            if row is None:
                raise RuntimeError("no live_notify_hmac key: run tidewatch-migrate (sql/0010)")
            self._key = bytes(row[0])
        key = self._key
        payloads = [sign_live_payload(key, json.dumps(s, separators=(",", ":")).encode()) for s in summaries]
        await cur.execute("SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p", (LIVE_CHANNEL, payloads))

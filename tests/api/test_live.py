"""The live WebSocket: authentication, subscriptions and fan-out from NOTIFY."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import AsyncTestClient

from common.api_models import LIVE_CHANNEL
from common.live_signing import LIVE_KEY_QUERY, sign_live_payload
from tests.api.conftest import SignedIn, subscribe_when_listening
from tests.factories import now_ms

pytestmark = pytest.mark.db
Client = AsyncTestClient[Litestar]


def live_key(dsn: str) -> bytes:
    """The collector's signing key, as only the services' role can read it."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(LIVE_KEY_QUERY).fetchone()
    assert row is not None
    return bytes(row[0])


def _notify(dsn: str, payload: dict[str, Any]) -> None:
    """What the collector sends after a commit: the summary, signed."""
    signed = sign_live_payload(live_key(dsn), json.dumps(payload).encode())
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_notify(%s, %s)", (LIVE_CHANNEL, signed))


# The app, and so its hub, lives for the whole session: the hub drops a sample or
# status not newer than the last one it relayed for that VPS, which an earlier
# test's VPS of the same id may have set. Each test's times start from now.


async def test_subscribers_get_only_their_vps(client: Client, db_dsn: str, viewer: SignedIn) -> None:
    ws = await client.websocket_connect("/api/live", params={"token": viewer.token})
    with ws:
        assert ws.receive_json(timeout=5) == {
            "type": "welcome",
            "username": viewer.username,
            "role": "viewer",
        }
        ack = subscribe_when_listening(ws, {"type": "subscribe", "vps_ids": [42, 7]})
        assert ack == {
            "type": "subscribed",
            "vps_ids": [7, 42],
            "all": False,
            "listening": True,
            "watching": [],
        }
        _notify(db_dsn, {"vps_id": 99, "time_ms": now_ms(), "cpu_percent": 1.0})
        sample = {
            "vps_id": 42,
            "time_ms": now_ms(),
            "cpu_percent": 12.5,
            "memory_used_bytes": 1,
            "extra": [1],
        }
        _notify(db_dsn, sample)
        assert ws.receive_json(timeout=5) == {"type": "sample", "vps_id": 42, "sample": sample}
        _notify(db_dsn, {"no": "vps id"})
        ws.send_json({"type": "ping"})
        assert ws.receive_json(timeout=5) == {"type": "pong"}


async def test_all_and_auth_by_first_message(client: Client, db_dsn: str, viewer: SignedIn) -> None:
    ws = await client.websocket_connect("/api/live")
    with ws:
        ws.send_json({"type": "auth", "token": viewer.token})
        assert ws.receive_json(timeout=5)["type"] == "welcome"
        assert subscribe_when_listening(ws, {"type": "subscribe", "all": True})["all"] is True
        _notify(db_dsn, {"vps_id": 5, "time_ms": now_ms()})
        assert ws.receive_json(timeout=5)["vps_id"] == 5
        ws.send_text("not json")
        assert ws.receive_json(timeout=5)["type"] == "error"
        ws.send_json({"type": "subscribe", "vps_ids": [0]})
        assert ws.receive_json(timeout=5)["type"] == "error"


async def test_bad_tokens_close_the_socket(client: Client) -> None:
    ws = await client.websocket_connect("/api/live", params={"token": "twu_nope"})
    with ws, pytest.raises(WebSocketDisconnect) as closed:
        assert "malformed" in ws.receive_json(timeout=5)["detail"]
        ws.receive(timeout=5)
    assert closed.value.code == 4401
    ws = await client.websocket_connect("/api/live")
    with ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.send_json({"type": "subscribe", "all": True})
        assert "auth" in ws.receive_json(timeout=5)["detail"]
        ws.receive(timeout=5)
    assert closed.value.code == 4401


async def test_status_changes_are_pushed_and_replays_dropped(
    client: Client, db_dsn: str, viewer: SignedIn
) -> None:
    ws = await client.websocket_connect("/api/live", params={"token": viewer.token})
    with ws:
        assert ws.receive_json(timeout=5)["type"] == "welcome"
        assert subscribe_when_listening(ws, {"type": "subscribe", "vps_ids": [8]})["listening"]
        t0 = now_ms()
        offline = {
            "kind": "status",
            "vps_id": 8,
            "time_ms": t0 + 5000,
            "online": False,
            "reason": "no heartbeat",
        }
        # A sample newer than the status does not make the status look like a replay.
        _notify(db_dsn, {"vps_id": 8, "time_ms": t0 + 9000, "cpu_percent": 3.0})
        assert ws.receive_json(timeout=5)["type"] == "sample"
        _notify(db_dsn, offline)
        assert ws.receive_json(timeout=5) == {
            "type": "status",
            "vps_id": 8,
            "online": False,
            "time_ms": t0 + 5000,
            "reason": "no heartbeat",
        }
        _notify(db_dsn, {**offline, "online": True, "time_ms": t0 + 4000})  # older: a replay
        _notify(db_dsn, {"kind": "status", "vps_id": 8, "time_ms": t0 + 6000})  # no "online": malformed
        _notify(db_dsn, {"kind": "mystery", "vps_id": 8, "time_ms": t0 + 7000})
        _notify(db_dsn, {**offline, "online": True, "time_ms": t0 + 6000, "reason": "agent connected"})
        assert ws.receive_json(timeout=5) == {
            "type": "status",
            "vps_id": 8,
            "online": True,
            "time_ms": t0 + 6000,
            "reason": "agent connected",
        }

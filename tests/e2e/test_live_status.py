"""Online and offline reach live views when the collector records them, not at the
next re-read: a real agent is killed, then started again, and a subscriber of the
real API's /api/live gets a ``status`` message for each change."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.e2e.live_stack import LiveStack, live_stack, open_live

pytestmark = [pytest.mark.db, pytest.mark.slow]

OFFLINE_AFTER_S = 4.0
# The offline check runs every OFFLINE_AFTER_S / 3; the rest is room for a busy machine.
PUSH_WITHIN_S = 30.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    collector_env = {
        # Heartbeats every second keep a live agent well inside the offline limit.
        "TIDEWATCH_COLLECTOR_AGENT_HEARTBEAT_INTERVAL_MS": "1000",
        "TIDEWATCH_COLLECTOR_OFFLINE_AFTER_S": str(OFFLINE_AFTER_S),
    }
    with live_stack(tmp_path_factory.mktemp("live-status"), collector_env=collector_env) as s:
        yield s


async def _next_status(ws: ClientConnection, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no status message within {timeout_s} s"
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), left))
        if message["type"] == "status":
            return message


async def _first_sample(ws: ClientConnection, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))["type"] != "sample":
        pass


async def test_offline_and_online_are_pushed(stack: LiveStack) -> None:
    vps = stack.vps.id
    ws, ack = await open_live(stack.api_urls[0], stack.token(), {"all": True})
    assert ack["listening"], stack.logs()
    try:
        await _first_sample(ws, 60)  # the agent is connected and reporting
        stack.agent.kill()
        killed = time.monotonic()
        offline = await _next_status(ws, PUSH_WITHIN_S)
        took_s = time.monotonic() - killed
        assert (offline["vps_id"], offline["online"]) == (vps, False), (offline, stack.logs())
        assert "no heartbeat" in offline["reason"]

        stack.agent.start()
        online = await _next_status(ws, PUSH_WITHIN_S)
        assert (online["vps_id"], online["online"]) == (vps, True), (online, stack.logs())
        assert online["time_ms"] > offline["time_ms"]
        print(f"offline pushed {took_s:.1f} s after the kill (limit {OFFLINE_AFTER_S} s)")
    finally:
        await ws.close()

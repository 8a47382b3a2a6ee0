"""A real stack for the live path: collector, one or two API instances, the dashboards
and one agent sampling this machine, on a fresh database.

The agent keeps its default batching (5 snapshots or 5 s), so watch mode is what makes
its samples arrive every second. Used by the live tests and by bench/live_latency.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from websockets.asyncio.client import ClientConnection, connect

from common.tokens import hash_password
from tests.conftest import Vps, create_test_database, create_vps, drop_test_database, free_port
from tests.processes import Service

__all__ = ["ADMIN", "PASSWORD", "LiveStack", "live_stack", "open_live", "samples"]

ADMIN = "admin"
PASSWORD = "live-test-password"


@dataclass
class LiveStack:
    dsn: str
    vps: Vps
    api_urls: list[str]
    dashboards_url: str
    collector: Service
    apis: list[Service]
    agent: Service

    def token(self, api: int = 0) -> str:
        response = httpx.post(
            f"{self.api_urls[api]}/api/auth/login", json={"username": ADMIN, "password": PASSWORD}, timeout=20
        )
        assert response.status_code in (200, 201), response.text
        return str(response.json()["token"])

    def logs(self) -> str:
        return "\n".join(
            f"--- {s.name} ---\n{s.log_tail(25)}" for s in (self.collector, *self.apis, self.agent)
        )


@contextmanager
def live_stack(
    tmp: Path, apis: int = 1, watch_grace_s: float = 30.0, collector_env: dict[str, str] | None = None
) -> Iterator[LiveStack]:
    dsn = create_test_database("tidewatch_live")
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES (%s, %s, 'admin')",
            (ADMIN, hash_password(PASSWORD)),
        )
    vps = create_vps(dsn, "live-local")
    grpc_port, dash_port = free_port(), free_port()
    api_ports = [free_port() for _ in range(apis)]
    base = {"TIDEWATCH_DSN": dsn}
    collector = Service(
        "collector",
        ["tidewatch-collector"],
        {
            **base,
            "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{grpc_port}",
            "TIDEWATCH_COLLECTOR_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
            "TIDEWATCH_COLLECTOR_FLUSH_INTERVAL_MS": "50",
            **(collector_env or {}),
        },
        log_name="live-collector",
    )
    api_services = [
        Service(
            f"api-{i}",
            ["tidewatch-api"],
            {
                **base,
                "TIDEWATCH_API_LISTEN": f"127.0.0.1:{port}",
                "TIDEWATCH_API_LIVE_WATCH_GRACE_S": str(watch_grace_s),
            },
            log_name=f"live-api-{i}",
        )
        for i, port in enumerate(api_ports)
    ]
    dashboards = Service(
        "dashboards",
        ["tidewatch-dashboards"],
        {
            "TIDEWATCH_DASHBOARDS_LISTEN": f"127.0.0.1:{dash_port}",
            "TIDEWATCH_DASHBOARDS_API_URL": f"http://127.0.0.1:{api_ports[0]}",
        },
        log_name="live-dashboards",
    )
    spool = tmp / "spool"
    spool.mkdir(exist_ok=True)
    (spool / "none.toml").write_text("")
    agent = Service(
        "agent",
        ["tidewatch-agent"],
        {
            "TIDEWATCH_AGENT_SERVER": f"127.0.0.1:{grpc_port}",
            "TIDEWATCH_AGENT_TOKEN": vps.token,
            "TIDEWATCH_AGENT_TLS": "false",
            "TIDEWATCH_AGENT_SPOOL_DIRECTORY": str(spool),
            "TIDEWATCH_AGENT_CONFIG": str(spool / "none.toml"),
        },
        log_name="live-agent",
    )
    services = [collector, *api_services, dashboards, agent]
    try:
        collector.start(grpc_port)
        for service, port in zip(api_services, api_ports, strict=True):
            service.start(port)
        dashboards.start(dash_port)
        agent.start()
        yield LiveStack(
            dsn,
            vps,
            [f"http://127.0.0.1:{port}" for port in api_ports],
            f"http://127.0.0.1:{dash_port}",
            collector,
            api_services,
            agent,
        )
    finally:
        for service in reversed(services):
            service.stop()
        drop_test_database(dsn)


async def open_live(
    api_url: str, token: str, subscribe: dict[str, Any], timeout_s: float = 20.0
) -> tuple[ClientConnection, dict[str, Any]]:
    """A live socket, authenticated by first message and subscribed once the hub listens."""
    ws = await connect(api_url.replace("http://", "ws://") + "/api/live", open_timeout=timeout_s)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
    assert welcome["type"] == "welcome", welcome
    deadline = time.monotonic() + timeout_s
    while True:
        await ws.send(json.dumps({"type": "subscribe", **subscribe}))
        while (ack := json.loads(await asyncio.wait_for(ws.recv(), timeout_s)))["type"] != "subscribed":
            pass
        if ack["listening"] or time.monotonic() > deadline:
            return ws, ack
        await asyncio.sleep(0.2)


async def samples(ws: ClientConnection, count: int, timeout_s: float) -> list[dict[str, Any]]:
    """The next ``count`` samples on ``ws``, each with ``received_s`` (monotonic) added."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(got)} of {count} samples within {timeout_s} s"
        message = json.loads(await asyncio.wait_for(ws.recv(), left))
        if message["type"] == "sample":
            got.append({**message["sample"], "received_s": time.monotonic()})
    return got

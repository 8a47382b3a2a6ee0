"""A real stack for command tests: two collectors, the API, agents, users of each role.

Agent A (Docker on, everything allowed) connects to collector 1; agent C (shell and Docker
switched off locally) connects to collector 2; VPS B has no agent. Helpers
create commands through the API and follow them over the command socket.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from websockets.asyncio.client import connect

from common.tokens import hash_password
from tests.conftest import Vps, create_test_database, create_vps, drop_test_database, free_port
from tests.processes import Service

PASSWORD = "commands-test-password"
FINAL = {"succeeded", "failed", "timed_out", "cancelled", "rejected", "expired"}


@dataclass
class Stack:
    dsn: str
    api_url: str
    a: Vps
    b: Vps
    c: Vps
    collectors: list[Service]
    agents: dict[str, Service]
    tokens: dict[str, str] = field(default_factory=dict)
    dashboards_url: str = ""

    def client(self, role: str = "operator") -> httpx.Client:
        if role not in self.tokens:
            response = httpx.post(
                f"{self.api_url}/api/auth/login", json={"username": role, "password": PASSWORD}, timeout=20
            )
            assert response.status_code in (200, 201), response.text
            self.tokens[role] = response.json()["token"]
        return httpx.Client(
            base_url=self.api_url, timeout=20, headers={"Authorization": f"Bearer {self.tokens[role]}"}
        )

    def command(self, vps: Vps, body: dict[str, Any], role: str = "operator") -> httpx.Response:
        with self.client(role) as client:
            return client.post(f"/api/vps/{vps.id}/commands", json=body)

    def wait_final(self, command_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        with self.client("viewer") as client:
            while True:
                record: dict[str, Any] = client.get(f"/api/commands/{command_id}").json()
                if record["status"] in FINAL:
                    return record
                assert time.monotonic() < deadline, f"command not final in {timeout_s} s: {record}"
                time.sleep(0.1)

    def wait_status(self, command_id: str, statuses: set[str], timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        with self.client("viewer") as client:
            while True:
                record: dict[str, Any] = client.get(f"/api/commands/{command_id}").json()
                if record["status"] in statuses:
                    return record
                assert time.monotonic() < deadline, f"command never reached {statuses}: {record}"
                time.sleep(0.05)

    async def follow(self, command_id: str, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        """Every message of the command socket until it closes."""
        url = self.api_url.replace("http://", "ws://") + f"/api/commands/{command_id}/stream"
        messages: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout_s), connect(url) as ws:
            await ws.send(
                json.dumps({"type": "auth", "token": self.tokens.get("viewer") or self._login("viewer")})
            )
            async for raw in ws:
                messages.append(json.loads(raw))
        return messages

    def _login(self, role: str) -> str:
        self.client(role).close()
        return self.tokens[role]

    def count_commands(self) -> int:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute("SELECT count(*) FROM commands").fetchone()
        assert row is not None
        return int(row[0])


def _agent(name: str, port: int, vps: Vps, spool: Path, extra: dict[str, str]) -> Service:
    (spool / "none.toml").write_text("")
    return Service(
        name,
        ["tidewatch-agent"],
        {
            "TIDEWATCH_AGENT_SERVER": f"127.0.0.1:{port}",
            "TIDEWATCH_AGENT_TOKEN": vps.token,
            "TIDEWATCH_AGENT_TLS": "false",
            "TIDEWATCH_AGENT_SPOOL_DIRECTORY": str(spool),
            "TIDEWATCH_AGENT_CONFIG": str(spool / "none.toml"),
            **extra,
        },
        log_name=f"commands-{name}",
    )


def start_stack(tmp: Path, *, dashboards: bool = False) -> Generator[Stack, None, None]:
    dsn = create_test_database("tidewatch_cmd")
    with psycopg.connect(dsn) as conn:
        for role in ("admin", "operator", "viewer"):
            conn.execute(
                "INSERT INTO users (username, password_hash, role) VALUES (%s, %s, %s)",
                (role, hash_password(PASSWORD), role),
            )
    a, b, c = create_vps(dsn, "cmd-a"), create_vps(dsn, "cmd-b"), create_vps(dsn, "cmd-c")
    ports = [free_port(), free_port()]
    api_port = free_port()
    collectors = [
        Service(
            f"collector{i + 1}",
            ["tidewatch-collector"],
            {
                "TIDEWATCH_DSN": dsn,
                "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{port}",
                "TIDEWATCH_COLLECTOR_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
                "TIDEWATCH_COLLECTOR_COLLECTOR_ID": f"collector-{i + 1}",
                "TIDEWATCH_COLLECTOR_FLUSH_INTERVAL_MS": "50",
                "TIDEWATCH_COLLECTOR_DOCKER_INTERVAL_MS": "1000",
                "TIDEWATCH_COLLECTOR_AGENT_HEARTBEAT_INTERVAL_MS": "1000",
                "TIDEWATCH_COLLECTOR_OFFLINE_AFTER_S": "6",
            },
            log_name=f"commands-collector{i + 1}",
        )
        for i, port in enumerate(ports)
    ]
    api = Service(
        "api",
        ["tidewatch-api"],
        {"TIDEWATCH_DSN": dsn, "TIDEWATCH_API_LISTEN": f"127.0.0.1:{api_port}"},
        log_name="commands-api",
    )
    spool_a, spool_c = tmp / "a", tmp / "c"
    spool_a.mkdir()
    spool_c.mkdir()
    agents = {
        "a": _agent("agent-a", ports[0], a, spool_a, {}),
        "c": _agent(
            "agent-c",
            ports[1],
            c,
            spool_c,
            {"TIDEWATCH_AGENT_FEATURES_SHELL": "false", "TIDEWATCH_AGENT_FEATURES_DOCKER": "false"},
        ),
    }
    services: list[Service] = [*collectors, api, *agents.values()]
    dash: Service | None = None
    dash_url = ""
    if dashboards:
        dash_port = free_port()
        dash = Service(
            "dashboards",
            ["tidewatch-dashboards"],
            {
                "TIDEWATCH_DASHBOARDS_LISTEN": f"127.0.0.1:{dash_port}",
                "TIDEWATCH_DASHBOARDS_API_URL": f"http://127.0.0.1:{api_port}",
            },
            log_name="commands-dashboards",
        )
        services.append(dash)
        dash_url = f"http://127.0.0.1:{dash_port}"
    try:
        for collector, port in zip(collectors, ports, strict=True):
            collector.start(port)
        api.start(api_port)
        if dash is not None:
            dash.start(int(dash_url.rsplit(":", 1)[1]))
        for agent in agents.values():
            agent.start()
        stack = Stack(
            dsn, f"http://127.0.0.1:{api_port}", a, b, c, collectors, agents, dashboards_url=dash_url
        )
        _wait_connected(stack, [a, c])
        yield stack
    finally:
        for service in reversed(services):
            service.stop()
        drop_test_database(dsn)


def _wait_connected(stack: Stack, vpses: list[Vps], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    with stack.client("viewer") as client:
        for vps in vpses:
            while not client.get(f"/api/vps/{vps.id}/agent").json().get("connected"):
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "agents did not connect\n" + "\n".join(a.log_tail(20) for a in stack.agents.values())
                    )
                time.sleep(0.2)

"""Command latency through the real stack: API -> database -> collector -> agent, and back.

For each of N ``echo`` commands (default 200, one after another) it measures:

- request to agent start: from just before ``POST /api/vps/{id}/commands`` is sent
  to the moment the agent's shell runs its first ``echo`` (the command prints its own
  clock: every process here shares this machine's clock);
- agent finish to client: from the command's last ``echo`` (it exits right after)
  to the moment that output reaches a client on the command socket.

The command sleeps 0.3 s between its two echoes, so the client has joined the
socket before the output it measures is written. Side by side it times a plain
local ``sh -c`` start (no network, no database) as the floor.

    .venv/bin/python -m bench.commands_latency [--count 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from tests.e2e.commands_stack import Stack, start_stack

GOAL_MS = 300.0
COMMAND = "echo start $(date +%s%N); sleep 0.3; echo end $(date +%s%N)"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _one(stack: Stack, client: httpx.AsyncClient, token: str) -> tuple[float, float]:
    sent_ns = time.time_ns()
    response = await client.post(
        f"/api/vps/{stack.a.id}/commands", json={"kind": "shell", "command": COMMAND}
    )
    response.raise_for_status()
    command_id = response.json()["id"]
    url = stack.api_url.replace("http://", "ws://") + f"/api/commands/{command_id}/stream"
    output = ""
    end_seen_ns = 0
    async with asyncio.timeout(30), connect(url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "output":
                output += message["stdout"]
                if "end " in message["stdout"] and not end_seen_ns:
                    end_seen_ns = time.time_ns()
            elif message["type"] == "end":
                assert message["command"]["status"] == "succeeded", message
    fields = dict(line.split() for line in output.splitlines())
    start_ms = (int(fields["start"]) - sent_ns) / 1e6
    finish_ms = (end_seen_ns - int(fields["end"])) / 1e6
    return start_ms, finish_ms


def _local_floor(count: int) -> list[float]:
    samples = []
    for _ in range(count):
        sent = time.time_ns()
        out = subprocess.run(["/bin/sh", "-c", "date +%s%N"], capture_output=True, text=True, check=True)
        samples.append((int(out.stdout) - sent) / 1e6)
    return samples


async def _run(stack: Stack, count: int) -> None:
    token = stack.client("operator").headers["Authorization"].split()[1]
    starts: list[float] = []
    finishes: list[float] = []
    async with httpx.AsyncClient(
        base_url=stack.api_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for _ in range(5):  # warm-up: pools, imports, first connections
            await _one(stack, client, token)
        began = time.monotonic()
        for _ in range(count):
            start_ms, finish_ms = await _one(stack, client, token)
            starts.append(start_ms)
            finishes.append(finish_ms)
        elapsed = time.monotonic() - began
    floor = _local_floor(count)
    print(f"{count} echo commands in {elapsed:.1f} s (each sleeps 0.3 s between its echoes)")
    for name, values in (
        ("API request -> agent start", starts),
        ("agent finish -> client sees output", finishes),
        ("local sh -c start (floor)", floor),
    ):
        p50, p99 = _pct(values, 0.5), _pct(values, 0.99)
        print(
            f"{name:38s} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  max {max(values):7.1f} ms"
            f"  mean {statistics.fmean(values):7.1f} ms  p99/goal {p99 / GOAL_MS:.2f}"
        )
    print(f"ratios: request->start p50 / local floor p50 = {_pct(starts, 0.5) / _pct(floor, 0.5):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stacks = start_stack(Path(tmp))
        stack = next(stacks)
        try:
            asyncio.run(_run(stack, args.count))
        finally:
            stacks.close()


if __name__ == "__main__":
    main()

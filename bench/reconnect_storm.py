"""Reconnect storm: a whole fleet handshaking with one freshly started collector at once.

    .venv/bin/python -m bench.reconnect_storm --agents 2000

After a collector restart every agent loses its stream in the same instant. Three rounds
run side by side, each against a freshly started real ``tidewatch-collector`` (its auth
cache empty, as after a restart) on one database with a VPS and token per agent:
- ``at once, first handshake``: every agent opens its stream in the same instant, each
  token checked by argon2 (no digest stored yet: new tokens, or rows from before sql/0019);
- ``at once, after a restart``: the same, now that each token's SHA-256 digest is stored
  (collector/auth.py), which is the storm a collector restart causes;
- ``spread``: each waits uniform(0, --spread) seconds first, as the agent now does after
  a stable stream drops (agent/runtime/client.py ``reconnect_delay``).
Each reports handshakes acknowledged, failed or timed out (by status), the time until
the whole fleet was connected, and handshake latency percentiles. Streams share TCP
connections (``--agents-per-channel``) as the load benchmark's generators do. A
benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import grpc

from bench.fleet import CollectorProcess, create_bench_database, drop_bench_database, insert_vps, issue_tokens
from bench.probes import percentile
from proto import agent_pb2, agent_pb2_grpc

__all__ = ["main"]

AGENT_HANDSHAKE_TIMEOUT_S = 30.0  # the agent's own (agent/runtime/client.py)


async def _one(
    channel: grpc.aio.Channel, token: str, delay_s: float, started: float, outcomes: collections.Counter[str]
) -> tuple[float, float] | None:
    """(handshake latency, seconds from the storm's start to acknowledged), or None on failure."""
    await asyncio.sleep(delay_s)
    stub = agent_pb2_grpc.AgentCommunicationServiceStub(channel)  # type: ignore[no-untyped-call]
    call = stub.EstablishCommunicationStream(metadata=(("authorization", f"Bearer {token}"),))
    began = time.monotonic()
    hello = agent_pb2.AgentHandshake(agent_version="bench", sequence_epoch=1)
    hello.host.hostname = "storm"
    stage = "on write"  # grpc.aio reports a call that core ended under a write as INTERNAL
    try:
        await call.write(agent_pb2.MessageToServer(agent_handshake=hello))
        stage = "awaiting the ack"
        reply = await asyncio.wait_for(call.read(), AGENT_HANDSHAKE_TIMEOUT_S)
    except TimeoutError:
        outcomes["agent timeout (no ack in 30 s)"] += 1
        call.cancel()
        return None
    except grpc.aio.AioRpcError as exc:
        outcomes[f"{exc.code().name}: {exc.details()} ({stage})"] += 1
        return None
    if reply is grpc.aio.EOF or not reply.HasField("server_handshake_ack"):
        status = await call.code()
        outcomes[f"{status.name}: {await call.details()}"] += 1
        return None
    outcomes["acknowledged"] += 1
    done = time.monotonic()
    call.cancel()  # the agent would keep it; the next round needs the VPS free again
    return done - began, done - started


async def _round(target: str, tokens: list[str], spread_s: float, per_channel: int) -> dict[str, object]:
    channels = [
        grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(-(-len(tokens) // per_channel))
    ]
    outcomes: collections.Counter[str] = collections.Counter()
    started = time.monotonic()
    results = await asyncio.gather(
        *(
            _one(channels[i // per_channel], token, random.uniform(0.0, spread_s), started, outcomes)
            for i, token in enumerate(tokens)
        )
    )
    for channel in channels:
        await channel.close()
    ok = [r for r in results if r is not None]
    latencies = [r[0] for r in ok]
    return {
        "acknowledged": len(ok),
        "failed": len(tokens) - len(ok),
        "outcomes": dict(outcomes),
        "all_connected_s": round(max(r[1] for r in ok), 2) if len(ok) == len(tokens) else None,
        "handshake_p50_s": round(percentile(latencies, 0.5), 3),
        "handshake_p99_s": round(percentile(latencies, 0.99), 3),
        "handshake_max_s": round(max(latencies, default=float("nan")), 3),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.reconnect_storm", description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", type=int, default=2000)
    p.add_argument("--spread", type=float, default=5.0, help="seconds the agents' first retry is spread over")
    p.add_argument("--agents-per-channel", type=int, default=10)
    args = p.parse_args(argv)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start", flush=True)
    print(f"issuing {args.agents} agent tokens (argon2)…", flush=True)
    tokens = issue_tokens(args.agents)
    dsn = create_bench_database()
    log_dir = Path(tempfile.mkdtemp(prefix="tidewatch-storm-"))
    try:
        insert_vps(dsn, tokens)
        rounds = (
            ("at once, first handshake of each token (argon2)", 0.0),
            ("at once, after a restart (stored token digests)", 0.0),
            (f"spread over {args.spread:g} s, after a restart", args.spread),
        )
        for number, (name, spread) in enumerate(rounds, 1):
            # A fresh collector each round: as after a restart, its auth cache starts empty.
            collector = CollectorProcess(dsn, log_dir / f"collector-round{number}.log", {})
            try:
                collector.wait_ready()
                figures = asyncio.run(
                    _round(collector.target, [t.token for t in tokens], spread, args.agents_per_channel)
                )
            finally:
                collector.stop()
            print(f"\n=== {args.agents} agents reconnecting {name} ===")
            print(f"{'load average':<18} {' '.join(f'{x:.2f}' for x in os.getloadavg())} (after the round)")
            for key, value in figures.items():
                print(f"{key:<18} {value}")
    finally:
        drop_bench_database(dsn)
    print(f"\ncollector logs in {log_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

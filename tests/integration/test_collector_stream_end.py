"""How a stream ends when the agent breaks the protocol: always a precise status, promptly.

Garbage right after the handshake raced the handshake ack's write (the abort asked
for initial metadata a second time and the status never left); a message cut short
by END_STREAM looked like a silent agent and timed out as DEADLINE_EXCEEDED.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator

import grpc
import pytest

from collector.app import CollectorApp
from tests.conftest import Vps, collector_settings, create_vps
from tests.integration.test_collector_fuzz import raw_call
from tests.raw_h2 import grpc_frame, raw_agent_call
from tests.stream_client import final_status, handshake

pytestmark = pytest.mark.db

PROMPT_S = 5.0  # the stream's own deadline is 15 s: a hang shows as DEADLINE_EXCEEDED
REPEATS = 30


@pytest.fixture(scope="module")
async def stream_end_collector(db_dsn: str) -> AsyncIterator[CollectorApp]:
    app = CollectorApp(collector_settings(), db_dsn)
    await app.start()
    yield app
    await app.stop(2.0)


@pytest.fixture(scope="module")
def agent_vps(db_dsn: str) -> Vps:
    return create_vps(db_dsn)


async def _garbage_right_after_handshake(port: int, token: str) -> tuple[grpc.StatusCode, float]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = raw_call(channel, token)
        started = time.monotonic()
        await call.write(handshake().SerializeToString())
        # No wait for the ack: the race is with its write.
        with contextlib.suppress(grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError):
            await call.write(b"\xff\xff\xff")
        try:
            while await call.read() is not grpc.aio.EOF:
                pass
        except grpc.aio.AioRpcError:
            pass
        code, _ = await final_status(call)
        return code, time.monotonic() - started


async def test_garbage_right_after_the_handshake_always_gets_invalid_argument_promptly(
    stream_end_collector: CollectorApp, agent_vps: Vps
) -> None:
    outcomes: Counter[grpc.StatusCode] = Counter()
    slowest = 0.0
    for _ in range(REPEATS):
        code, seconds = await _garbage_right_after_handshake(stream_end_collector.port, agent_vps.token)
        outcomes[code] += 1
        slowest = max(slowest, seconds)
    assert outcomes == Counter({grpc.StatusCode.INVALID_ARGUMENT: REPEATS}), outcomes
    assert slowest < PROMPT_S, f"slowest answer took {slowest:.1f} s"


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("handshake-cut-short", [grpc_frame(handshake().SerializeToString())[:20]]),
        ("prefix-only", [b"\x00\x00\x00\x01\x00"]),
        (
            "cut-short-after-handshake",
            [grpc_frame(handshake().SerializeToString()), grpc_frame(b"\x12\x05abcde")[:7]],
        ),
    ],
)
async def test_a_message_cut_short_by_end_stream_is_invalid_argument(
    stream_end_collector: CollectorApp, agent_vps: Vps, name: str, body: list[bytes]
) -> None:
    answer = await asyncio.to_thread(raw_agent_call, stream_end_collector.port, agent_vps.token, body)
    assert answer.status == grpc.StatusCode.INVALID_ARGUMENT.value[0], answer
    assert "the request stream ended" in answer.message, answer
    assert answer.seconds < PROMPT_S, answer
    if name == "cut-short-after-handshake":
        assert answer.data_frames >= 1  # the handshake ack came first: the stream was established


async def test_a_clean_stream_is_not_affected(stream_end_collector: CollectorApp, db_dsn: str) -> None:
    """Control: a fresh agent still connects and is acknowledged after all of the above."""
    vps = create_vps(db_dsn)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stream_end_collector.port}") as channel:
        call = raw_call(channel, vps.token)
        await call.write(handshake().SerializeToString())
        first = await asyncio.wait_for(call.read(), PROMPT_S)
        assert first is not grpc.aio.EOF and first.WhichOneof("payload") == "server_handshake_ack"
        call.cancel()

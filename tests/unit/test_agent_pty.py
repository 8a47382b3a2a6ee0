"""PTY sessions on real pseudo-terminals: output, input, resize, exit, refusals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from agent.config import FeatureSettings
from agent.pty import PtyManager
from proto import agent_pb2


class Screen:
    def __init__(self) -> None:
        self.messages: list[agent_pb2.PtyDataToServer] = []

    def __call__(self, message: agent_pb2.PtyDataToServer) -> None:
        self.messages.append(message)

    def output(self, sid: str) -> bytes:
        return b"".join(m.output for m in self.messages if m.session_id == sid)

    def closed(self, sid: str) -> list[agent_pb2.PtyDataToServer]:
        return [m for m in self.messages if m.session_id == sid and m.closed]


async def until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _open(sid: str, rows: int = 24, cols: int = 80) -> agent_pb2.PtyDataToAgent:
    return agent_pb2.PtyDataToAgent(
        session_id=sid, open=agent_pb2.PtyOpen(rows=rows, cols=cols, shell="/bin/sh")
    )


def _input(sid: str, text: str) -> agent_pb2.PtyDataToAgent:
    return agent_pb2.PtyDataToAgent(session_id=sid, input=text.encode())


async def test_shell_session_round_trip_with_resize_and_exit() -> None:
    screen = Screen()
    manager = PtyManager(features=FeatureSettings, emit=screen)
    manager.handle(_open("s1", rows=30, cols=90))
    manager.handle(_input("s1", "echo calc=$((6*7)); stty size\n"))
    await until(lambda: b"calc=42" in screen.output("s1") and b"30 90" in screen.output("s1"))
    resize = agent_pb2.PtyResize(rows=40, cols=100)
    manager.handle(agent_pb2.PtyDataToAgent(session_id="s1", resize=resize))
    # A controlling terminal: job control works and the size follows the resize.
    manager.handle(_input("s1", "stty size; ps -o tty= -p $$ || tty\n"))
    # ps (or tty) answers after stty: wait for its line too, a busy machine may take a while.
    await until(lambda: b"40 100" in screen.output("s1") and b"pts" in screen.output("s1"))
    manager.handle(_input("s1", "exit 3\n"))
    await until(lambda: bool(screen.closed("s1")))
    assert screen.closed("s1")[0].exit_code == 3
    manager.handle(_input("s1", "echo too late\n"))
    assert screen.closed("s1")[-1].error_message == "no open pty session 's1'"


async def test_close_kills_the_shell_and_its_children() -> None:
    screen = Screen()
    manager = PtyManager(features=FeatureSettings, emit=screen)
    manager.handle(_open("s2"))
    manager.handle(_input("s2", "sleep 300\n"))
    await asyncio.sleep(0.3)
    manager.handle(agent_pb2.PtyDataToAgent(session_id="s2", close=True))
    await until(lambda: bool(screen.closed("s2")))
    assert len(screen.closed("s2")) == 1
    manager.handle(_open("s3"))
    await asyncio.sleep(0.2)
    await manager.shutdown()
    assert screen.closed("s3")[0].error_message == "agent stopping"


async def test_refusals() -> None:
    screen = Screen()
    off = FeatureSettings(pty=False)
    PtyManager(features=lambda: off, emit=screen).handle(_open("no"))
    assert screen.closed("no")[0].error_message == "disabled on this agent: pty"
    manager = PtyManager(features=FeatureSettings, emit=screen, max_sessions=1)
    bad_shell = agent_pb2.PtyOpen(shell="/no/such/shell")
    manager.handle(agent_pb2.PtyDataToAgent(session_id="bad", open=bad_shell))
    await until(lambda: bool(screen.closed("bad")))
    assert "not an executable" in screen.closed("bad")[0].error_message
    manager.handle(_open("one"))
    await asyncio.sleep(0.2)
    manager.handle(_open("two"))
    await until(lambda: bool(screen.closed("two")))
    assert "too many pty sessions" in screen.closed("two")[0].error_message
    manager.close_all()
    await until(lambda: bool(screen.closed("one")))

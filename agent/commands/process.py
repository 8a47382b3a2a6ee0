"""Running a child process with streamed output, a timeout and a killable process group."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence

from agent.commands.stream import FLUSH_INTERVAL_S, Outcome, ResponseStream, Status

__all__ = ["child_environment", "run_process"]

log = logging.getLogger(__name__)

# After SIGTERM to the group, how long before SIGKILL.
KILL_GRACE_S = 2.0
# After the main process exits, how long to wait for children holding its pipes.
PIPE_DRAIN_S = 1.0
_READ_SIZE = 64 * 1024


def child_environment() -> dict[str, str]:
    """The agent's environment without its own secrets (the token may be in it)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TIDEWATCH_")}


async def _pump(reader: asyncio.StreamReader, stream: ResponseStream, *, is_stdout: bool) -> None:
    while data := await reader.read(_READ_SIZE):
        if is_stdout:
            stream.add(stdout=data)
        else:
            stream.add(stderr=data)


async def _tick(stream: ResponseStream) -> None:
    while True:
        await asyncio.sleep(FLUSH_INTERVAL_S)
        stream.flush()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is left."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), KILL_GRACE_S)
    # Children may survive their parent's exit; the group goes either way.
    _signal_group(process.pid, signal.SIGKILL)
    await process.wait()
    await _group_gone(process.pid, KILL_GRACE_S)


async def _group_gone(pgid: int, limit_s: float) -> None:
    """Wait (at most ``limit_s``) until no process of the group is left: a SIGKILLed child
    exits when next scheduled, and "cancelled" is reported only after it has."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while asyncio.get_running_loop().time() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        await asyncio.sleep(0.01)
    log.warning("process group %d still has processes %.0f s after SIGKILL", pgid, limit_s)


def _exit_outcome(returncode: int) -> Outcome:
    # A signal death reads like a shell's: 128 + signal number.
    exit_code = 128 - returncode if returncode < 0 else returncode
    status = Status.COMMAND_STATUS_SUCCEEDED if exit_code == 0 else Status.COMMAND_STATUS_FAILED
    return Outcome(status, exit_code=exit_code)


async def run_process(
    argv: Sequence[str],
    stream: ResponseStream,
    timeout_s: float,
    *,
    cwd: str = "/",
    env: dict[str, str] | None = None,
) -> Outcome:
    """Run ``argv`` in a new session, streaming its output into ``stream``.

    On timeout the process group is killed and TIMED_OUT returned. On task
    cancellation the group is killed and the cancellation propagates.
    """
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env={**child_environment(), **(env or {})},
            start_new_session=True,  # own process group, so cancel reaches grandchildren
        )
    except OSError as exc:
        return Outcome(
            Status.COMMAND_STATUS_FAILED,
            exit_code=127,
            error_message=f"cannot run {argv[0]}: {exc.strerror or exc}",
        )
    assert process.stdout is not None and process.stderr is not None
    pumps = [
        asyncio.create_task(_pump(process.stdout, stream, is_stdout=True)),
        asyncio.create_task(_pump(process.stderr, stream, is_stdout=False)),
    ]
    ticker = asyncio.create_task(_tick(stream))
    try:
        try:
            await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            await asyncio.shield(_kill_group(process))
            await asyncio.wait(pumps, timeout=PIPE_DRAIN_S)  # keep the output up to the kill
            return Outcome(
                Status.COMMAND_STATUS_TIMED_OUT,
                exit_code=_exit_outcome(process.returncode or 0).exit_code,
                error_message=f"timed out after {timeout_s:g} s; process group killed",
            )
        except asyncio.CancelledError:
            await asyncio.shield(_kill_group(process))
            raise
        # Background children may keep the pipes open; do not wait for them forever.
        await asyncio.wait(pumps, timeout=PIPE_DRAIN_S)
        return _exit_outcome(process.returncode or 0)
    finally:
        ticker.cancel()
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(ticker, *pumps, return_exceptions=True)

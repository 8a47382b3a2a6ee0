"""Interactive terminal sessions (web shell) over the agent stream."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import struct
import termios
from collections.abc import Callable, Coroutine
from typing import Any

from agent.commands.process import child_environment
from agent.config import FeatureSettings
from proto import agent_pb2

__all__ = ["PtyManager"]

log = logging.getLogger(__name__)

MAX_SESSIONS = 4
_READ_SIZE = 64 * 1024
# Makes the shell the session leader of the pty: after setsid, the first
# terminal a session leader opens becomes its controlling terminal. This avoids
# running Python between fork and exec in a threaded (gRPC) process.
_ATTACH = 'exec "$0" -i <"$1" >"$1" 2>&1'


def _default_shell() -> str:
    return shutil.which("bash") or "/bin/sh"


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows or 24, cols or 80, 0, 0))


class _Session:
    def __init__(
        self,
        session_id: str,
        master: int,
        process: asyncio.subprocess.Process,
        emit: Callable[[agent_pb2.PtyDataToServer], None],
        on_closed: Callable[[str], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self.session_id = session_id
        self.master = master
        self.process = process
        self._emit = emit
        self._on_closed = on_closed
        self._spawn = spawn
        self._unwritten = bytearray()
        self.closed = False
        asyncio.get_running_loop().add_reader(master, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: the shell and everything on the pty are gone
            data = b""
        if data:
            self._emit(agent_pb2.PtyDataToServer(session_id=self.session_id, output=data))
        else:
            self._spawn(self.close())

    def write(self, data: bytes) -> None:
        self._unwritten.extend(data)
        self._flush()

    def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            written = os.write(self.master, self._unwritten) if self._unwritten else 0
        except BlockingIOError:
            written = 0
        except OSError:
            return
        del self._unwritten[:written]
        if self._unwritten:
            loop.add_writer(self.master, self._flush)
        else:
            loop.remove_writer(self.master)

    def resize(self, rows: int, cols: int) -> None:
        _set_size(self.master, rows, cols)  # the kernel sends SIGWINCH to the shell

    async def close(self, error_message: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        self._on_closed(self.session_id)
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.master)
        loop.remove_writer(self.master)
        for sig in (signal.SIGHUP, signal.SIGKILL):
            if self.process.returncode is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 1.0)
        os.close(self.master)
        exit_code = self.process.returncode or 0
        self._emit(
            agent_pb2.PtyDataToServer(
                session_id=self.session_id,
                closed=True,
                exit_code=128 - exit_code if exit_code < 0 else exit_code,
                error_message=error_message,
            )
        )
        log.info("pty session %s closed (exit %s)", self.session_id, exit_code)


class PtyManager:
    """Opens, feeds, resizes and closes terminal sessions as the server asks."""

    def __init__(
        self,
        *,
        features: Callable[[], FeatureSettings],
        emit: Callable[[agent_pb2.PtyDataToServer], None],
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self._features = features
        self._emit = emit
        self._max_sessions = max_sessions
        self._sessions: dict[str, _Session] = {}
        # Messages that arrive while their session's shell is still starting.
        self._opening: dict[str, list[agent_pb2.PtyDataToAgent]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        # The loop keeps only weak references to tasks: hold them until done.
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refuse(self, session_id: str, message: str) -> None:
        log.warning("pty session %s refused: %s", session_id, message)
        self._emit(agent_pb2.PtyDataToServer(session_id=session_id, closed=True, error_message=message))

    def handle(self, message: agent_pb2.PtyDataToAgent) -> None:
        """Act on one PtyDataToAgent; never raises."""
        sid = message.session_id
        event = message.WhichOneof("event")
        if sid in self._opening and event != "open":
            self._opening[sid].append(message)
            return
        session = self._sessions.get(sid)
        if not self._features().pty:
            # The server may switch pty off live: open sessions end too.
            if session is not None:
                self._close(session, "disabled on this agent: pty")
            else:
                self._refuse(sid, "disabled on this agent: pty")
            return
        if event == "open":
            if not sid or sid in self._sessions or sid in self._opening:
                self._refuse(sid, "pty session id is empty or already open")
            elif len(self._sessions) + len(self._opening) >= self._max_sessions:
                self._refuse(sid, f"too many pty sessions (max {self._max_sessions})")
            else:
                self._opening[sid] = []
                self._spawn(self._open(sid, message.open))
        elif session is None:
            self._refuse(sid, f"no open pty session {sid!r}")
        elif event == "input":
            session.write(message.input)
        elif event == "resize":
            session.resize(message.resize.rows, message.resize.cols)
        elif event == "close":
            self._close(session, "")
        else:
            self._refuse(sid, "malformed pty message: no event set")

    def _close(self, session: _Session, error_message: str) -> None:
        self._spawn(session.close(error_message))

    def _forget(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def _open(self, sid: str, request: agent_pb2.PtyOpen) -> None:
        try:
            await self._start(sid, request)
        finally:
            for queued in self._opening.pop(sid, []):
                self.handle(queued)

    async def _start(self, sid: str, request: agent_pb2.PtyOpen) -> None:
        shell = request.shell or _default_shell()
        resolved = shell if os.path.isabs(shell) else shutil.which(shell)
        if resolved is None or not os.access(resolved, os.X_OK):
            self._refuse(sid, f"shell {shell!r} is not an executable on this agent")
            return
        master, slave = os.openpty()
        try:
            _set_size(slave, request.rows, request.cols)
            env = {**child_environment(), "TERM": "xterm-256color"}
            process = await asyncio.create_subprocess_exec(
                "/bin/sh", "-c", _ATTACH, resolved, os.ttyname(slave),
                stdin=slave, stdout=slave, stderr=slave,
                env=env, cwd="/", start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            os.close(master)
            self._refuse(sid, f"cannot start {resolved}: {exc.strerror or exc}")
            return
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._sessions[sid] = _Session(sid, master, process, self._emit, self._forget, self._spawn)
        log.info("pty session %s opened: %s", sid, resolved)

    def close_all(self) -> None:
        """End every session (the stream that carried them is gone)."""
        for session in list(self._sessions.values()):
            self._close(session, "agent stream ended")

    async def shutdown(self) -> None:
        """End every session and wait until their shells are gone."""
        sessions = list(self._sessions.values())
        await asyncio.gather(*(s.close("agent stopping") for s in sessions))

"""Start Tidewatch's real entry points as subprocesses for end-to-end and fault tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ARTIFACTS

__all__ = ["Service", "wait_for_port"]

BIN = Path(sys.executable).parent


def wait_for_port(port: int, timeout_s: float = 30.0, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"process died before listening on port {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout_s} s")


class Service:
    """One ``tidewatch-*`` process with its log under artifacts/logs/."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], log_name: str | None = None
    ) -> None:
        self.name = name
        self.command = [str(BIN / command[0]), *command[1:]]
        self.env = {**os.environ, **env}
        self.log_path = ARTIFACTS / "logs" / f"{log_name or name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, port: int | None = None, timeout_s: float = 30.0) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        log.write(f"\n===== {time.strftime('%H:%M:%S')} start {' '.join(self.command)}\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if port is not None:
            try:
                wait_for_port(port, timeout_s, alive=self.alive)
            except Exception as exc:
                raise RuntimeError(
                    f"{self.name} did not start: {exc}\n--- log ---\n{self.log_tail()}"
                ) from exc
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """kill -9: no chance to flush or say goodbye."""
        if self.process is not None and self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM, wait, then SIGKILL. Returns the exit code."""
        if self.process is None:
            return None
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

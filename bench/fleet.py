"""The benchmark's fixtures: bench databases, VPS rows with tokens, the collector subprocess."""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench.probes import scrape_metrics
from common.settings import resolve_dsn
from common.tokens import AGENT_TOKEN_PREFIX, IssuedToken, issue_token
from tests.conftest import create_test_database, drop_test_database, free_port

__all__ = [
    "CollectorProcess",
    "create_bench_database",
    "drop_bench_database",
    "insert_vps",
    "issue_tokens",
    "local_server_dsn",
]

log = logging.getLogger("tidewatch.bench.fleet")

DB_PREFIX = "tidewatch_bench"
COLLECTOR = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "tidewatch-collector"
_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


def local_server_dsn() -> str:
    """The development database's DSN; refuses anything but this machine."""
    dsn = resolve_dsn()
    host = str(conninfo_to_dict(dsn).get("host", ""))
    if host not in _LOCAL_HOSTS and not host.startswith("/"):
        raise SystemExit(f"the benchmark only targets this machine, and the DSN points at {host!r}")
    return dsn


def create_bench_database(attempts: int = 60) -> str:
    """A fresh migrated database (``tests.conftest``), retried while tests hold the template."""
    local_server_dsn()
    for attempt in range(attempts):
        try:
            return create_test_database(DB_PREFIX)
        except psycopg.errors.ObjectInUse:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


def drop_bench_database(dsn: str, attempts: int = 30) -> None:
    """Drop it; never raise, so a cleanup hiccup cannot hide the figures or the first error.

    A superuser-owned worker (autovacuum, TimescaleDB's scheduler) busy in the
    database makes ``DROP ... WITH (FORCE)`` fail for a moment: retry.
    """
    name = conninfo_to_dict(dsn)["dbname"]
    for attempt in range(attempts):
        try:
            drop_test_database(dsn)
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse) as exc:
            if attempt == attempts - 1:
                log.warning("could not drop bench database %s (drop it by hand): %s", name, exc)
                return
            time.sleep(1.0)
        except psycopg.Error as exc:
            log.warning("could not drop bench database %s (drop it by hand): %s", name, exc)
            return


def _issue(count: int) -> list[IssuedToken]:
    return [issue_token(AGENT_TOKEN_PREFIX) for _ in range(count)]


def issue_tokens(count: int, workers: int = 2) -> list[IssuedToken]:
    """``count`` agent tokens; argon2 hashing (~4 ms each) runs on ``workers`` processes."""
    chunk = max(1, -(-count // (workers * 4)))
    sizes = [min(chunk, count - start) for start in range(0, count, chunk)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [token for part in pool.map(_issue, sizes) for token in part]


def insert_vps(dsn: str, tokens: list[IssuedToken]) -> list[int]:
    """One VPS row per token; returns their ids in token order."""
    with psycopg.connect(dsn) as conn:
        with conn.cursor().copy(
            "COPY vps (name, ip_address, agent_key_id, agent_token_hash) FROM STDIN"
        ) as copy:
            for i, token in enumerate(tokens):
                copy.write_row((f"bench-{i:05d}", "127.0.0.1", token.key_id, token.token_hash))
        ids: dict[str, int] = dict(conn.execute("SELECT agent_key_id, id FROM vps").fetchall())
    return [int(ids[t.key_id]) for t in tokens]


class CollectorProcess:
    """``tidewatch-collector`` as a subprocess on free loopback ports.

    Given ``port``, it listens on that one instead, beside other collectors: the
    server sets ``grpc.so_reuseport``, so the kernel spreads new connections among them.
    """

    def __init__(
        self, dsn: str, log_path: Path, extra_env: dict[str, str], port: int | None = None, index: int = 0
    ) -> None:
        self.port = port if port is not None else free_port()
        self.metrics_port = free_port()
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEWATCH_COLLECTOR_")}
        env.update(
            {
                "TIDEWATCH_DSN": dsn,
                "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{self.port}",
                "TIDEWATCH_COLLECTOR_METRICS_LISTEN": f"127.0.0.1:{self.metrics_port}",
                "TIDEWATCH_COLLECTOR_COLLECTOR_ID": f"bench-{os.getpid()}-{index}",
                # The simulated fleet connects from 127.0.0.1 alone; a real one from an IP
                # per VPS. Without these the per-IP limits refuse most of its handshakes
                # and close its connections before their streams are established.
                "TIDEWATCH_COLLECTOR_UNESTABLISHED_STREAMS_PER_IP": "1000000",
                "TIDEWATCH_COLLECTOR_UNAUTHENTICATED_CONNECTIONS_PER_IP": "1000000",
            }
        )
        env.update(extra_env)
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(COLLECTOR)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the bench, which stops us in order
        )

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the collector exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                scrape_metrics(self.metrics_port, timeout_s=1.0)
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the collector did not start within {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM (the collector drains its queue), then SIGKILL if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("collector %d ignored SIGTERM for %.0f s; killing it", self.proc.pid, timeout_s)
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

"""A private PostgreSQL + TimescaleDB cluster that fault tests may stop and start.

Fault tests take the database away under load. Doing that to the shared local
cluster (scripts/local-db.sh) would break every other test and service using it
at the same moment, so they get a throwaway cluster of their own: the same
binaries in the same Debian root, a fresh data directory and its own port.
Stopping and starting it is ``pg_ctl`` inside that root, exactly as local-db.sh
does for the shared one; freezing it is SIGSTOP to every one of its processes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from common.migrate import apply_migrations

__all__ = ["PrivatePostgres", "private_postgres_unavailable"]

ROOT = Path(os.environ.get("TIDEWATCH_CACHE", "/var/cache/tidewatch")) / "trixie-root"
PGBIN = "/usr/lib/postgresql/17/bin"


def private_postgres_unavailable() -> str | None:
    """Why a private cluster cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root to chroot into the local TimescaleDB root"
    if not (ROOT / ".tidewatch-complete").exists() or not (ROOT / PGBIN.lstrip("/") / "pg_ctl").exists():
        return f"no local TimescaleDB root at {ROOT} (run scripts/local-db.sh once)"
    return None


class PrivatePostgres:
    """One throwaway cluster: ``create()``, then ``stop()``/``start()`` at will, ``destroy()`` at the end."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.data_dir = f"/var/lib/tidewatch/fault-{secrets.token_hex(4)}"
        self._password = secrets.token_urlsafe(18)
        self.dsn = f"postgresql://tidewatch:{self._password}@127.0.0.1:{port}/tidewatch"

    @property
    def admin_dsn(self) -> str:
        """The ``postgres`` superuser, on the ``tidewatch`` database."""
        return make_conninfo(self.dsn, user="postgres")

    @property
    def log_file(self) -> Path:
        return ROOT / self.data_dir.lstrip("/") / "server.log"

    def _as_postgres(self, command: str, timeout_s: float = 90.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["chroot", str(ROOT), "su", "postgres", "-s", "/bin/sh", "-c", command],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def _pg_ctl(self, args: str) -> None:
        result = self._as_postgres(f"{PGBIN}/pg_ctl -D {self.data_dir} {args}")
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl {args} failed: {result.stdout}{result.stderr}")

    def create(self) -> None:
        """initdb, start, and make a migrated ``tidewatch`` database owned by a non-superuser."""
        host_dir = ROOT / self.data_dir.lstrip("/")
        host_dir.mkdir(parents=True)
        subprocess.run(["chroot", str(ROOT), "chown", "postgres:postgres", self.data_dir], check=True)
        pwfile = f"{self.data_dir}.pw"
        (ROOT / pwfile.lstrip("/")).write_text(self._password + "\n")
        try:
            subprocess.run(["chroot", str(ROOT), "chown", "postgres", pwfile], check=True)
            result = self._as_postgres(
                f"{PGBIN}/initdb -D {self.data_dir} -U postgres --auth-local=trust"
                f" --auth-host=scram-sha-256 --pwfile={pwfile} -E UTF8 --locale=C.UTF-8 --no-sync"
            )
            if result.returncode != 0:
                raise RuntimeError(f"initdb failed: {result.stdout}{result.stderr}")
        finally:
            (ROOT / pwfile.lstrip("/")).unlink(missing_ok=True)
        with (host_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                "shared_preload_libraries = 'timescaledb'\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                "unix_socket_directories = '/tmp'\n"
                "max_connections = 100\n"
                "shared_buffers = 64MB\n"
                "timescaledb.telemetry_level = off\n"
            )
        self.start()
        admin = make_conninfo(self.dsn, user="postgres", dbname="postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE tidewatch LOGIN CREATEROLE PASSWORD '{self._password}'")
            conn.execute("CREATE DATABASE tidewatch OWNER tidewatch")
        with psycopg.connect(make_conninfo(admin, dbname="tidewatch"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        apply_migrations(self.dsn)

    def start(self) -> None:
        self._pg_ctl(f"-l {self.data_dir}/server.log -w -t 60 start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl(f"-m {mode} -w -t 60 stop")

    def is_running(self) -> bool:
        return self._as_postgres(f"{PGBIN}/pg_ctl -D {self.data_dir} status").returncode == 0

    def ensure_running(self) -> None:
        if not self.is_running():
            self.start()

    @contextlib.contextmanager
    def stopped(self, mode: str = "fast") -> Iterator[None]:
        """Stop the cluster for the body of the block; it is started again whatever happens."""
        self.stop(mode)
        try:
            yield
        finally:
            self.ensure_running()

    def _postmaster_pid(self) -> int:
        pid_file = ROOT / self.data_dir.lstrip("/") / "postmaster.pid"
        return int(pid_file.read_text().split()[0])

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """SIGSTOP the postmaster and all its children for the block; SIGCONT them whatever happens.

        Connections stay open and the listening socket still completes TCP
        handshakes (the kernel does that), but nothing answers: a hung server.
        """
        postmaster = self._postmaster_pid()
        stopped: list[int] = []
        try:
            os.kill(postmaster, signal.SIGSTOP)
            stopped.append(postmaster)
            # A stopped postmaster forks no more; a second look catches a fork in flight.
            for _ in range(2):
                for pid in _children(postmaster) - set(stopped):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGSTOP)
                        stopped.append(pid)
                time.sleep(0.05)
            yield
        finally:
            for pid in stopped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def destroy(self) -> None:
        if self.is_running():
            self.stop("immediate")
        shutil.rmtree(ROOT / self.data_dir.lstrip("/"), ignore_errors=True)


def _children(parent: int) -> set[int]:
    """Process ids whose parent is ``parent``, from /proc."""
    children = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # "pid (comm) state ppid …"; comm may hold spaces and parentheses.
        if int(stat.rpartition(")")[2].split()[1]) == parent:
            children.add(int(entry.name))
    return children

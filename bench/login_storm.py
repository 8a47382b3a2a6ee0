"""Bad logins must not stall the API (issue 10, item 9).

Starts ``tidewatch-api`` on a scratch database and measures an authenticated
``GET /api/vps/{id}`` one request at a time, in three phases side by side:

- idle: nothing else happens;
- storm, one address: 32 threads send wrong passwords from 127.0.0.1 (the
  login throttle answers most with 429);
- storm, many addresses: 32 threads send wrong passwords, each request from
  another loopback address, so no per-address bucket ever empties and every
  attempt costs an argon2 verify: this measures the bounded hashing pool.

Prints p50/p99 per phase and the ratio of each storm's p99 to idle's. The
target is a ratio of at most 2. Attackers run in another process, so their
threads do not share the measuring thread's GIL. On a small machine their own
client work competes with the server for CPU, which a remote attacker's would
not: the last two phases repeat the storms with the attackers at nice 10, to
show the server's share alone.

    .venv/bin/python -m bench.login_storm [--phase-s 15]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import MutableMapping
from pathlib import Path

import httpx
import psycopg

from bench.probes import percentile
from common.tokens import hash_password
from tests.conftest import create_test_database, drop_test_database, free_port

ATTACK_THREADS = 32
PASSWORD = "bench password 1"


def _attack(
    base_url: str, many_addresses: bool, niceness: int, stop_at: float, counts: MutableMapping[str, int]
) -> None:
    """32 threads of wrong passwords until ``stop_at`` (runs in its own process)."""
    os.nice(niceness)
    tally: Counter[str] = Counter()
    lock = threading.Lock()
    addresses = itertools.count()

    def worker(index: int) -> None:
        local: Counter[str] = Counter()
        client = httpx.Client(base_url=base_url, timeout=30)
        while time.monotonic() < stop_at:
            if many_addresses:
                with lock:
                    n = next(addresses)
                client.close()
                # A fresh source address (127.0.0.0/8 is all loopback) defeats per-address limits.
                address = f"127.{1 + n // 65025 % 250}.{n // 255 % 255}.{1 + n % 254}"
                client = httpx.Client(
                    base_url=base_url, timeout=30, transport=httpx.HTTPTransport(local_address=address)
                )
            try:
                response = client.post(
                    "/api/auth/login", json={"username": f"admin{index % 4}", "password": "not the password"}
                )
                local[str(response.status_code)] += 1
            except httpx.HTTPError as exc:
                local[type(exc).__name__] += 1
        client.close()
        with lock:
            tally.update(local)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(ATTACK_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts.update(tally)


def _measure(client: httpx.Client, path: str, token: str, seconds: float) -> tuple[list[float], Counter[str]]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        latencies.append(time.perf_counter() - started)
        statuses[str(response.status_code)] += 1
        health = client.get("/api/health")
        statuses[f"health {health.status_code}"] += 1
    return latencies, statuses


def _wait_ready(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("tidewatch-api exited during start")
        try:
            if client.get("/api/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("tidewatch-api did not become healthy within 60 s")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phase-s", type=float, default=15.0, help="seconds per phase")
    args = parser.parse_args()

    dsn = create_test_database("tidewatch_bench_login")
    port = free_port()
    api_bin = Path(sys.executable).with_name("tidewatch-api")
    env = {**os.environ, "TIDEWATCH_DSN": dsn, "TIDEWATCH_API_LISTEN": f"127.0.0.1:{port}"}
    process = subprocess.Popen([str(api_bin)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO users (username, password_hash, role) VALUES ('bench', %s, 'admin')",
                (hash_password(PASSWORD),),
            )
            for index in range(4):
                conn.execute(
                    "INSERT INTO users (username, password_hash, role) VALUES (%s, %s, 'viewer')",
                    (f"admin{index}", hash_password(PASSWORD)),
                )
        base_url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base_url, timeout=30) as client, multiprocessing.Manager() as manager:
            _wait_ready(client, process)
            login = client.post("/api/auth/login", json={"username": "bench", "password": PASSWORD})
            login.raise_for_status()
            token = login.json()["token"]
            created = client.post(
                "/api/vps", json={"name": "bench-vps"}, headers={"Authorization": f"Bearer {token}"}
            )
            created.raise_for_status()
            path = f"/api/vps/{created.json()['vps']['id']}"
            _measure(client, path, token, 2.0)  # warm the token cache and the pool

            rows = []
            idle_p99 = 0.0
            for phase, many, niceness in [
                ("idle", None, 0),
                ("storm, one address", False, 0),
                ("storm, many addresses", True, 0),
                ("same, attackers niced", False, 10),
                ("same, attackers niced", True, 10),
            ]:
                counts: MutableMapping[str, int] = manager.dict() if many is not None else {}
                attacker = None
                if many is not None:
                    attacker = multiprocessing.Process(
                        target=_attack,
                        args=(base_url, many, niceness, time.monotonic() + args.phase_s + 2, counts),
                    )
                    attacker.start()
                    time.sleep(2)  # let the storm build up before measuring
                latencies, statuses = _measure(client, path, token, args.phase_s)
                if attacker is not None:
                    attacker.join(60)
                p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
                idle_p99 = idle_p99 or p99
                rows.append((phase, len(latencies), p50, p99, p99 / idle_p99, dict(statuses), dict(counts)))

        print(
            f"tidewatch-api under bad logins ({ATTACK_THREADS} attacker threads, {args.phase_s:.0f} s a phase)"
        )
        print(
            f"{'phase':<24}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'p99/idle':>10}  answers / login outcomes"
        )
        for phase, n, p50, p99, ratio, answers, outcomes in rows:
            print(
                f"{phase:<24}{n:>9}{p50 * 1000:>9.1f}{p99 * 1000:>9.1f}{ratio:>10.2f}  {answers} / {outcomes}"
            )
        return 0
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        drop_test_database(dsn)


if __name__ == "__main__":
    sys.exit(main())

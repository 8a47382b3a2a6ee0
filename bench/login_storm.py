"""Bad logins must not stall the API (issue 10, item 9).

Starts ``tidewatch-api`` on a scratch database and measures an authenticated
``GET /api/vps/{id}`` one request at a time while an attacker process switches
between three modes, in short windows interleaved round after round:

- idle: the attackers wait;
- one address: 32 threads send wrong passwords from 127.0.0.1 (the login
  throttle answers most with 429);
- many addresses: 32 threads send wrong passwords, each request from another
  loopback address, so no per-address bucket ever empties and every attempt
  reaches password verification: this measures the hashing admission limit.

The machine is shared, so one idle phase at the start says little about the
idle of ten seconds later: each storm window sits between idle windows of the
same round. Printed: p50/p99 per mode over all rounds, the pooled p99 ratio of
each storm to idle, and the spread (min, median, max) of the per-round ratios,
each round's storm p99 over the mean of the idle windows either side. The
idle row's spread is the noise floor: each round's middle idle window against
the idle windows around it, a ratio that only the shared machine moves. The
target is a storm ratio of at most 2.

Attackers run in another process, so their threads do not share the measuring
thread's GIL. On a small machine their client work competes with the server
for CPU, which a remote attacker's would not: ``--attacker-nice 10`` shows the
server's share alone.

    .venv/bin/python -m bench.login_storm [--rounds 5] [--window-s 4] [--attacker-nice 0]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import MutableMapping
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import httpx
import psutil
import psycopg

from bench.probes import percentile
from common.tokens import hash_password
from tests.conftest import create_test_database, drop_test_database, free_port

ATTACK_THREADS = 32
PASSWORD = "bench password 1"
IDLE, ONE_ADDRESS, MANY_ADDRESSES, STOP = 0, 1, 2, 3
MODE_NAMES = {IDLE: "idle", ONE_ADDRESS: "storm, one address", MANY_ADDRESSES: "storm, many addresses"}
# Attack modes and the idle windows between them are told apart only if requests
# of the last mode have drained: wait at most this long for them.
DRAIN_LIMIT_S = 15.0


def _attack(
    port: int,
    niceness: int,
    mode: Synchronized[int],
    in_flight: Synchronized[int],
    counts: MutableMapping[str, int],
) -> None:
    """32 threads of wrong passwords while ``mode`` says so (runs in its own process).

    Plain http.client: an attacker's requests should cost the server, not the
    attacking process (httpx builds an SSL context for every new client).
    """
    os.nice(niceness)
    tally: Counter[str] = Counter()
    lock = threading.Lock()
    addresses = itertools.count()

    def worker(index: int) -> None:
        local: Counter[str] = Counter()
        body = json.dumps({"username": f"admin{index % 4}", "password": "not the password"})
        headers = {"Content-Type": "application/json"}
        conn: http.client.HTTPConnection | None = None
        while (current := mode.value) != STOP:
            if current == IDLE:
                time.sleep(0.02)
                continue
            if current == MANY_ADDRESSES or conn is None:
                if conn is not None:
                    conn.close()
                source = None
                if current == MANY_ADDRESSES:
                    with lock:
                        n = next(addresses)
                    # A fresh source address (127.0.0.0/8 is all loopback) defeats per-address limits.
                    source = (f"127.{1 + n // 65025 % 250}.{n // 255 % 255}.{1 + n % 254}", 0)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=source)
            with in_flight.get_lock():
                in_flight.value += 1
            try:
                conn.request("POST", "/api/auth/login", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                local[f"{current} {response.status}"] += 1
            except OSError as exc:
                local[f"{current} {type(exc).__name__}"] += 1
                conn.close()
                conn = None
            finally:
                with in_flight.get_lock():
                    in_flight.value -= 1
        if conn is not None:
            conn.close()
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


def _drain(in_flight: Synchronized[int]) -> None:
    deadline = time.monotonic() + DRAIN_LIMIT_S
    while in_flight.value > 0 and time.monotonic() < deadline:
        time.sleep(0.05)


def _server_cpu_s(process: psutil.Process) -> float:
    """CPU seconds of the API process and its children (a hashing process pool)."""
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(child.cpu_times()[:2])
    return total


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds of idle/storm/idle/storm windows")
    parser.add_argument("--window-s", type=float, default=4.0, help="seconds per measuring window")
    parser.add_argument("--attacker-nice", type=int, default=0, help="niceness of the attacker process")
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
        server = psutil.Process(process.pid)
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

            mode: Synchronized[int] = multiprocessing.Value("i", IDLE)
            in_flight: Synchronized[int] = multiprocessing.Value("i", 0)
            counts: MutableMapping[str, int] = manager.dict()
            attacker = multiprocessing.Process(
                target=_attack, args=(port, args.attacker_nice, mode, in_flight, counts)
            )
            attacker.start()
            latencies: dict[int, list[float]] = {m: [] for m in MODE_NAMES}
            answers: dict[int, Counter[str]] = {m: Counter() for m in MODE_NAMES}
            cpu_s: dict[int, float] = dict.fromkeys(MODE_NAMES, 0.0)
            round_ratios: dict[int, list[float]] = {m: [] for m in MODE_NAMES}
            try:
                for _ in range(args.rounds):
                    idle_p99s: list[float] = []
                    storm_p99s: dict[int, float] = {}
                    for current in (IDLE, ONE_ADDRESS, IDLE, MANY_ADDRESSES, IDLE):
                        mode.value = current
                        if current == IDLE:
                            _drain(in_flight)
                        time.sleep(1.0)  # let a storm build up, or the server settle
                        cpu_before = _server_cpu_s(server)
                        window, statuses = _measure(client, path, token, args.window_s)
                        cpu_s[current] += _server_cpu_s(server) - cpu_before
                        latencies[current].extend(window)
                        answers[current].update(statuses)
                        if current == IDLE:
                            idle_p99s.append(percentile(window, 0.99))
                        else:
                            storm_p99s[current] = percentile(window, 0.99)
                    # Each storm against the idle windows on either side of it.
                    round_ratios[ONE_ADDRESS].append(storm_p99s[ONE_ADDRESS] / statistics.mean(idle_p99s[:2]))
                    round_ratios[MANY_ADDRESSES].append(
                        storm_p99s[MANY_ADDRESSES] / statistics.mean(idle_p99s[1:])
                    )
                    # The noise floor: the middle idle window against the idle windows around it.
                    round_ratios[IDLE].append(idle_p99s[1] / statistics.mean([idle_p99s[0], idle_p99s[2]]))
            finally:
                mode.value = STOP
                attacker.join(30)
            outcomes: dict[int, Counter[str]] = {m: Counter() for m in MODE_NAMES}
            for key, count in counts.items():
                mode_text, outcome = key.split(" ", 1)
                outcomes[int(mode_text)][outcome] += count

        idle_p99 = percentile(latencies[IDLE], 0.99)
        print(
            f"tidewatch-api under bad logins: {ATTACK_THREADS} attacker threads at nice {args.attacker_nice}, "
            f"{args.rounds} rounds of {args.window_s:.0f} s windows (idle, one address, idle, many, idle)"
        )
        print(
            f"{'mode':<24}{'requests':>9}{'p50 ms':>8}{'p99 ms':>8}{'p99/idle':>9}"
            f"{'round ratios min/med/max':>26}{'API cpu %':>10}  answers / login outcomes"
        )
        total_s = args.rounds * args.window_s
        for current, name in MODE_NAMES.items():
            samples = latencies[current]
            p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
            ratios = round_ratios[current]
            spread = f"{min(ratios):.2f} / {statistics.median(ratios):.2f} / {max(ratios):.2f}"
            windows_s = total_s * (3 if current == IDLE else 1)
            print(
                f"{name:<24}{len(samples):>9}{p50 * 1000:>8.1f}{p99 * 1000:>8.1f}{p99 / idle_p99:>9.2f}"
                f"{spread:>26}{cpu_s[current] / windows_s * 100:>10.0f}  "
                f"{dict(answers[current])} / {dict(outcomes[current])}"
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

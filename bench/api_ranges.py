"""API range queries beside the same SQL through psycopg (issue 12).

Builds a fleet of ``--vps`` VPS x ``--days`` days at ``--interval-s`` (default
60 s) in its own database made from the template: rows are generated set-based
in SQL (``generate_series`` straight into the hypertables, not through the
collector), one day at a time; then the rollups are built by the project's own
maintenance (``collector.maintenance.Maintenance``), as a collector would.

Each VPS has one network interface, one mount, one container. Then, for one
VPS, it times ``--requests`` requests after warm-up of the host, network, disks
and containers series over 1 h, 24 h, 7 d and 30 d, and of ``GET /api/vps``;
beside each, in the same run and in turn with it (one API request, one SQL
statement, ...), the same SQL (the statement the API builds with
``api.metrics.series.build_columnar_query`` for the plan it chooses, with the API's
session options and binary results) through psycopg; and prints p50/p99 and API ÷ SQL.
``--only`` times a subset, to split a long run (``--requests 1000``). The API is timed
over one keep-alive ``http.client`` connection (``LeanClient``), so the client's own
cost stays out of the figure.

    .venv/bin/python -m bench.api_ranges --vps 200 --days 30     # the issue's scale
    .venv/bin/python -m bench.api_ranges --vps 20 --days 30      # a quick run

The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool

from api.metrics.resolution import Coverage, Plan, choose_plan
from api.metrics.series import (
    CONTAINER_LABELS,
    CONTAINERS,
    DISKS,
    HOST,
    NETWORK,
    SeriesLabels,
    SeriesSpec,
    build_columnar_query,
    query_params,
)
from api.resources import SESSION_OPTIONS
from api.vps.queries import _SELECT as FLEET_SELECT
from bench.probes import percentile
from collector.maintenance import Maintenance
from common.settings import ApiSettings
from common.tokens import hash_password
from tests.conftest import create_test_database, drop_test_database, free_port

PASSWORD = "bench password 1"
# Each endpoint's spec, path and labels: the SQL side runs the very statement the API builds.
SPECS: dict[str, tuple[SeriesSpec, str, SeriesLabels | None]] = {
    "host": (HOST, "host", None),
    "network": (NETWORK, "network", None),
    "disks": (DISKS, "disks", None),
    "containers": (CONTAINERS, "containers", CONTAINER_LABELS),
}
# The API's session settings (api.resources.lifespan), for the SQL side.
API_SESSION_OPTIONS = (
    f"-c statement_timeout={round(ApiSettings().db_query_timeout_s * 1000)} {SESSION_OPTIONS}"
)
RANGES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}

_FILL = {
    "host_metrics": """
INSERT INTO host_metrics
SELECT t, v.id, 20 + 10 * sin(extract(epoch FROM t) / 600 + v.id), ARRAY[20.0, 30.0], 12, 5, 1, 0,
       0.5, 0.4, 0.3, 8e9, 4e9 + v.id, 3e9, 1e9, 1e8, 2e9, 1e7, 120, 10, 150, 86400
FROM vps v, generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 microsecond', %(step)s) t""",
    "network_metrics": """
INSERT INTO network_metrics
SELECT t, v.id, 'eth0', 1000 + v.id, 500, 10, 5, 0, 0, 0, 0, 60000, 30000
FROM vps v, generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 microsecond', %(step)s) t""",
    "disk_metrics": """
INSERT INTO disk_metrics
SELECT t, v.id, '/', '/dev/vda1', 'ext4', 1e11, 4e10, 6e10, 6e6, 1e6
FROM vps v, generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 microsecond', %(step)s) t""",
    "container_metrics": """
INSERT INTO container_metrics
SELECT t, v.id, 'c0', 5, 1e8, 1e9, 1000, 1000, 0, 0, 12
FROM vps v, generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 microsecond', %(step)s) t""",
}


def build_dataset(dsn: str, vps: int, days: int, interval: timedelta, end: datetime) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO vps (name, ip_address, agent_key_id, agent_token_hash)"
            " SELECT 'bench-' || lpad(i::text, 5, '0'), '127.0.0.1', 'k' || i, 'x' FROM generate_series(1, %s) i",
            (vps,),
        )
        conn.execute(
            "INSERT INTO containers (vps_id, container_id, name, image, state, status)"
            " SELECT id, 'c0', 'web', 'nginx', 'running', 'Up' FROM vps"
        )
        # Keep raw data for the whole range, so every tier can answer.
        conn.execute(
            "UPDATE retention_settings SET keep = %s WHERE relation NOT LIKE '%%_1h'",
            (timedelta(days=days + 30),),
        )
        start = end - timedelta(days=days)
        for day in range(days):
            began = time.monotonic()
            lo, hi = start + timedelta(days=day), start + timedelta(days=day + 1)
            for sql in _FILL.values():
                conn.execute(sql, {"start": lo, "end": hi, "step": interval})
            print(f"  day {day + 1}/{days} written in {time.monotonic() - began:.1f} s", flush=True)


async def build_rollups(dsn: str) -> None:
    async with AsyncConnectionPool(dsn, min_size=1, max_size=1, open=False) as pool:
        maintenance = Maintenance(pool, timedelta(0))  # type: ignore[arg-type]
        began = time.monotonic()
        written = await maintenance.run_once()
        print(f"  rollups built in {time.monotonic() - began:.1f} s: {written}", flush=True)


def report_sizes(dsn: str, vps: int, days: int) -> None:
    """Bytes on disk per VPS per day (table + indexes), from hypertable_detailed_size."""
    print("bytes on disk per VPS per day (heap + indexes, uncompressed):")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in _FILL:
            sizes = []
            for relation in (table, f"{table}_1m", f"{table}_1h"):
                row = conn.execute(
                    "SELECT coalesce(sum(total_bytes), 0) FROM hypertable_detailed_size(%s::regclass)",
                    (relation,),
                ).fetchone()
                sizes.append(f"{relation} {int(row[0] if row else 0) / (vps * days):,.0f}")
            print("  " + "; ".join(sizes))


def kept_dataset(dsn: str) -> tuple[int, datetime]:
    """In a database an earlier ``--keep`` run built: the bench user (added if missing), the
    VPS to time and the end of its data (the minute after its newest host row)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES ('bench', %s, 'admin') ON CONFLICT DO NOTHING",
            (hash_password(PASSWORD),),
        )
        row = conn.execute("SELECT min(id), (SELECT max(time) FROM host_metrics) FROM vps").fetchone()
    assert row is not None and row[1] is not None, "the database holds no VPS or no host rows"
    return int(row[0]), row[1].replace(second=0, microsecond=0) + timedelta(minutes=1)


def series_statement(
    name: str, vps_id: int, start: datetime, end: datetime
) -> tuple[Plan, bytes, dict[str, Any]]:
    """The plan, statement and parameters the API uses for ``name``'s series (a key of SPECS)
    over ``[start, end)``, with retention long enough for every tier (as the dataset's)."""
    spec, _, labels = SPECS[name]
    coverage = Coverage(now=datetime.now(UTC), raw_keep=timedelta(days=3660), keep_1m=timedelta(days=3660))
    plan = choose_plan(start, end, "auto", 1500, coverage)
    statement = build_columnar_query(spec, plan, live_rollups=False, labels=labels)
    return plan, statement, query_params(vps_id, start, end, plan.step)


def interleaved(calls: Sequence[Callable[[], Any]], requests: int) -> list[list[float]]:
    """Seconds taken by each of ``requests`` rounds of ``calls``, one call of each per round
    (API, SQL, API, ...), after warm-up rounds: one list per call, in the order given. A
    burst of load from elsewhere on the machine falls on every side alike."""
    for _ in range(max(5, requests // 10)):
        for call in calls:
            call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(requests):
        for call, taken in zip(calls, times, strict=True):
            began = time.perf_counter()
            call()
            taken.append(time.perf_counter() - began)
    return times


class LeanClient:
    """One keep-alive HTTP/1.1 connection on ``http.client``, for timing.

    The figure is the API's cost: a full-featured client (httpx) adds a few hundred
    microseconds of its own per request, which at 1 h ranges would be most of it."""

    def __init__(self, port: int) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(
        self, path: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> bytes:
        target = f"{path}?{urlencode(params)}" if params else path
        try:
            self._conn.request("GET", target, headers=headers or {})
            response = self._conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # uvicorn closes a connection idle for 5 s (e.g. while the dataset was analysed):
            # connect again. Each query's warm-up requests come first, so this is never timed.
            self._conn.close()
            self._conn.request("GET", target, headers=headers or {})
            response = self._conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
        return body

    def close(self) -> None:
        self._conn.close()


def measure(
    dsn: str, client: LeanClient, token: str, vps_id: int, requests: int, end: datetime, only: set[str]
) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    lines = [
        f"{'query':<18}{'resolution':>11}{'API p50':>9}{'p99':>8}{'SQL p50':>9}{'p99':>8}{'API÷SQL p99':>13}"
    ]
    with psycopg.connect(dsn, autocommit=True, options=API_SESSION_OPTIONS) as conn:
        for name, (_, path, _) in SPECS.items():
            for label, width in RANGES.items():
                if label not in only:
                    continue
                start = end - width
                params = {"from": str(int(start.timestamp() * 1000)), "to": str(int(end.timestamp() * 1000))}
                url = f"/api/vps/{vps_id}/metrics/{path}"

                def api(url: str = url, params: dict[str, str] = params) -> None:
                    client.get(url, params, headers)

                plan, sql, args = series_statement(name, vps_id, start, end)

                def direct(sql: Any = sql, args: Any = args) -> None:
                    conn.cursor(binary=True).execute(sql, args).fetchall()  # as the API fetches

                lines.append(_row(f"{name} {label}", plan.resolution, *interleaved((api, direct), requests)))

        def fleet_api() -> None:
            client.get("/api/vps", headers=headers)

        def fleet_sql() -> None:
            conn.execute(FLEET_SELECT + " ORDER BY v.name").fetchall()  # type: ignore[arg-type]

        if "overview" in only:
            lines.append(_row("GET /api/vps", "-", *interleaved((fleet_api, fleet_sql), requests)))
    return lines


def _row(name: str, resolution: str, api: list[float], sql: list[float]) -> str:
    a50, a99, s50, s99 = (
        percentile(x, q) * 1000 for x, q in ((api, 0.5), (api, 0.99), (sql, 0.5), (sql, 0.99))
    )
    return f"{name:<18}{resolution:>11}{a50:>9.1f}{a99:>8.1f}{s50:>9.1f}{s99:>8.1f}{a99 / s99:>13.2f}"


def stop_servers(servers: Iterable[tuple[subprocess.Popen[bytes], LeanClient]]) -> None:
    """Close each client and stop its server (SIGTERM, then wait)."""
    for process, client in servers:
        client.close()
        process.terminate()
        process.wait(15)


def start_api(dsn: str, pythonpath: str | None = None) -> tuple[subprocess.Popen[bytes], LeanClient, str]:
    """A real ``tidewatch-api`` on ``dsn`` (importing ``pythonpath``'s tree first, if given),
    once healthy: the process, a lean client on it and the bench user's bearer token."""
    port = free_port()
    env = {**os.environ, "TIDEWATCH_DSN": dsn, "TIDEWATCH_API_LISTEN": f"127.0.0.1:{port}"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    api_bin = Path(sys.executable).with_name("tidewatch-api")
    process = subprocess.Popen([str(api_bin)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.get("/api/health").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            process.wait(15)
            raise SystemExit("tidewatch-api did not become healthy")
        time.sleep(0.2)
    login = client.post("/api/auth/login", json={"username": "bench", "password": PASSWORD})
    login.raise_for_status()
    client.close()
    return process, LeanClient(port), str(login.json()["token"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vps", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--interval-s", type=float, default=60.0)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database (its DSN is printed)")
    parser.add_argument(
        "--api-source", metavar="DIR", default=None,
        help="run the API from this source tree (PYTHONPATH), e.g. a checkout of main; the SQL side stays this tree's",
    )  # fmt: skip
    parser.add_argument(
        "--reuse", metavar="DSN", default="",
        help="time against a database an earlier --keep run built (kept again), to compare two builds of the API",
    )  # fmt: skip
    parser.add_argument(
        "--only", default=",".join([*RANGES, "overview"]),
        help="comma-separated ranges (1h,24h,7d,30d) and/or overview to time, e.g. to split a long run",
    )  # fmt: skip
    args = parser.parse_args()
    only = set(args.only.split(","))
    if unknown := only - {*RANGES, "overview"}:
        parser.error(f"--only: unknown {', '.join(sorted(unknown))}")

    dsn = args.reuse or create_test_database("tidewatch_bench_ranges")
    if args.reuse:
        args.keep = True
        with psycopg.connect(dsn) as conn:
            newest = conn.execute("SELECT max(time) FROM host_metrics").fetchone()
            args.vps = int(conn.execute("SELECT count(*) FROM vps").fetchone()[0])  # type: ignore[index]
        assert newest is not None and newest[0] is not None, "the database to reuse holds no host rows"
        end = newest[0].replace(second=0, microsecond=0) + timedelta(minutes=1)
    else:
        end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    print(f"database: {psycopg.conninfo.conninfo_to_dict(dsn)['dbname']}", flush=True)
    process = None
    try:
        began = time.monotonic()
        if not args.reuse:
            build_dataset(dsn, args.vps, args.days, timedelta(seconds=args.interval_s), end)
            asyncio.run(build_rollups(dsn))
            report_sizes(dsn, args.vps, args.days)
            print(
                f"dataset ({args.vps} VPS x {args.days} d at {args.interval_s:g} s)"
                f" in {time.monotonic() - began:.0f} s"
            )
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ANALYZE")
            conn.execute(
                "INSERT INTO users (username, password_hash, role) VALUES ('bench', %s, 'admin')"
                " ON CONFLICT DO NOTHING",
                (hash_password(PASSWORD),),
            )
            row = conn.execute("SELECT min(id) FROM vps").fetchone()
            vps_id = int(row[0]) if row else 0
        process, client, token = start_api(dsn, args.api_source)
        try:
            lines = measure(dsn, client, token, vps_id, args.requests, end, only)
        finally:
            client.close()
        print(f"{args.requests} requests each after warm-up, one VPS of {args.vps}; times in ms")
        print("\n".join(lines))
        return 0
    finally:
        if process is not None:
            process.terminate()
            process.wait(15)
        if args.keep:
            print(f"kept: {dsn}")
        else:
            drop_test_database(dsn)


if __name__ == "__main__":
    sys.exit(main())

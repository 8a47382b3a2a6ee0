"""The floor under the API's range queries: the same statements with no framework (issue 12).

How close can any API on this stack (Python, uvicorn on uvloop with httptools, async
psycopg, orjson) come to the SQL it runs? ``app`` below serves the host, network, disks
and containers series as a bare ASGI callable: no Litestar (routing, auth, parameter
checks, dependency injection, problem responses), no pool (one connection, opened at
startup), no access log. It runs the statement the API builds for the plan it would
choose (``bench.api_ranges.series_statement``) and encodes the columns with orjson, as
the API does. It is a measuring stick, not a server anyone should run: it checks nothing.

Beside it, one request of each in turn: the real ``tidewatch-api`` and the same SQL
through psycopg, as ``bench.api_ranges`` times them. Prints p50/p99 of all three and
API ÷ SQL and floor ÷ SQL at p99. A benchmark, not a test: nothing is asserted.

    .venv/bin/python -m bench.api_floor --dsn "<DSN kept by bench.api_ranges --keep>" \\
        [--requests 1000] [--only 1h,30d]
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
import psycopg

from api.metrics.series import columns_of
from bench.api_ranges import (
    API_SESSION_OPTIONS,
    RANGES,
    SPECS,
    LeanClient,
    interleaved,
    kept_dataset,
    series_statement,
    start_api,
    stop_servers,
)
from bench.probes import percentile
from tests.conftest import free_port

__all__ = ["FloorApp", "app", "main"]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class FloorApp:
    """``GET /api/vps/{id}/metrics/{host|network|disks|containers}?from=&to=`` (epoch ms), and
    ``GET /health``, on one async psycopg connection to ``TIDEWATCH_DSN``."""

    def __init__(self) -> None:
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        parts = scope["path"].split("/")  # ['', 'api', 'vps', id, 'metrics', name]
        if scope["path"] == "/health" or self._conn is None:
            await self._respond(send, b"ok" if self._conn else b"starting")
            return
        query = parse_qs(scope["query_string"].decode())
        start, end = (datetime.fromtimestamp(int(query[k][0]) / 1000, UTC) for k in ("from", "to"))
        name, vps_id = parts[5], int(parts[3])
        _, statement, params = series_statement(name, vps_id, start, end)
        cur = self._conn.cursor(binary=True)
        await cur.execute(statement, params)
        spec, _, labels = SPECS[name]
        await self._respond(send, orjson.dumps(list(columns_of(spec, await cur.fetchall(), labels).values())))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while (await receive())["type"] != "lifespan.shutdown":
            self._conn = await psycopg.AsyncConnection.connect(
                os.environ["TIDEWATCH_DSN"], autocommit=True, options=API_SESSION_OPTIONS
            )
            await send({"type": "lifespan.startup.complete"})
        if self._conn is not None:
            await self._conn.close()
        await send({"type": "lifespan.shutdown.complete"})

    @staticmethod
    async def _respond(send: Send, body: bytes) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


app = FloorApp()


def start_floor(dsn: str) -> tuple[subprocess.Popen[bytes], LeanClient]:
    """``app`` under uvicorn on uvloop and httptools (as ``tidewatch-api`` serves), once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.api_floor:app", "--loop", "uvloop", "--http", "httptools",
         "--no-access-log", "--no-proxy-headers", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "TIDEWATCH_DSN": dsn}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        client = LeanClient(port)  # a new connection per try: a refused one is left mid-request
        try:
            if client.get("/health") == b"ok":
                return process, client
        except (OSError, RuntimeError, http.client.HTTPException):
            pass
        client.close()
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            process.wait(15)
            raise SystemExit("the floor app did not start")
        time.sleep(0.2)


def _three_ways(
    api: tuple[LeanClient, dict[str, str]],
    floor: LeanClient,
    sql_conn: psycopg.Connection[Any],
    name: str,
    path: str,
    vps_id: int,
    window: tuple[datetime, datetime],
    requests: int,
) -> list[list[float]]:
    """Times of one series query by the API, by the floor app and as SQL, in turn."""
    start, end = window
    url = f"/api/vps/{vps_id}/metrics/{path}"
    params = {"from": str(int(start.timestamp() * 1000)), "to": str(int(end.timestamp() * 1000))}
    _, statement, sql_params = series_statement(name, vps_id, start, end)
    api_client, headers = api

    def by_api() -> None:
        api_client.get(url, params, headers)

    def by_floor() -> None:
        floor.get(url, params)

    def by_sql() -> None:
        sql_conn.cursor(binary=True).execute(statement, sql_params).fetchall()  # as the API fetches

    return interleaved((by_api, by_floor, by_sql), requests)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.api_floor", description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", required=True, help="a database kept by bench.api_ranges --keep")
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--only", default=",".join(RANGES), help="comma-separated ranges (1h,24h,7d,30d)")
    args = p.parse_args(argv)
    only = args.only.split(",")
    if unknown := set(only) - set(RANGES):
        p.error(f"--only: unknown {', '.join(sorted(unknown))}")
    vps_id, end = kept_dataset(args.dsn)
    api_process, api_client, token = start_api(args.dsn)
    try:
        floor_process, floor_client = start_floor(args.dsn)
    except BaseException:
        stop_servers([(api_process, api_client)])
        raise
    headers = {"Authorization": f"Bearer {token}"}
    try:
        print(f"{args.requests} requests of each in turn, after warm-up; times in ms", flush=True)
        print(
            f"{'query':<18}{'API p50':>9}{'p99':>7}{'floor p50':>11}{'p99':>7}{'SQL p50':>9}{'p99':>7}"
            f"{'API÷SQL p99':>13}{'floor÷SQL p99':>15}"
        )
        with psycopg.connect(args.dsn, autocommit=True, options=API_SESSION_OPTIONS) as sql_conn:
            for name, (_, path, _) in SPECS.items():
                for label in only:
                    times = _three_ways(
                        (api_client, headers), floor_client, sql_conn, name, path, vps_id,
                        (end - RANGES[label], end), args.requests,
                    )  # fmt: skip
                    api, floor, sql = ([percentile(t, q) * 1000 for q in (0.5, 0.99)] for t in times)
                    print(
                        f"{name + ' ' + label:<18}{api[0]:>9.2f}{api[1]:>7.2f}{floor[0]:>11.2f}{floor[1]:>7.2f}"
                        f"{sql[0]:>9.2f}{sql[1]:>7.2f}{api[1] / sql[1]:>13.2f}{floor[1] / sql[1]:>15.2f}",
                        flush=True,
                    )
    finally:
        stop_servers([(api_process, api_client), (floor_process, floor_client)])
    return 0


if __name__ == "__main__":
    sys.exit(main())

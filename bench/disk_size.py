"""Bytes on disk per VPS per day, raw and rolled up, with and without compression (issue 12).

Builds ``--vps`` VPS x ``--days`` days in its own database made from the
template, at the agent's default intervals (host, network and disk I/O every
second; disk usage and containers every 5 s), one interface, one disk device,
one mount and ``--containers`` containers per VPS. Values carry noise at the
precision the agent sends (psutil's one-decimal percentages, page-sized memory,
full-precision rates, cumulative counters), because constant columns would
compress far better than real data does.

Then it builds the rollups and prints, per table, ``hypertable_detailed_size``
(heap + indexes + TOAST) per row and per VPS per day. On the Community edition it
then compresses every raw chunk with the project's own settings (segment by
``vps_id``, order by ``time DESC``, from ``sql/0004``) and prints the sizes
again beside the uncompressed ones. The Apache edition has no compression; there
it prints the uncompressed sizes only.

    .venv/bin/python -m bench.disk_size --server "$(cat /var/lib/tidewatch-dev/local-db-timescale.dsn)"
    .venv/bin/python -m bench.disk_size                          # the test server (Apache)

The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from bench.api_ranges import build_rollups
from tests.conftest import create_test_database, drop_test_database

# Per raw table: one INSERT ... SELECT over
# generate_series. `t` is the sample time, `v` the VPS, `k` a per-series index.
_ROWS: dict[str, str] = {
    "host_metrics": """
INSERT INTO host_metrics
SELECT t, v.id,
       round((20 + 15 * sin(extract(epoch FROM t) / 600 + v.id) + random() * 10)::numeric, 1),
       ARRAY[round((random() * 60)::numeric, 1), round((random() * 60)::numeric, 1)]::float8[],
       round((random() * 20)::numeric, 1), round((random() * 8)::numeric, 1),
       round((random() * 2)::numeric, 1), round((random() * 0.5)::numeric, 1),
       round((random() * 2)::numeric, 2), round((0.8 + random() * 0.4)::numeric, 2),
       round((0.7 + random() * 0.2)::numeric, 2),
       8589934592, 4294967296 + (random() * 25000)::bigint * 4096,
       4294967296 - (random() * 25000)::bigint * 4096, 2147483648 + (random() * 1000)::bigint * 4096,
       104857600 + (random() * 100)::bigint * 4096, 2147483648, (random() * 100)::bigint * 4096,
       50 + (random() * 100)::int, 5 + (random() * 10)::int, 140 + (random() * 20)::int,
       extract(epoch FROM t)::bigint - 1700000000
FROM vps v, generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 microsecond',
                            interval '1 second') t""",
    "network_metrics": """
INSERT INTO network_metrics
SELECT t, v.id, 'eth0', random() * 1e5, random() * 5e4, random() * 200, random() * 100, 0, 0,
       (random() < 0.001)::int, 0, (random() * 1e5)::bigint, (random() * 5e4)::bigint
FROM vps v, generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 microsecond',
                            interval '1 second') t""",
    "disk_io_metrics": """
INSERT INTO disk_io_metrics
SELECT t, v.id, 'vda', r * 65536 / elapsed, w * 32768 / elapsed, r / elapsed, w / elapsed
FROM vps v, generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 microsecond',
                            interval '1 second') t,
     -- `t` in the subquery keeps it correlated, so it is evaluated per row, not once.
     LATERAL (SELECT CASE WHEN random() < 0.6 OR t IS NULL THEN 0 ELSE floor(random() * 40) END AS r,
                     CASE WHEN random() < 0.3 THEN 0 ELSE floor(random() * 80) END AS w,
                     -- A rate is a delta over the measured interval, never exactly 1 s.
                     0.995 + random() * 0.01 AS elapsed) ops""",
    "disk_metrics": """
INSERT INTO disk_metrics
SELECT t, v.id, '/', '/dev/vda1', 'ext4', 107374182400, u, 107374182400 - u, 6553600, 120000 + (u / 65536)
FROM vps v, generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 microsecond',
                            interval '5 seconds') t,
     LATERAL (SELECT 42949672960 + (extract(epoch FROM t)::bigint %% 86400) * 4096
                     + (random() * 256)::bigint * 4096 AS u) used""",
    "container_metrics": """
INSERT INTO container_metrics
SELECT t, v.id, 'c' || k, random() * 30, 104857600 + (random() * 20000)::bigint * 4096, 1073741824,
       e * 2000 + (random() * 1000)::bigint, e * 1500 + (random() * 1000)::bigint,
       e * 40 + (random() * 100)::bigint * 4096, e * 300 + (random() * 100)::bigint * 4096,
       5 + (random() * 4)::int
FROM vps v, generate_series(1, %(containers)s) k,
     generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 microsecond',
                     interval '5 seconds') t,
     LATERAL (SELECT extract(epoch FROM t)::bigint - 1700000000 AS e) elapsed""",
}


def build(dsn: str, vps: int, days: int, containers: int, end: datetime) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO vps (name, ip_address, agent_key_id, agent_token_hash)"
            " SELECT 'size-' || lpad(i::text, 5, '0'), '127.0.0.1', 'k' || i, 'x' FROM generate_series(1, %s) i",
            (vps,),
        )
        # Keep everything written, so no policy or pass drops a chunk mid-measurement.
        conn.execute("UPDATE retention_settings SET keep = %s", (timedelta(days=days + 30),))
        start = end - timedelta(days=days)
        for day in range(days):
            began = time.monotonic()
            lo, hi = start + timedelta(days=day), start + timedelta(days=day + 1)
            for insert in _ROWS.values():
                conn.execute(insert, {"start": lo, "end": hi, "containers": containers})  # type: ignore[arg-type]
            print(f"  day {day + 1}/{days} written in {time.monotonic() - began:.1f} s", flush=True)


def build_caggs(dsn: str, start: datetime, end: datetime) -> None:
    """Community edition: the rollups are continuous aggregates; refresh them over the range."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        names = [
            str(r[0]) for r in conn.execute("SELECT name FROM rollup_definitions ORDER BY bucket_width, name")
        ]
        for name in names:
            began = time.monotonic()
            conn.execute("CALL refresh_continuous_aggregate(%s::regclass, %s, %s)", (name, start, end))
            print(f"  {name} refreshed in {time.monotonic() - began:.1f} s", flush=True)


def _bytes(conn: psycopg.Connection[tuple[object, ...]], relation: str) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(total_bytes), 0) FROM hypertable_detailed_size(%s::regclass)", (relation,)
    ).fetchone()
    return int(row[0]) if row else 0  # type: ignore[call-overload]


def _rows(conn: psycopg.Connection[tuple[object, ...]], relation: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(relation))).fetchone()
    return int(row[0]) if row else 0  # type: ignore[call-overload]


def sizes(dsn: str) -> dict[str, tuple[int, int]]:
    """(bytes, rows) per raw table and rollup."""
    found: dict[str, tuple[int, int]] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in _ROWS:
            for relation in (table, f"{table}_1m", f"{table}_1h"):
                found[relation] = (_bytes(conn, relation), _rows(conn, relation))
    return found


def compress_all(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in _ROWS:
            began = time.monotonic()
            chunks = conn.execute(
                "SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks(%s::regclass) c",
                (table,),
            ).fetchone()
            print(
                f"  {table}: {chunks[0] if chunks else 0} chunks compressed in {time.monotonic() - began:.1f} s"
            )


def report(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]] | None, vps_days: int
) -> None:
    head = f"{'relation':<26}{'rows':>12}{'B/row':>8}{'KB per VPS-day':>16}"
    if after is not None:
        head += f"{'compressed B/row':>18}{'KB per VPS-day':>16}{'ratio':>8}"
    print(head)
    for relation, (size, rows) in before.items():
        line = f"{relation:<26}{rows:>12,}{size / max(rows, 1):>8.0f}{size / vps_days / 1024:>16,.0f}"
        if after is not None and not relation.endswith(("_1m", "_1h")):
            packed = after[relation][0]
            line += f"{packed / max(rows, 1):>18.1f}{packed / vps_days / 1024:>16,.1f}{size / max(packed, 1):>8.1f}"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--server", default=None, help="a DSN on the server to use (default: the test server)"
    )
    parser.add_argument("--vps", type=int, default=10)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--containers", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    dsn = create_test_database("tidewatch_bench_size", server_dsn=args.server)
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
        license_ = str(row[0]) if row and row[0] else "apache"
        community = license_ == "timescale"
        print(f"database {psycopg.conninfo.conninfo_to_dict(dsn)['dbname']}, timescaledb.license={license_}")
        # Whole past days, so every chunk is closed and the rollups cover it all.
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = end - timedelta(days=args.days)
        began = time.monotonic()
        build(dsn, args.vps, args.days, args.containers, end)
        if community:
            build_caggs(dsn, start, end)
        else:
            asyncio.run(build_rollups(dsn))
        print(f"dataset built in {time.monotonic() - began:.0f} s")
        before = sizes(dsn)
        after = None
        if community:
            compress_all(dsn)
            after = sizes(dsn)
        vps_days = args.vps * args.days
        print(
            f"\n{args.vps} VPS x {args.days} days; host, network and disk I/O at 1 s,"
            f" disk usage and {args.containers} containers at 5 s; hypertable_detailed_size:"
        )
        report(before, after, vps_days)
        return 0
    finally:
        if args.keep:
            print(f"kept: {dsn}")
        else:
            drop_test_database(dsn)


if __name__ == "__main__":
    sys.exit(main())

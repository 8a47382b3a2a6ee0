"""Two builds of the API against one kept dataset, their requests interleaved.

    .venv/bin/python -m bench.api_side_by_side --dsn "<DSN kept by bench.api_ranges --keep>" \\
        --other-source /path/to/an/older/checkout [--requests 200]

On a shared, noisy machine two runs of ``bench.api_ranges`` minutes apart differ
more than two builds of the API do. Here both ``tidewatch-api`` processes run
at once (the other one with ``PYTHONPATH`` set to ``--other-source``, so it
imports that tree's ``api`` and ``common``) and every request to one is
followed by the same request to the other, so both see the same moment of the
machine. Prints p50 and p99 of each for the host, network, disks and
containers series over 1 h, 24 h, 7 d and 30 d, and ``GET /api/vps``. A benchmark,
not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.api_ranges import RANGES, SPECS, LeanClient, kept_dataset, start_api, stop_servers
from bench.probes import percentile

__all__ = ["main"]


def _with_headers(
    started: tuple[subprocess.Popen[bytes], LeanClient, str],
) -> tuple[subprocess.Popen[bytes], LeanClient, dict[str, str]]:
    process, client, token = started
    return process, client, {"Authorization": f"Bearer {token}"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.api_side_by_side", description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", required=True, help="a database kept by bench.api_ranges --keep")
    p.add_argument("--other-source", required=True, help="the source tree of the other build")
    p.add_argument("--requests", type=int, default=200)
    args = p.parse_args(argv)
    vps_id, end = kept_dataset(args.dsn)
    sides = {
        name: _with_headers(start_api(args.dsn, source))
        for name, source in (("this", None), ("other", args.other_source))
    }
    try:
        print(f"{args.requests} interleaved requests each, after warm-up; times in ms")
        print(f"{'query':<18}{'this p50':>10}{'p99':>8}{'other p50':>11}{'p99':>8}{'this÷other p50':>16}")
        queries = [
            (f"{name} {label}", f"/api/vps/{vps_id}/metrics/{path}", RANGES[label])
            for name, (_, path, _) in SPECS.items()
            for label in RANGES
        ]
        for label, url, width in [*queries, ("GET /api/vps", "/api/vps", None)]:
            params = (
                {"from": str(int((end - width).timestamp() * 1000)), "to": str(int(end.timestamp() * 1000))}
                if width is not None
                else {}
            )
            samples: dict[str, list[float]] = {"this": [], "other": []}
            for i in range(args.requests + max(5, args.requests // 10)):
                for side in ("this", "other") if i % 2 else ("other", "this"):
                    _, client, headers = sides[side]
                    began = time.perf_counter()
                    client.get(url, params, headers)
                    if i >= max(5, args.requests // 10):
                        samples[side].append(time.perf_counter() - began)
            t50, t99, o50, o99 = (
                percentile(samples[s], q) * 1000
                for s, q in (("this", 0.5), ("this", 0.99), ("other", 0.5), ("other", 0.99))
            )
            print(f"{label:<18}{t50:>10.1f}{t99:>8.1f}{o50:>11.1f}{o99:>8.1f}{t50 / o50:>16.2f}", flush=True)
    finally:
        stop_servers((process, client) for process, client, _ in sides.values())
    return 0


if __name__ == "__main__":
    sys.exit(main())

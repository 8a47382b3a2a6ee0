"""One Docker sample of many running containers: cgroup files against one-shot stats calls.

    python -m bench.docker_scale [--containers 300] [--samples 5] [--api-samples 1]

Starts ``--containers`` busybox containers the way the tests make them (the
local busybox image, ``--network none``, ``sleep 3600``), created in parallel,
then runs each way of sampling them in its own process, one after the other:

- ``cgroup``: ``DockerCollector()``, stats read from the containers' cgroup files
  (what the agent does now);
- ``one-shot x8``: ``DockerCollector(stats_source="api")``, one one-shot stats
  call per container, 8 at a time (what the agent did before);
- ``one-shot x64``: the same with 64 at a time, to show what more parallel calls buy.

Each worker takes a first sample (it inspects every container, and has no
rates yet), then ``--samples`` more (``--api-samples`` for the one-shot ways,
whose samples are slow) ``--pause`` seconds apart. Per way it prints the wall
time and CPU time (all threads, ``time.process_time``) of a steady sample, that
CPU as a share of one core at the agent's default 5 s Docker interval, the
worker's peak RSS (VmHWM), the Docker engine's CPU per sample (dockerd and its
children: one-shot calls make it work), and whether every container had
stats. Ratios against ``cgroup`` come from the same run. The containers are
removed on every exit, Ctrl-C included. A benchmark, not a test: it asserts
nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.agent_overhead import IMAGE, Measured, _find_dockerd, _vm_hwm

REPO = Path(__file__).resolve().parent.parent
LABEL = "tidewatch.bench"
DEFAULT_DOCKER_INTERVAL_S = 5.0
GOAL_WALL_S = 2.0
GOAL_CPU_PERCENT = 5.0
WAYS: dict[str, dict[str, Any]] = {
    "cgroup": {},
    "one-shot x8": {"stats_source": "api", "max_workers": 8},
    "one-shot x64": {"stats_source": "api", "max_workers": 64},
}


# ------------------------------------------------------------------ the worker (one way)


def run_worker(way: str, label: str, samples: int, pause_s: float) -> None:
    """Sample the labelled containers; print "primed", wait for "go", then print the figures (JSON)."""
    from agent.collectors.docker_stats import DockerCollector

    collector = DockerCollector(**WAYS[way])

    def ours(batch: Any) -> list[Any]:
        return [c for c in batch.containers if c.labels.get(LABEL) == label]

    def timed() -> tuple[float, float, Any]:
        wall, cpu = time.perf_counter(), time.process_time()
        batch = collector.sample()
        batch.SerializeToString()
        return time.perf_counter() - wall, time.process_time() - cpu, batch

    first_wall, first_cpu, _ = timed()
    print(json.dumps({"first_wall_s": first_wall, "first_cpu_s": first_cpu}), flush=True)
    sys.stdin.readline()  # "go": the parent has read the engine's CPU
    walls, cpus, with_stats, seen = [], [], [], []
    for _ in range(samples):
        time.sleep(pause_s)
        wall, cpu, batch = timed()
        walls.append(wall)
        cpus.append(cpu)
        containers = ours(batch)
        seen.append(len(containers))
        with_stats.append(sum(1 for c in containers if c.has_stats))
    result = {
        "walls": walls,
        "cpus": cpus,
        "seen": min(seen),
        "with_stats": min(with_stats),
        "from_cgroups": collector.last_stats_from_cgroups,
        "from_engine": collector.last_stats_from_engine,
        "peak_rss": _vm_hwm(os.getpid()),
    }
    collector.close()
    print(json.dumps(result), flush=True)


# ------------------------------------------------------------------ the run


@dataclass
class WayResult:
    way: str
    first_wall_s: float
    first_cpu_s: float
    walls: list[float]
    cpus: list[float]
    seen: int
    with_stats: int
    from_cgroups: int
    from_engine: int
    peak_rss: int
    engine_cpu_s: float | None

    @property
    def wall_s(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu_s(self) -> float:
        return statistics.median(self.cpus)

    @property
    def cpu_percent(self) -> float:
        return self.cpu_s / DEFAULT_DOCKER_INTERVAL_S * 100


class Containers:
    """The run's containers, removed in ``close`` whatever happened."""

    def __init__(self) -> None:
        import docker

        subprocess.run([str(REPO / "scripts" / "local-docker.sh")], check=True, stdout=subprocess.DEVNULL)
        self.client = docker.from_env(timeout=120)
        self.label = f"scale-{secrets.token_hex(3)}"

    def start(self, count: int) -> float:
        started = time.monotonic()

        def one(index: int) -> None:
            self.client.containers.run(
                IMAGE,
                ["sleep", "3600"],
                detach=True,
                network_mode="none",
                name=f"{self.label}-{index:03d}",
                labels={LABEL: self.label},
            )

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(count)))
        return time.monotonic() - started

    def close(self) -> None:
        containers = self.client.containers.list(all=True, filters={"label": f"{LABEL}={self.label}"})

        def remove(container: Any) -> None:
            with contextlib.suppress(Exception):
                container.remove(force=True)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(remove, containers))
        self.client.close()


def _measure_way(way: str, label: str, samples: int, pause_s: float) -> WayResult:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.docker_scale",
            "--worker",
            way,
            "--label",
            label,
            "--samples",
            str(samples),
            "--pause",
            str(pause_s),
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        first = json.loads(proc.stdout.readline())
        dockerd = _find_dockerd()
        engine = Measured("engine", dockerd, include_children=True) if dockerd else None
        if engine is not None:
            engine.cpu_start = engine.cpu_seconds()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        result = json.loads(proc.stdout.readline())
        engine_cpu = None
        if engine is not None:
            engine.cpu_end = engine.cpu_seconds()
            engine_cpu = engine.cpu / samples
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return WayResult(way=way, engine_cpu_s=engine_cpu, **first, **result)


def render(results: list[WayResult], containers: int, create_s: float, args: argparse.Namespace) -> str:
    base = results[0]
    lines = [
        f"Docker sample of {containers} running busybox containers ({os.cpu_count()} CPUs; "
        f"created in {create_s:.0f} s); medians of steady samples {args.pause:g} s apart",
        "",
        f"{'way':<14} {'samples':>7} {'wall s':>8} {'CPU s':>7} {'CPU % @5s':>9} {'engine CPU s':>12} "
        f"{'peak RSS MB':>11} {'first wall s':>12} {'first CPU s':>11}  coverage",
    ]
    for r in results:
        engine = f"{r.engine_cpu_s:.3f}" if r.engine_cpu_s is not None else "-"
        lines.append(
            f"{r.way:<14} {len(r.walls):>7} {r.wall_s:>8.3f} {r.cpu_s:>7.3f} {r.cpu_percent:>9.2f} {engine:>12} "
            f"{r.peak_rss / 2**20:>11.1f} {r.first_wall_s:>12.2f} {r.first_cpu_s:>11.2f}  "
            f"{r.with_stats}/{r.seen} with stats ({r.from_cgroups} from cgroups, {r.from_engine} from the engine)"
        )
    lines.append("")
    for r in results[1:]:
        engine_ratio = ""
        if r.engine_cpu_s is not None and base.engine_cpu_s:
            engine_ratio = f", engine CPU x{r.engine_cpu_s / base.engine_cpu_s:.1f}"
        lines.append(
            f"{r.way} / cgroup: wall x{r.wall_s / base.wall_s:.0f}, agent CPU x{r.cpu_s / base.cpu_s:.1f}"
            f"{engine_ratio}, peak RSS x{r.peak_rss / base.peak_rss:.2f}"
        )
    met_wall = base.wall_s < GOAL_WALL_S
    met_cpu = base.cpu_percent < GOAL_CPU_PERCENT
    lines.append(
        f"cgroup: {base.wall_s:.3f} s wall per sample (goal < {GOAL_WALL_S:g} s: {'met' if met_wall else 'NOT met'}), "
        f"{base.cpu_percent:.2f} % of a core at {DEFAULT_DOCKER_INTERVAL_S:g} s "
        f"(goal < {GOAL_CPU_PERCENT:g} %: {'met' if met_cpu else 'NOT met'})"
    )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--containers", type=int, default=300)
    parser.add_argument("--samples", type=int, default=5, help="steady samples for the cgroup way")
    parser.add_argument("--api-samples", type=int, default=1, help="steady samples for the one-shot ways")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--ways", default=",".join(WAYS), help="comma-separated, cgroup first")
    parser.add_argument("--worker", choices=list(WAYS), help=argparse.SUPPRESS)
    parser.add_argument("--label", help=argparse.SUPPRESS)
    return parser


class _Stop(Exception):
    pass


def _raise_stop(_signum: int, _frame: object) -> None:
    raise _Stop


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        run_worker(args.worker, args.label, args.samples, args.pause)
        return 0
    ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    signal.signal(signal.SIGTERM, _raise_stop)
    containers = Containers()
    try:
        print(f"starting {args.containers} containers…", file=sys.stderr)
        create_s = containers.start(args.containers)
        results = []
        for way in ways:
            print(f"sampling: {way}…", file=sys.stderr)
            samples = args.samples if way == "cgroup" else args.api_samples
            results.append(_measure_way(way, containers.label, samples, args.pause))
    except (KeyboardInterrupt, _Stop):
        print("interrupted; removing the containers", file=sys.stderr)
        return 130
    finally:
        print("removing the containers…", file=sys.stderr)
        containers.close()
    print(render(results, args.containers, create_s, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

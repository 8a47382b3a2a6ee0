"""What the agent's collection costs, next to Debian's prometheus-node-exporter.

    python -m bench.agent_overhead [--duration 180] [--interval 1] [--containers 10]

Side by side for the same ``--duration``, each in its own process:

- the host collector: ``HostCollector.sample()`` plus serialising the snapshot,
  once per ``--interval``;
- the Docker collector: ``DockerCollector.sample()`` plus serialising, once per
  ``--docker-interval`` (default: the same), with ``--containers`` busybox
  containers started for the run;
- prometheus-node-exporter on 127.0.0.1, scraped once per ``--interval``.

CPU seconds (user + system, from psutil) are counted from when every process
has warmed up; peak RSS is the kernel's high-water mark (VmHWM). The Docker
engine's own CPU over the run (dockerd and its children) is shown too: one-shot
stats calls (when the engine is asked) make it work, but other users of the engine also count there.

Containers and processes are removed on every exit, Ctrl-C included. This is a
benchmark, not a test: it prints figures and ratios and asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
IMAGE = "tidewatch/busybox:local"
LABEL = "tidewatch.bench"
CPU_GOAL_RATIO = 0.5
RSS_GOAL_MB = 40.0


# ------------------------------------------------------------------ the measured workers


class _Stop(Exception):
    pass


def _raise_stop(_signum: int, _frame: object) -> None:
    raise _Stop


def run_worker(kind: str, interval_s: float) -> None:
    """Sample until SIGTERM, then print how many samples were taken (JSON)."""
    signal.signal(signal.SIGTERM, _raise_stop)
    if kind == "host":
        from agent.collectors.host import HostCollector

        sample: Any = HostCollector().sample
    else:
        from agent.collectors.docker_stats import DockerCollector

        sample = DockerCollector().sample
    counts = {"samples": 0, "containers": 0}

    def restart_count(_signum: int, _frame: object) -> None:
        counts["samples"] = 0  # SIGUSR1: the parent starts measuring now

    signal.signal(signal.SIGUSR1, restart_count)
    try:
        sample()  # primes the rates; not counted
        print("ready", flush=True)
        due = time.monotonic()
        while True:
            message = sample()
            if message is not None:
                message.SerializeToString()
                counts["samples"] += 1
                counts["containers"] = len(getattr(message, "containers", ()))
            due += interval_s
            delay = due - time.monotonic()
            if delay < 0:
                due = time.monotonic()  # behind (slow sample): keep the rhythm, no burst
            time.sleep(max(delay, 0.0))
    except _Stop:
        pass
    print(json.dumps(counts), flush=True)


# ------------------------------------------------------------------ measuring


@dataclass
class Measured:
    """One process (or process tree) whose CPU and memory we report."""

    label: str
    process: psutil.Process
    include_children: bool = False
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    peak_rss: int = 0
    last_rss: int = 0
    samples: int = 0
    note: str = ""
    _tree_cpu: dict[int, float] = field(default_factory=dict)

    def _members(self) -> list[psutil.Process]:
        members = [self.process]
        if self.include_children:
            with contextlib.suppress(psutil.Error):
                members += self.process.children(recursive=True)
        return members

    def cpu_seconds(self) -> float:
        for proc in self._members():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                # Children that exit keep the CPU last seen for them.
                self._tree_cpu[proc.pid] = times.user + times.system
        return sum(self._tree_cpu.values())

    def poll_memory(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.last_rss = self.process.memory_info().rss
            self.peak_rss = max(self.peak_rss, self.last_rss, _vm_hwm(self.process.pid))

    @property
    def cpu(self) -> float:
        return self.cpu_end - self.cpu_start


def _vm_hwm(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return len(response.read())


def _find_dockerd() -> psutil.Process | None:
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] == "dockerd":
            return proc
    return None


# ------------------------------------------------------------------ the run


class Run:
    """Owns every process and container of one run, and removes them in ``close``."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = f"bench-{secrets.token_hex(3)}"
        self.popen: list[subprocess.Popen[str]] = []
        self.docker: Any = None

    def close(self) -> None:
        for proc in self.popen:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.popen:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.docker is not None:
            for container in self.docker.containers.list(
                all=True, filters={"label": f"{LABEL}={self.run_id}"}
            ):
                with contextlib.suppress(Exception):
                    container.remove(force=True)
            self.docker.close()

    def start_containers(self) -> None:
        subprocess.run([str(REPO / "scripts" / "local-docker.sh")], check=True)
        import docker

        self.docker = docker.from_env(timeout=60)
        for index in range(self.args.containers):
            self.docker.containers.run(
                IMAGE,
                ["sleep", "1000000"],
                detach=True,
                network_mode="none",
                name=f"{self.run_id}-{index}",
                labels={LABEL: self.run_id},
            )

    def start_worker(self, kind: str, interval_s: float) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.agent_overhead", "--worker", kind, "--interval", str(interval_s)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.popen.append(proc)
        return proc

    def start_node_exporter(self) -> tuple[subprocess.Popen[str], str]:
        port = _free_port()
        proc = subprocess.Popen(
            [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.popen.append(proc)
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 15
        while True:
            try:
                _scrape(url)
                return proc, url
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{NODE_EXPORTER} did not answer on {url}") from None
                time.sleep(0.2)


def _wait_ready(proc: subprocess.Popen[str], label: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        raise RuntimeError(f"{label} worker failed to start (said {line!r}, exit {proc.poll()})")


def _final_report(proc: subprocess.Popen[str]) -> dict[str, int]:
    proc.terminate()
    assert proc.stdout is not None
    out, _ = proc.communicate(timeout=30)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def measure(args: argparse.Namespace) -> tuple[list[Measured], dict[str, Any]]:
    run = Run(args)
    facts: dict[str, Any] = {}
    previous_handler = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        with_docker = not args.no_docker
        if with_docker:
            print(f"starting {args.containers} busybox containers…", file=sys.stderr)
            run.start_containers()
        exporter, url = run.start_node_exporter()
        host = run.start_worker("host", args.interval)
        docker_worker = run.start_worker("docker", args.docker_interval) if with_docker else None
        _wait_ready(host, "host")
        if docker_worker is not None:
            _wait_ready(docker_worker, "docker")
        _scrape(url)  # node_exporter's first scrape does one-off set-up work

        measured = [Measured("tidewatch host collector", psutil.Process(host.pid))]
        measured.append(Measured("prometheus-node-exporter (scraped)", psutil.Process(exporter.pid)))
        engine = None
        if docker_worker is not None:
            measured.append(Measured("tidewatch docker collector", psutil.Process(docker_worker.pid)))
            dockerd = _find_dockerd()
            if dockerd is not None:
                engine = Measured("docker engine (dockerd tree)", dockerd, include_children=True)
                measured.append(engine)
        for m in measured:
            m.cpu_start = m.cpu_seconds()
        for worker in (host, docker_worker):
            if worker is not None:
                worker.send_signal(signal.SIGUSR1)

        print(f"measuring for {args.duration:.0f} s…", file=sys.stderr)
        started = time.monotonic()
        scrapes = scrape_bytes = 0
        next_tick = started
        while (now := time.monotonic()) - started < args.duration:
            if now >= next_tick:
                scrape_bytes = _scrape(url)
                scrapes += 1
                for m in measured:
                    m.poll_memory()
                    if m.include_children:
                        m.cpu_seconds()  # remember children's CPU before they exit
                next_tick += args.interval
            time.sleep(max(0.0, min(next_tick, started + args.duration) - time.monotonic()))
        elapsed = time.monotonic() - started
        for m in measured:
            m.poll_memory()
            m.cpu_end = m.cpu_seconds()

        measured[0].samples = _final_report(host).get("samples", 0)
        measured[1].samples = scrapes
        measured[1].note = f"{scrape_bytes / 1024:.0f} KiB per scrape"
        if docker_worker is not None:
            report = _final_report(docker_worker)
            measured[2].samples = report.get("samples", 0)
            measured[2].note = f"{report.get('containers', 0)} containers on the engine"
        if engine is not None:
            engine.note = "shared with anyone else using the engine"
        facts.update(elapsed_s=elapsed, containers=args.containers if with_docker else 0)
        return measured, facts
    finally:
        run.close()
        signal.signal(signal.SIGTERM, previous_handler)


def _mb(value: int) -> str:
    return f"{value / 1024 / 1024:.1f}" if value else "-"


def render(measured: list[Measured], facts: dict[str, Any], args: argparse.Namespace) -> str:
    elapsed = facts["elapsed_s"]
    lines = [
        f"Tidewatch agent overhead: {elapsed:.0f} s, interval {args.interval:g} s "
        f"(docker {args.docker_interval:g} s), {facts['containers']} busybox containers, {os.cpu_count()} CPUs",
        "",
        f"{'process':<38} {'CPU s':>8} {'CPU %':>7} {'samples':>8} {'ms CPU/sample':>14} {'peak RSS MB':>12}  notes",
    ]
    for m in measured:
        per_sample = f"{m.cpu / m.samples * 1000:.2f}" if m.samples else "-"
        lines.append(
            f"{m.label:<38} {m.cpu:>8.2f} {m.cpu / elapsed * 100:>7.2f} {m.samples or '-':>8} "
            f"{per_sample:>14} {'-' if m.include_children else _mb(m.peak_rss):>12}  {m.note}"
        )
    host, exporter = measured[0], measured[1]
    ratio = host.cpu / exporter.cpu if exporter.cpu > 0 else float("inf")
    host_mb = host.peak_rss / 1024 / 1024
    lines += [
        "",
        f"host collector CPU / node_exporter CPU = {ratio:.3f}   (goal <= {CPU_GOAL_RATIO}: "
        f"{'met' if ratio <= CPU_GOAL_RATIO else 'NOT met'})",
        f"host collector peak RSS = {host_mb:.1f} MB   (goal <= {RSS_GOAL_MB:.0f} MB: "
        f"{'met' if host_mb <= RSS_GOAL_MB else 'NOT met'})",
    ]
    if len(measured) > 2:
        docker = measured[2]
        lines.append(
            f"docker collector CPU / node_exporter CPU = {docker.cpu / exporter.cpu if exporter.cpu else float('inf'):.3f}"
            f"   (Docker is reported separately; the agent's default docker interval is 5 s)"
        )
    return "\n".join(line.rstrip() for line in lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=180.0, help="seconds to measure (default 180)")
    parser.add_argument("--interval", type=float, default=1.0, help="host sample and scrape interval (s)")
    parser.add_argument("--docker-interval", type=float, default=None, help="docker sample interval (s)")
    parser.add_argument("--containers", type=int, default=10, help="busybox containers to run")
    parser.add_argument("--no-docker", action="store_true", help="measure the host collector only")
    parser.add_argument("--worker", choices=["host", "docker"], help=argparse.SUPPRESS)
    return parser


@contextlib.contextmanager
def _interrupt_as_stop() -> Iterator[None]:
    try:
        yield
    except (KeyboardInterrupt, _Stop):
        print("interrupted; cleaned up", file=sys.stderr)
        raise SystemExit(130) from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        run_worker(args.worker, args.interval)
        return 0
    if args.docker_interval is None:
        args.docker_interval = args.interval
    with _interrupt_as_stop():
        measured, facts = measure(args)
    print(render(measured, facts, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

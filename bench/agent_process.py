"""The real ``tidewatch-agent`` process, end to end, next to node_exporter.

bench/agent_overhead.py measures the collection code alone. This measures what
runs on a customer's VPS: the whole agent (gRPC stream, batching, spool,
Docker collection of N running containers) shipping to a real collector and
TimescaleDB, at a 1 s snapshot interval, for ``--duration`` seconds. Side by
side in the same run, Debian's prometheus-node-exporter is scraped once a
second. It prints both processes' CPU seconds and peak RSS, the ratio, and
checks that every snapshot the agent took was stored. It also prints what the
crash-safe spool costs: its own CPU (the agent's thread CPU inside the spool,
from the agent's "spool closed" line), its fsyncs, and the bytes the agent
process wrote to storage (/proc/PID/io write_bytes) next to node_exporter's CPU.

    .venv/bin/python -m bench.agent_process --duration 180 --containers 10
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg

from bench.agent_overhead import CPU_GOAL_RATIO, REPO, RSS_GOAL_MB, Measured, Run, _scrape
from bench.fleet import CollectorProcess, create_bench_database, drop_bench_database, insert_vps, issue_tokens

AGENT = REPO / ".venv" / "bin" / "tidewatch-agent"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds to measure (default 180)")
    parser.add_argument("--containers", type=int, default=10, help="busybox containers to run (default 10)")
    parser.add_argument("--docker-interval", type=float, default=5.0, help="agent's Docker interval (s)")
    parser.add_argument(
        "--commit-interval-ms",
        type=int,
        default=200,
        help="spool group-commit interval (0 = fsync each append)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.no_docker = args.containers == 0
    run = Run(args)
    dsn = create_bench_database()
    workdir = Path(tempfile.mkdtemp(prefix="tidewatch-agent-bench-"))
    collector = CollectorProcess(dsn, workdir / "collector.log", {})
    agent: subprocess.Popen[bytes] | None = None
    try:
        token = issue_tokens(1, workers=1)[0]
        (vps_id,) = insert_vps(dsn, [token])
        if args.containers:
            print(f"starting {args.containers} busybox containers…", file=sys.stderr)
            run.start_containers()
        collector.wait_ready()
        exporter, url = run.start_node_exporter()
        (workdir / "agent.toml").write_text(
            f"[intervals]\nsnapshot_interval_s = 1.0\ndocker_interval_s = {args.docker_interval}\n"
            f"[features]\ndocker = {'true' if args.containers else 'false'}\n"
            f"[spool]\ncommit_interval_ms = {args.commit_interval_ms}\n"
        )
        agent_log = (workdir / "agent.log").open("wb")
        agent_started = time.monotonic()
        agent = subprocess.Popen(
            [str(AGENT)],
            env={
                "PATH": "/usr/bin:/bin",
                "TIDEWATCH_AGENT_CONFIG": str(workdir / "agent.toml"),
                "TIDEWATCH_AGENT_SERVER": collector.target,
                "TIDEWATCH_AGENT_TOKEN": token.token,
                "TIDEWATCH_AGENT_TLS": "false",
                "TIDEWATCH_AGENT_SPOOL_DIRECTORY": str(workdir / "spool"),
            },
            stdout=agent_log,
            stderr=subprocess.STDOUT,
        )
        time.sleep(5)  # start-up (imports, first Docker inspect) is not steady state
        _scrape(url)
        measured = [
            Measured("tidewatch-agent (whole process)", psutil.Process(agent.pid)),
            Measured("prometheus-node-exporter (scraped 1/s)", psutil.Process(exporter.pid)),
        ]
        for m in measured:
            m.cpu_start = m.cpu_seconds()
        io_start = _write_bytes(agent.pid)
        print(f"measuring for {args.duration:.0f} s…", file=sys.stderr)
        started = time.monotonic()
        while time.monotonic() - started < args.duration:
            _scrape(url)
            for m in measured:
                m.poll_memory()
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started) % 1.0))
        for m in measured:
            m.poll_memory()
            m.cpu_end = m.cpu_seconds()
        elapsed = time.monotonic() - started
        written = _write_bytes(agent.pid) - io_start
        # RSS counts shared library text (grpcio's core, libssl) that every process
        # mapping it shares; USS is the memory this process alone holds.
        agent_uss = psutil.Process(agent.pid).memory_full_info().uss

        agent.send_signal(signal.SIGTERM)
        agent.wait(60)
        agent_lifetime = time.monotonic() - agent_started
        log_text = (workdir / "agent.log").read_text(errors="replace")
        taken = re.findall(r"taking (\d+) snapshots and (\d+) Docker samples; (\d+) batches", log_text)
        snapshots, docker_samples, pending = map(int, taken[-1]) if taken else (-1, -1, -1)
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT count(*) FROM host_metrics WHERE vps_id = %s", (vps_id,)).fetchone()
        stored = int(row[0]) if row else 0

        agent_m, exporter_m = measured
        print(
            f"\nTidewatch agent vs node_exporter, {elapsed:.0f} s, {args.containers} running containers,"
            f" 1 s snapshots, Docker every {args.docker_interval:g} s\n"
        )
        print(f"{'process':44} {'CPU s':>8} {'CPU %':>7} {'peak RSS MB':>12}")
        for m in measured:
            print(f"{m.label:44} {m.cpu:8.2f} {100 * m.cpu / elapsed:7.2f} {m.peak_rss / 2**20:12.1f}")
        ratio = agent_m.cpu / exporter_m.cpu if exporter_m.cpu else float("inf")
        print(
            f"\nagent CPU / node_exporter CPU = {ratio:.2f}  (host collection alone: bench/agent_overhead.py;"
            f" goal for host collection <= {CPU_GOAL_RATIO})"
        )
        print(
            f"agent peak RSS = {agent_m.peak_rss / 2**20:.1f} MB (goal <= {RSS_GOAL_MB:.0f} MB),"
            f" unique (USS) at the end = {agent_uss / 2**20:.1f} MB"
        )
        print(
            f"snapshots taken {snapshots}, stored {stored}, Docker samples {docker_samples},"
            f" left pending {pending}: {'PASS' if snapshots == stored and pending == 0 else 'FAIL'}"
        )
        _print_spool(log_text, agent_lifetime, exporter_m.cpu / elapsed, written / elapsed, args)
        return 0
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
        collector.stop()
        run.close()
        drop_bench_database(dsn)


def _write_bytes(pid: int) -> int:
    """Bytes the process caused to be sent to storage (page cache writeback included)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == "write_bytes":
            return int(value)
    return 0


_SPOOL_CLOSED = re.compile(
    r"spool closed: (\d+) records \((\d+) bytes\) appended, (\d+) fsyncs taking ([\d.]+) s,"
    r" CPU ([\d.]+) s appending and ([\d.]+) s syncing"
)


def _print_spool(
    log_text: str,
    lifetime_s: float,
    exporter_cpu_share: float,
    written_per_s: float,
    args: argparse.Namespace,
) -> None:
    found = _SPOOL_CLOSED.findall(log_text)
    if not found:
        print("spool: no 'spool closed' line in the agent log")
        return
    records, appended, fsyncs, fsync_s, append_cpu, sync_cpu = found[-1]
    spool_cpu = float(append_cpu) + float(sync_cpu)
    spool_share = spool_cpu / lifetime_s
    print(
        f"\nspool (commit interval {args.commit_interval_ms} ms), over the agent's {lifetime_s:.0f} s:"
        f" {int(records)} records, {int(appended) / lifetime_s:.0f} B/s appended,"
        f" {int(fsyncs) / lifetime_s:.2f} fsyncs/s (mean {1000 * float(fsync_s) / max(1, int(fsyncs)):.2f} ms)"
    )
    print(
        f"spool CPU = {spool_cpu:.3f} s = {100 * spool_share:.3f} % of a core"
        f" = {spool_share / exporter_cpu_share if exporter_cpu_share else float('inf'):.3f}x node_exporter's CPU;"
        f" agent process wrote {written_per_s:.0f} B/s to storage (/proc/PID/io write_bytes)"
    )


if __name__ == "__main__":
    sys.exit(main())

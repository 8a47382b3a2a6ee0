"""Pure conversions from Docker Engine API JSON to ``DockerContainerInfo`` fields.

Kept apart from the collector so every rule (memory as the docker CLI counts
it, CPU % from two of our own readings, port strings) is unit-tested without
an engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.collectors.rates import counter_delta, share_percent
from agent.host_text import host_text
from proto import agent_pb2

__all__ = [
    "StatsReading",
    "container_cpu_percent",
    "describe_container",
    "format_port",
    "memory_used_bytes",
    "parse_docker_time_ms",
    "stats_reading",
]

Json = Mapping[str, Any]

_FRACTION = re.compile(r"\.(\d+)")


def parse_docker_time_ms(text: str | None) -> int:
    """An RFC 3339 time from the engine as Unix ms; 0 for Docker's "never" (year 1)."""
    if not text or text.startswith("0001-01-01"):
        return 0
    # Python takes at most 6 fractional digits; the engine writes 9.
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int(moment.timestamp() * 1000)


def format_port(port: Json) -> str:
    """One entry of the list API's ``Ports`` as ``docker ps`` prints it: ``0.0.0.0:8080->80/tcp``."""
    private = f"{port.get('PrivatePort', '')}/{port.get('Type', 'tcp')}"
    public = port.get("PublicPort")
    if not public:
        return private
    ip = str(port.get("IP") or "0.0.0.0")
    host = f"[{ip}]" if ":" in ip else ip
    return f"{host}:{public}->{private}"


def describe_container(summary: Json, details: Json | None) -> agent_pb2.DockerContainerInfo:
    """Identity and state from a list entry, with the fields only ``inspect`` has (if given)."""
    names = summary.get("Names") or []
    info = agent_pb2.DockerContainerInfo(
        container_id=str(summary.get("Id", "")),
        name=host_text(str(names[0]).lstrip("/") if names else "", "container_name"),
        image=host_text(str(summary.get("Image", "")), "container_image"),
        state=host_text(str(summary.get("State", "")), "container_state"),
        status=host_text(str(summary.get("Status", "")), "container_status"),
        created_unix_ms=int(summary.get("Created", 0)) * 1000,
        labels={
            host_text(str(k), "container_label"): host_text(str(v), "container_label")
            for k, v in (summary.get("Labels") or {}).items()
        },
        ports=sorted({host_text(format_port(p), "container_port") for p in summary.get("Ports") or []}),
    )
    if details:
        state = details.get("State") or {}
        info.created_unix_ms = parse_docker_time_ms(details.get("Created")) or info.created_unix_ms
        info.started_unix_ms = parse_docker_time_ms(state.get("StartedAt"))
        info.finished_unix_ms = parse_docker_time_ms(state.get("FinishedAt"))
        info.restart_count = int(details.get("RestartCount") or 0)
        info.exit_code = int(state.get("ExitCode") or 0)
        info.oom_killed = bool(state.get("OOMKilled"))
    return info


def memory_used_bytes(memory_stats: Json) -> int:
    """Memory in use as ``docker stats`` shows it: usage without the inactive page cache."""
    usage = int(memory_stats.get("usage") or 0)
    stats = memory_stats.get("stats") or {}
    # cgroup v1 reports total_inactive_file, cgroup v2 inactive_file.
    inactive = stats.get("total_inactive_file", stats.get("inactive_file"))
    if inactive is not None and 0 <= int(inactive) < usage:
        return usage - int(inactive)
    return usage


@dataclass(frozen=True, slots=True)
class StatsReading:
    """What one one-shot stats call tells us about a running container."""

    cpu_total_ns: int
    system_cpu_ns: int
    online_cpus: int
    read_ms: int
    memory_used_bytes: int
    memory_limit_bytes: int
    network_rx_bytes: int
    network_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int
    pids: int


def stats_reading(stats: Json) -> StatsReading:
    """Parse a ``GET /containers/{id}/stats?stream=false&one-shot=true`` body."""
    cpu = stats.get("cpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    memory = stats.get("memory_stats") or {}
    networks = (stats.get("networks") or {}).values()
    block_read = block_write = 0
    for entry in (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            block_read += int(entry.get("value") or 0)
        elif op == "write":
            block_write += int(entry.get("value") or 0)
    return StatsReading(
        cpu_total_ns=int(usage.get("total_usage") or 0),
        system_cpu_ns=int(cpu.get("system_cpu_usage") or 0),
        online_cpus=int(cpu.get("online_cpus") or len(usage.get("percpu_usage") or []) or 1),
        read_ms=parse_docker_time_ms(stats.get("read")),
        memory_used_bytes=memory_used_bytes(memory),
        memory_limit_bytes=int(memory.get("limit") or 0),
        network_rx_bytes=sum(int(n.get("rx_bytes") or 0) for n in networks),
        network_tx_bytes=sum(int(n.get("tx_bytes") or 0) for n in networks),
        block_read_bytes=block_read,
        block_write_bytes=block_write,
        pids=int((stats.get("pids_stats") or {}).get("current") or 0),
    )


def container_cpu_percent(previous: StatsReading, current: StatsReading) -> float | None:
    """CPU % between two of our readings, as ``docker stats`` computes it (100 = one CPU).

    Against the host's CPU time when the engine reports it, else against wall
    time. None when the two readings are the same moment.
    """
    used_ns = counter_delta(previous.cpu_total_ns, current.cpu_total_ns)
    system_ns = current.system_cpu_ns - previous.system_cpu_ns
    if previous.system_cpu_ns and system_ns > 0:
        return share_percent(used_ns, system_ns, scale=current.online_cpus)
    wall_ns = (current.read_ms - previous.read_ms) * 1_000_000
    if wall_ns > 0:
        return share_percent(used_ns, wall_ns)
    return None

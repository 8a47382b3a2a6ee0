"""Realistic synthetic agent messages for tests and benchmarks.

Shapes follow a small VPS: a few disks, interfaces and containers. Values are
deterministic for a given seed so tests can count and compare exactly.
"""

from __future__ import annotations

import random
import time

from proto import agent_pb2

__all__ = ["docker_batch", "now_ms", "performance_batch", "snapshot"]

GIB = 1024**3


def now_ms() -> int:
    return int(time.time() * 1000)


def snapshot(
    timestamp_ms: int, *, disks: int = 4, interfaces: int = 3, cores: int = 2, seed: int = 0
) -> agent_pb2.PerformanceSnapshot:
    rng = random.Random(timestamp_ms * 31 + seed)
    per_core = [round(rng.uniform(0, 100), 2) for _ in range(cores)]
    return agent_pb2.PerformanceSnapshot(
        timestamp_unix_ms=timestamp_ms,
        cpu_percent=sum(per_core) / cores,
        cpu_per_core_percent=per_core,
        cpu_user_percent=rng.uniform(0, 50),
        cpu_system_percent=rng.uniform(0, 20),
        cpu_iowait_percent=rng.uniform(0, 5),
        cpu_steal_percent=rng.uniform(0, 1),
        load_1=rng.uniform(0, 4),
        load_5=rng.uniform(0, 3),
        load_15=rng.uniform(0, 2),
        memory_total_bytes=4 * GIB,
        memory_used_bytes=rng.randrange(GIB, 3 * GIB),
        memory_available_bytes=rng.randrange(GIB, 3 * GIB),
        memory_cached_bytes=rng.randrange(0, GIB),
        memory_buffers_bytes=rng.randrange(0, GIB // 4),
        swap_total_bytes=GIB,
        swap_used_bytes=rng.randrange(0, GIB // 8),
        disks=[
            agent_pb2.DiskUsage(
                mountpoint="/" if i == 0 else f"/data{i}",
                device=f"/dev/vd{chr(97 + i)}1",
                fstype="ext4",
                total_bytes=100 * GIB,
                used_bytes=(40 + i) * GIB,
                free_bytes=(60 - i) * GIB,
                inodes_total=6_000_000,
                inodes_used=300_000 + i,
            )
            for i in range(disks)
        ],
        disk_io=[
            agent_pb2.DiskIoStats(
                device=f"vd{chr(97 + i)}",
                read_bytes_per_second=rng.uniform(0, 1e6),
                write_bytes_per_second=rng.uniform(0, 1e6),
                read_ops_per_second=rng.uniform(0, 100),
                write_ops_per_second=rng.uniform(0, 100),
            )
            for i in range(max(1, disks // 2))
        ],
        network_interfaces=[
            agent_pb2.NetworkInterfaceStats(
                interface=f"eth{i}",
                rx_bytes_per_second=rng.uniform(0, 1e6),
                tx_bytes_per_second=rng.uniform(0, 1e6),
                rx_packets_per_second=rng.uniform(0, 1e3),
                tx_packets_per_second=rng.uniform(0, 1e3),
                rx_bytes_delta=rng.randrange(0, 10**6),
                tx_bytes_delta=rng.randrange(0, 10**6),
                rx_bytes_counter=10**9,
                tx_bytes_counter=10**9,
            )
            for i in range(interfaces)
        ],
        tcp_connections=rng.randrange(0, 500),
        udp_connections=rng.randrange(0, 50),
        process_count=rng.randrange(50, 300),
        uptime_seconds=86_400,
        memory_shared_bytes=rng.randrange(0, GIB // 8),
    )


def performance_batch(
    sequence: int, timestamps_ms: list[int], **shape: int
) -> agent_pb2.PerformanceSnapshotBatch:
    return agent_pb2.PerformanceSnapshotBatch(
        sequence=sequence, snapshots=[snapshot(t, **shape) for t in timestamps_ms]
    )


def docker_batch(sequence: int, timestamp_ms: int, *, containers: int = 10) -> agent_pb2.DockerInfoBatch:
    rng = random.Random(timestamp_ms)
    return agent_pb2.DockerInfoBatch(
        sequence=sequence,
        timestamp_unix_ms=timestamp_ms,
        docker_available=True,
        containers=[
            agent_pb2.DockerContainerInfo(
                container_id=f"{i:064x}",
                name=f"app-{i}",
                image="busybox:latest",
                state="running",
                status="Up 3 hours",
                created_unix_ms=timestamp_ms - 10_800_000,
                started_unix_ms=timestamp_ms - 10_800_000,
                labels={"com.example.role": "web"},
                ports=["0.0.0.0:8080->80/tcp"],
                has_stats=True,
                cpu_percent=rng.uniform(0, 100),
                memory_usage_bytes=rng.randrange(10**6, 10**8),
                memory_limit_bytes=4 * GIB,
                network_rx_bytes=rng.randrange(0, 10**9),
                network_tx_bytes=rng.randrange(0, 10**9),
                block_read_bytes=rng.randrange(0, 10**9),
                block_write_bytes=rng.randrange(0, 10**9),
                pids=rng.randrange(1, 50),
            )
            for i in range(containers)
        ],
    )

"""``tidewatch-agent --once``: one sample of everything, as JSON, for diagnosis.

Rates need two readings, so this samples twice about a second apart; the
output shows exactly what the agent would send.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from agent.collectors.host import HostCollector
from agent.collectors.host_info import collect_host_info

__all__ = ["run_once"]

_INTERVAL_S = 1.0


def _as_dict(message: Message | None) -> dict[str, Any] | None:
    if message is None:
        return None
    as_dict: dict[str, Any] = MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return as_dict


def run_once(*, with_docker: bool = True, generic_metrics_directory: Path | None = None) -> str:
    """Host info, a snapshot with real rates, Docker (unless disabled) and custom metrics (if a directory is given), as pretty JSON."""
    report: dict[str, Any] = {"host_info": _as_dict(collect_host_info())}
    host = HostCollector()
    docker = None
    if with_docker:
        from agent.collectors.docker_stats import DockerCollector

        docker = DockerCollector()
    try:
        started = time.monotonic()
        host.sample()
        if docker is not None:
            docker.sample()  # primes per-container CPU; takes up to a second itself
        time.sleep(max(0.0, _INTERVAL_S - (time.monotonic() - started)))
        report["snapshot"] = _as_dict(host.sample())
        if docker is not None:
            report["docker"] = _as_dict(docker.sample())
    finally:
        host.close()
        if docker is not None:
            docker.close()
    if generic_metrics_directory is not None:
        from agent.collectors.generic import GenericMetricsReader

        reader = GenericMetricsReader(generic_metrics_directory)
        try:
            report["generic_metrics"] = [_as_dict(metric) for metric in reader.sample()]
        finally:
            reader.close()
    return json.dumps(report, indent=2, sort_keys=False)

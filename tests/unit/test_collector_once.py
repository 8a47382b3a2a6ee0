"""``run_once`` output, and the agent's collectors staying free of server-side libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agent.once import run_once


def test_run_once_without_docker_prints_real_rates(tmp_path: Path) -> None:
    (tmp_path / "x.prom").write_text('custom_total{k="v"} 5\n')
    report = json.loads(run_once(with_docker=False, generic_metrics_directory=tmp_path))
    assert set(report) == {"host_info", "snapshot", "generic_metrics"}
    assert report["host_info"]["hostname"]
    snapshot = report["snapshot"]
    assert int(snapshot["timestamp_unix_ms"]) > 0
    assert "cpu_percent" in snapshot  # printed even when zero, for diagnosis
    assert snapshot["cpu_per_core_percent"]
    assert report["generic_metrics"][0]["name"] == "custom_total"


FORBIDDEN = ("pandas", "dash", "psycopg", "litestar", "msgspec", "collector", "api", "dashboards")


def test_collectors_import_no_server_side_libraries() -> None:
    code = (
        "import sys\n"
        "import agent.once, agent.collectors.host, agent.collectors.host_info, agent.collectors.generic\n"
        "import agent.collectors.docker_stats\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

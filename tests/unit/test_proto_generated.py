"""Generated protocol code is never edited by hand and never stale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ("agent_pb2.py", "agent_pb2.pyi", "agent_pb2_grpc.py")


def test_regenerating_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "proto").mkdir()
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "gen-proto.sh"), str(tmp_path)],
        check=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    for name in GENERATED:
        fresh = (tmp_path / "proto" / name).read_text()
        committed = (ROOT / "proto" / name).read_text()
        assert fresh == committed, f"proto/{name} is stale: run scripts/gen-proto.sh and commit the result"


def test_generated_code_matches_the_runtime() -> None:
    from proto import agent_pb2

    message = agent_pb2.MessageToServer(heartbeat=agent_pb2.Heartbeat(timestamp_unix_ms=1))
    assert agent_pb2.MessageToServer.FromString(message.SerializeToString()) == message

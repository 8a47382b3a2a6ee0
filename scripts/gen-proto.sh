#!/usr/bin/env bash
# Regenerate the Python code for proto/agent.proto. The only way generated
# code is made; tests/unit/test_proto_generated.py fails if it is stale.
# grpcio-tools is pinned in pyproject.toml (dev extra).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-.}"
PY="${PYTHON:-python3}"
"$PY" -m grpc_tools.protoc -I . --python_out="$OUT" --pyi_out="$OUT" --grpc_python_out="$OUT" proto/agent.proto

#!/usr/bin/env bash
# Run the whole test suite on a fresh Debian machine: installs what it needs,
# provisions the local TimescaleDB and Docker engine, then runs pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k collector).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\033[1m[test]\033[0m %s\n' "$*" >&2; }

bash scripts/setup.sh --test
step "starting the local TimescaleDB…"
bash scripts/local-db.sh >/dev/null
step "starting the Docker engine…"
bash scripts/local-docker.sh
mkdir -p artifacts/screenshots
step "lint: ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { step "ruff format would change files: run .venv/bin/ruff format ."; exit 1; }
step "types: mypy --strict"
.venv/bin/mypy agent collector common api dashboards tests bench
step "running pytest…"
exec .venv/bin/pytest -p no:cacheprovider --junitxml=artifacts/junit.xml "$@"

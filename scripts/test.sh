#!/usr/bin/env bash
# Run the whole test suite on a fresh Debian machine: installs what it needs,
# provisions the local TimescaleDB and Docker engine, then runs pytest: every
# test on the Apache edition, then the storage tests (-m storage) on the
# Community edition, the one compose.yaml runs. The Community server is built
# once per machine from ../shared/vendor/timescaledb-2.19.3.tar.gz (override:
# TIDEWATCH_TIMESCALEDB_SOURCE); without it the second run is left out, loudly,
# except in CI (CI=true), where that is a failure.
# Extra arguments go to both pytest runs (e.g. scripts/test.sh -k collector).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\033[1m[test]\033[0m %s\n' "$*" >&2; }

bash scripts/setup.sh --test
step "starting the local TimescaleDB…"
bash scripts/local-db.sh >/dev/null
step "starting the Community-edition TimescaleDB (built once per machine, about 5 minutes)…"
community_status=0
COMMUNITY_DSN="$(bash scripts/local-db.sh --edition timescale)" || community_status=$?
if [[ $community_status -eq 3 && "${CI:-}" != true ]]; then
    step "WARNING: no Community-edition server; the storage tests run on the Apache edition only."
    COMMUNITY_DSN=""
elif [[ $community_status -ne 0 ]]; then
    step "the Community-edition server could not be provisioned (see above); in CI it is required"
    exit 1
fi
step "starting the Docker engine…"
bash scripts/local-docker.sh
step "preparing the clean Debian image for the one-line install test (debootstrap once per machine)…"
bash scripts/clean-debian-image.sh >/dev/null
mkdir -p artifacts/screenshots
step "lint: ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { step "ruff format would change files: run .venv/bin/ruff format ."; exit 1; }
step "types: mypy --strict"
.venv/bin/mypy agent collector common api dashboards alerts tests bench
step "running pytest (every test; Apache edition)…"
status=0
.venv/bin/pytest -p no:cacheprovider --junitxml=artifacts/junit.xml "$@" || status=$?
if [[ -n "$COMMUNITY_DSN" ]]; then
    step "running pytest -m storage on the Community edition…"
    TIDEWATCH_DSN="$COMMUNITY_DSN" .venv/bin/pytest -p no:cacheprovider -m storage \
        --junitxml=artifacts/junit-timescale.xml "$@" || status=$?
else
    step "WARNING: storage tests NOT run on the Community edition (see above)."
fi
exit "$status"

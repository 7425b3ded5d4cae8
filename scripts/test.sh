#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, lint, then pytest. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
./scripts/bootstrap.sh
./scripts/system_deps.sh
./scripts/lint.sh
# two workers (the machine's cores); each test folder stays on one worker — see tests/conftest.py
uv run --frozen --no-sync pytest -n "${PYTEST_WORKERS:-2}" --no-loadscope-reorder "$@"

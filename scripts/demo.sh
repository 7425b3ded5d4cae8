#!/usr/bin/env bash
# The main job on a fresh machine: set-up, then the nightly pipeline end to end on embedded defaults
# (sample shop, local API emulators on loopback, DuckDB, SQLite Airflow DB). Arguments go to testbed.demo.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
./scripts/bootstrap.sh
exec uv run --frozen --no-sync python -m testbed.demo "$@"

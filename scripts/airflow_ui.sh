#!/usr/bin/env bash
# Starts Airflow locally (scheduler, dag-processor, triggerer, API server + UI) with the project's DAGs.
# UI on http://127.0.0.1:${AIRFLOW_UI_PORT:-8080}; loopback only, every local user is admin (no generated password to leak).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
./scripts/bootstrap.sh
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="${AIRFLOW_UI_PORT:-8080}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
echo "[airflow-ui] http://127.0.0.1:${AIRFLOW__API__PORT} (Ctrl-C to stop)"
exec uv run --frozen --no-sync airflow standalone

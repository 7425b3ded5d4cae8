#!/usr/bin/env bash
# Creates the environment from the lock file and initialises the Airflow metadata DB. Safe to run again.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

if ! command -v uv >/dev/null 2>&1; then
  echo "[bootstrap] installing uv"
  python3 -m pip install --quiet "uv==0.13.9" || python3 -m pip install --quiet --user "uv==0.13.9"
  export PATH="$HOME/.local/bin:$PATH"
fi
echo "[bootstrap] syncing the locked environment (.venv)"
uv sync --frozen --quiet
mkdir -p "$AIRFLOW_HOME" "$CRM_DATA_DIR"
echo "[bootstrap] initialising the Airflow metadata DB ($AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)"
uv run --frozen --no-sync airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 \
  || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
uv run --frozen --no-sync airflow pools import include/airflow/pools.json >>"$AIRFLOW_HOME/db-migrate.log" 2>&1 \
  || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
if [ -f dbt_project/dbt_project.yml ]; then
  echo "[bootstrap] parsing the dbt project (manifest for Cosmos)"
  (cd dbt_project && uv run --frozen --no-sync dbt parse --quiet --profiles-dir . --target duckdb \
     --vars '{run_date: "2026-01-01"}') || { echo "[bootstrap] dbt parse failed"; exit 1; }
fi

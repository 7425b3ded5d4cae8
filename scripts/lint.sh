#!/usr/bin/env bash
# Lint: ruff (with Airflow rules) on Python, sqlfluff (dbt templater) on the dbt models.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
uv run --frozen --no-sync ruff check .
uv run --frozen --no-sync ruff format --check .
# one direction of imports, no import cycles (contracts: pyproject.toml [tool.importlinter])
uv run --frozen --no-sync lint-imports --no-cache
# dbt models: lowercase, trailing commas, 80 columns (dbt templater, in-memory DuckDB target "lint")
uv run --frozen --no-sync sqlfluff lint dbt_project/models dbt_project/tests/assertions --disable-progress-bar --nocolor

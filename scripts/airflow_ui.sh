#!/usr/bin/env bash
# Starts Airflow locally (scheduler, dag-processor, triggerer, API server + UI) with the project's DAGs.
# UI on http://127.0.0.1:${AIRFLOW_UI_PORT:-8080} (loopback only), with a login: user `admin` and a password generated
# for this session, shown once below on the terminal. The password lives only in a private temporary file (0600, in a
# 0700 folder) that Airflow's simple auth manager reads and that is deleted when this script stops; Airflow itself
# does not echo it (the user already has a password), so it is in no log. AIRFLOW_UI_PASSWORD chooses it instead.
# New DAGs start paused: nothing is scheduled or sent until you unpause a DAG (README: from the demo to a deployment).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
./scripts/bootstrap.sh

secrets_dir="$(mktemp -d "${TMPDIR:-/tmp}/crm-airflow-ui.XXXXXX")"
chmod 700 "$secrets_dir"
cleanup() { rm -rf "$secrets_dir"; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

password="${AIRFLOW_UI_PASSWORD:-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')}"
(umask 077 && printf '{"admin": "%s"}\n' "$password" >"$secrets_dir/passwords.json")

export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="${AIRFLOW_UI_PORT:-8080}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=False
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$secrets_dir/passwords.json"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
echo "[airflow-ui] http://127.0.0.1:${AIRFLOW__API__PORT}  login: admin / ${password}  (shown once; Ctrl-C to stop)"
unset password
uv run --frozen --no-sync airflow standalone

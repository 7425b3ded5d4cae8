#!/bin/bash
# Runs once, when the PostgreSQL volume is created (docker-entrypoint-initdb.d), after 10-crm.sql created crm_ledger:
# gives the send ledger its own login role, with the password from CRM_LEDGER_DB_PASSWORD (.env), as the owner of the
# crm_ledger database. Airflow's role and password are not reused for the ledger.
set -euo pipefail
: "${CRM_LEDGER_DB_PASSWORD:?set CRM_LEDGER_DB_PASSWORD in .env (see .env.example)}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v ledger_password="$CRM_LEDGER_DB_PASSWORD" <<'SQL'
CREATE ROLE crm_ledger LOGIN PASSWORD :'ledger_password';
ALTER DATABASE crm_ledger OWNER TO crm_ledger;
REVOKE ALL ON DATABASE crm_ledger FROM PUBLIC;
GRANT ALL ON DATABASE crm_ledger TO crm_ledger;
SQL

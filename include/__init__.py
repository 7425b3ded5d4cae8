"""Shared product code at the bottom of the import direction: core (settings, connections, contracts, business rules,
time zone, PII, HTTP) and extraction (dlt sources); plus supporting files (campaign YAML, Airflow pools).
Nothing here imports the task logic, outputs, activation or quality gates above it."""

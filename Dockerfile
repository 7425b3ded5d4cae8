# Airflow image with this project installed from its lock file (not _PIP_ADDITIONAL_REQUIREMENTS).
# Build context: the repository root. Two targets:
#   product (the default, last stage): what docker-compose.yml runs for every Airflow service; the product packages
#           only: no sample shop, no API emulators, no benchmarks (testbed/ and benchmarks/ are never copied).
#   testbed: the product plus the sample shop and the emulators, for the compose `emulators` profile.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:slim-${AIRFLOW_VERSION}-python${PYTHON_VERSION} AS base

ENV CRM_HOME=/opt/crm \
    DO_NOT_TRACK=1 \
    SCARF_ANALYTICS=false \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    GX_ANALYTICS_ENABLED=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    RUNTIME__DLTHUB_TELEMETRY=false

USER airflow
WORKDIR /opt/crm

# Dependencies first (cached layer): the exact versions of uv.lock, without dev tools.
COPY --chown=airflow:0 pyproject.toml uv.lock README.md ./
RUN pip install --no-cache-dir "uv==0.13.9" \
 && uv export --frozen --no-default-groups --no-hashes --no-emit-project -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt

# Then the project's packages and the dbt project; the manifest is parsed at build time so DAG parsing stays fast.
COPY --chown=airflow:0 activation ./activation
COPY --chown=airflow:0 include ./include
COPY --chown=airflow:0 pipeline ./pipeline
COPY --chown=airflow:0 outputs ./outputs
COPY --chown=airflow:0 expectations ./expectations
COPY --chown=airflow:0 dbt_project ./dbt_project
COPY --chown=airflow:0 dags ./dags
RUN pip install --no-cache-dir --no-deps -e . \
 && cd dbt_project && CRM_WAREHOUSE_PATH=/tmp/parse.duckdb dbt parse --profiles-dir . --target duckdb --vars '{run_date: "2026-01-01"}'

ENV PYTHONPATH=/opt/crm \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/crm/dags \
    CRM_DATA_DIR=/opt/crm/data

# The sample shop and the API emulators on top of the product (docker compose --profile emulators).
FROM base AS testbed
RUN uv export --frozen --only-group testbed --no-hashes --no-emit-project -o /tmp/testbed.txt \
 && pip install --no-cache-dir -r /tmp/testbed.txt
COPY --chown=airflow:0 testbed ./testbed

# The production image (default target): the product only.
FROM base AS product

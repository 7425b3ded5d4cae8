"""Airflow Assets the pipeline publishes: the nightly audiences, consumed by the campaign DAGs."""

from __future__ import annotations

from airflow.sdk import Asset

# Published by crm_nightly once the audience tables of a data date passed the marts gate; its event extra carries
# {"data_date": "YYYY-MM-DD", "run_id": ...} so asset-triggered campaign DAGs know which date to send for.
AUDIENCES = Asset(name="crm_audiences", uri="duckdb://warehouse/audiences", group="crm")

"""Extraction into the raw layer with dlt: storefront files and snapshots, event drops, shared contract helpers.

Modules import dlt/duckdb/pyarrow at the top, so import them inside tasks, not in DAG files. dlt settings the
project relies on are defaulted here, before any submodule imports dlt (environment variables still win):
Arrow loads get ``_dlt_load_id``/``_dlt_id`` like JSON loads, merge staging copies are emptied after each load, and
dlt does not probe Airflow Variables for a secrets TOML (credentials are passed explicitly; the probe costs seconds
per process and a metadata-DB round trip).
"""

import os

DLT_DEFAULTS = {
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "true",
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID": "true",
    "LOAD__TRUNCATE_STAGING_DATASET": "true",
    "PROVIDERS__ENABLE_AIRFLOW_SECRETS": "false",
}


def apply_dlt_defaults() -> None:
    """Sets the defaults (unless the environment already chose); called at import and before every pipeline, because
    dlt reads them from the environment at each run and a caller may have replaced the environment since."""
    for key, value in DLT_DEFAULTS.items():
        os.environ.setdefault(key, value)


apply_dlt_defaults()

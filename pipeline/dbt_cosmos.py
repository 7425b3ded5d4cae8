"""Cosmos configuration of the dbt project for the DAGs, rendered from a pre-built manifest so parsing stays fast.

The manifest (``dbt_project/target/manifest.json``) is produced by ``scripts/bootstrap.sh`` (``dbt parse``) and by the
Docker image build; the DAG file only reads it. Profiles come from ``dbt_project/profiles.yml`` whose targets read the
warehouse location and database credentials from the environment (Airflow connections in production).
"""

from __future__ import annotations

import os
from pathlib import Path

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from include.core.settings import REPO_ROOT

DBT_PROJECT_DIR = Path(os.environ.get("CRM_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"))
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


def project_config() -> ProjectConfig:
    config = ProjectConfig(
        dbt_project_path=DBT_PROJECT_DIR,
        manifest_path=MANIFEST,
        project_name="crm",
        partial_parse=True,
    )
    # Cosmos wraps every manifest path in an ObjectStoragePath; reading one records hook lineage, and the lineage
    # collector loads every Airflow plugin on first use — Cosmos' own FastAPI docs plugin alone costs ~0.45 s of each
    # parse of crm_nightly.py (benchmarks/dag_parse.py). The manifest is a local file: Cosmos reads it as a `Path`
    # (a type its ProjectConfig declares) with the same `exists()`/`open()` calls.
    config.manifest_path = MANIFEST
    return config


def profile_config() -> ProfileConfig:
    return ProfileConfig(
        profile_name="crm",
        target_name=os.environ.get("CRM_DBT_TARGET", "duckdb"),
        profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
    )


def execution_config() -> ExecutionConfig:
    return ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER)


def dbt_env() -> dict[str, str]:
    """Where dbt finds the warehouse: an absolute path (Cosmos runs dbt from a temporary copy of the project)."""
    from include.core.settings import get_settings

    st = get_settings()
    return {"CRM_WAREHOUSE_PATH": str(st.warehouse.resolve()), "CRM_DBT_TARGET": st.dbt_target}


def render_config() -> RenderConfig:
    """One task per model (`dbt run`/`seed`/`snapshot`), then one task running every data and unit test.

    Tests spanning several models (relationships, singular assertions) need all their parents built, which per-model
    `dbt build` tasks cannot guarantee (dbt's eager selection runs them with the first parent). The marts gate runs after
    the tests.
    """
    return RenderConfig(
        load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_ALL, emit_datasets=False
    )

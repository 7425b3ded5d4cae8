"""Paths and switches, from environment variables with repo-relative defaults.

One switch (``CRM_ENV``) tells local from production; everything else is a path or URL that
defaults to a folder under ``CRM_DATA_DIR`` (``<repo>/data``). Secrets never live here: API
credentials come from Airflow connections (``AIRFLOW_CONN_*``), see :mod:`include.core.connections`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Runtime settings; every field can be overridden by ``CRM_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    env: str = Field("local", description="local | production")
    data_dir: Path = Field(REPO_ROOT / "data", description="root of every local artifact")
    warehouse_path: Path | None = Field(None, description="DuckDB warehouse file")
    ledger_url: str | None = Field(None, description="SQLAlchemy URL of the send ledger")
    shop_dir: Path | None = Field(None, description="backing store of the storefront emulator")
    event_drop_url: str | None = Field(None, description="folder or fsspec URL of daily event drops")
    runs_dir: Path | None = Field(None, description="per-run artifacts (reports, exports)")
    dlt_dir: Path | None = Field(None, description="dlt pipelines' working folder (state)")
    campaigns_dir: Path = Field(REPO_ROOT / "include" / "campaigns", description="campaign YAML files")
    dbt_project_dir: Path = Field(REPO_ROOT / "dbt_project")
    dbt_target: str = Field("duckdb", description="dbt target: duckdb | postgres")
    storefront: str = Field("cafe24", description="storefront API: cafe24 | shopify")
    event_lookback_days: int = Field(1, description="earlier event drops re-read for late events")
    export_contact_mode: str = Field("mask", description="contacts in audience exports: mask | hash | plain")

    @property
    def warehouse(self) -> Path:
        return self.warehouse_path or self.data_dir / "warehouse.duckdb"

    @property
    def ledger(self) -> str:
        return self.ledger_url or f"sqlite:///{self.data_dir / 'ledger.sqlite'}"

    @property
    def shop(self) -> Path:
        return self.shop_dir or self.data_dir / "shop"

    @property
    def event_drops(self) -> str:
        return self.event_drop_url or str(self.data_dir / "drops" / "events")

    @property
    def runs(self) -> Path:
        return self.runs_dir or self.data_dir / "runs"

    @property
    def dlt(self) -> Path:
        return self.dlt_dir or self.data_dir / "dlt"

    def run_dir(self, data_date: str) -> Path:
        """Artifacts of the run for one data date (``YYYY-MM-DD``)."""
        return self.runs / data_date


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process (tests call ``get_settings.cache_clear()`` after changing env)."""
    return Settings()

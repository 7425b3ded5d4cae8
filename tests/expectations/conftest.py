"""Fixtures of the quality-gate tests: a clean synthetic raw warehouse (built once, copied per test)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gx_helpers import DATA_DATE, N_CUSTOMERS

from testbed.synthetic import SyntheticWarehouse, build_raw_warehouse


@pytest.fixture(scope="session")
def template_warehouse(tmp_path_factory) -> SyntheticWarehouse:
    path = tmp_path_factory.mktemp("template") / "warehouse.duckdb"
    return build_raw_warehouse(path, DATA_DATE, N_CUSTOMERS)


@pytest.fixture
def wh(template_warehouse: SyntheticWarehouse, tmp_path: Path) -> SyntheticWarehouse:
    """A fresh copy of the clean warehouse for one test."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(template_warehouse.path, path)
    return SyntheticWarehouse(path, template_warehouse.data_date, template_warehouse.load_ids)


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    return tmp_path / "quality"

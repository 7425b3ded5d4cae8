"""Fixtures of the dbt tests: one generated shop per session, built once on DuckDB and once on PostgreSQL.

The shop is small (1,500 members, 60 days of events, ~3 years of orders) so the whole folder stays within a few
minutes; both builds read the same raw data (the shop as of the end of 2026-11-22, every event drop, and the same
ledger export), which is what lets the PostgreSQL test compare the two row for row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dbt_helpers import END, PG_ADMIN, load_raw, pg_url, run_dbt, write_send_log

EVENT_DAYS = 60


@dataclass(frozen=True)
class Shop:
    """A generated shop: Parquet tables and event drop folders."""

    shop_dir: Path
    drops_dir: Path


@dataclass(frozen=True)
class Build:
    """A finished ``dbt build`` for END: where it ran and what dbt printed."""

    workdir: Path
    stdout: str
    warehouse: Path | None = None
    pg_db: str | None = None


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    from testbed.shop import generate_shop

    root = tmp_path_factory.mktemp("dbt_shop")
    generate_shop(root / "shop", root / "drops", customers=1_500, days=EVENT_DAYS, end_date=END, seed=7)
    return Shop(root / "shop", root / "drops")


@pytest.fixture(scope="session")
def duckdb_build(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The full ``dbt build`` (models, snapshots, seeds, data tests, unit tests) on a DuckDB warehouse."""
    import duckdb

    work = tmp_path_factory.mktemp("dbt_duckdb")
    warehouse = work / "warehouse.duckdb"
    load_raw(warehouse, shop.shop_dir, shop.drops_dir, END, lookback_days=EVENT_DAYS + 1)
    with duckdb.connect(str(warehouse)) as con:
        write_send_log(con, "qmark")
    proc = run_dbt(["build"], run_date=END, workdir=work, warehouse=warehouse)
    return Build(work, proc.stdout, warehouse=warehouse)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (C collation, like DuckDB's byte order), dropped at the end.

    A missing PostgreSQL fails here: the portability promise is tested, never skipped.
    """
    import psycopg

    name = f"crm_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required on {PG_ADMIN} for the portability tests: {exc}")
    with admin:
        admin.execute(
            f"create database {name} template template0 encoding 'UTF8' lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'"
        )
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")


@pytest.fixture(scope="session")
def postgres_build(shop: Shop, pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The same full ``dbt build`` on PostgreSQL, from the same raw data."""
    import psycopg

    work = tmp_path_factory.mktemp("dbt_postgres")
    load_raw(pg_url(pg_database), shop.shop_dir, shop.drops_dir, END, lookback_days=EVENT_DAYS + 1)
    with psycopg.connect(pg_url(pg_database)) as con:
        write_send_log(con, "format")
    proc = run_dbt(["build"], run_date=END, workdir=work, pg_db=pg_database)
    return Build(work, proc.stdout, pg_db=pg_database)

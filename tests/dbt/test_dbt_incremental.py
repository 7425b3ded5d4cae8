"""Nightly incremental runs equal a full refresh of the same data, and a one-run backfill equals the nightly runs.

A warehouse is driven like production for three data dates: each night the shop is loaded as of the end of the date
(new orders, status changes, refunds) with the drop folders of the date and the day before (late events), then dbt
runs for the date. The result is compared with (1) ``dbt build --full-refresh`` of the same warehouse and (2) a
fresh warehouse with the same raw data built in ONE run with ``backfill_start_date``.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import duckdb
import pytest
from dbt_helpers import BUILD_MODELS, END, OUTPUT_SCHEMAS, assert_same_rows, fetch, load_raw, run_dbt

pytestmark = pytest.mark.integration

NIGHTS = [END - timedelta(days=2), END - timedelta(days=1), END]
INCREMENTAL_FACTS = ["marts.fct_events", "marts.fct_orders", "marts.fct_inflow_funnel_daily"]
HISTORY = [
    "marts.fct_customer_segments_daily",
    "marts.fct_customer_tiers_daily",
    "marts.fct_segment_transitions",
    "marts.fct_tier_transitions",
]


def _tables(warehouse, names: list[str]) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {name: fetch(con, f"select * from {name}") for name in names}


@pytest.fixture(scope="module")
def nightly(shop, tmp_path_factory):
    """Three nightly runs on a growing raw layer; returns the warehouse and a copy of its raw layer before the last."""
    work = tmp_path_factory.mktemp("dbt_nightly")
    warehouse = work / "nightly.duckdb"
    for i, night in enumerate(NIGHTS):
        load_raw(warehouse, shop.shop_dir, shop.drops_dir, night, lookback_days=70 if i == 0 else 1)
        run_dbt(BUILD_MODELS, run_date=night, workdir=work, warehouse=warehouse)
    return work, warehouse


def test_nightly_history_covers_the_recomputed_days(nightly) -> None:
    _, warehouse = nightly
    with duckdb.connect(str(warehouse), read_only=True) as con:
        dates = [
            r[0]
            for r in con.execute(
                "select distinct segment_date from marts.fct_customer_segments_daily"
            ).fetchall()
        ]
        late = con.execute("select count(*) from marts.fct_events where drop_date > event_date").fetchone()[0]
    # first night: D-2 and the 3 days before it; every later night adds its date
    assert sorted(dates) == [END - timedelta(days=n) for n in range(5, -1, -1)]
    assert late > 0, "the drops carry late events: the lookback has something to catch"


def test_incremental_facts_equal_full_refresh(nightly, tmp_path) -> None:
    work, warehouse = nightly
    incremental = _tables(warehouse, INCREMENTAL_FACTS + HISTORY)
    refreshed = tmp_path / "refreshed.duckdb"
    shutil.copy(warehouse, refreshed)
    run_dbt([*BUILD_MODELS, "--full-refresh"], run_date=END, workdir=tmp_path, warehouse=refreshed)
    full = _tables(refreshed, INCREMENTAL_FACTS + HISTORY)
    for name in INCREMENTAL_FACTS + HISTORY:
        assert incremental[name], f"{name} is empty"
        assert_same_rows(full[name], incremental[name], name)


def test_one_backfill_run_equals_the_nightly_runs(nightly, tmp_path) -> None:
    _, warehouse = nightly
    nightly_tables = _tables(warehouse, INCREMENTAL_FACTS + HISTORY)
    backfill = tmp_path / "backfill.duckdb"
    shutil.copy(warehouse, backfill)
    with duckdb.connect(str(backfill)) as con:  # keep the raw layer only
        for schema in OUTPUT_SCHEMAS:
            con.execute(f"drop schema if exists {schema} cascade")
    first = min(NIGHTS) - timedelta(days=2)  # the first night recomputed from D-2 - lookback
    run_dbt(BUILD_MODELS, run_date=END, workdir=tmp_path, warehouse=backfill,
            extra_vars={"backfill_start_date": first.isoformat()})  # fmt: skip
    backfilled = _tables(backfill, INCREMENTAL_FACTS + HISTORY)
    for name in INCREMENTAL_FACTS + HISTORY:
        assert_same_rows(backfilled[name], nightly_tables[name], name)

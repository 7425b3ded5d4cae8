"""The gates on the real pipeline's data: shop generator → dlt loads (snapshots + event drops) → raw gate → dbt → marts gate.

Slow (generation, eight dlt loads, two dbt runs): marked ``integration``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from gx_helpers import DATA_DATE, REFERENCE_TIME, critical, day, sql

from expectations import run_marts_gate, run_raw_gate
from include.core.settings import REPO_ROOT
from include.extract.bootstrap import ensure_raw_tables_duckdb
from include.extract.events import load_event_drops
from testbed.shop import ShopStore, generate_shop
from testbed.shop.snapshot import load_snapshot
from testbed.synthetic import KST

pytestmark = pytest.mark.integration
LOADED_DAYS = 4  # D-3 … D: three days of history, the minimum for the volume band


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """A warehouse filled the way the nightly runs fill it, one load per day, with this run's load ids."""
    root = tmp_path_factory.mktemp("e2e")
    generate_shop(root / "shop", root / "drops", customers=1500, days=10, end_date=DATA_DATE, seed=5)
    store = ShopStore(root / "shop")
    wh = root / "warehouse.duckdb"
    ensure_raw_tables_duckdb(wh)
    ids = {}
    try:
        for k in range(LOADED_DAYS - 1, -1, -1):
            d = day(-k)
            as_of = datetime.combine(d + timedelta(days=1), time(0), KST)
            snap = load_snapshot(store, as_of, wh, pipelines_dir=root / "dlt")
            ev = load_event_drops(str(root / "drops"), d, destination=wh, pipelines_dir=root / "dlt")
            ids[d] = {"raw_cafe24": [snap["load_id"]], "raw_events": [ev["load_id"]]}
    finally:
        store.close()
    return root, wh, ids


def _dbt(root: Path, wh: Path, run_date: str) -> None:
    env = {
        **os.environ,
        "CRM_WAREHOUSE_PATH": str(wh),
        "CRM_DBT_THREADS": "2",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    dbt = Path(sys.executable).parent / "dbt"
    for cmd in (["seed"], ["run", "--vars", f"{{run_date: '{run_date}'}}"]):
        done = subprocess.run(
            [
                str(dbt),
                *cmd,
                "--profiles-dir",
                ".",
                "--target-path",
                str(root / "dbt_target"),
                "--log-path",
                str(root / "dbt_logs"),
            ],
            cwd=REPO_ROOT / "dbt_project",
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-3000:]


def test_real_batches_pass_the_raw_gate_and_real_faults_fail_it(pipeline, tmp_path):
    root, wh, ids = pipeline
    result = run_raw_gate(
        wh, DATA_DATE, "e2e", ids[DATA_DATE], reference_time=REFERENCE_TIME, report_dir=tmp_path
    )
    assert result.passed, result.summary()
    assert {o.column_name for o in result.warnings} <= {"cellphone", "buyer_cellphone"}
    vol = next(
        o
        for o in result.outcomes
        if o.table_name == "raw_events.events" and o.expectation == "expect_column_max_to_be_between"
    )
    assert (
        vol.success and vol.details["history_days"] >= LOADED_DAYS - 1
    )  # drops re-read for late events count too
    quarantined = sql(wh, "select count(*) from raw_quarantine.records where source = 'quality.raw_gate'")[0][
        0
    ]
    assert quarantined == sum(int(o.observed_value.split(" of ")[0]) for o in result.warnings)

    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(wh.read_bytes())
    lid = ids[DATA_DATE]["raw_cafe24"][0]
    # every order of the batch negative: the batch is untrustworthy (a few would only be quarantined)
    sql(broken, "update raw_cafe24.orders set payment_amount = -payment_amount - 1 where _dlt_load_id = ?",
        [lid])  # fmt: skip
    bad = run_raw_gate(
        broken, DATA_DATE, "e2e", ids[DATA_DATE], reference_time=REFERENCE_TIME, report_dir=tmp_path
    )
    assert critical(bad) == {("raw_cafe24.orders", "rows", "expect_column_values_to_be_between")}
    assert "payment_amount < 0" in bad.critical[0].reason


def test_real_dbt_outputs_pass_the_marts_gate(pipeline, tmp_path):
    root, wh, _ = pipeline
    with_dbt = root / "dbt.duckdb"
    with_dbt.write_bytes(wh.read_bytes())
    # TODO(extraction): raw_messaging.send_log is read by dbt but not yet part of include/core/contracts.py
    sql(
        with_dbt,
        "create table if not exists raw_messaging.send_log (intent_id varchar, campaign_id varchar, variant varchar, "
        "run_date date, customer_id varchar, channel varchar, status varchar, reason varchar, is_holdout boolean, "
        "is_control boolean, sent_at timestamptz, message_id varchar, cost_krw bigint, updated_at timestamptz, "
        "_dlt_load_id varchar, _dlt_id varchar)",
    )
    for d in (day(-1), DATA_DATE):
        _dbt(root, with_dbt, d.isoformat())
    result = run_marts_gate(with_dbt, DATA_DATE, "e2e", reference_time=REFERENCE_TIME, report_dir=tmp_path)
    assert result.status == "PASS", result.summary()
    assert any(o.table_name.startswith("audiences.audience_") for o in result.outcomes)
    sql(
        with_dbt,
        "update marts.fct_customer_segments_daily set segment = 'G4' where segment_date = ? and segment = 'G1'",
        [DATA_DATE],
    )
    bad = run_marts_gate(with_dbt, DATA_DATE, "e2e", reference_time=REFERENCE_TIME, report_dir=tmp_path)
    assert (
        "marts.fct_customer_segments_daily.segment_shares",
        "share_change",
        "expect_column_values_to_be_between",
    ) in critical(bad)
